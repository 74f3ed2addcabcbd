//! The plan: ordered waves of objects, each with the readiness gates that must hold before
//! the next wave starts, plus the Secrets install creates and the checks that verify the
//! rollout. Like kube-core's requests, the plan is data: `install` performs it.

use serde::Serialize;

use crate::availability;
use crate::catalog::{SecretSpec, Stack, WorkloadKind};
use crate::config::Posthog;
use crate::config::Selection;
use crate::fit::{self, FitReport, NodeCapacity};
use crate::render::selection;
use crate::render::{self, Object, Stage};
use crate::sizing::{self, Sizing};

/// A reference to a rendered object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// Owning component.
    pub component: String,
    /// Kind.
    pub kind: String,
    /// Namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

/// A readiness condition awaited after a wave is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Gate {
    /// The Deployment has `replicas` available and the rollout is complete.
    DeploymentAvailable {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Replicas to wait for.
        replicas: u32,
    },
    /// The StatefulSet has `replicas` ready.
    StatefulSetReady {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Replicas to wait for.
        replicas: u32,
    },
    /// The Job has succeeded.
    JobComplete {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// The PersistentVolumeClaim is Bound.
    PvcBound {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// The Service has at least one ready endpoint.
    ServiceEndpoints {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// The ExternalSecret has made its Secret from the store (its Ready condition is True).
    ExternalSecretReady {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// The ResourceQuota's limits are in force (the quota controller has counted the
    /// namespace): until then the API server refuses every pod of the namespace, and the
    /// controllers that make them back off for minutes.
    QuotaEnforced {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
}

/// One wave of the rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Wave {
    /// 1-based position.
    pub index: usize,
    /// Short name.
    pub name: &'static str,
    /// What happens in it.
    pub description: &'static str,
    /// Objects applied (server-side apply) in this wave.
    pub objects: Vec<ObjectRef>,
    /// Secrets created in this wave if absent (never overwritten).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// Conditions awaited before the next wave.
    pub gates: Vec<Gate>,
    /// The data stores' StatefulSets of the wave, stores before the stores that use them:
    /// those that already run roll one at a time in this order, each Ready before the next.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub one_by_one: Vec<ObjectRef>,
    /// Health checks (verification wave).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<HealthCheck>,
}

impl Wave {
    /// Whether install applies this wave: it writes objects or Secrets. The verification wave
    /// only lists the health checks `status --verify` runs.
    pub fn is_applied(&self) -> bool {
        !self.objects.is_empty() || !self.secrets.is_empty()
    }
}

/// An HTTP health check through the API server's service proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    /// Component checked.
    pub component: String,
    /// Namespace.
    pub namespace: String,
    /// Service.
    pub service: String,
    /// Service port name.
    pub port: String,
    /// Path.
    pub path: String,
}

/// The whole plan, as printed by `kubectl voice plan -o json`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Profile.
    pub profile: &'static str,
    /// Release name.
    pub instance: String,
    /// PostHog mode.
    pub posthog: &'static str,
    /// The self-hosted PostHog release (`YYYY.MM.DD-<commit>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub posthog_release: Option<String>,
    /// The parts this run acts on (absent: everything).
    #[serde(skip_serializing_if = "Selection::is_everything")]
    pub selection: Selection,
    /// Sizing.
    pub sizing: Sizing,
    /// Fit on the nodes.
    pub fit: FitReport,
    /// Whose nodes the fit is on.
    pub capacity: Capacity,
    /// Ordered waves.
    pub waves: Vec<Wave>,
    /// Secrets install creates (names and keys only).
    pub secrets: Vec<SecretSpec>,
    /// Notes on components that depart from the defaults, by component.
    pub notes: Vec<(String, String)>,
    /// Per workload, what replacing its pods means (a plan on its own creates them all).
    pub availability: Vec<availability::Row>,
}

/// Whose nodes a plan's fit is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Capacity {
    /// The configuration's node shapes (`cluster.nodes`, the profile's by default).
    Profile,
    /// A live cluster's schedulable nodes, less what other pods request.
    Cluster,
}

