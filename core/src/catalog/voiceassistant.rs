//! The VoiceAssistant platform: six Go-era services (identity, conversation, knowledge,
//! ai-orchestrator, notification, analytics) and eight Python AI services, each with its
//! ConfigMap, generated Secret, ServiceAccount, Deployment, Service and, at reference scale, its
//! HPA and PDB; plus the LimitRange the platform's namespaces carry (their ResourceQuotas are
//! derived from the plan's peak by the namespace policy).
//!
//! Facts: the per-service table of the reference manifests (ports, probes, requests and
//! limits, replicas, HPA bounds, PDBs, grace periods, ConfigMap and Secret keys, Redis DB
//! indexes, Istio routes with their timeouts and retries, DestinationRule figures).
//! Decisions on the reference's inconsistencies:
//! - knowledge-service: the Go manifest was removed when the service moved to Python
//!   (`algo/knowledge-service`, HTTP 8006); that Python service is the one planned, with the
//!   Go manifest's sizing as the best available figures.
//! - ServiceAccounts are named like the service (`identity-service`), and the Istio
//!   AuthorizationPolicies name exactly those.
//! - Routes use the Services' real ports (HTTP APIs on `http`, gRPC on `grpc`).
//! - Init containers that poll with busybox are replaced by dependency edges (`needs`), from
//!   which the plan's gates and the NetworkPolicies derive.
//! - Redis runs without a password and Milvus without authorization, both reachable only
//!   through NetworkPolicies, so no placeholder credentials are planned. An external Redis
//!   may have one (`REDIS_PASSWORD`, from the user's Secret).

use std::collections::BTreeMap;

use super::external::{self, Engine};
use super::mesh::{Balance, MeshRoute, RETRY_5XX, RETRY_REFUSED, Retry, Traffic};
use super::*;
use crate::config::{Config, LlmProvider};
use crate::quantity::{Bytes, MilliCpu};

pub use crate::config::platform::{Infra, SERVICES, required_infra};

/// PriorityClasses: (class, value, description); see [`priority_class_name`].
pub const PRIORITY_CLASSES: [(&str, i32, &str); 3] = [
    ("high-priority", 1000, "core AI services"),
    ("medium-priority", 500, "regular business services"),
    ("low-priority", 100, "background jobs"),
];

/// A PriorityClass's name: cluster-scoped, so named per rollout (`<instance>-high-priority`),
/// as a Helm release prefixes its cluster-wide names; two rollouts never share one.
pub fn priority_class_name(instance: &str, class: &str) -> String {
    format!("{instance}-{class}")
}

