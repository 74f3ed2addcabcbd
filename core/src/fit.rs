//! Fit: places every pod by its requests on the nodes, first-fit decreasing, honouring each
//! node's CPU, memory and pod limits, at minimum and at maximum replicas.
//!
//! Nodes are plain data ([`NodeCapacity`]) so `plan` can feed the configured shapes and
//! `check` can feed the live nodes (allocatable minus what running pods already request).
//!
//! A pod goes only on a node whose labels match its nodeSelector and required node affinity
//! and whose NoSchedule and NoExecute taints it tolerates; replicas of a StatefulSet that
//! keeps one per node go on distinct nodes. [`FitReport::placement`] says, per component,
//! which nodes admit its pods and why none does.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::catalog::WorkloadKind;
use crate::config::{Mismatch, NodeShape, Placement as Rules, Taint};
use crate::quantity::{Bytes, MilliCpu};
use crate::sizing::Sizing;

/// Free capacity of one node, and what the scheduler matches pods against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeCapacity {
    /// Node name.
    pub name: String,
    /// Free CPU.
    pub cpu: MilliCpu,
    /// Free memory.
    pub memory: Bytes,
    /// Free pod slots.
    pub pods: u32,
    /// The node group it belongs to: a shape's name, or a live node's pool label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// Node labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Node taints.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
}

/// Labels that name a live node's pool, by the platforms that set them: EKS managed node
/// groups, Karpenter, GKE and AKS.
pub const POOL_LABELS: [&str; 4] = [
    "eks.amazonaws.com/nodegroup",
    "karpenter.sh/nodepool",
    "cloud.google.com/gke-nodepool",
    "kubernetes.azure.com/agentpool",
];

/// The pool a live node's labels name, if any.
pub fn pool_of(labels: &BTreeMap<String, String>) -> Option<String> {
    POOL_LABELS.iter().find_map(|k| labels.get(*k).cloned())
}

/// Expands node shapes into nodes (`node-1`, `node-2`, …).
pub fn nodes_from_shapes(shapes: &[NodeShape]) -> Vec<NodeCapacity> {
    shapes
        .iter()
        .flat_map(|s| {
            (1..=s.count).map(move |i| NodeCapacity {
                name: format!("{}-{i}", s.name),
                cpu: s.cpu,
                memory: s.memory,
                pods: s.max_pods,
                pool: Some(s.name.clone()),
                labels: s.labels.clone(),
                taints: s.taints.clone(),
            })
        })
        .collect()
}

/// What a component's pods ask of their node besides room.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Labels, affinity and tolerations.
    pub rules: Rules,
    /// Each replica on its own node.
    pub one_per_node: bool,
}

impl Needs {
    /// Whether a node's labels and taints admit the pods.
    pub fn admits(&self, n: &NodeCapacity) -> bool {
        self.rules.matches(&n.labels).is_ok() && self.rules.untolerated(&n.taints).is_none()
    }
    fn constrained(&self) -> bool {
        self.one_per_node || !self.rules.is_empty()
    }
}

/// One pod to place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodRequest {
    /// `component/index`.
    pub pod: String,
    /// CPU request.
    pub cpu: MilliCpu,
    /// Memory request.
    pub memory: Bytes,
    /// Its component.
    #[serde(skip)]
    pub component: String,
    /// What it asks of its node.
    #[serde(skip)]
    pub needs: Arc<Needs>,
}

/// How full a node ends up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeUse {
    /// Node name.
    pub name: String,
    /// Capacity.
    pub capacity: NodeCapacity,
    /// Requested by the placed pods.
    pub cpu: MilliCpu,
    /// Requested memory.
    pub memory: Bytes,
    /// Placed pods.
    pub pods: u32,
    /// CPU left.
    pub cpu_headroom: MilliCpu,
    /// Memory left.
    pub memory_headroom: Bytes,
}

/// Which nodes admit a component's pods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentNodes {
    /// Component.
    pub component: String,
    /// Its rules in words (`nodeSelector pool=data`, `tolerates dedicated=data:NoSchedule`,
    /// `one replica per node`); empty when it has none.
    pub rules: Vec<String>,
    /// Every node admits it.
    pub every_node: bool,
    /// The nodes that admit it, when not every node does.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    /// The pools of those nodes, when each has one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<String>,
    /// Why its pods cannot run: no node admits them, or fewer than its replicas that must
    /// each have their own node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The result of one placement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    /// Every node with its use.
    pub nodes: Vec<NodeUse>,
    /// Pods no node could take.
    pub unplaced: Vec<PodRequest>,
}

