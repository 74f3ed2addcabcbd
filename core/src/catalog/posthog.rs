//! Self-hosted PostHog: web, worker (+ one beat scheduler), plugins, capture, replay-capture,
//! feature-flags, the migrations Job, PostgreSQL, Redis (single, or with Sentinel behind
//! HAProxy when `posthog.redis.sentinel` is on, as in `production`), a Kafka-compatible broker
//! (Redpanda), ZooKeeper, ClickHouse and S3-compatible object storage, behind one Ingress.
//!
//! Facts: the Sealos template layout (one replica each), the reference production table
//! (PostgreSQL 500m–1 / 512Mi–2Gi / 20Gi, Redis 250m–500m / 256Mi–1Gi / 5Gi, ClickHouse 1–4 /
//! 2Gi–8Gi / 50Gi, web ×2 and worker ×2 at 500m–2 / 1Gi–4Gi), PostHog's compose files.
//! In `cloud` and `disabled` modes this module adds nothing.

use std::collections::BTreeMap;

use super::engines::{self, MC_IMAGE, POSTGRES_IMAGE, REDIS_IMAGE};
use super::external::{self, Engine};
use super::*;
use crate::config::{Config, External, Posthog, SelfHosted};
use crate::quantity::Bytes;

/// One PostHog release: four images built together, and who ran them together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Release {
    /// `YYYY.MM.DD-<commit>`: the date and commit of the app image.
    pub version: &'static str,
    /// Django app image (web, worker, beat, migrations; ClickHouse's UDF executables).
    pub app: &'static str,
    /// Node services image (plugins).
    pub node: &'static str,
    /// Rust capture image (capture, replay-capture).
    pub capture: &'static str,
    /// Rust feature-flags image (also the GeoLite database's source).
    pub feature_flags: &'static str,
    /// Where the four were run together, `repository:path@commit`.
    pub source: &'static str,
}

/// The PostHog releases kubectl-voice knows, oldest first; the last is the default. Each was
/// audited container by container (`core/tests/posthog_contract.rs`); a release enters this
/// table only with its contracts checked again.
///
/// 2026.02.12-86d6812: the Sealos template (labring-actions/templates
/// template/posthog/index.yaml@075f60b0, added by 23978e32 on 2026-02-12) runs exactly these.
/// The app image is the full-commit tag of PostHog/posthog 86d6812c; the Node and Rust images
/// are the digests pulled beside it (ghcr tags Rust images `sha-<7>` only on commits that touch
/// `rust/**`, so `sha-86d6812` is not known to exist; a digest names exactly what was pulled).
pub const RELEASES: &[Release] = &[Release {
    version: "2026.02.12-86d6812",
    app: "ghcr.io/posthog/posthog:86d6812c7de75c6c869b935e17baf45bf295bfd5",
    node: "ghcr.io/posthog/posthog-node@sha256:fd156e690ca1bb7cc1abd370e513ac532c57726ee11029721623f0db5b90b72a",
    capture: "ghcr.io/posthog/posthog/capture@sha256:864754478dbbd589f17cb4543d07e1b0f63acbca8e0bceca13de10669500375b",
    feature_flags: "ghcr.io/posthog/posthog/feature-flags@sha256:1e79e6e7e5b58da18e27ebdf0ef9b41d6c04136eac42bb9490e73a9a62f94f65",
    source: "labring-actions/templates:template/posthog/index.yaml@075f60b0",
}];

/// The label on every PostHog workload naming the release it runs; install reads it back to
/// tell an upgrade from a downgrade.
pub const VERSION_LABEL: &str = "kubectl-voice.io/posthog-version";

/// The release a configuration runs: its name and four images (the user's own when
/// `posthog.images` is set).
pub fn release(ph: &SelfHosted) -> (String, [String; 4]) {
    let newest = RELEASES[RELEASES.len() - 1];
    let known = ph
        .version
        .as_deref()
        .and_then(|v| RELEASES.iter().find(|r| r.version == v))
        .copied()
        .unwrap_or(newest);
    let version = ph.version.clone().unwrap_or_else(|| newest.version.into());
    let images = match &ph.images {
        Some(i) => {
            [&i.app, &i.node, &i.capture, &i.feature_flags].map(|x| x.clone().unwrap_or_default())
        }
        None => [known.app, known.node, known.capture, known.feature_flags].map(String::from),
    };
    (version, images)
}

/// What `posthog.version` and `posthog.images` say together, checked against the releases
/// kubectl-voice knows.
pub(super) fn check(cfg: &Config) -> Vec<Diagnostic> {
    let Posthog::SelfHosted(ph) = &cfg.posthog else {
        return Vec::new();
    };
    let Some(v) = &ph.version else {
        return Vec::new();
    };
    let known = RELEASES.iter().find(|r| r.version == v);
    let names: Vec<&str> = RELEASES.iter().map(|r| r.version).collect();
    let mut out = Vec::new();
    match (&ph.images, known) {
        (None, None) => out.push(Diagnostic::at_value(
            "posthog.version",
            format!(
                "kubectl-voice knows no PostHog release `{v}` (known: {}); to run your own, set all four posthog.images",
                names.join(", ")
            ),
        )),
        (Some(i), Some(r))
            if [&i.app, &i.node, &i.capture, &i.feature_flags].map(Option::as_deref)
                != [r.app, r.node, r.capture, r.feature_flags].map(Some) =>
        {
            out.push(Diagnostic::at_value(
                "posthog.version",
                format!("`{v}` is a release kubectl-voice knows, with other images than these; give your own release its own name, or drop posthog.images"),
            ))
        }
        (Some(i), _) => {
            // A commit tag on the app image must be the commit the name gives.
            let commit = v.split_once('-').map_or("", |(_, c)| c);
            let tag = i.app.as_deref().map(image_version).unwrap_or_default();
            let hex = (7..=40).contains(&tag.len()) && tag.bytes().all(|b| b.is_ascii_hexdigit());
            if hex && !(tag.starts_with(commit) || commit.starts_with(&tag)) {
                out.push(Diagnostic::at_value(
                    "posthog.version",
                    format!("`{v}` names commit {commit}, but posthog.images.app is built from {tag}"),
                ));
            }
        }
        _ => {}
    }
    out
}

/// The app image's user and group. Its Dockerfile runs `groupadd -g 1000 posthog && useradd -r
/// -g posthog posthog` (PostHog/posthog Dockerfile@8cbbcfdc L283-285) on top of
/// `unit:1.33.0-python3.12`, whose Dockerfile already took UID 999 for `unit`
/// (nginx/unit pkg/docker/Dockerfile.python3.12@24ed91f4 L66-68); Debian's `useradd -r` takes
/// the highest free system UID, 998 (`scripts/test-contracts` runs those lines). /code is
/// `chown posthog:posthog` and every copied tree `--chown=posthog:posthog`.
pub const APP_USER: (i64, i64) = (998, 1000);
/// The Node image's user: `useradd -u 1000 -g posthog posthog`, `chown -R posthog:posthog
/// /code` (PostHog/posthog Dockerfile.node@f4406a3a L103-105).
pub const NODE_USER: (i64, i64) = (1000, 1000);
/// The Rust images' user: `USER nobody` (PostHog/posthog rust/Dockerfile@1031e7d9 L63).
pub const RUST_USER: (i64, i64) = (65534, 65534);

// Resident memory per process. No PostHog source measures it: the Sealos template runs this
// release's web with one Granian worker in a 1Gi request and its worker with one Celery child
// in 512Mi, and PostHog/posthog issue 3888 saw about 800 MB for a whole idle web container.
/// A Granian worker (or the metrics server beside them), Django loaded.
const DJANGO_PROCESS: Bytes = Bytes::gi(1);
/// A Celery process (the parent, or a prefork child), Django loaded.
const CELERY_PROCESS: Bytes = Bytes::mi(512);
const ZOOKEEPER_IMAGE: &str = "zookeeper:3.9.3";
const REDPANDA_IMAGE: &str = "docker.redpanda.com/redpandadata/redpanda:v25.1.9";
const CLICKHOUSE_IMAGE: &str = "clickhouse/clickhouse-server:25.6.13.41";

/// Secret holding PostHog's generated credentials.
pub const SECRET: &str = "posthog-secrets";
const CONFIG: &str = "posthog-config";

/// The stateful tier the Django app, its workers, the plugin server and the migrations use.
const DATA_TIER: [&str; 5] = [
    "posthog-postgres",
    "posthog-redis",
    "posthog-clickhouse",
    "posthog-kafka",
    "posthog-objectstorage",
];

/// Topics consumers need before they start (producers auto-create theirs).
const TOPICS: &[&str] = &[
    "events_plugin_ingestion",
    "events_plugin_ingestion_overflow",
    "events_plugin_ingestion_historical",
    "events_plugin_ingestion_dlq",
    "session_recording_snapshot_item_events",
    "session_recording_snapshot_item_overflow",
    "clickhouse_events_json",
    "clickhouse_person",
    "clickhouse_person_distinct_id",
    "clickhouse_groups",
    "clickhouse_session_replay_events",
    "clickhouse_ingestion_warnings",
    "clickhouse_app_metrics2",
    "clickhouse_ai_events_json",
    "heatmaps_ingestion",
    "log_entries",
    "plugin_log_entries",
];

/// The clusters PostHog's ClickHouse code names (`posthog`, `posthog_migrations`,
/// `posthog_single_shard`, `posthog_writable`, `posthog_primary_replica`, and the per-product
/// ones), all one node here: docker/clickhouse/config.d/default.xml@10db52b7.
pub const CLICKHOUSE_CLUSTERS: &[&str] = &[
    "posthog",
    "posthog_migrations",
    "posthog_single_shard",
    "posthog_writable",
    "posthog_primary_replica",
    "posthog_logs",
    "ai_events",
    "aux",
    "ops",
    "sessions",
];
/// Kafka engine tables name these collections (posthog/clickhouse/kafka_engine.py@01f0398d);
/// each reads its brokers from `KAFKA_HOSTS` (default.xml@10db52b7).
pub const KAFKA_NAMED_COLLECTIONS: &[&str] = &["msk_cluster", "warpstream_ingestion"];
/// Where ClickHouse reads the executable UDF definitions.
pub const CLICKHOUSE_FUNCTIONS_DIR: &str = "/etc/clickhouse-server/functions.d";
/// ClickHouse's default `user_scripts_path`, where UDF commands are looked up.
pub const CLICKHOUSE_USER_SCRIPTS: &str = "/var/lib/clickhouse/user_scripts";

