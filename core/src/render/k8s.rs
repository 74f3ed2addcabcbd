//! The Kubernetes objects we write, as plain structs: the fields `render` sets and nothing
//! else, with k8s-openapi's type and field names so the code reads the same.
//!
//! k8s-openapi is the model for reading objects back from a cluster (`readiness`, the CLI).
//! Writing through it would also compile in the serializers of every field we never set,
//! timestamps included, which pull a date formatter into the previewer's WASM module.
//!
//! Kubernetes types declare their fields in alphabetical order and skip absent options, so the
//! YAML is byte for byte what k8s-openapi writes (the golden files pin it). The custom
//! resources (Istio's, the Prometheus operator's ServiceMonitor) keep the order of their
//! documentation; the rarer ones (Gateway, EnvoyFilter…) are written as JSON values.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeStruct, Serializer};

/// Whether a field is left out of the output: absent options are.
pub trait Absent {
    /// True when the field is not written.
    fn absent(&self) -> bool {
        false
    }
}

impl<T> Absent for Option<T> {
    fn absent(&self) -> bool {
        self.is_none()
    }
}
impl Absent for Str {}
impl Absent for i32 {}
impl Absent for i64 {}
impl Absent for u16 {}
impl Absent for u32 {}
impl<T> Absent for Vec<T> {}

/// A top-level object: its type's `apiVersion` and `kind`, and its metadata.
pub trait Resource {
    /// `apiVersion`.
    const API_VERSION: &'static str;
    /// `kind`.
    const KIND: &'static str;
    /// `metadata`.
    fn metadata(&self) -> &ObjectMeta;
}