impl Placement {
    /// Every pod found a node.
    pub fn fits(&self) -> bool {
        self.unplaced.is_empty()
    }
}

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Fits at maximum replicas.
    Fits,
    /// Fits at minimum replicas only: autoscaling would leave pods Pending.
    FitsAtMinOnly,
    /// Does not fit even at minimum replicas.
    DoesNotFit,
}

/// The fit report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FitReport {
    /// Verdict.
    pub verdict: Verdict,
    /// Placement at minimum replicas.
    pub at_min: Placement,
    /// Placement at maximum replicas.
    pub at_max: Placement,
    /// Nodes of the reference shape needed at minimum replicas (`None`: a pod is larger than the shape).
    pub nodes_needed_min: Option<u32>,
    /// Nodes needed at maximum replicas.
    pub nodes_needed_max: Option<u32>,
    /// The shape used for `nodesNeeded*` (the first node group).
    pub reference_shape: Option<NodeShape>,
    /// Per component, which nodes admit its pods (Jobs included).
    pub placement: Vec<ComponentNodes>,
}

impl FitReport {
    /// The components whose pods no node can run, with why.
    pub fn placement_problems(&self) -> impl Iterator<Item = (&str, &str)> {
        self.placement
            .iter()
            .filter_map(|c| Some((c.component.as_str(), c.problem.as_deref()?)))
    }
}

/// The pods of the long-running workloads at minimum or maximum replicas.
pub fn pods(sizing: &Sizing, at_max: bool) -> Vec<PodRequest> {
    sizing
        .components
        .iter()
        .filter(|c| c.kind != WorkloadKind::Job)
        .flat_map(|c| {
            let n = if at_max {
                c.max_replicas
            } else {
                c.min_replicas
            };
            let needs = Arc::new(Needs {
                rules: c.placement.clone(),
                one_per_node: c.one_per_node,
            });
            (0..n).map(move |i| PodRequest {
                pod: format!("{}/{i}", c.name),
                cpu: c.pod.requests.cpu,
                memory: c.pod.requests.memory,
                component: c.name.clone(),
                needs: needs.clone(),
            })
        })
        .collect()
}

/// The pods in first-fit-decreasing order: pods with placement rules first (they have
/// fewer nodes to choose from), then the largest share of the biggest node (CPU or memory,
/// whichever is larger), ties by name for determinism.
fn largest_first(pods: &[PodRequest], max_cpu: u64, max_mem: u64) -> Vec<&PodRequest> {
    let share =
        |p: &PodRequest| (p.cpu.0 as f64 / max_cpu as f64).max(p.memory.0 as f64 / max_mem as f64);
    let mut order: Vec<&PodRequest> = pods.iter().collect();
    order.sort_by(|a, b| {
        b.needs
            .constrained()
            .cmp(&a.needs.constrained())
            .then_with(|| share(b).total_cmp(&share(a)))
            .then_with(|| a.pod.cmp(&b.pod))
    });
    order
}

/// What a node holds so far.
#[derive(Clone, Default)]
struct Used<'a> {
    cpu: MilliCpu,
    memory: Bytes,
    pods: u32,
    /// Components that keep one replica per node with a pod here.
    alone: Vec<&'a str>,
}

impl<'a> Used<'a> {
    fn takes(&self, p: &PodRequest, cpu: MilliCpu, memory: Bytes, pods: u32) -> bool {
        self.cpu + p.cpu <= cpu
            && self.memory + p.memory <= memory
            && self.pods < pods
            && !(p.needs.one_per_node && self.alone.contains(&p.component.as_str()))
    }
    fn add(&mut self, p: &'a PodRequest) {
        self.cpu = self.cpu + p.cpu;
        self.memory = self.memory + p.memory;
        self.pods += 1;
        if p.needs.one_per_node {
            self.alone.push(&p.component);
        }
    }
}

