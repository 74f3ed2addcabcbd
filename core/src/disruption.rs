//! How many pods of a workload stay ready while its pods are replaced: its rollout strategy
//! and its PodDisruptionBudget, from one rule, which the render writes and the plan reads.
//!
//! - A Deployment rolls with `maxUnavailable: 0` and `maxSurge` from its catalog entry: its
//!   new pods are Ready before old ones go. A singleton recreates (it must never overlap).
//! - A StatefulSet replaces one pod at a time, the next once it is Ready (the API's
//!   `RollingUpdate`).
//! - More than one replica (for an autoscaled component, its minimum) gets a budget: a
//!   quorum member `minAvailable` = n/2+1, so a drain never breaks the majority; any other
//!   workload `maxUnavailable: 1`, which follows an autoscaler's count. One replica gets
//!   none: a budget there only blocks a node's drain.

use serde::Serialize;

use crate::catalog::{Component, WorkloadKind};

/// A PodDisruptionBudget's one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Budget {
    /// At least this many pods stay ready (a quorum).
    MinAvailable(u32),
    /// At most this many pods are evicted at once.
    MaxUnavailable(u32),
}

/// How a workload's pods are replaced when its pod template changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Rollout {
    /// Deployment `RollingUpdate` with `maxUnavailable: 0`: up to `surge` new pods start
    /// beside the old ones, and an old pod goes only once a new one is Ready.
    Surge(u32),
    /// Deployment `Recreate`: every old pod goes before the new ones start.
    Recreate,
    /// StatefulSet `RollingUpdate`: one pod at a time, highest ordinal first, the next once
    /// the replaced one is Ready.
    OneAtATime,
}

/// A workload's rollout and disruption budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Disruption {
    /// Replicas it runs at least (an autoscaler's minimum).
    pub replicas: u32,
    /// How its pods are replaced.
    pub rollout: Rollout,
    /// Its PodDisruptionBudget, if it gets one.
    pub budget: Option<Budget>,
}

/// The majority of `n` members: n/2+1.
pub fn quorum(n: u32) -> u32 {
    n / 2 + 1
}

/// The rollout and budget of a component's workload; `None` for a Job.
pub fn of(c: &Component) -> Option<Disruption> {
    let replicas = c.autoscale.map_or(c.replicas, |a| a.hpa.min);
    let rollout = match c.kind {
        WorkloadKind::Job => return None,
        WorkloadKind::StatefulSet => Rollout::OneAtATime,
        WorkloadKind::Deployment if c.singleton => Rollout::Recreate,
        WorkloadKind::Deployment => Rollout::Surge(u32::try_from(c.max_surge).unwrap_or(1)),
    };
    let budget = (replicas > 1).then(|| {
        if c.quorum {
            Budget::MinAvailable(quorum(replicas))
        } else {
            Budget::MaxUnavailable(1)
        }
    });
    Some(Disruption {
        replicas,
        rollout,
        budget,
    })
}

impl Disruption {
    /// Pods that stay ready while a rollout replaces them (of `replicas`).
    pub fn ready_during_rollout(&self) -> u32 {
        match self.rollout {
            Rollout::Surge(_) => self.replicas,
            Rollout::Recreate => 0,
            Rollout::OneAtATime => self.replicas - 1,
        }
    }
    /// Pods that stay ready while evictions (a node's drain) respect the budget.
    pub fn ready_during_drain(&self) -> u32 {
        match self.budget {
            Some(Budget::MinAvailable(n)) => n,
            Some(Budget::MaxUnavailable(n)) => self.replicas.saturating_sub(n),
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Input, ProfileName};

    fn stack(profile: ProfileName) -> crate::Stack {
        crate::load(&Input {
            profile: Some(profile),
            ..Default::default()
        })
        .expect("profile loads")
    }

    #[test]
    fn quorum_is_a_majority() {
        assert_eq!(
            [1, 2, 3, 4, 5].map(quorum),
            [1, 2, 2, 3, 3],
            "n/2+1 members of n"
        );
    }

    #[test]
    fn every_multi_replica_workload_has_a_budget_and_no_single_one_does() {
        for p in crate::config::PROFILES {
            for c in &stack(p).components {
                let Some(d) = of(c) else {
                    assert_eq!(c.kind, WorkloadKind::Job);
                    continue;
                };
                assert_eq!(d.budget.is_some(), d.replicas > 1, "{p:?} {}", c.name);
                // A drain keeps a quorum's majority, and one pod of the rest at a time.
                match d.budget {
                    Some(Budget::MinAvailable(n)) => {
                        assert!(c.quorum && n == quorum(d.replicas), "{}", c.name);
                    }
                    Some(Budget::MaxUnavailable(n)) => assert!(!c.quorum && n == 1, "{}", c.name),
                    None => {}
                }
                if d.replicas > 1 {
                    assert!(d.ready_during_drain() >= 1, "{p:?} {}", c.name);
                    assert!(d.ready_during_rollout() >= 1, "{p:?} {}", c.name);
                }
            }
        }
    }

    #[test]
    fn production_budgets_by_kind_of_member() {
        let s = stack(ProfileName::Production);
        let budget = |name: &str| of(s.component(name).expect(name)).and_then(|d| d.budget);
        // Quorum members: a majority of three.
        for name in ["nacos", "kafka", "posthog-redis-node"] {
            assert_eq!(budget(name), Some(Budget::MinAvailable(2)), "{name}");
        }
        // The rest, replicated: one pod at a time, whatever the autoscaler's count.
        for name in [
            "alertmanager",
            "jaeger-collector",
            "notification-service",
            "model-router",
            "posthog-web",
        ] {
            assert_eq!(budget(name), Some(Budget::MaxUnavailable(1)), "{name}");
        }
        // One replica: none.
        assert_eq!(budget("posthog-clickhouse"), None);
        // A StatefulSet of three keeps two ready while it rolls; a Deployment all of them.
        let nacos = of(s.component("nacos").unwrap()).unwrap();
        assert_eq!(
            (nacos.rollout, nacos.ready_during_rollout()),
            (Rollout::OneAtATime, 2)
        );
        let mr = of(s.component("model-router").unwrap()).unwrap();
        assert!(
            matches!(mr.rollout, Rollout::Surge(_)) && mr.ready_during_rollout() == mr.replicas
        );
    }
}
