//! Rendering: the stack as typed Kubernetes objects ([`k8s`]), then as JSON values and
//! deterministic multi-document YAML.
//!
//! Every object carries the standard `app.kubernetes.io/*` labels. Secrets are never
//! rendered: their names and keys are part of the plan, and install creates them (or the
//! user, or the rendered ExternalSecrets, with `secrets.source`).

pub mod external_secrets;
pub mod identity;
pub mod inputs;
pub mod istio;
pub mod k8s;
pub mod network;
pub mod selection;
pub mod workload;
pub mod yaml;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use k8s::{ConfigMap, Map, Namespace, ObjectMeta, Resource, ServiceAccount, owned};
use serde::Serialize;
use serde_json::Value;

use crate::catalog::{Component, Stack, Tier};

/// The field manager and `managed-by` label value.
pub const MANAGER: &str = "kubectl-voice";

/// When an object is applied, coarsely; the plan turns stages into waves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Namespaces and cluster-scoped objects.
    Cluster,
    /// ServiceAccounts, ConfigMaps, Secrets.
    Config,
    /// Databases, caches and brokers with their Services.
    Stateful,
    /// Setup Jobs.
    Setup,
    /// Migration Jobs.
    Migration,
    /// Applications, their Services, autoscalers and disruption budgets.
    App,
    /// Ingresses, NetworkPolicies, ServiceMonitors.
    Routing,
}

/// One rendered object.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object {
    /// Owning component ("" for namespaces).
    pub component: String,
    /// apiVersion.
    pub api_version: String,
    /// kind.
    pub kind: String,
    /// metadata.name.
    pub name: String,
    /// metadata.namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Rollout stage.
    pub stage: Stage,
    /// The object itself.
    #[serde(rename = "value")]
    body: Body,
}

/// An object's content: the typed value as built, or a JSON value (custom
/// resources, and objects edited as values).
///
/// Typed objects are only ever serialized to YAML; their JSON value is the parse of that
/// YAML. So what `install` applies is exactly what `render` prints, and each Kubernetes type
/// has one serializer compiled in, not two (the previewer's WASM module is smaller).
#[derive(Clone)]
enum Body {
    Typed(Arc<dyn Manifest>),
    Value(Value),
}

/// A typed object that writes itself as YAML. (Not `Debug`: a vtable entry would compile
/// in the `Debug` code of every Kubernetes type.)
trait Manifest: Send + Sync {
    fn write_yaml(&self, out: &mut String);
    /// `metadata`, read without writing the object.
    fn metadata(&self) -> &ObjectMeta;
    /// The object as `Any`, to read a kind's own fields (`spec.replicas`).
    fn as_any(&self) -> &dyn std::any::Any;
    /// The value serde_json would build, to check the YAML round trip against.
    #[cfg(test)]
    fn direct_value(&self) -> Value;
}

impl<T: Resource + Serialize + Send + Sync + 'static> Manifest for T {
    fn write_yaml(&self, out: &mut String) {
        yaml::write(out, self);
    }
    fn metadata(&self) -> &ObjectMeta {
        Resource::metadata(self)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    #[cfg(test)]
    fn direct_value(&self) -> Value {
        serde_json::to_value(self).expect("typed objects are JSON")
    }
}

impl Body {
    fn to_value(&self) -> Cow<'_, Value> {
        match self {
            Body::Typed(m) => {
                let mut text = String::with_capacity(2048);
                m.write_yaml(&mut text);
                Cow::Owned(parse_yaml(&text))
            }
            Body::Value(v) => Cow::Borrowed(v),
        }
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Typed(m) => {
                let mut text = String::new();
                m.write_yaml(&mut text);
                f.write_str(&text)
            }
            Body::Value(v) => v.fmt(f),
        }
    }
}

/// The emitter writes YAML that this parser reads back losslessly (unit-tested for every
/// rendered object).
fn parse_yaml(text: &str) -> Value {
    crate::config::yaml::parse_value(text).unwrap_or(Value::Null)
}

