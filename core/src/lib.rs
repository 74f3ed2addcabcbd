//! voice-core: the sans-IO planner behind `kubectl voice`.
//!
//! Data in, data out: a `voice.yaml` text goes in; a validated [`config::Config`], the
//! component [`catalog`], [`sizing`], the namespace [`policy`], [`fit`], the rendered objects
//! ([`render`]) and the ordered [`plan`] come out. No I/O, no clock, no randomness, no async:
//! the CLI and the WASM page call exactly this code.

pub mod catalog;
pub mod config;
pub mod fit;
pub mod plan;
pub mod policy;
pub mod quantity;
pub mod readiness;
pub mod render;
pub mod selection;
pub mod sizing;
pub mod upgrade;

pub use catalog::Stack;
pub use config::{Diagnostic, Errors, Input, ProfileName};

/// Validates an input and builds its stack: the one entry point of every front end.
/// Every problem is reported, each with its field path and, when written in the file, its
/// line and column.
pub fn load(input: &Input<'_>) -> Result<Stack, Errors> {
    let (cfg, positions) = config::load(input)?;
    let stack = catalog::build(&cfg).map_err(|diags| config::finish(diags, &positions))?;
    let diags = policy::violations(&stack);
    if diags.is_empty() {
        Ok(stack)
    } else {
        Err(config::finish(diags, &positions))
    }
}
