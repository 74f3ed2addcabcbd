//! The `voice.yaml` file format: every field optional, layered over an embedded profile.
//!
//! These structs are the schema (`kubectl voice schema` prints it) and nothing more: values are
//! checked and turned into the typed `Config` by `resolve.rs`.

use std::collections::BTreeMap;

#[cfg(test)]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A rollout configuration (`voice.yaml`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Options {
    /// Embedded profile this file refines: `dev` (one 4 CPU / 8 GiB node), `small` (single
    /// replicas, self-hosted PostHog) or `production` (the reference production numbers).
    pub profile: Option<ProfileName>,
    /// Release name: the `app.kubernetes.io/instance` label and the ApplySet name.
    pub instance: Option<String>,
    /// Namespaces the stack is installed into.
    pub namespaces: Option<NamespacesOptions>,
    /// Image registry and pull policy for every workload.
    pub images: Option<ImagesOptions>,
    /// PostHog: self-hosted, PostHog Cloud, or off.
    pub posthog: Option<PosthogOptions>,
    /// The Model Router (LLM routing and A/B tests through PostHog).
    pub model_router: Option<ModelRouterOptions>,
    /// The cluster the plan is sized for.
    pub cluster: Option<ClusterOptions>,
    /// Prometheus ServiceMonitors for every metrics port.
    pub monitoring: Option<MonitoringOptions>,
    /// Per-component overrides, keyed by component name (see `kubectl voice plan`).
    pub components: Option<BTreeMap<String, ComponentOptions>>,
    /// The VoiceAssistant platform: its 14 services and their infrastructure.
    pub voice_assistant: Option<VoiceAssistantOptions>,
    /// Istio service mesh resources for the platform (gateway, routes, mTLS, JWT, telemetry).
    pub istio: Option<IstioOptions>,
    /// Where every pod may run: node labels, tolerations, node affinity and spreading.
    /// `components.<name>.placement` refines it per component.
    pub placement: Option<PlacementOptions>,
    /// The ServiceAccount of every component (each has its own): its annotations, such as
    /// EKS's `eks.amazonaws.com/role-arn` or GKE's `iam.gke.io/gcp-service-account`.
    /// `components.<name>.serviceAccount` adds to them.
    pub service_account: Option<ServiceAccountOptions>,
    /// Labels on every pod. A component's `podLabels` are added, its value winning.
    pub pod_labels: Option<BTreeMap<String, String>>,
    /// Annotations on every pod. A component's `podAnnotations` are added, its value winning.
    pub pod_annotations: Option<BTreeMap<String, String>>,
    /// Environment variables of every container. A component's `env` is added, its entry
    /// winning for the same name; a variable kubectl-voice sets is refused.
    pub env: Option<Vec<EnvVarOptions>>,
    /// PriorityClass of every pod (it must exist). A component's `priorityClassName` wins.
    pub priority_class_name: Option<String>,
}

/// Profile names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ProfileName {
    /// Everything on one 4 CPU / 8 GiB node, single replicas, small requests.
    Dev,
    /// Single replicas of every component, self-hosted PostHog.
    Small,
    /// Production replicas, HPA bounds and resources.
    Production,
}

/// Namespace names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespacesOptions {
    /// Self-hosted PostHog (default `posthog`).
    pub posthog: Option<String>,
    /// Application services and the Model Router (default `voiceassistant-prod`).
    pub app: Option<String>,
    /// Shared infrastructure: databases and caches of the applications (default `voiceassistant-infra`).
    pub infra: Option<String>,
}

/// Image settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImagesOptions {
    /// Registry host that replaces the registry of every image (a mirror), e.g. `registry.example.com`.
    pub registry: Option<String>,
    /// `IfNotPresent` (default), `Always` or `Never`.
    pub pull_policy: Option<PullPolicy>,
    /// Registry and repository of the Model Router image (built by you).
    pub model_router: Option<String>,
    /// Secrets (type `kubernetes.io/dockerconfigjson`) every pod pulls its images with, by
    /// name; each must exist in every namespace of the rollout (`check` says which does not),
    /// or be made by `install --image-pull-secret`.
    pub pull_secrets: Option<Vec<String>>,
}

