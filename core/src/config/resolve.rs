//! Checking every value of the layered options and producing the typed [`Config`].

use std::collections::BTreeMap;
use std::fmt;

use super::Diagnostic;
use super::options::*;
use super::platform::{Infra, SERVICES, required_infra};
use crate::quantity::{Bytes, MilliCpu};

/// A secret value supplied by the user. Its `Debug` and `Display` never show it, and it is
/// never serialized: only install reads it, to create the Secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// The value, for the one place that writes it into a Secret.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// The validated rollout configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The profile the options were layered over.
    pub profile: ProfileName,
    /// Release name.
    pub instance: String,
    /// Namespace names.
    pub namespaces: Namespaces,
    /// Image settings.
    pub images: Images,
    /// PostHog.
    pub posthog: Posthog,
    /// The Model Router, when enabled.
    pub model_router: Option<ModelRouter>,
    /// Cluster shape and classes.
    pub cluster: Cluster,
    /// ServiceMonitors on.
    pub monitoring: bool,
    /// Per-component overrides, checked against the catalog later.
    pub overrides: BTreeMap<String, ComponentOverride>,
    /// The VoiceAssistant platform, when enabled.
    pub voice_assistant: Option<VoiceAssistant>,
    /// Istio resources, when enabled.
    pub istio: Option<Istio>,
    /// Where every pod may run (`placement`), before a component's own settings.
    pub placement: super::Placement,
    /// Every pod's ServiceAccount annotations, labels, annotations, environment and
    /// PriorityClass, before a component's own settings.
    pub pods: super::PodMeta,
    /// Where the Secrets' values come from.
    pub secrets: super::Secrets,
}

/// Resolved VoiceAssistant platform settings.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceAssistant {
    /// Reference replicas, HPAs and PDBs (else one replica each).
    pub reference_scale: bool,
    /// Image repository prefix.
    pub image_repository: String,
    /// Image tag.
    pub image_tag: String,
    /// Infrastructure switches.
    pub infra: InfraSwitches,
    /// Per-service settings for every service (disabled ones included).
    pub services: BTreeMap<String, VaService>,
}

impl VoiceAssistant {
    /// Whether a service is deployed.
    pub fn service_enabled(&self, name: &str) -> bool {
        self.services.get(name).is_some_and(|s| s.enabled)
    }
}

/// Which infrastructure components run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InfraSwitches {
    /// Nacos and its MySQL.
    pub nacos: bool,
    /// Milvus and its etcd.
    pub milvus: bool,
    /// Elasticsearch.
    pub elasticsearch: bool,
    /// ClickHouse.
    pub clickhouse: bool,
    /// Kafka.
    pub kafka: bool,
    /// MinIO.
    pub minio: bool,
    /// Prometheus, Grafana, Alertmanager.
    pub monitoring: bool,
    /// Jaeger.
    pub jaeger: bool,
    /// OpenTelemetry collector.
    pub otel_collector: bool,
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

/// Resolved settings of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaService {
    /// Deployed.
    pub enabled: bool,
    /// Blue-green, when on.
    pub blue_green: Option<BlueGreen>,
}

/// Resolved blue-green settings of a service.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BlueGreen {
    /// The colour the Service selects.
    pub active: Color,
    /// Image of each colour that differs from the service image: `(colour, image)`.
    pub images: Vec<(Color, String)>,
    /// The idle colour keeps its pods.
    pub standby: bool,
}

/// Resolved Istio settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Istio {
    /// PeerAuthentication STRICT (else PERMISSIVE).
    pub strict_mtls: bool,
    /// REST API host.
    pub api_host: String,
    /// WebSocket host.
    pub ws_host: String,
    /// gRPC host.
    pub grpc_host: String,
    /// TLS Secret (credentialName).
    pub tls_secret: String,
    /// JWT issuer.
    pub jwt_issuer: String,
    /// JWKS URI.
    pub jwks_uri: String,
    /// JWT audiences.
    pub audiences: Vec<String>,
    /// Tracing sample percentage.
    pub sampling_percent: f64,
    /// Local rate limit, tokens per minute.
    pub rate_limit_per_minute: Option<u32>,
}

/// Namespace names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaces {
    /// Self-hosted PostHog.
    pub posthog: String,
    /// Applications and the Model Router.
    pub app: String,
    /// Shared infrastructure.
    pub infra: String,
}

/// Image settings.
#[derive(Debug, Clone)]
pub struct Images {
    /// Registry host replacing every image's registry.
    pub registry: Option<String>,
    /// Pull policy.
    pub pull_policy: PullPolicy,
    /// Model Router repository (without tag).
    pub model_router: Option<String>,
    /// Secrets every pod pulls its images with (`imagePullSecrets`).
    pub pull_secrets: Vec<String>,
}

/// Resolved PostHog settings.
#[derive(Debug, Clone)]
pub enum Posthog {
    /// PostHog runs in the cluster.
    SelfHosted(SelfHosted),
    /// PostHog Cloud.
    Cloud(Cloud),
    /// No PostHog.
    Disabled,
}

/// Self-hosted PostHog settings.
#[derive(Debug, Clone)]
pub struct SelfHosted {
    /// Public domain.
    pub domain: String,
    /// SITE_URL.
    pub site_url: String,
    /// The release asked for (`YYYY.MM.DD-<commit>`); `None`: the catalog's newest.
    pub version: Option<String>,
    /// The images of a release of the user's own; `None`: the catalog's release.
    pub images: Option<PosthogImagesOptions>,
    /// User-supplied Django secret.
    pub secret_key: Option<SecretValue>,
    /// Existing Secret to use instead of a generated one.
    pub existing_secret: Option<String>,
    /// Redis as three Sentinel-managed nodes behind HAProxy (else one Redis).
    pub redis_sentinel: bool,
}

