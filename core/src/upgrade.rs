//! What an upgrade cannot change in place, or not in one step. A StatefulSet's selector, service name, pod
//! management policy and claim templates are immutable: an apply that changes them is
//! rejected. [`statefulset`] compares a planned StatefulSet with the live one before any
//! write, so install can name each such change with the way out instead of stopping
//! half-way. [`posthog()`] tells a PostHog upgrade (its migrations run forward, first) from a
//! downgrade (refused: the databases have seen newer migrations). [`engine`] applies a data
//! engine's version rules ([`versions`]) to the image change of its StatefulSet.

use serde_json::Value;

use crate::catalog::versions::{self, Step, Store};
use crate::catalog::{Component, Group, Stack, posthog};
use crate::config::Posthog;
use crate::quantity::Bytes;

/// What a run does to the PostHog release its databases have seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PosthogChange {
    /// Nothing to compare: no release runs yet, or this run does not write PostHog.
    None,
    /// The release that runs.
    Same,
    /// A newer release: its migrations Job runs before web, worker and plugins roll.
    Upgrade {
        /// The newest release the databases have seen.
        from: String,
        /// The planned release.
        to: String,
    },
    /// An older release than the databases have seen: Django's migrations run forward only.
    Downgrade {
        /// The newest release the databases have seen.
        from: String,
        /// The planned release.
        to: String,
    },
    /// Another release of the same date: which one is newer cannot be told.
    Unordered {
        /// The newest release the databases have seen.
        from: String,
        /// The planned release.
        to: String,
    },
}

impl std::fmt::Display for PosthogChange {
    /// The change in words, the same for `check` and `install`; empty when nothing changes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PosthogChange::None | PosthogChange::Same => Ok(()),
            PosthogChange::Upgrade { from, to } => write!(f, "PostHog {from} → {to}"),
            PosthogChange::Downgrade { from, to } => write!(
                f,
                "PostHog {to} is older than {from}, whose migrations have run on its databases"
            ),
            PosthogChange::Unordered { from, to } => write!(
                f,
                "PostHog {from} → {to}: both releases carry the same date, so whether this goes back cannot be told"
            ),
        }
    }
}

/// Compares the planned PostHog release with `seen`, the releases named by the live PostHog
/// workloads' [`posthog::VERSION_LABEL`] (a migrations Job of a failed upgrade counts: its
/// migrations may have run). Releases order by the date their names begin with.
pub fn posthog(seen: &[String], stack: &Stack) -> PosthogChange {
    let Posthog::SelfHosted(ph) = &stack.config.posthog else {
        return PosthogChange::None;
    };
    let writes = writes_posthog(stack);
    let date = |v: &str| v.split_once('-').map_or(v, |(d, _)| d).to_string();
    let Some(newest) = seen.iter().max_by_key(|v| date(v)) else {
        return PosthogChange::None;
    };
    if !writes {
        return PosthogChange::None;
    }
    let (to, _) = posthog::release(ph);
    let (from, newest_date) = (newest.clone(), date(newest));
    match date(&to).cmp(&newest_date) {
        std::cmp::Ordering::Greater => PosthogChange::Upgrade { from, to },
        std::cmp::Ordering::Less => PosthogChange::Downgrade { from, to },
        std::cmp::Ordering::Equal if seen.iter().all(|v| date(v) != newest_date || *v == to) => {
            PosthogChange::Same
        }
        std::cmp::Ordering::Equal => PosthogChange::Unordered { from, to },
    }
}

/// Whether this run writes self-hosted PostHog (its selection includes a PostHog
/// component): only then does the release PostHog's databases have seen matter, so a run of
/// other parts need not read PostHog's namespace.
pub fn writes_posthog(stack: &Stack) -> bool {
    matches!(stack.config.posthog, Posthog::SelfHosted(_))
        && stack
            .components
            .iter()
            .any(|c| c.group == Group::Posthog && stack.selection.includes(c))
}

