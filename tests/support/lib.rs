//! Test support shared by the integration test binaries.
//!
//! * [`cluster`]: a real Kubernetes control plane (etcd, kube-apiserver,
//!   kube-controller-manager, kube-scheduler and KWOK fake nodes) started
//!   through `scripts/dev-cluster`, one per test binary ([`cluster::shared`])
//!   or per test ([`cluster::TestCluster::start`]).
//! * [`peers`]: the real `kubectl` and `helm` binaries fetched by
//!   `scripts/peers`, and a real `krew` built by `scripts/krew`.
//! * [`eso`]: the real External Secrets Operator controller (built by
//!   `scripts/external-secrets/build`) on a test cluster, and its `fake` and
//!   `kubernetes` secret stores.

pub mod cluster;
pub mod eso;
pub mod peers;

use std::path::PathBuf;

/// Root of the kubectl-voice repository (the workspace directory).
pub fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
