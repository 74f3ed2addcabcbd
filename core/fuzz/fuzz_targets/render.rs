//! Everything a front end does with a `voice.yaml`: load, plan and render (the previewer's
//! calls), with `--set` assignments after NUL bytes as in the `config` target.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voice_core::Input;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split('\0');
    let yaml = parts.next().unwrap_or_default();
    let sets: Vec<String> = parts.map(str::to_string).collect();
    let stack = match voice_core::load(&Input {
        yaml,
        profile: None,
        sets: &sets,
        ..Default::default()
    }) {
        Ok(s) => s,
        Err(errs) => {
            assert!(!errs.0.is_empty());
            return;
        }
    };
    let (plan, objects) = voice_core::plan::plan_and_render(&stack);
    assert!(!objects.is_empty());
    let _ = voice_core::render::to_yaml(&objects);
    assert!(serde_json::to_string(&plan).is_ok());
});
