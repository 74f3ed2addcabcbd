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

/// The flags that give another command line this run's configuration and selection (the
/// render a cluster admin runs for it): the run's own `-f`, `--profile`, `--set` and
/// `--posthog` when they are what the run used (`named`), else the configuration's profile
/// with one `--set` per field the configuration changes from it; then `--only`/`--skip` and
/// `-n`. A configuration that `--set`s cannot spell (a key with a dot, a field it drops) is
/// named `-f voice.yaml`, with the line that says what that file is.
pub(crate) fn flags(
    stack: &Stack,
    document: &serde_json::Value,
    named: Option<&ConfigArgs>,
    ca: &ClusterArgs,
) -> (String, Option<String>) {
    let mut out: Vec<String> = Vec::new();
    let mut note = None;
    match named {
        Some(a) => {
            if let Some(f) = &a.file {
                out.extend(["-f".into(), f.display().to_string()]);
            }
            if let Some(p) = &a.profile {
                out.extend(["--profile".into(), p.clone()]);
            }
            for s in &a.sets {
                out.extend(["--set".into(), s.clone()]);
            }
            if let Some(m) = &a.select.posthog {
                out.extend(["--posthog".into(), m.clone()]);
            }
        }
        None => match as_sets(stack, document) {
            Some(sets) => {
                out.extend(["--profile".into(), stack.config.profile.as_str().into()]);
                for s in sets {
                    out.extend(["--set".into(), s]);
                }
            }
            None => {
                out.extend(["-f".into(), "voice.yaml".into()]);
                note = Some(
                    "voice.yaml: the configuration of this run (`kubectl voice history -o yaml` shows each revision's as `config`)".to_string(),
                );
            }
        },
    }
    let parts = |ps: &[voice_core::config::Part]| {
        ps.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",")
    };
    if !stack.selection.only.is_empty() {
        out.extend(["--only".into(), parts(&stack.selection.only)]);
    }
    if !stack.selection.skip.is_empty() {
        out.extend(["--skip".into(), parts(&stack.selection.skip)]);
    }
    if let Some(ns) = &ca.namespace {
        out.extend(["-n".into(), ns.clone()]);
    }
    let quoted: Vec<String> = out.iter().map(|s| quote(s)).collect();
    (quoted.join(" "), note)
}

/// `--set path=value` for each field `document` changes from its profile's document, when
/// applying them to the profile gives `document` exactly.
fn as_sets(stack: &Stack, document: &serde_json::Value) -> Option<Vec<String>> {
    let (_, base) = config::load_recorded(&ConfigArgs {
        profile: Some(stack.config.profile.as_str().into()),
        ..Default::default()
    })
    .ok()?;
    let mut sets = Vec::new();
    changed("", &base, document, &mut sets)?;
    let mut rebuilt = base;
    for s in &sets {
        voice_core::config::apply_set(&mut rebuilt, s).ok()?;
    }
    (rebuilt == *document).then_some(sets)
}

/// The `path=value` assignments that turn `old` into `new`; `None` when one cannot be said.
fn changed(
    path: &str,
    old: &serde_json::Value,
    new: &serde_json::Value,
    out: &mut Vec<String>,
) -> Option<()> {
    use serde_json::Value;
    match (old, new) {
        (a, b) if a == b => Some(()),
        (Value::Object(a), Value::Object(b)) => {
            if a.keys().any(|k| !b.contains_key(k)) {
                return None;
            }
            for (k, v) in b {
                if k.contains(['.', '[', '=']) || (path.is_empty() && k == "profile") {
                    if a.get(k) != Some(v) {
                        return None;
                    }
                    continue;
                }
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                changed(&p, a.get(k).unwrap_or(&Value::Null), v, out)?;
            }
            Some(())
        }
        // A mapping the profile does not have: field by field where each can be said, else
        // as one value.
        (Value::Null, Value::Object(_)) => {
            let mut each = Vec::new();
            if changed(path, &Value::Object(Default::default()), new, &mut each).is_some() {
                out.extend(each);
                Some(())
            } else {
                out.push(format!("{path}={new}"));
                Some(())
            }
        }
        (_, Value::Null) => None,
        (_, v) => {
            let text = match v {
                Value::String(s) if !s.is_empty() => {
                    // A string that YAML would read as another type goes as JSON.
                    let plain = voice_core::config::yaml::parse(s)
                        .ok()
                        .is_some_and(|p| p.value == *v);
                    if plain { s.clone() } else { v.to_string() }
                }
                v => v.to_string(),
            };
            out.push(format!("{path}={text}"));
            Some(())
        }
    }
}

/// A word as a POSIX shell reads it back: as it is when it holds no special character,
/// else in single quotes.
fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployed_configuration_is_said_as_its_profile_and_sets() {
        let args = ConfigArgs {
            profile: Some("dev".into()),
            sets: vec![
                "instance=t1".into(),
                "namespaces.app=t1-app".into(),
                "modelRouter.providers=[openai]".into(),
                "posthog.domain=ph.example.com".into(),
            ],
            select: crate::args::Selection {
                only: vec!["model-router".into()],
                ..Default::default()
            },
            ..Default::default()
        };
        let (stack, document) = config::load_recorded(&args).unwrap();
        let ca = ClusterArgs::default();
        // Named on the command line: the run's own flags.
        let (said, note) = flags(&stack, &document, Some(&args), &ca);
        assert_eq!(
            said,
            "--profile dev --set instance=t1 --set namespaces.app=t1-app --set 'modelRouter.providers=[openai]' --set posthog.domain=ph.example.com --only model-router"
        );
        assert!(note.is_none());
        // The deployed one: its profile and one --set per field it changes, which give the
        // same document back.
        let (said, note) = flags(&stack, &document, None, &ca);
        assert!(note.is_none(), "{said}");
        assert!(said.starts_with("--profile dev "), "{said}");
        assert!(said.contains("--set instance=t1"), "{said}");
        assert!(
            said.contains("--set 'modelRouter.providers=[\"openai\"]'"),
            "{said}"
        );
        assert!(said.ends_with(" --only model-router"), "{said}");
        // A field --set cannot spell: a file, said what it is.
        assert!(said.contains("--set namespaces.app=t1-app"), "{said}");
        let mut odd = document.clone();
        odd["placement"] = serde_json::json!({"nodeSelector": {"kubernetes.io/os": "linux"}});
        let (said, _) = flags(&stack, &odd, None, &ca);
        assert!(
            said.contains(r#"--set 'placement.nodeSelector={"kubernetes.io/os":"linux"}'"#),
            "{said}"
        );
        odd.as_object_mut().unwrap().remove("istio");
        let (said, note) = flags(&stack, &odd, None, &ca);
        assert_eq!(said, "-f voice.yaml --only model-router");
        assert!(note.is_some());
        assert_eq!(quote("a b'c"), r"'a b'\''c'");
    }
}
