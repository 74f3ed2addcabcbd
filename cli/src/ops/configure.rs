//! Applying a configuration, the flow install, rollback, scale and switch share: check,
//! decide everything that needs a decision (prunes, StatefulSet re-creation, the PostHog
//! release) and ask, record the revision, then apply the waves (`crate::cluster::apply`).

use anyhow::Context as _;
use std::io::IsTerminal as _;

use crate::args::ClusterArgs;
use crate::args::{ApplyFlags, Output, duration};
use crate::cluster::{
    self, apply, history, inventory, lock, prune, pull_secret, rights, secrets, statefulsets,
};
use crate::error::{Usage, exit};
use crate::output::{confirm, print};
use voice_core::upgrade::PosthogChange;

/// What a run records beside its configuration.
pub(crate) struct Change {
    /// `install`, `rollback to 3`, `scale …`.
    pub description: String,
    /// The `scale` changes the new revision carries; `None`: those of the last revision
    /// that the configuration still agrees with.
    pub scaled: Option<Vec<history::Override>>,
    /// The command line's configuration flags, when they are what the run used (a file or
    /// profile named): how a command for a cluster admin names this configuration (else it
    /// is said from the document).
    pub named: Option<crate::args::ConfigArgs>,
}

/// The deployed configuration as a day-2 verb changes it (`switch`, `upgrade-engine`): read
/// once from the history, changed field by field, each apply a recorded revision.
pub(crate) struct Rollout {
    /// The configuration, read once, with this run's changes.
    pub recorded: history::Recorded,
    /// The selection of the deployed revision.
    pub selection: voice_core::config::Selection,
    /// The day-2 changes it carries.
    pub overrides: Vec<history::Override>,
    /// The number of the next revision.
    pub next: u32,
}

impl Rollout {
    /// The rollout of `inv` as deployed, or a refusal naming `install` when nothing is.
    pub(crate) async fn read(
        client: &kube::Client,
        inv: &inventory::Inventory,
    ) -> anyhow::Result<Rollout> {
        let revisions = history::list(client, inv).await?;
        let last = history::current(&revisions).ok_or_else(|| {
            Usage(format!(
                "nothing is deployed for instance {}; run `kubectl voice install` first",
                inv.instance
            ))
        })?;
        Ok(Rollout {
            recorded: history::Recorded::read(last.config.clone())?,
            selection: last.selection.clone(),
            overrides: last.scaled.clone(),
            next: revisions.last().map_or(1, |r| r.revision + 1),
        })
    }

    /// The stack of the configuration as it is now.
    pub(crate) fn build(&self) -> anyhow::Result<voice_core::Stack> {
        self.recorded.build(&self.selection)
    }

    /// Makes a change as a day-2 change of the next revision.
    pub(crate) fn set(&mut self, change: voice_core::Change) -> anyhow::Result<()> {
        self.recorded
            .change(&change, &mut self.overrides, self.next)
    }

    /// Applies the configuration as one recorded revision.
    pub(crate) async fn apply(
        &mut self,
        ca: &ClusterArgs,
        flags: &ApplyFlags,
        description: String,
    ) -> anyhow::Result<u8> {
        let stack = self.build()?;
        let change = Change {
            description,
            scaled: Some(self.overrides.clone()),
            named: None,
        };
        let document = self.recorded.document.clone();
        let code = apply_configuration(ca, stack, document, change, flags).await?;
        self.next += 1;
        Ok(code)
    }
}

/// Says what the run does to the PostHog release; refuses a downgrade, and an upgrade that
/// would not wait for its migrations, before any write. `true`: the direction cannot be told
/// and the run must be confirmed.
fn posthog_release(
    stack: &voice_core::Stack,
    change: &PosthogChange,
    no_wait: bool,
) -> anyhow::Result<bool> {
    match change {
        PosthogChange::Downgrade { from, to } => Err(Usage(format!(
            "{change}, and Django's migrations only run forward; nothing was applied.\n\
             To stay on {from}, set posthog.version: {from}. To go back to {to}, restore the PostHog PostgreSQL backup taken before the upgrade \
             (`kubectl voice restore <dir>/{}-posthog-postgres-<time> --yes`; install keeps one in --backup-dir, voice-backups by default), then install {to}",
            stack.config.instance
        ))
        .into()),
        PosthogChange::Upgrade { .. } | PosthogChange::Unordered { .. } if no_wait => {
            Err(Usage(format!(
                "{change}: its migrations run before web, worker and plugins roll, which --no-wait would not wait for (their start scripts check migrations and exit); nothing was applied: run again without --no-wait"
            ))
            .into())
        }
        PosthogChange::Upgrade { to, .. } => {
            eprintln!(
                "{change}: the migrations Job of {to} runs, and only then web, worker and plugins roll"
            );
            Ok(false)
        }
        PosthogChange::Unordered { .. } => {
            eprintln!("{change}; Django's migrations only run forward");
            Ok(true)
        }
        PosthogChange::None | PosthogChange::Same => Ok(false),
    }
}

