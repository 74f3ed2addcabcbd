//! The second install, end to end on a real control plane: profile changes both ways,
//! image bumps of every stateful component, partial installs on fresh and full clusters,
//! cloud ↔ self-hosted, autoscaled replicas, config changes that roll exactly their
//! consumers, copied secrets repaired, prunes listed before they happen, and replicated
//! Services that keep a ready endpoint through an image bump and a node's drain. Every step
//! checks that claims (by uid) and Secret values survive.
//!
//! The scenarios share one private cluster with room for production (8 nodes of 8 CPU /
//! 16 GiB, Istio and ServiceMonitor CRDs) and run one at a time, each under its own release.
//! Run with `--nocapture` to see each step's wall time and objects written.

mod common;

use std::collections::BTreeMap;
use std::process::Output;
use std::sync::OnceLock;
use std::time::Instant;

use common::{Release, SERIAL, text};
use voice_tests::cluster::{Options, TestCluster};

fn cluster() -> &'static TestCluster {
    static CLUSTER: OnceLock<TestCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        TestCluster::start(Options::production()).expect("a control plane for the upgrade tests")
    })
}

/// Purges a release when dropped, so a failed scenario leaves the next one the room it needs.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let o = release(&self.0, "production").run("uninstall", &["--purge", "--yes"]);
        if !o.status.success() && !std::thread::panicking() {
            panic!("purge of {}: {}", self.0, text(&o));
        }
    }
}

fn release(name: &str, profile: &'static str) -> Release {
    Release {
        profile,
        ..Release::on(cluster(), name)
    }
}

/// `kind/namespace/name` of the release's live objects of the kinds install writes
/// (Secrets and claims apart), by the release's namespaces.
fn objects(r: &Release) -> Vec<String> {
    let kinds = "namespaces,deployments,statefulsets,jobs,services,configmaps,serviceaccounts,networkpolicies,ingresses,horizontalpodautoscalers,poddisruptionbudgets,resourcequotas,limitranges,roles,rolebindings,virtualservices.networking.istio.io,servicemonitors.monitoring.coreos.com";
    let out = r.kubectl(&[
        "get",
        kinds,
        "-A",
        "-l",
        "applyset.kubernetes.io/part-of",
        "-o",
        "jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}{\"\\n\"}{end}",
    ]);
    let prefix = format!("{}-", r.name);
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| {
            let mut parts = l.split('/');
            let kind = parts.next().unwrap_or_default();
            let ns = parts.next().unwrap_or_default();
            let name = parts.next().unwrap_or_default();
            ns.starts_with(&prefix) || (kind == "Namespace" && name.starts_with(&prefix))
        })
        .map(|l| l.replace("Namespace//", "Namespace/"))
        .collect();
    v.sort();
    v
}

/// Every claim and every Secret value that existed before still exists, the same (keys may
/// be added). Values are compared without being printed.
fn assert_kept(
    before: &(BTreeMap<String, String>, BTreeMap<String, String>),
    r: &Release,
    step: &str,
) {
    let (c, s) = (r.claim_uids(), r.secret_data());
    for (name, uid) in &before.0 {
        assert_eq!(
            c.get(name),
            Some(uid),
            "{step}: claim {name} was lost or replaced"
        );
    }
    let map = |d: &str| -> BTreeMap<String, String> { serde_json::from_str(d).unwrap_or_default() };
    for (name, data) in &before.1 {
        let now = s.get(name).map(|d| map(d)).unwrap_or_default();
        for (key, value) in map(data) {
            assert!(
                now.get(&key) == Some(&value),
                "{step}: Secret {name} lost key {key} or its value changed"
            );
        }
    }
}

fn data(r: &Release) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    (r.claim_uids(), r.secret_data())
}

/// Objects written by an install: created + configured + replaced + pruned.
fn written(o: &Output) -> usize {
    let out = String::from_utf8_lossy(&o.stdout);
    let n = |word: &str| -> usize {
        out.split([',', ':', ';'])
            .filter_map(|part| part.trim().strip_suffix(word))
            .filter_map(|num| num.trim().parse::<usize>().ok())
            .sum()
    };
    n(" created") + n(" configured") + n(" replaced") + n(" pruned")
}

