//! Blue-green `switch`, end to end: the health check runs through port-forwards that kwok
//! serves from real local HTTP servers (a failing one and a good one). Run with
//! `--nocapture` for the time from `switch` to traffic on the new colour.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use common::{Release, SERIAL, text};

const SVC: &str = "identity-service";
const BLUE_GREEN: &str = "voiceAssistant.services.identity-service.blueGreen=true";

/// A local HTTP server answering every GET with `code`; killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(code: u16) -> Server {
        let script = format!(
            r#"
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response({code}); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#
        );
        let mut child = Command::new("python3")
            .args(["-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read port");
        Server {
            port: line.trim().parse().expect("port"),
            child,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every pod of the release's app namespace forwards every port to `server`.
fn forward_to(r: &Release, server: &Server) {
    r.apply_yaml(&format!(
        "apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterPortForward
metadata:
  name: {name}-forward
spec:
  selector:
    matchNamespaces: [{ns}]
  forwards:
  - target:
      port: {port}
      address: 127.0.0.1
",
        name = r.name,
        ns = r.ns("app"),
        port = server.port
    ));
}

fn selector_color(r: &Release) -> String {
    r.field("app", "service", SVC, "{.spec.selector.color}")
}

fn deployment(r: &Release, colour: &str, path: &str) -> String {
    r.field("app", "deployment", &format!("{SVC}-{colour}"), path)
}

#[test]
fn switch_checks_the_new_colour_before_moving_traffic_and_goes_back() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Release::new("bg");
    let base = ["--set", BLUE_GREEN, "--only", "voiceassistant"];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| (*s).to_string()).collect()
    };
    let run = |cmd: &str, extra: &[&str]| {
        let args = with(extra);
        r.run(cmd, &args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = run("install", &["--skip-checks"]);
    assert!(o.status.success(), "install: {}", text(&o));
    assert_eq!(selector_color(&r), "blue");
    let old_image = deployment(&r, "blue", "{.spec.template.spec.containers[0].image}");

    // A new image whose pods fail their health check: nothing is switched.
    let bad = Server::start(503);
    forward_to(&r, &bad);
    let new_image = "ghcr.io/voiceassistant/identity-service:1.0.1";
    let o = run(
        "switch",
        &[
            SVC,
            "--image",
            new_image,
            "--checks",
            "2",
            "--check-interval",
            "1s",
            "--skip-checks",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "failed check: {}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("answered 503"), "{err}");
    assert!(err.contains("traffic stays on blue"), "{err}");
    // Bringing up green was a step; the switch never said it was complete.
    assert!(!text(&o).contains("switch complete"), "{}", text(&o));
    assert!(text(&o).contains("step applied"), "{}", text(&o));
    assert_eq!(selector_color(&r), "blue");
    assert_eq!(
        deployment(&r, "green", "{.spec.template.spec.containers[0].image}"),
        new_image
    );
    assert_eq!(
        deployment(&r, "blue", "{.spec.template.spec.containers[0].image}"),
        old_image
    );

    // Fixed: the check passes and traffic moves.
    let good = Server::start(200);
    forward_to(&r, &good);
    let t = Instant::now();
    let o = run("switch", &[SVC, "--to", "green", "--skip-checks"]);
    let took = t.elapsed();
    assert!(o.status.success(), "switch --to green: {}", text(&o));
    assert_eq!(selector_color(&r), "green");
    eprintln!("switch to traffic on green: {:.2}s", took.as_secs_f64());
    let status = run("status", &[]);
    let table = String::from_utf8_lossy(&status.stdout);
    assert!(table.contains(&format!("{SVC} (green, live)")), "{table}");
    assert!(table.contains(&format!("{SVC} (blue, idle)")), "{table}");

    // Back at once, then the idle colour scaled to zero.
    let o = run("switch", &[SVC, "--back", "--skip-checks"]);
    assert!(o.status.success(), "switch --back: {}", text(&o));
    assert_eq!(selector_color(&r), "blue");
    let o = run("switch", &[SVC, "--finalize", "--skip-checks"]);
    assert!(o.status.success(), "switch --finalize: {}", text(&o));
    assert_eq!(deployment(&r, "green", "{.spec.replicas}"), "0");
    assert_ne!(deployment(&r, "blue", "{.spec.replicas}"), "0");
    let o = run("switch", &[SVC, "--back", "--skip-checks"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "--back after --finalize: {}",
        text(&o)
    );
    assert_eq!(selector_color(&r), "blue");

    // An install from the file that knows nothing of the switch says what it would undo
    // and applies nothing without a confirmation.
    let before = r.resource_versions();
    let o = run("install", &["--skip-checks"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "install undoing a switch: {}",
        text(&o)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`kubectl voice switch` set it"),
        "install names the switch: {err}"
    );
    assert_eq!(r.resource_versions(), before);

    let h = run("history", &["-o", "json"]);
    let h: Vec<serde_json::Value> = serde_json::from_slice(&h.stdout).expect("history JSON");
    let said: Vec<&str> = h.iter().filter_map(|x| x["description"].as_str()).collect();
    assert!(
        said.contains(&"switch identity-service to green"),
        "{said:?}"
    );
    assert!(
        said.contains(&"switch identity-service back to blue"),
        "{said:?}"
    );

    r.kubectl(&[
        "delete",
        "clusterportforward",
        &format!("{}-forward", r.name),
    ]);
    r.purge();
}
