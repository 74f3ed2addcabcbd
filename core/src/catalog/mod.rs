//! The catalog: one place per component for its image, ports, probes, env, config and secret
//! keys, resources per profile, storage and dependencies.
//!
//! [`build`] turns a [`Config`] into a [`Stack`]: the enabled components with the user's
//! overrides applied, plus the ConfigMaps and Secrets they read. Everything downstream (sizing,
//! policy, fit, render, plan) works from the stack and never re-states a component fact.

pub mod engines;
pub mod external;
pub mod identity;
pub mod infra;
pub mod mesh;
mod model_router;
pub mod posthog;
pub mod secrets;
pub mod versions;
pub mod voiceassistant;

use std::collections::BTreeMap;

use crate::config::{Config, Diagnostic, Leaf, ProfileName, Selection};
use crate::quantity::{Bytes, MilliCpu};
pub use mesh::Mesh;

/// Which product a component belongs to (see [`Selection`] for `--only` / `--skip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Group {
    /// Self-hosted PostHog.
    Posthog,
    /// The Model Router.
    ModelRouter,
    /// Shared infrastructure (databases and caches of the applications).
    Infra,
    /// The VoiceAssistant platform services.
    VoiceAssistant,
}

impl Group {
    /// The group's name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Posthog => "posthog",
            Group::ModelRouter => "model-router",
            Group::Infra => "infra",
            Group::VoiceAssistant => "voiceassistant",
        }
    }
    /// Every group.
    pub const ALL: [Group; 4] = [
        Group::Posthog,
        Group::ModelRouter,
        Group::Infra,
        Group::VoiceAssistant,
    ];
    /// Parses a group name.
    pub fn parse(s: &str) -> Option<Group> {
        Group::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// Workload kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum WorkloadKind {
    /// Stateless, rolling update.
    Deployment,
    /// Stateful, stable names and volume claim templates.
    StatefulSet,
    /// Runs to completion.
    Job,
}

/// Where a component sits in the rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// Databases, caches, brokers: started first, awaited ready.
    Stateful,
    /// One-shot setup jobs (databases, users, buckets, topics).
    Setup,
    /// Schema migrations that gate the applications.
    Migration,
    /// Stateless applications.
    App,
}

/// CPU and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Resources {
    /// CPU.
    pub cpu: MilliCpu,
    /// Memory.
    pub memory: Bytes,
}

/// Requests and limits of one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct ResourceSpec {
    /// Requests.
    pub requests: Resources,
    /// Limits.
    pub limits: Resources,
}

/// Shorthand for a resource spec: `res("500m", "512Mi", "1", "2Gi")`.
pub fn res(cpu_req: &str, mem_req: &str, cpu_lim: &str, mem_lim: &str) -> ResourceSpec {
    let c = |s: &str| MilliCpu::parse(s).unwrap_or_default();
    let m = |s: &str| Bytes::parse(s).unwrap_or_default();
    ResourceSpec {
        requests: Resources {
            cpu: c(cpu_req),
            memory: m(mem_req),
        },
        limits: Resources {
            cpu: c(cpu_lim),
            memory: m(mem_lim),
        },
    }
}

/// Picks a value by profile.
pub fn by_profile<T>(p: ProfileName, dev: T, small: T, production: T) -> T {
    match p {
        ProfileName::Dev => dev,
        ProfileName::Small => small,
        ProfileName::Production => production,
    }
}

/// A container port (also exposed on the Service when `service` is set).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Port {
    /// Port name (`http`, `metrics`, …).
    pub name: &'static str,
    /// Container and Service port.
    pub port: u16,
}

/// How a probe checks the container.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum ProbeCheck {
    /// HTTP GET path on port.
    Http(String, u16),
    /// TCP connect.
    Tcp(u16),
    /// A command.
    Exec(Vec<String>),
}

/// A probe with its timings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Probe {
    /// The check.
    pub check: ProbeCheck,
    /// initialDelaySeconds.
    pub initial_delay: i32,
    /// periodSeconds.
    pub period: i32,
    /// timeoutSeconds.
    pub timeout: i32,
    /// failureThreshold.
    pub failure_threshold: i32,
}

impl Probe {
    /// A probe with timings `(initial delay, period, timeout, failures)`.
    pub fn new(
        check: ProbeCheck,
        (initial_delay, period, timeout, failure_threshold): (i32, i32, i32, i32),
    ) -> Self {
        Probe {
            check,
            initial_delay,
            period,
            timeout,
            failure_threshold,
        }
    }
}

/// Liveness, readiness and startup probes.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Probes {
    /// Restart when failing.
    pub liveness: Option<Probe>,
    /// Remove from endpoints when failing.
    pub readiness: Option<Probe>,
    /// Hold the other probes until the app has started.
    pub startup: Option<Probe>,
    /// Why the startup probe's budget (period × failures) is what it is.
    pub startup_why: Option<&'static str>,
}

impl Probes {
    /// Seconds the startup probe allows before the container is restarted (initial delay +
    /// period × failures), if it has one.
    pub fn startup_budget(&self) -> Option<i32> {
        self.startup
            .as_ref()
            .map(|p| p.initial_delay + p.period * p.failure_threshold)
    }
}

