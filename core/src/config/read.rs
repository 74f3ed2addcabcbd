//! Reads the checked, layered document into [`Options`](super::Options).
//!
//! Every field of the file format is optional, and [`super::shape`] has already reported (and
//! removed) unknown keys, wrong types and values outside an enumeration. What is left to read
//! is plain: a field is absent, `null` or of its type. So the structs are read by a small
//! table per type instead of serde's derive, whose code for the 58 types of the format,
//! monomorphized over `serde_json::Value`, was an eighth of the previewer's module. A unit test
//! reads every field of the format both ways and compares.
//!
//! What the shape check cannot see, an integer outside its type's range, is reported here with
//! the field's path.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::Diagnostic;
use super::options::*;

/// Where a value sits in the document; the path is written out only for a diagnostic.
#[derive(Clone, Copy)]
pub(super) enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    fn path(&self) -> String {
        match self {
            At::Root => String::new(),
            At::Key(At::Root, k) => (*k).to_string(),
            At::Key(parent, k) => format!("{}.{k}", parent.path()),
            At::Index(parent, i) => format!("{}[{i}]", parent.path()),
        }
    }
}

/// A type of the file format, read from its value in the document.
pub(super) trait Read: Sized {
    /// `None` (with a diagnostic in `errors`) when `value` is not one of this type.
    fn read(value: Value, at: At, errors: &mut Vec<Diagnostic>) -> Option<Self>;
}

fn wrong<T>(at: At, what: &str, value: &Value, errors: &mut Vec<Diagnostic>) -> Option<T> {
    errors.push(Diagnostic::at_value(
        &at.path(),
        format!("expected {what}, found {value}"),
    ));
    None
}

/// The optional field `key` of `map`: absent and `null` are both `None`.
fn field<T: Read>(
    map: &mut Map<String, Value>,
    key: &str,
    at: At,
    errors: &mut Vec<Diagnostic>,
) -> Option<T> {
    match map.remove(key)? {
        Value::Null => None,
        v => T::read(v, At::Key(&at, key), errors),
    }
}

impl Read for String {
    fn read(value: Value, at: At, errors: &mut Vec<Diagnostic>) -> Option<Self> {
        match value {
            Value::String(s) => Some(s),
            other => wrong(at, "a string", &other, errors),
        }
    }
}

impl Read for bool {
    fn read(value: Value, at: At, errors: &mut Vec<Diagnostic>) -> Option<Self> {
        match value {
            Value::Bool(b) => Some(b),
            other => wrong(at, "true or false", &other, errors),
        }
    }
}

impl Read for f64 {
    fn read(value: Value, at: At, errors: &mut Vec<Diagnostic>) -> Option<Self> {
        match value.as_f64() {
            Some(n) => Some(n),
            None => wrong(at, "a number", &value, errors),
        }
    }
}

/// Integers: any JSON integer that fits the type.
macro_rules! read_integer {
    ($($t:ty),*) => {$(
        impl Read for $t {
            fn read(value: Value, at: At, errors: &mut Vec<Diagnostic>) -> Option<Self> {
                let fits = match &value {
                    Value::Number(n) => n
                        .as_i64()
                        .and_then(|i| <$t>::try_from(i).ok())
                        .or_else(|| n.as_u64().and_then(|u| <$t>::try_from(u).ok())),
                    _ => None,
                };
                match fits {
                    Some(n) => Some(n),
                    None if value.is_number() => wrong(
                        at,
                        &format!("an integer from {} to {}", <$t>::MIN, <$t>::MAX),
                        &value,
                        errors,
                    ),
                    None => wrong(at, "an integer", &value, errors),
                }
            }
        }
    )*};
}
read_integer!(u32, i32, i64);

impl Read for Quantity {
    fn read(value: Value, at: At, errors: &mut Vec<Diagnostic>) -> Option<Self> {
        match Quantity::from_value(value) {
            Ok(q) => Some(q),
            Err(other) => wrong(at, Quantity::EXPECTED, &other, errors),
        }
    }
}

impl<T: Read> Read for Vec<T> {
    fn read(value: Value, at: At, errors: &mut Vec<Diagnostic>) -> Option<Self> {
        let Value::Array(items) = value else {
            return wrong(at, "a list", &value, errors);
        };
        let len = items.len();
        let read: Vec<T> = items
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| T::read(v, At::Index(&at, i), errors))
            .collect();
        (read.len() == len).then_some(read)
    }
}

