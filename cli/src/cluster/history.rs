//! Revisions of a rollout, stored next to the inventory: one ConfigMap per revision
//! (`<instance>-rev-<N>`), holding what `rollback` needs to apply it again — the configuration
//! as one document (never a secret value), the selection, a digest of the rendered objects —
//! and what `history` shows: time, tool version, what made it and how it ended.
//!
//! A revision is written as `pending` before the first write of a run and completed at its
//! end, so a run that dies leaves a pending revision behind, like Helm's
//! `pending-upgrade`, but one that the next run simply supersedes.

use anyhow::Context;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use voice_core::render::{MANAGER, Object};

use crate::cluster::inventory::Inventory;

/// Label that marks a revision and names its release.
pub(crate) const REVISION_OF: &str = "kubectl-voice.io/revision-of";

/// A change made by a day-2 verb (`scale`, `switch`), carried from revision to revision
/// until a configuration sets the field itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Override {
    /// Field path in voice.yaml (`components.<name>.replicas`).
    pub field: String,
    /// The value the verb set.
    pub value: Value,
    /// The revision that set it.
    pub revision: u32,
}

impl Override {
    /// The verb that makes changes of this field.
    pub(crate) fn verb(&self) -> &'static str {
        if self.field.ends_with(".engineUpgrade") || self.field.ends_with(".image") {
            "upgrade-engine"
        } else if self.field.starts_with("components.") {
            "scale"
        } else {
            "switch"
        }
    }
}

/// One revision.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Revision {
    /// 1, 2, 3 …
    pub revision: u32,
    /// When the run started (RFC 3339, UTC).
    pub updated: String,
    /// `pending`, `deployed`, `failed` or `superseded`.
    pub status: String,
    /// What made it: `install`, `rollback to 3`, `scale model-router --replicas 5`.
    pub description: String,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `kubectl-voice/vX.Y.Z` that made it.
    pub tool: String,
    /// Profile.
    pub profile: String,
    /// The selection (`--only`/`--skip`) it applied.
    #[serde(default)]
    pub selection: voice_core::config::Selection,
    /// sha256 of the rendered objects' YAML.
    pub digest: String,
    /// Objects rendered.
    pub objects: usize,
    /// The configuration as one document, without secret values.
    pub config: Value,
    /// Changes made by day-2 verbs (`scale`, `switch`) that this configuration carries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scaled: Vec<Override>,
}

impl Revision {
    /// Whether the run that made it got through (deployed, or deployed and superseded since).
    pub(crate) fn applied(&self) -> bool {
        self.status != "failed" && self.status != "pending"
    }
}

/// The revision now deployed, if any.
pub(crate) fn current(revisions: &[Revision]) -> Option<&Revision> {
    revisions.iter().rev().find(|r| r.status == "deployed")
}

/// The stack as installed: the configuration of the deployed revision, with this run's
/// selection when it gives one (else the revision's), or `here` (the configuration given,
/// for a rollout without history).
pub(crate) async fn installed(
    client: &Client,
    ca: &crate::args::ClusterArgs,
    here: voice_core::Stack,
) -> anyhow::Result<voice_core::Stack> {
    let inv = Inventory::of(&here, ca.namespace.as_deref());
    let revisions = list(client, &inv).await?;
    Ok(match current(&revisions) {
        // This run's `--only`/`--skip`, when it gives one: an operator of one part reads
        // that part's namespaces alone.
        Some(r) if !here.selection.is_everything() => {
            load_document(&r.config, here.selection.clone())?
        }
        Some(r) => load_document(&r.config, r.selection.clone())?,
        None => here,
    })
}

/// This tool's version string.
pub(crate) fn tool() -> String {
    format!("kubectl-voice/v{}", env!("CARGO_PKG_VERSION"))
}

/// sha256 of the objects' YAML, in render order.
pub(crate) fn digest(objects: &[Object]) -> String {
    let mut h = Sha256::new();
    for o in objects {
        let mut s = String::new();
        o.write_yaml(&mut s);
        h.update(s.as_bytes());
    }
    format!("sha256:{:x}", h.finalize())
}

