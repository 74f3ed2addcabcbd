//! The real External Secrets Operator (ESO) on a test cluster, and secret stores that need
//! no cloud.
//!
//! `scripts/external-secrets/build` builds the controller from the Go module proxy
//! (`github.com/external-secrets/external-secrets` v0.16.2, which serves
//! `external-secrets.io/v1` and `v1beta1`) and copies the module's `deploy/crds/bundle.yaml`
//! beside it; `scripts/test` exports its bin directory as `VOICE_ESO_BIN`.
//!
//! * [`installed`] finds that build (or says why not, or `None` to skip).
//! * [`EsoController::start`] installs the CRDs on a cluster and runs the controller as a
//!   local process with `KUBECONFIG` (its only kubeconfig input), no leader election, no
//!   metrics listener and no webhook or cert controller (one per cluster: without leader
//!   election two would both reconcile).
//! * Stores: [`fake_store`] (a ClusterSecretStore whose `fake` provider serves a list of
//!   keys; [`fake_store_from_document`] loads it from `secrets export --format store`) and [`kubernetes_store`] (a ClusterSecretStore whose `kubernetes` provider reads
//!   the Secrets of one namespace through the API server's loopback URL, as a ServiceAccount
//!   with read rights there alone).
//!
//! Everything goes through the real `kubectl` of [`crate::peers`].

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cluster::TestCluster;

/// Environment variable naming the bin directory of the ESO build.
pub const BIN_ENV: &str = "VOICE_ESO_BIN";

/// API version of every ESO object the tests write.
pub const API_VERSION: &str = "external-secrets.io/v1";

/// A built controller and the CRDs of the same module version.
#[derive(Debug, Clone)]
pub struct Install {
    /// The `external-secrets` binary.
    pub controller: PathBuf,
    /// The module's `deploy/crds/bundle.yaml`.
    pub crds: PathBuf,
}

impl Install {
    fn in_bin_dir(bin: &Path) -> Result<Install> {
        let install = Install {
            controller: bin.join("external-secrets"),
            crds: bin.join("../crds/bundle.yaml"),
        };
        for f in [&install.controller, &install.crds] {
            if !f.is_file() {
                bail!(
                    "{} is missing: the ESO build in {} is incomplete; run {}",
                    f.display(),
                    bin.display(),
                    build_script().display()
                );
            }
        }
        Ok(install)
    }
}

/// The ESO build: from `VOICE_ESO_BIN`, else a cached build of `scripts/external-secrets/build`.
/// `Ok(None)` when there is none and `VOICE_REQUIRE_KUBECTL` is unset (the test skips);
/// an error naming the build command when it is set.
pub fn installed() -> Result<Option<Install>> {
    if let Some(bin) = std::env::var_os(BIN_ENV) {
        return Install::in_bin_dir(Path::new(&bin)).map(Some);
    }
    let out = Command::new("bash")
        .arg(build_script())
        .arg("--print-dir")
        .output()
        .with_context(|| format!("running {} --print-dir", build_script().display()))?;
    let printed = String::from_utf8_lossy(&out.stdout);
    if out.status.success()
        && let Some(bin) = printed.lines().last()
    {
        return Install::in_bin_dir(Path::new(bin.trim())).map(Some);
    }
    if std::env::var_os("VOICE_REQUIRE_KUBECTL").is_some() {
        bail!(
            "{BIN_ENV} is not set and no cached ESO build exists: scripts/test builds it; \
             by hand run {} and export {BIN_ENV}=<the directory it prints>",
            build_script().display()
        );
    }
    eprintln!(
        "skipped: no External Secrets Operator build ({BIN_ENV} unset; scripts/test sets it)"
    );
    Ok(None)
}

