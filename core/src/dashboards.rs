//! The web UIs of a rollout, for `kubectl voice dashboard`: each is the catalog fact of the
//! component serving it (`Component::ui`), plus Kiali, which comes with the mesh, when Istio
//! is on. Where the UI lives (namespace, pod selector, port, path) and where its login comes
//! from are data here, so the CLI holds no table of its own.

use std::collections::BTreeMap;

use crate::catalog::{Login, Stack};
use crate::render::istio::ISTIO_NAMESPACE;

/// Kiali's port and path (the Istio add-on's defaults).
const KIALI: (u16, &str) = (20001, "/kiali");

/// One web UI and how to reach its pods.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dashboard {
    /// Its name on the command line (`grafana`, `jaeger`, `posthog`).
    pub name: &'static str,
    /// The component serving it (none for Kiali, which the mesh installs).
    pub component: Option<String>,
    /// The namespace of its pods.
    pub namespace: String,
    /// The labels that select its pods.
    pub selector: BTreeMap<String, String>,
    /// The container port it serves on; also the local port tried first.
    pub port: u16,
    /// The path of its start page.
    pub path: &'static str,
    /// Where its login comes from (never the value).
    pub login: Option<Login>,
}

/// Every web UI of the stack, in catalog order, Kiali last.
pub fn dashboards(stack: &Stack) -> Vec<Dashboard> {
    let mut out: Vec<Dashboard> = stack
        .components
        .iter()
        .filter_map(|c| {
            let ui = c.ui.as_ref()?;
            Some(Dashboard {
                name: ui.name,
                component: Some(c.name.clone()),
                namespace: c.namespace.clone(),
                selector: crate::render::selector_labels(stack, &c.name)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                port: ui.port,
                path: ui.path,
                login: ui.login.clone(),
            })
        })
        .collect();
    if stack.config.istio.is_some() {
        out.push(Dashboard {
            name: "kiali",
            component: None,
            namespace: ISTIO_NAMESPACE.into(),
            selector: BTreeMap::from([("app".to_string(), "kiali".to_string())]),
            port: KIALI.0,
            path: KIALI.1,
            login: None,
        });
    }
    out
}

/// Every dashboard name any embedded profile has, Kiali included, for completion.
pub fn all_names() -> Vec<&'static str> {
    let mut out = Vec::new();
    for p in crate::config::PROFILES {
        let Ok((cfg, _)) = crate::config::load(&crate::config::Input {
            profile: Some(p),
            ..Default::default()
        }) else {
            continue;
        };
        // The embedded profiles pass the pod count limit and the namespace policy.
        let Ok(stack) = crate::catalog::build(&cfg) else {
            continue;
        };
        for d in dashboards(&stack) {
            if !out.contains(&d.name) {
                out.push(d.name);
            }
        }
    }
    if !out.contains(&"kiali") {
        out.push("kiali");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Input, ProfileName};

    fn names(p: ProfileName, sets: &[&str]) -> Vec<&'static str> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let stack = crate::load(&Input {
            profile: Some(p),
            sets: &sets,
            ..Default::default()
        })
        .unwrap();
        dashboards(&stack).iter().map(|d| d.name).collect()
    }

    #[test]
    fn each_profile_lists_the_uis_it_runs() {
        assert_eq!(names(ProfileName::Dev, &[]), ["posthog", "minio"]);
        let prod = names(ProfileName::Production, &[]);
        for n in [
            "posthog",
            "nacos",
            "minio",
            "jaeger",
            "prometheus",
            "grafana",
            "alertmanager",
        ] {
            assert!(prod.contains(&n), "{n} in {prod:?}");
        }
    }

    #[test]
    fn completion_knows_every_name() {
        let all = all_names();
        for n in ["grafana", "kiali", "posthog", "minio", "nacos", "jaeger"] {
            assert!(all.contains(&n), "{n} in {all:?}");
        }
    }

    #[test]
    fn grafana_names_its_login_source_and_selects_its_pods() {
        let stack = crate::load(&Input {
            profile: Some(ProfileName::Production),
            ..Default::default()
        })
        .unwrap();
        let all = dashboards(&stack);
        let g = all.iter().find(|d| d.name == "grafana").unwrap();
        let login = g.login.as_ref().unwrap();
        assert_eq!(
            (
                login.user,
                login.secret.as_str(),
                login.password_key.as_str()
            ),
            (Some("admin"), "infra-secrets", "GRAFANA_ADMIN_PASSWORD")
        );
        assert_eq!(g.port, 3000);
        assert_eq!(
            g.selector.get("app.kubernetes.io/name").map(String::as_str),
            Some("grafana")
        );
        let j = all.iter().find(|d| d.name == "jaeger").unwrap();
        assert_eq!(j.component.as_deref(), Some("jaeger-query"));
    }
}