/// Image pull policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
pub enum PullPolicy {
    /// Pull when the image is not on the node.
    IfNotPresent,
    /// Pull every time.
    Always,
    /// Never pull.
    Never,
}

/// PostHog settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PosthogOptions {
    /// `self-hosted`, `cloud` or `disabled`.
    pub mode: Option<PosthogMode>,
    /// Public domain of self-hosted PostHog, e.g. `posthog.example.com`.
    pub domain: Option<String>,
    /// Public URL (SITE_URL); defaults to `https://<domain>`.
    pub site_url: Option<String>,
    /// PostHog Cloud settings.
    pub cloud: Option<PosthogCloudOptions>,
    /// The PostHog release to run, `YYYY.MM.DD-<commit>`: one of the releases kubectl-voice
    /// knows (default the newest; `kubectl voice plan` names it), or your own with all four
    /// `images`. A newer release runs its migrations before web, worker and plugins roll; an
    /// older one than the databases have seen is refused.
    pub version: Option<String>,
    /// Your own PostHog release: all four images, by tag or digest, named by `version`.
    pub images: Option<PosthogImagesOptions>,
    /// Django SECRET_KEY to use instead of a generated one (at least 32 characters). Prefer
    /// `existingSecret`: values here are never rendered or printed, but live in this file.
    pub secret_key: Option<String>,
    /// Name of an existing Secret holding SECRET_KEY, ENCRYPTION_SALT_KEYS and the database
    /// passwords; when set, install creates none.
    pub existing_secret: Option<String>,
    /// PostHog's Redis (`posthog-redis`).
    pub redis: Option<PosthogRedisOptions>,
}

/// PostHog's Redis layout.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PosthogRedisOptions {
    /// Three Redis nodes with Sentinel failover (`posthog-redis-node`) behind a two-replica
    /// HAProxy that keeps the `posthog-redis` Service, instead of one Redis. On in
    /// `production`, off in `dev` and `small`.
    pub sentinel: Option<bool>,
}

/// PostHog deployment mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum PosthogMode {
    /// Run PostHog in the cluster.
    SelfHosted,
    /// Use PostHog Cloud; no PostHog workloads.
    Cloud,
    /// No PostHog; the Model Router runs with POSTHOG_ENABLED=false.
    Disabled,
}

/// PostHog Cloud settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PosthogCloudOptions {
    /// `us` (default) or `eu`.
    pub region: Option<CloudRegion>,
    /// A host that overrides the region's (e.g. a reverse proxy), `https://…`.
    pub host: Option<String>,
    /// Project API key (`phc_…`). Public and write-only, but stored in the Model Router's Secret.
    pub project_api_key: Option<String>,
}

/// PostHog Cloud region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum CloudRegion {
    /// `https://us.i.posthog.com`
    Us,
    /// `https://eu.i.posthog.com`
    Eu,
}

/// The four images of one PostHog release: full references with a tag or digest; `latest`
/// and untagged references are rejected. Set all four, with `posthog.version`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PosthogImagesOptions {
    /// Django app image (web, worker, migrations).
    pub app: Option<String>,
    /// Node image (plugins).
    pub node: Option<String>,
    /// Rust capture image (capture and replay-capture).
    pub capture: Option<String>,
    /// Rust feature-flags image.
    pub feature_flags: Option<String>,
}

/// Model Router settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelRouterOptions {
    /// Deploy the Model Router (default true).
    pub enabled: Option<bool>,
    /// Replicas when the HPA is off; the initial count when it is on.
    pub replicas: Option<u32>,
    /// HorizontalPodAutoscaler bounds and targets.
    pub hpa: Option<HpaOptions>,
    /// LLM providers whose API keys go into the Secret: openai, anthropic, zhipu, dashscope, baidu.
    pub providers: Option<Vec<LlmProvider>>,
    /// Its PostgreSQL database (defaults to the in-plan PostgreSQL).
    pub database: Option<DatabaseOptions>,
    /// Public domain for its Ingress, e.g. `model-router.example.com`.
    pub domain: Option<String>,
    /// Name of an existing Secret with POSTHOG_API_KEY, DB_PASSWORD and the provider keys.
    pub existing_secret: Option<String>,
}