impl Serialize for Body {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl PartialEq for Object {
    fn eq(&self, other: &Self) -> bool {
        (
            &self.component,
            &self.api_version,
            &self.kind,
            &self.name,
            &self.namespace,
            self.stage,
        ) == (
            &other.component,
            &other.api_version,
            &other.kind,
            &other.name,
            &other.namespace,
            other.stage,
        ) && self.value() == other.value()
    }
}

impl Object {
    fn new<T>(component: &str, stage: Stage, obj: T) -> Self
    where
        T: Resource + Serialize + Send + Sync + 'static,
    {
        let meta = obj.metadata();
        Object {
            component: component.into(),
            api_version: T::API_VERSION.into(),
            kind: T::KIND.into(),
            name: meta.name.as_deref().unwrap_or_default().to_string(),
            namespace: meta.namespace.as_deref().map(str::to_string),
            stage,
            body: Body::Typed(Arc::new(obj)),
        }
    }
    /// Wraps an untyped object (custom resources).
    pub fn from_value(component: &str, stage: Stage, value: Value) -> Self {
        let s = |p: &str| value.pointer(p).and_then(Value::as_str).map(str::to_string);
        Object {
            component: component.into(),
            api_version: s("/apiVersion").unwrap_or_default(),
            kind: s("/kind").unwrap_or_default(),
            name: s("/metadata/name").unwrap_or_default(),
            namespace: s("/metadata/namespace"),
            stage,
            body: Body::Value(value),
        }
    }
    /// The object as a JSON value (built on demand for typed objects).
    pub fn value(&self) -> Cow<'_, Value> {
        self.body.to_value()
    }
    /// `spec.replicas` of a Deployment or StatefulSet, read from the typed object without
    /// writing it (the planner reads it for every workload, on every preview edit).
    pub fn replicas(&self) -> Option<i64> {
        match &self.body {
            Body::Typed(m) => {
                let any = m.as_any();
                if let Some(d) = any.downcast_ref::<k8s::Deployment>() {
                    d.spec.as_ref()?.replicas.map(i64::from)
                } else {
                    // No other typed kind has `spec.replicas`.
                    let s = any.downcast_ref::<k8s::StatefulSet>()?;
                    s.spec.as_ref()?.replicas.map(i64::from)
                }
            }
            Body::Value(v) => v.pointer("/spec/replicas")?.as_i64(),
        }
    }
    /// One of `metadata.annotations`, read without writing the object.
    pub fn annotation(&self, key: &str) -> Option<Cow<'_, str>> {
        match &self.body {
            Body::Typed(m) => m
                .metadata()
                .annotations
                .as_ref()?
                .get(key)
                .map(|v| Cow::Borrowed(&**v)),
            Body::Value(v) => v
                .get("metadata")?
                .get("annotations")?
                .get(key)?
                .as_str()
                .map(Cow::Borrowed),
        }
    }
    /// The object as a JSON value to edit in place; the identity fields stay as they are.
    pub fn value_mut(&mut self) -> &mut Value {
        if let Body::Typed(_) = &self.body {
            self.body = Body::Value(self.body.to_value().into_owned());
        }
        match &mut self.body {
            Body::Value(v) => v,
            Body::Typed(_) => unreachable!("converted above"),
        }
    }
    /// Appends the object's YAML document (without the `---` separator).
    pub fn write_yaml(&self, out: &mut String) {
        match &self.body {
            Body::Typed(m) => m.write_yaml(out),
            Body::Value(v) => yaml::write(out, v),
        }
    }
    /// `kind/namespace/name`, for messages and diffs.
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{}/{}", self.kind, ns, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// The standard labels of a component.
pub fn labels(stack: &Stack, c: &Component) -> Map {
    let mut l = BTreeMap::from([
        ("app.kubernetes.io/name".into(), owned(&c.name)),
        (
            "app.kubernetes.io/instance".into(),
            owned(&stack.config.instance),
        ),
        ("app.kubernetes.io/component".into(), c.role.into()),
        ("app.kubernetes.io/part-of".into(), c.part_of.into()),
        ("app.kubernetes.io/version".into(), c.version().into()),
        ("app.kubernetes.io/managed-by".into(), MANAGER.into()),
    ]);
    for (k, v) in &c.labels {
        l.insert((*k).into(), owned(v));
    }
    l
}

