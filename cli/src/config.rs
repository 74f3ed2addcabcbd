//! Reading the configuration named on the command line and handing it to the core.

use std::io::Read;

use anyhow::Context;
use voice_core::{Errors, Input, ProfileName, Stack};

use crate::args::ConfigArgs;
use crate::error::BadInput;

/// Reads a file no larger than the core's input limit, checking its size before reading it.
pub(crate) fn read_bounded(path: &std::path::Path, what: &str) -> anyhow::Result<String> {
    let limit = voice_core::config::LIMITS.bytes;
    let meta =
        std::fs::metadata(path).with_context(|| format!("reading {what} {}", path.display()))?;
    if meta.len() > limit as u64 {
        return Err(crate::error::Usage(format!(
            "{}: {what} is {} bytes; the limit is {limit} bytes",
            path.display(),
            meta.len()
        ))
        .into());
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {what} {}", path.display()))
}

/// Reads the file (or stdin), validates it with the core and builds the stack.
pub(crate) fn load(args: &ConfigArgs) -> anyhow::Result<Stack> {
    read(args, false).map(|(stack, _)| stack)
}

/// Like [`load`], also returning the configuration as one document (file over profile,
/// `--set`s applied) without secret values: what history records and rollback loads.
pub(crate) fn load_recorded(args: &ConfigArgs) -> anyhow::Result<(Stack, serde_json::Value)> {
    read(args, true)
}

/// Reads and builds the stack; the layered document only when `keep_document` (building it
/// copies the whole configuration, which `render` and `validate` never look at).
fn read(args: &ConfigArgs, keep_document: bool) -> anyhow::Result<(Stack, serde_json::Value)> {
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
                return Err(crate::error::Usage(format!(
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
    let (config, positions, mut document) = if keep_document {
        let loaded = voice_core::config::load_with_document(&input)
            .map_err(|e| bad(voice_core::with_unknown_components(&input, e)))?;
        (loaded.config, loaded.positions, loaded.document)
    } else {
        let (config, positions) = voice_core::config::load(&input)
            .map_err(|e| bad(voice_core::with_unknown_components(&input, e)))?;
        (config, positions, serde_json::Value::Null)
    };
    let stack = voice_core::build(&config, &input.selection, &positions).map_err(bad)?;
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
