//! Identity and metadata of a component's pods: the annotations of its ServiceAccount
//! (workload identity: an IAM role, a cloud service account), the labels and annotations of
//! its pods, extra environment variables (a value, or a key of an existing Secret), its
//! PriorityClass, and the image pull Secrets of every pod. Each is set globally and per
//! component; [`PodMeta::over`] is the one rule by which a component's settings refine the
//! global ones.
//!
//! What kubectl-voice itself writes on a pod is the user's to read, not to replace: the
//! labels its selectors use (immutable once a workload exists), the annotations it computes,
//! and the environment a program's contract needs (refused by the catalog, which knows it).

use std::collections::BTreeMap;

use serde::Serialize;

use super::Diagnostic;
use super::options::{ComponentOptions, EnvVarOptions, Options, ServiceAccountOptions};
use super::placement::{check_label_key, check_label_value};

/// The identity and metadata settings, at one level (global or one component), every field
/// optional so a component's can refine the global ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodMeta {
    /// Annotations of the ServiceAccount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_annotations: Option<BTreeMap<String, String>>,
    /// Labels on the pods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_labels: Option<BTreeMap<String, String>>,
    /// Annotations on the pods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_annotations: Option<BTreeMap<String, String>>,
    /// Environment variables of every container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    /// PriorityClass of the pods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
}

/// A checked environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvVar {
    /// Name.
    pub name: String,
    /// Where its value comes from.
    pub value: EnvSource,
    /// Where it was written (`env[0]`, `components.web.env[2]`), for later diagnostics.
    #[serde(skip)]
    pub path: String,
}

/// Where an environment variable's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EnvSource {
    /// A literal value.
    Value(String),
    /// A key of a Secret in the pod's namespace.
    SecretKeyRef {
        /// The Secret.
        name: String,
        /// The key.
        key: String,
    },
}

impl PodMeta {
    /// `self` (a component's settings) over `base` (the global ones): annotations, labels and
    /// environment merged key by key (name by name), `self` winning; the global variables keep
    /// their order, a component's new ones follow. `priorityClassName` is replaced.
    pub fn over(&self, base: &PodMeta) -> PodMeta {
        fn maps(
            b: &Option<BTreeMap<String, String>>,
            o: &Option<BTreeMap<String, String>>,
        ) -> Option<BTreeMap<String, String>> {
            match (b, o) {
                (Some(b), Some(o)) => {
                    let mut m = b.clone();
                    m.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
                    Some(m)
                }
                (b, o) => o.clone().or_else(|| b.clone()),
            }
        }
        let env = match (&base.env, &self.env) {
            (Some(b), Some(o)) => {
                let mut out: Vec<EnvVar> = b
                    .iter()
                    .map(|e| o.iter().find(|x| x.name == e.name).unwrap_or(e).clone())
                    .collect();
                out.extend(
                    o.iter()
                        .filter(|x| !b.iter().any(|e| e.name == x.name))
                        .cloned(),
                );
                Some(out)
            }
            (b, o) => o.clone().or_else(|| b.clone()),
        };
        PodMeta {
            service_account_annotations: maps(
                &base.service_account_annotations,
                &self.service_account_annotations,
            ),
            pod_labels: maps(&base.pod_labels, &self.pod_labels),
            pod_annotations: maps(&base.pod_annotations, &self.pod_annotations),
            env,
            priority_class_name: self
                .priority_class_name
                .clone()
                .or_else(|| base.priority_class_name.clone()),
        }
    }
    /// Whether nothing is set.
    pub fn is_unset(&self) -> bool {
        *self == PodMeta::default()
    }
    /// The ServiceAccount's annotations (empty when unset).
    pub fn service_account_annotations(&self) -> impl Iterator<Item = (&String, &String)> {
        self.service_account_annotations.iter().flatten()
    }
    /// The pod labels (empty when unset).
    pub fn labels(&self) -> impl Iterator<Item = (&String, &String)> {
        self.pod_labels.iter().flatten()
    }
    /// The pod annotations (empty when unset).
    pub fn annotations(&self) -> impl Iterator<Item = (&String, &String)> {
        self.pod_annotations.iter().flatten()
    }
    /// The environment variables (empty when unset).
    pub fn env(&self) -> &[EnvVar] {
        self.env.as_deref().unwrap_or_default()
    }
}

/// The settings of one level as written: the top of `voice.yaml`, or `components.<name>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PodOptions<'a> {
    /// `serviceAccount`.
    pub service_account: Option<&'a ServiceAccountOptions>,
    /// `podLabels`.
    pub pod_labels: Option<&'a BTreeMap<String, String>>,
    /// `podAnnotations`.
    pub pod_annotations: Option<&'a BTreeMap<String, String>>,
    /// `env`.
    pub env: Option<&'a [EnvVarOptions]>,
    /// `priorityClassName`.
    pub priority_class_name: Option<&'a String>,
}

