//! External data services on a real control plane. Production with every PostHog and
//! platform store external installs to all-Ready with none of their StatefulSets, each
//! consumer reading the env the contract says, and `check` and `install` stop first, before
//! any write, when a referenced Secret lacks a key. Stores switched to external and back
//! (PostHog's PostgreSQL, the platform's MinIO) keep their claims (same uid) and nothing is
//! deleted without `--yes`. Nothing dials the external hosts: the nodes are KWOK's.

mod common;

use std::sync::OnceLock;

use common::{Release, SERIAL, text};
use voice_tests::cluster::{Options, TestCluster};

fn cluster() -> &'static TestCluster {
    static CLUSTER: OnceLock<TestCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        TestCluster::start(Options::production())
            .expect("a control plane for the external-service tests")
    })
}

/// Every PostHog and platform store that may be external; the Secrets are made by the test
/// (`ph-*` in PostHog's namespace, `va-*` in the services' and, for Milvus and Jaeger, the
/// infrastructure's); PostHog's object storage has none (workload identity), the platform's
/// has a key pair (its services read no other credentials).
const ALL_EXTERNAL: &str = "\
components:
  posthog-postgres:
    external:
      host: pg.example.internal
      tls: {enabled: true}
      database: ph
      user: ph_app
      secretRef: {name: ph-pg, keys: {password: pw}}
  posthog-redis:
    external:
      host: redis.example.internal
      port: 6380
      tls: {enabled: true}
      secretRef: {name: ph-redis, keys: {password: auth}}
  posthog-clickhouse:
    external:
      host: ch.example.internal
      tls: {enabled: true}
      user: ph
      secretRef: {name: ph-ch, keys: {password: pw}}
  posthog-kafka:
    external: {host: kafka.example.internal, tls: {enabled: true}}
  posthog-objectstorage:
    external: {host: s3.eu-west-1.amazonaws.com, tls: {enabled: true}, bucket: ph-data, region: eu-west-1}
  postgres:
    external:
      host: rds.example.internal
      tls: {enabled: true}
      secretRef:
        name: va-db
        keys: {identity-service: identity, conversation-service: conversation, knowledge-service: knowledge, notification-service: notification, model-router: router}
  redis:
    external:
      host: cache.example.internal
      secretRef: {name: va-redis, keys: {password: auth}}
  clickhouse:
    external:
      host: olap.example.internal
      user: analytics
      secretRef: {name: va-ch, keys: {password: pw}}
  kafka:
    external: {host: msk.example.internal, port: 9094}
  elasticsearch:
    external:
      host: search.example.internal
      secretRef: {name: va-es, keys: {username: user, password: pw}}
  minio:
    external:
      host: objects.example.internal
      bucket: acme-voice
      region: eu-west-1
      secretRef: {name: va-s3, keys: {accessKeyId: id, secretAccessKey: key}}
";

/// Purges a release when dropped.
struct Cleanup<'a>(&'a Release);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let o = self.0.run("uninstall", &["--purge", "--yes"]);
        if !o.status.success() && !std::thread::panicking() {
            panic!("purge of {}: {}", self.0.name, text(&o));
        }
    }
}

fn env_of(r: &Release, deployment: &str, container: usize, name: &str) -> String {
    r.field(
        "posthog",
        "deployment",
        deployment,
        &format!("{{.spec.template.spec.containers[{container}].env[?(@.name==\"{name}\")]}}"),
    )
}

