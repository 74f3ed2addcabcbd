//! Workloads and what scales or exposes them: Deployment, StatefulSet or Job, Service,
//! HorizontalPodAutoscaler and PodDisruptionBudget.

use std::collections::BTreeMap;

use super::k8s::{
    self as core, CrossVersionObjectReference, Deployment, DeploymentSpec, DeploymentStrategy,
    HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler, HorizontalPodAutoscalerBehavior,
    HorizontalPodAutoscalerSpec, IntOrString, Job, JobSpec, LabelSelector, MetricSpec,
    MetricTarget, ObjectMeta, PodDisruptionBudget, PodDisruptionBudgetSpec, Quantity,
    ResourceMetricSource, RollingUpdateDeployment, StatefulSet, StatefulSetSpec,
};

use super::inputs::{CONFIG_CHECKSUM, ConfigDigests};
use super::k8s::{Map, Str, owned, owned_all};
use super::{Object, Stage, labels, meta, selector_labels};
use crate::catalog::{
    self, Component, EnvFrom, EnvValue, ProbeCheck, SecretSource, Stack, VolumeSource, WorkloadKind,
};
use crate::config::{self, PullPolicy, Serving};
use crate::disruption::{self, Budget, Rollout};

/// CPU and memory as quantities.
pub(super) fn quantities(r: catalog::Resources) -> BTreeMap<Str, Quantity> {
    BTreeMap::from([
        ("cpu".into(), Quantity(r.cpu.to_string().into())),
        ("memory".into(), Quantity(r.memory.to_string().into())),
    ])
}

fn probe(p: &catalog::Probe) -> core::Probe {
    let mut out = core::Probe {
        initial_delay_seconds: (p.initial_delay > 0).then_some(p.initial_delay),
        period_seconds: Some(p.period),
        timeout_seconds: Some(p.timeout),
        failure_threshold: Some(p.failure_threshold),
        ..Default::default()
    };
    match &p.check {
        ProbeCheck::Http(path, port) => {
            out.http_get = Some(core::HTTPGetAction {
                path: Some(owned(path)),
                port: IntOrString::Int(i32::from(*port)),
            })
        }
        ProbeCheck::Tcp(port) => {
            out.tcp_socket = Some(core::TCPSocketAction {
                port: IntOrString::Int(i32::from(*port)),
            })
        }
        ProbeCheck::Exec(cmd) => {
            out.exec = Some(core::ExecAction {
                command: Some(owned_all(cmd)),
            })
        }
    }
    out
}

/// Whether a Secret key may be absent (user-supplied and not required).
fn optional_key(stack: &Stack, secret: &str, key: &str) -> bool {
    stack
        .secrets
        .iter()
        .filter(|s| s.name == secret)
        .flat_map(|s| &s.keys)
        .any(|k| k.key == key && matches!(k.source, SecretSource::User { required: false }))
}

