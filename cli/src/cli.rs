//! The command line as clap parses it: the connection flags and one subcommand, each
//! subcommand's flags named from `commands/<name>.rs`.

use clap::{Parser, Subcommand};

use crate::args::ClusterArgs;
use crate::commands;

/// Plan, render and install PostHog, the Model Router and the VoiceAssistant platform.
#[derive(Debug, Parser)]
#[command(name = "kubectl-voice", bin_name = "kubectl voice", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    /// kubectl's connection flags.
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands: each one's flags and code live in `commands/<name>.rs`.
///
/// Deferred: a verb's flags are built only when that verb runs (or help or completion lists
/// them), so starting one verb does not build the flags of all of them. The flag structs carry
/// no doc comment for that reason: clap would take it as the verb's `--help` summary once the
/// deferred flags are built, over the line here.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub(crate) enum Command {
    /// Show sizing, the fit on the nodes and the rollout waves.
    Plan(commands::plan::Args),
    /// Write the manifests as multi-document YAML (secrets are never rendered).
    #[command(visible_alias = "template")]
    Render(commands::render::Args),
    /// Check a configuration and report every problem.
    Validate(commands::validate::Args),
    /// Check that the plan can be installed on the cluster (API, RBAC, CRDs, classes, capacity).
    Check(commands::check::Args),
    /// Check, then apply the plan wave by wave, waiting for each wave to be ready.
    Install(commands::install::Args),
    /// Show every component's state; exit 0 when healthy, 1 when not.
    Status(commands::status::Args),
    /// Show what install would change, as unified diffs; exit 1 when anything differs.
    Diff(commands::diff::Args),
    /// List the rollout's revisions (what made each, when, how it ended).
    History(commands::history::Args),
    /// Apply a recorded revision again (default: the one before the current).
    Rollback(commands::rollback::Args),
    /// Scale a component (`--replicas`, or `--min`/`--max` for an autoscaled one) and record it.
    Scale(commands::scale::Args),
    /// Roll the pods of components (or `--all`) in wave order, waiting until they are ready.
    Restart(commands::restart::Args),
    /// Blue-green: bring up the idle colour (`--image`), check it, move traffic to it;
    /// `--back`, `--finalize`.
    Switch(commands::switch::Args),
    /// PostgreSQL to a new major version: dump, restore into a new StatefulSet, compare,
    /// switch; `--back`, `--finalize`.
    UpgradeEngine(commands::upgrade_engine::Args),
    /// Print the logs of components' pods (`-f` follows, picking up new pods).
    Logs(commands::logs::Args),
    /// Port-forward to web UIs (grafana, prometheus, …) and print their URLs; Ctrl-C stops.
    Dashboard(commands::dashboard::Args),
    /// Stream logical backups of PostgreSQL and Redis to a local directory (`backup prune`: retention).
    Backup(commands::backup::Args),
    /// Restore a backup made by `kubectl voice backup` (checks sha256 and versions first).
    Restore(commands::restore::Args),
    /// The Secrets the workloads read: `template` lists names and keys (never values),
    /// `export` writes the live values for a secret store (mode 0600).
    Secrets(commands::secrets::Args),
    /// Delete the rollout in reverse wave order; keeps volumes and Secrets unless --purge.
    Uninstall(commands::uninstall::Args),
    /// Print a shell completion script.
    Completion(commands::completion::Args),
    /// Print the JSON Schema of voice.yaml.
    Schema,
    /// Print an embedded profile as a starting voice.yaml.
    Profile(commands::profile::Args),
    /// Print the plugin's version (`-o json` for scripts).
    Version(commands::version::Args),
}

impl Command {
    /// Whether the verb writes to the cluster (so a failure may leave a change half made).
    pub(crate) fn writes(&self) -> bool {
        matches!(
            self,
            Command::Install(_)
                | Command::Rollback(_)
                | Command::Scale(_)
                | Command::Restart(_)
                | Command::Switch(_)
                | Command::UpgradeEngine(_)
                | Command::Restore(_)
                | Command::Uninstall(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// Clap checks a verb's flags only when that verb runs; this builds every one and runs
    /// clap's checks on the whole tree.
    #[test]
    fn every_verb_builds() {
        super::Cli::command().debug_assert();
    }

    /// Building a deferred verb's flags keeps its summary: no flag struct or flag group
    /// flattened into a verb carries a doc comment (clap would make it the verb's about).
    #[test]
    fn deferred_flags_keep_each_verb_summary() {
        let abouts = |cmd: &clap::Command| -> Vec<(String, Option<String>, Option<String>)> {
            cmd.get_subcommands()
                .filter(|s| s.get_name() != "help") // added by build
                .map(|s| {
                    (
                        s.get_name().to_string(),
                        s.get_about().map(ToString::to_string),
                        s.get_long_about().map(ToString::to_string),
                    )
                })
                .collect()
        };
        let mut cmd = super::Cli::command();
        let declared = abouts(&cmd);
        assert!(declared.iter().all(|(_, about, _)| about.is_some()));
        cmd.build();
        assert_eq!(abouts(&cmd), declared);
    }
}
