//! `kubectl voice install`: check, decide everything that needs a decision (prunes,
//! StatefulSet re-creation) and ask, then apply the waves (`crate::apply`).

use std::io::IsTerminal as _;
use std::path::PathBuf;

use crate::args::{ConfigArgs, Output, duration};
use crate::cluster::ClusterArgs;
use crate::output::{confirm, print};
use crate::{Usage, apply, cluster, config, exit, inventory, prune, secrets, statefulsets};

/// The flags of `kubectl voice install`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Configuration.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// `server`: send everything as a server-side dry run; nothing is persisted.
    #[arg(long = "dry-run", value_name = "MODE", num_args = 0..=1, default_missing_value = "server")]
    pub dry_run: Option<String>,
    /// Deadline for each wave to become ready (`300s`, `10m`).
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub timeout: String,
    /// Objects applied at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// A YAML file of secret values: `<secret-name>: {KEY: value}`.
    #[arg(long = "secrets-file", value_name = "FILE")]
    pub secrets_file: Option<PathBuf>,
    /// Do not run the pre-install checks.
    #[arg(long)]
    pub skip_checks: bool,
    /// Apply every wave without waiting for readiness gates (like `kubectl apply`).
    #[arg(long)]
    pub no_wait: bool,
    /// Re-create StatefulSets whose change cannot be made in place (claim size or class,
    /// selector): their pods keep running and their claims are kept (and expanded where
    /// the storage class allows it).
    #[arg(long)]
    pub recreate_statefulsets: bool,
    /// Do not ask for confirmation (of warnings, prunes and re-created StatefulSets).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Output format of the summary.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Output,
}

/// Runs the command against the cluster.
pub async fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    let Args {
        config,
        dry_run,
        timeout,
        concurrency,
        secrets_file,
        skip_checks,
        no_wait,
        recreate_statefulsets,
        yes,
        output,
    } = args;
    let dry_run = match dry_run.as_deref() {
        None => false,
        Some("server") => true,
        Some(other) => return Err(Usage(format!("--dry-run={other}: only --dry-run=server is supported (for a client-side preview use `kubectl voice render`)")).into()),
    };
    let timeout = duration(&timeout)?;
    let stack = config::load(&config)?;
    let user = secrets::UserValues::collect(&stack, secrets_file.as_deref())?;
    let client = cluster::client(ca).await?;
    let inv = inventory::Inventory::of(&stack, ca.namespace.as_deref());
    let mut progress = crate::progress::Progress::new(output != Output::Table);
    if !skip_checks {
        progress.start("checking the cluster");
        let (objects, _) = apply::planned(&stack, &inv);
        let report = super::check::report(&client, &stack, &objects, &inv).await;
        if !report.ok() {
            drop(progress);
            eprint!("{}", report.human());
            eprintln!("error: pre-install checks failed; nothing was applied");
            return Ok(exit::NOT_READY);
        }
        let warnings = report
            .categories
            .iter()
            .flat_map(|c| &c.checks)
            .filter(|c| c.result == super::check::Outcome::Warning)
            .count();
        progress.done(&format!(
            "cluster checks passed{}",
            if warnings > 0 {
                format!(" with {warnings} warning(s)")
            } else {
                String::new()
            }
        ));
        if warnings > 0 && !yes && std::io::stdin().is_terminal() && !dry_run {
            eprint!("{}", report.human());
            if !confirm("Continue despite the warnings? [y/N]") {
                return Ok(exit::NOT_READY);
            }
        }
    }
    progress.start("comparing with the live objects");
    let prepared = apply::prepare(&client, &stack, &inv).await?;
    progress.done(&format!(
        "{} object(s) to apply ({}), {} to prune",
        prepared.objects.len(),
        stack.selection.describe(),
        prepared.prune.delete.len()
    ));
    drop(progress);
    let listed = prune::describe(&prepared.prune);
    eprint!("{listed}");
    if let Some(blocked) = statefulsets::describe_blocked(&prepared.upgrades) {
        if !recreate_statefulsets {
            return Err(Usage(format!(
                "these StatefulSets cannot change in place; nothing was applied:\n{blocked}\
                 run again with --recreate-statefulsets to delete each StatefulSet with its pods left running and create it again; its claims are kept (and expanded where the storage class allows it)"
            ))
            .into());
        }
        eprint!("these StatefulSets will be re-created (pods and claims kept):\n{blocked}");
    }
    let destructive = !prepared.prune.delete.is_empty()
        || (recreate_statefulsets && statefulsets::describe_blocked(&prepared.upgrades).is_some());
    if destructive && !yes && !dry_run {
        if !std::io::stdin().is_terminal() {
            return Err(Usage(
                "install would delete or re-create the objects listed above; pass --yes to confirm (nothing was applied)".into(),
            )
            .into());
        }
        if !confirm("Continue? [y/N]") {
            return Ok(exit::NOT_READY);
        }
    }
    let mut progress = crate::progress::Progress::new(output != Output::Table);
    let opts = apply::Options {
        dry_run,
        timeout,
        concurrency,
        wait: !no_wait,
        recreate_statefulsets,
    };
    let summary = apply::install(
        &client,
        &stack,
        &inv,
        &user,
        &opts,
        &prepared,
        &mut progress,
    )
    .await?;
    drop(progress);
    match output {
        Output::Table => println!(
            "{}install {}: {} created, {} configured, {} unchanged, {}{} pruned; secrets: {} written, {} unchanged",
            if dry_run { "(server dry run) " } else { "" },
            if dry_run { "would succeed" } else { "complete" },
            summary.created,
            summary.configured,
            summary.unchanged,
            if summary.replaced > 0 {
                format!("{} replaced, ", summary.replaced)
            } else {
                String::new()
            },
            summary.pruned,
            summary.secrets_written,
            summary.secrets_unchanged
        ),
        o => print(o, &summary)?,
    }
    Ok(exit::OK)
}