fn container(stack: &Stack, c: &catalog::Container) -> core::Container {
    let pull = match stack.config.images.pull_policy {
        PullPolicy::IfNotPresent => "IfNotPresent",
        PullPolicy::Always => "Always",
        PullPolicy::Never => "Never",
    };
    let mut env: Vec<core::EnvVar> = c
        .env
        .iter()
        .map(|e| match &e.value {
            EnvValue::Literal(v) => core::EnvVar {
                name: owned(&e.name),
                value: Some(owned(v)),
                ..Default::default()
            },
            EnvValue::Secret(s, k) => core::EnvVar {
                name: owned(&e.name),
                value_from: Some(core::EnvVarSource {
                    secret_key_ref: Some(core::SecretKeySelector {
                        name: owned(s),
                        key: owned(k),
                        optional: optional_key(stack, s, k).then_some(true),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            EnvValue::Config(m, k) => core::EnvVar {
                name: owned(&e.name),
                value_from: Some(core::EnvVarSource {
                    config_map_key_ref: Some(core::ConfigMapKeySelector {
                        name: owned(m),
                        key: owned(k),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
        })
        .collect();
    if let Some(p) = &c.processes {
        let limits = c.resources.limits;
        let n = p.count(limits.cpu);
        let mut literal = |name: &'static str, value: String| {
            env.push(core::EnvVar {
                name: name.into(),
                value: Some(value.into()),
                ..Default::default()
            })
        };
        literal(p.env, n.to_string());
        if let Some(cap) = p.child_cap_env {
            literal(cap, p.share_kib(n, limits.memory).to_string());
        }
    }
    let env_from: Vec<core::EnvFromSource> = c
        .env_from
        .iter()
        .map(|f| match f {
            EnvFrom::Config(n) => core::EnvFromSource {
                config_map_ref: Some(core::ConfigMapEnvSource { name: owned(n) }),
                ..Default::default()
            },
            EnvFrom::Secret(n) => core::EnvFromSource {
                secret_ref: Some(core::SecretEnvSource { name: owned(n) }),
                ..Default::default()
            },
        })
        .collect();
    core::Container {
        name: owned(&c.name),
        image: Some(owned(&c.image)),
        image_pull_policy: Some(pull.into()),
        command: (!c.command.is_empty()).then(|| owned_all(&c.command)),
        args: (!c.args.is_empty()).then(|| owned_all(&c.args)),
        ports: (!c.ports.is_empty()).then(|| {
            c.ports
                .iter()
                .map(|p| core::ContainerPort {
                    name: Some(p.name.into()),
                    container_port: i32::from(p.port),
                    protocol: Some("TCP".into()),
                })
                .collect()
        }),
        env_from: (!env_from.is_empty()).then_some(env_from),
        env: (!env.is_empty()).then_some(env),
        resources: Some(core::ResourceRequirements {
            requests: Some(quantities(c.resources.requests)),
            limits: Some(quantities(c.resources.limits)),
        }),
        liveness_probe: c.probes.liveness.as_ref().map(probe),
        readiness_probe: c.probes.readiness.as_ref().map(probe),
        startup_probe: c.probes.startup.as_ref().map(probe),
        lifecycle: c.pre_stop_sleep.map(|s| core::Lifecycle {
            pre_stop: Some(core::LifecycleHandler {
                sleep: Some(core::SleepAction { seconds: s }),
            }),
        }),
        volume_mounts: (!c.mounts.is_empty()).then(|| {
            c.mounts
                .iter()
                .map(|m| {
                    let sub = m
                        .path
                        .starts_with("/etc/clickhouse-server/config.d/")
                        .then(|| owned(m.path.rsplit('/').next().unwrap_or_default()));
                    core::VolumeMount {
                        name: owned(&m.volume),
                        mount_path: owned(&m.path),
                        read_only: m.read_only.then_some(true),
                        sub_path: sub,
                    }
                })
                .collect()
        }),
        security_context: Some(core::SecurityContext {
            allow_privilege_escalation: Some(false),
            capabilities: Some(core::Capabilities {
                drop: Some(vec!["ALL".into()]),
            }),
            read_only_root_filesystem: Some(c.read_only_root),
            run_as_non_root: Some(true),
        }),
    }
}

/// The pod template of a component.
pub fn pod_template(stack: &Stack, c: &Component) -> core::PodTemplateSpec {
    pod_template_colored(stack, c, None)
}

/// The pod template of a component, labelled `color: <color>` for a blue-green Deployment.
pub fn pod_template_colored(
    stack: &Stack,
    c: &Component,
    color: Option<&str>,
) -> core::PodTemplateSpec {
    let checksum = ConfigDigests::of(stack, c).checksum(c);
    template(stack, c, color, checksum.as_deref())
}

/// The pod template of one colour of a blue-green component: its own image, when it has one.
fn color_template(
    stack: &Stack,
    c: &Component,
    color: &str,
    config_checksum: Option<&str>,
) -> core::PodTemplateSpec {
    let mut t = template(stack, c, Some(color), config_checksum);
    let image = c.blue_green.as_ref().and_then(|b| {
        b.images
            .iter()
            .find(|(k, _)| k.as_str() == color)
            .map(|(_, i)| i)
    });
    if let (Some(image), Some(main)) = (
        image,
        t.spec.as_mut().and_then(|s| s.containers.first_mut()),
    ) {
        main.image = Some(owned(image));
    }
    t
}

/// The pod template, given its `checksum/config` (computed once per component).
fn template(
    stack: &Stack,
    c: &Component,
    color: Option<&str>,
    config_checksum: Option<&str>,
) -> core::PodTemplateSpec {
    let mut annotations = BTreeMap::new();
    for (k, v) in &c.pod_annotations {
        annotations.insert(Str::from(*k), owned(v));
    }
    if let Some(sum) = config_checksum {
        annotations.insert(CONFIG_CHECKSUM.into(), owned(sum));
    }
    if let Some((port, path)) = c.metrics {
        let number = c
            .containers
            .iter()
            .flat_map(|x| &x.ports)
            .find(|p| p.name == port)
            .map(|p| p.port)
            .unwrap_or_default();
        annotations.insert("prometheus.io/scrape".into(), "true".into());
        annotations.insert("prometheus.io/port".into(), number.to_string().into());
        annotations.insert("prometheus.io/path".into(), path.into());
    }
    let volumes: Vec<core::Volume> = c
        .volumes
        .iter()
        .map(|v| core::Volume {
            name: owned(&v.name),
            empty_dir: match &v.source {
                VolumeSource::EmptyDir(limit) => Some(core::EmptyDirVolumeSource {
                    size_limit: limit.map(|b| Quantity(b.to_string().into())),
                }),
                VolumeSource::ConfigMap(_) => None,
            },
            config_map: match &v.source {
                VolumeSource::ConfigMap(n) => Some(core::ConfigMapVolumeSource { name: owned(n) }),
                VolumeSource::EmptyDir(_) => None,
            },
            ..Default::default()
        })
        .chain(
            // Deployments mount their claims by name; StatefulSets get them from templates.
            (c.kind != WorkloadKind::StatefulSet)
                .then_some(())
                .into_iter()
                .flat_map(|()| c.storage.iter())
                .map(|s| core::Volume {
                    name: owned(&s.name),
                    persistent_volume_claim: Some(core::PersistentVolumeClaimVolumeSource {
                        claim_name: format!("{}-{}", c.name, s.name).into(),
                    }),
                    ..Default::default()
                }),
        )
        .collect();
    let mut t = core::PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(color_labels(labels(stack, c), color)),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..Default::default()
        }),
        spec: Some(core::PodSpec {
            affinity: affinity(stack, c),
            node_selector: c
                .placement
                .node_selector
                .as_ref()
                .filter(|m| !m.is_empty())
                .map(|m| m.iter().map(|(k, v)| (owned(k), owned(v))).collect()),
            tolerations: c
                .placement
                .tolerations
                .as_ref()
                .filter(|t| !t.is_empty())
                .map(|t| t.iter().map(toleration).collect()),
            topology_spread_constraints: spread(stack, c),
            service_account_name: Some(owned(&c.name)),
            automount_service_account_token: Some(c.api_access),
            priority_class_name: c.priority_class.map(|k| {
                Str::from(catalog::voiceassistant::priority_class_name(
                    &stack.config.instance,
                    k,
                ))
            }),
            termination_grace_period_seconds: Some(c.termination_grace),
            restart_policy: (c.kind == WorkloadKind::Job).then(|| "Never".into()),
            security_context: Some(core::PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(c.security.uid),
                run_as_group: Some(c.security.gid),
                fs_group: Some(c.security.fs_group),
                seccomp_profile: Some(core::SeccompProfile {
                    type_: "RuntimeDefault".into(),
                }),
            }),
            init_containers: (!c.init_containers.is_empty()).then(|| {
                c.init_containers
                    .iter()
                    .map(|x| container(stack, x))
                    .collect()
            }),
            containers: c.containers.iter().map(|x| container(stack, x)).collect(),
            volumes: (!volumes.is_empty()).then_some(volumes),
            ..Default::default()
        }),
    };
    super::identity::pod(stack, c, &mut t);
    t
}

/// Label of the node's name, set by the kubelet.
pub const HOSTNAME: &str = "kubernetes.io/hostname";
/// Label of the node's zone, set by the cloud provider.
pub const ZONE: &str = "topology.kubernetes.io/zone";

fn toleration(t: &config::Toleration) -> core::Toleration {
    core::Toleration {
        key: (!t.key.is_empty()).then(|| owned(&t.key)),
        operator: Some(
            match t.operator {
                config::TolerationOperator::Equal => "Equal",
                config::TolerationOperator::Exists => "Exists",
            }
            .into(),
        ),
        value: (!t.value.is_empty()).then(|| owned(&t.value)),
        effect: t.effect.map(|e| e.as_str().into()),
        toleration_seconds: t.toleration_seconds,
    }
}

fn term(t: &config::Term) -> core::NodeSelectorTerm {
    core::NodeSelectorTerm {
        match_expressions: Some(
            t.0.iter()
                .map(|r| core::NodeSelectorRequirement {
                    key: owned(&r.key),
                    operator: r.operator.as_str().into(),
                    values: (!r.values.is_empty()).then(|| owned_all(&r.values)),
                })
                .collect(),
        ),
    }
}

/// Node affinity from the placement, and the anti-affinity of a StatefulSet's replicas.
fn affinity(stack: &Stack, c: &Component) -> Option<core::Affinity> {
    let node_affinity = c.placement.affinity.as_ref().map(|a| core::NodeAffinity {
        required_during_scheduling_ignored_during_execution: (!a.required.is_empty()).then(|| {
            core::NodeSelector {
                node_selector_terms: a.required.iter().map(term).collect(),
            }
        }),
        preferred_during_scheduling_ignored_during_execution: (!a.preferred.is_empty()).then(
            || {
                a.preferred
                    .iter()
                    .map(|(weight, t)| core::PreferredSchedulingTerm {
                        weight: *weight,
                        preference: term(t),
                    })
                    .collect()
            },
        ),
    });
    let pod_anti_affinity = c.one_per_node().then(|| core::PodAntiAffinity {
        required_during_scheduling_ignored_during_execution: Some(vec![core::PodAffinityTerm {
            label_selector: Some(LabelSelector {
                match_labels: Some(selector_labels(stack, &c.name)),
            }),
            topology_key: HOSTNAME.into(),
        }]),
    });
    (node_affinity.is_some() || pod_anti_affinity.is_some()).then_some(core::Affinity {
        node_affinity,
        pod_anti_affinity,
    })
}

/// The default spread of a workload with more than one pod: over nodes (a StatefulSet that
/// keeps one replica per node needs none) and zones, both preferences (`ScheduleAnyway`).
fn spread(stack: &Stack, c: &Component) -> Option<Vec<core::TopologySpreadConstraint>> {
    if !c.several() || !c.placement.spread() {
        return None;
    }
    let constraint = |key: &'static str| core::TopologySpreadConstraint {
        label_selector: Some(LabelSelector {
            match_labels: Some(selector_labels(stack, &c.name)),
        }),
        max_skew: 1,
        topology_key: key.into(),
        when_unsatisfiable: "ScheduleAnyway".into(),
    };
    let mut out = Vec::new();
    if !c.one_per_node() {
        out.push(constraint(HOSTNAME));
    }
    out.push(constraint(ZONE));
    Some(out)
}

fn claim(
    stack: &Stack,
    c: &Component,
    s: &catalog::Storage,
    name: &str,
) -> core::PersistentVolumeClaim {
    let mut labels = labels(stack, c);
    if c.kind == WorkloadKind::StatefulSet {
        // Claim templates cannot change once the StatefulSet exists: they carry only labels
        // that no upgrade changes (not the image's version).
        labels.remove("app.kubernetes.io/version");
    }
    core::PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(owned(name)),
            labels: Some(labels),
            namespace: (c.kind != WorkloadKind::StatefulSet).then(|| owned(&c.namespace)),
            ..Default::default()
        },
        spec: Some(core::PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: stack.config.cluster.storage_class.as_deref().map(owned),
            resources: Some(core::VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".into(),
                    Quantity(s.size.to_string().into()),
                )])),
            }),
        }),
    }
}