impl<'a> From<&'a Options> for PodOptions<'a> {
    fn from(o: &'a Options) -> Self {
        PodOptions {
            service_account: o.service_account.as_ref(),
            pod_labels: o.pod_labels.as_ref(),
            pod_annotations: o.pod_annotations.as_ref(),
            env: o.env.as_deref(),
            priority_class_name: o.priority_class_name.as_ref(),
        }
    }
}

impl<'a> From<&'a ComponentOptions> for PodOptions<'a> {
    fn from(o: &'a ComponentOptions) -> Self {
        PodOptions {
            service_account: o.service_account.as_ref(),
            pod_labels: o.pod_labels.as_ref(),
            pod_annotations: o.pod_annotations.as_ref(),
            env: o.env.as_deref(),
            priority_class_name: o.priority_class_name.as_ref(),
        }
    }
}

/// Labels kubectl-voice writes on every pod: the selectors of its workloads, Services,
/// budgets and spread constraints use some of them, and a selector cannot change once its
/// workload exists.
pub const RENDERED_LABELS: [&str; 7] = [
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "color",
];

/// Labels the Kubernetes controllers write on the pods they make.
pub const CONTROLLER_LABELS: [&str; 8] = [
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "controller-revision-hash",
    "pod-template-hash",
    "batch.kubernetes.io/job-name",
    "batch.kubernetes.io/controller-uid",
    "job-name",
    "controller-uid",
];

/// The prefix of kubectl-voice's own labels and annotations.
pub const OWN_PREFIX: &str = "kubectl-voice.io/";

/// The prefix of the annotations that fingerprint a pod's inputs (`checksum/config`,
/// `checksum/secrets`, `checksum/service-account`).
pub const CHECKSUM_PREFIX: &str = "checksum/";

/// The most bytes of annotations one object may carry (keys and values), as the API server
/// counts them.
pub const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

/// Why a pod label key is kubectl-voice's or a controller's, if it is.
pub fn reserved_label(k: &str) -> Option<&'static str> {
    if RENDERED_LABELS.contains(&k) || k.starts_with(OWN_PREFIX) {
        Some(
            "kubectl-voice sets it, and the selectors of the component's workloads, Services and budgets use it (a selector cannot change once its workload exists)",
        )
    } else if CONTROLLER_LABELS.contains(&k) {
        Some("the Kubernetes controllers set it on the pods they make")
    } else {
        None
    }
}

/// Why a pod annotation key is kubectl-voice's, if it is.
pub fn reserved_annotation(k: &str) -> Option<&'static str> {
    (k.starts_with(OWN_PREFIX) || k.starts_with(CHECKSUM_PREFIX)).then_some(
        "kubectl-voice sets it (the checksums roll the pods when what they read changes)",
    )
}

/// Checks an environment variable name as the API server does: letters, digits, `_`, `-`
/// and `.`, not starting with a digit.
pub fn check_env_name(n: &str) -> Result<(), String> {
    if n.is_empty() {
        return Err("it is empty".into());
    }
    if let Some(c) = n
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(format!(
            "`{c}` is not allowed; use letters, digits, `_`, `-` and `.`"
        ));
    }
    if n.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("it must not start with a digit".into());
    }
    Ok(())
}

/// Checks a Secret key: at most 253 letters, digits, `-`, `_` and `.`.
pub fn check_secret_key(k: &str) -> Result<(), String> {
    if k.is_empty() {
        return Err("it is empty".into());
    }
    if k.len() > 253 {
        return Err(format!(
            "it has {} characters, at most 253 are allowed",
            k.len()
        ));
    }
    if let Some(c) = k
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "`{c}` is not allowed; use letters, digits, `-`, `_` and `.`"
        ));
    }
    if k == "." || k == ".." {
        return Err("`.` and `..` are not keys".into());
    }
    Ok(())
}

fn dns_name(diags: &mut Vec<Diagnostic>, path: &str, v: &str, what: &str) -> bool {
    match super::check_dns_subdomain(v) {
        Ok(()) => true,
        Err(why) => {
            diags.push(Diagnostic::at_value(
                path,
                format!("`{v}` is not a valid {what} name: {why}"),
            ));
            false
        }
    }
}