/// The Istio sidecar's requests and limits (`istio-proxy` defaults).
pub fn istio_sidecar() -> ResourceSpec {
    res("100m", "128Mi", "2", "1Gi")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lang {
    Go,
    Python,
}

#[derive(Clone, Copy)]
enum Probes {
    /// `/health` and `/ready` on the HTTP port; readiness initial delay.
    Go(i32),
    /// `/health` on the HTTP port for both.
    Python,
    /// None in the reference: TCP checks on the HTTP port.
    Tcp,
}

struct Spec {
    name: &'static str,
    lang: Lang,
    http: u16,
    grpc: Option<u16>,
    probes: Probes,
    res: (&'static str, &'static str, &'static str, &'static str),
    replicas: u32,
    hpa: Option<(u32, u32, u32, u32)>,
    grace: i64,
    redis_db: Option<u8>,
    priority: usize,
    mesh: Mesh,
}

fn spec(
    name: &'static str,
    lang: Lang,
    http: u16,
    grpc: Option<u16>,
    probes: Probes,
    res: (&'static str, &'static str, &'static str, &'static str),
) -> Spec {
    Spec {
        name,
        lang,
        http,
        grpc,
        probes,
        res,
        replicas: 2,
        hpa: None,
        grace: 30,
        redis_db: None,
        priority: 1,
        mesh: Mesh::default(),
    }
}

fn specs() -> Vec<Spec> {
    use Balance::{Hash, Simple};
    use Lang::{Go, Python};
    use Retry::{Never, Times};
    let least = Simple("LEAST_REQUEST");
    vec![
        Spec {
            replicas: 3,
            hpa: Some((3, 10, 70, 80)),
            mesh: Mesh {
                routes: vec![
                    MeshRoute::api(
                        1,
                        "identity-auth",
                        &["/api/v1/auth"],
                        (10, Times(3, 3, RETRY_REFUSED)),
                    )
                    .open(),
                    MeshRoute::api(
                        2,
                        "identity-users",
                        &["/api/v1/users"],
                        (10, Times(3, 3, RETRY_REFUSED)),
                    ),
                    MeshRoute::grpc(
                        1,
                        "identity-grpc",
                        "/identity.v1.Identity",
                        (10, Times(3, 3, RETRY_REFUSED)),
                    ),
                ],
                traffic: Traffic {
                    balance: Hash("x-user-id"),
                    max_connections: 1000,
                    errors_5xx: 5,
                    gateway_errors: 5,
                    ..Traffic::DEFAULT
                },
                ..Mesh::default()
            },
            ..spec(
                "identity-service",
                Go,
                8080,
                Some(9000),
                Probes::Go(10),
                ("250m", "256Mi", "500m", "512Mi"),
            )
        },
        Spec {
            replicas: 3,
            hpa: Some((3, 15, 70, 0)),
            mesh: Mesh {
                routes: vec![
                    MeshRoute::api(
                        3,
                        "conversation-service",
                        &["/api/v1/conversations", "/api/v1/messages"],
                        (30, Times(2, 15, RETRY_5XX)),
                    ),
                    MeshRoute::ws(2, "conversation-websocket", "/ws/conversation"),
                    MeshRoute::grpc(
                        2,
                        "conversation-grpc",
                        "/conversation.v1.Conversation",
                        (30, Times(2, 15, RETRY_5XX)),
                    ),
                ],
                traffic: Traffic {
                    balance: Hash("x-conversation-id"),
                    max_connections: 2000,
                    max_pending: 2048,
                    max_requests: 2048,
                    interval: 20,
                    ..Traffic::DEFAULT
                },
                ..Mesh::default()
            },
            ..spec(
                "conversation-service",
                Go,
                8080,
                Some(9001),
                Probes::Go(10),
                ("500m", "512Mi", "1", "1Gi"),
            )
        },
        Spec {
            hpa: Some((2, 8, 70, 0)),
            redis_db: Some(8),
            mesh: Mesh {
                routes: vec![MeshRoute::api(
                    4,
                    "knowledge-documents",
                    &["/api/v1/knowledge", "/api/v1/documents"],
                    (60, Times(2, 30, RETRY_5XX)),
                )],
                ..Mesh::default()
            },
            ..spec(
                "knowledge-service",
                Python,
                8006,
                None,
                Probes::Python,
                ("500m", "1Gi", "1", "2Gi"),
            )
        },
        Spec {
            replicas: 3,
            hpa: Some((3, 20, 70, 80)),
            grace: 60,
            priority: 0,
            mesh: Mesh {
                routes: vec![
                    MeshRoute::api(5, "ai-orchestrator", &["/api/v1/ai"], (120, Never)),
                    MeshRoute::api(
                        14,
                        "health-check",
                        &["/health", "/healthz"],
                        (5, Times(1, 3, RETRY_5XX)),
                    )
                    .exact(),
                    MeshRoute::api(15, "readiness-check", &["/ready"], (5, Never)).exact(),
                    MeshRoute::grpc(
                        4,
                        "ai-orchestrator-grpc",
                        "/ai.v1.Orchestrator",
                        (120, Never),
                    ),
                ],
                traffic: Traffic {
                    balance: least,
                    max_requests: 500,
                    per_connection: 5,
                    errors_5xx: 2,
                    gateway_errors: 2,
                    interval: 10,
                    ejection: 60,
                    ..Traffic::DEFAULT
                },
                llm_timeout: Some(120),
                rate_limited: true,
                ..Mesh::default()
            },
            ..spec(
                "ai-orchestrator",
                Go,
                9003,
                Some(9103),
                Probes::Go(15),
                ("1", "1Gi", "2", "2Gi"),
            )
        },
        Spec {
            mesh: Mesh {
                routes: vec![MeshRoute::api(
                    13,
                    "notification-service",
                    &["/api/v1/notification"],
                    (10, Times(2, 5, RETRY_5XX)),
                )],
                traffic: Traffic {
                    max_pending: 512,
                    max_requests: 512,
                    interval: 20,
                    ..Traffic::DEFAULT
                },
                ..Mesh::default()
            },
            ..spec(
                "notification-service",
                Go,
                9006,
                Some(9106),
                Probes::Tcp,
                ("250m", "256Mi", "500m", "512Mi"),
            )
        },
        Spec {
            mesh: Mesh {
                routes: vec![MeshRoute::api(
                    12,
                    "analytics-service",
                    &["/api/v1/analytics"],
                    (30, Times(2, 15, RETRY_5XX)),
                )],
                ..Mesh::default()
            },
            ..spec(
                "analytics-service",
                Go,
                9007,
                None,
                Probes::Tcp,
                ("500m", "512Mi", "1", "1Gi"),
            )
        },
        Spec {
            replicas: 3,
            hpa: Some((3, 10, 70, 80)),
            grace: 60,
            redis_db: Some(1),
            priority: 0,
            mesh: Mesh {
                routes: vec![MeshRoute::api(
                    7,
                    "agent-engine",
                    &["/api/v1/agent"],
                    (120, Never),
                )],
                traffic: Traffic {
                    balance: least,
                    max_connections: 300,
                    max_pending: 512,
                    max_requests: 512,
                    per_connection: 3,
                    idle: 120,
                    interval: 20,
                    ejection: 60,
                    ..Traffic::DEFAULT
                },
                llm_timeout: Some(120),
                ..Mesh::default()
            },
            ..spec(
                "agent-engine",
                Python,
                8003,
                None,
                Probes::Python,
                ("1", "2Gi", "2", "4Gi"),
            )
        },
        Spec {
            replicas: 3,
            hpa: Some((3, 15, 70, 0)),
            grace: 60,
            redis_db: Some(2),
            priority: 0,
            mesh: Mesh {
                routes: vec![MeshRoute::api(
                    8,
                    "rag-engine",
                    &["/api/v1/rag"],
                    (60, Times(2, 30, RETRY_5XX)),
                )],
                ..Mesh::default()
            },
            ..spec(
                "rag-engine",
                Python,
                8006,
                None,
                Probes::Python,
                ("1", "2Gi", "2", "4Gi"),
            )
        },
        Spec {
            hpa: Some((2, 8, 70, 0)),
            grace: 90,
            redis_db: Some(3),
            priority: 0,
            mesh: Mesh {
                routes: vec![
                    MeshRoute::api(
                        10,
                        "voice-engine-http",
                        &["/api/v1/voice"],
                        (300, Times(1, 300, "reset,connect-failure")),
                    ),
                    MeshRoute::ws(1, "voice-websocket", "/ws/voice"),
                ],
                traffic: Traffic {
                    balance: Hash("x-session-id"),
                    max_connections: 1000,
                    per_connection: 1,
                    idle: 3600,
                    ..Traffic::DEFAULT
                },
                ..Mesh::default()
            },
            ..spec(
                "voice-engine",
                Python,
                8002,
                None,
                Probes::Python,
                ("1", "1Gi", "2", "2Gi"),
            )
        },
        Spec {
            replicas: 3,
            hpa: Some((3, 10, 70, 0)),
            grace: 60,
            redis_db: Some(4),
            priority: 0,
            mesh: Mesh {
                traffic: Traffic {
                    balance: least,
                    max_connections: 400,
                    max_pending: 512,
                    max_requests: 512,
                    per_connection: 5,
                    idle: 180,
                    errors_5xx: 5,
                    gateway_errors: 5,
                    ejection: 120,
                    max_ejection_percent: 30,
                    ..Traffic::DEFAULT
                },
                llm_timeout: Some(180),
                ..Mesh::default()
            },
            ..spec(
                "model-adapter",
                Python,
                8005,
                None,
                Probes::Python,
                ("500m", "512Mi", "1", "1Gi"),
            )
        },
        Spec {
            replicas: 3,
            hpa: Some((3, 10, 70, 0)),
            grace: 60,
            redis_db: Some(5),
            mesh: Mesh {
                routes: vec![MeshRoute::api(
                    9,
                    "retrieval-service",
                    &["/api/v1/retrieval"],
                    (30, Times(2, 15, RETRY_5XX)),
                )],
                traffic: Traffic {
                    max_connections: 600,
                    ..Traffic::DEFAULT
                },
                ..Mesh::default()
            },
            ..spec(
                "retrieval-service",
                Python,
                8012,
                None,
                Probes::Python,
                ("500m", "1Gi", "1", "2Gi"),
            )
        },
        Spec {
            redis_db: Some(6),
            priority: 2,
            mesh: Mesh {
                traffic: Traffic {
                    max_connections: 200,
                    max_pending: 256,
                    max_requests: 256,
                    per_connection: 5,
                    idle: 300,
                    interval: 60,
                    ejection: 120,
                    ..Traffic::DEFAULT
                },
                ..Mesh::default()
            },
            ..spec(
                "indexing-service",
                Python,
                8004,
                None,
                Probes::Tcp,
                ("500m", "1Gi", "1", "2Gi"),
            )
        },
        Spec {
            redis_db: Some(7),
            mesh: Mesh {
                routes: vec![MeshRoute::api(
                    11,
                    "multimodal-engine",
                    &["/api/v1/multimodal"],
                    (120, Times(2, 60, RETRY_5XX)),
                )],
                traffic: Traffic {
                    balance: least,
                    max_connections: 300,
                    max_pending: 512,
                    max_requests: 512,
                    per_connection: 5,
                    idle: 120,
                    ejection: 60,
                    ..Traffic::DEFAULT
                },
                ..Mesh::default()
            },
            ..spec(
                "multimodal-engine",
                Python,
                8007,
                None,
                Probes::Tcp,
                ("1", "2Gi", "2", "4Gi"),
            )
        },
        spec(
            "vector-store-adapter",
            Python,
            8013,
            None,
            Probes::Tcp,
            ("250m", "512Mi", "500m", "1Gi"),
        ),
    ]
}

/// The reference figures scaled to a profile: production as is; small at a quarter of the
/// requests; dev at a twentieth of the CPU and an eighth of the memory, with halved limits.
fn scaled(p: ProfileName, r: ResourceSpec) -> ResourceSpec {
    use crate::config::ProfileName as P;
    let (cpu_div, mem_div, lim_div, min_cpu, min_mem) = match p {
        P::Production => return r,
        P::Small => (4, 4, 1, 50, 128),
        P::Dev => (20, 8, 2, 10, 64),
    };
    ResourceSpec {
        requests: Resources {
            cpu: MilliCpu((r.requests.cpu.0 / cpu_div).max(min_cpu)),
            memory: Bytes((r.requests.memory.0 / mem_div).max(Bytes::mi(min_mem).0)),
        },
        limits: Resources {
            cpu: MilliCpu(r.limits.cpu.0 / lim_div),
            memory: Bytes(r.limits.memory.0 / lim_div),
        },
    }
}

/// A Secret's name and key.
type SecretKeyRef<'a> = (&'a str, &'a str);

/// Where the platform's services (and the Model Router) find the shared stores: the
/// in-cluster Service or the external service the configuration names. Env names as the
/// reference manifests' ConfigMaps and Secrets give them (`DB_HOST`, `DB_PORT`,
/// `DB_SSL_MODE`, `DB_PASSWORD`, `REDIS_ADDR`, `REDIS_HOST`, `REDIS_PORT`, `REDIS_URL`,
/// `REDIS_PASSWORD`, `KAFKA_BROKERS`, `KAFKA_BOOTSTRAP_SERVERS`,
/// `CLICKHOUSE_HOST/PORT/DB/USER/PASSWORD`, `ES_HOST`, `ES_PORT`, `ES_USER`, `ES_PASSWORD`,
/// `MINIO_ENDPOINT` as `host:port`, `MINIO_BUCKET`, `MINIO_ACCESS_KEY`, `MINIO_SECRET_KEY`);
/// they carry no TLS setting but libpq's `sslmode`.
pub(super) struct Stores<'a> {
    /// The external PostgreSQL, if any.
    pub pg: Option<&'a crate::config::External>,
    /// PostgreSQL host, port and `sslmode`.
    pub pg_host: String,
    pub pg_port: u16,
    pub pg_ssl_mode: &'static str,
    /// Redis host, port, `host:port` and the password's Secret and key.
    pub redis_host: String,
    pub redis_port: u16,
    pub redis_addr: String,
    pub redis_password: Option<(&'a str, &'a str)>,
    /// Kafka brokers, `host:port`.
    pub kafka: String,
    /// The external ClickHouse, if any, and what analytics-service dials.
    pub ch: Option<&'a crate::config::External>,
    pub ch_host: String,
    pub ch_port: u16,
    pub ch_database: String,
    pub ch_user: String,
    /// Elasticsearch host, port and the user's and password's Secret and keys.
    pub es_host: String,
    pub es_port: u16,
    pub es_credentials: Option<(SecretKeyRef<'a>, SecretKeyRef<'a>)>,
    /// The external object storage, if any, `host:port` its consumers dial and the access
    /// key pair's Secret and keys (none: the store is reached by workload identity).
    pub minio: Option<&'a crate::config::External>,
    pub minio_endpoint: String,
    pub minio_keys: Option<(SecretKeyRef<'a>, SecretKeyRef<'a>)>,
}

