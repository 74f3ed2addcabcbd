//! `kubectl voice status`: one row per component from one LIST per kind; `--watch`,
//! `--verify`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal as _;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod};
use k8s_openapi::api::networking::v1::Ingress;
use kube::Client;
use kube::api::{Api, ListParams};
use serde::Serialize;
use voice_core::readiness;

use crate::args::ClusterArgs;
use crate::args::{ConfigArgs, Output};
use crate::cluster::inventory::Inventory;
use crate::cluster::{self};
use crate::config;
use crate::error::exit;
use crate::output::{paint, table};

/// One component's state.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Row {
    /// Component.
    pub component: String,
    /// Namespace.
    pub namespace: String,
    /// Workload kind.
    pub kind: String,
    /// Blue-green: this Deployment's colour and whether its Service selects it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<Color>,
    /// Ready replicas.
    pub ready: i32,
    /// Desired replicas.
    pub desired: i32,
    /// The autoscaler, when the component has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hpa: Option<Hpa>,
    /// The claims, when the component has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Volumes>,
    /// Ingress addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// Age in seconds.
    pub age_seconds: i64,
    /// Healthy.
    pub healthy: bool,
    /// Why it is not ready: the diagnosis install prints when a gate times out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A blue-green Deployment's colour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Color {
    /// `blue` or `green`.
    pub color: String,
    /// The Service selects it.
    pub live: bool,
}

/// A component's autoscaler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Hpa {
    /// Replicas now.
    pub current: i32,
    /// Minimum.
    pub min: i32,
    /// Maximum.
    pub max: i32,
}

/// A component's claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Volumes {
    /// Bound claims.
    pub bound: usize,
    /// All claims.
    pub total: usize,
}

/// One health endpoint called by `--verify`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HealthResult {
    /// `component service/path`.
    pub name: String,
    /// It answered.
    pub ok: bool,
    /// `answered`, or the first line of the error.
    pub message: String,
}

/// The status report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Report {
    /// Rows.
    pub components: Vec<Row>,
    /// Everything healthy.
    pub healthy: bool,
    /// LIST requests made.
    pub requests: usize,
    /// Health checks, when verified.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<HealthResult>,
    /// The rollout's claims that no workload of the deployed configuration uses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unused_claims: Vec<voice_core::upgrade::LiveClaim>,
    /// The external data services, as their consumers dial them (with `--verify`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external: Vec<voice_core::catalog::external::Endpoint>,
}

fn component_of(labels: Option<&BTreeMap<String, String>>) -> String {
    labels
        .and_then(|l| l.get("app.kubernetes.io/name"))
        .cloned()
        .unwrap_or_default()
}

fn age(ts: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>, now: i64) -> i64 {
    ts.map_or(0, |t| now - t.0.as_second())
}

/// Lists every kind once (or once per namespace of the rollout, for a user who may not list
/// across the cluster) and builds the rows.
pub(crate) async fn collect(
    client: &Client,
    inv: &Inventory,
    namespaces: &BTreeSet<String>,
) -> anyhow::Result<Report> {
    let lp = ListParams::default().labels(&inv.selector());
    let (deps, stss, jobs, hpas, pvcs, ings) = tokio::try_join!(
        list::<Deployment>(client, namespaces, &lp),
        list::<StatefulSet>(client, namespaces, &lp),
        list::<Job>(client, namespaces, &lp),
        list::<HorizontalPodAutoscaler>(client, namespaces, &lp),
        list::<PersistentVolumeClaim>(client, namespaces, &lp),
        list::<Ingress>(client, namespaces, &lp)
    )?;
    let mut report = build(&Objects {
        deps: deps.iter().collect(),
        stss: stss.iter().collect(),
        jobs: jobs.iter().collect(),
        hpas: hpas.iter().collect(),
        pvcs: pvcs.iter().collect(),
        ings: ings.iter().collect(),
    });
    if cluster::listed_by_namespace() {
        report.requests = 6 * namespaces.len() + 6;
    }
    Ok(report)
}

