//! `kubectl voice diff`: what install would change, as unified diffs from a server-side dry
//! run, and what it would prune.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use similar::TextDiff;
use voice_core::availability::{self, Compared, PodChange, Row};
use voice_core::render::MANAGER;

use crate::args::ClusterArgs;
use crate::args::{ConfigArgs, Output};
use crate::cluster::apply::Prepared;
use crate::cluster::inventory::Inventory;
use crate::cluster::{self, apply, prune, secrets};
use crate::cluster::{api_for, is_not_found};
use crate::error::exit;
use crate::ops::configure::unavailable;
use crate::output::print;

/// Removes server-owned fields so only intent is compared.
pub(crate) fn strip(mut v: Value) -> Value {
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "managedFields",
            "resourceVersion",
            "uid",
            "generation",
            "creationTimestamp",
            "selfLink",
        ] {
            m.remove(k);
        }
        if let Some(a) = m.get_mut("annotations").and_then(Value::as_object_mut) {
            a.remove("deployment.kubernetes.io/revision");
            if a.is_empty() {
                m.remove("annotations");
            }
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    v
}

/// One object's difference.
pub(crate) struct Change {
    /// `kind/namespace/name`.
    pub id: String,
    /// Unified diff (live → planned); the whole object for a new one.
    pub diff: String,
}

/// What a diff found.
pub(crate) struct Found {
    /// The objects that differ.
    pub changes: Vec<Change>,
    /// The objects this user may not read or dry-run (not compared).
    pub forbidden: Vec<String>,
    /// The compared Deployments and StatefulSets, for the availability rows.
    pub workloads: BTreeMap<String, Compared>,
}

/// Diffs every object against the cluster.
pub(crate) async fn diff(
    client: &kube::Client,
    inv: &Inventory,
    prepared: &Prepared,
    secrets: &secrets::Values,
) -> anyhow::Result<Found> {
    let mut out = Vec::new();
    let mut forbidden = Vec::new();
    let mut workloads = BTreeMap::new();
    let workload =
        |o: &voice_core::render::Object| o.kind == "Deployment" || o.kind == "StatefulSet";
    let mut objects = prepared.objects.clone();
    apply::stamp_secrets(&mut objects, secrets);
    for o in &objects {
        let adjust = prepared.adjust(o);
        if let Some(u) = adjust.upgrade
            && !u.change.immutable.is_empty()
        {
            // Re-created with its pods adopted: compared as planned.
            workloads.insert(
                o.id(),
                Compared {
                    applied: apply::body(inv, o, adjust, true),
                    live: Some(u.live.clone()),
                },
            );
            out.push(Change {
                id: o.id(),
                diff: format!(
                    "# {}: cannot change in place ({}); install needs --recreate-statefulsets\n",
                    o.id(),
                    u.change.immutable.join("; ")
                ),
            });
            continue;
        }
        let api = api_for(client, &o.api_version, &o.kind, o.namespace.as_deref());
        let live = match api.get(&o.name).await {
            Ok(l) => Some(strip(serde_json::to_value(l)?)),
            Err(e) if is_not_found(&e) => None,
            Err(kube::Error::Api(e)) if e.code == 403 => {
                forbidden.push(o.id());
                continue;
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {}", o.id()))),
        };
        let mut pp = kube::api::PatchParams::apply(MANAGER).force();
        pp.dry_run = true;
        let body = apply::body(inv, o, adjust, true);
        let planned = match api
            .patch(&o.name, &pp, &kube::api::Patch::Apply(&body))
            .await
        {
            Ok(p) => strip(serde_json::to_value(p)?),
            // A namespace that does not exist yet makes dry-run fail; show the object as planned.
            Err(e) if is_not_found(&e) => strip(body.clone()),
            Err(kube::Error::Api(e)) if e.code == 403 => {
                forbidden.push(o.id());
                continue;
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("dry-run applying {}", o.id())));
            }
        };
        if workload(o) {
            workloads.insert(
                o.id(),
                Compared {
                    applied: planned.clone(),
                    live: live.clone(),
                },
            );
        }
        let a = live
            .as_ref()
            .map(serde_yaml::to_string)
            .transpose()?
            .unwrap_or_default();
        let b = serde_yaml::to_string(&planned)?;
        if a != b {
            let d = TextDiff::from_lines(&a, &b);
            let from = if live.is_some() {
                format!("live/{}", o.id())
            } else {
                "/dev/null".into()
            };
            out.push(Change {
                id: o.id(),
                diff: d
                    .unified_diff()
                    .context_radius(3)
                    .header(&from, &format!("planned/{}", o.id()))
                    .to_string(),
            });
        }
    }
    Ok(Found {
        changes: out,
        forbidden,
        workloads,
    })
}

