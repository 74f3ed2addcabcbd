//! Reading the configuration named on the command line and handing it to the core.

use std::io::Read;

use anyhow::Context;
use voice_core::{Errors, Input, ProfileName, Stack};

use crate::args::ConfigArgs;

/// The configuration was rejected: every problem, with the file name for messages.
#[derive(Debug)]
pub struct BadInput {
    /// File name used in messages.
    pub file: String,
    /// Problems.
    pub errors: Errors,
    /// The `--set` flags of the run, so a problem they made names its flag.
    pub sets: Vec<String>,
}

impl BadInput {
    /// The `--set` flag that wrote the field of a problem, if one did (the last one wins).
    pub fn flag(&self, d: &voice_core::Diagnostic) -> Option<String> {
        self.sets
            .iter()
            .rev()
            .find(|s| {
                let key = s.split_once('=').map_or(s.as_str(), |(k, _)| k).trim();
                !key.is_empty()
                    && (d.path == key
                        || d.path.starts_with(&format!("{key}."))
                        || d.path.starts_with(&format!("{key}["))
                        || (!d.path.is_empty() && key.starts_with(&format!("{}.", d.path))))
            })
            .map(|s| format!("--set {s}"))
    }

    /// The problems as JSON objects: `path`, `line`, `column`, `message` and `source` (the
    /// file, or the `--set` flag that made the problem).
    pub fn problems(&self) -> Vec<serde_json::Value> {
        self.errors
            .0
            .iter()
            .map(|d| {
                let flag = self.flag(d);
                serde_json::json!({
                    "path": d.path,
                    "line": if flag.is_some() { None } else { d.line },
                    "column": if flag.is_some() { None } else { d.column },
                    "message": d.message,
                    "source": flag.unwrap_or_else(|| self.file.clone()),
                })
            })
            .collect()
    }
}

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.errors.0.len();
        let flags: Vec<Option<String>> = self.errors.0.iter().map(|d| self.flag(d)).collect();
        let from_flags = flags.iter().any(Option::is_some);
        let place = match (self.file.as_str(), from_flags) {
            ("(profile)", true) if flags.iter().all(Option::is_some) => "the command line".into(),
            ("(profile)", _) => "the configuration".into(),
            (file, true) => format!("{file} and the command line"),
            (file, false) => file.to_string(),
        };
        writeln!(
            f,
            "{n} problem{} in {place}:",
            if n == 1 { "" } else { "s" }
        )?;
        for (d, flag) in self.errors.0.iter().zip(&flags) {
            let path = if d.path.is_empty() {
                "(document)"
            } else {
                &d.path
            };
            match (flag, d.line, d.column) {
                (Some(flag), _, _) => writeln!(f, "  {flag}: {path}: {}", d.message)?,
                (None, Some(l), Some(c)) => {
                    writeln!(f, "  {}:{l}:{c}: {path}: {}", self.file, d.message)?
                }
                _ => writeln!(f, "  {path}: {}", d.message)?,
            }
        }
        write!(f, "nothing was applied; fix the fields above and run again")
    }
}

impl std::error::Error for BadInput {}

