//! Which configuration a run acts on: the file or profile named on the command line, else the
//! deployed one (the current revision) with this run's `--set`s and selection, else the
//! default profile when nothing is deployed yet. Every run of install, diff and plan says
//! which in one line, so a bare `install` never quietly targets another profile.

use kube::Client;
use voice_core::Stack;

use crate::args::{ClusterArgs, ConfigArgs};
use crate::cluster::history::{self, Recorded};
use crate::cluster::inventory::Inventory;
use crate::config;

/// The configuration a run uses, its document (as history records it) and the line that
/// says which it is.
pub(crate) struct Chosen {
    /// The stack, with this run's selection.
    pub stack: Stack,
    /// The configuration as one document.
    pub document: serde_json::Value,
    /// `configuration: …`, for standard error.
    pub said: String,
}

fn sets_said(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => ", with 1 --set".into(),
        n => format!(", with {n} --set(s)"),
    }
}

/// Whether the command line names the configuration (a file or a profile).
pub(crate) fn named(args: &ConfigArgs) -> bool {
    args.file.is_some() || args.profile.is_some()
}

/// The configuration named on the command line, or the deployed one when none is named.
pub(crate) async fn choose(
    client: &Client,
    ca: &ClusterArgs,
    args: &ConfigArgs,
) -> anyhow::Result<Chosen> {
    let (here, document) = config::load_recorded(args)?;
    let sets = sets_said(args.sets.len());
    let profile = here.config.profile.as_str().to_string();
    if named(args) {
        let file = args
            .file
            .as_ref()
            .map_or_else(|| "no file".to_string(), |f| f.display().to_string());
        let said = format!("configuration: {file}, profile {profile}{sets}");
        return Ok(Chosen {
            stack: here,
            document,
            said,
        });
    }
    let inv = Inventory::of(&here, ca.namespace.as_deref());
    let revisions = history::list(client, &inv).await?;
    let Some(r) = history::current(&revisions) else {
        let said = format!(
            "configuration: profile {profile} (the default: nothing is deployed yet){sets}"
        );
        return Ok(Chosen {
            stack: here,
            document,
            said,
        });
    };
    // The deployed document, this run's --set flags over it.
    let mut deployed = r.config.clone();
    let mut all_sets = args.sets.clone();
    if let Some(mode) = &args.select.posthog {
        all_sets.push(format!("posthog.mode={mode}"));
    }
    for s in &all_sets {
        voice_core::config::apply_set(&mut deployed, s)
            .map_err(|d| crate::error::Usage(format!("--set {s}: {}: {}", d.path, d.message)))?;
    }
    let recorded = Recorded::read(deployed)?;
    let stack = recorded.build(&here.selection)?;
    let said = format!(
        "configuration: the deployed one, revision {} (profile {}){sets}; name a file or --profile to use another",
        r.revision, r.profile
    );
    Ok(Chosen {
        stack,
        document: recorded.document,
        said,
    })
}

/// When this run's profile differs from the deployed configuration's: the change in words.
pub(crate) fn profile_change_of(last: Option<&history::Revision>, stack: &Stack) -> Option<String> {
    let r = last?;
    let now = stack.config.profile.as_str();
    (r.profile != now).then(|| {
        format!(
            "profile {} → {now}: the deployed configuration (revision {}) uses {}",
            r.profile, r.revision, r.profile
        )
    })
}

/// [`profile_change_of`] against the cluster's current revision.
pub(crate) async fn profile_change(
    client: &Client,
    inv: &Inventory,
    stack: &Stack,
) -> anyhow::Result<Option<String>> {
    let revisions = history::list(client, inv).await?;
    Ok(profile_change_of(history::current(&revisions), stack))
}
