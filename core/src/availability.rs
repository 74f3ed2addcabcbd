//! What a run does to availability: per workload, whether its pods are replaced (its pod
//! template changes, or it is created) and what that means for those who use it, from its
//! rollout ([`crate::disruption`]), its consumers (the components whose `depends_on` name it)
//! and the time its probes allow a new pod. Also the single points of failure of a
//! configuration, which `check` lists.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::catalog::{Component, Stack};
use crate::disruption::{self, Rollout};
use crate::render::Object;
use crate::render::workload::COLOR_ROLE;

/// What a run does to a workload's pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PodChange {
    /// The workload does not exist yet: its pods start, nobody loses anything.
    Created,
    /// Its pod template changes: every pod is replaced as its rollout says.
    Replaced,
    /// Its pods stay.
    Unchanged,
}

/// One workload's row: what replacing its pods means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// Owning component.
    pub component: String,
    /// `Deployment` or `StatefulSet`.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Replicas (an autoscaler's count, at least its minimum).
    pub replicas: u32,
    /// What this run does to its pods.
    pub change: PodChange,
    /// How its pods are replaced.
    pub rollout: Rollout,
    /// Pods that stay ready while they are replaced.
    pub ready_throughout: u32,
    /// A Service sends traffic to its pods.
    pub serves: bool,
    /// Components that depend on it.
    pub consumers: Vec<String>,
    /// Seconds its probes allow a new pod to start, if they bound it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_within_seconds: Option<i32>,
    /// No pod of it is ready for a while when its pods are replaced.
    pub outage: bool,
    /// What replacing its pods means, in words.
    pub effect: String,
}

impl Row {
    /// This run takes it to zero ready pods while someone uses it (its Service, or a
    /// consumer): what `--require-availability` refuses.
    pub fn takes_down(&self) -> bool {
        self.change == PodChange::Replaced
            && self.outage
            && (self.serves || !self.consumers.is_empty())
    }
}

/// A planned workload beside what the cluster holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Compared {
    /// The object as the API server would store it (a server-side dry run of the apply).
    pub applied: Value,
    /// The live object, if it exists.
    pub live: Option<Value>,
}

/// A single-replica workload behind a Service that other components use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SinglePoint {
    /// Component.
    pub component: String,
    /// Namespace.
    pub namespace: String,
    /// Components that depend on it.
    pub consumers: Vec<String>,
}

/// The components whose `depends_on` name `name`, in catalog order.
pub fn consumers(stack: &Stack, name: &str) -> Vec<String> {
    stack
        .components
        .iter()
        .filter(|c| c.depends_on.iter().any(|d| d == name))
        .map(|c| c.name.clone())
        .collect()
}

/// Seconds a new pod of `c` has to start before its probes give up on it: the startup
/// probe's budget, else the liveness probe's delay and failures.
pub fn ready_within(c: &Component) -> Option<i32> {
    let probes = &c.main().probes;
    probes.startup_budget().or_else(|| {
        probes
            .liveness
            .as_ref()
            .map(|p| p.initial_delay + p.period * p.failure_threshold)
    })
}

/// Every workload that runs one replica (an autoscaler's minimum of one), behind a Service
/// that other components use: when its pod goes (a node's drain or failure, an upgrade that
/// recreates it), they lose it.
pub fn single_points(stack: &Stack) -> Vec<SinglePoint> {
    stack
        .components
        .iter()
        .filter(|c| c.service && disruption::of(c).is_some_and(|d| d.replicas == 1))
        .filter_map(|c| {
            let consumers = consumers(stack, &c.name);
            (!consumers.is_empty()).then(|| SinglePoint {
                component: c.name.clone(),
                namespace: c.namespace.clone(),
                consumers,
            })
        })
        .collect()
}