impl<T: Read> Read for BTreeMap<String, T> {
    fn read(value: Value, at: At, errors: &mut Vec<Diagnostic>) -> Option<Self> {
        let Value::Object(map) = value else {
            return wrong(at, "a mapping", &value, errors);
        };
        let len = map.len();
        let read: BTreeMap<String, T> = map
            .into_iter()
            .filter_map(|(k, v)| {
                let v = T::read(v, At::Key(&at, &k), errors)?;
                Some((k, v))
            })
            .collect();
        (read.len() == len).then_some(read)
    }
}

/// A struct of optional fields, each read from its key (the serde name of the field).
macro_rules! read_struct {
    ($($t:ident { $($field:ident: $key:literal),* $(,)? })*) => {$(
        impl Read for $t {
            fn read(value: Value, at: At, errors: &mut Vec<Diagnostic>) -> Option<Self> {
                let Value::Object(mut map) = value else {
                    return wrong(at, "a mapping", &value, errors);
                };
                Some($t { $($field: field(&mut map, $key, at, errors),)* })
            }
        }
    )*};
}

/// An enumeration written as one of its names.
macro_rules! read_enum {
    ($($t:ident { $($variant:ident: $name:literal),* $(,)? })*) => {$(
        impl Read for $t {
            fn read(value: Value, at: At, errors: &mut Vec<Diagnostic>) -> Option<Self> {
                match value.as_str() {
                    $(Some($name) => Some($t::$variant),)*
                    _ => wrong(at, concat!("one of:" $(, " ", $name)*), &value, errors),
                }
            }
        }
    )*};
}