/// What a server-side apply of `planned` by the field manager `manager` would change in
/// `live`, in words, one line per field; empty when it would change nothing. A field the
/// plan sets that is missing or holds another value (compared by value: quantities by
/// amount, since the server stores `1024Mi` as `1Gi`; lists item by item), and a field
/// `manager` applied before that the plan no longer sets, which the apply would remove.
/// Defaults the server adds and fields other managers set are not differences.
///
/// A run that may not write an object (a namespace admin's, for the cluster-scoped objects
/// of its selection) leaves it alone only when this is empty, and otherwise names these
/// lines for the admin who can.
pub fn apply_changes(planned: &Value, live: &Value, manager: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(p) = planned.as_object() {
        for (k, v) in p {
            if !matches!(k.as_str(), "apiVersion" | "kind" | "status") {
                compare(k, v, live.get(k), &mut out);
            }
        }
    }
    for path in applied_leaves(live, manager) {
        if !covers(planned, &path) {
            out.push(format!(
                "{}: set by an earlier apply and no longer planned (the apply would remove it)",
                path.join(".")
            ));
        }
    }
    out
}

/// [`apply_changes`] below one field.
fn compare(path: &str, want: &Value, have: Option<&Value>, out: &mut Vec<String>) {
    let have = have.filter(|h| !h.is_null());
    match (want, have) {
        (Value::Null, _) => {}
        (Value::Object(w), Some(Value::Object(h))) => {
            for (k, v) in w {
                compare(&format!("{path}.{k}"), v, h.get(k), out);
            }
        }
        (Value::Object(w), None) if w.values().all(Value::is_null) => {}
        (Value::Array(w), None) if w.is_empty() => {}
        (Value::Array(w), Some(Value::Array(h))) if w.len() == h.len() => {
            for (i, (a, b)) in w.iter().zip(h).enumerate() {
                compare(&format!("{path}[{i}]"), a, Some(b), out);
            }
        }
        (w, Some(h)) if same_value(w, h) => {}
        (w, None) => out.push(format!("{path}: missing (planned: {})", brief(w))),
        (w, Some(h)) => out.push(format!("{path}: {} (planned: {})", brief(h), brief(w))),
    }
}

/// Two leaves the server would store alike: equal, or the same quantity spelled otherwise.
fn same_value(want: &Value, have: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    want == have
        || matches!((text(want), text(have)), (Some(a), Some(b))
            if a == b || crate::quantity::same_amount(&a, &b))
}

/// A value in a line of [`apply_changes`]: a string as it is, anything else as compact JSON,
/// cut to 60 characters.
fn brief(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(59).collect::<String>())
    } else {
        s
    }
}

/// The fields `manager` applied to `live` (its `Apply` entry in `metadata.managedFields`), as
/// paths of field names; a list or set it applied item by item counts as one field.
fn applied_leaves(live: &Value, manager: &str) -> Vec<Vec<String>> {
    let entry = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|e| {
            e.get("manager").and_then(Value::as_str) == Some(manager)
                && e.get("operation").and_then(Value::as_str) == Some("Apply")
                && e.get("subresource").is_none_or(Value::is_null)
        });
    let mut out = Vec::new();
    if let Some(fields) = entry.and_then(|e| e.get("fieldsV1")) {
        leaves(fields, &mut Vec::new(), &mut out);
    }
    out
}

fn leaves(node: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let Some(m) = node.as_object() else { return };
    let items = m
        .keys()
        .any(|k| k.starts_with("k:") || k.starts_with("v:") || k.starts_with("i:"));
    let fields: Vec<(&str, &Value)> = m
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("f:").map(|f| (f, v)))
        .collect();
    if !path.is_empty() && (items || fields.is_empty()) {
        out.push(path.clone());
        return;
    }
    for (f, v) in fields {
        path.push(f.to_string());
        leaves(v, path, out);
        path.pop();
    }
}

/// Whether `planned` sets the field at `path` (a list or scalar on the way holds all below it).
fn covers(planned: &Value, path: &[String]) -> bool {
    let mut cur = planned;
    for seg in path {
        match cur {
            Value::Object(m) => match m.get(seg) {
                Some(v) if !v.is_null() => cur = v,
                _ => return false,
            },
            _ => return true,
        }
    }
    true
}

