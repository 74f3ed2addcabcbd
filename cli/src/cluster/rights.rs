//! What this user may write of a cluster admin's part of a run. An operator with rights in
//! the selection's namespaces alone (Kubernetes' `admin` role bound there) may not write the
//! cluster-scoped objects of its selection (Namespaces, PriorityClasses, ClusterRoles and
//! their bindings) nor its namespaces' quotas and limit ranges. Install leaves each such object
//! alone when it exists as planned ([`voice_core::upgrade::apply_changes`] finds nothing to
//! change), and otherwise stops before any write, naming every such object and the command a
//! cluster admin runs (`kubectl voice render --cluster-scoped …`). Any other object this user
//! may not write is a missing permission, which `check` lists as such.

use std::collections::BTreeMap;

use anyhow::Context as _;
use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::Client;
use kube::api::{Api, PostParams};
use voice_core::render::Object;
use voice_core::render::selection::is_namespace_policy;

use crate::cluster::inventory::{self, Inventory};
use crate::cluster::{api_for, api_version_group, cluster_scoped, is_forbidden, plural};

/// An object this user may not write that is missing or differs from the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blocked {
    /// `kind/namespace/name`.
    pub id: String,
    /// Which render a cluster admin applies it from.
    pub need: Need,
    /// What differs, one field a line (`missing` when it does not exist).
    pub why: Vec<String>,
}

/// Which render of [`Rights::command`] holds an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Without a namespace: `render --cluster-scoped`.
    ClusterScoped,
    /// A namespace's ResourceQuota or LimitRange: `render --namespace-policies`.
    Policy,
}

impl Need {
    /// The cluster admin's part an object belongs to, if any.
    fn of(o: &Object) -> Option<Need> {
        if cluster_scoped(&o.kind) {
            Some(Need::ClusterScoped)
        } else if is_namespace_policy(o) {
            Some(Need::Policy)
        } else {
            None
        }
    }
}

/// The objects of a run this user may not write, sorted by what the run does with them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rights {
    /// Objects of a cluster admin's part it may not write, found as planned: the run leaves
    /// them as they are.
    pub as_planned: Vec<String>,
    /// Objects of a cluster admin's part it may not write that are missing or differ: the run
    /// stops before any write.
    pub blocked: Vec<Blocked>,
    /// Cluster-scoped objects it may neither write nor read: left as they are, not checked
    /// (said in one line).
    pub unchecked: Vec<String>,
}

impl Rights {
    /// Whether the run leaves `id` alone instead of applying it.
    pub(crate) fn leaves(&self, id: &str) -> bool {
        self.as_planned.iter().any(|x| x == id) || self.unchecked.iter().any(|x| x == id)
    }

    /// The command a cluster admin runs to apply the objects of `needs`, given the
    /// configuration flags of the run (`--profile dev --set … --only model-router`), or `None`
    /// for no need.
    pub(crate) fn command(
        &self,
        needs: impl IntoIterator<Item = Need>,
        config_flags: &str,
    ) -> Option<String> {
        let needs: Vec<Need> = needs.into_iter().collect();
        let mut flags = Vec::new();
        if needs.contains(&Need::ClusterScoped) {
            flags.push("--cluster-scoped");
        }
        if needs.contains(&Need::Policy) {
            flags.push("--namespace-policies");
        }
        (!flags.is_empty()).then(|| {
            format!(
                "kubectl voice render {}{}{config_flags} | kubectl apply --server-side --field-manager=kubectl-voice --force-conflicts -f -",
                flags.join(" "),
                if config_flags.is_empty() { "" } else { " " },
            )
        })
    }