/// One kind's objects of the rollout, across the cluster or namespace by namespace.
async fn list<K>(
    client: &Client,
    namespaces: &BTreeSet<String>,
    lp: &ListParams,
) -> Result<Vec<K>, kube::Error>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    cluster::across(namespaces, |ns| {
        let api: Api<K> = match &ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        async move { api.list(lp).await.map(|l| l.items) }
    })
    .await
}

/// The objects a report is made of, from LISTs or from watch caches.
struct Objects<'a> {
    deps: Vec<&'a Deployment>,
    stss: Vec<&'a StatefulSet>,
    jobs: Vec<&'a Job>,
    hpas: Vec<&'a HorizontalPodAutoscaler>,
    pvcs: Vec<&'a PersistentVolumeClaim>,
    ings: Vec<&'a Ingress>,
}

/// Fills in why each not-ready row is not ready: one LIST of the rollout's pods and one of
/// events per namespace that has such a row.
async fn explain(client: &Client, instance: &str, report: &mut Report) {
    let namespaces: BTreeSet<String> = report
        .components
        .iter()
        .filter(|r| !r.healthy)
        .map(|r| r.namespace.clone())
        .collect();
    for ns in namespaces {
        let lp = ListParams::default().labels(&format!("app.kubernetes.io/instance={instance}"));
        let pods: Vec<Pod> = Api::<Pod>::namespaced(client.clone(), &ns)
            .list(&lp)
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        let events: Vec<Event> = Api::<Event>::namespaced(client.clone(), &ns)
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        report.requests += 2;
        for row in report
            .components
            .iter_mut()
            .filter(|r| !r.healthy && r.namespace == ns)
        {
            let mine: Vec<Pod> = pods
                .iter()
                .filter(|p| component_of(p.metadata.labels.as_ref()) == row.component)
                .filter(|p| {
                    row.color.as_ref().is_none_or(|k| {
                        p.metadata.labels.as_ref().and_then(|l| l.get("color")) == Some(&k.color)
                    })
                })
                .cloned()
                .collect();
            row.reason = Some(cluster::wait::explain(
                &row.component,
                &row.component,
                &mine,
                &events,
            ));
        }
    }
}

