//! Fit: places every pod by its requests on the nodes, first-fit decreasing, honouring each
//! node's CPU, memory and pod limits, at minimum and at maximum replicas.
//!
//! Nodes are plain data ([`NodeCapacity`]) so `plan` can feed the configured shapes and
//! `check` can feed the live nodes (allocatable minus what running pods already request).

use serde::Serialize;

use crate::catalog::WorkloadKind;
use crate::config::NodeShape;
use crate::quantity::{Bytes, MilliCpu};
use crate::sizing::Sizing;

/// Free capacity of one node.
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
            })
        })
        .collect()
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
            (0..n).map(move |i| PodRequest {
                pod: format!("{}/{i}", c.name),
                cpu: c.pod.requests.cpu,
                memory: c.pod.requests.memory,
            })
        })
        .collect()
}

/// The pods in first-fit-decreasing order: largest share of the biggest node (CPU or
/// memory, whichever is larger) first, ties by name for determinism.
fn largest_first(pods: &[PodRequest], max_cpu: u64, max_mem: u64) -> Vec<&PodRequest> {
    let share =
        |p: &PodRequest| (p.cpu.0 as f64 / max_cpu as f64).max(p.memory.0 as f64 / max_mem as f64);
    let mut order: Vec<&PodRequest> = pods.iter().collect();
    order.sort_by(|a, b| {
        share(b)
            .total_cmp(&share(a))
            .then_with(|| a.pod.cmp(&b.pod))
    });
    order
}

/// First-fit decreasing placement.
pub fn place(pods: &[PodRequest], nodes: &[NodeCapacity]) -> Placement {
    let max_cpu = nodes.iter().map(|n| n.cpu.0).max().unwrap_or(1).max(1);
    let max_mem = nodes.iter().map(|n| n.memory.0).max().unwrap_or(1).max(1);
    let order = largest_first(pods, max_cpu, max_mem);
    let mut used: Vec<(MilliCpu, Bytes, u32)> = vec![(MilliCpu(0), Bytes(0), 0); nodes.len()];
    let mut unplaced = Vec::new();
    for p in order {
        let slot = nodes
            .iter()
            .zip(used.iter_mut())
            .find(|(n, u)| u.0 + p.cpu <= n.cpu && u.1 + p.memory <= n.memory && u.2 < n.pods);
        match slot {
            Some((_, u)) => {
                u.0 = u.0 + p.cpu;
                u.1 = u.1 + p.memory;
                u.2 += 1;
            }
            None => unplaced.push(p.clone()),
        }
    }
    let nodes = nodes
        .iter()
        .zip(used)
        .map(|(n, (cpu, memory, pods))| NodeUse {
            name: n.name.clone(),
            capacity: n.clone(),
            cpu,
            memory,
            pods,
            cpu_headroom: MilliCpu(n.cpu.0 - cpu.0),
            memory_headroom: Bytes(n.memory.0 - memory.0),
        })
        .collect();
    Placement { nodes, unplaced }
}

/// How many nodes of `shape` hold every pod (`None` if some pod is larger than the shape).
pub fn nodes_needed(pods: &[PodRequest], shape: &NodeShape) -> Option<u32> {
    let one = NodeShape {
        count: 1,
        ..shape.clone()
    };
    if pods.iter().any(|p| {
        !place(
            std::slice::from_ref(p),
            &nodes_from_shapes(std::slice::from_ref(&one)),
        )
        .fits()
    }) {
        return None;
    }
    // First fit onto identical nodes fills them in order, so with `n` nodes it places exactly
    // what it places on the first `n` of unboundedly many: one pass, opening a node when no
    // open one takes the pod, counts the nodes needed.
    let order = largest_first(pods, shape.cpu.0.max(1), shape.memory.0.max(1));
    let mut used: Vec<(MilliCpu, Bytes, u32)> = Vec::new();
    for p in order {
        let open = used.iter_mut().find(|u| {
            u.0 + p.cpu <= shape.cpu && u.1 + p.memory <= shape.memory && u.2 < shape.max_pods
        });
        match open {
            Some(u) => {
                u.0 = u.0 + p.cpu;
                u.1 = u.1 + p.memory;
                u.2 += 1;
            }
            None => used.push((p.cpu, p.memory, 1)),
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
        }
    }
    fn shape(count: u32) -> NodeShape {
        NodeShape {
            name: "n".into(),
            count,
            cpu: MilliCpu(4000),
            memory: Bytes::gi(8),
            max_pods: 3,
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
}
