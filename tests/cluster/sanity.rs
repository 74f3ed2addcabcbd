//! Sanity checks of the shared test cluster: the control plane behaves like a
//! real one (scheduling by requests, controllers, PVC binding, admission) and
//! real `kubectl` accepts its kubeconfig.

use std::time::Duration;

use anyhow::{Context, Result};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod, PodCondition};
use kube::api::{ListParams, PostParams};
use kube::runtime::wait::await_condition;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use serde_json::json;
use voice_tests::cluster::{self, create_namespace, wait};

const LIMIT: Duration = Duration::from_secs(60);

async fn client() -> Result<Client> {
    cluster::shared().client().await
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn scheduled_condition(pod: Option<&Pod>) -> Option<&PodCondition> {
    pod?.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "PodScheduled")
}

fn container(name: &str, cpu: &str, memory: &str) -> serde_json::Value {
    json!({
        "name": name,
        "image": "registry.k8s.io/pause:3.10",
        "resources": { "requests": { "cpu": cpu, "memory": memory } }
    })
}

#[tokio::test]
async fn deployment_pods_become_ready() -> Result<()> {
    let client = client().await?;
    let ns = create_namespace(&client, "deploy", &[]).await?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 3,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [container("web", "250m", "128Mi")] }
            }
        }
    }))?;
    deployments
        .create(&PostParams::default(), &deployment)
        .await?;

    wait(
        LIMIT,
        "3 ready replicas of deployment web",
        await_condition(deployments, "web", |d: Option<&Deployment>| {
            d.and_then(|d| d.status.as_ref())
                .and_then(|s| s.ready_replicas)
                == Some(3)
        }),
    )
    .await?;

    let pods: Api<Pod> = Api::namespaced(client, &ns);
    let list = pods.list(&ListParams::default().labels("app=web")).await?;
    assert_eq!(list.items.len(), 3, "pods of deployment web");
    for pod in &list.items {
        let spec = pod.spec.as_ref().context("pod spec")?;
        let node = spec.node_name.as_deref().unwrap_or_default();
        assert!(
            !node.is_empty(),
            "pod {:?} was not scheduled",
            pod.metadata.name
        );
        assert!(pod_ready(pod), "pod {:?} is not Ready", pod.metadata.name);
        let status = pod.status.as_ref().context("pod status")?;
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert!(
            status.pod_ip.is_some(),
            "pod {:?} has no IP",
            pod.metadata.name
        );
    }
    Ok(())
}