/// One row per workload.
fn build(o: &Objects<'_>) -> Report {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let Objects {
        deps,
        stss,
        jobs,
        hpas,
        pvcs,
        ings,
    } = o;
    let mut rows = Vec::new();
    let hpa_of = |c: &str| {
        hpas.iter()
            .find(|h| component_of(h.metadata.labels.as_ref()) == c)
            .map(|h| {
                let s = h.spec.as_ref();
                Hpa {
                    current: h
                        .status
                        .as_ref()
                        .and_then(|s| s.current_replicas)
                        .unwrap_or(0),
                    min: s.and_then(|s| s.min_replicas).unwrap_or(1),
                    max: s.map_or(0, |s| s.max_replicas),
                }
            })
    };
    let addresses = |c: &str| -> Vec<String> {
        ings.iter()
            .filter(|i| component_of(i.metadata.labels.as_ref()) == c)
            .flat_map(|i| {
                i.status
                    .iter()
                    .flat_map(|s| s.load_balancer.iter())
                    .flat_map(|lb| lb.ingress.iter().flatten())
                    .filter_map(|x| x.ip.clone().or_else(|| x.hostname.clone()))
            })
            .collect()
    };
    for d in deps {
        let c = component_of(d.metadata.labels.as_ref());
        let st = d.status.clone().unwrap_or_default();
        let color = d
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("color"))
            .map(|k| Color {
                color: k.clone(),
                live: d
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(voice_core::render::workload::COLOR_ROLE))
                    .is_some_and(|r| r == "active"),
            });
        rows.push(Row {
            namespace: d.metadata.namespace.clone().unwrap_or_default(),
            kind: "Deployment".into(),
            color,
            ready: st.ready_replicas.unwrap_or(0),
            desired: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            hpa: hpa_of(&c),
            volumes: None,
            addresses: addresses(&c),
            age_seconds: age(d.metadata.creation_timestamp.as_ref(), now),
            healthy: readiness::deployment_available(d),
            reason: None,
            component: c,
        });
    }
    for s in stss {
        let c = component_of(s.metadata.labels.as_ref());
        let claims: Vec<&PersistentVolumeClaim> = pvcs
            .iter()
            .copied()
            .filter(|p| {
                component_of(p.metadata.labels.as_ref()) == c
                    && p.metadata.namespace == s.metadata.namespace
            })
            .collect();
        let bound = claims.iter().filter(|p| readiness::pvc_bound(p)).count();
        rows.push(Row {
            namespace: s.metadata.namespace.clone().unwrap_or_default(),
            kind: "StatefulSet".into(),
            color: None,
            ready: s
                .status
                .as_ref()
                .and_then(|st| st.ready_replicas)
                .unwrap_or(0),
            desired: s.spec.as_ref().and_then(|sp| sp.replicas).unwrap_or(1),
            hpa: None,
            volumes: (!claims.is_empty()).then_some(Volumes {
                bound,
                total: claims.len(),
            }),
            addresses: Vec::new(),
            age_seconds: age(s.metadata.creation_timestamp.as_ref(), now),
            healthy: readiness::statefulset_ready(s) && bound == claims.len(),
            reason: None,
            component: c,
        });
    }
    for j in jobs {
        let done = readiness::job_complete(j);
        rows.push(Row {
            component: component_of(j.metadata.labels.as_ref()),
            namespace: j.metadata.namespace.clone().unwrap_or_default(),
            kind: "Job".into(),
            color: None,
            ready: i32::from(done),
            desired: 1,
            hpa: None,
            volumes: None,
            addresses: Vec::new(),
            age_seconds: age(j.metadata.creation_timestamp.as_ref(), now),
            healthy: done,
            reason: None,
        });
    }
    rows.sort_by(|a, b| (&a.namespace, &a.component).cmp(&(&b.namespace, &b.component)));
    let healthy = !rows.is_empty() && rows.iter().all(|r| r.healthy);
    Report {
        components: rows,
        healthy,
        requests: 6,
        checks: Vec::new(),
        unused_claims: Vec::new(),
        external: Vec::new(),
    }
}

/// Calls each health endpoint of the plan through the service proxy.
pub(crate) async fn verify(
    client: &Client,
    checks: &[voice_core::plan::HealthCheck],
) -> Vec<HealthResult> {
    let mut out = Vec::new();
    for c in checks {
        let path = format!(
            "/api/v1/namespaces/{}/services/{}:{}/proxy{}",
            c.namespace, c.service, c.port, c.path
        );
        let req = http_get(&path);
        let res = match req {
            Ok(r) => client
                .request_text(r)
                .await
                .map_err(|e| crate::error::explain(&e).reason),
            Err(e) => Err(e.to_string()),
        };
        let name = format!("{} {}{}", c.component, c.service, c.path);
        match res {
            Ok(_) => out.push(HealthResult {
                name,
                ok: true,
                message: "answered".into(),
            }),
            Err(e) => out.push(HealthResult {
                name,
                ok: false,
                message: e
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(160)
                    .collect(),
            }),
        }
    }
    out
}

fn http_get(path: &str) -> anyhow::Result<http::Request<Vec<u8>>> {
    Ok(http::Request::get(path).body(Vec::new())?)
}

