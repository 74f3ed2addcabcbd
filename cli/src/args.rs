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
    /// Blue-green: bring up the idle colour (`--image`), check it, move traffic to it;
    /// `--back`, `--finalize`.
    Switch(crate::commands::switch::Args),
    /// Print the logs of components' pods (`-f` follows, picking up new pods).
    Logs(crate::commands::logs::Args),
    /// Port-forward to web UIs (grafana, prometheus, …) and print their URLs; Ctrl-C stops.
    Dashboard(crate::commands::dashboard::Args),
    /// Stream logical backups of PostgreSQL and Redis to a local directory (`backup prune`: retention).
    Backup(crate::commands::backup::Args),
    /// Restore a backup made by `kubectl voice backup` (checks sha256 and versions first).
    Restore(crate::commands::restore::Args),
    /// Delete the rollout in reverse wave order; keeps volumes and Secrets unless --purge.
    Uninstall(crate::commands::uninstall::Args),
    /// Print a shell completion script.
    Completion(crate::commands::completion::Args),
    /// Print the JSON Schema of voice.yaml.
    Schema,
    /// Print an embedded profile as a starting voice.yaml.
    Profile(crate::commands::profile::Args),
    /// Print the plugin's version (`-o json` for scripts).
    Version(crate::commands::version::Args),
}

impl Command {
    /// Whether the verb writes to the cluster (so a failure may leave a change half made).
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Command::Install(_)
                | Command::Rollback(_)
                | Command::Scale(_)
                | Command::Restart(_)
                | Command::Switch(_)
                | Command::Restore(_)
                | Command::Uninstall(_)
        )
    }
}

/// Parses `--dry-run[=server]` (absent: a real run).
pub fn dry_run(mode: Option<&str>) -> anyhow::Result<bool> {
    match mode {
        None => Ok(false),
        Some("server") => Ok(true),
        Some(other) => Err(crate::error::Usage(format!(
            "--dry-run={other}: only --dry-run=server is supported (for a client-side preview use `kubectl voice render`)"
        ))
        .into()),
    }
}

/// Parses a duration flag as kubectl does (`5s`, `1m30s`, `2h`, `1.5h`, `500ms`), or a bare
/// number of seconds.
pub fn duration(s: &str) -> anyhow::Result<std::time::Duration> {
    parse_duration(s).map_err(|e| crate::error::Usage(e).into())
}

/// [`duration`] as a clap value parser.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let bad =
        || format!("`{s}` is not a duration (examples: 30s, 1m30s, 10m, 2h, or seconds: 300)");
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(secs));
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = &rest[u..];
    }
    Ok(std::time::Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_as_kubectl_writes_them() {
        for (s, secs) in [
            ("5s", 5.0),
            ("1m30s", 90.0),
            ("2h", 7200.0),
            ("300", 300.0),
            ("1.5h", 5400.0),
            ("500ms", 0.5),
            ("1h2m3s", 3723.0),
            ("0", 0.0),
        ] {
            assert_eq!(parse_duration(s), Ok(Duration::from_secs_f64(secs)), "{s}");
        }
        for s in ["", "5x", "m", "1m30", "-5s", "1.2.3s"] {
            assert!(parse_duration(s).is_err(), "{s}");
        }
    }
}
