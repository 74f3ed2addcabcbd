//! GitOps trees (`render --out DIR --gitops argocd|flux`): `kubectl kustomize` of either tree
//! builds exactly `render`'s objects apart from the GitOps annotations (and, for Flux, the
//! wave Kustomizations), a re-render into the same directory removes what it no longer
//! writes; and the Argo CD tree, synced by Argo CD's GitOps engine (`gitops-sync`, built from
//! the Go module proxy by `scripts/gitops-sync/build`) on the real control plane, reaches
//! all-Ready with the setup and migration Jobs created only after the databases were Ready
//! and the applications only after the migrations completed. Dev profile.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{Release, bin, kubectl, text};
use serde::Deserialize as _;
use serde_json::Value;

/// The documents of a YAML stream, keyed `apiVersion kind namespace/name`.
fn objects(yaml: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let v = Value::deserialize(doc).expect("YAML document");
        if v.is_null() {
            continue;
        }
        let s = |p: &str| {
            v.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let key = format!(
            "{} {} {}/{}",
            s("/apiVersion"),
            s("/kind"),
            s("/metadata/namespace"),
            s("/metadata/name")
        );
        assert!(out.insert(key.clone(), v).is_none(), "{key} twice");
    }
    out
}

fn kustomize(dir: &Path) -> String {
    let o = Command::new(kubectl())
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("run kubectl kustomize");
    assert!(
        o.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        text(&o)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn voice(args: &[&str]) -> String {
    let o = Command::new(bin())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run kubectl-voice");
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

/// Removes the Argo CD annotations of an object (and its annotations when none are left);
/// returns how many there were.
fn strip_argocd(v: &mut Value) -> usize {
    let Some(meta) = v.pointer_mut("/metadata").and_then(Value::as_object_mut) else {
        return 0;
    };
    let Some(notes) = meta.get_mut("annotations").and_then(Value::as_object_mut) else {
        return 0;
    };
    let before = notes.len();
    notes.retain(|k, _| !k.starts_with("argocd.argoproj.io/"));
    let removed = before - notes.len();
    if notes.is_empty() {
        meta.remove("annotations");
    }
    removed
}

/// Relative paths of every file under `dir`.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn either_tree_builds_to_the_render_and_a_rerender_removes_what_it_no_longer_writes() {
    let rendered = objects(&voice(&[
        "render",
        "--profile",
        "dev",
        "--set",
        "secrets.source=existing",
    ]));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("deploy");
    let out = dir.to_str().unwrap();

    // Argo CD: the same objects, each with its sync wave.
    voice(&[
        "render",
        "--profile",
        "dev",
        "--set",
        "secrets.source=existing",
        "--out",
        out,
        "--gitops",
        "argocd",
    ]);
    let argocd_files = listing(&dir);
    let argocd_text: Vec<String> = argocd_files
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).unwrap())
        .collect();
    let mut built = objects(&kustomize(&dir));
    let mut notes = 0;
    for v in built.values_mut() {
        let n = strip_argocd(v);
        assert!(n >= 1, "no sync wave on {v}");
        notes += n;
    }
    assert_eq!(built, rendered);
    println!("argocd: {} objects, {notes} annotations", built.len());

    // Flux: the root holds one Kustomization per wave directory; the directories hold
    // exactly the render.
    std::fs::write(dir.join("README.md"), "kept").unwrap();
    voice(&[
        "render",
        "--profile",
        "dev",
        "--set",
        "secrets.source=existing",
        "--out",
        out,
        "--gitops",
        "flux",
        "--flux-path",
        "./deploy",
    ]);
    let root = objects(&kustomize(&dir));
    let mut waves: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    waves.sort();
    assert_eq!(root.len(), waves.len(), "{root:?} {waves:?}");
    for (k, w) in root.values().zip(&waves) {
        assert_eq!(k["kind"], "Kustomization");
        assert_eq!(k["spec"]["path"], format!("./deploy/{w}"));
    }
    let mut in_waves = BTreeMap::new();
    for w in &waves {
        in_waves.extend(objects(&kustomize(&dir.join(w))));
    }
    assert_eq!(in_waves, rendered);
    // The Argo CD tree's component files at the root are gone.
    assert!(!dir.join("postgres.yaml").exists());

    // Back to Argo CD: the wave directories are gone, the user's file stays, and the tree is
    // the first one byte for byte.
    voice(&[
        "render",
        "--profile",
        "dev",
        "--set",
        "secrets.source=existing",
        "--out",
        out,
        "--gitops",
        "argocd",
    ]);
    let mut again = listing(&dir);
    again.retain(|f| f != "README.md");
    assert_eq!(again, argocd_files);
    for (f, t) in argocd_files.iter().zip(&argocd_text) {
        assert_eq!(&std::fs::read_to_string(dir.join(f)).unwrap(), t, "{f}");
    }
    assert!(dir.join("README.md").exists());
}

