//! The pods behind a component: its label selector as a string, whether a pod is ready, and
//! the ready pod a port-forward or health check talks to (re-resolved by each caller when it
//! needs a fresh one, so a replaced pod is followed).

use anyhow::Context as _;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use crate::error::NoReadyPod;

/// `k=v,k=v` from labels.
pub(crate) fn selector<K: std::fmt::Display, V: std::fmt::Display>(
    labels: impl IntoIterator<Item = (K, V)>,
) -> String {
    labels
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The selector of a component's pods, as the planner labels them; for a database with two
/// StatefulSets (`upgrade-engine`), the pod its Service selects.
pub(crate) fn of_component(stack: &voice_core::Stack, name: &str) -> String {
    let mut labels = voice_core::render::selector_labels(stack, name);
    if let Some(e) = stack
        .component(name)
        .and_then(|c| c.engine_upgrade.as_ref())
    {
        labels.insert(
            voice_core::render::workload::POD_NAME_LABEL.into(),
            format!("{}-0", e.serving_stateful_set()).into(),
        );
    }
    selector(&labels)
}

/// Whether a pod serves: Running, its Ready condition true, and not being deleted.
pub(crate) fn is_ready(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.status.as_ref().is_some_and(|s| {
            s.phase.as_deref() == Some("Running")
                && s.conditions
                    .iter()
                    .flatten()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

/// The names of the ready pods behind `selector` in `namespace`, newest first.
pub(crate) async fn ready(
    client: &kube::Client,
    namespace: &str,
    selector: &str,
) -> anyhow::Result<Vec<String>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let list = api
        .list(&ListParams::default().labels(selector))
        .await
        .with_context(|| format!("listing the pods of {selector} in namespace {namespace}"))?;
    let matched = list.items.len();
    let mut ready: Vec<&Pod> = list.items.iter().filter(|p| is_ready(p)).collect();
    ready.sort_by(|a, b| {
        b.metadata
            .creation_timestamp
            .cmp(&a.metadata.creation_timestamp)
    });
    if ready.is_empty() {
        return Err(NoReadyPod {
            namespace: namespace.into(),
            selector: selector.into(),
            matched,
        }
        .into());
    }
    Ok(ready
        .into_iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn pod(phase: &str, ready: &str, deleting: bool) -> Pod {
        let mut v = serde_json::json!({
            "metadata": {"name": "p"},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": ready}]},
        });
        if deleting {
            v["metadata"]["deletionTimestamp"] = "2026-12-01T10:00:00Z".into();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn only_running_ready_and_staying_pods_serve() {
        assert!(is_ready(&pod("Running", "True", false)));
        assert!(!is_ready(&pod("Running", "False", false)));
        assert!(!is_ready(&pod("Pending", "True", false)));
        assert!(!is_ready(&pod("Running", "True", true)));
        let labels = BTreeMap::from([
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
        ]);
        assert_eq!(selector(&labels), "a=1,b=2");
        assert_eq!(selector([("c", "3")]), "c=3");
    }
}
