//! What one run acts on: `--only` and `--skip`. A selection never changes the
//! configuration: it picks which of the configuration's objects this run writes. A part left
//! out is *not installed by this run*; it is never deleted, and pruning compares live objects
//! with the whole configuration, not with the selection.
//!
//! Every verb (plan, render, check, install, diff, status, the previewer) filters through
//! [`objects`] and [`secrets`], so `plan --only posthog` lists exactly what
//! `install --only posthog` applies.

use std::collections::BTreeSet;

use crate::catalog::{Component, Group, SecretSource, SecretSpec, Stack};
use crate::config::Diagnostic;
use crate::render::Object;

/// A part of the stack, as named on the command line. `voiceassistant` holds the platform's
/// services and the parts below it; the others are leaves.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Part {
    /// Self-hosted PostHog.
    Posthog,
    /// The Model Router.
    ModelRouter,
    /// The VoiceAssistant platform: its services, infrastructure, monitoring and mesh.
    #[serde(rename = "voiceassistant")]
    VoiceAssistant,
    /// The platform's databases, caches, brokers and tracing.
    Infra,
    /// Prometheus, Grafana, Alertmanager and the ServiceMonitors.
    Monitoring,
    /// The Istio resources of the mesh.
    Istio,
}

/// What an object belongs to: a leaf of [`Part`], with the platform services apart from
/// their parent so that `--skip infra` can keep them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Leaf {
    Posthog,
    ModelRouter,
    Services,
    Infra,
    Monitoring,
    Istio,
}

impl Part {
    /// Every part, in the order the help text lists them.
    pub const ALL: [Part; 6] = [
        Part::Posthog,
        Part::ModelRouter,
        Part::VoiceAssistant,
        Part::Infra,
        Part::Istio,
        Part::Monitoring,
    ];

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Posthog => "posthog",
            Part::ModelRouter => "model-router",
            Part::VoiceAssistant => "voiceassistant",
            Part::Infra => "infra",
            Part::Monitoring => "monitoring",
            Part::Istio => "istio",
        }
    }

    /// Parses a name from the command line.
    pub fn parse(s: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.as_str() == s)
    }

    fn leaves(self) -> &'static [Leaf] {
        match self {
            Part::Posthog => &[Leaf::Posthog],
            Part::ModelRouter => &[Leaf::ModelRouter],
            Part::VoiceAssistant => &[Leaf::Services, Leaf::Infra, Leaf::Monitoring, Leaf::Istio],
            Part::Infra => &[Leaf::Infra],
            Part::Monitoring => &[Leaf::Monitoring],
            Part::Istio => &[Leaf::Istio],
        }
    }
}

/// The parts one run acts on. The default is everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selection {
    /// `--only`: act on these parts alone (empty: every part).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<Part>,
    /// `--skip`: leave these parts out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip: Vec<Part>,
}

impl Selection {
    /// Parses `--only` and `--skip` values (each possibly comma-separated). Every unknown
    /// name is reported, each under its flag.
    pub fn parse(only: &[String], skip: &[String]) -> Result<Selection, Vec<Diagnostic>> {
        let mut diags = Vec::new();
        let mut parse = |flag: &str, values: &[String]| -> Vec<Part> {
            let mut out = Vec::new();
            for v in values.iter().flat_map(|v| v.split(',')).map(str::trim) {
                if v.is_empty() {
                    continue;
                }
                match Part::parse(v) {
                    Some(p) if !out.contains(&p) => out.push(p),
                    Some(_) => {}
                    None => {
                        let names: Vec<&str> = Part::ALL.iter().map(|p| p.as_str()).collect();
                        let hint = crate::config::shape::closest(v, names.iter().copied())
                            .map_or_else(
                                || format!("; use one of {}", names.join(", ")),
                                |b| format!(", did you mean `{b}`?"),
                            );
                        diags.push(Diagnostic::at_value(
                            flag,
                            format!("`{v}` is not a part{hint}"),
                        ));
                    }
                }
            }
            out
        };
        let selection = Selection {
            only: parse("--only", only),
            skip: parse("--skip", skip),
        };
        if !diags.is_empty() {
            return Err(diags);
        }
        if !selection.only.is_empty() && selection.leaves().is_empty() {
            return Err(vec![Diagnostic::at_value(
                "--skip",
                "skips every part that --only names: nothing is left to act on",
            )]);
        }
        Ok(selection)
    }