/// HPA settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HpaOptions {
    /// Create the HPA (default true).
    pub enabled: Option<bool>,
    /// Lower bound.
    pub min_replicas: Option<u32>,
    /// Upper bound.
    pub max_replicas: Option<u32>,
    /// Target average CPU utilization, percent of requests (1–100).
    pub cpu_utilization: Option<u32>,
    /// Target average memory utilization, percent of requests (1–100).
    pub memory_utilization: Option<u32>,
}

/// LLM providers the Model Router can call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum LlmProvider {
    /// OpenAI (OPENAI_API_KEY).
    Openai,
    /// Anthropic (ANTHROPIC_API_KEY).
    Anthropic,
    /// Zhipu (ZHIPU_API_KEY).
    Zhipu,
    /// DashScope (DASHSCOPE_API_KEY).
    Dashscope,
    /// Baidu (BAIDU_API_KEY, BAIDU_SECRET_KEY).
    Baidu,
}

/// A PostgreSQL database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatabaseOptions {
    /// External host; when unset the in-plan PostgreSQL is used.
    pub host: Option<String>,
    /// Port (default 5432).
    pub port: Option<u32>,
    /// Database name (default `model_router`).
    pub name: Option<String>,
    /// User (default `model_router`).
    pub user: Option<String>,
    /// `disable`, `require`, `verify-full`…
    pub ssl_mode: Option<String>,
}

/// The cluster the plan is sized and checked for.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterOptions {
    /// Node shapes (allocatable capacity per node).
    pub nodes: Option<Vec<NodeOptions>>,
    /// StorageClass of every PersistentVolumeClaim (unset: the cluster default).
    pub storage_class: Option<String>,
    /// IngressClass of every Ingress (default `nginx`).
    pub ingress_class: Option<String>,
    /// cert-manager ClusterIssuer for Ingress TLS (empty string: no cert-manager annotation).
    pub cert_issuer: Option<String>,
}

/// A group of identical nodes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeOptions {
    /// Label for tables (default `node`).
    pub name: Option<String>,
    /// How many nodes of this shape.
    pub count: Option<u32>,
    /// Allocatable CPU per node (`8`, `7500m`).
    pub cpu: Option<Quantity>,
    /// Allocatable memory per node (`16Gi`).
    pub memory: Option<Quantity>,
    /// Maximum pods per node (default 110).
    pub max_pods: Option<u32>,
    /// Labels of these nodes (`pool: data`), matched against nodeSelector and node affinity.
    pub labels: Option<BTreeMap<String, String>>,
    /// Taints of these nodes; only pods that tolerate a NoSchedule or NoExecute taint go there.
    pub taints: Option<Vec<TaintOptions>>,
}

/// A node taint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaintOptions {
    /// Taint key (`dedicated`).
    pub key: Option<String>,
    /// Taint value (`gpu`).
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: Option<TaintEffect>,
}

/// What a taint does to pods that do not tolerate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
pub enum TaintEffect {
    /// No new pods without a toleration.
    NoSchedule,
    /// The scheduler avoids the node (soft).
    PreferNoSchedule,
    /// No new pods, and running pods without a toleration are evicted.
    NoExecute,
}

impl TaintEffect {
    /// The name as Kubernetes writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::PreferNoSchedule => "PreferNoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        }
    }
}