#[test]
fn production_with_every_store_external_installs_and_a_missing_key_stops_it_first() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Release {
        profile: "production",
        ..Release::on(cluster(), "ext-a")
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("voice.yaml");
    std::fs::write(&file, ALL_EXTERNAL).unwrap();
    let file = file.to_str().unwrap();
    let ns = r.ns("posthog");
    let app = r.ns("app");
    let infra_ns = r.ns("infra");
    let _cleanup = Cleanup(&r);
    for space in [&ns, &app, &infra_ns] {
        r.kubectl(&["create", "namespace", space]);
    }
    for (space, name, keys) in [
        (&ns, "ph-pg", &["pw"][..]),
        (&ns, "ph-redis", &["auth"]),
        (&ns, "ph-ch", &["wrong"]),
        (
            &app,
            "va-db",
            &[
                "identity",
                "conversation",
                "knowledge",
                "notification",
                "router",
            ],
        ),
        (&app, "va-redis", &["auth"]),
        (&app, "va-ch", &["pw"]),
        (&app, "va-es", &["user", "pw"]),
        (&infra_ns, "va-es", &["user", "pw"]),
        (&app, "va-s3", &["id", "key"]),
        (&infra_ns, "va-s3", &["id", "key"]),
    ] {
        let mut args = vec!["create", "secret", "generic", "-n", space, name];
        let literals: Vec<String> = keys
            .iter()
            .map(|k| format!("--from-literal={k}=not-a-real-password"))
            .collect();
        args.extend(literals.iter().map(String::as_str));
        r.kubectl(&args);
    }

    // ph-ch lacks `pw`: check fails naming it, install refuses before any write.
    let o = r.run("check", &["-f", file]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!(
            "Secret {ns}/ph-ch, named in voice.yaml, has no key pw"
        )),
        "{out}"
    );
    assert!(!out.contains("not-a-real-password"), "{out}");
    let o = r.run("install", &["-f", file]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("has no key pw") && err.contains("nothing was applied"),
        "{err}"
    );
    assert!(
        r.resource_versions()
            .iter()
            .all(|o| o.starts_with("Secret/")),
        "a refused install wrote something: {:?}",
        r.resource_versions()
    );

    r.kubectl(&[
        "patch",
        "secret",
        "-n",
        &ns,
        "ph-ch",
        "--type=merge",
        "-p",
        "{\"stringData\":{\"pw\":\"not-a-real-password\"}}",
    ]);
    // The namespace was made by hand to hold the Secrets: install takes it over.
    let o = r.run("install", &["-f", file, "--adopt"]);
    assert!(o.status.success(), "{}", text(&o));

    // None of the stores' workloads, setup Jobs or claims; ZooKeeper went with ClickHouse.
    let sts = r.kubectl(&["get", "statefulsets", "-n", &ns, "-o", "name"]);
    assert!(sts.trim().is_empty(), "StatefulSets left: {sts}");
    let pvc = r.kubectl(&["get", "pvc", "-n", &ns, "-o", "name"]);
    assert!(pvc.trim().is_empty(), "claims made: {pvc}");
    let jobs = r.kubectl(&["get", "jobs", "-n", &ns, "-o", "name"]);
    assert!(!jobs.contains("-init"), "setup Jobs: {jobs}");
    let infra = r.kubectl(&["get", "statefulsets,jobs", "-n", &infra_ns, "-o", "name"]);
    for gone in [
        "statefulset.apps/elasticsearch",
        "statefulset.apps/postgres",
        "statefulset.apps/redis",
        "statefulset.apps/clickhouse",
        "statefulset.apps/kafka",
        "statefulset.apps/minio",
        "job.batch/postgres-init",
        "job.batch/minio-setup",
    ] {
        assert!(
            !infra
                .lines()
                .any(|l| l == gone || l.starts_with(&format!("{gone}-"))),
            "{gone} in {infra}"
        );
    }
    let va_cm = |map: &str, k: &str| r.field("app", "configmap", map, &format!("{{.data.{k}}}"));
    assert_eq!(
        va_cm("identity-service-config", "DB_HOST"),
        "rds.example.internal"
    );
    assert_eq!(va_cm("identity-service-config", "DB_SSL_MODE"), "require");
    assert_eq!(
        va_cm("model-router-config", "REDIS_ADDR"),
        "cache.example.internal:6379"
    );
    assert_eq!(
        va_cm("analytics-service-config", "KAFKA_BROKERS"),
        "msk.example.internal:9094"
    );
    assert_eq!(
        va_cm("retrieval-service-config", "ES_HOST"),
        "search.example.internal"
    );
    assert_eq!(
        r.field(
            "infra",
            "deployment",
            "jaeger-query",
            "{.spec.template.spec.containers[0].env[?(@.name==\"ES_SERVER_URLS\")].value}"
        ),
        "http://search.example.internal:9200"
    );
    // Object storage: the services' MINIO_*, Milvus's minio.* as env, buckets under the prefix.
    assert_eq!(
        va_cm("knowledge-service-config", "MINIO_ENDPOINT"),
        "objects.example.internal:80"
    );
    assert_eq!(
        va_cm("knowledge-service-config", "MINIO_BUCKET"),
        "acme-voice-documents"
    );
    let milvus = |k: &str| {
        r.field(
            "infra",
            "statefulset",
            "milvus",
            &format!("{{.spec.template.spec.containers[0].env[?(@.name==\"{k}\")]}}"),
        )
    };
    assert!(milvus("MINIO_ADDRESS").contains("\"value\":\"objects.example.internal:80\""));
    assert!(milvus("MINIO_BUCKET_NAME").contains("\"value\":\"acme-voice-milvus-bucket\""));
    assert!(milvus("MINIO_USE_SSL").contains("\"value\":\"false\""));
    assert!(milvus("MINIO_SECRET_ACCESS_KEY").contains("\"name\":\"va-s3\""));
    assert!(
        r.field(
            "app",
            "deployment",
            "model-router",
            "{.spec.template.spec.containers[0].env[?(@.name==\"DB_PASSWORD\")]}"
        )
        .contains("\"name\":\"va-db\"")
    );

    // Consumers' env as the contract (core/src/catalog/posthog.rs `Externals`) says.
    assert!(env_of(&r, "posthog-web", 0, "DATABASE_URL").contains(
        "postgres://ph_app:$(POSTHOG_DB_PASSWORD)@pg.example.internal:5432/ph?sslmode=require"
    ));
    assert!(env_of(&r, "posthog-web", 0, "POSTHOG_DB_PASSWORD").contains("\"name\":\"ph-pg\""));
    assert!(
        env_of(&r, "posthog-capture", 0, "REDIS_URL")
            .contains("rediss://:$(POSTHOG_REDIS_PASSWORD)@redis.example.internal:6380/")
    );
    assert!(env_of(&r, "posthog-capture", 0, "KAFKA_TLS").contains("\"value\":\"true\""));
    assert!(env_of(&r, "posthog-web", 0, "CLICKHOUSE_PASSWORD").contains("\"name\":\"ph-ch\""));
    assert!(env_of(&r, "posthog-web", 0, "OBJECT_STORAGE_ACCESS_KEY_ID").is_empty());
    let cm = |k: &str| {
        r.field(
            "posthog",
            "configmap",
            "posthog-config",
            &format!("{{.data.{k}}}"),
        )
    };
    assert_eq!(cm("CLICKHOUSE_HOST"), "ch.example.internal");
    assert_eq!(cm("CLICKHOUSE_SECURE"), "true");
    assert_eq!(cm("CLICKHOUSE_VERIFY"), "true");
    assert_eq!(cm("KAFKA_HOSTS"), "kafka.example.internal:9092");
    assert_eq!(cm("KAFKA_SECURITY_PROTOCOL"), "SSL");
    assert_eq!(
        cm("OBJECT_STORAGE_ENDPOINT"),
        "https://s3.eu-west-1.amazonaws.com"
    );
    // Egress to the external ports from any address.
    let egress = r.field(
        "posthog",
        "networkpolicy",
        "posthog-web",
        "{.spec.egress[*].ports[*].port}",
    );
    for port in ["5432", "6380", "9440", "8443", "9092", "443"] {
        assert!(egress.split(' ').any(|p| p == port), "{port} in {egress}");
    }

    // status --verify says where each consumer goes (the hosts are not dialled here).
    let o = r.run("status", &["-f", file, "--verify"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(
            "posthog-clickhouse: ch.example.internal:9440,8443 TLS, credentials from Secret ph-ch"
        ) && out.contains("kafka: msk.example.internal:9094 plain"),
        "{}",
        text(&o)
    );

    // A re-run changes nothing.
    let o = r.run("install", &["-f", file]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(" 0 created, 0 configured") && out.contains(" 0 pruned"),
        "a re-run changed something: {out}"
    );
}