/// Checks annotations at `path`: keys as label keys, the total within the API server's size.
/// (The maps are kept by `retain`, not collected: a map built from an iterator compiles in a
/// sort the previewer would carry.)
fn annotations(
    diags: &mut Vec<Diagnostic>,
    path: &str,
    m: &BTreeMap<String, String>,
    reserved: fn(&str) -> Option<&'static str>,
) -> BTreeMap<String, String> {
    let size: usize = m.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > ANNOTATIONS_MAX_BYTES {
        diags.push(Diagnostic::at_value(
            path,
            format!(
                "the annotations add up to {size} bytes; Kubernetes allows {ANNOTATIONS_MAX_BYTES} per object"
            ),
        ));
    }
    let mut out = m.clone();
    out.retain(|k, _| {
        let p = format!("{path}.{k}");
        if let Err(why) = check_label_key(k) {
            diags.push(Diagnostic::at_key(
                &p,
                format!("`{k}` is not a valid Kubernetes annotation key: {why}"),
            ));
            return false;
        }
        if let Some(why) = reserved(k) {
            diags.push(Diagnostic::at_key(
                &p,
                format!("`{k}` is not yours to set: {why}"),
            ));
            return false;
        }
        true
    });
    out
}

/// Checks pod labels at `path`.
fn pod_labels(
    diags: &mut Vec<Diagnostic>,
    path: &str,
    m: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out = m.clone();
    out.retain(|k, v| {
        let p = format!("{path}.{k}");
        let mut ok = true;
        if let Err(why) = check_label_key(k) {
            diags.push(Diagnostic::at_key(
                &p,
                format!("`{k}` is not a valid Kubernetes label key: {why}"),
            ));
            ok = false;
        } else if let Some(why) = reserved_label(k) {
            diags.push(Diagnostic::at_key(
                &p,
                format!("`{k}` is not yours to set: {why}"),
            ));
            ok = false;
        }
        if let Err(why) = check_label_value(v) {
            diags.push(Diagnostic::at_value(
                &p,
                format!("`{v}` is not a valid Kubernetes label value: {why}"),
            ));
            ok = false;
        }
        ok
    });
    out
}

/// Checks environment variables at `path` (`env`, `components.<name>.env`).
fn env(diags: &mut Vec<Diagnostic>, path: &str, list: &[EnvVarOptions]) -> Vec<EnvVar> {
    let mut out: Vec<EnvVar> = Vec::new();
    for (i, e) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let n = diags.len();
        let name = e.name.clone().unwrap_or_default();
        match (e.name.as_deref(), check_env_name(&name)) {
            (None, _) => diags.push(Diagnostic::at_value(
                &p,
                "needs `name`: the variable's name",
            )),
            (Some(_), Err(why)) => diags.push(Diagnostic::at_value(
                &format!("{p}.name"),
                format!("`{name}` is not a valid environment variable name: {why}"),
            )),
            (Some(_), Ok(())) => {
                if let Some(first) = out.iter().find(|x| x.name == name) {
                    diags.push(Diagnostic::at_value(
                        &format!("{p}.name"),
                        format!("`{name}` is already set by {}; keep one", first.path),
                    ));
                }
            }
        }
        let value = match (&e.value, &e.secret_key_ref) {
            (Some(_), Some(_)) => {
                diags.push(Diagnostic::at_value(
                    &format!("{p}.secretKeyRef"),
                    "set value or secretKeyRef, not both",
                ));
                None
            }
            (None, None) => {
                diags.push(Diagnostic::at_value(
                    &p,
                    "set value, or secretKeyRef: {name, key} for a key of an existing Secret",
                ));
                None
            }
            (Some(v), None) => Some(EnvSource::Value(v.clone())),
            (None, Some(r)) => {
                let rp = format!("{p}.secretKeyRef");
                let name = match &r.name {
                    None => {
                        diags.push(Diagnostic::at_value(
                            &rp,
                            "needs `name`: the name of a Secret in the component's namespace",
                        ));
                        None
                    }
                    Some(s) => {
                        dns_name(diags, &format!("{rp}.name"), s, "Secret").then(|| s.clone())
                    }
                };
                let key = match &r.key {
                    None => {
                        diags.push(Diagnostic::at_value(
                            &rp,
                            "needs `key`: the key of the Secret that holds the value",
                        ));
                        None
                    }
                    Some(k) => match check_secret_key(k) {
                        Ok(()) => Some(k.clone()),
                        Err(why) => {
                            diags.push(Diagnostic::at_value(
                                &format!("{rp}.key"),
                                format!("`{k}` is not a valid Secret key: {why}"),
                            ));
                            None
                        }
                    },
                };
                Some(EnvSource::SecretKeyRef {
                    name: name.unwrap_or_default(),
                    key: key.unwrap_or_default(),
                })
            }
        };
        if let (Some(value), true) = (value, diags.len() == n) {
            out.push(EnvVar {
                name,
                value,
                path: p,
            });
        }
    }
    out
}

