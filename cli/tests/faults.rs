//! Faults, end to end on a private control plane: an install that rides through an API
//! server outage in the same run, one writer at a time, and a chaos run (installs killed at
//! random points and the API server restarted mid-install) that converges with every Secret
//! value and claim kept. Bounded in time; run with `--nocapture` for the figures.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Release, SERIAL, bin, text};
use voice_tests::cluster::{Options, TestCluster};

fn cluster() -> &'static TestCluster {
    static CLUSTER: OnceLock<TestCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        TestCluster::start(Options {
            nodes: "4x8cpu16Gi".into(),
            ..Options::default()
        })
        .expect("a control plane for the fault tests")
    })
}

/// Kills the API server, waits `down`, and starts it again with the same command line;
/// returns once it answers. The new process is recorded in the cluster's pid file, so the
/// cluster's teardown stops it (it is not waited for here).
#[allow(clippy::zombie_processes)]
fn bounce_apiserver(dir: &Path, down: Duration, r: &Release) {
    let pid_file = dir.join("pids/kube-apiserver");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("the API server's pid")
        .trim()
        .parse()
        .expect("a pid");
    let argv: Vec<String> = std::fs::read(format!("/proc/{pid}/cmdline"))
        .expect("the API server's command line")
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    std::thread::sleep(down);
    let log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join("logs/kube-apiserver.log"))
        .expect("the API server's log");
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start the API server again");
    std::fs::write(&pid_file, child.id().to_string()).expect("record the pid");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let ok = Command::new(common::kubectl())
            .args(["get", "--raw", "/readyz"])
            .env("KUBECONFIG", &r.kubeconfig)
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("the API server did not come back");
}

#[test]
fn an_install_rides_through_an_api_server_outage() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let c = cluster();
    let r = Release::on(c, "fault-a");
    // The claims the stateful wave waits on, from the plan's gates.
    let o = r.run("plan", &["-o", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let claims = plan["waves"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|w| w["gates"].as_array().into_iter().flatten())
        .filter(|g| g["kind"] == "pvcBound")
        .count();
    assert!(claims > 0, "the plan waits on no claim");
    let child = Command::new(bin())
        .args(r.args("install", &["--timeout", "3m"]))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start install");
    let t = Instant::now();
    // Mid-install: the namespaces and config are written, the stateful wave is under way and
    // its claims are provisioned. (An outage while the controller-manager provisions a volume
    // puts that claim into the provisioner's retry backoff, minutes long on its own clock,
    // which no client can shorten: the outage waits for the claims, whatever the load.)
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let phases = r.kubectl(&[
            "get",
            "pvc",
            "-A",
            "-o",
            "jsonpath={range .items[*]}{.metadata.namespace} {.status.phase}{\"\\n\"}{end}",
        ]);
        let bound = phases
            .lines()
            .filter(|l| l.starts_with("fault-a-") && l.ends_with(" Bound"))
            .count();
        if bound >= claims {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{bound} of {claims} claims Bound after 120 s, before any outage"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    bounce_apiserver(
        c.dir().expect("a private cluster"),
        Duration::from_secs(10),
        &r,
    );
    let o = child.wait_with_output().expect("install");
    eprintln!(
        "install through a 10 s outage: {:.1} s in all",
        t.elapsed().as_secs_f64()
    );
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("API server unreachable"), "{err}");
    let back = err
        .lines()
        .find(|l| l.contains("answered again after"))
        .unwrap_or_else(|| panic!("no recovery line: {err}"));
    eprintln!("{back}");
    assert!(r.run("status", &[]).status.success());
    r.purge();
}

#[test]
fn one_writer_at_a_time() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Release::on(cluster(), "fault-b");
    assert!(r.run("install", &[]).status.success());
    let lease = |renewed: &str| {
        format!(
            r#"{{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{{"name":"{0}-lock","namespace":"{0}-app","annotations":{{"kubectl-voice.io/command":"install"}}}},"spec":{{"holderIdentity":"ci@elsewhere (pid 4242)","leaseDurationSeconds":30,"acquireTime":"{renewed}","renewTime":"{renewed}"}}}}"#,
            r.name
        )
    };
    let apply = |doc: String| {
        let mut c = Command::new(common::kubectl())
            .args(["apply", "--server-side", "--force-conflicts", "-f", "-"])
            .env("KUBECONFIG", &r.kubeconfig)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("kubectl");
        use std::io::Write;
        c.stdin.take().unwrap().write_all(doc.as_bytes()).unwrap();
        assert!(c.wait().unwrap().success());
    };
    let stamp = |ago: u64| {
        let t = std::time::SystemTime::now() - Duration::from_secs(ago);
        let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let o = Command::new("date")
            .args([
                "-u",
                "-d",
                &format!("@{secs}"),
                "+%Y-%m-%dT%H:%M:%S.000000Z",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    // Held and renewed just now by another machine: refused, naming the holder.
    apply(lease(&stamp(0)));
    let o = r.run("install", &["--set", "components.model-router.replicas=2"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("ci@elsewhere (pid 4242) is running `install`")
            && err.contains("--force-unlock"),
        "{err}"
    );
    // Taken over on request.
    let o = r.run(
        "install",
        &[
            "--set",
            "components.model-router.replicas=2",
            "--force-unlock",
            "--yes",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    // A lock not renewed for longer than its duration has expired: no flag needed.
    apply(lease(&stamp(120)));
    // (Back to one replica, model-router's disruption budget goes: a prune, confirmed.)
    let o = r.run("install", &["--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    // Released at the end of every run.
    let left = r.kubectl(&[
        "get",
        "leases",
        "-n",
        &format!("{}-app", r.name),
        "-o",
        "name",
    ]);
    assert!(left.trim().is_empty(), "{left}");
    r.purge();
}

#[test]
fn chaos_kills_and_an_outage_converge_without_losing_data() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let c = cluster();
    let r = Release::on(c, "fault-c");
    let t = Instant::now();
    assert!(r.run("install", &[]).status.success());
    let (kept_secrets, kept_claims) = (r.secret_data(), r.claim_uids());
    // An upgrade interrupted again and again: SIGKILL at pseudo-random points (a fixed
    // sequence, so a failure can be replayed), and one API server restart mid-run.
    let change = [
        "--set",
        "components.model-router.replicas=2",
        "--set",
        "modelRouter.database.sslMode=require",
    ];
    let mut seed: u64 = 0x5eed;
    for round in 0..5 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let after = Duration::from_millis(200 + (seed >> 33) % 1800);
        let mut child = Command::new(bin())
            .args(r.args("install", &change))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start install");
        std::thread::sleep(after);
        if round == 2 {
            bounce_apiserver(
                c.dir().expect("a private cluster"),
                Duration::from_secs(3),
                &r,
            );
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    // The run that finishes: no flag needed, the killed runs' lock is known to be gone.
    let o = r.run("install", &change);
    assert!(o.status.success(), "{}", text(&o));
    assert!(kept_secrets == r.secret_data(), "a Secret value changed");
    assert_eq!(kept_claims, r.claim_uids(), "a claim was lost or replaced");
    let s = r.run("status", &[]);
    assert!(s.status.success(), "{}", text(&s));
    let o = r.run("install", &change);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.contains(" 0 created, 0 configured"),
        "{}",
        text(&o)
    );
    eprintln!("chaos test: {:.1} s", t.elapsed().as_secs_f64());
    r.purge();
}
