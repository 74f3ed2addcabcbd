//! The VoiceAssistant platform: six Go-era services (identity, conversation, knowledge,
//! ai-orchestrator, notification, analytics) and eight Python AI services, each with its
//! ConfigMap, generated Secret, ServiceAccount, Deployment, Service and, at reference scale, its
//! HPA and PDB; plus the namespace policies (ResourceQuota, LimitRange) the platform's
//! namespaces carry.
//!
//! Facts: the per-service table of the reference manifests (ports, probes, requests and
//! limits, replicas, HPA bounds, PDBs, grace periods, ConfigMap and Secret keys, Redis DB
//! indexes). Decisions on the reference's inconsistencies:
//! - knowledge-service: the Go manifest was removed when the service moved to Python
//!   (`algo/knowledge-service`, HTTP 8006); that Python service is the one planned, with the
//!   Go manifest's sizing as the best available figures.
//! - ServiceAccounts are named like the service (`identity-service`), and the Istio
//!   AuthorizationPolicies name exactly those.
//! - Routes use the Services' real ports (HTTP APIs on `http`, gRPC on `grpc`).
//! - Init containers that poll with busybox are replaced by dependency edges (`needs`), from
//!   which the plan's gates and the NetworkPolicies derive.
//! - Redis runs without a password and Milvus without authorization, both reachable only
//!   through NetworkPolicies, so no placeholder credentials are planned.

use std::collections::BTreeMap;

use super::*;
use crate::config::{Config, InfraSwitches, LlmProvider};
use crate::quantity::{Bytes, MilliCpu};

/// Every platform service, in catalog order.
pub const SERVICES: [&str; 14] = [
    "identity-service",
    "conversation-service",
    "knowledge-service",
    "ai-orchestrator",
    "notification-service",
    "analytics-service",
    "agent-engine",
    "rag-engine",
    "voice-engine",
    "model-adapter",
    "retrieval-service",
    "indexing-service",
    "multimodal-engine",
    "vector-store-adapter",
];

/// Switchable infrastructure a service can need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Infra {
    /// Nacos.
    Nacos,
    /// Milvus.
    Milvus,
    /// Elasticsearch.
    Elasticsearch,
    /// ClickHouse.
    Clickhouse,
    /// Kafka.
    Kafka,
    /// MinIO.
    Minio,
}

impl Infra {
    /// Field name under `voiceAssistant.infrastructure`.
    pub fn key(self) -> &'static str {
        match self {
            Infra::Nacos => "nacos",
            Infra::Milvus => "milvus",
            Infra::Elasticsearch => "elasticsearch",
            Infra::Clickhouse => "clickhouse",
            Infra::Kafka => "kafka",
            Infra::Minio => "minio",
        }
    }
    /// Display name.
    pub fn label(self) -> &'static str {
        match self {
            Infra::Nacos => "Nacos",
            Infra::Milvus => "Milvus",
            Infra::Elasticsearch => "Elasticsearch",
            Infra::Clickhouse => "ClickHouse",
            Infra::Kafka => "Kafka",
            Infra::Minio => "MinIO",
        }
    }
}

impl InfraSwitches {
    /// Whether a switchable component is on.
    pub fn get(&self, i: Infra) -> bool {
        match i {
            Infra::Nacos => self.nacos,
            Infra::Milvus => self.milvus,
            Infra::Elasticsearch => self.elasticsearch,
            Infra::Clickhouse => self.clickhouse,
            Infra::Kafka => self.kafka,
            Infra::Minio => self.minio,
        }
    }
}

/// Infrastructure without which a service cannot run (a validation error when off). Nacos,
/// Kafka and Elasticsearch are optional: without them the service runs on its ConfigMap, without
/// events, or with vector-only retrieval.
pub fn required_infra(service: &str) -> &'static [Infra] {
    match service {
        "knowledge-service" | "multimodal-engine" => &[Infra::Minio],
        "rag-engine" | "retrieval-service" | "vector-store-adapter" => &[Infra::Milvus],
        "indexing-service" => &[Infra::Milvus, Infra::Minio],
        "analytics-service" => &[Infra::Clickhouse],
        _ => &[],
    }
}

