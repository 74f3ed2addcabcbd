//! Readiness predicates for the plan's gates, and the diagnosis of why a gate is not met.
//!
//! Pure functions over typed objects, as kube-runtime's conditions are: the CLI drives them
//! from watches; tests feed them inline YAML.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The Ready condition of a custom resource (an ExternalSecret: reasons `SecretSynced`,
/// `SecretSyncedError`, … in `apis/externalsecrets/v1/externalsecret_types.go@ec12919` of
/// external-secrets/external-secrets): `Ok(())` when True and seen for the current
/// generation, else why not in words.
pub fn ready_condition(object: &serde_json::Value) -> Result<(), String> {
    let conditions = object
        .pointer("/status/conditions")
        .and_then(serde_json::Value::as_array);
    let ready = conditions
        .into_iter()
        .flatten()
        .find(|c| c.get("type").and_then(serde_json::Value::as_str) == Some("Ready"));
    let Some(ready) = ready else {
        return Err("no Ready condition yet (is its operator running?)".into());
    };
    let s = |k: &str| {
        ready
            .get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
    };
    let generation = object
        .pointer("/metadata/generation")
        .and_then(serde_json::Value::as_i64);
    let seen = object
        .pointer("/status/observedGeneration")
        .and_then(serde_json::Value::as_i64);
    match (s("status"), generation, seen) {
        ("True", Some(g), Some(o)) if o < g => {
            Err("its operator has not seen the latest spec yet".into())
        }
        ("True", ..) => Ok(()),
        (status, ..) => Err(format!(
            "Ready is {} ({}): {}",
            if status.is_empty() { "unknown" } else { status },
            s("reason"),
            s("message")
        )),
    }
}

/// The Deployment's rollout is complete: the controller saw the latest spec and every
/// desired replica (as the HPA may have changed it) is updated and available.
pub fn deployment_available(d: &Deployment) -> bool {
    let (Some(spec), Some(st)) = (&d.spec, &d.status) else {
        return false;
    };
    let want = spec.replicas.unwrap_or(1);
    let generation_seen = st.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0);
    generation_seen
        && st.updated_replicas.unwrap_or(0) >= want
        && st.available_replicas.unwrap_or(0) >= want
        && st.replicas.unwrap_or(0) <= st.updated_replicas.unwrap_or(0)
}

/// The StatefulSet has every desired replica ready on the latest spec: the controller saw
/// it, every pod runs the update revision and is ready, and a rolling update has finished
/// (the current revision is the update revision, which the controller sets only then), so
/// a pod still serving the old template while its successor waits does not count.
pub fn statefulset_ready(s: &StatefulSet) -> bool {
    let (Some(spec), Some(st)) = (&s.spec, &s.status) else {
        return false;
    };
    let want = spec.replicas.unwrap_or(1);
    let rolled = match (&st.current_revision, &st.update_revision) {
        (Some(current), Some(update)) => current == update,
        _ => true,
    };
    st.observed_generation.unwrap_or(0) >= s.metadata.generation.unwrap_or(0)
        && st.ready_replicas.unwrap_or(0) >= want
        && (want == 0 || st.updated_replicas.is_none_or(|u| u >= want))
        && rolled
}

/// The Job has succeeded.
pub fn job_complete(j: &Job) -> bool {
    j.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Complete" && c.status == "True")
        })
}

/// The Job has failed for good.
pub fn job_failed(j: &Job) -> Option<String> {
    let c = j
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Failed" && c.status == "True")?;
    Some(format!(
        "Job failed: {}{}",
        c.reason.clone().unwrap_or_default(),
        c.message
            .as_ref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default()
    ))
}

/// The quota controller has taken up the ResourceQuota's limits (`status.hard` equals
/// `spec.hard`), so the API server admits pods against them.
pub fn quota_enforced(q: &k8s_openapi::api::core::v1::ResourceQuota) -> bool {
    let spec = q.spec.as_ref().and_then(|s| s.hard.as_ref());
    let status = q.status.as_ref().and_then(|s| s.hard.as_ref());
    match (spec, status) {
        (Some(a), Some(b)) => a == b,
        (None, _) => true,
        (Some(_), None) => false,
    }
}