/// The labels that select a component's pods.
pub fn selector_labels(stack: &Stack, name: &str) -> Map {
    BTreeMap::from([
        ("app.kubernetes.io/name".into(), owned(name)),
        (
            "app.kubernetes.io/instance".into(),
            owned(&stack.config.instance),
        ),
    ])
}

fn meta(stack: &Stack, c: &Component, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(owned(name)),
        namespace: Some(owned(&c.namespace)),
        labels: Some(labels(stack, c)),
        ..Default::default()
    }
}

fn namespace_labels(stack: &Stack, ns: &str) -> Map {
    let mut l = BTreeMap::from([
        (
            "app.kubernetes.io/instance".into(),
            owned(&stack.config.instance),
        ),
        ("app.kubernetes.io/managed-by".into(), MANAGER.into()),
        (
            "pod-security.kubernetes.io/enforce".into(),
            "restricted".into(),
        ),
        (
            "pod-security.kubernetes.io/enforce-version".into(),
            "latest".into(),
        ),
    ]);
    if stack.config.istio.is_some() && ns == stack.config.namespaces.app {
        l.insert("istio-injection".into(), "enabled".into());
    }
    l
}

/// The platform's cluster and namespace policies: PriorityClasses, ResourceQuota and
/// LimitRange per namespace, the platform Role and its binding, and the ClusterRole of each
/// component that reads the Kubernetes API.
fn platform_objects(stack: &Stack) -> Vec<Object> {
    use k8s::{
        ClusterRole, ClusterRoleBinding, LimitRange, LimitRangeItem, LimitRangeSpec, PolicyRule,
        PriorityClass, Quantity, ResourceQuota, ResourceQuotaSpec, Role, RoleBinding, RoleRef,
        Subject,
    };
    let mut out = Vec::new();
    let Some(_) = &stack.config.voice_assistant else {
        return out;
    };
    let base = |name: &str, ns: Option<&str>| ObjectMeta {
        name: Some(owned(name)),
        namespace: ns.map(owned),
        labels: Some(BTreeMap::from([
            (
                "app.kubernetes.io/instance".into(),
                owned(&stack.config.instance),
            ),
            ("app.kubernetes.io/part-of".into(), "voiceassistant".into()),
            ("app.kubernetes.io/managed-by".into(), MANAGER.into()),
        ])),
        ..Default::default()
    };
    for (class, value, description) in crate::catalog::voiceassistant::PRIORITY_CLASSES {
        let name =
            crate::catalog::voiceassistant::priority_class_name(&stack.config.instance, class);
        let pc = PriorityClass {
            metadata: base(&name, None),
            value,
            global_default: Some(false),
            description: Some(description.into()),
        };
        out.push(Object::new("platform", Stage::Cluster, pc));
    }
    let q = workload::quantities;
    for pol in crate::policy::policies(stack) {
        let ns = Some(pol.namespace.as_str());
        let hard = BTreeMap::from([
            (
                "requests.cpu".into(),
                Quantity(pol.quota.requests.cpu.to_string().into()),
            ),
            (
                "requests.memory".into(),
                Quantity(pol.quota.requests.memory.to_string().into()),
            ),
            (
                "limits.cpu".into(),
                Quantity(pol.quota.limits.cpu.to_string().into()),
            ),
            (
                "limits.memory".into(),
                Quantity(pol.quota.limits.memory.to_string().into()),
            ),
            (
                "persistentvolumeclaims".into(),
                Quantity(pol.quota.pvcs.to_string().into()),
            ),
        ]);
        let rq = ResourceQuota {
            metadata: base("compute-quota", ns),
            spec: Some(ResourceQuotaSpec { hard: Some(hard) }),
        };
        out.push(Object::new("platform", Stage::Config, rq));
        let l = pol.limits;
        let lr = LimitRange {
            metadata: base("limit-range", ns),
            spec: Some(LimitRangeSpec {
                limits: vec![LimitRangeItem {
                    type_: "Container".into(),
                    max: Some(q(l.max)),
                    min: Some(q(l.min)),
                    default: Some(q(l.default)),
                    default_request: Some(q(l.default_request)),
                }],
            }),
        };
        out.push(Object::new("platform", Stage::Config, lr));
    }
    let app = stack.config.namespaces.app.as_str();
    let subjects: Vec<Subject> = stack
        .components
        .iter()
        .filter(|c| c.group == crate::catalog::Group::VoiceAssistant)
        .map(|c| Subject {
            kind: "ServiceAccount".into(),
            name: owned(&c.name),
            namespace: Some(owned(&c.namespace)),
        })
        .collect();
    if !subjects.is_empty() {
        let role = Role {
            metadata: base("voiceassistant-role", Some(app)),
            rules: Some(vec![
                PolicyRule {
                    api_groups: Some(vec!["".into()]),
                    resources: Some(vec!["configmaps".into()]),
                    verbs: vec!["get".into(), "list".into(), "watch".into()],
                },
                PolicyRule {
                    api_groups: Some(vec!["".into()]),
                    resources: Some(vec!["pods".into()]),
                    verbs: vec!["get".into(), "list".into()],
                },
            ]),
        };
        out.push(Object::new("platform", Stage::Config, role));
        let rb = RoleBinding {
            metadata: base("voiceassistant-rolebinding", Some(app)),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "Role".into(),
                name: "voiceassistant-role".into(),
            },
            subjects: Some(subjects),
        };
        out.push(Object::new("platform", Stage::Config, rb));
    }
    for c in stack.components.iter().filter(|c| c.api_access) {
        let name = format!("{}-{}", stack.config.instance, c.name);
        let cr = ClusterRole {
            metadata: meta_cluster(stack, c, &name),
            rules: Some(vec![PolicyRule {
                api_groups: Some(vec!["".into()]),
                resources: Some(vec![
                    "pods".into(),
                    "services".into(),
                    "endpoints".into(),
                    "nodes".into(),
                ]),
                verbs: vec!["get".into(), "list".into(), "watch".into()],
            }]),
        };
        out.push(Object::new(&c.name, Stage::Cluster, cr));
        let crb = ClusterRoleBinding {
            metadata: meta_cluster(stack, c, &name),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "ClusterRole".into(),
                name: owned(&name),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".into(),
                name: owned(&c.name),
                namespace: Some(owned(&c.namespace)),
            }]),
        };
        out.push(Object::new(&c.name, Stage::Cluster, crb));
    }
    out
}

