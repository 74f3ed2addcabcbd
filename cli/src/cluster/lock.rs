//! One writer at a time: install, rollback, scale, restart, uninstall and upgrade-engine
//! hold a Lease beside the inventory (`<instance>-lock`, coordination.k8s.io) for as long
//! as they write. The holder renews it every few seconds; a holder that dies stops renewing,
//! and its Lease expires, so nothing stays locked (unlike a release stuck in
//! `pending-upgrade`). A second writer fails at once, naming who holds the lock, for what
//! and since when.

use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams};
use tokio::task::JoinHandle;

use crate::cluster::inventory::Inventory;
use crate::error::Locked;

/// How long a Lease outlives its last renewal.
const DURATION: Duration = Duration::from_secs(30);
/// How often the holder renews it.
const RENEW: Duration = Duration::from_secs(10);
const COMMAND: &str = "kubectl-voice.io/command";

/// A held lock; [`Held::release`] gives it up. A lock this process already holds is taken
/// again as nested (a verb made of several applies, `upgrade-engine`, holds it throughout);
/// releasing a nested hold leaves the lock to the outer one.
pub(crate) struct Held {
    api: Api<Lease>,
    name: String,
    /// `namespace/name`, as [`HELD`] lists it.
    key: String,
    renewer: Option<JoinHandle<()>>,
}

/// The Leases (`namespace/name`) this process holds.
static HELD: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn key(inv: &Inventory) -> String {
    format!("{}/{}", inv.namespace, name(inv))
}

fn held_here(inv: &Inventory) -> bool {
    HELD.lock().is_ok_and(|h| h.contains(&key(inv)))
}

fn name(inv: &Inventory) -> String {
    format!("{}-lock", inv.instance)
}

fn identity() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "someone".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "this machine".into());
    format!("{user}@{host} (pid {})", std::process::id())
}

fn lease(inv: &Inventory, command: &str, resource_version: Option<String>) -> Lease {
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(Timestamp::now());
    Lease {
        metadata: kube::api::ObjectMeta {
            name: Some(name(inv)),
            namespace: Some(inv.namespace.clone()),
            resource_version,
            labels: Some(
                [(
                    "app.kubernetes.io/managed-by".to_string(),
                    voice_core::render::MANAGER.to_string(),
                )]
                .into(),
            ),
            annotations: Some([(COMMAND.to_string(), command.to_string())].into()),
            ..Default::default()
        },
        spec: Some(k8s_openapi::api::coordination::v1::LeaseSpec {
            holder_identity: Some(identity()),
            lease_duration_seconds: Some(DURATION.as_secs() as i32),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            ..Default::default()
        }),
    }
}

/// Whether a Lease has expired (not renewed within its duration).
pub(crate) fn expired(l: &Lease, now: Timestamp) -> bool {
    let Some(spec) = &l.spec else { return true };
    let Some(renewed) = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()) else {
        return true;
    };
    let secs = i64::from(spec.lease_duration_seconds.unwrap_or(0));
    now.as_second() > renewed.0.as_second() + secs
}

/// Whether the holder was a process on this machine that no longer runs (killed, crashed):
/// its lock need not wait to expire.
fn holder_gone(l: &Lease) -> bool {
    let Some(id) = l.spec.as_ref().and_then(|s| s.holder_identity.as_deref()) else {
        return false;
    };
    let mine = identity();
    let host = |i: &str| {
        i.split(" (pid ")
            .next()
            .map(|h| h.split('@').nth(1).unwrap_or_default().to_string())
    };
    let pid = id
        .rsplit_once("(pid ")
        .and_then(|(_, p)| p.trim_end_matches(')').parse::<u32>().ok());
    match pid {
        Some(pid) if host(id) == host(&mine) && pid != std::process::id() => {
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
        }
        _ => false,
    }
}

/// Who holds a Lease, for what and since when, in words.
pub(crate) fn holder(l: &Lease, now: Timestamp) -> String {
    let spec = l.spec.clone().unwrap_or_default();
    let command = l
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(COMMAND).cloned())
        .unwrap_or_else(|| "a command".into());
    let since = spec
        .acquire_time
        .as_ref()
        .map(|t| {
            format!(
                "{} ({}s ago)",
                t.0.strftime("%Y-%m-%dT%H:%M:%SZ"),
                now.as_second() - t.0.as_second()
            )
        })
        .unwrap_or_else(|| "an unknown time".into());
    let renewed = spec
        .renew_time
        .as_ref()
        .map(|t| format!("{}s ago", now.as_second() - t.0.as_second()))
        .unwrap_or_else(|| "never".into());
    format!(
        "{} is running `{command}` since {since}; last renewed {renewed}",
        spec.holder_identity
            .unwrap_or_else(|| "another writer".into())
    )
}