/// The rows of the planned Deployments and StatefulSets that run pods. Without `live` (a
/// plan on its own) every workload is created; with it, keyed by [`Object::id`], a workload
/// is replaced when the applied pod template differs from the live one, created when there
/// is no live one, and left out when it was not compared.
pub fn rows(
    stack: &Stack,
    objects: &[Object],
    live: Option<&BTreeMap<String, Compared>>,
) -> Vec<Row> {
    let mut out = Vec::new();
    for o in objects
        .iter()
        .filter(|o| o.kind == "Deployment" || o.kind == "StatefulSet")
    {
        let Some(c) = stack.component(&o.component) else {
            continue;
        };
        let Some(d) = disruption::of(c) else {
            continue;
        };
        let compared = match live {
            Some(l) => match l.get(&o.id()) {
                Some(c) => Some(c),
                None => continue,
            },
            None => None,
        };
        // The two fields read here, from the applied value or straight from the typed object.
        let applied = |path: &[&str]| {
            compared.and_then(|c| path.iter().try_fold(&c.applied, |v, k| v.get(k)))
        };
        let replicas = match compared {
            Some(_) => applied(&["spec", "replicas"]).and_then(Value::as_u64),
            None => o.replicas().and_then(|n| u64::try_from(n).ok()),
        }
        .map_or(d.replicas, |n| u32::try_from(n).unwrap_or(u32::MAX));
        if replicas == 0 {
            continue;
        }
        let change = match compared.map(|c| (&c.applied, &c.live)) {
            None | Some((_, None)) => PodChange::Created,
            Some((applied, Some(live))) => {
                if applied.pointer("/spec/template") == live.pointer("/spec/template") {
                    PodChange::Unchanged
                } else {
                    PodChange::Replaced
                }
            }
        };
        let standby = match compared {
            Some(_) => {
                applied(&["metadata", "annotations", COLOR_ROLE]).and_then(Value::as_str)
                    == Some("standby")
            }
            None => o.annotation(COLOR_ROLE).as_deref() == Some("standby"),
        };
        let d = disruption::Disruption { replicas, ..d };
        let ready_throughout = d.ready_during_rollout();
        let serves = c.service && !standby;
        let consumers = if standby {
            Vec::new()
        } else {
            consumers(stack, &c.name)
        };
        let ready_within_seconds = ready_within(c);
        let outage = ready_throughout == 0;
        let effect = effect(c, &d, &consumers, serves, ready_within_seconds);
        out.push(Row {
            component: c.name.clone(),
            kind: o.kind.clone(),
            namespace: o.namespace.clone().unwrap_or_default(),
            name: o.name.clone(),
            replicas,
            change,
            rollout: d.rollout,
            ready_throughout,
            serves,
            consumers,
            ready_within_seconds,
            outage,
            effect,
        });
    }
    out
}

