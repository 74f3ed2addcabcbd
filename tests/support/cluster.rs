//! A real Kubernetes control plane for integration tests.
//!
//! The cluster is started by `scripts/dev-cluster up` (the same script people
//! use by hand) with the binaries built by `scripts/control-plane/build`:
//! etcd, kube-apiserver, kube-controller-manager and kube-scheduler of one
//! Kubernetes v1.34 release, plus KWOK, which simulates the nodes and makes
//! scheduled pods Running and Ready. A default StorageClass `standard` binds
//! PVCs through the controller-manager's hostPath provisioner.
//!
//! * [`shared`] starts one cluster per test binary on first use (default
//!   shape: 3 nodes of 8 CPU / 16 GiB) and hands the same one to every test;
//!   tests isolate themselves with [`create_namespace`].
//! * [`TestCluster::start`] starts a private cluster with other [`Options`]
//!   (node shapes, CRD sets); it is stopped when the value is dropped.
//!
//! Statics are never dropped in Rust, so the script is given the test
//! process id (`--parent-pid`): its watchdog stops every process of the
//! cluster and removes its state directory once the test binary exits.
//!
//! Set `VOICE_TEST_KUBECONFIG` to a kubeconfig to make [`shared`] use an
//! already running cluster (e.g. one from `scripts/dev-cluster up`) instead.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::await_condition;
use kube::{Api, Client, Config};

/// Environment variable naming the kubeconfig of an existing cluster that
/// [`shared`] should use instead of starting one.
pub const KUBECONFIG_ENV: &str = "VOICE_TEST_KUBECONFIG";

/// Default node shape: three nodes with 8 CPU and 16 GiB each.
pub const DEFAULT_NODES: &str = "3x8cpu16Gi";

/// How to start a [`TestCluster`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Node shapes in the `scripts/dev-cluster --nodes` syntax:
    /// comma-separated `COUNTxCPUcpuMEMORY[PODSpods]`, e.g. `3x8cpu16Gi`
    /// or `2x4cpu8Gi,1x64cpu256Gi250pods`.
    pub nodes: String,
    /// Extra CRD sets to install and wait for (`istio`, `servicemonitor`).
    pub crds: Vec<String>,
    /// Readiness deadline; `None` lets the script choose (90 s + nodes/10).
    pub timeout: Option<Duration>,
}

impl Options {
    /// Room for the production profile: 8 nodes of 8 CPU / 16 GiB, with the Istio and
    /// ServiceMonitor CRDs it renders objects of.
    pub fn production() -> Options {
        Options {
            nodes: "8x8cpu16Gi".into(),
            crds: vec!["istio".into(), "servicemonitor".into()],
            ..Options::default()
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            nodes: DEFAULT_NODES.to_string(),
            crds: Vec::new(),
            timeout: None,
        }
    }
}

/// A running control plane. Dropping a cluster made by
/// [`TestCluster::start`] stops it; the [`shared`] one is stopped by the
/// watchdog when the test process exits.
#[derive(Debug)]
pub struct TestCluster {
    dir: Option<PathBuf>,
    kubeconfig: PathBuf,
}

