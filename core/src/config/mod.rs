//! The rollout configuration: `voice.yaml` layered over an embedded profile, checked, and
//! resolved into a [`Config`].
//!
//! Three layers, as in ruff: [`Options`] is the file format (all optional, the JSON Schema);
//! the embedded profile supplies what the file leaves out; [`resolve`] checks every value and
//! produces the typed [`Config`]. Every problem is collected, each with its field path and,
//! when the user wrote the field, its line and column.

mod edit;
pub mod external;
pub mod identity;
pub mod limits;
mod options;
pub mod placement;
pub mod platform;
mod read;
mod resolve;
pub mod secrets;
pub mod selection;
mod set;
pub mod shape;
pub mod yaml;

use std::fmt;

use serde_json::Value;

pub use edit::Change;
pub use external::{External, SecretRef};
pub use identity::{EnvSource, EnvVar, PodMeta};
pub use limits::{LIMITS, Limit, Limits};
pub use options::*;
pub use placement::{Mismatch, NodeAffinity, Placement, Requirement, Taint, Term, Toleration};
pub use resolve::*;
pub use secrets::{Secrets, Store};
pub use selection::{Leaf, Part, Selection};
pub use set::apply_set;

/// One problem with the input, named by field path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Dotted field path, e.g. `modelRouter.hpa.maxReplicas` or `cluster.nodes[0].cpu`.
    pub path: String,
    /// 1-based line in the user's file, when the field was written there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column, with `line`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// What is wrong and what to do.
    pub message: String,
    #[serde(skip)]
    anchor: Anchor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Anchor {
    Key,
    #[default]
    Value,
}

impl Diagnostic {
    /// A problem with the value at `path`.
    pub fn at_value(path: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.to_string(),
            line: None,
            column: None,
            message: message.into(),
            anchor: Anchor::Value,
        }
    }
    /// A problem with the key at `path` (an unknown or duplicate field).
    pub fn at_key(path: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            anchor: Anchor::Key,
            ..Diagnostic::at_value(path, message)
        }
    }
    fn locate(&mut self, positions: &yaml::Positions) {
        let pos = match self.anchor {
            Anchor::Key => positions.key(&self.path),
            Anchor::Value => positions.value(&self.path),
        };
        if let Some(p) = pos {
            self.line = Some(p.line);
            self.column = Some(p.column);
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, "{l}:{c}: ")?;
        }
        let path = if self.path.is_empty() {
            "(document)"
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.message)
    }
}

/// Every problem found in one input; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[serde(transparent)]
pub struct Errors(pub Vec<Diagnostic>);

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} problem{} in the configuration:",
            if n == 1 { "" } else { "s" }
        )?;
        for d in &self.0 {
            writeln!(f, "  {d}")?;
        }
        Ok(())
    }
}

/// What a caller passes in besides the file text.
#[derive(Debug, Clone, Default)]
pub struct Input<'a> {
    /// The `voice.yaml` text (may be empty: the profile alone).
    pub yaml: &'a str,
    /// A profile chosen on the command line; it wins over the file's `profile`.
    pub profile: Option<ProfileName>,
    /// `--set path=value` assignments, applied over the file.
    pub sets: &'a [String],
    /// The parts this run acts on (`--only` / `--skip`); the configuration is the same.
    pub selection: Selection,
}

/// The text of an embedded profile.
pub fn profile_yaml(p: ProfileName) -> &'static str {
    match p {
        ProfileName::Dev => include_str!("../../profiles/dev.yaml"),
        ProfileName::Small => include_str!("../../profiles/small.yaml"),
        ProfileName::Production => include_str!("../../profiles/production.yaml"),
    }
}

/// Every profile, in order.
pub const PROFILES: [ProfileName; 3] = [
    ProfileName::Dev,
    ProfileName::Small,
    ProfileName::Production,
];

/// The profile used when neither the file nor the caller names one.
pub const DEFAULT_PROFILE: ProfileName = ProfileName::Small;

impl ProfileName {
    /// The name as written in `voice.yaml`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileName::Dev => "dev",
            ProfileName::Small => "small",
            ProfileName::Production => "production",
        }
    }
    /// Parses a profile name.
    pub fn parse(s: &str) -> Option<Self> {
        PROFILES.into_iter().find(|p| p.as_str() == s)
    }
}

/// The JSON Schema of `voice.yaml`, with its descriptions (`kubectl voice schema`).
pub fn schema() -> Value {
    serde_json::from_str(include_str!("../../voice.schema.json")).unwrap_or(Value::Null)
}

