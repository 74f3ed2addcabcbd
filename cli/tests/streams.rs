//! Logs and dashboards end to end: kwok serves the pods' logs from a file and forwards their
//! ports to a real local HTTP server (its ClusterLogs and ClusterPortForward resources), the
//! binary talks to the real API server. Run with `--nocapture` for the reconnect figure.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Release, SERIAL, text};

/// Child processes, killed when the test ends, passing or not.
#[derive(Default)]
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Deletes the kwok resources and the release when the test ends, passing or not.
struct Cleanup<'a>(&'a Release, Vec<String>);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for o in &self.1 {
            let _ = std::process::Command::new(common::kubectl())
                .args(["delete", "--ignore-not-found", o])
                .env("KUBECONFIG", &self.0.kubeconfig)
                .output();
        }
        let _ = self.0.run("uninstall", &["--purge", "--yes"]);
    }
}

/// The lines a child writes to a pipe, collected by a thread.
fn collect(r: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            l.lock().unwrap().push(line);
        }
    });
    lines
}

/// Waits until `f` holds over the lines, or panics with them.
fn wait_for(
    what: &str,
    lines: &Arc<Mutex<Vec<String>>>,
    timeout: Duration,
    f: impl Fn(&[String]) -> bool,
) {
    let t = Instant::now();
    while t.elapsed() < timeout {
        if f(&lines.lock().unwrap()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "{what}: not seen in {timeout:?}:\n{}",
        lines.lock().unwrap().join("\n")
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP GET through the forward: the head and body (read up to Content-Length: a
/// forward need not pass on the server's close), or why not.
fn get(port: u16, path: &str) -> Result<String, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(70))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).map_err(|e| e.to_string())?;
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(i) = text.find("\r\n\r\n") {
            let len = text[..i]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if buf.len() >= i + 4 + len {
                return if text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200") {
                    Ok(text)
                } else {
                    Err(format!("answer: {text:?}"))
                };
            }
        }
        if n == 0 {
            return Err(format!("closed early: {:?}", String::from_utf8_lossy(&buf)));
        }
    }
}

