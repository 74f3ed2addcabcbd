//! Waiting on readiness gates: each gate by a watch (kube-rs `await_condition`), a wave's
//! gates in parallel within its deadline, and on timeout the root cause of each gate still
//! unmet (a pod's scheduling failure, image pull, crash loop, an unbound claim).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod, ResourceQuota};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::runtime::wait::await_condition;
use kube::runtime::watcher;
use voice_core::plan::{Gate, Wave};
use voice_core::readiness;
use voice_core::render::Object;

use crate::error::NotReady;
use crate::progress::Progress;

/// A gate in words.
fn gate_name(g: &Gate) -> String {
    match g {
        Gate::DeploymentAvailable {
            namespace, name, ..
        } => format!("Deployment {namespace}/{name} available"),
        Gate::StatefulSetReady {
            namespace, name, ..
        } => format!("StatefulSet {namespace}/{name} ready"),
        Gate::JobComplete { namespace, name } => format!("Job {namespace}/{name} complete"),
        Gate::PvcBound { namespace, name } => {
            format!("PersistentVolumeClaim {namespace}/{name} bound")
        }
        Gate::ServiceEndpoints { namespace, name } => {
            format!("Service {namespace}/{name} has ready endpoints")
        }
        Gate::QuotaEnforced { namespace, name } => {
            format!("ResourceQuota {namespace}/{name} in force")
        }
        Gate::ExternalSecretReady { namespace, name } => {
            format!("ExternalSecret {namespace}/{name} synced")
        }
    }
}

/// The API of ExternalSecrets in a namespace.
fn external_secrets(client: &Client, namespace: &str) -> Api<DynamicObject> {
    use voice_core::render::external_secrets::{GROUP, VERSION};
    let gvk = GroupVersionKind::gvk(GROUP, VERSION, "ExternalSecret");
    Api::namespaced_with(client.clone(), namespace, &ApiResource::from_gvk(&gvk))
}

/// Waits for one gate with a watch.
pub(crate) async fn await_gate(client: &Client, g: &Gate) -> anyhow::Result<()> {
    // A watch that breaks (the API server restarted) is set up again; the wave's deadline
    // bounds the whole wait. A failed Job is not a broken watch: it fails at once.
    let mut attempt = 0;
    loop {
        match await_gate_once(client, g).await {
            Err(e) if e.downcast_ref::<NotReady>().is_none() => {
                attempt += 1;
                tokio::time::sleep(crate::retry::delay(attempt)).await;
            }
            done => return done,
        }
    }
}

