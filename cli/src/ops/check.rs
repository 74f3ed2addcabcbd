//! The check report: can this plan be installed here? API, RBAC, CRDs, classes, capacity
//! and secret values, by category (linkerd-style); run by `check` and before `install`
//! applies anything. Also the cluster's live nodes, which `plan` fits the plan to.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::error::{explain, in_words};
use futures::StreamExt;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::networking::v1::IngressClass;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, ListParams, PostParams};
use serde::Serialize;
use voice_core::Stack;
use voice_core::config::{Taint, TaintEffect};
use voice_core::fit::NodeCapacity;
use voice_core::quantity::{Bytes, MilliCpu};
use voice_core::render::Object;
use voice_core::render::external_secrets;

use crate::cluster::inventory::Inventory;
use crate::cluster::{api_version_group, cluster_scoped, plural};
use crate::output::paint;

/// Result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Outcome {
    /// Passed.
    Ok,
    /// Passed with a warning.
    Warning,
    /// Failed: install would not succeed.
    Error,
}

/// One check.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Check {
    /// What was checked.
    pub description: String,
    /// Result.
    pub result: Outcome,
    /// What to do about a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The items behind the description (denied permissions, pods that do not fit).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

/// A category of checks.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Category {
    /// Name.
    pub category: &'static str,
    /// Checks.
    pub checks: Vec<Check>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Report {
    /// Categories in order.
    pub categories: Vec<Category>,
}

impl Report {
    /// No check failed.
    pub(crate) fn ok(&self) -> bool {
        self.categories
            .iter()
            .flat_map(|c| &c.checks)
            .all(|c| c.result != Outcome::Error)
    }
    /// For people.
    pub(crate) fn human(&self) -> String {
        let mut s = String::new();
        for c in &self.categories {
            let _ = writeln!(s, "{}\n{}", c.category, "-".repeat(c.category.len()));
            for k in &c.checks {
                let mark = match k.result {
                    Outcome::Ok => paint("√", "32"),
                    Outcome::Warning => paint("‼", "33"),
                    Outcome::Error => paint("×", "31"),
                };
                let _ = writeln!(s, "{mark} {}", k.description);
                // Short items share lines; long ones (a permission with its namespaces)
                // get one each.
                let lines = if k.details.iter().any(|d| d.contains(", ")) {
                    k.details.clone()
                } else {
                    crate::output::wrap(&k.details, 92)
                };
                for line in lines {
                    let _ = writeln!(s, "    {line}");
                }
                if let Some(h) = &k.hint {
                    let _ = writeln!(s, "    hint: {h}");
                }
            }
            s.push('\n');
        }
        let _ = writeln!(
            s,
            "Status check results are {}",
            if self.ok() {
                paint("√", "32")
            } else {
                paint("×", "31")
            }
        );
        s
    }
}

fn ok(d: impl Into<String>) -> Check {
    Check {
        description: d.into(),
        result: Outcome::Ok,
        hint: None,
        details: Vec::new(),
    }
}
fn warn(d: impl Into<String>, hint: impl Into<String>) -> Check {
    Check {
        description: d.into(),
        result: Outcome::Warning,
        hint: Some(hint.into()),
        details: Vec::new(),
    }
}
fn fail(d: impl Into<String>, hint: impl Into<String>) -> Check {
    Check {
        description: d.into(),
        result: Outcome::Error,
        hint: Some(hint.into()),
        details: Vec::new(),
    }
}

/// Groups whose kinds are custom resources, with the `--skip` value that leaves them out.
fn crd_skip_hint(group: &str) -> &'static str {
    if group == external_secrets::GROUP {
        "install the External Secrets Operator (0.16 or newer serves external-secrets.io/v1), or set secrets.source to generate or existing"
    } else if group.contains("istio.io") {
        "install Istio first, or run with --skip istio"
    } else {
        "install the Prometheus operator's CRDs, or run with --skip monitoring"
    }
}

fn is_builtin(group: &str) -> bool {
    group.is_empty() || !group.contains('.') || group.ends_with(".k8s.io")
}

/// What this user may not write of the plan ([`crate::cluster::rights`]) and the
/// configuration flags a cluster admin's command names it with.
pub(crate) struct Handoff<'a> {
    /// The objects this user may not write.
    pub rights: &'a crate::cluster::rights::Rights,
    /// `--profile dev --set … --only model-router`.
    pub flags: &'a str,
}

