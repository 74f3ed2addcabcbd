//! `kubectl-voice`: the kubectl plugin binary. A thin layer over `voice-core`: it reads
//! files and flags, calls the planner, and prints or applies what comes back.

mod args;
mod config;
mod output;
mod plan;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

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

fn print(out: Output, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = match out {
        Output::Yaml => serde_yaml::to_string(value)?,
        _ => serde_json::to_string_pretty(value)? + "\n",
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(())
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
            let objects = voice_core::render::render(&stack);
            match out {
                None => std::io::stdout().write_all(voice_core::render::to_yaml(&objects).as_bytes())?,
                Some(dir) => {
                    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
                    let files = voice_core::render::to_files(&objects);
                    for (name, text) in &files {
                        let path = dir.join(name);
                        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
                    }
                    eprintln!("wrote {} files ({} objects) to {}", files.len(), objects.len(), dir.display());
                }
            }
        }
        Command::Validate { config, output } => {
            let stack = config::load(&config)?;
            match output {
                Output::Table => println!("configuration is valid: profile {}, {} components", stack.config.profile.as_str(), stack.components.len()),
                o => print(o, &serde_json::json!({"valid": true, "errors": []}))?,
            }
        }
        Command::Schema => print(Output::Json, &voice_core::config::schema())?,
        Command::Profile { name } => {
            let p = voice_core::ProfileName::parse(&name).with_context(|| format!("`{name}` is not a profile; use dev, small or production"))?;
            std::io::stdout().write_all(voice_core::config::profile_yaml(p).as_bytes())?;
        }
    }
    Ok(exit::OK)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if let Some(bad) = e.downcast_ref::<config::BadInput>() {
                eprintln!("error: {bad}");
                return ExitCode::from(exit::BAD_INPUT);
            }
            if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) {
                return ExitCode::from(exit::OK);
            }
            eprintln!("error: {e:#}");
            ExitCode::from(exit::BAD_INPUT)
        }
    }
}
