//! `kubectl voice install`: check, decide everything that needs a decision (prunes,
//! StatefulSet re-creation) and ask, then apply the waves (`crate::ops::configure`).

use crate::args::ClusterArgs;
use crate::args::{ApplyFlags, ConfigArgs};
use crate::config;
use crate::ops::configure::{Change, apply_configuration};

/// The flags of `kubectl voice install`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Configuration.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// How to apply.
    #[command(flatten)]
    pub apply: ApplyFlags,
}

/// Runs the command against the cluster.
pub(crate) async fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    let (stack, document) = config::load_recorded(&args.config)?;
    let change = Change {
        description: "install".into(),
        scaled: None,
    };
    apply_configuration(ca, stack, document, change, &args.apply).await
}