/// The store the ExternalSecrets read: it exists (a ClusterSecretStore, or a SecretStore in
/// each of their namespaces) and its operator finds it valid (Ready).
async fn secret_store(
    client: &Client,
    objects: &[Object],
    store: &voice_core::config::Store,
) -> Vec<Check> {
    let gvk = kube::api::GroupVersionKind::gvk(
        external_secrets::GROUP,
        external_secrets::VERSION,
        store.kind,
    );
    let resource = kube::api::ApiResource::from_gvk(&gvk);
    let namespaces: BTreeSet<Option<&str>> = if store.kind == "ClusterSecretStore" {
        BTreeSet::from([None])
    } else {
        objects
            .iter()
            .filter(|o| o.kind == "ExternalSecret")
            .map(|o| o.namespace.as_deref())
            .collect()
    };
    let mut out = Vec::new();
    for ns in namespaces {
        let api: Api<kube::api::DynamicObject> = match ns {
            None => Api::all_with(client.clone(), &resource),
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        };
        let at = ns.map(|n| format!(" in {n}")).unwrap_or_default();
        let what = format!("{} {}{at}", store.kind, store.name);
        out.push(match api.get_opt(&store.name).await {
            Ok(Some(o)) => match serde_json::to_value(&o)
                .map_err(|e| e.to_string())
                .and_then(|v| voice_core::readiness::ready_condition(&v))
            {
                Ok(()) => ok(format!("{what} is ready")),
                Err(why) => fail(
                    format!("{what} is not ready: {why}"),
                    "fix the store's provider settings or credentials (kubectl describe it)",
                ),
            },
            Ok(None) => fail(
                format!("{what} does not exist"),
                "create it for your secret store (the External Secrets Operator's provider docs), or name another in secrets.store",
            ),
            Err(e) => fail(
                format!("cannot read {what}: {}", explain(&e).reason),
                format!("grant get on {}", plural(store.kind)),
            ),
        });
    }
    out
}