/// The schema as the shape check reads it, parsed once per process (the check of every load
/// walks it).
///
/// `voice.schema.json` is generated from the [`Options`] structs by schemars, and
/// `voice.shape.json` keeps of it only the keywords [`shape::check`] reads (a quarter of its
/// size, so the previewer downloads and parses less). A unit test keeps both in step
/// (`UPDATE_GOLDEN=1` rewrites them), so schemars is not compiled into the CLI or the
/// previewer.
fn schema_ref() -> &'static Value {
    static SCHEMA: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        serde_json::from_str(include_str!("../../voice.shape.json")).unwrap_or(Value::Null)
    })
}

/// Deep-merges `over` onto `base`: mappings merge key by key, anything else replaces.
pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (_, Value::Null) => {}
        (b, o) => *b = o,
    }
}

/// Removes the value at a diagnostic's `path` (an array element is nulled: the walk already
/// reported it). Keys may hold dots (`eks.amazonaws.com/role-arn`): at each mapping the
/// longest key the path starts with, followed by `.`, `[` or its end, is the one meant.
fn remove_path(v: &mut Value, path: &str) {
    match v {
        Value::Object(m) => {
            let Some(key) = m
                .keys()
                .filter(|k| {
                    path.strip_prefix(k.as_str())
                        .is_some_and(|r| r.is_empty() || r.starts_with(['.', '[']))
                })
                .max_by_key(|k| k.len())
                .cloned()
            else {
                return;
            };
            let rest = &path[key.len()..];
            if rest.is_empty() {
                m.remove(&key);
            } else if let Some(child) = m.get_mut(&key) {
                remove_path(child, rest.strip_prefix('.').unwrap_or(rest));
            }
        }
        Value::Array(a) => {
            let Some((i, rest)) = path.strip_prefix('[').and_then(|r| r.split_once(']')) else {
                return;
            };
            let Some(slot) = i.parse::<usize>().ok().and_then(|i| a.get_mut(i)) else {
                return;
            };
            if rest.is_empty() {
                *slot = Value::Null;
            } else {
                remove_path(slot, rest.strip_prefix('.').unwrap_or(rest));
            }
        }
        _ => {}
    }
}

/// An embedded profile as a value, parsed once.
fn profile_value(p: ProfileName) -> &'static Value {
    // One cell a profile: a process that reads one profile parses only that one.
    static PARSED: [std::sync::OnceLock<Value>; 3] = [const { std::sync::OnceLock::new() }; 3];
    PARSED[PROFILES.iter().position(|x| *x == p).unwrap_or(0)].get_or_init(|| {
        yaml::parse(profile_yaml(p))
            .map(|d| d.value)
            .unwrap_or(Value::Null)
    })
}

/// `user` layered over the embedded `profile`.
fn layer(user: Value, profile: ProfileName) -> Value {
    let mut merged = profile_value(profile).clone();
    merge(&mut merged, user);
    merged["profile"] = Value::from(profile.as_str());
    merged
}

/// A file's options layered over the profile it names (or the default), unchecked: what a
/// form shows as the effective values.
pub fn layered(user: &Value) -> Value {
    let profile = user
        .get("profile")
        .and_then(Value::as_str)
        .and_then(ProfileName::parse)
        .unwrap_or(DEFAULT_PROFILE);
    layer(
        if user.is_object() {
            user.clone()
        } else {
            Value::Null
        },
        profile,
    )
}

/// The profile an input asks for: `--profile`, else the last `--set profile=…`, else the
/// file's `profile`, else the default.
fn chosen_profile(input: &Input<'_>, user: &Value) -> ProfileName {
    input
        .profile
        .or_else(|| {
            input
                .sets
                .iter()
                .rev()
                .find_map(|s| s.strip_prefix("profile="))
                .and_then(|p| ProfileName::parse(p.trim()))
        })
        .or_else(|| {
            user.get("profile")
                .and_then(Value::as_str)
                .and_then(ProfileName::parse)
        })
        .unwrap_or(DEFAULT_PROFILE)
}

/// The input as one document: the file layered over its profile with the `--set`s applied,
/// unchecked. What `install` records in its history, so that `rollback` can load exactly this
/// configuration again (as a file, with no profile flag or `--set`). `None` when the file is
/// not YAML.
pub fn effective(input: &Input<'_>) -> Option<Value> {
    let user = match yaml::parse(input.yaml).ok()?.value {
        v @ Value::Object(_) => v,
        _ => Value::Object(Default::default()),
    };
    let profile = chosen_profile(input, &user);
    let mut merged = layer(user, profile);
    for s in input.sets {
        let _ = apply_set(&mut merged, s);
    }
    merged["profile"] = Value::from(profile.as_str());
    Some(merged)
}