/// A data engine's image change, and what it does to the data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineChange {
    /// The component.
    pub component: String,
    /// The engine.
    pub store: Store,
    /// The live image.
    pub from: String,
    /// The planned image.
    pub to: String,
    /// What the change does.
    #[serde(flatten)]
    pub step: Step,
}

impl std::fmt::Display for EngineChange {
    /// One line: the component, both images, and why (with the way, unless in place).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} → {}: ", self.component, self.from, self.to)?;
        match &self.step {
            Step::Same => write!(f, "the same {}", self.store.as_str()),
            Step::InPlace { why } => write!(f, "{why}"),
            Step::Procedure { why, how } | Step::Refused { why, how } => write!(f, "{why}; {how}"),
        }
    }
}

/// The image of the container `name` in a live StatefulSet.
fn live_image<'a>(live: &'a Value, name: &str) -> Option<&'a str> {
    live.pointer("/spec/template/spec/containers")?
        .as_array()?
        .iter()
        .find(|c| text(c, "/name") == Some(name))
        .and_then(|c| text(c, "/image"))
}

/// What the planned StatefulSet's image of `c`'s engine does to the data the live
/// StatefulSet's image wrote; `None` when `c` keeps no versioned data or the image does not
/// change. The planned image is the object's own: a database in the middle of
/// `upgrade-engine` has two StatefulSets, each keeping its image.
pub fn engine(c: &Component, planned: &Value, live: &Value) -> Option<EngineChange> {
    let store = c.store?;
    let main = c.main();
    let from = live_image(live, &main.name)?;
    let to = live_image(planned, &main.name).unwrap_or(&main.image);
    if from == to {
        return None;
    }
    Some(EngineChange {
        component: c.name.clone(),
        store,
        from: from.to_string(),
        to: to.to_string(),
        step: versions::step(store, &c.name, from, to),
    })
}

/// How a planned StatefulSet differs from the live one in its immutable fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatefulSetChange {
    /// Changes the API server never makes in place, in words (empty: the apply can proceed).
    pub immutable: Vec<String>,
    /// Claim templates whose labels or annotations differ while their specs are equal: the
    /// live template metadata is kept (it only labels claims not created yet).
    pub keep_live_templates: bool,
    /// Claims that a re-created StatefulSet asks more storage for: `(template, new size)`.
    pub grown: Vec<(String, Bytes)>,
}

fn templates(v: &Value) -> Vec<&Value> {
    v.pointer("/spec/volumeClaimTemplates")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn text<'a>(v: &'a Value, p: &str) -> Option<&'a str> {
    v.pointer(p).and_then(Value::as_str)
}

fn size(t: &Value) -> Option<Bytes> {
    text(t, "/spec/resources/requests/storage").and_then(|s| Bytes::parse(s).ok())
}

