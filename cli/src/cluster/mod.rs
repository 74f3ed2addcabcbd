//! Talking to the cluster: the client from kubectl's flags, and the API resource of each
//! kind the plan renders (known statically, so applying needs no discovery round trips).
//! The modules below it do one thing each on the cluster: apply waves and wait for them,
//! the inventory of a rollout, secrets, prunes, StatefulSets, the history, the lock, pods,
//! port-forwards, health checks, exec streams, and what this user may write (`rights`).

pub(crate) mod apply;
pub(crate) mod forward;
pub(crate) mod health;
pub(crate) mod history;
pub(crate) mod inventory;
pub(crate) mod lock;
pub(crate) mod pods;
pub(crate) mod prune;
pub(crate) mod pull_secret;
pub(crate) mod rights;
pub(crate) mod secrets;
pub(crate) mod statefulsets;
pub(crate) mod streams;
pub(crate) mod wait;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use kube::api::{Api, DynamicObject};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::ApiResource;
use kube::{Client, Config};

use crate::args::ClusterArgs;

/// Connects with the flags, like kubectl.
pub(crate) async fn client(args: &ClusterArgs) -> anyhow::Result<Client> {
    let kc = kubeconfig(args)?;
    let opts = KubeConfigOptions {
        context: args.context.clone(),
        ..Default::default()
    };
    let mut cfg = Config::from_custom_kubeconfig(kc, &opts)
        .await
        .context("loading the kubeconfig context")?;
    if let Some(user) = &args.as_user {
        cfg.auth_info.impersonate = Some(user.clone());
    }
    cfg.connect_timeout = Some(args.request_timeout).filter(|t| !t.is_zero());
    let count = tower::util::MapRequestLayer::new(|req: http::Request<kube::client::Body>| {
        let watch = req
            .uri()
            .query()
            .is_some_and(|q| q.contains("watch=true") || q.contains("watch=1"));
        REQUESTS.fetch_add(1, Ordering::Relaxed);
        if watch {
            WATCHES.fetch_add(1, Ordering::Relaxed);
        }
        req
    });
    let server = format!(
        "context {} ({})",
        args.context
            .clone()
            .or_else(|| kc_context_name(&args.kubeconfig))
            .unwrap_or_else(|| "(current)".into()),
        cfg.cluster_url
    );
    let _ = SERVER.set(server);
    Ok(kube::client::ClientBuilder::try_from(cfg)
        .context("building the Kubernetes client")?
        .with_layer(&count)
        .with_layer(&tower::buffer::BufferLayer::new(1024))
        .with_layer(&tower::retry::RetryLayer::new(
            crate::retry::Transient::default(),
        ))
        .build())
}

/// Reads the kubeconfig and checks the context, as kubectl does; a problem is bad input
/// (exit 2), said once, and a context that is not there lists those that are.
fn kubeconfig(args: &ClusterArgs) -> anyhow::Result<Kubeconfig> {
    let source = match &args.kubeconfig {
        Some(p) => p.display().to_string(),
        None => std::env::var("KUBECONFIG")
            .ok()
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| "~/.kube/config".into()),
    };
    let read = match &args.kubeconfig {
        Some(p) => Kubeconfig::read_from(p),
        None => Kubeconfig::read(),
    };
    let kc = read.map_err(|e| {
        let mut root: &dyn std::error::Error = &e;
        while let Some(next) = root.source() {
            root = next;
        }
        crate::error::Usage(format!(
            "reading the kubeconfig {source}: {root}{}",
            if args.kubeconfig.is_none() {
                " (pass --kubeconfig or set KUBECONFIG)"
            } else {
                ""
            }
        ))
    })?;
    let names: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
    let available = || {
        if names.is_empty() {
            "it has no contexts".to_string()
        } else {
            format!("available: {}", names.join(", "))
        }
    };
    match (&args.context, &kc.current_context) {
        (Some(c), _) if !names.contains(&c.as_str()) => Err(crate::error::Usage(format!(
            "context `{c}` is not in the kubeconfig {source}; {}",
            available()
        ))
        .into()),
        (None, None) => Err(crate::error::Usage(format!(
            "the kubeconfig {source} has no current context; pass --context ({})",
            available()
        ))
        .into()),
        (None, Some(c)) if !names.contains(&c.as_str()) => Err(crate::error::Usage(format!(
            "the current context `{c}` of the kubeconfig {source} is not defined in it; pass --context ({})",
            available()
        ))
        .into()),
        _ => Ok(kc),
    }
}

/// The kubeconfig's current context, for messages.
fn kc_context_name(path: &Option<PathBuf>) -> Option<String> {
    let kc = match path {
        Some(p) => Kubeconfig::read_from(p).ok()?,
        None => Kubeconfig::read().ok()?,
    };
    kc.current_context
}

static SERVER: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The server this run talks to, `context NAME (URL)`, once connected.
pub(crate) fn server() -> Option<&'static str> {
    SERVER.get().map(String::as_str)
}

