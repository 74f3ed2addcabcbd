//! The conversions, natively: what the page receives is the core's output unchanged.
#![cfg(not(target_arch = "wasm32"))]

use serde_json::Value;
use voice_core::{Input, render};
use voice_wasm::*;

fn v(json: String) -> Value {
    serde_json::from_str(&json).expect("JSON")
}

fn stack(yaml: &str) -> voice_core::Stack {
    voice_core::load(&Input {
        yaml,
        profile: None,
        ..Default::default()
    })
    .expect("valid")
}

/// The core plan's JSON without the parts the page does not draw ([`preview_json`]'s `plan`).
fn shown(plan: &voice_core::plan::Plan) -> Value {
    let mut want = serde_json::to_value(plan).unwrap();
    let map = want.as_object_mut().unwrap();
    for key in ["availability", "notes", "capacity", "selection"] {
        map.remove(key);
    }
    want
}

/// `preview_json(yaml)` with the parts it left out taken from `last`, as the page does.
fn merged(yaml: &str, last: &Value) -> Value {
    let mut got = v(preview_json(yaml));
    for part in ["sizing", "fit", "waves", "secrets"] {
        if got["plan"].get(part).is_none() {
            got["plan"][part] = last["plan"][part].clone();
        }
    }
    if got.get("objects").is_none() {
        got["objects"] = last["objects"].clone();
    }
    got
}

#[test]
fn preview_is_the_core_plan_as_the_page_draws_it() {
    let mut last = Value::Null;
    for p in ["dev", "small", "production", "production", "dev"] {
        let yaml = format!("profile: {p}\n");
        let plan = voice_core::plan::plan(&stack(&yaml));
        assert!(!plan.availability.is_empty(), "{p}: a part left out");
        last = merged(&yaml, &last);
        assert_eq!(last["plan"], shown(&plan), "{p}");
        let objects = render::render(&stack(&yaml));
        let heads = last["objects"].as_array().unwrap();
        assert_eq!(heads.len(), objects.len(), "{p}");
        for (h, o) in heads.iter().zip(&objects) {
            assert_eq!(h["kind"], o.kind.as_str());
            assert_eq!(h["name"], o.name.as_str());
            assert_eq!(h["namespace"].as_str(), o.namespace.as_deref());
        }
    }
}

#[test]
fn preview_leaves_out_what_the_last_one_had() {
    let yaml = "profile: production\n";
    let first = v(preview_json(yaml));
    assert!(first["objects"].is_array() && first["plan"]["waves"].is_array());
    let again = v(preview_json(yaml));
    assert_eq!(again["ok"], true);
    assert_eq!(again["plan"]["profile"], "production");
    for part in ["sizing", "fit", "waves", "secrets"] {
        assert!(again["plan"].get(part).is_none(), "{part} sent again");
    }
    assert!(again.get("objects").is_none(), "objects sent again");
    // More autoscaling changes sizing (and so the fit), not the objects or their waves.
    let more = v(preview_json(
        "profile: production\nmodelRouter:\n  hpa:\n    maxReplicas: 17\n",
    ));
    assert!(more["plan"]["sizing"].is_object());
    assert!(more.get("objects").is_none());
    assert!(more["plan"].get("waves").is_none());
    // A failure changes nothing: the next preview is measured against the last good one.
    assert_eq!(v(preview_json("profile: [\n"))["ok"], false);
    let back = v(preview_json(yaml));
    assert!(back["plan"]["sizing"].is_object());
    assert!(back.get("objects").is_none());
}

#[test]
fn files_are_the_core_files() {
    let yaml = "profile: production\n";
    let objects = render::render(&stack(yaml));
    let files = v(files_json(yaml));
    let want: Vec<Value> = render::to_files(&objects)
        .into_iter()
        .map(|(f, t)| serde_json::json!({ "file": f, "text": t }))
        .collect();
    assert_eq!(files["files"], Value::Array(want));
}

