//! `kubectl voice install`: check, then the plan's waves. Everything that needs a decision
//! (prunes, StatefulSet upgrades, autoscaled replicas) is worked out by [`prepare`] before
//! the first write. Each wave is server-side applied in parallel with bounded concurrency,
//! then its gates are awaited by watches; a timeout names the root cause. Objects the
//! configuration dropped are pruned after confirmation (never Secrets or claims).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::runtime::wait::await_condition;
use voice_core::Stack;
use voice_core::plan::{Gate, ObjectRef, Wave};
use voice_core::render::{MANAGER, Object};

use crate::cluster::api_for;
use crate::cluster::inventory::{self, Inventory, Member};
use crate::cluster::pull_secret;
use crate::cluster::secrets::{self, Outcome, UserValues};
use crate::cluster::{prune, rights, statefulsets, wait};
use crate::progress::Progress;

/// Install options.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Server-side dry run: nothing is persisted, gates are not awaited.
    pub dry_run: bool,
    /// Per-wave deadline.
    pub timeout: Duration,
    /// Objects applied at once.
    pub concurrency: usize,
    /// Await each wave's gates before the next.
    pub wait: bool,
    /// Re-create StatefulSets whose change cannot be made in place (their pods and claims
    /// are kept).
    pub recreate_statefulsets: bool,
    /// Supplied secret values replace the stored ones (`--rotate`).
    pub rotate: bool,
    /// The image pull Secret to make where it is missing (`--image-pull-secret`).
    pub pull_secret: Option<pull_secret::PullSecret>,
}

/// What an install did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub(crate) struct Summary {
    /// Objects created.
    pub created: usize,
    /// Objects changed.
    pub configured: usize,
    /// Objects already as planned.
    pub unchanged: usize,
    /// Objects deleted and created again: the change was one the API never makes in place.
    pub replaced: usize,
    /// Objects removed because the plan no longer has them.
    pub pruned: usize,
    /// Secrets created or completed.
    pub secrets_written: usize,
    /// Secrets left as they were.
    pub secrets_unchanged: usize,
}

/// What applying one object did.
#[derive(Debug, Clone, Default)]
pub(crate) struct Applied {
    /// Our field manager's managedFields entry afterwards.
    pub entry: Option<String>,
    /// Why the object was deleted and created again, if it was.
    pub replaced: Option<String>,
}

/// How long a replaced object may take to go after its deletion.
const REPLACE_DEADLINE: Duration = Duration::from_secs(120);

/// How the replicas of an autoscaled Deployment are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replicas {
    /// It does not exist yet: create it, then set the autoscaler's minimum through the
    /// hand-over field manager.
    Create(u32),
    /// It exists and our field manager still owns `spec.replicas`: hand the field over
    /// (keeping this live value) before applying without it, so the apply does not reset
    /// the autoscaled count.
    Handover(i64),
    /// It exists and the autoscaler owns the count: leave it out.
    Live(i64),
}

/// What install adjusts on one object, decided before any write.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Adjust<'a> {
    /// Replicas of an autoscaled Deployment.
    pub replicas: Option<Replicas>,
    /// The live StatefulSet and how the plan changes it.
    pub upgrade: Option<&'a statefulsets::Upgrade>,
    /// A ResourceQuota's limits to hold until the workloads have shrunk.
    pub hard: Option<&'a serde_json::Value>,
}

/// The field manager that holds `spec.replicas` of an autoscaled Deployment after install
/// hands it over.
const HANDOVER: &str = "kubectl-voice-replicas";

/// The body install applies for an object: the rendered object with the inventory label and
/// the live claim templates' metadata where only that differs. For a diff, an autoscaled
/// Deployment also shows the replicas it has (or will be created with).
pub(crate) fn body(
    inv: &Inventory,
    o: &Object,
    adjust: Adjust<'_>,
    for_diff: bool,
) -> serde_json::Value {
    let mut body = inventory::label(inv, o);
    match adjust.replicas {
        Some(Replicas::Create(n)) if for_diff => body["spec"]["replicas"] = n.into(),
        Some(Replicas::Handover(n) | Replicas::Live(n)) if for_diff => {
            body["spec"]["replicas"] = n.into();
        }
        _ => {}
    }
    if let Some(u) = adjust.upgrade
        && u.change.keep_live_templates
        && u.change.immutable.is_empty()
    {
        voice_core::upgrade::keep_live_template_metadata(&mut body, &u.live);
    }
    if let Some(hard) = adjust.hard
        && !for_diff
    {
        body["spec"]["hard"] = hard.clone();
    }
    body
}

