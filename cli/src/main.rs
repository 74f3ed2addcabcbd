//! `kubectl-voice`: the kubectl plugin binary. A thin layer over `voice-core`: it reads
//! files and flags, calls the planner, and prints or applies what comes back.
//!
//! Its modules are layered, low to high, each importing only its own layer or lower: the
//! leaves (`error`, `progress`, `retry`, `output`); `args` (the shared flag groups);
//! `config`; `cluster` (the client and one module per thing done on the cluster); `ops`
//! (the flows verbs share); `commands` (one module per verb); then `cli` (the clap tree),
//! `complete` and this file (parse, dispatch, exit code).

mod args;
mod cli;
mod cluster;
mod commands;
mod complete;
mod config;
mod error;
mod ops;
mod output;
mod progress;
mod retry;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};

use cli::{Cli, Command};

fn run(cli: Cli) -> anyhow::Result<u8> {
    use commands::*;
    match cli.command {
        Command::Plan(args) => plan::run(&cli.cluster, args),
        Command::Render(args) => render::run(&cli.cluster, args),
        Command::Validate(args) => validate::run(args),
        Command::Schema => schema(),
        Command::Profile(args) => profile::run(args),
        Command::Completion(args) => completion::run(args, &mut Cli::command()),
        Command::Version(args) => version::run(args),
        Command::Secrets(secrets::Args {
            command: secrets::Sub::Template(args),
        }) => secrets::template(args),
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
                    Command::UpgradeEngine(args) => upgrade_engine::run(ca, args).await,
                    Command::Logs(args) => logs::run(ca, args).await,
                    Command::Dashboard(args) => dashboard::run(ca, args).await,
                    Command::Backup(args) => backup::run(ca, args).await,
                    Command::Restore(args) => restore::run(ca, args).await,
                    Command::Secrets(secrets::Args {
                        command: secrets::Sub::Export(args),
                    }) => secrets::export(ca, args).await,
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
            if let Some(message) = error::message(&e, writes, cluster::server()) {
                eprintln!("error: {message}");
            }
            ExitCode::from(error::exit_code(&e))
        }
    }
}
