//! `kubectl voice restore BACKUP`: checks the files against the manifest's sha256, checks
//! the versions, asks, then streams the backup into the component's pod over exec stdin
//! (`crate::ops::restore`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;

use crate::args::ClusterArgs;
use crate::args::{ConfigArgs, duration};
use crate::cluster::streams;
use crate::error::exit;
use crate::ops::backups as backup;
use crate::ops::restore::{restore_postgres, restore_redis, verify};
use crate::output;

// The flags of `kubectl voice restore`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A backup directory made by `kubectl voice backup` (or its manifest.json).
    #[arg(value_name = "BACKUP")]
    pub backup: PathBuf,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Deadline for a Redis restore's sync (`300s`, `10m`).
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub timeout: String,
    /// Configuration (to find the rollout).
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Runs the command.
pub(crate) async fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    let timeout = duration(&args.timeout)?;
    let (dir, m) = backup::read_manifest(&args.backup)?;
    verify(&dir, &m)?;
    let (client, stack) = backup::installed_stack(ca, &args.config).await?;
    let t = streams::ready_pod(&client, &stack, &m.component).await?;
    let engine = stack.component(&m.component).and_then(backup::engine_of);
    if engine != Some(m.engine.as_str()) {
        bail!(
            "{} in this rollout does not run {} (the backup's engine)",
            m.component,
            m.engine
        );
    }
    let started = Instant::now();
    let proceed = |what: &str| output::confirm_destructive(what, args.yes);
    let done = if m.engine == "postgresql" {
        restore_postgres(&client, &t, &dir, &m, proceed).await?
    } else {
        restore_redis(&client, &t, &dir, &m, timeout, proceed).await?
    };
    if !done {
        eprintln!("restore cancelled: nothing was changed");
        return Ok(exit::BAD_INPUT);
    }
    println!(
        "restore of {} ({}) into {t} complete in {:.1}s",
        m.component,
        m.finished,
        started.elapsed().as_secs_f64()
    );
    Ok(exit::OK)
}
