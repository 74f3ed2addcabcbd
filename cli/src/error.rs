//! Every error this tool raises, and its exit code: usage problems and rejected
//! configurations (2), what did not become ready or is held by another writer (1), and
//! cluster errors (3), which are said so a person can act on them: what failed (the object,
//! from the error's context), where (the kubeconfig context and server), why in words (never
//! a debug dump), and what to do next. Every write of this tool is idempotent, so a failed
//! run loses nothing: running it again resumes, and the message says so.

use std::fmt::Write as _;
use std::net::SocketAddr;

use voice_core::Errors;

/// Exit codes, as documented in the README.
pub(crate) mod exit {
    /// Success.
    pub(crate) const OK: u8 = 0;
    /// Not ready, or differences found.
    pub(crate) const NOT_READY: u8 = 1;
    /// Bad input: nothing was applied.
    pub(crate) const BAD_INPUT: u8 = 2;
    /// The cluster could not be reached or refused a request.
    pub(crate) const CLUSTER: u8 = 3;
}

/// A usage problem found after parsing (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Usage(pub String);

/// The configuration was rejected: every problem, with the file name for messages.
#[derive(Debug)]
pub(crate) struct BadInput {
    /// File name used in messages.
    pub file: String,
    /// Problems.
    pub errors: Errors,
    /// The `--set` flags of the run, so a problem they made names its flag.
    pub sets: Vec<String>,
}

impl BadInput {
    /// The `--set` flag that wrote the field of a problem, if one did (the last one wins).
    pub(crate) fn flag(&self, d: &voice_core::Diagnostic) -> Option<String> {
        self.sets
            .iter()
            .rev()
            .find(|s| {
                let key = s.split_once('=').map_or(s.as_str(), |(k, _)| k).trim();
                !key.is_empty()
                    && (d.path == key
                        || d.path.starts_with(&format!("{key}."))
                        || d.path.starts_with(&format!("{key}["))
                        || (!d.path.is_empty() && key.starts_with(&format!("{}.", d.path))))
            })
            .map(|s| format!("--set {s}"))
    }

    /// The problems as JSON objects: `path`, `line`, `column`, `message` and `source` (the
    /// file, or the `--set` flag that made the problem).
    pub(crate) fn problems(&self) -> Vec<serde_json::Value> {
        self.errors
            .0
            .iter()
            .map(|d| {
                let flag = self.flag(d);
                serde_json::json!({
                    "path": d.path,
                    "line": if flag.is_some() { None } else { d.line },
                    "column": if flag.is_some() { None } else { d.column },
                    "message": d.message,
                    "source": flag.unwrap_or_else(|| self.file.clone()),
                })
            })
            .collect()
    }
}

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.errors.0.len();
        let flags: Vec<Option<String>> = self.errors.0.iter().map(|d| self.flag(d)).collect();
        let from_flags = flags.iter().any(Option::is_some);
        let place = match (self.file.as_str(), from_flags) {
            ("(profile)", true) if flags.iter().all(Option::is_some) => "the command line".into(),
            ("(profile)", _) => "the configuration".into(),
            (file, true) => format!("{file} and the command line"),
            (file, false) => file.to_string(),
        };
        writeln!(
            f,
            "{n} problem{} in {place}:",
            if n == 1 { "" } else { "s" }
        )?;
        for (d, flag) in self.errors.0.iter().zip(&flags) {
            let path = if d.path.is_empty() {
                "(document)"
            } else {
                &d.path
            };
            match (flag, d.line, d.column) {
                (Some(flag), _, _) => writeln!(f, "  {flag}: {path}: {}", d.message)?,
                (None, Some(l), Some(c)) => {
                    writeln!(f, "  {}:{l}:{c}: {path}: {}", self.file, d.message)?
                }
                _ => writeln!(f, "  {path}: {}", d.message)?,
            }
        }
        write!(f, "nothing was applied; fix the fields above and run again")
    }
}

impl std::error::Error for BadInput {}

/// A wave did not become ready in time, or a Job failed: not a usage or cluster error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct NotReady(pub String);

/// A program or stream in the cluster failed: an exec'd command, a log stream (exit 3, a
/// cluster error like a failed API request).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Remote(pub String);

/// Another writer holds the lock (exit 1, nothing was applied).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Locked(pub String);