#[tokio::test]
async fn statefulset_gets_bound_pvc_and_ready_pod() -> Result<()> {
    let client = client().await?;
    let ns = create_namespace(&client, "sts", &[]).await?;
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let set: StatefulSet = serde_json::from_value(json!({
        "metadata": { "name": "db" },
        "spec": {
            "serviceName": "db",
            "replicas": 1,
            "selector": { "matchLabels": { "app": "db" } },
            "template": {
                "metadata": { "labels": { "app": "db" } },
                "spec": { "containers": [container("db", "500m", "512Mi")] }
            },
            "volumeClaimTemplates": [{
                "metadata": { "name": "data" },
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": { "requests": { "storage": "1Gi" } }
                }
            }]
        }
    }))?;
    sets.create(&PostParams::default(), &set).await?;

    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    let pvc = wait(
        LIMIT,
        "PVC data-db-0 to be Bound",
        await_condition(pvcs, "data-db-0", |p: Option<&PersistentVolumeClaim>| {
            p.and_then(|p| p.status.as_ref())
                .and_then(|s| s.phase.as_deref())
                == Some("Bound")
        }),
    )
    .await?
    .context("PVC data-db-0 vanished")?;
    let spec = pvc.spec.context("pvc spec")?;
    assert_eq!(spec.storage_class_name.as_deref(), Some("standard"));
    assert!(spec.volume_name.is_some(), "bound PVC names no volume");

    let pods: Api<Pod> = Api::namespaced(client, &ns);
    wait(
        LIMIT,
        "pod db-0 to be Ready",
        await_condition(pods, "db-0", |p: Option<&Pod>| p.is_some_and(pod_ready)),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn oversized_pod_stays_pending_with_failed_scheduling() -> Result<()> {
    let client = client().await?;
    let ns = create_namespace(&client, "unsched", &[]).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": { "name": "hog" },
        "spec": { "containers": [container("hog", "1000", "1Gi")] }
    }))?;
    pods.create(&PostParams::default(), &pod).await?;

    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let config =
        watcher::Config::default().fields("involvedObject.name=hog,reason=FailedScheduling");
    let first = wait(
        LIMIT,
        "a FailedScheduling event for pod hog",
        watcher(events, config).applied_objects().boxed().try_next(),
    )
    .await?
    .context("event watch ended")?;
    let message = first.message.unwrap_or_default();
    assert!(
        message.contains("Insufficient cpu"),
        "unexpected FailedScheduling message: {message}"
    );

    // The scheduler records the event and patches the pod's status in two
    // requests, so the condition may land just after the event.
    let pod = wait(
        LIMIT,
        "pod hog's PodScheduled condition",
        await_condition(pods, "hog", |p: Option<&Pod>| {
            scheduled_condition(p).is_some()
        }),
    )
    .await?
    .context("pod hog disappeared")?;
    assert!(
        pod.spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .is_none(),
        "pod hog was bound to a node"
    );
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    assert_eq!(phase, Some("Pending"));
    let scheduled = scheduled_condition(Some(&pod)).context("no PodScheduled condition")?;
    assert_eq!(scheduled.status, "False");
    assert_eq!(scheduled.reason.as_deref(), Some("Unschedulable"));
    Ok(())
}

#[tokio::test]
async fn restricted_namespace_rejects_privileged_pod() -> Result<()> {
    let client = client().await?;
    let ns = create_namespace(
        &client,
        "psa",
        &[("pod-security.kubernetes.io/enforce", "restricted")],
    )
    .await?;
    let pods: Api<Pod> = Api::namespaced(client, &ns);

    let privileged: Pod = serde_json::from_value(json!({
        "metadata": { "name": "privileged" },
        "spec": { "containers": [{
            "name": "c",
            "image": "registry.k8s.io/pause:3.10",
            "securityContext": { "privileged": true }
        }] }
    }))?;
    match pods.create(&PostParams::default(), &privileged).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 403, "{status:?}");
            assert!(
                status.message.contains("violates PodSecurity"),
                "unexpected rejection: {}",
                status.message
            );
        }
        Err(e) => return Err(e).context("creating the privileged pod"),
        Ok(_) => panic!("a privileged pod was admitted into a restricted namespace"),
    }

    // Control: a pod that meets the restricted profile is admitted.
    let restricted: Pod = serde_json::from_value(json!({
        "metadata": { "name": "restricted" },
        "spec": {
            "securityContext": { "runAsNonRoot": true, "runAsUser": 65534,
                                 "seccompProfile": { "type": "RuntimeDefault" } },
            "containers": [{
                "name": "c",
                "image": "registry.k8s.io/pause:3.10",
                "securityContext": { "allowPrivilegeEscalation": false,
                                     "capabilities": { "drop": ["ALL"] } }
            }]
        }
    }))?;
    pods.create(&PostParams::default(), &restricted)
        .await
        .context("a restricted-compliant pod was rejected")?;
    Ok(())
}

#[tokio::test]
async fn real_kubectl_lists_ready_nodes() -> Result<()> {
    let cluster = cluster::shared();
    let out = cluster
        .kubectl()?
        .args(["get", "nodes", "--no-headers"])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kubectl get nodes failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(!lines.is_empty(), "kubectl listed no nodes");
    for line in &lines {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols.get(1), Some(&"Ready"), "node not Ready: {line}");
    }
    if std::env::var_os(cluster::KUBECONFIG_ENV).is_none() {
        assert_eq!(lines.len(), 3, "default shape has 3 nodes:\n{stdout}");
    }
    Ok(())
}
