//! The Model Router: routes LLM calls and runs A/B tests through PostHog.
//!
//! Facts: HTTP 8080 (`/health`, `/ready`), gRPC 9000, metrics 9090; ConfigMap with
//! `POSTHOG_ENABLED`, `POSTHOG_HOST` and `DB_*`; Secret with `POSTHOG_API_KEY`, `DB_PASSWORD`
//! and the provider keys; HPA 3–10 at 70 % CPU / 80 % memory; PDB minAvailable 2; Ingress;
//! ServiceMonitor on `metrics` every 30 s; ClientIP session affinity for an hour; in the mesh,
//! `/api/v1/models` and `model.v1.Router` for three minutes, never retried (LLM calls).

use std::collections::BTreeMap;

use super::mesh::{Balance, MeshRoute, Retry, Traffic};
use super::*;
use crate::config::{Config, LlmProvider, Posthog};

/// Default repository when `images.modelRouter` is unset (you build and push this image).
pub(super) const DEFAULT_REPOSITORY: &str = "voiceassistant/model-router";
/// Default tag.
pub(super) const DEFAULT_TAG: &str = "1.0.0";
/// The Model Router's Secret.
pub(super) const SECRET: &str = "model-router-secret";

/// Secret keys of a provider.
pub(super) fn provider_keys(p: LlmProvider) -> &'static [&'static str] {
    match p {
        LlmProvider::Openai => &["OPENAI_API_KEY"],
        LlmProvider::Anthropic => &["ANTHROPIC_API_KEY"],
        LlmProvider::Zhipu => &["ZHIPU_API_KEY"],
        LlmProvider::Dashscope => &["DASHSCOPE_API_KEY"],
        LlmProvider::Baidu => &["BAIDU_API_KEY", "BAIDU_SECRET_KEY"],
    }
}

/// Public API host of each provider (the NetworkPolicy allows HTTPS egress for them).
pub(super) fn provider_host(p: LlmProvider) -> &'static str {
    match p {
        LlmProvider::Openai => "api.openai.com",
        LlmProvider::Anthropic => "api.anthropic.com",
        LlmProvider::Zhipu => "open.bigmodel.cn",
        LlmProvider::Dashscope => "dashscope.aliyuncs.com",
        LlmProvider::Baidu => "aip.baidubce.com",
    }
}