/// Installs and expects success; prints the step's wall time and objects written.
fn step(r: &Release, label: &str, extra: &[&str]) -> Output {
    let t = Instant::now();
    let o = r.run("install", extra);
    let secs = t.elapsed().as_secs_f64();
    assert!(o.status.success(), "{label}: {}", text(&o));
    eprintln!("step {label}: {secs:.1} s, {} objects written", written(&o));
    o
}

fn assert_noop(r: &Release, label: &str, extra: &[&str]) {
    let o = r.run("install", extra);
    assert!(o.status.success(), "{label} re-run: {}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(" 0 created, 0 configured")
            && out.contains(" 0 pruned")
            && out.contains("0 written"),
        "{label}: a re-run changed something: {out}"
    );
}

fn generation(r: &Release, kind: &str, ns: &str, name: &str) -> String {
    r.field(ns, kind, name, "{.metadata.generation}")
}

/// `kind/ns/name generation` of every Deployment and StatefulSet of the release.
fn generations(r: &Release) -> BTreeMap<String, String> {
    let out = r.kubectl(&[
        "get",
        "deployments,statefulsets",
        "-A",
        "-o",
        "jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name} {.metadata.generation}{\"\\n\"}{end}",
    ]);
    out.lines()
        .filter(|l| l.contains(&format!("/{}-", r.name)))
        .filter_map(|l| l.split_once(' '))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn profiles_change_both_ways_keeping_claims_and_secrets() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dev = release("up-a", "dev");
    let _cleanup = Cleanup("up-a".into());
    step(&dev, "dev (fresh)", &[]);
    assert_noop(&dev, "dev", &[]);

    // Claim templates grow from dev to small: stopped before any write, each named.
    let small = release("up-a", "small");
    let before = objects(&dev);
    let rv = dev.resource_versions();
    let o = small.run("install", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--recreate-statefulsets")
            && err.contains("nothing was applied")
            && err.contains("claim template `data` asks"),
        "{err}"
    );
    assert_eq!(
        rv,
        dev.resource_versions(),
        "a refused upgrade wrote something"
    );
    assert_eq!(before, objects(&dev));

    for (profile, label) in [
        ("small", "dev → small"),
        ("production", "small → production"),
        ("small", "production → small"),
        ("dev", "small → dev"),
    ] {
        let r = release("up-a", profile);
        let kept = data(&r);
        step(
            &r,
            label,
            &["--recreate-statefulsets", "--yes", "--timeout", "3m"],
        );
        assert_kept(&kept, &r, label);
        assert_noop(&r, label, &[]);
        let s = r.run("status", &[]);
        assert!(s.status.success(), "{label}: status: {}", text(&s));
    }
}

