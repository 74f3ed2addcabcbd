//! voice-core: the sans-IO planner behind `kubectl voice`.
//!
//! Data in, data out: a `voice.yaml` text goes in; a validated [`config::Config`], the
//! component [`catalog`], [`sizing`], the namespace [`policy`], [`fit`], the rendered objects
//! ([`render`]) and the ordered [`plan`] come out. No I/O, no clock, no randomness, no async:
//! the CLI and the WASM page call exactly this code.

pub mod availability;
pub mod catalog;
pub mod config;
pub mod dashboards;
pub mod disruption;
pub mod fit;
pub mod gitops;
pub mod plan;
pub mod policy;
pub mod quantity;
pub mod readiness;
pub mod render;
pub mod sizing;
pub mod upgrade;

pub use catalog::Stack;
pub use config::yaml::Positions;
pub use config::{Change, Config, Diagnostic, Errors, Input, Loaded, ProfileName, Selection};

/// Validates an input and builds its stack: the one entry point of every front end.
/// Every problem is reported, each with its field path and, when written in the file, its
/// line and column.
pub fn load(input: &Input<'_>) -> Result<Stack, Errors> {
    let (cfg, positions) = config::load(input).map_err(|e| with_unknown_components(input, e))?;
    build(&cfg, &input.selection, &positions)
}

/// A rejected input's problems with its unknown `components.<name>` among them: the catalog
/// finds those only once the rest is right, so a user would otherwise fix everything else
/// first and meet them last.
pub fn with_unknown_components(input: &Input<'_>, errors: Errors) -> Errors {
    // Within the diagnostics limit.
    let room = config::LIMITS.diagnostics.saturating_sub(errors.0.len());
    if room == 0 {
        return errors;
    }
    let Some(doc) = config::effective(input) else {
        return errors;
    };
    let unknown: Vec<Diagnostic> = doc
        .get("components")
        .and_then(serde_json::Value::as_object)
        .into_iter()
        .flat_map(|m| m.keys())
        .filter_map(|name| catalog::unknown_component(name))
        .filter(|d| !errors.0.iter().any(|e| e.path == d.path))
        .take(room)
        .collect();
    if unknown.is_empty() {
        return errors;
    }
    let positions = config::yaml::parse(input.yaml)
        .map(|d| d.positions)
        .unwrap_or_default();
    config::finish(errors.0.into_iter().chain(unknown).collect(), &positions)
}

/// Builds the stack of a checked configuration: the catalog with its overrides, the pod
/// count limit and the namespace policy, each problem placed by `positions` (those of the
/// text the configuration was read from). What [`load`] does after reading; a caller that
/// changes typed values of a loaded [`Config`] (`scale`, `switch`) builds again with this,
/// without reading any text again.
pub fn build(cfg: &Config, selection: &Selection, positions: &Positions) -> Result<Stack, Errors> {
    let changed = cfg.changed_problems();
    if !changed.is_empty() {
        return Err(config::finish(changed, positions));
    }
    let mut stack = catalog::build(cfg).map_err(|diags| config::finish(diags, positions))?;
    if let Some(d) = too_many_pods(&stack) {
        return Err(config::finish(vec![d], positions));
    }
    let diags = policy::violations(&stack);
    if !diags.is_empty() {
        return Err(config::finish(diags, positions));
    }
    stack.selection = selection.clone();
    Ok(stack)
}

/// The stack's pods at every maximum over [`config::LIMITS`]`.pods`, naming the component
/// with the most (before sizing and policy add them up).
fn too_many_pods(stack: &Stack) -> Option<Diagnostic> {
    let count = |c: &catalog::Component| u64::from(c.max_replicas()) * 2;
    let total: u64 = stack.components.iter().map(count).sum();
    let limit = config::LIMITS.pods;
    if total <= limit {
        return None;
    }
    let top = stack.components.iter().max_by_key(|c| count(c))?;
    let field = if top.autoscale.is_some() {
        "maxReplicas"
    } else {
        "replicas"
    };
    Some(Diagnostic::at_value(
        &format!("components.{}.{field}", top.name),
        format!(
            "{} runs up to {} pods; the stack's pods at their maximum (doubled for blue-green \
             standby) exceed the pod count limit of {limit}",
            top.name,
            top.max_replicas()
        ),
    ))
}
