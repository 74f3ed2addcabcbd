//! `kubectl voice install`: check, decide everything that needs a decision (prunes,
//! StatefulSet re-creation) and ask, then apply the waves (`crate::ops::configure`).

use crate::args::ClusterArgs;
use crate::args::{ApplyFlags, ConfigArgs};
use crate::ops::configure::{Change, apply_configuration};
use crate::ops::source;

// The flags of `kubectl voice install`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Configuration (without a file or --profile: the deployed one, this run's --set flags
    /// over it).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// How to apply.
    #[command(flatten)]
    pub apply: ApplyFlags,
}

/// Runs the command against the cluster.
pub(crate) async fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    // Without a file or --profile, the deployed configuration, said in one line.
    let client = crate::cluster::client(ca).await?;
    let chosen = source::choose(&client, ca, &args.config).await?;
    eprintln!("{}", chosen.said);
    let change = Change {
        description: "install".into(),
        scaled: None,
        named: source::named(&args.config).then(|| args.config.clone()),
    };
    apply_configuration(ca, chosen.stack, chosen.document, change, &args.apply).await
}
