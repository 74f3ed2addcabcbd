//! Namespace policies: the ResourceQuota and LimitRange of each platform namespace, and the
//! checks of a stack against them.
//!
//! A ResourceQuota counts every pod that exists at once, so a namespace's quota must hold its
//! peak: every autoscaler at its maximum, each Deployment's maxSurge pods on top (both colours
//! of a blue-green service may roll at once, the standby at its minimum), one pod of each Job
//! (a changed Job runs again next to the applications), each pod with its sidecars and init
//! containers counted as [`crate::sizing`] counts them.
//!
//! The quota is derived, not stated: the peak of the configuration as the catalog states it
//! (before any `components.*` override), plus [`HEADROOM_PERCENT`], rounded up to two
//! significant figures. So every autoscaler of the plan can reach its maximum, and the quota
//! follows the catalog instead of drifting from it. An override that takes the peak past the
//! quota is rejected on its own field; `components.<name>.maxReplicas` names the autoscaler
//! that could not reach its maximum, and how many replicas would fit.
//!
//! This module sits above [`crate::catalog`] (the facts, including the LimitRanges) and
//! [`crate::sizing`] (per-pod sums); neither depends on it.

use serde::Serialize;

use crate::catalog::voiceassistant::{ContainerLimits, limit_ranges};
use crate::catalog::{Component, ResourceSpec, Resources, Stack, WorkloadKind};
use crate::config::Diagnostic;
use crate::quantity::{Bytes, MilliCpu};
use crate::sizing;

/// Headroom of a quota over the catalog's peak, in percent: room for a few overrides.
pub const HEADROOM_PERCENT: u64 = 20;

/// A namespace's ResourceQuota (`compute-quota`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quota {
    /// requests.cpu / requests.memory.
    pub requests: Resources,
    /// limits.cpu / limits.memory.
    pub limits: Resources,
    /// persistentvolumeclaims.
    pub pvcs: u32,
}

/// The policies of one platform namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespacePolicy {
    /// Namespace.
    pub namespace: String,
    /// ResourceQuota.
    pub quota: Quota,
    /// LimitRange.
    pub limits: ContainerLimits,
}

/// What a namespace (or one component in it) holds at its peak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Peak {
    /// Pods.
    pub pods: u32,
    /// Sum of requests.
    pub requests: Resources,
    /// Sum of limits.
    pub limits: Resources,
    /// PersistentVolumeClaims.
    pub pvcs: u32,
}

impl Peak {
    fn add(&mut self, o: Peak) {
        self.pods += o.pods;
        self.requests.cpu = self.requests.cpu + o.requests.cpu;
        self.requests.memory = self.requests.memory + o.requests.memory;
        self.limits.cpu = self.limits.cpu + o.limits.cpu;
        self.limits.memory = self.limits.memory + o.limits.memory;
        self.pvcs += o.pvcs;
    }
}

/// A namespace's peak against its quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaUsage {
    /// Namespace.
    pub namespace: String,
    /// The quota.
    pub quota: Quota,
    /// Every autoscaler at its maximum, plus rollout surge and one pod per Job.
    pub peak: Peak,
}

impl QuotaUsage {
    /// Every figure at the peak is within the quota.
    pub fn fits(&self) -> bool {
        MEASURES
            .iter()
            .all(|m| (m.have)(&self.peak) <= (m.allowed)(&self.quota))
    }
}

/// One figure a quota bounds.
struct Measure {
    field: &'static str,
    have: fn(&Peak) -> u64,
    allowed: fn(&Quota) -> u64,
    show: fn(u64) -> String,
}