fn cri_time(offset: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + offset;
    // civil time from Unix seconds (days to y-m-d, Howard Hinnant's algorithm)
    let (days, secs) = (now / 86400, now % 86400);
    let z = days as i64 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000000000Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[test]
fn an_unknown_dashboard_is_a_usage_error_listing_the_ones_there_are() {
    let r = Release::new("strm-none");
    let o = r.run("dashboard", &["grafana"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "`grafana` is not a dashboard of this rollout; this rollout has: posthog, minio"
        ),
        "{err}"
    );
}

#[test]
fn a_dashboard_and_logs_follow_the_component_across_a_replaced_pod() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Release::new("strm");
    let ns = r.ns("infra");
    let _cleanup = Cleanup(
        &r,
        vec![
            "clusterportforward/strm-minio".into(),
            "clusterlogs/strm-minio".into(),
        ],
    );
    let mut procs = Procs::default();
    let o = r.run("install", &["--only", "infra"]);
    assert!(o.status.success(), "install: {}", text(&o));

    // A real HTTP server the pods' port 9001 is forwarded to, and a log file for their logs.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "hello from the console\n").unwrap();
    let http = free_port();
    procs.0.push(
        std::process::Command::new("python3")
            .args([
                "-m",
                "http.server",
                &http.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server"),
    );
    let log = dir.path().join("minio.log");
    let first: String = (0..3)
        .map(|i| format!("{} stdout F level=info line {i}\n", cri_time(0)))
        .collect();
    std::fs::write(&log, &first).unwrap();
    r.apply_yaml(&format!(
        "apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterPortForward
metadata: {{name: strm-minio}}
spec:
  selector: {{matchNamespaces: [{ns}]}}
  forwards: [{{ports: [9001], target: {{port: {http}, address: 127.0.0.1}}}}]
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata: {{name: strm-minio}}
spec:
  selector: {{matchNamespaces: [{ns}]}}
  logs: [{{containers: [minio], logsFile: {}, follow: true}}]
",
        log.display()
    ));

    // The server answers, and kwok has taken up its resources (the logs below need them).
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", http)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "python3 http.server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));

    // -o json: one object a line.
    let o = r.run("logs", &["minio", "-o", "json"]);
    assert!(o.status.success(), "logs -o json: {}", text(&o));
    let objs: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(objs.len(), 3, "{}", text(&o));
    for (i, v) in objs.iter().enumerate() {
        assert_eq!(v["component"], "minio");
        assert_eq!(v["pod"], "minio-0");
        assert_eq!(v["container"], "minio");
        assert_eq!(v["message"], format!("level=info line {i}"));
        assert_eq!(v["level"], "info");
        assert!(v["time"].is_string(), "{v}");
    }

    // A stream that cannot be read (kwok serves no log for redis) is a cluster error.
    let o = r.run("logs", &["redis"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("1 of 1 log stream(s) could not be read"),
        "{}",
        text(&o)
    );

    // The dashboard on a free port, and a follow of the logs.
    let port = free_port();
    let mut dash = r
        .command("dashboard", &["minio", "--port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let dash_out = collect(dash.stdout.take().unwrap());
    let dash_err = collect(dash.stderr.take().unwrap());
    procs.0.push(dash);
    let mut follow = r
        .command("logs", &["minio", "-f"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let logs_out = collect(follow.stdout.take().unwrap());
    let logs_err = collect(follow.stderr.take().unwrap());
    procs.0.push(follow);

    let url = format!("http://127.0.0.1:{port}/");
    wait_for("the URL table", &dash_out, Duration::from_secs(60), |l| {
        l.iter().any(|l| l.contains("Ctrl-C"))
    });
    {
        let out = dash_out.lock().unwrap().join("\n");
        let row = out
            .lines()
            .find(|l| l.contains(&url))
            .unwrap_or_else(|| panic!("{url} in {out}\n{}", dash_err.lock().unwrap().join("\n")));
        assert!(row.contains("200"), "probed: {row}");
        assert!(
            row.contains(&format!(
                "Secret {ns}/infra-secrets key MINIO_ROOT_PASSWORD"
            )),
            "{row}"
        );
    }
    assert!(get(port, "/").unwrap().contains("hello from the console"));
    wait_for("three lines", &logs_out, Duration::from_secs(30), |l| {
        l.iter()
            .filter(|l| l.starts_with("minio-0/minio level=info line"))
            .count()
            >= 3
    });

    // Replace the pod: the StatefulSet recreates it.
    let uid = |r: &Release| {
        r.kubectl(&[
            "get",
            "pod",
            "-n",
            &ns,
            "minio-0",
            "--ignore-not-found",
            "-o",
            "jsonpath={.metadata.uid}",
        ])
    };
    let old = uid(&r);
    let t = Instant::now();
    r.kubectl(&["delete", "pod", "-n", &ns, "minio-0", "--wait=false"]);
    let mut last;
    let reconnect = loop {
        match get(port, "/") {
            Ok(body) if body.contains("hello from the console") => break t.elapsed(),
            Ok(body) => last = body,
            Err(e) => last = e,
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "no answer after the replacement: {last}\n{}",
            dash_err.lock().unwrap().join("\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let new = uid(&r);
    assert!(
        !new.is_empty() && new != old,
        "a new pod answers ({old} → {new})"
    );
    println!(
        "dashboard forward: first good answer {:.2}s after the pod's deletion",
        reconnect.as_secs_f64()
    );
    // Still answering, a few times over.
    for _ in 0..5 {
        assert!(get(port, "/").is_ok());
    }

    // The follow ends the old pod's stream, picks up the new pod and keeps following it.
    wait_for(
        "the end of the old stream",
        &logs_err,
        Duration::from_secs(60),
        |l| {
            l.iter()
                .any(|l| l.starts_with("minio-0/minio: stream ended"))
        },
    );
    wait_for(
        "the new pod's lines",
        &logs_out,
        Duration::from_secs(60),
        |l| {
            l.iter()
                .filter(|l| l.starts_with("minio-0/minio level=info line"))
                .count()
                >= 6
        },
    );
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    writeln!(f, "{} stderr F level=warn appended", cri_time(1)).unwrap();
    drop(f);
    wait_for(
        "an appended line",
        &logs_out,
        Duration::from_secs(30),
        |l| l.iter().any(|l| l == "minio-0/minio level=warn appended"),
    );
}