pub(super) fn add(cfg: &Config, stack: &mut Stack) {
    let Some(mr) = &cfg.model_router else { return };
    let ns = cfg.namespaces.app.as_str();
    let infra = cfg.namespaces.infra.as_str();
    let p = cfg.profile;
    let secret = mr.existing_secret.clone().unwrap_or_else(|| SECRET.into());

    let (posthog_enabled, posthog_host, posthog_deps): (bool, String, Vec<&str>) =
        match &cfg.posthog {
            Posthog::SelfHosted(_) => (
                true,
                format!(
                    "http://posthog-web.{}.svc.cluster.local:8000",
                    cfg.namespaces.posthog
                ),
                vec!["posthog-web", "posthog-capture", "posthog-feature-flags"],
            ),
            Posthog::Cloud(c) => (true, c.host.clone(), vec![]),
            Posthog::Disabled => (false, String::new(), vec![]),
        };
    let db = &mr.database;
    let stores = voiceassistant::Stores::of(cfg);
    // Without a host of its own, it uses the platform's PostgreSQL, wherever that runs.
    let platform_pg = db.external_host.is_none().then_some(stores.pg).flatten();
    let db_host = db.external_host.clone().unwrap_or(stores.pg_host.clone());
    let (db_port, db_ssl_mode) = match platform_pg {
        Some(_) => (stores.pg_port, stores.pg_ssl_mode.to_string()),
        None => (db.port, db.ssl_mode.clone()),
    };
    let data: BTreeMap<String, String> = [
        ("APP_NAME", "model-router".to_string()),
        (
            "APP_ENV",
            match p {
                ProfileName::Production => "production",
                _ => "staging",
            }
            .into(),
        ),
        ("LOG_LEVEL", "info".into()),
        ("HTTP_PORT", "8080".into()),
        ("GRPC_PORT", "9000".into()),
        ("HTTP_ADDR", "0.0.0.0:8080".into()),
        ("GRPC_ADDR", "0.0.0.0:9000".into()),
        ("POSTHOG_ENABLED", posthog_enabled.to_string()),
        ("POSTHOG_HOST", posthog_host),
        ("DB_HOST", db_host),
        ("DB_PORT", db_port.to_string()),
        ("DB_NAME", db.name.clone()),
        ("DB_USER", db.user.clone()),
        ("DB_SSL_MODE", db_ssl_mode),
        ("REDIS_ADDR", stores.redis_addr.clone()),
        ("REDIS_DB", "0".into()),
        ("METRICS_ENABLED", "true".into()),
        ("METRICS_PORT", "9090".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut data = data;
    let mut platform_deps: Vec<&str> = Vec::new();
    if let Some(va) = &cfg.voice_assistant {
        // Upstream calls go to the platform's model-adapter; traces to its collector.
        if va.service_enabled("model-adapter") {
            data.insert(
                "MODEL_ADAPTER_URL".into(),
                format!("http://model-adapter.{ns}.svc.cluster.local:8005"),
            );
            platform_deps.push("model-adapter");
        }
        if va.infra.otel_collector {
            data.insert(
                "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
                format!("http://otel-collector.{infra}.svc.cluster.local:4317"),
            );
            data.insert("OTEL_SERVICE_NAME".into(), "model-router".into());
            platform_deps.push("otel-collector");
        }
    }
    stack.config_maps.push(ConfigMapSpec {
        name: "model-router-config".into(),
        namespace: ns.into(),
        component: "model-router".into(),
        data,
    });

    let mut keys = vec![
        SecretKey {
            key: "POSTHOG_API_KEY".into(),
            source: SecretSource::User {
                required: matches!(cfg.posthog, Posthog::Cloud(_)),
            },
        },
        SecretKey {
            key: "DB_PASSWORD".into(),
            source: match db.external_host {
                Some(_) => SecretSource::User { required: true },
                None => SecretSource::SameAs {
                    namespace: infra.into(),
                    secret: infra::SECRET.into(),
                    key: "MODEL_ROUTER_DB_PASSWORD".into(),
                },
            },
        },
    ];
    // An external platform PostgreSQL's password comes from the user's Secret.
    let db_password = platform_pg.and_then(|e| e.key("model-router"));
    if db_password.is_some() {
        keys.retain(|k| k.key != "DB_PASSWORD");
    }
    for pr in &mr.providers {
        keys.extend(provider_keys(*pr).iter().map(|k| SecretKey {
            key: (*k).into(),
            source: SecretSource::User { required: false },
        }));
    }
    stack.secrets.push(SecretSpec {
        name: secret.clone(),
        namespace: ns.into(),
        component: "model-router".into(),
        keys: keys.clone(),
        existing: mr.existing_secret.is_some(),
        external: false,
    });

    let repo = cfg
        .images
        .model_router
        .as_deref()
        .unwrap_or(DEFAULT_REPOSITORY);
    let r = by_profile(
        p,
        res("100m", "128Mi", "500m", "512Mi"),
        res("250m", "256Mi", "1", "1Gi"),
        res("500m", "512Mi", "2", "2Gi"),
    );
    let mut m = Container::new(
        "model-router",
        &with_registry(cfg, &format!("{repo}:{DEFAULT_TAG}")),
        r,
    );
    m.env_from
        .push(EnvFrom::Config("model-router-config".into()));
    for k in &keys {
        m = m.env_secret(&k.key, &secret, &k.key);
    }
    if let Some((from, key)) = db_password {
        m = m.env_secret("DB_PASSWORD", from, key);
    }
    if let Some((from, key)) = stores.redis_password {
        m = m.env_secret("REDIS_PASSWORD", from, key);
    }
    m = m.env("DATABASE_URL", "postgres://$(DB_USER):$(DB_PASSWORD)@$(DB_HOST):$(DB_PORT)/$(DB_NAME)?sslmode=$(DB_SSL_MODE)");
    m.ports = vec![
        Port {
            name: "http",
            port: 8080,
        },
        Port {
            name: "grpc",
            port: 9000,
        },
        Port {
            name: "metrics",
            port: 9090,
        },
    ];
    m.probes.startup = Some(Probe::new(
        ProbeCheck::Http("/health".into(), 8080),
        (5, 5, 3, 24),
    ));
    m.probes.startup_why = Some(
        "two minutes to read its provider config and reach PostgreSQL and Redis (the reference Deployment's startup budget)",
    );
    // The startup probe holds liveness until the first success: no delay of its own.
    m.probes.liveness = Some(Probe::new(
        ProbeCheck::Http("/health".into(), 8080),
        (0, 30, 5, 3),
    ));
    m.probes.readiness = Some(Probe::new(
        ProbeCheck::Http("/ready".into(), 8080),
        (10, 10, 3, 3),
    ));
    m.pre_stop_sleep = Some(15);

    let mut c = Component::new(
        "model-router",
        Group::ModelRouter,
        ns,
        "ai-infrastructure",
        WorkloadKind::Deployment,
        Tier::App,
        65532,
    );
    c.containers.push(m);
    c.replicas = mr.replicas;
    c.autoscale = mr.hpa.map(|hpa| Autoscale { hpa });
    c.metrics = Some(("metrics", "/metrics"));
    c.session_affinity = Some(3600);
    c.mesh = Mesh {
        routes: vec![
            MeshRoute::api(6, "model-router", &["/api/v1/models"], (180, Retry::Never)),
            MeshRoute::grpc(
                3,
                "model-router-grpc",
                "/model.v1.Router",
                (180, Retry::Never),
            ),
        ],
        traffic: Traffic {
            balance: Balance::Simple("LEAST_REQUEST"),
            per_connection: 5,
            errors_5xx: 5,
            gateway_errors: 5,
            ejection: 60,
            max_ejection_percent: 30,
            ..Traffic::DEFAULT
        },
        llm_timeout: Some(180),
        ..Mesh::default()
    };
    let mut deps: Vec<&str> = posthog_deps;
    if db.external_host.is_none() {
        deps.push("postgres");
    }
    deps.push("redis");
    deps.extend(platform_deps);
    c = c.needs(&deps).scratch("tmp", "/tmp");
    if let Posthog::Cloud(cl) = &cfg.posthog {
        c.external.push(External::Https(
            cl.host
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .to_string(),
        ));
    }
    if let Some(h) = &db.external_host {
        c.external.push(External::Port(h.clone(), db.port));
    }
    for pr in &mr.providers {
        c.external.push(External::Https(provider_host(*pr).into()));
    }
    if let Some(domain) = &mr.domain {
        c.ingress = Some(IngressSpec {
            host: domain.clone(),
            tls_secret: "model-router-tls".into(),
            routes: vec![Route {
                path: "/".into(),
                exact: false,
                component: "model-router".into(),
                port: "http",
            }],
            annotations: vec![
                ("nginx.ingress.kubernetes.io/proxy-body-size", "10m".into()),
                (
                    "nginx.ingress.kubernetes.io/proxy-connect-timeout",
                    "300".into(),
                ),
                (
                    "nginx.ingress.kubernetes.io/proxy-read-timeout",
                    "300".into(),
                ),
                (
                    "nginx.ingress.kubernetes.io/proxy-send-timeout",
                    "300".into(),
                ),
                ("nginx.ingress.kubernetes.io/limit-rps", "100".into()),
            ]
            .into_iter()
            .chain(
                cfg.cluster
                    .cert_issuer
                    .iter()
                    .map(|i| ("cert-manager.io/cluster-issuer", i.clone())),
            )
            .collect(),
        });
    }
    stack.components.push(c);
}
