//! `kubectl voice upgrade-engine <postgres|posthog-postgres> --to MAJOR | --back | --finalize`:
//! a PostgreSQL major version as a blue-green of the database (the flow is
//! `ops::engine_upgrade`); this file holds the flags, their help and the one choice of mode.

use crate::args::{ApplyFlags, ClusterArgs, ConfigArgs};
use crate::error::Usage;
use crate::ops::engine_upgrade::{self, Mode};

// The flags of `kubectl voice upgrade-engine`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Steps, each configuration change a recorded revision (`kubectl voice history`):
  1. refuse unless the live StatefulSet runs an older major and is ready;
  2. dump every database and the roles (as `kubectl voice backup`, sha256-verified) into --backup-dir;
  3. create StatefulSet <name>-<major> (claims data-<name>-<major>-0) and wait until it is ready;
  4. restore the dump into it (as `kubectl voice restore`);
  5. compare every table's row count in every database, and the roles, old against new;
     on any difference stop, saying what differs: the old database keeps serving;
  6. move the Service to the new pod and scale the old StatefulSet to zero (one apply).

Writes: the components that depend on the database (their Deployments) are scaled to zero
from the dump to the switch, so nothing written after the dump is lost; they come back to
their replicas afterwards, also when a step fails, and at the start of the next run when
a run was killed. Until step 6 the Service selects the old pod, so an interrupted run leaves
the old database serving; running the command again copies again from a new backup.

`--back` starts the old StatefulSet, waits until it is ready and moves the Service back to it:
what was written on the new one since the switch stays there and is not copied back.
`--finalize` drops the old StatefulSet; its claims are kept and listed with their size and the
`kubectl delete pvc` command that deletes them.")]
pub(crate) struct Args {
    /// The PostgreSQL component: `postgres` (platform) or `posthog-postgres` (PostHog).
    #[arg(value_parser = ["postgres", "posthog-postgres"])]
    pub component: String,
    /// The major version to move to (16, 17): its image is the one kubectl-voice pins.
    #[arg(long, value_name = "MAJOR")]
    pub to: Option<u32>,
    /// The image of that major to run instead of the pinned one (`postgres:17.6-alpine`).
    #[arg(long, value_name = "IMAGE", requires = "to")]
    pub image: Option<String>,
    /// Serve from the previous StatefulSet again (after confirmation: writes made on the
    /// new one since the switch are not copied back).
    #[arg(long)]
    pub back: bool,
    /// Drop the previous StatefulSet; its claims are kept and listed.
    #[arg(long)]
    pub finalize: bool,
    /// Configuration (to find the rollout).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// How to apply (the backup goes to --backup-dir; --yes confirms).
    #[command(flatten)]
    pub apply: ApplyFlags,
}

/// Runs the command against the cluster.
pub(crate) async fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    let mode = match (args.to, args.back, args.finalize) {
        (Some(major), false, false) => {
            if let Some(i) = &args.image {
                voice_core::config::check_image(i)
                    .map_err(|why| Usage(format!("--image {why}")))?;
            }
            Mode::To {
                major,
                image: args.image.clone(),
            }
        }
        (None, true, false) => Mode::Back,
        (None, false, true) => Mode::Finalize,
        _ => {
            return Err(
                Usage("say one thing to do: --to MAJOR, --back or --finalize".into()).into(),
            );
        }
    };
    engine_upgrade::run(ca, &args.config, &args.component, mode, &args.apply).await
}
