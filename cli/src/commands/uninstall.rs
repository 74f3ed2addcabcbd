//! `kubectl voice uninstall`: deletes the rollout's objects in reverse wave order and waits
//! until they are gone. Claims, Secrets and namespaces (which hold them) are kept unless
//! `--purge`, which must be confirmed.

use futures::StreamExt;
use kube::Client;
use kube::api::{DeleteParams, PropagationPolicy};
use kube::runtime::wait::{await_condition, conditions};
use voice_core::render::{Object, Stage};

use crate::args::ClusterArgs;
use crate::args::{ConfigArgs, duration};
use crate::cluster::inventory::{Inventory, Member};
use crate::cluster::{self, apply, history, inventory, lock};
use crate::cluster::{api_for, is_not_found};
use crate::config;
use crate::error::exit;
use crate::output::{confirm, confirm_destructive};

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

/// Splits the members into those to delete (in order) and those kept: claims, Secrets and
/// namespaces unless `purge`. With `--only`/`--skip`, only the selected parts' objects are
/// deleted (never a namespace), and `--purge` adds the claims of their StatefulSets and
/// their own Secrets (not a Secret another part copies from).
pub(crate) fn selection<'a>(
    stack: &voice_core::Stack,
    members: &'a [Member],
    selected: &[Object],
    objects: &[Object],
    purge: bool,
) -> (Vec<&'a Member>, Vec<&'a Member>) {
    let data = |m: &Member| matches!(m.kind.as_str(), "PersistentVolumeClaim" | "Secret");
    let (mut gone, kept): (Vec<&Member>, Vec<&Member>) = if stack.selection.is_everything() {
        members
            .iter()
            .partition(|m| purge || !(data(m) || m.kind == "Namespace"))
    } else {
        let ids: std::collections::BTreeSet<String> = selected
            .iter()
            .filter(|o| o.kind != "Namespace")
            .map(Object::id)
            .collect();
        let claim_prefixes: Vec<(String, String)> = selected
            .iter()
            .filter(|o| o.kind == "StatefulSet")
            .flat_map(|o| {
                let ns = o.namespace.clone().unwrap_or_default();
                let v = o.value();
                let names: Vec<String> = v
                    .pointer("/spec/volumeClaimTemplates")
                    .and_then(serde_json::Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.pointer("/metadata/name")?.as_str().map(str::to_string))
                    .collect();
                names
                    .into_iter()
                    .map(move |t| (ns.clone(), format!("{t}-{}-", o.name)))
                    .collect::<Vec<_>>()
            })
            .collect();
        let own_secrets: Vec<(String, String)> = stack
            .secrets
            .iter()
            .filter(|s| stack.selected_component(&s.component).is_some())
            .map(|s| (s.namespace.clone(), s.name.clone()))
            .collect();
        let ns_of = |m: &Member| m.namespace.clone().unwrap_or_default();
        let selected_data = |m: &Member| match m.kind.as_str() {
            "Secret" => own_secrets.contains(&(ns_of(m), m.name.clone())),
            "PersistentVolumeClaim" => claim_prefixes.iter().any(|(ns, p)| {
                *ns == ns_of(m)
                    && m.name
                        .strip_prefix(p.as_str())
                        .is_some_and(|i| i.chars().all(|c| c.is_ascii_digit()))
            }),
            _ => false,
        };
        let mut gone = Vec::new();
        let mut kept = Vec::new();
        for m in members {
            if selected_data(m) {
                if purge { gone.push(m) } else { kept.push(m) }
            } else if !data(m) && ids.contains(&m.id()) {
                gone.push(m);
            }
        }
        (gone, kept)
    };
    gone.sort_by_key(|m| (rank(m, objects), m.id()));
    (gone, kept)
}

/// Deletes the members and waits for each to disappear.
pub(crate) async fn uninstall(
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
        Err(_) => anyhow::bail!(crate::error::NotReady(format!(
            "objects still terminating after {}s; run uninstall again to keep waiting",
            timeout.as_secs()
        ))),
    }
    Ok(deleted)
}

