//! `kubectl voice schema`: the JSON Schema of voice.yaml.

use crate::args::Output;
use crate::error::exit;
use crate::output::print;

/// Prints the schema.
pub(crate) fn run() -> anyhow::Result<u8> {
    print(Output::Json, &voice_core::config::schema())?;
    Ok(exit::OK)
}
