//! PostHog's containers against their upstream contracts. Our tests run where no container
//! starts, so each container's needs are written down here as facts about the program it
//! runs (command, the environment it reads, ports, health paths, the user it runs as, the
//! files and named ClickHouse objects it depends on), each with its source as
//! `repository:path@commit`, and the rendered objects of the `small` and `production`
//! profiles are checked against every fact. Cross-object rules follow: every configuration
//! file we render is mounted where its program reads it, every `host:port` in the env names a
//! rendered Service port, every scraped endpoint is served, ClickHouse defines every cluster,
//! named collection and function the migrations and queries name. The tests at the bottom
//! break each rule on purpose and assert the check notices.
//!
//! Abbreviations for sources: PH = PostHog/posthog, SEALOS = labring-actions/templates
//! template/posthog/index.yaml@075f60b0.

use std::collections::BTreeMap;

use serde_json::Value;
// The release: the images SEALOS pulled together (its Deployments pin exactly these).
const RELEASE: &[&str] = &[
    "ghcr.io/posthog/posthog:86d6812c7de75c6c869b935e17baf45bf295bfd5",
    "ghcr.io/posthog/posthog-node@sha256:fd156e690ca1bb7cc1abd370e513ac532c57726ee11029721623f0db5b90b72a",
    "ghcr.io/posthog/posthog/capture@sha256:864754478dbbd589f17cb4543d07e1b0f63acbca8e0bceca13de10669500375b",
    "ghcr.io/posthog/posthog/feature-flags@sha256:1e79e6e7e5b58da18e27ebdf0ef9b41d6c04136eac42bb9490e73a9a62f94f65",
];
// PH docker/clickhouse/config.d/default.xml@10db52b7 remote_servers.
const CLICKHOUSE_CLUSTERS: &[&str] = &[
    "posthog",
    "posthog_migrations",
    "posthog_single_shard",
    "posthog_writable",
    "posthog_primary_replica",
];
// Same file, named_collections; Kafka tables use them (posthog/clickhouse/kafka_engine.py@01f0398d).
const KAFKA_NAMED_COLLECTIONS: &[&str] = &["msk_cluster", "warpstream_ingestion"];
// PH docker/clickhouse/user_defined_function.xml@04a27ba1; HogQL calls these names outside
// Cloud (posthog/hogql/functions/udfs.py, stored version). The `*_test` ones are test-only.
const FUNNEL_UDFS: &[&str] = &[
    "aggregate_funnel",
    "aggregate_funnel_cohort",
    "aggregate_funnel_array",
    "aggregate_funnel_trends",
    "aggregate_funnel_array_trends",
    "aggregate_funnel_cohort_trends",
];
use voice_core::render::{self, Object};
use voice_core::{Input, ProfileName};

const NS: &str = "posthog";

/// One container's upstream contract.
struct Contract {
    /// Workload name (Deployment, StatefulSet or Job).
    workload: &'static str,
    /// Container or init container name.
    container: &'static str,
    /// Substrings its command and arguments must contain, in this order.
    command: &'static [&'static str],
    /// Environment its program reads and has no usable default for (value or envFrom key).
    env: &'static [&'static str],
    /// Environment that must hold exactly this value.
    env_is: &'static [(&'static str, &'static str)],
    /// Container ports the program listens on.
    ports: &'static [i64],
    /// HTTP paths its probes may use, with the port that serves them.
    health: &'static [(&'static str, i64)],
    /// The UID and GID it runs as: the image's user (checked against runAsUser/runAsGroup).
    user: (i64, i64),
    /// Files the program reads, as mount paths (a directory or a file).
    reads: &'static [&'static str],
    /// Paths the program writes: each on a writable volume, or on the root filesystem where
    /// the image's user owns it ([`OWNED`]).
    writes: &'static [&'static str],
    /// `starts`, or `unknown: <why>`; never `starts` without the evidence.
    verdict: &'static str,
    /// The upstream facts each field rests on.
    evidence: &'static str,
}

const NONE: &[&str] = &[];
const NO_PAIRS: &[(&str, &str)] = &[];
const DJANGO_ENV: &[&str] = &[
    // posthog/settings/data_stores.py@018f9e90 and the compose worker_env (PH
    // docker-compose.base.yml@00cbfd23): no usable default outside DEBUG.
    "DATABASE_URL",
    "REDIS_URL",
    "CLICKHOUSE_HOST",
    "CLICKHOUSE_DATABASE",
    "KAFKA_HOSTS",
    "SECRET_KEY",
    "SITE_URL",
    "ENCRYPTION_SALT_KEYS",
    "OBJECT_STORAGE_ENDPOINT",
    "OBJECT_STORAGE_ACCESS_KEY_ID",
    "OBJECT_STORAGE_SECRET_ACCESS_KEY",
    // defaults to a Cloud Service name (PH docker-compose.hobby.yml@00fa00d9 sets it)
    "CDP_API_URL",
    // defaults to localhost:3001 (same file)
    "FEATURE_FLAGS_SERVICE_URL",
    // logs cluster defaults to localhost with TLS outside DEBUG (same file)
    "CLICKHOUSE_LOGS_CLUSTER_HOST",
    "CLICKHOUSE_LOGS_CLUSTER_SECURE",
];
// The app image's user: `groupadd -g 1000 posthog && useradd -r -g posthog posthog`
// (PH Dockerfile@8cbbcfdc L283-285) over unit:1.33.0-python3.12, whose `unit` user has UID 999
// (nginx/unit pkg/docker/Dockerfile.python3.12@24ed91f4 L66-68): Debian's useradd -r gives
// 998, as scripts/test-contracts shows by running those lines.
const APP: (i64, i64) = (998, 1000);
// PH Dockerfile.node@f4406a3a L103-105: `useradd -u 1000 -g posthog posthog`.
const NODE: (i64, i64) = (1000, 1000);
// PH rust/Dockerfile@1031e7d9 L63 `USER nobody`.
const NOBODY: (i64, i64) = (65534, 65534);