/// No pod behind a selector is ready (yet).
#[derive(Debug, thiserror::Error)]
#[error(
    "no ready pod in namespace {namespace} matches {selector} ({matched} pod(s) match, none ready); see `kubectl voice status`, or `kubectl get pods -n {namespace} -l {selector}`"
)]
pub(crate) struct NoReadyPod {
    /// `namespace`.
    pub namespace: String,
    /// The selector.
    pub selector: String,
    /// How many pods matched at all.
    pub matched: usize,
}

/// The local port is taken.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot listen on {0}: {1}; pass another --port (0 picks a free one), or stop what holds it (`ss -ltnp 'sport = :{port}'`)",
    port = .0.port()
)]
pub(crate) struct PortBusy(pub SocketAddr, pub std::io::Error);

/// One failed check, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure(pub String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a cluster request failed and what to do, from the API server's status.
pub(crate) struct Explained {
    /// The reason in words.
    pub reason: String,
    /// The next step.
    pub next: String,
}

/// An error in one line of words, for a report row or a note: a cluster error as
/// [`explain`] says it (never the API's debug dump), with the context it was met in; else
/// the chain.
pub(crate) fn in_words(e: &anyhow::Error) -> String {
    let Some(kube) = e.chain().find_map(|c| c.downcast_ref::<kube::Error>()) else {
        return format!("{e:#}");
    };
    let contexts: Vec<String> = e
        .chain()
        .take_while(|c| c.downcast_ref::<kube::Error>().is_none())
        .map(ToString::to_string)
        .collect();
    let reason = explain(kube).reason;
    if contexts.is_empty() {
        reason
    } else {
        format!("{}: {reason}", contexts.join(": "))
    }
}

/// Explains a kube-rs error.
pub(crate) fn explain(e: &kube::Error) -> Explained {
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
pub(crate) fn render(e: &anyhow::Error, writes: bool, server: Option<&str>) -> Option<String> {
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
    if let Some(server) = server {
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

/// The exit code of an error: 2 for bad input (a usage problem, a rejected configuration),
/// 1 for what is not ready or locked, 3 for the cluster (a request, or a command or stream
/// in a pod), 2 for anything else; 0 when the
/// reader of the output went away (a broken pipe).
pub(crate) fn exit_code(e: &anyhow::Error) -> u8 {
    if broken_pipe(e) {
        exit::OK
    } else if e.downcast_ref::<BadInput>().is_some() || e.downcast_ref::<Usage>().is_some() {
        exit::BAD_INPUT
    } else if e.downcast_ref::<NotReady>().is_some() || e.downcast_ref::<Locked>().is_some() {
        exit::NOT_READY
    } else if e
        .chain()
        .any(|c| c.downcast_ref::<kube::Error>().is_some() || c.downcast_ref::<Remote>().is_some())
    {
        exit::CLUSTER
    } else {
        exit::BAD_INPUT
    }
}

/// What to print after `error: ` (nothing for a broken pipe): a rejected configuration's
/// problems, a cluster error in words ([`render`], with the `server` the client connected
/// to), else the error's chain.
pub(crate) fn message(e: &anyhow::Error, writes: bool, server: Option<&str>) -> Option<String> {
    if broken_pipe(e) {
        return None;
    }
    Some(
        match (e.downcast_ref::<BadInput>(), render(e, writes, server)) {
            (Some(bad), _) => bad.to_string(),
            (None, Some(cluster)) => cluster,
            (None, None) => format!("{e:#}"),
        },
    )
}

/// The reader of the output went away (`… | head`): not a failure.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The errors with a message of their own say it in words and the next step.
    #[test]
    fn pod_and_port_errors_say_what_to_do() {
        let pod = NoReadyPod {
            namespace: "ns".into(),
            selector: "app=x".into(),
            matched: 2,
        };
        assert_eq!(
            pod.to_string(),
            "no ready pod in namespace ns matches app=x (2 pod(s) match, none ready); see `kubectl voice status`, or `kubectl get pods -n ns -l app=x`"
        );
        let busy = PortBusy(
            "127.0.0.1:8080".parse().expect("an address"),
            std::io::Error::from(std::io::ErrorKind::AddrInUse),
        );
        assert_eq!(
            busy.to_string(),
            "cannot listen on 127.0.0.1:8080: address in use; pass another --port (0 picks a free one), or stop what holds it (`ss -ltnp 'sport = :8080'`)"
        );
        assert_eq!(Usage("say more".into()).to_string(), "say more");
    }

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
        let text = render(&e, true, None).unwrap();
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
        assert!(!render(&e, false, None).unwrap().contains("nothing is lost"));
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