/// What `--require-availability` refuses, in words: the workloads this run would leave with
/// no ready pod while others use them, each with what its users lose; `None`: nothing.
pub(crate) fn unavailable(rows: &[voice_core::availability::Row]) -> Option<String> {
    let down: Vec<String> = rows
        .iter()
        .filter(|r| r.takes_down())
        .map(|r| {
            let who = if r.consumers.is_empty() {
                String::new()
            } else {
                format!(" (used by {})", r.consumers.join(", "))
            };
            format!("  {}/{}: {}{who}", r.namespace, r.name, r.effect)
        })
        .collect();
    (!down.is_empty()).then(|| {
        format!(
            "{} workload(s) would have no ready pod while their pods are replaced:\n{}\n",
            down.len(),
            down.join("\n")
        )
    })
}

/// `true` when confirmed: by `--yes` (or a dry run), else by the user on a terminal; without
/// one, the run is refused (exit 2) naming `what` and `--yes` ([`confirm_destructive`]).
///
/// [`confirm_destructive`]: crate::output::confirm_destructive
pub(crate) fn confirm_or_stop(what: &str, yes: bool, dry_run: bool) -> anyhow::Result<bool> {
    crate::output::confirm_destructive(what, yes || dry_run)
}

/// Checks, decides, asks, records and applies a configuration: the flow install, rollback,
/// scale and switch share.
pub(crate) async fn apply_configuration(
    ca: &ClusterArgs,
    stack: voice_core::Stack,
    document: serde_json::Value,
    change: Change,
    flags: &ApplyFlags,
) -> anyhow::Result<u8> {
    let ApplyFlags {
        dry_run,
        timeout,
        concurrency,
        secrets_file,
        image_pull_secret,
        skip_checks,
        no_wait,
        recreate_statefulsets,
        history_max,
        force_unlock,
        rotate,
        no_backup,
        backup_dir,
        adopt,
        require_availability,
        yes,
        output,
    } = flags.clone();
    let dry_run = crate::args::dry_run(dry_run.as_deref())?;
    let timeout = duration(&timeout)?;
    // Registry credentials from a file: checked before anything else, then referenced by
    // every pod of the configuration this run records.
    let pull = image_pull_secret
        .as_deref()
        .map(|p| pull_secret::read(p, &stack.config.instance))
        .transpose()?;
    let (stack, document) = match &pull {
        Some(p) => pull_secret::reference(stack, document, p)?,
        None => (stack, document),
    };
    crate::retry::set_budget(timeout);
    let user = secrets::UserValues::collect(&stack, secrets_file.as_deref())?;
    let client = cluster::client(ca).await?;
    let inv = inventory::Inventory::of(&stack, ca.namespace.as_deref());
    let mut progress = crate::progress::Progress::new(output != Output::Table);
    // Secret values are checked before any write, with or without the other checks.
    let pre = secrets::preflight(&client, &stack, &user)
        .await
        .context("reading the Secrets")?;
    if !pre.named.is_empty() {
        drop(progress);
        return Err(Usage(format!(
            "the Secrets voice.yaml names are not all there (nothing was applied):\n  {}",
            pre.named.join("\n  ")
        ))
        .into());
    }
    if !pre.missing.is_empty() {
        drop(progress);
        return Err(Usage(format!(
            "required secret values are missing (nothing was applied):\n  {}",
            pre.missing.join("\n  ")
        ))
        .into());
    }
    if !rotate {
        for d in &pre.differs {
            eprintln!(
                "warning: {d}: the supplied value differs from the stored one, which is kept; pass --rotate to replace it (the pods that read it roll)"
            );
        }
    }
    // What this user may not write (an operator with rights in the selection's namespaces
    // alone): left alone when it exists as planned, else named for a cluster admin before any
    // write.
    let (objects, _) = apply::planned(&stack, &inv);
    let rights = rights::assess(&client, &inv, &objects).await?;
    let (flags, flags_note) =
        crate::ops::source::flags(&stack, &document, change.named.as_ref(), ca);
    if !skip_checks {
        progress.start("checking the cluster");
        let made: Vec<String> = pull.iter().map(|p| p.name.clone()).collect();
        let report = crate::ops::check::report(
            &client,
            &stack,
            &objects,
            &inv,
            adopt,
            &made,
            &crate::ops::check::Handoff {
                rights: &rights,
                flags: &flags,
            },
        )
        .await
        .context("checking the cluster")?;
        if !report.ok() {
            drop(progress);
            eprint!("{}", report.human());
            // What a cluster admin applies, once more where it is seen.
            if let Some(refusal) = rights.refusal(&flags) {
                eprint!("{refusal}");
                if let Some(note) = &flags_note {
                    eprintln!("{note}");
                }
            }
            eprintln!("error: pre-install checks failed; nothing was applied");
            return Ok(exit::NOT_READY);
        }
        // Single points of failure describe the configuration, not the cluster: listed by
        // `check`, not asked about.
        let warnings = report
            .categories
            .iter()
            .filter(|c| c.category != crate::ops::check::SINGLE_POINTS)
            .flat_map(|c| &c.checks)
            .filter(|c| c.result == crate::ops::check::Outcome::Warning)
            .count();
        progress.done(&format!(
            "cluster checks passed{}",
            if warnings > 0 {
                format!(" with {warnings} warning(s)")
            } else {
                String::new()
            }
        ));
        if warnings > 0 && !yes && std::io::stdin().is_terminal() && !dry_run {
            eprint!("{}", report.human());
            if !confirm("Continue despite the warnings? [y/N]") {
                return Ok(exit::BAD_INPUT);
            }
        }
    }
    // Found by the checks too; said here when they were skipped.
    if let Some(refusal) = rights.refusal(&flags) {
        drop(progress);
        eprint!("{refusal}");
        if let Some(note) = &flags_note {
            eprintln!("{note}");
        }
        eprintln!("error: nothing was applied");
        return Ok(exit::NOT_READY);
    }
    progress.start("comparing with the live objects");
    let mut prepared = apply::prepare(&client, &stack, &inv).await?;
    prepared.rights = rights;
    let revisions = history::list(&client, &inv).await?;
    progress.done(&format!(
        "{} object(s) to apply ({}), {} to prune",
        prepared.objects.len(),
        stack.selection.describe(),
        prepared.prune.delete.len()
    ));
    drop(progress);
    for e in &prepared.engines {
        eprintln!("{e}");
    }
    let blocked = statefulsets::describe_blocked(&prepared.upgrades);
    if let Some(blocked) = &blocked {
        if !recreate_statefulsets {
            return Err(Usage(format!(
                "these StatefulSets cannot change in place; nothing was applied:\n{blocked}\
                 run again with --recreate-statefulsets to delete each StatefulSet with its pods left running and create it again; its claims are kept (and expanded where the storage class allows it)"
            ))
            .into());
        }
        eprint!("these StatefulSets will be re-created (pods and claims kept):\n{blocked}");
    }
    if require_availability {
        let values = secrets::read(&client, &stack).await?;
        let compared = apply::compare_workloads(&client, &inv, &prepared, &values)
            .await
            .context("comparing the workloads' pod templates with the live ones")?;
        let rows = voice_core::availability::rows(&stack, &prepared.objects, Some(&compared));
        if let Some(why) = unavailable(&rows) {
            return Err(Usage(format!(
                "{why}nothing was applied (--require-availability): leave these out of the run (--skip), or run without the flag at a quiet time"
            ))
            .into());
        }
        let replaced = rows
            .iter()
            .filter(|r| r.change == voice_core::availability::PodChange::Replaced)
            .count();
        eprintln!("availability: {replaced} workload(s) roll, each keeping pods ready");
    }
    // A `scale` that this configuration would undo is said, with the field to change.
    let last_deployed = revisions.iter().rev().find(|r| r.applied());
    let undone = if change.scaled.is_none() {
        history::undone(last_deployed, &document)
    } else {
        Vec::new()
    };
    for (s, now) in &undone {
        // Name the revision only while `history` still lists it.
        let when = if revisions.iter().any(|r| r.revision == s.revision) {
            format!("revision {}", s.revision)
        } else {
            format!("revision {}, since trimmed from history", s.revision)
        };
        eprintln!(
            "{}: `kubectl voice {}` set it to {} ({when}); this configuration sets {}. Write `{}: {}` in voice.yaml to keep it, or confirm to go back",
            s.field,
            s.verb(),
            history::show(&s.value),
            now.map_or_else(|| "the profile's default".to_string(), history::show),
            s.field,
            history::show(&s.value)
        );
    }
    let unordered = posthog_release(&stack, &prepared.posthog, no_wait)?;
    // Another rollout's objects are never taken over in silence.
    let adopted = prepared.foreign.len();
    if adopted > 0 {
        let list: Vec<String> = prepared.foreign.iter().map(ToString::to_string).collect();
        if !adopt {
            return Err(Usage(format!(
                "{adopted} object(s) this rollout would write exist and are not its own; nothing was applied:\n  {}\n\
                 give this rollout other names (instance, namespaces.*), or pass --adopt to take them over",
                list.join("\n  ")
            ))
            .into());
        }
        eprintln!("adopting {adopted} object(s):\n  {}", list.join("\n  "));
    }
    // What this user may not write and finds as planned (or cannot read) is left alone, and
    // where it may not list, nothing is pruned.
    for note in prepared.rights.notes(&flags) {
        eprintln!("{note}");
    }
    if let Some(said) = inventory::unlisted_said(&prepared.unlisted, "pruned") {
        eprintln!("{said}");
    }
    // What this run replaces and prunes, said once nothing can refuse it any more.
    eprint!("{}", prune::describe(&prepared.prune));
    let profile_change = crate::ops::source::profile_change_of(last_deployed, &stack);
    if let Some(said) = &profile_change {
        eprintln!("{said}");
    }
    let destructive = profile_change.is_some()
        || !prepared.prune.delete.is_empty()
        || (recreate_statefulsets && blocked.is_some())
        || !undone.is_empty()
        || unordered
        || force_unlock;
    if destructive
        && !confirm_or_stop(
            "this run would change the deployed profile, delete, re-create or scale back the objects listed above, change PostHog's release in an order that cannot be told, or take over the lock",
            yes,
            dry_run,
        )?
    {
        return Ok(exit::BAD_INPUT);
    }

    // A PostHog upgrade keeps the way back: its PostgreSQL, dumped before the first write.
    if let PosthogChange::Upgrade { from, to } | PosthogChange::Unordered { from, to } =
        &prepared.posthog
        && !no_backup
        && !dry_run
    {
        let mut progress = crate::progress::Progress::new(output != Output::Table);
        progress.start(&format!(
            "backing up posthog-postgres before PostHog {from} → {to}"
        ));
        let (dir, m) = crate::ops::backups::backup_one(&client, &stack, "posthog-postgres", &backup_dir)
            .await
            .context("the backup of posthog-postgres before the PostHog upgrade failed, so nothing was applied; fix the cause, or pass --no-backup to upgrade without one")?;
        progress.done(&format!(
            "backed up posthog-postgres ({}) into {}",
            crate::ops::backups::human_bytes(m.bytes()),
            dir.display()
        ));
    }
    // The revision is written before the first write, as pending, unless nothing about the
    // configuration changed since the last one.
    // The digest covers the whole configuration's objects, so runs of different selections
    // compare; a run that changes nothing and writes only parts the last revision wrote
    // records nothing.
    let (objects, full) = apply::planned(&stack, &inv);
    let digest = history::digest(&full);
    let scaled = change
        .scaled
        .clone()
        .unwrap_or_else(|| history::carried(last_deployed, &document));
    let same = last_deployed.is_some_and(|r| {
        r.digest == digest
            && r.config == document
            && stack.selection.leaves().is_subset(&r.selection.leaves())
            && r.scaled == scaled
    }) && change.description == "install"
        && adopted == 0;
    // What this revision changes, in words: an install names its fields.
    let said = if change.description == "install" {
        history::install_description(last_deployed, &digest, &document, &stack)
    } else {
        change.description.clone()
    };
    let description = if adopted > 0 {
        let owners: std::collections::BTreeSet<String> = prepared
            .foreign
            .iter()
            .map(|f| {
                f.owner.as_deref().map_or_else(
                    || "outside kubectl-voice".into(),
                    |o| format!("rollout {o}"),
                )
            })
            .collect();
        format!(
            "{said} (adopted {adopted} object(s) from {})",
            owners.into_iter().collect::<Vec<_>>().join(", ")
        )
    } else {
        said
    };
    let mut revision = (!same && !dry_run).then(|| history::Revision {
        revision: revisions.last().map_or(1, |r| r.revision + 1),
        updated: history::now(),
        status: "pending".into(),
        description,
        error: None,
        tool: history::tool(),
        profile: stack.config.profile.as_str().into(),
        selection: stack.selection.clone(),
        digest,
        objects: objects.len(),
        config: document,
        scaled,
    });
    // The lock and the revision live beside the inventory: on a first install its namespace
    // is made first (the same apply as the namespaces wave's).
    if !dry_run
        && prepared.prior.is_none()
        && let Some(ns) = prepared
            .objects
            .iter()
            .find(|o| o.kind == "Namespace" && o.name == inv.namespace)
        && !prepared.rights.leaves(&ns.id())
    {
        let opts = apply::Options {
            dry_run: false,
            timeout,
            concurrency,
            wait: false,
            recreate_statefulsets: false,
            rotate: false,
            pull_secret: None,
        };
        apply::apply_one(&client, &inv, ns, apply::Adjust::default(), &opts).await?;
    }
    let held = if dry_run {
        None
    } else {
        Some(lock::acquire(&client, &inv, &change.description, force_unlock).await?)
    };
    let result = async {
        if let Some(r) = &revision {
            history::write(&client, &inv, r).await?;
        }
        let mut progress = crate::progress::Progress::new(output != Output::Table);
        let opts = apply::Options {
            dry_run,
            timeout,
            concurrency,
            wait: !no_wait,
            recreate_statefulsets,
            rotate,
            pull_secret: pull.clone(),
        };
        let result = apply::install(
            &client,
            &stack,
            &inv,
            &user,
            &opts,
            &prepared,
            &mut progress,
        )
        .await;
        if let Some(r) = &mut revision {
            match &result {
                Ok(_) => r.status = "deployed".into(),
                Err(e) => {
                    r.status = "failed".into();
                    r.error = Some(
                        crate::error::in_words(e)
                            .lines()
                            .next()
                            .unwrap_or_default()
                            .to_string(),
                    );
                }
            }
            let size = history::write(&client, &inv, r).await?;
            if result.is_ok() {
                if let Some(prev) = last_deployed.filter(|p| p.status == "deployed") {
                    let mut prev = prev.clone();
                    prev.status = "superseded".into();
                    history::write(&client, &inv, &prev).await?;
                }
                progress.note(&format!(
                    "recorded revision {} ({:.1} KB)",
                    r.revision,
                    size as f64 / 1024.0
                ));
            }
            let all = history::list(&client, &inv).await?;
            history::trim(&client, &inv, &all, history_max).await?;
        }
        drop(progress);
        result
    }
    .await;
    if let Some(h) = held {
        h.release().await;
    }
    let summary = result?;
    // A step of a verb with several (`switch x: green runs …`, `upgrade-engine …: copy`) is
    // applied, not the verb complete: what follows may still fail.
    let done = match (change.description.split_once(": "), dry_run) {
        (Some(_), false) => format!("{}: step applied", change.description),
        (Some(_), true) => format!("{}: step would succeed", change.description),
        (None, dry) => format!(
            "{} {}",
            change.description.split(' ').next().unwrap_or("install"),
            if dry { "would succeed" } else { "complete" }
        ),
    };
    match output {
        Output::Table => println!(
            "{}{done}: {} created, {} configured, {} unchanged, {}{} pruned; secrets: {} written, {} unchanged",
            if dry_run { "(server dry run) " } else { "" },
            summary.created,
            summary.configured,
            summary.unchanged,
            if summary.replaced > 0 {
                format!("{} replaced, ", summary.replaced)
            } else {
                String::new()
            },
            summary.pruned,
            summary.secrets_written,
            summary.secrets_unchanged
        ),
        o => print(o, &summary)?,
    }
    // Claims this run leaves unused are said, with the command to delete them.
    if !dry_run {
        let live = statefulsets::live_claims(&client, &stack).await?;
        let found = voice_core::upgrade::claims(&full, &live);
        eprint!("{}", statefulsets::describe_unused(&found.unused));
    }
    Ok(exit::OK)
}
