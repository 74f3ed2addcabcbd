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
];

#[track_caller]
fn check(c: &Case) {
    let sets: Vec<String> = c.sets.iter().map(|s| (*s).to_string()).collect();
    let errs = match voice_core::load(&Input {
        yaml: c.yaml,
        profile: Some(ProfileName::Production),
        sets: &sets,
    }) {
        Ok(_) => panic!("accepted a bad configuration:\n{}", c.yaml),
        Err(e) => e,
    };
    let hit = errs
        .0
        .iter()
        .find(|d| d.path == c.path && d.message.contains(c.fragment));
    let Some(d) = hit else {
        panic!(
            "no diagnostic at `{}` containing `{}` for:\n{}\ngot:\n{errs}",
            c.path, c.fragment, c.yaml
        );
    };
    if let Some(line) = c.line {
        assert_eq!(
            d.line,
            Some(line),
            "line of `{}` in:\n{}\ngot {d:?}",
            c.path,
            c.yaml
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
        sets: &[],
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
            yaml: "",
            profile: Some(p),
            sets: &[],
        })
        .unwrap_or_else(|e| panic!("{}: {e}", p.as_str()));
        assert_eq!(stack.config.profile, p);
    }
    let sets = [
        "modelRouter.hpa.maxReplicas=12".to_string(),
        "cluster.nodes[0].count=5".to_string(),
    ];
    let stack = voice_core::load(&Input {
        yaml: "",
        profile: Some(ProfileName::Production),
        sets: &sets,
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
        sets: &[],
    })
    .unwrap();
    assert!(!format!("{:?}", stack.config).contains("SECRET"));
    let rendered = voice_core::render::to_yaml(&voice_core::render::render(&stack));
    assert!(!rendered.contains("abcdefghijklmnopqrstuvwxyz0123456789"));
}