/// Where pods may run (the pod fields of the same names, a typed subset).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlacementOptions {
    /// Node labels every pod's node must carry (`pool: data`). A component's keys are added
    /// to the global ones, its value winning for the same key.
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Taints the pods tolerate. A component's list replaces the global one.
    pub tolerations: Option<Vec<TolerationOptions>>,
    /// Node affinity. A component's replaces the global one.
    pub affinity: Option<AffinityOptions>,
    /// Spread replicas over nodes (`kubernetes.io/hostname`) and zones
    /// (`topology.kubernetes.io/zone`) when a workload has more than one (default true).
    pub topology_spread: Option<bool>,
    /// Let replicas of a StatefulSet share a node (default false: each on its own node).
    pub allow_same_node: Option<bool>,
}

/// A toleration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TolerationOptions {
    /// Taint key; empty with `Exists` tolerates every taint.
    pub key: Option<String>,
    /// `Equal` (default) or `Exists`.
    pub operator: Option<TolerationOperator>,
    /// Taint value, with `Equal`.
    pub value: Option<String>,
    /// The effect tolerated; unset tolerates every effect.
    pub effect: Option<TaintEffect>,
    /// With `NoExecute`: seconds the pod stays bound after the taint appears.
    pub toleration_seconds: Option<i64>,
}

/// How a toleration matches a taint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
pub enum TolerationOperator {
    /// Key and value equal.
    Equal,
    /// The key exists, whatever its value.
    Exists,
}

/// Affinity (node affinity only).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AffinityOptions {
    /// Rules about the labels of the node.
    pub node_affinity: Option<NodeAffinityOptions>,
}

/// Node affinity.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeAffinityOptions {
    /// The node must match one of these terms.
    pub required_during_scheduling_ignored_during_execution: Option<NodeSelectorOptions>,
    /// The scheduler prefers nodes matching these terms, by weight.
    pub preferred_during_scheduling_ignored_during_execution: Option<Vec<PreferredTermOptions>>,
}

/// Terms of which a node must match one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSelectorOptions {
    /// The terms, ORed.
    pub node_selector_terms: Option<Vec<NodeSelectorTermOptions>>,
}

/// Expressions a node's labels must all match.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSelectorTermOptions {
    /// The expressions, ANDed.
    pub match_expressions: Option<Vec<RequirementOptions>>,
}

/// A preferred term and its weight.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreferredTermOptions {
    /// 1–100.
    pub weight: Option<i32>,
    /// The term.
    pub preference: Option<NodeSelectorTermOptions>,
}

/// One expression on a node label.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequirementOptions {
    /// Label key.
    pub key: Option<String>,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt` or `Lt`.
    pub operator: Option<SelectorOperator>,
    /// Values: at least one for In/NotIn, none for Exists/DoesNotExist, one integer for Gt/Lt.
    pub values: Option<Vec<String>>,
}

/// Node selector operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
pub enum SelectorOperator {
    /// The label's value is one of the values.
    In,
    /// The label is absent or its value is none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
    /// The label's value, an integer, is greater than the value.
    Gt,
    /// The label's value, an integer, is less than the value.
    Lt,
}

impl SelectorOperator {
    /// The name as Kubernetes writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            SelectorOperator::In => "In",
            SelectorOperator::NotIn => "NotIn",
            SelectorOperator::Exists => "Exists",
            SelectorOperator::DoesNotExist => "DoesNotExist",
            SelectorOperator::Gt => "Gt",
            SelectorOperator::Lt => "Lt",
        }
    }
}

/// Monitoring settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MonitoringOptions {
    /// Create ServiceMonitors (needs the Prometheus operator's CRD).
    pub enabled: Option<bool>,
}

/// Overrides for one component.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComponentOptions {
    /// Replicas (minimum replicas when the component has an HPA).
    pub replicas: Option<u32>,
    /// Maximum replicas (components with an HPA).
    pub max_replicas: Option<u32>,
    /// Full image reference with a tag or digest.
    pub image: Option<String>,
    /// Resources of the main container.
    pub resources: Option<ResourcesOptions>,
    /// Size of the component's persistent volume (`20Gi`).
    pub storage: Option<Quantity>,
    /// A PostgreSQL major-version upgrade in progress or done, written by `kubectl voice
    /// upgrade-engine`: the StatefulSet that runs `image`, and the one it copied from.
    pub engine_upgrade: Option<EngineUpgradeOptions>,
    /// Where this component's pods may run, over the global `placement`.
    pub placement: Option<PlacementOptions>,
    /// Its ServiceAccount, over the global `serviceAccount`: annotations such as an IAM role
    /// for exactly this component's pods.
    pub service_account: Option<ServiceAccountOptions>,
    /// Labels on its pods, over the global `podLabels`.
    pub pod_labels: Option<BTreeMap<String, String>>,
    /// Annotations on its pods, over the global `podAnnotations`.
    pub pod_annotations: Option<BTreeMap<String, String>>,
    /// Environment variables of its containers, over the global `env`.
    pub env: Option<Vec<EnvVarOptions>>,
    /// PriorityClass of its pods, instead of the global one (or the platform's own).
    pub priority_class_name: Option<String>,
    /// Use a data service you run elsewhere (a managed database, cache, broker or bucket)
    /// instead of this in-cluster data store: its workload, claims, setup Job and share of
    /// the sizing go, and its consumers are pointed here. Claims already made are kept.
    pub external: Option<ExternalOptions>,
}