/// Where an environment variable's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum EnvValue {
    /// A literal (never a secret).
    Literal(String),
    /// A key of a Secret.
    Secret(String, String),
    /// A key of a ConfigMap.
    Config(String, String),
}

/// An environment variable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Env {
    /// Name.
    pub name: String,
    /// Value source.
    pub value: EnvValue,
}

/// A whole ConfigMap or Secret as environment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum EnvFrom {
    /// Every key of a ConfigMap.
    Config(String),
    /// Every key of a Secret.
    Secret(String),
}

/// A volume mount.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mount {
    /// Volume name.
    pub volume: String,
    /// Mount path.
    pub path: String,
    /// Read only.
    pub read_only: bool,
}

/// A container.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Container {
    /// Name.
    pub name: String,
    /// Image reference (pinned).
    pub image: String,
    /// Entrypoint override.
    pub command: Vec<String>,
    /// Arguments.
    pub args: Vec<String>,
    /// Ports.
    pub ports: Vec<Port>,
    /// Environment variables.
    pub env: Vec<Env>,
    /// Whole ConfigMaps/Secrets as environment.
    pub env_from: Vec<EnvFrom>,
    /// Probes.
    pub probes: Probes,
    /// Requests and limits.
    pub resources: ResourceSpec,
    /// Volume mounts.
    pub mounts: Vec<Mount>,
    /// The image can run with a read-only root filesystem.
    pub read_only_root: bool,
    /// Seconds to sleep in preStop before SIGTERM (lets endpoints drain).
    pub pre_stop_sleep: Option<i64>,
    /// A pre-forking server: how many processes it starts, derived from the CPU limit.
    pub processes: Option<Processes>,
}

/// How a pre-forking server (Granian, Celery's prefork pool) is told its process count, and
/// what each process costs. The count follows the container's CPU limit, never the node's:
/// left to their defaults these servers fork per CPU they see, which in a container is the
/// node's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Processes {
    /// The environment variable the image's start script reads for the count.
    pub env: &'static str,
    /// Processes per whole CPU of the limit (at least one process in all).
    pub per_cpu: u32,
    /// Processes that run beside the counted ones (a parent, a metrics server).
    pub extra: u32,
    /// Resident memory each process needs, counted ones and extra alike.
    pub footprint: Bytes,
    /// An environment variable that caps each child's memory in KiB (its share of the
    /// limit), so a growing child is replaced before the container is killed.
    pub child_cap_env: Option<&'static str>,
    /// Where the variable and the footprint come from.
    pub source: &'static str,
}

impl Processes {
    /// The process count for a CPU limit: `per_cpu` per whole CPU, at least one.
    pub fn count(&self, cpu_limit: MilliCpu) -> u32 {
        let whole = u32::try_from(cpu_limit.0 / 1000).unwrap_or(u32::MAX);
        whole.saturating_mul(self.per_cpu).max(1)
    }
    /// The memory `count` processes and the extra ones need.
    pub fn memory(&self, count: u32) -> Bytes {
        Bytes(
            self.footprint
                .0
                .saturating_mul(u64::from(count + self.extra)),
        )
    }
    /// Each process's share of a memory limit, in KiB (the child cap).
    pub fn share_kib(&self, count: u32, limit: Bytes) -> u64 {
        limit.0 / u64::from(count + self.extra) / 1024
    }
}

impl Container {
    /// A container with defaults: no command, read-only root filesystem.
    pub fn new(name: &str, image: &str, resources: ResourceSpec) -> Self {
        Container {
            name: name.into(),
            image: image.into(),
            command: Vec::new(),
            args: Vec::new(),
            ports: Vec::new(),
            env: Vec::new(),
            env_from: Vec::new(),
            probes: Probes::default(),
            resources,
            mounts: Vec::new(),
            read_only_root: true,
            pre_stop_sleep: None,
            processes: None,
        }
    }
    /// Adds a literal environment variable.
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.push(Env {
            name: name.into(),
            value: EnvValue::Literal(value.into()),
        });
        self
    }
    /// Adds an environment variable from a Secret key.
    pub fn env_secret(mut self, name: &str, secret: &str, key: &str) -> Self {
        self.env.push(Env {
            name: name.into(),
            value: EnvValue::Secret(secret.into(), key.into()),
        });
        self
    }
    /// Adds a volume mount.
    pub fn mount(mut self, volume: &str, path: &str) -> Self {
        self.mounts.push(Mount {
            volume: volume.into(),
            path: path.into(),
            read_only: false,
        });
        self
    }
    /// Gives a slow starter a startup probe of `check` every `period` seconds for
    /// `failures` tries: liveness and readiness wait until it passes, so liveness never kills
    /// a start in progress (their initial delays go). `why` is the budget's reason.
    pub fn starts_within(
        &mut self,
        check: ProbeCheck,
        (period, failures): (i32, i32),
        why: &'static str,
    ) {
        let timeout = match &check {
            ProbeCheck::Exec(_) => 15,
            _ => 5,
        };
        self.probes.startup = Some(Probe::new(check, (0, period, timeout, failures)));
        self.probes.startup_why = Some(why);
        for p in [&mut self.probes.liveness, &mut self.probes.readiness]
            .into_iter()
            .flatten()
        {
            p.initial_delay = 0;
        }
    }
    /// Sets the shell command `sh -c <script>`.
    pub fn shell(mut self, script: &str) -> Self {
        self.command = vec!["sh".into(), "-c".into(), script.into()];
        self
    }
}