/// Applies one object with server-side apply. An object whose change the API server never
/// makes in place (see [`immutable_change`] and [`kept_headless`]) is deleted, awaited
/// until gone and created again; a StatefulSet so only with `--recreate-statefulsets`,
/// keeping its pods and claims.
pub(crate) async fn apply_one(
    client: &Client,
    inv: &Inventory,
    o: &Object,
    adjust: Adjust<'_>,
    opts: &Options,
) -> anyhow::Result<Applied> {
    let dry_run = opts.dry_run;
    let api = api_for(client, &o.api_version, &o.kind, o.namespace.as_deref());
    // Unknown fields still fail an apply whatever fieldValidation says (the server types the
    // patch against the schema); Warn and Strict only add a second, strict decoding of the
    // body that looks for duplicate keys, which a serialized JSON object cannot have.
    let mut pp = PatchParams::apply(MANAGER).force().validation_ignore();
    pp.dry_run = dry_run;
    let body = body(inv, o, adjust, false);
    if let Some(u) = adjust.upgrade
        && !u.change.immutable.is_empty()
    {
        if !opts.recreate_statefulsets {
            anyhow::bail!(
                "{}: {} (run with --recreate-statefulsets)",
                o.id(),
                u.change.immutable.join("; ")
            );
        }
        let notes = statefulsets::recreate(client, o, &body, u, dry_run).await?;
        let mut why = format!(
            "re-created, pods and claims kept: {}",
            u.change.immutable.join("; ")
        );
        for n in notes {
            why.push_str("; ");
            why.push_str(&n);
        }
        return Ok(Applied {
            entry: None,
            replaced: Some(why),
        });
    }
    // The replicas of an autoscaled Deployment belong to a field manager of their own, which
    // the autoscaler's writes then take over; ours never lists them, so no apply resets them.
    let hand_over = |n: i64| {
        let only = serde_json::json!({
            "apiVersion": o.api_version,
            "kind": o.kind,
            "metadata": {"name": o.name, "namespace": o.namespace},
            "spec": {"replicas": n},
        });
        let mut hp = PatchParams::apply(HANDOVER).force().validation_ignore();
        hp.dry_run = dry_run;
        let api = api.clone();
        let id = o.id();
        async move {
            api.patch(&o.name, &hp, &Patch::Apply(&only))
                .await
                .map(|_| ())
                .with_context(|| format!("handing the replicas of {id} over to its autoscaler"))
        }
    };
    if let Some(Replicas::Handover(n)) = adjust.replicas {
        hand_over(n).await?;
    }
    if let Some(Replicas::Create(n)) = adjust.replicas
        && !dry_run
    {
        // Created without replicas (one pod at first), then set to the minimum at once.
        let out = api
            .patch(&o.name, &pp, &Patch::Apply(&body))
            .await
            .with_context(|| format!("applying {}", o.id()))?;
        hand_over(i64::from(n)).await?;
        return Ok(Applied {
            entry: inventory::applied_entry(&out.metadata),
            replaced: None,
        });
    }
    let why = match api.patch(&o.name, &pp, &Patch::Apply(&body)).await {
        Ok(out) => match kept_headless(o, &out) {
            None => {
                return Ok(Applied {
                    entry: inventory::applied_entry(&out.metadata),
                    replaced: None,
                });
            }
            Some(why) => why,
        },
        Err(kube::Error::Api(s)) => match immutable_change(&o.kind, &s) {
            Some(why) => why,
            None => {
                return Err(
                    anyhow::Error::new(kube::Error::Api(s)).context(format!("applying {}", o.id()))
                );
            }
        },
        Err(e) => return Err(anyhow::Error::new(e).context(format!("applying {}", o.id()))),
    };
    let dp = DeleteParams {
        dry_run,
        propagation_policy: Some(kube::api::PropagationPolicy::Background),
        ..Default::default()
    };
    match api.delete(&o.name, &dp).await {
        Ok(_) => {}
        Err(e) if crate::cluster::is_not_found(&e) => {}
        Err(e) => {
            return Err(
                anyhow::Error::new(e).context(format!("deleting {} to replace it ({why})", o.id()))
            );
        }
    }
    if dry_run {
        return Ok(Applied {
            entry: None,
            replaced: Some(why),
        });
    }
    let gone = await_condition(api.clone(), &o.name, |x: Option<&DynamicObject>| {
        x.is_none()
    });
    tokio::time::timeout(REPLACE_DEADLINE, gone)
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "{} still exists {}s after its deletion (replacing it: {why})",
                o.id(),
                REPLACE_DEADLINE.as_secs()
            )
        })?
        .with_context(|| format!("waiting for {} to go", o.id()))?;
    let out = api
        .patch(&o.name, &pp, &Patch::Apply(&body))
        .await
        .with_context(|| format!("creating {} again after deleting it", o.id()))?;
    Ok(Applied {
        entry: inventory::applied_entry(&out.metadata),
        replaced: Some(why),
    })
}