    /// Why the run stops (`None`: it need not): every object it may not write that is
    /// missing or differs, what differs, and who applies it with which command.
    pub(crate) fn refusal(&self, config_flags: &str) -> Option<String> {
        if self.blocked.is_empty() {
            return None;
        }
        let mut s = format!(
            "{} object(s) of this run are missing or differ from the plan, and this user may not write them:\n",
            self.blocked.len()
        );
        // A user with no rights at all would see every object: the first ones say enough.
        const SHOWN: usize = 20;
        for b in self.blocked.iter().take(SHOWN) {
            s.push_str(&format!("  {}: {}\n", b.id, b.why.join("; ")));
        }
        if self.blocked.len() > SHOWN {
            s.push_str(&format!(
                "  … and {} more (`kubectl voice check` lists them all)\n",
                self.blocked.len() - SHOWN
            ));
        }
        if let Some(cmd) = self.command(self.blocked.iter().map(|b| b.need), config_flags) {
            s.push_str(&format!(
                "a cluster admin applies them, exactly as install would write them:\n  {cmd}\nthen run this again\n"
            ));
        }
        Some(s)
    }

    /// One line each for what the run leaves alone: objects found as planned, and those it
    /// could not read (not checked).
    pub(crate) fn notes(&self, config_flags: &str) -> Vec<String> {
        let mut out = Vec::new();
        if !self.as_planned.is_empty() {
            out.push(format!(
                "left as they are: {} object(s) this user may not write exist as planned ({})",
                self.as_planned.len(),
                self.as_planned.join(", ")
            ));
        }
        if !self.unchecked.is_empty() {
            let cmd = self
                .command([Need::ClusterScoped], config_flags)
                .unwrap_or_default();
            out.push(format!(
                "not checked: {} (this user may neither read nor write them), left as they are; if one is missing or differs, a cluster admin applies it: {cmd}",
                self.unchecked.join(", ")
            ));
        }
        out
    }
}

/// Whether this user may write everything: `*` on every resource across the cluster.
async fn writes_everything(client: &Client) -> bool {
    allowed(client, "*", "*", None, None, "*").await
}

