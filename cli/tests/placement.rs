//! Placement on a real control plane whose kube-scheduler does the scheduling: two labelled
//! pools of three nodes across three zones, the data pool tainted. Data stores go to the
//! data pool with a toleration, services to the other; a Deployment's replicas spread over
//! the zones; `plan` on the live nodes says where each component goes; and a component whose
//! nodeSelector matches no node stops `install` before anything is written.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Release, text};
use voice_tests::cluster::{Options, TestCluster};

/// kwok-node-0…2: pool=data, tainted; kwok-node-3…5: pool=apps; zones a, b, c in each.
const POOLS: &str = "3x8cpu16Gi+pool=data^dedicated=data:NoSchedule,3x8cpu16Gi+pool=apps";

const VOICE_YAML: &str = "\
posthog: {mode: disabled}
voiceAssistant: {enabled: false}
placement:
  nodeSelector: {pool: apps}
components:
  model-router:
    replicas: 3
  postgres:
    placement:
      nodeSelector: {pool: data}
      tolerations:
        - {key: dedicated, operator: Equal, value: data, effect: NoSchedule}
  redis:
    placement:
      nodeSelector: {pool: data}
      tolerations:
        - {key: dedicated, operator: Equal, value: data, effect: NoSchedule}
";

/// The data stores of this configuration.
const DATA: [&str; 2] = ["postgres", "redis"];

#[test]
fn pods_land_on_their_pools_spread_over_zones_and_an_unmatched_selector_stops_install() {
    let cluster = TestCluster::start(Options {
        nodes: POOLS.into(),
        ..Options::default()
    })
    .expect("cluster with two pools");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("voice.yaml");
    std::fs::write(&file, VOICE_YAML).unwrap();
    let file = file.to_str().unwrap();
    let r = Release::on(&cluster, "place");

    // A selector no node matches: install says which component and why, and writes nothing.
    let o = r.run(
        "install",
        &[
            "-f",
            file,
            "--set",
            "components.model-router.placement.nodeSelector.pool=gpu",
        ],
    );
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("model-router: no node matches nodeSelector pool=gpu")
            && err.contains("nothing was applied"),
        "{err}"
    );
    let namespaces = r.kubectl(&["get", "namespaces", "-o", "name"]);
    assert!(!namespaces.contains("place-"), "{namespaces}");

    // Plan on the live nodes: which nodes each component can go on.
    let o = r.run("plan", &["-f", file]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    println!("{out}");
    assert!(
        out.contains(
            "  postgres, redis\n      nodeSelector pool=data; tolerates dedicated=data:NoSchedule\n      → kwok-node-0, kwok-node-1, kwok-node-2\n"
        ) && out.contains("      nodeSelector pool=apps\n      → kwok-node-3, kwok-node-4, kwok-node-5\n"),
        "{out}"
    );
    let o = r.run("plan", &["-f", file, "-o", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).expect("plan json");
    let postgres = plan["fit"]["placement"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["component"] == "postgres"))
        .expect("postgres in fit.placement");
    assert_eq!(
        postgres["nodes"],
        serde_json::json!(["kwok-node-0", "kwok-node-1", "kwok-node-2"])
    );

    let o = r.run("install", &["-f", file, "--timeout", "3m"]);
    assert!(o.status.success(), "{}", text(&o));

    // Where the scheduler put every pod of the release.
    let nodes: BTreeMap<String, (String, String)> = r
        .kubectl(&["get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name} {.metadata.labels.pool} {.metadata.labels.topology\\.kubernetes\\.io/zone}{\"\\n\"}{end}"])
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            Some((f.next()?.to_string(), (f.next()?.to_string(), f.next()?.to_string())))
        })
        .collect();
    let pods = r.kubectl(&[
        "get",
        "pods",
        "-A",
        "-l",
        "app.kubernetes.io/instance=place",
        "-o",
        "jsonpath={range .items[*]}{.metadata.labels.app\\.kubernetes\\.io/name} {.spec.nodeName}{\"\\n\"}{end}",
    ]);
    let mut router_zones = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for line in pods.lines() {
        let (component, node) = line.split_once(' ').expect("component and node");
        let (pool, zone) = nodes
            .get(node)
            .unwrap_or_else(|| panic!("{line}: unscheduled"));
        let want = if DATA.contains(&component) {
            "data"
        } else {
            "apps"
        };
        assert_eq!(pool, want, "{component} on {node}\n{pods}");
        if component == "model-router" {
            router_zones.insert(zone.clone());
        }
        seen.insert(component.to_string());
    }
    assert!(
        seen.contains("postgres") && seen.contains("redis") && seen.contains("model-router"),
        "{pods}"
    );
    assert_eq!(
        router_zones.len(),
        3,
        "model-router's replicas share a zone:\n{pods}"
    );
}
