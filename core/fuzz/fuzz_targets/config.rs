//! The layered configuration: `voice.yaml` over its profile with `--set` assignments. The
//! input is the file, then `--set` assignments, each after a NUL byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voice_core::Input;
use voice_core::config::LIMITS;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split('\0');
    let yaml = parts.next().unwrap_or_default();
    let sets: Vec<String> = parts.map(str::to_string).collect();
    let input = Input {
        yaml,
        profile: None,
        sets: &sets,
        ..Default::default()
    };
    if let Err(errs) = voice_core::config::load(&input) {
        assert!(!errs.0.is_empty());
        assert!(errs.0.len() <= LIMITS.diagnostics + 1, "{}", errs.0.len());
        let _ = errs.to_string();
    }
});