#[test]
fn a_store_switched_to_external_and_back_keeps_its_claims() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Release::on(cluster(), "ext-d");
    let _cleanup = Cleanup(&r);
    let o = r.run("install", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let claims = r.claim_uids();
    for claim in [
        format!("{}/data-posthog-postgres-0", r.ns("posthog")),
        format!("{}/data-minio-0", r.ns("infra")),
    ] {
        assert!(claims.contains_key(&claim), "{claim} in {claims:?}");
    }

    for (space, name, literals) in [
        (r.ns("posthog"), "ph-pg", &["pw"][..]),
        (r.ns("app"), "va-s3", &["id", "key"]),
        (r.ns("infra"), "va-s3", &["id", "key"]),
    ] {
        let literals: Vec<String> = literals
            .iter()
            .map(|k| format!("--from-literal={k}=not-a-real-password"))
            .collect();
        let mut args = vec!["create", "secret", "generic", "-n", &space, name];
        args.extend(literals.iter().map(String::as_str));
        r.kubectl(&args);
    }
    // PostHog's PostgreSQL and the platform's object storage (MinIO, shared with Milvus).
    let external = [
        "--set",
        "components.posthog-postgres.external.host=pg.example.internal",
        "--set",
        "components.posthog-postgres.external.secretRef.name=ph-pg",
        "--set",
        "components.posthog-postgres.external.secretRef.keys.password=pw",
        "--set",
        "components.minio.external.host=objects.example.internal",
        "--set",
        "components.minio.external.secretRef.name=va-s3",
        "--set",
        "components.minio.external.secretRef.keys.accessKeyId=id",
        "--set",
        "components.minio.external.secretRef.keys.secretAccessKey=key",
    ];
    // Pruning the StatefulSet needs the user's word: without --yes nothing is written.
    let rv = r.resource_versions();
    let o = r.run("install", &external);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--yes"),
        "{}",
        text(&o)
    );
    assert_eq!(
        rv,
        r.resource_versions(),
        "an unconfirmed prune wrote something"
    );

    let mut yes = external.to_vec();
    yes.push("--yes");
    let o = r.run("install", &yes);
    assert!(o.status.success(), "{}", text(&o));
    let sts = r.kubectl(&["get", "statefulsets", "-n", &r.ns("posthog"), "-o", "name"]);
    assert!(!sts.contains("posthog-postgres"), "{sts}");
    let infra = r.kubectl(&[
        "get",
        "statefulsets,jobs",
        "-n",
        &r.ns("infra"),
        "-o",
        "name",
    ]);
    assert!(
        !infra.lines().any(|l| l.contains("/minio")),
        "MinIO or its setup Job left: {infra}"
    );
    assert_eq!(claims, r.claim_uids(), "claims changed going external");
    let o = r.run("install", &external);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(" 0 created, 0 configured"), "re-run: {out}");

    // Back in the cluster: the StatefulSet takes its claim back.
    let o = r.run("install", &["--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(claims, r.claim_uids(), "claims changed coming back");
    let o = r.run("install", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(" 0 created, 0 configured") && out.contains(" 0 pruned"),
        "re-run: {out}"
    );
}