/// A non-persistent volume.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum VolumeSource {
    /// Scratch space (optionally memory-backed size limit).
    EmptyDir(Option<Bytes>),
    /// Files from a ConfigMap.
    ConfigMap(String),
}

/// A named volume.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Volume {
    /// Name.
    pub name: String,
    /// Source.
    pub source: VolumeSource,
}

/// A persistent volume claim (a volume claim template for StatefulSets).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Storage {
    /// Volume name.
    pub name: String,
    /// Size.
    pub size: Bytes,
}

/// Pod security settings. Every pod runs non-root with no privilege escalation, all
/// capabilities dropped and the RuntimeDefault seccomp profile; this holds the uid/gid and
/// why a component departs from a read-only root filesystem.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Security {
    /// runAsUser.
    pub uid: i64,
    /// runAsGroup.
    pub gid: i64,
    /// fsGroup for volumes.
    pub fs_group: i64,
    /// Why a container needs a writable root filesystem, if one does.
    pub writable_root_reason: Option<&'static str>,
}

/// A public route on an Ingress.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Route {
    /// Path prefix.
    pub path: String,
    /// Exact match instead of prefix.
    pub exact: bool,
    /// Backend component.
    pub component: String,
    /// Backend Service port name.
    pub port: &'static str,
}

/// An Ingress owned by a component.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IngressSpec {
    /// Host name.
    pub host: String,
    /// TLS Secret name.
    pub tls_secret: String,
    /// Routes, most specific first.
    pub routes: Vec<Route>,
    /// Extra nginx annotations.
    pub annotations: Vec<(&'static str, String)>,
}

/// Traffic leaving the cluster that a component needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum External {
    /// HTTPS to the internet (LLM APIs, PostHog Cloud): 443 outside private ranges.
    Https(String),
    /// A TCP port outside the cluster: a data store's on an external host
    /// (`components.<store>.external`, `modelRouter.database.host`), or the GKE metadata
    /// server's. To any address, since a managed database usually sits in the VPC's private
    /// range and a NetworkPolicy matches addresses, not names.
    Port(String, u16),
}

/// HPA scaling behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Autoscale {
    /// Bounds and targets.
    pub hpa: crate::config::Hpa,
}

/// Why a ClickHouse server may take up to 15 minutes to answer `/ping`: it loads every table's
/// metadata and data parts first (Altinity/clickhouse-operator#1068: a maintainer's 600 s
/// delay + 30 s × 10 for large data).
pub const CLICKHOUSE_START: &str = "ClickHouse loads every table's metadata and data parts before it answers /ping; with many parts that takes minutes (Altinity's operator issue 1068 recommends up to 900 s)";

/// A one-shot Job's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct JobSpec {
    /// Retries before the Job fails.
    pub backoff_limit: i32,
    /// Deadline in seconds.
    pub active_deadline: i64,
}

