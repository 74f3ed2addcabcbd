//! `kubectl-voice`: the kubectl plugin binary. A thin layer over `voice-core`: it reads
//! files and flags, calls the planner, and prints or applies what comes back.

mod apply;
mod args;
mod check;
mod cluster;
mod config;
mod diff;
mod inventory;
mod output;
mod plan;
mod progress;
mod prune;
mod secrets;
mod statefulsets;
mod status;
mod uninstall;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, Parser};

use args::{Cli, Command, Output};

/// Exit codes, as documented in the README.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Not ready, or differences found.
    pub const NOT_READY: u8 = 1;
    /// Bad input: nothing was applied.
    pub const BAD_INPUT: u8 = 2;
    /// The cluster could not be reached or refused a request.
    pub const CLUSTER: u8 = 3;
}

/// A usage problem found after parsing (exit 2).
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Usage {}

fn print(out: Output, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = match out {
        Output::Yaml => serde_yaml::to_string(value)?,
        _ => serde_json::to_string_pretty(value)? + "\n",
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(())
}

fn duration(s: &str) -> anyhow::Result<Duration> {
    let (num, unit) = s.trim().split_at(
        s.trim()
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(s.trim().len()),
    );
    let n: u64 = num
        .parse()
        .map_err(|_| Usage(format!("`{s}` is not a duration (examples: 300s, 10m, 1h)")))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => {
            return Err(Usage(format!("`{s}` is not a duration (examples: 300s, 10m, 1h)")).into());
        }
    };
    Ok(Duration::from_secs(secs))
}

