//! `kubectl voice backup [postgres|redis|posthog-postgres|all]`: logical backups streamed out
//! of the pods over exec into a local directory (`crate::ops::backups`), printed as a table or
//! JSON. `kubectl voice backup prune`: retention over those directories.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::args::ClusterArgs;
use crate::args::{ConfigArgs, Output};
use crate::error::{Usage, exit};
use crate::ops::backups::{self, Manifest, TARGETS, doomed, human_bytes, list, parse_age};
use crate::output::{self, confirm_destructive};

// The flags of `kubectl voice backup`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct Args {
    /// `prune`: delete old backups.
    #[command(subcommand)]
    pub command: Option<Sub>,
    /// What to back up (`all`: each of them the rollout has).
    #[arg(value_name = "TARGET", default_value = "all", value_parser = ["postgres", "redis", "posthog-postgres", "all"])]
    pub target: String,
    /// Directory the backups go to (one subdirectory per component and run).
    #[arg(long, value_name = "DIR", default_value = "voice-backups")]
    pub dir: PathBuf,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Output,
    /// Configuration (to find the rollout).
    #[command(flatten)]
    pub config: ConfigArgs,
}

// Subcommands of `backup`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Sub {
    /// Delete complete backups older than --older-than (and beyond --keep-last).
    Prune(PruneArgs),
}

/// The flags of `kubectl voice backup prune`.
#[derive(Debug, clap::Args)]
pub(crate) struct PruneArgs {
    /// Directory holding the backups.
    #[arg(long, value_name = "DIR", default_value = "voice-backups")]
    pub dir: PathBuf,
    /// Delete backups taken longer ago than this (`30d`, `12h`, `90m`).
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<String>,
    /// Keep at least the newest N backups of each instance and component, whatever their age
    /// (default 1: the newest complete backup stays unless `--keep-last 0` is given).
    #[arg(long, value_name = "N")]
    pub keep_last: Option<usize>,
    /// Only print what would be deleted.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (needed without a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
}

/// Runs the command.
pub(crate) async fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    if let Some(Sub::Prune(p)) = args.command {
        return prune(p);
    }
    let (client, stack) = backups::installed_stack(ca, &args.config).await?;
    // With --only/--skip, only the selected parts' databases (and namespaces) are read.
    let select = &args.config.select;
    let partial = !select.only.is_empty() || !select.skip.is_empty();
    let names: Vec<&str> = if args.target == "all" {
        TARGETS
            .iter()
            .copied()
            .filter(|n| stack.selected_component(n).is_some())
            .collect()
    } else if partial
        && stack.component(&args.target).is_some()
        && stack.selected_component(&args.target).is_none()
    {
        return Err(Usage(format!(
            "{} is not in this run's selection ({}); name a database of it, or drop --only/--skip",
            args.target,
            stack.selection.describe()
        ))
        .into());
    } else {
        vec![args.target.as_str()]
    };
    if names.is_empty() {
        let within = if partial {
            format!("this run's selection ({})", stack.selection.describe())
        } else {
            format!("the rollout `{}`", stack.config.instance)
        };
        return Err(Usage(format!(
            "{within} has none of {} to back up",
            TARGETS.join(", ")
        ))
        .into());
    }
    if let [name] = names[..] {
        let made = backups::backup_one(&client, &stack, name, &args.dir)
            .await
            .with_context(|| format!("backup of {name} failed, nothing was kept"))?;
        show(args.output, &[made])?;
        return Ok(exit::OK);
    }
    let mut done: Vec<(PathBuf, Manifest)> = Vec::new();
    let mut failed = 0;
    let mut cluster = false;
    for name in names {
        match backups::backup_one(&client, &stack, name, &args.dir).await {
            Ok(m) => done.push(m),
            Err(e) => {
                cluster |= crate::error::exit_code(&e) == exit::CLUSTER;
                eprintln!(
                    "error: backup of {name} failed, nothing was kept: {}",
                    crate::error::in_words(&e)
                );
                failed += 1;
            }
        }
    }
    show(args.output, &done)?;
    if failed > 0 {
        let said = format!("{failed} backup(s) failed; see the errors above");
        // Failed in the cluster (an exec, a stream): a cluster error, as for one backup.
        if cluster {
            return Err(crate::error::Remote(said).into());
        }
        bail!(said);
    }
    Ok(exit::OK)
}

fn show(out: Output, done: &[(PathBuf, Manifest)]) -> anyhow::Result<()> {
    if out != Output::Table {
        let v: Vec<serde_json::Value> = done
            .iter()
            .map(|(p, m)| serde_json::json!({"path": p, "manifest": m}))
            .collect();
        return output::print(out, &v);
    }
    let mut rows = Vec::new();
    for (p, m) in done {
        for f in &m.files {
            rows.push(vec![
                m.component.clone(),
                f.database.clone().unwrap_or_else(|| "-".into()),
                f.name.clone(),
                human_bytes(f.bytes),
                f.sha256[..12.min(f.sha256.len())].to_string(),
                p.display().to_string(),
            ]);
        }
    }
    if !rows.is_empty() {
        println!(
            "{}",
            output::table(
                &["COMPONENT", "DATABASE", "FILE", "SIZE", "SHA256", "BACKUP"],
                rows
            )
        );
    }
    Ok(())
}

fn prune(p: PruneArgs) -> anyhow::Result<u8> {
    if p.older_than.is_none() && p.keep_last.is_none() {
        return Err(
            Usage("say what to delete: --older-than 30d and/or --keep-last N".into()).into(),
        );
    }
    let max_age = p.older_than.as_deref().map(parse_age).transpose()?;
    let found = list(&p.dir)?;
    let now = k8s_openapi::jiff::Timestamp::now();
    let gone = doomed(&found, now, max_age, Some(p.keep_last.unwrap_or(1)));
    let said = |f: &backups::Found, verb: &str| {
        println!(
            "{verb} {} ({} {}, {})",
            f.dir.display(),
            f.manifest.component,
            f.manifest.finished,
            human_bytes(f.manifest.bytes()),
        );
    };
    if p.dry_run {
        for &i in &gone {
            said(&found[i], "would delete");
        }
    } else if !gone.is_empty() {
        for &i in &gone {
            said(&found[i], "to delete");
        }
        if !confirm_destructive(
            &format!("this deletes {} backup(s) for good", gone.len()),
            p.yes,
        )? {
            return Ok(exit::BAD_INPUT);
        }
        for &i in &gone {
            let f = &found[i];
            std::fs::remove_dir_all(&f.dir)
                .with_context(|| format!("deleting {}", f.dir.display()))?;
            said(f, "deleted");
        }
    }
    println!(
        "{} backup(s) {}, {} kept",
        gone.len(),
        if p.dry_run {
            "would be deleted"
        } else {
            "deleted"
        },
        found.len() - gone.len()
    );
    Ok(exit::OK)
}
