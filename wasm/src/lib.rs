//! voice-wasm: thin wasm-bindgen adapter over voice-core for the in-browser previewer.
//!
//! No planning happens here. Every export parses nothing itself beyond handing the
//! `voice.yaml` text to [`voice_core::load`], then converts the core's results into plain
//! JavaScript values. Failures come back as data (`{ ok: false, errors: [...] }`) carrying
//! the core's diagnostics unchanged: field path, line, column and message.
//!
//! The exports are exactly what `docs/previewer/app.js` calls: every other export would be
//! code and data each reader downloads for nothing (the CLI has `validate`, `plan`, `render`
//! and `schema`). The `*_json` functions are the same conversions as JSON text, so they can
//! be tested natively (`cargo test -p voice-wasm`); the `#[wasm_bindgen]` exports hand that
//! text to JavaScript with one `JSON.parse`.

use std::any::Any;
use std::cell::RefCell;

use serde::Serialize;
use serde_json::{Value, json};
use voice_core::catalog::SecretSpec;
use voice_core::config;
use voice_core::fit::FitReport;
use voice_core::plan::{Plan, Wave};
use voice_core::render::{self, Object};
use voice_core::sizing::Sizing;
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

#[derive(Serialize)]
struct Failure<'a> {
    ok: bool,
    errors: Vec<ErrorOut<'a>>,
}

fn failure(errors: &[Diagnostic]) -> String {
    let errors = errors
        .iter()
        .map(|d| ErrorOut {
            path: &d.path,
            line: d.line,
            column: d.column,
            message: &d.message,
        })
        .collect();
    to_json(&Failure { ok: false, errors })
}

fn to_json<T: Serialize>(v: &T) -> String {
    // Every value here is plain data with string keys: serialization cannot fail.
    serde_json::to_string(v).unwrap_or_else(|e| format!(r#"{{"ok":false,"errors":[{{"path":"","line":null,"column":null,"message":"internal: {e}"}}]}}"#))
}

fn load(yaml: &str) -> Result<Stack, Errors> {
    voice_core::load(&Input {
        yaml,
        profile: None,
        ..Default::default()
    })
}

/// An object without its document, for lists: the document is fetched on demand.
#[derive(Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct ObjectHead<'a> {
    component: &'a str,
    api_version: &'a str,
    kind: &'a str,
    name: &'a str,
    namespace: Option<&'a str>,
    stage: render::Stage,
}

impl<'a> ObjectHead<'a> {
    fn of(o: &'a Object) -> ObjectHead<'a> {
        ObjectHead {
            component: &o.component,
            api_version: &o.api_version,
            kind: &o.kind,
            name: &o.name,
            namespace: o.namespace.as_deref(),
            stage: o.stage,
        }
    }
}

/// The parts of a [`Plan`] the page draws, as `kubectl voice plan -o json` names them. Left
/// out: the availability rows, the notes, the capacity (always the file's nodes here) and the
/// selection (always everything). `sizing`, `fit`, `waves` and `secrets` are also left out
/// when they equal the last successful preview's: most edits change a few numbers, and the
/// text not written is text the page does not parse.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Shown<'a> {
    profile: &'a str,
    instance: &'a str,
    posthog: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    posthog_release: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sizing: Option<&'a Sizing>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fit: Option<&'a FitReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    waves: Option<&'a [Wave]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secrets: Option<&'a [SecretSpec]>,
}

impl<'a> Shown<'a> {
    /// The parts of `plan` to send, given the last successful preview's plan.
    fn of(plan: &'a Plan, last: Option<&Plan>) -> Shown<'a> {
        fn changed<'a, T: PartialEq + ?Sized>(now: &'a T, then: Option<&T>) -> Option<&'a T> {
            (then != Some(now)).then_some(now)
        }
        Shown {
            profile: plan.profile,
            instance: &plan.instance,
            posthog: plan.posthog,
            posthog_release: plan.posthog_release.as_deref(),
            sizing: changed(&plan.sizing, last.map(|l| &l.sizing)),
            fit: changed(&plan.fit, last.map(|l| &l.fit)),
            waves: changed(&plan.waves[..], last.map(|l| &l.waves[..])),
            secrets: changed(&plan.secrets[..], last.map(|l| &l.secrets[..])),
        }
    }
}

/// The last successful preview.
#[derive(Default)]
struct Last {
    /// Its objects, whose documents are emitted on demand: emitting every document on each
    /// edit would cost more than planning.
    objects: Vec<Object>,
    /// Its plan, to leave out the parts the next preview shares with it.
    plan: Option<Plan>,
}