fn confirm(question: &str) -> bool {
    eprint!("{question} ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).is_ok()
        && matches!(line.trim(), "y" | "yes" | "Y" | "YES")
}

async fn run_cluster(cli: Cli) -> anyhow::Result<u8> {
    let ca = cli.cluster.clone();
    match cli.command {
        Command::Check { config, output } => {
            let stack = config::load(&config)?;
            let client = cluster::client(&ca).await?;
            let inv = inventory::Inventory::of(&stack, ca.namespace.as_deref());
            let (objects, _) = apply::planned(&stack, &inv);
            let report = check::run(&client, &stack, &objects, &inv).await;
            match output {
                Output::Table => print!("{}", report.human()),
                o => print(o, &report)?,
            }
            Ok(if report.ok() {
                exit::OK
            } else {
                exit::NOT_READY
            })
        }
        Command::Install {
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
        } => {
            let dry_run = match dry_run.as_deref() {
                None => false,
                Some("server") => true,
                Some(other) => return Err(Usage(format!("--dry-run={other}: only --dry-run=server is supported (for a client-side preview use `kubectl voice render`)")).into()),
            };
            let timeout = duration(&timeout)?;
            let stack = config::load(&config)?;
            let user = secrets::UserValues::collect(&stack, secrets_file.as_deref())?;
            let client = cluster::client(&ca).await?;
            let inv = inventory::Inventory::of(&stack, ca.namespace.as_deref());
            let mut progress = progress::Progress::new(output != Output::Table);
            if !skip_checks {
                progress.start("checking the cluster");
                let (objects, _) = apply::planned(&stack, &inv);
                let report = check::run(&client, &stack, &objects, &inv).await;
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
                    .filter(|c| c.result == check::Outcome::Warning)
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
                || (recreate_statefulsets
                    && statefulsets::describe_blocked(&prepared.upgrades).is_some());
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
            let mut progress = progress::Progress::new(output != Output::Table);
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
        Command::Status {
            config,
            watch,
            verify,
            output,
        } => {
            let stack = config::load(&config)?;
            let client = cluster::client(&ca).await?;
            let inv = inventory::Inventory::of(&stack, ca.namespace.as_deref());
            let checks = if verify {
                voice_core::plan::plan(&stack)
                    .waves
                    .into_iter()
                    .flat_map(|w| w.checks)
                    .collect()
            } else {
                Vec::new()
            };
            loop {
                let mut report = status::collect(&client, &inv).await?;
                if !stack.selection.is_everything() {
                    report.components.retain(|r| {
                        stack
                            .component(&r.component)
                            .is_some_and(|c| stack.selection.includes(c))
                    });
                    report.healthy = !report.components.is_empty()
                        && report.components.iter().all(|r| r.healthy);
                }
                if verify {
                    // Only what is installed is probed (a cloud install has no PostHog).
                    let present: Vec<voice_core::plan::HealthCheck> = checks
                        .iter()
                        .filter(|c| report.components.iter().any(|r| r.component == c.component))
                        .cloned()
                        .collect();
                    report.checks = status::verify(&client, &present).await;
                    report.healthy &= report.checks.iter().all(|c| c.1);
                }
                match output {
                    Output::Table => print!("{}", status::human(&report)),
                    o => print(o, &report)?,
                }
                if !watch {
                    return Ok(if report.healthy {
                        exit::OK
                    } else {
                        exit::NOT_READY
                    });
                }
                status::wait_for_change(&client, &inv).await?;
                if output == Output::Table && std::io::stdout().is_terminal() {
                    print!("\x1b[2J\x1b[H");
                }
            }
        }
        Command::Diff { config } => {
            let stack = config::load(&config)?;
            let client = cluster::client(&ca).await?;
            let inv = inventory::Inventory::of(&stack, ca.namespace.as_deref());
            let prepared = apply::prepare(&client, &stack, &inv).await?;
            let values = secrets::read(&client, &stack).await?;
            let changes = diff::diff(&client, &inv, &prepared, &values).await?;
            for c in &changes {
                print!("{}", c.diff);
            }
            eprintln!(
                "{} of {} objects differ ({}){}",
                changes.len(),
                prepared.objects.len(),
                stack.selection.describe(),
                if changes.is_empty() { "" } else { ":" },
            );
            for c in &changes {
                eprintln!("  ~ {}", c.id);
            }
            eprint!("{}", prune::describe(&prepared.prune));
            Ok(if changes.is_empty() && prepared.prune.delete.is_empty() {
                exit::OK
            } else {
                exit::NOT_READY
            })
        }
        Command::Uninstall {
            config,
            purge,
            yes,
            dry_run,
            timeout,
        } => {
            let timeout = duration(&timeout)?;
            let stack = config::load(&config)?;
            let client = cluster::client(&ca).await?;
            let inv = inventory::Inventory::of(&stack, ca.namespace.as_deref());
            let (selected, objects) = apply::planned(&stack, &inv);
            let members = uninstall::members(&client, &inv, &objects).await?;
            let (gone, kept) = uninstall::selection(&stack, &members, &selected, &objects, purge);
            if dry_run {
                for m in &gone {
                    println!("would delete {}", m.id());
                }
                for m in &kept {
                    println!("would keep   {}", m.id());
                }
                return Ok(exit::OK);
            }
            if purge && !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(Usage("--purge deletes volumes, Secrets and namespaces for good; pass --yes to confirm".into()).into());
                }
                if !confirm(&format!(
                    "Delete {} objects including volumes and Secrets of `{}`? [y/N]",
                    gone.len(),
                    stack.config.instance
                )) {
                    return Ok(exit::NOT_READY);
                }
            }
            let mut progress = progress::Progress::new(false);
            progress.start(&format!("deleting {} objects", gone.len()));
            let deleted = uninstall::uninstall(&client, &gone, timeout).await?;
            if stack.selection.is_everything() && (purge || kept.is_empty()) {
                uninstall::remove_parent(&client, &inv).await?;
            }
            progress.done(&format!("deleted {deleted} objects"));
            drop(progress);
            if kept.is_empty() {
                println!("uninstall complete: {deleted} deleted");
            } else {
                println!(
                    "uninstall complete: {deleted} deleted, {} kept (volumes, Secrets, namespaces); run with --purge to delete them",
                    kept.len()
                );
            }
            Ok(exit::OK)
        }
        _ => unreachable!("offline commands are handled before the runtime starts"),
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Plan { config, output } => {
            let stack = config::load(&config)?;
            let plan = voice_core::plan::plan(&stack);
            match output {
                Output::Table => std::io::stdout().write_all(plan::human(&plan).as_bytes())?,
                o => print(o, &plan)?,
            }
        }
        Command::Render { config, out } => {
            let stack = config::load(&config)?;
            match out {
                None => render_stream(&stack)?,
                Some(dir) => {
                    let objects = voice_core::render::selected(&stack);
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                    let files = voice_core::render::to_files(&objects);
                    // Files an earlier render listed that this one does not write would be
                    // read by `kubectl apply -k` as if still planned: remove them.
                    let listed =
                        std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap_or_default();
                    for old in listed.lines().filter_map(|l| l.trim().strip_prefix("- ")) {
                        let stale = !old.contains('/')
                            && old.ends_with(".yaml")
                            && !files.iter().any(|(n, _)| n == old);
                        if stale {
                            std::fs::remove_file(dir.join(old))
                                .or_else(|e| match e.kind() {
                                    std::io::ErrorKind::NotFound => Ok(()),
                                    _ => Err(e),
                                })
                                .with_context(|| {
                                    format!("removing the stale {old} from {}", dir.display())
                                })?;
                        }
                    }
                    for (name, text) in &files {
                        let path = dir.join(name);
                        std::fs::write(&path, text)
                            .with_context(|| format!("writing {}", path.display()))?;
                    }
                    eprintln!(
                        "wrote {} files ({} objects) to {}",
                        files.len(),
                        objects.len(),
                        dir.display()
                    );
                }
            }
        }
        Command::Validate { config, output } => {
            let stack = config::load(&config)?;
            match output {
                Output::Table => println!(
                    "configuration is valid: profile {}, {} components",
                    stack.config.profile.as_str(),
                    stack.components.len()
                ),
                o => print(o, &serde_json::json!({"valid": true, "errors": []}))?,
            }
        }
        Command::Schema => print(Output::Json, &voice_core::config::schema())?,
        Command::Profile { name } => {
            let p = voice_core::ProfileName::parse(&name).ok_or_else(|| {
                Usage(format!(
                    "`{name}` is not a profile; use dev, small or production"
                ))
            })?;
            std::io::stdout().write_all(voice_core::config::profile_yaml(p).as_bytes())?;
        }
        Command::Completion { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "kubectl-voice",
                &mut std::io::stdout(),
            );
        }
        _ => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let started = std::time::Instant::now();
            let result = rt.block_on(run_cluster(cli));
            if std::env::var_os("VOICE_API_STATS").is_some() {
                let (n, w) = cluster::request_counts();
                eprintln!(
                    "api: {n} requests ({w} watches) in {:.3}s",
                    started.elapsed().as_secs_f64()
                );
            }
            return result;
        }
    }
    Ok(exit::OK)
}