fn meta_cluster(stack: &Stack, c: &Component, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(owned(name)),
        labels: Some(labels(stack, c)),
        ..Default::default()
    }
}

/// A Namespace of the stack (also the one the inventory lives in when `-n` names another).
pub fn namespace(stack: &Stack, name: &str) -> Object {
    let obj = Namespace {
        metadata: ObjectMeta {
            name: Some(owned(name)),
            labels: Some(namespace_labels(stack, name)),
            ..Default::default()
        },
    };
    Object::new("", Stage::Cluster, obj)
}

/// Renders every object of the stack, in apply order within each component.
pub fn render(stack: &Stack) -> Vec<Object> {
    let mut out = Vec::new();
    render_each(stack, |o| out.push(o));
    out
}

/// Renders every object in order, handing each to `emit` as soon as it is built, so a
/// caller can write and drop objects one by one (`kubectl voice render` streams).
pub fn render_each(stack: &Stack, mut emit: impl FnMut(Object)) {
    for ns in stack.namespaces() {
        emit(namespace(stack, &ns));
    }
    platform_objects(stack).into_iter().for_each(&mut emit);
    let digests = inputs::ConfigDigests::all(stack);
    for c in &stack.components {
        let sa = ServiceAccount {
            metadata: ObjectMeta {
                annotations: identity::service_account_annotations(c),
                ..meta(stack, c, &c.name)
            },
            automount_service_account_token: Some(false),
        };
        emit(Object::new(&c.name, Stage::Config, sa));
        for cm in stack.config_maps.iter().filter(|m| m.component == c.name) {
            let obj = ConfigMap {
                metadata: meta(stack, c, &cm.name),
                data: Some(cm.data.iter().map(|(k, v)| (owned(k), owned(v))).collect()),
            };
            emit(Object::new(&c.name, Stage::Config, obj));
        }
        external_secrets::objects(stack, c)
            .into_iter()
            .for_each(&mut emit);
        let stage = match c.tier {
            Tier::Stateful => Stage::Stateful,
            Tier::Setup => Stage::Setup,
            Tier::Migration => Stage::Migration,
            Tier::App => Stage::App,
        };
        workload::objects(stack, c, stage, &digests)
            .into_iter()
            .for_each(&mut emit);
    }
    for c in &stack.components {
        network::objects(stack, c).into_iter().for_each(&mut emit);
    }
    istio::objects(stack).into_iter().for_each(&mut emit);
}