// The flags of `kubectl voice diff`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Configuration.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Exit 2 when install --require-availability would refuse this change: a workload that
    /// others use would have no ready pod while its pods are replaced.
    #[arg(long)]
    pub require_availability: bool,
    /// Output format: the diffs as text, or what differs, what would be pruned and the
    /// availability rows as JSON or YAML.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Output,
}

/// `diff -o json`: what install would change.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    /// `kind/namespace/name` of each object that differs.
    differ: Vec<&'a str>,
    /// Objects this user may not read or dry-run.
    forbidden: &'a [String],
    /// Objects install would prune.
    prune: Vec<String>,
    /// The workloads whose pods the change creates or replaces, and what that means.
    availability: Vec<&'a Row>,
}

/// Runs the command against the cluster.
pub(crate) async fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    let Args {
        config,
        require_availability,
        output,
    } = args;
    let client = cluster::client(ca).await?;
    // Without a file or --profile, the deployed configuration, said in one line.
    let chosen = crate::ops::source::choose(&client, ca, &config).await?;
    eprintln!("{}", chosen.said);
    let stack = chosen.stack;
    let inv = Inventory::of(&stack, ca.namespace.as_deref());
    if let Some(said) = crate::ops::source::profile_change(&client, &inv, &stack).await? {
        eprintln!("{said}");
    }
    let prepared = apply::prepare(&client, &stack, &inv).await?;
    let values = secrets::read(&client, &stack).await?;
    let found = diff(&client, &inv, &prepared, &values).await?;
    let Found {
        changes,
        forbidden,
        workloads,
    } = &found;
    let rows = availability::rows(&stack, &prepared.objects, Some(workloads));
    let changed: Vec<&Row> = rows
        .iter()
        .filter(|r| r.change != PodChange::Unchanged)
        .collect();
    if output != Output::Table {
        print(
            output,
            &Report {
                differ: changes.iter().map(|c| c.id.as_str()).collect(),
                forbidden,
                prune: prepared.prune.delete.iter().map(|m| m.id()).collect(),
                availability: changed.clone(),
            },
        )?;
    } else {
        for c in changes {
            print!("{}", c.diff);
        }
    }
    eprintln!(
        "{} of {} objects differ ({}){}",
        changes.len(),
        prepared.objects.len(),
        stack.selection.describe(),
        if changes.is_empty() { "" } else { ":" },
    );
    for c in changes {
        eprintln!("  ~ {}", c.id);
    }
    if !forbidden.is_empty() {
        eprintln!(
            "{} object(s) not compared: this user may not read or patch them (a cluster admin's part of the rollout):",
            forbidden.len()
        );
        for id in forbidden {
            eprintln!("  ? {id}");
        }
    }
    eprint!("{}", prune::describe(&prepared.prune));
    for e in &prepared.engines {
        eprintln!("{e}");
    }
    if !changed.is_empty() {
        eprintln!("Availability: the workloads whose pods install would start or replace:");
        eprintln!("{}", crate::output::availability(&changed, true));
    }
    if require_availability && let Some(why) = unavailable(&rows) {
        eprintln!("{why}install --require-availability would refuse this change");
        return Ok(exit::BAD_INPUT);
    }
    Ok(if changes.is_empty() && prepared.prune.delete.is_empty() {
        exit::OK
    } else {
        exit::NOT_READY
    })
}