/// PostHog Cloud settings.
#[derive(Debug, Clone)]
pub struct Cloud {
    /// Region (for display).
    pub region: CloudRegion,
    /// Ingestion host, `https://us.i.posthog.com` or the override.
    pub host: String,
    /// Project API key, when given in the file.
    pub project_api_key: Option<SecretValue>,
}

/// Resolved Model Router settings.
#[derive(Debug, Clone)]
pub struct ModelRouter {
    /// Replicas (initial count when autoscaled).
    pub replicas: u32,
    /// Autoscaling, when on.
    pub hpa: Option<Hpa>,
    /// LLM providers, sorted and deduplicated.
    pub providers: Vec<LlmProvider>,
    /// Its database.
    pub database: Database,
    /// Public domain for its Ingress.
    pub domain: Option<String>,
    /// Existing Secret.
    pub existing_secret: Option<String>,
}

/// HPA bounds and targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Hpa {
    /// Minimum replicas.
    pub min: u32,
    /// Maximum replicas.
    pub max: u32,
    /// CPU utilization target, percent.
    pub cpu: u32,
    /// Memory utilization target, percent.
    pub memory: u32,
}

/// A PostgreSQL database the Model Router uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    /// External host, or `None` for the in-plan PostgreSQL.
    pub external_host: Option<String>,
    /// Port.
    pub port: u16,
    /// Database name.
    pub name: String,
    /// User.
    pub user: String,
    /// sslmode.
    pub ssl_mode: String,
}

/// Cluster shape and classes.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Node groups.
    pub nodes: Vec<NodeShape>,
    /// StorageClass for PVCs (`None`: the cluster default).
    pub storage_class: Option<String>,
    /// IngressClass.
    pub ingress_class: String,
    /// cert-manager ClusterIssuer, when TLS certificates are requested.
    pub cert_issuer: Option<String>,
}

/// A group of identical nodes, as plain data (install feeds live nodes the same way).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeShape {
    /// Label.
    pub name: String,
    /// Node count.
    pub count: u32,
    /// Allocatable CPU per node.
    pub cpu: MilliCpu,
    /// Allocatable memory per node.
    pub memory: Bytes,
    /// Maximum pods per node.
    pub max_pods: u32,
    /// Labels of each node.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Taints of each node.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<super::Taint>,
}

/// Validated overrides for one component.
#[derive(Debug, Clone, Default)]
pub struct ComponentOverride {
    /// Replicas (min with HPA).
    pub replicas: Option<u32>,
    /// Max replicas.
    pub max_replicas: Option<u32>,
    /// Image reference.
    pub image: Option<String>,
    /// Requests.
    pub requests: (Option<MilliCpu>, Option<Bytes>),
    /// Limits.
    pub limits: (Option<MilliCpu>, Option<Bytes>),
    /// Volume size.
    pub storage: Option<Bytes>,
    /// A database moved to a new major version (`engineUpgrade`).
    pub engine_upgrade: Option<EngineUpgrade>,
    /// Where its pods may run, over the global placement.
    pub placement: Option<super::Placement>,
    /// Its pods' identity and metadata, over the global settings.
    pub pods: Option<super::PodMeta>,
    /// The data service outside the cluster that replaces this store.
    pub external: Option<super::External>,
}

/// A database's data StatefulSets after `kubectl voice upgrade-engine`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineUpgrade {
    /// The StatefulSet running the component's image.
    pub stateful_set: String,
    /// The StatefulSet copied from: `(name, image)`, kept until `--finalize`.
    pub previous: Option<(String, String)>,
    /// Which one the Service selects.
    pub serving: Serving,
}

impl EngineUpgrade {
    /// The name of the StatefulSet whose pod the Service selects.
    pub fn serving_stateful_set(&self) -> &str {
        match (&self.previous, self.serving) {
            (Some((name, _)), Serving::Previous) => name,
            _ => &self.stateful_set,
        }
    }

    /// As `voice.yaml` writes it.
    pub fn to_value(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "statefulSet": self.stateful_set,
            "serving": self.serving.as_str(),
        });
        if let Some((name, image)) = &self.previous {
            v["previous"] = serde_json::json!({"statefulSet": name, "image": image});
        }
        v
    }
}

/// The longest StatefulSet name whose pods' `controller-revision-hash` label
/// (`<name>-<hash of up to 10 characters>`) stays within a label value's 63 characters.
pub const STATEFULSET_NAME_MAX: usize = 52;

