//! `kubectl voice scale COMPONENT --replicas N` (or `--min`/`--max` for an autoscaled one):
//! the deployed configuration with that one change, applied at once through the install
//! flow and recorded, so a later install that would undo it says so.

use voice_core::catalog::WorkloadKind;

use crate::args::ApplyFlags;
use crate::args::ClusterArgs;
use crate::args::ConfigArgs;
use crate::cluster::{self, history, inventory};
use crate::config;
use crate::error::Usage;
use crate::ops::configure::{Change, apply_configuration};

// The flags of `kubectl voice scale`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The component (see `kubectl voice plan`): a Deployment or StatefulSet.
    #[arg(id = "workload", value_name = "COMPONENT")]
    pub component: String,
    /// Replicas of a component without an autoscaler.
    #[arg(long, value_name = "N")]
    pub replicas: Option<u32>,
    /// The autoscaler's minimum.
    #[arg(long, value_name = "N")]
    pub min: Option<u32>,
    /// The autoscaler's maximum.
    #[arg(long, value_name = "N")]
    pub max: Option<u32>,
    /// Configuration (to find the rollout, and to start from when it has no history).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// How to apply.
    #[command(flatten)]
    pub apply: ApplyFlags,
}

/// Runs the command against the cluster.
pub(crate) async fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    let (here, document) = config::load_recorded(&args.config)?;
    let client = cluster::client(ca).await?;
    let inv = inventory::Inventory::of(&here, ca.namespace.as_deref());
    let revisions = history::list(&client, &inv).await?;
    let last = history::current(&revisions);
    // Scale what is deployed, not what the local file says.
    let (document, mut scaled) = match last {
        Some(r) => (r.config.clone(), r.scaled.clone()),
        None => (document, Vec::new()),
    };
    // The deployed configuration is read once; the change is made to its typed values.
    let mut recorded = history::Recorded::read(document)?;
    let base = recorded.build(&voice_core::config::Selection::default())?;
    let name = &args.component;
    let c = base.component(name).ok_or_else(|| {
        Usage(format!(
            "`{name}` is not a component of this rollout; see `kubectl voice plan` for the names"
        ))
    })?;
    if c.kind == WorkloadKind::Job {
        return Err(Usage(format!(
            "{name} is a Job, which runs once to completion; scale applies to Deployments and StatefulSets (and autoscaler bounds)"
        ))
        .into());
    }
    // This run writes what its own flags select, else only the scaled component's part:
    // never the selection of an earlier run.
    let selection = if here.selection.is_everything() {
        voice_core::catalog::selection_of(c)
    } else {
        here.selection.clone()
    };
    if !selection.includes(c) {
        return Err(Usage(format!(
            "{} leaves {name} out; scale writes only the scaled component",
            selection.describe()
        ))
        .into());
    }
    let replicas = |n| voice_core::Change::Replicas {
        component: name.clone(),
        replicas: n,
    };
    let mut changes: Vec<voice_core::Change> = Vec::new();
    match (c.autoscale, args.replicas, args.min, args.max) {
        (_, None, None, None) => {
            return Err(Usage(
                "say what to scale to: --replicas N, or --min/--max for an autoscaled component"
                    .into(),
            )
            .into());
        }
        (Some(a), Some(_), _, _) => {
            return Err(Usage(format!(
                "{name} is autoscaled ({}–{} replicas): its autoscaler sets the count; change its bounds with --min and --max",
                a.hpa.min, a.hpa.max
            ))
            .into());
        }
        (None, _, Some(_), _) | (None, _, _, Some(_)) => {
            return Err(Usage(format!("{name} has no autoscaler; use --replicas")).into());
        }
        (None, Some(n), None, None) => changes.push(replicas(n)),
        (Some(_), None, min, max) => {
            changes.extend(min.map(replicas));
            changes.extend(max.map(|n| voice_core::Change::MaxReplicas {
                component: name.clone(),
                max_replicas: n,
            }));
        }
    }
    let number = revisions.last().map_or(1, |r| r.revision + 1);
    for change in &changes {
        recorded.change(change, &mut scaled, number)?;
    }
    let stack = recorded.build(&selection)?;
    let description = format!(
        "scale {name} {}",
        changes
            .iter()
            .map(|c| {
                let field = c.field();
                format!(
                    "{}={}",
                    field.rsplit('.').next().unwrap_or(&field),
                    c.value()
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    );
    let change = Change {
        description,
        scaled: Some(scaled),
        named: None,
    };
    apply_configuration(ca, stack, recorded.document, change, &args.apply).await
}
