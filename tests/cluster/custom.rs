//! A private cluster with its own node shapes and CRD sets: the shapes reach
//! the Node objects, the CRDs are served, and dropping the cluster stops it.

use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, PostParams};
use serde_json::json;
use voice_tests::cluster::{Options, TestCluster, create_namespace};

#[tokio::test]
async fn custom_shapes_and_crds() -> Result<()> {
    let mut cluster = TestCluster::start(Options {
        nodes: "2x2cpu4Gi,1x500mcpu1Gi20pods".into(),
        crds: vec!["istio".into(), "servicemonitor".into()],
        timeout: Some(Duration::from_secs(120)),
    })?;
    let dir = cluster
        .dir()
        .context("started cluster has a dir")?
        .to_path_buf();
    let client = cluster.client().await?;

    let nodes: Api<Node> = Api::all(client.clone());
    let mut shapes: Vec<(String, String, String)> = nodes
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .map(|n| {
            let cap = n.status.and_then(|s| s.capacity).unwrap_or_default();
            let get = |k: &str| cap.get(k).map(|q| q.0.clone()).unwrap_or_default();
            (get("cpu"), get("memory"), get("pods"))
        })
        .collect();
    shapes.sort();
    let expect = |c: &str, m: &str, p: &str| (c.to_string(), m.to_string(), p.to_string());
    assert_eq!(
        shapes,
        vec![
            expect("2", "4Gi", "110"),
            expect("2", "4Gi", "110"),
            expect("500m", "1Gi", "20"),
        ]
    );

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in [
        "virtualservices.networking.istio.io",
        "destinationrules.networking.istio.io",
        "servicemonitors.monitoring.coreos.com",
    ] {
        let crd = crds
            .get(name)
            .await
            .with_context(|| format!("CRD {name}"))?;
        let established = crd
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        assert!(established, "CRD {name} is not Established");
    }

    // The CRDs are served: a ServiceMonitor can be created.
    let ns = create_namespace(&client, "crd", &[]).await?;
    let gvk = GroupVersionKind::gvk("monitoring.coreos.com", "v1", "ServiceMonitor");
    let monitors: Api<DynamicObject> =
        Api::namespaced_with(client, &ns, &ApiResource::from_gvk(&gvk));
    let monitor: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": { "name": "web" },
        "spec": {
            "selector": { "matchLabels": { "app": "web" } },
            "endpoints": [{ "port": "http" }]
        }
    }))?;
    monitors.create(&PostParams::default(), &monitor).await?;

    cluster.stop();
    assert!(!dir.exists(), "state dir {} left behind", dir.display());
    Ok(())
}
