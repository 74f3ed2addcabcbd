//! End to end against a real control plane (see `voice_tests::cluster`): install to
//! all-Ready, idempotent re-install, resume after a kill, diff, uninstall and purge, and
//! the checks that stop an install before anything is written.
//!
//! The scenarios share one cluster and run one at a time; each uses its own release name
//! and namespaces and purges them at the end.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Release, SERIAL, bin, kubectl, text};

#[test]
fn dev_installs_ready_reinstall_changes_nothing_and_uninstall_keeps_data() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Release::new("e2e-a");
    let o = r.run("install", &["--timeout", "3m"]);
    assert!(o.status.success(), "{}", text(&o));
    let s = r.run("status", &[]);
    assert!(s.status.success(), "status not healthy: {}", text(&s));
    assert!(
        String::from_utf8_lossy(&s.stdout).contains("healthy"),
        "{}",
        text(&s)
    );

    let before = r.resource_versions();
    let secret_before = r.secret("posthog", "posthog-secrets");
    let o = r.run("install", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("0 created, 0 configured") && out.contains("0 written"),
        "{out}"
    );
    assert_eq!(
        before,
        r.resource_versions(),
        "a second install changed objects"
    );
    assert_eq!(
        secret_before,
        r.secret("posthog", "posthog-secrets"),
        "a secret was regenerated"
    );

    // A hand edit shows in diff (exit 1); after install, diff is clean (exit 0).
    r.kubectl(&[
        "-n",
        &format!("{}-app", r.name),
        "patch",
        "configmap",
        "model-router-config",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"LOG_LEVEL":"debug"}}"#,
    ]);
    let d = r.run("diff", &[]);
    assert_eq!(d.status.code(), Some(1), "{}", text(&d));
    assert!(
        String::from_utf8_lossy(&d.stdout).contains("-  LOG_LEVEL: debug"),
        "{}",
        text(&d)
    );
    assert!(r.run("install", &[]).status.success());
    assert_eq!(r.run("diff", &[]).status.code(), Some(0));

    // Uninstall asks first: with no terminal and no --yes it deletes nothing (exit 2).
    let before = r.resource_versions();
    let u = r.run("uninstall", &[]);
    assert_eq!(u.status.code(), Some(2), "{}", text(&u));
    assert!(text(&u).contains("pass --yes"), "{}", text(&u));
    assert_eq!(r.resource_versions(), before, "a refused uninstall deleted");
    // Uninstall keeps claims and Secrets; purge removes them.
    let u = r.run("uninstall", &["--yes"]);
    assert!(u.status.success(), "{}", text(&u));
    let left = r.kubectl(&[
        "get",
        "pvc,secrets",
        "-A",
        "-l",
        "app.kubernetes.io/instance",
        "-o",
        "name",
    ]);
    assert!(
        left.contains("persistentvolumeclaim/data-posthog-postgres-0"),
        "{left}"
    );
    assert!(left.contains("secret/posthog-secrets"), "{left}");
    assert!(
        r.kubectl(&[
            "get",
            "deployments",
            "-n",
            &format!("{}-posthog", r.name),
            "-o",
            "name"
        ])
        .trim()
        .is_empty()
    );
    r.purge();
    let ns = r.kubectl(&["get", "namespaces", "-o", "name"]);
    assert!(!ns.contains(&format!("{}-posthog", r.name)), "{ns}");
}