/// PostHog's funnel UDFs (HogQL calls them by these names outside Cloud), as
/// docker/clickhouse/user_defined_function.xml@04a27ba1 defines them: name, return type, the
/// `prop_vals` and `value` argument types, and the `aggregate_funnel` mode. Upstream runs the
/// first through `python mem_exec.py`; the ClickHouse image has no Python, so it runs the same
/// binary directly, as its siblings do. The `*_test` functions (Python scripts) are left out.
pub const FUNNEL_UDFS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "aggregate_funnel",
        "Array(Tuple(Int8, Nullable(String), Array(Float64), Array(Array(UUID))))",
        "Array(Nullable(String))",
        "Array(Tuple(Nullable(Float64), UUID, Nullable(String), Array(Int8)))",
        "steps",
    ),
    (
        "aggregate_funnel_cohort",
        "Array(Tuple(Int8, UInt64, Array(Float64), Array(Array(UUID))))",
        "Array(UInt64)",
        "Array(Tuple(Nullable(Float64), UUID, UInt64, Array(Int8)))",
        "steps",
    ),
    (
        "aggregate_funnel_array",
        "Array(Tuple(Int8, Array(String), Array(Float64), Array(Array(UUID))))",
        "Array(Array(String))",
        "Array(Tuple(Nullable(Float64), UUID, Array(String), Array(Int8)))",
        "steps",
    ),
    (
        "aggregate_funnel_trends",
        "Array(Tuple(UInt64, Int8, Nullable(String), UUID))",
        "Array(Nullable(String))",
        "Array(Tuple(Nullable(Float64), UInt64, UUID, Nullable(String), Array(Int8)))",
        "trends",
    ),
    (
        "aggregate_funnel_array_trends",
        "Array(Tuple(UInt64, Int8, Array(String), UUID))",
        "Array(Array(String))",
        "Array(Tuple(Nullable(Float64), UInt64, UUID, Array(String), Array(Int8)))",
        "trends",
    ),
    (
        "aggregate_funnel_cohort_trends",
        "Array(Tuple(UInt64, Int8, UInt64, UUID))",
        "Array(UInt64)",
        "Array(Tuple(Nullable(Float64), UInt64, UUID, UInt64, Array(Int8)))",
        "trends",
    ),
];

/// The executable UDF definitions, one `<function>` per [`FUNNEL_UDFS`] row.
fn udf_xml() -> String {
    let mut out = String::from("<functions>\n");
    for (name, ret, props, value, mode) in FUNNEL_UDFS {
        let mut args = Vec::new();
        if *mode == "trends" {
            args.extend([("from_step", "UInt8"), ("to_step", "UInt8")]);
        }
        args.extend([
            ("num_steps", "UInt8"),
            ("conversion_window_limit", "UInt64"),
            ("breakdown_attribution_type", "String"),
            ("funnel_order_type", "String"),
            ("prop_vals", props),
            ("value", value),
        ]);
        out.push_str(&format!(
            "  <function>\n    <type>executable_pool</type>\n    <name>{name}</name>\n    <return_type>{ret}</return_type>\n    <return_name>result</return_name>\n"
        ));
        for (n, t) in args {
            out.push_str(&format!(
                "    <argument><type>{t}</type><name>{n}</name></argument>\n"
            ));
        }
        out.push_str(&format!(
            "    <format>JSONEachRow</format>\n    <command>aggregate_funnel {mode}</command>\n    <lifetime>600</lifetime>\n  </function>\n"
        ));
    }
    out.push_str("</functions>\n");
    out
}

fn fqdn(name: &str, ns: &str) -> String {
    format!("{name}.{ns}.svc.cluster.local")
}

/// Where PostHog's programs find each store: the in-cluster Service, or the external service
/// the configuration names. Env names and formats as PostHog's programs read them:
/// posthog/settings/data_stores.py@018f9e90 (Django: `DATABASE_URL`, `REDIS_URL`,
/// `CLICKHOUSE_*`), posthog/settings/kafka.py@00868636 (`KAFKA_HOSTS`,
/// `KAFKA_SECURITY_PROTOCOL`), posthog/settings/object_storage.py@00cf18db (`OBJECT_STORAGE_*`,
/// empty keys → the boto3 credential chain), nodejs/src/config/config.ts@010d71a9 (Node: the
/// same URLs, `CDP_REDIS_*`, `LOGS_REDIS_*`, `SESSION_RECORDING_V2_S3_*`),
/// rust/capture/src/config.rs@00c5d0b7 (`REDIS_URL`, `KAFKA_HOSTS`, `KAFKA_TLS`) and
/// rust/feature-flags/src/config.rs@3b21084e (`*_DATABASE_URL`, `REDIS_URL`,
/// `COOKIELESS_REDIS_*`), all in PostHog/posthog.
struct Externals<'a> {
    cfg: &'a Config,
    postgres: Option<&'a External>,
    pg_host: String,
    pg_port: u16,
    pg_database: String,
    pg_user: String,
    redis: Option<&'a External>,
    redis_host: String,
    redis_port: u16,
    redis_tls: bool,
    clickhouse: Option<&'a External>,
    ch_host: String,
    ch_database: String,
    ch_cluster: String,
    ch_secure: bool,
    ch_verify: bool,
    kafka: String,
    kafka_tls: bool,
    object_storage: Option<&'a External>,
    s3: String,
    bucket: String,
}

impl<'a> Externals<'a> {
    fn of(cfg: &'a Config, ns: &str) -> Self {
        let h = |n: &str| fqdn(n, ns);
        let postgres = external::of(cfg, "posthog-postgres");
        let redis = external::of(cfg, "posthog-redis");
        let clickhouse = external::of(cfg, "posthog-clickhouse");
        let kafka = external::of(cfg, "posthog-kafka");
        let object_storage = external::of(cfg, "posthog-objectstorage");
        let host = |e: Option<&External>, own: &str| e.map_or_else(|| h(own), |e| e.host.clone());
        let s3 = match object_storage {
            None => format!("http://{}:19000", h("posthog-objectstorage")),
            Some(e) => {
                let (scheme, default) = if e.tls { ("https", 443) } else { ("http", 80) };
                match Engine::ObjectStorage.port(e) {
                    p if p == default => format!("{scheme}://{}", e.host),
                    p => format!("{scheme}://{}:{p}", e.host),
                }
            }
        };
        Externals {
            cfg,
            postgres,
            pg_host: host(postgres, "posthog-postgres"),
            pg_port: postgres.map_or(5432, |e| Engine::Postgres.port(e)),
            pg_database: postgres.map_or("posthog".into(), |e| e.name_or("database", "posthog")),
            pg_user: postgres.map_or("posthog".into(), |e| e.name_or("user", "posthog")),
            redis,
            redis_host: host(redis, "posthog-redis"),
            redis_port: redis.map_or(6379, |e| Engine::Redis.port(e)),
            redis_tls: redis.is_some_and(|e| e.tls),
            clickhouse,
            ch_host: host(clickhouse, "posthog-clickhouse"),
            ch_database: clickhouse.map_or("posthog".into(), |e| e.name_or("database", "posthog")),
            ch_cluster: clickhouse.map_or("posthog".into(), |e| e.name_or("cluster", "posthog")),
            ch_secure: clickhouse.is_some_and(|e| e.tls),
            // Django's default is to check (data_stores.py@018f9e90).
            ch_verify: clickhouse.is_some_and(|e| e.tls && e.verify.unwrap_or(true)),
            kafka: format!(
                "{}:{}",
                host(kafka, "posthog-kafka"),
                kafka.map_or(9092, |e| Engine::Kafka.port(e))
            ),
            kafka_tls: kafka.is_some_and(|e| e.tls),
            object_storage,
            s3,
            bucket: object_storage.map_or("posthog".into(), |e| e.name_or("bucket", "posthog")),
        }
    }

    /// The Secret and key of an external store's credential.
    fn key(&self, store: &str, credential: &str) -> Option<(&'a str, &'a str)> {
        external::of(self.cfg, store)?.key(credential)
    }

    /// `postgres://user:$(POSTHOG_DB_PASSWORD)@host:port/<database>`; an external server's
    /// URL says its sslmode (libpq's names, which psycopg, node-postgres and sqlx read).
    fn database_url(&self, database: &str) -> String {
        let database = if database == "posthog" {
            &self.pg_database
        } else {
            database
        };
        let query = match self.postgres {
            None => "",
            Some(e) if e.tls => "?sslmode=require",
            Some(_) => "?sslmode=disable",
        };
        format!(
            "postgres://{}:$(POSTHOG_DB_PASSWORD)@{}:{}/{database}{query}",
            self.pg_user, self.pg_host, self.pg_port
        )
    }

    fn redis_password(&self) -> bool {
        self.key("posthog-redis", "password").is_some()
    }

    /// `redis://host:port/`, `rediss://` over TLS, with `:$(POSTHOG_REDIS_PASSWORD)@` when a
    /// password is referenced.
    fn redis_url(&self) -> String {
        format!(
            "{}://{}{}:{}/",
            if self.redis_tls { "rediss" } else { "redis" },
            if self.redis_password() {
                ":$(POSTHOG_REDIS_PASSWORD)@"
            } else {
                ""
            },
            self.redis_host,
            self.redis_port
        )
    }

    /// A Redis consumer's env: the password (and, with one, `REDIS_URL`, which must follow
    /// it in the container's own env); the Node services' own password settings with `node`.
    fn redis_env(&self, mut c: Container, node: bool) -> Container {
        if let Some((s, k)) = self.key("posthog-redis", "password") {
            c = c.env_secret("POSTHOG_REDIS_PASSWORD", s, k);
            if node {
                for v in [
                    "CDP_REDIS_PASSWORD",
                    "LOGS_REDIS_PASSWORD",
                    "TRACES_REDIS_PASSWORD",
                ] {
                    c = c.env_secret(v, s, k);
                }
            }
            c = c.env("REDIS_URL", self.redis_url());
        } else if !node {
            c = c.env("REDIS_URL", self.redis_url());
        }
        c
    }