impl<'a> Stores<'a> {
    pub(super) fn of(cfg: &'a Config) -> Self {
        let infra = cfg.namespaces.infra.as_str();
        let fq = |n: &str| format!("{n}.{infra}.svc.cluster.local");
        let pg = external::of(cfg, "postgres");
        let redis = external::of(cfg, "redis");
        let kafka = external::of(cfg, "kafka");
        let ch = external::of(cfg, "clickhouse");
        let es = external::of(cfg, "elasticsearch");
        let minio = external::of(cfg, "minio");
        let redis_host = redis.map_or_else(|| fq("redis"), |e| e.host.clone());
        let redis_port = redis.map_or(6379, |e| Engine::Redis.port(e));
        Stores {
            pg,
            pg_host: pg.map_or_else(|| fq("postgres"), |e| e.host.clone()),
            pg_port: pg.map_or(5432, |e| Engine::Postgres.port(e)),
            pg_ssl_mode: if pg.is_some_and(|e| e.tls) {
                "require"
            } else {
                "disable"
            },
            redis_addr: format!("{redis_host}:{redis_port}"),
            redis_host,
            redis_port,
            redis_password: redis.and_then(|e| e.key("password")),
            kafka: kafka.map_or_else(
                || format!("{}:9092", fq("kafka")),
                |e| format!("{}:{}", e.host, Engine::Kafka.port(e)),
            ),
            ch,
            ch_host: ch.map_or_else(|| fq("clickhouse"), |e| e.host.clone()),
            ch_port: ch.map_or(9000, |e| e.port_or(9000)),
            ch_database: ch.map_or("analytics".into(), |e| e.name_or("database", "analytics")),
            ch_user: ch.map_or("default".into(), |e| e.name_or("user", "default")),
            es_host: es.map_or_else(|| fq("elasticsearch"), |e| e.host.clone()),
            es_port: es.map_or(9200, |e| Engine::Elasticsearch.port(e)),
            es_credentials: es.and_then(|e| e.key("username").zip(e.key("password"))),
            minio,
            minio_endpoint: minio.map_or_else(
                || format!("{}:9000", fq("minio")),
                |e| format!("{}:{}", e.host, Engine::ObjectStorage.port(e)),
            ),
            minio_keys: minio.and_then(|e| e.key("accessKeyId").zip(e.key("secretAccessKey"))),
        }
    }