/// The ESO controller running as a local process against one cluster, restarted when it
/// exits as a kubelet restarts a crashed pod (`restartPolicy: Always`). Dropping it stops the
/// process; a watchdog also stops it when the test process exits (statics are never dropped).
///
/// Why restart: the `fake` provider's `NewClient` writes a map shared by every reconcile
/// without a lock (`pkg/provider/fake/fake.go:64-92@v0.16.2`), so two reconciles at once can
/// end the process with "fatal error: concurrent map writes". `--concurrent=1` makes that rare
/// (the store and ExternalSecret controllers still run side by side), the restart makes it
/// harmless, and [`EsoController::restarts`] counts it.
#[derive(Debug)]
pub struct EsoController {
    process: Arc<Supervised>,
    log: PathBuf,
    kubeconfig: PathBuf,
}

/// The running process, shared with the thread that restarts it.
#[derive(Debug)]
struct Supervised {
    child: Mutex<Child>,
    controller: PathBuf,
    stopping: AtomicBool,
    restarts: AtomicUsize,
}

impl EsoController {
    /// Installs the CRDs on `cluster` (server-side apply, then waits until they are
    /// Established), starts the controller and waits until its ExternalSecret and
    /// ClusterSecretStore reconcilers run. Run one per cluster at a time.
    pub fn start(cluster: &TestCluster, install: &Install) -> Result<EsoController> {
        let kubeconfig = cluster.kubeconfig_path().to_path_buf();
        install_crds(cluster, &install.crds)?;
        let log_dir = match cluster.dir() {
            Some(d) => d.join("logs"),
            None => std::env::temp_dir(),
        };
        std::fs::create_dir_all(&log_dir)
            .with_context(|| format!("creating {}", log_dir.display()))?;
        let log = log_dir.join(format!("external-secrets-{}.log", std::process::id()));
        File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let child = spawn(&install.controller, &kubeconfig, &log)?;
        let mut eso = EsoController {
            process: Arc::new(Supervised {
                child: Mutex::new(child),
                controller: install.controller.clone(),
                stopping: AtomicBool::new(false),
                restarts: AtomicUsize::new(0),
            }),
            log,
            kubeconfig,
        };
        eso.await_workers()?;
        eso.supervise();
        Ok(eso)
    }

    /// How often the controller exited and was started again.
    pub fn restarts(&self) -> usize {
        self.process.restarts.load(Ordering::SeqCst)
    }