thread_local! {
    static LAST: RefCell<Last> = RefCell::new(Last::default());

    /// What the last `preview` is done with (the objects and plan it replaced, its stack),
    /// freed by [`release`] once the page is idle instead of inside the edit: dropping tens of
    /// thousands of allocations costs about a fifth of a preview. A `preview` frees what is
    /// still here first, so at most one edit's worth waits.
    static SPENT: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Frees what the last [`preview_json`] left to be freed later.
pub fn release_spent() {
    let spent = SPENT.with(|s| std::mem::take(&mut *s.borrow_mut()));
    drop(spent);
}

/// `{ ok: true, plan, objects }` from one load, where `objects` lists each rendered object
/// without its document; [`object_yaml`] and [`stream`] emit the documents of these objects.
/// `objects` and the plan's `sizing`, `fit`, `waves` and `secrets` are absent when they equal
/// the last successful preview's (the caller keeps those). A failing input leaves the
/// previous preview in place.
pub fn preview_json(yaml: &str) -> String {
    release_spent();
    #[derive(Serialize)]
    struct Out<'a> {
        ok: bool,
        plan: Shown<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        objects: Option<Vec<ObjectHead<'a>>>,
    }
    let stack = match load(yaml) {
        Ok(stack) => stack,
        Err(e) => return failure(&e.0),
    };
    let (plan, objects) = voice_core::plan::plan_and_render(&stack);
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        let heads: Vec<ObjectHead> = objects.iter().map(ObjectHead::of).collect();
        let same = last.plan.is_some()
            && heads.len() == last.objects.len()
            && heads
                .iter()
                .zip(&last.objects)
                .all(|(h, o)| *h == ObjectHead::of(o));
        let out = to_json(&Out {
            ok: true,
            plan: Shown::of(&plan, last.plan.as_ref()),
            objects: (!same).then_some(heads),
        });
        let objects = std::mem::replace(&mut last.objects, objects);
        let plan = last.plan.replace(plan);
        SPENT.with(|s| {
            s.borrow_mut().extend([
                Box::new(objects) as Box<dyn Any>,
                Box::new(plan),
                Box::new(stack),
            ])
        });
        out
    })
}

/// The document of the `index`th object of the last successful preview (`""` past the end).
pub fn object_yaml_str(index: usize) -> String {
    LAST.with(|last| {
        last.borrow()
            .objects
            .get(index)
            .map(|o| render::to_yaml(std::slice::from_ref(o)))
            .unwrap_or_default()
    })
}

/// Every document of the last successful preview, in order.
pub fn object_yamls_vec() -> Vec<String> {
    LAST.with(|last| {
        last.borrow()
            .objects
            .iter()
            .map(|o| render::to_yaml(std::slice::from_ref(o)))
            .collect()
    })
}

/// The `kubectl voice render` stream of the last successful preview.
pub fn stream_str() -> String {
    LAST.with(|last| render::to_yaml(&last.borrow().objects))
}

/// `{ ok: true, files: [{ file, text }] }`: the per-component files of `render --out DIR`.
pub fn files_json(yaml: &str) -> String {
    #[derive(Serialize)]
    struct File {
        file: String,
        text: String,
    }
    #[derive(Serialize)]
    struct Out {
        ok: bool,
        files: Vec<File>,
    }
    match load(yaml) {
        Ok(stack) => {
            let files = render::to_files(&render::render(&stack))
                .into_iter()
                .map(|(file, text)| File { file, text })
                .collect();
            to_json(&Out { ok: true, files })
        }
        Err(e) => failure(&e.0),
    }
}

/// The file as written (`user`, a JSON value; `null` for an empty file) and the same file
/// layered over its profile (`effective`), for filling the form. Checks nothing: the form
/// shows what is written and `validate` says what is wrong with it.
pub fn normalize_json(yaml: &str) -> String {
    let doc = match config::yaml::parse(yaml) {
        Ok(d) => d,
        Err(e) => return failure(&[e.diagnostic()]),
    };
    let user = doc.value;
    let effective = config::layered(&user);
    to_json(&json!({ "ok": true, "user": user, "effective": effective }))
}

/// Every embedded profile: `{ default, profiles: [{ name, yaml }] }`, in order.
pub fn profiles_json() -> String {
    let list: Vec<Value> = config::PROFILES
        .iter()
        .map(|p| json!({ "name": p.as_str(), "yaml": config::profile_yaml(*p) }))
        .collect();
    to_json(&json!({ "default": config::DEFAULT_PROFILE.as_str(), "profiles": list }))
}

/// Hands a JSON text to JavaScript as a value: one `JSON.parse`, far cheaper than building
/// the objects property by property across the boundary.
fn to_js(json: &str) -> JsValue {
    js_sys::JSON::parse(json).unwrap_or(JsValue::NULL)
}

/// Plan and the list of rendered objects in one call (one load of the input), or the errors;
/// the parts equal to the last successful preview's are absent ([`preview_json`]).
#[wasm_bindgen]
pub fn preview(yaml: &str) -> JsValue {
    to_js(&preview_json(yaml))
}

/// Frees what the last `preview` is done with; the page calls it when idle after an edit.
#[wasm_bindgen]
pub fn release() {
    release_spent()
}

/// The YAML document of one object of the last successful `preview`, by index.
#[wasm_bindgen]
pub fn object_yaml(index: usize) -> String {
    object_yaml_str(index)
}

/// Every YAML document of the last successful `preview`, in order (for searching).
#[wasm_bindgen]
pub fn object_yamls() -> Vec<String> {
    object_yamls_vec()
}

/// The whole multi-document YAML of the last successful `preview`, as `kubectl voice render`.
#[wasm_bindgen]
pub fn stream() -> String {
    stream_str()
}

/// Per-component files for a zip download, or the errors.
#[wasm_bindgen]
pub fn files(yaml: &str) -> JsValue {
    to_js(&files_json(yaml))
}

/// The file as written and layered over its profile, for the form.
#[wasm_bindgen]
pub fn normalize(yaml: &str) -> JsValue {
    to_js(&normalize_json(yaml))
}

/// The embedded profiles with their YAML text.
#[wasm_bindgen]
pub fn profiles() -> JsValue {
    to_js(&profiles_json())
}

/// The voice-core version the page was built from.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