/// The fields of a kind that the API server never lets change in place: an apply that
/// changes them is rejected as 422 Invalid naming them, and only replacing the object
/// helps. Returns why, when every cause of the rejection is such a field. Claims, Secrets
/// and StatefulSets are never replaced: they hold data or a stable identity.
fn immutable_change(kind: &str, s: &kube::core::Status) -> Option<String> {
    let fields: &[&str] = match kind {
        // spec.clusterIP and spec.clusterIPs[i]: None and an address do not convert.
        "Service" => &["spec.clusterIP"],
        "Job" => &["spec.selector", "spec.template"],
        _ => return None,
    };
    let causes = &s.details.as_ref()?.causes;
    let replaceable = s.code == 422
        && s.reason == "Invalid"
        && !causes.is_empty()
        && causes
            .iter()
            .all(|c| fields.iter().any(|f| c.field.starts_with(f)));
    replaceable.then(|| {
        let named: BTreeSet<&str> = causes.iter().map(|c| c.field.as_str()).collect();
        format!(
            "{} cannot change in place",
            named.into_iter().collect::<Vec<_>>().join(", ")
        )
    })
}

/// A Service the plan no longer makes headless stays headless when applied, without an
/// error: the server keeps the clusterIP `None` it allocated when the field is left out.
fn kept_headless(o: &Object, live: &DynamicObject) -> Option<String> {
    let headless = |v: &serde_json::Value| {
        v.pointer("/spec/clusterIP").and_then(|c| c.as_str()) == Some("None")
    };
    (o.kind == "Service" && headless(&live.data) && !headless(&o.value()))
        .then(|| "spec.clusterIP cannot change from None to an address in place".to_string())
}

/// Applies a wave's objects in parallel; counts outcomes against the live members and
/// returns the objects it had to replace, each with why. The wave's data stores that
/// already run go after the rest, one at a time, each awaited Ready before the next (when
/// the run waits), so consumers never lose two stores at once.
#[allow(clippy::too_many_arguments)]
async fn apply_wave(
    client: &Client,
    inv: &Inventory,
    wave: &Wave,
    objects: &[Object],
    live: &BTreeMap<String, &Member>,
    prepared: &Prepared,
    opts: &Options,
    summary: &mut Summary,
    progress: &mut Progress,
) -> anyhow::Result<Vec<String>> {
    let find = |r: &ObjectRef| {
        objects
            .iter()
            .find(|o| o.kind == r.kind && o.name == r.name && o.namespace == r.namespace)
    };
    // Objects this user may not write that exist as planned (or that it cannot read) are
    // left as they are, counted unchanged.
    let left = |o: &&Object| prepared.rights.leaves(&o.id());
    summary.unchanged += wave.objects.iter().filter_map(find).filter(left).count();
    let in_turn: Vec<&Object> = if opts.wait && !opts.dry_run {
        wave.one_by_one
            .iter()
            .filter_map(find)
            .filter(|o| live.contains_key(&o.id()) && !left(o))
            .collect()
    } else {
        Vec::new()
    };
    let todo: Vec<&Object> = wave
        .objects
        .iter()
        .filter_map(find)
        .filter(|o| !in_turn.iter().any(|t| t.id() == o.id()) && !left(o))
        .collect();
    // Roles go before the rest: a binding to a Role that does not exist yet is refused to a
    // user who may not `bind` (a namespace admin), whose rights the API checks against the
    // Role's rules.
    let (roles, rest): (Vec<&Object>, Vec<&Object>) = todo
        .into_iter()
        .partition(|o| matches!(o.kind.as_str(), "Role" | "ClusterRole"));
    let mut results: Vec<(String, Applied)> = Vec::new();
    for batch in [roles, rest] {
        let applied: Vec<(String, Applied)> = futures::stream::iter(batch)
            .map(|o| async move {
                apply_one(client, inv, o, prepared.adjust(o), opts)
                    .await
                    .map(|applied| (o.id(), applied))
            })
            .buffer_unordered(opts.concurrency.max(1))
            .try_collect()
            .await?;
        results.extend(applied);
    }
    for o in in_turn {
        let applied = apply_one(client, inv, o, prepared.adjust(o), opts).await?;
        results.push((o.id(), applied));
        let ns = o.namespace.clone().unwrap_or_default();
        let gates: Vec<Gate> = wave
            .gates
            .iter()
            .filter(|g| {
                matches!(g, Gate::StatefulSetReady { namespace, name, .. }
                    if *namespace == ns && *name == o.name)
            })
            .cloned()
            .collect();
        let one = Wave {
            gates,
            ..wave.clone()
        };
        progress.update(&format!(
            "wave {} ({}): {} rolling",
            wave.index,
            wave.name,
            o.id()
        ));
        wait::await_wave(client, &one, objects, opts.timeout, progress)
            .await
            .with_context(|| format!("rolling {} before the next data store", o.id()))?;
    }
    let mut replaced = Vec::new();
    for (id, applied) in results {
        match (live.get(&id), applied.replaced) {
            (_, Some(why)) => {
                summary.replaced += 1;
                replaced.push(format!("{id}: {why}"));
            }
            (None, None) => summary.created += 1,
            (Some(m), None) if m.applied.is_some() && m.applied == applied.entry => {
                summary.unchanged += 1
            }
            (Some(_), None) => summary.configured += 1,
        }
    }
    replaced.sort();
    Ok(replaced)
}