const MEASURES: [Measure; 5] = [
    Measure {
        field: "requests.cpu",
        have: |p| p.requests.cpu.0,
        allowed: |q| q.requests.cpu.0,
        show: |v| MilliCpu(v).to_string(),
    },
    Measure {
        field: "requests.memory",
        have: |p| p.requests.memory.0,
        allowed: |q| q.requests.memory.0,
        show: |v| Bytes(v).to_string(),
    },
    Measure {
        field: "limits.cpu",
        have: |p| p.limits.cpu.0,
        allowed: |q| q.limits.cpu.0,
        show: |v| MilliCpu(v).to_string(),
    },
    Measure {
        field: "limits.memory",
        have: |p| p.limits.memory.0,
        allowed: |q| q.limits.memory.0,
        show: |v| Bytes(v).to_string(),
    },
    Measure {
        field: "persistentvolumeclaims",
        have: |p| u64::from(p.pvcs),
        allowed: |q| u64::from(q.pvcs),
        show: |v| v.to_string(),
    },
];

/// Pods of a component at the peak.
fn peak_pods(c: &Component) -> u32 {
    let max = c.max_replicas() + sizing::standby(c);
    match c.kind {
        WorkloadKind::Job => c.replicas.min(1),
        WorkloadKind::StatefulSet => max,
        WorkloadKind::Deployment if c.singleton => max,
        WorkloadKind::Deployment => {
            let deployments = if c.blue_green.is_some() { 2 } else { 1 };
            max + u32::try_from(c.max_surge).unwrap_or(0) * deployments
        }
    }
}

/// One component's share of its namespace's peak.
fn component_peak(c: &Component) -> Peak {
    let pods = peak_pods(c);
    let pod = sizing::pod_size(c);
    let n = u64::from(pods);
    let claims = u32::try_from(c.storage.len()).unwrap_or(0);
    Peak {
        pods,
        requests: Resources {
            cpu: pod.requests.cpu * n,
            memory: pod.requests.memory * n,
        },
        limits: Resources {
            cpu: pod.limits.cpu * n,
            memory: pod.limits.memory * n,
        },
        pvcs: match c.kind {
            WorkloadKind::StatefulSet => claims * c.max_replicas(),
            _ => claims,
        },
    }
}

/// Each component of a namespace with its share of the peak, in catalog order.
fn shares<'a>(components: &'a [Component], namespace: &str) -> Vec<(&'a Component, Peak)> {
    components
        .iter()
        .filter(|c| c.namespace == namespace)
        .map(|c| (c, component_peak(c)))
        .collect()
}

/// [`shares`] of the components as the catalog states them ([`Stack::stated`]).
fn stated_shares<'a>(stack: &'a Stack, namespace: &str) -> Vec<(&'a Component, Peak)> {
    stack
        .components
        .iter()
        .zip(&stack.stated)
        .filter(|(c, _)| c.namespace == namespace)
        .map(|(c, s)| (c, component_peak(&c.as_stated(s))))
        .collect()
}

/// A namespace's peak.
pub fn peak(stack: &Stack, namespace: &str) -> Peak {
    total(&shares(&stack.components, namespace))
}

fn total(shares: &[(&Component, Peak)]) -> Peak {
    shares.iter().fold(Peak::default(), |mut t, (_, p)| {
        t.add(*p);
        t
    })
}

/// `value` plus the headroom, rounded up to a whole number of `unit`s with at most two
/// significant figures (at least one unit).
pub fn with_headroom(value: u64, unit: u64) -> u64 {
    let raised = value.saturating_mul(100 + HEADROOM_PERCENT).div_ceil(100);
    let units = raised.div_ceil(unit).max(1);
    let mut step = 1;
    while units / step >= 100 {
        step *= 10;
    }
    units.div_ceil(step) * step * unit
}

/// The quota that holds a peak with headroom: whole CPUs, whole GiB, whole claims.
pub fn quota_for(peak: &Peak) -> Quota {
    const CPU: u64 = 1000;
    const GIB: u64 = 1 << 30;
    let cpu = |m: MilliCpu| MilliCpu(with_headroom(m.0, CPU));
    let mem = |b: Bytes| Bytes(with_headroom(b.0, GIB));
    Quota {
        requests: Resources {
            cpu: cpu(peak.requests.cpu),
            memory: mem(peak.requests.memory),
        },
        limits: Resources {
            cpu: cpu(peak.limits.cpu),
            memory: mem(peak.limits.memory),
        },
        pvcs: u32::try_from(with_headroom(u64::from(peak.pvcs), 1)).unwrap_or(u32::MAX),
    }
}