fn age_str(s: i64) -> String {
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// For people.
pub(crate) fn human(r: &Report) -> String {
    let rows = r
        .components
        .iter()
        .map(|c| {
            vec![
                match &c.color {
                    Some(k) if k.live => format!("{} ({}, live)", c.component, k.color),
                    Some(k) => format!("{} ({}, idle)", c.component, k.color),
                    None => c.component.clone(),
                },
                c.namespace.clone(),
                c.kind.clone(),
                if c.kind == "Job" {
                    if c.healthy {
                        "Complete".into()
                    } else {
                        "Running".into()
                    }
                } else {
                    format!("{}/{}", c.ready, c.desired)
                },
                c.hpa.map_or("-".into(), |h| {
                    format!("{} ({}-{})", h.current, h.min, h.max)
                }),
                c.volumes
                    .map_or("-".into(), |v| format!("{}/{} Bound", v.bound, v.total)),
                if c.addresses.is_empty() {
                    "-".into()
                } else {
                    c.addresses.join(",")
                },
                age_str(c.age_seconds),
                if c.healthy {
                    paint("Ready", "32")
                } else {
                    paint("NotReady", "31")
                },
            ]
        })
        .collect();
    let mut s = table(
        &[
            "COMPONENT",
            "NAMESPACE",
            "KIND",
            "READY",
            "HPA",
            "VOLUMES",
            "ADDRESS",
            "AGE",
            "STATUS",
        ],
        rows,
    );
    s.push('\n');
    for c in r.components.iter().filter(|c| !c.healthy) {
        if let Some(why) = &c.reason {
            s.push_str(&format!(
                "{} {} ({}): {why}\n",
                paint("×", "31"),
                c.component,
                c.namespace
            ));
        }
    }
    for c in &r.checks {
        s.push_str(&format!(
            "{} {}: {}\n",
            if c.ok {
                paint("√", "32")
            } else {
                paint("×", "31")
            },
            c.name,
            c.message,
        ));
    }
    if !r.external.is_empty() {
        s.push_str("\nExternal services (as their consumers dial them; not probed):\n");
        for e in &r.external {
            let ports: Vec<String> = e.ports.iter().map(u16::to_string).collect();
            s.push_str(&format!(
                "  {}: {}:{} {}{}{}\n      used by {}\n",
                e.component,
                e.host,
                ports.join(","),
                if e.tls { "TLS" } else { "plain" },
                match e.verify {
                    Some(false) => ", certificate not checked",
                    _ => "",
                },
                e.secret
                    .as_ref()
                    .map_or_else(String::new, |n| format!(", credentials from Secret {n}")),
                e.consumers.join(", ")
            ));
        }
    }
    s.push_str(&if r.components.is_empty() {
        "\nNothing installed under this inventory\n".to_string()
    } else if r.healthy {
        format!(
            "\n{} ({} components)\n",
            paint("healthy", "32"),
            r.components.len()
        )
    } else {
        let unready = r.components.iter().filter(|c| !c.healthy).count();
        let failed = r.checks.iter().filter(|c| !c.ok).count();
        let mut why = Vec::new();
        if unready > 0 {
            why.push(format!(
                "{unready} of {} components not ready",
                r.components.len()
            ));
        }
        if failed > 0 {
            why.push(format!(
                "{failed} of {} health checks failed",
                r.checks.len()
            ));
        }
        if unready == 0 {
            why.push(format!("all {} components ready", r.components.len()));
        }
        format!("\n{}: {}\n", paint("not healthy", "31"), why.join("; "))
    });
    s.push_str(&cluster::statefulsets::describe_unused(&r.unused_claims));
    s
}

/// How long `--watch` gathers events before it redraws, so a rollout's burst of updates
/// makes one redraw.
const DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(250);

/// Watch caches of every kind a report reads: one LIST and one WATCH per kind for the
/// whole `--watch`, no polling; a report is built from the caches.
struct Caches {
    deps: reflector::Store<Deployment>,
    stss: reflector::Store<StatefulSet>,
    jobs: reflector::Store<Job>,
    hpas: reflector::Store<HorizontalPodAutoscaler>,
    pvcs: reflector::Store<PersistentVolumeClaim>,
    ings: reflector::Store<Ingress>,
}

use kube::runtime::reflector;

/// Changes of any kind; an error is a watch that failed (and is set up again).
type Changes = futures::stream::BoxStream<'static, Result<(), kube::runtime::watcher::Error>>;

/// Starts a reflector per kind; the stream yields once per change of any of them.
fn watch_all(client: &Client, inv: &Inventory) -> (Caches, Changes) {
    use futures::StreamExt as _;
    use kube::runtime::{WatchStreamExt as _, watcher};
    let cfg = watcher::Config::default().labels(&inv.selector());
    fn one<K>(client: &Client, cfg: &watcher::Config) -> (reflector::Store<K>, Changes)
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + std::fmt::Debug
            + serde::de::DeserializeOwned
            + Send
            + Sync
            + 'static,
        K::DynamicType: Default + Eq + std::hash::Hash + Clone,
    {
        let (reader, writer) = reflector::store();
        let changes = reflector(writer, watcher(Api::<K>::all(client.clone()), cfg.clone()))
            .default_backoff()
            .filter_map(|e| async move {
                // A change, or a re-list completed; the pieces of a re-list are not.
                match e {
                    Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_))
                    | Ok(watcher::Event::InitDone) => Some(Ok(())),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                }
            })
            .boxed();
        (reader, changes)
    }
    let (deps, a) = one::<Deployment>(client, &cfg);
    let (stss, b) = one::<StatefulSet>(client, &cfg);
    let (jobs, c) = one::<Job>(client, &cfg);
    let (hpas, d) = one::<HorizontalPodAutoscaler>(client, &cfg);
    let (pvcs, e) = one::<PersistentVolumeClaim>(client, &cfg);
    let (ings, f) = one::<Ingress>(client, &cfg);
    let changes = futures::stream::select_all([a, b, c, d, e, f]).boxed();
    (
        Caches {
            deps,
            stss,
            jobs,
            hpas,
            pvcs,
            ings,
        },
        changes,
    )
}