#[test]
fn every_stateful_component_takes_a_new_image_in_place() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = release("up-b", "small");
    let _cleanup = Cleanup("up-b".into());
    step(&r, "small (fresh)", &[]);
    let kept = data(&r);
    // The StatefulSets of the plan and their images, from the plan itself.
    let plan = r.run("render", &[]);
    let yaml = String::from_utf8_lossy(&plan.stdout).into_owned();
    let mut sets: Vec<String> = Vec::new();
    let mut bumped: Vec<(String, String, String)> = Vec::new();
    for doc in yaml.split("\n---\n") {
        if !doc.contains("kind: StatefulSet") {
            continue;
        }
        let name = doc
            .lines()
            .find_map(|l| l.strip_prefix("  name: "))
            .unwrap_or_default()
            .to_string();
        let ns = doc
            .lines()
            .find_map(|l| l.strip_prefix("  namespace: "))
            .unwrap_or_default()
            .to_string();
        let image = doc
            .lines()
            .find_map(|l| l.trim().strip_prefix("image: "))
            .unwrap_or_default()
            .trim_matches('"')
            .to_string();
        // A patch release: the same repository under another tag.
        let new = format!("{}-patch1", image);
        sets.push("--set".into());
        sets.push(format!("components.{name}.image={new}"));
        bumped.push((ns, name, new));
    }
    assert!(bumped.len() >= 8, "{bumped:?}");
    let args: Vec<&str> = sets.iter().map(String::as_str).collect();
    step(&r, "image bump of every StatefulSet", &args);
    for (ns, name, image) in &bumped {
        let live = r.kubectl(&[
            "get",
            "statefulset",
            "-n",
            ns,
            name,
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ]);
        assert_eq!(&live, image, "{ns}/{name}");
    }
    assert_kept(&kept, &r, "image bump");
    assert_noop(&r, "image bump", &args);

    // Engine version rules, before any write: a PostgreSQL major and a Redis downgrade past
    // an RDB format are refused by install, diff and plan alike; a PostgreSQL minor rolls in
    // place.
    let image = |name: &str| {
        r.field(
            "infra",
            "statefulset",
            name,
            "{.spec.template.spec.containers[0].image}",
        )
    };
    let before = generations(&r);
    let mut refused = sets.clone();
    refused.extend([
        "--set".into(),
        "components.postgres.image=postgres:16.10-alpine".into(),
        "--set".into(),
        "components.redis.image=redis:7.0.15-alpine".into(),
    ]);
    let refused: Vec<&str> = refused.iter().map(String::as_str).collect();
    for verb in ["install", "diff", "plan"] {
        let o = r.run(verb, &refused);
        let said = text(&o);
        assert_eq!(o.status.code(), Some(2), "{verb}: {said}");
        assert!(
            said.contains("nothing was applied")
                && said.contains("upgrade-engine postgres --to 16")
                && said.contains("incompatible with server")
                && said.contains("Can't handle RDB format version 11"),
            "{verb}: {said}"
        );
    }
    assert_eq!(generations(&r), before, "a refused engine change wrote");
    assert_eq!(image("postgres"), "postgres:15.12-alpine-patch1");
    let mut minor = sets.clone();
    minor.extend([
        "--set".into(),
        "components.postgres.image=postgres:15.13-alpine".into(),
    ]);
    let minor: Vec<&str> = minor.iter().map(String::as_str).collect();
    let o = step(&r, "PostgreSQL minor", &minor);
    assert!(
        text(&o).contains("a minor release keeps PostgreSQL's storage format"),
        "{}",
        text(&o)
    );
    assert_eq!(image("postgres"), "postgres:15.13-alpine");
    assert_kept(&kept, &r, "PostgreSQL minor");
}

#[test]
fn partial_installs_work_fresh_and_never_delete_what_they_leave_out() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Fresh clusters: every part alone and every part left out.
    for (i, sel) in [
        vec!["--only", "posthog"],
        vec!["--only", "model-router"],
        vec!["--only", "voiceassistant"],
        vec!["--only", "infra"],
        vec!["--only", "istio"],
        vec!["--only", "monitoring"],
        vec!["--skip", "infra"],
        vec!["--skip", "posthog"],
        vec!["--skip", "monitoring"],
        vec![
            "--set",
            "voiceAssistant.enabled=false",
            "--set",
            "modelRouter.enabled=false",
            "--set",
            "istio.enabled=false",
        ],
    ]
    .iter()
    .enumerate()
    {
        let r = release(&format!("up-c{i}"), "production");
        let _cleanup = Cleanup(r.name.clone());
        let label = format!("fresh {}", sel.join(" "));
        let o = step(&r, &label, sel);
        assert!(
            String::from_utf8_lossy(&o.stdout).contains(" 0 pruned"),
            "{}",
            text(&o)
        );
        // What the plan lists is exactly what is now in the cluster.
        let mut plan_args = sel.clone();
        plan_args.extend(["-o", "json"]);
        let p = r.run("plan", &plan_args);
        assert!(p.status.success(), "{}", text(&p));
        let plan: serde_json::Value =
            serde_json::from_slice(&p.stdout).expect("plan -o json is JSON");
        let mut planned: Vec<String> = plan["waves"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|w| w["objects"].as_array().cloned().unwrap_or_default())
            .map(|o| {
                format!(
                    "{}/{}/{}",
                    o["kind"].as_str().unwrap_or_default(),
                    o["namespace"].as_str().unwrap_or_default(),
                    o["name"].as_str().unwrap_or_default()
                )
                .replace("Namespace//", "Namespace/")
            })
            .filter(|id| !id.starts_with("PriorityClass/") && !id.starts_with("Cluster"))
            .filter(|id| !id.starts_with("Gateway/") && !id.starts_with("PeerAuthentication/"))
            .filter(|id| {
                !id.starts_with("DestinationRule/") && !id.starts_with("AuthorizationPolicy/")
            })
            .filter(|id| {
                !id.starts_with("RequestAuthentication/")
                    && !id.starts_with("Telemetry/")
                    && !id.starts_with("EnvoyFilter/")
            })
            .collect();
        let live = objects(&r);
        planned.sort();
        planned.dedup();
        let extra: Vec<&String> = live.iter().filter(|l| !planned.contains(l)).collect();
        let missing: Vec<&String> = planned.iter().filter(|p| !live.contains(p)).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "{label}: plan and cluster differ: extra {extra:?}, missing {missing:?}"
        );
    }

    // A full install, then every selection again: nothing outside it is deleted.
    let r = release("up-d", "production");
    let _cleanup = Cleanup("up-d".into());
    step(&r, "production (fresh)", &[]);
    let all = objects(&r);
    let kept = data(&r);
    for sel in [
        vec!["--only", "model-router"],
        vec!["--posthog", "self-hosted", "--only", "model-router"],
        vec!["--skip", "posthog"],
        vec!["--skip", "infra"],
        vec!["--skip", "voiceassistant"],
        vec!["--only", "istio"],
        vec!["--skip", "monitoring"],
        vec!["--only", "infra"],
    ] {
        let label = format!("full, then {}", sel.join(" "));
        let o = step(&r, &label, &sel);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains(" 0 pruned") && out.contains(" 0 created, 0 configured"),
            "{label}: {out}"
        );
        assert_eq!(all, objects(&r), "{label}: objects changed");
        assert_kept(&kept, &r, &label);
    }
    let d = r.run("diff", &["--skip", "posthog"]);
    assert_eq!(d.status.code(), Some(0), "{}", text(&d));
}