/// The ResourceQuota and LimitRange of each platform namespace. The quota is sized for the
/// catalog's components ([`Stack::stated`]: before overrides, and whatever components a
/// caller leaves out), so it is the same for every stack of one configuration.
pub fn policies(stack: &Stack) -> Vec<NamespacePolicy> {
    limit_ranges(&stack.config)
        .into_iter()
        .map(|(namespace, limits)| NamespacePolicy {
            quota: quota_for(&total(&stated_shares(stack, &namespace))),
            namespace,
            limits,
        })
        .collect()
}

/// Each platform namespace's peak with its quota.
pub fn quota_usage(stack: &Stack) -> Vec<QuotaUsage> {
    policies(stack)
        .into_iter()
        .map(|pol| QuotaUsage {
            peak: peak(stack, &pol.namespace),
            namespace: pol.namespace,
            quota: pol.quota,
        })
        .collect()
}

/// Every container of a component's pod with its resources, the mesh sidecar included.
pub fn pod_containers(c: &Component) -> Vec<(String, ResourceSpec)> {
    let mut out: Vec<(String, ResourceSpec)> = c
        .init_containers
        .iter()
        .chain(&c.containers)
        .map(|x| (x.name.clone(), x.resources))
        .collect();
    if let Some(s) = c.mesh_sidecar {
        out.push(("istio-proxy".into(), s));
    }
    out
}

