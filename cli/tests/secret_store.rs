//! Secrets from a secret store through the real External Secrets Operator (v0.16.2, built
//! from the Go module proxy by `scripts/external-secrets/build`) on a real control plane:
//! an `external-secrets.io/v1` ExternalSecret becomes Ready and its target Secret holds the
//! store's values, and a value changed in the store reaches the Secret (the rotation that
//! rolls the readers). Both stores that need no cloud are proven: the `fake` provider (a
//! list of keys in the ClusterSecretStore) and the `kubernetes` provider (Secrets of a
//! "vault" namespace, read through the API server's loopback URL).
//!
//! Helpers: `voice_tests::eso` ([`EsoController::start`], [`fake_store_from_document`],
//! [`kubernetes_store`], [`put_secret`], [`wait_secret_value`]) and [`external_secret`]
//! below.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Release, SERIAL, bin, text};
use voice_tests::cluster::{Options, TestCluster};
use voice_tests::eso::{
    self, API_VERSION, EsoController, fake_store_from_document, kubernetes_store, put_secret,
    wait_secret_value,
};

/// One control plane for this file, with room for production (8 nodes of 8 CPU / 16 GiB,
/// Istio and ServiceMonitor CRDs), and one ESO controller on it.
fn cluster() -> &'static TestCluster {
    static CLUSTER: OnceLock<TestCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        TestCluster::start(Options::production())
            .expect("a control plane for the secret store tests")
    })
}

/// The ESO controller on [`cluster`]; `None` when there is no build and none is required.
fn controller() -> Option<&'static EsoController> {
    static ESO: OnceLock<Option<EsoController>> = OnceLock::new();
    ESO.get_or_init(|| {
        let install = eso::installed().expect("External Secrets Operator build")?;
        Some(EsoController::start(cluster(), &install).expect("External Secrets Operator"))
    })
    .as_ref()
}

/// How long a store, an ExternalSecret or a rotation may take on a loaded CI machine.
const LIMIT: Duration = Duration::from_secs(90);

/// One `spec.data[]` entry: the target Secret's key, the store's key and, for stores whose
/// entries hold several values (the `kubernetes` provider's Secrets), the property.
struct Item<'a> {
    secret_key: &'a str,
    remote_key: &'a str,
    property: Option<&'a str>,
}

/// ExternalSecret `namespace/name` writing Secret `name` from ClusterSecretStore `store`,
/// refreshed every second so a rotation shows within the test. The target policies are those
/// `render` writes (`Orphan`, `Retain`: the Secret outlives its ExternalSecret).
fn external_secret(namespace: &str, name: &str, store: &str, items: &[Item]) -> String {
    let data: Vec<serde_json::Value> = items
        .iter()
        .map(|i| {
            let mut remote = serde_json::json!({"key": i.remote_key});
            if let Some(p) = i.property {
                remote["property"] = p.into();
            }
            serde_json::json!({"secretKey": i.secret_key, "remoteRef": remote})
        })
        .collect();
    serde_json::json!({
        "apiVersion": API_VERSION,
        "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "refreshInterval": "1s",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": store},
            "target": {"name": name, "creationPolicy": "Orphan", "deletionPolicy": "Retain"},
            "data": data,
        },
    })
    .to_string()
}

/// A new namespace named `prefix-<pid>`.
fn namespace(cluster: &TestCluster, prefix: &str) -> String {
    let name = format!("{prefix}-{}", std::process::id());
    let o = cluster
        .kubectl()
        .unwrap()
        .args(["create", "namespace", &name])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "create namespace {name}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    name
}