/// Compares a planned StatefulSet (as applied) with the live object.
pub fn statefulset(planned: &Value, live: &Value) -> StatefulSetChange {
    let mut out = StatefulSetChange::default();
    for (path, what) in [
        ("/spec/selector", "the pod selector"),
        ("/spec/serviceName", "the governing Service"),
    ] {
        if planned.pointer(path) != live.pointer(path) {
            out.immutable
                .push(format!("{what} ({}) changes", &path[1..]));
        }
    }
    // Defaulted by the API server when left out.
    let policy = |v: &Value| {
        text(v, "/spec/podManagementPolicy")
            .unwrap_or("OrderedReady")
            .to_string()
    };
    if policy(planned) != policy(live) {
        out.immutable.push(format!(
            "podManagementPolicy changes from {} to {}",
            policy(live),
            policy(planned)
        ));
    }
    let (want, have) = (templates(planned), templates(live));
    let name = |t: &Value| text(t, "/metadata/name").unwrap_or_default().to_string();
    let mut want_names: Vec<String> = want.iter().map(|t| name(t)).collect();
    let mut have_names: Vec<String> = have.iter().map(|t| name(t)).collect();
    want_names.sort();
    have_names.sort();
    if want_names != have_names {
        out.immutable.push(format!(
            "its claim templates change from [{}] to [{}]",
            have_names.join(", "),
            want_names.join(", ")
        ));
        return out;
    }
    for w in &want {
        let n = name(w);
        let Some(h) = have.iter().find(|h| name(h) == n) else {
            continue;
        };
        match (size(w), size(h)) {
            (Some(a), Some(b)) if a != b => {
                out.immutable.push(format!(
                    "claim template `{n}` asks {a} instead of {b} of storage"
                ));
                if a > b {
                    out.grown.push((n.clone(), a));
                }
            }
            _ => {}
        }
        let class = |t: &Value| text(t, "/spec/storageClassName").map(str::to_string);
        // A class left out is chosen by the cluster when the claim is made; only an explicit
        // change is one.
        if class(w).is_some() && class(w) != class(h) {
            out.immutable.push(format!(
                "claim template `{n}` changes storage class from {} to {}",
                class(h).as_deref().unwrap_or("the default"),
                class(w).as_deref().unwrap_or("the default")
            ));
        }
        let modes = |t: &Value| t.pointer("/spec/accessModes").cloned();
        if modes(w) != modes(h) {
            out.immutable
                .push(format!("claim template `{n}` changes its access modes"));
        }
        let meta = |t: &Value, k: &str| t.pointer(&format!("/metadata/{k}")).cloned();
        if meta(w, "labels") != meta(h, "labels")
            || meta(w, "annotations") != meta(h, "annotations")
        {
            out.keep_live_templates = true;
        }
    }
    out
}

/// Replaces the planned claim templates' metadata with the live ones (same names), so an
/// apply leaves the immutable templates as they are.
pub fn keep_live_template_metadata(planned: &mut Value, live: &Value) {
    let have: Vec<Value> = templates(live).into_iter().cloned().collect();
    let Some(want) = planned
        .pointer_mut("/spec/volumeClaimTemplates")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for w in want {
        let n = text(w, "/metadata/name").unwrap_or_default().to_string();
        if let Some(h) = have
            .iter()
            .find(|h| text(h, "/metadata/name") == Some(n.as_str()))
        {
            let mut meta = serde_json::Map::new();
            meta.insert("name".into(), Value::from(n));
            for k in ["labels", "annotations"] {
                if let Some(v) = h.pointer(&format!("/metadata/{k}")) {
                    meta.insert(k.into(), v.clone());
                }
            }
            w["metadata"] = Value::Object(meta);
        }
    }
}

/// A live claim of the rollout, as the cluster has it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LiveClaim {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The storage it holds (its request).
    pub size: Bytes,
}

/// What the plan does with the claims that exist, and whether each namespace's planned
/// quota holds them all.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Claims {
    /// Claims no planned StatefulSet uses (a component dropped, a smaller replica count, a
    /// re-created StatefulSet under another name): kept, never deleted by a run, yet counted
    /// by the namespace's quota.
    pub unused: Vec<LiveClaim>,
    /// Namespaces whose planned quota cannot hold the plan's claims with the unused ones, in
    /// words.
    pub over_quota: Vec<String>,
}

/// The claims of every planned StatefulSet (`<template>-<name>-<ordinal>`) with their size.
fn planned_claims(objects: &[&Value]) -> Vec<(String, String, Bytes)> {
    let mut out = Vec::new();
    for o in objects
        .iter()
        .filter(|o| text(o, "/kind") == Some("StatefulSet"))
    {
        let ns = text(o, "/metadata/namespace").unwrap_or_default();
        let name = text(o, "/metadata/name").unwrap_or_default();
        // A StatefulSet at zero (the database kept by `upgrade-engine` until --finalize)
        // still owns its first claim: scaled up, it takes it back.
        let replicas = o
            .pointer("/spec/replicas")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .max(1);
        for t in templates(o) {
            let template = text(t, "/metadata/name").unwrap_or_default();
            for i in 0..replicas {
                out.push((
                    ns.to_string(),
                    format!("{template}-{name}-{i}"),
                    size(t).unwrap_or_default(),
                ));
            }
        }
    }
    out
}