/// Kinds whose controllers create pods.
fn starts_pods(kind: &str) -> bool {
    matches!(
        kind,
        "Deployment" | "StatefulSet" | "Job" | "CronJob" | "DaemonSet" | "ReplicaSet" | "Pod"
    )
}

/// The waves of `--no-wait`: with no gates to await, everything after `config` is sent as
/// one batch, in the order that suits the API server.
///
/// - Services go first, alone, right after the namespaces: the API server allocates cluster
///   IPs one at a time (under a lock held across a write of the IPAddress), so a Service
///   sent amid a batch waits in a chain that the batch's other writes slow down.
/// - Then `config` (ServiceAccounts, ConfigMaps, Secrets), which pods need to start.
/// - Then the rest, with the kinds that start pods and the autoscalers that scale them last:
///   the pods start with their network policies and disruption budgets in place, and the
///   controllers' work (ReplicaSets, pods, scheduling) does not compete with the batch.
fn unwaited(plan: Vec<Wave>) -> Vec<Wave> {
    let mut out: Vec<Wave> = Vec::new();
    for w in plan {
        match out.last_mut() {
            Some(last) if last.index > 2 && w.checks.is_empty() => {
                last.objects.extend(w.objects);
                last.gates.extend(w.gates);
            }
            _ => {
                let mut w = w;
                if w.index > 2 {
                    w.name = "workloads";
                    w.description = "every remaining object, without waiting";
                }
                out.push(w);
            }
        }
    }
    let Some(pos) = out.iter().position(|w| w.name == "workloads") else {
        return out;
    };
    let batch = &mut out[pos];
    let (services, mut rest): (Vec<ObjectRef>, Vec<ObjectRef>) = std::mem::take(&mut batch.objects)
        .into_iter()
        .partition(|r| r.kind == "Service");
    rest.sort_by_key(|r| match r.kind.as_str() {
        k if starts_pods(k) => 1,
        "HorizontalPodAutoscaler" => 2,
        _ => 0,
    });
    batch.objects = rest;
    if !services.is_empty() {
        let first = out
            .iter()
            .position(|w| w.name == "namespaces")
            .map_or(0, |i| i + 1);
        out.insert(
            first,
            Wave {
                index: 0,
                name: "services",
                description: "Services, whose cluster IPs the API server allocates one at a time",
                objects: services,
                secrets: Vec::new(),
                gates: Vec::new(),
                one_by_one: Vec::new(),
                checks: Vec::new(),
            },
        );
    }
    for (i, w) in out.iter_mut().enumerate() {
        w.index = i + 1;
    }
    out
}

/// Sets each pod template's `checksum/secrets` from the values of the Secret keys it reads,
/// so a changed or repaired value rolls exactly its readers. Jobs are left as they are: a
/// finished Job does not run again because a password it once read was rotated.
pub(crate) fn stamp_secrets(objects: &mut [Object], values: &secrets::Values) {
    for o in objects.iter_mut().filter(|o| o.kind != "Job") {
        voice_core::render::inputs::stamp_secrets(std::slice::from_mut(o), values);
    }
}

/// The objects a run applies (its selection, with the namespace the inventory lives in)
/// and every object of the configuration (what pruning keeps).
pub(crate) fn planned(stack: &Stack, inv: &Inventory) -> (Vec<Object>, Vec<Object>) {
    let mut full = voice_core::render::render(stack);
    let is_inventory_ns = |o: &Object| o.kind == "Namespace" && o.name == inv.namespace;
    if !full.iter().any(is_inventory_ns) {
        full.insert(0, voice_core::render::namespace(stack, &inv.namespace));
    }
    let mut selected = voice_core::render::selection::objects(stack, full.clone());
    if !selected.iter().any(is_inventory_ns) {
        let ns = full.iter().find(|o| is_inventory_ns(o)).cloned();
        selected.splice(0..0, ns);
    }
    (selected, full)
}