/// Parses, layers and checks an input; the result is ready for the catalog.
pub fn load(input: &Input<'_>) -> Result<(Config, yaml::Positions), Errors> {
    read(input, false).map(|l| (l.config, l.positions))
}

/// An input read once: the checked configuration, where each field was written, and the
/// input as one document.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The checked configuration.
    pub config: Config,
    /// Where each field was written in the input's text, to place a later problem.
    pub positions: yaml::Positions,
    /// The file layered over its profile with the `--set`s applied: what [`effective`]
    /// returns for the same input, read in the same pass.
    pub document: Value,
}

/// Parses, layers and checks an input once, keeping the layered document beside the
/// configuration (what `install` records and `scale` changes).
pub fn load_with_document(input: &Input<'_>) -> Result<Loaded, Errors> {
    read(input, true)
}

fn read(input: &Input<'_>, keep_document: bool) -> Result<Loaded, Errors> {
    let doc = yaml::parse(input.yaml).map_err(|e| Errors(vec![e.diagnostic()]))?;
    let positions = doc.positions;
    let mut diags: Vec<Diagnostic> = doc
        .duplicates
        .iter()
        .map(|(p, _)| Diagnostic::at_key(p, "field written twice in the same mapping; keep one"))
        .collect();
    let mut user = match doc.value {
        Value::Null => Value::Object(Default::default()),
        v @ Value::Object(_) => v,
        other => {
            return Err(Errors(vec![Diagnostic::at_value(
                "",
                format!(
                    "expected a mapping at the top of voice.yaml, found {}",
                    shape_name(&other)
                ),
            )]));
        }
    };
    // The embedded profiles are checked against the schema by a test, so an empty file
    // and no `--set` (`--profile production` alone) need no schema at all.
    let mut shape_diags = Vec::new();
    if user.as_object().is_some_and(|m| !m.is_empty()) {
        shape::check(&user, schema_ref(), &mut shape_diags);
    }
    for d in &shape_diags {
        remove_path(&mut user, &d.path);
    }
    diags.extend(shape_diags);

    let profile = chosen_profile(input, &user);
    let mut merged = layer(user, profile);
    // `--set` applies over the layered document, so `cluster.nodes[0].count=5` edits the
    // profile's node list instead of replacing it.
    for s in input.sets {
        if let Err(d) = apply_set(&mut merged, s) {
            diags.push(d);
        }
    }
    merged["profile"] = Value::from(profile.as_str());
    // The file was checked above; values from `--set` are checked over the merged result.
    let mut set_diags = Vec::new();
    if !input.sets.is_empty() {
        shape::check(&merged, schema_ref(), &mut set_diags);
    }
    for d in set_diags {
        remove_path(&mut merged, &d.path);
        diags.push(d);
    }
    let document = if keep_document && diags.is_empty() {
        merged.clone()
    } else {
        Value::Null
    };
    let Some(options) = read::options(merged, &mut diags) else {
        return Err(finish(diags, &positions));
    };
    match resolve(&options) {
        Ok(config) if diags.is_empty() => Ok(Loaded {
            config,
            positions,
            document,
        }),
        Ok(_) => Err(finish(diags, &positions)),
        Err(more) => {
            diags.extend(more);
            Err(finish(diags, &positions))
        }
    }
}

/// Attaches positions and orders diagnostics by where they appear.
pub fn finish(mut diags: Vec<Diagnostic>, positions: &yaml::Positions) -> Errors {
    for d in &mut diags {
        d.locate(positions);
    }
    diags.sort_by(|a, b| {
        (a.line.unwrap_or(usize::MAX), a.column, &a.path).cmp(&(
            b.line.unwrap_or(usize::MAX),
            b.column,
            &b.path,
        ))
    });
    diags.dedup_by(|a, b| a.path == b.path && a.message == b.message);
    if diags.len() > LIMITS.diagnostics {
        let more = diags.len() - LIMITS.diagnostics;
        diags.truncate(LIMITS.diagnostics);
        diags.push(Diagnostic::at_value(
            "",
            format!(
                "{more} more problem{} not listed; fix these first",
                if more == 1 { "" } else { "s" }
            ),
        ));
    }
    Errors(diags)
}

