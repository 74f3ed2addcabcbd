//! voice-wasm: thin wasm-bindgen adapter over voice-core for the in-browser previewer.
//!
//! No planning happens here. Every export parses nothing itself beyond handing the
//! `voice.yaml` text to [`voice_core::load`], then converts the core's results into plain
//! JavaScript values. Failures come back as data (`{ ok: false, errors: [...] }`) carrying
//! the core's diagnostics unchanged: field path, line, column and message.
//!
//! The `*_value` functions are the same conversions as `serde_json::Value`s, so they can be
//! tested natively (`cargo test -p voice-wasm`); the `#[wasm_bindgen]` exports only hand
//! those values over to JavaScript.

use serde::Serialize;
use serde_json::{Value, json};
use voice_core::config::{self, ProfileName};
use voice_core::render::{self, Object};
use voice_core::{Diagnostic, Errors, Input, Stack};
use wasm_bindgen::prelude::*;

/// One diagnostic as the page shows it; `line`/`column` are `null` when the field was not
/// written in the file (e.g. a value from the profile).
#[derive(Serialize)]
struct ErrorOut<'a> {
    path: &'a str,
    line: Option<usize>,
    column: Option<usize>,
    message: &'a str,
}

fn errors_value(errors: &[Diagnostic]) -> Value {
    let list: Vec<ErrorOut<'_>> = errors
        .iter()
        .map(|d| ErrorOut { path: &d.path, line: d.line, column: d.column, message: &d.message })
        .collect();
    json!({ "ok": false, "errors": list })
}

fn load(yaml: &str) -> Result<Stack, Errors> {
    voice_core::load(&Input { yaml, profile: None, sets: &[] })
}

/// One rendered object with its YAML document, for the manifest browser.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectOut<'a> {
    component: &'a str,
    api_version: &'a str,
    kind: &'a str,
    name: &'a str,
    namespace: Option<&'a str>,
    stage: render::Stage,
    yaml: String,
}

fn objects_value(objects: &[Object]) -> Value {
    let list: Vec<ObjectOut<'_>> = objects
        .iter()
        .map(|o| ObjectOut {
            component: &o.component,
            api_version: &o.api_version,
            kind: &o.kind,
            name: &o.name,
            namespace: o.namespace.as_deref(),
            stage: o.stage,
            yaml: render::to_yaml(std::slice::from_ref(o)),
        })
        .collect();
    serde_json::to_value(list).unwrap_or(Value::Null)
}

/// `{ ok, errors }`: every problem of the input, as `kubectl voice validate` reports them.
pub fn validate_value(yaml: &str) -> Value {
    match load(yaml) {
        Ok(_) => json!({ "ok": true, "errors": [] }),
        Err(e) => errors_value(&e.0),
    }
}

/// `{ ok: true, plan }` with the plan of `kubectl voice plan -o json`, or `{ ok: false, errors }`.
pub fn plan_value(yaml: &str) -> Value {
    match load(yaml) {
        Ok(stack) => json!({ "ok": true, "plan": voice_core::plan::plan(&stack) }),
        Err(e) => errors_value(&e.0),
    }
}

/// `{ ok: true, objects, yaml }`: every rendered object with its own YAML document, and the
/// whole multi-document stream of `kubectl voice render`.
pub fn render_value(yaml: &str) -> Value {
    match load(yaml) {
        Ok(stack) => {
            let objects = render::render(&stack);
            json!({ "ok": true, "objects": objects_value(&objects), "yaml": render::to_yaml(&objects) })
        }
        Err(e) => errors_value(&e.0),
    }
}

/// Plan and render from one load: what the page needs on every edit.
pub fn preview_value(yaml: &str) -> Value {
    match load(yaml) {
        Ok(stack) => {
            let plan = voice_core::plan::plan(&stack);
            let objects = render::render(&stack);
            json!({
                "ok": true,
                "plan": plan,
                "objects": objects_value(&objects),
                "yaml": render::to_yaml(&objects),
            })
        }
        Err(e) => errors_value(&e.0),
    }
}