/// FNV-1a, for stable Job name suffixes.
fn fnv(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// The workload's name: the component name, and for Jobs a suffix from the pod template so a
/// changed Job runs again (Job templates are immutable).
pub fn workload_name(stack: &Stack, c: &Component) -> String {
    if c.kind == WorkloadKind::Job {
        job_name(c, &pod_template(stack, c))
    } else {
        c.name.clone()
    }
}

/// A Job's name from its pod template.
fn job_name(c: &Component, template: &core::PodTemplateSpec) -> String {
    let t = super::yaml::to_string(template);
    format!("{}-{:08x}", c.name, fnv(t.as_bytes()))
}

fn color_labels(mut l: Map, color: Option<&str>) -> Map {
    if let Some(c) = color {
        l.insert("color".into(), owned(c));
    }
    l
}

/// Annotation of a blue-green Deployment: `active` when its Service selects it, else
/// `standby`.
pub const COLOR_ROLE: &str = "kubectl-voice.io/color-role";

/// The colours of a blue-green component's Deployments, active first.
pub fn colors(c: &Component) -> Vec<&'static str> {
    c.blue_green
        .as_ref()
        .map(|b| vec![b.active.as_str(), b.active.other().as_str()])
        .unwrap_or_default()
}

/// The Deployment names of a component (`<name>`, or `<name>-<colour>` for blue-green).
pub fn deployment_names(c: &Component) -> Vec<String> {
    if c.blue_green.is_some() {
        colors(c)
            .iter()
            .map(|k| format!("{}-{k}", c.name))
            .collect()
    } else {
        vec![c.name.clone()]
    }
}