/// One SelfSubjectAccessReview; a review that cannot be made counts as denied.
async fn allowed(
    client: &Client,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
    name: Option<&str>,
    verb: &str,
) -> bool {
    let ssar: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                group: Some(group.into()),
                resource: Some(resource.into()),
                namespace: namespace.map(str::to_string),
                name: name.map(str::to_string),
                verb: Some(verb.into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    ssar.create(&PostParams::default(), &review)
        .await
        .ok()
        .and_then(|r| r.status)
        .is_some_and(|s| s.allowed)
}

/// The review that tells whether this user may apply `o`: `patch` on its resource, in its
/// namespace (a Namespace is its own: `PATCH /api/v1/namespaces/x` is authorized in `x`).
fn review_of(o: &Object) -> (String, String, Option<String>, Option<String>) {
    let (group, _) = api_version_group(&o.api_version);
    let (namespace, name) = match (o.kind.as_str(), cluster_scoped(&o.kind)) {
        ("Namespace", _) => (Some(o.name.clone()), Some(o.name.clone())),
        (_, true) => (None, Some(o.name.clone())),
        (_, false) => (o.namespace.clone(), None),
    };
    (group.to_string(), plural(&o.kind), namespace, name)
}

/// Which of the cluster admin's part of `objects` (cluster-scoped objects, namespace
/// policies) this user may not write, and of those which exist as install would write them.
/// A user who may write everything is asked nothing more; otherwise one review per object of
/// that part, and one GET per object it may not write.
pub(crate) async fn assess(
    client: &Client,
    inv: &Inventory,
    objects: &[Object],
) -> anyhow::Result<Rights> {
    if writes_everything(client).await {
        return Ok(Rights::default());
    }
    let admins: Vec<(&Object, Need)> = objects
        .iter()
        .filter_map(|o| Need::of(o).map(|n| (o, n)))
        .collect();
    let reviews: std::collections::BTreeSet<_> = admins.iter().map(|(o, _)| review_of(o)).collect();
    let answers: BTreeMap<_, bool> = futures::stream::iter(reviews)
        .map(|r| async move {
            let ok = allowed(client, &r.0, &r.1, r.2.as_deref(), r.3.as_deref(), "patch").await;
            (r, ok)
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let unwritable: Vec<(&Object, Need)> = admins
        .into_iter()
        .filter(|(o, _)| answers.get(&review_of(o)) == Some(&false))
        .collect();
    let found: Vec<(String, Need, Option<Vec<String>>)> = futures::stream::iter(unwritable)
        .map(|(o, need)| async move {
            let api = api_for(client, &o.api_version, &o.kind, o.namespace.as_deref());
            let why = match api.get_opt(&o.name).await {
                Ok(Some(live)) => Some(voice_core::upgrade::apply_changes(
                    &inventory::label(inv, o),
                    &serde_json::to_value(&live)?,
                    voice_core::render::MANAGER,
                )),
                Ok(None) => Some(vec!["missing".to_string()]),
                Err(e) if is_forbidden(&e) && need == Need::ClusterScoped => None,
                Err(e) if is_forbidden(&e) => {
                    Some(vec!["this user may neither read nor write it".to_string()])
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!("reading {}", o.id())));
                }
            };
            Ok::<_, anyhow::Error>((o.id(), need, why))
        })
        .buffered(16)
        .try_collect()
        .await
        .context("reading the objects this user may not write")?;
    let mut rights = Rights::default();
    for (id, need, why) in found {
        match why {
            None => rights.unchecked.push(id),
            Some(why) if why.is_empty() => rights.as_planned.push(id),
            Some(why) => rights.blocked.push(Blocked { id, need, why }),
        }
    }
    Ok(rights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_names_each_object_and_who_applies_it() {
        let r = Rights {
            as_planned: vec!["Namespace/t-app".into()],
            blocked: vec![
                Blocked {
                    id: "Namespace/t-infra".into(),
                    need: Need::ClusterScoped,
                    why: vec!["metadata.labels.team: missing (planned: voice)".into()],
                },
                Blocked {
                    id: "ResourceQuota/t-app/compute-quota".into(),
                    need: Need::Policy,
                    why: vec!["spec.hard.pods: 20 (planned: 30)".into()],
                },
            ],
            unchecked: vec!["PriorityClass/t-high-priority".into()],
        };
        let said = r.refusal("--profile dev --only model-router").unwrap();
        assert!(
            said.contains("  Namespace/t-infra: metadata.labels.team: missing (planned: voice)\n"),
            "{said}"
        );
        assert!(
            said.contains(
                "  ResourceQuota/t-app/compute-quota: spec.hard.pods: 20 (planned: 30)\n"
            ),
            "{said}"
        );
        assert!(
            said.contains("  kubectl voice render --cluster-scoped --namespace-policies --profile dev --only model-router | kubectl apply --server-side --field-manager=kubectl-voice --force-conflicts -f -\n"),
            "{said}"
        );
        assert!(!said.contains("RoleBinding"), "{said}");
        assert!(r.leaves("Namespace/t-app") && r.leaves("PriorityClass/t-high-priority"));
        assert!(!r.leaves("Namespace/t-infra"));
        let notes = r.notes("--profile dev");
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[1].starts_with("not checked: PriorityClass/t-high-priority"),
            "{notes:?}"
        );
        assert!(Rights::default().refusal("").is_none());
        assert!(Rights::default().notes("").is_empty());
        // Namespace policies alone: that flag alone.
        let r = Rights {
            blocked: vec![Blocked {
                id: "LimitRange/t-posthog/limit-range".into(),
                need: Need::Policy,
                why: vec!["this user may neither read nor write it".into()],
            }],
            ..Default::default()
        };
        let said = r.refusal("").unwrap();
        assert!(
            said.contains("  kubectl voice render --namespace-policies | kubectl apply"),
            "{said}"
        );
    }
}
