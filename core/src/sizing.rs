//! Sizing: per component replicas (min and max), requests, limits and storage; totals per
//! namespace and overall, at minimum and at maximum replicas.
//!
//! A pod's request is the larger of the sum of its containers (sidecars included, the injected
//! Istio proxy too) and its largest init container, as the scheduler computes it. A blue-green
//! service counts its standby colour at its minimum replicas. Jobs run to completion before the
//! applications start, so they are listed but left out of the steady-state totals.

use serde::Serialize;

use crate::catalog::{Component, Resources, Stack, WorkloadKind};
use crate::quantity::Bytes;

/// Requests and limits of one pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PodSize {
    /// Effective requests (what the scheduler reserves).
    pub requests: Resources,
    /// Effective limits.
    pub limits: Resources,
}

/// The effective requests and limits of a component's pod.
pub fn pod_size(c: &Component) -> PodSize {
    let sum = |f: fn(&crate::catalog::ResourceSpec) -> Resources| {
        let main = c
            .containers
            .iter()
            .map(|x| f(&x.resources))
            .chain(c.mesh_sidecar.as_ref().map(f))
            .fold(Resources::default(), |a, b| Resources {
                cpu: a.cpu + b.cpu,
                memory: a.memory + b.memory,
            });
        c.init_containers
            .iter()
            .map(|x| f(&x.resources))
            .fold(main, |a, b| Resources {
                cpu: a.cpu.max(b.cpu),
                memory: a.memory.max(b.memory),
            })
    };
    PodSize {
        requests: sum(|r| r.requests),
        limits: sum(|r| r.limits),
    }
}

/// One row of the sizing table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentSize {
    /// Component name.
    pub name: String,
    /// Group.
    pub group: &'static str,
    /// Namespace.
    pub namespace: String,
    /// Workload kind.
    pub kind: WorkloadKind,
    /// Minimum replicas.
    pub min_replicas: u32,
    /// Maximum replicas (HPA bound).
    pub max_replicas: u32,
    /// Per-pod requests and limits.
    pub pod: PodSize,
    /// Persistent storage per replica.
    pub storage: Bytes,
    /// The processes a pre-forking container starts, derived from its CPU limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<ProcessCount>,
    /// Where its pods may run (read by `fit`).
    #[serde(skip)]
    pub placement: crate::config::Placement,
    /// Its replicas each need their own node.
    #[serde(skip)]
    pub one_per_node: bool,
}

/// How many processes a pre-forking container starts, and the memory they need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessCount {
    /// Container.
    pub container: String,
    /// The variable that sets the count.
    pub env: &'static str,
    /// Processes it counts.
    pub count: u32,
    /// Processes beside them.
    pub extra: u32,
    /// Memory they need in all, within the container's limit.
    pub memory: Bytes,
    /// The container's limits the count and the need are checked against.
    pub limits: Resources,
}

fn process_count(c: &Component) -> Option<ProcessCount> {
    c.containers.iter().find_map(|k| {
        let p = k.processes.as_ref()?;
        let count = p.count(k.resources.limits.cpu);
        Some(ProcessCount {
            container: k.name.clone(),
            env: p.env,
            count,
            extra: p.extra,
            memory: p.memory(count),
            limits: k.resources.limits,
        })
    })
}

/// Totals of a set of components at a replica count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Pods.
    pub pods: u32,
    /// Sum of requests.
    pub requests: Resources,
    /// Sum of limits.
    pub limits: Resources,
    /// Persistent storage.
    pub storage: Bytes,
}

impl Totals {
    fn add(&mut self, row: &ComponentSize, replicas: u32) {
        let n = u64::from(replicas);
        self.pods += replicas;
        self.requests.cpu = self.requests.cpu + row.pod.requests.cpu * n;
        self.requests.memory = self.requests.memory + row.pod.requests.memory * n;
        self.limits.cpu = self.limits.cpu + row.pod.limits.cpu * n;
        self.limits.memory = self.limits.memory + row.pod.limits.memory * n;
        self.storage = self.storage + row.storage * n;
    }
}

/// Totals at minimum and maximum replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Range {
    /// At minimum replicas.
    pub min: Totals,
    /// At maximum replicas.
    pub max: Totals,
}

/// Totals of one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceTotals {
    /// Namespace.
    pub namespace: String,
    /// Totals.
    #[serde(flatten)]
    pub totals: Range,
}

/// The whole sizing report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sizing {
    /// One row per component, in catalog order.
    pub components: Vec<ComponentSize>,
    /// Per namespace (long-running workloads only).
    pub namespaces: Vec<NamespaceTotals>,
    /// Overall (long-running workloads only).
    pub total: Range,
}

/// Pods of the standby colour of a blue-green component.
pub fn standby(c: &Component) -> u32 {
    if c.blue_green.is_some() {
        c.replicas
    } else {
        0
    }
}

/// Sizes a stack.
pub fn size(stack: &Stack) -> Sizing {
    let components: Vec<ComponentSize> = stack
        .components
        .iter()
        .map(|c| ComponentSize {
            name: c.name.clone(),
            group: c.group.as_str(),
            namespace: c.namespace.clone(),
            kind: c.kind,
            min_replicas: c.replicas + standby(c),
            max_replicas: c.max_replicas() + standby(c),
            pod: pod_size(c),
            storage: c.storage.iter().map(|s| s.size).sum(),
            processes: process_count(c),
            placement: c.placement.clone(),
            one_per_node: c.one_per_node(),
        })
        .collect();
    let mut namespaces: Vec<NamespaceTotals> = Vec::new();
    let mut total = Range::default();
    for row in components.iter().filter(|r| r.kind != WorkloadKind::Job) {
        let idx = match namespaces.iter().position(|n| n.namespace == row.namespace) {
            Some(i) => i,
            None => {
                namespaces.push(NamespaceTotals {
                    namespace: row.namespace.clone(),
                    totals: Range::default(),
                });
                namespaces.len() - 1
            }
        };
        for t in [&mut namespaces[idx].totals, &mut total] {
            t.min.add(row, row.min_replicas);
            t.max.add(row, row.max_replicas);
        }
    }
    Sizing {
        components,
        namespaces,
        total,
    }
}