    /// Starts the thread that restarts the controller whenever it exits, until [`Self::stop`].
    fn supervise(&self) {
        let process = Arc::clone(&self.process);
        let (kubeconfig, log) = (self.kubeconfig.clone(), self.log.clone());
        std::thread::spawn(move || {
            while !process.stopping.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(200));
                let mut child = process.child.lock().unwrap_or_else(|e| e.into_inner());
                let Ok(Some(status)) = child.try_wait() else {
                    continue;
                };
                if process.stopping.load(Ordering::SeqCst) {
                    break;
                }
                let note =
                    format!("[test harness] the controller exited ({status}); restarting it\n");
                if let Ok(mut f) = OpenOptions::new().append(true).open(&log) {
                    let _ = f.write_all(note.as_bytes());
                }
                match spawn(&process.controller, &kubeconfig, &log) {
                    Ok(next) => {
                        *child = next;
                        process.restarts.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => {
                        eprintln!("restarting the ESO controller failed: {e:#}");
                        break;
                    }
                }
            }
        });
    }

    /// Path of the controller's log (stdout and stderr).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last `lines` lines of the controller's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The `Ready` condition of `kind/name` (in `namespace`, if namespaced) as
    /// `"<status> <reason>: <message>"`, empty while it has none.
    pub fn ready_condition(
        &self,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<String> {
        let jsonpath = "jsonpath={range .status.conditions[?(@.type==\"Ready\")]}{.status} {.reason}: {.message}{end}";
        let mut args = vec!["get", kind, name, "-o", jsonpath];
        if let Some(ns) = namespace {
            args.extend(["-n", ns]);
        }
        kubectl_out(&self.kubeconfig, &args)
    }

    /// Waits until the `Ready` condition of `kind/name` (in `namespace`, if namespaced) is
    /// True; on timeout fails with the condition and the controller's log tail.
    pub fn wait_ready(
        &self,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        limit: Duration,
    ) -> Result<()> {
        let mut last = String::new();
        let ok = poll(limit, || {
            last = self
                .ready_condition(kind, namespace, name)
                .unwrap_or_else(|e| format!("{e:#}"));
            last.starts_with("True ")
        });
        if !ok {
            bail!(
                "{kind} {}{name} was not Ready after {limit:?} (Ready condition: {last:?}); \
                 the controller's log ({}) ends:\n{}",
                namespace.map(|n| format!("{n}/")).unwrap_or_default(),
                self.log.display(),
                self.log_tail(30)
            );
        }
        Ok(())
    }

    /// Asks the controller to refresh an ExternalSecret now, by changing an annotation (ESO's
    /// documented manual refresh), instead of waiting for its `refreshInterval`.
    pub fn force_sync(&self, namespace: &str, name: &str) -> Result<()> {
        let stamp = format!(
            "force-sync={}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        kubectl_out(
            &self.kubeconfig,
            &[
                "annotate",
                "externalsecret",
                "-n",
                namespace,
                name,
                &stamp,
                "--overwrite",
            ],
        )
        .map(drop)
    }

    /// Stops the controller (SIGKILL; it holds no state of its own).
    pub fn stop(&mut self) {
        self.process.stopping.store(true, Ordering::SeqCst);
        let mut child = self.process.child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Waits until the ExternalSecret and ClusterSecretStore controllers start their workers,
    /// failing with the log tail if the process exits or they do not within 60 s.
    fn await_workers(&mut self) -> Result<()> {
        let started = Instant::now();
        loop {
            let exited = self
                .process
                .child
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .try_wait()?;
            if let Some(status) = exited {
                bail!(
                    "the ESO controller exited ({status}) while starting; its log ({}) ends:\n{}",
                    self.log.display(),
                    self.log_tail(30)
                );
            }
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let running = |c: &str| {
                log.lines()
                    .any(|l| l.contains("Starting workers") && l.contains(&format!("\"{c}\"")))
            };
            if running("externalsecret") && running("clustersecretstore") {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!(
                    "the ESO controller started no workers within 60 s; its log ({}) ends:\n{}",
                    self.log.display(),
                    self.log_tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for EsoController {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Applies (creates or replaces) ClusterSecretStore `name` whose `fake` provider serves
/// `data` as `key → value`. A value may be a JSON object: an ExternalSecret's
/// `remoteRef.property` then picks one of its fields (gjson path,
/// `pkg/provider/fake/fake.go@ec12919`), the shape of Vault or the `kubernetes` provider.
/// Changing a value and applying again is a rotation in the store.
pub fn fake_store(cluster: &TestCluster, name: &str, data: &[(&str, &str)]) -> Result<()> {
    let entries: Vec<serde_json::Value> = data
        .iter()
        .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
        .collect();
    let store = serde_json::json!({
        "apiVersion": API_VERSION,
        "kind": "ClusterSecretStore",
        "metadata": {"name": name},
        "spec": {"provider": {"fake": {"data": entries}}},
    });
    apply(cluster, &store.to_string())
}

/// Applies ClusterSecretStore `name` whose `fake` provider serves a store document in the
/// shape `kubectl voice secrets export --format store` writes: a JSON object of remote key →
/// value (a string), or remote key → object of property → value (served as that object's
/// JSON, from which `remoteRef.property` picks).
pub fn fake_store_from_document(
    cluster: &TestCluster,
    name: &str,
    document: &serde_json::Value,
) -> Result<()> {
    let entries: Vec<(&str, String)> = document
        .as_object()
        .context("a store document is a JSON object of remote key → value")?
        .iter()
        .map(|(key, value)| {
            let value = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (key.as_str(), value)
        })
        .collect();
    let pairs: Vec<(&str, &str)> = entries.iter().map(|(k, v)| (*k, v.as_str())).collect();
    fake_store(cluster, name, &pairs)
}

/// Applies ClusterSecretStore `name` whose `kubernetes` provider reads the Secrets of
/// `namespace` (an ExternalSecret's `remoteRef.key` names a Secret there, `property` one of
/// its keys). It talks to the API server at the kubeconfig's loopback URL, trusts the
/// namespace's `kube-root-ca.crt`, and authenticates as ServiceAccount `eso-reader` of that
/// namespace, which this creates with get/list/watch on Secrets there and nothing else.
/// Write the Secrets with [`put_secret`].
pub fn kubernetes_store(cluster: &TestCluster, name: &str, namespace: &str) -> Result<()> {
    let server = api_server_url(cluster.kubeconfig_path())?;
    let reader = "eso-reader";
    let objects = serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": {"name": reader, "namespace": namespace}},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
             "metadata": {"name": reader, "namespace": namespace},
             "rules": [{"apiGroups": [""], "resources": ["secrets"],
                        "verbs": ["get", "list", "watch"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
             "metadata": {"name": reader, "namespace": namespace},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": reader},
             "subjects": [{"kind": "ServiceAccount", "name": reader, "namespace": namespace}]},
            {"apiVersion": API_VERSION, "kind": "ClusterSecretStore",
             "metadata": {"name": name},
             "spec": {"provider": {"kubernetes": {
                 "remoteNamespace": namespace,
                 "server": {
                     "url": server,
                     "caProvider": {"type": "ConfigMap", "name": "kube-root-ca.crt",
                                    "key": "ca.crt", "namespace": namespace},
                 },
                 "auth": {"serviceAccount": {"name": reader, "namespace": namespace}},
             }}}},
        ],
    });
    apply(cluster, &objects.to_string())
}

/// Creates or replaces Secret `namespace/name` with `data` (the store side of
/// [`kubernetes_store`]); changing a value is a rotation in the store.
pub fn put_secret(
    cluster: &TestCluster,
    namespace: &str,
    name: &str,
    data: &[(&str, &str)],
) -> Result<()> {
    let string_data: serde_json::Map<String, serde_json::Value> = data
        .iter()
        .map(|(k, v)| ((*k).to_string(), serde_json::Value::from(*v)))
        .collect();
    let secret = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "stringData": string_data,
    });
    apply(cluster, &secret.to_string())
}

/// The decoded value of `key` in Secret `namespace/name`; `None` while the Secret or the
/// key does not exist.
pub fn secret_value(
    cluster: &TestCluster,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<Option<String>> {
    let template =
        format!("go-template={{{{with index .data \"{key}\"}}}}={{{{base64decode .}}}}{{{{end}}}}");
    let mut cmd = cluster.kubectl()?;
    let out = cmd
        .args(["get", "secret", "-n", namespace, name, "-o", &template])
        .output()
        .context("running kubectl get secret")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("NotFound") || err.contains("not found") {
            return Ok(None);
        }
        bail!("kubectl get secret {namespace}/{name}: {err}");
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .strip_prefix('=')
        .map(str::to_string))
}

/// Polls [`secret_value`] until `key` of Secret `namespace/name` equals `want`; on timeout
/// fails naming what it last held (never the value itself).
pub fn wait_secret_value(
    cluster: &TestCluster,
    namespace: &str,
    name: &str,
    key: &str,
    want: &str,
    limit: Duration,
) -> Result<()> {
    let mut last = Ok(None);
    if poll(limit, || {
        last = secret_value(cluster, namespace, name, key);
        matches!(&last, Ok(Some(v)) if v == want)
    }) {
        return Ok(());
    }
    let held = match last {
        Ok(None) => "no such Secret or key".to_string(),
        Ok(Some(_)) => "another value".to_string(),
        Err(e) => format!("{e:#}"),
    };
    bail!(
        "Secret {namespace}/{name} key {key} did not get the store's value within {limit:?}: {held}"
    )
}

/// `kubectl apply --server-side` of a JSON or YAML stream on `cluster`.
pub fn apply(cluster: &TestCluster, manifest: &str) -> Result<()> {
    let mut child = cluster
        .kubectl()?
        .args([
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=voice-tests",
            "-f",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running kubectl apply")?;
    child
        .stdin
        .take()
        .context("kubectl's stdin")?
        .write_all(manifest.as_bytes())
        .context("writing to kubectl apply")?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "kubectl apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Server-side apply of the CRD bundle (its largest CRDs exceed the client-side
/// last-applied annotation limit), then waits until every one of them is Established.
fn install_crds(cluster: &TestCluster, bundle: &Path) -> Result<()> {
    let file = bundle.display().to_string();
    let kubeconfig = cluster.kubeconfig_path();
    kubectl_out(
        kubeconfig,
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=voice-tests",
            "-f",
            &file,
        ],
    )
    .with_context(|| format!("installing the ESO CRDs from {file}"))?;
    kubectl_out(
        kubeconfig,
        &[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "-f",
            &file,
        ],
    )
    .with_context(|| format!("waiting for the ESO CRDs of {file} to be Established"))
    .map(drop)
}

/// Runs the real `kubectl` with `KUBECONFIG`; its stdout, or an error with its stderr.
fn kubectl_out(kubeconfig: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(crate::peers::kubectl()?)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .context("running kubectl")?;
    if !out.status.success() {
        bail!(
            "kubectl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The API server URL of the kubeconfig's current context (a 127.0.0.1 URL for the test
/// clusters: ESO runs on this machine and must never be pointed at a Service address).
fn api_server_url(kubeconfig: &Path) -> Result<String> {
    let config = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let context = config.current_context.as_deref().unwrap_or_default();
    let cluster_name = config
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .with_context(|| format!("{}: no current context", kubeconfig.display()))?;
    config
        .clusters
        .iter()
        .find(|c| c.name == cluster_name)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.server.clone())
        .with_context(|| {
            format!(
                "{}: cluster {cluster_name} has no server",
                kubeconfig.display()
            )
        })
}

/// Starts the controller with its log appended to `log`, and its watchdog.
fn spawn(controller: &Path, kubeconfig: &Path, log: &Path) -> Result<Child> {
    let out = OpenOptions::new()
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    let err = out.try_clone()?;
    let child = Command::new(controller)
        .args([
            "--enable-leader-election=false",
            // controller-runtime reads "0" as: no metrics listener.
            "--metrics-addr=0",
            // One reconcile at a time per controller: the fake provider is not thread-safe.
            "--concurrent=1",
            "--loglevel=info",
            "--zap-time-encoding=iso8601",
        ])
        .env("KUBECONFIG", kubeconfig)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(|| format!("starting {}", controller.display()))?;
    watch_parent(child.id())?;
    Ok(child)
}

/// Starts a shell that kills process `pid` once this test process has exited.
fn watch_parent(pid: u32) -> Result<()> {
    Command::new("sh")
        .args([
            "-c",
            "while kill -0 \"$1\" 2>/dev/null && kill -0 \"$2\" 2>/dev/null; do sleep 1; done; \
             kill -9 \"$2\" 2>/dev/null",
            "eso-watchdog",
            &std::process::id().to_string(),
            &pid.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the ESO watchdog")
        .map(drop)
}

/// Calls `check` every 500 ms until it returns true or `limit` passes; true if it did.
fn poll(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    loop {
        if check() {
            return true;
        }
        if started.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn build_script() -> PathBuf {
    crate::repo_root().join("scripts/external-secrets/build")
}