/// Writes the manifests to stdout as they are rendered, dropping each object once written,
/// so memory holds one object at a time instead of the whole stream.
fn render_stream(stack: &voice_core::Stack) -> anyhow::Result<()> {
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut doc = String::with_capacity(16 << 10);
    let mut result = Ok(());
    let mut write = |o: voice_core::render::Object| {
        if result.is_ok() {
            doc.clear();
            doc.push_str("---\n");
            o.write_yaml(&mut doc);
            result = stdout.write_all(doc.as_bytes());
        }
    };
    if stack.selection.is_everything() {
        voice_core::render::render_each(stack, write);
    } else {
        voice_core::render::selected(stack)
            .into_iter()
            .for_each(&mut write);
    }
    result?;
    stdout.flush()?;
    Ok(())
}

/// Maps an error to its exit code.
fn code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<config::BadInput>().is_some() || e.downcast_ref::<Usage>().is_some() {
        exit::BAD_INPUT
    } else if e.downcast_ref::<apply::NotReady>().is_some() {
        exit::NOT_READY
    } else if e.chain().any(|c| c.downcast_ref::<kube::Error>().is_some()) {
        exit::CLUSTER
    } else {
        exit::BAD_INPUT
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::from(exit::OK);
            }
            match e.downcast_ref::<config::BadInput>() {
                Some(bad) => eprintln!("error: {bad}"),
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::from(code(&e))
        }
    }
}