read_struct! {
    Options {
        profile: "profile", instance: "instance", namespaces: "namespaces", images: "images",
        posthog: "posthog", model_router: "modelRouter", cluster: "cluster",
        monitoring: "monitoring", components: "components", voice_assistant: "voiceAssistant",
        istio: "istio", placement: "placement", service_account: "serviceAccount",
        pod_labels: "podLabels", pod_annotations: "podAnnotations", env: "env",
        priority_class_name: "priorityClassName", secrets: "secrets",
    }
    NamespacesOptions { posthog: "posthog", app: "app", infra: "infra" }
    ImagesOptions {
        registry: "registry", pull_policy: "pullPolicy", model_router: "modelRouter",
        pull_secrets: "pullSecrets",
    }
    PosthogOptions {
        mode: "mode", domain: "domain", site_url: "siteUrl", cloud: "cloud", version: "version",
        images: "images", secret_key: "secretKey", existing_secret: "existingSecret",
        redis: "redis",
    }
    PosthogRedisOptions { sentinel: "sentinel" }
    PosthogCloudOptions { region: "region", host: "host", project_api_key: "projectApiKey" }
    PosthogImagesOptions {
        app: "app", node: "node", capture: "capture", feature_flags: "featureFlags",
    }
    ModelRouterOptions {
        enabled: "enabled", replicas: "replicas", hpa: "hpa", providers: "providers",
        database: "database", domain: "domain", existing_secret: "existingSecret",
    }
    HpaOptions {
        enabled: "enabled", min_replicas: "minReplicas", max_replicas: "maxReplicas",
        cpu_utilization: "cpuUtilization", memory_utilization: "memoryUtilization",
    }
    DatabaseOptions { host: "host", port: "port", name: "name", user: "user", ssl_mode: "sslMode" }
    ClusterOptions {
        nodes: "nodes", storage_class: "storageClass", ingress_class: "ingressClass",
        cert_issuer: "certIssuer",
    }
    NodeOptions {
        name: "name", count: "count", cpu: "cpu", memory: "memory", max_pods: "maxPods",
        labels: "labels", taints: "taints",
    }
    TaintOptions { key: "key", value: "value", effect: "effect" }
    PlacementOptions {
        node_selector: "nodeSelector", tolerations: "tolerations", affinity: "affinity",
        topology_spread: "topologySpread", allow_same_node: "allowSameNode",
    }
    TolerationOptions {
        key: "key", operator: "operator", value: "value", effect: "effect",
        toleration_seconds: "tolerationSeconds",
    }
    AffinityOptions { node_affinity: "nodeAffinity" }
    NodeAffinityOptions {
        required_during_scheduling_ignored_during_execution:
            "requiredDuringSchedulingIgnoredDuringExecution",
        preferred_during_scheduling_ignored_during_execution:
            "preferredDuringSchedulingIgnoredDuringExecution",
    }
    NodeSelectorOptions { node_selector_terms: "nodeSelectorTerms" }
    NodeSelectorTermOptions { match_expressions: "matchExpressions" }
    PreferredTermOptions { weight: "weight", preference: "preference" }
    RequirementOptions { key: "key", operator: "operator", values: "values" }
    MonitoringOptions { enabled: "enabled" }
    ComponentOptions {
        replicas: "replicas", max_replicas: "maxReplicas", image: "image",
        resources: "resources", storage: "storage", engine_upgrade: "engineUpgrade",
        placement: "placement", service_account: "serviceAccount", pod_labels: "podLabels",
        pod_annotations: "podAnnotations", env: "env",
        priority_class_name: "priorityClassName", external: "external",
    }
    SecretsOptions {
        source: "source", store: "store", remote_key: "remoteKey",
        remote_property: "remoteProperty", refresh_interval: "refreshInterval",
        optional_keys: "optionalKeys",
    }
    SecretStoreOptions { kind: "kind", name: "name" }
    ServiceAccountOptions { annotations: "annotations" }
    EnvVarOptions { name: "name", value: "value", secret_key_ref: "secretKeyRef" }
    SecretKeyRefOptions { name: "name", key: "key" }
    ExternalOptions {
        host: "host", port: "port", tls: "tls", database: "database", user: "user",
        cluster: "cluster", bucket: "bucket", region: "region", secret_ref: "secretRef",
    }
    ExternalTlsOptions { enabled: "enabled", verify: "verify" }
    SecretRefOptions { name: "name", keys: "keys" }
    EngineUpgradeOptions { stateful_set: "statefulSet", previous: "previous", serving: "serving" }
    PreviousEngineOptions { stateful_set: "statefulSet", image: "image" }
    ResourcesOptions { requests: "requests", limits: "limits" }
    ResourceListOptions { cpu: "cpu", memory: "memory" }
    VoiceAssistantOptions {
        enabled: "enabled", replicas: "replicas", image_repository: "imageRepository",
        image_tag: "imageTag", infrastructure: "infrastructure", services: "services",
    }
    InfrastructureOptions {
        nacos: "nacos", milvus: "milvus", elasticsearch: "elasticsearch",
        clickhouse: "clickhouse", kafka: "kafka", minio: "minio", monitoring: "monitoring",
        jaeger: "jaeger", otel_collector: "otelCollector",
    }
    VaServiceOptions {
        enabled: "enabled", blue_green: "blueGreen", active_color: "activeColor",
        color_images: "colorImages", standby: "standby",
    }
    ColorImages { blue: "blue", green: "green" }
    IstioOptions {
        enabled: "enabled", mtls: "mtls", gateway: "gateway", jwt: "jwt", tracing: "tracing",
        rate_limit: "rateLimit",
    }
    IstioGatewayOptions {
        api_host: "apiHost", ws_host: "wsHost", grpc_host: "grpcHost", tls_secret: "tlsSecret",
    }
    JwtOptions { issuer: "issuer", jwks_uri: "jwksUri", audiences: "audiences" }
    TracingOptions { sampling_percent: "samplingPercent" }
    RateLimitOptions { enabled: "enabled", requests_per_minute: "requestsPerMinute" }
}

read_enum! {
    ProfileName { Dev: "dev", Small: "small", Production: "production" }
    PullPolicy { IfNotPresent: "IfNotPresent", Always: "Always", Never: "Never" }
    PosthogMode { SelfHosted: "self-hosted", Cloud: "cloud", Disabled: "disabled" }
    CloudRegion { Us: "us", Eu: "eu" }
    LlmProvider {
        Openai: "openai", Anthropic: "anthropic", Zhipu: "zhipu", Dashscope: "dashscope",
        Baidu: "baidu",
    }
    TaintEffect {
        NoSchedule: "NoSchedule", PreferNoSchedule: "PreferNoSchedule", NoExecute: "NoExecute",
    }
    TolerationOperator { Equal: "Equal", Exists: "Exists" }
    SelectorOperator {
        In: "In", NotIn: "NotIn", Exists: "Exists", DoesNotExist: "DoesNotExist", Gt: "Gt",
        Lt: "Lt",
    }
    SecretsSourceName {
        Generate: "generate", Existing: "existing", ExternalSecrets: "external-secrets",
    }
    SecretStoreKind { ClusterSecretStore: "ClusterSecretStore", SecretStore: "SecretStore" }
    Serving { Current: "current", Previous: "previous" }
    ReplicaMode { Single: "single", Reference: "reference" }
    Color { Blue: "blue", Green: "green" }
    MtlsMode { Strict: "strict", Permissive: "permissive" }
}