/// First-fit decreasing placement.
pub fn place(pods: &[PodRequest], nodes: &[NodeCapacity]) -> Placement {
    let max_cpu = nodes.iter().map(|n| n.cpu.0).max().unwrap_or(1).max(1);
    let max_mem = nodes.iter().map(|n| n.memory.0).max().unwrap_or(1).max(1);
    let order = largest_first(pods, max_cpu, max_mem);
    let mut used: Vec<Used<'_>> = vec![Used::default(); nodes.len()];
    let mut unplaced = Vec::new();
    // Whether a component's pods may go on each node, computed once per component.
    let mut admitted: BTreeMap<&str, Vec<bool>> = BTreeMap::new();
    for p in order {
        let ok = admitted
            .entry(p.component.as_str())
            .or_insert_with(|| nodes.iter().map(|n| p.needs.admits(n)).collect());
        let slot = nodes
            .iter()
            .zip(used.iter_mut())
            .zip(ok.iter())
            .find(|((n, u), ok)| **ok && u.takes(p, n.cpu, n.memory, n.pods));
        match slot {
            Some(((_, u), _)) => u.add(p),
            None => unplaced.push(p.clone()),
        }
    }
    let nodes = nodes
        .iter()
        .zip(used)
        .map(|(n, u)| NodeUse {
            name: n.name.clone(),
            capacity: n.clone(),
            cpu: u.cpu,
            memory: u.memory,
            pods: u.pods,
            cpu_headroom: MilliCpu(n.cpu.0 - u.cpu.0),
            memory_headroom: Bytes(n.memory.0 - u.memory.0),
        })
        .collect();
    Placement { nodes, unplaced }
}

/// How many nodes of `shape` hold every pod (`None` if some pod is larger than the shape).
pub fn nodes_needed(pods: &[PodRequest], shape: &NodeShape) -> Option<u32> {
    if shape.max_pods == 0
        || pods
            .iter()
            .any(|p| p.cpu > shape.cpu || p.memory > shape.memory)
    {
        return None;
    }
    // First fit onto identical nodes fills them in order, so with `n` nodes it places exactly
    // what it places on the first `n` of unboundedly many: one pass, opening a node when no
    // open one takes the pod, counts the nodes needed.
    // Labels and taints are left out: the count is of nodes like the reference shape.
    let order = largest_first(pods, shape.cpu.0.max(1), shape.memory.0.max(1));
    let mut used: Vec<Used<'_>> = Vec::new();
    for p in order {
        let open = used
            .iter_mut()
            .find(|u| u.takes(p, shape.cpu, shape.memory, shape.max_pods));
        match open {
            Some(u) => u.add(p),
            None => {
                let mut u = Used::default();
                u.add(p);
                used.push(u);
            }
        }
    }
    Some(u32::try_from(used.len().max(1)).unwrap_or(u32::MAX))
}

/// Fits the sizing onto nodes; `shape` is the reference for the node counts.
pub fn check(sizing: &Sizing, nodes: &[NodeCapacity], shape: Option<&NodeShape>) -> FitReport {
    let min_pods = pods(sizing, false);
    let max_pods = pods(sizing, true);
    let at_min = place(&min_pods, nodes);
    let at_max = place(&max_pods, nodes);
    let verdict = if at_max.fits() {
        Verdict::Fits
    } else if at_min.fits() {
        Verdict::FitsAtMinOnly
    } else {
        Verdict::DoesNotFit
    };
    FitReport {
        verdict,
        nodes_needed_min: shape.and_then(|s| nodes_needed(&min_pods, s)),
        nodes_needed_max: shape.and_then(|s| nodes_needed(&max_pods, s)),
        reference_shape: shape.cloned(),
        at_min,
        at_max,
        placement: sizing
            .components
            .iter()
            .map(|c| {
                let needs = Needs {
                    rules: c.placement.clone(),
                    one_per_node: c.one_per_node,
                };
                component_nodes(&c.name, &needs, c.min_replicas, nodes)
            })
            .collect(),
    }
}

/// A component's rules in words.
fn rules_in_words(needs: &Needs) -> Vec<String> {
    let r = &needs.rules;
    let mut out = Vec::new();
    let selector: Vec<String> = r.selector().map(|(k, v)| format!("{k}={v}")).collect();
    if !selector.is_empty() {
        out.push(format!("nodeSelector {}", selector.join(",")));
    }
    let required = r.required();
    if !required.is_empty() {
        let terms: Vec<String> = required.iter().map(ToString::to_string).collect();
        out.push(format!("node affinity {}", terms.join(" or ")));
    }
    for t in r.tolerations() {
        let effect = t.effect.map_or("*", |e| e.as_str());
        out.push(match (t.key.is_empty(), t.operator) {
            (true, _) => "tolerates every taint".to_string(),
            (false, crate::config::TolerationOperator::Exists) => {
                format!("tolerates {}:{effect}", t.key)
            }
            (false, crate::config::TolerationOperator::Equal) => {
                format!("tolerates {}={}:{effect}", t.key, t.value)
            }
        });
    }
    if needs.one_per_node {
        out.push("one replica per node".into());
    }
    out
}

