//! Command-line interface: every subcommand and flag, parsed by clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Plan, render and install PostHog, the Model Router and the VoiceAssistant platform.
#[derive(Debug, Parser)]
#[command(name = "kubectl-voice", bin_name = "kubectl voice", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// kubectl's connection flags.
    #[command(flatten)]
    pub cluster: crate::cluster::ClusterArgs,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Which parts of the configuration a run acts on. A part left out is not touched: never
/// deleted.
#[derive(Debug, Args, Clone, Default)]
pub struct Selection {
    /// Act only on these parts: posthog, model-router, voiceassistant, infra, istio, monitoring (repeatable or comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "PART")]
    pub only: Vec<String>,
    /// Leave these parts out of this run (they are kept, not deleted): posthog, model-router, voiceassistant, infra, istio, monitoring.
    #[arg(long, value_delimiter = ',', value_name = "PART")]
    pub skip: Vec<String>,
    /// PostHog mode: self-hosted, cloud or disabled (same as --set posthog.mode=…).
    #[arg(long, value_name = "MODE")]
    pub posthog: Option<String>,
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
    /// Which parts this run acts on.
    #[command(flatten)]
    pub select: Selection,
}

/// Subcommands: each one's flags and code live in `commands/<name>.rs`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show sizing, the fit on the nodes and the rollout waves.
    Plan(crate::commands::plan::Args),
    /// Write the manifests as multi-document YAML (secrets are never rendered).
    #[command(visible_alias = "template")]
    Render(crate::commands::render::Args),
    /// Check a configuration and report every problem.
    Validate(crate::commands::validate::Args),
    /// Check that the plan can be installed on the cluster (API, RBAC, CRDs, classes, capacity).
    Check(crate::commands::check::Args),
    /// Check, then apply the plan wave by wave, waiting for each wave to be ready.
    Install(crate::commands::install::Args),
    /// Show every component's state; exit 0 when healthy, 1 when not.
    Status(crate::commands::status::Args),
    /// Show what install would change, as unified diffs; exit 1 when anything differs.
    Diff(crate::commands::diff::Args),
    /// List the rollout's revisions (what made each, when, how it ended).
    History(crate::commands::history::Args),
    /// Apply a recorded revision again (default: the one before the current).
    Rollback(crate::commands::rollback::Args),
    /// Scale a component (`--replicas`, or `--min`/`--max` for an autoscaled one) and record it.
    Scale(crate::commands::scale::Args),
    /// Roll the pods of components (or `--all`) in wave order, waiting until they are ready.
    Restart(crate::commands::restart::Args),
    /// Delete the rollout in reverse wave order; keeps volumes and Secrets unless --purge.
    Uninstall(crate::commands::uninstall::Args),
    /// Print a shell completion script.
    Completion(crate::commands::completion::Args),
    /// Print the JSON Schema of voice.yaml.
    Schema,
    /// Print an embedded profile as a starting voice.yaml.
    Profile(crate::commands::profile::Args),
}

/// Parses a duration flag (`300s`, `10m`, `1h`, a bare number of seconds).
pub fn duration(s: &str) -> anyhow::Result<std::time::Duration> {
    let t = s.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let bad = || crate::Usage(format!("`{s}` is not a duration (examples: 300s, 10m, 1h)"));
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(bad().into()),
    };
    Ok(std::time::Duration::from_secs(secs))
}