/// One deployable component.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Component {
    /// Object name; also the key for `components.<name>` overrides.
    pub name: String,
    /// Product group.
    pub group: Group,
    /// Namespace.
    pub namespace: String,
    /// `app.kubernetes.io/component`.
    pub role: &'static str,
    /// `app.kubernetes.io/part-of`.
    pub part_of: &'static str,
    /// Workload kind.
    pub kind: WorkloadKind,
    /// Rollout tier.
    pub tier: Tier,
    /// Replicas (minimum with an HPA).
    pub replicas: u32,
    /// Autoscaling.
    pub autoscale: Option<Autoscale>,
    /// Must run exactly one replica (a scheduler, a single-node database).
    pub singleton: bool,
    /// Must run exactly `replicas` pods: members that others list by name (a Sentinel
    /// quorum whose nodes the proxy in front names one by one).
    pub fixed_replicas: bool,
    /// Its replicas form a quorum (Raft, KRaft controllers, ZooKeeper, Redis Sentinel, etcd):
    /// a majority must stay up, which its disruption budget keeps (see `disruption`).
    pub quorum: bool,
    /// Init containers.
    pub init_containers: Vec<Container>,
    /// Containers; the first is the main one.
    pub containers: Vec<Container>,
    /// Non-persistent volumes.
    pub volumes: Vec<Volume>,
    /// Persistent volumes.
    pub storage: Vec<Storage>,
    /// Expose the main container's ports on a Service named like the component.
    pub service: bool,
    /// Components this one talks to (and waits for).
    pub depends_on: Vec<String>,
    /// Traffic leaving the cluster.
    pub external: Vec<External>,
    /// Public Ingress.
    pub ingress: Option<IngressSpec>,
    /// Metrics port name and path, scraped by Prometheus.
    pub metrics: Option<(&'static str, &'static str)>,
    /// Pod security.
    pub security: Security,
    /// terminationGracePeriodSeconds.
    pub termination_grace: i64,
    /// Job limits (Jobs only).
    pub job: Option<JobSpec>,
    /// Client-IP session affinity on the Service, seconds.
    pub session_affinity: Option<i32>,
    /// Why this component exists or departs from the defaults, for `plan` and the docs.
    pub notes: Vec<&'static str>,
    /// PriorityClass of its pods: the class of `voiceassistant::PRIORITY_CLASSES`, named
    /// per rollout by `voiceassistant::priority_class_name`.
    pub priority_class: Option<&'static str>,
    /// Requests and limits of the injected mesh sidecar (not rendered; counted in sizing).
    pub mesh_sidecar: Option<ResourceSpec>,
    /// Blue-green: two colour-labelled Deployments are rendered, the Service selects the
    /// active one.
    pub blue_green: Option<crate::config::BlueGreen>,
    /// Scrapes every component's metrics port (the in-plan Prometheus).
    pub scraper: bool,
    /// Mounts its ServiceAccount token (it talks to the Kubernetes API).
    pub api_access: bool,
    /// Rolling update maxSurge.
    pub max_surge: i32,
    /// Extra pod annotations.
    pub pod_annotations: Vec<(&'static str, String)>,
    /// Replicas are peers that talk to each other (brokers, quorum members): pods start in
    /// parallel, the headless Service publishes unready addresses, and the NetworkPolicy
    /// allows traffic between them.
    pub parallel_pods: bool,
    /// The web UI it serves, for `kubectl voice dashboard`.
    pub ui: Option<Ui>,
    /// The data engine it runs, whose data `kubectl voice backup` can dump.
    pub engine: Option<Engine>,
    /// The on-disk format of its data, whose version rules govern its main image's changes.
    pub store: Option<versions::Store>,
    /// A database moved to a new major version by `upgrade-engine`: its data StatefulSets
    /// (`components.<name>.engineUpgrade`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_upgrade: Option<crate::config::EngineUpgrade>,
    /// Labels on every object of the component, its pods included, e.g. the PostHog release
    /// it runs.
    pub labels: Vec<(&'static str, String)>,
    /// Its facts in the Istio mesh: public routes, DestinationRule figures, LLM calls.
    pub mesh: Mesh,
    /// Where its pods may run: the global `placement` refined by `components.<name>.placement`.
    #[serde(skip_serializing_if = "crate::config::Placement::is_unset")]
    pub placement: crate::config::Placement,
    /// Its pods' ServiceAccount annotations, labels, annotations, extra environment (already
    /// in its containers) and PriorityClass: the global settings refined by
    /// `components.<name>`.
    #[serde(skip_serializing_if = "crate::config::PodMeta::is_unset")]
    pub pods: crate::config::PodMeta,
}

/// A data engine with a logical dump and restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// PostgreSQL (`pg_dump`, `pg_restore`).
    Postgresql,
    /// Redis (an RDB).
    Redis,
}

impl Engine {
    /// Its name in backup manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Postgresql => "postgresql",
            Engine::Redis => "redis",
        }
    }
}

/// A web UI a component serves (or, for Kiali, the mesh serves).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ui {
    /// The dashboard's name (`grafana`, `jaeger`, `posthog`).
    pub name: &'static str,
    /// The container port it serves on; also the local port tried first.
    pub port: u16,
    /// The path of its start page (`/`, `/nacos/`).
    pub path: &'static str,
    /// Where its login comes from, if it has one (never the value).
    pub login: Option<Login>,
}

/// Where a UI's login comes from: a Secret in the component's namespace.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Login {
    /// The user name, when it is fixed.
    pub user: Option<&'static str>,
    /// The Secret holding the credentials.
    pub secret: String,
    /// The key of the user name in `secret`, when it is generated.
    pub user_key: Option<String>,
    /// The key of the password in `secret`.
    pub password_key: String,
}

impl Component {
    /// Declares the web UI the component serves.
    pub fn with_ui(mut self, name: &'static str, port: u16, path: &'static str) -> Self {
        self.ui = Some(Ui {
            name,
            port,
            path,
            login: None,
        });
        self
    }
    /// Declares where the login of its UI comes from (after [`Component::with_ui`]).
    pub fn with_login(mut self, login: Login) -> Self {
        if let Some(ui) = &mut self.ui {
            ui.login = Some(login);
        }
        self
    }
    /// The main container.
    pub fn main(&self) -> &Container {
        &self.containers[0]
    }
    /// Maximum replicas (the HPA bound, else `replicas`).
    pub fn max_replicas(&self) -> u32 {
        self.autoscale.map_or(self.replicas, |a| a.hpa.max)
    }
    /// Whether it can run more than one pod (replicas, or its autoscaler's bounds).
    pub fn several(&self) -> bool {
        self.kind != WorkloadKind::Job && self.max_replicas() > 1
    }
    /// A StatefulSet whose replicas each need their own node (a required anti-affinity on
    /// the hostname), unless `placement.allowSameNode`.
    pub fn one_per_node(&self) -> bool {
        self.kind == WorkloadKind::StatefulSet && self.several() && !self.placement.same_node()
    }
    /// The image tag (or digest prefix) of the main container, for the version label.
    pub fn version(&self) -> String {
        image_version(&self.main().image)
    }
    /// In-cluster DNS name of the component's Service.
    pub fn host(&self) -> String {
        format!("{}.{}.svc.cluster.local", self.name, self.namespace)
    }
    /// Port number by name on the main container.
    pub fn port(&self, name: &str) -> Option<u16> {
        self.main()
            .ports
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.port)
    }
}