/// PriorityClasses: (name, value, description).
pub const PRIORITY_CLASSES: [(&str, i32, &str); 3] = [
    ("voiceassistant-high-priority", 1000, "core AI services"),
    (
        "voiceassistant-medium-priority",
        500,
        "regular business services",
    ),
    ("voiceassistant-low-priority", 100, "background jobs"),
];

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
    pdb: Option<u32>,
    grace: i64,
    redis_db: Option<u8>,
    priority: usize,
}

const fn spec(
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
        pdb: None,
        grace: 30,
        redis_db: None,
        priority: 1,
    }
}

fn specs() -> Vec<Spec> {
    use Lang::{Go, Python};
    vec![
        Spec {
            replicas: 3,
            hpa: Some((3, 10, 70, 80)),
            pdb: Some(2),
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
            pdb: Some(2),
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
            pdb: Some(1),
            redis_db: Some(8),
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
            pdb: Some(2),
            grace: 60,
            priority: 0,
            ..spec(
                "ai-orchestrator",
                Go,
                9003,
                Some(9103),
                Probes::Go(15),
                ("1", "1Gi", "2", "2Gi"),
            )
        },
        spec(
            "notification-service",
            Go,
            9006,
            Some(9106),
            Probes::Tcp,
            ("250m", "256Mi", "500m", "512Mi"),
        ),
        spec(
            "analytics-service",
            Go,
            9007,
            None,
            Probes::Tcp,
            ("500m", "512Mi", "1", "1Gi"),
        ),
        Spec {
            replicas: 3,
            hpa: Some((3, 10, 70, 80)),
            pdb: Some(2),
            grace: 60,
            redis_db: Some(1),
            priority: 0,
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
            pdb: Some(2),
            grace: 60,
            redis_db: Some(2),
            priority: 0,
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
            pdb: Some(1),
            grace: 90,
            redis_db: Some(3),
            priority: 0,
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
            pdb: Some(2),
            grace: 60,
            redis_db: Some(4),
            priority: 0,
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
            pdb: Some(2),
            grace: 60,
            redis_db: Some(5),
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
fn scaled(p: crate::config::ProfileName, r: ResourceSpec) -> ResourceSpec {
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

fn llm_externals(c: &mut Component, providers: &[LlmProvider]) {
    for pr in providers {
        c.external.push(External::Https(
            super::model_router::provider_host(*pr).into(),
        ));
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
        crate::config::ProfileName::Production => "production",
        crate::config::ProfileName::Small => "staging",
        crate::config::ProfileName::Dev => "development",
    };
    let infra_secret = super::infra::SECRET;
    let on = |s: &str| va.service_enabled(s);
    let url = |s: &str, port: u16| format!("http://{}:{port}", fq(s, ns));

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
                    put("REDIS_ADDR", format!("{}:6379", fq("redis", infra)));
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
                    put("REDIS_HOST", fq("redis", infra));
                    put("REDIS_PORT", "6379".into());
                    put("REDIS_DB", db.to_string());
                    put(
                        "REDIS_URL",
                        format!("redis://{}:6379/{db}", fq("redis", infra)),
                    );
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
        if let Some((_, db, user, key)) = super::infra::SERVICE_DATABASES
            .iter()
            .find(|(svc, ..)| *svc == name)
        {
            put("DB_HOST", fq("postgres", infra));
            put("DB_PORT", "5432".into());
            put("DB_NAME", (*db).into());
            put("DB_USER", (*user).into());
            put("DB_SSL_MODE", "disable".into());
            keys.push(same_as("DB_PASSWORD", key));
            deps.push("postgres");
        }
        let milvus = |put: &mut dyn FnMut(&str, String), deps: &mut Vec<&str>| {
            put("MILVUS_HOST", fq("milvus", infra));
            put("MILVUS_PORT", "19530".into());
            deps.push("milvus");
        };
        let minio = |put: &mut dyn FnMut(&str, String),
                     deps: &mut Vec<&str>,
                     keys: &mut Vec<SecretKey>,
                     bucket: &str| {
            put("MINIO_ENDPOINT", format!("{}:9000", fq("minio", infra)));
            put("MINIO_BUCKET", bucket.into());
            keys.push(same_as("MINIO_ACCESS_KEY", "MINIO_ROOT_USER"));
            keys.push(same_as("MINIO_SECRET_KEY", "MINIO_ROOT_PASSWORD"));
            deps.push("minio");
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
                minio(&mut put, &mut deps, &mut keys, "documents");
                if sw.kafka {
                    put(
                        "KAFKA_BOOTSTRAP_SERVERS",
                        format!("{}:9092", fq("kafka", infra)),
                    );
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
                    put("KAFKA_BROKERS", format!("{}:9092", fq("kafka", infra)));
                    deps.push("kafka");
                }
                keys.push(user_key("SMTP_PASSWORD"));
                keys.push(SecretKey {
                    key: "WEBHOOK_SECRET".into(),
                    source: SecretSource::Random { length: 32 },
                });
            }
            "analytics-service" => {
                put("CLICKHOUSE_HOST", fq("clickhouse", infra));
                put("CLICKHOUSE_PORT", "9000".into());
                put("CLICKHOUSE_DB", "analytics".into());
                put("CLICKHOUSE_USER", "default".into());
                keys.push(same_as("CLICKHOUSE_PASSWORD", "CLICKHOUSE_PASSWORD"));
                deps.push("clickhouse");
                if sw.kafka {
                    put("KAFKA_BROKERS", format!("{}:9092", fq("kafka", infra)));
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
                    put("ES_HOST", fq("elasticsearch", infra));
                    put("ES_PORT", "9200".into());
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
                minio(&mut put, &mut deps, &mut keys, "documents");
                put("EMBEDDING_MODEL", "bge-large-zh-v1.5".into());
                put("BATCH_SIZE", "32".into());
            }
            "multimodal-engine" => {
                minio(&mut put, &mut deps, &mut keys, "multimodal");
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
            for k in super::model_router::provider_keys(*pr) {
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
            c.pdb_min_available = s.pdb;
        }
        if cfg.istio.is_some() && matches!(name, "ai-orchestrator" | "agent-engine") {
            c.pod_annotations
                .push(("sidecar.istio.io/proxyCPU", "100m".into()));
            c.pod_annotations
                .push(("sidecar.istio.io/proxyMemory", "256Mi".into()));
        }
        c.blue_green = va
            .services
            .get(name)
            .and_then(|x| x.blue_green)
            .map(crate::config::Color::as_str);
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

/// A namespace's ResourceQuota (`compute-quota`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quota {
    /// requests.cpu / requests.memory.
    pub requests: Resources,
    /// limits.cpu / limits.memory.
    pub limits: Resources,
    /// persistentvolumeclaims.
    pub pvcs: u32,
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

/// The policies of one platform namespace.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespacePolicy {
    /// Namespace.
    pub namespace: String,
    /// ResourceQuota.
    pub quota: Quota,
    /// LimitRange.
    pub limits: ContainerLimits,
}

fn r(cpu: &str, mem: &str) -> Resources {
    Resources {
        cpu: MilliCpu::parse(cpu).unwrap_or_default(),
        memory: Bytes::parse(mem).unwrap_or_default(),
    }
}

/// The ResourceQuota and LimitRange of the platform's namespaces. Production's application
/// namespace carries the reference figures (100 / 200Gi requested, 200 / 400Gi limits, 50
/// claims; containers 100m/128Mi to 4/8Gi); the infrastructure namespace's figures are this
/// planner's (the reference set none), with a 50m/64Mi floor for the metrics exporters.
pub fn policies(cfg: &Config) -> Vec<NamespacePolicy> {
    use crate::config::ProfileName as P;
    if cfg.voice_assistant.is_none() {
        return Vec::new();
    }
    let (app_q, infra_q, min_app, min_infra) = match cfg.profile {
        P::Production => (
            Quota {
                requests: r("100", "200Gi"),
                limits: r("200", "400Gi"),
                pvcs: 50,
            },
            Quota {
                requests: r("40", "100Gi"),
                limits: r("80", "200Gi"),
                pvcs: 30,
            },
            r("100m", "128Mi"),
            r("50m", "64Mi"),
        ),
        P::Small => (
            Quota {
                requests: r("8", "16Gi"),
                limits: r("40", "80Gi"),
                pvcs: 20,
            },
            Quota {
                requests: r("8", "16Gi"),
                limits: r("32", "64Gi"),
                pvcs: 20,
            },
            r("10m", "32Mi"),
            r("10m", "32Mi"),
        ),
        P::Dev => (
            Quota {
                requests: r("4", "8Gi"),
                limits: r("20", "40Gi"),
                pvcs: 20,
            },
            Quota {
                requests: r("4", "8Gi"),
                limits: r("16", "32Gi"),
                pvcs: 20,
            },
            r("10m", "32Mi"),
            r("10m", "32Mi"),
        ),
    };
    let lim = |min| ContainerLimits {
        max: r("4", "8Gi"),
        min,
        default: r("500m", "512Mi"),
        default_request: r("250m", "256Mi"),
    };
    vec![
        NamespacePolicy {
            namespace: cfg.namespaces.app.clone(),
            quota: app_q,
            limits: lim(min_app),
        },
        NamespacePolicy {
            namespace: cfg.namespaces.infra.clone(),
            quota: infra_q,
            limits: lim(min_infra),
        },
    ]
}

/// Every container of a component's pod with its resources, the mesh sidecar included.
pub fn pod_containers(c: &Component) -> Vec<(String, ResourceSpec)> {
    let mut out: Vec<(String, ResourceSpec)> = c
        .init_containers
        .iter()
        .chain(&c.containers)
        .map(|x| (x.name.clone(), x.resources))
        .collect();
    if let Some(s) = c.mesh_sidecar {
        out.push(("istio-proxy".into(), s));
    }
    out
}

/// Checks every namespace policy: the namespace's totals during a rollout (minimum replicas
/// plus each Deployment's maxSurge) against its ResourceQuota, and each container against its
/// LimitRange. Violations name the component.
///
/// Totals at maximum replicas are reported by [`quota_usage`], not rejected: the reference
/// quota (200 CPU of limits) cannot hold every HPA at its maximum with the mesh sidecars, so
/// there the quota, not the node count, caps autoscaling.
pub fn policy_violations(stack: &Stack) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let sizing = crate::sizing::size(stack);
    for pol in policies(&stack.config) {
        for c in stack
            .components
            .iter()
            .filter(|c| c.namespace == pol.namespace)
        {
            let path = format!("components.{}.resources", c.name);
            for (name, rs) in pod_containers(c) {
                let l = pol.limits;
                let who = format!("container {name} of {} in {}", c.name, pol.namespace);
                if rs.requests.cpu < l.min.cpu || rs.requests.memory < l.min.memory {
                    out.push(Diagnostic::at_value(
                        &path,
                        format!(
                            "{who} requests {} / {}, below the LimitRange minimum {} / {}",
                            rs.requests.cpu, rs.requests.memory, l.min.cpu, l.min.memory
                        ),
                    ));
                }
                if rs.limits.cpu > l.max.cpu || rs.limits.memory > l.max.memory {
                    out.push(Diagnostic::at_value(
                        &path,
                        format!(
                            "{who} has limits {} / {}, above the LimitRange maximum {} / {}",
                            rs.limits.cpu, rs.limits.memory, l.max.cpu, l.max.memory
                        ),
                    ));
                }
            }
        }
        let Some(u) = quota_usage(stack)
            .into_iter()
            .find(|u| u.namespace == pol.namespace)
        else {
            continue;
        };
        let max = u.rollout;
        let rows: Vec<&crate::sizing::ComponentSize> = sizing
            .components
            .iter()
            .filter(|r| r.namespace == pol.namespace && r.kind != WorkloadKind::Job)
            .collect();
        let largest = |f: &dyn Fn(&crate::sizing::ComponentSize) -> u64| {
            rows.iter()
                .max_by_key(|r| f(r) * u64::from(r.min_replicas))
                .map_or_else(String::new, |r| r.name.clone())
        };
        let q = pol.quota;
        let checks: [(&str, u64, u64, String, String, String); 4] = [
            (
                "requests.cpu",
                max.requests.cpu.0,
                q.requests.cpu.0,
                max.requests.cpu.to_string(),
                q.requests.cpu.to_string(),
                largest(&|r| r.pod.requests.cpu.0),
            ),
            (
                "requests.memory",
                max.requests.memory.0,
                q.requests.memory.0,
                max.requests.memory.to_string(),
                q.requests.memory.to_string(),
                largest(&|r| r.pod.requests.memory.0),
            ),
            (
                "limits.cpu",
                max.limits.cpu.0,
                q.limits.cpu.0,
                max.limits.cpu.to_string(),
                q.limits.cpu.to_string(),
                largest(&|r| r.pod.limits.cpu.0),
            ),
            (
                "limits.memory",
                max.limits.memory.0,
                q.limits.memory.0,
                max.limits.memory.to_string(),
                q.limits.memory.to_string(),
                largest(&|r| r.pod.limits.memory.0),
            ),
        ];
        for (field, have, allowed, h, a, big) in checks {
            if have > allowed {
                out.push(Diagnostic::at_value(
                    &format!("components.{big}.resources"),
                    format!("namespace {} needs {field} {h} during a rollout at minimum replicas, over its ResourceQuota ({a}); {big} is the largest consumer", pol.namespace),
                ));
            }
        }
        let claims: u32 = stack
            .components
            .iter()
            .filter(|c| c.namespace == pol.namespace)
            .map(|c| {
                u32::try_from(c.storage.len()).unwrap_or(0)
                    * if c.kind == WorkloadKind::StatefulSet {
                        c.replicas
                    } else {
                        1
                    }
            })
            .sum();
        if claims > q.pvcs {
            let big = stack
                .components
                .iter()
                .filter(|c| c.namespace == pol.namespace && !c.storage.is_empty())
                .max_by_key(|c| c.replicas)
                .map_or("", |c| c.name.as_str());
            out.push(Diagnostic::at_value(&format!("components.{big}.storage"), format!("namespace {} needs {claims} PersistentVolumeClaims, over its ResourceQuota ({})", pol.namespace, q.pvcs)));
        }
    }
    out
}

/// A namespace's use of its ResourceQuota.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaUsage {
    /// Namespace.
    pub namespace: String,
    /// The quota.
    pub quota: Quota,
    /// Requests and limits at minimum replicas plus each Deployment's maxSurge pods.
    pub rollout: crate::sizing::Totals,
    /// Requests and limits at maximum replicas.
    pub max: crate::sizing::Totals,
}

impl QuotaUsage {
    /// Every figure at maximum replicas is within the quota.
    pub fn max_fits(&self) -> bool {
        let (m, q) = (self.max, self.quota);
        m.requests.cpu <= q.requests.cpu
            && m.requests.memory <= q.requests.memory
            && m.limits.cpu <= q.limits.cpu
            && m.limits.memory <= q.limits.memory
    }
}

/// Each platform namespace's totals during a rollout and at maximum replicas, with its quota.
pub fn quota_usage(stack: &Stack) -> Vec<QuotaUsage> {
    let sizing = crate::sizing::size(stack);
    policies(&stack.config)
        .into_iter()
        .map(|pol| {
            let mut rollout = crate::sizing::Totals::default();
            for row in sizing
                .components
                .iter()
                .filter(|r| r.namespace == pol.namespace && r.kind != WorkloadKind::Job)
            {
                let surge = stack
                    .component(&row.name)
                    .filter(|c| c.kind == WorkloadKind::Deployment && !c.singleton)
                    .map_or(0, |c| u32::try_from(c.max_surge).unwrap_or(0));
                let n = u64::from(row.min_replicas + surge);
                rollout.pods += row.min_replicas + surge;
                rollout.requests.cpu = rollout.requests.cpu + row.pod.requests.cpu * n;
                rollout.requests.memory = rollout.requests.memory + row.pod.requests.memory * n;
                rollout.limits.cpu = rollout.limits.cpu + row.pod.limits.cpu * n;
                rollout.limits.memory = rollout.limits.memory + row.pod.limits.memory * n;
            }
            let max = sizing
                .namespaces
                .iter()
                .find(|n| n.namespace == pol.namespace)
                .map(|n| n.totals.max)
                .unwrap_or_default();
            QuotaUsage {
                namespace: pol.namespace,
                quota: pol.quota,
                rollout,
                max,
            }
        })
        .collect()
}
