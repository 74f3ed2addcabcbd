//! What `voice.yaml` adds to a component's pods and ServiceAccount beside the catalog's
//! facts: the ServiceAccount's annotations (workload identity), the pods' labels and
//! annotations, their PriorityClass and the image pull Secrets (the extra environment is in
//! the catalog's containers already).
//!
//! Every component runs as its own ServiceAccount, so an IAM role annotated on one reaches
//! exactly that component's pods. A pod takes its workload identity when it is created (the
//! cloud's admission webhook or metadata server reads the ServiceAccount then), so the pods
//! carry a digest of the annotations, `checksum/service-account`, and roll when they change.

use sha2::{Digest, Sha256};

use super::k8s::{self as core, Map, Str, owned};
use crate::catalog::{Component, Stack};

/// The pod-template annotation carrying the digest of the ServiceAccount's annotations.
pub const SERVICE_ACCOUNT_CHECKSUM: &str = "checksum/service-account";

/// The ServiceAccount's annotations, if it has any.
pub fn service_account_annotations(c: &Component) -> Option<Map> {
    let mut m = Map::new();
    for (k, v) in c.pods.service_account_annotations() {
        m.insert(owned(k), owned(v));
    }
    (!m.is_empty()).then_some(m)
}

/// The digest of the ServiceAccount's annotations (keys and values length-prefixed, in order).
fn digest(c: &Component) -> Option<String> {
    let mut h = Sha256::new();
    let mut any = false;
    for (k, v) in c.pods.service_account_annotations() {
        for s in [k, v] {
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
        any = true;
    }
    any.then(|| {
        h.finalize()
            .iter()
            .fold(String::with_capacity(64), |mut s, b| {
                use std::fmt::Write;
                let _ = write!(s, "{b:02x}");
                s
            })
    })
}

/// Adds the component's labels, annotations, PriorityClass and the rollout's image pull
/// Secrets to a pod template.
pub(super) fn pod(stack: &Stack, c: &Component, t: &mut core::PodTemplateSpec) {
    let meta = t.metadata.get_or_insert_with(Default::default);
    let labels = meta.labels.get_or_insert_with(Default::default);
    for (k, v) in c.pods.labels() {
        labels.insert(owned(k), owned(v));
    }
    let sum = digest(c);
    if c.pods.annotations().next().is_some() || sum.is_some() {
        let annotations = meta.annotations.get_or_insert_with(Default::default);
        for (k, v) in c.pods.annotations() {
            annotations.insert(owned(k), owned(v));
        }
        if let Some(sum) = sum {
            annotations.insert(SERVICE_ACCOUNT_CHECKSUM.into(), Str::from(sum));
        }
    }
    let Some(spec) = t.spec.as_mut() else { return };
    if let Some(p) = &c.pods.priority_class_name {
        spec.priority_class_name = Some(owned(p));
    }
    let secrets = &stack.config.images.pull_secrets;
    if !secrets.is_empty() {
        spec.image_pull_secrets = Some(
            secrets
                .iter()
                .map(|n| core::LocalObjectReference { name: owned(n) })
                .collect(),
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::config::identity::{reserved_annotation, reserved_label};
    use crate::config::{Input, ProfileName};

    const ROLE: &str = "arn:aws:iam::111122223333:role/posthog-s3";

    /// Every workload's pod template and ServiceAccount of a configuration, by kind and name.
    fn rendered(yaml: &str, profile: ProfileName) -> (crate::Stack, Vec<(String, String, Value)>) {
        let stack = crate::load(&Input {
            yaml,
            profile: Some(profile),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let objects = super::super::render(&stack)
            .into_iter()
            .filter(|o| {
                matches!(
                    o.kind.as_str(),
                    "Deployment" | "StatefulSet" | "Job" | "ServiceAccount" | "NetworkPolicy"
                )
            })
            .map(|o| (o.kind.clone(), o.component.clone(), o.value().into_owned()))
            .collect();
        (stack, objects)
    }

    fn templates(objects: &[(String, String, Value)]) -> Vec<(&str, &Value)> {
        objects
            .iter()
            .filter(|(k, _, _)| matches!(k.as_str(), "Deployment" | "StatefulSet" | "Job"))
            .map(|(_, c, v)| (c.as_str(), &v["spec"]["template"]))
            .collect()
    }

    /// The global settings reach every pod of every workload kind, a component's refine them
    /// for its pods alone, and an IAM role reaches exactly the pods of its component.
    #[test]
    fn settings_reach_every_pod_and_a_role_only_its_component() {
        let yaml = format!(
            "images:\n  pullSecrets: [regcred, mirror]\npodLabels: {{team: voice}}\npodAnnotations: {{cost-center: \"42\"}}\nenv:\n  - {{name: TZ, value: UTC}}\npriorityClassName: standard\nvoiceAssistant:\n  services:\n    agent-engine: {{blueGreen: true}}\ncomponents:\n  postgres:\n    engineUpgrade: {{statefulSet: postgres-17, previous: {{statefulSet: postgres, image: \"postgres:15.12-alpine\"}}}}\n    image: postgres:17.6-alpine\n  posthog-web:\n    serviceAccount:\n      annotations: {{eks.amazonaws.com/role-arn: \"{ROLE}\"}}\n    podLabels: {{team: analytics}}\n    env:\n      - name: EXTRA\n        secretKeyRef: {{name: extra, key: token}}\n    priorityClassName: critical\n"
        );
        let (stack, objects) = rendered(&yaml, ProfileName::Production);
        let pods = templates(&objects);
        assert!(pods.len() > 40, "{}", pods.len());
        for kind in ["Deployment", "StatefulSet", "Job"] {
            assert!(objects.iter().any(|(k, _, _)| k == kind), "{kind}");
        }
        // Both colours of a blue-green service and both StatefulSets of an engine upgrade.
        assert_eq!(pods.iter().filter(|(c, _)| *c == "agent-engine").count(), 2);
        assert_eq!(pods.iter().filter(|(c, _)| *c == "postgres").count(), 2);
        for (c, t) in &pods {
            let spec = &t["spec"];
            assert_eq!(
                spec["imagePullSecrets"],
                serde_json::json!([{"name": "regcred"}, {"name": "mirror"}]),
                "{c}"
            );
            assert_eq!(t["metadata"]["annotations"]["cost-center"], "42", "{c}");
            for k in spec["containers"]
                .as_array()
                .into_iter()
                .chain(spec["initContainers"].as_array())
                .flatten()
            {
                let env = k["env"].as_array().expect("env");
                assert!(
                    env.iter().any(|e| e["name"] == "TZ" && e["value"] == "UTC"),
                    "{c}/{}",
                    k["name"]
                );
            }
            let web = *c == "posthog-web";
            let role = t["metadata"]["annotations"].get(super::SERVICE_ACCOUNT_CHECKSUM);
            assert_eq!(role.is_some(), web, "{c}");
            assert_eq!(
                t["metadata"]["labels"]["team"],
                if web { "analytics" } else { "voice" },
                "{c}"
            );
            assert_eq!(
                spec["priorityClassName"],
                if web { "critical" } else { "standard" },
                "{c}"
            );
            assert_eq!(spec["serviceAccountName"], *c);
            let extra = spec["containers"][0]["env"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == "EXTRA")
                .cloned();
            assert_eq!(extra.is_some(), web, "{c}");
            if let Some(e) = extra {
                assert_eq!(
                    e["valueFrom"]["secretKeyRef"],
                    serde_json::json!({"name": "extra", "key": "token"})
                );
            }
        }
        // The role is on posthog-web's ServiceAccount alone, the one its pods run as.
        let with_role: Vec<&str> = objects
            .iter()
            .filter(|(k, _, v)| {
                k == "ServiceAccount"
                    && v["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == ROLE
            })
            .map(|(_, c, _)| c.as_str())
            .collect();
        assert_eq!(with_role, ["posthog-web"]);
        // Its NetworkPolicy lets it reach AWS STS.
        let web = stack.component("posthog-web").unwrap();
        assert!(
            web.external
                .iter()
                .any(|e| matches!(e, crate::catalog::External::Https(w) if w.contains("STS")))
        );
        let policy = objects
            .iter()
            .find(|(k, c, _)| k == "NetworkPolicy" && c == "posthog-web")
            .map(|(_, _, v)| v.to_string())
            .unwrap();
        assert!(policy.contains("\"port\":443"), "{policy}");
        // Without the settings, nothing of them is rendered.
        let (_, plain) = rendered("", ProfileName::Production);
        for (c, t) in templates(&plain) {
            assert!(t["spec"].get("imagePullSecrets").is_none(), "{c}");
            assert!(t["metadata"]["labels"].get("team").is_none(), "{c}");
        }
    }

    /// Every label kubectl-voice writes on a pod is refused in `podLabels` (the selectors use
    /// them), and every annotation it writes is refused in `podAnnotations`.
    #[test]
    fn the_render_writes_no_pod_label_or_annotation_a_user_may_set() {
        let extra = "voiceAssistant:\n  services:\n    agent-engine: {blueGreen: true}\nistio: {enabled: true}\ncomponents:\n  postgres:\n    engineUpgrade: {statefulSet: postgres-17, previous: {statefulSet: postgres, image: \"postgres:15.12-alpine\"}}\n    image: postgres:17.6-alpine\nserviceAccount:\n  annotations: {iam.gke.io/gcp-service-account: a@b.iam.gserviceaccount.com}\n";
        for p in crate::config::PROFILES {
            for yaml in ["", extra] {
                let (stack, objects) = rendered(yaml, p);
                for (c, t) in templates(&objects) {
                    let component = stack.component(c).unwrap();
                    for k in t["metadata"]["labels"].as_object().unwrap().keys() {
                        assert!(reserved_label(k).is_some(), "{c}: label {k}");
                    }
                    for k in t["metadata"]["annotations"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, _)| k)
                    {
                        let catalog = component.pod_annotations.iter().any(|(a, _)| a == k)
                            || (component.metrics.is_some() && k.starts_with("prometheus.io/"));
                        assert!(
                            reserved_annotation(k).is_some() || catalog,
                            "{c}: annotation {k}"
                        );
                    }
                }
            }
        }
    }
}
