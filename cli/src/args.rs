//! The flag groups verbs share: kubectl's connection flags, where the configuration comes
//! from, which parts a run acts on, how a configuration is applied, and the output format;
//! with the parsers of their values (`--dry-run`, durations).

use std::path::PathBuf;

use clap::Args;

pub(crate) use crate::output::Output;

// Which parts of the configuration a run acts on. A part left out is not touched: never
// deleted.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct Selection {
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

// Where the configuration comes from.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct ConfigArgs {
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

/// kubectl's connection flags; accepted before or after the subcommand.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct ClusterArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// Namespace of the rollout's inventory (default: the configuration's app namespace).
    #[arg(
        short = 'n',
        long = "namespace",
        global = true,
        value_name = "NAMESPACE"
    )]
    pub namespace: Option<String>,
    /// Username to impersonate for the operation.
    #[arg(long = "as", global = true, value_name = "USER")]
    pub as_user: Option<String>,
    /// How long to wait for the API server to answer (`30s`, `1m`, seconds; 0: no limit).
    #[arg(
        long = "request-timeout",
        global = true,
        value_name = "DURATION",
        default_value = "30s",
        value_parser = parse_duration
    )]
    pub request_timeout: std::time::Duration,
}

// The flags of every verb that applies a configuration (install, rollback, scale, switch).
#[derive(Debug, Clone, Args)]
pub(crate) struct ApplyFlags {
    /// `server`: send everything as a server-side dry run; nothing is persisted.
    #[arg(long = "dry-run", value_name = "MODE", num_args = 0..=1, default_missing_value = "server")]
    pub dry_run: Option<String>,
    /// Deadline for each wave to become ready (`300s`, `10m`).
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub timeout: String,
    /// Objects applied at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// A YAML file of secret values: `<secret-name>: {KEY: value}`.
    #[arg(long = "secrets-file", value_name = "FILE")]
    pub secrets_file: Option<PathBuf>,
    /// A Docker config (`{"auths": …}`, as `docker login` writes it) to pull images with:
    /// made into the Secret `<instance>-registry` (type kubernetes.io/dockerconfigjson) in
    /// every namespace of the run that lacks it, and added to `images.pullSecrets`. An
    /// existing one is kept as it is.
    #[arg(long = "image-pull-secret", value_name = "FILE")]
    pub image_pull_secret: Option<PathBuf>,
    /// Do not run the pre-install checks.
    #[arg(long)]
    pub skip_checks: bool,
    /// Apply every wave without waiting for readiness gates (like `kubectl apply`).
    #[arg(long)]
    pub no_wait: bool,
    /// Re-create StatefulSets whose change cannot be made in place (claim size or class,
    /// selector): their pods keep running and their claims are kept (and expanded where
    /// the storage class allows it).
    #[arg(long)]
    pub recreate_statefulsets: bool,
    /// Replace stored secret values with the supplied ones (voice.yaml, --secrets-file,
    /// `VOICE_<SECRET>_<KEY>`); the pods that read them roll. Without it a stored value is
    /// never changed.
    #[arg(long)]
    pub rotate: bool,
    /// Take over planned objects that exist and belong to another rollout (or to none of
    /// ours) instead of stopping; the change of owner is recorded in this rollout's history.
    #[arg(long)]
    pub adopt: bool,
    /// Upgrade PostHog to a newer release without first backing up its PostgreSQL.
    #[arg(long)]
    pub no_backup: bool,
    /// Where the backup before a PostHog upgrade goes (as `kubectl voice backup --dir`).
    #[arg(long, value_name = "DIR", default_value = "voice-backups")]
    pub backup_dir: PathBuf,
    /// Revisions kept in the history.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub history_max: usize,
    /// Take over the rollout's lock from another writer (confirmed like a prune): only when
    /// that writer is known to be gone.
    #[arg(long)]
    pub force_unlock: bool,
    /// Refuse, before any write (exit 2), a run that would leave a workload others use with
    /// no ready pod while its pods are replaced: one replica behind a Service or with
    /// consumers whose pod template changes (a store recreates its one pod), or replicas
    /// that would all be replaced at once. Rolling workloads keep serving and pass; new
    /// workloads take nothing away.
    #[arg(long)]
    pub require_availability: bool,
    /// Do not ask for confirmation (of warnings, prunes, re-created StatefulSets and undone
    /// `scale` changes).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Output format of the summary.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Output,
}

/// Parses `--dry-run[=server]` (absent: a real run).
pub(crate) fn dry_run(mode: Option<&str>) -> anyhow::Result<bool> {
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
pub(crate) fn duration(s: &str) -> anyhow::Result<std::time::Duration> {
    parse_duration(s).map_err(|e| crate::error::Usage(e).into())
}

/// [`duration`] as a clap value parser.
pub(crate) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
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