#[test]
fn posthog_switches_between_cloud_and_self_hosted_keeping_its_data() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = release("up-e", "dev");
    let _cleanup = Cleanup("up-e".into());
    step(&r, "dev self-hosted (fresh)", &[]);
    let kept = data(&r);
    let before = objects(&r);
    let ns = format!("{}-posthog", r.name);

    // Cloud mode needs its project key before anything else is looked at.
    let o = r.run("install", &["--posthog", "cloud"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("required secret values are missing"),
        "{}",
        text(&o)
    );
    assert_eq!(before, objects(&r));

    // Unconfirmed without a terminal: the list, and nothing written.
    let key = "posthog.cloud.projectApiKey=phc_Qx7Lm2Rt9Vb4Nw8Kd3Hs6Fp1Zc5Yg0Ja2Ue7Oi4Tr9";
    let o = r.run("install", &["--posthog", "cloud", "--set", key]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("will be deleted") && err.contains(&format!("Deployment/{ns}/posthog-web")),
        "{err}"
    );
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(before, objects(&r));

    // Confirmed: PostHog's workloads go, its namespace stays for its claims and Secrets.
    let o = step(
        &r,
        "self-hosted → cloud",
        &["--posthog", "cloud", "--yes", "--set", key],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("kept Namespace/{ns}: it holds")),
        "{}",
        text(&o)
    );
    assert!(
        r.kubectl(&["get", "deployments", "-n", &ns, "-o", "name"])
            .trim()
            .is_empty()
    );
    assert_kept(&kept, &r, "self-hosted → cloud");
    let s = r.run("status", &["--verify"]);
    assert!(
        !String::from_utf8_lossy(&s.stdout).contains("posthog-web"),
        "{}",
        text(&s)
    );

    step(&r, "cloud → self-hosted", &["--yes"]);
    assert_kept(&kept, &r, "cloud → self-hosted");
    assert_eq!(before, objects(&r));
    assert_noop(&r, "self-hosted again", &[]);
}