    /// `redis-cli` connection flags.
    fn redis_cli_flags(&self) -> String {
        match self.redis {
            None => format!("-h {}", self.redis_host),
            Some(_) => format!(
                "-h {} -p {}{}",
                self.redis_host,
                self.redis_port,
                if self.redis_tls { " --tls" } else { "" }
            ),
        }
    }

    /// `redis-cli` reads the password from `REDISCLI_AUTH`.
    fn redis_cli_auth(&self, c: Container) -> Container {
        match self.key("posthog-redis", "password") {
            Some((s, k)) => c.env_secret("REDISCLI_AUTH", s, k),
            None => c,
        }
    }

    /// An external ClickHouse's user and password (the in-cluster one has only `default`).
    fn clickhouse_env(&self, c: Container) -> Container {
        match (self.clickhouse, self.key("posthog-clickhouse", "password")) {
            (Some(e), Some((s, k))) => c
                .env("CLICKHOUSE_USER", e.name_or("user", "default"))
                .env_secret("CLICKHOUSE_PASSWORD", s, k),
            _ => c,
        }
    }

    /// `clickhouse client` connection flags.
    fn clickhouse_client_flags(&self) -> String {
        match self.clickhouse {
            None => "--host \"$CLICKHOUSE_HOST\"".into(),
            Some(e) => format!(
                "--host \"$CLICKHOUSE_HOST\"{} --user \"$CLICKHOUSE_USER\" --password \"$CLICKHOUSE_PASSWORD\"",
                match (e.tls, self.ch_verify) {
                    (false, _) => "",
                    (true, true) => " --secure",
                    (true, false) => " --secure --accept-invalid-certificate",
                }
            ),
        }
    }