/// A component's ServiceAccount.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccountOptions {
    /// Annotations of the ServiceAccount, e.g. `eks.amazonaws.com/role-arn:
    /// arn:aws:iam::111122223333:role/posthog-s3` (IRSA) or `iam.gke.io/gcp-service-account:
    /// posthog@project.iam.gserviceaccount.com` (GKE Workload Identity). A component's keys are
    /// added to the global ones, its value winning.
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An environment variable: `value`, or `secretKeyRef` to a key of an existing Secret.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvVarOptions {
    /// Name (letters, digits, `_`, `-`, `.`; not starting with a digit).
    pub name: Option<String>,
    /// The value, as written (quote numbers and booleans: `"8080"`, `"true"`).
    pub value: Option<String>,
    /// A key of a Secret in the component's namespace; the value is never in this file.
    pub secret_key_ref: Option<SecretKeyRefOptions>,
}

/// A key of a Secret.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeyRefOptions {
    /// The Secret's name.
    pub name: Option<String>,
    /// The key.
    pub key: Option<String>,
}

/// A data service outside the cluster (`components.<store>.external`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalOptions {
    /// DNS name or IP address of the service (`db.example.internal`), as its consumers dial it.
    pub host: Option<String>,
    /// TCP port (default the engine's: PostgreSQL 5432, Redis 6379, Kafka 9092, object
    /// storage 443 with TLS, else 80). ClickHouse takes none: PostHog dials 9000, or 9440 with TLS.
    pub port: Option<u32>,
    /// TLS to the service.
    pub tls: Option<ExternalTlsOptions>,
    /// Database (PostgreSQL, ClickHouse).
    pub database: Option<String>,
    /// User (PostgreSQL, ClickHouse).
    pub user: Option<String>,
    /// ClickHouse cluster PostHog's distributed tables use (default `posthog`).
    pub cluster: Option<String>,
    /// Bucket (PostHog's object storage; default `posthog`). For the platform's (`minio`), the
    /// prefix of its buckets: `<bucket>-documents`, `<bucket>-multimodal`,
    /// `<bucket>-milvus-bucket` (default: those names without a prefix).
    pub bucket: Option<String>,
    /// Region (object storage; default `us-east-1`).
    pub region: Option<String>,
    /// An existing Secret in the consumers' namespace holding the credentials; never the
    /// values themselves. Object storage without it uses the SDK's default credential chain
    /// (workload identity through the ServiceAccount); the platform's only while none of its
    /// services that read the store runs (Milvus alone can).
    pub secret_ref: Option<SecretRefOptions>,
}