/// Everything install decides before its first write: what it applies, what it prunes,
/// how it upgrades StatefulSets and hands replicas to autoscalers.
pub(crate) struct Prepared {
    /// The objects this run applies.
    pub objects: Vec<Object>,
    /// Group-kinds and namespaces of the whole configuration, for the inventory.
    pub scope: (BTreeSet<String>, BTreeSet<String>),
    /// The inventory as it was, if any.
    pub prior: Option<(BTreeSet<String>, BTreeSet<String>)>,
    /// The live members.
    pub members: Vec<Member>,
    /// What the configuration no longer contains.
    pub prune: prune::Prune,
    /// Live StatefulSets of the plan and how it changes them.
    pub upgrades: BTreeMap<String, statefulsets::Upgrade>,
    /// Autoscaled Deployments' replicas.
    pub replicas: BTreeMap<String, Replicas>,
    /// ResourceQuotas the plan lowers: the limits held until the workloads have shrunk.
    pub quotas: BTreeMap<String, serde_json::Value>,
    /// What the run does to the PostHog release the databases have seen.
    pub posthog: voice_core::upgrade::PosthogChange,
    /// Data engines whose image changes, each in place (a refused one stops [`prepare`]).
    pub engines: Vec<voice_core::upgrade::EngineChange>,
    /// Planned objects that exist and belong to another rollout, or to none of ours.
    pub foreign: Vec<inventory::Foreign>,
    /// Where this user may not list the rollout's members ([`inventory::Listed::unlisted`]):
    /// nothing there is pruned.
    pub unlisted: Vec<String>,
    /// The objects this user may not write: those found as planned are left alone (set by
    /// the caller from [`rights::assess`]; by default every object is applied).
    pub rights: rights::Rights,
}

impl Prepared {
    /// The adjustments of one object.
    pub(crate) fn adjust(&self, o: &Object) -> Adjust<'_> {
        let id = o.id();
        Adjust {
            replicas: self.replicas.get(&id).copied(),
            upgrade: self.upgrades.get(&id),
            hard: self.quotas.get(&id),
        }
    }
}

/// Reads what install needs from the cluster and decides every adjustment, writing nothing.
pub(crate) async fn prepare(
    client: &Client,
    stack: &Stack,
    inv: &Inventory,
) -> anyhow::Result<Prepared> {
    let (objects, full) = planned(stack, inv);
    let secret_namespaces: Vec<String> =
        stack.secrets.iter().map(|s| s.namespace.clone()).collect();
    let scope = inventory::scope(&full, &secret_namespaces);
    let prior = inventory::read_parent(client, inv).await?;
    let listed_kinds: BTreeSet<String> = scope
        .0
        .iter()
        .cloned()
        .chain(prior.iter().flat_map(|p| p.0.iter().cloned()))
        .collect();
    // A first install (no parent yet) has no members to list.
    let listed = if prior.is_some() {
        let namespaces: BTreeSet<String> = scope
            .1
            .iter()
            .cloned()
            .chain(prior.iter().flat_map(|p| p.1.iter().cloned()))
            .collect();
        inventory::members(client, inv, &listed_kinds, &namespaces, &full).await?
    } else {
        inventory::Listed::default()
    };
    let (members, unlisted) = (listed.members, listed.unlisted);
    let prune = prune::plan(client, &members, &full).await?;
    let live = inventory::by_id(&members);
    let upgrades = statefulsets::inspect(client, inv, &objects, &live).await?;
    let engines = engine_changes(stack, &objects, &upgrades)?;
    let mut replicas = BTreeMap::new();
    for o in &objects {
        let Some(min) = voice_core::render::workload::initial_replicas(stack, o) else {
            continue;
        };
        let id = o.id();
        let r = match live.get(&id) {
            None => Replicas::Create(min),
            Some(m) => {
                let api: Api<Deployment> =
                    Api::namespaced(client.clone(), o.namespace.as_deref().unwrap_or_default());
                let count = api
                    .get_opt(&o.name)
                    .await
                    .with_context(|| format!("reading {}", id))?
                    .and_then(|d| d.spec.and_then(|s| s.replicas))
                    .map_or(i64::from(min), i64::from);
                if owns_replicas(m) {
                    // An autoscaler that starts now would raise the count to its minimum.
                    Replicas::Handover(count.max(i64::from(min)))
                } else {
                    Replicas::Live(count)
                }
            }
        };
        replicas.insert(id, r);
    }
    let mut quotas = BTreeMap::new();
    for o in objects
        .iter()
        .filter(|o| o.kind == "ResourceQuota" && live.contains_key(&o.id()))
    {
        let api = api_for(client, &o.api_version, &o.kind, o.namespace.as_deref());
        if let Some(l) = api
            .get_opt(&o.name)
            .await
            .with_context(|| format!("reading {}", o.id()))?
        {
            let live = serde_json::to_value(&l)?;
            if let Some(hard) = voice_core::upgrade::quota_during_rollout(&o.value(), &live) {
                quotas.insert(o.id(), hard);
            }
        }
    }
    // PostHog's namespace is read only when this run writes PostHog.
    let seen = if voice_core::upgrade::writes_posthog(stack) {
        inventory::posthog_releases(client, stack).await?
    } else {
        Vec::new()
    };
    let posthog = voice_core::upgrade::posthog(&seen, stack);
    // What it may not read is what it may not write either: left alone and said by the
    // caller's rights (`crate::cluster::rights`).
    let (foreign, _) = inventory::foreign(client, inv, &objects).await?;
    Ok(Prepared {
        objects,
        scope,
        prior,
        members,
        prune,
        upgrades,
        replicas,
        quotas,
        posthog,
        engines,
        foreign,
        unlisted,
        rights: rights::Rights::default(),
    })
}