/// What an install changes since the last deployed revision, in words: `install: profile
/// dev → small, components.postgres.image postgres:15.12-alpine → postgres:15.13-alpine`
/// (at most five fields, then how many more), its selection when partial, or that the
/// rendered objects (`digest`) changed under the same configuration (another kubectl-voice).
/// A first install is `install`.
pub(crate) fn install_description(
    last: Option<&Revision>,
    digest: &str,
    config: &Value,
    stack: &voice_core::Stack,
) -> String {
    let Some(last) = last else {
        return "install".into();
    };
    let mut changed = Vec::new();
    let profile = stack.config.profile.as_str();
    if last.profile != profile {
        changed.push(format!("profile {} → {profile}", last.profile));
    }
    fields("", &last.config, config, &mut changed);
    const SHOWN: usize = 5;
    let more = changed.len().saturating_sub(SHOWN);
    changed.truncate(SHOWN);
    if more > 0 {
        changed.push(format!("{more} more field(s)"));
    }
    let part = if stack.selection.is_everything() {
        String::new()
    } else {
        format!(" ({})", stack.selection.describe())
    };
    if changed.is_empty() {
        // The rendered objects may differ all the same: another kubectl-voice renders them.
        let tool = tool();
        if last.tool != tool {
            format!(
                "install{part}: the same configuration, rendered by {tool} (was {})",
                last.tool
            )
        } else if last.digest != digest {
            format!("install{part}: the same configuration, other rendered objects")
        } else {
            format!("install{part}: the same configuration")
        }
    } else {
        format!("install{part}: {}", changed.join(", "))
    }
}

/// The leaf fields that differ between two documents, as `path old → new` (`(unset)` for
/// an absent side); the `profile` key is said by the caller.
fn fields(path: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    let key = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                if path.is_empty() && k == "profile" {
                    continue;
                }
                let null = Value::Null;
                fields(
                    &key(k),
                    a.get(k).unwrap_or(&null),
                    b.get(k).unwrap_or(&null),
                    out,
                );
            }
        }
        (a, b) if a == b => {}
        (Value::Object(a), Value::Null) if a.is_empty() => {}
        (Value::Null, Value::Object(b)) if b.is_empty() => {}
        (Value::Null, b @ Value::Object(_)) => {
            fields(path, &Value::Object(Default::default()), b, out)
        }
        (a @ Value::Object(_), Value::Null) => {
            fields(path, a, &Value::Object(Default::default()), out)
        }
        (a, b) => {
            let said = |v: &Value| match v {
                Value::Null => "(unset)".to_string(),
                v => show(v),
            };
            out.push(format!("{path} {} → {}", said(a), said(b)));
        }
    }
}

fn name(inv: &Inventory, n: u32) -> String {
    format!("{}-rev-{n}", inv.instance)
}

/// Every revision, oldest first.
pub(crate) async fn list(client: &Client, inv: &Inventory) -> anyhow::Result<Vec<Revision>> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &inv.namespace);
    let lp = ListParams::default().labels(&format!("{REVISION_OF}={}", inv.instance));
    let list = match api.list(&lp).await {
        Ok(l) => l.items,
        Err(e) if crate::cluster::is_not_found(&e) => Vec::new(),
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!(
                "listing the revisions of {} in {}",
                inv.instance, inv.namespace
            )));
        }
    };
    let mut out: Vec<Revision> = list
        .iter()
        .filter_map(|cm| {
            let text = cm.data.as_ref()?.get("revision.json")?;
            serde_json::from_str(text).ok()
        })
        .collect();
    out.sort_by_key(|r| r.revision);
    Ok(out)
}

/// Writes (creates or replaces) a revision.
pub(crate) async fn write(client: &Client, inv: &Inventory, r: &Revision) -> anyhow::Result<usize> {
    let text = serde_json::to_string(r)?;
    let cm = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name(inv, r.revision),
            "namespace": inv.namespace,
            "labels": {
                REVISION_OF: inv.instance,
                "app.kubernetes.io/managed-by": MANAGER,
            },
        },
        "data": {"revision.json": text},
    });
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &inv.namespace);
    api.patch(
        &name(inv, r.revision),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&cm),
    )
    .await
    .with_context(|| format!("recording revision {} of {}", r.revision, inv.instance))?;
    Ok(text.len())
}

/// Deletes revisions beyond the newest `keep`.
pub(crate) async fn trim(
    client: &Client,
    inv: &Inventory,
    revisions: &[Revision],
    keep: usize,
) -> anyhow::Result<()> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &inv.namespace);
    let extra = revisions.len().saturating_sub(keep.max(1));
    for r in &revisions[..extra] {
        match api
            .delete(&name(inv, r.revision), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(e) if crate::cluster::is_not_found(&e) => {}
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("trimming revision {} of the history", r.revision)));
            }
        }
    }
    Ok(())
}

/// Deletes every revision (`uninstall --purge`).
pub(crate) async fn delete_all(client: &Client, inv: &Inventory) -> anyhow::Result<()> {
    let revisions = list(client, inv).await?;
    trim(client, inv, &revisions, 0).await?;
    if let Some(last) = revisions.last() {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), &inv.namespace);
        let _ = api
            .delete(&name(inv, last.revision), &DeleteParams::default())
            .await;
    }
    Ok(())
}