/// What each image's user owns on its root filesystem: (image repository, path, owner UID,
/// evidence).
const OWNED: &[(&str, &str, i64, &str)] = &[
    (
        "ghcr.io/posthog/posthog:",
        "/code",
        998,
        "PH Dockerfile@8cbbcfdc L285 `chown posthog:posthog /code`",
    ),
    (
        "ghcr.io/posthog/posthog-node@",
        "/code",
        1000,
        "PH Dockerfile.node@f4406a3a L105 `chown -R posthog:posthog /code`",
    ),
];

fn contracts() -> Vec<Contract> {
    vec![
        Contract {
            workload: "posthog-web",
            container: "web",
            command: &["./bin/docker-server"],
            env: [DJANGO_ENV, &["GRANIAN_WORKERS"]].concat().leak(),
            env_is: &[("USE_GRANIAN", "true")],
            ports: &[8000, 8001],
            health: &[("/_health", 8000), ("/_livez", 8000), ("/_readyz", 8000)],
            user: APP,
            reads: NONE,
            writes: &["/tmp"],
            verdict: "starts",
            evidence: "PH bin/docker-server-unit@db0df37f: migrate-check, `PROMETHEUS_MULTIPROC_DIR=$(mktemp -d)` (/tmp), and with USE_GRANIAN=true `granian … --workers $GRANIAN_WORKERS` on 8000 with bin/granian_metrics.py on 8001; its default (NGINX Unit) writes /docker-entrypoint.d/unit.json (root's) and runs `unitd --user root`. SEALOS runs this image's ./bin/docker-server with USE_GRANIAN=true. /_health: posthog/urls.py@001afef6",
        },
        Contract {
            workload: "posthog-worker",
            container: "worker",
            command: &["./bin/docker-worker-celery"],
            env: [
                DJANGO_ENV,
                &["WEB_CONCURRENCY", "CELERY_MAX_MEMORY_PER_CHILD"],
            ]
            .concat()
            .leak(),
            env_is: NO_PAIRS,
            ports: &[],
            health: &[],
            user: APP,
            reads: NONE,
            writes: NONE,
            verdict: "starts",
            evidence: "PH bin/docker-worker-celery@07510273: migrate-check, then `celery -A posthog worker -Ofair -n node@%h` with `--concurrency $WEB_CONCURRENCY` and `--max-memory-per-child $CELERY_MAX_MEMORY_PER_CHILD`; writes no file. SEALOS runs the same celery line in this image",
        },
        Contract {
            workload: "posthog-worker-beat",
            container: "beat",
            command: &["./bin/docker-worker-beat"],
            env: DJANGO_ENV,
            env_is: NO_PAIRS,
            ports: &[],
            health: &[],
            user: APP,
            reads: NONE,
            writes: &["/code/celerybeat.pid"],
            verdict: "starts",
            evidence: "PH bin/docker-worker-beat@5ad6f772: `rm celerybeat.pid`, `celery -A posthog beat -S redbeat.RedBeatScheduler` in /code (beat's pid file lands there). No health check upstream: charts-clickhouse beat-deployment.yaml@8e857cd5 sets no probe",
        },
        Contract {
            workload: "posthog-migrate",
            container: "migrate",
            command: &["./bin/migrate"],
            env: &[
                "DATABASE_URL",
                "CLICKHOUSE_HOST",
                "CLICKHOUSE_MIGRATIONS_CLUSTER",
                "KAFKA_HOSTS",
                "SECRET_KEY",
            ],
            env_is: NO_PAIRS,
            ports: &[],
            health: &[],
            user: APP,
            reads: NONE,
            writes: &["/tmp"],
            verdict: "starts",
            evidence: "the image's own script, as PostHog's chart runs it (charts-clickhouse migrate.job.yaml@81f238b4: `./bin/migrate`). bin/migrate at 86d6812c is not stored; the nearest, PH bin/migrate@8cbbcfdc, runs migrate_clickhouse and sync_replicated_schema in the background, migrate and run_async_migrations (--complete-noop-migrations, --check) in front, `mktemp` for its status file (/tmp), and skips rust/bin, which the image does not ship",
        },
        Contract {
            workload: "posthog-migrate",
            container: "flush-logs",
            command: &["SELECT 1", "SYSTEM FLUSH LOGS"],
            env: &["CLICKHOUSE_HOST"],
            env_is: &[("HOME", "/tmp")],
            ports: &[],
            health: &[],
            user: APP,
            reads: NONE,
            writes: NONE,
            verdict: "starts",
            evidence: "PH docker/clickhouse/docker-entrypoint-initdb.d/init-db.sh@1b56c1bb ends in `system flush logs`; migration 0159 reads system.crash_log (issue PH#70636). `clickhouse client --query` runs as any user and writes nothing with HOME=/tmp",
        },
        Contract {
            workload: "posthog-plugins",
            container: "plugins",
            command: &["node", "nodejs/dist/index.js"],
            env: &[
                "DATABASE_URL",
                "CYCLOTRON_DATABASE_URL",
                "REDIS_URL",
                "KAFKA_HOSTS",
                "CLICKHOUSE_HOST",
                "ENCRYPTION_SALT_KEYS",
                "CDP_REDIS_HOST",
                "CDP_VALKEY_HOST",
                "INTERNAL_API_BASE_URL",
                "CAPTURE_INTERNAL_URL",
                "SITE_URL",
            ],
            env_is: &[("MMDB_FILE_LOCATION", "/share/GeoLite2-City.mmdb")],
            ports: &[6738],
            health: &[("/_health", 6738)],
            user: NODE,
            reads: &["/share"],
            writes: &["/code/.tmp/sessions"],
            verdict: "unknown: the CDP job queue's schema (the cyclotron database) is made by rust/bin/migrate-cyclotron, which none of the four images ships (PH Dockerfile.node@f4406a3a L114-116 copies only rust/cyclotron-node; the app image no rust/), and PH PR 50818 (closed) says the Node service does not start on a fresh install without it",
            evidence: "PH nodejs/src/config/config.ts@010d71a9: DATABASE_URL required, CYCLOTRON_DATABASE_URL defaults to localhost, INTERNAL_API_BASE_URL and CAPTURE_INTERNAL_URL default to Cloud Service names, SESSION_RECORDING_LOCAL_DIRECTORY `.tmp/sessions` (under /code); cdp/config.ts@0241415c: CDP_VALKEY_HOST required. Dockerfile.node@f4406a3a L76 WORKDIR /code, L138 `CMD [\"node\", \"nodejs/dist/index.js\"]`",
        },
        Contract {
            workload: "posthog-plugins",
            container: "init-mmdb",
            command: &["cp /app/share/GeoLite2-City.mmdb /share/"],
            env: NONE,
            env_is: NO_PAIRS,
            ports: &[],
            health: &[],
            user: NODE,
            reads: NONE,
            writes: &["/share"],
            verdict: "starts",
            evidence: "PH rust/Dockerfile@1031e7d9 L43 debian:bookworm-slim (/bin/sh), L55-56 the database at /app/share (chmod 755, readable by any user)",
        },
        Contract {
            workload: "posthog-plugins",
            container: "heartbeat",
            command: &["redis-cli -h", "SET @posthog-plugin-server/ping"],
            env: NONE,
            env_is: NO_PAIRS,
            ports: &[],
            health: &[],
            user: NODE,
            reads: NONE,
            writes: NONE,
            verdict: "starts",
            evidence: "SEALOS's heartbeat sidecar: the Django preflight reads @posthog-plugin-server/ping; redis-cli runs as any user and writes nothing",
        },
        Contract {
            workload: "posthog-capture",
            container: "capture",
            command: &[],
            env: &["REDIS_URL", "KAFKA_HOSTS", "KAFKA_TOPIC"],
            env_is: &[("ADDRESS", "0.0.0.0:3000"), ("CAPTURE_MODE", "events")],
            ports: &[3000],
            health: &[("/_liveness", 3000), ("/_readiness", 3000)],
            user: NOBODY,
            reads: NONE,
            writes: NONE,
            verdict: "starts",
            evidence: "PH rust/capture/src/config.rs@00c5d0b7 (REDIS_URL, KAFKA_HOSTS required; ADDRESS defaults to 127.0.0.1:3000); router.rs@0096a86e: /_liveness, /_readiness, /metrics; rust/Dockerfile@1031e7d9 L63 `USER nobody`, L66 its own entrypoint",
        },
        Contract {
            workload: "posthog-replay-capture",
            container: "capture",
            command: &[],
            env: &["REDIS_URL", "KAFKA_HOSTS"],
            env_is: &[
                ("ADDRESS", "0.0.0.0:3000"),
                ("CAPTURE_MODE", "recordings"),
                ("KAFKA_TOPIC", "session_recording_snapshot_item_events"),
            ],
            ports: &[3000],
            health: &[("/_liveness", 3000), ("/_readiness", 3000)],
            user: NOBODY,
            reads: NONE,
            writes: NONE,
            verdict: "starts",
            evidence: "PH docker-compose.base.yml@00cbfd23 replay-capture; as capture",
        },
        Contract {
            workload: "posthog-feature-flags",
            container: "feature-flags",
            command: &[],
            env: &[
                "WRITE_DATABASE_URL",
                "READ_DATABASE_URL",
                "PERSONS_WRITE_DATABASE_URL",
                "PERSONS_READ_DATABASE_URL",
                "REDIS_URL",
                "MAXMIND_DB_PATH",
            ],
            env_is: &[("ADDRESS", "0.0.0.0:3001")],
            ports: &[3001],
            health: &[("/_liveness", 3001), ("/_readiness", 3001)],
            user: NOBODY,
            reads: NONE,
            writes: NONE,
            verdict: "starts",
            evidence: "PH rust/feature-flags/src/config.rs@3b21084e; router.rs@3b21084e serves /metrics only with ENABLE_METRICS=true; rust/Dockerfile@1031e7d9 L63 `USER nobody`",
        },
        Contract {
            workload: "posthog-clickhouse",
            container: "clickhouse",
            command: &[],
            env: &["KAFKA_HOSTS"],
            env_is: &[("CLICKHOUSE_SKIP_USER_SETUP", "1")],
            ports: &[8123, 9000, 9009],
            health: &[("/ping", 8123)],
            user: (101, 101),
            reads: &[
                "/etc/clickhouse-server/config.d/posthog-cluster.xml",
                "/etc/clickhouse-server/users.d",
                "/etc/clickhouse-server/functions.d",
                "/var/lib/clickhouse/user_scripts",
            ],
            writes: &["/var/lib/clickhouse"],
            verdict: "starts",
            evidence: "PH docker-compose.hobby.yml@00fa00d9 mounts config.d, users.xml, user_defined_function.xml and posthog/user_scripts; the Kafka named collections read KAFKA_HOSTS (config.d/default.xml@10db52b7); ClickHouse docker/server/Dockerfile.ubuntu@001409ce L20 `useradd -r -g clickhouse --uid=101`",
        },
        Contract {
            workload: "posthog-clickhouse",
            container: "user-scripts",
            command: &["cp -R /code/posthog/user_scripts/. /user-scripts/"],
            env: NONE,
            env_is: NO_PAIRS,
            ports: &[],
            health: &[],
            user: (101, 101),
            reads: NONE,
            writes: &["/user-scripts"],
            verdict: "starts",
            evidence: "PH Dockerfile@8cbbcfdc L336 `COPY --chown=posthog:posthog posthog posthog/` (user_scripts included, readable by others)",
        },
    ]
}