#[test]
fn autoscaled_replicas_survive_installs_and_the_autoscaler_comes_and_goes() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = release("up-f", "dev");
    let _cleanup = Cleanup("up-f".into());
    let hpa = [
        "--set",
        "modelRouter.hpa.enabled=true",
        "--set",
        "modelRouter.hpa.minReplicas=1",
        "--set",
        "modelRouter.hpa.maxReplicas=6",
    ];
    step(&r, "dev with an autoscaler (fresh)", &hpa);
    let replicas = || {
        r.kubectl(&[
            "get",
            "deployment",
            "-n",
            &format!("{}-app", r.name),
            "model-router",
            "-o",
            "jsonpath={.spec.replicas}",
        ])
    };
    assert_eq!(replicas(), "1");
    // The autoscaler (here kubectl, as it would) takes it to 4: installs keep 4.
    r.kubectl(&[
        "scale",
        "deployment",
        "-n",
        &format!("{}-app", r.name),
        "model-router",
        "--replicas",
        "4",
    ]);
    step(&r, "re-install under an autoscaler", &hpa);
    assert_eq!(replicas(), "4");
    assert_noop(&r, "autoscaled", &hpa);
    assert_eq!(replicas(), "4");
    // The autoscaler off: the configured count comes back, the HPA is pruned.
    let o = step(&r, "autoscaler off", &["--yes"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(" 1 pruned"),
        "{}",
        text(&o)
    );
    assert_eq!(replicas(), "1");
    // And on again.
    step(&r, "autoscaler on again", &hpa);
    r.kubectl(&[
        "scale",
        "deployment",
        "-n",
        &format!("{}-app", r.name),
        "model-router",
        "--replicas",
        "3",
    ]);
    step(&r, "re-install under the new autoscaler", &hpa);
    assert_eq!(replicas(), "3");
}

#[test]
fn config_changes_roll_exactly_their_consumers() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = release("up-g", "dev");
    let _cleanup = Cleanup("up-g".into());
    step(&r, "dev (fresh)", &[]);
    let before = generations(&r);
    step(
        &r,
        "a ConfigMap change",
        &["--set", "modelRouter.database.sslMode=require"],
    );
    let after = generations(&r);
    let changed: Vec<&String> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(v))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        changed,
        [&format!("Deployment/{}-app/model-router", r.name)],
        "a ConfigMap change rolled other workloads"
    );

    // A key supplied later reaches the pods that read it, and only them.
    let before = generations(&r);
    let o = r
        .command(
            "install",
            &["--set", "modelRouter.database.sslMode=require"],
        )
        .env(
            "VOICE_MODEL_ROUTER_SECRET_OPENAI_API_KEY",
            "sk-test-not-a-real-key",
        )
        .output()
        .expect("run kubectl-voice");
    assert!(o.status.success(), "{}", text(&o));
    let after = generations(&r);
    let changed: Vec<&String> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(v))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        changed,
        [&format!("Deployment/{}-app/model-router", r.name)]
    );
}

#[test]
fn copied_passwords_are_repaired_and_a_recreated_namespace_keeps_them() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = release("up-h", "dev");
    let _cleanup = Cleanup("up-h".into());
    step(&r, "dev (fresh)", &[]);
    let app = format!("{}-app", r.name);
    let infra = format!("{}-infra", r.name);
    let value = |ns: &str, secret: &str, key: &str| {
        r.kubectl(&[
            "get",
            "secret",
            "-n",
            ns,
            secret,
            "-o",
            &format!("jsonpath={{.data.{key}}}"),
        ])
    };
    let source = value(&infra, "infra-secrets", "MODEL_ROUTER_DB_PASSWORD");
    assert_eq!(value(&app, "model-router-secret", "DB_PASSWORD"), source);

    // A copy edited by hand is set back from its source. Its reader's fingerprint was made
    // from the source's value, so it does not roll.
    r.kubectl(&[
        "patch",
        "secret",
        "-n",
        &app,
        "model-router-secret",
        "--type",
        "merge",
        "-p",
        r#"{"stringData":{"DB_PASSWORD":"drifted"}}"#,
    ]);
    let o = step(&r, "repair a drifted copy", &[]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&format!(
            "set Secret {app}/model-router-secret: DB_PASSWORD from {infra}/infra-secrets"
        )),
        "{}",
        text(&o)
    );
    assert_eq!(value(&app, "model-router-secret", "DB_PASSWORD"), source);

    // The source rotated (made anew): every copy follows it and its readers roll.
    r.kubectl(&[
        "patch",
        "secret",
        "-n",
        &infra,
        "infra-secrets",
        "--type",
        "merge",
        "-p",
        r#"{"stringData":{"MODEL_ROUTER_DB_PASSWORD":"rotated-by-hand-0123456789abcdef"}}"#,
    ]);
    let rotated = value(&infra, "infra-secrets", "MODEL_ROUTER_DB_PASSWORD");
    let before_gen = generation(&r, "deployment", "app", "model-router");
    step(&r, "copies follow a rotated source", &[]);
    assert_eq!(value(&app, "model-router-secret", "DB_PASSWORD"), rotated);
    assert_ne!(
        before_gen,
        generation(&r, "deployment", "app", "model-router")
    );
    let source = rotated;

    // The infra namespace deleted and installed again: the source takes its copies' value
    // instead of a new one, so every copy still agrees.
    r.kubectl(&[
        "delete",
        "namespace",
        &infra,
        "--wait=true",
        "--timeout=120s",
    ]);
    step(&r, "infra namespace re-created", &[]);
    assert_eq!(
        value(&infra, "infra-secrets", "MODEL_ROUTER_DB_PASSWORD"),
        source
    );
    assert_eq!(value(&app, "model-router-secret", "DB_PASSWORD"), source);
}