#[test]
fn argo_engine_syncs_the_tree_to_ready_in_the_plans_order() {
    let sync = voice_tests::peers::gitops_sync().unwrap_or_else(|e| {
        panic!("this test syncs with Argo CD's GitOps engine built with Go: {e:#}")
    });
    let r = Release::new("gitops");
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    // The Secrets are the user's (`secrets.source: existing`): a tree of generated ones is
    // refused.
    let existing = ["--set", "secrets.source=existing"];
    let refused = r.run(
        "render",
        &["--out", tree.to_str().unwrap(), "--gitops", "argocd"],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("secrets.source is generate"),
        "{}",
        text(&refused)
    );
    let o = r.run(
        "render",
        &[
            &existing[..],
            &["--out", tree.to_str().unwrap(), "--gitops", "argocd"],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", text(&o));

    // Nothing in a GitOps tree may depend on `install`, and generated Secrets are install's:
    // the Secrets the plan lists are created here with arbitrary values, as a user (or a
    // secret store) would before the first sync.
    let o = r.run("plan", &[&existing[..], &["-o", "json"]].concat());
    assert!(o.status.success(), "{}", text(&o));
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    let secrets = plan["secrets"].as_array().unwrap();
    let mut namespaces: Vec<&str> = secrets
        .iter()
        .filter_map(|s| s["namespace"].as_str())
        .collect();
    namespaces.sort();
    namespaces.dedup();
    for ns in &namespaces {
        r.kubectl(&["create", "namespace", ns]);
    }
    for s in secrets {
        let mut args = vec![
            "create".to_string(),
            "secret".into(),
            "generic".into(),
            "-n".into(),
            s["namespace"].as_str().unwrap().into(),
            s["name"].as_str().unwrap().into(),
        ];
        for k in s["keys"].as_array().unwrap() {
            args.push(format!(
                "--from-literal={}=gitops-test-value",
                k["key"].as_str().unwrap()
            ));
        }
        r.kubectl(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }

    // What Argo CD's repo server hands the engine for a kustomization directory: its build.
    let repo = tmp.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    std::fs::write(repo.join("voice.yaml"), kustomize(&tree)).unwrap();
    let started = std::time::Instant::now();
    let o = Command::new(&sync)
        .arg("--kubeconfig")
        .arg(&r.kubeconfig)
        .args(["--timeout", "8m"])
        .arg(&repo)
        .output()
        .expect("run gitops-sync");
    let log = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", text(&o));
    println!(
        "synced in {:.0?}:\n{}",
        started.elapsed(),
        log.lines()
            .filter(|l| !l.contains('\t'))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // `namespace/name` → the value of `path` for each object of `kind` in the release.
    let times = |kind: &str, path: &str| -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for ns in ["posthog", "app", "infra"] {
            let list = r.kubectl(&[
                "get",
                kind,
                "-n",
                &r.ns(ns),
                "-o",
                &format!("jsonpath={{range .items[*]}}{{.metadata.name}} {path}{{\"\\n\"}}{{end}}"),
            ]);
            for l in list.lines() {
                let (name, t) = l.split_once(' ').unwrap();
                out.insert(format!("{}/{name}", r.ns(ns)), t.to_string());
            }
        }
        out
    };
    // All-Ready, as install's gates say it: every workload's replicas ready (`status` reads
    // install's ApplySet inventory, which a GitOps engine does not write).
    for kind in ["deployments", "statefulsets"] {
        let ready = times(kind, "{.spec.replicas} {.status.readyReplicas}");
        assert!(!ready.is_empty(), "no {kind}");
        for (w, v) in &ready {
            let (want, have) = v.split_once(' ').unwrap();
            assert_eq!(want, have, "{kind} {w}: {want} replicas, {have} ready");
        }
    }

    // The order, from the objects' own times (RFC 3339 in UTC compare as text).
    let db_ready = times(
        "pods",
        "{.metadata.ownerReferences[0].kind} {.status.conditions[?(@.type==\"Ready\")].lastTransitionTime}",
    );
    let db_ready: Vec<&str> = db_ready
        .values()
        .filter_map(|v| v.strip_prefix("StatefulSet "))
        .collect();
    let jobs_created = times("jobs", "{.metadata.creationTimestamp}");
    let jobs_done = times("jobs", "{.status.completionTime}");
    let deployments = times("deployments", "{.metadata.creationTimestamp}");
    assert!(!db_ready.is_empty() && !deployments.is_empty());
    let last_db = db_ready.iter().max().unwrap();
    let migrate = jobs_created
        .keys()
        .find(|k| k.contains("/posthog-migrate-"))
        .expect("the migrations Job");
    for (job, created) in &jobs_created {
        assert!(
            created.as_str() >= *last_db,
            "{job} created {created}, before a database was Ready ({last_db})"
        );
        assert!(!jobs_done[job].is_empty(), "{job} did not complete");
    }
    for (job, done) in jobs_done.iter().filter(|(j, _)| *j != migrate) {
        assert!(
            done <= &jobs_created[migrate],
            "{migrate} created before the setup Job {job} completed ({done})"
        );
    }
    for (d, created) in &deployments {
        assert!(
            created >= &jobs_done[migrate],
            "{d} created {created}, before {migrate} completed"
        );
    }
}

#[test]
fn bad_gitops_flags_stop_with_exit_2_naming_the_flag_before_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("deploy");
    let out = dir.to_str().unwrap();
    for (args, want) in [
        (
            vec!["--gitops", "helm"],
            "--gitops: \"helm\" is not a GitOps engine",
        ),
        (
            vec![
                "--gitops",
                "flux",
                "--flux-source",
                "HelmRepository/x",
                "--flux-path",
                ".",
            ],
            "--flux-source: \"HelmRepository/x\" names kind",
        ),
        (
            vec!["--gitops", "flux", "--flux-path", "../up"],
            "--flux-path: \"../up\" leaves the source",
        ),
        // An absolute --out gives no path inside the source.
        (vec!["--gitops", "flux"], "--flux-path: the --out directory"),
    ] {
        let o = Command::new(bin())
            .args(["render", "--profile", "dev", "--out", out])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(want),
            "{args:?}: {}",
            text(&o)
        );
        assert!(!dir.exists(), "{args:?} wrote {out}");
    }
    // --gitops needs --out.
    let o = Command::new(bin())
        .args(["render", "--profile", "dev", "--gitops", "argocd"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