// --- Reading rendered objects ------------------------------------------------------------

fn load(profile: ProfileName) -> Vec<Object> {
    let stack = voice_core::load(&Input {
        profile: Some(profile),
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{profile:?}: {e}"));
    render::render(&stack)
}

fn profiles() -> Vec<(&'static str, Vec<Object>)> {
    vec![
        ("small", load(ProfileName::Small)),
        ("production", load(ProfileName::Production)),
    ]
}

fn arr<'a>(v: &'a Value, p: &str) -> &'a [Value] {
    v.pointer(p)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or_default()
}

fn workloads(objects: &[Object]) -> impl Iterator<Item = &Object> {
    objects.iter().filter(|o| {
        matches!(o.kind.as_str(), "Deployment" | "StatefulSet" | "Job")
            && o.namespace.as_deref() == Some(NS)
    })
}

/// A workload's component name (Jobs carry a fingerprint suffix in their object name).
fn wname(o: &Object) -> String {
    s(&o.value(), "/metadata/labels/app.kubernetes.io~1name").to_string()
}

fn pod(o: &Object) -> Value {
    o.value()["spec"]["template"]["spec"].clone()
}

fn all_containers(pod: &Value) -> Vec<Value> {
    arr(pod, "/containers")
        .iter()
        .chain(arr(pod, "/initContainers"))
        .cloned()
        .collect()
}