/// The replicas to create an autoscaled Deployment with (its autoscaler's minimum), for
/// the Deployment a rendered object names; `None` for any other object.
pub fn initial_replicas(stack: &Stack, o: &Object) -> Option<u32> {
    let c = stack.component(&o.component)?;
    let a = c.autoscale?;
    (o.kind == "Deployment" && deployment_names(c).first() == Some(&o.name)).then_some(a.hpa.min)
}

/// Label that tells a database's data StatefulSets apart while `upgrade-engine` runs two:
/// on the pods and in the selector of every StatefulSet not named like its component (whose
/// selector, immutable, predates it).
pub const STATEFULSET_LABEL: &str = "kubectl-voice.io/statefulset";

/// The label the StatefulSet controller puts on every pod it makes, naming the pod.
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";

/// A Service's selector narrowed to the serving pod of a database with two StatefulSets.
fn serving_labels(c: &Component, mut l: Map) -> Map {
    if let Some(e) = &c.engine_upgrade {
        l.insert(
            POD_NAME_LABEL.into(),
            format!("{}-0", e.serving_stateful_set()).into(),
        );
    }
    l
}

/// The pod selector of a component's Service, as `(key, value)` pairs: the one the pods of
/// its serving StatefulSet match (and, for a blue-green service, its active colour).
pub fn service_selector(stack: &Stack, c: &Component) -> Map {
    let active = c.blue_green.as_ref().map(|_| colors(c)[0]);
    serving_labels(c, color_labels(selector_labels(stack, &c.name), active))
}