/// Tag of an image reference, or the first 12 hex digits of its digest.
pub fn image_version(image: &str) -> String {
    // `@` found by memchr: a substring search costs more than the rest (one call per label).
    let digest = image
        .match_indices('@')
        .find_map(|(i, _)| image[i + 1..].strip_prefix("sha256:"));
    if let Some(d) = digest {
        return format!("sha256-{}", &d[..d.len().min(12)]);
    }
    image
        .rsplit('/')
        .next()
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown".into(), |(_, t)| t.to_string())
}

/// How install fills a Secret key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum SecretSource {
    /// Random alphanumeric characters from a CSPRNG.
    Random {
        /// Length in characters.
        length: usize,
    },
    /// Random lowercase hex characters from a CSPRNG.
    RandomHex {
        /// Length in characters.
        length: usize,
    },
    /// The same value as a key of another Secret (generated once, written to both).
    SameAs {
        /// Namespace of the other Secret.
        namespace: String,
        /// Its name.
        secret: String,
        /// Its key.
        key: String,
    },
    /// Supplied by the user (file, environment or `voice.yaml`); install stops if absent and required.
    User {
        /// Install refuses to continue without it.
        required: bool,
    },
}

/// One key of a generated Secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SecretKey {
    /// Key.
    pub key: String,
    /// How its value is made.
    pub source: SecretSource,
}

/// A Secret that install creates if absent and never overwrites. Its values are never
/// rendered: only its name and keys are part of the plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SecretSpec {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Owning component (for grouping).
    pub component: String,
    /// Keys.
    pub keys: Vec<SecretKey>,
    /// The user named an existing Secret (or `secrets.source: existing`): install checks
    /// it and creates nothing.
    pub existing: bool,
    /// An ExternalSecret of the render fills it from the store (`secrets.source:
    /// external-secrets`): install waits for it and creates nothing.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
}

impl SecretSpec {
    /// Whether it holds optional values alone: it may be absent (its readers say optional).
    pub fn is_optional(&self) -> bool {
        self.keys
            .iter()
            .all(|k| matches!(k.source, SecretSource::User { required: false }))
    }
}

/// A ConfigMap.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConfigMapSpec {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Owning component (for grouping).
    pub component: String,
    /// Data.
    pub data: BTreeMap<String, String>,
}

/// What a `components.*` override may change of a component that its peak reads (the
/// replicas, the autoscaler's bounds, the main container's resources), as the catalog
/// states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stated {
    replicas: u32,
    autoscale: Option<Autoscale>,
    main: ResourceSpec,
}

impl Component {
    /// What an override may change of this component's peak, as it is now.
    pub fn stated(&self) -> Stated {
        Stated {
            replicas: self.replicas,
            autoscale: self.autoscale,
            main: self.main().resources,
        }
    }
    /// This component with `s` (its values as the catalog states them): itself when no
    /// override changed them, else a copy.
    pub fn as_stated(&self, s: &Stated) -> std::borrow::Cow<'_, Component> {
        if self.stated() == *s {
            return std::borrow::Cow::Borrowed(self);
        }
        let mut c = self.clone();
        c.replicas = s.replicas;
        c.autoscale = s.autoscale;
        c.containers[0].resources = s.main;
        std::borrow::Cow::Owned(c)
    }
}

/// Everything the catalog produces for one configuration.
#[derive(Debug, Clone)]
pub struct Stack {
    /// The configuration.
    pub config: Config,
    /// Enabled components, in catalog order.
    pub components: Vec<Component>,
    /// ConfigMaps.
    pub config_maps: Vec<ConfigMapSpec>,
    /// Secrets install creates (never rendered).
    pub secrets: Vec<SecretSpec>,
    /// The parts this run acts on (`--only` / `--skip`); the configuration is the same.
    pub selection: Selection,
    /// For each component (index by index), what `components.*` overrides may change of
    /// what its peak reads, as the catalog states it: the namespace quotas are sized for the
    /// catalog's components (by the namespace policy), whatever the overrides and the
    /// selection make of them.
    pub stated: Vec<Stated>,
}