/// TLS to an external service.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalTlsOptions {
    /// Connect with TLS (default false).
    pub enabled: Option<bool>,
    /// Check the server's certificate (ClickHouse only, where PostHog has the switch; default true).
    pub verify: Option<bool>,
}

/// An existing Secret and the keys that hold each credential.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRefOptions {
    /// Secret name, in the namespace of the service's consumers.
    pub name: Option<String>,
    /// Credential → key in the Secret: `password` (PostgreSQL, Redis, ClickHouse);
    /// `accessKeyId` and `secretAccessKey` (object storage).
    pub keys: Option<BTreeMap<String, String>>,
}

/// The data StatefulSets of a database moved to a new major version by a dump and restore.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EngineUpgradeOptions {
    /// The StatefulSet running the component's image (`postgres-17`; its claims are
    /// `data-postgres-17-0`).
    pub stateful_set: Option<String>,
    /// The StatefulSet the data was copied from, kept with its image and claims for
    /// `upgrade-engine --back` until `--finalize` drops it.
    pub previous: Option<PreviousEngineOptions>,
    /// Which StatefulSet's pod the Service selects: `current` (default) or `previous`.
    pub serving: Option<Serving>,
}

/// The StatefulSet a database was copied from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreviousEngineOptions {
    /// Its name (`postgres`).
    pub stateful_set: Option<String>,
    /// The image it runs (`postgres:15.12-alpine`).
    pub image: Option<String>,
}

/// Which of a database's StatefulSets serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Serving {
    /// The StatefulSet running the component's image.
    Current,
    /// The StatefulSet the data was copied from.
    Previous,
}

impl Serving {
    /// The value as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Serving::Current => "current",
            Serving::Previous => "previous",
        }
    }
}

/// Requests and limits.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourcesOptions {
    /// What the scheduler reserves.
    pub requests: Option<ResourceListOptions>,
    /// The ceiling.
    pub limits: Option<ResourceListOptions>,
}

/// CPU and memory quantities.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceListOptions {
    /// CPU (`500m`, `2`).
    pub cpu: Option<Quantity>,
    /// Memory (`512Mi`, `2Gi`).
    pub memory: Option<Quantity>,
}

/// The VoiceAssistant platform.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VoiceAssistantOptions {
    /// Deploy the platform (default true).
    pub enabled: Option<bool>,
    /// `single` (one replica, no autoscaler or disruption budget) or `reference` (the
    /// reference replicas, HPAs and PDBs).
    pub replicas: Option<ReplicaMode>,
    /// Registry and organisation of the service images (default `ghcr.io/voiceassistant`).
    pub image_repository: Option<String>,
    /// Tag of every service image (default `1.0.0`).
    pub image_tag: Option<String>,
    /// Which infrastructure components run (PostgreSQL and Redis always do).
    pub infrastructure: Option<InfrastructureOptions>,
    /// Per-service settings, keyed by service name (`identity-service`, `agent-engine`, …).
    pub services: Option<BTreeMap<String, VaServiceOptions>>,
}

/// Replica layout of the platform services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ReplicaMode {
    /// One replica each, no HPA, no PDB.
    Single,
    /// The reference replicas, HPA bounds and PDBs.
    Reference,
}

/// Infrastructure switches.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InfrastructureOptions {
    /// Nacos configuration centre (and its MySQL).
    pub nacos: Option<bool>,
    /// Milvus vector database (and its etcd; object storage is the shared MinIO).
    pub milvus: Option<bool>,
    /// Elasticsearch (keyword retrieval, Jaeger span storage).
    pub elasticsearch: Option<bool>,
    /// ClickHouse (analytics).
    pub clickhouse: Option<bool>,
    /// Kafka in KRaft mode (events).
    pub kafka: Option<bool>,
    /// The one shared MinIO object store.
    pub minio: Option<bool>,
    /// Prometheus, Grafana and Alertmanager.
    pub monitoring: Option<bool>,
    /// Jaeger collector and query (spans stored in Elasticsearch).
    pub jaeger: Option<bool>,
    /// OpenTelemetry collector that the services export traces to.
    pub otel_collector: Option<bool>,
}