/// Checks `components.<name>.engineUpgrade` field by field; `path` is its field path.
pub fn check_engine_upgrade(
    path: &str,
    o: &EngineUpgradeOptions,
) -> Result<EngineUpgrade, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let name = |field: &str, v: Option<&String>, diags: &mut Vec<Diagnostic>| -> Option<String> {
        let p = format!("{path}.{field}");
        let Some(v) = v else {
            diags.push(Diagnostic::at_key(
                &p,
                "is required: the name of a StatefulSet",
            ));
            return None;
        };
        if let Err(why) = check_dns_label(v) {
            diags.push(Diagnostic::at_value(
                &p,
                format!("`{v}` is not a valid StatefulSet name: {why}"),
            ));
            return None;
        }
        if v.len() > STATEFULSET_NAME_MAX {
            diags.push(Diagnostic::at_value(
                &p,
                format!("`{v}` has {} characters; a StatefulSet name has at most {STATEFULSET_NAME_MAX}, so its pods' revision label fits", v.len()),
            ));
            return None;
        }
        Some(v.clone())
    };
    let current = name("statefulSet", o.stateful_set.as_ref(), &mut diags);
    let previous = o.previous.as_ref().and_then(|p| {
        let n = name("previous.statefulSet", p.stateful_set.as_ref(), &mut diags);
        let image = match &p.image {
            None => {
                diags.push(Diagnostic::at_key(
                    &format!("{path}.previous.image"),
                    "is required: the image the previous StatefulSet runs",
                ));
                None
            }
            Some(i) => match check_image(i) {
                Ok(()) => Some(i.clone()),
                Err(why) => {
                    diags.push(Diagnostic::at_value(&format!("{path}.previous.image"), why));
                    None
                }
            },
        };
        Some((n?, image?))
    });
    if let (Some(c), Some((p, _))) = (&current, &previous)
        && c == p
    {
        diags.push(Diagnostic::at_value(
            &format!("{path}.previous.statefulSet"),
            format!("must differ from statefulSet (`{c}`): the data is copied from one StatefulSet to another"),
        ));
    }
    let serving = o.serving.unwrap_or(Serving::Current);
    if serving == Serving::Previous && o.previous.is_none() {
        diags.push(Diagnostic::at_value(
            &format!("{path}.serving"),
            "`previous` needs a previous StatefulSet (previous.statefulSet and previous.image)",
        ));
    }
    match (current, diags.is_empty()) {
        (Some(stateful_set), true) => Ok(EngineUpgrade {
            stateful_set,
            previous,
            serving,
        }),
        _ => Err(diags),
    }
}

/// Collects diagnostics while resolving.
struct Ctx {
    diags: Vec<Diagnostic>,
}

impl Ctx {
    fn err(&mut self, path: &str, msg: impl Into<String>) {
        self.diags.push(Diagnostic::at_value(path, msg));
    }
    fn dns_label(&mut self, path: &str, v: &str) {
        if let Err(why) = check_dns_label(v) {
            self.err(path, format!("`{v}` is not a valid DNS label: {why}"));
        }
    }
    fn dns_subdomain(&mut self, path: &str, v: &str) {
        if let Err(why) = check_dns_subdomain(v) {
            self.err(path, format!("`{v}` is not a valid DNS name: {why}"));
        }
    }
    /// A positive quantity, parsed by `parse`; reports the problem at `path` otherwise.
    fn positive<Q: Copy + Default + PartialEq>(
        &mut self,
        path: &str,
        v: &str,
        parse: fn(&str) -> Result<Q, crate::quantity::QuantityError>,
    ) -> Option<Q> {
        match parse(v) {
            Ok(q) if q != Q::default() => Some(q),
            Ok(_) => {
                self.err(path, "must be greater than zero");
                None
            }
            Err(e) => {
                self.err(path, e.to_string());
                None
            }
        }
    }
    fn cpu(&mut self, path: &str, v: &str) -> Option<MilliCpu> {
        self.positive(path, v, MilliCpu::parse)
    }
    fn bytes(&mut self, path: &str, v: &str) -> Option<Bytes> {
        self.positive(path, v, Bytes::parse)
    }
    fn image(&mut self, path: &str, v: &str) {
        if let Err(why) = check_image(v) {
            self.err(path, why);
        }
    }
    fn url(&mut self, path: &str, v: &str) {
        let rest = v
            .strip_prefix("https://")
            .or_else(|| v.strip_prefix("http://"));
        match rest {
            Some(r) => {
                let host = r.split(['/', ':']).next().unwrap_or_default();
                if let Err(why) = check_dns_subdomain(host) {
                    self.err(path, format!("`{v}` has an invalid host: {why}"));
                }
            }
            None => self.err(path, format!("`{v}` must start with https:// or http://")),
        }
    }
    fn percent(&mut self, path: &str, v: u32) {
        if !(1..=100).contains(&v) {
            self.err(
                path,
                format!("must be between 1 and 100 (percent), found {v}"),
            );
        }
    }
}

/// Checks an RFC 1123 label (namespace, instance and object names).
pub fn check_dns_label(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err("it is empty".into());
    }
    if v.len() > 63 {
        return Err(format!(
            "it has {} characters, at most 63 are allowed",
            v.len()
        ));
    }
    if let Some(c) = v
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "`{c}` is not allowed; use lowercase letters, digits and `-`"
        ));
    }
    if v.starts_with('-') || v.ends_with('-') {
        return Err("it must start and end with a letter or digit".into());
    }
    Ok(())
}

/// Checks an RFC 1123 subdomain (domains, class names).
pub fn check_dns_subdomain(v: &str) -> Result<(), String> {
    if v.len() > 253 {
        return Err(format!(
            "it has {} characters, at most 253 are allowed",
            v.len()
        ));
    }
    v.split('.').try_for_each(check_dns_label)
}

