//! Command-line interface: every subcommand and flag, parsed by clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Plan, render and install PostHog, the Model Router and the VoiceAssistant platform.
#[derive(Debug, Parser)]
#[command(name = "kubectl-voice", bin_name = "kubectl voice", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    /// Human-readable tables.
    #[default]
    Table,
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

/// Where the configuration comes from.
#[derive(Debug, Args, Clone, Default)]
pub struct ConfigArgs {
    /// A voice.yaml file (`-` for standard input); without it the profile alone is used.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Embedded profile: dev, small or production (wins over the file's `profile`).
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Override a field: `--set modelRouter.hpa.maxReplicas=5` (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show sizing, the fit on the nodes and the rollout waves.
    Plan {
        /// Configuration.
        #[command(flatten)]
        config: ConfigArgs,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t)]
        output: Output,
    },
    /// Write the manifests as multi-document YAML (secrets are never rendered).
    #[command(visible_alias = "template")]
    Render {
        /// Configuration.
        #[command(flatten)]
        config: ConfigArgs,
        /// Write one file per component and a kustomization.yaml into DIR instead of stdout.
        #[arg(long = "out", value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Check a configuration and report every problem.
    Validate {
        /// Configuration.
        #[command(flatten)]
        config: ConfigArgs,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t)]
        output: Output,
    },
    /// Print the JSON Schema of voice.yaml.
    Schema,
    /// Print an embedded profile as a starting voice.yaml.
    Profile {
        /// dev, small or production.
        name: String,
    },
}