    /// True when the run acts on the whole configuration.
    pub fn is_everything(&self) -> bool {
        self.leaves().len() == ALL_LEAVES.len()
    }

    fn leaves(&self) -> BTreeSet<Leaf> {
        let mut out: BTreeSet<Leaf> = if self.only.is_empty() {
            ALL_LEAVES.iter().copied().collect()
        } else {
            self.only.iter().flat_map(|p| p.leaves()).copied().collect()
        };
        for p in &self.skip {
            for l in p.leaves() {
                out.remove(l);
            }
        }
        out
    }

    /// Whether a component is part of this run.
    pub fn includes(&self, c: &Component) -> bool {
        self.leaves().contains(&leaf(c))
    }

    /// `--only posthog --skip monitoring`, or "everything", for messages.
    pub fn describe(&self) -> String {
        let list = |ps: &[Part]| ps.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",");
        match (self.only.is_empty(), self.skip.is_empty()) {
            (true, true) => "everything".into(),
            (false, true) => format!("--only {}", list(&self.only)),
            (true, false) => format!("--skip {}", list(&self.skip)),
            (false, false) => format!("--only {} --skip {}", list(&self.only), list(&self.skip)),
        }
    }
}

const ALL_LEAVES: [Leaf; 6] = [
    Leaf::Posthog,
    Leaf::ModelRouter,
    Leaf::Services,
    Leaf::Infra,
    Leaf::Monitoring,
    Leaf::Istio,
];

/// Roles of the monitoring stack's components (`app.kubernetes.io/component`).
const MONITORING_ROLES: [&str; 3] = ["monitoring", "dashboards", "alerting"];

fn leaf(c: &Component) -> Leaf {
    match c.group {
        Group::Posthog => Leaf::Posthog,
        Group::ModelRouter => Leaf::ModelRouter,
        Group::VoiceAssistant => Leaf::Services,
        Group::Infra if MONITORING_ROLES.contains(&c.role) => Leaf::Monitoring,
        Group::Infra => Leaf::Infra,
    }
}

/// The objects of the stack's selection, in render order: the selected components' objects,
/// the namespaces they, the selection's Secrets and the inventory (the app namespace) live
/// in, the namespace policies of those namespaces, and the PriorityClasses their pods use. With everything selected, `all` is
/// returned as it is.
pub fn objects(stack: &Stack, all: Vec<Object>) -> Vec<Object> {
    let sel = &stack.selection;
    if sel.is_everything() {
        return all;
    }
    let leaves = sel.leaves();
    let keeps_object = |o: &Object| -> Option<bool> {
        if o.kind == "ServiceMonitor" {
            return Some(leaves.contains(&Leaf::Monitoring));
        }
        match o.component.as_str() {
            "istio" => Some(leaves.contains(&Leaf::Istio)),
            "" | "platform" => None,
            name => Some(
                stack
                    .component(name)
                    .is_some_and(|c| leaves.contains(&leaf(c))),
            ),
        }
    };
    let mut namespaces: BTreeSet<&str> = BTreeSet::new();
    let mut priority: BTreeSet<String> = BTreeSet::new();
    for o in &all {
        if keeps_object(o) == Some(true)
            && let Some(ns) = &o.namespace
        {
            namespaces.insert(ns);
        }
    }
    for c in stack.components.iter().filter(|c| sel.includes(c)) {
        namespaces.insert(&c.namespace);
        priority.extend(c.priority_class.map(|k| {
            crate::catalog::voiceassistant::priority_class_name(&stack.config.instance, k)
        }));
    }
    let secret_namespaces: Vec<String> = secrets(stack).into_iter().map(|s| s.namespace).collect();
    namespaces.extend(secret_namespaces.iter().map(String::as_str));
    let keep: Vec<bool> = all
        .iter()
        .map(|o| match keeps_object(o) {
            Some(k) => k,
            // The inventory lives in the app namespace (unless `-n` names another, which the
            // CLI adds): every selection creates it, without its policies.
            None if o.kind == "Namespace" => {
                namespaces.contains(o.name.as_str()) || o.name == stack.config.namespaces.app
            }
            None if o.kind == "PriorityClass" => priority.contains(&o.name),
            // Namespace policies (quota, limits, the platform Role) follow their namespace.
            None => o
                .namespace
                .as_deref()
                .is_some_and(|ns| namespaces.contains(ns)),
        })
        .collect();
    all.into_iter()
        .zip(keep)
        .filter_map(|(o, k)| k.then_some(o))
        .collect()
}