async fn await_gate_once(client: &Client, g: &Gate) -> anyhow::Result<()> {
    match g {
        Gate::DeploymentAvailable {
            namespace, name, ..
        } => {
            let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
            await_condition(api, name, |d: Option<&Deployment>| {
                d.is_some_and(readiness::deployment_available)
            })
            .await?;
        }
        Gate::StatefulSetReady {
            namespace, name, ..
        } => {
            let api: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
            await_condition(api, name, |s: Option<&StatefulSet>| {
                s.is_some_and(readiness::statefulset_ready)
            })
            .await?;
        }
        Gate::JobComplete { namespace, name } => {
            let api: Api<Job> = Api::namespaced(client.clone(), namespace);
            let job = await_condition(api, name, |j: Option<&Job>| {
                j.is_some_and(|j| readiness::job_complete(j) || readiness::job_failed(j).is_some())
            })
            .await?;
            if let Some(why) = job.as_ref().and_then(readiness::job_failed) {
                anyhow::bail!(NotReady(format!("Job {namespace}/{name}: {why}")));
            }
        }
        Gate::QuotaEnforced { namespace, name } => {
            let api: Api<ResourceQuota> = Api::namespaced(client.clone(), namespace);
            await_condition(api, name, |q: Option<&ResourceQuota>| {
                q.is_some_and(readiness::quota_enforced)
            })
            .await?;
        }
        Gate::ExternalSecretReady { namespace, name } => {
            await_condition(
                external_secrets(client, namespace),
                name,
                |o: Option<&DynamicObject>| {
                    o.and_then(|o| serde_json::to_value(o).ok())
                        .is_some_and(|v| readiness::ready_condition(&v).is_ok())
                },
            )
            .await?;
        }
        Gate::PvcBound { namespace, name } => {
            let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
            await_condition(api, name, |p: Option<&PersistentVolumeClaim>| {
                p.is_some_and(readiness::pvc_bound)
            })
            .await?;
        }
        Gate::ServiceEndpoints { namespace, name } => {
            let api: Api<EndpointSlice> = Api::namespaced(client.clone(), namespace);
            let cfg =
                watcher::Config::default().labels(&format!("kubernetes.io/service-name={name}"));
            let mut slices: BTreeMap<String, EndpointSlice> = BTreeMap::new();
            let mut stream = watcher(api, cfg).boxed();
            while let Some(ev) = stream.try_next().await? {
                match ev {
                    watcher::Event::Apply(s) | watcher::Event::InitApply(s) => {
                        slices.insert(s.metadata.name.clone().unwrap_or_default(), s);
                    }
                    watcher::Event::Delete(s) => {
                        slices.remove(&s.metadata.name.clone().unwrap_or_default());
                    }
                    watcher::Event::Init => slices.clear(),
                    watcher::Event::InitDone => {}
                }
                if readiness::has_ready_endpoints(&slices.values().cloned().collect::<Vec<_>>()) {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// Why a gate's pods are not ready: pods of the component and the namespace's warnings.
async fn diagnose(client: &Client, objects: &[Object], g: &Gate) -> String {
    let (namespace, name) = match g {
        Gate::DeploymentAvailable {
            namespace, name, ..
        }
        | Gate::StatefulSetReady {
            namespace, name, ..
        }
        | Gate::JobComplete { namespace, name }
        | Gate::PvcBound { namespace, name }
        | Gate::ServiceEndpoints { namespace, name }
        | Gate::QuotaEnforced { namespace, name } => (namespace.clone(), name.clone()),
        Gate::ExternalSecretReady { namespace, name } => {
            return match external_secrets(client, namespace).get_opt(name).await {
                Ok(Some(o)) => match serde_json::to_value(&o) {
                    Ok(v) => readiness::ready_condition(&v).err().unwrap_or_default(),
                    Err(e) => e.to_string(),
                },
                Ok(None) => "it does not exist".into(),
                Err(e) => format!("reading it failed: {e}"),
            };
        }
    };
    let component = objects
        .iter()
        .find(|o| o.name == name && o.namespace.as_deref() == Some(&namespace))
        .map_or(name.clone(), |o| o.component.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let events: Api<Event> = Api::namespaced(client.clone(), &namespace);
    let pod_list = pods
        .list(&ListParams::default().labels(&format!("app.kubernetes.io/name={component}")))
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    let pod_names: BTreeSet<String> = pod_list
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    let ev: Vec<Event> = events
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    if let Gate::PvcBound { .. } = g {
        let ev: Vec<Event> = ev
            .into_iter()
            .filter(|e| about(e, &component, &name, &pod_names))
            .collect();
        if let Some(r) = readiness::diagnose(&[], &ev) {
            return r;
        }
        return format!(
            "claim {name} is not Bound (is there a default StorageClass or a provisioner?)"
        );
    }
    explain(&component, &name, &pod_list, &ev)
}

/// Whether an event is about the workload `name` of `component` or one of its pods.
fn about(e: &Event, component: &str, name: &str, pods: &BTreeSet<String>) -> bool {
    e.involved_object.name.as_ref().is_some_and(|n| {
        pods.contains(n)
            || n == name
            || n.starts_with(&format!("{component}-"))
            || n.ends_with(&format!("-{name}-0"))
    })
}

/// Why the workload `name` of `component` is not ready, from its pods (already selected by
/// the component's label) and the events of their namespace: the diagnosis install prints on
/// a timeout and `status` prints under a NotReady row.
pub(crate) fn explain(component: &str, name: &str, pods: &[Pod], events: &[Event]) -> String {
    let names: BTreeSet<String> = pods
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    let ev: Vec<Event> = events
        .iter()
        .filter(|e| about(e, component, name, &names))
        .cloned()
        .collect();
    readiness::diagnose(pods, &ev).unwrap_or_else(|| {
        if pods.is_empty() {
            format!("no pods of {component} exist yet")
        } else {
            "pods exist but are not ready yet".into()
        }
    })
}

/// A rejection that ends a wait at once ([`readiness::refused_creation`]) among the events of
/// the namespaces of the wave's workloads.
async fn rejected(
    client: &Client,
    wave: &Wave,
    since: k8s_openapi::jiff::Timestamp,
) -> Option<String> {
    let names: BTreeSet<(&str, &str)> = wave
        .gates
        .iter()
        .filter_map(|g| match g {
            Gate::DeploymentAvailable {
                namespace, name, ..
            }
            | Gate::StatefulSetReady {
                namespace, name, ..
            }
            | Gate::JobComplete { namespace, name } => Some((namespace.as_str(), name.as_str())),
            _ => None,
        })
        .collect();
    let namespaces: BTreeSet<&str> = names.iter().map(|(ns, _)| *ns).collect();
    for ns in namespaces {
        let events: Api<Event> = Api::namespaced(client.clone(), ns);
        let Ok(list) = events.list(&ListParams::default()).await else {
            continue;
        };
        let workloads: Vec<&str> = names
            .iter()
            .filter(|(n, _)| *n == ns)
            .map(|(_, w)| *w)
            .collect();
        if let Some(why) = readiness::refused_creation(&list.items, ns, &workloads, since) {
            return Some(why);
        }
    }
    None
}

/// Waits for a wave's gates by watches, within the deadline; on timeout names the root cause.
pub(crate) async fn await_wave(
    client: &Client,
    wave: &Wave,
    objects: &[Object],
    timeout: Duration,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    if wave.gates.is_empty() {
        return Ok(());
    }
    let pending: Arc<Mutex<BTreeSet<usize>>> =
        Arc::new(Mutex::new((0..wave.gates.len()).collect()));
    let total = wave.gates.len();
    let waits = futures::stream::iter(wave.gates.iter().enumerate())
        .map(|(i, g)| {
            let pending = pending.clone();
            async move {
                await_gate(client, g).await?;
                pending.lock().map(|mut p| p.remove(&i)).ok();
                Ok::<usize, anyhow::Error>(i)
            }
        })
        .buffer_unordered(64);
    let since = k8s_openapi::jiff::Timestamp::now();
    let run = async {
        let mut waits = std::pin::pin!(waits);
        let mut done = 0;
        // Every ten seconds: a progress line (the spinner's message on a terminal, a plain line
        // otherwise), and a look for a rejection no wait would outlast.
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        tick.tick().await;
        loop {
            tokio::select! {
                r = waits.next() => match r {
                    Some(r) => {
                        r?;
                        done += 1;
                        progress.update(&format!(
                            "wave {} ({}): {done}/{total} gates ready",
                            wave.index, wave.name
                        ));
                    }
                    None => break,
                },
                _ = tick.tick() => {
                    if let Some(why) = rejected(client, wave, since).await {
                        anyhow::bail!(NotReady(format!(
                            "wave {} ({}): {why}; the wait ends here, as no wait would outlast it",
                            wave.index, wave.name
                        )));
                    }
                    let waiting = pending
                        .lock()
                        .ok()
                        .and_then(|p| p.iter().next().map(|i| gate_name(&wave.gates[*i])));
                    progress.update(&format!(
                        "wave {} ({}): {done}/{total} gates ready{}",
                        wave.index,
                        wave.name,
                        waiting.map(|g| format!("; waiting on {g}")).unwrap_or_default()
                    ));
                }
            }
        }
        Ok::<(), anyhow::Error>(())
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(r) => r,
        Err(_) => {
            let left: Vec<usize> = pending
                .lock()
                .map(|p| p.iter().copied().collect())
                .unwrap_or_default();
            let mut lines = Vec::new();
            for i in left.iter().take(8) {
                let g = &wave.gates[*i];
                lines.push(format!(
                    "  {}: {}",
                    gate_name(g),
                    diagnose(client, objects, g).await
                ));
            }
            if left.len() > 8 {
                lines.push(format!("  … and {} more", left.len() - 8));
            }
            anyhow::bail!(NotReady(format!(
                "wave {} ({}) not ready after {}s; {} of {total} gates unmet:\n{}",
                wave.index,
                wave.name,
                timeout.as_secs(),
                left.len(),
                lines.join("\n")
            )))
        }
    }
}