/// The target Secret of an ExternalSecret carries ESO's managed label and data hash, and no
/// owner (`Orphan`).
fn assert_managed(cluster: &TestCluster, namespace: &str, name: &str) {
    let o = cluster
        .kubectl()
        .unwrap()
        .args([
            "get",
            "secret",
            "-n",
            namespace,
            name,
            "-o",
            "jsonpath={.metadata.labels.reconcile\\.external-secrets\\.io/managed} {.metadata.annotations.reconcile\\.external-secrets\\.io/data-hash} {.metadata.ownerReferences}",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let fields: Vec<&str> = out.split(' ').collect();
    assert!(
        matches!(fields.as_slice(), ["true", hash, ""] if !hash.is_empty()),
        "{out:?}"
    );
}

#[test]
fn external_secrets_from_fake_and_kubernetes_stores_sync_and_follow_rotation() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let Some(eso) = controller() else {
        return;
    };
    println!(
        "cluster, CRDs and controller ready in {:?}",
        started.elapsed()
    );
    let cluster = cluster();
    let app = namespace(cluster, "eso-app");

    // fake provider, loaded from a store document shaped as `secrets export --format store`
    // writes it: a remote key holding an object (`remoteRef.property` picks `password`) and
    // one holding a plain value (`user`).
    let store = format!("fake-{app}");
    let (db, user) = (format!("{app}/db"), format!("{app}/db/user"));
    let store_data = |password: &str| {
        let document = serde_json::json!({&db: {"password": password}, &user: "voice"});
        fake_store_from_document(cluster, &store, &document)
    };
    store_data("first-password").unwrap();
    eso.wait_ready("clustersecretstore", None, &store, LIMIT)
        .unwrap();
    let started = Instant::now();
    eso::apply(
        cluster,
        &external_secret(
            &app,
            "db",
            &store,
            &[
                Item {
                    secret_key: "password",
                    remote_key: &db,
                    property: Some("password"),
                },
                Item {
                    secret_key: "user",
                    remote_key: &user,
                    property: None,
                },
            ],
        ),
    )
    .unwrap();
    eso.wait_ready("externalsecret", Some(&app), "db", LIMIT)
        .unwrap();
    wait_secret_value(cluster, &app, "db", "password", "first-password", LIMIT).unwrap();
    wait_secret_value(cluster, &app, "db", "user", "voice", LIMIT).unwrap();
    assert_managed(cluster, &app, "db");
    println!(
        "fake store: Secret synced {:?} after apply",
        started.elapsed()
    );

    let started = Instant::now();
    store_data("second-password").unwrap();
    wait_secret_value(cluster, &app, "db", "password", "second-password", LIMIT).unwrap();
    println!(
        "fake store: rotation reached the Secret in {:?}",
        started.elapsed()
    );

    // A key the store lacks: the ExternalSecret says so in its Ready condition (the gate
    // `install` waits on) and no Secret appears.
    eso::apply(
        cluster,
        &external_secret(
            &app,
            "missing",
            &store,
            &[Item {
                secret_key: "password",
                remote_key: &format!("{app}/absent"),
                property: None,
            }],
        ),
    )
    .unwrap();
    let mut condition = String::new();
    let deadline = Instant::now() + LIMIT;
    while !condition.starts_with("False ") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        condition = eso
            .ready_condition("externalsecret", Some(&app), "missing")
            .unwrap();
    }
    assert!(
        condition.starts_with("False SecretSyncedError"),
        "{condition:?}"
    );
    assert_eq!(
        eso::secret_value(cluster, &app, "missing", "password").unwrap(),
        None
    );

    // kubernetes provider: the values live in Secrets of a "vault" namespace.
    let vault = namespace(cluster, "eso-vault");
    put_secret(
        cluster,
        &vault,
        "db",
        &[("password", "vault-first"), ("user", "voice")],
    )
    .unwrap();
    let store = format!("kubernetes-{vault}");
    kubernetes_store(cluster, &store, &vault).unwrap();
    eso.wait_ready("clustersecretstore", None, &store, LIMIT)
        .unwrap();
    let started = Instant::now();
    eso::apply(
        cluster,
        &external_secret(
            &app,
            "db-from-vault",
            &store,
            &[
                Item {
                    secret_key: "password",
                    remote_key: "db",
                    property: Some("password"),
                },
                Item {
                    secret_key: "user",
                    remote_key: "db",
                    property: Some("user"),
                },
            ],
        ),
    )
    .unwrap();
    eso.wait_ready("externalsecret", Some(&app), "db-from-vault", LIMIT)
        .unwrap();
    wait_secret_value(
        cluster,
        &app,
        "db-from-vault",
        "password",
        "vault-first",
        LIMIT,
    )
    .unwrap();
    wait_secret_value(cluster, &app, "db-from-vault", "user", "voice", LIMIT).unwrap();
    assert_managed(cluster, &app, "db-from-vault");
    println!(
        "kubernetes store: Secret synced {:?} after apply",
        started.elapsed()
    );

    let started = Instant::now();
    put_secret(
        cluster,
        &vault,
        "db",
        &[("password", "vault-second"), ("user", "voice")],
    )
    .unwrap();
    wait_secret_value(
        cluster,
        &app,
        "db-from-vault",
        "password",
        "vault-second",
        LIMIT,
    )
    .unwrap();
    println!(
        "kubernetes store: rotation reached the Secret in {:?}",
        started.elapsed()
    );
    println!("ESO controller restarts so far: {}", eso.restarts());
}

