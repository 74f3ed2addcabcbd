//! The krew package, installed through a real `krew` (built from the Go module proxy by
//! `scripts/krew`, see `voice_tests::peers::krew`) and run through a real `kubectl`: the
//! manifest and the archive that `scripts/krew-package` writes must be accepted by krew
//! (schema, platform selector, sha256), and the installed plugin must answer
//! `kubectl voice version` and kubectl's plugin completion.
//!
//! The archive is packed from the binaries this test run built (`scripts/krew-package
//! --bins`), so nothing is compiled again. Needs Go on the first run (krew is then cached
//! in `~/.cache/kubectl-voice/krew/`); without Go the test fails saying so.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The real kubectl: `$KUBECTL`, else the one `scripts/peers` fetches.
fn kubectl() -> PathBuf {
    match std::env::var_os("KUBECTL") {
        Some(k) => PathBuf::from(k),
        None => voice_tests::peers::kubectl().expect("a real kubectl from scripts/peers"),
    }
}

fn version() -> String {
    format!("v{}", env!("CARGO_PKG_VERSION"))
}

/// A krew installation of its own: `KREW_ROOT` in a temporary directory, `kubectl-krew` on
/// `PATH`, and no kubectl-voice on `PATH` but the one krew installs.
struct Krew {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    dist: PathBuf,
    path: String,
}

impl Krew {
    fn new() -> Krew {
        let krew = voice_tests::peers::krew().unwrap_or_else(|e| {
            panic!("this test installs through a real krew built with Go: {e:#}")
        });
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("krew-root");
        let shims = tmp.path().join("shims");
        std::fs::create_dir_all(&shims).unwrap();
        std::os::unix::fs::symlink(&krew, shims.join("kubectl-krew")).unwrap();
        // Keep system tools (tar, sh), drop any directory holding another kubectl-voice.
        let system = std::env::var("PATH").unwrap_or_default();
        let rest: Vec<&str> = system
            .split(':')
            .filter(|d| {
                !d.is_empty()
                    && !Path::new(d).join("kubectl-voice").exists()
                    && !Path::new(d).join("kubectl_complete-voice").exists()
            })
            .collect();
        let path = format!(
            "{}:{}:{}",
            root.join("bin").display(),
            shims.display(),
            rest.join(":")
        );
        let dist = tmp.path().join("dist");
        Krew {
            root,
            dist,
            path,
            _tmp: tmp,
        }
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(kubectl())
            .args(args)
            .env("PATH", &self.path)
            .env("KREW_ROOT", &self.root)
            .env("HOME", self.root.parent().unwrap())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .expect("run kubectl")
    }

    /// `scripts/krew-package` over the binaries this test run built.
    fn package(&self) -> (PathBuf, PathBuf) {
        let bins = Path::new(env!("CARGO_BIN_EXE_kubectl-voice"))
            .parent()
            .unwrap();
        let o = Command::new("bash")
            .arg(voice_tests::repo_root().join("scripts/krew-package"))
            .arg("--bins")
            .arg(bins)
            .arg("--out")
            .arg(&self.dist)
            .output()
            .expect("run scripts/krew-package");
        assert!(o.status.success(), "krew-package: {}", stderr(&o));
        let archive = self
            .dist
            .join(format!("kubectl-voice_{}_linux_amd64.tar.gz", version()));
        assert!(archive.is_file(), "{}", stderr(&o));
        (self.dist.join("voice.yaml"), archive)
    }
}