/// The claim is Bound.
pub fn pvc_bound(p: &PersistentVolumeClaim) -> bool {
    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")
}

/// At least one slice of the Service has a ready endpoint.
pub fn has_ready_endpoints(slices: &[EndpointSlice]) -> bool {
    slices.iter().any(|s| {
        s.endpoints
            .iter()
            .any(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false))
    })
}

/// The most likely reason pods are not ready: a scheduling failure, an image pull error, a
/// crash loop, an unbound claim, in that order; `None` when nothing stands out.
pub fn diagnose(pods: &[Pod], events: &[Event]) -> Option<String> {
    for p in pods {
        let name = p.metadata.name.clone().unwrap_or_default();
        let statuses = p.status.iter().flat_map(|s| {
            s.container_statuses
                .iter()
                .flatten()
                .chain(s.init_container_statuses.iter().flatten())
        });
        for cs in statuses {
            if let Some(w) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) {
                let reason = w.reason.clone().unwrap_or_default();
                if matches!(
                    reason.as_str(),
                    "ImagePullBackOff"
                        | "ErrImagePull"
                        | "CrashLoopBackOff"
                        | "CreateContainerConfigError"
                        | "InvalidImageName"
                ) {
                    return Some(format!(
                        "pod {name}: container {} is {reason}{}",
                        cs.name,
                        w.message
                            .as_ref()
                            .map(|m| format!(": {m}"))
                            .unwrap_or_default()
                    ));
                }
            }
        }
    }
    // An event about an earlier pod of the same name (a StatefulSet's pod before a restart)
    // says nothing of the pod that waits now.
    let stale = |e: &Event| {
        let o = &e.involved_object;
        o.kind.as_deref() == Some("Pod")
            && o.uid.is_some()
            && pods.iter().any(|p| {
                p.metadata.name == o.name && p.metadata.uid.is_some() && p.metadata.uid != o.uid
            })
    };
    let mut warnings: Vec<&Event> = events
        .iter()
        .filter(|e| e.type_.as_deref() == Some("Warning") && !stale(e))
        .collect();
    // The newest first: what holds the pod now.
    let when = |e: &Event| {
        e.last_timestamp
            .as_ref()
            .map(|t| t.0)
            .or_else(|| e.event_time.as_ref().map(|t| t.0))
    };
    warnings.sort_by_key(|e| std::cmp::Reverse((when(e), e.count.unwrap_or(1))));
    for reason in [
        "FailedScheduling",
        "FailedMount",
        "FailedAttachVolume",
        "ProvisioningFailed",
        "FailedCreate",
        "BackOff",
        "Failed",
    ] {
        if let Some(e) = warnings
            .iter()
            .find(|e| e.reason.as_deref() == Some(reason))
        {
            let obj = format!(
                "{} {}",
                e.involved_object
                    .kind
                    .clone()
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
                e.involved_object.name.clone().unwrap_or_default()
            );
            return Some(format!(
                "{obj}: {reason}: {}",
                e.message.clone().unwrap_or_default().trim()
            ));
        }
    }
    pods.iter()
        .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending"))
        .map(|p| {
            format!(
                "pod {} is Pending",
                p.metadata.name.clone().unwrap_or_default()
            )
        })
}