/// A StatefulSet of component `c` named `name`, with `replicas` pods.
fn statefulset(
    stack: &Stack,
    c: &Component,
    name: &str,
    replicas: u32,
    config_checksum: Option<&str>,
) -> StatefulSet {
    let mut selector = selector_labels(stack, &c.name);
    let mut template = template(stack, c, None, config_checksum);
    if name != c.name {
        selector.insert(STATEFULSET_LABEL.into(), owned(name));
        if let Some(l) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            l.insert(STATEFULSET_LABEL.into(), owned(name));
        }
    }
    StatefulSet {
        metadata: meta(stack, c, name),
        spec: Some(StatefulSetSpec {
            replicas: Some(i32::try_from(replicas).unwrap_or(1)),
            // Every data StatefulSet of a component is governed by its one headless Service.
            service_name: Some(owned(&c.name)),
            selector: LabelSelector {
                match_labels: Some(selector),
            },
            template,
            pod_management_policy: Some(
                if c.parallel_pods {
                    "Parallel"
                } else {
                    "OrderedReady"
                }
                .into(),
            ),
            volume_claim_templates: (!c.storage.is_empty()).then(|| {
                c.storage
                    .iter()
                    .map(|s| claim(stack, c, s, &s.name))
                    .collect()
            }),
        }),
    }
}