#[test]
fn krew_installs_the_archive_and_kubectl_runs_the_plugin() {
    let k = Krew::new();
    let (manifest, archive) = k.package();
    let listing = Command::new("tar")
        .arg("tzf")
        .arg(&archive)
        .output()
        .unwrap();
    assert_eq!(
        stdout(&listing),
        "kubectl-voice\nkubectl_complete-voice\nLICENSE\nREADME.md\n"
    );

    // Before: kubectl has no such plugin.
    let o = k.kubectl(&["voice", "version"]);
    assert!(!o.status.success(), "kubectl-voice leaked onto PATH");

    let o = k.kubectl(&[
        "krew",
        "install",
        "--manifest",
        manifest.to_str().unwrap(),
        "--archive",
        archive.to_str().unwrap(),
    ]);
    assert!(
        o.status.success(),
        "krew rejected the package:\n{}{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("Installed plugin: voice"),
        "{}",
        stderr(&o)
    );
    // (`krew list` needs the index, which this offline install never fetches: read the
    // receipt instead.)
    let receipt = std::fs::read_to_string(k.root.join("receipts/voice.yaml")).unwrap();
    assert!(
        receipt.contains(&format!("version: {}", version())),
        "{receipt}"
    );

    // The plugin through kubectl, from krew's bin directory.
    let o = k.kubectl(&["plugin", "list"]);
    let listed = stdout(&o);
    assert!(
        listed.contains(&*k.root.join("bin/kubectl-voice").to_string_lossy()),
        "{listed}{}",
        stderr(&o)
    );
    let o = k.kubectl(&["voice", "version"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("kubectl-voice {} (linux/amd64)\n", version())
    );
    let o = k.kubectl(&["voice", "version", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("version -o json");
    assert_eq!(v["version"], version());
    assert_eq!(v["platform"], "linux/amd64");

    // The installed kubectl-voice completes itself.
    let o = k.kubectl(&["voice", "__complete", "install", "--profile", ""]);
    assert_eq!(stdout(&o), "dev\nsmall\nproduction\n:4\n", "{}", stderr(&o));

    // krew links only `bin`: kubectl's plugin completion finds no kubectl_complete-voice…
    let store = k.root.join("store/voice").join(version());
    assert!(store.join("kubectl_complete-voice").is_file());
    assert!(!k.root.join("bin/kubectl_complete-voice").exists());
    let o = k.kubectl(&["__complete", "voice", "ins"]);
    assert_eq!(stdout(&o), ":0\n", "{}", stderr(&o));
    // …until the user links it as the manifest's caveats (and the README) say.
    let yaml = std::fs::read_to_string(&manifest).unwrap();
    let link = yaml
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("ln -s"))
        .expect("the caveats say how to link kubectl_complete-voice");
    let o = Command::new("sh")
        .args(["-c", link])
        .env("KREW_ROOT", &k.root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{link}: {}", stderr(&o));
    let o = k.kubectl(&["__complete", "voice", "ins"]);
    assert_eq!(
        stdout(&o),
        "install\tCheck, then apply the plan wave by wave, waiting for each wave to be ready\n:4\n",
        "{}",
        stderr(&o)
    );
    let o = k.kubectl(&["__complete", "voice", ""]);
    let listed = stdout(&o);
    let names: Vec<&str> = listed
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    for verb in ["plan", "install", "status", "version", "completion"] {
        assert!(names.contains(&verb), "{verb} in {names:?}");
    }
    let o = k.kubectl(&["__complete", "voice", "restart", "model-r"]);
    assert_eq!(stdout(&o), "model-router\n:4\n", "{}", stderr(&o));
}

#[test]
fn krew_rejects_an_archive_whose_sha256_differs_from_the_manifest() {
    let k = Krew::new();
    let (manifest, archive) = k.package();
    let yaml = std::fs::read_to_string(&manifest).unwrap();
    let line = yaml
        .lines()
        .find(|l| l.trim_start().starts_with("sha256:"))
        .expect("a sha256 in the manifest");
    let wrong = manifest.with_file_name("wrong-sha.yaml");
    let bad = line.replace(
        line.trim_start()
            .trim_start_matches("sha256: ")
            .trim_matches('"'),
        &"0".repeat(64),
    );
    std::fs::write(&wrong, yaml.replace(line, &bad)).unwrap();
    let o = k.kubectl(&[
        "krew",
        "install",
        "--manifest",
        wrong.to_str().unwrap(),
        "--archive",
        archive.to_str().unwrap(),
    ]);
    assert!(!o.status.success(), "krew accepted a wrong sha256");
    assert!(
        stderr(&o).to_lowercase().contains("checksum")
            || stderr(&o).to_lowercase().contains("sha256"),
        "{}",
        stderr(&o)
    );
    assert!(!k.root.join("bin/kubectl-voice").exists());
}