    /// `redis://host:port/<db>`, with `:$(REDIS_PASSWORD)@` when a password is referenced.
    pub(super) fn redis_url(&self, db: u8) -> String {
        format!(
            "redis://{}{}:{}/{db}",
            if self.redis_password.is_some() {
                ":$(REDIS_PASSWORD)@"
            } else {
                ""
            },
            self.redis_host,
            self.redis_port
        )
    }
}

fn llm_externals(c: &mut Component, providers: &[LlmProvider]) {
    for pr in providers {
        c.external
            .push(External::Https(model_router::provider_host(*pr).into()));
    }
}

/// Adds the platform services when `voiceAssistant` is enabled.
pub(super) fn add(cfg: &Config, stack: &mut Stack) {
    let Some(va) = &cfg.voice_assistant else {
        return;
    };
    let ns = cfg.namespaces.app.as_str();
    let infra = cfg.namespaces.infra.as_str();
    let p = cfg.profile;
    let sw = va.infra;
    let fq = |n: &str, space: &str| format!("{n}.{space}.svc.cluster.local");
    let app_env = match p {
        ProfileName::Production => "production",
        ProfileName::Small => "staging",
        ProfileName::Dev => "development",
    };
    let infra_secret = infra::SECRET;
    let on = |s: &str| va.service_enabled(s);
    let url = |s: &str, port: u16| format!("http://{}:{port}", fq(s, ns));
    let stores = Stores::of(cfg);

    for s in specs() {
        if !on(s.name) {
            continue;
        }
        let name = s.name;
        let cm_name = format!("{name}-config");
        let secret = format!("{name}-secret");
        let mut data: BTreeMap<String, String> = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            data.insert(k.to_string(), v);
        };
        let mut keys: Vec<SecretKey> = Vec::new();
        let user_key = |k: &str| SecretKey {
            key: k.into(),
            source: SecretSource::User { required: false },
        };
        let same_as = |k: &str, of: &str| SecretKey {
            key: k.into(),
            source: SecretSource::SameAs {
                namespace: infra.into(),
                secret: infra_secret.into(),
                key: of.into(),
            },
        };
        let mut deps: Vec<&str> = vec![];
        // Env read from the user's Secret of an external store: name → (Secret, key).
        let mut user_secret: Vec<(&str, (&str, &str))> = vec![];
        let mut externals: Vec<LlmProvider> = vec![];
        let mut extra_external: Vec<External> = vec![];

        put("APP_NAME", name.into());
        put("APP_ENV", app_env.into());
        put("LOG_LEVEL", "info".into());
        match s.lang {
            Lang::Go => {
                put("HTTP_PORT", s.http.to_string());
                if let Some(g) = s.grpc {
                    put("GRPC_PORT", g.to_string());
                }
                put("METRICS_PORT", "9090".into());
                if name != "vector-store-adapter" {
                    put("REDIS_ADDR", stores.redis_addr.clone());
                    user_secret.extend(stores.redis_password.map(|r| ("REDIS_PASSWORD", r)));
                    deps.push("redis");
                }
                if sw.nacos && name != "analytics-service" {
                    put("NACOS_ADDR", format!("{}:8848", fq("nacos", infra)));
                    deps.push("nacos");
                }
            }
            Lang::Python => {
                put("PORT", s.http.to_string());
                put(
                    "WORKERS",
                    if matches!(name, "indexing-service" | "multimodal-engine") {
                        "2"
                    } else {
                        "4"
                    }
                    .into(),
                );
                if let Some(db) = s.redis_db {
                    put("REDIS_HOST", stores.redis_host.clone());
                    put("REDIS_PORT", stores.redis_port.to_string());
                    put("REDIS_DB", db.to_string());
                    // With a password the URL holds `$(REDIS_PASSWORD)`, which only a
                    // container's own env expands: it moves there.
                    if stores.redis_password.is_none() {
                        put("REDIS_URL", stores.redis_url(db));
                    }
                    user_secret.extend(stores.redis_password.map(|r| ("REDIS_PASSWORD", r)));
                    deps.push("redis");
                }
                if sw.nacos {
                    put("NACOS_SERVER_ADDR", format!("{}:8848", fq("nacos", infra)));
                    put("NACOS_NAMESPACE", app_env.into());
                    put("NACOS_GROUP", "DEFAULT_GROUP".into());
                    deps.push("nacos");
                }
            }
        }
        if sw.otel_collector {
            put(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://{}:4317", fq("otel-collector", infra)),
            );
            put("OTEL_SERVICE_NAME", name.into());
            deps.push("otel-collector");
        }
        if let Some((_, db, user, key)) = infra::SERVICE_DATABASES
            .iter()
            .find(|(svc, ..)| *svc == name)
        {
            put("DB_HOST", stores.pg_host.clone());
            put("DB_PORT", stores.pg_port.to_string());
            put("DB_NAME", (*db).into());
            put("DB_USER", (*user).into());
            put("DB_SSL_MODE", stores.pg_ssl_mode.into());
            match stores.pg.and_then(|e| e.key(name)) {
                Some(r) => user_secret.push(("DB_PASSWORD", r)),
                None => keys.push(same_as("DB_PASSWORD", key)),
            }
            deps.push("postgres");
        }
        let milvus = |put: &mut dyn FnMut(&str, String), deps: &mut Vec<&str>| {
            put("MILVUS_HOST", fq("milvus", infra));
            put("MILVUS_PORT", "19530".into());
            deps.push("milvus");
        };
        // The in-cluster MinIO's root keys, or the external store's key pair (returned: the
        // env read from the user's Secret).
        let minio =
            |put: &mut dyn FnMut(&str, String), deps: &mut Vec<&str>, keys: &mut Vec<SecretKey>| {
                put("MINIO_ENDPOINT", stores.minio_endpoint.clone());
                put("MINIO_BUCKET", external::platform_bucket(cfg, name));
                deps.push("minio");
                if stores.minio.is_none() {
                    keys.push(same_as("MINIO_ACCESS_KEY", "MINIO_ROOT_USER"));
                    keys.push(same_as("MINIO_SECRET_KEY", "MINIO_ROOT_PASSWORD"));
                }
                // `external::check` refuses an external store without keys while these run.
                stores
                    .minio_keys
                    .map(|(id, key)| [("MINIO_ACCESS_KEY", id), ("MINIO_SECRET_KEY", key)])
                    .into_iter()
                    .flatten()
            };
        match name {
            "identity-service" => {
                let issuer = cfg.istio.as_ref().map_or_else(
                    || "https://identity.voiceassistant.com".to_string(),
                    |i| i.jwt_issuer.clone(),
                );
                put("JWT_ISSUER", issuer);
                put("JWT_AUDIENCE", "voiceassistant-api".into());
                keys.push(SecretKey {
                    key: "JWT_SECRET".into(),
                    source: SecretSource::Random { length: 64 },
                });
            }
            "conversation-service" => {
                if on("identity-service") {
                    put(
                        "IDENTITY_SERVICE_URL",
                        format!("{}:9000", fq("identity-service", ns)),
                    );
                    deps.push("identity-service");
                }
                if on("knowledge-service") {
                    put("KNOWLEDGE_SERVICE_URL", url("knowledge-service", 8006));
                    deps.push("knowledge-service");
                }
                if on("ai-orchestrator") {
                    put("AI_ORCHESTRATOR_URL", url("ai-orchestrator", 9003));
                    deps.push("ai-orchestrator");
                }
            }
            "knowledge-service" => {
                put(
                    "DATABASE_URL",
                    "postgresql://$(DB_USER):$(DB_PASSWORD)@$(DB_HOST):$(DB_PORT)/$(DB_NAME)"
                        .into(),
                );
                user_secret.extend(minio(&mut put, &mut deps, &mut keys));
                if sw.kafka {
                    put("KAFKA_BOOTSTRAP_SERVERS", stores.kafka.clone());
                    deps.push("kafka");
                }
                for (svc, port, key) in [
                    ("indexing-service", 8004, "INDEXING_SERVICE_URL"),
                    ("retrieval-service", 8012, "RETRIEVAL_SERVICE_URL"),
                ] {
                    if on(svc) {
                        put(key, url(svc, port));
                        deps.push(svc);
                    }
                }
            }
            "ai-orchestrator" => {
                for (svc, port, key) in [
                    ("agent-engine", 8003, "AGENT_ENGINE_URL"),
                    ("rag-engine", 8006, "RAG_ENGINE_URL"),
                    ("model-adapter", 8005, "MODEL_ADAPTER_URL"),
                    ("voice-engine", 8002, "VOICE_ENGINE_URL"),
                    ("retrieval-service", 8012, "RETRIEVAL_SERVICE_URL"),
                ] {
                    if on(svc) {
                        put(key, url(svc, port));
                        deps.push(svc);
                    }
                }
                put("SLO_TARGET_MS", "2500".into());
                put("MAX_TIMEOUT_S", "120".into());
            }
            "notification-service" => {
                if sw.kafka {
                    put("KAFKA_BROKERS", stores.kafka.clone());
                    deps.push("kafka");
                }
                keys.push(user_key("SMTP_PASSWORD"));
                keys.push(SecretKey {
                    key: "WEBHOOK_SECRET".into(),
                    source: SecretSource::Random { length: 32 },
                });
            }
            "analytics-service" => {
                put("CLICKHOUSE_HOST", stores.ch_host.clone());
                put("CLICKHOUSE_PORT", stores.ch_port.to_string());
                put("CLICKHOUSE_DB", stores.ch_database.clone());
                put("CLICKHOUSE_USER", stores.ch_user.clone());
                match stores.ch.and_then(|e| e.key("password")) {
                    Some(r) => user_secret.push(("CLICKHOUSE_PASSWORD", r)),
                    None => keys.push(same_as("CLICKHOUSE_PASSWORD", "CLICKHOUSE_PASSWORD")),
                }
                deps.push("clickhouse");
                if sw.kafka {
                    put("KAFKA_BROKERS", stores.kafka.clone());
                    deps.push("kafka");
                }
            }
            "agent-engine" => {
                for (svc, port, key) in [
                    ("rag-engine", 8006, "RAG_ENGINE_URL"),
                    ("model-adapter", 8005, "MODEL_ADAPTER_URL"),
                    ("retrieval-service", 8012, "RETRIEVAL_SERVICE_URL"),
                ] {
                    if on(svc) {
                        put(key, url(svc, port));
                        deps.push(svc);
                    }
                }
                externals = vec![LlmProvider::Openai, LlmProvider::Anthropic];
            }
            "rag-engine" => {
                milvus(&mut put, &mut deps);
                for (svc, port, key) in [
                    ("retrieval-service", 8012, "RETRIEVAL_SERVICE_URL"),
                    ("model-adapter", 8005, "MODEL_ADAPTER_URL"),
                ] {
                    if on(svc) {
                        put(key, url(svc, port));
                        deps.push(svc);
                    }
                }
                put("EMBEDDING_MODEL", "bge-large-zh-v1.5".into());
                put("CHUNK_SIZE", "512".into());
                put("CHUNK_OVERLAP", "50".into());
                put("TOP_K", "5".into());
                externals = vec![LlmProvider::Openai];
            }
            "voice-engine" => {
                for (k, v) in [
                    ("AZURE_SPEECH_REGION", "eastus"),
                    ("VAD_MODE", "3"),
                    ("VAD_FRAME_MS", "30"),
                    ("ASR_LANGUAGE", "zh-CN"),
                    ("TTS_VOICE", "zh-CN-XiaoxiaoNeural"),
                    ("TTS_STYLE", "friendly"),
                ] {
                    put(k, v.into());
                }
                keys.push(user_key("AZURE_SPEECH_KEY"));
                externals = vec![LlmProvider::Openai];
                extra_external.push(External::Https("eastus.stt.speech.microsoft.com".into()));
                extra_external.push(External::Https("eastus.tts.speech.microsoft.com".into()));
            }
            "model-adapter" => {
                for (k, v) in [
                    ("DEFAULT_MODEL", "gpt-4"),
                    ("MAX_TOKENS", "4096"),
                    ("TEMPERATURE", "0.7"),
                    ("TIMEOUT_SECONDS", "180"),
                ] {
                    put(k, v.into());
                }
                externals = vec![
                    LlmProvider::Openai,
                    LlmProvider::Anthropic,
                    LlmProvider::Zhipu,
                    LlmProvider::Dashscope,
                    LlmProvider::Baidu,
                ];
                keys.push(user_key("MOONSHOT_API_KEY"));
                extra_external.push(External::Https("api.moonshot.cn".into()));
            }
            "retrieval-service" => {
                milvus(&mut put, &mut deps);
                if sw.elasticsearch {
                    put("ES_HOST", stores.es_host.clone());
                    put("ES_PORT", stores.es_port.to_string());
                    if let Some((user, password)) = stores.es_credentials {
                        user_secret.push(("ES_USER", user));
                        user_secret.push(("ES_PASSWORD", password));
                    }
                    deps.push("elasticsearch");
                }
                put("TOP_K", "10".into());
                put("RERANK_TOP_K", "5".into());
                put(
                    "HYBRID_ALPHA",
                    if sw.elasticsearch { "0.5" } else { "1.0" }.into(),
                );
            }
            "indexing-service" => {
                milvus(&mut put, &mut deps);
                user_secret.extend(minio(&mut put, &mut deps, &mut keys));
                put("EMBEDDING_MODEL", "bge-large-zh-v1.5".into());
                put("BATCH_SIZE", "32".into());
            }
            "multimodal-engine" => {
                user_secret.extend(minio(&mut put, &mut deps, &mut keys));
                externals = vec![LlmProvider::Openai];
            }
            "vector-store-adapter" => {
                milvus(&mut put, &mut deps);
                for (k, v) in [
                    ("POOL_SIZE", "10"),
                    ("MAX_OVERFLOW", "20"),
                    ("POOL_TIMEOUT", "30"),
                ] {
                    put(k, v.into());
                }
            }
            _ => {}
        }
        for pr in &externals {
            for k in model_router::provider_keys(*pr) {
                keys.insert(0, user_key(k));
            }
        }
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        keys.dedup_by(|a, b| a.key == b.key);
        stack.config_maps.push(ConfigMapSpec {
            name: cm_name.clone(),
            namespace: ns.into(),
            component: name.into(),
            data,
        });
        stack.secrets.push(SecretSpec {
            name: secret.clone(),
            namespace: ns.into(),
            component: name.into(),
            keys: keys.clone(),
            existing: false,
            external: false,
        });

        let (a, b, c_, d) = s.res;
        let image = with_registry(
            cfg,
            &format!("{}/{name}:{}", va.image_repository, va.image_tag),
        );
        let mut m = Container::new(name, &image, scaled(p, res(a, b, c_, d)));
        m.env_from.push(EnvFrom::Config(cm_name));
        for k in &keys {
            m = m.env_secret(&k.key, &secret, &k.key);
        }
        user_secret.sort();
        user_secret.dedup();
        for (env, (from, key)) in &user_secret {
            m = m.env_secret(env, from, key);
        }
        if let (Some(db), Some(_)) = (s.redis_db, stores.redis_password) {
            m = m.env("REDIS_URL", stores.redis_url(db));
        }
        m.ports.push(Port {
            name: "http",
            port: s.http,
        });
        if let Some(g) = s.grpc {
            m.ports.push(Port {
                name: "grpc",
                port: g,
            });
        }
        if s.lang == Lang::Go {
            m.ports.push(Port {
                name: "metrics",
                port: 9090,
            });
        }
        match s.probes {
            Probes::Go(ready_delay) => {
                m.probes.liveness = Some(Probe::new(
                    ProbeCheck::Http("/health".into(), s.http),
                    (30, 10, 5, 3),
                ));
                m.probes.readiness = Some(Probe::new(
                    ProbeCheck::Http("/ready".into(), s.http),
                    (ready_delay, 5, 3, 3),
                ));
            }
            Probes::Python => {
                m.probes.liveness = Some(Probe::new(
                    ProbeCheck::Http("/health".into(), s.http),
                    (60, 30, 10, 3),
                ));
                m.probes.readiness = Some(Probe::new(
                    ProbeCheck::Http("/health".into(), s.http),
                    (30, 10, 5, 3),
                ));
            }
            Probes::Tcp => {
                m.probes.liveness = Some(Probe::new(ProbeCheck::Tcp(s.http), (30, 20, 5, 3)));
                m.probes.readiness = Some(Probe::new(ProbeCheck::Tcp(s.http), (10, 10, 3, 3)));
            }
        }
        m.pre_stop_sleep = Some(10);
        let role = match s.lang {
            Lang::Go => "business-service",
            Lang::Python => "ai-engine",
        };
        let mut c = Component::new(
            name,
            Group::VoiceAssistant,
            ns,
            role,
            WorkloadKind::Deployment,
            Tier::App,
            1000,
        );
        if name == "agent-engine" {
            m.read_only_root = false;
            c.security.writable_root_reason = Some(
                "the agent engine writes tool workspaces outside /tmp (readOnlyRootFilesystem: false in the reference)",
            );
        }
        c.containers.push(m);
        c.metrics = Some(if s.lang == Lang::Go {
            ("metrics", "/metrics")
        } else {
            ("http", "/metrics")
        });
        c.termination_grace = s.grace;
        c.priority_class = Some(PRIORITY_CLASSES[s.priority].0);
        if name == "ai-orchestrator" {
            c.max_surge = 2;
        }
        if name == "voice-engine" {
            c.session_affinity = Some(3600);
        }
        if va.reference_scale {
            c.replicas = s.replicas;
            c.autoscale = s.hpa.map(|(min, max, cpu, memory)| Autoscale {
                hpa: crate::config::Hpa {
                    min,
                    max,
                    cpu,
                    memory,
                },
            });
        }
        if cfg.istio.is_some() && matches!(name, "ai-orchestrator" | "agent-engine") {
            c.pod_annotations
                .push(("sidecar.istio.io/proxyCPU", "100m".into()));
            c.pod_annotations
                .push(("sidecar.istio.io/proxyMemory", "256Mi".into()));
        }
        c.blue_green = va.services.get(name).and_then(|x| x.blue_green.clone());
        c.mesh = s.mesh;
        llm_externals(&mut c, &externals);
        c.external.extend(extra_external);
        c = c.needs(&deps).scratch("tmp", "/tmp");
        if s.lang == Lang::Python {
            c = c.scratch("cache", "/home/app/.cache");
        }
        stack.components.push(c);
    }
}