/// Runs every check for the stack's objects. A server that cannot be reached at all is a
/// cluster error (exit 3), not a failed check.
pub(crate) async fn report(
    client: &Client,
    stack: &Stack,
    objects: &[Object],
    inv: &Inventory,
    adopt: bool,
    made: &[String],
    handoff: &Handoff<'_>,
) -> Result<Report, kube::Error> {
    let mut categories = Vec::new();

    let mut api = Vec::new();
    let v = client.apiserver_version().await?;
    let minor: u32 = v.minor.trim_end_matches('+').parse().unwrap_or(0);
    if v.major == "1" && minor >= 29 {
        api.push(ok(format!("can reach the API server ({})", v.git_version)));
    } else {
        api.push(fail(
            format!(
                "API server {} is older than the supported 1.29",
                v.git_version
            ),
            "upgrade the cluster to Kubernetes 1.29 or newer",
        ));
    }
    categories.push(Category {
        category: "kubernetes-api",
        checks: api,
    });

    // Custom resource definitions the plan needs.
    let mut crds = Vec::new();
    let custom: BTreeSet<(String, String, String)> = objects
        .iter()
        .filter_map(|o| {
            let (g, v) = api_version_group(&o.api_version);
            (!is_builtin(g)).then(|| (g.to_string(), v.to_string(), o.kind.clone()))
        })
        .collect();
    let crd_api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut missing_groups = BTreeSet::new();
    for (group, version, kind) in &custom {
        let name = format!("{}.{group}", plural(kind));
        match crd_api.get_opt(&name).await {
            Ok(Some(crd)) => {
                let served: Vec<&str> = crd
                    .spec
                    .versions
                    .iter()
                    .filter(|v| v.served)
                    .map(|v| v.name.as_str())
                    .collect();
                if served.contains(&version.as_str()) {
                    crds.push(ok(format!("{kind} ({group}/{version}) is served")));
                } else {
                    missing_groups.insert(group.clone());
                    crds.push(fail(
                        format!(
                            "{kind} ({group}) is installed, but CRD {name} serves {}, not {version}",
                            served.join(", ")
                        ),
                        crd_skip_hint(group),
                    ));
                }
            }
            Ok(None) => {
                missing_groups.insert(group.clone());
                crds.push(fail(
                    format!("{kind} ({group}) is not installed: CRD {name} not found"),
                    crd_skip_hint(group),
                ));
            }
            // CRDs are cluster-scoped: a namespace admin asks the API for the resource in a
            // namespace of the plan instead, which it is either served or not.
            Err(e) if crate::cluster::is_forbidden(&e) => {
                crds.push(served_in_namespace(client, objects, group, kind, &name).await);
                if crds.last().is_some_and(|c| c.result == Outcome::Error) {
                    missing_groups.insert(group.clone());
                }
            }
            Err(e) => crds.push(fail(
                format!("cannot read CRD {name}: {}", explain(&e).reason),
                "grant get on customresourcedefinitions",
            )),
        }
    }
    if custom.is_empty() {
        crds.push(ok("the plan needs no custom resources"));
    }
    categories.push(Category {
        category: "custom-resources",
        checks: crds,
    });
    if let voice_core::config::Secrets::ExternalSecrets(store) = &stack.config.secrets
        && !missing_groups.contains(external_secrets::GROUP)
        && objects.iter().any(|o| o.kind == "ExternalSecret")
    {
        categories.push(Category {
            category: "secret-store",
            checks: secret_store(client, objects, store).await,
        });
    }

    // Ownership: nothing the plan writes may already be another rollout's (or nobody's of ours).
    let mut owned = Vec::new();
    let served: Vec<Object> = objects
        .iter()
        .filter(|o| !missing_groups.contains(api_version_group(&o.api_version).0))
        .cloned()
        .collect();
    match crate::cluster::inventory::foreign(client, inv, &served).await {
        Ok((found, unread)) if found.is_empty() => {
            owned.push(ok(
                "no object of the plan belongs to another rollout or was made outside kubectl-voice",
            ));
            if !unread.is_empty() {
                owned.push(unread_owners(unread));
            }
        }
        Ok((found, unread)) => {
            if !unread.is_empty() {
                owned.push(unread_owners(unread));
            }
            for f in found {
                owned.push(if adopt {
                    warn(
                        format!("{f}: adopted (--adopt)"),
                        "its owner loses it; the change is recorded in this rollout's history",
                    )
                } else {
                    fail(
                        f.to_string(),
                        "give this rollout other names (instance, namespaces.*), or install with --adopt to take it over",
                    )
                });
            }
        }
        Err(e) => owned.push(warn(
            format!(
                "cannot tell who owns the existing objects: {}",
                in_words(&e)
            ),
            "grant list on the kinds the plan writes",
        )),
    }
    categories.push(Category {
        category: "ownership",
        checks: owned,
    });

    // PostHog's release: what install would do to the databases' migrations (only a run that
    // writes PostHog reads its namespace for it).
    if let voice_core::config::Posthog::SelfHosted(ph) = &stack.config.posthog
        && voice_core::upgrade::writes_posthog(stack)
    {
        use voice_core::upgrade::PosthogChange;
        let to = voice_core::catalog::posthog::release(ph).0;
        let seen = crate::cluster::inventory::posthog_releases(client, stack).await;
        let release = match seen.map(|s| voice_core::upgrade::posthog(&s, stack)) {
            Ok(PosthogChange::None) => ok(format!("PostHog {to} is installed fresh")),
            Ok(PosthogChange::Same) => ok(format!("PostHog {to} runs and stays")),
            Ok(c @ PosthogChange::Upgrade { .. }) => warn(
                format!("{c}: an upgrade"),
                "install backs up posthog-postgres first (unless --no-backup), then runs the new migrations before web, worker and plugins roll",
            ),
            Ok(ref c @ PosthogChange::Downgrade { ref from, .. }) => fail(
                c.to_string(),
                format!(
                    "set posthog.version: {from}, or restore the backup taken before the upgrade (kubectl voice restore)"
                ),
            ),
            Ok(c @ PosthogChange::Unordered { .. }) => {
                warn(c.to_string(), "install asks for confirmation")
            }
            Err(e) => warn(
                format!(
                    "cannot read the PostHog release that runs: {}",
                    in_words(&e)
                ),
                "grant list on deployments and jobs in the PostHog namespace",
            ),
        };
        categories.push(Category {
            category: "posthog-release",
            checks: vec![release],
        });
    }

    // RBAC: create and patch for every kind and namespace the plan writes, reviewed in parallel.
    // Objects this user may not write are not asked about again: those found as planned are
    // left alone, the others are named below for a cluster admin.
    let rights = handoff.rights;
    let mut reviews: BTreeSet<(String, String, Option<String>, &'static str)> = BTreeSet::new();
    for o in objects {
        let (g, _) = api_version_group(&o.api_version);
        if missing_groups.contains(g)
            || rights.leaves(&o.id())
            || rights.blocked.iter().any(|b| b.id == o.id())
        {
            continue;
        }
        let ns = if cluster_scoped(&o.kind) {
            None
        } else {
            o.namespace.clone()
        };
        for verb in ["create", "patch"] {
            reviews.insert((g.to_string(), plural(&o.kind), ns.clone(), verb));
        }
    }
    for s in &voice_core::render::selection::secrets(stack) {
        for verb in ["create", "get"] {
            reviews.insert((
                String::new(),
                "secrets".into(),
                Some(s.namespace.clone()),
                verb,
            ));
        }
    }
    let ssar: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let denied: Vec<(String, &str, Option<String>)> = futures::stream::iter(reviews)
        .map(|(group, resource, namespace, verb)| {
            let ssar = ssar.clone();
            async move {
                let review = SelfSubjectAccessReview {
                    spec: SelfSubjectAccessReviewSpec {
                        resource_attributes: Some(ResourceAttributes {
                            group: Some(group.clone()),
                            resource: Some(resource.clone()),
                            namespace: namespace.clone(),
                            verb: Some(verb.into()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                    ..Default::default()
                };
                let allowed = ssar
                    .create(&PostParams::default(), &review)
                    .await
                    .ok()
                    .and_then(|r| r.status)
                    .is_some_and(|s| s.allowed);
                (!allowed).then(|| {
                    let gr = if group.is_empty() {
                        resource
                    } else {
                        format!("{resource}.{group}")
                    };
                    (gr, verb, namespace)
                })
            }
        })
        .buffer_unordered(16)
        .filter_map(|x| async move { x })
        .collect()
        .await;
    // Listing mode: across the cluster, or namespace by namespace for a user who is admin
    // only in the rollout's namespaces.
    let across = ssar
        .create(
            &PostParams::default(),
            &SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        group: Some("apps".into()),
                        resource: Some("deployments".into()),
                        verb: Some("list".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .ok()
        .and_then(|r| r.status)
        .is_some_and(|s| s.allowed);
    let mode = if across {
        ok("lists the rollout's objects across the cluster")
    } else {
        ok(
            "lists the rollout's objects namespace by namespace (this user may not list across the cluster)",
        )
    };
    let mut rbac = if denied.is_empty() {
        vec![ok("can create and patch every kind the plan writes")]
    } else {
        // One line per resource and verbs: `create, patch deployments.apps in a, b`.
        let mut by: BTreeMap<(String, Option<String>), BTreeSet<&str>> = BTreeMap::new();
        for (gr, verb, ns) in &denied {
            by.entry((gr.clone(), ns.clone())).or_default().insert(verb);
        }
        let mut lines: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for ((gr, ns), verbs) in by {
            let verbs = verbs.into_iter().collect::<Vec<_>>().join(", ");
            lines
                .entry((gr, verbs))
                .or_default()
                .push(ns.unwrap_or_default());
        }
        let details = lines
            .into_iter()
            .map(|((gr, verbs), mut nss)| {
                nss.sort_by(|a, b| crate::output::natural_cmp(a, b));
                nss.retain(|n| !n.is_empty());
                if nss.is_empty() {
                    format!("{verbs} {gr} (cluster-wide)")
                } else {
                    format!("{verbs} {gr} in {}", nss.join(", "))
                }
            })
            .collect::<Vec<_>>();
        vec![Check {
            details,
            ..fail(
                format!("{} permission(s) denied:", denied.len()),
                "ask a cluster admin for them, or use --as / --context with a user that has them",
            )
        }]
    };
    rbac.extend(unwritable(handoff));
    rbac.push(mode);
    categories.push(Category {
        category: "rbac",
        checks: rbac,
    });

    // Storage and ingress classes.
    let mut classes = Vec::new();
    let needs_storage = objects
        .iter()
        .any(|o| o.kind == "StatefulSet" || o.kind == "PersistentVolumeClaim");
    if needs_storage {
        let scs: Api<StorageClass> = Api::all(client.clone());
        match &stack.config.cluster.storage_class {
            Some(name) => match scs.get_opt(name).await {
                Ok(Some(_)) => classes.push(ok(format!("StorageClass {name} exists"))),
                Ok(None) => classes.push(fail(format!("StorageClass {name} does not exist"), "create it, or set cluster.storageClass to one that exists (kubectl get storageclass)")),
                Err(e) => classes.push(warn(format!("not checked: whether StorageClass {name} exists ({})", explain(&e).reason), "grant get on storageclasses to check it")),
            },
            None => match scs.list(&ListParams::default()).await {
                Ok(list) => {
                    let default = list.items.iter().find(|s| {
                        s.metadata.annotations.as_ref().is_some_and(|a| a.get("storageclass.kubernetes.io/is-default-class").is_some_and(|v| v == "true"))
                    });
                    match default {
                        Some(s) => classes.push(ok(format!("default StorageClass {} will back the volumes", s.metadata.name.clone().unwrap_or_default()))),
                        None => classes.push(fail("no default StorageClass: claims would stay Pending", "set cluster.storageClass, or mark a StorageClass as default")),
                    }
                }
                Err(e) => classes.push(warn(format!("not checked: whether a default StorageClass will back the volumes ({})", explain(&e).reason), "grant list on storageclasses to check it")),
            },
        }
    }
    if objects.iter().any(|o| o.kind == "Ingress") {
        let ics: Api<IngressClass> = Api::all(client.clone());
        let name = &stack.config.cluster.ingress_class;
        match ics.get_opt(name).await {
            Ok(Some(_)) => classes.push(ok(format!("IngressClass {name} exists"))),
            Ok(None) => classes.push(warn(
                format!("IngressClass {name} does not exist: Ingresses will get no address"),
                "install the ingress controller, or set cluster.ingressClass",
            )),
            Err(e) => classes.push(warn(
                format!(
                    "not checked: whether IngressClass {name} exists ({})",
                    explain(&e).reason
                ),
                "grant get on ingressclasses to check it",
            )),
        }
    }
    if !classes.is_empty() {
        categories.push(Category {
            category: "classes",
            checks: classes,
        });
    }

    categories.push(Category {
        category: "capacity",
        checks: capacity(client, stack, inv).await,
    });
    categories.push(Category {
        category: "claims",
        checks: claims(client, stack).await,
    });
    categories.push(Category {
        category: "references",
        checks: references(client, stack, objects, made).await,
    });
    categories.push(single_points(stack));
    Ok(Report { categories })
}

/// The checks of the objects this user may not write: those it finds as planned (left
/// alone), those it cannot read (not checked) and those missing or changed, which fail and
/// name the command a cluster admin runs.
fn unwritable(handoff: &Handoff<'_>) -> Vec<Check> {
    use crate::cluster::rights::Need;
    let r = handoff.rights;
    let mut out = Vec::new();
    if !r.as_planned.is_empty() {
        out.push(Check {
            details: r.as_planned.clone(),
            ..ok(format!(
                "{} object(s) this user may not write exist as planned; install leaves them as they are:",
                r.as_planned.len()
            ))
        });
    }
    if !r.unchecked.is_empty() {
        out.push(Check {
            details: r.unchecked.clone(),
            ..warn(
                format!(
                    "not checked: {} cluster-scoped object(s) this user may neither read nor write; install leaves them as they are:",
                    r.unchecked.len()
                ),
                format!(
                    "if one is missing or differs, a cluster admin applies it: {}",
                    r.command([Need::ClusterScoped], handoff.flags)
                        .unwrap_or_default()
                ),
            )
        });
    }
    if !r.blocked.is_empty() {
        let hint = format!(
            "a cluster admin applies them, exactly as install would write them: {}",
            r.command(r.blocked.iter().map(|b| b.need), handoff.flags)
                .unwrap_or_default()
        );
        out.push(Check {
            details: r
                .blocked
                .iter()
                .map(|b| format!("{}: {}", b.id, b.why.join("; ")))
                .collect(),
            ..fail(
                format!(
                    "{} object(s) this user may not write are missing or differ from the plan:",
                    r.blocked.len()
                ),
                hint,
            )
        });
    }
    out
}

/// Whether a custom resource is served, asked in a namespace of the plan by a user who may
/// not read CRDs: a LIST there is 404 when it is not served.
async fn served_in_namespace(
    client: &Client,
    objects: &[Object],
    group: &str,
    kind: &str,
    crd: &str,
) -> Check {
    let Some(o) = objects
        .iter()
        .find(|o| o.kind == kind && api_version_group(&o.api_version).0 == group)
    else {
        return ok(format!("{kind} ({group}) is not needed"));
    };
    let api = crate::cluster::api_for(client, &o.api_version, kind, o.namespace.as_deref());
    let ns = o.namespace.clone().unwrap_or_default();
    match api.list_metadata(&ListParams::default().limit(1)).await {
        Ok(_) => ok(format!(
            "{kind} ({group}) is served (seen in {ns}: this user may not read CRDs)"
        )),
        Err(e) if crate::cluster::is_not_found(&e) => fail(
            format!("{kind} ({group}) is not installed: not served in {ns}"),
            crd_skip_hint(group),
        ),
        Err(e) => warn(
            format!(
                "not checked: whether {kind} ({group}) is served: this user may read neither CRD {crd} nor {} in {ns} ({})",
                plural(kind),
                explain(&e).reason
            ),
            crd_skip_hint(group),
        ),
    }
}

/// The planned objects whose owner could not be told: this user may not read them.
fn unread_owners(unread: Vec<String>) -> Check {
    Check {
        details: unread,
        ..warn(
            "not checked: who owns these objects of the plan (this user may not read them):",
            "install does not write them either (see rbac); a cluster admin's `kubectl voice check` tells their owners",
        )
    }
}

/// Claims kept by earlier runs that no workload uses count against the namespaces' quotas:
/// a quota that cannot hold them with the plan's claims fails here, before any write, instead
/// of a wait that never ends; each unused claim is listed with its size.
async fn claims(client: &Client, stack: &Stack) -> Vec<Check> {
    let live = match crate::cluster::statefulsets::live_claims(client, stack).await {
        Ok(l) => l,
        Err(e) => {
            return vec![warn(
                format!("cannot list the rollout's claims: {}", in_words(&e)),
                "grant list on persistentvolumeclaims in the rollout's namespaces",
            )];
        }
    };
    let found = voice_core::upgrade::claims(&voice_core::render::render(stack), &live);
    let mut out: Vec<Check> = found
        .over_quota
        .iter()
        .map(|q| {
            fail(
                q.clone(),
                "the quota is sized for the plan's own claims; kept claims of parts no longer planned do not fit it",
            )
        })
        .collect();
    if !found.unused.is_empty() && out.is_empty() {
        let mut c = warn(
            format!(
                "{} claim(s) are kept but used by no workload",
                found.unused.len()
            ),
            "delete them if their data is not needed (listed below)",
        );
        c.details = found
            .unused
            .iter()
            .map(|u| format!("{}/{} ({})", u.namespace, u.name, u.size))
            .collect();
        out.push(c);
    }
    if out.is_empty() {
        out.push(ok(format!(
            "{} claim(s), each used by the plan; the quotas hold them",
            live.len()
        )));
    }
    out
}

/// The category of [`single_points`]: warnings that describe the configuration, not the
/// cluster, so install does not ask about them.
pub(crate) const SINGLE_POINTS: &str = "single-points-of-failure";

/// The configuration's single-replica workloads behind a Service that others use: each one's
/// consumers lose it while its pod is replaced or its node drains (warnings, never failures).
pub(crate) fn single_points(stack: &Stack) -> Category {
    let points = voice_core::availability::single_points(stack);
    let mut checks: Vec<Check> = points
        .iter()
        .map(|p| {
            let c = stack.component(&p.component);
            let hint = match c {
                Some(c) if c.singleton || c.fixed_replicas => {
                    "one replica by design: plan its upgrades and node drains".to_string()
                }
                _ => format!("set components.{}.replicas to 2 or more", p.component),
            };
            Check {
                details: p.consumers.clone(),
                ..warn(
                    format!(
                        "{}: one replica; {} lose it while it restarts or its node drains:",
                        p.component,
                        match p.consumers.len() {
                            1 => "its consumer".to_string(),
                            n => format!("its {n} consumers"),
                        }
                    ),
                    hint,
                )
            }
        })
        .collect();
    if checks.is_empty() {
        checks.push(ok(
            "every workload that others use runs more than one replica",
        ));
    }
    Category {
        category: SINGLE_POINTS,
        checks,
    }
}

/// Free capacity of the schedulable nodes: allocatable minus what running pods (other than
/// this rollout's own, which a re-install replaces) already request.
pub(crate) async fn live_nodes(
    client: &Client,
    inv: &Inventory,
) -> anyhow::Result<Vec<NodeCapacity>> {
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::all(client.clone());
    let node_list = nodes.list(&ListParams::default()).await?;
    let pod_list = pods
        .list(&ListParams::default().fields("status.phase!=Succeeded,status.phase!=Failed"))
        .await?;
    let q =
        |m: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
         k: &str| {
            m.and_then(|m| m.get(k))
                .map(|q| q.0.clone())
                .unwrap_or_default()
        };
    let mut used: BTreeMap<String, (u64, u64, u32)> = BTreeMap::new();
    for p in &pod_list.items {
        let ours = p.metadata.labels.as_ref().is_some_and(|l| {
            l.get("app.kubernetes.io/instance") == Some(&inv.instance)
                && l.contains_key("app.kubernetes.io/managed-by")
        });
        let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.clone()) else {
            continue;
        };
        let e = used.entry(node).or_default();
        e.2 += 1;
        if ours {
            continue;
        }
        for c in p.spec.iter().flat_map(|s| &s.containers) {
            let r = c.resources.as_ref().and_then(|r| r.requests.as_ref());
            e.0 += MilliCpu::parse(&q(r, "cpu")).map(|c| c.0).unwrap_or(0);
            e.1 += Bytes::parse(&q(r, "memory")).map(|b| b.0).unwrap_or(0);
        }
    }
    let mut out = Vec::new();
    for n in &node_list.items {
        let spec = n.spec.clone().unwrap_or_default();
        let ready = n
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if spec.unschedulable == Some(true) || !ready {
            continue;
        }
        // Tainted nodes stay: the fit places only the pods that tolerate their taints.
        let taints: Vec<Taint> = spec
            .taints
            .iter()
            .flatten()
            .filter_map(|t| {
                let effect = match t.effect.as_str() {
                    "NoSchedule" => TaintEffect::NoSchedule,
                    "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
                    "NoExecute" => TaintEffect::NoExecute,
                    _ => return None,
                };
                Some(Taint {
                    key: t.key.clone(),
                    value: t.value.clone().unwrap_or_default(),
                    effect,
                })
            })
            .collect();
        let labels = n.metadata.labels.clone().unwrap_or_default();
        let alloc = n.status.as_ref().and_then(|s| s.allocatable.as_ref());
        let name = n.metadata.name.clone().unwrap_or_default();
        let (cpu, mem, pods) = used.get(&name).copied().unwrap_or_default();
        let a_cpu = MilliCpu::parse(&q(alloc, "cpu")).map(|c| c.0).unwrap_or(0);
        let a_mem = Bytes::parse(&q(alloc, "memory")).map(|b| b.0).unwrap_or(0);
        let a_pods: u32 = q(alloc, "pods").parse().unwrap_or(110);
        out.push(NodeCapacity {
            name,
            cpu: MilliCpu(a_cpu.saturating_sub(cpu)),
            memory: Bytes(a_mem.saturating_sub(mem)),
            pods: a_pods.saturating_sub(pods),
            pool: voice_core::fit::pool_of(&labels),
            labels,
            taints,
        });
    }
    Ok(out)
}

async fn capacity(client: &Client, stack: &Stack, inv: &Inventory) -> Vec<Check> {
    let nodes = match live_nodes(client, inv).await {
        Ok(n) => n,
        Err(e) => {
            return vec![warn(
                format!(
                    "not checked: whether the plan fits the nodes (cannot read nodes and pods: {})",
                    in_words(&e)
                ),
                "grant list on nodes and pods to check capacity",
            )];
        }
    };
    if nodes.is_empty() {
        return vec![fail(
            "no Ready, schedulable node",
            "add nodes or uncordon one",
        )];
    }
    let plan = voice_core::plan::plan_on(stack, &nodes);
    let f = &plan.fit;
    let n = nodes.len();
    let mut out: Vec<Check> = f
        .placement_problems()
        .map(|(component, problem)| {
            fail(
                format!("{component}: {problem}"),
                "label or untaint nodes to match, or change its placement (`kubectl voice plan` lists which nodes each component can go on)",
            )
        })
        .collect();
    out.extend(match f.verdict {
        voice_core::fit::Verdict::Fits => vec![ok(format!("every pod fits on the {n} schedulable node(s) at maximum replicas"))],
        voice_core::fit::Verdict::FitsAtMinOnly => vec![Check {
            details: crate::output::pod_groups(&f.at_max.unplaced),
            ..warn(
                format!("fits at minimum replicas only; at maximum {} pod(s) stay Pending:", f.at_max.unplaced.len()),
                "add nodes, or lower the HPA maximums",
            )
        }],
        voice_core::fit::Verdict::DoesNotFit => vec![Check {
            details: crate::output::pod_groups(&f.at_min.unplaced),
            ..fail(
                format!("{} pod(s) do not fit on the {n} schedulable node(s):", f.at_min.unplaced.len()),
                match f.nodes_needed_min {
                    Some(n) => format!("add nodes (about {n} of the configured shape are needed), lower requests, or choose a smaller profile"),
                    None => "a pod is larger than any configured node: use bigger nodes or lower its requests".into(),
                },
            )
        }],
    });
    out
}

/// What `voice.yaml` names that install does not make: the image pull Secrets in every
/// namespace where pods start (`made`: the one `--image-pull-secret` makes in this run), the
/// Secrets and keys the extra environment reads, and the PriorityClasses the pods ask for.
/// Each missing one is named; no Secret value is read.
async fn references(
    client: &Client,
    stack: &Stack,
    objects: &[Object],
    made: &[String],
) -> Vec<Check> {
    use k8s_openapi::api::core::v1::Secret;
    use k8s_openapi::api::scheduling::v1::PriorityClass;
    let mut out = Vec::new();
    // Each Secret is read once: its type and key names (`None`: it does not exist), or why
    // it could not be read. Its values are dropped unread.
    type Read = Result<Option<(String, BTreeSet<String>)>, String>;
    let mut read: BTreeMap<(String, String), Read> = BTreeMap::new();
    let mut secret = async |ns: &str, name: &str| {
        let id = (ns.to_string(), name.to_string());
        if !read.contains_key(&id) {
            let api: Api<Secret> = Api::namespaced(client.clone(), ns);
            let got = match api.get_opt(name).await {
                Ok(s) => Ok(s.map(|s| {
                    let keys = s.data.iter().flatten().map(|(k, _)| k.clone()).collect();
                    (s.type_.unwrap_or_default(), keys)
                })),
                Err(e) => Err(explain(&e).reason),
            };
            read.insert(id.clone(), got);
        }
        read[&id].clone()
    };
    let namespaces = crate::cluster::pull_secret::namespaces(stack);
    for name in &stack.config.images.pull_secrets {
        if made.contains(name) {
            out.push(ok(format!(
                "image pull Secret {name}: made from --image-pull-secret where missing"
            )));
            continue;
        }
        let (mut missing, mut wrong, mut unread) = (Vec::new(), Vec::new(), Vec::new());
        let before = out.len();
        for ns in &namespaces {
            match secret(ns, name).await {
                Ok(Some((t, _)))
                    if t == crate::cluster::pull_secret::TYPE || t == "kubernetes.io/dockercfg" => {
                }
                Ok(Some((t, _))) => wrong.push(format!("{ns} (type {t})")),
                Ok(None) => missing.push(ns.clone()),
                Err(why) => unread.push(format!("{ns}: {why}")),
            }
        }
        if !missing.is_empty() {
            out.push(Check {
                details: missing,
                ..fail(
                    format!("image pull Secret {name} is missing in these namespaces:"),
                    format!(
                        "create it there (kubectl create secret docker-registry {name} -n <namespace> …), install with --image-pull-secret <docker config>, or drop it from images.pullSecrets"
                    ),
                )
            });
        }
        if !wrong.is_empty() {
            out.push(Check {
                details: wrong,
                ..fail(
                    format!("image pull Secret {name} is not of type {}:", crate::cluster::pull_secret::TYPE),
                    "the kubelet reads registry credentials only from Secrets of that type; re-create it with kubectl create secret docker-registry",
                )
            });
        }
        if !unread.is_empty() {
            out.push(Check {
                details: unread,
                ..warn(
                    format!("cannot read image pull Secret {name}:"),
                    "grant get on secrets in the rollout's namespaces",
                )
            });
        }
        if out.len() == before {
            out.push(ok(format!(
                "image pull Secret {name} exists in {}",
                namespaces.iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    // Secret keys the extra environment reads: (namespace, secret, key) → components.
    let mut refs: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    for c in stack
        .components
        .iter()
        .filter(|c| stack.selection.includes(c))
    {
        for e in c.pods.env() {
            if let voice_core::config::EnvSource::SecretKeyRef { name, key } = &e.value {
                refs.entry((c.namespace.clone(), name.clone(), key.clone()))
                    .or_default()
                    .push(c.name.clone());
            }
        }
    }
    for ((ns, name, key), components) in refs {
        // A key of a Secret install makes is there once install has run.
        if stack
            .secrets
            .iter()
            .any(|s| s.namespace == ns && s.name == name && s.keys.iter().any(|k| k.key == key))
        {
            continue;
        }
        let who = components.join(", ");
        out.push(match secret(&ns, &name).await {
            Ok(Some((_, keys))) if keys.contains(&key) => {
                ok(format!("Secret {ns}/{name} has key {key} (env of {who})"))
            }
            Ok(Some(_)) => fail(
                format!("Secret {ns}/{name} has no key {key}, which the env of {who} reads"),
                "add the key to the Secret, or fix secretKeyRef.key",
            ),
            Ok(None) => fail(
                format!("Secret {ns}/{name} does not exist; the env of {who} reads its key {key}"),
                "create it in that namespace, or fix secretKeyRef.name",
            ),
            Err(why) => warn(
                format!("cannot read Secret {ns}/{name}: {why}"),
                "grant get on secrets in the rollout's namespaces",
            ),
        });
    }
    // PriorityClasses the pods ask for, other than the rollout's own.
    let mut classes: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in stack
        .components
        .iter()
        .filter(|c| stack.selection.includes(c))
    {
        if let Some(p) = &c.pods.priority_class_name {
            classes.entry(p).or_default().push(&c.name);
        }
    }
    let api: Api<PriorityClass> = Api::all(client.clone());
    for (name, components) in classes {
        if objects
            .iter()
            .any(|o| o.kind == "PriorityClass" && o.name == name)
        {
            continue;
        }
        out.push(match api.get_opt(name).await {
            Ok(Some(_)) => ok(format!("PriorityClass {name} exists")),
            Ok(None) => fail(
                format!(
                    "PriorityClass {name} does not exist: the pods of {} would be refused",
                    components.join(", ")
                ),
                "create it, or set priorityClassName to one that exists (kubectl get priorityclass)",
            ),
            Err(e) => warn(
                format!("cannot read PriorityClass {name}: {}", explain(&e).reason),
                "grant get on priorityclasses",
            ),
        });
    }
    if out.is_empty() {
        out.push(ok(
            "voice.yaml names no image pull Secret, Secret key or PriorityClass to check",
        ));
    }
    out
}

/// The secret values install will need: required ones supplied or stored, and supplied ones
/// that differ from what is stored (kept unless `install --rotate`).
pub(crate) fn secrets(pre: &crate::cluster::secrets::Preflight) -> Category {
    let mut checks: Vec<Check> = pre
        .missing
        .iter()
        .map(|m| fail(format!("required value missing: {m}"), "supply it before installing"))
        .chain(pre.named.iter().map(|m| {
            fail(
                m.clone(),
                "create it, or correct its name or keys in voice.yaml",
            )
        }))
        .chain(pre.differs.iter().map(|d| {
            warn(
                format!("{d}: the supplied value differs from the stored one"),
                "install keeps the stored value; `install --rotate` replaces it and rolls its readers",
            )
        }))
        .collect();
    if checks.is_empty() {
        checks.push(ok("every required secret value is supplied or stored"));
    }
    Category {
        category: "secrets",
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_points_are_warnings_naming_their_consumers() {
        let stack = voice_core::load(&voice_core::Input {
            profile: Some(voice_core::ProfileName::Production),
            ..Default::default()
        })
        .unwrap();
        let c = single_points(&stack);
        assert_eq!(c.category, SINGLE_POINTS);
        assert!(c.checks.iter().all(|k| k.result == Outcome::Warning));
        let ch = c
            .checks
            .iter()
            .find(|k| k.description.starts_with("posthog-clickhouse:"))
            .expect("posthog-clickhouse is listed");
        assert_eq!(
            ch.description,
            "posthog-clickhouse: one replica; its 4 consumers lose it while it restarts or its node drains:"
        );
        assert_eq!(ch.details.len(), 4);
        assert!(
            ch.hint
                .as_deref()
                .is_some_and(|h| h.contains("one replica by design"))
        );
        // Replicated workloads are not single points.
        assert!(
            !c.checks
                .iter()
                .any(|k| k.description.starts_with("model-router:"))
        );
        // Every line fits a terminal, as the rest of the report does.
        let report = Report {
            categories: vec![c.clone()],
        };
        let text = report.human();
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
    }
}