/// The refusal that ends a wait at once: a `FailedCreate` warning of `namespace` since
/// `since` about one of `workloads` (or its ReplicaSets and pods, named after it) that a ResourceQuota, an
/// admission webhook or Pod Security refused, in words; no wait outlasts it.
pub fn refused_creation(
    events: &[Event],
    namespace: &str,
    workloads: &[&str],
    since: k8s_openapi::jiff::Timestamp,
) -> Option<String> {
    events.iter().find_map(|e| {
        let when = e
            .last_timestamp
            .as_ref()
            .map(|t| t.0)
            .or_else(|| e.event_time.as_ref().map(|t| t.0));
        let message = e.message.as_deref().unwrap_or_default();
        let object = e.involved_object.name.as_deref().unwrap_or_default();
        let ours = workloads
            .iter()
            .any(|w| object == *w || object.starts_with(&format!("{w}-")));
        let refusal = message.contains("exceeded quota")
            || message.contains("admission webhook")
            || message.contains("violates PodSecurity");
        (e.type_.as_deref() == Some("Warning")
            && e.reason.as_deref() == Some("FailedCreate")
            && when.is_some_and(|t| t >= since)
            && ours
            && refusal)
            .then(|| {
                let kind = e.involved_object.kind.as_deref().unwrap_or_default();
                format!("{kind} {namespace}/{object} may not create its pods: {message}")
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from<T: serde::de::DeserializeOwned>(yaml: &str) -> T {
        serde_json::from_value(crate::config::yaml::parse(yaml).unwrap().value).unwrap()
    }

    #[test]
    fn deployments() {
        let ready: Deployment = from(
            "metadata: {name: web, generation: 2}\nspec: {replicas: 2, selector: {}, template: {}}\nstatus: {observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2}\n",
        );
        assert!(deployment_available(&ready));
        let rolling: Deployment = from(
            "metadata: {name: web, generation: 3}\nspec: {replicas: 2, selector: {}, template: {}}\nstatus: {observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2}\n",
        );
        assert!(!deployment_available(&rolling));
        let short: Deployment = from(
            "metadata: {name: web, generation: 1}\nspec: {replicas: 3, selector: {}, template: {}}\nstatus: {observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 1}\n",
        );
        assert!(!deployment_available(&short));
    }

    #[test]
    fn statefulsets_jobs_and_claims() {
        let s: StatefulSet = from(
            "metadata: {name: pg, generation: 1}\nspec: {replicas: 1, selector: {}, template: {}, serviceName: pg}\nstatus: {observedGeneration: 1, replicas: 1, readyReplicas: 1}\n",
        );
        assert!(statefulset_ready(&s));
        // A restart: the old pod is still ready, its successor is not there yet.
        let rolling: StatefulSet = from(
            "metadata: {name: pg, generation: 2}\nspec: {replicas: 1, selector: {}, template: {}, serviceName: pg}\nstatus: {observedGeneration: 2, replicas: 1, readyReplicas: 1, updatedReplicas: 0, currentRevision: pg-a, updateRevision: pg-b}\n",
        );
        assert!(!statefulset_ready(&rolling));
        let done: StatefulSet = from(
            "metadata: {name: pg, generation: 2}\nspec: {replicas: 1, selector: {}, template: {}, serviceName: pg}\nstatus: {observedGeneration: 2, replicas: 1, readyReplicas: 1, updatedReplicas: 1, currentRevision: pg-b, updateRevision: pg-b}\n",
        );
        assert!(statefulset_ready(&done));
        let quorum: StatefulSet = from(
            "metadata: {name: kafka, generation: 2}\nspec: {replicas: 3, selector: {}, template: {}, serviceName: kafka}\nstatus: {observedGeneration: 2, replicas: 3, readyReplicas: 3, updatedReplicas: 1}\n",
        );
        assert!(!statefulset_ready(&quorum));
        let j: Job = from(
            "metadata: {name: m}\nstatus: {conditions: [{type: Complete, status: \"True\"}]}\n",
        );
        assert!(job_complete(&j));
        let f: Job = from(
            "metadata: {name: m}\nstatus: {conditions: [{type: Failed, status: \"True\", reason: BackoffLimitExceeded}]}\n",
        );
        assert!(!job_complete(&f));
        assert!(job_failed(&f).unwrap().contains("BackoffLimitExceeded"));
        let p: PersistentVolumeClaim =
            from("metadata: {name: data-pg-0}\nstatus: {phase: Pending}\n");
        assert!(!pvc_bound(&p));
    }

    #[test]
    fn a_quota_refusal_is_found_for_the_waited_workloads_only() {
        let ev: Event = from(
            "metadata: {name: e}\ninvolvedObject: {kind: StatefulSet, name: redis}\ntype: Warning\nreason: FailedCreate\nmessage: 'pods \"redis-0\" is forbidden: exceeded quota: no-pods'\nlastTimestamp: '2026-01-01T00:00:09Z'\n",
        );
        let since: k8s_openapi::jiff::Timestamp = "2026-01-01T00:00:05Z".parse().unwrap();
        assert_eq!(
            refused_creation(std::slice::from_ref(&ev), "infra", &["redis"], since).unwrap(),
            "StatefulSet infra/redis may not create its pods: pods \"redis-0\" is forbidden: exceeded quota: no-pods"
        );
        assert!(
            refused_creation(std::slice::from_ref(&ev), "infra", &["postgres"], since).is_none()
        );
        let later: k8s_openapi::jiff::Timestamp = "2026-01-01T00:00:10Z".parse().unwrap();
        assert!(refused_creation(&[ev], "infra", &["redis"], later).is_none());
    }

    #[test]
    fn diagnosis_names_the_root_cause() {
        let pod: Pod = from(
            "metadata: {name: web-1}\nstatus:\n  phase: Pending\n  containerStatuses:\n  - {name: web, image: x, imageID: '', ready: false, restartCount: 0, state: {waiting: {reason: ImagePullBackOff, message: 'pull access denied'}}}\n",
        );
        assert_eq!(
            diagnose(&[pod], &[]).unwrap(),
            "pod web-1: container web is ImagePullBackOff: pull access denied"
        );
        let pending: Pod = from("metadata: {name: web-2}\nstatus: {phase: Pending}\n");
        let ev: Event = from(
            "metadata: {name: e}\ninvolvedObject: {kind: Pod, name: web-2}\ntype: Warning\nreason: FailedScheduling\nmessage: '0/3 nodes are available: 3 Insufficient cpu.'\n",
        );
        assert_eq!(
            diagnose(std::slice::from_ref(&pending), &[ev]).unwrap(),
            "pod web-2: FailedScheduling: 0/3 nodes are available: 3 Insufficient cpu."
        );
        assert_eq!(diagnose(&[pending], &[]).unwrap(), "pod web-2 is Pending");
        // A restarted StatefulSet pod: the event of its predecessor (another uid) and older
        // events give way to what holds the pod now.
        let now: Pod = from("metadata: {name: pg-0, uid: b}\nstatus: {phase: Pending}\n");
        let old: Event = from(
            "metadata: {name: e1}\ninvolvedObject: {kind: Pod, name: pg-0, uid: a}\ntype: Warning\nreason: FailedScheduling\nmessage: 'unbound immediate PersistentVolumeClaims'\nlastTimestamp: '2026-01-01T00:00:09Z'\n",
        );
        let older: Event = from(
            "metadata: {name: e2}\ninvolvedObject: {kind: Pod, name: pg-0, uid: b}\ntype: Warning\nreason: FailedScheduling\nmessage: 'no nodes yet'\nlastTimestamp: '2026-01-01T00:00:01Z'\n",
        );
        let newest: Event = from(
            "metadata: {name: e3}\ninvolvedObject: {kind: Pod, name: pg-0, uid: b}\ntype: Warning\nreason: FailedScheduling\nmessage: '1 node(s) were unschedulable'\nlastTimestamp: '2026-01-01T00:00:05Z'\n",
        );
        assert_eq!(
            diagnose(&[now], &[old, older, newest]).unwrap(),
            "pod pg-0: FailedScheduling: 1 node(s) were unschedulable"
        );
    }
}
