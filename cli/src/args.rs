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
    /// Check that the plan can be installed on the cluster (API, RBAC, CRDs, classes, capacity).
    Check {
        /// Configuration.
        #[command(flatten)]
        config: ConfigArgs,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t)]
        output: Output,
    },
    /// Check, then apply the plan wave by wave, waiting for each wave to be ready.
    Install {
        /// Configuration.
        #[command(flatten)]
        config: ConfigArgs,
        /// `server`: send everything as a server-side dry run; nothing is persisted.
        #[arg(long = "dry-run", value_name = "MODE", num_args = 0..=1, default_missing_value = "server")]
        dry_run: Option<String>,
        /// Deadline for each wave to become ready (`300s`, `10m`).
        #[arg(long, value_name = "DURATION", default_value = "10m")]
        timeout: String,
        /// Objects applied at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// A YAML file of secret values: `<secret-name>: {KEY: value}`.
        #[arg(long = "secrets-file", value_name = "FILE")]
        secrets_file: Option<PathBuf>,
        /// Do not run the pre-install checks.
        #[arg(long)]
        skip_checks: bool,
        /// Apply every wave without waiting for readiness gates (like `kubectl apply`).
        #[arg(long)]
        no_wait: bool,
        /// Re-create StatefulSets whose change cannot be made in place (claim size or class,
        /// selector): their pods keep running and their claims are kept (and expanded where
        /// the storage class allows it).
        #[arg(long)]
        recreate_statefulsets: bool,
        /// Do not ask for confirmation (of warnings, prunes and re-created StatefulSets).
        #[arg(short = 'y', long)]
        yes: bool,
        /// Output format of the summary.
        #[arg(short = 'o', long = "output", value_enum, default_value_t)]
        output: Output,
    },
    /// Show every component's state; exit 0 when healthy, 1 when not.
    Status {
        /// Configuration (to find the rollout and its health checks).
        #[command(flatten)]
        config: ConfigArgs,
        /// Keep watching and reprint on every change.
        #[arg(short = 'w', long)]
        watch: bool,
        /// Call each component's health endpoint through the API server's service proxy.
        #[arg(long)]
        verify: bool,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t)]
        output: Output,
    },
    /// Show what install would change, as unified diffs; exit 1 when anything differs.
    Diff {
        /// Configuration.
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Delete the rollout in reverse wave order; keeps volumes and Secrets unless --purge.
    Uninstall {
        /// Configuration (to find the rollout).
        #[command(flatten)]
        config: ConfigArgs,
        /// Also delete PersistentVolumeClaims, generated Secrets and the namespaces.
        #[arg(long)]
        purge: bool,
        /// Do not ask for confirmation (needed for --purge without a terminal).
        #[arg(short = 'y', long)]
        yes: bool,
        /// List what would be deleted and stop.
        #[arg(long)]
        dry_run: bool,
        /// Deadline for deletion.
        #[arg(long, value_name = "DURATION", default_value = "5m")]
        timeout: String,
    },
    /// Print a shell completion script.
    Completion {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the JSON Schema of voice.yaml.
    Schema,
    /// Print an embedded profile as a starting voice.yaml.
    Profile {
        /// dev, small or production.
        name: String,
    },
}