#[test]
fn errors_are_the_core_diagnostics() {
    let yaml = "profile: production\nmodelRouter:\n  hpa:\n    maxReplicas: 1\n";
    let want = voice_core::load(&Input {
        yaml,
        profile: None,
        ..Default::default()
    })
    .expect_err("invalid");
    for got in [v(preview_json(yaml)), v(files_json(yaml))] {
        assert_eq!(got["ok"], false);
        let errs = got["errors"].as_array().unwrap();
        assert_eq!(errs.len(), want.0.len());
        for (e, d) in errs.iter().zip(&want.0) {
            assert_eq!(e["path"], d.path.as_str());
            assert_eq!(e["message"], d.message.as_str());
            assert_eq!(e["line"].as_u64().map(|l| l as usize), d.line);
            assert_eq!(e["column"].as_u64().map(|c| c as usize), d.column);
        }
    }
    assert_eq!(
        v(preview_json(yaml))["errors"][0]["path"],
        "modelRouter.hpa.maxReplicas"
    );
    let syntax = v(preview_json("profile: [\n"));
    assert_eq!(syntax["ok"], false);
    assert!(syntax["errors"][0]["line"].is_number());
}

#[test]
fn normalize_layers_the_file_over_its_profile() {
    let got = v(normalize_json(
        "profile: production\nmodelRouter:\n  hpa:\n    maxReplicas: 12\n",
    ));
    assert_eq!(got["user"]["modelRouter"]["hpa"]["maxReplicas"], 12);
    assert_eq!(got["effective"]["modelRouter"]["hpa"]["maxReplicas"], 12);
    assert_eq!(got["effective"]["modelRouter"]["hpa"]["minReplicas"], 3);
    assert_eq!(got["effective"]["profile"], "production");
    assert_eq!(
        v(normalize_json(""))["effective"]["profile"],
        voice_core::config::DEFAULT_PROFILE.as_str()
    );
    assert_eq!(v(normalize_json("a: ["))["ok"], false);
}

#[test]
fn profiles_are_embedded() {
    let p = v(profiles_json());
    let names: Vec<&str> = p["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dev", "small", "production"]);
}

#[test]
fn preview_keeps_the_objects_for_their_documents() {
    let yaml = "profile: production\n";
    let objects = render::render(&stack(yaml));
    let got = v(preview_json(yaml));
    let heads = got["objects"].as_array().unwrap();
    assert_eq!(heads.len(), objects.len());
    assert!(heads[0].get("yaml").is_none());
    let whole = render::to_yaml(&objects);
    // Freeing what the edit is done with keeps the objects of the last preview.
    release_spent();
    assert_eq!(stream_str(), whole);
    assert_eq!(object_yamls_vec().concat(), whole);
    assert_eq!(object_yaml_str(1), render::to_yaml(&objects[1..2]));
    assert_eq!(object_yaml_str(objects.len()), "");
    // A failing input keeps the last good objects.
    assert_eq!(
        v(preview_json("modelRouter:\n  hpa:\n    maxReplicas: 0\n"))["ok"],
        false
    );
    assert_eq!(stream_str(), whole);
}

#[test]
fn an_external_store_is_checked_and_planned_as_in_the_cli() {
    let bad = "profile: production\ncomponents:\n  posthog-postgres:\n    external:\n      host: db.example.internal\n      secretRef: {name: pg}\n";
    let got = v(preview_json(bad));
    assert_eq!(got["ok"], false);
    assert_eq!(
        got["errors"][0]["path"],
        "components.posthog-postgres.external.secretRef.keys"
    );
    let good = "profile: production\ncomponents:\n  posthog-postgres:\n    external:\n      host: db.example.internal\n      secretRef: {name: pg, keys: {password: pw}}\n";
    let plan = merged(good, &Value::Null);
    assert_eq!(plan["plan"], shown(&voice_core::plan::plan(&stack(good))));
    // The previewer's plan is the smaller one: no PostgreSQL of PostHog's to run.
    assert!(!plan["plan"].to_string().contains("\"posthog-postgres\""));
    assert!(
        merged("profile: production\n", &plan)["plan"]
            .to_string()
            .contains("\"posthog-postgres\"")
    );
}