/// Removes the parent once nothing is left.
pub(crate) async fn remove_parent(client: &Client, inv: &Inventory) -> anyhow::Result<()> {
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(client.clone(), &inv.namespace);
    match api.delete(&inv.name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context("deleting the inventory")),
    }
}

/// Lists the members for uninstall.
pub(crate) async fn members(
    client: &Client,
    inv: &Inventory,
    objects: &[Object],
) -> anyhow::Result<Vec<Member>> {
    let secret_ns: Vec<String> = Vec::new();
    let (mut kinds, mut namespaces) = inventory::scope(objects, &secret_ns);
    if let Some((k, n)) = inventory::read_parent(client, inv).await? {
        kinds.extend(k);
        namespaces.extend(n);
    }
    kinds.insert("PersistentVolumeClaim".into());
    let listed = inventory::members(client, inv, &kinds, &namespaces, objects).await?;
    if let Some(said) = listed.said("deleted") {
        eprintln!("{said}");
    }
    Ok(listed.members)
}

// The flags of `kubectl voice uninstall`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Configuration (to find the rollout).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Also delete PersistentVolumeClaims, generated Secrets and the namespaces.
    #[arg(long)]
    pub purge: bool,
    /// Do not ask for confirmation (needed without a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// List what would be deleted and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Take over the rollout's lock from another writer (asks first, unless --yes).
    #[arg(long)]
    pub force_unlock: bool,
    /// Deadline for deletion.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub timeout: String,
}

/// Runs the command against the cluster.
pub(crate) async fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    let Args {
        config,
        purge,
        yes,
        dry_run,
        timeout,
        force_unlock,
    } = args;
    let timeout = duration(&timeout)?;
    let stack = config::load(&config)?;
    let client = cluster::client(ca).await?;
    let inv = Inventory::of(&stack, ca.namespace.as_deref());
    let (selected, objects) = apply::planned(&stack, &inv);
    let members = members(&client, &inv, &objects).await?;
    let (gone, kept) = selection(&stack, &members, &selected, &objects, purge);
    if dry_run {
        for m in &gone {
            println!("would delete {}", m.id());
        }
        for m in &kept {
            println!("would keep   {}", m.id());
        }
        return Ok(exit::OK);
    }
    let what = if purge {
        format!(
            "this deletes {} objects of `{}` for good, its volumes, Secrets and namespaces included",
            gone.len(),
            stack.config.instance
        )
    } else {
        format!(
            "this deletes {} objects of `{}` (volumes, Secrets and namespaces are kept)",
            gone.len(),
            stack.config.instance
        )
    };
    if !gone.is_empty() && !confirm_destructive(&what, yes)? {
        return Ok(exit::BAD_INPUT);
    }
    if force_unlock && !yes && !confirm("Take over the rollout's lock from another writer? [y/N]") {
        return Ok(exit::BAD_INPUT);
    }
    let held = lock::acquire_if_installed(&client, &inv, "uninstall", force_unlock).await?;
    let mut progress = crate::progress::Progress::new(false);
    progress.start(&format!("deleting {} objects", gone.len()));
    let result = async {
        let deleted = uninstall(&client, &gone, timeout).await?;
        if stack.selection.is_everything() && purge {
            history::delete_all(&client, &inv).await?;
        }
        if stack.selection.is_everything() && (purge || kept.is_empty()) {
            remove_parent(&client, &inv).await?;
        }
        Ok::<_, anyhow::Error>(deleted)
    }
    .await;
    lock::release(held).await;
    let deleted = result?;
    progress.done(&format!("deleted {deleted} objects"));
    drop(progress);
    if kept.is_empty() {
        println!("uninstall complete: {deleted} deleted");
    } else {
        println!(
            "uninstall complete: {deleted} deleted, {} kept (volumes, Secrets, namespaces); run with --purge to delete them",
            kept.len()
        );
    }
    Ok(exit::OK)
}
