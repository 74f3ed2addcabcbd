//! The exported API in a WASM engine (Node by default):
//! `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner cargo test -p voice-wasm --target wasm32-unknown-unknown`.
#![cfg(target_arch = "wasm32")]

use serde_json::Value;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

fn json(v: JsValue) -> Value {
    serde_wasm_bindgen::from_value(v).expect("a JSON-compatible value")
}

#[wasm_bindgen_test]
fn preview_sends_what_changed() {
    let first = json(voice_wasm::preview("profile: dev\n"));
    assert_eq!(first["ok"], true);
    let got = json(voice_wasm::preview("profile: production\n"));
    assert_eq!(got["plan"]["profile"], "production");
    assert!(got["plan"]["waves"].is_array() && got["objects"].is_array());
    let again = json(voice_wasm::preview("profile: production\n"));
    assert_eq!(
        again,
        serde_json::json!({
            "ok": true,
            "plan": {
                "profile": "production",
                "instance": got["plan"]["instance"],
                "posthog": got["plan"]["posthog"],
                "posthogRelease": got["plan"]["posthogRelease"],
            },
        })
    );
}

#[wasm_bindgen_test]
fn errors_carry_field_paths_and_positions() {
    let got = json(voice_wasm::preview(
        "profile: production\nmodelRouter:\n  hpa:\n    maxReplicas: 1\n",
    ));
    assert_eq!(got["ok"], false);
    let e = &got["errors"][0];
    assert_eq!(e["path"], "modelRouter.hpa.maxReplicas");
    assert_eq!(e["line"], 4);
    assert!(e["column"].is_number());
}

#[wasm_bindgen_test]
fn placement_is_checked_as_in_the_cli() {
    let got = json(voice_wasm::preview(
        "placement:\n  tolerations:\n    - key: dedicated\n      operator: Exists\n      value: gpu\n",
    ));
    assert_eq!(got["ok"], false);
    let e = &got["errors"][0];
    assert_eq!(e["path"], "placement.tolerations[0].value");
    assert_eq!(e["line"], 5);
}

#[wasm_bindgen_test]
fn identity_and_metadata_are_checked_as_in_the_cli() {
    let got = json(voice_wasm::preview(
        "env:\n  - name: TOKEN\n    secretKeyRef: {name: extra}\npodLabels:\n  app.kubernetes.io/name: mine\n",
    ));
    assert_eq!(got["ok"], false);
    let paths: Vec<(&str, u64)> = got["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap_or(""),
                e["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        paths,
        [
            ("env[0].secretKeyRef", 3),
            ("podLabels.app.kubernetes.io/name", 5)
        ]
    );
    // A variable the catalog sets is refused there too.
    let got = json(voice_wasm::preview(
        "env:\n  - {name: POSTHOG_DB_NAME, value: other}\n",
    ));
    assert_eq!(got["errors"][0]["path"], "env[0].name");
}

#[wasm_bindgen_test]
fn documents_make_the_stream() {
    json(voice_wasm::preview("profile: small\n"));
    let documents = voice_wasm::object_yamls();
    assert!(documents.len() > 10);
    assert_eq!(documents.concat(), voice_wasm::stream());
    assert_eq!(voice_wasm::object_yaml(1), documents[1]);
}

#[wasm_bindgen_test]
fn profiles_are_embedded() {
    let p = json(voice_wasm::profiles());
    assert_eq!(p["profiles"].as_array().map(Vec::len), Some(3));
}