static REQUESTS: AtomicUsize = AtomicUsize::new(0);
static WATCHES: AtomicUsize = AtomicUsize::new(0);

/// API requests sent so far, and how many of them were watches (for `VOICE_API_STATS=1`).
pub(crate) fn request_counts() -> (usize, usize) {
    (
        REQUESTS.load(Ordering::Relaxed),
        WATCHES.load(Ordering::Relaxed),
    )
}

/// Kinds without a namespace.
pub(crate) fn cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace"
            | "PriorityClass"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "StorageClass"
            | "IngressClass"
            | "CustomResourceDefinition"
    )
}

/// The plural resource name of a kind.
pub(crate) fn plural(kind: &str) -> String {
    let lower = kind.to_lowercase();
    if let Some(stem) = lower
        .strip_suffix('y')
        .filter(|s| !s.ends_with(['a', 'e', 'o', 'u']))
    {
        format!("{stem}ies")
    } else if lower.ends_with('s') {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    }
}

/// The API resource of an apiVersion and kind.
pub(crate) fn api_resource(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: api_version.into(),
        kind: kind.into(),
        plural: plural(kind),
    }
}

/// A dynamic API for one object.
pub(crate) fn api_for(
    client: &Client,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    let ar = api_resource(api_version, kind);
    match namespace {
        Some(ns) if !cluster_scoped(kind) => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    }
}

/// `Kind.group` as ApplySet annotations write it (`Deployment.apps`, `Service`).
pub(crate) fn group_kind(api_version: &str, kind: &str) -> String {
    match api_version.split_once('/') {
        Some((group, _)) => format!("{kind}.{group}"),
        None => kind.to_string(),
    }
}

/// The group and version of an apiVersion (`apps/v1` → `("apps", "v1")`, `v1` → `("", "v1")`).
pub(crate) fn api_version_group(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

/// Whether an error is the API server's 404.
pub(crate) fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// Whether an error is the API server's 403.
pub(crate) fn is_forbidden(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 403)
}

/// Whether a listing fell back to the rollout's namespaces (set once per process).
static NAMESPACED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether some LIST of this run was done namespace by namespace, because the user may not
/// list across the cluster.
pub(crate) fn listed_by_namespace() -> bool {
    NAMESPACED.load(Ordering::Relaxed)
}

/// A LIST across namespaces: one cluster-wide request, or, when the user may not list across
/// the cluster (403), one request per namespace of `namespaces` (a user who is admin only in
/// the rollout's namespaces). `list(None)` lists cluster-wide, `list(Some(ns))` in `ns`.
pub(crate) async fn across<T, F, Fut>(
    namespaces: &std::collections::BTreeSet<String>,
    list: F,
) -> Result<Vec<T>, kube::Error>
where
    F: Fn(Option<String>) -> Fut,
    Fut: Future<Output = Result<Vec<T>, kube::Error>>,
{
    match list(None).await {
        Err(kube::Error::Api(e)) if e.code == 403 && !namespaces.is_empty() => {
            NAMESPACED.store(true, Ordering::Relaxed);
            let lists =
                futures::future::try_join_all(namespaces.iter().map(|ns| list(Some(ns.clone()))))
                    .await?;
            Ok(lists.into_iter().flatten().collect())
        }
        r => r,
    }
}

/// [`across`], for a user who may list in some of `namespaces` only: the namespaces it may
/// not list in are skipped and returned, for the caller to say what it could not see.
pub(crate) async fn across_readable<T, F, Fut>(
    namespaces: &std::collections::BTreeSet<String>,
    list: F,
) -> Result<(Vec<T>, Vec<String>), kube::Error>
where
    F: Fn(Option<String>) -> Fut,
    Fut: Future<Output = Result<Vec<T>, kube::Error>>,
{
    match list(None).await {
        Err(kube::Error::Api(e)) if e.code == 403 && !namespaces.is_empty() => {
            NAMESPACED.store(true, Ordering::Relaxed);
            let lists = futures::future::join_all(namespaces.iter().map(|ns| {
                let listed = list(Some(ns.clone()));
                async move { (ns.clone(), listed.await) }
            }))
            .await;
            let (mut items, mut skipped) = (Vec::new(), Vec::new());
            for (ns, listed) in lists {
                match listed {
                    Ok(l) => items.extend(l),
                    Err(e) if is_forbidden(&e) => skipped.push(ns),
                    Err(e) => return Err(e),
                }
            }
            Ok((items, skipped))
        }
        r => r.map(|items| (items, Vec::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals() {
        for (k, p) in [
            ("Deployment", "deployments"),
            ("NetworkPolicy", "networkpolicies"),
            ("Ingress", "ingresses"),
            ("Telemetry", "telemetries"),
            ("ServiceMonitor", "servicemonitors"),
            ("PriorityClass", "priorityclasses"),
            ("Gateway", "gateways"),
        ] {
            assert_eq!(plural(k), p);
        }
        assert_eq!(group_kind("apps/v1", "Deployment"), "Deployment.apps");
        assert_eq!(group_kind("v1", "Service"), "Service");
    }
}