#[test]
fn an_install_killed_midway_converges_with_the_same_secrets() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Release::new("e2e-b");
    let mut child = Command::new(bin())
        .args(r.args("install", &[]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once the secrets exist and before it finishes.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let o = Command::new(kubectl())
            .args([
                "get",
                "secret",
                "-n",
                &format!("{}-infra", r.name),
                "infra-secrets",
            ])
            .env("KUBECONFIG", &r.kubeconfig)
            .output()
            .unwrap();
        if o.status.success() || Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let infra = r.secret("infra", "infra-secrets");
    assert!(!infra.is_empty());
    let o = r.run("install", &["--timeout", "3m"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        infra,
        r.secret("infra", "infra-secrets"),
        "resuming regenerated a secret"
    );
    // The Model Router's DB password is the one the database user got.
    let mr = r.secret("app", "model-router-secret");
    let pw = |json: &str, key: &str| {
        serde_json::from_str::<serde_json::Value>(json).unwrap()[key]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        pw(&mr, "DB_PASSWORD"),
        pw(&infra, "MODEL_ROUTER_DB_PASSWORD")
    );
    assert!(r.run("status", &[]).status.success());
    r.purge();
}

#[test]
fn checks_stop_an_install_before_anything_is_written() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Release::new("e2e-c");
    // Too big for the nodes.
    let o = r.run(
        "install",
        &[
            "--set",
            "components.posthog-clickhouse.resources.requests.cpu=64",
            "--set",
            "components.posthog-clickhouse.resources.limits.cpu=64",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("posthog-clickhouse (64 CPU")
            && err.contains("do not fit")
            && err.contains("nothing was applied"),
        "{err}"
    );
    // ServiceMonitors without the Prometheus operator's CRD.
    let o = r.run("install", &["--set", "monitoring.enabled=true"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--skip monitoring"),
        "{}",
        text(&o)
    );
    // Production renders Istio resources; this cluster has no Istio CRDs.
    let prod = Release {
        profile: "production",
        ..Release::new("e2e-c")
    };
    let o = prod.run("install", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("VirtualService (networking.istio.io) is not installed")
            && err.contains("--skip istio"),
        "{err}"
    );
    let ns = r.kubectl(&["get", "namespaces", "-o", "name"]);
    assert!(
        !ns.contains(&r.name),
        "a failed check wrote namespaces: {ns}"
    );

    // A user without RBAC for NetworkPolicies is told which permission is missing.
    let role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: e2e-no-netpol}\nrules:\n- apiGroups: [\"\", apps, batch, autoscaling, policy, scheduling.k8s.io, rbac.authorization.k8s.io, storage.k8s.io, authorization.k8s.io, apiextensions.k8s.io]\n  resources: [\"*\"]\n  verbs: [\"*\"]\n- apiGroups: [networking.k8s.io]\n  resources: [ingresses, ingressclasses]\n  verbs: [\"*\"]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: e2e-no-netpol}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: e2e-no-netpol}\nsubjects:\n- {apiGroup: rbac.authorization.k8s.io, kind: User, name: e2e-limited}\n";
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), role).unwrap();
    r.kubectl(&["apply", "-f", f.path().to_str().unwrap()]);
    let o = r.run("check", &["--as", "e2e-limited"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("permission(s) denied:")
            && out.contains("\n    create, patch networkpolicies.networking.k8s.io in "),
        "{out}"
    );
    // One line per resource, no line longer than a terminal.
    assert!(out.lines().all(|l| l.chars().count() <= 100), "{out}");
    assert!(!out.contains("deployments.apps in"), "{out}");
}

#[test]
fn dry_run_server_persists_nothing() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Release::new("e2e-d");
    // The namespaces do not exist, so namespaced objects are rejected by the dry run only
    // after the namespaces are (dry-run) created: the dry run must still write nothing.
    let o = r.run("install", &["--dry-run=server", "--skip-checks"]);
    let ns = r.kubectl(&["get", "namespaces", "-o", "name"]);
    assert!(
        !ns.contains(&r.name),
        "dry run created namespaces: {ns}\n{}",
        text(&o)
    );
}

#[test]
fn a_service_that_changes_between_headless_and_an_address_is_replaced() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Release::new("e2e-e");
    let ns = format!("{}-posthog", r.name);
    let cluster_ip = || {
        r.kubectl(&[
            "get",
            "service",
            "-n",
            &ns,
            "posthog-redis",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ])
    };
    let install = |sets: &[&str]| {
        // Turning Sentinel on and off prunes one StatefulSet each way: confirmed.
        let mut args = vec!["--no-wait", "--skip-checks", "--yes"];
        args.extend(sets);
        let o = r.run("install", &args);
        assert!(o.status.success(), "{}", text(&o));
        o
    };
    let replaced = format!("replaced Service/{ns}/posthog-redis");

    // Without Sentinel, posthog-redis is the StatefulSet's headless Service.
    install(&[]);
    assert_eq!(cluster_ip(), "None");

    // With Sentinel it fronts HAProxy with an address. The API server would keep it
    // headless without a word: install replaces it and says so.
    let o = install(&["--set", "posthog.redis.sentinel=true"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&replaced),
        "{}",
        text(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(" 1 replaced,"),
        "{}",
        text(&o)
    );
    let ip = cluster_ip();
    assert!(ip != "None" && !ip.is_empty(), "clusterIP {ip:?}");

    // Back to headless: the API server rejects that change (422); install replaces it again.
    let o = install(&[]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&replaced),
        "{}",
        text(&o)
    );
    assert_eq!(cluster_ip(), "None");

    // Nothing left to replace.
    let o = install(&[]);
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("replaced"),
        "{}",
        text(&o)
    );
    r.purge();
}

