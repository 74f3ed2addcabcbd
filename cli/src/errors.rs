//! Cluster errors a person can act on: what failed (the object, from the error's context),
//! where (the kubeconfig context and server), why in words (never a debug dump), and what to
//! do next. Every write of this tool is idempotent, so a failed run loses nothing: running it
//! again resumes, and the message says so.

use std::fmt::Write as _;

/// Why a cluster request failed and what to do, from the API server's status.
pub struct Explained {
    /// The reason in words.
    pub reason: String,
    /// The next step.
    pub next: String,
}

/// Explains a kube-rs error.
pub fn explain(e: &kube::Error) -> Explained {
    match e {
        kube::Error::Api(s) => status(s),
        kube::Error::UpgradeConnection(u) => upgrade(u),
        other => {
            let mut root: &dyn std::error::Error = other;
            while let Some(next) = root.source() {
                root = next;
            }
            Explained {
                reason: format!("the API server could not be reached: {root}"),
                next: "check that the cluster is running and that --kubeconfig/--context point at it (`kubectl cluster-info`)".into(),
            }
        }
    }
}

/// A refused WebSocket upgrade (exec, port-forward): the API server answers with a bare
/// status code, most often 403 for want of `get` and `create` on the subresource.
fn upgrade(u: &kube::client::UpgradeConnectionError) -> Explained {
    use kube::client::UpgradeConnectionError as U;
    match u {
        U::ProtocolSwitch(code) if code.as_u16() == 403 => Explained {
            reason: "forbidden: the API server refused the port-forward/exec upgrade (403)".into(),
            next: "ask for `get` and `create` on pods/portforward (and pods/exec) in that namespace; since Kubernetes 1.35 both verbs are needed (`kubectl auth can-i create pods/portforward -n NAMESPACE`)".into(),
        },
        U::ProtocolSwitch(code) => Explained {
            reason: format!("the API server refused the WebSocket upgrade ({code})"),
            next: "the server or a proxy in between may not support WebSocket upgrades (Kubernetes 1.29+ needed; HTTPS proxies can break them): try without the proxy".into(),
        },
        other => Explained {
            reason: format!("the WebSocket upgrade failed: {other}"),
            next: "check the connection to the API server and run again".into(),
        },
    }
}

fn status(s: &kube::core::Status) -> Explained {
    let message = s.message.clone();
    let causes: Vec<String> = s
        .details
        .as_ref()
        .map(|d| {
            d.causes
                .iter()
                .map(|c| {
                    if c.field.is_empty() {
                        c.message.clone()
                    } else {
                        format!("{}: {}", c.field, c.message)
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let (reason, next) = match (s.code, s.reason.as_str()) {
        _ if message.contains("admission webhook") => (
            format!("an admission webhook refused it: {message}"),
            "ask the webhook's owners what it expects, or change the configuration it objects to".to_string(),
        ),
        _ if message.contains("exceeded quota") => (
            format!("a ResourceQuota refused it: {message}"),
            "raise the namespace's quota, or lower the requests (components.<name>.resources)".into(),
        ),
        (404, _) if message.contains("namespaces \"") => (
            format!("not found: {message}"),
            "the namespace does not exist: an install without --only/--skip creates every namespace the configuration names".into(),
        ),
        (404, _) => (
            format!("not found: {message}"),
            "check the name and namespace (`kubectl voice status` lists what is installed)".into(),
        ),
        (403, _) if message.contains("pods/log") || message.contains("pods/portforward") => (
            format!("forbidden: {message}"),
            "ask for `get` and `create` on the subresource named above (pods/log, pods/portforward) in that namespace".into(),
        ),
        (403, _) => (
            format!("forbidden: {message}"),
            "ask for the permission named above; `kubectl voice check` lists every permission the plan needs".into(),
        ),
        (409, _) => (
            format!("conflict: {message}"),
            "another writer changed the object meanwhile: run again; if another tool manages the field, stop managing it there".into(),
        ),
        (422, _) => (
            if causes.is_empty() {
                format!("invalid: {message}")
            } else {
                format!("invalid: {}", causes.join("; "))
            },
            "the server rejects the field named above: fix its value in voice.yaml (or `--set`)".into(),
        ),
        (401, _) => (
            format!("unauthorized: {message}"),
            "the credentials of this kubeconfig context were refused: log in again".into(),
        ),
        (429 | 500..=599, _) => (
            format!("the API server is overloaded or failing ({}): {message}", s.code),
            "wait a moment and run again".into(),
        ),
        (code, reason) => (
            format!("{} ({code} {reason})", if message.is_empty() { "refused" } else { &message }),
            "see the message above".into(),
        ),
    };
    Explained { reason, next }
}

/// The whole message for an error whose chain holds a kube-rs error: the contexts (what
/// failed), the reason in words, the server, the next step, and, for a verb that `writes`,
/// that nothing is lost.
pub fn render(e: &anyhow::Error, writes: bool) -> Option<String> {
    let kube = e.chain().find_map(|c| c.downcast_ref::<kube::Error>())?;
    let contexts: Vec<String> = e
        .chain()
        .take_while(|c| c.downcast_ref::<kube::Error>().is_none())
        .map(ToString::to_string)
        .collect();
    let x = explain(kube);
    let mut out = String::new();
    if contexts.is_empty() {
        out.push_str(&x.reason);
    } else {
        let _ = write!(out, "{}: {}", contexts.join(": "), x.reason);
    }
    if let Some(server) = crate::cluster::server() {
        let _ = write!(out, "\n  server: {server}");
    }
    let _ = write!(out, "\n  next: {}", x.next);
    if writes {
        out.push_str(
            "\n  nothing is lost: what was applied stays, and running the command again resumes",
        );
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(
            serde_json::from_value(serde_json::json!({
                "status": "Failure", "code": code, "reason": reason, "message": message,
            }))
            .unwrap(),
        )
    }

    #[test]
    fn statuses_are_said_in_words_with_a_next_step() {
        let e = anyhow::Error::new(api(404, "NotFound", "namespaces \"x-app\" not found"))
            .context("applying ConfigMap/x-app/y");
        let text = render(&e, true).unwrap();
        assert!(
            text.starts_with(
                "applying ConfigMap/x-app/y: not found: namespaces \"x-app\" not found"
            ),
            "{text}"
        );
        assert!(
            text.contains("next: the namespace does not exist"),
            "{text}"
        );
        assert!(text.contains("nothing is lost"), "{text}");
        assert!(!text.contains("Status {"), "{text}");
        // A verb that only reads has nothing to lose.
        assert!(!render(&e, false).unwrap().contains("nothing is lost"));
        let forbidden = explain(&api(
            403,
            "Forbidden",
            "User \"dev\" cannot patch resource \"deployments\"",
        ));
        assert!(
            forbidden
                .reason
                .starts_with("forbidden: User \"dev\" cannot patch")
        );
        let quota = explain(&api(
            403,
            "Forbidden",
            "pods \"a\" is forbidden: exceeded quota: compute-quota",
        ));
        assert!(quota.reason.starts_with("a ResourceQuota refused it"));
        let hook = explain(&api(
            400,
            "BadRequest",
            "admission webhook \"v.example.com\" denied the request: no",
        ));
        assert!(hook.reason.starts_with("an admission webhook refused it"));
        let conflict = explain(&api(
            409,
            "Conflict",
            "Apply failed with 1 conflict: conflict with \"helm\": .spec.replicas",
        ));
        assert!(conflict.reason.contains("conflict with \"helm\""));
    }
}
