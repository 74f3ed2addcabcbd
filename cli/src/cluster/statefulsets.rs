//! Upgrading StatefulSets. Before any write, each planned StatefulSet that exists is
//! compared with the live one ([`voice_core::upgrade::statefulset`]): a change of claim
//! template labels alone keeps the live templates; a change the API server never makes in
//! place (claim size or class, selector, policy) stops the run before anything is written,
//! unless `--recreate-statefulsets` was given. Then the StatefulSet is deleted with its pods
//! left running (orphaned), created again, adopts its pods and keeps its claims, which are
//! expanded where the storage class allows it.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PropagationPolicy};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::{Value, json};
use voice_core::render::{MANAGER, Object};
use voice_core::upgrade::StatefulSetChange;

use crate::cluster::inventory::{self, Inventory, Member};

/// A live StatefulSet and how the plan changes it.
#[derive(Debug, Clone)]
pub(crate) struct Upgrade {
    /// `StatefulSet/<namespace>/<name>`.
    pub id: String,
    /// The comparison.
    pub change: StatefulSetChange,
    /// The live object.
    pub live: Value,
}

/// Compares every planned StatefulSet that exists with its live self.
pub(crate) async fn inspect(
    client: &Client,
    inv: &Inventory,
    objects: &[Object],
    live: &BTreeMap<String, &Member>,
) -> anyhow::Result<BTreeMap<String, Upgrade>> {
    let todo: Vec<&Object> = objects
        .iter()
        .filter(|o| o.kind == "StatefulSet" && live.contains_key(&o.id()))
        .collect();
    let found = futures::stream::iter(todo)
        .map(|o| async move {
            let api: Api<StatefulSet> =
                Api::namespaced(client.clone(), o.namespace.as_deref().unwrap_or_default());
            let Some(sts) = api
                .get_opt(&o.name)
                .await
                .with_context(|| format!("reading {}", o.id()))?
            else {
                return Ok(None);
            };
            let live = serde_json::to_value(&sts)?;
            let change = voice_core::upgrade::statefulset(&inventory::label(inv, o), &live);
            Ok::<_, anyhow::Error>(Some(Upgrade {
                id: o.id(),
                change,
                live,
            }))
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(found
        .into_iter()
        .flatten()
        .map(|u| (u.id.clone(), u))
        .collect())
}

/// The rollout's claims in its namespaces (by its instance label), with their sizes.
pub(crate) async fn live_claims(
    client: &Client,
    stack: &voice_core::Stack,
) -> anyhow::Result<Vec<voice_core::upgrade::LiveClaim>> {
    let selector = format!("app.kubernetes.io/instance={}", stack.config.instance);
    let mut out = Vec::new();
    for ns in stack.selected_namespaces() {
        let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
        let list = api
            .list(&ListParams::default().labels(&selector))
            .await
            .with_context(|| format!("listing the claims in {ns}"))?;
        for c in list.items {
            let size = c
                .spec
                .as_ref()
                .and_then(|s| s.resources.as_ref())
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get("storage"))
                .and_then(|q| voice_core::quantity::Bytes::parse(&q.0).ok())
                .unwrap_or_default();
            out.push(voice_core::upgrade::LiveClaim {
                namespace: ns.clone(),
                name: c.metadata.name.unwrap_or_default(),
                size,
            });
        }
    }
    Ok(out)
}

/// The unused claims in words, one line each with its size, and the command that deletes
/// them; empty when there are none.
pub(crate) fn describe_unused(unused: &[voice_core::upgrade::LiveClaim]) -> String {
    if unused.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "{} claim(s) of this rollout are kept but used by no workload (never deleted by a run; they count against the namespace's quota):\n",
        unused.len()
    );
    let mut by_ns: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in unused {
        s.push_str(&format!("  {}/{} ({})\n", c.namespace, c.name, c.size));
        by_ns.entry(&c.namespace).or_default().push(&c.name);
    }
    for (ns, names) in by_ns {
        s.push_str(&format!(
            "  delete them if their data is not needed: kubectl delete pvc -n {ns} {}\n",
            names.join(" ")
        ));
    }
    s
}

/// Stops the run (exit 2) when a data engine's image change is not one its rules make in
/// place, naming each with both images, why and the way to do it.
pub(crate) fn refuse_engines(changes: &[voice_core::upgrade::EngineChange]) -> anyhow::Result<()> {
    let stopped: Vec<String> = changes
        .iter()
        .filter(|c| !c.step.in_place())
        .map(|c| format!("  {c}"))
        .collect();
    if stopped.is_empty() {
        return Ok(());
    }
    Err(crate::error::Usage(format!(
        "these data engines cannot take the new image in place; nothing was applied:\n{}",
        stopped.join("\n")
    ))
    .into())
}