#[test]
fn diff_and_dry_run_list_what_would_be_pruned() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = release("up-i", "dev");
    let _cleanup = Cleanup("up-i".into());
    step(&r, "dev (fresh)", &[]);
    let rv = r.resource_versions();
    let off = ["--set", "voiceAssistant.enabled=false"];
    let d = r.run("diff", &off);
    assert_eq!(d.status.code(), Some(1), "{}", text(&d));
    let err = String::from_utf8_lossy(&d.stderr);
    assert!(
        err.contains("will be deleted")
            && err.contains(&format!("Deployment/{}-app/voice-engine", r.name)),
        "{err}"
    );
    let o = r.run(
        "install",
        &["--dry-run=server", "--set", "voiceAssistant.enabled=false"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("will be deleted"),
        "{}",
        text(&o)
    );
    assert_eq!(rv, r.resource_versions(), "a dry run changed objects");
}

#[test]
fn secret_values_are_checked_before_any_write_and_rotated_only_when_asked() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = release("up-s", "dev");
    let _cleanup = Cleanup("up-s".into());
    let cloud = ["--set", "posthog.mode=cloud"];
    let key = "VOICE_MODEL_ROUTER_SECRET_POSTHOG_API_KEY";
    let app = r.ns("app");
    let stored = || {
        r.field(
            "app",
            "secret",
            "model-router-secret",
            "{.data.POSTHOG_API_KEY}",
        )
    };
    let stamp = || {
        r.field(
            "app",
            "deployment",
            "model-router",
            "{.spec.template.metadata.annotations.checksum/secrets}",
        )
    };
    let install = |value: Option<&str>, extra: &[&str]| {
        let mut args: Vec<&str> = cloud.to_vec();
        args.extend(extra);
        let mut c = r.command("install", &args);
        if let Some(v) = value {
            c.env(key, v);
        }
        c.output().expect("run install")
    };

    // `check` names the missing value; install refuses before its first write.
    let o = r.run("check", &cloud);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("required value missing") && out.contains(key),
        "check: {}",
        text(&o)
    );
    let o = install(None, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("required secret values are missing (nothing was applied)")
            && err.contains(key),
        "{err}"
    );
    let o = std::process::Command::new(common::kubectl())
        .args(["get", "namespace", &app])
        .env("KUBECONFIG", &r.kubeconfig)
        .output()
        .unwrap();
    assert!(!o.status.success(), "a namespace was made: {}", text(&o));

    // Supplied: stored once; Secrets that would hold nothing are not made.
    let o = install(Some("phc_first"), &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(stored(), "cGhjX2ZpcnN0");
    let empty = r.kubectl(&["get", "secrets", "-n", &app, "-o", "name"]);
    assert!(!empty.contains("secret/rag-engine-secret"), "{empty}");
    let before = stamp();

    // A different value is reported and not applied without --rotate…
    let o = install(Some("phc_second"), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "{app}/model-router-secret key POSTHOG_API_KEY: the supplied value differs"
        )) && err.contains("--rotate"),
        "{err}"
    );
    assert_eq!(stored(), "cGhjX2ZpcnN0");
    assert_eq!(stamp(), before);

    // …and with it, stored, and the readers roll.
    let o = install(Some("phc_second"), &["--rotate"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(stored(), "cGhjX3NlY29uZA==");
    assert_ne!(stamp(), before, "model-router did not roll");
    let o = install(Some("phc_second"), &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("differs"));
}

/// Watches the EndpointSlices of a set of Services (`namespace/name`) from a thread of its
/// own and records each moment one of them has no ready endpoint.
struct Endpoints {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<String>>,
}

impl Endpoints {
    /// Starts watching; returns once the watch has listed every slice.
    fn watch(r: &Release, services: std::collections::BTreeSet<String>) -> Endpoints {
        use futures::StreamExt;
        use k8s_openapi::api::discovery::v1::EndpointSlice;
        use kube::runtime::watcher::{self, Event};
        use std::sync::atomic::Ordering;

        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (synced_tx, synced_rx) = std::sync::mpsc::channel();
        let kubeconfig = r.kubeconfig.clone();
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async move {
                let kc = kube::config::Kubeconfig::read_from(&kubeconfig).expect("kubeconfig");
                let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
                    .await
                    .expect("client config");
                let client = kube::Client::try_from(cfg).expect("client");
                let api: kube::Api<EndpointSlice> = kube::Api::all(client);
                let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
                // slice `namespace/name` → (Service `namespace/name`, ready endpoints)
                let mut slices: BTreeMap<String, (String, usize)> = BTreeMap::new();
                let (mut synced, mut down) = (false, std::collections::BTreeSet::new());
                let mut drops = Vec::new();
                let start = Instant::now();
                while !stopping.load(Ordering::Relaxed) {
                    let next =
                        tokio::time::timeout(std::time::Duration::from_millis(200), stream.next())
                            .await;
                    let ev = match next {
                        Err(_) | Ok(Some(Err(_))) => continue,
                        Ok(None) => break,
                        Ok(Some(Ok(ev))) => ev,
                    };
                    let key = |s: &EndpointSlice| {
                        let ns = s.metadata.namespace.clone().unwrap_or_default();
                        let svc = s
                            .metadata
                            .labels
                            .as_ref()
                            .and_then(|l| l.get("kubernetes.io/service-name"))
                            .cloned()
                            .unwrap_or_default();
                        let name = s.metadata.name.clone().unwrap_or_default();
                        let ready = s
                            .endpoints
                            .iter()
                            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true))
                            .count();
                        (format!("{ns}/{name}"), (format!("{ns}/{svc}"), ready))
                    };
                    match ev {
                        Event::Init => {
                            synced = false;
                            slices.clear();
                        }
                        Event::InitApply(s) | Event::Apply(s) => {
                            let (k, v) = key(&s);
                            slices.insert(k, v);
                        }
                        Event::Delete(s) => {
                            slices.remove(&key(&s).0);
                        }
                        Event::InitDone => {
                            if !synced {
                                let _ = synced_tx.send(());
                            }
                            synced = true;
                        }
                    }
                    if !synced {
                        continue;
                    }
                    for svc in &services {
                        let ready: usize = slices
                            .values()
                            .filter(|(s, _)| s == svc)
                            .map(|(_, n)| n)
                            .sum();
                        if ready == 0 && down.insert(svc.clone()) {
                            drops.push(format!("{svc} at {:.1} s", start.elapsed().as_secs_f64()));
                        } else if ready > 0 {
                            down.remove(svc);
                        }
                    }
                }
                drops
            })
        });
        synced_rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the EndpointSlice watch lists within a minute");
        Endpoints { stop, thread }
    }

    /// Stops watching: each moment a watched Service had no ready endpoint.
    fn stop(self) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().expect("the watch thread")
    }
}