impl Caches {
    fn report(&self) -> Report {
        let (deps, stss, jobs) = (self.deps.state(), self.stss.state(), self.jobs.state());
        let (hpas, pvcs, ings) = (self.hpas.state(), self.pvcs.state(), self.ings.state());
        build(&Objects {
            deps: deps.iter().map(AsRef::as_ref).collect(),
            stss: stss.iter().map(AsRef::as_ref).collect(),
            jobs: jobs.iter().map(AsRef::as_ref).collect(),
            hpas: hpas.iter().map(AsRef::as_ref).collect(),
            pvcs: pvcs.iter().map(AsRef::as_ref).collect(),
            ings: ings.iter().map(AsRef::as_ref).collect(),
        })
    }

    /// Drives the watches until every cache holds its first LIST; a failure before then is
    /// the command's error (unreachable, forbidden), as without `--watch`.
    async fn ready(&self, changes: &mut Changes) -> anyhow::Result<()> {
        use futures::StreamExt as _;
        let all = async {
            let _ = tokio::join!(
                self.deps.wait_until_ready(),
                self.stss.wait_until_ready(),
                self.jobs.wait_until_ready(),
                self.hpas.wait_until_ready(),
                self.pvcs.wait_until_ready(),
                self.ings.wait_until_ready(),
            );
        };
        tokio::pin!(all);
        loop {
            tokio::select! {
                () = &mut all => return Ok(()),
                next = changes.next() => match next {
                    None => return Ok(()),
                    Some(Ok(())) => {}
                    Some(Err(
                        kube::runtime::watcher::Error::InitialListFailed(e)
                        | kube::runtime::watcher::Error::WatchStartFailed(e)
                        | kube::runtime::watcher::Error::WatchFailed(e),
                    )) => return Err(anyhow::Error::from(e).context("watching the rollout")),
                    Some(Err(e)) => return Err(anyhow::Error::from(e)),
                },
            }
        }
    }
}

/// Waits for the next change, then gathers further changes for [`DEBOUNCE`]. `false` when
/// the watches ended.
async fn next_change(changes: &mut Changes) -> bool {
    use futures::StreamExt as _;
    // A failed watch is set up again with backoff; only a change wakes a redraw.
    loop {
        match changes.next().await {
            None => return false,
            Some(Ok(())) => break,
            Some(Err(_)) => {}
        }
    }
    let quiet = tokio::time::sleep(DEBOUNCE);
    tokio::pin!(quiet);
    loop {
        tokio::select! {
            () = &mut quiet => return true,
            next = changes.next() => if next.is_none() { return true },
        }
    }
}