/// Nested types: every field camelCased, absent options skipped.
macro_rules! types {
    ($( $(#[$m:meta])* pub struct $name:ident { $( $(#[$fm:meta])* pub $f:ident : $t:ty, )* } )*) => {$(
        $(#[$m])*
        #[derive(Clone, Default, serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $(
                $(#[$fm])*
                #[doc = concat!("`", stringify!($f), "`.")]
                #[serde(skip_serializing_if = "Absent::absent")]
                pub $f: $t,
            )*
        }
        impl Absent for $name {}
    )*};
}

/// Top-level types: `apiVersion` and `kind` first, then the fields under the given names.
macro_rules! resources {
    ($( $(#[$m:meta])* pub struct $name:ident ($api:literal) { $( pub $f:ident $json:literal : $t:ty, )* } )*) => {$(
        $(#[$m])*
        #[derive(Clone, Default)]
        pub struct $name {
            $( #[doc = concat!("`", $json, "`.")] pub $f: $t, )*
        }
        impl Absent for $name {}
        impl Resource for $name {
            const API_VERSION: &'static str = $api;
            const KIND: &'static str = stringify!($name);
            fn metadata(&self) -> &ObjectMeta {
                &self.metadata
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let len = 2 $( + usize::from(!self.$f.absent()) )*;
                let mut st = s.serialize_struct(stringify!($name), len)?;
                st.serialize_field("apiVersion", $api)?;
                st.serialize_field("kind", stringify!($name))?;
                $( if !self.$f.absent() {
                    st.serialize_field($json, &self.$f)?;
                } )*
                st.end()
            }
        }
    )*};
}

/// A resource quantity (`500m`, `2Gi`).
#[derive(Clone, Default)]
pub struct Quantity(pub Str);

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A port or percentage given as a number or a name.
#[derive(Clone)]
pub enum IntOrString {
    /// A number.
    Int(i32),
    /// A name or a percentage.
    String(Str),
}

impl Default for IntOrString {
    fn default() -> Self {
        IntOrString::Int(0)
    }
}

impl Absent for IntOrString {}

impl Serialize for IntOrString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrString::Int(i) => s.serialize_i32(*i),
            IntOrString::String(v) => s.serialize_str(v),
        }
    }
}

/// A string that is often a constant: label keys, protocols, policies… cost no allocation.
pub type Str = Cow<'static, str>;
/// Owned text for a model field (constants need only `.into()`).
pub fn owned(s: &str) -> Str {
    Str::Owned(s.to_string())
}

/// Owned texts for a model field.
pub fn owned_all(v: &[String]) -> Vec<Str> {
    v.iter().map(|s| owned(s)).collect()
}

/// String labels, annotations, data and selectors.
pub type Map = BTreeMap<Str, Str>;
/// Named quantities (`cpu`, `memory`, `storage`…).
pub type Quantities = BTreeMap<Str, Quantity>;

types! {
    /// `metadata`.
    pub struct ObjectMeta {
        pub annotations: Option<Map>,
        pub labels: Option<Map>,
        pub name: Option<Str>,
        pub namespace: Option<Str>,
    }
    /// A label selector.
    pub struct LabelSelector {
        pub match_labels: Option<Map>,
    }

    /// A pod template.
    pub struct PodTemplateSpec {
        pub metadata: Option<ObjectMeta>,
        pub spec: Option<PodSpec>,
    }
    /// A pod's spec.
    pub struct PodSpec {
        pub affinity: Option<Affinity>,
        pub automount_service_account_token: Option<bool>,
        pub containers: Vec<Container>,
        pub image_pull_secrets: Option<Vec<LocalObjectReference>>,
        pub init_containers: Option<Vec<Container>>,
        pub node_selector: Option<Map>,
        pub priority_class_name: Option<Str>,
        pub restart_policy: Option<Str>,
        pub security_context: Option<PodSecurityContext>,
        pub service_account_name: Option<Str>,
        pub termination_grace_period_seconds: Option<i64>,
        pub tolerations: Option<Vec<Toleration>>,
        pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
        pub volumes: Option<Vec<Volume>>,
    }
    /// An object in the same namespace, by name.
    pub struct LocalObjectReference {
        pub name: Str,
    }
    /// Scheduling constraints.
    pub struct Affinity {
        pub node_affinity: Option<NodeAffinity>,
        pub pod_anti_affinity: Option<PodAntiAffinity>,
    }
    /// Rules on the node's labels.
    pub struct NodeAffinity {
        pub preferred_during_scheduling_ignored_during_execution:
            Option<Vec<PreferredSchedulingTerm>>,
        pub required_during_scheduling_ignored_during_execution: Option<NodeSelector>,
    }
    /// Terms of which a node must match one.
    pub struct NodeSelector {
        pub node_selector_terms: Vec<NodeSelectorTerm>,
    }
    /// Expressions a node must all match.
    pub struct NodeSelectorTerm {
        pub match_expressions: Option<Vec<NodeSelectorRequirement>>,
    }
    /// One expression on a node label.
    pub struct NodeSelectorRequirement {
        pub key: Str,
        pub operator: Str,
        pub values: Option<Vec<Str>>,
    }
    /// A preferred term and its weight.
    pub struct PreferredSchedulingTerm {
        pub preference: NodeSelectorTerm,
        pub weight: i32,
    }
    /// Pods this pod must not share a topology domain with.
    pub struct PodAntiAffinity {
        pub required_during_scheduling_ignored_during_execution: Option<Vec<PodAffinityTerm>>,
    }
    /// Pods selected by label, in one topology domain.
    pub struct PodAffinityTerm {
        pub label_selector: Option<LabelSelector>,
        pub topology_key: Str,
    }
    /// A taint the pod tolerates.
    pub struct Toleration {
        pub effect: Option<Str>,
        pub key: Option<Str>,
        pub operator: Option<Str>,
        pub toleration_seconds: Option<i64>,
        pub value: Option<Str>,
    }
    /// How pods spread over a topology.
    pub struct TopologySpreadConstraint {
        pub label_selector: Option<LabelSelector>,
        pub max_skew: i32,
        pub topology_key: Str,
        pub when_unsatisfiable: Str,
    }
    /// The pod's security context.
    pub struct PodSecurityContext {
        pub fs_group: Option<i64>,
        pub run_as_group: Option<i64>,
        pub run_as_non_root: Option<bool>,
        pub run_as_user: Option<i64>,
        pub seccomp_profile: Option<SeccompProfile>,
    }
    /// A seccomp profile.
    pub struct SeccompProfile {
        #[serde(rename = "type")]
        pub type_: Str,
    }
    /// A container.
    pub struct Container {
        pub args: Option<Vec<Str>>,
        pub command: Option<Vec<Str>>,
        pub env: Option<Vec<EnvVar>>,
        pub env_from: Option<Vec<EnvFromSource>>,
        pub image: Option<Str>,
        pub image_pull_policy: Option<Str>,
        pub lifecycle: Option<Lifecycle>,
        pub liveness_probe: Option<Probe>,
        pub name: Str,
        pub ports: Option<Vec<ContainerPort>>,
        pub readiness_probe: Option<Probe>,
        pub resources: Option<ResourceRequirements>,
        pub security_context: Option<SecurityContext>,
        pub startup_probe: Option<Probe>,
        pub volume_mounts: Option<Vec<VolumeMount>>,
    }
    /// A container port.
    pub struct ContainerPort {
        pub container_port: i32,
        pub name: Option<Str>,
        pub protocol: Option<Str>,
    }
    /// An environment variable.
    pub struct EnvVar {
        pub name: Str,
        pub value: Option<Str>,
        pub value_from: Option<EnvVarSource>,
    }
    /// Where an environment variable's value comes from.
    pub struct EnvVarSource {
        pub config_map_key_ref: Option<ConfigMapKeySelector>,
        pub secret_key_ref: Option<SecretKeySelector>,
    }
    /// A ConfigMap key.
    pub struct ConfigMapKeySelector {
        pub key: Str,
        pub name: Str,
    }
    /// A Secret key.
    pub struct SecretKeySelector {
        pub key: Str,
        pub name: Str,
        pub optional: Option<bool>,
    }
    /// Environment from a whole ConfigMap or Secret.
    pub struct EnvFromSource {
        pub config_map_ref: Option<ConfigMapEnvSource>,
        pub secret_ref: Option<SecretEnvSource>,
    }
    /// A ConfigMap as environment.
    pub struct ConfigMapEnvSource {
        pub name: Str,
    }
    /// A Secret as environment.
    pub struct SecretEnvSource {
        pub name: Str,
    }
    /// Requests and limits.
    pub struct ResourceRequirements {
        pub limits: Option<Quantities>,
        pub requests: Option<Quantities>,
    }
    /// A liveness, readiness or startup probe.
    pub struct Probe {
        pub exec: Option<ExecAction>,
        pub failure_threshold: Option<i32>,
        pub http_get: Option<HTTPGetAction>,
        pub initial_delay_seconds: Option<i32>,
        pub period_seconds: Option<i32>,
        pub tcp_socket: Option<TCPSocketAction>,
        pub timeout_seconds: Option<i32>,
    }
    /// A command probe.
    pub struct ExecAction {
        pub command: Option<Vec<Str>>,
    }
    /// An HTTP GET probe.
    pub struct HTTPGetAction {
        pub path: Option<Str>,
        pub port: IntOrString,
    }
    /// A TCP probe.
    pub struct TCPSocketAction {
        pub port: IntOrString,
    }
    /// Lifecycle hooks.
    pub struct Lifecycle {
        pub pre_stop: Option<LifecycleHandler>,
    }
    /// A lifecycle hook.
    pub struct LifecycleHandler {
        pub sleep: Option<SleepAction>,
    }
    /// A sleep hook.
    pub struct SleepAction {
        pub seconds: i64,
    }
    /// The container's security context.
    pub struct SecurityContext {
        pub allow_privilege_escalation: Option<bool>,
        pub capabilities: Option<Capabilities>,
        pub read_only_root_filesystem: Option<bool>,
        pub run_as_non_root: Option<bool>,
    }
    /// Linux capabilities.
    pub struct Capabilities {
        pub drop: Option<Vec<Str>>,
    }
    /// A volume mount.
    pub struct VolumeMount {
        pub mount_path: Str,
        pub name: Str,
        pub read_only: Option<bool>,
        pub sub_path: Option<Str>,
    }
    /// A pod volume.
    pub struct Volume {
        pub config_map: Option<ConfigMapVolumeSource>,
        pub empty_dir: Option<EmptyDirVolumeSource>,
        pub name: Str,
        pub persistent_volume_claim: Option<PersistentVolumeClaimVolumeSource>,
    }
    /// A ConfigMap volume.
    pub struct ConfigMapVolumeSource {
        pub name: Str,
    }
    /// A scratch volume.
    pub struct EmptyDirVolumeSource {
        pub size_limit: Option<Quantity>,
    }
    /// A claim mounted by name.
    pub struct PersistentVolumeClaimVolumeSource {
        pub claim_name: Str,
    }
    /// A claim's spec.
    pub struct PersistentVolumeClaimSpec {
        pub access_modes: Option<Vec<Str>>,
        pub resources: Option<VolumeResourceRequirements>,
        pub storage_class_name: Option<Str>,
    }
    /// A claim's requested storage.
    pub struct VolumeResourceRequirements {
        pub requests: Option<Quantities>,
    }
    /// A Service's spec.
    pub struct ServiceSpec {
        #[serde(rename = "clusterIP")]
        pub cluster_ip: Option<Str>,
        pub ports: Option<Vec<ServicePort>>,
        pub publish_not_ready_addresses: Option<bool>,
        pub selector: Option<Map>,
        pub session_affinity: Option<Str>,
        pub session_affinity_config: Option<SessionAffinityConfig>,
        #[serde(rename = "type")]
        pub type_: Option<Str>,
    }
    /// A Service port.
    pub struct ServicePort {
        pub name: Option<Str>,
        pub port: i32,
        pub protocol: Option<Str>,
        pub target_port: Option<IntOrString>,
    }
    /// Session affinity settings.
    pub struct SessionAffinityConfig {
        #[serde(rename = "clientIP")]
        pub client_ip: Option<ClientIPConfig>,
    }
    /// Client-IP affinity.
    pub struct ClientIPConfig {
        pub timeout_seconds: Option<i32>,
    }
    /// A quota's spec.
    pub struct ResourceQuotaSpec {
        pub hard: Option<Quantities>,
    }
    /// A LimitRange's spec.
    pub struct LimitRangeSpec {
        pub limits: Vec<LimitRangeItem>,
    }
    /// One LimitRange entry.
    pub struct LimitRangeItem {
        pub default: Option<Quantities>,
        pub default_request: Option<Quantities>,
        pub max: Option<Quantities>,
        pub min: Option<Quantities>,
        #[serde(rename = "type")]
        pub type_: Str,
    }

    /// A Deployment's spec.
    pub struct DeploymentSpec {
        pub replicas: Option<i32>,
        pub revision_history_limit: Option<i32>,
        pub selector: LabelSelector,
        pub strategy: Option<DeploymentStrategy>,
        pub template: PodTemplateSpec,
    }
    /// How a Deployment rolls.
    pub struct DeploymentStrategy {
        pub rolling_update: Option<RollingUpdateDeployment>,
        #[serde(rename = "type")]
        pub type_: Option<Str>,
    }
    /// Rolling update bounds.
    pub struct RollingUpdateDeployment {
        pub max_surge: Option<IntOrString>,
        pub max_unavailable: Option<IntOrString>,
    }
    /// A StatefulSet's spec.
    pub struct StatefulSetSpec {
        pub pod_management_policy: Option<Str>,
        pub replicas: Option<i32>,
        pub selector: LabelSelector,
        pub service_name: Option<Str>,
        pub template: PodTemplateSpec,
        pub volume_claim_templates: Option<Vec<PersistentVolumeClaim>>,
    }
    /// A Job's spec.
    pub struct JobSpec {
        pub active_deadline_seconds: Option<i64>,
        pub backoff_limit: Option<i32>,
        pub template: PodTemplateSpec,
    }

    /// An autoscaler's spec.
    pub struct HorizontalPodAutoscalerSpec {
        pub behavior: Option<HorizontalPodAutoscalerBehavior>,
        pub max_replicas: i32,
        pub metrics: Option<Vec<MetricSpec>>,
        pub min_replicas: Option<i32>,
        pub scale_target_ref: CrossVersionObjectReference,
    }
    /// Scaling speed up and down.
    pub struct HorizontalPodAutoscalerBehavior {
        pub scale_down: Option<HPAScalingRules>,
        pub scale_up: Option<HPAScalingRules>,
    }
    /// Scaling rules in one direction.
    pub struct HPAScalingRules {
        pub policies: Option<Vec<HPAScalingPolicy>>,
        pub stabilization_window_seconds: Option<i32>,
    }
    /// One scaling step.
    pub struct HPAScalingPolicy {
        pub period_seconds: i32,
        #[serde(rename = "type")]
        pub type_: Str,
        pub value: i32,
    }
    /// The scaled workload.
    pub struct CrossVersionObjectReference {
        pub api_version: Option<Str>,
        pub kind: Str,
        pub name: Str,
    }
    /// A scaling metric.
    pub struct MetricSpec {
        pub resource: Option<ResourceMetricSource>,
        #[serde(rename = "type")]
        pub type_: Str,
    }
    /// A resource metric.
    pub struct ResourceMetricSource {
        pub name: Str,
        pub target: MetricTarget,
    }
    /// A metric's target.
    pub struct MetricTarget {
        pub average_utilization: Option<i32>,
        #[serde(rename = "type")]
        pub type_: Str,
    }
    /// A disruption budget's spec.
    pub struct PodDisruptionBudgetSpec {
        pub max_unavailable: Option<IntOrString>,
        pub min_available: Option<IntOrString>,
        pub selector: Option<LabelSelector>,
    }

    /// An RBAC rule.
    pub struct PolicyRule {
        pub api_groups: Option<Vec<Str>>,
        pub resources: Option<Vec<Str>>,
        pub verbs: Vec<Str>,
    }
    /// The role a binding grants.
    pub struct RoleRef {
        pub api_group: Str,
        pub kind: Str,
        pub name: Str,
    }
    /// Who a binding grants to.
    pub struct Subject {
        pub kind: Str,
        pub name: Str,
        pub namespace: Option<Str>,
    }

    /// An Ingress's spec.
    pub struct IngressSpec {
        pub ingress_class_name: Option<Str>,
        pub rules: Option<Vec<IngressRule>>,
        pub tls: Option<Vec<IngressTLS>>,
    }
    /// Hosts served with a certificate.
    pub struct IngressTLS {
        pub hosts: Option<Vec<Str>>,
        pub secret_name: Option<Str>,
    }
    /// One host's routes.
    pub struct IngressRule {
        pub host: Option<Str>,
        pub http: Option<HTTPIngressRuleValue>,
    }
    /// HTTP routes.
    pub struct HTTPIngressRuleValue {
        pub paths: Vec<HTTPIngressPath>,
    }
    /// One route.
    pub struct HTTPIngressPath {
        pub backend: IngressBackend,
        pub path: Option<Str>,
        pub path_type: Str,
    }
    /// A route's target.
    pub struct IngressBackend {
        pub service: Option<IngressServiceBackend>,
    }
    /// A Service target.
    pub struct IngressServiceBackend {
        pub name: Str,
        pub port: Option<ServiceBackendPort>,
    }
    /// A Service port by name or number.
    pub struct ServiceBackendPort {
        pub name: Option<Str>,
    }
    /// A NetworkPolicy's spec.
    pub struct NetworkPolicySpec {
        pub egress: Option<Vec<NetworkPolicyEgressRule>>,
        pub ingress: Option<Vec<NetworkPolicyIngressRule>>,
        pub pod_selector: Option<LabelSelector>,
        pub policy_types: Option<Vec<Str>>,
    }
    /// Allowed egress.
    pub struct NetworkPolicyEgressRule {
        pub ports: Option<Vec<NetworkPolicyPort>>,
        pub to: Option<Vec<NetworkPolicyPeer>>,
    }
    /// Allowed ingress.
    pub struct NetworkPolicyIngressRule {
        pub from: Option<Vec<NetworkPolicyPeer>>,
        pub ports: Option<Vec<NetworkPolicyPort>>,
    }
    /// A peer: pods, namespaces or addresses.
    pub struct NetworkPolicyPeer {
        pub ip_block: Option<IPBlock>,
        pub namespace_selector: Option<LabelSelector>,
        pub pod_selector: Option<LabelSelector>,
    }
    /// An address range.
    pub struct IPBlock {
        pub cidr: Str,
        pub except: Option<Vec<Str>>,
    }
    /// A port and protocol.
    pub struct NetworkPolicyPort {
        pub port: Option<IntOrString>,
        pub protocol: Option<Str>,
    }
}

types! {
    /// A ServiceMonitor's spec.
    pub struct ServiceMonitorSpec {
        pub selector: LabelSelector,
        pub namespace_selector: NamespaceSelector,
        pub endpoints: Vec<Endpoint>,
    }
    /// The namespaces a ServiceMonitor looks in.
    pub struct NamespaceSelector {
        pub match_names: Vec<Str>,
    }
    /// A scraped Service port.
    pub struct Endpoint {
        pub port: Str,
        pub path: Str,
        pub interval: Str,
    }

    /// A VirtualService's spec.
    pub struct VirtualServiceSpec {
        pub hosts: Vec<Str>,
        pub gateways: Option<Vec<Str>>,
        pub http: Vec<HTTPRoute>,
    }
    /// One HTTP route of a VirtualService.
    pub struct HTTPRoute {
        pub name: Option<Str>,
        pub r#match: Vec<HTTPMatchRequest>,
        pub route: Vec<HTTPRouteDestination>,
        pub timeout: Str,
        pub retries: HTTPRetry,
    }
    /// What a route matches: a path or a port.
    pub struct HTTPMatchRequest {
        pub uri: Option<StringMatch>,
        pub port: Option<u16>,
    }
    /// A path, exact or by prefix.
    pub struct StringMatch {
        pub exact: Option<Str>,
        pub prefix: Option<Str>,
    }
    /// Where a route sends traffic.
    pub struct HTTPRouteDestination {
        pub destination: Destination,
    }
    /// A Service host and port.
    pub struct Destination {
        pub host: Str,
        pub port: PortSelector,
    }
    /// A port number.
    pub struct PortSelector {
        pub number: u16,
    }
    /// Retries of a route.
    pub struct HTTPRetry {
        pub attempts: u32,
        pub per_try_timeout: Option<Str>,
        pub retry_on: Option<Str>,
    }

    /// A DestinationRule's spec.
    pub struct DestinationRuleSpec {
        pub host: Str,
        pub traffic_policy: TrafficPolicy,
    }
    /// Load balancing, connection pool and outlier detection.
    pub struct TrafficPolicy {
        pub load_balancer: LoadBalancerSettings,
        pub connection_pool: ConnectionPoolSettings,
        pub outlier_detection: OutlierDetection,
    }
    /// A simple policy, or hashing on a header.
    pub struct LoadBalancerSettings {
        pub consistent_hash: Option<ConsistentHashLB>,
        pub simple: Option<Str>,
    }
    /// Sticky sessions on a header.
    pub struct ConsistentHashLB {
        pub http_header_name: Str,
    }
    /// Connection limits.
    pub struct ConnectionPoolSettings {
        pub tcp: TcpSettings,
        pub http: HttpSettings,
    }
    /// TCP connection limits.
    pub struct TcpSettings {
        pub max_connections: u32,
        pub connect_timeout: Str,
    }
    /// HTTP request limits.
    pub struct HttpSettings {
        pub http1_max_pending_requests: u32,
        pub http2_max_requests: u32,
        pub max_requests_per_connection: u32,
        pub idle_timeout: Str,
    }
    /// When a host is ejected.
    pub struct OutlierDetection {
        #[serde(rename = "consecutive5xxErrors")]
        pub consecutive_5xx_errors: u32,
        pub consecutive_gateway_errors: u32,
        pub interval: Str,
        pub base_ejection_time: Str,
        pub max_ejection_percent: u32,
    }

    /// An AuthorizationPolicy's spec.
    pub struct AuthorizationPolicySpec {
        pub selector: LabelSelector,
        pub action: Str,
        pub rules: Vec<Rule>,
    }
    /// Who may call which operations.
    pub struct Rule {
        pub from: Vec<RuleFrom>,
        pub to: Vec<RuleTo>,
    }
    /// A rule's callers.
    pub struct RuleFrom {
        pub source: Source,
    }
    /// Callers by workload identity and by request token.
    pub struct Source {
        pub principals: Vec<Str>,
        pub request_principals: Option<Vec<Str>>,
    }
    /// A rule's operations.
    pub struct RuleTo {
        pub operation: Operation,
    }
    /// Ports or paths.
    pub struct Operation {
        pub ports: Option<Vec<Str>>,
        pub paths: Option<Vec<Str>>,
    }
}

resources! {
    /// A Namespace.
    pub struct Namespace("v1") {
        pub metadata "metadata": ObjectMeta,
    }
    /// A ServiceAccount.
    pub struct ServiceAccount("v1") {
        pub automount_service_account_token "automountServiceAccountToken": Option<bool>,
        pub metadata "metadata": ObjectMeta,
    }
    /// A ConfigMap.
    pub struct ConfigMap("v1") {
        pub data "data": Option<Map>,
        pub metadata "metadata": ObjectMeta,
    }
    /// A ResourceQuota.
    pub struct ResourceQuota("v1") {
        pub metadata "metadata": ObjectMeta,
        pub spec "spec": Option<ResourceQuotaSpec>,
    }
    /// A LimitRange.
    pub struct LimitRange("v1") {
        pub metadata "metadata": ObjectMeta,
        pub spec "spec": Option<LimitRangeSpec>,
    }
    /// A PersistentVolumeClaim.
    pub struct PersistentVolumeClaim("v1") {
        pub metadata "metadata": ObjectMeta,
        pub spec "spec": Option<PersistentVolumeClaimSpec>,
    }
    /// A Service.
    pub struct Service("v1") {
        pub metadata "metadata": ObjectMeta,
        pub spec "spec": Option<ServiceSpec>,
    }
    /// A Deployment.
    pub struct Deployment("apps/v1") {
        pub metadata "metadata": ObjectMeta,
        pub spec "spec": Option<DeploymentSpec>,
    }
    /// A StatefulSet.
    pub struct StatefulSet("apps/v1") {
        pub metadata "metadata": ObjectMeta,
        pub spec "spec": Option<StatefulSetSpec>,
    }
    /// A Job.
    pub struct Job("batch/v1") {
        pub metadata "metadata": ObjectMeta,
        pub spec "spec": Option<JobSpec>,
    }
    /// A HorizontalPodAutoscaler.
    pub struct HorizontalPodAutoscaler("autoscaling/v2") {
        pub metadata "metadata": ObjectMeta,
        pub spec "spec": Option<HorizontalPodAutoscalerSpec>,
    }
    /// A PodDisruptionBudget.
    pub struct PodDisruptionBudget("policy/v1") {
        pub metadata "metadata": ObjectMeta,
        pub spec "spec": Option<PodDisruptionBudgetSpec>,
    }
    /// A PriorityClass.
    pub struct PriorityClass("scheduling.k8s.io/v1") {
        pub description "description": Option<Str>,
        pub global_default "globalDefault": Option<bool>,
        pub metadata "metadata": ObjectMeta,
        pub value "value": i32,
    }
    /// A Role.
    pub struct Role("rbac.authorization.k8s.io/v1") {
        pub metadata "metadata": ObjectMeta,
        pub rules "rules": Option<Vec<PolicyRule>>,
    }
    /// A RoleBinding.
    pub struct RoleBinding("rbac.authorization.k8s.io/v1") {
        pub metadata "metadata": ObjectMeta,
        pub role_ref "roleRef": RoleRef,
        pub subjects "subjects": Option<Vec<Subject>>,
    }
    /// A ClusterRole.
    pub struct ClusterRole("rbac.authorization.k8s.io/v1") {
        pub metadata "metadata": ObjectMeta,
        pub rules "rules": Option<Vec<PolicyRule>>,
    }
    /// A ClusterRoleBinding.
    pub struct ClusterRoleBinding("rbac.authorization.k8s.io/v1") {
        pub metadata "metadata": ObjectMeta,
        pub role_ref "roleRef": RoleRef,
        pub subjects "subjects": Option<Vec<Subject>>,
    }
    /// An Ingress.
    pub struct Ingress("networking.k8s.io/v1") {
        pub metadata "metadata": ObjectMeta,
        pub spec "spec": Option<IngressSpec>,
    }
    /// A NetworkPolicy.
    pub struct NetworkPolicy("networking.k8s.io/v1") {
        pub metadata "metadata": ObjectMeta,
        pub spec "spec": Option<NetworkPolicySpec>,
    }
    /// A Prometheus operator ServiceMonitor.
    pub struct ServiceMonitor("monitoring.coreos.com/v1") {
        pub metadata "metadata": ObjectMeta,
        pub spec "spec": ServiceMonitorSpec,
    }
    /// An Istio VirtualService.
    pub struct VirtualService("networking.istio.io/v1beta1") {
        pub metadata "metadata": ObjectMeta,
        pub spec "spec": VirtualServiceSpec,
    }
    /// An Istio DestinationRule.
    pub struct DestinationRule("networking.istio.io/v1beta1") {
        pub metadata "metadata": ObjectMeta,
        pub spec "spec": DestinationRuleSpec,
    }
    /// An Istio AuthorizationPolicy.
    pub struct AuthorizationPolicy("security.istio.io/v1beta1") {
        pub metadata "metadata": ObjectMeta,
        pub spec "spec": AuthorizationPolicySpec,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_lead_with_api_version_and_kind_and_skip_absent_fields() {
        let s = Service {
            metadata: ObjectMeta {
                name: Some("web".into()),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                cluster_ip: Some("None".into()),
                type_: Some("ClusterIP".into()),
                ports: Some(vec![ServicePort {
                    port: 80,
                    target_port: Some(IntOrString::String("http".into())),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"clusterIP":"None","ports":[{"port":80,"targetPort":"http"}],"type":"ClusterIP"}}"#
        );
    }
}