/// Reads a whole document (the root of `voice.yaml`, layered and checked).
pub(super) fn options(document: Value, errors: &mut Vec<Diagnostic>) -> Option<Options> {
    Options::read(document, At::Root, errors)
}

/// Reads the value of the field at `path`; the first problem, if any.
pub(super) fn field_at<T: Read>(path: &str, value: Value) -> Result<T, Diagnostic> {
    let mut errors = Vec::new();
    match T::read(value, At::Key(&At::Root, path), &mut errors) {
        Some(v) if errors.is_empty() => Ok(v),
        _ => Err(errors.remove(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value for every field the schema `s` describes: the first of an enumeration, one
    /// entry of each list and mapping, and numbers that differ from field to field.
    fn every_field(s: &Value, root: &Value, n: &mut u32) -> Value {
        let s = match s.get("$ref").and_then(Value::as_str) {
            Some(r) => &root["$defs"][r.trim_start_matches("#/$defs/")],
            None => s,
        };
        *n += 1;
        if let Some(alts) = s.get("anyOf").or_else(|| s.get("oneOf")) {
            let alts = alts.as_array().unwrap();
            if let Some(c) = alts[(*n as usize) % alts.len()].get("const") {
                return c.clone();
            }
            let not_null = alts.iter().find(|a| a["type"] != "null").unwrap();
            return every_field(not_null, root, n);
        }
        let ty = match &s["type"] {
            Value::Array(ts) => ts[0].as_str().unwrap(),
            t => t.as_str().unwrap(),
        };
        match ty {
            "object" => Value::Object(match s.get("properties") {
                Some(props) => props
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, p)| (k.clone(), every_field(p, root, n)))
                    .collect(),
                None => [(
                    format!("key{n}"),
                    every_field(&s["additionalProperties"], root, n),
                )]
                .into_iter()
                .collect(),
            }),
            "array" => Value::Array(vec![every_field(&s["items"], root, n)]),
            "string" => Value::from(format!("text{n}")),
            "integer" => Value::from(*n),
            "number" => Value::from(f64::from(*n) + 0.5),
            "boolean" => Value::from(n.is_multiple_of(2)),
            other => panic!("a type the format does not use: {other}"),
        }
    }

    /// Reads `doc` both ways; their debug forms must be equal.
    fn same_as_serde(doc: Value) {
        let by_serde: Options = serde_json::from_value(doc.clone()).expect("serde reads it");
        let mut errors = Vec::new();
        let read = options(doc, &mut errors).expect("read");
        assert_eq!(errors, []);
        assert_eq!(format!("{read:?}"), format!("{by_serde:?}"));
    }

    #[test]
    fn every_field_reads_as_serde_reads_it() {
        let schema: Value = serde_json::from_str(include_str!("../../voice.shape.json")).unwrap();
        // Different starting numbers pick different names of each enumeration.
        for start in 0..6 {
            let mut n = start;
            let doc = every_field(&schema, &schema, &mut n);
            same_as_serde(doc);
        }
        for p in super::super::PROFILES {
            same_as_serde(super::super::layered(
                &serde_json::json!({ "profile": p.as_str() }),
            ));
        }
        same_as_serde(Value::Object(Map::new()));
    }

    #[test]
    fn an_integer_out_of_range_is_named_by_its_path() {
        let doc = serde_json::json!({
            "modelRouter": { "replicas": 5_000_000_000u64 },
            "cluster": { "nodes": [{ "count": 3 }, { "count": -1 }] },
        });
        let mut errors = Vec::new();
        options(doc, &mut errors);
        let got: Vec<(&str, &str)> = errors
            .iter()
            .map(|d| (d.path.as_str(), d.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "modelRouter.replicas",
                    "expected an integer from 0 to 4294967295, found 5000000000"
                ),
                (
                    "cluster.nodes[1].count",
                    "expected an integer from 0 to 4294967295, found -1"
                ),
            ]
        );
    }
}