/// The data engines whose image the plan changes, by their own version rules: a change
/// that is not in place stops the run before any write (exit 2), naming every such engine.
fn engine_changes(
    stack: &Stack,
    objects: &[Object],
    upgrades: &BTreeMap<String, statefulsets::Upgrade>,
) -> anyhow::Result<Vec<voice_core::upgrade::EngineChange>> {
    let changes: Vec<_> = objects
        .iter()
        .filter_map(|o| {
            let u = upgrades.get(&o.id())?;
            voice_core::upgrade::engine(stack.component(&o.component)?, &o.value(), &u.live)
        })
        .collect();
    statefulsets::refuse_engines(&changes)?;
    Ok(changes)
}

/// The planned Deployments and StatefulSets beside the live ones, for
/// [`voice_core::availability::rows`]: each live one as a server-side dry run of its apply
/// would store it (so defaults compare equal), with the Secret checksums of `values`.
pub(crate) async fn compare_workloads(
    client: &Client,
    inv: &Inventory,
    prepared: &Prepared,
    values: &secrets::Values,
) -> anyhow::Result<BTreeMap<String, voice_core::availability::Compared>> {
    let mut objects: Vec<Object> = prepared
        .objects
        .iter()
        .filter(|o| o.kind == "Deployment" || o.kind == "StatefulSet")
        .cloned()
        .collect();
    stamp_secrets(&mut objects, values);
    let live = &inventory::by_id(&prepared.members);
    let compared: Vec<(String, voice_core::availability::Compared)> =
        futures::stream::iter(objects.iter())
            .map(|o| async move {
                let adjust = prepared.adjust(o);
                let body = body(inv, o, adjust, true);
                let before = match (live.get(&o.id()), adjust.upgrade) {
                    (None, _) => None,
                    (_, Some(u)) => Some(u.live.clone()),
                    (Some(m), None) => Some(serde_json::to_value(&m.object)?),
                };
                let applied = match (&before, adjust.upgrade) {
                    (None, _) => body,
                    // Re-created: compared as planned.
                    (_, Some(u)) if !u.change.immutable.is_empty() => body,
                    _ => {
                        let api = api_for(client, &o.api_version, &o.kind, o.namespace.as_deref());
                        let mut pp = PatchParams::apply(MANAGER).force().validation_ignore();
                        pp.dry_run = true;
                        let out = api
                            .patch(&o.name, &pp, &Patch::Apply(&body))
                            .await
                            .with_context(|| format!("dry-run applying {}", o.id()))?;
                        serde_json::to_value(out)?
                    }
                };
                Ok::<_, anyhow::Error>((
                    o.id(),
                    voice_core::availability::Compared {
                        applied,
                        live: before,
                    },
                ))
            })
            .buffer_unordered(16)
            .try_collect()
            .await?;
    Ok(compared.into_iter().collect())
}

/// Whether our apply entry of a live member owns `spec.replicas`.
fn owns_replicas(m: &Member) -> bool {
    m.object
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter(|f| {
            f.manager.as_deref() == Some(MANAGER) && f.operation.as_deref() == Some("Apply")
        })
        .any(|f| {
            f.fields_v1
                .as_ref()
                .is_some_and(|v| v.0.pointer("/f:spec/f:replicas").is_some())
        })
}