/// Joins objects into one multi-document YAML stream.
pub fn to_yaml(objects: &[Object]) -> String {
    let mut s = String::with_capacity(objects.len() * 2048);
    for o in objects {
        s.push_str("---\n");
        o.write_yaml(&mut s);
    }
    s
}

/// Groups objects per component file (`<component>.yaml`, namespaces in `namespaces.yaml`),
/// plus a `kustomization.yaml` listing them, for `render --out DIR`.
pub fn to_files(objects: &[Object]) -> Vec<(String, String)> {
    let mut files: Vec<(String, Vec<&Object>)> = Vec::new();
    for o in objects {
        let file = if o.component.is_empty() {
            "namespaces.yaml".to_string()
        } else {
            format!("{}.yaml", o.component)
        };
        match files.iter_mut().find(|(f, _)| *f == file) {
            Some((_, v)) => v.push(o),
            None => files.push((file, vec![o])),
        }
    }
    let mut out: Vec<(String, String)> = files
        .iter()
        .map(|(f, objs)| {
            (
                f.clone(),
                to_yaml(&objs.iter().map(|o| (*o).clone()).collect::<Vec<_>>()),
            )
        })
        .collect();
    let mut k = String::from(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n",
    );
    for (f, _) in &files {
        k.push_str(&format!("  - {f}\n"));
    }
    out.push(("kustomization.yaml".into(), k));
    out
}

/// Renders the objects of the stack's selection (`--only` / `--skip`): everything, or
/// the parts selected with their namespaces and policies (see [`selection`]).
pub fn selected(stack: &Stack) -> Vec<Object> {
    selection::objects(stack, render(stack))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Input;

    /// A typed object's JSON value is the parse of its YAML: for every object of every
    /// profile, that parse equals the value serde_json builds, and writing it again gives
    /// the same document.
    #[test]
    fn yaml_round_trips_to_the_json_value() {
        for p in crate::config::PROFILES {
            let stack = crate::load(&Input {
                profile: Some(p),
                ..Default::default()
            })
            .expect("profiles are valid");
            for o in render(&stack) {
                if let Body::Typed(m) = &o.body {
                    assert_eq!(*o.value(), m.direct_value(), "{}", o.id());
                }
                let (mut direct, mut via_value) = (String::new(), String::new());
                o.write_yaml(&mut direct);
                yaml::write(&mut via_value, &*o.value());
                assert_eq!(direct, via_value, "{}", o.id());
            }
        }
    }

    /// `replicas` and `annotation` read what `value` holds, for every object of every
    /// profile and of the stacks with the less common shapes (blue-green colours, a
    /// database's engine upgrade).
    #[test]
    fn typed_reads_match_the_value() {
        let sets: Vec<String> = [
            r#"components.postgres.engineUpgrade={statefulSet: postgres-17, previous: {statefulSet: postgres, image: "postgres:15.12-alpine"}, serving: previous}"#,
            "voiceAssistant.services.agent-engine.blueGreen=true",
        ]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
        let inputs = crate::config::PROFILES
            .map(|p| Input {
                profile: Some(p),
                ..Default::default()
            })
            .into_iter()
            .chain([Input {
                profile: Some(crate::config::ProfileName::Production),
                sets: &sets,
                ..Default::default()
            }]);
        for input in inputs {
            let Ok(stack) = crate::load(&input) else {
                panic!("{:?} is valid", input.sets);
            };
            for o in render(&stack) {
                let value = o.value().into_owned();
                assert_eq!(
                    o.replicas(),
                    value.pointer("/spec/replicas").and_then(Value::as_i64),
                    "{}",
                    o.id()
                );
                assert_eq!(
                    o.annotation(workload::COLOR_ROLE).as_deref(),
                    value["metadata"]["annotations"][workload::COLOR_ROLE].as_str(),
                    "{}",
                    o.id()
                );
            }
        }
    }
}