/// Takes the lock for `command`, or fails naming its holder. With `force`, an unexpired
/// lock is taken over (the caller has confirmed).
pub(crate) async fn acquire(
    client: &Client,
    inv: &Inventory,
    command: &str,
    force: bool,
) -> anyhow::Result<Held> {
    let api: Api<Lease> = Api::namespaced(client.clone(), &inv.namespace);
    let n = name(inv);
    if held_here(inv) {
        return Ok(Held {
            api,
            name: n,
            key: key(inv),
            renewer: None,
        });
    }
    let context = || format!("taking the lock {}/{n}", inv.namespace);
    match api
        .create(&PostParams::default(), &lease(inv, command, None))
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let live = api.get(&n).await.with_context(context)?;
            let now = Timestamp::now();
            let gone = holder_gone(&live);
            if gone {
                eprintln!(
                    "taking over the lock of a run on this machine that is gone ({})",
                    live.spec
                        .as_ref()
                        .and_then(|s| s.holder_identity.clone())
                        .unwrap_or_default()
                );
            }
            if !expired(&live, now) && !force && !gone {
                return Err(Locked(format!(
                    "another writer holds {}/{n}: {}. Wait for it to finish; if it died, its lock expires {}s after its last renewal; `--force-unlock` takes it over",
                    inv.namespace,
                    holder(&live, now),
                    DURATION.as_secs()
                ))
                .into());
            }
            // Expired (or forced): replace it, guarded by its resourceVersion, so of two
            // writers racing for an expired lock only one wins.
            api.replace(
                &n,
                &PostParams::default(),
                &lease(inv, command, live.metadata.resource_version.clone()),
            )
            .await
            .map_err(|e| match e {
                kube::Error::Api(s) if s.code == 409 => anyhow::Error::new(Locked(format!(
                    "another writer took {}/{n} just now; run again later",
                    inv.namespace
                ))),
                e => anyhow::Error::new(e).context(context()),
            })?;
        }
        Err(e) => return Err(anyhow::Error::new(e).context(context())),
    }
    let renew_api = api.clone();
    let renew_name = n.clone();
    let renewer = tokio::spawn(async move {
        loop {
            tokio::time::sleep(RENEW).await;
            let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(Timestamp::now());
            let patch = serde_json::json!({"spec": {"renewTime": now}});
            let _ = renew_api
                .patch(
                    &renew_name,
                    &kube::api::PatchParams::default(),
                    &kube::api::Patch::Merge(&patch),
                )
                .await;
        }
    });
    if let Ok(mut h) = HELD.lock() {
        h.push(key(inv));
    }
    Ok(Held {
        api,
        name: n,
        key: key(inv),
        renewer: Some(renewer),
    })
}

impl Held {
    /// Gives the lock up (a nested hold leaves it to the outer one).
    pub(crate) async fn release(self) {
        let Some(renewer) = self.renewer else { return };
        renewer.abort();
        let _ = self.api.delete(&self.name, &DeleteParams::default()).await;
        if let Ok(mut h) = HELD.lock() {
            h.retain(|k| *k != self.key);
        }
    }
}

/// Like [`acquire`], for a command that only changes what exists: when the inventory's
/// namespace does not exist there is nothing to change, and no lock to take.
pub(crate) async fn acquire_if_installed(
    client: &Client,
    inv: &Inventory,
    command: &str,
    force: bool,
) -> anyhow::Result<Option<Held>> {
    match acquire(client, inv, command, force).await {
        Ok(h) => Ok(Some(h)),
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<kube::Error>()
                    .is_some_and(crate::cluster::is_not_found)
            }) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Gives up a lock, if one was taken.
pub(crate) async fn release(held: Option<Held>) {
    if let Some(h) = held {
        h.release().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_expires_after_its_duration_and_names_its_holder() {
        let inv = Inventory {
            name: "v-applyset".into(),
            namespace: "v-app".into(),
            id: "x".into(),
            instance: "v".into(),
        };
        let l = lease(&inv, "install", None);
        let t0 = l.spec.as_ref().unwrap().renew_time.as_ref().unwrap().0;
        assert!(!expired(&l, t0));
        assert!(!expired(&l, t0 + Duration::from_secs(29)));
        assert!(expired(&l, t0 + Duration::from_secs(31)));
        let h = holder(&l, t0 + Duration::from_secs(5));
        assert!(
            h.contains("`install`") && h.contains("(5s ago)") && h.contains("pid"),
            "{h}"
        );
    }
}