/// Settings of one platform service.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaServiceOptions {
    /// Deploy this service (default true).
    pub enabled: Option<bool>,
    /// Two colour-labelled Deployments (`<svc>-blue`, `<svc>-green`) behind one Service.
    pub blue_green: Option<bool>,
    /// The colour the Service selects (default `blue`).
    pub active_color: Option<Color>,
    /// Image of a colour's Deployment, when it differs from the service image (written by
    /// `kubectl voice switch --image`).
    pub color_images: Option<ColorImages>,
    /// The idle colour keeps its pods, ready to take traffic back (default true;
    /// `kubectl voice switch --finalize` sets false, scaling it to zero).
    pub standby: Option<bool>,
}

/// An image per blue-green colour.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ColorImages {
    /// Full image reference of the blue Deployment.
    pub blue: Option<String>,
    /// Full image reference of the green Deployment.
    pub green: Option<String>,
}

/// Blue-green colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Color {
    /// Blue.
    Blue,
    /// Green.
    Green,
}

impl Color {
    /// Both colours.
    pub const ALL: [Color; 2] = [Color::Blue, Color::Green];

    /// The other colour.
    pub fn other(self) -> Color {
        match self {
            Color::Blue => Color::Green,
            Color::Green => Color::Blue,
        }
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Color::Blue => "blue",
            Color::Green => "green",
        }
    }
}

/// Istio settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IstioOptions {
    /// Render Istio resources and label the application namespace for injection.
    pub enabled: Option<bool>,
    /// Mutual TLS in the application namespace: `strict` (default) or `permissive`.
    pub mtls: Option<MtlsMode>,
    /// The public Gateway.
    pub gateway: Option<IstioGatewayOptions>,
    /// JWT validation (RequestAuthentication).
    pub jwt: Option<JwtOptions>,
    /// Tracing.
    pub tracing: Option<TracingOptions>,
    /// Local rate limit on the orchestrator's inbound sidecar.
    pub rate_limit: Option<RateLimitOptions>,
}

/// PeerAuthentication mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum MtlsMode {
    /// Only mTLS.
    Strict,
    /// mTLS and plain text.
    Permissive,
}

/// Gateway hosts and certificate.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IstioGatewayOptions {
    /// REST API host (default `api.voiceassistant.com`).
    pub api_host: Option<String>,
    /// WebSocket host (default `ws.voiceassistant.com`).
    pub ws_host: Option<String>,
    /// gRPC host (default `grpc.voiceassistant.com`).
    pub grpc_host: Option<String>,
    /// TLS Secret in the ingress gateway's namespace (default `voiceassistant-tls-cert`).
    pub tls_secret: Option<String>,
}

/// JWT issuer settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JwtOptions {
    /// Issuer (default `https://identity.voiceassistant.com`).
    pub issuer: Option<String>,
    /// JWKS URI (default `<issuer>/.well-known/jwks.json`).
    pub jwks_uri: Option<String>,
    /// Accepted audiences.
    pub audiences: Option<Vec<String>>,
}

/// Tracing settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TracingOptions {
    /// Percentage of requests traced (0–100, default 10).
    pub sampling_percent: Option<f64>,
}

/// Local rate limit.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimitOptions {
    /// Apply it (default true).
    pub enabled: Option<bool>,
    /// Token bucket size refilled every minute (default 1000).
    pub requests_per_minute: Option<u32>,
}

/// A Kubernetes quantity as written: `500m`, `2Gi`, or a bare number (`cpu: 2`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Quantity(pub String);

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(Quantity(s)),
            serde_json::Value::Number(n) => Ok(Quantity(n.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "expected a quantity such as 500m or 2Gi, found {other}"
            ))),
        }
    }
}

#[cfg(test)]
impl JsonSchema for Quantity {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Quantity".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": ["string", "number"],
            "description": "A Kubernetes quantity: 500m, 2, 512Mi, 2Gi",
        })
    }
}
