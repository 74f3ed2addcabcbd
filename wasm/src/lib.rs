//! voice-wasm: thin wasm-bindgen adapter over voice-core.