/// A PostHog release name: `YYYY.MM.DD-<commit>`, the date and (at least 7 hex digits of) the
/// commit of its app image.
pub fn check_release_name(v: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "`{v}` is not a PostHog release name: write `YYYY.MM.DD-<commit>`, the date and at least 7 hex digits of the commit of the app image (example: 2026.02.12-86d6812)"
        )
    };
    let (date, commit) = v.split_once('-').ok_or_else(bad)?;
    let parts: Vec<&str> = date.split('.').collect();
    let date_ok = matches!(parts.as_slice(), [y, m, d]
        if y.len() == 4 && m.len() == 2 && d.len() == 2
            && [y, m, d].iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
            && (1..=12).contains(&m.parse::<u8>().unwrap_or(0))
            && (1..=31).contains(&d.parse::<u8>().unwrap_or(0)));
    let commit_ok = (7..=40).contains(&commit.len())
        && commit
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if date_ok && commit_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Checks an image reference: `[registry/]repository(:tag|@sha256:<64 hex>)`, pinned, not `latest`.
pub fn check_image(v: &str) -> Result<(), String> {
    let (name, digest) = match v.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (v, None),
    };
    if let Some(d) = digest {
        let hex = d.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "`{v}`: a digest must be sha256: followed by 64 hex characters"
            ));
        }
    }
    let last = name.rsplit('/').next().unwrap_or(name);
    let tag = last.split_once(':').map(|(_, t)| t);
    if name.is_empty()
        || name.contains(char::is_whitespace)
        || name
            .chars()
            .any(|c| c.is_ascii_uppercase() && !name.contains(':'))
    {
        return Err(format!(
            "`{v}` is not an image reference (example: ghcr.io/org/app:1.2.3)"
        ));
    }
    match (tag, digest) {
        (Some("latest"), None) => Err(format!(
            "`{v}` uses the `latest` tag; pin a version tag or a digest so re-runs deploy the same image"
        )),
        (None, None) => Err(format!("`{v}` has no tag; pin a version tag or a digest")),
        (Some(""), _) => Err(format!("`{v}` has an empty tag")),
        _ => Ok(()),
    }
}

fn resources(
    ctx: &mut Ctx,
    path: &str,
    r: Option<&ResourceListOptions>,
) -> (Option<MilliCpu>, Option<Bytes>) {
    let Some(r) = r else { return (None, None) };
    (
        r.cpu
            .as_ref()
            .map(|q| q.0.as_str())
            .and_then(|c| ctx.cpu(&format!("{path}.cpu"), c)),
        r.memory
            .as_ref()
            .map(|q| q.0.as_str())
            .and_then(|m| ctx.bytes(&format!("{path}.memory"), m)),
    )
}

/// A component override's `maxReplicas` below its `replicas`: checked when a file is
/// resolved and again when a stack is built from a configuration changed since.
pub fn replica_bounds(
    component: &str,
    replicas: Option<u32>,
    max_replicas: Option<u32>,
) -> Option<Diagnostic> {
    let (r, m) = (replicas?, max_replicas?);
    (m < r).then(|| {
        Diagnostic::at_value(
            &format!("components.{component}.maxReplicas"),
            format!("must be at least replicas ({r}), found {m}"),
        )
    })
}