const WAVES: [(Stage, &str, &str); 7] = [
    (
        Stage::Cluster,
        "namespaces",
        "namespaces with restricted Pod Security",
    ),
    (
        Stage::Config,
        "config",
        "service accounts, config maps and generated secrets",
    ),
    (
        Stage::Stateful,
        "stateful",
        "databases, caches, brokers and storage; wait until ready",
    ),
    (
        Stage::Setup,
        "setup",
        "create databases, users, buckets and topics",
    ),
    (
        Stage::Migration,
        "migrations",
        "schema migrations that gate the applications",
    ),
    (
        Stage::App,
        "applications",
        "stateless services, autoscalers and disruption budgets",
    ),
    (
        Stage::Routing,
        "routing",
        "ingresses, network policies and service monitors",
    ),
];

fn gates(stack: &Stack, objects: &[&Object]) -> Vec<Gate> {
    let mut out = Vec::new();
    for o in objects {
        let ns = o.namespace.clone().unwrap_or_default();
        if o.kind == "ResourceQuota" {
            out.push(Gate::QuotaEnforced {
                namespace: ns,
                name: o.name.clone(),
            });
            continue;
        }
        if o.kind == "ExternalSecret" {
            out.push(Gate::ExternalSecretReady {
                namespace: ns,
                name: o.name.clone(),
            });
            continue;
        }
        let Some(c) = stack.component(&o.component) else {
            continue;
        };
        match o.kind.as_str() {
            "Deployment" => out.push(Gate::DeploymentAvailable {
                namespace: ns,
                name: o.name.clone(),
                replicas: c.replicas,
            }),
            "StatefulSet" => {
                // A database's previous StatefulSet (upgrade-engine) may be at zero.
                let replicas = o
                    .replicas()
                    .and_then(|r| u32::try_from(r).ok())
                    .unwrap_or(c.replicas);
                out.push(Gate::StatefulSetReady {
                    namespace: ns.clone(),
                    name: o.name.clone(),
                    replicas,
                });
                for s in &c.storage {
                    for i in 0..replicas {
                        out.push(Gate::PvcBound {
                            namespace: ns.clone(),
                            name: format!("{}-{}-{i}", s.name, o.name),
                        });
                    }
                }
            }
            "Job" => out.push(Gate::JobComplete {
                namespace: ns,
                name: o.name.clone(),
            }),
            "Service" => out.push(Gate::ServiceEndpoints {
                namespace: ns,
                name: o.name.clone(),
            }),
            "PersistentVolumeClaim" if c.kind == WorkloadKind::Deployment => {
                out.push(Gate::PvcBound {
                    namespace: ns,
                    name: o.name.clone(),
                })
            }
            _ => {}
        }
    }
    out
}

/// Health checks of the verification wave: each HTTP readiness endpoint with a Service.
fn checks(stack: &Stack) -> Vec<HealthCheck> {
    let mut out = Vec::new();
    for c in stack
        .components
        .iter()
        .filter(|c| c.service && c.kind == WorkloadKind::Deployment && stack.selection.includes(c))
    {
        if let Some((path, port)) = http_health(c) {
            out.push(HealthCheck {
                component: c.name.clone(),
                namespace: c.namespace.clone(),
                service: c.name.clone(),
                port: port.name.into(),
                path: path.into(),
            });
        }
    }
    out
}

/// The HTTP endpoint that tells whether a pod of `c` is healthy: its readiness (else
/// liveness) probe, when that is a GET on one of its ports: `(path, port)`.
pub fn http_health(c: &crate::catalog::Component) -> Option<(&str, &crate::catalog::Port)> {
    let probes = &c.main().probes;
    match probes.readiness.as_ref().or(probes.liveness.as_ref()) {
        Some(crate::catalog::Probe {
            check: crate::catalog::ProbeCheck::Http(path, port),
            ..
        }) => Some((path, c.main().ports.iter().find(|p| p.port == *port)?)),
        _ => None,
    }
}

fn object_ref(o: &Object) -> ObjectRef {
    ObjectRef {
        component: o.component.clone(),
        kind: o.kind.clone(),
        namespace: o.namespace.clone(),
        name: o.name.clone(),
    }
}