/// What replacing the pods of `c` means, in words.
fn effect(
    c: &Component,
    d: &disruption::Disruption,
    consumers: &[String],
    serves: bool,
    within: Option<i32>,
) -> String {
    let n = d.replicas;
    let ready = d.ready_during_rollout();
    match d.rollout {
        _ if ready == 0 => {
            let who = match consumers.len() {
                0 if serves => "its Service has no ready endpoint".to_string(),
                0 => "it is down".to_string(),
                1 => format!("its consumer {} loses it", consumers[0]),
                k => format!("its {k} consumers lose it"),
            };
            let budget = within.map_or_else(String::new, |s| format!(" (readiness budget {s} s)"));
            let pods = if n == 1 {
                "1 replica".to_string()
            } else {
                format!("{n} replicas, recreated")
            };
            format!("{pods} → {who} until the new pod is Ready{budget}")
        }
        Rollout::Surge(surge) => format!(
            "rolling, ≥ {ready} of {n} ready throughout ({surge} extra pod{} at a time)",
            if surge == 1 { "" } else { "s" }
        ),
        Rollout::OneAtATime => {
            let quorum = disruption::quorum(n);
            let kept = if c.quorum && ready >= quorum {
                format!(", a quorum of {quorum} kept")
            } else {
                String::new()
            };
            format!("one pod at a time, ≥ {ready} of {n} ready throughout{kept}")
        }
        Rollout::Recreate => format!("recreated, ≥ {ready} of {n} ready"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Input, ProfileName};

    fn stack(profile: ProfileName) -> Stack {
        crate::load(&Input {
            profile: Some(profile),
            ..Default::default()
        })
        .expect("profile loads")
    }

    fn row<'a>(rows: &'a [Row], name: &str) -> &'a Row {
        rows.iter().find(|r| r.name == name).expect(name)
    }

    #[test]
    fn a_plan_on_its_own_creates_every_workload_and_says_what_replacing_means() {
        let s = stack(ProfileName::Production);
        let objects = crate::render::selected(&s);
        let rows = rows(&s, &objects, None);
        assert!(rows.iter().all(|r| r.change == PodChange::Created));
        assert!(rows.iter().all(|r| !r.takes_down()));
        let ch = row(&rows, "posthog-clickhouse");
        assert!(
            ch.outage && ch.replicas == 1 && ch.consumers.len() >= 2,
            "{ch:?}"
        );
        assert!(
            ch.effect.starts_with(&format!(
                "1 replica → its {} consumers lose it until the new pod is Ready (readiness budget ",
                ch.consumers.len()
            )),
            "{}",
            ch.effect
        );
        let mr = row(&rows, "model-router");
        assert_eq!(
            mr.effect,
            format!(
                "rolling, ≥ {0} of {0} ready throughout (1 extra pod at a time)",
                mr.replicas
            )
        );
        assert_eq!(
            row(&rows, "nacos").effect,
            "one pod at a time, ≥ 2 of 3 ready throughout, a quorum of 2 kept"
        );
        // Every multi-replica workload keeps serving while it rolls.
        for r in rows.iter().filter(|r| r.replicas > 1) {
            assert!(!r.outage && r.ready_throughout >= 1, "{r:?}");
        }
    }

    #[test]
    fn live_objects_tell_replaced_from_unchanged_and_created() {
        let s = stack(ProfileName::Production);
        let objects = crate::render::selected(&s);
        let mut live = BTreeMap::new();
        for o in &objects {
            let v = o.value().into_owned();
            let (applied, before) = match o.name.as_str() {
                "posthog-clickhouse" | "model-router" => {
                    let mut old = v.clone();
                    old["spec"]["template"]["metadata"]["labels"]["x"] = "old".into();
                    (v, Some(old))
                }
                "nacos" => (v, None),
                _ => (v.clone(), Some(v)),
            };
            live.insert(
                o.id(),
                Compared {
                    applied,
                    live: before,
                },
            );
        }
        let rows = rows(&s, &objects, Some(&live));
        let changed: Vec<(&str, PodChange)> = rows
            .iter()
            .filter(|r| r.change != PodChange::Unchanged)
            .map(|r| (r.name.as_str(), r.change))
            .collect();
        assert_eq!(
            changed,
            [
                ("posthog-clickhouse", PodChange::Replaced),
                ("nacos", PodChange::Created),
                ("model-router", PodChange::Replaced),
            ]
        );
        let down: Vec<&str> = rows
            .iter()
            .filter(|r| r.takes_down())
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(down, ["posthog-clickhouse"]);
    }

    #[test]
    fn single_points_are_single_replicas_with_consumers() {
        let s = stack(ProfileName::Production);
        let points = single_points(&s);
        let names: Vec<&str> = points.iter().map(|p| p.component.as_str()).collect();
        assert!(names.contains(&"posthog-clickhouse"), "{names:?}");
        for name in ["model-router", "nacos", "posthog-redis-node"] {
            assert!(!names.contains(&name), "{name}");
        }
        for p in &points {
            assert!(!p.consumers.is_empty());
            assert_eq!(consumers(&s, &p.component), p.consumers);
        }
    }
}