    /// ConfigMap entries only an external store needs.
    fn extra_config(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(e) = self.postgres {
            out.push(("PGPORT", self.pg_port.to_string()));
            out.push((
                "PGSSLMODE",
                if e.tls { "require" } else { "disable" }.into(),
            ));
        }
        if self.kafka_tls {
            out.push(("KAFKA_SECURITY_PROTOCOL", "SSL".into()));
        }
        if let Some(e) = self.object_storage {
            let region = e.name_or("region", "us-east-1");
            out.push(("OBJECT_STORAGE_REGION", region.clone()));
            out.push(("SESSION_RECORDING_V2_S3_REGION", region));
        }
        out.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

/// Adds the self-hosted PostHog components when `posthog.mode` is `self-hosted`.
pub(super) fn add(cfg: &Config, stack: &mut Stack) {
    let Posthog::SelfHosted(ph) = &cfg.posthog else {
        return;
    };
    let ns = cfg.namespaces.posthog.as_str();
    let p = cfg.profile;
    let (version, images) = release(ph);
    let [app_image, node_image, capture_image, flags_image] =
        images.map(|i| with_registry(cfg, &i));
    // Every workload of the release carries its name, read back by install.
    let versioned = |mut c: Component| {
        c.labels.push((VERSION_LABEL, version.clone()));
        c
    };
    let run_as = |c: &mut Component, (uid, gid): (i64, i64)| {
        c.security.uid = uid;
        c.security.gid = gid;
        c.security.fs_group = gid;
    };
    let h = |n: &str| fqdn(n, ns);
    let ext = Externals::of(cfg, ns);
    let redis_url = ext.redis_url();
    let kafka = ext.kafka.clone();
    let s3 = ext.s3.clone();
    let db_url = ext.database_url("posthog");
    // The plugin server's job queue; created by posthog-postgres-init, migrated by the Job
    // (on an external server, by its owner: see the README).
    let cyclotron_url = ext.database_url("cyclotron");

    stack.secrets.push(SecretSpec {
        name: ph.existing_secret.clone().unwrap_or_else(|| SECRET.into()),
        namespace: ns.into(),
        component: "posthog-web".into(),
        existing: ph.existing_secret.is_some(),
        external: false,
        keys: vec![
            SecretKey {
                key: "SECRET_KEY".into(),
                source: if ph.secret_key.is_some() {
                    SecretSource::User { required: true }
                } else {
                    SecretSource::Random { length: 50 }
                },
            },
            SecretKey {
                key: "ENCRYPTION_SALT_KEYS".into(),
                source: SecretSource::RandomHex { length: 32 },
            },
            SecretKey {
                key: "POSTHOG_DB_PASSWORD".into(),
                source: SecretSource::Random { length: 32 },
            },
            SecretKey {
                key: "OBJECT_STORAGE_ACCESS_KEY_ID".into(),
                source: SecretSource::Random { length: 20 },
            },
            SecretKey {
                key: "OBJECT_STORAGE_SECRET_ACCESS_KEY".into(),
                source: SecretSource::Random { length: 40 },
            },
        ],
    });
    // Credentials of an external store come from the user's Secret: none is generated.
    if let Some(own) = stack.secrets.last_mut() {
        own.keys.retain(|k| match k.key.as_str() {
            "POSTHOG_DB_PASSWORD" => ext.postgres.is_none(),
            "OBJECT_STORAGE_ACCESS_KEY_ID" | "OBJECT_STORAGE_SECRET_ACCESS_KEY" => {
                ext.object_storage.is_none()
            }
            _ => true,
        });
    }
    let secret = stack
        .secrets
        .last()
        .map(|s| s.name.clone())
        .unwrap_or_default();
    // A credential's Secret and key: the user's for an external store, else ours.
    let from = |user: Option<(&str, &str)>, own: &str| -> (String, String) {
        user.map_or_else(
            || (secret.clone(), own.to_string()),
            |(name, key)| (name.to_string(), key.to_string()),
        )
    };
    let db_password = from(
        ext.key("posthog-postgres", "password"),
        "POSTHOG_DB_PASSWORD",
    );

    let mut data = BTreeMap::new();
    for (k, v) in [
        ("SITE_URL", ph.site_url.clone()),
        ("IS_BEHIND_PROXY", "true".into()),
        ("TRUST_ALL_PROXIES", "true".into()),
        ("DISABLE_SECURE_SSL_REDIRECT", "true".into()),
        ("DEPLOYMENT", "kubectl-voice".into()),
        ("PGHOST", ext.pg_host.clone()),
        ("PGUSER", ext.pg_user.clone()),
        ("POSTHOG_DB_NAME", ext.pg_database.clone()),
        ("POSTHOG_DB_USER", ext.pg_user.clone()),
        ("CLICKHOUSE_HOST", ext.ch_host.clone()),
        ("CLICKHOUSE_DATABASE", ext.ch_database.clone()),
        ("CLICKHOUSE_SECURE", ext.ch_secure.to_string()),
        ("CLICKHOUSE_VERIFY", ext.ch_verify.to_string()),
        ("CLICKHOUSE_CLUSTER", ext.ch_cluster.clone()),
        ("CLICKHOUSE_MIGRATIONS_CLUSTER", "posthog_migrations".into()),
        (
            "CLICKHOUSE_SINGLE_SHARD_CLUSTER",
            "posthog_single_shard".into(),
        ),
        ("CLICKHOUSE_LOGS_CLUSTER_HOST", ext.ch_host.clone()),
        ("CLICKHOUSE_LOGS_CLUSTER_SECURE", ext.ch_secure.to_string()),
        ("KAFKA_HOSTS", kafka.clone()),
        ("CDP_REDIS_HOST", ext.redis_host.clone()),
        ("CDP_REDIS_PORT", ext.redis_port.to_string()),
        ("CDP_VALKEY_HOST", ext.redis_host.clone()),
        ("CDP_VALKEY_PORT", ext.redis_port.to_string()),
        ("LOGS_REDIS_HOST", ext.redis_host.clone()),
        ("LOGS_REDIS_PORT", ext.redis_port.to_string()),
        ("LOGS_REDIS_TLS", ext.redis_tls.to_string()),
        ("TRACES_REDIS_HOST", ext.redis_host.clone()),
        ("TRACES_REDIS_PORT", ext.redis_port.to_string()),
        ("TRACES_REDIS_TLS", ext.redis_tls.to_string()),
        ("COOKIELESS_REDIS_HOST", ext.redis_host.clone()),
        ("COOKIELESS_REDIS_PORT", ext.redis_port.to_string()),
        ("OBJECT_STORAGE_ENABLED", "true".into()),
        ("OBJECT_STORAGE_ENDPOINT", s3.clone()),
        (
            "OBJECT_STORAGE_PUBLIC_ENDPOINT",
            match ext.object_storage {
                // Presigned URLs point at the bucket's own endpoint.
                Some(_) => s3.clone(),
                None => ph.site_url.clone(),
            },
        ),
        ("OBJECT_STORAGE_BUCKET", ext.bucket.clone()),
        ("SESSION_RECORDING_V2_S3_ENDPOINT", s3.clone()),
        ("SESSION_RECORDING_V2_S3_BUCKET", ext.bucket.clone()),
        (
            "CDP_API_URL",
            format!("http://{}:6738", h("posthog-plugins")),
        ),
        (
            "FEATURE_FLAGS_SERVICE_URL",
            format!("http://{}:3001", h("posthog-feature-flags")),
        ),
        ("OTEL_SDK_DISABLED", "true".into()),
        ("MMDB_FILE_LOCATION", "/share/GeoLite2-City.mmdb".into()),
    ] {
        data.insert(k.to_string(), v);
    }
    // A URL holding `$(POSTHOG_REDIS_PASSWORD)` is expanded only in a container's own env.
    if !ext.redis_password() {
        data.insert("REDIS_URL".into(), redis_url.clone());
    }
    data.extend(ext.extra_config());
    stack.config_maps.push(ConfigMapSpec {
        name: CONFIG.into(),
        namespace: ns.into(),
        component: "posthog-web".into(),
        data,
    });

    // The Django app image's containers all read the same configuration and secrets.
    let object_keys = match &ext.object_storage {
        None => Some((
            from(None, "OBJECT_STORAGE_ACCESS_KEY_ID"),
            from(None, "OBJECT_STORAGE_SECRET_ACCESS_KEY"),
        )),
        // Both keys, or none: the credential chain.
        Some(_) => ext
            .key("posthog-objectstorage", "accessKeyId")
            .zip(ext.key("posthog-objectstorage", "secretAccessKey"))
            .map(|(a, s)| (from(Some(a), ""), from(Some(s), ""))),
    };
    let app = |name: &str, r: ResourceSpec| {
        let mut c = Container::new(name, &app_image, r)
            .env_secret("SECRET_KEY", &secret, "SECRET_KEY")
            .env_secret("INTERNAL_API_SECRET", &secret, "SECRET_KEY")
            .env_secret("ENCRYPTION_SALT_KEYS", &secret, "ENCRYPTION_SALT_KEYS")
            .env_secret("POSTHOG_DB_PASSWORD", &db_password.0, &db_password.1)
            .env_secret("PGPASSWORD", &db_password.0, &db_password.1)
            .env("DATABASE_URL", db_url.clone())
            .env("CYCLOTRON_DATABASE_URL", cyclotron_url.clone());
        match &object_keys {
            Some(((sa, ka), (ss, ks))) => {
                c = c
                    .env_secret("OBJECT_STORAGE_ACCESS_KEY_ID", sa, ka)
                    .env_secret("OBJECT_STORAGE_SECRET_ACCESS_KEY", ss, ks)
                    .env_secret("SESSION_RECORDING_V2_S3_ACCESS_KEY_ID", sa, ka)
                    .env_secret("SESSION_RECORDING_V2_S3_SECRET_ACCESS_KEY", ss, ks);
            }
            // No keys: the SDKs' default credential chain (workload identity). The Node
            // recordings client defaults both keys to `any`, so they are emptied here.
            None => {
                c = c
                    .env("SESSION_RECORDING_V2_S3_ACCESS_KEY_ID", "")
                    .env("SESSION_RECORDING_V2_S3_SECRET_ACCESS_KEY", "");
            }
        }
        c = ext.redis_env(c, true);
        c = ext.clickhouse_env(c);
        c.env_from.push(EnvFrom::Config(CONFIG.into()));
        // The image's scripts write into /code, which its user owns (beat's celerybeat.pid).
        c.read_only_root = false;
        c
    };
    const APP_ROOT: &str =
        "the app image's scripts write into /code, which its user owns (beat's celerybeat.pid)";

    // --- Stateful tier -------------------------------------------------------------------
    let pg_res = by_profile(
        p,
        res("100m", "256Mi", "500m", "1Gi"),
        res("250m", "512Mi", "1", "2Gi"),
        res("500m", "512Mi", "1", "2Gi"),
    );
    let pg = engines::Instance {
        name: "posthog-postgres",
        group: Group::Posthog,
        namespace: ns,
        resources: pg_res,
        size: by_profile(p, Bytes::gi(2), Bytes::gi(10), Bytes::gi(20)),
    };
    stack.components.push(engines::postgres(
        cfg,
        &pg,
        "posthog",
        "posthog",
        &secret,
        "POSTHOG_DB_PASSWORD",
    ));

    let redis_res = by_profile(
        p,
        res("50m", "64Mi", "250m", "256Mi"),
        res("100m", "128Mi", "500m", "512Mi"),
        res("250m", "256Mi", "500m", "1Gi"),
    );
    let redis = engines::Instance {
        name: "posthog-redis",
        group: Group::Posthog,
        namespace: ns,
        resources: redis_res,
        size: by_profile(p, Bytes::gi(1), Bytes::gi(2), Bytes::gi(5)),
    };
    let maxmem = by_profile(p, "200mb", "400mb", "768mb");
    if ph.redis_sentinel {
        // Clients keep `posthog-redis:6379`: HAProxy there forwards to the current primary.
        let ha = engines::redis_sentinel(cfg, &redis, maxmem);
        stack.config_maps.push(ha.proxy_config);
        stack.components.push(ha.nodes);
        stack.components.push(ha.proxy);
    } else {
        stack.components.push(engines::redis(
            cfg,
            &redis,
            maxmem,
            "Celery beat state and the plugin-server heartbeat live in one Redis",
        ));
    }

    let zk_res = by_profile(
        p,
        res("50m", "128Mi", "250m", "512Mi"),
        res("100m", "256Mi", "500m", "512Mi"),
        res("250m", "512Mi", "500m", "1Gi"),
    );
    let mut z = Container::new("zookeeper", &with_registry(cfg, ZOOKEEPER_IMAGE), zk_res)
        .env("ZOO_STANDALONE_ENABLED", "true")
        .env("ZOO_4LW_COMMANDS_WHITELIST", "ruok,srvr,mntr,conf")
        .env("ZOO_AUTOPURGE_PURGEINTERVAL", "1")
        .env("ZOO_AUTOPURGE_SNAPRETAINCOUNT", "3")
        .env("ZOO_DATA_LOG_DIR", "/data/datalog");
    z.ports.push(Port {
        name: "client",
        port: 2181,
    });
    z.probes.liveness = Some(Probe::new(ProbeCheck::Tcp(2181), (20, 10, 3, 3)));
    z.probes.readiness = Some(Probe::new(
        ProbeCheck::Exec(vec![
            "sh".into(),
            "-c".into(),
            "echo ruok | nc 127.0.0.1 2181 | grep imok".into(),
        ]),
        (5, 10, 3, 3),
    ));
    z.read_only_root = false;
    let mut c = Component::new(
        "posthog-zookeeper",
        Group::Posthog,
        ns,
        "coordination",
        WorkloadKind::StatefulSet,
        Tier::Stateful,
        1000,
    );
    c.containers.push(z);
    c.security.writable_root_reason =
        Some("the ZooKeeper entrypoint writes zoo.cfg into /conf at start");
    let c = singleton(
        c.persistent(
            "data",
            "/data",
            by_profile(p, Bytes::gi(1), Bytes::gi(2), Bytes::gi(10)),
        ),
        "a standalone ZooKeeper for ClickHouse's replicated DDL",
    );
    stack.components.push(c);

    let (kres, kmem) = by_profile(
        p,
        (res("100m", "384Mi", "500m", "512Mi"), "256M"),
        (res("250m", "768Mi", "1", "1Gi"), "512M"),
        (res("1", "2Gi", "2", "2Gi"), "1536M"),
    );
    let mut k = Container::new("redpanda", &with_registry(cfg, REDPANDA_IMAGE), kres);
    k.command = vec!["rpk".into()];
    let advertise = format!("internal://{}:9092", h("posthog-kafka"));
    k.args = vec![
        "redpanda".into(),
        "start".into(),
        "--kafka-addr".into(),
        "internal://0.0.0.0:9092".into(),
        "--advertise-kafka-addr".into(),
        advertise,
        "--rpc-addr".into(),
        "0.0.0.0:33145".into(),
        "--advertise-rpc-addr".into(),
        format!("{}:33145", h("posthog-kafka")),
        "--mode".into(),
        "dev-container".into(),
        "--smp".into(),
        "1".into(),
        "--memory".into(),
        kmem.into(),
        "--reserve-memory".into(),
        "0M".into(),
        "--overprovisioned".into(),
        "--set".into(),
        "redpanda.auto_create_topics_enabled=true".into(),
        "--set".into(),
        "redpanda.log_retention_ms=3600000".into(),
    ];
    k.ports.push(Port {
        name: "kafka",
        port: 9092,
    });
    k.ports.push(Port {
        name: "admin",
        port: 9644,
    });
    k.probes.liveness = Some(Probe::new(
        ProbeCheck::Http("/v1/status/ready".into(), 9644),
        (20, 10, 3, 3),
    ));
    k.probes.readiness = Some(Probe::new(
        ProbeCheck::Http("/v1/status/ready".into(), 9644),
        (5, 5, 3, 3),
    ));
    // redpanda-data/helm-charts charts/redpanda/values.yaml@7ace9c21: 1 s + 10 s × 120.
    k.starts_within(
        ProbeCheck::Http("/v1/status/ready".into(), 9644),
        (10, 120),
        "Redpanda replays its Raft logs before it reports ready (its chart allows 20 minutes)",
    );
    k.read_only_root = false;
    let mut c = Component::new(
        "posthog-kafka",
        Group::Posthog,
        ns,
        "broker",
        WorkloadKind::StatefulSet,
        Tier::Stateful,
        101,
    );
    c.containers.push(k);
    c.security.writable_root_reason =
        Some("Redpanda writes its generated node config to /etc/redpanda");
    c.notes.push("Kafka-compatible broker (Redpanda); retention is set with redpanda.log_retention_ms because it ignores KAFKA_LOG_RETENTION_* variables");
    let c = singleton(
        c.persistent(
            "data",
            "/var/lib/redpanda/data",
            by_profile(p, Bytes::gi(2), Bytes::gi(10), Bytes::gi(50)),
        ),
        "a single broker with replication factor 1",
    );
    stack.components.push(c);

    let ch_res = by_profile(
        p,
        res("250m", "1Gi", "1", "2Gi"),
        res("500m", "2Gi", "2", "4Gi"),
        res("1", "2Gi", "4", "8Gi"),
    );
    let ch_host = format!("posthog-clickhouse-0.{}", h("posthog-clickhouse"));
    let shard = |cluster: &str| {
        format!(
            "    <{cluster}><shard><internal_replication>true</internal_replication><replica><host>{ch_host}</host><port>9000</port></replica></shard></{cluster}>\n"
        )
    };
    // Every cluster and named collection PostHog's ClickHouse migrations name, as upstream's
    // docker/clickhouse/config.d/default.xml@10db52b7 defines them for one node; the
    // executable UDFs read their definitions from functions.d and their programs from
    // user_scripts (copied out of the app image by `user-scripts`).
    let clusters: String = CLICKHOUSE_CLUSTERS.iter().map(|c| shard(c)).collect();
    let cluster_xml = format!(
        "<clickhouse>\n  <zookeeper><node><host>{zk}</host><port>2181</port></node></zookeeper>\n  <remote_servers>\n{clusters}  </remote_servers>\n  <named_collections>\n{collections}  </named_collections>\n  <macros><cluster>posthog</cluster><shard>01</shard><replica>01</replica><hostClusterType>online</hostClusterType><hostClusterRole>data</hostClusterRole></macros>\n  <user_defined_executable_functions_config>{CLICKHOUSE_FUNCTIONS_DIR}/*_function.xml</user_defined_executable_functions_config>\n  <max_server_memory_usage_to_ram_ratio>0.9</max_server_memory_usage_to_ram_ratio>\n</clickhouse>\n",
        zk = h("posthog-zookeeper"),
        collections = KAFKA_NAMED_COLLECTIONS
            .iter()
            .map(|n| format!("    <{n}><kafka_broker_list from_env=\"KAFKA_HOSTS\"/></{n}>\n"))
            .collect::<String>(),
    );
    let users_xml = "<clickhouse>\n  <profiles><default><distributed_ddl_task_timeout>1800</distributed_ddl_task_timeout></default></profiles>\n</clickhouse>\n".to_string();
    stack.config_maps.push(ConfigMapSpec {
        name: "posthog-clickhouse-config".into(),
        namespace: ns.into(),
        component: "posthog-clickhouse".into(),
        data: BTreeMap::from([("posthog-cluster.xml".to_string(), cluster_xml)]),
    });
    stack.config_maps.push(ConfigMapSpec {
        name: "posthog-clickhouse-users".into(),
        namespace: ns.into(),
        component: "posthog-clickhouse".into(),
        data: BTreeMap::from([("posthog-users.xml".to_string(), users_xml)]),
    });
    stack.config_maps.push(ConfigMapSpec {
        name: "posthog-clickhouse-functions".into(),
        namespace: ns.into(),
        component: "posthog-clickhouse".into(),
        data: BTreeMap::from([("posthog_function.xml".to_string(), udf_xml())]),
    });
    let mut ch = Container::new("clickhouse", &with_registry(cfg, CLICKHOUSE_IMAGE), ch_res)
        .env("CLICKHOUSE_SKIP_USER_SETUP", "1")
        .env("KAFKA_HOSTS", kafka.clone());
    ch.ports.push(Port {
        name: "http",
        port: 8123,
    });
    ch.ports.push(Port {
        name: "native",
        port: 9000,
    });
    ch.ports.push(Port {
        name: "interserver",
        port: 9009,
    });
    ch.probes.liveness = Some(Probe::new(
        ProbeCheck::Http("/ping".into(), 8123),
        (30, 10, 3, 6),
    ));
    ch.probes.readiness = Some(Probe::new(
        ProbeCheck::Http("/ping".into(), 8123),
        (5, 5, 3, 3),
    ));
    ch.starts_within(
        ProbeCheck::Http("/ping".into(), 8123),
        (10, 90),
        CLICKHOUSE_START,
    );
    ch.read_only_root = false;
    for (volume, path) in [
        (
            "config",
            "/etc/clickhouse-server/config.d/posthog-cluster.xml",
        ),
        ("users", "/etc/clickhouse-server/users.d"),
        ("functions", CLICKHOUSE_FUNCTIONS_DIR),
        ("user-scripts", CLICKHOUSE_USER_SCRIPTS),
    ] {
        ch.mounts.push(Mount {
            volume: volume.into(),
            path: path.into(),
            read_only: true,
        });
    }
    // The UDF programs ship in the app image (posthog/user_scripts, copied whole into /code).
    let scripts = Container::new("user-scripts", &app_image, res("10m", "32Mi", "200m", "128Mi"))
        .shell("set -eu\ncp -R /code/posthog/user_scripts/. /user-scripts/\ntest -x /user-scripts/aggregate_funnel\n")
        .mount("user-scripts", "/user-scripts");
    let mut c = Component::new(
        "posthog-clickhouse",
        Group::Posthog,
        ns,
        "analytics-database",
        WorkloadKind::StatefulSet,
        Tier::Stateful,
        101,
    );
    c.containers.push(ch);
    c.init_containers.push(scripts);
    for (name, map) in [
        ("config", "posthog-clickhouse-config"),
        ("users", "posthog-clickhouse-users"),
        ("functions", "posthog-clickhouse-functions"),
    ] {
        c.volumes.push(Volume {
            name: name.into(),
            source: VolumeSource::ConfigMap(map.into()),
        });
    }
    c.volumes.push(Volume {
        name: "user-scripts".into(),
        source: VolumeSource::EmptyDir(Some(Bytes::mi(512))),
    });
    c.security.writable_root_reason =
        Some("the ClickHouse entrypoint writes generated config into /etc/clickhouse-server");
    let c = singleton(
        c.persistent(
            "data",
            "/var/lib/clickhouse",
            by_profile(p, Bytes::gi(5), Bytes::gi(20), Bytes::gi(50)),
        ),
        "one shard, one replica: PostHog's single-node ClickHouse layout",
    )
    .needs(&["posthog-zookeeper", "posthog-kafka"]);
    stack.components.push(c);

    let os_res = by_profile(
        p,
        res("50m", "128Mi", "250m", "512Mi"),
        res("100m", "256Mi", "500m", "1Gi"),
        res("250m", "512Mi", "1", "2Gi"),
    );
    let os = engines::Instance {
        name: "posthog-objectstorage",
        group: Group::Posthog,
        namespace: ns,
        resources: os_res,
        size: by_profile(p, Bytes::gi(2), Bytes::gi(10), Bytes::gi(50)),
    };
    stack.components.push(engines::minio(
        cfg,
        &os,
        ("s3", 19000),
        19001,
        &secret,
        (
            "OBJECT_STORAGE_ACCESS_KEY_ID",
            "OBJECT_STORAGE_SECRET_ACCESS_KEY",
        ),
    ));

    // --- Setup jobs ----------------------------------------------------------------------
    let job_res = res("50m", "64Mi", "200m", "256Mi");
    let mut j = Container::new(
        "create-databases",
        &with_registry(cfg, POSTGRES_IMAGE),
        job_res,
    )
    .env("PGHOST", h("posthog-postgres"))
    .env("PGUSER", "posthog")
    .env("PGDATABASE", "postgres")
    .env_secret("PGPASSWORD", &secret, "POSTHOG_DB_PASSWORD");
    j = j.shell("set -eu\nuntil pg_isready -q; do sleep 2; done\nfor db in posthog cyclotron; do\n  psql -v ON_ERROR_STOP=1 -tAc \"SELECT 1 FROM pg_database WHERE datname = '$db'\" | grep -q 1 || psql -v ON_ERROR_STOP=1 -c \"CREATE DATABASE $db OWNER posthog\"\ndone\n");
    let mut c = Component::new(
        "posthog-postgres-init",
        Group::Posthog,
        ns,
        "database-setup",
        WorkloadKind::Job,
        Tier::Setup,
        70,
    );
    c.containers.push(j);
    c.job = Some(JobSpec {
        backoff_limit: 6,
        active_deadline: 600,
    });
    c.notes
        .push("creates the posthog and cyclotron databases if absent (idempotent)");
    stack.components.push(c.needs(&["posthog-postgres"]));

    let mut j = Container::new(
        "create-topics",
        &with_registry(cfg, REDPANDA_IMAGE),
        job_res,
    );
    j.command = vec![
        "sh".into(),
        "-c".into(),
        format!(
            "set -eu\nfor t in {topics}; do\n  out=$(rpk topic create \"$t\" -p 1 -r 1 -X brokers={kafka} 2>&1) || true\n  echo \"$out\" | grep -qE 'OK|TOPIC_ALREADY_EXISTS' || {{ echo \"$out\"; exit 1; }}\ndone\n",
            topics = TOPICS.join(" ")
        ),
    ];
    j = j.env("HOME", "/tmp");
    let mut c = Component::new(
        "posthog-kafka-init",
        Group::Posthog,
        ns,
        "broker-setup",
        WorkloadKind::Job,
        Tier::Setup,
        101,
    );
    c.containers.push(j);
    c.job = Some(JobSpec {
        backoff_limit: 6,
        active_deadline: 600,
    });
    c.notes
        .push("creates the topics consumers need before the app tier starts (idempotent)");
    stack
        .components
        .push(c.needs(&["posthog-kafka"]).scratch("tmp", "/tmp"));

    let mut j = Container::new("create-buckets", &with_registry(cfg, MC_IMAGE), job_res)
        .env_secret("ACCESS_KEY", &secret, "OBJECT_STORAGE_ACCESS_KEY_ID")
        .env_secret("SECRET_KEY", &secret, "OBJECT_STORAGE_SECRET_ACCESS_KEY")
        .env("HOME", "/tmp");
    j = j.shell(&format!("set -eu\nmc alias set store {s3} \"$ACCESS_KEY\" \"$SECRET_KEY\"\nmc mb --ignore-existing store/posthog\nmc mb --ignore-existing store/ai-blobs\nmc anonymous set none store/posthog\n"));
    let mut c = Component::new(
        "posthog-objectstorage-init",
        Group::Posthog,
        ns,
        "object-storage-setup",
        WorkloadKind::Job,
        Tier::Setup,
        1000,
    );
    c.containers.push(j);
    c.job = Some(JobSpec {
        backoff_limit: 6,
        active_deadline: 600,
    });
    c.notes
        .push("creates the posthog and ai-blobs buckets, private (idempotent)");
    stack
        .components
        .push(c.needs(&["posthog-objectstorage"]).scratch("tmp", "/tmp"));

    // --- Migrations ----------------------------------------------------------------------
    let mut j = app(
        "migrate",
        by_profile(
            p,
            res("250m", "512Mi", "1", "2Gi"),
            res("500m", "1Gi", "2", "4Gi"),
            res("500m", "1Gi", "2", "4Gi"),
        ),
    );
    // The image's own script, as PostHog's chart runs it (charts/posthog/templates/
    // migrate.job.yaml@81f238b4): its steps are the image's, whatever the release.
    j.command = vec!["./bin/migrate".into()];
    // Migration 0159 reads system.crash_log, which exists only after a log flush (upstream's
    // docker/clickhouse/docker-entrypoint-initdb.d/init-db.sh@1b56c1bb ends in one).
    let flush = Container::new(
        "flush-logs",
        &with_registry(cfg, CLICKHOUSE_IMAGE),
        res("10m", "64Mi", "200m", "256Mi"),
    )
    .env("CLICKHOUSE_HOST", ext.ch_host.clone())
    .env("HOME", "/tmp");
    let flush = ext.clickhouse_env(flush).shell(&format!(
        "set -eu\nuntil clickhouse client {c} --query 'SELECT 1' >/dev/null; do sleep 2; done\nclickhouse client {c} --query 'SYSTEM FLUSH LOGS'\n",
        c = ext.clickhouse_client_flags()
    ));
    let mut c = Component::new(
        "posthog-migrate",
        Group::Posthog,
        ns,
        "migrations",
        WorkloadKind::Job,
        Tier::Migration,
        1000,
    );
    c.containers.push(j);
    c.init_containers.push(flush);
    run_as(&mut c, APP_USER);
    c.job = Some(JobSpec {
        backoff_limit: 3,
        active_deadline: 3600,
    });
    c.security.writable_root_reason = Some(APP_ROOT);
    c.notes.push("runs the image's ./bin/migrate (Django, ClickHouse and async migrations); a fresh install applies thousands of migrations, so the deadline is an hour");
    c.notes.push("the image ships no rust/bin, so its bin/migrate skips the cyclotron job-queue schema (PostHog's PR 50818, closed: the Node service needs it on a fresh install)");
    stack
        .components
        .push(versioned(c.needs(&DATA_TIER).scratch("tmp", "/tmp")));

    // --- Applications --------------------------------------------------------------------
    let web_res = by_profile(
        p,
        res("200m", "512Mi", "1", "2Gi"),
        res("500m", "1Gi", "2", "4Gi"),
        res("500m", "1Gi", "2", "4Gi"),
    );
    let mut w = app("web", web_res);
    w.command = vec!["./bin/docker-server".into()];
    // The start script's Granian branch: its default (NGINX Unit) writes unit.json into the
    // root-owned /docker-entrypoint.d and runs `unitd --user root`, which the image's user
    // cannot.
    w = w.env("USE_GRANIAN", "true");
    // bin/docker-server-unit@db0df37f: `GRANIAN_WORKERS=${GRANIAN_WORKERS:-4}`, plus the
    // metrics server it starts beside them (bin/granian_metrics.py).
    w.processes = Some(Processes {
        env: "GRANIAN_WORKERS",
        per_cpu: 1,
        extra: 1,
        footprint: DJANGO_PROCESS,
        child_cap_env: None,
        source: "PostHog/posthog bin/docker-server-unit@db0df37f (GRANIAN_WORKERS, default 4)",
    });
    w.ports.push(Port {
        name: "http",
        port: 8000,
    });
    w.ports.push(Port {
        name: "metrics",
        port: 8001,
    });
    w.probes.startup = Some(Probe::new(
        ProbeCheck::Http("/_health".into(), 8000),
        (10, 10, 5, 30),
    ));
    w.probes.startup_why = Some(
        "the start script checks migrations (Django loads once) before the server loads it again and listens",
    );
    w.probes.liveness = Some(Probe::new(
        ProbeCheck::Http("/_health".into(), 8000),
        (0, 30, 5, 3),
    ));
    w.probes.readiness = Some(Probe::new(
        ProbeCheck::Http("/_health".into(), 8000),
        (0, 10, 5, 3),
    ));
    w.pre_stop_sleep = Some(20);
    let mut c = Component::new(
        "posthog-web",
        Group::Posthog,
        ns,
        "web",
        WorkloadKind::Deployment,
        Tier::App,
        1000,
    );
    c.containers.push(w);
    run_as(&mut c, APP_USER);
    c.replicas = by_profile(p, 1, 1, 2);
    c.metrics = Some(("metrics", "/metrics"));
    c.security.writable_root_reason = Some(APP_ROOT);
    c.ingress = Some(ingress(cfg, ph));
    stack.components.push(versioned(
        c.with_ui("posthog", 8000, "/")
            .needs(&DATA_TIER)
            .needs(&["posthog-plugins", "posthog-feature-flags"])
            .scratch("tmp", "/tmp"),
    ));

    let worker_res = by_profile(
        p,
        res("100m", "512Mi", "1", "2Gi"),
        res("500m", "1Gi", "2", "4Gi"),
        res("500m", "1Gi", "2", "4Gi"),
    );
    let mut w = app("worker", worker_res);
    w.command = vec!["./bin/docker-worker-celery".into()];
    let ping = ProbeCheck::Exec(vec![
        "sh".into(),
        "-c".into(),
        "celery -A posthog inspect ping -d \"node@$(hostname)\" --timeout 10".into(),
    ]);
    w.probes.liveness = Some(Probe::new(ping.clone(), (60, 60, 15, 3)));
    w.starts_within(
        ping,
        (30, 20),
        "the start script checks migrations (Django loads once), then Celery loads Django again and forks its children before the node answers a ping: minutes on a slow node",
    );
    // bin/docker-worker-celery@07510273: `--concurrency $WEB_CONCURRENCY` (else Celery forks
    // one child per CPU it sees: the node's) and `--max-memory-per-child
    // $CELERY_MAX_MEMORY_PER_CHILD` (KiB); the parent process runs beside the children.
    w.processes = Some(Processes {
        env: "WEB_CONCURRENCY",
        per_cpu: 1,
        extra: 1,
        footprint: CELERY_PROCESS,
        child_cap_env: Some("CELERY_MAX_MEMORY_PER_CHILD"),
        source: "PostHog/posthog bin/docker-worker-celery@07510273 (WEB_CONCURRENCY, CELERY_MAX_MEMORY_PER_CHILD)",
    });
    let mut c = Component::new(
        "posthog-worker",
        Group::Posthog,
        ns,
        "worker",
        WorkloadKind::Deployment,
        Tier::App,
        1000,
    );
    c.containers.push(w);
    run_as(&mut c, APP_USER);
    c.service = false;
    c.replicas = by_profile(p, 1, 1, 2);
    c.security.writable_root_reason = Some(APP_ROOT);
    c.notes
        .push("Celery workers without the scheduler: beat runs once, in posthog-worker-beat");
    stack.components.push(versioned(
        c.needs(&DATA_TIER)
            .needs(&["posthog-plugins"])
            .scratch("tmp", "/tmp"),
    ));

    let mut b = app(
        "beat",
        by_profile(
            p,
            res("20m", "128Mi", "200m", "256Mi"),
            res("50m", "256Mi", "500m", "512Mi"),
            res("100m", "256Mi", "500m", "512Mi"),
        ),
    );
    // The image's own script (bin/docker-worker-beat@5ad6f772): it removes a stale
    // celerybeat.pid and starts beat with RedBeat, whose pid file lands in /code.
    b.command = vec!["./bin/docker-worker-beat".into()];
    let mut c = Component::new(
        "posthog-worker-beat",
        Group::Posthog,
        ns,
        "scheduler",
        WorkloadKind::Deployment,
        Tier::App,
        1000,
    );
    c.containers.push(b);
    run_as(&mut c, APP_USER);
    c.service = false;
    c.security.writable_root_reason = Some(APP_ROOT);
    let mut c = singleton(
        c,
        "exactly one Celery beat scheduler may run, or periodic tasks run twice",
    )
    .needs(&["posthog-redis", "posthog-postgres"])
    .scratch("tmp", "/tmp");
    // Upstream gives beat no health check: bin/docker-worker-beat@06437832 only starts it and
    // charts-clickhouse beat-deployment.yaml@8e857cd5 sets no probe. Its one heartbeat, the
    // POSTHOG_HEARTBEAT key, is written by a task beat schedules and a worker runs
    // (posthog/celery.py@001afef6, "10 sec heartbeat"), so it goes stale when workers stop.
    c.notes.push("no liveness probe: upstream has no beat-only health signal; the POSTHOG_HEARTBEAT key needs a worker too, so probing it would restart beat for a worker outage");
    stack.components.push(versioned(c));

    let plugins_res = by_profile(
        p,
        res("100m", "256Mi", "500m", "1Gi"),
        res("100m", "256Mi", "500m", "1Gi"),
        res("250m", "512Mi", "1", "2Gi"),
    );
    let mut n = app("plugins", plugins_res);
    n.image = node_image;
    n.command = vec!["node".into(), "nodejs/dist/index.js".into()];
    // Production defaults name Cloud's Services (nodejs/src/config/config.ts@010d71a9).
    n = n
        .env(
            "INTERNAL_API_BASE_URL",
            format!("http://{}:8000", h("posthog-web")),
        )
        .env(
            "CAPTURE_INTERNAL_URL",
            format!("http://{}:3000/capture", h("posthog-capture")),
        );
    n.ports.push(Port {
        name: "http",
        port: 6738,
    });
    n.probes.startup = Some(Probe::new(ProbeCheck::Tcp(6738), (10, 10, 3, 30)));
    n.probes.startup_why = Some(
        "the plugin server connects Kafka, Redis, PostgreSQL and ClickHouse before it listens",
    );
    n.probes.liveness = Some(Probe::new(ProbeCheck::Tcp(6738), (0, 20, 3, 3)));
    n.probes.readiness = Some(Probe::new(
        ProbeCheck::Http("/_health".into(), 6738),
        (0, 30, 5, 3),
    ));
    n.mounts.push(Mount {
        volume: "share".into(),
        path: "/share".into(),
        read_only: true,
    });
    let mut hb = Container::new(
        "heartbeat",
        &with_registry(cfg, REDIS_IMAGE),
        res("10m", "16Mi", "50m", "64Mi"),
    );
    hb = ext.redis_cli_auth(hb).shell(&format!(
        "while true; do\n  redis-cli {r} SET @posthog-plugin-server/ping \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\" EX 120 >/dev/null\n  redis-cli {r} SET @posthog-plugin-server/version kubectl-voice EX 120 >/dev/null\n  sleep 10\ndone\n",
        r = ext.redis_cli_flags()
    ));
    let mut mmdb = Container::new(
        "init-mmdb",
        &flags_image,
        res("10m", "32Mi", "100m", "128Mi"),
    );
    mmdb = mmdb
        .shell("cp /app/share/GeoLite2-City.mmdb /share/GeoLite2-City.mmdb")
        .mount("share", "/share");
    let mut c = Component::new(
        "posthog-plugins",
        Group::Posthog,
        ns,
        "plugin-server",
        WorkloadKind::Deployment,
        Tier::App,
        NODE_USER.0,
    );
    c.containers.push(n);
    c.containers.push(hb);
    c.init_containers.push(mmdb);
    c.volumes.push(Volume {
        name: "share".into(),
        source: VolumeSource::EmptyDir(Some(Bytes::mi(128))),
    });
    c.security.writable_root_reason =
        Some("the Node plugin server writes compiled plugin code inside the image");
    c.notes.push("the heartbeat sidecar writes @posthog-plugin-server/ping, which newer plugin servers no longer do and the Django preflight still checks");
    c.notes
        .push("init-mmdb copies GeoLite2-City.mmdb out of the feature-flags image into /share");
    stack.components.push(versioned(
        c.needs(&DATA_TIER)
            .needs(&["posthog-web", "posthog-capture"])
            .scratch("tmp", "/tmp"),
    ));

    let small_rust = by_profile(
        p,
        res("20m", "32Mi", "200m", "256Mi"),
        res("20m", "32Mi", "200m", "256Mi"),
        res("100m", "128Mi", "500m", "512Mi"),
    );
    for (name, mode, topic, role) in [
        (
            "posthog-capture",
            "events",
            "events_plugin_ingestion",
            "capture",
        ),
        (
            "posthog-replay-capture",
            "recordings",
            "session_recording_snapshot_item_events",
            "replay-capture",
        ),
    ] {
        let k = Container::new("capture", &capture_image, small_rust)
            .env("ADDRESS", "0.0.0.0:3000")
            .env("CAPTURE_MODE", mode)
            .env("KAFKA_HOSTS", kafka.clone())
            .env("KAFKA_TOPIC", topic);
        let mut k = ext.redis_env(k, false).env("RUST_LOG", "info,rdkafka=warn");
        if ext.kafka_tls {
            // rust/capture/src/config.rs@00c5d0b7: `KAFKA_TLS` turns on security.protocol=ssl.
            k = k.env("KAFKA_TLS", "true");
        }
        k.ports.push(Port {
            name: "http",
            port: 3000,
        });
        k.probes.liveness = Some(Probe::new(
            ProbeCheck::Http("/_liveness".into(), 3000),
            (5, 10, 3, 3),
        ));
        k.probes.readiness = Some(Probe::new(
            ProbeCheck::Http("/_readiness".into(), 3000),
            (2, 5, 3, 3),
        ));
        let mut c = Component::new(
            name,
            Group::Posthog,
            ns,
            role,
            WorkloadKind::Deployment,
            Tier::App,
            1000,
        );
        c.containers.push(k);
        run_as(&mut c, RUST_USER);
        c.replicas = by_profile(p, 1, 1, 2);
        c.metrics = Some(("http", "/metrics"));
        stack
            .components
            .push(versioned(c.needs(&["posthog-kafka", "posthog-redis"])));
    }

    let f = Container::new("feature-flags", &flags_image, small_rust)
        .env("ADDRESS", "0.0.0.0:3001")
        .env_secret("POSTHOG_DB_PASSWORD", &db_password.0, &db_password.1)
        .env("WRITE_DATABASE_URL", db_url.clone())
        .env("READ_DATABASE_URL", db_url.clone())
        .env("PERSONS_WRITE_DATABASE_URL", db_url.clone())
        .env("PERSONS_READ_DATABASE_URL", db_url.clone());
    let mut f = ext
        .redis_env(f, false)
        .env("COOKIELESS_REDIS_HOST", ext.redis_host.clone())
        .env("COOKIELESS_REDIS_PORT", ext.redis_port.to_string())
        .env("MAXMIND_DB_PATH", "/app/share/GeoLite2-City.mmdb")
        // /metrics is routed only when this is on (rust/feature-flags/src/router.rs@3b21084e).
        .env("ENABLE_METRICS", "true")
        .env("RUST_LOG", "info");
    f.ports.push(Port {
        name: "http",
        port: 3001,
    });
    f.probes.liveness = Some(Probe::new(
        ProbeCheck::Http("/_liveness".into(), 3001),
        (5, 10, 3, 3),
    ));
    f.probes.readiness = Some(Probe::new(
        ProbeCheck::Http("/_readiness".into(), 3001),
        (2, 5, 3, 3),
    ));
    let mut c = Component::new(
        "posthog-feature-flags",
        Group::Posthog,
        ns,
        "feature-flags",
        WorkloadKind::Deployment,
        Tier::App,
        1000,
    );
    c.containers.push(f);
    run_as(&mut c, RUST_USER);
    c.replicas = by_profile(p, 1, 1, 2);
    c.metrics = Some(("http", "/metrics"));
    stack
        .components
        .push(versioned(c.needs(&["posthog-postgres", "posthog-redis"])));
}

/// The public Ingress: capture paths to capture, `/s` to replay-capture, `/flags` to
/// feature-flags, webhooks to plugins, everything else to web.
fn ingress(cfg: &Config, ph: &SelfHosted) -> IngressSpec {
    let r = |path: &str, component: &str, port: &'static str| Route {
        path: path.into(),
        exact: false,
        component: component.into(),
        port,
    };
    IngressSpec {
        host: ph.domain.clone(),
        tls_secret: "posthog-tls".into(),
        routes: vec![
            r("/s", "posthog-replay-capture", "http"),
            r("/e", "posthog-capture", "http"),
            r("/i/v0", "posthog-capture", "http"),
            r("/batch", "posthog-capture", "http"),
            r("/capture", "posthog-capture", "http"),
            r("/flags", "posthog-feature-flags", "http"),
            r("/decide", "posthog-feature-flags", "http"),
            r("/public/webhooks", "posthog-plugins", "http"),
            r("/public/m", "posthog-plugins", "http"),
            // Presigned URLs: OBJECT_STORAGE_PUBLIC_ENDPOINT is the site, the bucket its path.
            r("/posthog", "posthog-objectstorage", "s3"),
            r("/", "posthog-web", "http"),
        ],
        annotations: vec![
            ("nginx.ingress.kubernetes.io/proxy-body-size", "32m".into()),
            (
                "nginx.ingress.kubernetes.io/proxy-read-timeout",
                "300".into(),
            ),
            (
                "nginx.ingress.kubernetes.io/proxy-send-timeout",
                "300".into(),
            ),
            (
                "nginx.ingress.kubernetes.io/use-forwarded-headers",
                "true".into(),
            ),
        ]
        .into_iter()
        .chain(
            cfg.cluster
                .cert_issuer
                .iter()
                .map(|i| ("cert-manager.io/cluster-issuer", i.clone())),
        )
        .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::engines::{HAPROXY_IMAGE, SENTINEL_NODES, SENTINEL_PORT};
    use super::*;
    use crate::config::{Input, ProfileName};

    fn load(profile: ProfileName, sets: &[&str]) -> Result<Stack, crate::Errors> {
        let sets: Vec<String> = sets.iter().map(|s| (*s).to_string()).collect();
        crate::load(&Input {
            profile: Some(profile),
            sets: &sets,
            ..Default::default()
        })
    }

    fn stack(profile: ProfileName, sets: &[&str]) -> Stack {
        load(profile, sets).unwrap_or_else(|e| panic!("{profile:?} {sets:?}: {e}"))
    }

    fn script(c: &Container) -> &str {
        c.command.last().map_or("", String::as_str)
    }

    #[test]
    fn production_runs_three_sentinel_nodes_behind_haproxy() {
        let s = stack(ProfileName::Production, &[]);
        let nodes = s.component("posthog-redis-node").expect("redis nodes");
        assert_eq!(nodes.kind, WorkloadKind::StatefulSet);
        assert_eq!(nodes.replicas, SENTINEL_NODES);
        assert!(nodes.fixed_replicas && !nodes.singleton && nodes.parallel_pods);
        assert!(nodes.quorum);
        // Each node keeps the reference Redis numbers and its volume.
        assert_eq!(nodes.main().resources, res("250m", "256Mi", "500m", "1Gi"));
        assert_eq!(nodes.storage[0].size, Bytes::gi(5));
        let names: Vec<&str> = nodes.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["redis", "sentinel"]);
        let sentinel = &nodes.containers[1];
        assert_eq!(sentinel.ports[0].port, SENTINEL_PORT);
        assert!(sentinel.read_only_root && nodes.main().read_only_root);
        for needle in [
            "sentinel resolve-hostnames yes",
            "sentinel announce-hostnames yes",
            "sentinel monitor mymaster $primary 6379 2",
            "cat > /sentinel/sentinel.conf",
            "SENTINEL get-master-addr-by-name mymaster",
        ] {
            assert!(
                script(sentinel).contains(needle),
                "sentinel lacks `{needle}`"
            );
        }
        let redis = script(nodes.main());
        assert!(redis.contains("replicaof $primary 6379"));
        assert!(redis.contains("cat > /conf/redis.conf"));
        assert!(redis.contains("maxmemory 768mb"));
        // Both configurations are written into emptyDirs, never a ConfigMap mount.
        for v in ["conf", "sentinel"] {
            assert!(
                nodes
                    .volumes
                    .iter()
                    .any(|x| x.name == v && matches!(x.source, VolumeSource::EmptyDir(_))),
                "{v}"
            );
        }

        let proxy = s.component("posthog-redis").expect("haproxy");
        assert_eq!(proxy.kind, WorkloadKind::Deployment);
        assert_eq!(proxy.tier, Tier::Stateful, "setup jobs need it up");
        assert_eq!(proxy.replicas, 2);
        assert_eq!(proxy.depends_on, ["posthog-redis-node"]);
        assert_eq!(proxy.main().image, HAPROXY_IMAGE);
        assert!(!proxy.main().image.ends_with(":latest"));
        assert_eq!(proxy.port("redis"), Some(6379));
        assert_eq!(proxy.main().ports.len(), 1, "clients see 6379 only");
        let cfg = &s
            .config_maps
            .iter()
            .find(|m| m.name == "posthog-redis-haproxy")
            .expect("haproxy config")
            .data["haproxy.cfg"];
        for needle in [
            "tcp-check send PING\\r\\n",
            "tcp-check expect string +PONG",
            "tcp-check send info\\ replication\\r\\n",
            "tcp-check expect string role:master",
        ] {
            assert!(cfg.contains(needle), "haproxy.cfg lacks `{needle}`");
        }
        for n in 0..SENTINEL_NODES {
            assert!(cfg.contains(&format!(
                "server node-{n} posthog-redis-node-{n}.posthog-redis-node.posthog.svc.cluster.local:6379"
            )));
        }
        // Clients still read a plain URL naming the proxy's Service.
        let web = s.component("posthog-web").expect("web");
        assert!(web.depends_on.iter().any(|d| d == "posthog-redis"));
        assert!(s.config_maps.iter().find(|m| m.name == CONFIG).is_some_and(
            |m| m.data["REDIS_URL"] == "redis://posthog-redis.posthog.svc.cluster.local:6379/"
        ));
    }

    #[test]
    fn dev_and_small_keep_one_redis() {
        for p in [ProfileName::Dev, ProfileName::Small] {
            let s = stack(p, &[]);
            let r = s.component("posthog-redis").expect("redis");
            assert_eq!(r.kind, WorkloadKind::StatefulSet, "{p:?}");
            assert!(r.singleton, "{p:?}");
            assert_eq!(r.containers.len(), 1, "{p:?}: no sentinel");
            assert!(s.component("posthog-redis-node").is_none(), "{p:?}");
            assert!(
                !s.config_maps
                    .iter()
                    .any(|m| m.name == "posthog-redis-haproxy"),
                "{p:?}"
            );
        }
    }

    #[test]
    fn sentinel_is_a_switch_in_every_profile() {
        let dev = stack(ProfileName::Dev, &["posthog.redis.sentinel=true"]);
        assert!(dev.component("posthog-redis-node").is_some());
        assert_eq!(
            dev.component("posthog-redis-node")
                .map(|c| c.main().resources),
            Some(res("50m", "64Mi", "250m", "256Mi")),
            "nodes take the profile's Redis numbers"
        );
        let prod = stack(ProfileName::Production, &["posthog.redis.sentinel=false"]);
        assert!(prod.component("posthog-redis-node").is_none());
        assert!(prod.component("posthog-redis").is_some_and(|c| c.singleton));
    }

    #[test]
    fn the_node_count_is_fixed_and_the_proxy_scales() {
        let e = load(
            ProfileName::Production,
            &["components.posthog-redis-node.replicas=5"],
        )
        .expect_err("five nodes are refused");
        assert!(
            e.0.iter()
                .any(|d| d.path == "components.posthog-redis-node.replicas"
                    && d.message.contains("exactly 3 replicas")),
            "{e}"
        );
        let s = stack(
            ProfileName::Production,
            &["components.posthog-redis.replicas=3"],
        );
        assert_eq!(s.component("posthog-redis").map(|c| c.replicas), Some(3));
    }

    #[test]
    fn a_wrong_sentinel_value_names_its_field() {
        let e =
            load(ProfileName::Production, &["posthog.redis.sentinel=maybe"]).expect_err("refused");
        assert!(
            e.0.iter().any(|d| d.path == "posthog.redis.sentinel"),
            "{e}"
        );
    }

    fn env_of<'a>(c: &'a Container, name: &str) -> Option<&'a str> {
        c.env
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| match &e.value {
                EnvValue::Literal(v) => Some(v.as_str()),
                _ => None,
            })
    }

    /// The rendered value of an environment variable of a component's main container.
    fn rendered_env(s: &Stack, component: &str, name: &str) -> Option<String> {
        let objects = crate::render::render(s);
        let o = objects
            .iter()
            .find(|o| o.kind == "Deployment" && o.name == component)?;
        let v = o.value();
        v["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()?
            .iter()
            .find(|e| e["name"] == name)
            .and_then(|e| e["value"].as_str().map(str::to_string))
    }

    #[test]
    fn process_counts_follow_the_cpu_limit_not_the_node() {
        // One CPU: one Granian worker, one Celery child.
        let one = stack(
            ProfileName::Small,
            &[
                "components.posthog-web.resources.limits.cpu=1",
                "components.posthog-worker.resources.limits.cpu=1",
            ],
        );
        assert_eq!(
            rendered_env(&one, "posthog-web", "GRANIAN_WORKERS").as_deref(),
            Some("1")
        );
        assert_eq!(
            rendered_env(&one, "posthog-worker", "WEB_CONCURRENCY").as_deref(),
            Some("1")
        );
        // Each child's cap is its share of the limit (4Gi over the child and the parent).
        assert_eq!(
            rendered_env(&one, "posthog-worker", "CELERY_MAX_MEMORY_PER_CHILD").as_deref(),
            Some("2097152")
        );
        // Eight CPUs with room for them: eight of each.
        let eight = stack(
            ProfileName::Small,
            &[
                "components.posthog-web.resources.limits.cpu=8",
                "components.posthog-web.resources.limits.memory=9Gi",
                "components.posthog-worker.resources.limits.cpu=8",
                "components.posthog-worker.resources.limits.memory=5Gi",
            ],
        );
        assert_eq!(
            rendered_env(&eight, "posthog-web", "GRANIAN_WORKERS").as_deref(),
            Some("8")
        );
        assert_eq!(
            rendered_env(&eight, "posthog-worker", "WEB_CONCURRENCY").as_deref(),
            Some("8")
        );
        // Half a CPU still runs one process.
        let half = Processes {
            env: "X",
            per_cpu: 1,
            extra: 0,
            footprint: Bytes::mi(1),
            child_cap_env: None,
            source: "",
        };
        assert_eq!(half.count(MilliCpu(500)), 1);
        // The catalog never sets the count itself: it is derived at render.
        let web = one.component("posthog-web").expect("web");
        assert_eq!(env_of(web.main(), "GRANIAN_WORKERS"), None);
    }

    #[test]
    fn a_memory_limit_too_small_for_the_processes_is_refused() {
        let e = load(
            ProfileName::Small,
            &[
                "components.posthog-web.resources.limits.cpu=8",
                "components.posthog-web.resources.limits.memory=4Gi",
            ],
        )
        .expect_err("8 workers do not fit 4Gi");
        let d =
            e.0.iter()
                .find(|d| d.path == "components.posthog-web.resources")
                .unwrap_or_else(|| panic!("{e}"));
        for needle in [
            "starts 8 process(es)",
            "GRANIAN_WORKERS=8",
            "need 9Gi",
            "4Gi",
        ] {
            assert!(d.message.contains(needle), "{needle}: {}", d.message);
        }
        // Every profile as shipped holds its processes.
        for p in crate::config::PROFILES {
            stack(p, &[]);
        }
    }

    #[test]
    fn the_release_is_one_of_the_table_or_four_images_with_a_name() {
        let newest = RELEASES[RELEASES.len() - 1];
        let s = stack(ProfileName::Small, &[]);
        let web = s.component("posthog-web").expect("web");
        assert_eq!(web.main().image, newest.app);
        for c in [
            "posthog-web",
            "posthog-worker",
            "posthog-plugins",
            "posthog-capture",
        ] {
            let c = s.component(c).expect(c);
            assert!(
                c.labels
                    .iter()
                    .any(|(k, v)| *k == VERSION_LABEL && v == newest.version),
                "{}",
                c.name
            );
        }
        let bad = |sets: &[&str], needle: &str| {
            let e = load(ProfileName::Small, sets).expect_err(needle);
            assert!(
                e.0.iter().any(|d| d.message.contains(needle)),
                "{needle}: {e}"
            );
        };
        bad(
            &["posthog.version=2030.01.01-abcdef0"],
            "knows no PostHog release",
        );
        bad(&["posthog.version=latest"], "is not a PostHog release name");
        bad(
            &[
                "posthog.images.app=ghcr.io/posthog/posthog:1e7b36ebe0da38a738fed250d175809a899ef422",
            ],
            "set node, capture, featureFlags too",
        );
        let own = [
            "posthog.images.app=ghcr.io/posthog/posthog:1e7b36ebe0da38a738fed250d175809a899ef422",
            "posthog.images.node=ghcr.io/posthog/posthog-node:sha-82ea668",
            "posthog.images.capture=ghcr.io/posthog/posthog/capture@sha256:8b07f51be1a8983c4d171b443a58c0deb3ab1e6e15202729cde85c3fa280b3e5",
            "posthog.images.featureFlags=ghcr.io/posthog/posthog/feature-flags@sha256:97e4dfeed9770be6cbd70c6422c7d72b566409e3f15a50c57dfd3f61c32366cc",
        ];
        bad(&own, "name this release in posthog.version");
        let mut with = own.to_vec();
        with.push("posthog.version=2026.07.14-82ea668");
        bad(
            &with,
            "names commit 82ea668, but posthog.images.app is built from 1e7b36eb",
        );
        with.pop();
        with.push("posthog.version=2026.02.12-86d6812");
        bad(&with, "a release kubectl-voice knows, with other images");
        with.pop();
        with.push("posthog.version=2026.07.14-1e7b36e");
        let s = stack(ProfileName::Small, &with);
        let plugins = s.component("posthog-plugins").expect("plugins");
        assert_eq!(
            plugins.main().image,
            "ghcr.io/posthog/posthog-node:sha-82ea668"
        );
        assert!(
            plugins
                .labels
                .contains(&(VERSION_LABEL, "2026.07.14-1e7b36e".into()))
        );
    }
}