pub(super) fn objects(
    stack: &Stack,
    c: &Component,
    stage: Stage,
    digests: &ConfigDigests<'_>,
) -> Vec<Object> {
    let mut out = Vec::new();
    let active = c.blue_green.as_ref().map(|_| colors(c)[0]);
    let checksum = digests.checksum(c);
    match c.kind {
        WorkloadKind::Deployment => {
            for s in &c.storage {
                out.push(Object::new(
                    &c.name,
                    Stage::Config,
                    claim(stack, c, s, &format!("{}-{}", c.name, s.name)),
                ));
            }
            let strategy = match disruption::of(c).map(|d| d.rollout) {
                Some(Rollout::Surge(surge)) => DeploymentStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(IntOrString::Int(i32::try_from(surge).unwrap_or(1))),
                        max_unavailable: Some(IntOrString::Int(0)),
                    }),
                },
                // A singleton must never overlap with its successor.
                _ => DeploymentStrategy {
                    type_: Some("Recreate".into()),
                    rolling_update: None,
                },
            };
            let variants: Vec<(String, Option<&str>)> = if c.blue_green.is_some() {
                colors(c)
                    .into_iter()
                    .map(|k| (format!("{}-{k}", c.name), Some(k)))
                    .collect()
            } else {
                vec![(c.name.clone(), None)]
            };
            let scaled = c.autoscale.map(|_| deployment_names(c).swap_remove(0));
            for (name, color) in variants {
                let mut m = meta(stack, c, &name);
                m.labels = m.labels.map(|l| color_labels(l, color));
                if let Some(k) = color {
                    let role = if Some(k) == active {
                        "active"
                    } else {
                        "standby"
                    };
                    m.annotations
                        .get_or_insert_with(Default::default)
                        .insert(COLOR_ROLE.into(), role.into());
                }
                // The autoscaler owns the replicas of its target: install sets them only when
                // it creates the Deployment (see `initial_replicas`).
                let idle = c
                    .blue_green
                    .as_ref()
                    .filter(|b| color.is_some_and(|k| k != b.active.as_str()));
                let replicas = (scaled.as_ref() != Some(&name)).then(|| {
                    if idle.is_some_and(|b| !b.standby) {
                        0
                    } else {
                        i32::try_from(c.replicas).unwrap_or(1)
                    }
                });
                let d = Deployment {
                    metadata: m,
                    spec: Some(DeploymentSpec {
                        replicas,
                        revision_history_limit: Some(5),
                        selector: LabelSelector {
                            match_labels: Some(color_labels(
                                selector_labels(stack, &c.name),
                                color,
                            )),
                        },
                        strategy: Some(strategy.clone()),
                        template: match color {
                            Some(k) => color_template(stack, c, k, checksum.as_deref()),
                            None => template(stack, c, None, checksum.as_deref()),
                        },
                    }),
                };
                out.push(Object::new(&c.name, stage, d));
            }
        }
        WorkloadKind::StatefulSet => match &c.engine_upgrade {
            None => out.push(Object::new(
                &c.name,
                stage,
                statefulset(stack, c, &c.name, c.replicas, checksum.as_deref()),
            )),
            Some(e) => {
                out.push(Object::new(
                    &c.name,
                    stage,
                    statefulset(stack, c, &e.stateful_set, c.replicas, checksum.as_deref()),
                ));
                if let Some((name, image)) = &e.previous {
                    // The StatefulSet copied from, as it was rendered when it served: its
                    // own image (and version label), running only while it serves.
                    let mut old = c.clone();
                    old.containers[0].image = image.clone();
                    let replicas = if e.serving == Serving::Previous {
                        c.replicas
                    } else {
                        0
                    };
                    out.push(Object::new(
                        &c.name,
                        stage,
                        statefulset(stack, &old, name, replicas, checksum.as_deref()),
                    ));
                }
            }
        },
        WorkloadKind::Job => {
            let spec = c.job.unwrap_or(catalog::JobSpec {
                backoff_limit: 3,
                active_deadline: 600,
            });
            let template = template(stack, c, None, checksum.as_deref());
            let j = Job {
                metadata: meta(stack, c, &job_name(c, &template)),
                spec: Some(JobSpec {
                    backoff_limit: Some(spec.backoff_limit),
                    active_deadline_seconds: Some(spec.active_deadline),
                    template,
                }),
            };
            out.push(Object::new(&c.name, stage, j));
        }
    }
    if c.service {
        let headless = c.kind == WorkloadKind::StatefulSet;
        let svc = core::Service {
            metadata: meta(stack, c, &c.name),
            spec: Some(core::ServiceSpec {
                type_: Some("ClusterIP".into()),
                cluster_ip: headless.then(|| "None".into()),
                selector: Some(serving_labels(
                    c,
                    color_labels(selector_labels(stack, &c.name), active),
                )),
                publish_not_ready_addresses: c.parallel_pods.then_some(true),
                ports: Some(
                    c.containers
                        .iter()
                        .flat_map(|x| &x.ports)
                        .map(|p| core::ServicePort {
                            name: Some(p.name.into()),
                            port: i32::from(p.port),
                            target_port: Some(IntOrString::String(p.name.into())),
                            protocol: Some("TCP".into()),
                        })
                        .collect(),
                ),
                session_affinity: c.session_affinity.map(|_| "ClientIP".into()),
                session_affinity_config: c.session_affinity.map(|t| core::SessionAffinityConfig {
                    client_ip: Some(core::ClientIPConfig {
                        timeout_seconds: Some(t),
                    }),
                }),
            }),
        };
        out.push(Object::new(&c.name, stage, svc));
    }
    if let Some(a) = c.autoscale {
        let metric = |name: &'static str, pct: u32| MetricSpec {
            type_: "Resource".into(),
            resource: Some(ResourceMetricSource {
                name: name.into(),
                target: MetricTarget {
                    type_: "Utilization".into(),
                    average_utilization: i32::try_from(pct).ok(),
                },
            }),
        };
        let policy = |type_: &'static str, value: i32, period: i32| HPAScalingPolicy {
            type_: type_.into(),
            value,
            period_seconds: period,
        };
        let h = HorizontalPodAutoscaler {
            metadata: meta(stack, c, &c.name),
            spec: Some(HorizontalPodAutoscalerSpec {
                scale_target_ref: CrossVersionObjectReference {
                    api_version: Some("apps/v1".into()),
                    kind: "Deployment".into(),
                    name: deployment_names(c).swap_remove(0).into(),
                },
                min_replicas: i32::try_from(a.hpa.min).ok(),
                max_replicas: i32::try_from(a.hpa.max).unwrap_or(1),
                metrics: Some(
                    std::iter::once(metric("cpu", a.hpa.cpu))
                        .chain((a.hpa.memory > 0).then(|| metric("memory", a.hpa.memory)))
                        .collect(),
                ),
                behavior: Some(HorizontalPodAutoscalerBehavior {
                    scale_down: Some(HPAScalingRules {
                        stabilization_window_seconds: Some(300),
                        policies: Some(vec![policy("Percent", 10, 60)]),
                    }),
                    scale_up: Some(HPAScalingRules {
                        stabilization_window_seconds: Some(0),
                        policies: Some(vec![policy("Percent", 100, 15)]),
                    }),
                }),
            }),
        };
        out.push(Object::new(&c.name, stage, h));
    }
    if let Some(budget) = disruption::of(c).and_then(|d| d.budget) {
        let int = |n: u32| Some(IntOrString::Int(i32::try_from(n).unwrap_or(1)));
        let (max_unavailable, min_available) = match budget {
            Budget::MaxUnavailable(n) => (int(n), None),
            Budget::MinAvailable(n) => (None, int(n)),
        };
        let p = PodDisruptionBudget {
            metadata: meta(stack, c, &c.name),
            spec: Some(PodDisruptionBudgetSpec {
                max_unavailable,
                min_available,
                selector: Some(LabelSelector {
                    match_labels: Some(color_labels(selector_labels(stack, &c.name), active)),
                }),
            }),
        };
        out.push(Object::new(&c.name, stage, p));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Input;

    fn postgres_objects(sets: &[&str]) -> Vec<serde_json::Value> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let stack = crate::load(&Input {
            sets: &sets,
            ..Default::default()
        })
        .expect("valid");
        super::super::render(&stack)
            .into_iter()
            .filter(|o| {
                o.component == "postgres" && matches!(o.kind.as_str(), "StatefulSet" | "Service")
            })
            .map(|o| o.value().into_owned())
            .collect()
    }

    fn find<'a>(objects: &'a [serde_json::Value], kind: &str, name: &str) -> &'a serde_json::Value {
        objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{kind} {name} in {objects:#?}"))
    }

    const UPGRADE: &str = r#"components.postgres.engineUpgrade={statefulSet: postgres-17, previous: {statefulSet: postgres, image: "postgres:15.12-alpine"}, serving: previous}"#;

    /// During an upgrade-engine copy: two StatefulSets with their own images and selectors
    /// that cannot take each other's pods, the old one serving.
    #[test]
    fn an_engine_upgrade_renders_two_statefulsets_and_selects_the_serving_pod() {
        let plain = postgres_objects(&[]);
        let image = "components.postgres.image=postgres:17.6-alpine";
        let during = postgres_objects(&[image, UPGRADE]);
        assert_eq!(during.len(), 3, "{during:#?}");
        let old = find(&during, "StatefulSet", "postgres");
        let new = find(&during, "StatefulSet", "postgres-17");
        // The old StatefulSet is the one rendered before, running while it serves.
        assert_eq!(old, find(&plain, "StatefulSet", "postgres"));
        assert_eq!(old["spec"]["replicas"], 1);
        let main =
            |s: &serde_json::Value| s["spec"]["template"]["spec"]["containers"][0]["image"].clone();
        assert_eq!(main(old), "postgres:15.12-alpine");
        assert_eq!(main(new), "postgres:17.6-alpine");
        assert_eq!(new["spec"]["replicas"], 1);
        assert_eq!(new["spec"]["serviceName"], "postgres");
        assert_eq!(
            new["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
            "data"
        );
        // The new selector matches its own pods and not the old one's; the old selector
        // (immutable) matches both, but a StatefulSet only claims pods named after it.
        let new_sel = new["spec"]["selector"]["matchLabels"].as_object().unwrap();
        let new_pod = new["spec"]["template"]["metadata"]["labels"]
            .as_object()
            .unwrap();
        let old_pod = old["spec"]["template"]["metadata"]["labels"]
            .as_object()
            .unwrap();
        assert!(new_sel.iter().all(|(k, v)| new_pod.get(k) == Some(v)));
        assert!(new_sel.iter().any(|(k, v)| old_pod.get(k) != Some(v)));
        assert_eq!(new_pod["app.kubernetes.io/name"], "postgres");
        let svc = find(&during, "Service", "postgres");
        assert_eq!(svc["spec"]["selector"][POD_NAME_LABEL], "postgres-0");

        // After the switch: the new pod serves, the old StatefulSet at zero.
        let after = postgres_objects(&[
            image,
            &UPGRADE.replace("serving: previous", "serving: current"),
        ]);
        assert_eq!(
            find(&after, "StatefulSet", "postgres")["spec"]["replicas"],
            0
        );
        assert_eq!(
            find(&after, "Service", "postgres")["spec"]["selector"][POD_NAME_LABEL],
            "postgres-17-0"
        );
        // Finalized: one StatefulSet left, the new one.
        let done = postgres_objects(&[
            image,
            "components.postgres.engineUpgrade={statefulSet: postgres-17}",
        ]);
        assert_eq!(done.len(), 2, "{done:#?}");
        assert_eq!(find(&done, "StatefulSet", "postgres-17"), new);
    }

    fn pod_specs(yaml: &str, profile: config::ProfileName) -> Vec<(String, serde_json::Value)> {
        let stack = crate::load(&Input {
            yaml,
            profile: Some(profile),
            ..Default::default()
        })
        .expect("valid");
        super::super::render(&stack)
            .into_iter()
            .filter(|o| matches!(o.kind.as_str(), "Deployment" | "StatefulSet" | "Job"))
            .map(|o| {
                let v = o.value().into_owned();
                (o.name.clone(), v["spec"]["template"]["spec"].clone())
            })
            .collect()
    }

    fn spec<'a>(specs: &'a [(String, serde_json::Value)], name: &str) -> &'a serde_json::Value {
        &specs
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name}"))
            .1
    }

    /// The global placement reaches every pod, a component's refines it, and only workloads
    /// with more than one pod are spread.
    #[test]
    fn placement_reaches_every_pod_template() {
        use crate::config::ProfileName::{Production, Small};
        let yaml = "placement:\n  nodeSelector: {pool: apps, arch: amd64}\n  tolerations: [{key: spot, operator: Exists}]\ncomponents:\n  posthog-clickhouse:\n    placement:\n      nodeSelector: {pool: data}\n      tolerations: [{key: dedicated, value: data, effect: NoSchedule}]\n      affinity:\n        nodeAffinity:\n          preferredDuringSchedulingIgnoredDuringExecution:\n            - {weight: 10, preference: {matchExpressions: [{key: disk, operator: In, values: [nvme]}]}}\n";
        let specs = pod_specs(yaml, Small);
        for (name, s) in &specs {
            assert_eq!(s["nodeSelector"]["arch"], "amd64", "{name}");
        }
        let ch = spec(&specs, "posthog-clickhouse");
        assert_eq!(
            ch["nodeSelector"],
            serde_json::json!({"arch": "amd64", "pool": "data"})
        );
        assert_eq!(
            ch["tolerations"],
            serde_json::json!([{"effect": "NoSchedule", "key": "dedicated", "operator": "Equal", "value": "data"}])
        );
        assert_eq!(
            ch["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["preference"]
                ["matchExpressions"][0]["values"],
            serde_json::json!(["nvme"])
        );
        let web = spec(&specs, "posthog-web");
        assert_eq!(
            web["tolerations"],
            serde_json::json!([{"key": "spot", "operator": "Exists"}])
        );
        // Single replicas in `small`: no spread, no anti-affinity.
        assert!(web.get("topologySpreadConstraints").is_none());
        assert!(web.get("affinity").is_none());

        let specs = pod_specs("", Production);
        let web = spec(&specs, "posthog-web");
        let keys: Vec<&str> = web["topologySpreadConstraints"]
            .as_array()
            .expect("spread")
            .iter()
            .map(|c| c["topologyKey"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(keys, [HOSTNAME, ZONE]);
        assert_eq!(
            web["topologySpreadConstraints"][0]["whenUnsatisfiable"],
            "ScheduleAnyway"
        );
        // A StatefulSet's replicas each on their own node, spread over zones.
        let kafka = spec(&specs, "kafka");
        assert_eq!(
            kafka["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
                [0]["topologyKey"],
            HOSTNAME
        );
        assert_eq!(
            kafka["topologySpreadConstraints"].as_array().map(Vec::len),
            Some(1)
        );
        // Jobs never spread.
        assert!(
            specs
                .iter()
                .filter(|(n, _)| n.starts_with("posthog-migrate"))
                .all(|(_, s)| s.get("topologySpreadConstraints").is_none())
        );

        let specs = pod_specs(
            "components:\n  kafka:\n    placement: {allowSameNode: true}\n  posthog-web:\n    placement: {topologySpread: false}\n",
            Production,
        );
        let kafka = spec(&specs, "kafka");
        assert!(kafka.get("affinity").is_none());
        assert_eq!(
            kafka["topologySpreadConstraints"].as_array().map(Vec::len),
            Some(2)
        );
        assert!(
            spec(&specs, "posthog-web")
                .get("topologySpreadConstraints")
                .is_none()
        );
    }
}
