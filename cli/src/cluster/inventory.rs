//! The rollout's inventory as an ApplySet (KEP-3659): one parent ConfigMap per rollout and
//! a `applyset.kubernetes.io/part-of` label on every object, so status, uninstall and
//! pruning find every object with one label-selected LIST per kind.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use voice_core::Stack;
use voice_core::render::Object;

use anyhow::Context as _;

use crate::cluster::{api_resource, cluster_scoped, group_kind, is_not_found};

/// Label on every member.
pub(crate) const PART_OF: &str = "applyset.kubernetes.io/part-of";
const ID: &str = "applyset.kubernetes.io/id";
const KINDS: &str = "applyset.kubernetes.io/contains-group-kinds";
const NAMESPACES: &str = "applyset.kubernetes.io/additional-namespaces";
const TOOLING: &str = "applyset.kubernetes.io/tooling";

/// Where the parent lives and the ApplySet id.
#[derive(Debug, Clone)]
pub(crate) struct Inventory {
    /// Parent ConfigMap name.
    pub name: String,
    /// Parent namespace.
    pub namespace: String,
    /// ApplySet id.
    pub id: String,
    /// Release name (`app.kubernetes.io/instance`).
    pub instance: String,
}

impl Inventory {
    /// The inventory of a stack; `namespace` overrides where the parent lives.
    pub(crate) fn of(stack: &Stack, namespace: Option<&str>) -> Self {
        let name = format!("{}-applyset", stack.config.instance);
        let namespace =
            namespace.map_or_else(|| stack.config.namespaces.app.clone(), str::to_string);
        let digest = Sha256::digest(format!("{name}.{namespace}.ConfigMap.").as_bytes());
        let id = format!(
            "applyset-{}-v1",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
        );
        Inventory {
            name,
            namespace,
            id,
            instance: stack.config.instance.clone(),
        }
    }
    /// `part-of=<id>`.
    pub(crate) fn selector(&self) -> String {
        format!("{PART_OF}={}", self.id)
    }
}

/// Adds the membership label to an object (and to StatefulSet claim templates, so their
/// claims are found too).
pub(crate) fn label(inv: &Inventory, o: &Object) -> Value {
    let mut v = o.value().into_owned();
    v["metadata"]["labels"][PART_OF] = Value::from(inv.id.clone());
    if let Some(tpls) = v
        .pointer_mut("/spec/volumeClaimTemplates")
        .and_then(Value::as_array_mut)
    {
        for t in tpls {
            t["metadata"]["labels"][PART_OF] = Value::from(inv.id.clone());
        }
    }
    v
}

/// The group-kinds and namespaces a set of objects spans (Secrets and claims included:
/// install creates Secrets, StatefulSets create claims).
pub(crate) fn scope(
    objects: &[Object],
    secret_namespaces: &[String],
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut kinds: BTreeSet<String> = objects
        .iter()
        .map(|o| group_kind(&o.api_version, &o.kind))
        .collect();
    let mut namespaces: BTreeSet<String> =
        objects.iter().filter_map(|o| o.namespace.clone()).collect();
    kinds.insert("Secret".into());
    namespaces.extend(secret_namespaces.iter().cloned());
    if objects.iter().any(|o| o.kind == "StatefulSet") {
        kinds.insert("PersistentVolumeClaim".into());
    }
    (kinds, namespaces)
}