fn shape_name(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "a list",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        _ => "something else",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keywords of the JSON Schema that [`shape::check`] reads; the rest (descriptions,
    /// formats) is for people and editors.
    const SHAPE_KEYWORDS: [&str; 12] = [
        "$defs",
        "$ref",
        "additionalProperties",
        "anyOf",
        "const",
        "enum",
        "items",
        "maximum",
        "minimum",
        "oneOf",
        "properties",
        "type",
    ];

    /// The committed schema is the one the `Options` structs generate, and the shape
    /// check's copy is its projection onto the keywords the check reads.
    #[test]
    fn schema_files_match_the_options() {
        /// `schema` without what the shape check does not read; the names under
        /// `properties` and `$defs` are field and type names, kept whatever they are.
        fn project(schema: &Value) -> Value {
            match schema {
                Value::Object(map) => Value::Object(
                    map.iter()
                        .filter(|(k, _)| SHAPE_KEYWORDS.contains(&k.as_str()))
                        .map(|(k, v)| {
                            let v = match v {
                                Value::Object(named) if k == "properties" || k == "$defs" => {
                                    Value::Object(
                                        named
                                            .iter()
                                            .map(|(n, s)| (n.clone(), project(s)))
                                            .collect(),
                                    )
                                }
                                other => project(other),
                            };
                            (k.clone(), v)
                        })
                        .collect(),
                ),
                Value::Array(items) => Value::Array(items.iter().map(project).collect()),
                other => other.clone(),
            }
        }
        let generated = serde_json::to_value(schemars::schema_for!(Options)).expect("schema");
        let shape = project(&generated);
        let dir = env!("CARGO_MANIFEST_DIR");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            let text = serde_json::to_string_pretty(&generated).expect("schema") + "\n";
            std::fs::write(format!("{dir}/voice.schema.json"), text).expect("writing");
            let text = serde_json::to_string(&shape).expect("shape") + "\n";
            std::fs::write(format!("{dir}/voice.shape.json"), text).expect("writing");
        }
        assert!(
            schema() == generated && *schema_ref() == shape,
            "core/voice.schema.json or voice.shape.json is stale; run UPDATE_GOLDEN=1 cargo test -p voice-core --lib"
        );
    }

    /// The document read with a configuration is the one `effective` makes of the input.
    #[test]
    fn the_loaded_document_is_the_effective_one() {
        let sets = [
            "cluster.nodes[0].count=5".to_string(),
            "profile=dev".to_string(),
            "components.model-router.replicas=2".to_string(),
        ];
        for p in PROFILES {
            for (yaml, sets) in [("", &[][..]), ("instance: demo\n", &sets[..])] {
                let input = Input {
                    yaml,
                    profile: Some(p),
                    sets,
                    ..Default::default()
                };
                let loaded = load_with_document(&input).expect("valid");
                assert_eq!(Some(loaded.document), effective(&input));
            }
        }
    }

    /// A problem's value is removed from the document even when its keys hold dots.
    #[test]
    fn remove_path_follows_keys_with_dots() {
        let mut v = serde_json::json!({
            "podAnnotations": {"sidecar.istio.io/proxyCPU": 1, "a": "b"},
            "cluster": {"nodes": [{"count": "x", "cpu": 1}]},
            "env": [{"name": 1}, {"name": "X"}],
        });
        remove_path(&mut v, "podAnnotations.sidecar.istio.io/proxyCPU");
        remove_path(&mut v, "cluster.nodes[0].count");
        remove_path(&mut v, "env[0]");
        remove_path(&mut v, "nowhere.at.all");
        assert_eq!(
            v,
            serde_json::json!({
                "podAnnotations": {"a": "b"},
                "cluster": {"nodes": [{"cpu": 1}]},
                "env": [null, {"name": "X"}],
            })
        );
    }

    /// `load` skips the schema check for the profiles themselves; this is what lets it.
    #[test]
    fn every_profile_matches_the_schema() {
        for p in PROFILES {
            let doc = yaml::parse(profile_yaml(p)).expect("profiles are YAML");
            let mut diags = Vec::new();
            shape::check(&doc.value, schema_ref(), &mut diags);
            let paths: Vec<String> = diags
                .iter()
                .map(|d| format!("{}: {}", d.path, d.message))
                .collect();
            assert!(paths.is_empty(), "{}: {paths:?}", p.as_str());
        }
    }
}