impl TestCluster {
    /// Starts a new cluster with `options` and waits until its nodes are
    /// Ready. Fails with the script's output (including log tails) if the
    /// cluster does not come up, or with the build command to run if the
    /// control-plane binaries have not been built.
    pub fn start(options: Options) -> Result<TestCluster> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "voice-tests-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let script = dev_cluster_script();
        let mut cmd = Command::new("bash");
        cmd.arg(&script)
            .arg("up")
            .arg("--dir")
            .arg(&dir)
            .arg("--nodes")
            .arg(&options.nodes)
            .arg("--parent-pid")
            .arg(std::process::id().to_string());
        if !options.crds.is_empty() {
            cmd.arg("--crds").arg(options.crds.join(","));
        }
        if let Some(t) = options.timeout {
            cmd.arg("--timeout").arg(t.as_secs().max(1).to_string());
        }
        let out = cmd
            .output()
            .with_context(|| format!("running {} up", script.display()))?;
        if !out.status.success() {
            bail!(
                "`{} up --nodes {}` failed ({}). If the control-plane binaries are missing, \
                 build them with `{}`.\n{}",
                script.display(),
                options.nodes,
                out.status,
                crate::repo_root()
                    .join("scripts/control-plane/build")
                    .display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let kubeconfig = dir.join("kubeconfig");
        if !kubeconfig.is_file() {
            bail!(
                "{} up succeeded but wrote no {}",
                script.display(),
                kubeconfig.display()
            );
        }
        Ok(TestCluster {
            dir: Some(dir),
            kubeconfig,
        })
    }

    /// Uses an already running cluster; it is never stopped by this value.
    pub fn existing(kubeconfig: impl Into<PathBuf>) -> TestCluster {
        TestCluster {
            dir: None,
            kubeconfig: kubeconfig.into(),
        }
    }

    /// Path of the admin kubeconfig (context `voice-dev` for started
    /// clusters), usable by kube-rs, `kubectl` and `kubectl voice`.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// State directory of a cluster started by this process (PKI, logs,
    /// etcd data); `None` for an [`existing`](TestCluster::existing) one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// A new kube-rs client for this cluster. Create one per test: a client
    /// is tied to the tokio runtime it was made on.
    pub async fn client(&self) -> Result<Client> {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig)
            .with_context(|| format!("reading {}", self.kubeconfig.display()))?;
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .context("loading the test cluster kubeconfig")?;
        Client::try_from(config).context("building a kube client")
    }

    /// The real `kubectl` (from `scripts/peers`) with `--kubeconfig` set to
    /// this cluster.
    pub fn kubectl(&self) -> Result<Command> {
        let mut cmd = Command::new(crate::peers::kubectl()?);
        cmd.arg("--kubeconfig").arg(&self.kubeconfig);
        Ok(cmd)
    }

    /// Stops the cluster now (`scripts/dev-cluster down`) and removes its
    /// state directory. Does nothing for an existing cluster.
    pub fn stop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = Command::new("bash")
                .arg(dev_cluster_script())
                .arg("down")
                .arg("--dir")
                .arg(&dir)
                .output();
        }
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The cluster shared by all tests of this test binary, started on first
/// use with [`Options::default`] (or taken from `VOICE_TEST_KUBECONFIG`).
///
/// # Panics
/// If the cluster cannot be started; every later call panics with the same
/// message instead of trying again.
pub fn shared() -> &'static TestCluster {
    static SHARED: OnceLock<std::result::Result<TestCluster, String>> = OnceLock::new();
    let cluster = SHARED.get_or_init(|| match std::env::var_os(KUBECONFIG_ENV) {
        Some(path) => Ok(TestCluster::existing(path)),
        None => TestCluster::start(Options::default()).map_err(|e| format!("{e:#}")),
    });
    match cluster {
        Ok(c) => c,
        Err(e) => panic!("shared test cluster unavailable: {e}"),
    }
}

/// Creates a namespace with a unique name starting with `prefix` and the
/// given labels, and waits until its `default` ServiceAccount exists (pods
/// are rejected before that). Returns the namespace name.
pub async fn create_namespace(
    client: &Client,
    prefix: &str,
    labels: &[(&str, &str)],
) -> Result<String> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = format!(
        "{prefix}-{:x}{:x}{}",
        std::process::id(),
        nanos % 0xfff,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
    wait(
        Duration::from_secs(30),
        &format!("ServiceAccount {name}/default"),
        await_condition(sas, "default", |sa: Option<&ServiceAccount>| sa.is_some()),
    )
    .await?;
    Ok(name)
}

/// Awaits `fut` (typically [`await_condition`]) for at most `limit`, with a
/// readable error naming `what` on timeout.
pub async fn wait<T, E>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = std::result::Result<T, E>>,
) -> Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.with_context(|| format!("waiting for {what}")),
        Err(_) => bail!("timed out after {limit:?} waiting for {what}"),
    }
}

fn dev_cluster_script() -> PathBuf {
    crate::repo_root().join("scripts/dev-cluster")
}