/// The parent as it is in the cluster: its kinds and namespaces, if it exists.
pub(crate) async fn read_parent(
    client: &Client,
    inv: &Inventory,
) -> anyhow::Result<Option<(BTreeSet<String>, BTreeSet<String>)>> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &inv.namespace);
    match api.get(&inv.name).await {
        Ok(cm) => {
            let a = cm.metadata.annotations.unwrap_or_default();
            let split = |k: &str| {
                a.get(k)
                    .map(|s| {
                        s.split(',')
                            .filter(|x| !x.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let mut ns: BTreeSet<String> = split(NAMESPACES);
            ns.insert(inv.namespace.clone());
            Ok(Some((split(KINDS), ns)))
        }
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context(format!(
            "reading the inventory {}/{}",
            inv.namespace, inv.name
        ))),
    }
}

/// Writes the parent with the given kinds and namespaces.
pub(crate) async fn write_parent(
    client: &Client,
    inv: &Inventory,
    kinds: &BTreeSet<String>,
    namespaces: &BTreeSet<String>,
    dry_run: bool,
) -> anyhow::Result<()> {
    let others: Vec<&str> = namespaces
        .iter()
        .filter(|n| **n != inv.namespace)
        .map(String::as_str)
        .collect();
    let cm = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": inv.name,
            "namespace": inv.namespace,
            "labels": {ID: inv.id, "app.kubernetes.io/managed-by": voice_core::render::MANAGER},
            "annotations": {
                TOOLING: format!("kubectl-voice/v{}", env!("CARGO_PKG_VERSION")),
                KINDS: kinds.iter().cloned().collect::<Vec<_>>().join(","),
                NAMESPACES: others.join(","),
            },
        },
    });
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &inv.namespace);
    let mut pp = PatchParams::apply(voice_core::render::MANAGER).force();
    pp.dry_run = dry_run;
    api.patch(&inv.name, &pp, &Patch::Apply(&cm))
        .await
        .map(|_| ())
        .map_err(|e| {
            anyhow::Error::new(e).context(format!(
                "writing the inventory {}/{}",
                inv.namespace, inv.name
            ))
        })
}

/// A live member: its identity and resourceVersion.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// apiVersion.
    pub api_version: String,
    /// kind.
    pub kind: String,
    /// Namespace.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Our field manager's entry in managedFields (unchanged by a no-op apply).
    pub applied: Option<String>,
    /// The object.
    pub object: DynamicObject,
}

