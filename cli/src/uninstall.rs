//! `kubectl voice uninstall`: deletes the rollout's objects in reverse wave order and waits
//! until they are gone. Claims, Secrets and namespaces (which hold them) are kept unless
//! `--purge`, which must be confirmed.

use futures::StreamExt;
use kube::Client;
use kube::api::{DeleteParams, PropagationPolicy};
use kube::runtime::wait::{await_condition, conditions};
use voice_core::render::{Object, Stage};

use crate::cluster::{api_for, is_not_found};
use crate::inventory::{self, Inventory, Member};

/// Order of deletion: the reverse of the rollout.
fn rank(m: &Member, objects: &[Object]) -> usize {
    let stage = objects
        .iter()
        .find(|o| o.kind == m.kind && o.name == m.name && o.namespace == m.namespace)
        .map(|o| o.stage);
    let s = match (m.kind.as_str(), stage) {
        (_, Some(s)) => s,
        ("Namespace", None) => Stage::Cluster,
        ("Secret" | "PersistentVolumeClaim" | "ConfigMap" | "ServiceAccount", None) => {
            Stage::Config
        }
        ("Job", None) => Stage::Setup,
        _ => Stage::App,
    };
    Stage::Routing as usize - s as usize
}

/// What uninstall deletes (and keeps) for these members.
pub fn selection<'a>(
    members: &'a [Member],
    objects: &[Object],
    purge: bool,
) -> (Vec<&'a Member>, Vec<&'a Member>) {
    let keep = |m: &&Member| {
        !purge
            && matches!(
                m.kind.as_str(),
                "PersistentVolumeClaim" | "Secret" | "Namespace"
            )
    };
    let (kept, mut gone): (Vec<&Member>, Vec<&Member>) = members.iter().partition(keep);
    gone.sort_by_key(|m| (rank(m, objects), m.id()));
    (gone, kept)
}

/// Deletes the members and waits for each to disappear.
pub async fn uninstall(
    client: &Client,
    gone: &[&Member],
    timeout: std::time::Duration,
) -> anyhow::Result<usize> {
    let mut deleted = 0;
    for m in gone {
        let api = api_for(client, &m.api_version, &m.kind, m.namespace.as_deref());
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Foreground),
            ..Default::default()
        };
        match api.delete(&m.name, &dp).await {
            Ok(_) => deleted += 1,
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(anyhow::Error::new(e).context(format!("deleting {}", m.id()))),
        }
    }
    let waits = futures::stream::iter(gone.iter())
        .map(|m| {
            let api = api_for(client, &m.api_version, &m.kind, m.namespace.as_deref());
            let uid = m.object.metadata.uid.clone().unwrap_or_default();
            async move { await_condition(api, &m.name, conditions::is_deleted(&uid)).await }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>();
    match tokio::time::timeout(timeout, waits).await {
        Ok(results) => {
            for r in results {
                r?;
            }
        }
        Err(_) => anyhow::bail!(crate::apply::NotReady(format!(
            "objects still terminating after {}s; run uninstall again to keep waiting",
            timeout.as_secs()
        ))),
    }
    Ok(deleted)
}

/// Removes the parent once nothing is left.
pub async fn remove_parent(client: &Client, inv: &Inventory) -> anyhow::Result<()> {
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(client.clone(), &inv.namespace);
    match api.delete(&inv.name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context("deleting the inventory")),
    }
}

/// Lists the members for uninstall.
pub async fn members(
    client: &Client,
    inv: &Inventory,
    objects: &[Object],
) -> anyhow::Result<Vec<Member>> {
    let secret_ns: Vec<String> = Vec::new();
    let (mut kinds, _) = inventory::scope(objects, &secret_ns);
    if let Some((k, _)) = inventory::read_parent(client, inv).await? {
        kinds.extend(k);
    }
    kinds.insert("PersistentVolumeClaim".into());
    inventory::members(client, inv, &kinds, objects).await
}