/// Uncordons a node when dropped.
struct Uncordon<'a>(&'a Release, String);

impl Drop for Uncordon<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new(common::kubectl())
            .args(["uncordon", &self.1])
            .env("KUBECONFIG", &self.0.kubeconfig)
            .output();
    }
}

#[test]
fn replicated_services_keep_ready_endpoints_through_an_image_bump_and_a_drain() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t = Instant::now();
    let r = release("up-avail", "production");
    let _cleanup = Cleanup("up-avail".into());
    step(&r, "production (fresh)", &[]);
    // The Services of more than one replica, from the plan's availability rows.
    let plan = r.run("plan", &["--offline", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan json");
    let services: std::collections::BTreeSet<String> = v["availability"]
        .as_array()
        .expect("availability rows")
        .iter()
        .filter(|row| row["serves"] == true && row["replicas"].as_u64() > Some(1))
        .map(|row| {
            format!(
                "{}/{}",
                row["namespace"].as_str().unwrap(),
                row["component"].as_str().unwrap()
            )
        })
        .collect();
    assert!(services.len() >= 20, "{services:?}");

    // A new registry for every image: every workload's pods are replaced.
    let bump = ["--set", "images.registry=mirror.example.com"];
    let d = r.run(
        "diff",
        &[&bump[..], &["--require-availability", "-o", "json"]].concat(),
    );
    assert_eq!(d.status.code(), Some(2), "{}", text(&d));
    let rows: serde_json::Value = serde_json::from_slice(&d.stdout).expect("diff json");
    let rows = rows["availability"]
        .as_array()
        .expect("diff availability rows");
    let row = |name: &str| {
        rows.iter()
            .find(|x| x["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(row("posthog-clickhouse")["change"], "replaced");
    assert_eq!(row("posthog-clickhouse")["outage"], true);
    assert_eq!(row("model-router")["change"], "replaced");
    assert_eq!(row("model-router")["outage"], false);
    // Refused before any write: the single-replica stores would go down. (The autoscalers'
    // controller writes their status meanwhile: compared by generation.)
    let ours = |r: &Release| -> Vec<String> {
        r.resource_versions()
            .into_iter()
            .filter(|l| !l.starts_with("HorizontalPodAutoscaler/"))
            .collect()
    };
    let hpas = |r: &Release| {
        r.kubectl(&[
            "get",
            "hpa",
            "-n",
            &r.ns("app"),
            "-o",
            "jsonpath={.items[*].metadata.generation}",
        ])
    };
    let (rv, generations) = (ours(&r), hpas(&r));
    let o = r.run(
        "install",
        &[&bump[..], &["--require-availability"]].concat(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("nothing was applied")
            && err.contains("posthog-clickhouse: 1 replica → its 4 consumers lose it"),
        "{err}"
    );
    assert_eq!(rv, ours(&r), "a refused install wrote something");
    assert_eq!(
        generations,
        hpas(&r),
        "a refused install wrote an autoscaler"
    );

    let watch = Endpoints::watch(&r, services.clone());
    step(&r, "image bump of every workload", &bump);
    let drops = watch.stop();
    assert!(
        drops.is_empty(),
        "Services without a ready endpoint during the bump: {drops:?}"
    );
    let images = r.kubectl(&[
        "get",
        "deployments",
        "-n",
        &r.ns("app"),
        "-o",
        "jsonpath={.items[*].spec.template.spec.containers[0].image}",
    ]);
    assert!(
        images
            .split(' ')
            .all(|i| i.starts_with("mirror.example.com/")),
        "{images}"
    );

    // A drain of the node with the most of the release's pods, through the eviction API.
    let pods = r.kubectl(&[
        "get",
        "pods",
        "-A",
        "-o",
        "jsonpath={range .items[*]}{.metadata.namespace} {.spec.nodeName}{\"\\n\"}{end}",
    ]);
    let mut on: BTreeMap<String, usize> = BTreeMap::new();
    for (ns, node) in pods.lines().filter_map(|l| l.split_once(' ')) {
        if ns.starts_with("up-avail-") && !node.is_empty() {
            *on.entry(node.to_string()).or_default() += 1;
        }
    }
    let (node, count) = on
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .expect("a node with pods");
    let watch = Endpoints::watch(&r, services);
    let _uncordon = Uncordon(&r, node.clone());
    let d = Instant::now();
    r.kubectl(&[
        "drain",
        &node,
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--timeout=180s",
    ]);
    eprintln!(
        "step drain of {node} ({count} pods): {:.1} s",
        d.elapsed().as_secs_f64()
    );
    // The evicted pods' successors start meanwhile.
    std::thread::sleep(std::time::Duration::from_secs(5));
    let drops = watch.stop();
    assert!(
        drops.is_empty(),
        "Services without a ready endpoint during the drain of {node}: {drops:?}"
    );
    eprintln!("availability scenario: {:.1} s", t.elapsed().as_secs_f64());
}
