//! `kubectl voice rollback [REVISION]`: applies a recorded revision's configuration again,
//! through the same plan, checks, confirmations and waves as install, and records
//! "rollback to N". Secret values and claims are never changed; a change that cannot be
//! made in place is named before any write.

use crate::args::ApplyFlags;
use crate::args::ClusterArgs;
use crate::args::ConfigArgs;
use crate::cluster::{self, history, inventory};
use crate::config;
use crate::error::Usage;
use crate::ops::configure::{Change, apply_configuration};

// The flags of `kubectl voice rollback`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The revision to go back to (default: the one before the current).
    pub revision: Option<u32>,
    /// Configuration (to find the rollout: its instance and namespaces).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// How to apply.
    #[command(flatten)]
    pub apply: ApplyFlags,
}

/// Runs the command against the cluster.
pub(crate) async fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    let here = config::load(&args.config)?;
    let client = cluster::client(ca).await?;
    let inv = inventory::Inventory::of(&here, ca.namespace.as_deref());
    let revisions = history::list(&client, &inv).await?;
    let current = history::current(&revisions).map(|r| r.revision);
    let target = match args.revision {
        Some(n) => revisions.iter().find(|r| r.revision == n).ok_or_else(|| {
            Usage(format!(
                "revision {n} of {} is not in the history (kept: {}); see `kubectl voice history`",
                inv.instance,
                revisions
                    .iter()
                    .map(|r| r.revision.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?,
        None => revisions
            .iter()
            .rev()
            .find(|r| Some(r.revision) < current && r.applied())
            .ok_or_else(|| {
                Usage(format!(
                    "{} has no earlier revision to roll back to; see `kubectl voice history`",
                    inv.instance
                ))
            })?,
    };
    if target.tool != history::tool() {
        eprintln!(
            "note: revision {} was made by {}; this is {}: it is applied as this version renders it",
            target.revision,
            target.tool,
            history::tool()
        );
    }
    let stack = history::load_document(&target.config, target.selection.clone())?;
    let change = Change {
        description: format!("rollback to {}", target.revision),
        scaled: Some(target.scaled.clone()),
        named: None,
    };
    apply_configuration(ca, stack, target.config.clone(), change, &args.apply).await
}