impl Stack {
    /// A component by name.
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }
    /// A component by name, when the run's selection includes it.
    pub fn selected_component(&self, name: &str) -> Option<&Component> {
        self.component(name).filter(|c| self.selection.includes(c))
    }
    /// Namespaces that hold at least one object, and the app namespace, where the rollout's
    /// inventory lives, in a stable order.
    pub fn namespaces(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for ns in self
            .components
            .iter()
            .map(|c| &c.namespace)
            .chain(self.secrets.iter().map(|s| &s.namespace))
            .chain(std::iter::once(&self.config.namespaces.app))
        {
            if !out.contains(ns) {
                out.push(ns.clone());
            }
        }
        out
    }

    /// The namespaces of the components this run's selection includes (all of
    /// [`Stack::namespaces`] for the whole configuration): what a namespace-scoped operator
    /// of the selected parts may read.
    pub fn selected_namespaces(&self) -> Vec<String> {
        if self.selection.is_everything() {
            return self.namespaces();
        }
        let mut out: Vec<String> = Vec::new();
        for c in self
            .components
            .iter()
            .filter(|c| self.selection.includes(c))
        {
            if !out.contains(&c.namespace) {
                out.push(c.namespace.clone());
            }
        }
        out
    }
}

/// Roles of the monitoring stack's components (`app.kubernetes.io/component`).
const MONITORING_ROLES: [&str; 3] = ["monitoring", "dashboards", "alerting"];

/// The [`Leaf`] of a selection a component belongs to.
pub fn leaf(c: &Component) -> Leaf {
    match c.group {
        Group::Posthog => Leaf::Posthog,
        Group::ModelRouter => Leaf::ModelRouter,
        Group::VoiceAssistant => Leaf::Services,
        Group::Infra if MONITORING_ROLES.contains(&c.role) => Leaf::Monitoring,
        Group::Infra => Leaf::Infra,
    }
}

/// The smallest selection that holds `c`: what a day-2 verb acting on one component writes.
pub fn selection_of(c: &Component) -> Selection {
    use crate::config::Part;
    let (only, skip) = match leaf(c) {
        Leaf::Posthog => (vec![Part::Posthog], vec![]),
        Leaf::ModelRouter => (vec![Part::ModelRouter], vec![]),
        Leaf::Infra => (vec![Part::Infra], vec![]),
        Leaf::Monitoring => (vec![Part::Monitoring], vec![]),
        Leaf::Istio => (vec![Part::Istio], vec![]),
        Leaf::Services => (
            vec![Part::VoiceAssistant],
            vec![Part::Infra, Part::Monitoring, Part::Istio],
        ),
    };
    Selection { only, skip }
}

impl Selection {
    /// Whether a component is part of this run.
    pub fn includes(&self, c: &Component) -> bool {
        self.leaves().contains(&leaf(c))
    }
}

/// Rewrites an image's registry host when `images.registry` is set.
pub fn with_registry(cfg: &Config, image: &str) -> String {
    let Some(reg) = &cfg.images.registry else {
        return image.to_string();
    };
    let mut parts = image.splitn(2, '/');
    let first = parts.next().unwrap_or_default();
    let rest = parts.next();
    let has_registry =
        rest.is_some() && (first.contains('.') || first.contains(':') || first == "localhost");
    match (has_registry, rest) {
        (true, Some(r)) => format!("{reg}/{r}"),
        _ if image.contains('/') => format!("{reg}/{image}"),
        _ => format!("{reg}/library/{image}"),
    }
}

/// The problem of `components.<name>` when no configuration has a component of that name,
/// with the closest name (or the list); `None` for a known name.
pub fn unknown_component(name: &str) -> Option<Diagnostic> {
    let known = known_component_names();
    if known.iter().any(|k| k == name) {
        return None;
    }
    let hint = crate::config::shape::closest(name, known.iter().map(String::as_str)).map_or_else(
        || format!("; components: {}", known.join(", ")),
        |b| format!(", did you mean `{b}`?"),
    );
    Some(Diagnostic::at_key(
        &format!("components.{name}"),
        format!("unknown component `{name}`{hint}"),
    ))
}