// The flags of `kubectl voice status`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Configuration (to find the rollout and its health checks).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Keep watching and reprint on every change.
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Call each component's health endpoint through the API server's service proxy.
    #[arg(long)]
    pub verify: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Output,
}

/// Runs the command against the cluster.
pub(crate) async fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    let Args {
        config,
        watch,
        verify,
        output,
    } = args;
    let stack = config::load(&config)?;
    let client = cluster::client(ca).await?;
    let inv = Inventory::of(&stack, ca.namespace.as_deref());
    let checks = if verify {
        voice_core::plan::plan(&stack)
            .waves
            .into_iter()
            .flat_map(|w| w.checks)
            .collect()
    } else {
        Vec::new()
    };
    let finish = async |mut report: Report| -> Report {
        if !stack.selection.is_everything() {
            report
                .components
                .retain(|r| stack.selected_component(&r.component).is_some());
            report.healthy =
                !report.components.is_empty() && report.components.iter().all(|r| r.healthy);
        }
        if verify {
            // Only what is installed is probed (a cloud install has no PostHog).
            let present: Vec<voice_core::plan::HealthCheck> = checks
                .iter()
                .filter(|c| report.components.iter().any(|r| r.component == c.component))
                .cloned()
                .collect();
            report.checks = self::verify(&client, &present).await;
            report.healthy &= report.checks.iter().all(|c| c.ok);
            report.external = voice_core::catalog::external::endpoints(&stack);
        }
        report
    };
    let show = |report: &Report| -> anyhow::Result<String> {
        Ok(match output {
            Output::Table => human(report),
            Output::Json => format!("{}\n", serde_json::to_string_pretty(report)?),
            Output::Yaml => serde_yaml::to_string(report)?,
        })
    };
    if !watch {
        // With --only/--skip, only the selected parts' namespaces are read.
        let namespaces: BTreeSet<String> = stack.selected_namespaces().into_iter().collect();
        let mut report = finish(collect(&client, &inv, &namespaces).await?).await;
        // Reasons need pods and events; `--watch` keeps to its caches and shows the states.
        explain(&client, &inv.instance, &mut report).await;
        // Claims no workload of the deployed configuration uses (kept, counted by quotas).
        // (A user who may not read them sees the report without this line.)
        if let Ok(deployed) = cluster::history::installed(&client, ca, stack.clone()).await
            && let Ok(live) = cluster::statefulsets::live_claims(&client, &deployed).await
        {
            report.unused_claims =
                voice_core::upgrade::claims(&voice_core::render::render(&deployed), &live).unused;
        }
        print!("{}", show(&report)?);
        return Ok(if report.healthy {
            exit::OK
        } else {
            exit::NOT_READY
        });
    }
    // --watch: one LIST and WATCH per kind, a redraw only when what is shown changed,
    // until Ctrl-C.
    let (caches, mut changes) = watch_all(&client, &inv);
    let watching = async {
        caches.ready(&mut changes).await?;
        let mut last = String::new();
        loop {
            let report = finish(caches.report()).await;
            let text = show(&report)?;
            // The age column moves by itself; compare without it.
            let mut still = report.clone();
            for r in &mut still.components {
                r.age_seconds = 0;
            }
            let key = serde_json::to_string(&still)?;
            if key != last {
                if output == Output::Table && std::io::stdout().is_terminal() && !last.is_empty() {
                    print!("\x1b[2J\x1b[H");
                }
                print!("{text}");
                use std::io::Write as _;
                std::io::stdout().flush()?;
                last = key;
            }
            if !next_change(&mut changes).await {
                return anyhow::Ok(());
            }
        }
    };
    tokio::select! {
        r = watching => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(exit::OK)
}