/// `kubectl voice secrets SUB` for a release.
fn secrets(r: &Release, sub: &str, extra: &[&str]) -> Output {
    Command::new(bin())
        .arg("secrets")
        .args(r.args(sub, extra))
        .env("NO_COLOR", "1")
        .output()
        .expect("run kubectl-voice")
}

fn ok(o: Output, what: &str) -> Output {
    assert!(o.status.success(), "{what}: {}", text(&o));
    o
}

/// Every Secret key a pod template of the release reads without `optional: true` exists:
/// `namespace/secret/key` of those that do not (empty when every reader is served).
fn unserved_reads(r: &Release) -> Vec<String> {
    let list = r.kubectl(&["get", "deployments,statefulsets,jobs", "-A", "-o", "json"]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let mut live: BTreeMap<(String, String), serde_json::Value> = BTreeMap::new();
    let mut missing = Vec::new();
    for item in list["items"].as_array().unwrap() {
        let ns = item["metadata"]["namespace"].as_str().unwrap_or_default();
        if !ns.starts_with(&format!("{}-", r.name)) {
            continue;
        }
        let pod = &item["spec"]["template"]["spec"];
        let containers = pod["containers"]
            .as_array()
            .into_iter()
            .chain(pod["initContainers"].as_array())
            .flatten();
        for c in containers {
            for e in c["env"].as_array().into_iter().flatten() {
                let sel = &e["valueFrom"]["secretKeyRef"];
                if sel.is_null() || sel["optional"] == true {
                    continue;
                }
                let (name, key) = (sel["name"].as_str().unwrap(), sel["key"].as_str().unwrap());
                let data = live
                    .entry((ns.to_string(), name.to_string()))
                    .or_insert_with(|| {
                        let o = Command::new(common::kubectl())
                            .args(["get", "secret", "-n", ns, name, "-o", "jsonpath={.data}"])
                            .env("KUBECONFIG", &r.kubeconfig)
                            .output()
                            .unwrap();
                        serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null)
                    });
                if data.get(key).is_none() {
                    missing.push(format!("{ns}/{name}/{key}"));
                }
            }
        }
    }
    missing
}

