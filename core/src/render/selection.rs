//! The objects and Secrets of a run's selection (`--only` / `--skip`, a [`Selection`](crate::config::Selection)): every
//! verb (plan, render, check, install, diff, status, the previewer) filters through
//! [`objects`] and [`secrets`], so `plan --only posthog` lists exactly what
//! `install --only posthog` applies. A part left out is never deleted.

use std::collections::BTreeSet;

use super::Object;
use crate::catalog::{self, SecretSource, SecretSpec, Stack, voiceassistant};
use crate::config::Leaf;

/// The objects of the stack's selection, in render order: the selected components' objects,
/// the namespaces they, the selection's Secrets and the inventory (the app namespace) live
/// in, the namespace policies of those namespaces, and the PriorityClasses their pods use. With
/// everything selected, `all` is returned as it is.
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
                    .is_some_and(|c| leaves.contains(&catalog::leaf(c))),
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
        priority.extend(
            c.priority_class
                .map(|k| voiceassistant::priority_class_name(&stack.config.instance, k)),
        );
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

/// Whether an object is a namespace's policy: its ResourceQuota or LimitRange, which
/// Kubernetes' `admin` and `edit` roles may read but not write (they bound what a namespace's
/// users may run).
pub fn is_namespace_policy(o: &Object) -> bool {
    matches!(o.kind.as_str(), "ResourceQuota" | "LimitRange")
}

/// What a cluster admin applies for an operator who has rights in the selection's namespaces
/// alone: of `objects`, those without a namespace (Namespaces, PriorityClasses, ClusterRoles
/// and ClusterRoleBindings) when `cluster_scoped`, and each namespace's policies
/// ([`is_namespace_policy`]) when `policies`; in render order.
pub fn for_cluster_admin(
    objects: Vec<Object>,
    cluster_scoped: bool,
    policies: bool,
) -> Vec<Object> {
    objects
        .into_iter()
        .filter(|o| {
            (cluster_scoped && o.namespace.is_none()) || (policies && is_namespace_policy(o))
        })
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
        .filter(|s| stack.selected_component(&s.component).is_some())
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
    use crate::config::{Input, ProfileName, Selection};

    fn stack(profile: ProfileName, only: &[&str], skip: &[&str]) -> Stack {
        let o: Vec<String> = only.iter().map(|x| (*x).to_string()).collect();
        let k: Vec<String> = skip.iter().map(|x| (*x).to_string()).collect();
        crate::load(&Input {
            yaml: "",
            profile: Some(profile),
            sets: &[],
            selection: Selection::parse(&o, &k).expect("valid selection"),
        })
        .expect("profiles are valid")
    }

    fn ids(s: &Stack) -> BTreeSet<String> {
        objects(s, crate::render::render(s))
            .iter()
            .map(Object::id)
            .collect()
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
                let name = voiceassistant::priority_class_name(&s.config.instance, pc);
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

    #[test]
    fn a_cluster_admin_gets_the_objects_without_a_namespace_and_the_namespace_policies() {
        let s = stack(ProfileName::Production, &["monitoring"], &[]);
        let picked = |scoped, policies| -> BTreeSet<String> {
            for_cluster_admin(objects(&s, crate::render::render(&s)), scoped, policies)
                .iter()
                .map(Object::id)
                .collect()
        };
        let scoped = picked(true, false);
        assert!(
            scoped.contains("ClusterRole/voice-prometheus"),
            "{scoped:?}"
        );
        assert!(
            scoped.contains("ClusterRoleBinding/voice-prometheus"),
            "{scoped:?}"
        );
        assert!(
            scoped.contains("Namespace/voiceassistant-prod"),
            "{scoped:?}"
        );
        assert!(
            scoped.iter().all(|id| id.matches('/').count() == 1),
            "{scoped:?}"
        );
        let policies = picked(false, true);
        assert!(
            policies.contains("ResourceQuota/voiceassistant-prod/compute-quota"),
            "{policies:?}"
        );
        assert!(
            policies
                .iter()
                .all(|id| id.starts_with("ResourceQuota/") || id.starts_with("LimitRange/")),
            "{policies:?}"
        );
        assert_eq!(
            picked(true, true),
            scoped.union(&policies).cloned().collect::<BTreeSet<_>>()
        );
        assert!(picked(false, false).is_empty());
    }
}