/// Applies what depends on every component being known: the mesh sidecar of each pod in an
/// injected namespace.
pub(super) fn finish(stack: &mut Stack) {
    if stack.config.istio.is_none() {
        return;
    }
    let app = stack.config.namespaces.app.clone();
    for c in stack
        .components
        .iter_mut()
        .filter(|c| c.namespace == app && c.kind != WorkloadKind::Job)
    {
        let mut side = istio_sidecar();
        for (k, v) in &c.pod_annotations {
            match *k {
                "sidecar.istio.io/proxyCPU" => {
                    side.requests.cpu = MilliCpu::parse(v).unwrap_or(side.requests.cpu)
                }
                "sidecar.istio.io/proxyMemory" => {
                    side.requests.memory = Bytes::parse(v).unwrap_or(side.requests.memory)
                }
                _ => {}
            }
        }
        c.mesh_sidecar = Some(side);
    }
}

/// A namespace's LimitRange (`limit-range`, type Container).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerLimits {
    /// Largest limit a container may set.
    pub max: Resources,
    /// Smallest request a container may set.
    pub min: Resources,
    /// Limit given to containers without one.
    pub default: Resources,
    /// Request given to containers without one.
    pub default_request: Resources,
}

fn r(cpu: &str, mem: &str) -> Resources {
    Resources {
        cpu: MilliCpu::parse(cpu).unwrap_or_default(),
        memory: Bytes::parse(mem).unwrap_or_default(),
    }
}

/// The platform's namespaces with their LimitRange, application namespace first.
/// Production's application namespace carries the reference figures (containers 100m/128Mi
/// to 4/8Gi); its infrastructure namespace a 50m/64Mi floor for the metrics exporters; the
/// smaller profiles 10m/32Mi. Their ResourceQuotas are derived from the plan's peak
/// by the namespace policy, not stated here.
pub fn limit_ranges(cfg: &Config) -> Vec<(String, ContainerLimits)> {
    use crate::config::ProfileName as P;
    if cfg.voice_assistant.is_none() {
        return Vec::new();
    }
    let (min_app, min_infra) = match cfg.profile {
        P::Production => (r("100m", "128Mi"), r("50m", "64Mi")),
        P::Small | P::Dev => (r("10m", "32Mi"), r("10m", "32Mi")),
    };
    let lim = |min| ContainerLimits {
        max: r("4", "8Gi"),
        min,
        default: r("500m", "512Mi"),
        default_request: r("250m", "256Mi"),
    };
    vec![
        (cfg.namespaces.app.clone(), lim(min_app)),
        (cfg.namespaces.infra.clone(), lim(min_infra)),
    ]
}