/// Checks every namespace policy: each container against the LimitRange, and the namespace's
/// peak against its ResourceQuota. A quota overrun names the component whose override added
/// the most to that figure (else the largest consumer): its `maxReplicas` when it raised an
/// autoscaler's maximum, with the most replicas that fit.
pub fn violations(stack: &Stack) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for pol in policies(stack) {
        for c in stack
            .components
            .iter()
            .filter(|c| c.namespace == pol.namespace)
        {
            let path = format!("components.{}.resources", c.name);
            for (name, rs) in pod_containers(c) {
                let l = pol.limits;
                let who = format!("container {name} of {} in {}", c.name, pol.namespace);
                if rs.requests.cpu < l.min.cpu || rs.requests.memory < l.min.memory {
                    out.push(Diagnostic::at_value(
                        &path,
                        format!(
                            "{who} requests {} / {}, below the LimitRange minimum {} / {}",
                            rs.requests.cpu, rs.requests.memory, l.min.cpu, l.min.memory
                        ),
                    ));
                }
                if rs.limits.cpu > l.max.cpu || rs.limits.memory > l.max.memory {
                    out.push(Diagnostic::at_value(
                        &path,
                        format!(
                            "{who} has limits {} / {}, above the LimitRange maximum {} / {}",
                            rs.limits.cpu, rs.limits.memory, l.max.cpu, l.max.memory
                        ),
                    ));
                }
            }
        }
        let now = shares(&stack.components, &pol.namespace);
        let before = stated_shares(stack, &pol.namespace);
        let sum = total(&now);
        // Per field path: the component, the figures over the quota, and for a raised
        // autoscaler the most replicas every figure allows.
        let mut overruns: Vec<(String, &Component, Vec<String>, Option<u32>)> = Vec::new();
        for m in &MEASURES {
            let (have, allowed) = ((m.have)(&sum), (m.allowed)(&pol.quota));
            if have <= allowed {
                continue;
            }
            let added = |c: &Component, p: &Peak| {
                let was = before
                    .iter()
                    .find(|(b, _)| b.name == c.name)
                    .map_or(0, |(_, b)| (m.have)(b));
                (m.have)(p).saturating_sub(was)
            };
            let Some((c, share)) = now
                .iter()
                .filter(|(c, p)| added(c, p) > 0)
                .max_by_key(|(c, p)| added(c, p))
                .or_else(|| now.iter().max_by_key(|(_, p)| (m.have)(p)))
            else {
                continue;
            };
            let o = stack.config.overrides.get(&c.name);
            let raised_max = c
                .autoscale
                .filter(|_| o.is_some_and(|o| o.max_replicas.is_some()));
            let (field, fit) = if let Some(a) = raised_max {
                // The pods of c besides its autoscaled replicas (standby colour, surge).
                let fixed = share.pods.saturating_sub(a.hpa.max);
                let per_pod = (m.have)(share) / u64::from(share.pods.max(1));
                let room = allowed.saturating_sub(have - (m.have)(share));
                let fit = (per_pod > 0).then(|| {
                    u32::try_from(room / per_pod)
                        .unwrap_or(u32::MAX)
                        .saturating_sub(fixed)
                });
                ("maxReplicas", fit)
            } else if o.is_some_and(|o| o.replicas.is_some()) || m.field.starts_with('p') {
                ("replicas", None)
            } else {
                ("resources", None)
            };
            let path = format!("components.{}.{field}", c.name);
            let figure = format!(
                "{} {} (quota {})",
                m.field,
                (m.show)(have),
                (m.show)(allowed)
            );
            match overruns.iter_mut().find(|(p, ..)| *p == path) {
                Some((_, _, figures, f)) => {
                    figures.push(figure);
                    *f = match (*f, fit) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                None => overruns.push((path, c, vec![figure], fit)),
            }
        }
        for (path, c, figures, fit) in overruns {
            let peak = format!(
                "at its peak (every autoscaler at its maximum plus rollout surge) namespace {} needs {}, over its ResourceQuota (the catalog's peak plus {HEADROOM_PERCENT} %)",
                pol.namespace,
                figures.join(", ")
            );
            let message = match c.autoscale.filter(|_| path.ends_with(".maxReplicas")) {
                Some(a) => {
                    let fit = match fit {
                        Some(n) if n >= a.hpa.min => format!("; at most {n} replicas fit"),
                        Some(_) => format!("; not even its minimum of {} fits", a.hpa.min),
                        None => String::new(),
                    };
                    format!(
                        "the autoscaler of {} cannot reach its maximum of {} replicas: {peak}{fit}",
                        c.name, a.hpa.max
                    )
                }
                None => {
                    // Its peak differs from its peak as the catalog states it (`before` and
                    // `now` list the same components in the same order).
                    let grew = before
                        .iter()
                        .zip(&now)
                        .find(|((b, _), _)| b.name == c.name)
                        .is_none_or(|((_, was), (_, is))| was != is);
                    let why = if grew {
                        "adds the most"
                    } else {
                        "is the largest consumer"
                    };
                    format!("{peak}; {} {why}", c.name)
                }
            };
            out.push(Diagnostic::at_value(&path, message));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Input, ProfileName};

    fn load(p: ProfileName, sets: &[&str]) -> Result<Stack, Vec<Diagnostic>> {
        let sets: Vec<String> = sets.iter().map(|s| (*s).to_string()).collect();
        crate::load(&Input {
            profile: Some(p),
            sets: &sets,
            ..Default::default()
        })
        .map_err(|e| e.0)
    }

    #[test]
    fn quotas_round_up_with_headroom_to_two_significant_figures() {
        assert_eq!(with_headroom(111_450, 1000), 140_000);
        assert_eq!(with_headroom(18_500, 1000), 23_000);
        assert_eq!(with_headroom(100_000, 1000), 120_000);
        assert_eq!(with_headroom(0, 1000), 1000);
        assert_eq!(with_headroom(16, 1), 20);
        assert_eq!(with_headroom(5, 1), 6);
    }

    #[test]
    fn every_profile_holds_its_peak_with_sidecars_within_its_quota() {
        for p in crate::config::PROFILES {
            let stack = load(p, &[]).expect("profiles are valid");
            for u in quota_usage(&stack) {
                assert!(
                    u.fits(),
                    "{p:?} {}: {:?} > {:?}",
                    u.namespace,
                    u.peak,
                    u.quota
                );
            }
        }
        // Production's application namespace: the mesh sidecars and the rollout surge are
        // counted (436 CPU of limits at maximum replicas alone).
        let stack = load(ProfileName::Production, &[]).expect("valid");
        let app = &stack.config.namespaces.app;
        let p = peak(&stack, app);
        assert!(p.limits.cpu > MilliCpu(436_000), "{p:?}");
        let sidecars: u64 = stack
            .components
            .iter()
            .filter(|c| &c.namespace == app)
            .filter_map(|c| {
                c.mesh_sidecar
                    .map(|s| s.limits.cpu.0 * u64::from(peak_pods(c)))
            })
            .sum();
        assert!(sidecars > 0);
        let u = quota_usage(&stack);
        let q = u.iter().find(|u| &u.namespace == app).expect("app").quota;
        assert!(q.limits.cpu >= p.limits.cpu && q.requests.cpu >= p.requests.cpu);
    }

    #[test]
    fn an_autoscaler_raised_past_the_quota_is_named_with_what_fits() {
        let set = |n: u32| format!("components.ai-orchestrator.maxReplicas={n}");
        let e = load(ProfileName::Production, &[&set(80)]).expect_err("over the quota");
        let path = "components.ai-orchestrator.maxReplicas";
        assert!(e.iter().all(|d| d.path == path), "{e:?}");
        assert!(
            e.iter().any(|d| d
                .message
                .contains("autoscaler of ai-orchestrator cannot reach its maximum of 80")
                && d.message.contains("over its ResourceQuota")),
            "{e:?}"
        );
        // The replicas it says fit do fit, and one more does not.
        let fit = e
            .iter()
            .filter_map(|d| d.message.split("at most ").nth(1))
            .filter_map(|t| t.split(' ').next()?.parse::<u32>().ok())
            .min()
            .expect("a count that fits");
        assert!(load(ProfileName::Production, &[&set(fit)]).is_ok());
        let e = load(ProfileName::Production, &[&set(fit + 1)]).expect_err("one more");
        assert!(e.iter().all(|d| d.path == path), "{e:?}");
    }

    #[test]
    fn a_modest_override_fits_in_the_headroom() {
        assert!(
            load(
                ProfileName::Production,
                &["components.ai-orchestrator.maxReplicas=24"]
            )
            .is_ok()
        );
    }

    #[test]
    fn raised_replicas_without_an_autoscaler_name_the_replicas() {
        let e = load(
            ProfileName::Production,
            &["components.notification-service.replicas=200"],
        )
        .expect_err("over the quota");
        assert!(
            e.iter()
                .any(|d| d.path == "components.notification-service.replicas"
                    && d.message.contains("adds the most")),
            "{e:?}"
        );
    }

    #[test]
    fn the_quota_follows_the_catalog_not_overrides_or_left_out_groups() {
        let plain = load(ProfileName::Production, &[]).expect("valid");
        let raised = load(
            ProfileName::Production,
            &["components.ai-orchestrator.maxReplicas=22"],
        )
        .expect("valid");
        assert_eq!(policies(&plain), policies(&raised));
        // Every override a peak reads, in one stack.
        let changed = load(
            ProfileName::Production,
            &[
                "components.model-router.replicas=3",
                "components.posthog-web.resources.requests.cpu=500m",
                "components.posthog-web.resources.limits.cpu=1",
                "components.postgres.storage=50Gi",
                "components.postgres.image=postgres:16.10-alpine",
                "components.ai-orchestrator.maxReplicas=12",
            ],
        )
        .expect("valid");
        assert_eq!(policies(&plain), policies(&changed));
        assert_ne!(quota_usage(&plain), quota_usage(&changed));
        assert_ne!(
            peak(&plain, "voiceassistant-prod"),
            peak(&raised, "voiceassistant-prod")
        );
        let mut some = plain.clone();
        some.selection = crate::config::Selection::parse(&["infra".into()], &[]).expect("a part");
        assert_eq!(policies(&plain), policies(&some));
    }
}