impl Member {
    /// `kind/namespace/name`.
    pub(crate) fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{}/{}", self.kind, ns, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// apiVersion used to list a group-kind.
pub(crate) fn api_version_of(group_kind: &str, objects: &[Object]) -> String {
    if let Some(o) = objects
        .iter()
        .find(|o| crate::cluster::group_kind(&o.api_version, &o.kind) == group_kind)
    {
        return o.api_version.clone();
    }
    match group_kind {
        "Secret"
        | "PersistentVolumeClaim"
        | "ConfigMap"
        | "Service"
        | "ServiceAccount"
        | "Namespace" => "v1".into(),
        gk => match gk.split_once('.') {
            Some((_, "apps")) => "apps/v1".into(),
            Some((_, "batch")) => "batch/v1".into(),
            Some((_, "networking.k8s.io")) => "networking.k8s.io/v1".into(),
            Some((_, "policy")) => "policy/v1".into(),
            Some((_, "autoscaling")) => "autoscaling/v2".into(),
            Some((_, "rbac.authorization.k8s.io")) => "rbac.authorization.k8s.io/v1".into(),
            Some((_, "scheduling.k8s.io")) => "scheduling.k8s.io/v1".into(),
            Some((_, "monitoring.coreos.com")) => "monitoring.coreos.com/v1".into(),
            Some((_, g)) if g.ends_with("istio.io") => format!("{g}/v1"),
            Some((_, g)) => format!("{g}/v1"),
            None => "v1".into(),
        },
    }
}

/// The live members, and what this user could not list.
#[derive(Debug, Default)]
pub(crate) struct Listed {
    /// The members found.
    pub members: Vec<Member>,
    /// Where this user may not list (`cluster-scoped PriorityClass`, a namespace): the
    /// members there are unknown to this run.
    pub unlisted: Vec<String>,
}

impl Listed {
    /// What could not be listed, in one line ([`unlisted_said`]).
    pub(crate) fn said(&self, what: &str) -> Option<String> {
        unlisted_said(&self.unlisted, what)
    }
}

/// What could not be listed, in one line for `what` (`pruned`, `deleted`): `None` when
/// everything was.
pub(crate) fn unlisted_said(unlisted: &[String], what: &str) -> Option<String> {
    (!unlisted.is_empty()).then(|| {
        format!(
            "not listed (this user may not): {}; what the configuration no longer has there is not {what} by this run",
            unlisted.join(", ")
        )
    })
}

/// Lists every member: one LIST per group-kind across all namespaces (or in each of
/// `namespaces` when the user may not list across the cluster), by label selector. Kinds
/// whose API is not served (a CRD that is absent) are skipped; kinds and namespaces this user
/// may not list are said in [`Listed::unlisted`].
pub(crate) async fn members(
    client: &Client,
    inv: &Inventory,
    kinds: &BTreeSet<String>,
    namespaces: &BTreeSet<String>,
    objects: &[Object],
) -> anyhow::Result<Listed> {
    let lp = ListParams::default().labels(&inv.selector());
    let lists = futures::stream::iter(kinds.iter().cloned())
        .map(|gk| {
            let lp = lp.clone();
            let av = api_version_of(&gk, objects);
            async move {
                let kind = gk.split('.').next().unwrap_or_default().to_string();
                let ar = api_resource(&av, &kind);
                let listed = if cluster_scoped(&kind) {
                    match Api::<DynamicObject>::all_with(client.clone(), &ar)
                        .list_metadata(&lp)
                        .await
                    {
                        // A user who is admin only in the rollout's namespaces cannot see its
                        // cluster-scoped members; they are a cluster admin's to prune.
                        Err(kube::Error::Api(e)) if e.code == 403 => {
                            Ok((Vec::new(), vec![format!("cluster-scoped {kind}")]))
                        }
                        r => r.map(|l| (l.items, Vec::new())),
                    }
                } else {
                    crate::cluster::across_readable(namespaces, |ns| {
                        let api: Api<DynamicObject> = match &ns {
                            Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
                            None => Api::all_with(client.clone(), &ar),
                        };
                        let lp = lp.clone();
                        async move { api.list_metadata(&lp).await.map(|l| l.items) }
                    })
                    .await
                };
                match listed {
                    Ok((items, unlisted)) => Ok((
                        items
                            .into_iter()
                            .map(|m| Member {
                                api_version: av.clone(),
                                kind: kind.clone(),
                                namespace: if cluster_scoped(&kind) {
                                    None
                                } else {
                                    m.metadata.namespace.clone()
                                },
                                name: m.metadata.name.clone().unwrap_or_default(),
                                applied: applied_entry(&m.metadata),
                                object: DynamicObject {
                                    types: None,
                                    metadata: m.metadata,
                                    data: Value::Null,
                                },
                            })
                            .collect::<Vec<_>>(),
                        unlisted,
                    )),
                    Err(e) if is_not_found(&e) => Ok((Vec::new(), Vec::new())),
                    Err(e) => Err(anyhow::Error::new(e)
                        .context(format!("listing {gk} with {}", inv.selector()))),
                }
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await?;
    let (found, unlisted): (Vec<_>, Vec<_>) = lists.into_iter().unzip();
    let mut out: Vec<Member> = found.into_iter().flatten().collect();
    out.sort_by_key(Member::id);
    // Cluster-scoped kinds first, then namespaces, each once.
    let mut unlisted: Vec<String> = unlisted.into_iter().flatten().collect();
    unlisted.sort_by_key(|u| (!u.starts_with("cluster-scoped "), u.clone()));
    unlisted.dedup();
    Ok(Listed {
        members: out,
        unlisted,
    })
}

/// The PostHog releases the rollout's live PostHog workloads name (their
/// `kubectl-voice.io/posthog-version` label), a failed upgrade's migrations Job included: what
/// PostHog's databases have seen. Empty when PostHog is not self-hosted or not installed.
pub(crate) async fn posthog_releases(
    client: &Client,
    stack: &Stack,
) -> anyhow::Result<Vec<String>> {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::batch::v1::Job;
    use voice_core::catalog::posthog::VERSION_LABEL;
    if !matches!(
        stack.config.posthog,
        voice_core::config::Posthog::SelfHosted(_)
    ) {
        return Ok(Vec::new());
    }
    let ns = &stack.config.namespaces.posthog;
    let lp = ListParams::default().labels(&format!(
        "{VERSION_LABEL},app.kubernetes.io/instance={}",
        stack.config.instance
    ));
    let label = |m: kube::api::ObjectMeta| m.labels.and_then(|mut l| l.remove(VERSION_LABEL));
    let deployments = Api::<Deployment>::namespaced(client.clone(), ns)
        .list_metadata(&lp)
        .await
        .with_context(|| format!("listing the PostHog Deployments in {ns}"))?;
    let jobs = Api::<Job>::namespaced(client.clone(), ns)
        .list_metadata(&lp)
        .await
        .with_context(|| format!("listing the PostHog Jobs in {ns}"))?;
    Ok(deployments
        .items
        .into_iter()
        .map(|o| o.metadata)
        .chain(jobs.items.into_iter().map(|o| o.metadata))
        .filter_map(label)
        .collect())
}

/// A planned object that exists and is not this rollout's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Foreign {
    /// `kind/namespace/name`.
    pub id: String,
    /// The rollout it belongs to (its `app.kubernetes.io/instance`), or `None`: not made by
    /// kubectl-voice.
    pub owner: Option<String>,
}

impl std::fmt::Display for Foreign {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.owner {
            Some(o) => write!(f, "{} belongs to the rollout `{o}`", self.id),
            None => write!(f, "{} exists and was not made by kubectl-voice", self.id),
        }
    }
}

/// The planned objects that already exist but belong to another rollout, or to none of
/// ours: one metadata LIST per kind and namespace (a kind whose API is not served, or that
/// the user may not list in a namespace, is skipped). Where the user may not list a
/// cluster-scoped kind (a namespace admin), each planned object is read by name; those it may
/// not read either come back apart (ids), not checked.
pub(crate) async fn foreign(
    client: &Client,
    inv: &Inventory,
    objects: &[Object],
) -> anyhow::Result<(Vec<Foreign>, Vec<String>)> {
    let mut groups: BTreeMap<(String, String, Option<String>), BTreeSet<String>> = BTreeMap::new();
    for o in objects {
        let ns = (!cluster_scoped(&o.kind))
            .then(|| o.namespace.clone())
            .flatten();
        groups
            .entry((o.api_version.clone(), o.kind.clone(), ns))
            .or_default()
            .insert(o.name.clone());
    }
    let lists = futures::stream::iter(groups)
        .map(|((av, kind, ns), names)| async move {
            let ar = api_resource(&av, &kind);
            let api: Api<DynamicObject> = match &ns {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
                None => Api::all_with(client.clone(), &ar),
            };
            let id = |name: &str| match &ns {
                Some(ns) => format!("{kind}/{ns}/{name}"),
                None => format!("{kind}/{name}"),
            };
            let mut unread = Vec::new();
            let items = match api.list_metadata(&ListParams::default()).await {
                Ok(l) => l.items,
                Err(kube::Error::Api(e)) if e.code == 404 => Vec::new(),
                // A kind this user may not list in a namespace is a missing permission, which
                // `check` lists.
                Err(kube::Error::Api(e)) if e.code == 403 && ns.is_some() => Vec::new(),
                Err(kube::Error::Api(e)) if e.code == 403 => {
                    let mut items = Vec::new();
                    for name in &names {
                        match api.get_metadata_opt(name).await {
                            Ok(Some(m)) => items.push(m),
                            Ok(None) => {}
                            Err(e) if crate::cluster::is_forbidden(&e) => unread.push(id(name)),
                            Err(e) => {
                                return Err(
                                    anyhow::Error::new(e).context(format!("reading {}", id(name)))
                                );
                            }
                        }
                    }
                    items
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!("listing {kind}")));
                }
            };
            let mut out = Vec::new();
            for m in items {
                let name = m.metadata.name.clone().unwrap_or_default();
                if !names.contains(&name) {
                    continue;
                }
                let labels = m.metadata.labels.unwrap_or_default();
                if labels.get(PART_OF) == Some(&inv.id) {
                    continue;
                }
                let ours = labels
                    .get("app.kubernetes.io/managed-by")
                    .map(String::as_str)
                    == Some(voice_core::render::MANAGER);
                out.push(Foreign {
                    id: id(&name),
                    owner: ours
                        .then(|| labels.get("app.kubernetes.io/instance").cloned())
                        .flatten(),
                });
            }
            Ok((out, unread))
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await?;
    let (found, unread): (Vec<_>, Vec<_>) = lists.into_iter().unzip();
    let mut out: Vec<Foreign> = found.into_iter().flatten().collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    let mut unread: Vec<String> = unread.into_iter().flatten().collect();
    unread.sort();
    Ok((out, unread))
}

/// Our field manager's `Apply` entry in managedFields, serialized for comparison.
pub(crate) fn applied_entry(meta: &kube::api::ObjectMeta) -> Option<String> {
    meta.managed_fields
        .iter()
        .flatten()
        .find(|f| {
            f.manager.as_deref() == Some(voice_core::render::MANAGER)
                && f.operation.as_deref() == Some("Apply")
                && f.subresource.is_none()
        })
        .and_then(|f| serde_json::to_string(f).ok())
}

/// Index of members by id.
pub(crate) fn by_id(members: &[Member]) -> BTreeMap<String, &Member> {
    members.iter().map(|m| (m.id(), m)).collect()
}