/// Checks the layered options and resolves them.
pub fn resolve(o: &Options) -> Result<Config, Vec<Diagnostic>> {
    let mut ctx = Ctx { diags: Vec::new() };
    let profile = o.profile.unwrap_or(super::DEFAULT_PROFILE);
    let instance = o.instance.clone().unwrap_or_else(|| "voice".into());
    ctx.dns_label("instance", &instance);

    let ns = o.namespaces.clone().unwrap_or_default();
    let namespaces = Namespaces {
        posthog: ns.posthog.unwrap_or_else(|| "posthog".into()),
        app: ns.app.unwrap_or_else(|| "voiceassistant-prod".into()),
        infra: ns.infra.unwrap_or_else(|| "voiceassistant-infra".into()),
    };
    ctx.dns_label("namespaces.posthog", &namespaces.posthog);
    ctx.dns_label("namespaces.app", &namespaces.app);
    ctx.dns_label("namespaces.infra", &namespaces.infra);

    let img = o.images.clone().unwrap_or_default();
    if let Some(r) = &img.registry {
        let host = r.split(':').next().unwrap_or_default();
        ctx.dns_subdomain("images.registry", host);
    }
    if let Some(repo) = &img.model_router
        && (repo.contains('@') || repo.rsplit('/').next().is_some_and(|l| l.contains(':')))
    {
        ctx.err("images.modelRouter", format!("`{repo}` must be a repository without tag; set the tag with components.model-router.image"));
    }
    let pull_secrets = super::identity::pull_secrets(
        &mut ctx.diags,
        img.pull_secrets.as_deref().unwrap_or_default(),
    );
    let images = Images {
        registry: img.registry,
        pull_policy: img.pull_policy.unwrap_or(PullPolicy::IfNotPresent),
        model_router: img.model_router,
        pull_secrets,
    };

    let ph = o.posthog.clone().unwrap_or_default();
    let mode = ph.mode.unwrap_or(PosthogMode::SelfHosted);
    let posthog = match mode {
        PosthogMode::SelfHosted => {
            let domain = ph
                .domain
                .clone()
                .unwrap_or_else(|| "posthog.example.com".into());
            ctx.dns_subdomain("posthog.domain", &domain);
            let site_url = ph
                .site_url
                .clone()
                .unwrap_or_else(|| format!("https://{domain}"));
            if ph.site_url.is_some() {
                ctx.url("posthog.siteUrl", &site_url);
            }
            if let Some(v) = &ph.version
                && let Err(why) = check_release_name(v)
            {
                ctx.err("posthog.version", why);
            }
            if let Some(images) = &ph.images {
                let mut missing = Vec::new();
                for (field, v) in [
                    ("app", &images.app),
                    ("node", &images.node),
                    ("capture", &images.capture),
                    ("featureFlags", &images.feature_flags),
                ] {
                    match v {
                        Some(v) => ctx.image(&format!("posthog.images.{field}"), v),
                        None => missing.push(field),
                    }
                }
                if !missing.is_empty() {
                    ctx.err("posthog.images", format!("a PostHog release is four images built together; set {} too, or drop posthog.images to run a release kubectl-voice knows", missing.join(", ")));
                }
                if ph.version.is_none() {
                    ctx.err("posthog.images", "name this release in posthog.version (`YYYY.MM.DD-<commit>`: the date and commit of its app image), so upgrades and downgrades can be told apart");
                }
            }
            if let Some(k) = &ph.secret_key
                && k.chars().count() < 32
            {
                ctx.err("posthog.secretKey", format!("the Django SECRET_KEY must have at least 32 characters, this one has {}; omit it to have install generate one", k.chars().count()));
            }
            if let Some(s) = &ph.existing_secret {
                ctx.dns_subdomain("posthog.existingSecret", s);
            }
            if ph.cloud.is_some() {
                ctx.err(
                    "posthog.cloud",
                    "cloud settings are only used with posthog.mode: cloud",
                );
            }
            Posthog::SelfHosted(SelfHosted {
                domain,
                site_url,
                version: ph.version.clone(),
                images: ph.images.clone(),
                secret_key: ph.secret_key.clone().map(SecretValue),
                existing_secret: ph.existing_secret.clone(),
                redis_sentinel: ph.redis.as_ref().and_then(|r| r.sentinel).unwrap_or(false),
            })
        }
        PosthogMode::Cloud => {
            let cloud = ph.cloud.clone().unwrap_or_default();
            let region = cloud.region.unwrap_or(CloudRegion::Us);
            let host = match &cloud.host {
                Some(h) => {
                    ctx.url("posthog.cloud.host", h);
                    h.trim_end_matches('/').to_string()
                }
                None => match region {
                    CloudRegion::Us => "https://us.i.posthog.com".into(),
                    CloudRegion::Eu => "https://eu.i.posthog.com".into(),
                },
            };
            if let Some(k) = &cloud.project_api_key {
                if k.starts_with("phx_") {
                    ctx.err("posthog.cloud.projectApiKey", "this is a personal API key (phx_…), which is secret; use the project API key, which starts with phc_");
                } else if !k.starts_with("phc_")
                    || k.len() < 12
                    || k.starts_with("phc_YOUR")
                    || k.contains("...")
                {
                    ctx.err("posthog.cloud.projectApiKey", "a PostHog project API key starts with `phc_` followed by the key from Project settings; placeholders are rejected");
                }
            }
            for (field, set) in [
                ("domain", ph.domain.is_some()),
                ("siteUrl", ph.site_url.is_some()),
                ("images", ph.images.is_some()),
                ("secretKey", ph.secret_key.is_some()),
            ] {
                if set && field != "domain" {
                    ctx.err(
                        &format!("posthog.{field}"),
                        "only used with posthog.mode: self-hosted",
                    );
                }
            }
            Posthog::Cloud(Cloud {
                region,
                host,
                project_api_key: cloud.project_api_key.map(SecretValue),
            })
        }
        PosthogMode::Disabled => Posthog::Disabled,
    };

    let mr = o.model_router.clone().unwrap_or_default();
    let model_router = if mr.enabled.unwrap_or(true) {
        let hpa_o = mr.hpa.clone().unwrap_or_default();
        let hpa = if hpa_o.enabled.unwrap_or(true) {
            let min = hpa_o.min_replicas.unwrap_or(3);
            let max = hpa_o.max_replicas.unwrap_or(10);
            if min == 0 {
                ctx.err("modelRouter.hpa.minReplicas", "must be at least 1");
            }
            if max < min {
                ctx.err(
                    "modelRouter.hpa.maxReplicas",
                    format!("must be at least minReplicas ({min}), found {max}"),
                );
            }
            let cpu = hpa_o.cpu_utilization.unwrap_or(70);
            let memory = hpa_o.memory_utilization.unwrap_or(80);
            ctx.percent("modelRouter.hpa.cpuUtilization", cpu);
            ctx.percent("modelRouter.hpa.memoryUtilization", memory);
            Some(Hpa {
                min,
                max,
                cpu,
                memory,
            })
        } else {
            None
        };
        let replicas = mr.replicas.unwrap_or(hpa.map_or(1, |h| h.min));
        if replicas == 0 {
            ctx.err(
                "modelRouter.replicas",
                "must be at least 1; set modelRouter.enabled: false to leave the Model Router out",
            );
        } else if let Some(h) = hpa.filter(|h| h.min <= h.max)
            && (replicas < h.min || replicas > h.max)
        {
            ctx.err(
                "modelRouter.replicas",
                format!(
                    "must lie within the HPA bounds {}–{}, found {replicas}",
                    h.min, h.max
                ),
            );
        }
        let mut providers = mr
            .providers
            .clone()
            .unwrap_or_else(|| vec![LlmProvider::Openai, LlmProvider::Anthropic]);
        providers.sort();
        providers.dedup();
        if providers.is_empty() {
            ctx.err(
                "modelRouter.providers",
                "list at least one LLM provider (openai, anthropic, zhipu, dashscope, baidu)",
            );
        }
        let db = mr.database.clone().unwrap_or_default();
        if let Some(h) = &db.host {
            ctx.dns_subdomain("modelRouter.database.host", h);
        }
        let port = db.port.unwrap_or(5432);
        if port == 0 || port > 65535 {
            ctx.err(
                "modelRouter.database.port",
                format!("must be a TCP port (1–65535), found {port}"),
            );
        }
        let name = db.name.unwrap_or_else(|| "model_router".into());
        let user = db.user.unwrap_or_else(|| "model_router".into());
        for (field, v) in [("name", &name), ("user", &user)] {
            if v.is_empty()
                || v.len() > 63
                || !v
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                || v.starts_with(|c: char| c.is_ascii_digit())
            {
                ctx.err(&format!("modelRouter.database.{field}"), format!("`{v}` is not a PostgreSQL identifier: lowercase letters, digits and `_`, not starting with a digit"));
            }
        }
        let ssl_mode = db.ssl_mode.unwrap_or_else(|| "disable".into());
        if ![
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ]
        .contains(&ssl_mode.as_str())
        {
            ctx.err("modelRouter.database.sslMode", format!("`{ssl_mode}` is not a libpq sslmode (disable, allow, prefer, require, verify-ca, verify-full)"));
        }
        if let Some(d) = &mr.domain {
            ctx.dns_subdomain("modelRouter.domain", d);
        }
        if let Some(s) = &mr.existing_secret {
            ctx.dns_subdomain("modelRouter.existingSecret", s);
        }
        Some(ModelRouter {
            replicas,
            hpa,
            providers,
            database: Database {
                external_host: db.host,
                port: u16::try_from(port).unwrap_or(5432),
                name,
                user,
                ssl_mode,
            },
            domain: mr.domain.clone(),
            existing_secret: mr.existing_secret.clone(),
        })
    } else {
        None
    };

    let cl = o.cluster.clone().unwrap_or_default();
    let node_opts = cl.nodes.clone().unwrap_or_default();
    if node_opts.is_empty() {
        ctx.err(
            "cluster.nodes",
            "list at least one node shape (count, cpu, memory)",
        );
    }
    let mut nodes = Vec::new();
    let mut total_nodes = 0u64;
    for (i, n) in node_opts.iter().enumerate() {
        let p = format!("cluster.nodes[{i}]");
        let count = n.count.unwrap_or(1);
        if count == 0 {
            ctx.err(
                &format!("{p}.count"),
                "must be at least 1; remove the entry instead",
            );
        }
        total_nodes += u64::from(count);
        let limit = super::LIMITS.cluster_nodes;
        if total_nodes > limit && total_nodes - u64::from(count) <= limit {
            ctx.err(
                &format!("{p}.count"),
                format!("the node shapes add up to more than {limit} nodes, the cluster node limit (the largest cluster Kubernetes supports)"),
            );
        }
        let cpu = match &n.cpu {
            Some(c) => ctx.cpu(&format!("{p}.cpu"), &c.0),
            None => {
                ctx.err(
                    &format!("{p}.cpu"),
                    "required: allocatable CPU per node, e.g. \"8\"",
                );
                None
            }
        };
        let memory = match &n.memory {
            Some(m) => ctx.bytes(&format!("{p}.memory"), &m.0),
            None => {
                ctx.err(
                    &format!("{p}.memory"),
                    "required: allocatable memory per node, e.g. 16Gi",
                );
                None
            }
        };
        let max_pods = n.max_pods.unwrap_or(110);
        if max_pods == 0 {
            ctx.err(&format!("{p}.maxPods"), "must be at least 1");
        }
        let name = n.name.clone().unwrap_or_else(|| "node".into());
        ctx.dns_label(&format!("{p}.name"), &name);
        let labels = n.labels.as_ref().map_or_else(BTreeMap::new, |m| {
            super::placement::labels(&mut ctx.diags, &format!("{p}.labels"), m)
        });
        let taints = n.taints.as_deref().map_or_else(Vec::new, |t| {
            super::placement::taints(&mut ctx.diags, &format!("{p}.taints"), t)
        });
        if let (Some(cpu), Some(memory)) = (cpu, memory) {
            nodes.push(NodeShape {
                name,
                count,
                cpu,
                memory,
                max_pods,
                labels,
                taints,
            });
        }
    }
    if let Some(sc) = &cl.storage_class {
        ctx.dns_subdomain("cluster.storageClass", sc);
    }
    let ingress_class = cl.ingress_class.clone().unwrap_or_else(|| "nginx".into());
    ctx.dns_subdomain("cluster.ingressClass", &ingress_class);
    let cert_issuer = cl.cert_issuer.clone().filter(|s| !s.is_empty());
    if let Some(ci) = &cert_issuer {
        ctx.dns_subdomain("cluster.certIssuer", ci);
    }

    let mut overrides = BTreeMap::new();
    for (name, c) in o.components.clone().unwrap_or_default() {
        let p = format!("components.{name}");
        ctx.diags
            .extend(replica_bounds(&name, c.replicas, c.max_replicas));
        if let Some(i) = &c.image {
            ctx.image(&format!("{p}.image"), i);
        }
        let res = c.resources.clone().unwrap_or_default();
        let requests = resources(
            &mut ctx,
            &format!("{p}.resources.requests"),
            res.requests.as_ref(),
        );
        let limits = resources(
            &mut ctx,
            &format!("{p}.resources.limits"),
            res.limits.as_ref(),
        );
        if let (Some(r), Some(l)) = (requests.0, limits.0)
            && r > l
        {
            ctx.err(
                &format!("{p}.resources.requests.cpu"),
                format!("request {r} exceeds the limit {l}"),
            );
        }
        if let (Some(r), Some(l)) = (requests.1, limits.1)
            && r > l
        {
            ctx.err(
                &format!("{p}.resources.requests.memory"),
                format!("request {r} exceeds the limit {l}"),
            );
        }
        let storage = c
            .storage
            .as_ref()
            .map(|q| q.0.as_str())
            .and_then(|s| ctx.bytes(&format!("{p}.storage"), s));
        let engine_upgrade = c.engine_upgrade.as_ref().and_then(|e| {
            check_engine_upgrade(&format!("{p}.engineUpgrade"), e)
                .map_err(|d| ctx.diags.extend(d))
                .ok()
        });
        let placement = c
            .placement
            .as_ref()
            .map(|pl| super::placement::resolve(&mut ctx.diags, &format!("{p}.placement"), pl));
        let pods = super::identity::resolve(&mut ctx.diags, &p, (&c).into());
        let external = c
            .external
            .as_ref()
            .and_then(|e| super::external::resolve(&mut ctx.diags, &format!("{p}.external"), e));
        overrides.insert(
            name,
            ComponentOverride {
                placement,
                pods: (!pods.is_unset()).then_some(pods),
                external,
                replicas: c.replicas,
                max_replicas: c.max_replicas,
                image: c.image,
                requests,
                limits,
                storage,
                engine_upgrade,
            },
        );
    }

    let monitoring = o
        .monitoring
        .as_ref()
        .and_then(|m| m.enabled)
        .unwrap_or(false);
    let placement = o.placement.as_ref().map_or_else(Default::default, |pl| {
        super::placement::resolve(&mut ctx.diags, "placement", pl)
    });
    let pods = super::identity::resolve(&mut ctx.diags, "", o.into());
    let voice_assistant = voice_assistant(&mut ctx, o.voice_assistant.as_ref());
    let istio = istio(&mut ctx, o.istio.as_ref(), voice_assistant.is_some());
    let secrets = super::secrets::resolve(&mut ctx.diags, o.secrets.as_ref());
    if ctx.diags.is_empty() {
        Ok(Config {
            profile,
            instance,
            namespaces,
            images,
            posthog,
            model_router,
            cluster: Cluster {
                nodes,
                storage_class: cl.storage_class,
                ingress_class,
                cert_issuer,
            },
            monitoring,
            overrides,
            voice_assistant,
            istio,
            placement,
            pods,
            secrets,
        })
    } else {
        Err(ctx.diags)
    }
}