/// Compares the live claims with the whole configuration's planned StatefulSets and
/// ResourceQuotas: the unused claims, and the quotas (`persistentvolumeclaims`,
/// `requests.storage`) that the planned claims and the unused ones together would exceed,
/// each said with the way out.
pub fn claims(objects: &[crate::render::Object], live: &[LiveClaim]) -> Claims {
    let values: Vec<std::borrow::Cow<'_, Value>> = objects
        .iter()
        .filter(|o| o.kind == "StatefulSet" || o.kind == "ResourceQuota")
        .map(crate::render::Object::value)
        .collect();
    claims_of(&values.iter().map(AsRef::as_ref).collect::<Vec<_>>(), live)
}

/// [`claims`] over objects as JSON.
fn claims_of(objects: &[&Value], live: &[LiveClaim]) -> Claims {
    let planned = planned_claims(objects);
    let used = |c: &LiveClaim| {
        planned
            .iter()
            .any(|(ns, name, _)| *ns == c.namespace && *name == c.name)
    };
    let unused: Vec<LiveClaim> = live.iter().filter(|c| !used(c)).cloned().collect();
    let mut over_quota = Vec::new();
    for q in objects
        .iter()
        .filter(|o| text(o, "/kind") == Some("ResourceQuota"))
    {
        let ns = text(q, "/metadata/namespace").unwrap_or_default();
        let quota = text(q, "/metadata/name").unwrap_or_default();
        let kept: Vec<&LiveClaim> = unused.iter().filter(|c| c.namespace == ns).collect();
        if kept.is_empty() {
            continue;
        }
        let mine: Vec<&(String, String, Bytes)> =
            planned.iter().filter(|(n, _, _)| n == ns).collect();
        // A quota only refuses what is created: without a new claim, nothing waits on it.
        let new = mine
            .iter()
            .filter(|(_, name, _)| !live.iter().any(|c| c.namespace == ns && c.name == *name))
            .count();
        if new == 0 {
            continue;
        }
        let count = mine.len() + kept.len();
        let storage = Bytes(
            mine.iter().map(|(_, _, b)| b.0).sum::<u64>()
                + kept.iter().map(|c| c.size.0).sum::<u64>(),
        );
        let hard = |k: &str| q.pointer(&format!("/spec/hard/{}", k.replace('/', "~1")));
        let mut over = Vec::new();
        if let Some(max) = hard("persistentvolumeclaims").and_then(|v| {
            v.as_str()
                .and_then(|s| s.parse::<usize>().ok())
                .or_else(|| v.as_u64().map(|n| n as usize))
        }) && count > max
        {
            over.push(format!("{count} claims where it allows {max}"));
        }
        if let Some(max) = hard("requests.storage")
            .and_then(Value::as_str)
            .and_then(|s| Bytes::parse(s).ok())
            && storage > max
        {
            over.push(format!("{storage} of storage where it allows {max}"));
        }
        if !over.is_empty() {
            let names: Vec<&str> = kept.iter().map(|c| c.name.as_str()).collect();
            over_quota.push(format!(
                "ResourceQuota {ns}/{quota} would refuse the plan's {new} new claim(s): with {} kept unused claim(s) the namespace needs {}; delete the unused ones if their data is not needed (`kubectl delete pvc -n {ns} {}`)",
                kept.len(),
                over.join(" and "),
                names.join(" ")
            ));
        }
    }
    Claims { unused, over_quota }
}

