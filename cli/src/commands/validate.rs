//! `kubectl voice validate`: check a configuration and report every problem.

use crate::args::{ConfigArgs, Output};
use crate::output::print;
use crate::{config, exit};

/// The flags of `kubectl voice validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Configuration.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Output,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let Args { config, output } = args;
    let stack = config::load(&config)?;
    match output {
        Output::Table => println!(
            "configuration is valid: profile {}, {} components",
            stack.config.profile.as_str(),
            stack.components.len()
        ),
        o => print(o, &serde_json::json!({"valid": true, "errors": []}))?,
    }
    Ok(exit::OK)
}
