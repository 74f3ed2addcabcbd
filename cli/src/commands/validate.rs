//! `kubectl voice validate`: check a configuration and report every problem.

use crate::args::{ConfigArgs, Output};
use crate::config;
use crate::error::exit;
use crate::output::print;

// The flags of `kubectl voice validate`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Configuration.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// A YAML file of secret values, as install takes it: `<secret-name>: {KEY: value}`.
    #[arg(long = "secrets-file", value_name = "FILE")]
    pub secrets_file: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Output,
}

/// Runs the command.
pub(crate) fn run(args: Args) -> anyhow::Result<u8> {
    let Args {
        config,
        secrets_file,
        output,
    } = args;
    let stack = match config::load(&config) {
        Ok(stack) => stack,
        // Machine-readable output stays machine-readable when the input is bad.
        Err(e) if output != Output::Table => {
            let problems = match e.downcast_ref::<crate::error::BadInput>() {
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
    // Required secret values: install stops before its first write when one is neither
    // supplied nor already stored; offline, say which are not supplied here.
    let unsupplied = crate::cluster::secrets::UserValues::collect(&stack, secrets_file.as_deref())?
        .unsupplied(&stack);
    match output {
        Output::Table => {
            println!(
                "configuration is valid: profile {}, {} components",
                stack.config.profile.as_str(),
                stack.components.len()
            );
            for u in &unsupplied {
                eprintln!(
                    "note: required secret value not supplied: {u}; install needs it unless the cluster already stores it"
                );
            }
        }
        o => {
            let mut v = serde_json::json!({"valid": true, "problems": []});
            if !unsupplied.is_empty() {
                v["unsuppliedSecrets"] = unsupplied.into();
            }
            print(o, &v)?;
        }
    }
    Ok(exit::OK)
}