#[test]
fn status_json_is_camel_case_objects_and_watch_redraws_only_on_a_change() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Release::new("e2e-w");
    let o = r.run("install", &["--timeout", "3m"]);
    assert!(o.status.success(), "{}", text(&o));

    // One JSON style: camelCase keys, objects rather than tuples, no "0/0" volumes.
    let o = r.run("status", &["-o", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("status json");
    assert_eq!(v["healthy"], true);
    let rows = v["components"].as_array().unwrap();
    for row in rows {
        for key in row.as_object().unwrap().keys() {
            assert!(!key.contains('_'), "snake_case key {key} in {row}");
        }
        if let Some(vol) = row.get("volumes") {
            assert!(
                vol["bound"].is_u64() && vol["total"].as_u64() > Some(0),
                "{row}"
            );
        }
        if let Some(hpa) = row.get("hpa") {
            for k in ["current", "min", "max"] {
                assert!(hpa[k].is_i64(), "{row}");
            }
        }
    }
    assert!(
        rows.iter()
            .any(|r| r["kind"] == "StatefulSet" && r["volumes"]["bound"] == 1),
        "{v}"
    );
    assert!(
        rows.iter()
            .any(|r| r["kind"] == "Deployment" && r.get("volumes").is_none()),
        "{v}"
    );

    let o = r.run("check", &["-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("check json");
    assert!(v["ok"].is_boolean(), "{v}");
    for c in v["categories"].as_array().unwrap() {
        for k in c["checks"].as_array().unwrap() {
            assert!(
                k["description"].is_string() && k["result"].is_string(),
                "{k}"
            );
        }
    }

    // --watch: one table, nothing more while idle, one redraw per burst of changes.
    let child = r
        .command("status", &["--watch", "-o", "json"])
        .env("VOICE_API_STATS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn status --watch");
    std::thread::sleep(Duration::from_secs(3));
    r.kubectl(&[
        "-n",
        &format!("{}-app", r.name),
        "scale",
        "deployment",
        "agent-engine",
        "--replicas",
        "2",
    ]);
    std::thread::sleep(Duration::from_secs(3));
    let started = Instant::now();
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let o = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "Ctrl-C took too long"
    );
    assert!(o.status.success(), "{}", text(&o));
    let docs: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&o.stdout)
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("a stream of JSON reports");
    assert!(
        (2..=3).contains(&docs.len()),
        "expected the first report and one or two redraws after the scale, got {}:\n{}",
        docs.len(),
        text(&o)
    );
    let last = docs.last().unwrap();
    let mr = last["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == "agent-engine")
        .unwrap();
    assert_eq!(mr["desired"], 2, "{mr}");
    // One LIST and one WATCH per kind for the whole run: no polling.
    let stats = String::from_utf8_lossy(&o.stderr);
    assert!(stats.contains("api: 12 requests (6 watches)"), "{stats}");

    // A row that is not ready says why (the diagnosis install uses), and the summary counts
    // components, not health checks.
    r.kubectl(&[
        "-n",
        &format!("{}-app", r.name),
        "patch",
        "deployment",
        "agent-engine",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"template":{"spec":{"nodeSelector":{"voice-test":"nowhere"}}}}}"#,
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let out = loop {
        let o = r.run("status", &[]);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        if o.status.code() == Some(1) && out.contains("FailedScheduling") {
            break out;
        }
        assert!(Instant::now() < deadline, "no reason shown: {}", text(&o));
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        out.contains("agent-engine (") && out.contains("node(s) didn't match"),
        "{out}"
    );
    assert!(out.contains("1 of "), "{out}");
    let o = r.run("status", &["-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("status json");
    let row = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == "agent-engine")
        .unwrap();
    assert!(
        row["reason"]
            .as_str()
            .is_some_and(|s| s.contains("FailedScheduling")),
        "{row}"
    );
    r.purge();
}

#[test]
fn a_user_who_is_admin_only_in_the_rollouts_namespaces_can_read_it() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Release::new("e2e-ns");
    let o = r.run("install", &["--timeout", "3m"]);
    assert!(o.status.success(), "{}", text(&o));
    let user = "e2e-ns-admin";
    for ns in ["posthog", "app", "infra"] {
        r.kubectl(&[
            "create",
            "rolebinding",
            user,
            "--clusterrole=admin",
            &format!("--user={user}"),
            "-n",
            &r.ns(ns),
        ]);
    }
    let o = r.run("status", &["--as", user, "-o", "json"]);
    assert!(
        o.status.success(),
        "status as a namespace admin: {}",
        text(&o)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("status json");
    assert_eq!(v["healthy"], true, "{v}");
    assert!(v["components"].as_array().unwrap().len() > 10, "{v}");

    let o = r.run("check", &["--as", user]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("namespace by namespace"), "{}", text(&o));
    // diff compares what this user may read and names what it may not.
    let o = r.run("diff", &["--as", user]);
    assert!(
        o.status.success(),
        "diff as a namespace admin: {}",
        text(&o)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not compared") && err.contains(&format!("Namespace/{}", r.ns("app"))),
        "{err}"
    );
    // An operator of the Model Router alone (admin in its namespace only) reads its status
    // with --only: only the selected part's namespace is read.
    let mr = "e2e-mr-admin";
    r.kubectl(&[
        "create",
        "rolebinding",
        mr,
        "--clusterrole=admin",
        &format!("--user={mr}"),
        "-n",
        &r.ns("app"),
    ]);
    let o = r.run(
        "status",
        &["--as", mr, "--only", "model-router", "-o", "json"],
    );
    assert!(o.status.success(), "status --only as {mr}: {}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("status json");
    assert!(
        v["components"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["component"] == "model-router"),
        "{v}"
    );
    // What a user may not do is said in words, never as the API's debug dump.
    let runs: [(&str, &[&str]); 4] = [
        ("check", &["--as", user]),
        ("status", &["--as", user, "--verify"]),
        ("check", &["--as", "nobody"]),
        ("plan", &["--as", "nobody"]),
    ];
    for (verb, extra) in runs {
        let o = r.run(verb, extra);
        let said = text(&o);
        for dump in [
            "Status {",
            "ApiError",
            "ErrorResponse",
            "ServiceError",
            ": Some(",
        ] {
            assert!(
                !said.contains(dump),
                "{verb} {extra:?} says {dump:?}: {said}"
            );
        }
    }
    r.purge();
}

/// An operator of the Model Router with rights in its namespaces alone (a RoleBinding of the
/// built-in `admin` ClusterRole in the app namespace, which also holds the rollout's
/// inventory, history and lock, and in the infra namespace, where the Secret its database
/// password is copied from lives) installs, reads, logs and backs up its part; when a
/// cluster-scoped object of its selection differs, its install stops before any write and
/// names the object and the command a cluster admin runs, which then lets it through.
#[test]
fn an_operator_with_rights_in_its_namespaces_alone_installs_its_part() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Release::new("e2e-op");
    let o = r.run("install", &["--timeout", "3m"]);
    assert!(o.status.success(), "install as admin: {}", text(&o));
    let user = "e2e-op-mr";
    for ns in ["app", "infra"] {
        r.kubectl(&[
            "create",
            "rolebinding",
            user,
            "--clusterrole=admin",
            &format!("--user={user}"),
            "-n",
            &r.ns(ns),
        ]);
    }
    let ns_version = |ns: &str| {
        r.kubectl(&[
            "get",
            "namespace",
            &r.ns(ns),
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
    };
    let revisions = || {
        r.kubectl(&[
            "get",
            "configmaps",
            "-n",
            &r.ns("app"),
            "-l",
            &format!("kubectl-voice.io/revision-of={}", r.name),
            "-o",
            "name",
        ])
    };
    let mr = ["--only", "model-router", "--as", user];

    // Every namespace and cluster-scoped object exists as planned: the install goes through
    // on namespace rights, leaving the Namespaces, quotas and limit ranges as they are.
    let namespaces_before = (ns_version("app"), ns_version("infra"));
    let o = r.run("install", &[&mr[..], &["--timeout", "2m"]].concat());
    assert!(
        o.status.success(),
        "install --only model-router as {user}: {}",
        text(&o)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("left as they are: 6 object(s) this user may not write exist as planned")
            && err.contains(&format!("Namespace/{}", r.ns("infra")))
            && err.contains(&format!("ResourceQuota/{}/compute-quota", r.ns("app"))),
        "{}",
        text(&o)
    );
    assert_eq!(
        (ns_version("app"), ns_version("infra")),
        namespaces_before,
        "no cluster-scoped write"
    );
    let o = r.run("status", &mr);
    assert!(
        o.status.success(),
        "status --only model-router: {}",
        text(&o)
    );

    // logs and backup with --only read the selected parts' namespaces alone.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("model-router.log");
    std::fs::write(
        &log,
        "2026-01-01T00:00:00.000000000Z stdout F routed to openai\n",
    )
    .unwrap();
    let logs = format!("{}-model-router", r.name);
    r.apply_yaml(&format!(
        "apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata: {{name: {logs}}}
spec:
  selector: {{matchNamespaces: [{}]}}
  logs: [{{containers: [model-router], logsFile: {}}}]
",
        r.ns("app"),
        log.display()
    ));
    let t = Instant::now();
    let o = loop {
        let o = r.run("logs", &[&["model-router"], &mr[..]].concat());
        if o.status.success() || t.elapsed() > Duration::from_secs(15) {
            break o;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains("routed to openai"),
        "logs model-router --only model-router: {}",
        text(&o)
    );
    let o = r.run("logs", &[&["posthog-web"], &mr[..]].concat());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("not in this run's selection"),
        "{}",
        text(&o)
    );
    let o = r.run(
        "backup",
        &[&mr[..], &["--dir", &dir.path().display().to_string()]].concat(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("this run's selection (--only model-router) has none of"),
        "{}",
        text(&o)
    );
    // The infra databases alone (kwok runs no dump here: each fails in its pod, exit 3),
    // never PostHog's in a namespace this user may not read.
    let o = r.run(
        "backup",
        &[
            "--only",
            "infra",
            "--as",
            user,
            "--dir",
            &dir.path().display().to_string(),
        ],
    );
    let said = text(&o);
    assert_eq!(o.status.code(), Some(3), "{said}");
    assert!(
        said.contains("backup of postgres failed") && said.contains("backup of redis failed"),
        "{said}"
    );
    assert!(
        !said.contains("posthog") && !said.contains("forbidden"),
        "{said}"
    );
    r.kubectl(&["delete", "clusterlogs", &logs]);

    // A cluster-scoped object of the selection changed: the install stops before any write,
    // naming it and the command a cluster admin runs.
    r.kubectl(&[
        "label",
        "namespace",
        &r.ns("infra"),
        "pod-security.kubernetes.io/enforce-",
    ]);
    let (before, history) = (r.resource_versions(), revisions());
    let namespaces_before = (ns_version("app"), ns_version("infra"));
    let o = r.run("install", &mr);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        err.contains(&format!(
            "1 object(s) of this run are missing or differ from the plan, and this user may not write them:\n  Namespace/{}: metadata.labels.pod-security.kubernetes.io/enforce: missing (planned: restricted)\n",
            r.ns("infra")
        )),
        "{err}"
    );
    let command = err
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("kubectl voice render --cluster-scoped "))
        .unwrap_or_else(|| panic!("no render command: {err}"))
        .to_string();
    assert_eq!(
        command,
        format!(
            "kubectl voice render --cluster-scoped --profile dev --set instance={n} --set namespaces.posthog={n}-posthog --set namespaces.app={n}-app --set namespaces.infra={n}-infra --only model-router | kubectl apply --server-side --field-manager=kubectl-voice --force-conflicts -f -",
            n = r.name
        )
    );
    assert!(err.contains("nothing was applied"), "{err}");
    assert_eq!(r.resource_versions(), before, "nothing written");
    assert_eq!(revisions(), history, "no revision recorded");
    assert_eq!((ns_version("app"), ns_version("infra")), namespaces_before);

    // The admin runs it as printed (this build as the plugin, the test's kubectl); the
    // operator's install then goes through.
    let sh = command
        .replacen("kubectl voice", bin(), 1)
        .replace("| kubectl apply", &format!("| {} apply", kubectl()));
    let o = Command::new("sh")
        .args(["-c", &sh])
        .env("KUBECONFIG", &r.kubeconfig)
        .output()
        .expect("sh");
    assert!(o.status.success(), "{sh}: {}", text(&o));
    assert!(
        r.kubectl(&[
            "get",
            "namespace",
            &r.ns("infra"),
            "-o",
            "jsonpath={.metadata.labels.pod-security\\.kubernetes\\.io/enforce}",
        ]) == "restricted"
    );
    let o = r.run("install", &mr);
    assert!(
        o.status.success(),
        "install after the admin's apply: {}",
        text(&o)
    );
    r.purge();
}

#[test]
fn plan_fits_on_the_live_nodes_when_it_reaches_a_cluster_and_says_so() {
    let r = Release::new("e2e-plan");
    let o = r.run("plan", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("live node(s) of context voice-dev (https://127.0.0.1:")
            && out.contains(", their free capacity: fits"),
        "{out}"
    );
    let o = r.run("plan", &["-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("plan json");
    assert_eq!(v["capacity"], "cluster");

    let o = r.run("plan", &["--offline"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("1 × dev (4 CPU, 8Gi, 110 pods), the profile's nodes (--offline)"),
        "{out}"
    );

    // A kubeconfig whose server does not answer: the profile's nodes, and why.
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("kubeconfig");
    std::fs::write(
        &dead,
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\nclusters:\n- name: gone\n  cluster: {server: 'https://127.0.0.1:1'}\ncontexts:\n- name: gone\n  context: {cluster: gone, user: u}\nusers:\n- name: u\n  user: {token: x}\n",
    )
    .unwrap();
    let gone = Release {
        kubeconfig: dead.display().to_string(),
        ..Release::new("e2e-plan")
    };
    let o = gone.run("plan", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("the profile's nodes (cluster not reached"),
        "{out}"
    );
}

/// `kind/name uid resourceVersion` of every object of a rollout, cluster-scoped ones included.
fn state(r: &Release) -> Vec<String> {
    let kinds = "namespaces,priorityclasses,clusterroles,clusterrolebindings,deployments,statefulsets,jobs,services,configmaps,serviceaccounts,networkpolicies,horizontalpodautoscalers,poddisruptionbudgets,resourcequotas,limitranges,roles,rolebindings,secrets,persistentvolumeclaims";
    let out = r.kubectl(&[
        "get",
        kinds,
        "-A",
        "-l",
        &format!("app.kubernetes.io/instance={}", r.name),
        "-o",
        "jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name} {.metadata.uid} {.metadata.resourceVersion}{\"\\n\"}{end}",
    ]);
    let mut v: Vec<String> = out.lines().map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn two_rollouts_on_one_cluster_never_touch_each_other() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Release::new("two-a");
    let b = Release::new("two-b");
    for r in [&a, &b] {
        let o = r.run("install", &["--skip", "posthog"]);
        assert!(o.status.success(), "{}: {}", r.name, text(&o));
    }
    // Each rollout has its own cluster-scoped objects.
    let classes = a.kubectl(&["get", "priorityclasses", "-o", "name"]);
    for r in ["two-a", "two-b"] {
        assert!(
            classes.contains(&format!(
                "priorityclass.scheduling.k8s.io/{r}-high-priority"
            )),
            "{classes}"
        );
    }
    let before = state(&a);
    assert!(
        before.iter().any(|l| l.starts_with("PriorityClass/")),
        "{before:?}"
    );

    // b: an upgrade, a rollback, a prune and an uninstall.
    let hpa = [
        "--skip",
        "posthog",
        "--set",
        "modelRouter.hpa.enabled=true",
        "--set",
        "modelRouter.hpa.minReplicas=1",
    ];
    for (what, cmd, args) in [
        ("upgrade", "install", &hpa[..]),
        ("rollback", "rollback", &["--yes"][..]),
        ("prune", "install", &["--skip", "posthog", "--yes"][..]),
        ("uninstall", "uninstall", &["--yes"][..]),
    ] {
        let o = b.run(cmd, args);
        assert!(o.status.success(), "{what} of two-b: {}", text(&o));
        assert_eq!(state(&a), before, "{what} of two-b touched two-a");
    }

    // A pod of two-a can still be created: its PriorityClass is there.
    let o = a.run("restart", &["ai-orchestrator", "--timeout", "2m"]);
    assert!(o.status.success(), "{}", text(&o));

    // A third rollout in two-a's namespace: refused before any write, naming the owner, by
    // install's checks and, without them, by install itself.
    let c = Release::new("two-c");
    let into_a = ["--skip", "posthog", "--set", "namespaces.app=two-a-app"];
    let o = c.run("install", &into_a);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let mut skipped = into_a.to_vec();
    skipped.push("--skip-checks");
    let o2 = c.run("install", &skipped);
    assert_eq!(o2.status.code(), Some(2), "{}", text(&o2));
    for said in [text(&o), text(&o2)] {
        assert!(
            said.contains("Namespace/two-a-app belongs to the rollout `two-a`")
                && said.contains("--adopt"),
            "{said}"
        );
    }
    let o = c.run(
        "check",
        &["--skip", "posthog", "--set", "namespaces.app=two-a-app"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("belongs to the rollout `two-a`"),
        "{}",
        text(&o)
    );
    assert!(
        c.kubectl(&["get", "namespaces", "-o", "name"])
            .lines()
            .all(|l| !l.contains("two-c-")),
        "nothing of two-c was written"
    );
    a.purge();
}
