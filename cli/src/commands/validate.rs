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
    let stack = match config::load(&config) {
        Ok(stack) => stack,
        // Machine-readable output stays machine-readable when the input is bad.
        Err(e) if output != Output::Table => {
            let problems = match e.downcast_ref::<config::BadInput>() {
                Some(bad) => bad.problems(),
                None => vec![serde_json::json!({
                    "path": "",
                    "line": null,
                    "column": null,
                    "message": format!("{e:#}"),
                })],
            };
            print(
                output,
                &serde_json::json!({"valid": false, "problems": problems}),
            )?;
            return Ok(exit::BAD_INPUT);
        }
        Err(e) => return Err(e),
    };
    match output {
        Output::Table => println!(
            "configuration is valid: profile {}, {} components",
            stack.config.profile.as_str(),
            stack.components.len()
        ),
        o => print(o, &serde_json::json!({"valid": true, "problems": []}))?,
    }
    Ok(exit::OK)
}