/// Production installs to all-Ready with every Secret from a store (acceptance (a)); a value
/// rotated in the store rolls exactly its readers. Then a dev install with generated Secrets
/// moves to `existing` and on to the store, keeping every value (acceptance (c)).
#[test]
fn installs_read_their_secrets_from_a_store_and_move_there_keeping_every_value() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(eso) = controller() else {
        return;
    };
    let cluster = cluster();

    // (a) A fresh production install. The store is loaded with test values at the remote
    // places `secrets template` lists.
    let prod = Release {
        profile: "production",
        ..Release::on(cluster, "es-a")
    };
    let store = "es-a-store";
    let settings = [
        "--set",
        "secrets.source=external-secrets",
        "--set",
        "secrets.store.name=es-a-store",
        "--set",
        "secrets.refreshInterval=1s",
    ];
    let o = ok(
        secrets(
            &prod,
            "template",
            &[&settings[..], &["-o", "json"]].concat(),
        ),
        "secrets template",
    );
    let template: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut document = serde_json::Map::new();
    let mut expected: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for s in template.as_array().unwrap() {
        assert_eq!(s["providedBy"], "store", "{s}");
        for k in s["keys"].as_array().unwrap() {
            let Some(remote) = k["remoteKey"].as_str() else {
                assert_eq!(k["required"], false, "{k}");
                continue;
            };
            let property = k["remoteProperty"].as_str().unwrap();
            let slot = document
                .entry(remote.to_string())
                .or_insert_with(|| serde_json::json!({}));
            let value = slot[property]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("v-{remote}-{property}").replace('/', "-"));
            slot[property] = value.clone().into();
            expected.insert(
                (
                    s["namespace"].as_str().unwrap().into(),
                    s["name"].as_str().unwrap().into(),
                    k["key"].as_str().unwrap().into(),
                ),
                value,
            );
        }
    }
    fake_store_from_document(cluster, store, &document.clone().into()).unwrap();
    eso.wait_ready("clustersecretstore", None, store, LIMIT)
        .unwrap();
    let o = ok(prod.run("check", &settings), "check");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("ClusterSecretStore es-a-store is ready"),
        "{}",
        text(&o)
    );
    let t = Instant::now();
    let o = ok(prod.run("install", &settings), "install from the store");
    println!(
        "production from the store: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("install complete"), "{out}");
    let es = prod.kubectl(&["get", "externalsecrets", "-A", "-o", "name"]);
    let count = es.lines().count();
    assert!(count >= 10, "ExternalSecrets: {es}");
    for ((ns, name, key), value) in &expected {
        assert_eq!(
            eso::secret_value(cluster, ns, name, key)
                .unwrap()
                .as_deref(),
            Some(value.as_str()),
            "{ns}/{name} {key} does not hold the store's value"
        );
    }
    assert_eq!(unserved_reads(&prod), Vec::<String>::new());
    ok(prod.run("status", &settings), "status");

    // Rotation: a value changed in the store reaches its Secret, and the next install rolls
    // exactly the workloads that read it.
    let generations = |r: &Release| {
        r.kubectl(&[
            "get",
            "deployments",
            "-A",
            "-o",
            "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name} {.metadata.generation}{\"\\n\"}{end}",
        ])
    };
    let before = generations(&prod);
    let (rotated_ns, rotated) = (prod.ns("app"), "identity-service-secret");
    let remote = template
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == rotated)
        .and_then(|s| {
            s["keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["key"] == "JWT_SECRET")
        })
        .map(|k| {
            (
                k["remoteKey"].as_str().unwrap().to_string(),
                k["remoteProperty"].as_str().unwrap().to_string(),
            )
        })
        .unwrap();
    document[&remote.0][&remote.1] = "rotated-in-the-store".into();
    fake_store_from_document(cluster, store, &document.clone().into()).unwrap();
    wait_secret_value(
        cluster,
        &rotated_ns,
        rotated,
        "JWT_SECRET",
        "rotated-in-the-store",
        LIMIT,
    )
    .unwrap();
    ok(prod.run("install", &settings), "install after a rotation");
    let after = generations(&prod);
    let rolled: Vec<&str> = after
        .lines()
        .filter(|l| !before.lines().any(|b| b == *l))
        .collect();
    assert!(
        rolled.len() == 1 && rolled[0].starts_with(&format!("{rotated_ns}/identity-service ")),
        "rolled: {rolled:?}"
    );
    prod.run("uninstall", &["--purge", "--yes"]);

    // (c) A dev install with generated Secrets moves to `existing`, then to the store.
    let dev = Release::on(cluster, "es-b");
    ok(dev.run("install", &[]), "install with generated Secrets");
    let generated = dev.secret_data();
    assert!(generated.len() >= 5, "{generated:?}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("values.json");
    let f = file.to_str().unwrap();
    let store = "es-b-store";
    let to_store = [
        "--set",
        "secrets.source=external-secrets",
        "--set",
        "secrets.store.name=es-b-store",
    ];
    ok(
        secrets(&dev, "export", &[&to_store[..], &["--out", f]].concat()),
        "secrets export",
    );
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the export is readable by others");
    let again = secrets(&dev, "export", &[&to_store[..], &["--out", f]].concat());
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));

    let existing = ["--set", "secrets.source=existing"];
    let o = ok(
        dev.run("install", &existing),
        "install with existing Secrets",
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(" 0 created, 0 configured") && out.contains("0 written"),
        "moving to existing wrote something: {out}"
    );
    assert_eq!(
        dev.secret_data(),
        generated,
        "moving to existing changed a value"
    );
    // A copy that disagrees with its source stops the install before any write.
    let mr = dev.ns("app");
    let good = eso::secret_value(cluster, &mr, "model-router-secret", "DB_PASSWORD")
        .unwrap()
        .unwrap();
    put_secret(
        cluster,
        &mr,
        "model-router-secret",
        &[("DB_PASSWORD", "not-the-source")],
    )
    .unwrap();
    let o = dev.run("install", &existing);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("model-router-secret key DB_PASSWORD differs from"),
        "{}",
        text(&o)
    );
    put_secret(
        cluster,
        &mr,
        "model-router-secret",
        &[("DB_PASSWORD", &good)],
    )
    .unwrap();

    // The exported values loaded into a store: the ExternalSecrets write the same values.
    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    fake_store_from_document(cluster, store, &document).unwrap();
    eso.wait_ready("clustersecretstore", None, store, LIMIT)
        .unwrap();
    let before = generations(&dev);
    ok(dev.run("install", &to_store), "install from the store");
    let map = |d: &str| -> BTreeMap<String, String> { serde_json::from_str(d).unwrap_or_default() };
    let now = dev.secret_data();
    for (name, data) in &generated {
        let live = map(now.get(name).map(String::as_str).unwrap_or_default());
        for (key, value) in map(data) {
            assert_eq!(
                live.get(&key),
                Some(&value),
                "{name} {key} changed moving to the store"
            );
        }
    }
    assert_eq!(generations(&dev), before, "moving to the store rolled pods");
    dev.run("uninstall", &["--purge", "--yes"]);
    println!("ESO controller restarts so far: {}", eso.restarts());
}
