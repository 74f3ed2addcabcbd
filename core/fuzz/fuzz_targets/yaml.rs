//! The YAML reader with positions: any text is read or refused (syntax error or input limit)
//! with a position, within the limits, without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voice_core::config::{LIMITS, yaml};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match yaml::parse(text) {
        Ok(doc) => {
            for (path, _) in &doc.duplicates {
                assert!(doc.positions.key(path).is_some(), "{path}");
            }
        }
        Err(e) => {
            assert!(e.pos.line >= 1 && e.pos.column >= 1, "{e:?}");
            let d = e.diagnostic();
            assert!(!d.message.is_empty());
            if let Some(limit) = e.limit {
                assert!(d.message.contains(limit.name()), "{d:?}");
            }
        }
    }
    if let Err(d) = yaml::parse_bounded_strings(text) {
        assert!(d.line.is_some(), "{d:?}");
    }
    assert!(text.len() <= LIMITS.bytes || yaml::parse_bounded(text).is_err());
});