/// Builds the stack for a configuration, applying and checking `components.*` overrides.
pub fn build(cfg: &Config) -> Result<Stack, Vec<Diagnostic>> {
    let mut stack = Stack {
        config: cfg.clone(),
        components: Vec::new(),
        config_maps: Vec::new(),
        secrets: Vec::new(),
        selection: Selection::default(),
        stated: Vec::new(),
    };
    add_all(cfg, &mut stack);
    voiceassistant::finish(&mut stack);
    external::apply(cfg, &mut stack);
    let mut diags = secrets::apply(cfg, &mut stack);
    for c in &mut stack.components {
        c.store = (c.kind == WorkloadKind::StatefulSet)
            .then(|| versions::Store::of_image(&c.main().image))
            .flatten();
    }
    stack.stated = stack.components.iter().map(Component::stated).collect();
    for c in &mut stack.components {
        c.placement = match cfg
            .overrides
            .get(&c.name)
            .and_then(|o| o.placement.as_ref())
        {
            Some(p) => p.over(&cfg.placement),
            None => cfg.placement.clone(),
        };
    }
    diags.extend(posthog::check(cfg));
    diags.extend(identity::apply(cfg, &mut stack));
    diags.extend(external::check(cfg));
    // Unknown names past the diagnostics limit are counted, not matched against the catalog;
    // one line says how many (so the listed ones and that line fit the limit).
    let mut unknown = 0usize;
    let limit = crate::config::LIMITS.diagnostics.saturating_sub(1);
    for (name, o) in &cfg.overrides {
        let path = format!("components.{name}");
        if o.external.is_some() {
            // Checked by external::check; nothing of it runs here.
            continue;
        }
        let Some(c) = stack.components.iter_mut().find(|c| &c.name == name) else {
            if !known_component_names().contains(name) {
                unknown += 1;
                if unknown <= limit {
                    diags.extend(unknown_component(name));
                }
            }
            continue;
        };
        if let Some(r) = o.replicas {
            if c.kind == WorkloadKind::Job {
                diags.push(Diagnostic::at_value(
                    &format!("{path}.replicas"),
                    format!(
                        "{name} is a Job, which runs once to completion; replicas apply to Deployments and StatefulSets"
                    ),
                ));
            } else if c.singleton && r != 1 {
                diags.push(Diagnostic::at_value(
                    &format!("{path}.replicas"),
                    format!(
                        "{name} must run exactly one replica ({}), found {r}",
                        c.notes.first().copied().unwrap_or("a singleton")
                    ),
                ));
            } else if c.fixed_replicas && r != c.replicas {
                diags.push(Diagnostic::at_value(
                    &format!("{path}.replicas"),
                    format!(
                        "{name} must run exactly {} replicas ({}), found {r}",
                        c.replicas,
                        c.notes.first().copied().unwrap_or("a fixed set of members")
                    ),
                ));
            } else if r == 0 {
                diags.push(Diagnostic::at_value(
                    &format!("{path}.replicas"),
                    format!(
                        "must be at least 1; disable the group instead of scaling {name} to zero"
                    ),
                ));
            } else {
                c.replicas = r;
                if let Some(a) = &mut c.autoscale {
                    a.hpa.min = r;
                    a.hpa.max = a.hpa.max.max(r);
                }
            }
        }
        if let Some(m) = o.max_replicas {
            match &mut c.autoscale {
                Some(a) if m >= a.hpa.min => a.hpa.max = m,
                Some(a) => diags.push(Diagnostic::at_value(
                    &format!("{path}.maxReplicas"),
                    format!("must be at least the minimum ({}), found {m}", a.hpa.min),
                )),
                None => diags.push(Diagnostic::at_value(
                    &format!("{path}.maxReplicas"),
                    format!("{name} has no autoscaler; set replicas instead"),
                )),
            }
        }
        if let Some(i) = &o.image {
            c.containers[0].image = i.clone();
        }
        let main = &mut c.containers[0].resources;
        if let Some(v) = o.requests.0 {
            main.requests.cpu = v;
        }
        if let Some(v) = o.requests.1 {
            main.requests.memory = v;
        }
        if let Some(v) = o.limits.0 {
            main.limits.cpu = v;
        }
        if let Some(v) = o.limits.1 {
            main.limits.memory = v;
        }
        if main.requests.cpu > main.limits.cpu {
            diags.push(Diagnostic::at_value(
                &format!("{path}.resources"),
                format!(
                    "CPU request {} exceeds the limit {}",
                    main.requests.cpu, main.limits.cpu
                ),
            ));
        }
        if main.requests.memory > main.limits.memory {
            diags.push(Diagnostic::at_value(
                &format!("{path}.resources"),
                format!(
                    "memory request {} exceeds the limit {}",
                    main.requests.memory, main.limits.memory
                ),
            ));
        }
        if let Some(e) = &o.engine_upgrade {
            if c.engine == Some(Engine::Postgresql) && c.kind == WorkloadKind::StatefulSet {
                c.engine_upgrade = Some(e.clone());
            } else {
                diags.push(Diagnostic::at_key(
                    &format!("{path}.engineUpgrade"),
                    format!("{name} is not a PostgreSQL StatefulSet; upgrade-engine moves PostgreSQL databases"),
                ));
            }
        }
        if let Some(s) = o.storage {
            match c.storage.first_mut() {
                Some(st) => st.size = s,
                None => diags.push(Diagnostic::at_value(
                    &format!("{path}.storage"),
                    format!("{name} has no persistent volume"),
                )),
            }
        }
    }
    if unknown > limit {
        diags.push(Diagnostic::at_key(
            "components",
            format!("{} more unknown components", unknown - limit),
        ));
    }
    diags.extend(process_room(&stack));
    if diags.is_empty() {
        Ok(stack)
    } else {
        Err(diags)
    }
}

/// Every pre-forking container's memory limit holds the processes its CPU limit starts.
fn process_room(stack: &Stack) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for c in &stack.components {
        for k in c.containers.iter().chain(&c.init_containers) {
            let Some(p) = &k.processes else { continue };
            let limits = k.resources.limits;
            let n = p.count(limits.cpu);
            let need = p.memory(n);
            if need > limits.memory {
                out.push(Diagnostic::at_value(
                    &format!("components.{}.resources", c.name),
                    format!(
                        "{}: a CPU limit of {} starts {n} process(es) ({}={n}{}), which need {need} at {} each; the memory limit is {}: raise limits.memory to {need} or lower limits.cpu",
                        c.name,
                        limits.cpu,
                        p.env,
                        if p.extra > 0 { format!(", plus {} beside them", p.extra) } else { String::new() },
                        p.footprint,
                        limits.memory
                    ),
                ));
            }
        }
    }
    out
}