/// The data engines' image changes of `objects` against the live StatefulSets, read one by
/// one (for `plan`, which reads no inventory); a StatefulSet this user may not read is left
/// out.
pub(crate) async fn engines(
    client: &Client,
    stack: &voice_core::Stack,
    objects: &[Object],
) -> anyhow::Result<Vec<voice_core::upgrade::EngineChange>> {
    let mut out = Vec::new();
    for o in objects.iter().filter(|o| o.kind == "StatefulSet") {
        let Some(c) = stack.component(&o.component) else {
            continue;
        };
        if c.store.is_none() {
            continue;
        }
        let api: Api<StatefulSet> =
            Api::namespaced(client.clone(), o.namespace.as_deref().unwrap_or_default());
        // A user who may not read it plans without this comparison; install makes it.
        let live = match api.get_opt(&o.name).await {
            Ok(Some(live)) => live,
            Ok(None) => continue,
            Err(e) if crate::cluster::is_forbidden(&e) => continue,
            Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {}", o.id()))),
        };
        out.extend(voice_core::upgrade::engine(
            c,
            &o.value(),
            &serde_json::to_value(&live)?,
        ));
    }
    Ok(out)
}

/// The StatefulSets whose change cannot be made in place, for the message that stops the
/// run (or the confirmation that allows `--recreate-statefulsets`).
pub(crate) fn describe_blocked(upgrades: &BTreeMap<String, Upgrade>) -> Option<String> {
    let blocked: Vec<&Upgrade> = upgrades
        .values()
        .filter(|u| !u.change.immutable.is_empty())
        .collect();
    if blocked.is_empty() {
        return None;
    }
    let mut s = String::new();
    for u in blocked {
        s.push_str(&format!("  {}: {}\n", u.id, u.change.immutable.join("; ")));
    }
    Some(s)
}

/// Deletes the live StatefulSet leaving its pods and claims, waits until it is gone, and
/// applies the planned one, which adopts the pods (same selector) and rolls them to the new
/// template. Returns notes on the claims.
pub(crate) async fn recreate(
    client: &Client,
    o: &Object,
    body: &Value,
    upgrade: &Upgrade,
    dry_run: bool,
) -> anyhow::Result<Vec<String>> {
    let ns = o.namespace.as_deref().unwrap_or_default();
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    let dp = DeleteParams {
        dry_run,
        propagation_policy: Some(PropagationPolicy::Orphan),
        ..Default::default()
    };
    let uid = upgrade
        .live
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    match api.delete(&o.name, &dp).await {
        Ok(_) => {}
        Err(e) if crate::cluster::is_not_found(&e) => {}
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!(
                "deleting {} (its pods and claims stay) to re-create it",
                o.id()
            )));
        }
    }
    if !dry_run {
        tokio::time::timeout(
            Duration::from_secs(120),
            await_condition(api.clone(), &o.name, conditions::is_deleted(&uid)),
        )
        .await
        .map_err(|_| anyhow::anyhow!("{} still exists 120s after its deletion", o.id()))?
        .with_context(|| format!("waiting for {} to go", o.id()))?;
    }
    let mut pp = PatchParams::apply(MANAGER).force().validation_ignore();
    pp.dry_run = dry_run;
    api.patch(&o.name, &pp, &Patch::Apply(body))
        .await
        .with_context(|| format!("creating {} again (its pods and claims were kept)", o.id()))?;
    let mut notes = Vec::new();
    for (template, size) in &upgrade.change.grown {
        notes.extend(expand(client, ns, &o.name, template, *size, dry_run).await?);
    }
    Ok(notes)
}

/// Expands the existing claims of a StatefulSet's template to `size` where their storage
/// class allows it; says which it could not expand.
async fn expand(
    client: &Client,
    ns: &str,
    sts: &str,
    template: &str,
    size: voice_core::quantity::Bytes,
    dry_run: bool,
) -> anyhow::Result<Vec<String>> {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
    let prefix = format!("{template}-{sts}-");
    let list = claims
        .list(&ListParams::default())
        .await
        .with_context(|| format!("listing the claims of {ns}/{sts}"))?;
    let classes: Api<StorageClass> = Api::all(client.clone());
    let mut notes = Vec::new();
    for c in list.items.iter().filter(|c| {
        c.metadata.name.as_deref().is_some_and(|n| {
            n.strip_prefix(&prefix)
                .is_some_and(|i| i.chars().all(|ch| ch.is_ascii_digit()))
        })
    }) {
        let name = c.metadata.name.clone().unwrap_or_default();
        let class = c.spec.as_ref().and_then(|s| s.storage_class_name.clone());
        let expandable = match &class {
            Some(cl) => match classes.get_opt(cl).await {
                Ok(sc) => sc.and_then(|s| s.allow_volume_expansion).unwrap_or(false),
                // A namespace admin may not read StorageClasses: said, not guessed.
                Err(e) if crate::cluster::is_forbidden(&e) => {
                    notes.push(format!(
                        "claim {ns}/{name} keeps its size: not checked whether its storage class {cl} allows expansion (this user may not read StorageClasses); a cluster admin's install expands it"
                    ));
                    continue;
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!("reading StorageClass {cl}")));
                }
            },
            None => false,
        };
        if !expandable {
            notes.push(format!(
                "claim {ns}/{name} keeps its size: its storage class {} does not allow expansion",
                class.as_deref().unwrap_or("(none)")
            ));
            continue;
        }
        let patch = json!({"spec": {"resources": {"requests": {"storage": size.to_string()}}}});
        let pp = PatchParams {
            dry_run,
            field_manager: Some(MANAGER.into()),
            ..Default::default()
        };
        claims
            .patch(&name, &pp, &Patch::Merge(&patch))
            .await
            .with_context(|| format!("expanding claim {ns}/{name} to {size}"))?;
        notes.push(format!("claim {ns}/{name} expanded to {size}"));
    }
    Ok(notes)
}