/// The value at a dotted field path of a configuration document.
pub(crate) fn field<'a>(config: &'a Value, path: &str) -> Option<&'a Value> {
    let pointer = format!("/{}", path.replace('.', "/"));
    config.pointer(&pointer)
}

/// A value as voice.yaml would spell it.
pub(crate) fn show(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// The day-2 changes a new configuration would undo: `(change, the value it sets)`.
pub(crate) fn undone<'a, 'c>(
    last: Option<&'a Revision>,
    config: &'c Value,
) -> Vec<(&'a Override, Option<&'c Value>)> {
    last.into_iter()
        .flat_map(|r| &r.scaled)
        .filter_map(|s| {
            let now = field(config, &s.field);
            (now != Some(&s.value)).then_some((s, now))
        })
        .collect()
}

/// The day-2 changes to carry into a revision made from `config`: those it still agrees
/// with.
pub(crate) fn carried(last: Option<&Revision>, config: &Value) -> Vec<Override> {
    last.into_iter()
        .flat_map(|r| &r.scaled)
        .filter(|s| field(config, &s.field) == Some(&s.value))
        .cloned()
        .collect()
}

/// Sets `field` to `value` in `document` and records it as a day-2 change of revision
/// `revision`, replacing an earlier change of the same field.
pub(crate) fn set_override(
    document: &mut Value,
    overrides: &mut Vec<Override>,
    field: &str,
    value: Value,
    revision: u32,
) -> anyhow::Result<()> {
    voice_core::config::apply_set(document, &format!("{field}={}", show(&value)))
        .map_err(|d| crate::error::Usage(format!("{}: {}", d.path, d.message)))?;
    overrides.retain(|s| s.field != field);
    overrides.push(Override {
        field: field.to_string(),
        value,
        revision,
    });
    Ok(())
}

/// Now, as RFC 3339 in UTC.
pub(crate) fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A table row per revision.
pub(crate) fn human(revisions: &[Revision]) -> String {
    let rows: Vec<Vec<String>> = revisions
        .iter()
        .map(|r| {
            vec![
                r.revision.to_string(),
                r.updated.clone(),
                r.status.clone(),
                r.profile.clone(),
                r.tool.clone(),
                match &r.error {
                    Some(e) => format!("{}: {e}", r.description),
                    None => r.description.clone(),
                },
            ]
        })
        .collect();
    crate::output::table(
        &[
            "REVISION",
            "UPDATED",
            "STATUS",
            "PROFILE",
            "TOOL",
            "DESCRIPTION",
        ],
        rows,
    ) + "\n"
}

/// A configuration recorded by history (a document that [`crate::config::load_recorded`] made), read once:
/// `scale` and `switch` make their changes to it and build it again without reading it again.
pub(crate) struct Recorded {
    /// The document, with the changes made since it was read: what the next revision records.
    pub document: Value,
    config: voice_core::Config,
    positions: voice_core::Positions,
    changed: bool,
}

impl Recorded {
    /// Reads a recorded document.
    pub(crate) fn read(document: Value) -> anyhow::Result<Recorded> {
        let text = serde_json::to_string(&document)?;
        let (config, positions) = voice_core::config::load(&voice_core::Input {
            yaml: &text,
            ..Default::default()
        })
        .map_err(recorded_problems)?;
        Ok(Recorded {
            document,
            config,
            positions,
            changed: false,
        })
    }

    /// Builds the stack of the configuration as it is now, with a selection.
    pub(crate) fn build(
        &self,
        selection: &voice_core::Selection,
    ) -> anyhow::Result<voice_core::Stack> {
        match voice_core::build(&self.config, selection, &self.positions) {
            // The problems are placed in the changed document's text, where reading it would
            // place them: its positions are read only on this way out.
            Err(_) if self.changed => {
                let positions = self.positions_now()?;
                Ok(voice_core::build(&self.config, selection, &positions)
                    .map_err(recorded_problems)?)
            }
            built => Ok(built.map_err(recorded_problems)?),
        }
    }

    /// Makes a change as a day-2 change of revision `revision`: in the document, recorded in
    /// `overrides`, and in the typed configuration.
    pub(crate) fn change(
        &mut self,
        change: &voice_core::Change,
        overrides: &mut Vec<Override>,
        revision: u32,
    ) -> anyhow::Result<()> {
        set_override(
            &mut self.document,
            overrides,
            &change.field(),
            change.value(),
            revision,
        )?;
        self.changed = true;
        if let Err(d) = self.config.apply(change) {
            let positions = self.positions_now()?;
            return Err(recorded_problems(voice_core::config::finish(vec![d], &positions)).into());
        }
        Ok(())
    }

    /// Field positions in the document's text as it is now.
    fn positions_now(&self) -> anyhow::Result<voice_core::Positions> {
        let text = serde_json::to_string(&self.document)?;
        Ok(voice_core::config::yaml::parse(&text)
            .map(|d| d.positions)
            .unwrap_or_default())
    }
}

fn recorded_problems(errors: voice_core::Errors) -> crate::error::BadInput {
    crate::error::BadInput {
        file: "the recorded configuration".into(),
        errors,
        sets: Vec::new(),
    }
}

/// Loads a configuration recorded by history, with a selection.
pub(crate) fn load_document(
    document: &Value,
    selection: voice_core::config::Selection,
) -> anyhow::Result<voice_core::Stack> {
    Recorded::read(document.clone())?.build(&selection)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_fields_are_said_by_path() {
        let old = serde_json::json!({"profile": "dev", "components": {"postgres": {"image": "postgres:15.12-alpine"}}, "modelRouter": {"replicas": 2}});
        let new = serde_json::json!({"profile": "small", "components": {"postgres": {"image": "postgres:15.13-alpine"}, "redis": {"replicas": 1}}});
        let mut out = Vec::new();
        fields("", &old, &new, &mut out);
        assert_eq!(
            out,
            [
                "components.postgres.image postgres:15.12-alpine → postgres:15.13-alpine",
                "components.redis.replicas (unset) → 1",
                "modelRouter.replicas 2 → (unset)",
            ]
        );
    }
    use voice_core::{Change, Input, ProfileName, Selection, Stack};

    /// The recorded production configuration, as install records it.
    fn recorded() -> Value {
        let sets = ["voiceAssistant.services.agent-engine.blueGreen=true".to_string()];
        voice_core::config::load_with_document(&Input {
            profile: Some(ProfileName::Production),
            sets: &sets,
            ..Default::default()
        })
        .expect("valid")
        .document
    }

    fn rendered(stack: &Stack) -> String {
        voice_core::render::to_yaml(&voice_core::render::render(stack))
    }

    /// Changes made to the typed configuration render what loading the changed document
    /// renders, and a change it refuses reads as loading the changed document reads.
    #[test]
    fn a_typed_change_is_the_changed_document_loaded() {
        let sel = Selection::default();
        let mut r = Recorded::read(recorded()).expect("valid");
        let mut overrides = Vec::new();
        for c in [
            Change::MaxReplicas {
                component: "model-router".into(),
                max_replicas: 7,
            },
            Change::Replicas {
                component: "model-router".into(),
                replicas: 5,
            },
            Change::ColorImage {
                service: "agent-engine".into(),
                color: voice_core::config::Color::Green,
                image: "example.com/agent-engine:2".into(),
            },
            Change::ActiveColor {
                service: "agent-engine".into(),
                color: voice_core::config::Color::Green,
            },
        ] {
            r.change(&c, &mut overrides, 2).expect("a valid change");
        }
        assert_eq!(overrides.len(), 4);
        assert_eq!(overrides[0].field, "components.model-router.maxReplicas");
        let typed = r.build(&sel).expect("valid");
        let loaded = load_document(&r.document, sel.clone()).expect("valid");
        assert_eq!(rendered(&typed), rendered(&loaded));

        r.change(
            &Change::Replicas {
                component: "model-router".into(),
                replicas: 9,
            },
            &mut overrides,
            3,
        )
        .expect("one field is fine");
        let typed = r.build(&sel).expect_err("maxReplicas is below replicas");
        let loaded = load_document(&r.document, sel).expect_err("the same");
        assert_eq!(typed.to_string(), loaded.to_string());
        assert!(typed.to_string().contains("maxReplicas"), "{typed}");
    }
    /// An install under the same configuration says why it wrote anything.
    #[test]
    fn the_same_configuration_says_why_objects_changed() {
        let config = recorded();
        let stack = load_document(&config, Selection::default()).expect("valid");
        let mut last = Revision {
            revision: 1,
            updated: String::new(),
            status: "deployed".into(),
            description: "install".into(),
            error: None,
            tool: tool(),
            profile: stack.config.profile.as_str().into(),
            selection: Selection::default(),
            digest: "sha256:b".into(),
            objects: 0,
            config: config.clone(),
            scaled: Vec::new(),
        };
        let said = |last: Option<&Revision>| install_description(last, "sha256:b", &config, &stack);
        assert_eq!(said(None), "install");
        assert_eq!(said(Some(&last)), "install: the same configuration");
        last.digest = "sha256:a".into();
        assert_eq!(
            said(Some(&last)),
            "install: the same configuration, other rendered objects"
        );
        last.tool = "kubectl-voice/v0.0.1".into();
        assert_eq!(
            said(Some(&last)),
            format!(
                "install: the same configuration, rendered by {} (was kubectl-voice/v0.0.1)",
                tool()
            )
        );
    }
}