fn config_map<'a>(objects: &'a [Object], name: &str) -> Option<&'a Object> {
    objects
        .iter()
        .find(|o| o.kind == "ConfigMap" && o.name == name && o.namespace.as_deref() == Some(NS))
}

/// A container's environment: literal values, `<secret>` for secret references, and the
/// keys of every ConfigMap it takes whole.
fn env_of(objects: &[Object], c: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for f in arr(c, "/envFrom") {
        if let Some(cm) = config_map(objects, s(f, "/configMapRef/name"))
            && let Some(Value::Object(m)) = cm.value().get("data")
        {
            for (k, v) in m {
                out.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
            }
        }
    }
    for e in arr(c, "/env") {
        let v = e
            .get("value")
            .and_then(Value::as_str)
            .map_or_else(|| "<secret>".to_string(), str::to_string);
        out.insert(s(e, "/name").to_string(), v);
    }
    out
}

fn script_of(c: &Value) -> String {
    arr(c, "/command")
        .iter()
        .chain(arr(c, "/args"))
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

fn probe_paths(c: &Value) -> Vec<(String, i64)> {
    ["livenessProbe", "readinessProbe", "startupProbe"]
        .iter()
        .filter_map(|p| c.get(*p))
        .filter_map(|p| p.get("httpGet"))
        .map(|g| (s(g, "/path").to_string(), g["port"].as_i64().unwrap_or(-1)))
        .collect()
}

// --- Rules --------------------------------------------------------------------------------

/// Every contract row holds for the rendered objects.
fn check_contracts(objects: &[Object]) -> Vec<String> {
    let mut out = Vec::new();
    for k in contracts() {
        let id = format!("{}/{}", k.workload, k.container);
        let Some(w) = workloads(objects).find(|o| wname(o) == k.workload) else {
            out.push(format!("{id}: workload not rendered"));
            continue;
        };
        let pod = pod(w);
        let Some(c) = all_containers(&pod)
            .into_iter()
            .find(|c| s(c, "/name") == k.container)
        else {
            out.push(format!("{id}: container not rendered"));
            continue;
        };
        let script = script_of(&c);
        let mut from = 0;
        for needle in k.command {
            match script[from..].find(needle) {
                Some(i) => from += i + needle.len(),
                None => out.push(format!("{id}: command lacks `{needle}` (in order)")),
            }
        }
        let env = env_of(objects, &c);
        for name in k.env {
            if env.get(*name).is_none_or(String::is_empty) {
                out.push(format!("{id}: env {name} unset"));
            }
        }
        for (name, want) in k.env_is {
            if env.get(*name).map(String::as_str) != Some(*want) {
                out.push(format!(
                    "{id}: env {name} is {:?}, not {want}",
                    env.get(*name)
                ));
            }
        }
        let ports: Vec<i64> = arr(&c, "/ports")
            .iter()
            .filter_map(|p| p["containerPort"].as_i64())
            .collect();
        for p in k.ports {
            if !ports.contains(p) {
                out.push(format!("{id}: port {p} not declared"));
            }
        }
        for (path, port) in probe_paths(&c) {
            if !k.health.iter().any(|(p, n)| *p == path && *n == port) {
                out.push(format!(
                    "{id}: probe {path} on {port} is no health path it serves"
                ));
            }
        }
        let id_of = |field: &str| {
            c.pointer(&format!("/securityContext/{field}"))
                .or_else(|| pod.pointer(&format!("/securityContext/{field}")))
                .and_then(Value::as_i64)
        };
        let user = (id_of("runAsUser"), id_of("runAsGroup"));
        if user != (Some(k.user.0), Some(k.user.1)) {
            out.push(format!(
                "{id}: runs as {user:?}, the image's user is {:?}",
                k.user
            ));
        }
        let root_writable =
            c.pointer("/securityContext/readOnlyRootFilesystem") != Some(&Value::Bool(true));
        let image = s(&c, "/image");
        for w in k.writes {
            let on_volume = arr(&c, "/volumeMounts").iter().any(|m| {
                let at = s(m, "/mountPath");
                m.get("readOnly") != Some(&Value::Bool(true))
                    && (*w == at || w.starts_with(&format!("{}/", at.trim_end_matches('/'))))
            });
            let owned = root_writable
                && OWNED.iter().any(|(repo, path, uid, _)| {
                    image.starts_with(repo)
                        && (w == path || w.starts_with(&format!("{path}/")))
                        && user.0 == Some(*uid)
                });
            if !(on_volume || owned) {
                out.push(format!(
                    "{id}: writes {w}, which is not writable as UID {:?}",
                    user.0
                ));
            }
        }
        let mounts: Vec<&str> = arr(&c, "/volumeMounts")
            .iter()
            .map(|m| s(m, "/mountPath"))
            .collect();
        for r in k.reads {
            if !mounts.contains(r) {
                out.push(format!("{id}: reads {r}, which is not mounted"));
            }
        }
    }
    out
}

/// Where each program reads its configuration files: a ConfigMap we render holding files
/// must be mounted at one of these places by the named container.
const FILE_READERS: &[(&str, &str, &[&str])] = &[
    // ClickHouse merges config.d/*.xml and users.d/*.xml; functions.d is the
    // user_defined_executable_functions_config our config.d sets.
    (
        "posthog-clickhouse-config",
        "clickhouse",
        &["/etc/clickhouse-server/config.d/"],
    ),
    (
        "posthog-clickhouse-users",
        "clickhouse",
        &["/etc/clickhouse-server/users.d"],
    ),
    (
        "posthog-clickhouse-functions",
        "clickhouse",
        &["/etc/clickhouse-server/functions.d"],
    ),
    (
        "posthog-redis-haproxy",
        "haproxy",
        &["/usr/local/etc/haproxy"],
    ),
];

/// Every file-holding ConfigMap in the namespace is mounted where its program reads it.
fn check_files_mounted(objects: &[Object]) -> Vec<String> {
    let mut out = Vec::new();
    for cm in objects
        .iter()
        .filter(|o| o.kind == "ConfigMap" && o.namespace.as_deref() == Some(NS))
    {
        let value = cm.value();
        let Some(Value::Object(data)) = value.get("data") else {
            continue;
        };
        let files: Vec<&String> = data.keys().filter(|k| k.contains('.')).collect();
        if files.is_empty() {
            continue;
        }
        let Some((_, reader, places)) = FILE_READERS.iter().find(|(n, ..)| *n == cm.name) else {
            out.push(format!("{}: files {files:?} have no known reader", cm.name));
            continue;
        };
        // Each file is mounted: by a directory mount of the map, or as a subPath file.
        let mut mounts: Vec<Option<String>> = Vec::new();
        for w in workloads(objects) {
            let pod = pod(w);
            let vols: Vec<&str> = arr(&pod, "/volumes")
                .iter()
                .filter(|v| s(v, "/configMap/name") == cm.name)
                .map(|v| s(v, "/name"))
                .collect();
            for c in all_containers(&pod)
                .iter()
                .filter(|c| s(c, "/name") == *reader)
            {
                for m in arr(c, "/volumeMounts") {
                    if vols.contains(&s(m, "/name"))
                        && places.iter().any(|p| s(m, "/mountPath").starts_with(p))
                    {
                        mounts.push(m.get("subPath").and_then(Value::as_str).map(str::to_string));
                    }
                }
            }
        }
        let unmounted: Vec<&&String> = files
            .iter()
            .filter(|f| !mounts.iter().any(|m| m.as_ref().is_none_or(|sp| sp == **f)))
            .collect();
        let mounted = unmounted.is_empty();
        if !mounted {
            out.push(format!(
                "{}: {unmounted:?} not mounted into {reader} at {places:?}",
                cm.name
            ));
        }
    }
    out
}

/// Every `host:port` in env or ConfigMap values that names a cluster host is a port of that
/// rendered Service.
fn check_env_ports(objects: &[Object]) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |what: String, v: &str| {
        for tok in v.split(|c: char| c.is_whitespace() || matches!(c, ',' | '/' | '@' | '"')) {
            let Some((host, port)) = tok.rsplit_once(':') else {
                continue;
            };
            let Some(rest) = host.strip_suffix(".svc.cluster.local") else {
                continue;
            };
            let Ok(port) = port.parse::<i64>() else {
                continue;
            };
            let labels: Vec<&str> = rest.split('.').collect();
            let [.., svc, ns] = labels.as_slice() else {
                continue;
            };
            let served = objects.iter().any(|o| {
                o.kind == "Service"
                    && o.name == *svc
                    && o.namespace.as_deref() == Some(*ns)
                    && arr(&o.value(), "/spec/ports")
                        .iter()
                        .any(|p| p["port"].as_i64() == Some(port))
            });
            if !served {
                out.push(format!(
                    "{what}: {svc}.{ns}:{port} is no rendered Service port"
                ));
            }
        }
    };
    for o in objects
        .iter()
        .filter(|o| o.namespace.as_deref() == Some(NS))
    {
        match o.kind.as_str() {
            "ConfigMap" => {
                if let Some(Value::Object(m)) = o.value().get("data") {
                    for (k, v) in m {
                        check(format!("{} {k}", o.id()), v.as_str().unwrap_or_default());
                    }
                }
            }
            "Deployment" | "StatefulSet" | "Job" => {
                for c in all_containers(&pod(o)) {
                    for e in arr(&c, "/env") {
                        if let Some(v) = e["value"].as_str() {
                            check(format!("{} {}", o.id(), s(e, "/name")), v);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// An endpoint a program serves: workload, port, path, and the env it needs, if any.
type Served = (
    &'static str,
    i64,
    &'static str,
    Option<(&'static str, &'static str)>,
);

/// Endpoints each program serves only under a condition: (workload, port, path, env that
/// must hold). Capture always serves /metrics (PH rust/capture/src/router.rs@0096a86e);
/// feature-flags only with ENABLE_METRICS=true (rust/feature-flags/src/router.rs@3b21084e);
/// web serves /metrics on 8001 (PH unit.json.tpl).
const SERVED: &[Served] = &[
    ("posthog-capture", 3000, "/metrics", None),
    ("posthog-replay-capture", 3000, "/metrics", None),
    (
        "posthog-feature-flags",
        3001,
        "/metrics",
        Some(("ENABLE_METRICS", "true")),
    ),
    ("posthog-web", 8001, "/metrics", None),
];

/// Every endpoint scraped (prometheus.io annotations or a ServiceMonitor) is served.
fn check_scraped(objects: &[Object]) -> Vec<String> {
    let mut scraped: Vec<(String, i64, String)> = Vec::new();
    for w in workloads(objects) {
        let v = w.value();
        let a = &v["spec"]["template"]["metadata"]["annotations"];
        if s(a, "/prometheus.io~1scrape") == "true" {
            let port = s(a, "/prometheus.io~1port").parse().unwrap_or(-1);
            scraped.push((wname(w), port, s(a, "/prometheus.io~1path").into()));
        }
    }
    for sm in objects
        .iter()
        .filter(|o| o.kind == "ServiceMonitor" && o.namespace.as_deref() == Some(NS))
    {
        let svc = objects
            .iter()
            .find(|o| o.kind == "Service" && o.name == sm.name && o.namespace == sm.namespace);
        for e in arr(&sm.value(), "/spec/endpoints") {
            let port = svc.and_then(|svc| {
                arr(&svc.value(), "/spec/ports")
                    .iter()
                    .find(|p| p["name"].as_str() == e["port"].as_str())
                    .and_then(|p| p["targetPort"].as_i64().or(p["port"].as_i64()))
            });
            scraped.push((sm.name.clone(), port.unwrap_or(-1), s(e, "/path").into()));
        }
    }
    let mut out = Vec::new();
    for (name, port, path) in scraped {
        if !name.starts_with("posthog-")
            || name.starts_with("posthog-redis")
            || [
                "posthog-postgres",
                "posthog-kafka",
                "posthog-clickhouse",
                "posthog-objectstorage",
                "posthog-zookeeper",
            ]
            .contains(&name.as_str())
        {
            continue;
        }
        let Some((.., cond)) = SERVED
            .iter()
            .find(|(n, p, pa, _)| *n == name && *p == port && *pa == path)
        else {
            out.push(format!(
                "{name}: scrapes {port}{path}, which it does not serve"
            ));
            continue;
        };
        if let Some((k, want)) = cond {
            let w = workloads(objects).find(|o| wname(o) == name);
            let ok = w.is_some_and(|w| {
                all_containers(&pod(w))
                    .iter()
                    .any(|c| env_of(objects, c).get(*k).map(String::as_str) == Some(*want))
            });
            if !ok {
                out.push(format!(
                    "{name}: scrapes {path}, served only with {k}={want}"
                ));
            }
        }
    }
    out
}

/// ClickHouse defines every cluster, named collection and funnel function PostHog names, in
/// files it reads, and every function's program is copied into its user_scripts.
fn check_clickhouse_objects(objects: &[Object]) -> Vec<String> {
    let mut out = Vec::new();
    let data = |cm: &str, key: &str| {
        config_map(objects, cm)
            .and_then(|o| o.value()["data"][key].as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let config = data("posthog-clickhouse-config", "posthog-cluster.xml");
    let section = |tag: &str| {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        config
            .find(&open)
            .and_then(|a| {
                config[a..]
                    .find(&close)
                    .map(|b| config[a..a + b].to_string())
            })
            .unwrap_or_default()
    };
    let remote = section("remote_servers");
    // The env names three clusters; upstream's migrations also use the writable and
    // primary-replica ones (default.xml@10db52b7).
    let mut wanted: Vec<String> = CLICKHOUSE_CLUSTERS
        .iter()
        .map(|c| (*c).to_string())
        .collect();
    for w in workloads(objects).filter(|o| wname(o) == "posthog-migrate") {
        for c in all_containers(&pod(w)) {
            let env = env_of(objects, &c);
            for k in [
                "CLICKHOUSE_CLUSTER",
                "CLICKHOUSE_MIGRATIONS_CLUSTER",
                "CLICKHOUSE_SINGLE_SHARD_CLUSTER",
            ] {
                if let Some(v) = env.get(k) {
                    wanted.push(v.clone());
                }
            }
        }
    }
    wanted.sort();
    wanted.dedup();
    for c in wanted {
        if !remote.contains(&format!("<{c}>")) {
            out.push(format!("cluster {c} not in remote_servers"));
        }
    }
    let collections = section("named_collections");
    let ch_env = workloads(objects)
        .find(|o| wname(o) == "posthog-clickhouse")
        .map(|w| {
            all_containers(&pod(w))
                .iter()
                .find(|c| s(c, "/name") == "clickhouse")
                .map(|c| env_of(objects, c))
                .unwrap_or_default()
        })
        .unwrap_or_default();
    for n in KAFKA_NAMED_COLLECTIONS {
        if !collections.contains(&format!(
            "<{n}><kafka_broker_list from_env=\"KAFKA_HOSTS\"/>"
        )) {
            out.push(format!(
                "named collection {n} missing or not reading KAFKA_HOSTS"
            ));
        }
    }
    if ch_env.get("KAFKA_HOSTS").is_none_or(String::is_empty) {
        out.push("KAFKA_HOSTS unset on clickhouse: named collections read it".into());
    }
    let udf_conf = section("user_defined_executable_functions_config");
    if !udf_conf.contains("/etc/clickhouse-server/functions.d/") {
        out.push(format!(
            "UDF config points at `{udf_conf}`, not functions.d"
        ));
    }
    let functions = data("posthog-clickhouse-functions", "posthog_function.xml");
    for name in FUNNEL_UDFS {
        if !functions.contains(&format!("<name>{name}</name>")) {
            out.push(format!("function {name} not defined"));
        }
    }
    // Each command's program is in user_scripts, copied there by an init container that
    // also checks it is executable.
    let copier = workloads(objects)
        .find(|o| wname(o) == "posthog-clickhouse")
        .map(|w| {
            arr(&pod(w), "/initContainers")
                .iter()
                .map(script_of)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    for cmd in functions.split("<command>").skip(1) {
        let program = cmd.split([' ', '<']).next().unwrap_or_default();
        if !copier.contains(&format!("test -x /user-scripts/{program}")) {
            out.push(format!(
                "UDF program {program} is not copied into user_scripts"
            ));
        }
        if program.starts_with("python") {
            out.push(format!(
                "UDF command `{program}`: the ClickHouse image has no Python"
            ));
        }
    }
    out
}

/// Every PostHog image is the release: the app by its full-commit tag, the
/// others by digest (a `sha-<7>` tag exists only when that commit touched `rust/**`: PH
/// .github/workflows/rust-docker-build.yml@fee38f09).
fn check_images(objects: &[Object]) -> Vec<String> {
    let mut out = Vec::new();
    for w in workloads(objects) {
        for c in all_containers(&pod(w)) {
            let image = s(&c, "/image");
            if !image.starts_with("ghcr.io/posthog/") {
                continue;
            }
            let pinned = image.contains("@sha256:")
                || image.rsplit_once(':').is_some_and(|(_, t)| {
                    t.len() == 40 && t.chars().all(|x| x.is_ascii_hexdigit())
                });
            if !pinned || !RELEASE.contains(&image) {
                out.push(format!(
                    "{}/{}: image {image} is not the release",
                    wname(w),
                    s(&c, "/name")
                ));
            }
        }
    }
    out
}

fn all(objects: &[Object]) -> Vec<String> {
    let mut v = check_contracts(objects);
    v.extend(check_files_mounted(objects));
    v.extend(check_env_ports(objects));
    v.extend(check_scraped(objects));
    v.extend(check_clickhouse_objects(objects));
    v.extend(check_images(objects));
    v
}

#[test]
fn every_posthog_container_meets_its_upstream_contract() {
    for (name, objects) in profiles() {
        let v = all(&objects);
        assert!(v.is_empty(), "{name}:\n  {}", v.join("\n  "));
    }
}

/// The contract table as markdown: every container with its verdict and evidence.
fn table() -> String {
    let mut out = String::from(
        "# PostHog's containers against their upstream contracts\n\n\
         Generated from `core/tests/posthog_contract.rs` (`UPDATE_GOLDEN=1 cargo test -p voice-core --test posthog_contract`); \
         every row is checked against the rendered `small` and `production` profiles, and every path a container calls \
         against its image by `core/tests/images.rs`. PH = PostHog/posthog.\n\n\
         | workload/container | command | user (uid:gid) | writes | verdict | evidence |\n|---|---|---|---|---|---|\n",
    );
    for k in contracts() {
        let cell = |x: &str| x.replace('|', "\\|");
        out.push_str(&format!(
            "| {}/{} | {} | {}:{} | {} | {} | {} |\n",
            k.workload,
            k.container,
            if k.command.is_empty() {
                "image entrypoint".to_string()
            } else {
                format!("`{}`", cell(&k.command.join(" … ")))
            },
            k.user.0,
            k.user.1,
            if k.writes.is_empty() {
                "nothing".to_string()
            } else {
                k.writes.join(", ")
            },
            cell(k.verdict),
            cell(k.evidence)
        ));
    }
    out
}

#[test]
fn the_contract_table_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/posthog-contracts.md");
    let want = table();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, &want).expect("writing docs/posthog-contracts.md");
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "docs/posthog-contracts.md is stale; run UPDATE_GOLDEN=1 cargo test -p voice-core --test posthog_contract"
    );
    // A row says `starts` only when no rule finds fault with it (checked above); an unknown
    // says why.
    for k in contracts() {
        assert!(
            k.verdict == "starts" || k.verdict.starts_with("unknown: "),
            "{}/{}: {}",
            k.workload,
            k.container,
            k.verdict
        );
    }
}

#[test]
fn every_contract_row_names_a_rendered_container() {
    let (_, objects) = &profiles()[1];
    for k in contracts() {
        assert!(
            workloads(objects).any(|w| wname(w) == k.workload
                && all_containers(&pod(w))
                    .iter()
                    .any(|c| s(c, "/name") == k.container)),
            "{}/{}",
            k.workload,
            k.container
        );
    }
}

// --- Each rule broken on purpose -----------------------------------------------------------

fn production() -> Vec<Object> {
    load(ProfileName::Production)
}

fn workload_mut<'a>(objects: &'a mut [Object], name: &str) -> &'a mut Value {
    objects
        .iter_mut()
        .find(|o| {
            matches!(o.kind.as_str(), "Deployment" | "StatefulSet" | "Job") && wname(o) == name
        })
        .expect("workload")
        .value_mut()
}

fn container_mut<'a>(w: &'a mut Value, name: &str) -> &'a mut Value {
    let spec = &mut w["spec"]["template"]["spec"];
    let in_main = arr(spec, "/containers")
        .iter()
        .any(|c| s(c, "/name") == name);
    let list = if in_main {
        "containers"
    } else {
        "initContainers"
    };
    spec[list]
        .as_array_mut()
        .expect("containers")
        .iter_mut()
        .find(|c| s(c, "/name") == name)
        .expect("container")
}

fn drop_env(c: &mut Value, name: &str) {
    c["env"]
        .as_array_mut()
        .expect("env")
        .retain(|e| s(e, "/name") != name);
}

fn set_script(c: &mut Value, from: &str, to: &str) {
    for field in ["command", "args"] {
        if let Some(list) = c.get_mut(field).and_then(Value::as_array_mut) {
            for x in list {
                if let Some(t) = x.as_str() {
                    *x = Value::from(t.replace(from, to));
                }
            }
        }
    }
}

fn caught(v: &[String], needle: &str) -> bool {
    v.iter().any(|x| x.contains(needle))
}

#[test]
fn catches_web_on_the_unit_path() {
    let mut o = production();
    drop_env(
        container_mut(workload_mut(&mut o, "posthog-web"), "web"),
        "USE_GRANIAN",
    );
    let v = check_contracts(&o);
    assert!(caught(&v, "posthog-web/web: env USE_GRANIAN"), "{v:?}");
}

#[test]
fn catches_a_migrate_job_that_copies_steps_or_skips_the_log_flush() {
    let mut o = production();
    let w = workload_mut(&mut o, "posthog-migrate");
    // Steps copied out of one bin/migrate instead of the image's own script.
    set_script(
        container_mut(w, "migrate"),
        "./bin/migrate",
        "python manage.py migrate --noinput",
    );
    set_script(
        container_mut(w, "flush-logs"),
        "SYSTEM FLUSH LOGS",
        "SELECT 2",
    );
    let v = check_contracts(&o);
    assert!(
        caught(&v, "migrate: command lacks `./bin/migrate`"),
        "{v:?}"
    );
    assert!(
        caught(&v, "flush-logs: command lacks `SYSTEM FLUSH LOGS`"),
        "{v:?}"
    );
}

#[test]
fn catches_missing_program_env_ports_probes_and_user() {
    let mut o = production();
    let w = workload_mut(&mut o, "posthog-plugins");
    let c = container_mut(w, "plugins");
    drop_env(c, "CYCLOTRON_DATABASE_URL");
    c["readinessProbe"]["httpGet"]["path"] = Value::from("/healthz");
    c["ports"] = serde_json::json!([]);
    w["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = Value::from(0);
    // Beat as UID 1000 (the old contract's guess): /code is the image user's, 998.
    workload_mut(&mut o, "posthog-worker-beat")["spec"]["template"]["spec"]["securityContext"]["runAsUser"] =
        Value::from(1000);
    // Web with a read-only root: /tmp is still its volume.
    container_mut(workload_mut(&mut o, "posthog-web"), "web")["securityContext"]["readOnlyRootFilesystem"] =
        Value::Bool(true);
    let v = check_contracts(&o);
    for needle in [
        "plugins: env CYCLOTRON_DATABASE_URL unset",
        "probe /healthz",
        "port 6738 not declared",
        "runs as (Some(0), Some(1000))",
        "beat: writes /code/celerybeat.pid, which is not writable as UID Some(1000)",
    ] {
        assert!(caught(&v, needle), "{needle}: {v:?}");
    }
    assert!(!caught(&v, "web: writes"), "{v:?}");
}

#[test]
fn catches_a_config_file_that_is_rendered_but_not_mounted() {
    let mut o = production();
    let ch = container_mut(workload_mut(&mut o, "posthog-clickhouse"), "clickhouse");
    ch["volumeMounts"]
        .as_array_mut()
        .expect("mounts")
        .retain(|m| s(m, "/name") != "users");
    let v = check_files_mounted(&o);
    assert!(
        caught(
            &v,
            "posthog-clickhouse-users: [\"posthog-users.xml\"] not mounted"
        ),
        "{v:?}"
    );
    let v = check_contracts(&o);
    assert!(caught(&v, "reads /etc/clickhouse-server/users.d"), "{v:?}");
}

#[test]
fn catches_an_env_port_no_service_has() {
    let mut o = production();
    let c = container_mut(workload_mut(&mut o, "posthog-plugins"), "plugins");
    for e in c["env"].as_array_mut().expect("env") {
        if s(e, "/name") == "INTERNAL_API_BASE_URL" {
            e["value"] = Value::from("http://posthog-web.posthog.svc.cluster.local:8080");
        }
    }
    let v = check_env_ports(&o);
    assert!(caught(&v, "posthog-web.posthog:8080"), "{v:?}");
}

#[test]
fn catches_a_scrape_of_an_endpoint_not_served() {
    let mut o = production();
    drop_env(
        container_mut(
            workload_mut(&mut o, "posthog-feature-flags"),
            "feature-flags",
        ),
        "ENABLE_METRICS",
    );
    let v = check_scraped(&o);
    assert!(caught(&v, "served only with ENABLE_METRICS=true"), "{v:?}");
}

#[test]
fn catches_missing_clusters_collections_and_functions() {
    let mut o = production();
    for cm in o.iter_mut().filter(|x| x.kind == "ConfigMap") {
        let v = cm.value_mut();
        if let Some(x) = v["data"]["posthog-cluster.xml"].as_str() {
            let x = x
                .replace("<posthog_writable>", "<posthog_gone>")
                .replace("</posthog_writable>", "</posthog_gone>")
                .replace("<msk_cluster>", "<msk_gone>");
            v["data"]["posthog-cluster.xml"] = Value::from(x);
        }
        if let Some(x) = v["data"]["posthog_function.xml"].as_str() {
            let x = x
                .replace("<name>aggregate_funnel_cohort</name>", "<name>x</name>")
                .replacen(
                    "<command>aggregate_funnel steps",
                    "<command>python mem_exec.py",
                    1,
                );
            v["data"]["posthog_function.xml"] = Value::from(x);
        }
    }
    let v = check_clickhouse_objects(&o);
    for needle in [
        "cluster posthog_writable",
        "named collection msk_cluster",
        "function aggregate_funnel_cohort",
        "no Python",
    ] {
        assert!(caught(&v, needle), "{needle}: {v:?}");
    }
}

#[test]
fn catches_an_image_outside_the_release() {
    let mut o = production();
    container_mut(workload_mut(&mut o, "posthog-capture"), "capture")["image"] =
        Value::from("ghcr.io/posthog/posthog/capture:sha-86d6812");
    let v = check_images(&o);
    assert!(caught(&v, "capture:sha-86d6812"), "{v:?}");
}

/// Every PostHog store external, object storage with keys: the consumers' contracts hold
/// against managed services as they do against the in-cluster ones (the stores' own rows
/// are not rendered, and their hosts are not cluster Services).
const EXTERNAL: &str = "profile: production
components:
  posthog-postgres:
    external: {host: pg.example.internal, tls: {enabled: true}, secretRef: {name: pg, keys: {password: pw}}}
  posthog-redis:
    external: {host: redis.example.internal, tls: {enabled: true}, secretRef: {name: redis, keys: {password: pw}}}
  posthog-clickhouse:
    external: {host: ch.example.internal, tls: {enabled: true}, user: ph, secretRef: {name: ch, keys: {password: pw}}}
  posthog-kafka:
    external: {host: kafka.example.internal, tls: {enabled: true}}
  posthog-objectstorage:
    external: {host: s3.amazonaws.com, tls: {enabled: true}, secretRef: {name: s3, keys: {accessKeyId: id, secretAccessKey: key}}}
";

#[test]
fn consumers_meet_their_contracts_against_external_stores() {
    let stack = voice_core::load(&Input {
        yaml: EXTERNAL,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let objects = render::render(&stack);
    let stores = [
        "posthog-postgres",
        "posthog-postgres-init",
        "posthog-redis",
        "posthog-redis-node",
        "posthog-clickhouse",
        "posthog-zookeeper",
        "posthog-kafka",
        "posthog-kafka-init",
        "posthog-objectstorage",
        "posthog-objectstorage-init",
    ];
    let mut v = check_contracts(&objects);
    v.retain(|m| {
        !stores
            .iter()
            .any(|s| m.starts_with(&format!("{s}/")) && m.ends_with("workload not rendered"))
    });
    v.extend(check_files_mounted(&objects));
    v.extend(check_env_ports(&objects));
    v.extend(check_images(&objects));
    assert!(v.is_empty(), "external:\n  {}", v.join("\n  "));
    // Django and capture read TLS where the stores are reached over it.
    let web = workloads(&objects)
        .find(|o| wname(o) == "posthog-web")
        .expect("web");
    let env = env_of(&objects, &all_containers(&pod(web))[0]);
    assert!(env["REDIS_URL"].starts_with("rediss://"));
    assert!(env["DATABASE_URL"].ends_with("?sslmode=require"));
    assert_eq!(env["CLICKHOUSE_SECURE"], "true");
    assert_eq!(env["KAFKA_SECURITY_PROTOCOL"], "SSL");
}
