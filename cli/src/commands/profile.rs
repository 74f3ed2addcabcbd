//! `kubectl voice profile`: an embedded profile as a starting voice.yaml.

use std::io::Write as _;

use crate::error::{Usage, exit};

/// The flags of `kubectl voice profile`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// dev, small or production.
    pub name: String,
}

/// Runs the command.
pub(crate) fn run(args: Args) -> anyhow::Result<u8> {
    let Args { name } = args;
    let p = voice_core::ProfileName::parse(&name).ok_or_else(|| {
        Usage(format!(
            "`{name}` is not a profile; use dev, small or production"
        ))
    })?;
    std::io::stdout().write_all(voice_core::config::profile_yaml(p).as_bytes())?;
    Ok(exit::OK)
}