/// Runs the install after validation, checks and the caller's confirmation of what
/// [`prepare`] found.
pub(crate) async fn install(
    client: &Client,
    stack: &Stack,
    inv: &Inventory,
    user: &UserValues,
    opts: &Options,
    prepared: &Prepared,
    progress: &mut Progress,
) -> anyhow::Result<Summary> {
    let mut objects = prepared.objects.clone();
    // The waves install applies (the verification wave is `status --verify`'s), so they are
    // numbered out of what runs.
    let plan: Vec<Wave> = voice_core::plan::waves(stack, &objects)
        .into_iter()
        .filter(Wave::is_applied)
        .collect();
    let (kinds, mut namespaces) = prepared.scope.clone();
    let prior = &prepared.prior;
    let live = inventory::by_id(&prepared.members);
    let mut summary = Summary::default();
    namespaces.insert(inv.namespace.clone());

    let plan = if opts.wait { plan } else { unwaited(plan) };
    // Autoscalers the configuration dropped go first: left until the end, one would scale its
    // Deployment back after this run set the replicas, and the next run would set them again.
    let (early, late): (Vec<Member>, Vec<Member>) = prepared
        .prune
        .delete
        .iter()
        .cloned()
        .partition(|m| m.kind == "HorizontalPodAutoscaler");
    summary.pruned = prune::delete(client, &early, opts.dry_run).await?;
    // What the parent lists once the namespaces exist: the final write is skipped when it
    // would write the same.
    let mut parent_written: Option<(BTreeSet<String>, BTreeSet<String>)> = None;
    // The values of the Secrets the pods read, as far as known: what `checksum/secrets` is of.
    let mut secret_values = secrets::Values::new();
    for wave in &plan {
        if wave.objects.is_empty() && wave.secrets.is_empty() {
            continue;
        }
        progress.start(&format!(
            "wave {}/{} {}: {}",
            wave.index,
            plan.len(),
            wave.name,
            wave.description
        ));
        // The wave's Secrets are written alongside its objects; those the user made are
        // read then, for their readers' checksum.
        let ensure_secrets = async {
            if wave.name != "config" {
                Ok((Vec::new(), secrets::Values::new()))
            } else {
                secrets::ensure(
                    client,
                    stack,
                    inv,
                    user,
                    opts.dry_run,
                    prior.is_none(),
                    opts.rotate,
                )
                .await
            }
        };
        let (applied, secrets) = futures::join!(
            apply_wave(
                client,
                inv,
                wave,
                &objects,
                &live,
                prepared,
                opts,
                &mut summary,
                progress
            ),
            ensure_secrets
        );
        for line in applied? {
            progress.note(&if opts.dry_run {
                format!("would replace {line}")
            } else {
                format!("replaced {line}")
            });
        }
        let (secrets, values) = secrets?;
        if !values.is_empty() {
            secret_values.extend(values);
            stamp_secrets(&mut objects, &secret_values);
        }
        for (id, outcome) in secrets {
            match outcome {
                Outcome::Unchanged | Outcome::NotNeeded => summary.secrets_unchanged += 1,
                Outcome::Repaired(keys) => {
                    progress.note(&format!(
                        "{} Secret {id}: {}",
                        if opts.dry_run { "would set" } else { "set" },
                        keys.join(", "),
                    ));
                    summary.secrets_written += 1;
                }
                _ => summary.secrets_written += 1,
            }
        }
        if wave.name == "namespaces" {
            // The parent is written once its namespace exists, listing old and new kinds so a
            // prune can still find members of kinds that are leaving the plan.
            let (pk, pn) = prior.clone().unwrap_or_default();
            let all_kinds = kinds.iter().cloned().chain(pk).collect();
            let all_ns = namespaces.iter().cloned().chain(pn).collect();
            inventory::write_parent(client, inv, &all_kinds, &all_ns, opts.dry_run).await?;
            parent_written = Some((all_kinds, all_ns));
            // Registry credentials exist before the first pod that pulls with them.
            if let Some(p) = &opts.pull_secret {
                let (created, kept) =
                    pull_secret::ensure(client, stack, inv, p, opts.dry_run).await?;
                if created > 0 {
                    progress.note(&format!(
                        "{} Secret {} in {created} namespace(s)",
                        if opts.dry_run {
                            "would create"
                        } else {
                            "created"
                        },
                        p.name
                    ));
                }
                summary.secrets_written += created;
                summary.secrets_unchanged += kept;
            }
        }
        if opts.wait && !opts.dry_run {
            wait::await_wave(client, wave, &objects, opts.timeout, progress).await?;
        }
        // The Secrets the operator wrote from the store, once their ExternalSecrets are
        // synced (as far as they are, without --wait), checksum their readers.
        if wave.name == "config" && stack.secrets.iter().any(|s| s.external) {
            secret_values.extend(secrets::read_external(client, stack).await?);
            stamp_secrets(&mut objects, &secret_values);
        }
        let awaited = if opts.wait && !opts.dry_run {
            format!(", {} gate(s) ready", wave.gates.len())
        } else {
            String::new()
        };
        progress.done(&format!(
            "wave {}/{} {}: {} object(s){awaited}",
            wave.index,
            plan.len(),
            wave.name,
            wave.objects.len(),
        ));
    }

    // Prune what the configuration dropped (confirmed by the caller); claims, Secrets and
    // namespaces that hold them were never in the list.
    summary.pruned += prune::delete(client, &late, opts.dry_run).await?
        + prune::delete(client, &prepared.prune.superseded, opts.dry_run).await?;
    // Quotas held high during the rollout come down to the plan now that it is done.
    for o in objects
        .iter()
        .filter(|o| prepared.quotas.contains_key(&o.id()) && !prepared.rights.leaves(&o.id()))
    {
        apply_one(client, inv, o, Adjust::default(), opts).await?;
    }
    if parent_written != Some((kinds.clone(), namespaces.clone())) {
        inventory::write_parent(client, inv, &kinds, &namespaces, opts.dry_run).await?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, reason: &str, fields: &[&str]) -> kube::core::Status {
        serde_json::from_value(serde_json::json!({
            "status": "Failure",
            "code": code,
            "reason": reason,
            "message": "invalid",
            "details": {"causes": fields.iter().map(|f| serde_json::json!({
                "reason": "FieldValueInvalid",
                "message": "may not change once set",
                "field": f,
            })).collect::<Vec<_>>()},
        }))
        .unwrap()
    }

    #[test]
    fn only_changes_the_api_never_makes_in_place_replace_an_object() {
        let ip_to_none = status(422, "Invalid", &["spec.clusterIPs[0]"]);
        assert_eq!(
            immutable_change("Service", &ip_to_none).as_deref(),
            Some("spec.clusterIPs[0] cannot change in place")
        );
        let job = status(422, "Invalid", &["spec.template", "spec.selector"]);
        assert_eq!(
            immutable_change("Job", &job).as_deref(),
            Some("spec.selector, spec.template cannot change in place")
        );
        // Another invalid field too: replacing would not help.
        let mixed = status(422, "Invalid", &["spec.clusterIP", "spec.ports[0].port"]);
        assert_eq!(immutable_change("Service", &mixed), None);
        // Kinds that hold data or identity are never replaced.
        let template = status(422, "Invalid", &["spec.template", "spec.selector"]);
        for kind in [
            "StatefulSet",
            "PersistentVolumeClaim",
            "Secret",
            "Deployment",
        ] {
            assert_eq!(immutable_change(kind, &template), None, "{kind}");
        }
        assert_eq!(
            immutable_change("Service", &status(409, "Conflict", &["spec.clusterIP"])),
            None
        );
        assert_eq!(
            immutable_change("Service", &status(422, "Invalid", &[])),
            None
        );
    }

    #[test]
    fn unwaited_sends_services_first_and_pod_makers_last() {
        for p in voice_core::config::PROFILES {
            let stack = voice_core::load(&voice_core::Input {
                profile: Some(p),
                ..Default::default()
            })
            .unwrap();
            let objects = voice_core::render::render(&stack);
            let plan = voice_core::plan::waves(&stack, &objects);
            let mut before: Vec<(String, String, Option<String>)> = plan
                .iter()
                .flat_map(|w| &w.objects)
                .map(|r| (r.kind.clone(), r.name.clone(), r.namespace.clone()))
                .collect();
            let waves = unwaited(plan);
            let names: Vec<&str> = waves.iter().map(|w| w.name).collect();
            assert_eq!(
                names[..4],
                ["namespaces", "services", "config", "workloads"],
                "{p:?}"
            );
            assert!(waves.iter().enumerate().all(|(i, w)| w.index == i + 1));
            assert!(waves[1].objects.iter().all(|r| r.kind == "Service"));
            // Before the batch, only quotas are awaited (with waiting on).
            assert!(waves[1..].iter().all(|w| {
                w.name == "workloads"
                    || w.gates
                        .iter()
                        .all(|g| matches!(g, Gate::QuotaEnforced { .. }))
            }));
            assert!(!waves[2].secrets.is_empty());
            // Pod-making kinds after everything else in the batch, autoscalers at the end.
            let rank = |k: &str| match k {
                k if starts_pods(k) => 1,
                "HorizontalPodAutoscaler" => 2,
                _ => 0,
            };
            let ranks: Vec<u8> = waves[3].objects.iter().map(|r| rank(&r.kind)).collect();
            assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{p:?}");
            assert!(waves[3].objects.iter().all(|r| r.kind != "Service"));
            // Every object exactly once.
            let mut after: Vec<(String, String, Option<String>)> = waves
                .iter()
                .flat_map(|w| &w.objects)
                .map(|r| (r.kind.clone(), r.name.clone(), r.namespace.clone()))
                .collect();
            before.sort();
            after.sort();
            assert_eq!(before, after, "{p:?}");
        }
    }
}
