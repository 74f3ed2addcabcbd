//! Each component's pod identity and metadata: the global settings refined by its own
//! (`PodMeta::over`), checked against what its catalog entry sets, its extra environment
//! added to every container, and the egress its workload identity needs.
//!
//! A variable the catalog sets (directly, through `envFrom`, or as a process count) is part
//! of the contract between kubectl-voice and the program: the value is derived from
//! `voice.yaml` (hosts, ports, users, TLS) and checked against the program's source. An
//! override would silently break that, so it is refused, naming the components that set it;
//! the setting that feeds it is the way to change it. The same holds for the pod annotations
//! the catalog sets (Prometheus scraping, sidecar sizes that sizing counts).

use std::collections::BTreeMap;

use super::{Component, Env, EnvFrom, EnvValue, External, Stack};
use crate::config::{Config, Diagnostic, EnvSource};

/// Annotation of an EKS IAM role (IRSA): the pods get a web identity token and call AWS STS
/// over HTTPS to assume the role.
pub const EKS_ROLE: &str = "eks.amazonaws.com/role-arn";
/// Annotation of a Google service account (GKE Workload Identity): the pods ask the GKE
/// metadata server for tokens.
pub const GKE_SERVICE_ACCOUNT: &str = "iam.gke.io/gcp-service-account";
/// Annotation of an Azure workload identity's client: the pods exchange their token at
/// Microsoft Entra ID over HTTPS.
pub const AZURE_CLIENT: &str = "azure.workload.identity/client-id";

/// The traffic a workload identity needs, which the component's NetworkPolicy then allows.
/// The GKE metadata server answers at 169.254.169.254:80; on the iptables dataplane the node
/// redirects that to 169.254.169.252:988 before policies are evaluated, so both ports.
fn identity_egress(annotations: &BTreeMap<String, String>) -> Vec<External> {
    let mut out = Vec::new();
    if annotations.contains_key(EKS_ROLE) {
        out.push(External::Https(
            "AWS STS, to assume the IAM role of its ServiceAccount (IRSA)".into(),
        ));
    }
    if annotations.contains_key(GKE_SERVICE_ACCOUNT) {
        let why = "the GKE metadata server, for the Google service account of its ServiceAccount (Workload Identity)";
        out.push(External::Port(why.into(), 80));
        out.push(External::Port(why.into(), 988));
    }
    if annotations.contains_key(AZURE_CLIENT) {
        out.push(External::Https(
            "Microsoft Entra ID, for the workload identity of its ServiceAccount".into(),
        ));
    }
    out
}

/// The environment variable names a component's catalog entry sets in any of its
/// containers: directly, as a process count, or through `envFrom` of a ConfigMap or Secret
/// the stack makes.
fn catalog_env(stack: &Stack, c: &Component) -> Vec<String> {
    let mut out = Vec::new();
    for k in c.containers.iter().chain(&c.init_containers) {
        out.extend(k.env.iter().map(|e| e.name.clone()));
        if let Some(p) = &k.processes {
            out.push(p.env.to_string());
            out.extend(p.child_cap_env.map(str::to_string));
        }
        for f in &k.env_from {
            match f {
                EnvFrom::Config(n) => out.extend(
                    stack
                        .config_maps
                        .iter()
                        .filter(|m| &m.name == n && m.namespace == c.namespace)
                        .flat_map(|m| m.data.keys().cloned()),
                ),
                EnvFrom::Secret(n) => out.extend(
                    stack
                        .secrets
                        .iter()
                        .filter(|s| &s.name == n && s.namespace == c.namespace)
                        .flat_map(|s| s.keys.iter().map(|k| k.key.clone())),
                ),
            }
        }
    }
    out
}

/// The pod annotations a component's catalog entry (or its metrics port) sets.
fn catalog_annotations(c: &Component) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = c.pod_annotations.iter().map(|(k, _)| *k).collect();
    if c.metrics.is_some() {
        out.extend([
            "prometheus.io/scrape",
            "prometheus.io/port",
            "prometheus.io/path",
        ]);
    }
    out
}

/// Component names for a message: the first five, then how many more.
fn list(names: &[String]) -> String {
    match names.len() {
        n if n > 6 => format!("{} and {} more", names[..5].join(", "), n - 5),
        _ => names.join(", "),
    }
}

/// Gives every component its settings, refusing what its catalog entry sets.
pub(super) fn apply(cfg: &Config, stack: &mut Stack) -> Vec<Diagnostic> {
    // Where a refused setting was written → the components whose catalog sets it.
    let mut env_clashes: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut annotation_clashes: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut pods = Vec::with_capacity(stack.components.len());
    for c in &stack.components {
        let own = cfg.overrides.get(&c.name).and_then(|o| o.pods.as_ref());
        let merged = own.map_or_else(|| cfg.pods.clone(), |p| p.over(&cfg.pods));
        // The catalog's names are gathered only for a component that is given env.
        let set = if merged.env().is_empty() {
            Vec::new()
        } else {
            catalog_env(stack, c)
        };
        for e in merged.env() {
            if set.contains(&e.name) {
                env_clashes
                    .entry((format!("{}.name", e.path), e.name.clone()))
                    .or_default()
                    .push(c.name.clone());
            }
        }
        for k in catalog_annotations(c) {
            if merged.annotations().any(|(a, _)| a == k) {
                let path = match own.and_then(|o| o.pod_annotations.as_ref()) {
                    Some(m) if m.contains_key(k) => {
                        format!("components.{}.podAnnotations.{k}", c.name)
                    }
                    _ => format!("podAnnotations.{k}"),
                };
                annotation_clashes
                    .entry((path, k.to_string()))
                    .or_default()
                    .push(c.name.clone());
            }
        }
        pods.push(merged);
    }
    let mut diags = Vec::new();
    for ((path, name), components) in env_clashes {
        let elsewhere = if path.starts_with("env[") {
            "; to set it for the other components, write it under their components.<name>.env"
        } else {
            ""
        };
        diags.push(Diagnostic::at_value(
            &path,
            format!(
                "`{name}` is set by kubectl-voice for {}: the program reads it as part of the configuration kubectl-voice derives from voice.yaml and checks against the program's contract; change the setting that feeds it, or leave it out{elsewhere}",
                list(&components)
            ),
        ));
    }
    for ((path, key), components) in annotation_clashes {
        let why = if key.starts_with("prometheus.io/") {
            "the in-plan Prometheus finds the metrics port by it"
        } else {
            "sizing counts the mesh sidecar by it"
        };
        diags.push(Diagnostic::at_key(
            &path,
            format!(
                "`{key}` is set by kubectl-voice on the pods of {} ({why}); leave it out",
                list(&components)
            ),
        ));
    }
    if !diags.is_empty() {
        return diags;
    }
    for (c, merged) in stack.components.iter_mut().zip(pods) {
        let env: Vec<Env> = merged
            .env()
            .iter()
            .map(|e| Env {
                name: e.name.clone(),
                value: match &e.value {
                    EnvSource::Value(v) => EnvValue::Literal(v.clone()),
                    EnvSource::SecretKeyRef { name, key } => {
                        EnvValue::Secret(name.clone(), key.clone())
                    }
                },
            })
            .collect();
        if !env.is_empty() {
            for k in c.containers.iter_mut().chain(c.init_containers.iter_mut()) {
                k.env.extend(env.iter().cloned());
            }
        }
        if let Some(a) = &merged.service_account_annotations {
            c.external.extend(identity_egress(a));
        }
        c.pods = merged;
    }
    Vec::new()
}
