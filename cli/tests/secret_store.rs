//! Secrets from a secret store through the real External Secrets Operator (v0.16.2, built
//! from the Go module proxy by `scripts/external-secrets/build`) on a real control plane:
//! an `external-secrets.io/v1` ExternalSecret becomes Ready and its target Secret holds the
//! store's values, and a value changed in the store reaches the Secret (the rotation that
//! rolls the readers). Both stores that need no cloud are proven: the `fake` provider (a
//! list of keys in the ClusterSecretStore) and the `kubernetes` provider (Secrets of a
//! "vault" namespace, read through the API server's loopback URL).
//!
//! Helpers: `voice_tests::eso` ([`EsoController::shared`], [`fake_store_from_document`],
//! [`kubernetes_store`], [`put_secret`], [`wait_secret_value`]) and [`external_secret`]
//! below.

use std::time::{Duration, Instant};

use voice_tests::cluster::{self, TestCluster};
use voice_tests::eso::{
    self, API_VERSION, EsoController, fake_store_from_document, kubernetes_store, put_secret,
    wait_secret_value,
};

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
    let started = Instant::now();
    let Some(eso) = EsoController::shared().expect("External Secrets Operator") else {
        return;
    };
    println!(
        "cluster, CRDs and controller ready in {:?}",
        started.elapsed()
    );
    let cluster = cluster::shared();
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
}