/// The Secrets of the stack's selection: those of the selected components, and every Secret
/// one of them copies a value from (so a shared password is made once, in its source, even
/// when the source's component is installed later).
pub fn secrets(stack: &Stack) -> Vec<SecretSpec> {
    let sel = &stack.selection;
    if sel.is_everything() {
        return stack.secrets.clone();
    }
    let mut wanted: BTreeSet<(&str, &str)> = stack
        .secrets
        .iter()
        .filter(|s| {
            stack
                .component(&s.component)
                .is_some_and(|c| sel.includes(c))
        })
        .map(|s| (s.namespace.as_str(), s.name.as_str()))
        .collect();
    loop {
        let before = wanted.len();
        for s in &stack.secrets {
            if !wanted.contains(&(s.namespace.as_str(), s.name.as_str())) {
                continue;
            }
            for k in &s.keys {
                if let SecretSource::SameAs {
                    namespace, secret, ..
                } = &k.source
                    && let Some(src) = stack
                        .secrets
                        .iter()
                        .find(|x| &x.namespace == namespace && &x.name == secret)
                {
                    wanted.insert((src.namespace.as_str(), src.name.as_str()));
                }
            }
        }
        if wanted.len() == before {
            break;
        }
    }
    stack
        .secrets
        .iter()
        .filter(|s| wanted.contains(&(s.namespace.as_str(), s.name.as_str())))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Input;
    use crate::config::ProfileName;

    fn stack(profile: ProfileName, only: &[&str], skip: &[&str]) -> Stack {
        let mut s = crate::load(&Input {
            yaml: "",
            profile: Some(profile),
            sets: &[],
        })
        .expect("profiles are valid");
        let o: Vec<String> = only.iter().map(|x| (*x).to_string()).collect();
        let k: Vec<String> = skip.iter().map(|x| (*x).to_string()).collect();
        s.selection = Selection::parse(&o, &k).expect("valid selection");
        s
    }

    fn ids(s: &Stack) -> BTreeSet<String> {
        objects(s, crate::render::render(s))
            .iter()
            .map(Object::id)
            .collect()
    }

    #[test]
    fn parts_parse_with_every_problem_named() {
        let err = Selection::parse(&["posthog,istoi".into()], &["infr".into()]).unwrap_err();
        let text: Vec<String> = err.iter().map(ToString::to_string).collect();
        assert_eq!(err.len(), 2, "{text:?}");
        assert!(
            text[0].contains("--only") && text[0].contains("`istio`"),
            "{text:?}"
        );
        assert!(
            text[1].contains("--skip") && text[1].contains("`infra`"),
            "{text:?}"
        );
        for p in Part::ALL {
            assert_eq!(Part::parse(p.as_str()), Some(p));
        }
        assert!(Selection::parse(&["infra".into()], &["voiceassistant".into()]).is_err());
        assert!(Selection::default().is_everything());
        assert!(Selection::parse(&[], &["nothing-else".into()]).is_err());
    }

    #[test]
    fn everything_is_the_whole_render() {
        for p in crate::config::PROFILES {
            let s = stack(p, &[], &[]);
            assert_eq!(ids(&s).len(), crate::render::render(&s).len());
            let s = stack(p, &["posthog", "model-router", "voiceassistant"], &[]);
            assert!(s.selection.is_everything());
        }
    }

    #[test]
    fn a_part_brings_its_namespaces_and_their_policies() {
        let s = stack(ProfileName::Production, &["posthog"], &[]);
        let got = ids(&s);
        let ph = &s.config.namespaces.posthog;
        assert!(got.contains(&format!("Namespace/{ph}")), "{got:?}");
        assert!(
            got.contains(&format!("StatefulSet/{ph}/posthog-clickhouse"))
                || got
                    .iter()
                    .any(|i| i.starts_with(&format!("StatefulSet/{ph}/")))
        );
        assert!(
            got.iter().all(|i| i.starts_with("Namespace/")
                || i.starts_with("PriorityClass/")
                || i.contains(&format!("/{ph}/"))
                || i.starts_with("ClusterRole")),
            "{got:?}"
        );
        // Infra alone: its namespace with that namespace's quota and limits, no services.
        let s = stack(ProfileName::Production, &["infra"], &[]);
        let got = ids(&s);
        let infra = &s.config.namespaces.infra;
        assert!(got.contains(&format!("Namespace/{infra}")), "{got:?}");
        assert!(
            got.contains(&format!("ResourceQuota/{infra}/compute-quota")),
            "{got:?}"
        );
        assert!(
            got.contains(&format!("LimitRange/{infra}/limit-range")),
            "{got:?}"
        );
        assert!(!got.iter().any(|i| i.contains("/prometheus")), "{got:?}");
        assert!(!got.contains(&format!("Namespace/{}", s.config.namespaces.posthog)));
        // Every PriorityClass a selected pod names is there.
        for c in s.components.iter().filter(|c| s.selection.includes(c)) {
            if let Some(pc) = c.priority_class {
                let name =
                    crate::catalog::voiceassistant::priority_class_name(&s.config.instance, pc);
                assert!(got.contains(&format!("PriorityClass/{name}")), "{name}");
            }
        }
    }

    #[test]
    fn skipping_monitoring_skips_the_monitoring_stack() {
        let s = stack(ProfileName::Production, &[], &["monitoring"]);
        let got = ids(&s);
        for name in ["prometheus", "grafana", "alertmanager"] {
            assert!(
                !got.iter().any(|i| i.ends_with(&format!("/{name}"))),
                "{name}"
            );
        }
        assert!(!got.iter().any(|i| i.starts_with("ServiceMonitor/")));
        assert!(got.iter().any(|i| i.ends_with("/jaeger-query")));
        let only = stack(ProfileName::Production, &["monitoring"], &[]);
        let got = ids(&only);
        assert!(got.iter().any(|i| i.starts_with("ServiceMonitor/")));
        assert!(got.iter().any(|i| i.ends_with("/prometheus")));
        assert!(
            !got.iter()
                .any(|i| i.starts_with("Deployment/") && i.ends_with("/jaeger-query"))
        );
    }

    #[test]
    fn skipping_the_platform_skips_its_infrastructure_and_mesh() {
        let s = stack(ProfileName::Production, &[], &["voiceassistant"]);
        let got = ids(&s);
        let infra = &s.config.namespaces.infra;
        // The infra namespace stays for the Secret the Model Router copies its database
        // password from, with the namespace's policies, but no workload.
        assert!(
            got.iter()
                .filter(|i| i.contains(&format!("/{infra}/")))
                .all(|i| i.starts_with("ResourceQuota/") || i.starts_with("LimitRange/")),
            "{got:?}"
        );
        assert!(
            !got.iter()
                .any(|i| i.starts_with("Gateway/") || i.starts_with("VirtualService/"))
        );
        let istio = stack(ProfileName::Production, &["istio"], &[]);
        let got = ids(&istio);
        assert!(
            got.iter().any(|i| i.starts_with("VirtualService/")),
            "{got:?}"
        );
        assert!(!got.iter().any(|i| i.starts_with("Deployment/")), "{got:?}");
    }

    #[test]
    fn a_selected_secret_brings_the_secret_it_copies_from() {
        let s = stack(ProfileName::Production, &["model-router"], &[]);
        let picked = secrets(&s);
        for spec in &picked {
            for k in &spec.keys {
                if let SecretSource::SameAs {
                    namespace, secret, ..
                } = &k.source
                {
                    assert!(
                        picked
                            .iter()
                            .any(|x| &x.namespace == namespace && &x.name == secret),
                        "{}/{} copies {namespace}/{secret}",
                        spec.namespace,
                        spec.name
                    );
                }
            }
        }
        assert!(picked.iter().any(|x| x.component == "model-router"));
        // Their namespaces are part of the plan.
        let got = ids(&s);
        for spec in &picked {
            assert!(got.contains(&format!("Namespace/{}", spec.namespace)));
        }
    }
}
