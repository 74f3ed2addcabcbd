//! voice-core: the sans-IO planner behind `kubectl voice`.
//!
//! Data in, data out: a `voice.yaml` text goes in; a validated [`config::Config`], the
//! component [`catalog`], [`sizing`], [`fit`], the rendered objects ([`render`]) and the ordered
//! [`plan`] come out. No I/O, no clock, no randomness, no async: the CLI and the WASM page call
//! exactly this code.

pub mod catalog;
pub mod config;
pub mod quantity;
