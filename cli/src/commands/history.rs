//! `kubectl voice history`: the rollout's revisions, newest last, like `helm history`.

use crate::args::ClusterArgs;
use crate::args::{ConfigArgs, Output};
use crate::cluster::{self, history, inventory};
use crate::config;
use crate::error::exit;
use crate::output::print;

// The flags of `kubectl voice history`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Configuration (to find the rollout).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Output format (`-o json` and `-o yaml` include each revision's configuration).
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Output,
}

/// Runs the command against the cluster.
pub(crate) async fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    let stack = config::load(&args.config)?;
    let client = cluster::client(ca).await?;
    let inv = inventory::Inventory::of(&stack, ca.namespace.as_deref());
    let revisions = history::list(&client, &inv).await?;
    match args.output {
        Output::Table if revisions.is_empty() => {
            eprintln!(
                "no revisions of {} in namespace {}",
                inv.instance, inv.namespace
            );
        }
        Output::Table => print!("{}", history::human(&revisions)),
        o => print(o, &revisions)?,
    }
    Ok(exit::OK)
}