/// [`all_component_names`], computed once per process (it loads every profile).
fn known_component_names() -> &'static [String] {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(all_component_names)
}

fn add_all(cfg: &Config, stack: &mut Stack) {
    posthog::add(cfg, stack);
    infra::add(cfg, stack);
    model_router::add(cfg, stack);
    voiceassistant::add(cfg, stack);
}

/// Names of every component any configuration can produce (for override suggestions).
pub fn all_component_names() -> Vec<String> {
    component_names(|_| true)
}

/// The names of components that run pods to keep (Deployments and StatefulSets, no Jobs) in
/// any profile: what `scale` and `restart` act on.
pub fn workload_component_names() -> Vec<String> {
    component_names(|c| c.kind != WorkloadKind::Job)
}

fn component_names(keep: impl Fn(&Component) -> bool) -> Vec<String> {
    let mut names = Vec::new();
    for p in crate::config::PROFILES {
        let Ok((cfg, _)) = crate::config::load(&crate::config::Input {
            profile: Some(p),
            ..Default::default()
        }) else {
            continue;
        };
        let mut s = Stack {
            config: cfg.clone(),
            components: Vec::new(),
            config_maps: Vec::new(),
            secrets: Vec::new(),
            selection: Selection::default(),
            stated: Vec::new(),
        };
        add_all(&cfg, &mut s);
        for c in s.components.into_iter().filter(|c| keep(c)) {
            if !names.contains(&c.name) {
                names.push(c.name);
            }
        }
    }
    names
}

/// The restricted pod security every component gets unless it documents otherwise.
pub fn restricted(uid: i64) -> Security {
    Security {
        uid,
        gid: uid,
        fs_group: uid,
        writable_root_reason: None,
    }
}

impl Component {
    /// A component with the house defaults: one replica, restricted security as `uid`,
    /// 60 s termination grace, a Service, no storage.
    pub fn new(
        name: &str,
        group: Group,
        namespace: &str,
        role: &'static str,
        kind: WorkloadKind,
        tier: Tier,
        uid: i64,
    ) -> Self {
        Component {
            name: name.into(),
            group,
            namespace: namespace.into(),
            role,
            part_of: match group {
                Group::Posthog => "posthog",
                Group::ModelRouter => "model-router",
                Group::Infra | Group::VoiceAssistant => "voiceassistant",
            },
            kind,
            tier,
            replicas: 1,
            autoscale: None,
            singleton: false,
            fixed_replicas: false,
            quorum: false,
            init_containers: Vec::new(),
            containers: Vec::new(),
            volumes: Vec::new(),
            storage: Vec::new(),
            service: kind != WorkloadKind::Job,
            depends_on: Vec::new(),
            external: Vec::new(),
            ingress: None,
            metrics: None,
            security: restricted(uid),
            termination_grace: 60,
            job: None,
            session_affinity: None,
            notes: Vec::new(),
            priority_class: None,
            mesh_sidecar: None,
            blue_green: None,
            scraper: false,
            api_access: false,
            max_surge: 1,
            pod_annotations: Vec::new(),
            parallel_pods: false,
            ui: None,
            engine: None,
            store: None,
            engine_upgrade: None,
            labels: Vec::new(),
            mesh: Mesh::default(),
            placement: crate::config::Placement::default(),
            pods: crate::config::PodMeta::default(),
        }
    }
    /// Adds a scratch volume mounted at `path` in the main container.
    pub fn scratch(mut self, volume: &str, path: &str) -> Self {
        self.volumes.push(Volume {
            name: volume.into(),
            source: VolumeSource::EmptyDir(None),
        });
        if let Some(c) = self.containers.first_mut() {
            c.mounts.push(Mount {
                volume: volume.into(),
                path: path.into(),
                read_only: false,
            });
        }
        self
    }
    /// Adds a persistent volume mounted at `path` in the main container.
    pub fn persistent(mut self, volume: &str, path: &str, size: Bytes) -> Self {
        self.storage.push(Storage {
            name: volume.into(),
            size,
        });
        if let Some(c) = self.containers.first_mut() {
            c.mounts.push(Mount {
                volume: volume.into(),
                path: path.into(),
                read_only: false,
            });
        }
        self
    }
    /// Declares dependencies on other components.
    pub fn needs(mut self, deps: &[&str]) -> Self {
        self.depends_on
            .extend(deps.iter().map(|d| (*d).to_string()));
        self
    }
}

/// A one-replica stateful component that must never scale (single-node database).
pub fn singleton(mut c: Component, why: &'static str) -> Component {
    c.singleton = true;
    c.notes.insert(0, why);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_label_is_the_tag_or_the_digest_prefix() {
        for (image, want) in [
            ("redis:7.2.7-alpine", "7.2.7-alpine"),
            ("registry.local:5000/team/app:1.2", "1.2"),
            ("registry.local:5000/team/app", "unknown"),
            (
                "ghcr.io/a/b@sha256:0123456789abcdef0123",
                "sha256-0123456789ab",
            ),
            ("ghcr.io/a/b:1.0@sha256:abc", "sha256-abc"),
        ] {
            assert_eq!(image_version(image), want, "{image}");
        }
    }
}