/// The StatefulSets of a wave in the order they roll one at a time: a store before the
/// stores that depend on it, else in the wave's order.
fn one_by_one(stack: &Stack, objects: &[&Object]) -> Vec<ObjectRef> {
    let mut left: Vec<&Object> = objects
        .iter()
        .copied()
        .filter(|o| o.kind == "StatefulSet")
        .collect();
    let mut out: Vec<ObjectRef> = Vec::new();
    while !left.is_empty() {
        let waits = |o: &Object| {
            stack.component(&o.component).is_some_and(|c| {
                c.depends_on.iter().any(|d| {
                    left.iter()
                        .any(|l| &l.component == d && l.component != o.component)
                })
            })
        };
        // A circle of dependencies (none today) falls back to the wave's order.
        let i = left.iter().position(|o| !waits(o)).unwrap_or(0);
        out.push(object_ref(left.remove(i)));
    }
    out
}

/// Orders rendered objects into waves.
pub fn waves(stack: &Stack, objects: &[Object]) -> Vec<Wave> {
    let mut out = Vec::new();
    for (stage, name, description) in WAVES {
        let in_wave: Vec<&Object> = objects.iter().filter(|o| o.stage == stage).collect();
        let secrets: Vec<String> = if stage == Stage::Config {
            selection::secrets(stack)
                .iter()
                .filter(|s| !s.existing && !s.external)
                .map(|s| format!("{}/{}", s.namespace, s.name))
                .collect()
        } else {
            Vec::new()
        };
        if in_wave.is_empty() && secrets.is_empty() {
            continue;
        }
        out.push(Wave {
            index: out.len() + 1,
            name,
            description,
            objects: in_wave.iter().map(|o| object_ref(o)).collect(),
            secrets,
            gates: gates(stack, &in_wave),
            one_by_one: if stage == Stage::Stateful {
                one_by_one(stack, &in_wave)
            } else {
                Vec::new()
            },
            checks: Vec::new(),
        });
    }
    let checks = checks(stack);
    if !checks.is_empty() {
        out.push(Wave {
            index: out.len() + 1,
            name: "verification",
            description: "health endpoints answer through the API server's service proxy",
            objects: Vec::new(),
            secrets: Vec::new(),
            gates: Vec::new(),
            one_by_one: Vec::new(),
            checks,
        });
    }
    out
}

/// Plans a stack against the configured node shapes.
pub fn plan(stack: &Stack) -> Plan {
    plan_with_objects(
        stack,
        &fit::nodes_from_shapes(&stack.config.cluster.nodes),
        &render::selected(stack),
    )
}

/// Plans a stack against a live cluster's nodes (their free capacity).
pub fn plan_on(stack: &Stack, nodes: &[NodeCapacity]) -> Plan {
    Plan {
        capacity: Capacity::Cluster,
        ..plan_with_objects(stack, nodes, &render::selected(stack))
    }
}

/// Plans a stack and renders it once, for callers that show both (the previewer).
pub fn plan_and_render(stack: &Stack) -> (Plan, Vec<Object>) {
    let objects = render::selected(stack);
    let plan = plan_with_objects(
        stack,
        &fit::nodes_from_shapes(&stack.config.cluster.nodes),
        &objects,
    );
    (plan, objects)
}

/// Plans a stack whose objects are already rendered.
pub fn plan_with_objects(stack: &Stack, nodes: &[NodeCapacity], objects: &[Object]) -> Plan {
    let sizing = sizing::size(stack);
    let fit = fit::check(&sizing, nodes, stack.config.cluster.nodes.first());
    Plan {
        profile: stack.config.profile.as_str(),
        instance: stack.config.instance.clone(),
        posthog: match stack.config.posthog {
            Posthog::SelfHosted(_) => "self-hosted",
            Posthog::Cloud(_) => "cloud",
            Posthog::Disabled => "disabled",
        },
        posthog_release: match &stack.config.posthog {
            Posthog::SelfHosted(ph) => Some(crate::catalog::posthog::release(ph).0),
            _ => None,
        },
        selection: stack.selection.clone(),
        waves: waves(stack, objects),
        sizing,
        fit,
        capacity: Capacity::Profile,
        secrets: selection::secrets(stack),
        availability: availability::rows(stack, objects, None),
        notes: stack
            .components
            .iter()
            .flat_map(|c| c.notes.iter().map(|n| (c.name.clone(), (*n).to_string())))
            .collect(),
    }
}
