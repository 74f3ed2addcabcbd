//! `kubectl-voice`: the kubectl plugin binary. A thin layer over `voice-core`: it reads
//! files and flags, calls the planner, and prints or applies what comes back.

mod apply;
mod args;
mod backups;
mod cluster;
mod commands;
mod complete;
mod config;
mod errors;
mod forward;
mod health;
mod history;
mod inventory;
mod lock;
mod output;
mod pods;
mod progress;
mod prune;
mod retry;
mod secrets;
mod statefulsets;
mod streams;
mod wait;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

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

fn run(cli: Cli) -> anyhow::Result<u8> {
    use commands::*;
    match cli.command {
        Command::Plan(args) => plan::run(&cli.cluster, args),
        Command::Render(args) => render::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Schema => schema(),
        Command::Profile(args) => profile::run(args),
        Command::Completion(args) => completion::run(args),
        Command::Version(args) => version::run(args),
        command => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let started = std::time::Instant::now();
            let ca = &cli.cluster;
            let result = rt.block_on(async {
                match command {
                    Command::Check(args) => check::run(ca, args).await,
                    Command::Install(args) => install::run(ca, args).await,
                    Command::Status(args) => status::run(ca, args).await,
                    Command::Diff(args) => diff::run(ca, args).await,
                    Command::Uninstall(args) => uninstall::run(ca, args).await,
                    Command::History(args) => history::run(ca, args).await,
                    Command::Rollback(args) => rollback::run(ca, args).await,
                    Command::Scale(args) => scale::run(ca, args).await,
                    Command::Restart(args) => restart::run(ca, args).await,
                    Command::Switch(args) => switch::run(ca, args).await,
                    Command::Logs(args) => logs::run(ca, args).await,
                    Command::Dashboard(args) => dashboard::run(ca, args).await,
                    Command::Backup(args) => backup::run(ca, args).await,
                    Command::Restore(args) => restore::run(ca, args).await,
                    _ => unreachable!("offline commands are handled above"),
                }
            });
            if std::env::var_os("VOICE_API_STATS").is_some() {
                let (n, w) = cluster::request_counts();
                eprintln!(
                    "api: {n} requests ({w} watches) in {:.3}s",
                    started.elapsed().as_secs_f64()
                );
            }
            result
        }
    }
}

/// Maps an error to its exit code.
fn code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<config::BadInput>().is_some() || e.downcast_ref::<Usage>().is_some() {
        exit::BAD_INPUT
    } else if e.downcast_ref::<apply::NotReady>().is_some()
        || e.downcast_ref::<lock::Locked>().is_some()
    {
        exit::NOT_READY
    } else if e.chain().any(|c| c.downcast_ref::<kube::Error>().is_some()) {
        exit::CLUSTER
    } else {
        exit::BAD_INPUT
    }
}

fn main() -> ExitCode {
    // `kubectl-voice __complete ARGS…`: cobra's completion protocol, before clap parses
    // (the words are partial by nature).
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).is_some_and(|a| a == "__complete") {
        return ExitCode::from(complete::run(&argv[2..]));
    }
    let cli = Cli::parse();
    let writes = cli.command.writes();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::from(exit::OK);
            }
            match (
                e.downcast_ref::<config::BadInput>(),
                errors::render(&e, writes),
            ) {
                (Some(bad), _) => eprintln!("error: {bad}"),
                (None, Some(cluster)) => eprintln!("error: {cluster}"),
                (None, None) => eprintln!("error: {e:#}"),
            }
            ExitCode::from(code(&e))
        }
    }
}