/// The quota limits (`spec.hard`) to hold while a rollout runs: the larger of the live and
/// the planned value of each resource, when the plan lowers any (a smaller profile). The
/// quota is lowered to the plan only after the workloads have shrunk: lowered first, it would
/// forbid the very pods that replace the larger ones. `None` when the plan lowers nothing.
pub fn quota_during_rollout(planned: &Value, live: &Value) -> Option<Value> {
    let (Some(want), Some(have)) = (
        planned.pointer("/spec/hard").and_then(Value::as_object),
        live.pointer("/spec/hard").and_then(Value::as_object),
    ) else {
        return None;
    };
    let amount = |key: &str, v: &Value| -> Option<u64> {
        let s = v
            .as_str()
            .map(str::to_string)
            .or_else(|| v.as_u64().map(|n| n.to_string()))?;
        if key.ends_with("cpu") {
            crate::quantity::MilliCpu::parse(&s).ok().map(|m| m.0)
        } else if key.ends_with("memory") || key.ends_with("storage") {
            Bytes::parse(&s).ok().map(|b| b.0)
        } else {
            s.parse().ok()
        }
    };
    let mut merged = want.clone();
    let mut lowered = false;
    for (k, w) in want {
        if let Some(h) = have.get(k)
            && let (Some(a), Some(b)) = (amount(k, w), amount(k, h))
            && b > a
        {
            merged.insert(k.clone(), h.clone());
            lowered = true;
        }
    }
    lowered.then(|| Value::Object(merged))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_apply_that_changes_nothing_is_told_from_one_that_does() {
        let planned = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "app", "labels": {
                "pod-security.kubernetes.io/enforce": "restricted", "team": "voice"}}});
        // As the server returns it: its own label, managedFields, status.
        let live = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "app", "uid": "1", "labels": {
                "kubernetes.io/metadata.name": "app",
                "pod-security.kubernetes.io/enforce": "restricted", "team": "voice"},
                "managedFields": [{"manager": "kubectl-voice", "operation": "Apply",
                    "fieldsV1": {"f:metadata": {"f:labels": {
                        ".": {}, "f:pod-security.kubernetes.io/enforce": {}, "f:team": {}}}}}]},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
        assert_eq!(
            apply_changes(&planned, &live, "kubectl-voice"),
            Vec::<String>::new()
        );
        // A label taken off by hand is missing.
        let mut off = live.clone();
        off["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove("pod-security.kubernetes.io/enforce");
        assert_eq!(
            apply_changes(&planned, &off, "kubectl-voice"),
            ["metadata.labels.pod-security.kubernetes.io/enforce: missing (planned: restricted)"]
        );
        // Changed by hand.
        let mut changed = live.clone();
        changed["metadata"]["labels"]["team"] = json!("other");
        assert_eq!(
            apply_changes(&planned, &changed, "kubectl-voice"),
            ["metadata.labels.team: other (planned: voice)"]
        );
        // A label an earlier apply set that the plan dropped would be removed.
        let mut dropped = planned.clone();
        dropped["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove("team");
        assert_eq!(
            apply_changes(&dropped, &live, "kubectl-voice"),
            [
                "metadata.labels.team: set by an earlier apply and no longer planned (the apply would remove it)"
            ]
        );
        // Another manager's entry says nothing about ours.
        assert!(apply_changes(&dropped, &live, "someone-else").is_empty());
    }

    #[test]
    fn quantities_compare_by_amount_and_lists_item_by_item() {
        let planned = json!({"kind": "ResourceQuota", "spec": {"hard": {
            "requests.memory": "1024Mi", "limits.cpu": "0.5", "pods": "20"}}});
        let live = json!({"kind": "ResourceQuota", "spec": {"hard": {
            "requests.memory": "1Gi", "limits.cpu": "500m", "pods": "20"}}});
        assert!(apply_changes(&planned, &live, "kubectl-voice").is_empty());
        let lower = json!({"kind": "ResourceQuota", "spec": {"hard": {
            "requests.memory": "512Mi", "limits.cpu": "500m", "pods": "20"}}});
        assert_eq!(
            apply_changes(&planned, &lower, "kubectl-voice"),
            ["spec.hard.requests.memory: 512Mi (planned: 1024Mi)"]
        );
        let role = json!({"kind": "ClusterRole", "rules": [{"verbs": ["get", "list"]}]});
        let wider = json!({"kind": "ClusterRole", "rules": [{"verbs": ["get", "list", "watch"]}]});
        assert_eq!(
            apply_changes(&role, &wider, "kubectl-voice"),
            [r#"rules[0].verbs: ["get","list","watch"] (planned: ["get","list"])"#]
        );
        assert_eq!(
            apply_changes(&role, &json!({"kind": "ClusterRole"}), "kubectl-voice"),
            [r#"rules: missing (planned: [{"verbs":["get","list"]}])"#]
        );
    }

    #[test]
    fn unused_claims_are_listed_and_counted_against_the_quota() {
        let sts = json!({"kind": "StatefulSet", "metadata": {"name": "redis", "namespace": "infra"},
            "spec": {"replicas": 1, "volumeClaimTemplates": [{"metadata": {"name": "data"},
                "spec": {"resources": {"requests": {"storage": "10Gi"}}}}]}});
        let quota = json!({"kind": "ResourceQuota", "metadata": {"name": "compute-quota", "namespace": "infra"},
            "spec": {"hard": {"persistentvolumeclaims": "2", "requests.storage": "100Gi"}}});
        let claim = |name: &str, gi: u64| LiveClaim {
            namespace: "infra".into(),
            name: name.into(),
            size: Bytes::gi(gi),
        };
        let live = [claim("data-redis-0", 10), claim("data-clickhouse-0", 50)];
        let c = claims_of(&[&sts, &quota], &live);
        assert_eq!(c.unused, [claim("data-clickhouse-0", 50)]);
        assert!(c.over_quota.is_empty(), "{:?}", c.over_quota);
        let live = [
            claim("data-redis-0", 10),
            claim("data-clickhouse-0", 50),
            claim("data-kafka-0", 50),
        ];
        let c = claims_of(&[&sts, &quota], &live);
        assert!(
            c.over_quota.is_empty(),
            "nothing new to refuse: {:?}",
            c.over_quota
        );
        // A new StatefulSet's claim is what the quota would refuse.
        let prom = json!({"kind": "StatefulSet", "metadata": {"name": "prometheus", "namespace": "infra"},
            "spec": {"replicas": 1, "volumeClaimTemplates": [{"metadata": {"name": "data"},
                "spec": {"resources": {"requests": {"storage": "1Gi"}}}}]}});
        let c = claims_of(&[&sts, &prom, &quota], &live);
        assert_eq!(c.over_quota.len(), 1);
        let said = &c.over_quota[0];
        assert!(
            said.contains("1 new claim(s)")
                && said.contains("4 claims where it allows 2")
                && said.contains("111Gi of storage where it allows 100Gi")
                && said.contains("kubectl delete pvc -n infra data-clickhouse-0 data-kafka-0"),
            "{said}"
        );
    }

    fn sts(size: &str, version: &str, policy: Option<&str>) -> Value {
        let mut v = json!({
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/name": "postgres"}},
                "serviceName": "postgres",
                "volumeClaimTemplates": [{
                    "metadata": {"name": "data", "labels": {"app.kubernetes.io/version": version}},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
                }],
            }
        });
        if let Some(p) = policy {
            v["spec"]["podManagementPolicy"] = json!(p);
        }
        v
    }

    #[test]
    fn a_lowered_quota_waits_for_the_workloads() {
        let q = |cpu: &str, mem: &str| json!({"spec": {"hard": {"requests.cpu": cpu, "requests.memory": mem, "persistentvolumeclaims": "4"}}});
        assert_eq!(quota_during_rollout(&q("8", "16Gi"), &q("4", "8Gi")), None);
        assert_eq!(
            quota_during_rollout(&q("8", "16Gi"), &q("8000m", "16384Mi")),
            None
        );
        assert_eq!(
            quota_during_rollout(&q("4", "16Gi"), &q("140", "8Gi")),
            Some(
                json!({"requests.cpu": "140", "requests.memory": "16Gi", "persistentvolumeclaims": "4"})
            )
        );
    }

    #[test]
    fn equal_statefulsets_change_nothing() {
        let a = sts("10Gi", "16.4", None);
        assert_eq!(statefulset(&a, &a), StatefulSetChange::default());
        // The server's default policy equals an explicit OrderedReady.
        assert!(
            statefulset(&sts("10Gi", "16.4", Some("OrderedReady")), &a)
                .immutable
                .is_empty()
        );
        // 10240Mi is 10Gi.
        assert!(
            statefulset(&sts("10240Mi", "16.4", None), &a)
                .immutable
                .is_empty()
        );
    }

    #[test]
    fn template_labels_alone_keep_the_live_templates() {
        let live = sts("10Gi", "16.4", None);
        let mut planned = sts("10Gi", "16.10", None);
        let c = statefulset(&planned, &live);
        assert!(c.immutable.is_empty() && c.keep_live_templates, "{c:?}");
        keep_live_template_metadata(&mut planned, &live);
        assert_eq!(statefulset(&planned, &live), StatefulSetChange::default());
    }

    #[test]
    fn sizes_policies_and_selectors_are_named() {
        let live = sts("10Gi", "16.4", None);
        let c = statefulset(&sts("50Gi", "16.4", None), &live);
        assert_eq!(
            c.immutable,
            ["claim template `data` asks 50Gi instead of 10Gi of storage"]
        );
        assert_eq!(c.grown, [("data".to_string(), Bytes::gi(50))]);
        let c = statefulset(&sts("2Gi", "16.4", None), &live);
        assert_eq!(c.immutable.len(), 1);
        assert!(c.grown.is_empty());
        let c = statefulset(&sts("10Gi", "16.4", Some("Parallel")), &live);
        assert_eq!(
            c.immutable,
            ["podManagementPolicy changes from OrderedReady to Parallel"]
        );
        let mut other = sts("10Gi", "16.4", None);
        other["spec"]["selector"]["matchLabels"]["color"] = json!("blue");
        assert_eq!(statefulset(&other, &live).immutable.len(), 1);
        let mut renamed = sts("10Gi", "16.4", None);
        renamed["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] = json!("pgdata");
        assert!(statefulset(&renamed, &live).immutable[0].contains("[data] to [pgdata]"));
    }

    fn stack(sets: &[&str]) -> Stack {
        let sets: Vec<String> = sets.iter().map(|s| (*s).to_string()).collect();
        crate::load(&crate::Input {
            profile: Some(crate::ProfileName::Small),
            sets: &sets,
            ..Default::default()
        })
        .expect("stack")
    }

    #[test]
    fn posthog_releases_order_by_date_and_never_go_back() {
        let default = stack(&[]);
        let v = |x: &[&str]| x.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
        let shipped = "2026.02.12-86d6812";
        assert_eq!(posthog(&[], &default), PosthogChange::None);
        assert_eq!(posthog(&v(&[shipped]), &default), PosthogChange::Same);
        assert_eq!(
            posthog(&v(&["2025.11.03-aaaaaaa"]), &default),
            PosthogChange::Upgrade {
                from: "2025.11.03-aaaaaaa".into(),
                to: shipped.into()
            }
        );
        // A failed upgrade's Job beside the old web: the newer one counts.
        assert_eq!(
            posthog(&v(&[shipped, "2026.07.14-1e7b36e"]), &default),
            PosthogChange::Downgrade {
                from: "2026.07.14-1e7b36e".into(),
                to: shipped.into()
            }
        );
        assert_eq!(
            posthog(&v(&["2026.02.12-0000000"]), &default),
            PosthogChange::Unordered {
                from: "2026.02.12-0000000".into(),
                to: shipped.into()
            }
        );
        // A run that leaves PostHog alone, or PostHog Cloud, changes nothing.
        let mut skip = stack(&[]);
        skip.selection =
            crate::config::Selection::parse(&[], &["posthog".into()]).expect("a selection");
        assert_eq!(
            posthog(&v(&["2030.01.01-bbbbbbb"]), &skip),
            PosthogChange::None
        );
        let cloud = stack(&[
            "posthog.mode=cloud",
            "posthog.cloud.projectApiKey=phc_abcdefghijkl",
        ]);
        assert_eq!(
            posthog(&v(&["2030.01.01-bbbbbbb"]), &cloud),
            PosthogChange::None
        );
    }
}