/// `{ ok: true, files: [{ file, text }] }`: the per-component files of `render --out DIR`.
pub fn files_value(yaml: &str) -> Value {
    match load(yaml) {
        Ok(stack) => {
            let files: Vec<Value> = render::to_files(&render::render(&stack))
                .into_iter()
                .map(|(file, text)| json!({ "file": file, "text": text }))
                .collect();
            json!({ "ok": true, "files": files })
        }
        Err(e) => errors_value(&e.0),
    }
}

/// The file as written (`user`, a JSON value; `null` for an empty file) and the same file
/// layered over its profile (`effective`), for filling the form. Checks nothing: the form
/// shows what is written and `validate` says what is wrong with it.
pub fn normalize_value(yaml: &str) -> Value {
    let doc = match config::yaml::parse(yaml) {
        Ok(d) => d,
        Err(e) => {
            let d = [Diagnostic::at_value("", format!("invalid YAML: {}", e.message))];
            let mut v = errors_value(&d);
            v["errors"][0]["line"] = json!(e.pos.line);
            v["errors"][0]["column"] = json!(e.pos.column);
            return v;
        }
    };
    let user = doc.value;
    let profile = user
        .get("profile")
        .and_then(Value::as_str)
        .and_then(ProfileName::parse)
        .unwrap_or(config::DEFAULT_PROFILE);
    let mut effective = config::yaml::parse(config::profile_yaml(profile)).map(|d| d.value).unwrap_or(Value::Null);
    if user.is_object() {
        config::merge(&mut effective, user.clone());
    }
    effective["profile"] = json!(profile.as_str());
    json!({ "ok": true, "user": user, "effective": effective })
}

/// The JSON Schema of `voice.yaml`.
pub fn schema_value() -> Value {
    config::schema()
}

/// Every embedded profile: `[{ name, yaml }]`, in order, and the default's name.
pub fn profiles_value() -> Value {
    let list: Vec<Value> = config::PROFILES
        .iter()
        .map(|p| json!({ "name": p.as_str(), "yaml": config::profile_yaml(*p) }))
        .collect();
    json!({ "default": config::DEFAULT_PROFILE.as_str(), "profiles": list })
}

fn to_js(v: &Value) -> JsValue {
    // Maps as plain objects, integers as numbers: what JSON.parse would give.
    let ser = serde_wasm_bindgen::Serializer::json_compatible();
    v.serialize(&ser).unwrap_or(JsValue::NULL)
}

/// Checks a `voice.yaml`: `{ ok, errors: [{ path, line, column, message }] }`.
#[wasm_bindgen]
pub fn validate(yaml: &str) -> JsValue {
    to_js(&validate_value(yaml))
}

/// The plan of a `voice.yaml` (as `kubectl voice plan -o json`), or its errors.
#[wasm_bindgen]
pub fn plan(yaml: &str) -> JsValue {
    to_js(&plan_value(yaml))
}

/// The rendered objects of a `voice.yaml` and the full YAML stream, or its errors.
#[wasm_bindgen]
pub fn render(yaml: &str) -> JsValue {
    to_js(&render_value(yaml))
}

/// Plan and render in one call (one load of the input).
#[wasm_bindgen]
pub fn preview(yaml: &str) -> JsValue {
    to_js(&preview_value(yaml))
}

/// Per-component files for a zip download, or the errors.
#[wasm_bindgen]
pub fn files(yaml: &str) -> JsValue {
    to_js(&files_value(yaml))
}

/// The file as written and layered over its profile, for the form.
#[wasm_bindgen]
pub fn normalize(yaml: &str) -> JsValue {
    to_js(&normalize_value(yaml))
}

/// The JSON Schema of `voice.yaml`.
#[wasm_bindgen]
pub fn schema() -> JsValue {
    to_js(&schema_value())
}

/// The embedded profiles with their YAML text.
#[wasm_bindgen]
pub fn profiles() -> JsValue {
    to_js(&profiles_value())
}

/// The voice-core version the page was built from.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