/// Reads a file no larger than the core's input limit, checking its size before reading it.
pub fn read_bounded(path: &std::path::Path, what: &str) -> anyhow::Result<String> {
    let limit = voice_core::config::LIMITS.bytes;
    let meta =
        std::fs::metadata(path).with_context(|| format!("reading {what} {}", path.display()))?;
    if meta.len() > limit as u64 {
        return Err(crate::Usage(format!(
            "{}: {what} is {} bytes; the limit is {limit} bytes",
            path.display(),
            meta.len()
        ))
        .into());
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {what} {}", path.display()))
}

/// Reads the file (or stdin), validates it with the core and builds the stack.
pub fn load(args: &ConfigArgs) -> anyhow::Result<Stack> {
    load_recorded(args).map(|(stack, _)| stack)
}

/// Like [`load`], also returning the configuration as one document (file over profile,
/// `--set`s applied) without secret values: what history records and rollback loads.
pub fn load_recorded(args: &ConfigArgs) -> anyhow::Result<(Stack, serde_json::Value)> {
    let (file, text) = match &args.file {
        None => ("(profile)".to_string(), String::new()),
        Some(p) if p.as_os_str() == "-" => {
            let mut s = String::new();
            let limit = voice_core::config::LIMITS.bytes;
            std::io::stdin()
                .take(limit as u64 + 1)
                .read_to_string(&mut s)
                .context("reading the configuration from standard input")?;
            if s.len() > limit {
                return Err(crate::Usage(format!(
                    "the configuration on standard input is over the limit of {limit} bytes"
                ))
                .into());
            }
            ("<stdin>".to_string(), s)
        }
        Some(p) => (
            p.display().to_string(),
            read_bounded(p, "the configuration")?,
        ),
    };
    let profile = match &args.profile {
        None => None,
        Some(s) => Some(ProfileName::parse(s).ok_or_else(|| BadInput {
            file: "--profile".into(),
            errors: Errors(vec![voice_core::Diagnostic::at_value(
                "profile",
                format!("`{s}` is not a profile; use dev, small or production"),
            )]),
            sets: Vec::new(),
        })?),
    };
    let selection = voice_core::config::Selection::parse(&args.select.only, &args.select.skip)
        .map_err(|d| BadInput {
            file: "the command line".into(),
            errors: Errors(d),
            sets: Vec::new(),
        })?;
    let mut sets = args.sets.clone();
    if let Some(mode) = &args.select.posthog {
        sets.push(format!("posthog.mode={mode}"));
    }
    let input = Input {
        yaml: &text,
        profile,
        sets: &sets,
        selection,
    };
    let bad = |errors| BadInput {
        file: file.clone(),
        errors,
        sets: sets.clone(),
    };
    // Read, layered and checked once: the stack and the document come from the same pass.
    let loaded = voice_core::config::load_with_document(&input).map_err(bad)?;
    let stack =
        voice_core::build(&loaded.config, &input.selection, &loaded.positions).map_err(bad)?;
    let mut document = loaded.document;
    without_secret_values(&mut document);
    Ok((stack, document))
}

/// Fields of voice.yaml that carry a secret value: install writes them into Secrets (never
/// overwritten), so a recorded configuration drops them.
const SECRET_FIELDS: [&str; 2] = ["/posthog/secretKey", "/posthog/cloud/projectApiKey"];

fn without_secret_values(doc: &mut serde_json::Value) {
    for p in SECRET_FIELDS {
        let (parent, key) = p.rsplit_once('/').unwrap_or_default();
        if let Some(m) = doc
            .pointer_mut(parent)
            .and_then(serde_json::Value::as_object_mut)
        {
            m.remove(key);
        }
    }
}

/// A configuration recorded by history (a document that [`load_recorded`] made), read once:
/// `scale` and `switch` make their changes to it and build it again without reading it again.
pub struct Recorded {
    /// The document, with the changes made since it was read: what the next revision records.
    pub document: serde_json::Value,
    config: voice_core::Config,
    positions: voice_core::Positions,
    changed: bool,
}

impl Recorded {
    /// Reads a recorded document.
    pub fn read(document: serde_json::Value) -> anyhow::Result<Recorded> {
        let text = serde_json::to_string(&document)?;
        let (config, positions) = voice_core::config::load(&Input {
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
    pub fn build(&self, selection: &voice_core::Selection) -> anyhow::Result<Stack> {
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
    pub fn change(
        &mut self,
        change: &voice_core::Change,
        overrides: &mut Vec<crate::history::Override>,
        revision: u32,
    ) -> anyhow::Result<()> {
        crate::history::set_override(
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

fn recorded_problems(errors: Errors) -> BadInput {
    BadInput {
        file: "the recorded configuration".into(),
        errors,
        sets: Vec::new(),
    }
}

/// Loads a configuration recorded by history, with a selection.
pub fn load_document(
    document: &serde_json::Value,
    selection: voice_core::config::Selection,
) -> anyhow::Result<Stack> {
    Recorded::read(document.clone())?.build(&selection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use voice_core::{Change, Selection};

    /// The recorded production configuration, as install records it.
    fn recorded() -> serde_json::Value {
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
}
