//! `kubectl voice status`: one row per component from one LIST per kind; `--watch`,
//! `--verify`.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::networking::v1::Ingress;
use kube::Client;
use kube::api::{Api, ListParams};
use serde::Serialize;
use voice_core::readiness;

use crate::args::{ConfigArgs, Output};
use crate::cluster::ClusterArgs;
use crate::inventory::Inventory;
use crate::output::print;
use crate::output::{paint, table};
use crate::{cluster, config, exit, inventory};

/// One component's state.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// Component.
    pub component: String,
    /// Namespace.
    pub namespace: String,
    /// Workload kind.
    pub kind: String,
    /// Ready replicas.
    pub ready: i32,
    /// Desired replicas.
    pub desired: i32,
    /// HPA current / min / max.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hpa: Option<(i32, i32, i32)>,
    /// Claims bound / total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<(usize, usize)>,
    /// Ingress addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// Age in seconds.
    pub age_seconds: i64,
    /// Healthy.
    pub healthy: bool,
}

/// The status report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Rows.
    pub components: Vec<Row>,
    /// Everything healthy.
    pub healthy: bool,
    /// LIST requests made.
    pub requests: usize,
    /// Health checks, when verified.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<(String, bool, String)>,
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

/// Lists every kind once and builds the rows.
pub async fn collect(client: &Client, inv: &Inventory) -> anyhow::Result<Report> {
    let lp = ListParams::default().labels(&inv.selector());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let (d_api, s_api, j_api) = (
        Api::<Deployment>::all(client.clone()),
        Api::<StatefulSet>::all(client.clone()),
        Api::<Job>::all(client.clone()),
    );
    let (h_api, p_api, i_api) = (
        Api::<HorizontalPodAutoscaler>::all(client.clone()),
        Api::<PersistentVolumeClaim>::all(client.clone()),
        Api::<Ingress>::all(client.clone()),
    );
    let (deps, stss, jobs, hpas, pvcs, ings) = tokio::try_join!(
        d_api.list(&lp),
        s_api.list(&lp),
        j_api.list(&lp),
        h_api.list(&lp),
        p_api.list(&lp),
        i_api.list(&lp)
    )?;
    let mut rows = Vec::new();
    let hpa_of = |c: &str| {
        hpas.items
            .iter()
            .find(|h| component_of(h.metadata.labels.as_ref()) == c)
            .map(|h| {
                let s = h.spec.as_ref();
                (
                    h.status
                        .as_ref()
                        .and_then(|s| s.current_replicas)
                        .unwrap_or(0),
                    s.and_then(|s| s.min_replicas).unwrap_or(1),
                    s.map_or(0, |s| s.max_replicas),
                )
            })
    };
    let addresses = |c: &str| -> Vec<String> {
        ings.items
            .iter()
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
    for d in &deps.items {
        let c = component_of(d.metadata.labels.as_ref());
        let st = d.status.clone().unwrap_or_default();
        rows.push(Row {
            namespace: d.metadata.namespace.clone().unwrap_or_default(),
            kind: "Deployment".into(),
            ready: st.ready_replicas.unwrap_or(0),
            desired: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            hpa: hpa_of(&c),
            volumes: None,
            addresses: addresses(&c),
            age_seconds: age(d.metadata.creation_timestamp.as_ref(), now),
            healthy: readiness::deployment_available(d),
            component: c,
        });
    }
    for s in &stss.items {
        let c = component_of(s.metadata.labels.as_ref());
        let claims: Vec<&PersistentVolumeClaim> = pvcs
            .items
            .iter()
            .filter(|p| {
                component_of(p.metadata.labels.as_ref()) == c
                    && p.metadata.namespace == s.metadata.namespace
            })
            .collect();
        let bound = claims.iter().filter(|p| readiness::pvc_bound(p)).count();
        rows.push(Row {
            namespace: s.metadata.namespace.clone().unwrap_or_default(),
            kind: "StatefulSet".into(),
            ready: s
                .status
                .as_ref()
                .and_then(|st| st.ready_replicas)
                .unwrap_or(0),
            desired: s.spec.as_ref().and_then(|sp| sp.replicas).unwrap_or(1),
            hpa: None,
            volumes: Some((bound, claims.len())),
            addresses: Vec::new(),
            age_seconds: age(s.metadata.creation_timestamp.as_ref(), now),
            healthy: readiness::statefulset_ready(s) && bound == claims.len(),
            component: c,
        });
    }
    for j in &jobs.items {
        let done = readiness::job_complete(j);
        rows.push(Row {
            component: component_of(j.metadata.labels.as_ref()),
            namespace: j.metadata.namespace.clone().unwrap_or_default(),
            kind: "Job".into(),
            ready: i32::from(done),
            desired: 1,
            hpa: None,
            volumes: None,
            addresses: Vec::new(),
            age_seconds: age(j.metadata.creation_timestamp.as_ref(), now),
            healthy: done,
        });
    }
    rows.sort_by(|a, b| (&a.namespace, &a.component).cmp(&(&b.namespace, &b.component)));
    let healthy = !rows.is_empty() && rows.iter().all(|r| r.healthy);
    Ok(Report {
        components: rows,
        healthy,
        requests: 6,
        checks: Vec::new(),
    })
}

/// Calls each health endpoint of the plan through the service proxy.
pub async fn verify(
    client: &Client,
    checks: &[voice_core::plan::HealthCheck],
) -> Vec<(String, bool, String)> {
    let mut out = Vec::new();
    for c in checks {
        let path = format!(
            "/api/v1/namespaces/{}/services/{}:{}/proxy{}",
            c.namespace, c.service, c.port, c.path
        );
        let req = http_get(&path);
        let res = match req {
            Ok(r) => client.request_text(r).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let label = format!("{} {}{}", c.component, c.service, c.path);
        match res {
            Ok(_) => out.push((label, true, "answered".into())),
            Err(e) => out.push((
                label,
                false,
                e.lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(160)
                    .collect(),
            )),
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
pub fn human(r: &Report) -> String {
    let rows = r
        .components
        .iter()
        .map(|c| {
            vec![
                c.component.clone(),
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
                c.hpa
                    .map_or("-".into(), |(cur, min, max)| format!("{cur} ({min}-{max})")),
                c.volumes
                    .map_or("-".into(), |(b, t)| format!("{b}/{t} Bound")),
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
    for (label, ok, detail) in &r.checks {
        s.push_str(&format!(
            "{} {label}: {detail}\n",
            if *ok {
                paint("√", "32")
            } else {
                paint("×", "31")
            }
        ));
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
        format!(
            "\n{}: {} of {} components not ready\n",
            paint("not healthy", "31"),
            r.components.iter().filter(|c| !c.healthy).count(),
            r.components.len()
        )
    });
    s
}

/// Waits until a workload of the rollout changes (for `--watch`).
pub async fn wait_for_change(client: &Client, inv: &Inventory) -> anyhow::Result<()> {
    use futures::StreamExt;
    use kube::runtime::watcher;
    let cfg = watcher::Config::default().labels(&inv.selector());
    let d = watcher(Api::<Deployment>::all(client.clone()), cfg.clone())
        .map(|_| ())
        .boxed();
    let s = watcher(Api::<StatefulSet>::all(client.clone()), cfg.clone())
        .map(|_| ())
        .boxed();
    let j = watcher(Api::<Job>::all(client.clone()), cfg)
        .map(|_| ())
        .boxed();
    let mut all = futures::stream::select(d, futures::stream::select(s, j)).skip(3);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(60), all.next()).await;
    Ok(())
}

/// The flags of `kubectl voice status`.
#[derive(Debug, clap::Args)]
pub struct Args {
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
pub async fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    let Args {
        config,
        watch,
        verify,
        output,
    } = args;
    let stack = config::load(&config)?;
    let client = cluster::client(ca).await?;
    let inv = inventory::Inventory::of(&stack, ca.namespace.as_deref());
    let checks = if verify {
        voice_core::plan::plan(&stack)
            .waves
            .into_iter()
            .flat_map(|w| w.checks)
            .collect()
    } else {
        Vec::new()
    };
    loop {
        let mut report = collect(&client, &inv).await?;
        if !stack.selection.is_everything() {
            report.components.retain(|r| {
                stack
                    .component(&r.component)
                    .is_some_and(|c| stack.selection.includes(c))
            });
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
            report.healthy &= report.checks.iter().all(|c| c.1);
        }
        match output {
            Output::Table => print!("{}", human(&report)),
            o => print(o, &report)?,
        }
        if !watch {
            return Ok(if report.healthy {
                exit::OK
            } else {
                exit::NOT_READY
            });
        }
        wait_for_change(&client, &inv).await?;
        if output == Output::Table && std::io::stdout().is_terminal() {
            print!("\x1b[2J\x1b[H");
        }
    }
}