/// Checks the settings of one level; `prefix` is `""` for the global ones and
/// `components.<name>` for a component's.
pub fn resolve(diags: &mut Vec<Diagnostic>, prefix: &str, o: PodOptions<'_>) -> PodMeta {
    let at = |field: &str| {
        if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        }
    };
    let service_account_annotations =
        o.service_account
            .and_then(|s| s.annotations.as_ref())
            .map(|m| {
                annotations(diags, &at("serviceAccount.annotations"), m, |k| {
                    k.starts_with(OWN_PREFIX)
                        .then_some("kubectl-voice keeps its own annotations under this prefix")
                })
            });
    let pod_labels = o.pod_labels.map(|m| pod_labels(diags, &at("podLabels"), m));
    let pod_annotations = o
        .pod_annotations
        .map(|m| annotations(diags, &at("podAnnotations"), m, reserved_annotation));
    let env = o.env.map(|l| env(diags, &at("env"), l));
    let priority_class_name = o.priority_class_name.and_then(|n| {
        dns_name(diags, &at("priorityClassName"), n, "PriorityClass").then(|| n.clone())
    });
    PodMeta {
        service_account_annotations,
        pod_labels,
        pod_annotations,
        env,
        priority_class_name,
    }
}

/// Checks `images.pullSecrets`: Secret names, each once.
pub fn pull_secrets(diags: &mut Vec<Diagnostic>, list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, n) in list.iter().enumerate() {
        let p = format!("images.pullSecrets[{i}]");
        if !dns_name(diags, &p, n, "Secret") {
            continue;
        }
        if out.contains(n) {
            diags.push(Diagnostic::at_value(
                &p,
                format!("`{n}` is listed twice; keep one"),
            ));
            continue;
        }
        out.push(n.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(name: &str, value: &str, path: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: EnvSource::Value(value.into()),
            path: path.into(),
        }
    }

    #[test]
    fn a_component_refines_the_global_settings() {
        let global = PodMeta {
            service_account_annotations: Some(
                [("iam.gke.io/gcp-service-account".into(), "all@p.iam".into())].into(),
            ),
            pod_labels: Some([("team".into(), "voice".into()), ("cost".into(), "a".into())].into()),
            env: Some(vec![
                var("TZ", "UTC", "env[0]"),
                var("LOG", "info", "env[1]"),
            ]),
            priority_class_name: Some("high".into()),
            ..Default::default()
        };
        let component = PodMeta {
            service_account_annotations: Some(
                [(
                    "eks.amazonaws.com/role-arn".into(),
                    "arn:aws:iam::1:role/r".into(),
                )]
                .into(),
            ),
            pod_labels: Some([("cost".into(), "b".into())].into()),
            env: Some(vec![
                var("EXTRA", "1", "components.x.env[0]"),
                var("LOG", "debug", "components.x.env[1]"),
            ]),
            ..Default::default()
        };
        let m = component.over(&global);
        assert_eq!(m.service_account_annotations().count(), 2);
        assert_eq!(
            m.pod_labels,
            Some([("team".into(), "voice".into()), ("cost".into(), "b".into())].into())
        );
        let names: Vec<(&str, &EnvSource)> = m
            .env()
            .iter()
            .map(|e| (e.name.as_str(), &e.value))
            .collect();
        assert_eq!(
            names,
            [
                ("TZ", &EnvSource::Value("UTC".into())),
                ("LOG", &EnvSource::Value("debug".into())),
                ("EXTRA", &EnvSource::Value("1".into())),
            ]
        );
        assert_eq!(m.priority_class_name.as_deref(), Some("high"));
        assert_eq!(PodMeta::default().over(&global), global);
        assert!(PodMeta::default().over(&PodMeta::default()).is_unset());
    }

    #[test]
    fn names_and_keys() {
        assert!(check_env_name("DD_AGENT_HOST").is_ok());
        assert!(check_env_name("my.var-1").is_ok());
        assert!(check_env_name("1ABC").is_err());
        assert!(check_env_name("A B").is_err());
        assert!(check_env_name("A=B").is_err());
        assert!(check_secret_key(".dockerconfigjson").is_ok());
        assert!(check_secret_key("a/b").is_err());
        assert!(check_secret_key("..").is_err());
        assert!(reserved_label("app.kubernetes.io/name").is_some());
        assert!(reserved_label("kubectl-voice.io/statefulset").is_some());
        assert!(reserved_label("pod-template-hash").is_some());
        assert!(reserved_label("team").is_none());
        assert!(reserved_annotation("checksum/config").is_some());
        assert!(reserved_annotation("vault.hashicorp.com/agent-inject").is_none());
    }
}