fn voice_assistant(ctx: &mut Ctx, o: Option<&VoiceAssistantOptions>) -> Option<VoiceAssistant> {
    let o = o.cloned().unwrap_or_default();
    if !o.enabled.unwrap_or(true) {
        return None;
    }
    let i = o.infrastructure.clone().unwrap_or_default();
    let infra = InfraSwitches {
        nacos: i.nacos.unwrap_or(true),
        milvus: i.milvus.unwrap_or(true),
        elasticsearch: i.elasticsearch.unwrap_or(true),
        clickhouse: i.clickhouse.unwrap_or(true),
        kafka: i.kafka.unwrap_or(true),
        minio: i.minio.unwrap_or(true),
        monitoring: i.monitoring.unwrap_or(true),
        jaeger: i.jaeger.unwrap_or(true),
        otel_collector: i.otel_collector.unwrap_or(true),
    };
    let user = o.services.clone().unwrap_or_default();
    for name in user.keys() {
        if !SERVICES.contains(&name.as_str()) {
            let hint = super::shape::closest(name, SERVICES.iter().copied()).map_or_else(
                || format!("; services: {}", SERVICES.join(", ")),
                |b| format!(", did you mean `{b}`?"),
            );
            ctx.diags.push(Diagnostic::at_key(
                &format!("voiceAssistant.services.{name}"),
                format!("unknown service `{name}`{hint}"),
            ));
        }
    }
    let mut services = BTreeMap::new();
    for name in SERVICES {
        let s = user.get(name).cloned().unwrap_or_default();
        let enabled = s.enabled.unwrap_or(true);
        let on = s.blue_green.unwrap_or(false);
        for (key, set) in [
            ("activeColor", s.active_color.is_some()),
            ("colorImages", s.color_images.is_some()),
            ("standby", s.standby.is_some()),
        ] {
            if set && !on {
                ctx.err(
                    &format!("voiceAssistant.services.{name}.{key}"),
                    "only used with blueGreen: true",
                );
            }
        }
        let images: Vec<(Color, String)> = s
            .color_images
            .iter()
            .flat_map(|i| [(Color::Blue, &i.blue), (Color::Green, &i.green)])
            .filter_map(|(c, v)| Some((c, v.clone()?)))
            .collect();
        for (c, v) in &images {
            ctx.image(
                &format!("voiceAssistant.services.{name}.colorImages.{}", c.as_str()),
                v,
            );
        }
        let blue_green = on.then(|| BlueGreen {
            active: s.active_color.unwrap_or(Color::Blue),
            images,
            standby: s.standby.unwrap_or(true),
        });
        if enabled {
            for need in required_infra(name) {
                if !infra.get(*need) {
                    ctx.err(
                        &format!("voiceAssistant.infrastructure.{}", need.key()),
                        format!("{name} needs {}; turn it on, or set voiceAssistant.services.{name}.enabled: false", need.label()),
                    );
                }
            }
        }
        services.insert(
            name.to_string(),
            VaService {
                enabled,
                blue_green,
            },
        );
    }
    if infra.jaeger && !infra.elasticsearch {
        ctx.err(
            "voiceAssistant.infrastructure.jaeger",
            "Jaeger stores spans in Elasticsearch; turn elasticsearch on or jaeger off",
        );
    }
    if infra.milvus && !infra.minio {
        ctx.err(
            "voiceAssistant.infrastructure.milvus",
            "Milvus keeps its segments in the shared MinIO; turn minio on or milvus off",
        );
    }
    let image_repository = o
        .image_repository
        .clone()
        .unwrap_or_else(|| "ghcr.io/voiceassistant".into());
    if image_repository.contains('@')
        || image_repository
            .rsplit('/')
            .next()
            .is_some_and(|l| l.contains(':'))
        || image_repository.is_empty()
    {
        ctx.err("voiceAssistant.imageRepository", format!("`{image_repository}` must be a registry and organisation without tag, e.g. ghcr.io/voiceassistant"));
    }
    let image_tag = o.image_tag.clone().unwrap_or_else(|| "1.0.0".into());
    if let Err(why) = check_image(&format!("{image_repository}/x:{image_tag}")) {
        ctx.err("voiceAssistant.imageTag", why);
    }
    Some(VoiceAssistant {
        reference_scale: o.replicas.unwrap_or(ReplicaMode::Reference) == ReplicaMode::Reference,
        image_repository,
        image_tag,
        infra,
        services,
    })
}

