//! `kubectl voice completion`: shell completion scripts.

use clap::CommandFactory as _;

use crate::args::Cli;
use crate::exit;

/// The flags of `kubectl voice completion`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let Args { shell } = args;
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "kubectl-voice",
        &mut std::io::stdout(),
    );
    Ok(exit::OK)
}
