//! History, rollback, scale and restart, end to end on a real control plane. Run with
//! `--nocapture` for the upgrade and rollback figures.

mod common;

use std::time::Instant;

use common::{Release, SERIAL, text};

fn ok(r: &Release, cmd: &str, extra: &[&str]) -> String {
    let o = r.run(cmd, extra);
    assert!(o.status.success(), "{cmd} {extra:?}: {}", text(&o));
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn history(r: &Release) -> Vec<serde_json::Value> {
    let o = r.run("history", &["-o", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).expect("history -o json is JSON")
}

/// `kind/namespace/name resourceVersion` of the release's claims and Secrets.
fn data_versions(r: &Release) -> Vec<String> {
    let out = r.kubectl(&[
        "get",
        "pvc,secrets",
        "-A",
        "-o",
        "jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name} {.metadata.uid} {.metadata.resourceVersion}{\"\\n\"}{end}",
    ]);
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| l.contains(&format!("/{}-", r.name)))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn rollback_restores_the_earlier_objects_and_keeps_the_data() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Release::new("hist-a");
    let a: [&str; 0] = [];
    let b = [
        "--set",
        "components.model-router.image=ghcr.io/voice-platform/model-router:1.4.3",
    ];
    ok(&r, "install", &a);
    // Runs that change nothing record nothing, whatever part they select.
    for part in [["--only", "posthog"], ["--skip", "infra"]] {
        ok(&r, "install", &part);
    }
    assert_eq!(
        history(&r).len(),
        1,
        "a run that changed nothing was recorded"
    );
    let data = data_versions(&r);
    let image = || {
        r.field(
            "app",
            "deployment",
            "model-router",
            "{.spec.template.spec.containers[0].image}",
        )
    };
    let before = image();

    let t = Instant::now();
    let out = ok(&r, "install", &b);
    let upgrade = t.elapsed().as_secs_f64();
    assert_eq!(image(), "ghcr.io/voice-platform/model-router:1.4.3");
    eprintln!(
        "upgrade (one image): {upgrade:.2} s; {}",
        out.lines().last().unwrap_or_default()
    );

    let t = Instant::now();
    let out = ok(&r, "rollback", &[]);
    let rollback = t.elapsed().as_secs_f64();
    eprintln!(
        "rollback: {rollback:.2} s; {}",
        out.lines().last().unwrap_or_default()
    );
    assert_eq!(image(), before);
    // A's objects exactly: diff against A's configuration finds nothing.
    let d = r.run("diff", &a);
    assert_eq!(d.status.code(), Some(0), "{}", text(&d));
    // Claims and Secrets were not touched at all.
    assert_eq!(data, data_versions(&r));

    let h = history(&r);
    let rows: Vec<(u64, &str, &str)> = h
        .iter()
        .map(|x| {
            (
                x["revision"].as_u64().unwrap_or_default(),
                x["status"].as_str().unwrap_or_default(),
                x["description"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (1, "superseded", "install"),
            (
                2,
                "superseded",
                "install: components.model-router.image (unset) → ghcr.io/voice-platform/model-router:1.4.3"
            ),
            (3, "deployed", "rollback to 1"),
        ]
    );
    // Never a secret value in a revision.
    let cms = r.kubectl(&[
        "get",
        "configmaps",
        "-n",
        &format!("{}-app", r.name),
        "-l",
        "kubectl-voice.io/revision-of",
        "-o",
        "json",
    ]);
    for s in r
        .kubectl(&[
            "get",
            "secrets",
            "-A",
            "-o",
            "jsonpath={range .items[*]}{.data}{\"\\n\"}{end}",
        ])
        .lines()
    {
        let m: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(s).unwrap_or_default();
        for v in m.values().filter_map(|v| v.as_str()) {
            assert!(!cms.contains(v), "a secret value is in the history");
        }
    }
    r.purge();
}

#[test]
fn a_rollback_across_an_immutable_change_is_refused_before_any_write() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Release::new("hist-b");
    ok(&r, "install", &[]);
    // Larger claims than the first revision's: going back cannot shrink claim templates.
    ok(
        &r,
        "install",
        &[
            "--set",
            "components.postgres.storage=5Gi",
            "--recreate-statefulsets",
            "--yes",
        ],
    );
    let versions = r.resource_versions();
    let o = r.run("rollback", &["1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("StatefulSet/{}-infra/postgres", r.name))
            && err.contains("--recreate-statefulsets")
            && err.contains("nothing was applied"),
        "{err}"
    );
    assert_eq!(
        versions,
        r.resource_versions(),
        "a refused rollback wrote something"
    );
    assert_eq!(history(&r).len(), 2, "a refused rollback was recorded");
    r.purge();
}

#[test]
fn scale_is_kept_until_a_configuration_says_otherwise() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Release::new("hist-c");
    ok(&r, "install", &[]);
    let replicas = || r.field("app", "deployment", "model-router", "{.spec.replicas}");
    ok(&r, "scale", &["model-router", "--replicas", "3"]);
    assert_eq!(replicas(), "3");
    // It wrote the scaled component's part alone, whatever an earlier run selected.
    let newest = history(&r).pop().unwrap();
    assert_eq!(
        newest["selection"]["only"],
        serde_json::json!(["model-router"]),
        "{newest}"
    );
    // A Job runs to completion: nothing to scale, nothing recorded.
    let count = history(&r).len();
    let o = r.run("scale", &["posthog-postgres-init", "--replicas", "2"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("is a Job"), "{}", text(&o));
    assert_eq!(history(&r).len(), count);
    // An autoscaler's bounds are not set with --replicas.
    let o = r.run("scale", &["model-router", "--min", "2"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("has no autoscaler"),
        "{}",
        text(&o)
    );

    // The old file would undo it: said, with the field to write, and nothing applied.
    let o = r.run("install", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("components.model-router.replicas")
            && err.contains("kubectl voice scale")
            && err.contains("set it to 3"),
        "{err}"
    );
    assert_eq!(replicas(), "3");
    // A file that agrees keeps it, without a word.
    let out = ok(
        &r,
        "install",
        &["--set", "components.model-router.replicas=3"],
    );
    assert!(!out.contains("kubectl voice scale"), "{out}");
    assert_eq!(replicas(), "3");
    // Confirmed, the file wins.
    ok(&r, "install", &["--yes"]);
    assert_eq!(replicas(), "1");
    r.purge();
}

#[test]
fn a_restart_rolls_once_and_a_later_install_keeps_its_stamp() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Release::new("hist-d");
    let installed = ok(&r, "install", &[]);
    // `wave N/M stateful`, as install numbers it.
    let stateful = installed
        .split("wave ")
        .find(|w| w.contains(" stateful"))
        .and_then(|w| w.split(' ').next())
        .map(|n| format!("wave {n} stateful"))
        .expect("install names its stateful wave");
    let generation = || {
        r.field(
            "app",
            "deployment",
            "model-router",
            "{.metadata.generation}",
        )
    };
    let stamp = || {
        r.field(
            "app",
            "deployment",
            "model-router",
            "{.spec.template.metadata.annotations.kubectl-voice\\.io/restartedAt}",
        )
    };
    let g0 = generation();
    let out = ok(&r, "restart", &["model-router"]);
    assert!(out.contains("restart complete: 1 workload(s)"), "{out}");
    let g1 = generation();
    assert_ne!(g0, g1);
    assert!(!stamp().is_empty());
    let out = ok(&r, "install", &[]);
    assert!(out.contains("0 configured"), "{out}");
    assert_eq!(generation(), g1, "install rolled the pods again");
    assert!(!stamp().is_empty(), "install stripped the restart stamp");
    let o = r.run("restart", &["no-such-service"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // A StatefulSet's restart waits for its new pod as a Deployment's does: with every node
    // cordoned, redis-0 stays Pending and the restart times out naming it (exit 1).
    struct Uncordon<'a>(&'a Release, Vec<String>);
    impl Drop for Uncordon<'_> {
        fn drop(&mut self) {
            for n in &self.1 {
                self.0.kubectl(&["uncordon", n]);
            }
        }
    }
    let nodes: Vec<String> = r
        .kubectl(&["get", "nodes", "-o", "name"])
        .lines()
        .map(str::to_string)
        .collect();
    let uncordon = Uncordon(&r, nodes.clone());
    for n in &nodes {
        r.kubectl(&["cordon", n]);
    }
    let o = r.run("restart", &["redis", "--timeout", "15s"]);
    drop(uncordon);
    let said = text(&o);
    assert_eq!(o.status.code(), Some(1), "{said}");
    assert!(
        said.contains("redis-0") && said.contains("unschedulable"),
        "{said}"
    );
    assert!(!said.contains("restart complete"), "{said}");
    assert!(
        said.contains(&stateful),
        "numbered as install does ({stateful}): {said}"
    );

    // A quota that refuses the new pod ends the wait at once, with the cause, instead of
    // waiting out the deadline in silence.
    let infra = r.ns("infra");
    r.kubectl(&["create", "quota", "no-pods", "--hard=pods=0", "-n", &infra]);
    let t = Instant::now();
    let o = r.run("restart", &["redis", "--timeout", "5m"]);
    let waited = t.elapsed();
    r.kubectl(&["delete", "quota", "no-pods", "-n", &infra]);
    let said = text(&o);
    assert_eq!(o.status.code(), Some(1), "{said}");
    assert!(
        said.contains("exceeded quota") && said.contains("the wait ends here"),
        "{said}"
    );
    assert!(
        waited < std::time::Duration::from_secs(60),
        "waited {waited:?}: {said}"
    );
    r.purge();
}

/// A run of `verb` that names no file and no profile.
fn bare(r: &Release, verb: &str, extra: &[&str]) -> std::process::Output {
    let mut args = r.args(verb, extra);
    // The release's own --profile comes first; one in `extra` stays.
    let at = args.iter().position(|a| a == "--profile").unwrap();
    args.drain(at..at + 2);
    std::process::Command::new(common::bin())
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn without_a_file_or_profile_every_verb_uses_the_deployed_configuration() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Release::new("hist-f");
    // Nothing deployed: the default profile, said so.
    let o = bare(&r, "diff", &[]);
    assert!(
        text(&o).contains("configuration: profile small (the default: nothing is deployed yet)"),
        "{}",
        text(&o)
    );
    ok(&r, "install", &[]);
    // dev is deployed: a bare diff, plan and install act on it and say so.
    for verb in ["diff", "plan", "install"] {
        let o = bare(&r, verb, &[]);
        let said = text(&o);
        assert!(o.status.success(), "{verb}: {said}");
        assert!(
            said.contains("configuration: the deployed one, revision 1 (profile dev)"),
            "{verb}: {said}"
        );
        assert!(!said.contains("will be deleted"), "{verb}: {said}");
    }
    // A --set goes over the deployed configuration.
    let o = bare(
        &r,
        "diff",
        &[
            "--set",
            "components.model-router.image=ghcr.io/voice-platform/model-router:1.4.3",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // (the release's own instance and namespaces are --set flags too)
    assert!(text(&o).contains("with 5 --set(s)"), "{}", text(&o));
    assert!(
        text(&o).contains("+    app.kubernetes.io/version: 1.4.3"),
        "{}",
        text(&o)
    );
    // Another profile is said against the deployed one.
    let o = bare(&r, "diff", &["--profile", "small"]);
    assert!(
        text(&o).contains("profile dev → small: the deployed configuration (revision 1) uses dev"),
        "{}",
        text(&o)
    );
    assert_eq!(history(&r).len(), 1);

    // Claims an earlier layout left (here made by hand, the quota raised to let them in) are
    // listed with their size and the command that deletes them, and counted against the
    // quota: a plan whose new claim the quota would refuse stops at the checks, before any
    // write, instead of a wait that never ends.
    let infra = r.ns("infra");
    r.kubectl(&[
        "patch",
        "resourcequota",
        "compute-quota",
        "-n",
        &infra,
        "--type=merge",
        "-p",
        r#"{"spec":{"hard":{"persistentvolumeclaims":"20"}}}"#,
    ]);
    for n in 0..4 {
        r.apply_yaml(&format!(
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: data-elasticsearch-{n}, namespace: {infra}, labels: {{app.kubernetes.io/instance: {}}}}}\nspec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}\n",
            r.name
        ));
    }
    let o = r.run("status", &[]);
    assert!(
        text(&o).contains("4 claim(s) of this rollout are kept but used by no workload")
            && text(&o).contains(&format!(
                "kubectl delete pvc -n {infra} data-elasticsearch-0"
            )),
        "{}",
        text(&o)
    );
    let out = ok(&r, "install", &["--yes"]);
    assert!(out.contains("kept but used by no workload"), "{out}");
    let before = r.resource_versions();
    let o = r.run(
        "install",
        &["--set", "voiceAssistant.infrastructure.kafka=true"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("would refuse the plan's"), "{}", text(&o));
    assert_eq!(r.resource_versions(), before, "a refused install wrote");
    r.purge();
}

#[test]
fn history_is_trimmed_at_its_maximum() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Release::new("hist-e");
    for n in 1..=4 {
        ok(
            &r,
            "install",
            &[
                "--history-max",
                "2",
                "--set",
                &format!("components.model-router.replicas={n}"),
            ],
        );
    }
    let h = history(&r);
    let numbers: Vec<u64> = h.iter().filter_map(|x| x["revision"].as_u64()).collect();
    assert_eq!(numbers, [3, 4]);
    // An install that changes nothing records nothing.
    ok(
        &r,
        "install",
        &[
            "--history-max",
            "2",
            "--set",
            "components.model-router.replicas=4",
        ],
    );
    assert_eq!(history(&r).len(), 2);
    r.purge();
    assert!(history(&r).is_empty(), "purge left the history behind");
}