fn istio(ctx: &mut Ctx, o: Option<&IstioOptions>, platform: bool) -> Option<Istio> {
    let o = o.cloned().unwrap_or_default();
    if !o.enabled.unwrap_or(false) {
        return None;
    }
    if !platform {
        ctx.err(
            "istio.enabled",
            "Istio routes the VoiceAssistant platform; enable voiceAssistant or turn istio off",
        );
    }
    let g = o.gateway.clone().unwrap_or_default();
    let host = |ctx: &mut Ctx, field: &str, v: Option<String>, d: &str| {
        let v = v.unwrap_or_else(|| d.into());
        ctx.dns_subdomain(&format!("istio.gateway.{field}"), &v);
        v
    };
    let api_host = host(ctx, "apiHost", g.api_host, "api.voiceassistant.com");
    let ws_host = host(ctx, "wsHost", g.ws_host, "ws.voiceassistant.com");
    let grpc_host = host(ctx, "grpcHost", g.grpc_host, "grpc.voiceassistant.com");
    let tls_secret = host(ctx, "tlsSecret", g.tls_secret, "voiceassistant-tls-cert");
    let j = o.jwt.clone().unwrap_or_default();
    let jwt_issuer = j
        .issuer
        .unwrap_or_else(|| "https://identity.voiceassistant.com".into());
    ctx.url("istio.jwt.issuer", &jwt_issuer);
    let jwks_uri = j
        .jwks_uri
        .unwrap_or_else(|| format!("{}/.well-known/jwks.json", jwt_issuer.trim_end_matches('/')));
    ctx.url("istio.jwt.jwksUri", &jwks_uri);
    if !jwks_uri.starts_with("https://") {
        ctx.err(
            "istio.jwt.jwksUri",
            "the JWKS must be fetched over https://",
        );
    }
    let audiences = j.audiences.unwrap_or_else(|| {
        vec![
            "voiceassistant-api".into(),
            "voiceassistant-web".into(),
            "voiceassistant-mobile".into(),
        ]
    });
    if audiences.is_empty() || audiences.iter().any(String::is_empty) {
        ctx.err(
            "istio.jwt.audiences",
            "list at least one non-empty audience",
        );
    }
    let sampling_percent = o
        .tracing
        .as_ref()
        .and_then(|t| t.sampling_percent)
        .unwrap_or(10.0);
    if !(0.0..=100.0).contains(&sampling_percent) {
        ctx.err(
            "istio.tracing.samplingPercent",
            format!("must be between 0 and 100 (percent), found {sampling_percent}"),
        );
    }
    let rl = o.rate_limit.clone().unwrap_or_default();
    let rate_limit_per_minute = if rl.enabled.unwrap_or(true) {
        let n = rl.requests_per_minute.unwrap_or(1000);
        if n == 0 {
            ctx.err(
                "istio.rateLimit.requestsPerMinute",
                "must be at least 1; set enabled: false to drop the limit",
            );
        }
        Some(n)
    } else {
        None
    };
    Some(Istio {
        strict_mtls: o.mtls.unwrap_or(MtlsMode::Strict) == MtlsMode::Strict,
        api_host,
        ws_host,
        grpc_host,
        tls_secret,
        jwt_issuer,
        jwks_uri,
        audiences,
        sampling_percent,
        rate_limit_per_minute,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images() {
        assert!(check_image("posthog/posthog:1.43.0").is_ok());
        assert!(check_image("ghcr.io/posthog/posthog/capture@sha256:8647544700000000000000000000000000000000000000000000000000000000").is_ok());
        assert!(check_image("localhost:5000/app:1").is_ok());
        assert!(check_image("posthog/posthog:latest").is_err());
        assert!(check_image("posthog/posthog").is_err());
        assert!(check_image("localhost:5000/app").is_err());
        assert!(check_image("a@sha256:12").is_err());
    }

    #[test]
    fn dns() {
        assert!(check_dns_label("voiceassistant-prod").is_ok());
        assert!(check_dns_label("Voice").is_err());
        assert!(check_dns_label("-a").is_err());
        assert!(check_dns_subdomain("posthog.example.com").is_ok());
        assert!(check_dns_subdomain("posthog..com").is_err());
    }
}