/// Which nodes admit a component's pods, and why none does.
pub fn component_nodes(
    component: &str,
    needs: &Needs,
    replicas: u32,
    nodes: &[NodeCapacity],
) -> ComponentNodes {
    let admitted: Vec<&NodeCapacity> = nodes.iter().filter(|n| needs.admits(n)).collect();
    let every_node = admitted.len() == nodes.len();
    let r = &needs.rules;
    let problem = if nodes.is_empty() {
        None
    } else if admitted.is_empty() {
        let matching: Vec<&NodeCapacity> = nodes
            .iter()
            .filter(|n| r.matches(&n.labels).is_ok())
            .collect();
        if matching.is_empty() {
            let by_selector = nodes
                .iter()
                .all(|n| matches!(r.matches(&n.labels), Err(Mismatch::Selector(_))));
            Some(if by_selector {
                let selector: Vec<String> = r.selector().map(|(k, v)| format!("{k}={v}")).collect();
                format!("no node matches nodeSelector {}", selector.join(","))
            } else {
                let terms: Vec<String> = r.required().iter().map(ToString::to_string).collect();
                format!(
                    "no node matches its nodeSelector and required node affinity ({})",
                    terms.join(" or ")
                )
            })
        } else {
            let mut taints: Vec<String> = matching
                .iter()
                .filter_map(|n| r.untolerated(&n.taints))
                .map(ToString::to_string)
                .collect();
            taints.sort();
            taints.dedup();
            Some(format!(
                "every matching node is tainted {}, which it does not tolerate",
                taints.join(", ")
            ))
        }
    } else if needs.one_per_node && admitted.len() < replicas as usize {
        Some(format!(
            "its {replicas} replicas each need their own node, and only {} node(s) admit them; add nodes or set placement.allowSameNode",
            admitted.len()
        ))
    } else {
        None
    };
    let mut pools: Vec<String> = Vec::new();
    if !every_node && admitted.iter().all(|n| n.pool.is_some()) {
        for p in admitted.iter().filter_map(|n| n.pool.clone()) {
            if !pools.contains(&p) {
                pools.push(p);
            }
        }
    }
    ComponentNodes {
        component: component.to_string(),
        rules: rules_in_words(needs),
        every_node,
        nodes: if every_node {
            Vec::new()
        } else {
            admitted.iter().map(|n| n.name.clone()).collect()
        },
        pools,
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, cpu: u64, gib: u64) -> PodRequest {
        PodRequest {
            pod: name.into(),
            cpu: MilliCpu(cpu),
            memory: Bytes::gi(gib),
            component: name.into(),
            needs: Arc::default(),
        }
    }
    fn shape(count: u32) -> NodeShape {
        NodeShape {
            name: "n".into(),
            count,
            cpu: MilliCpu(4000),
            memory: Bytes::gi(8),
            max_pods: 3,
            labels: BTreeMap::new(),
            taints: Vec::new(),
        }
    }

    #[test]
    fn first_fit_decreasing_packs_big_pods_first() {
        let pods = vec![
            pod("a", 1000, 1),
            pod("b", 3000, 1),
            pod("c", 1000, 6),
            pod("d", 2000, 1),
        ];
        let p = place(&pods, &nodes_from_shapes(&[shape(2)]));
        assert!(p.fits(), "{p:?}");
        assert_eq!(p.nodes[0].cpu.0 + p.nodes[1].cpu.0, 7000);
    }

    #[test]
    fn reports_unplaced_pods_and_counts_nodes() {
        let pods: Vec<PodRequest> = (0..5).map(|i| pod(&format!("p{i}"), 3000, 1)).collect();
        let p = place(&pods, &nodes_from_shapes(&[shape(2)]));
        assert_eq!(p.unplaced.len(), 3);
        assert_eq!(nodes_needed(&pods, &shape(1)), Some(5));
        assert_eq!(nodes_needed(&[pod("huge", 5000, 1)], &shape(1)), None);
    }

    #[test]
    fn honours_max_pods() {
        let pods: Vec<PodRequest> = (0..4).map(|i| pod(&format!("p{i}"), 10, 0)).collect();
        let p = place(&pods, &nodes_from_shapes(&[shape(1)]));
        assert_eq!(p.unplaced.len(), 1);
        assert_eq!(nodes_needed(&pods, &shape(1)), Some(2));
    }

    fn pool(name: &str, count: u32, label: &str, taint: Option<&str>) -> NodeShape {
        NodeShape {
            name: name.into(),
            labels: [("pool".to_string(), label.to_string())].into(),
            taints: taint
                .map(|t| Taint {
                    key: "dedicated".into(),
                    value: t.into(),
                    effect: crate::config::TaintEffect::NoSchedule,
                })
                .into_iter()
                .collect(),
            max_pods: 110,
            ..shape(count)
        }
    }

    fn needing(name: &str, n: usize, needs: Needs) -> Vec<PodRequest> {
        let needs = Arc::new(needs);
        (0..n)
            .map(|i| PodRequest {
                pod: format!("{name}/{i}"),
                component: name.into(),
                needs: needs.clone(),
                ..pod(name, 100, 0)
            })
            .collect()
    }

    fn rules(selector: Option<&str>, tolerate: Option<&str>) -> Rules {
        use crate::config::{Toleration, TolerationOperator};
        Rules {
            node_selector: selector.map(|s| [("pool".to_string(), s.to_string())].into()),
            tolerations: tolerate.map(|t| {
                vec![Toleration {
                    key: "dedicated".into(),
                    operator: TolerationOperator::Equal,
                    value: t.into(),
                    effect: None,
                    toleration_seconds: None,
                }]
            }),
            ..Default::default()
        }
    }

    #[test]
    fn pods_go_only_where_labels_match_and_taints_are_tolerated() {
        let nodes = nodes_from_shapes(&[
            pool("apps", 2, "apps", None),
            pool("data", 2, "data", Some("data")),
        ]);
        let data = Needs {
            rules: rules(Some("data"), Some("data")),
            one_per_node: false,
        };
        let mut pods = needing("db", 3, data.clone());
        pods.extend(needing("web", 4, Needs::default()));
        let p = place(&pods, &nodes);
        assert!(p.fits(), "{p:?}");
        // The untolerating web pods stay off the tainted data nodes.
        assert_eq!(
            p.nodes.iter().map(|n| n.pods).collect::<Vec<_>>(),
            [4, 0, 3, 0]
        );

        let c = component_nodes("db", &data, 3, &nodes);
        assert_eq!(c.nodes, ["data-1", "data-2"]);
        assert_eq!(c.pools, ["data"]);
        assert_eq!(c.problem, None);
        assert_eq!(
            c.rules,
            ["nodeSelector pool=data", "tolerates dedicated=data:*"]
        );

        let nowhere = Needs {
            rules: rules(Some("gpu"), None),
            one_per_node: false,
        };
        assert_eq!(
            component_nodes("x", &nowhere, 1, &nodes).problem.as_deref(),
            Some("no node matches nodeSelector pool=gpu")
        );
        assert_eq!(place(&needing("x", 1, nowhere), &nodes).unplaced.len(), 1);
        let untolerated = Needs {
            rules: rules(Some("data"), None),
            one_per_node: false,
        };
        assert_eq!(
            component_nodes("x", &untolerated, 1, &nodes)
                .problem
                .as_deref(),
            Some(
                "every matching node is tainted dedicated=data:NoSchedule, which it does not tolerate"
            )
        );
    }

    #[test]
    fn replicas_kept_one_per_node_go_on_distinct_nodes() {
        let nodes = nodes_from_shapes(&[pool("data", 2, "data", None)]);
        let alone = Needs {
            rules: Rules::default(),
            one_per_node: true,
        };
        let p = place(&needing("kafka", 3, alone.clone()), &nodes);
        assert_eq!(p.unplaced.len(), 1, "{p:?}");
        assert_eq!(p.nodes.iter().map(|n| n.pods).collect::<Vec<_>>(), [1, 1]);
        assert!(
            component_nodes("kafka", &alone, 3, &nodes)
                .problem
                .is_some_and(|p| p.contains("only 2 node(s)"))
        );
        assert_eq!(
            nodes_needed(&needing("kafka", 3, alone), &shape(1)),
            Some(3)
        );
    }
}
