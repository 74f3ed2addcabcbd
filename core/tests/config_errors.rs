//! Bad configurations: each case must be rejected with a message naming the field (and its
//! line when written in the file). One table, one checker, as in rust-analyzer's tests.

use voice_core::{Input, ProfileName};

struct Case {
    yaml: &'static str,
    sets: &'static [&'static str],
    path: &'static str,
    fragment: &'static str,
    line: Option<usize>,
}

const fn case(
    yaml: &'static str,
    path: &'static str,
    fragment: &'static str,
    line: Option<usize>,
) -> Case {
    Case {
        yaml,
        sets: &[],
        path,
        fragment,
        line,
    }
}

const CASES: &[Case] = &[
    case("profil: dev\n", "profil", "did you mean `profile`", Some(1)),
    case(
        "modelRouter:\n  hpa:\n    maxReplica: 4\n",
        "modelRouter.hpa.maxReplica",
        "did you mean `maxReplicas`",
        Some(3),
    ),
    case(
        "profile: prod\n",
        "profile",
        "did you mean `production`",
        Some(1),
    ),
    case(
        "posthog:\n  mode: selfhosted\n",
        "posthog.mode",
        "self-hosted",
        Some(2),
    ),
    case(
        "modelRouter:\n  replicas: three\n",
        "modelRouter.replicas",
        "expected an integer",
        Some(2),
    ),
    case(
        "modelRouter:\n  enabled: yes-please\n",
        "modelRouter.enabled",
        "expected true or false",
        Some(2),
    ),
    case(
        "cluster:\n  nodes: {count: 3}\n",
        "cluster.nodes",
        "expected a list",
        Some(2),
    ),
    case(
        "modelRouter:\n  hpa:\n    minReplicas: 5\n    maxReplicas: 2\n",
        "modelRouter.hpa.maxReplicas",
        "at least minReplicas (5)",
        Some(4),
    ),
    case(
        "modelRouter:\n  hpa:\n    minReplicas: 0\n",
        "modelRouter.hpa.minReplicas",
        "at least 1",
        Some(3),
    ),
    case(
        "modelRouter:\n  hpa:\n    cpuUtilization: 150\n",
        "modelRouter.hpa.cpuUtilization",
        "between 1 and 100",
        Some(3),
    ),
    case(
        "modelRouter:\n  hpa:\n    memoryUtilization: 0\n",
        "modelRouter.hpa.memoryUtilization",
        "between 1 and 100",
        Some(3),
    ),
    case(
        "modelRouter:\n  replicas: 0\n  hpa: {enabled: false}\n",
        "modelRouter.replicas",
        "at least 1",
        Some(2),
    ),
    case(
        "modelRouter:\n  replicas: 20\n",
        "modelRouter.replicas",
        "within the HPA bounds",
        Some(2),
    ),
    // An unknown component is said with the other problems, not only once they are fixed.
    case(
        "modelRouter:\n  replicas: three\ncomponents:\n  postgress:\n    replicas: 1\n",
        "components.postgress",
        "did you mean `postgres`",
        Some(4),
    ),
    case(
        "components:\n  posthog-postgres-init:\n    replicas: 2\n",
        "components.posthog-postgres-init.replicas",
        "is a Job, which runs once to completion",
        Some(3),
    ),
    case(
        "modelRouter:\n  replicas: -1\n",
        "modelRouter.replicas",
        "at least 0",
        Some(2),
    ),
    case(
        "modelRouter:\n  providers: [openai, gemini]\n",
        "modelRouter.providers[1]",
        "not one of",
        Some(2),
    ),
    case(
        "modelRouter:\n  providers: []\n",
        "modelRouter.providers",
        "at least one LLM provider",
        Some(2),
    ),
    case(
        "modelRouter:\n  database:\n    port: 70000\n",
        "modelRouter.database.port",
        "TCP port",
        Some(3),
    ),
    case(
        "modelRouter:\n  database:\n    name: Model-Router\n",
        "modelRouter.database.name",
        "PostgreSQL identifier",
        Some(3),
    ),
    case(
        "modelRouter:\n  database:\n    sslMode: maybe\n",
        "modelRouter.database.sslMode",
        "sslmode",
        Some(3),
    ),
    case(
        "modelRouter:\n  domain: model_router.example.com\n",
        "modelRouter.domain",
        "not a valid DNS name",
        Some(2),
    ),
    case(
        "posthog:\n  domain: Posthog.Example.com\n",
        "posthog.domain",
        "not a valid DNS name",
        Some(2),
    ),
    case(
        "posthog:\n  siteUrl: posthog.example.com\n",
        "posthog.siteUrl",
        "https://",
        Some(2),
    ),
    case(
        "posthog:\n  version: 2030.01.01-abcdef0\n",
        "posthog.version",
        "knows no PostHog release",
        Some(2),
    ),
    case(
        "posthog:\n  version: latest\n",
        "posthog.version",
        "YYYY.MM.DD-<commit>",
        Some(2),
    ),
    case(
        "posthog:\n  images:\n    app: ghcr.io/posthog/posthog:1e7b36ebe0da38a738fed250d175809a899ef422\n",
        "posthog.images",
        "set node, capture, featureFlags too",
        Some(3),
    ),
    case(
        "posthog:\n  secretKey: too-short\n",
        "posthog.secretKey",
        "at least 32 characters",
        Some(2),
    ),
    case(
        "posthog:\n  mode: cloud\n  cloud:\n    projectApiKey: abc123\n",
        "posthog.cloud.projectApiKey",
        "phc_",
        Some(4),
    ),
    case(
        "posthog:\n  mode: cloud\n  cloud:\n    projectApiKey: phc_YOUR_API_KEY\n",
        "posthog.cloud.projectApiKey",
        "placeholders",
        Some(4),
    ),
    case(
        "posthog:\n  mode: cloud\n  cloud:\n    projectApiKey: phx_0123456789abcdef\n",
        "posthog.cloud.projectApiKey",
        "personal API key",
        Some(4),
    ),
    case(
        "posthog:\n  mode: cloud\n  cloud:\n    region: asia\n",
        "posthog.cloud.region",
        "not one of",
        Some(4),
    ),
    case(
        "posthog:\n  mode: cloud\n  cloud:\n    host: ftp://eu.example.com\n",
        "posthog.cloud.host",
        "https://",
        Some(4),
    ),
    case(
        "posthog:\n  images:\n    app: posthog/posthog:latest\n",
        "posthog.images.app",
        "latest",
        Some(3),
    ),
    case(
        "posthog:\n  images:\n    node: posthog/posthog-node\n",
        "posthog.images.node",
        "no tag",
        Some(3),
    ),
    case(
        "posthog:\n  images:\n    capture: ghcr.io/posthog/capture@sha256:abc\n",
        "posthog.images.capture",
        "64 hex",
        Some(3),
    ),
    case(
        "cluster:\n  nodes:\n    - count: 0\n      cpu: \"8\"\n      memory: 16Gi\n",
        "cluster.nodes[0].count",
        "at least 1",
        Some(3),
    ),
    case(
        "cluster:\n  nodes:\n    - cpu: eight\n      memory: 16Gi\n",
        "cluster.nodes[0].cpu",
        "not a Kubernetes quantity",
        Some(3),
    ),
    case(
        "cluster:\n  nodes:\n    - cpu: \"8\"\n      memory: 16GB\n",
        "cluster.nodes[0].memory",
        "not a Kubernetes quantity",
        Some(4),
    ),
    case(
        "cluster:\n  nodes:\n    - cpu: \"8\"\n",
        "cluster.nodes[0].memory",
        "required",
        None,
    ),
    case(
        "cluster:\n  nodes:\n    - cpu: \"8\"\n      memory: 16Gi\n      maxPods: 0\n",
        "cluster.nodes[0].maxPods",
        "at least 1",
        Some(5),
    ),
    case(
        "cluster:\n  nodes: []\n",
        "cluster.nodes",
        "at least one node shape",
        Some(2),
    ),
    case(
        "cluster:\n  storageClass: Fast_SSD\n",
        "cluster.storageClass",
        "not a valid DNS name",
        Some(2),
    ),
    case(
        "cluster:\n  certIssuer: \"letsencrypt prod\"\n",
        "cluster.certIssuer",
        "not a valid DNS name",
        Some(2),
    ),
    case(
        "namespaces:\n  app: VoiceAssistant\n",
        "namespaces.app",
        "not a valid DNS label",
        Some(2),
    ),
    case("instance: -voice\n", "instance", "start and end", Some(1)),
    case(
        "images:\n  pullPolicy: Sometimes\n",
        "images.pullPolicy",
        "not one of",
        Some(2),
    ),
    case(
        "images:\n  modelRouter: example.com/model-router:1.0\n",
        "images.modelRouter",
        "without tag",
        Some(2),
    ),
    case(
        "components:\n  posthog-wbe:\n    replicas: 2\n",
        "components.posthog-wbe",
        "did you mean `posthog-web`",
        Some(2),
    ),
    case(
        "components:\n  posthog-postgres:\n    replicas: 2\n",
        "components.posthog-postgres.replicas",
        "exactly one replica",
        Some(3),
    ),
    case(
        "components:\n  posthog-redis-node:\n    replicas: 2\n",
        "components.posthog-redis-node.replicas",
        "exactly 3 replicas",
        Some(3),
    ),
    case(
        "posthog:\n  redis:\n    sentinel: maybe\n",
        "posthog.redis.sentinel",
        "expected true or false",
        Some(3),
    ),
    case(
        "components:\n  posthog-worker-beat:\n    replicas: 3\n",
        "components.posthog-worker-beat.replicas",
        "beat",
        Some(3),
    ),
    case(
        "components:\n  posthog-web:\n    replicas: 0\n",
        "components.posthog-web.replicas",
        "at least 1",
        Some(3),
    ),
    case(
        "components:\n  posthog-web:\n    maxReplicas: 4\n",
        "components.posthog-web.maxReplicas",
        "no autoscaler",
        Some(3),
    ),
    case(
        "components:\n  posthog-web:\n    resources:\n      requests: {cpu: \"4\"}\n      limits: {cpu: \"2\"}\n",
        "components.posthog-web.resources.requests.cpu",
        "exceeds the limit",
        Some(4),
    ),
    case(
        "components:\n  posthog-web:\n    resources:\n      requests: {memory: 2Gx}\n",
        "components.posthog-web.resources.requests.memory",
        "not a Kubernetes quantity",
        Some(4),
    ),
    case(
        "components:\n  model-router:\n    storage: 5Gi\n",
        "components.model-router.storage",
        "no persistent volume",
        Some(3),
    ),
    case(
        "components:\n  posthog-web:\n    image: posthog/posthog:latest\n",
        "components.posthog-web.image",
        "latest",
        Some(3),
    ),
    case(
        "components:\n  postgres:\n    engineUpgrade:\n      serving: previous\n",
        "components.postgres.engineUpgrade.statefulSet",
        "is required",
        None,
    ),
    case(
        "components:\n  postgres:\n    engineUpgrade:\n      statefulSet: Postgres_17\n",
        "components.postgres.engineUpgrade.statefulSet",
        "not a valid StatefulSet name",
        Some(4),
    ),
    case(
        "components:\n  postgres:\n    engineUpgrade:\n      statefulSet: postgres-17\n      serving: previous\n",
        "components.postgres.engineUpgrade.serving",
        "needs a previous StatefulSet",
        Some(5),
    ),
    case(
        "components:\n  postgres:\n    engineUpgrade:\n      statefulSet: postgres\n      previous: {statefulSet: postgres, image: \"postgres:15.12-alpine\"}\n",
        "components.postgres.engineUpgrade.previous.statefulSet",
        "must differ from statefulSet",
        Some(5),
    ),
    case(
        "components:\n  postgres:\n    engineUpgrade:\n      statefulSet: postgres-17\n      previous: {statefulSet: postgres, image: \"postgres:latest\"}\n",
        "components.postgres.engineUpgrade.previous.image",
        "latest",
        Some(5),
    ),
    case(
        "components:\n  postgres:\n    engineUpgrade:\n      statefulSet: postgres-17\n      serving: both\n",
        "components.postgres.engineUpgrade.serving",
        "current",
        Some(5),
    ),
    case(
        "components:\n  redis:\n    engineUpgrade:\n      statefulSet: redis-8\n",
        "components.redis.engineUpgrade",
        "not a PostgreSQL StatefulSet",
        Some(3),
    ),
    case(
        "monitoring:\n  enabled: true\nmonitoring:\n  enabled: false\n",
        "monitoring",
        "written twice",
        Some(3),
    ),
    case("- profile: dev\n", "", "expected a mapping", None),
    case("modelRouter: [\n", "", "invalid YAML", Some(2)),
    Case {
        yaml: "",
        sets: &["modelRouter.hpa.maxReplicas=1"],
        path: "modelRouter.hpa.maxReplicas",
        fragment: "at least minReplicas",
        line: None,
    },
    Case {
        yaml: "",
        sets: &["modelRouter.replicas"],
        path: "--set",
        fragment: "path=value",
        line: None,
    },
    // Input limits (`voice_core::config::LIMITS`); the generated cases are in `limits()`.
    case(BILLION_LAUGHS, "a4[1]", "value count limit", Some(5)),
    case(
        "a: &a {b: &b {c: &c {d: &d {e: [0]}}}}
z: [[[[[[[[[[[[[[[[[[[[[[[[[[[*a]]]]]]]]]]]]]]]]]]]]]]]]]]]
",
        "z[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]",
        "nesting depth limit",
        Some(2),
    ),
    case(
        "components:
  ? [posthog-web]
  : {replicas: 2}
",
        "components",
        "key must be a string",
        Some(2),
    ),
    Case {
        yaml: "",
        sets: &[
            "modelRouter.providers=[&a [x, x, x, x, x, x, x, x, x, x], &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a], &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b], &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c], [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]]",
        ],
        path: "modelRouter.providers",
        fragment: "value count limit",
        line: None,
    },
    Case {
        yaml: "",
        sets: &[
            "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a=1",
        ],
        path: "--set",
        fragment: "nesting depth limit",
        line: None,
    },
    Case {
        yaml: "",
        sets: &[
            "modelRouter.providers=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        ],
        path: "modelRouter.providers",
        fragment: "nesting depth limit",
        line: None,
    },
    // What plan and render enumerate one by one: pods at their maximum, nodes of the cluster.
    case(
        "components:\n  posthog-web:\n    replicas: 4000000000\n",
        "components.posthog-web.replicas",
        "pod count limit",
        Some(3),
    ),
    case(
        "modelRouter:\n  hpa:\n    maxReplicas: 4294967295\n",
        "components.model-router.maxReplicas",
        "pod count limit",
        None,
    ),
    case(
        "cluster:\n  nodes:\n    - {cpu: \"8\", memory: 16Gi, count: 3000}\n    - {cpu: \"8\", memory: 16Gi, count: 4294967295}\n",
        "cluster.nodes[1].count",
        "cluster node limit",
        Some(4),
    ),
    case(
        "components:\n  posthog-postgres:\n    external:\n      host: db.example.internal:5432\n      secretRef: {name: pg, keys: {password: pw}}\n",
        "components.posthog-postgres.external.host",
        "neither a DNS name nor an IP address",
        Some(4),
    ),
    case(
        "components:\n  posthog-redis:\n    external:\n      host: redis.example.internal\n      port: 70000\n",
        "components.posthog-redis.external.port",
        "1–65535",
        Some(5),
    ),
    case(
        "components:\n  posthog-postgres:\n    external:\n      host: db.example.internal\n      secretRef:\n        name: pg\n",
        "components.posthog-postgres.external.secretRef.keys",
        "which key holds each credential",
        None,
    ),
    case(
        "components:\n  posthog-postgres:\n    external:\n      host: db.example.internal\n",
        "components.posthog-postgres.external.secretRef",
        "credentials never go in this file",
        None,
    ),
    case(
        "components:\n  posthog-postgres:\n    external:\n      host: db.example.internal\n      tls: {enabled: true, verify: true}\n      secretRef: {name: pg, keys: {password: pw}}\n",
        "components.posthog-postgres.external.tls.verify",
        "sslrootcert",
        Some(5),
    ),
    case(
        "components:\n  posthog-kafka:\n    external:\n      host: kafka.example.internal\n      tls:\n        verify: false\n",
        "components.posthog-kafka.external.tls.verify",
        "only over TLS",
        Some(6),
    ),
    case(
        "components:\n  posthog-objectstorage:\n    external:\n      host: s3.amazonaws.com\n      secretRef: {name: s3, keys: {accessKeyId: id}}\n",
        "components.posthog-objectstorage.external.secretRef.keys",
        "secretAccessKey",
        Some(5),
    ),
    case(
        "components:\n  minio:\n    external:\n      host: s3.eu-west-1.amazonaws.com\n      tls: {enabled: true}\n      secretRef: {name: s3, keys: {accessKeyId: id, secretAccessKey: key}}\n",
        "components.minio.external.tls.enabled",
        "no TLS switch",
        Some(5),
    ),
    case(
        "components:\n  minio:\n    external:\n      host: s3.eu-west-1.amazonaws.com\n",
        "components.minio.external.secretRef",
        "no workload identity",
        None,
    ),
    case(
        "components:\n  minio:\n    external:\n      host: objects.example.internal\n      bucket: Acme\n      secretRef: {name: s3, keys: {accessKeyId: id, secretAccessKey: key}}\n",
        "components.minio.external.bucket",
        "S3's bucket names",
        Some(5),
    ),
    case(
        "components:\n  posthog-web:\n    external: {host: web.example.internal}\n",
        "components.posthog-web.external",
        "not a data store",
        Some(3),
    ),
    case(
        "components:\n  posthog-redis:\n    external: {host: redis.example.internal, password: hunter2}\n",
        "components.posthog-redis.external.password",
        "unknown field",
        Some(3),
    ),
    case(
        "placement:\n  tolerations:\n    - key: dedicated\n      effect: NoSchedul\n",
        "placement.tolerations[0].effect",
        "did you mean `NoSchedule`",
        Some(4),
    ),
    case(
        "placement:\n  tolerations:\n    - key: dedicated\n      operator: Equals\n",
        "placement.tolerations[0].operator",
        "is not one of",
        Some(4),
    ),
    case(
        "placement:\n  tolerations:\n    - key: dedicated\n      operator: Exists\n      value: gpu\n",
        "placement.tolerations[0].value",
        "drop value",
        Some(5),
    ),
    case(
        "placement:\n  tolerations:\n    - operator: Equal\n      value: gpu\n",
        "placement.tolerations[0].key",
        "needs operator: Exists",
        None,
    ),
    case(
        "placement:\n  tolerations:\n    - key: dedicated\n      effect: NoSchedule\n      tolerationSeconds: 60\n",
        "placement.tolerations[0].tolerationSeconds",
        "only to effect: NoExecute",
        Some(5),
    ),
    case(
        "placement:\n  nodeSelector:\n    \"pool name\": data\n",
        "placement.nodeSelector.pool name",
        "not a valid Kubernetes label key",
        Some(3),
    ),
    case(
        "components:\n  posthog-clickhouse:\n    placement:\n      nodeSelector:\n        pool: data/fast\n",
        "components.posthog-clickhouse.placement.nodeSelector.pool",
        "not a valid Kubernetes label value",
        Some(5),
    ),
    case(
        "placement:\n  nodeSelecter:\n    pool: data\n",
        "placement.nodeSelecter",
        "did you mean `nodeSelector`",
        Some(2),
    ),
    case(
        "placement:\n  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n          - matchExpressions:\n              - {key: pool, operator: In}\n",
        "placement.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
        "needs at least one value",
        None,
    ),
    case(
        "placement:\n  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n          - matchExpressions:\n              - key: cores\n                operator: Gt\n                values: [many]\n",
        "placement.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
        "exactly one integer",
        Some(9),
    ),
    case(
        "placement:\n  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n          - matchFields: []\n",
        "placement.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields",
        "unknown field",
        Some(6),
    ),
    case(
        "cluster:\n  nodes:\n    - cpu: \"8\"\n      memory: 16Gi\n      taints:\n        - key: dedicated\n          value: gpu\n",
        "cluster.nodes[0].taints[0].effect",
        "required: NoSchedule",
        None,
    ),
    case(
        "cluster:\n  nodes:\n    - cpu: \"8\"\n      memory: 16Gi\n      labels:\n        pool: \"-data\"\n",
        "cluster.nodes[0].labels.pool",
        "start and end with a letter or digit",
        Some(6),
    ),
    // Identity and metadata.
    case(
        "serviceAccount:\n  annotations:\n    \"eks.amazonaws.com/role arn\": x\n",
        "serviceAccount.annotations.eks.amazonaws.com/role arn",
        "not a valid Kubernetes annotation key",
        Some(3),
    ),
    case(
        "components:\n  posthog-web:\n    serviceAccount:\n      annotations:\n        eks.amazonaws.com/role-arn: 42\n",
        "components.posthog-web.serviceAccount.annotations.eks.amazonaws.com/role-arn",
        "quote it: \"42\"",
        Some(5),
    ),
    case(
        "podLabels:\n  app.kubernetes.io/name: mine\n",
        "podLabels.app.kubernetes.io/name",
        "selectors",
        Some(2),
    ),
    case(
        "components:\n  redis:\n    podLabels:\n      team: \"voice ops\"\n",
        "components.redis.podLabels.team",
        "not a valid Kubernetes label value",
        Some(4),
    ),
    case(
        "podLabels:\n  pod-template-hash: abc\n",
        "podLabels.pod-template-hash",
        "controllers set it",
        Some(2),
    ),
    case(
        "podAnnotations:\n  checksum/config: x\n",
        "podAnnotations.checksum/config",
        "not yours to set",
        Some(2),
    ),
    case(
        "components:\n  posthog-web:\n    podAnnotations:\n      prometheus.io/scrape: \"false\"\n",
        "components.posthog-web.podAnnotations.prometheus.io/scrape",
        "in-plan Prometheus",
        Some(4),
    ),
    case(
        "env:\n  - name: 1TZ\n    value: UTC\n",
        "env[0].name",
        "not a valid environment variable name",
        Some(2),
    ),
    case(
        "env:\n  - name: TZ\n",
        "env[0]",
        "set value, or secretKeyRef",
        Some(2),
    ),
    case(
        "components:\n  model-router:\n    env:\n      - name: TOKEN\n        secretKeyRef: {name: extra}\n",
        "components.model-router.env[0].secretKeyRef",
        "needs `key`",
        Some(5),
    ),
    case(
        "env:\n  - name: TOKEN\n    value: x\n    secretKeyRef: {name: extra, key: token}\n",
        "env[0].secretKeyRef",
        "not both",
        Some(4),
    ),
    case(
        "env:\n  - name: TOKEN\n    secretKeyRef: {name: Extra_Secret, key: token}\n",
        "env[0].secretKeyRef.name",
        "not a valid Secret name",
        Some(3),
    ),
    case(
        "env:\n  - {name: TZ, value: UTC}\n  - {name: TZ, value: CET}\n",
        "env[1].name",
        "already set by env[0]",
        Some(3),
    ),
    case(
        "env:\n  - {name: PORT, value: 8080}\n",
        "env[0].value",
        "quote it: \"8080\"",
        Some(2),
    ),
    case(
        "env:\n  - name: POSTHOG_DB_NAME\n    value: other\n",
        "env[0].name",
        "set by kubectl-voice for posthog-migrate",
        Some(2),
    ),
    case(
        "components:\n  posthog-web:\n    env:\n      - {name: SITE_URL, value: \"https://x.example.com\"}\n",
        "components.posthog-web.env[0].name",
        "set by kubectl-voice for posthog-web",
        Some(4),
    ),
    case(
        "secrets:\n  source: external-secrets\n",
        "secrets.source",
        "needs secrets.store.name",
        Some(2),
    ),
    case(
        "secrets:\n  source: external-secrets\n  store: {name: vault}\n  remoteKey: \"{instance}\"\n",
        "secrets.remoteKey",
        "use both {secret} and {key}",
        Some(4),
    ),
    case(
        "secrets:\n  source: existing\n  store: {name: vault}\n",
        "secrets.store",
        "applies to `secrets.source: external-secrets` only",
        Some(3),
    ),
    case(
        "secrets:\n  source: external-secrets\n  store: {name: vault}\n  optionalKeys: [model-router-secret/NOPE]\n",
        "secrets.optionalKeys[0]",
        "not an optional value of this stack",
        Some(4),
    ),
    case(
        "secrets:\n  source: vault\n",
        "secrets.source",
        "external-secrets",
        Some(2),
    ),
    case(
        "priorityClassName: High_Priority\n",
        "priorityClassName",
        "not a valid PriorityClass name",
        Some(1),
    ),
    case(
        "images:\n  pullSecrets: [regcred, Reg_Cred]\n",
        "images.pullSecrets[1]",
        "not a valid Secret name",
        Some(2),
    ),
    case(
        "images:\n  pullSecrets:\n    - regcred\n    - regcred\n",
        "images.pullSecrets[1]",
        "listed twice",
        Some(4),
    ),
];

/// Nine levels of `&a [*a, *a, …]`: 478 bytes that name 387 million strings.
const BILLION_LAUGHS: &str = "\
a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]
a1: &a1 [*a0,*a0,*a0,*a0,*a0,*a0,*a0,*a0,*a0]
a2: &a2 [*a1,*a1,*a1,*a1,*a1,*a1,*a1,*a1,*a1]
a3: &a3 [*a2,*a2,*a2,*a2,*a2,*a2,*a2,*a2,*a2]
a4: &a4 [*a3,*a3,*a3,*a3,*a3,*a3,*a3,*a3,*a3]
a5: &a5 [*a4,*a4,*a4,*a4,*a4,*a4,*a4,*a4,*a4]
a6: &a6 [*a5,*a5,*a5,*a5,*a5,*a5,*a5,*a5,*a5]
a7: &a7 [*a6,*a6,*a6,*a6,*a6,*a6,*a6,*a6,*a6]
a8: &a8 [*a7,*a7,*a7,*a7,*a7,*a7,*a7,*a7,*a7]
a9: &a9 [*a8,*a8,*a8,*a8,*a8,*a8,*a8,*a8,*a8]
";

/// A case too large to write out: yaml, sets, path, fragment, line.
type Generated = (String, Vec<String>, String, &'static str, Option<usize>);

/// Cases too large to write out.
fn limits() -> Vec<Generated> {
    let limits = voice_core::config::LIMITS;
    let deep_path = format!("a{}", "[0]".repeat(limits.depth - 1));
    let long = "x".repeat(limits.string_bytes + 1);
    let mut keys = String::from("components:\n");
    for i in 0..=limits.keys {
        keys.push_str(&format!("  c{i}: {{}}\n"));
    }
    let mut values = String::from("cluster:\n  nodes: [");
    values.push_str(&"0, ".repeat(limits.nodes));
    values.push_str("0]\n");
    let padding = format!("# {}\n", "=".repeat(1000));
    let mut size = String::from("profile: dev\n");
    while size.len() <= limits.bytes {
        size.push_str(&padding);
    }
    let expanded = format!(
        "posthog:\n  secretKey: &s \"{}\"\nz: [{}]\n",
        "s".repeat(limits.string_bytes),
        "*s, ".repeat(limits.expanded_bytes / limits.string_bytes + 1)
    );
    vec![
        // Flow and block nesting bombs: refused at the first level past the limit.
        (
            format!("a: {}{}\n", "[".repeat(100), "]".repeat(100)),
            vec![],
            deep_path.clone(),
            "nesting depth limit",
            Some(1),
        ),
        (
            format!("a: {}{}\n", "[".repeat(500_000), "]".repeat(500_000)),
            vec![],
            "a[0]".into(),
            "nesting depth limit",
            Some(1),
        ),
        (
            format!("a:\n{}x\n", "  - ".repeat(200_000)),
            vec![],
            deep_path,
            "nesting depth limit",
            Some(2),
        ),
        (
            format!("posthog:\n  secretKey: \"{long}\"\n"),
            vec![],
            "posthog.secretKey".into(),
            "string length limit",
            Some(2),
        ),
        (
            format!(
                "components:\n  {}: {{}}\n",
                "k".repeat(limits.key_bytes + 1)
            ),
            vec![],
            "components".into(),
            "key length limit",
            Some(2),
        ),
        (
            keys,
            vec![],
            format!("components.c{}", limits.keys - 1),
            "key count limit",
            Some(limits.keys + 1),
        ),
        (
            values,
            vec![],
            format!("cluster.nodes[{}]", limits.nodes - 3),
            "value count limit",
            Some(2),
        ),
        (
            size.clone(),
            vec![],
            String::new(),
            "input size limit",
            Some(1 + size[..limits.bytes].matches('\n').count()),
        ),
        (
            expanded,
            vec![],
            // The anchored string and 31 aliases are 32 × 64 KiB, plus the keys: over 2 MiB.
            "z[30]".into(),
            "expanded size limit",
            Some(3),
        ),
        (
            String::new(),
            vec![format!("posthog.secretKey={long}")],
            "posthog.secretKey".into(),
            "string length limit",
            None,
        ),
        (
            String::new(),
            vec![format!(
                "components.{}.replicas=1",
                "k".repeat(limits.key_bytes + 1)
            )],
            "--set".into(),
            "key length limit",
            None,
        ),
    ]
}

#[test]
fn every_input_limit_is_reported_with_its_field_and_line() {
    for (yaml, sets, path, fragment, line) in limits() {
        check_input(&yaml, &sets, &path, fragment, line);
    }
}

/// Thousands of unknown components: reported once each up to the diagnostics limit, then
/// counted; a suggestion is looked for only for the listed ones.
#[test]
fn many_unknown_components_are_capped() {
    let limit = voice_core::config::LIMITS.diagnostics;
    let mut yaml = String::from("components:\n");
    for i in 0..9_000 {
        yaml.push_str(&format!("  posthog-webx{i:05}: {{}}\n"));
    }
    let errs = voice_core::load(&Input {
        yaml: &yaml,
        profile: None,
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(errs.0.len(), limit, "{errs}");
    let first = &errs.0[0];
    assert_eq!(first.path, "components");
    assert_eq!(first.line, Some(1));
    assert!(
        first
            .message
            .contains(&format!("{} more unknown components", 9_000 - (limit - 1))),
        "{first:?}"
    );
    assert!(
        errs.0[1].message.contains("did you mean `posthog-web`"),
        "{errs}"
    );
    assert_eq!(errs.0[1].line, Some(2));
}

/// Past the diagnostics limit, one last problem says how many were left out.
#[test]
fn problems_past_the_limit_are_counted() {
    let limit = voice_core::config::LIMITS.diagnostics;
    let mut yaml = String::new();
    for i in 0..limit + 50 {
        yaml.push_str(&format!("unknownField{i}: 1\n"));
    }
    let errs = voice_core::load(&Input {
        yaml: &yaml,
        profile: None,
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(errs.0.len(), limit + 1, "{errs}");
    assert_eq!(errs.0[0].path, "unknownField0");
    let last = errs.0.last().unwrap();
    assert!(
        last.message.contains("50 more problems not listed"),
        "{last:?}"
    );
}

#[track_caller]
fn check(c: &Case) {
    let sets: Vec<String> = c.sets.iter().map(|s| (*s).to_string()).collect();
    check_input(c.yaml, &sets, c.path, c.fragment, c.line);
}

#[track_caller]
fn check_input(yaml: &str, sets: &[String], path: &str, fragment: &str, line: Option<usize>) {
    let shown = if yaml.len() > 2000 {
        format!("{}… ({} bytes)", &yaml[..200], yaml.len())
    } else {
        yaml.to_string()
    };
    let errs = match voice_core::load(&Input {
        yaml,
        profile: Some(ProfileName::Production),
        sets,
        ..Default::default()
    }) {
        Ok(_) => panic!("accepted a bad configuration:\n{shown}"),
        Err(e) => e,
    };
    let hit = errs
        .0
        .iter()
        .find(|d| d.path == path && d.message.contains(fragment));
    let Some(d) = hit else {
        let got = errs.to_string();
        let got = got.get(..4000).unwrap_or(&got);
        panic!("no diagnostic at `{path}` containing `{fragment}` for:\n{shown}\ngot:\n{got}");
    };
    if let Some(line) = line {
        assert_eq!(
            d.line,
            Some(line),
            "line of `{path}` in:\n{shown}\ngot {d:?}"
        );
    }
}

#[test]
fn every_bad_configuration_names_its_field() {
    assert!(CASES.len() >= 30);
    for c in CASES {
        check(c);
    }
}

#[test]
fn all_problems_are_reported_at_once() {
    let yaml = "profil: dev\nmodelRouter:\n  hpa:\n    minReplicas: 5\n    maxReplicas: 2\ncluster:\n  nodes:\n    - cpu: eight\n      memory: 16Gi\n";
    let errs = voice_core::load(&Input {
        yaml,
        profile: None,
        ..Default::default()
    })
    .unwrap_err();
    let paths: Vec<&str> = errs.0.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "profil",
            "modelRouter.hpa.maxReplicas",
            "cluster.nodes[0].cpu"
        ],
        "{errs}"
    );
}

#[test]
fn every_profile_is_valid_and_sets_apply() {
    for p in voice_core::config::PROFILES {
        let stack = voice_core::load(&Input {
            profile: Some(p),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{}: {e}", p.as_str()));
        assert_eq!(stack.config.profile, p);
    }
    let sets = [
        "modelRouter.hpa.maxReplicas=12".to_string(),
        "cluster.nodes[0].count=5".to_string(),
    ];
    let stack = voice_core::load(&Input {
        profile: Some(ProfileName::Production),
        sets: &sets,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        stack
            .config
            .model_router
            .as_ref()
            .and_then(|m| m.hpa)
            .map(|h| h.max),
        Some(12)
    );
    assert_eq!(stack.config.cluster.nodes[0].count, 5);
}

#[test]
fn secret_values_never_show_in_debug_output() {
    let yaml = "posthog:\n  secretKey: abcdefghijklmnopqrstuvwxyz0123456789-SECRET\n";
    let stack = voice_core::load(&Input {
        yaml,
        profile: None,
        ..Default::default()
    })
    .unwrap();
    assert!(!format!("{:?}", stack.config).contains("SECRET"));
    let rendered = voice_core::render::to_yaml(&voice_core::render::render(&stack));
    assert!(!rendered.contains("abcdefghijklmnopqrstuvwxyz0123456789"));
}

/// With `VOICE_FUZZ_SEEDS=<dir>`, writes every case of the table into `<dir>` as a seed of the
/// fuzz targets (`scripts/fuzz`): the file, then each `--set` after a NUL byte.
#[test]
fn seeds_for_fuzzing() {
    let Some(dir) = std::env::var_os("VOICE_FUZZ_SEEDS") else {
        return;
    };
    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir).expect("seed directory");
    for (i, c) in CASES.iter().enumerate() {
        let mut seed = c.yaml.to_string();
        for s in c.sets {
            seed.push('\0');
            seed.push_str(s);
        }
        std::fs::write(dir.join(format!("bad-{i:03}.yaml")), seed).expect("seed file");
    }
}
