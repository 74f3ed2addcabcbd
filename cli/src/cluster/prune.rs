//! Pruning: the live members that the configuration no longer contains. Only the whole
//! configuration counts, never the run's selection (`--only`/`--skip` leave parts alone).
//! Claims and Secrets are never pruned, nor a Namespace that still holds any: deleting it
//! would delete them. Install shows the list and asks before it deletes anything.

use std::collections::BTreeSet;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, PropagationPolicy};

use crate::cluster::inventory::Member;
use crate::cluster::{api_for, is_not_found};
use voice_core::render::Object;

/// What a run would prune.
#[derive(Debug, Default)]
pub(crate) struct Prune {
    /// Members to delete, after confirmation.
    pub delete: Vec<Member>,
    /// Jobs that a Job of the same component with a new template replaces (Job names carry
    /// their template's hash): deleted without asking.
    pub superseded: Vec<Member>,
    /// Members the configuration no longer has that are kept, each with why.
    pub kept: Vec<(String, String)>,
}

impl Prune {
    /// Ids of the members to delete.
    pub(crate) fn ids(&self) -> Vec<String> {
        self.delete.iter().map(Member::id).collect()
    }
}

/// Splits the members that are not among `configured` (every object of the configuration)
/// into those to delete, superseded Jobs, and those kept because they hold data.
pub(crate) async fn plan(
    client: &Client,
    members: &[Member],
    configured: &[Object],
) -> anyhow::Result<Prune> {
    let job_components: BTreeSet<&str> = configured
        .iter()
        .filter(|o| o.kind == "Job")
        .map(|o| o.component.as_str())
        .collect();
    let configured: BTreeSet<String> = configured.iter().map(Object::id).collect();
    let stale: Vec<&Member> = members
        .iter()
        .filter(|m| !configured.contains(&m.id()))
        .filter(|m| !matches!(m.kind.as_str(), "Secret" | "PersistentVolumeClaim"))
        .collect();
    let held = futures::stream::iter(stale.iter().filter(|m| m.kind == "Namespace"))
        .map(|m| async move {
            holds_data(client, &m.name)
                .await
                .map(|h| (m.name.clone(), h))
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await?;
    let mut out = Prune::default();
    for m in stale {
        let component = m
            .object
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("app.kubernetes.io/name"));
        if m.kind == "Job" && component.is_some_and(|c| job_components.contains(c.as_str())) {
            out.superseded.push(m.clone());
            continue;
        }
        match held
            .iter()
            .find(|(n, _)| m.kind == "Namespace" && *n == m.name)
        {
            Some((_, Some(why))) => out.kept.push((m.id(), why.clone())),
            _ => out.delete.push(m.clone()),
        }
    }
    Ok(out)
}

/// Why a namespace must not be deleted: the claims and Secrets it holds, if any.
async fn holds_data(client: &Client, namespace: &str) -> anyhow::Result<Option<String>> {
    let lp = ListParams::default().limit(100);
    let count = |r: Result<usize, kube::Error>, what: &str| -> anyhow::Result<usize> {
        match r {
            Ok(n) => Ok(n),
            Err(e) if is_not_found(&e) => Ok(0),
            Err(e) => Err(anyhow::Error::new(e).context(format!(
                "listing the {what} of namespace {namespace} before pruning it"
            ))),
        }
    };
    let claims = Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace)
        .list_metadata(&lp)
        .await
        .map(|l| l.items.len());
    let secrets = Api::<Secret>::namespaced(client.clone(), namespace)
        .list_metadata(&lp)
        .await
        .map(|l| l.items.len());
    let (c, s) = (count(claims, "claims")?, count(secrets, "Secrets")?);
    Ok((c + s > 0).then(|| {
        format!("it holds {c} claim(s) and {s} Secret(s); delete it with `uninstall --purge` or kubectl when they are no longer needed")
    }))
}

/// Deletes the members (in the background: their dependents go with them). Returns how
/// many were deleted.
pub(crate) async fn delete(
    client: &Client,
    members: &[Member],
    dry_run: bool,
) -> anyhow::Result<usize> {
    let mut n = 0;
    for m in members {
        let api = api_for(client, &m.api_version, &m.kind, m.namespace.as_deref());
        let dp = DeleteParams {
            dry_run,
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        match api.delete(&m.name, &dp).await {
            Ok(_) => n += 1,
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(anyhow::Error::new(e).context(format!("pruning {}", m.id()))),
        }
    }
    Ok(n)
}

/// The prune list for people: one line per object, grouped under a heading.
pub(crate) fn describe(p: &Prune) -> String {
    let mut s = String::new();
    for m in &p.superseded {
        s.push_str(&format!("replacing {} (its template changed)\n", m.id()));
    }
    if !p.delete.is_empty() {
        s.push_str(&format!(
            "{} object(s) are no longer in the configuration and will be deleted:\n",
            p.delete.len()
        ));
        for id in p.ids() {
            s.push_str(&format!("  - {id}\n"));
        }
    }
    for (id, why) in &p.kept {
        s.push_str(&format!("kept {id}: {why}\n"));
    }
    s
}
