//! backup, restore and backup prune, end to end: a real control plane whose kwok nodes run
//! the pods' exec as local processes, against a real PostgreSQL 15 and a real redis-server
//! started here on loopback ports as their own non-root users.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{Release, SERIAL, text};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn uid_gid(user: &str) -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let o = Command::new("id").args([flag, user]).output().expect("id");
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse()
            .expect("uid")
    };
    (id("-u"), id("-g"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `setpriv` as `user`: the program runs as that user, in this process tree.
fn as_user(user: &str, program: &str) -> Command {
    let (u, g) = uid_gid(user);
    let mut c = Command::new("setpriv");
    c.args([
        format!("--reuid={u}"),
        format!("--regid={g}"),
        "--clear-groups".into(),
        "--".into(),
        program.into(),
    ]);
    c
}

fn chown(path: &Path, user: &str) {
    let st = Command::new("chown")
        .args(["-R", &format!("{user}:{user}")])
        .arg(path)
        .status()
        .expect("chown");
    assert!(st.success());
}

fn must(c: &mut Command) -> String {
    let o = c.output().expect("run");
    assert!(o.status.success(), "{c:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A PostgreSQL cluster in a temp dir, on a loopback port, stopped on drop: Debian's 15, or
/// the binaries of another major copied in beside it.
struct Pg {
    dir: tempfile::TempDir,
    port: u16,
    bin: String,
}

impl Pg {
    fn start() -> Pg {
        Pg::start_with(None)
    }
    /// A server of the binaries under `bin` (a copy, readable by the `postgres` user).
    fn start_with(bin: Option<&Path>) -> Pg {
        let dir = tempfile::Builder::new()
            .prefix("voice-pg")
            .tempdir()
            .unwrap();
        std::fs::create_dir(dir.path().join("sock")).unwrap();
        let bin = match bin {
            None => PG_BIN.to_string(),
            Some(b) => {
                let tree = dir.path().join("pg");
                must(
                    Command::new("cp")
                        .arg("-a")
                        .arg(b.parent().unwrap())
                        .arg(&tree),
                );
                tree.join("bin").display().to_string()
            }
        };
        chown(dir.path(), "postgres");
        let data = dir.path().join("data");
        must(
            as_user("postgres", &format!("{bin}/initdb"))
                .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "-D"])
                .arg(&data),
        );
        let port = free_port();
        let pg = Pg { dir, port, bin };
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1",
            pg.sock().display()
        );
        must(
            as_user("postgres", &format!("{}/pg_ctl", pg.bin))
                .args(["-w", "-D"])
                .arg(&data)
                .args(["-o", &opts, "-l"])
                .arg(pg.dir.path().join("log"))
                .arg("start")
                .stdout(Stdio::null()),
        );
        pg
    }
    fn sock(&self) -> PathBuf {
        self.dir.path().join("sock")
    }
    fn sql(&self, db: &str, sql: &str) -> String {
        must(
            Command::new(format!("{}/psql", self.bin))
                .args([
                    "-X",
                    "-Atq",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-U",
                    "postgres",
                    "-h",
                ])
                .arg(self.sock())
                .args(["-p", &self.port.to_string(), "-d", db, "-c", sql]),
        )
    }
    /// kwok's Exec for the pod: the container's environment pointing at this server.
    fn exec_yaml(&self, pod: &str, ns: &str, user: &str) -> String {
        let (u, g) = uid_gid("postgres");
        format!(
            r#"apiVersion: kwok.x-k8s.io/v1alpha1
kind: Exec
metadata: {{name: {pod}, namespace: {ns}}}
spec:
  execs:
  - local:
      workDir: /tmp
      envs:
      - {{name: PGHOST, value: "{sock}"}}
      - {{name: PGPORT, value: "{port}"}}
      - {{name: POSTGRES_USER, value: "{user}"}}
      - {{name: PATH, value: "{bin}:/usr/bin:/bin"}}
      securityContext: {{runAsUser: {u}, runAsGroup: {g}}}
"#,
            sock = self.sock().display(),
            port = self.port,
            bin = self.bin
        )
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = as_user("postgres", &format!("{}/pg_ctl", self.bin))
            .args(["-m", "immediate", "-D"])
            .arg(self.dir.path().join("data"))
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A redis-server with AOF on (as the catalog runs it), in a temp dir, killed on drop.
struct Redis {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Redis {
    fn start() -> Redis {
        let dir = tempfile::Builder::new()
            .prefix("voice-redis")
            .tempdir()
            .unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        let port = free_port();
        // The pod's redis-cli talks to the server of the pod on its default port; here the
        // server listens elsewhere, so the container's PATH puts a redis-cli first that
        // names the port (a later -p, as the restore's for its own server, still wins).
        let cli = dir.path().join("bin/redis-cli");
        std::fs::write(
            &cli,
            format!("#!/bin/sh\nexec /usr/bin/redis-cli -p {port} \"$@\"\n"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).unwrap();
        chown(dir.path(), "redis");
        let mut r = Redis {
            dir,
            port,
            child: None,
        };
        r.launch();
        r
    }
    fn launch(&mut self) {
        let child = as_user("redis", "/usr/bin/redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--appendonly", "yes", "--dir"])
            .arg(self.dir.path().join("data"))
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server");
        self.child = Some(child);
        for _ in 0..100 {
            if self.cli(&["PING"]) == "PONG" {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("redis-server did not start");
    }
    /// Stops the process (as a pod restart would) and starts it again on the same data.
    fn restart(&mut self) {
        let _ = self.cli(&["SHUTDOWN"]);
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
        self.launch();
    }
    fn cli(&self, args: &[&str]) -> String {
        let o = Command::new("/usr/bin/redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }
    fn exec_yaml(&self, pod: &str, ns: &str) -> String {
        let (u, g) = uid_gid("redis");
        format!(
            r#"apiVersion: kwok.x-k8s.io/v1alpha1
kind: Exec
metadata: {{name: {pod}, namespace: {ns}}}
spec:
  execs:
  - local:
      workDir: /tmp
      envs:
      - {{name: PATH, value: "{bin}:/usr/bin:/bin"}}
      securityContext: {{runAsUser: {u}, runAsGroup: {g}}}
"#,
            bin = self.dir.path().join("bin").display()
        )
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn ok(r: &Release, cmd: &str, extra: &[&str]) -> String {
    let o = r.run(cmd, extra);
    assert!(o.status.success(), "{cmd} {extra:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The backup directories under `root`.
fn backups(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn install_infra(r: &Release) {
    ok(r, "install", &["--only", "infra"]);
}

#[test]
fn postgres_rows_come_back_and_a_newer_dump_is_refused() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let pg = Pg::start();
    pg.sql("postgres", "CREATE DATABASE voiceassistant");
    pg.sql("postgres", "CREATE ROLE app LOGIN PASSWORD 'not-printed'");
    pg.sql(
        "voiceassistant",
        "CREATE TABLE calls (id int PRIMARY KEY, who text); \
         INSERT INTO calls SELECT g, md5(g::text) FROM generate_series(1, 5000) g; \
         ALTER TABLE calls OWNER TO app",
    );
    let rows = "SELECT count(*), md5(string_agg(who, ',' ORDER BY id)) FROM calls";
    let before = pg.sql("voiceassistant", rows);

    let r = Release::new("bk-pg");
    install_infra(&r);
    r.apply_yaml(&pg.exec_yaml("postgres-0", &r.ns("infra"), "postgres"));
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().to_str().unwrap();

    let out = ok(&r, "backup", &["postgres", "--dir", dir, "-o", "json"]);
    assert!(!out.contains("not-printed"), "{out}");
    let made: serde_json::Value = serde_json::from_str(&out).unwrap();
    let m = &made[0]["manifest"];
    assert_eq!(m["component"], "postgres");
    assert_eq!(m["pod"], "postgres-0");
    assert!(
        m["serverVersion"].as_str().unwrap().starts_with("15."),
        "{m}"
    );
    let files = m["files"].as_array().unwrap();
    assert!(
        files.iter().any(|f| f["database"] == "voiceassistant"),
        "{m}"
    );
    assert!(files.iter().any(|f| f["kind"] == "globals"), "{m}");
    let backup = PathBuf::from(made[0]["path"].as_str().unwrap());
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "a backup is its owner's alone");
    }

    pg.sql("postgres", "DROP DATABASE voiceassistant");
    pg.sql("postgres", "DROP ROLE app");
    // Without a terminal and without --yes, nothing happens.
    let o = r.run("restore", &[backup.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--yes"), "{}", text(&o));

    ok(&r, "restore", &[backup.to_str().unwrap(), "--yes"]);
    assert_eq!(pg.sql("voiceassistant", rows), before);
    assert_eq!(
        pg.sql(
            "voiceassistant",
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'calls'"
        ),
        "app"
    );
    // Again over existing data: --clean replaces it.
    pg.sql("voiceassistant", "DELETE FROM calls WHERE id > 10");
    ok(&r, "restore", &[backup.to_str().unwrap(), "--yes"]);
    assert_eq!(pg.sql("voiceassistant", rows), before);

    // A dump from a newer server is refused, naming both versions.
    let newer = root.path().join("newer");
    std::fs::create_dir(&newer).unwrap();
    for e in std::fs::read_dir(&backup).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, newer.join(p.file_name().unwrap())).unwrap();
    }
    let manifest = newer.join("manifest.json");
    let forged = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("\"serverVersion\": \"15.", "\"serverVersion\": \"17.");
    std::fs::write(&manifest, forged).unwrap();
    let o = r.run("restore", &[newer.to_str().unwrap(), "--yes"]);
    let said = text(&o);
    assert_eq!(o.status.code(), Some(2), "{said}");
    assert!(said.contains("refusing to restore"), "{said}");
    assert!(
        said.contains("PostgreSQL 17.") && said.contains("PostgreSQL 15."),
        "{said}"
    );

    // A damaged file is caught before anything is sent.
    let dump = backups(&newer)
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with("voiceassistant.dump"))
        .unwrap();
    std::fs::write(&dump, b"garbage").unwrap();
    let o = r.run("restore", &[newer.to_str().unwrap(), "--yes"]);
    assert!(
        text(&o).contains("does not match its manifest"),
        "{}",
        text(&o)
    );
    assert_eq!(pg.sql("voiceassistant", rows), before);
    r.purge();
}

#[test]
fn a_failed_stream_leaves_no_backup() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let pg = Pg::start();
    // A role that may read the server's version but not dump the roles: pg_dumpall fails
    // after the backup has started.
    pg.sql("postgres", "CREATE ROLE weak LOGIN");
    let r = Release::new("bk-fail");
    install_infra(&r);
    r.apply_yaml(&pg.exec_yaml("postgres-0", &r.ns("infra"), "weak"));
    let root = tempfile::tempdir().unwrap();
    let o = r.run(
        "backup",
        &["postgres", "--dir", root.path().to_str().unwrap()],
    );
    let said = text(&o);
    // A command that fails in the pod is a cluster error.
    assert_eq!(o.status.code(), Some(3), "{said}");
    assert!(
        said.contains("pg_dumpall") && said.contains("exit code"),
        "{said}"
    );
    assert!(
        backups(root.path()).is_empty(),
        "{:?}",
        backups(root.path())
    );
    // No such component in the rollout.
    let o = r.run("backup", &["posthog-postgres", "--dir", "x"]);
    assert!(
        text(&o).contains("is not a component of this rollout"),
        "{}",
        text(&o)
    );
    r.purge();
}

#[test]
fn redis_keys_survive_backup_and_restore() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut redis = Redis::start();
    for i in 0..500 {
        redis.cli(&["SET", &format!("key:{i}"), &format!("value {i}")]);
    }
    redis.cli(&["HSET", "session:1", "caller", "alice"]);
    let r = Release::new("bk-redis");
    install_infra(&r);
    r.apply_yaml(&redis.exec_yaml("redis-0", &r.ns("infra")));
    let root = tempfile::tempdir().unwrap();
    ok(
        &r,
        "backup",
        &["redis", "--dir", root.path().to_str().unwrap()],
    );
    let backup = backups(root.path()).pop().expect("a backup");
    assert!(backup.join("manifest.json").is_file());

    redis.cli(&["FLUSHALL"]);
    redis.cli(&["SET", "stray", "1"]);
    let out = ok(&r, "restore", &[backup.to_str().unwrap(), "--yes"]);
    assert!(out.contains("501 key(s)"), "{out}");
    assert_eq!(redis.cli(&["DBSIZE"]), "501");
    assert_eq!(redis.cli(&["GET", "key:42"]), "value 42");
    assert_eq!(redis.cli(&["HGET", "session:1", "caller"]), "alice");
    assert_eq!(redis.cli(&["EXISTS", "stray"]), "0");
    assert!(redis.cli(&["INFO", "replication"]).contains("role:master"));
    // The restored data is what the server loads at its next start (AOF included).
    redis.restart();
    assert_eq!(redis.cli(&["DBSIZE"]), "501");
    r.purge();
}

#[test]
fn prune_deletes_only_old_complete_backups() {
    let root = tempfile::tempdir().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let day = 86_400;
    let stamp = |secs: i64| {
        let o = Command::new("date")
            .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%SZ"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let make = |name: &str, component: &str, age_days: i64, manifest: bool| {
        let d = root.path().join(name);
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("dump.rdb"), b"REDIS0010").unwrap();
        if manifest {
            let when = stamp(now - age_days * day);
            let m = serde_json::json!({
                "format": "kubectl-voice-backup/v1", "instance": "voice", "component": component,
                "engine": "redis", "namespace": "ns", "pod": "redis-0", "container": "redis",
                "started": when, "finished": when, "tool": "kubectl-voice/v0", "serverVersion": "7.2.7",
                "clientVersion": "redis-cli 7.2.7",
                "files": [{"name": "dump.rdb", "kind": "rdb", "bytes": 9, "sha256": "x"}],
            });
            std::fs::write(d.join("manifest.json"), m.to_string()).unwrap();
        }
    };
    make("old-redis", "redis", 45, true);
    make("older-postgres", "postgres", 60, true);
    make("new-redis", "redis", 2, true);
    make("partial", "redis", 90, false);
    let run = |extra: &[&str]| {
        Command::new(common::bin())
            .args(["backup", "prune", "--dir", root.path().to_str().unwrap()])
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let prune = |extra: &[&str]| {
        let o = run(extra);
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let names = || -> Vec<String> {
        backups(root.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    let dry = prune(&["--older-than", "30d", "--dry-run"]);
    assert!(
        dry.contains("would delete") && dry.contains("old-redis"),
        "{dry}"
    );
    assert_eq!(names().len(), 4);
    // The newest complete backup of each component stays by default, however old.
    assert!(!dry.contains("older-postgres"), "{dry}");
    // Deleting asks: with no terminal and no --yes, nothing goes (exit 2).
    let o = run(&["--older-than", "30d"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("pass --yes"), "{}", text(&o));
    assert_eq!(names().len(), 4);
    let out = prune(&["--older-than", "30d", "--yes"]);
    assert!(
        out.contains("deleted") && out.contains("old-redis"),
        "{out}"
    );
    assert_eq!(names(), ["new-redis", "older-postgres", "partial"]);
    // Only an explicit --keep-last 0 lets the last one go.
    let out = prune(&["--older-than", "30d", "--keep-last", "0", "--yes"]);
    assert!(out.contains("older-postgres"), "{out}");
    assert_eq!(names(), ["new-redis", "partial"]);
}

/// A newer PostHog release: the name and the four images of a release of one's own.
const NEWER: &[&str] = &[
    "--set",
    "posthog.version=2026.07.14-1e7b36e",
    "--set",
    "posthog.images.app=ghcr.io/posthog/posthog:1e7b36ebe0da38a738fed250d175809a899ef422",
    "--set",
    "posthog.images.node=ghcr.io/posthog/posthog-node:sha-82ea668",
    "--set",
    "posthog.images.capture=ghcr.io/posthog/posthog/capture@sha256:f0deecf3312e98262ed936dd28899f1b412e19e23184177bf8fb469b2472fb98",
    "--set",
    "posthog.images.featureFlags=ghcr.io/posthog/posthog/feature-flags@sha256:97e4dfeed9770be6cbd70c6422c7d72b566409e3f15a50c57dfd3f61c32366cc",
];

/// The namespace's events, in the order the API server stored them, as
/// `reason kind name message` lines, from a watch that runs until dropped.
struct Events {
    child: Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Events {
    fn watch(r: &Release, ns: &str) -> Events {
        use std::io::BufRead as _;
        let mut child = Command::new(common::kubectl())
            .args(["get", "events", "-n", ns, "--watch", "-o"])
            .arg(
                "jsonpath={.reason} {.involvedObject.kind} {.involvedObject.name} {.message}{\"\\n\"}",
            )
            .env("KUBECONFIG", &r.kubeconfig)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl get events --watch");
        let out = child.stdout.take().expect("stdout");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(l);
            }
        });
        // The first install left events: their listing says the watch is up.
        for _ in 0..200 {
            if !lines.lock().unwrap().is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Events { child, lines }
    }
    fn stop(mut self) -> Vec<String> {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.lines.lock().unwrap().clone()
    }
}

#[test]
fn a_posthog_upgrade_is_backed_up_and_migrated_before_web_rolls_and_no_downgrade_is_written() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let pg = Pg::start();
    pg.sql("postgres", "CREATE DATABASE posthog");
    pg.sql(
        "posthog",
        "CREATE TABLE posthog_team (id int PRIMARY KEY, name text); \
         INSERT INTO posthog_team SELECT g, 'team ' || g FROM generate_series(1, 50) g",
    );
    let r = Release::new("bk-ph");
    ok(&r, "install", &["--only", "posthog"]);
    let ns = r.ns("posthog");
    r.apply_yaml(&pg.exec_yaml("posthog-postgres-0", &ns, "postgres"));
    let label = "kubectl-voice.io/posthog-version";
    let old_job = r.kubectl(&[
        "get",
        "jobs",
        "-n",
        &ns,
        "-l",
        "app.kubernetes.io/name=posthog-migrate",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);
    assert_eq!(
        r.field(
            "posthog",
            "deployment",
            "posthog-web",
            &format!("{{.metadata.labels.{}}}", label.replace('.', "\\."))
        ),
        "2026.02.12-86d6812"
    );

    // The upgrade: a backup first, then the new migrations Job, then web.
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().to_str().unwrap();
    let events = Events::watch(&r, &ns);
    let mut args = vec!["--only", "posthog", "--backup-dir", dir];
    args.extend(NEWER);
    let o = r.run("install", &args);
    let seen = events.stop();
    assert!(o.status.success(), "{}", text(&o));
    let said = text(&o);
    assert!(
        said.contains("PostHog 2026.02.12-86d6812 → 2026.07.14-1e7b36e"),
        "{said}"
    );
    let made = backups(root.path());
    assert_eq!(made.len(), 1, "{made:?}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(made[0].join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["component"], "posthog-postgres");
    assert!(
        manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["database"] == "posthog"),
        "{manifest}"
    );
    let new_job = r.kubectl(&[
        "get",
        "jobs",
        "-n",
        &ns,
        "-l",
        &format!("{label}=2026.07.14-1e7b36e"),
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);
    assert!(
        new_job.starts_with("posthog-migrate-") && new_job != old_job,
        "{new_job}"
    );
    let rs = r.kubectl(&[
        "get", "rs", "-n", &ns, "-l", "app.kubernetes.io/name=posthog-web", "-o",
        "jsonpath={range .items[*]}{.metadata.annotations.deployment\\.kubernetes\\.io/revision} {.metadata.name}{\"\\n\"}{end}",
    ]);
    let new_rs = rs
        .lines()
        .filter_map(|l| l.split_once(' '))
        .max_by_key(|(rev, _)| rev.parse::<u32>().unwrap_or(0))
        .map(|(_, n)| n.to_string())
        .expect("web's ReplicaSets");
    let at = |pred: &dyn Fn(&str) -> bool| seen.iter().position(|l| pred(l));
    let job_done = at(&|l| l.starts_with(&format!("Completed Job {new_job} ")));
    let web_rolls =
        at(&|l| l.starts_with("ScalingReplicaSet Deployment posthog-web ") && l.contains(&new_rs));
    assert!(
        matches!((job_done, web_rolls), (Some(j), Some(w)) if j < w),
        "the new migrations Job completes before web's new ReplicaSet scales up: job {job_done:?}, web {web_rolls:?}\n{}",
        seen.join("\n")
    );

    // Back to the older release: `check` says so, and install refuses before any write.
    let o = r.run("check", &["--only", "posthog"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("PostHog 2026.02.12-86d6812 is older than 2026.07.14-1e7b36e"),
        "{}",
        text(&o)
    );
    let before = r.resource_versions();
    let o = r.run("install", &["--only", "posthog", "--yes"]);
    assert_eq!(o.status.code(), Some(1), "install's checks: {}", text(&o));
    let o2 = r.run("install", &["--only", "posthog", "--yes", "--skip-checks"]);
    assert_eq!(o2.status.code(), Some(2), "install itself: {}", text(&o2));
    for said in [text(&o), text(&o2)] {
        for needle in [
            "PostHog 2026.02.12-86d6812 is older than 2026.07.14-1e7b36e",
            "nothing was applied",
            "kubectl voice restore",
        ] {
            assert!(said.contains(needle), "{needle}: {said}");
        }
    }
    assert_eq!(r.resource_versions(), before, "nothing written");
    r.purge();
}

/// The binaries of PostgreSQL 17 (scripts/test installs them and exports the path), or
/// `None` when they are absent and not required.
fn pg17_bin() -> Option<PathBuf> {
    match std::env::var_os("VOICE_PG17_BIN") {
        Some(b) => Some(PathBuf::from(b)),
        None => {
            assert!(
                std::env::var_os("VOICE_REQUIRE_KUBECTL").is_none(),
                "VOICE_PG17_BIN is not set: scripts/test installs PostgreSQL 17's binaries and exports it"
            );
            eprintln!("skipped: VOICE_PG17_BIN is not set (scripts/test sets it)");
            None
        }
    }
}

/// Every table's row count and every role, as the comparison reads them.
fn census(pg: &Pg, db: &str) -> String {
    let tables = pg.sql(
        db,
        "SELECT string_agg(t || '=' || n, ',' ORDER BY t) FROM (SELECT c.relname AS t, \
         (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I', c.relname), false, true, '')))[1]::text AS n \
         FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE c.relkind = 'r' AND s.nspname = 'public') x",
    );
    let roles = pg.sql(
        "postgres",
        "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolname !~ '^pg_'",
    );
    format!("{tables} / {roles}")
}

#[test]
fn upgrade_engine_moves_postgres_15_to_17_and_back_and_survives_kills_mid_copy() {
    let Some(bin17) = pg17_bin() else { return };
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let started = std::time::Instant::now();
    let pg = Pg::start();
    pg.sql("postgres", "CREATE DATABASE voiceassistant");
    pg.sql("postgres", "CREATE ROLE app LOGIN PASSWORD 'not-printed'");
    must(
        Command::new(format!("{PG_BIN}/pgbench"))
            .args(["-i", "-s", "1", "-q", "-U", "postgres", "-h"])
            .arg(pg.sock())
            .args(["-p", &pg.port.to_string(), "voiceassistant"]),
    );
    let before = census(&pg, "voiceassistant");
    assert!(before.contains("pgbench_accounts=100000"), "{before}");
    let pg17 = Pg::start_with(Some(&bin17));
    assert!(
        pg17.sql("postgres", "SHOW server_version")
            .starts_with("17.")
    );

    let r = Release::new("bk-engine");
    install_infra(&r);
    let ns = r.ns("infra");
    r.apply_yaml(&pg.exec_yaml("postgres-0", &ns, "postgres"));
    r.apply_yaml(&pg17.exec_yaml("postgres-17-0", &ns, "postgres"));
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().to_str().unwrap();
    let serving = || {
        r.field(
            "infra",
            "service",
            "postgres",
            "{.spec.selector.statefulset\\.kubernetes\\.io/pod-name}",
        )
    };
    let upgrade = ["postgres", "--to", "17", "--yes", "--backup-dir", dir];

    // Killed at three steps of the copy (the new StatefulSet made, the dump begun, the restore
    // begun: the run's own "backed up" line): every time the old pod serves, its data whole.
    let kill_when = |step: &str, reached: &dyn Fn(&str) -> bool| {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = r
            .command("upgrade-engine", &upgrade)
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("upgrade-engine");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !reached(&std::fs::read_to_string(log.path()).unwrap_or_default()) {
            assert!(
                std::time::Instant::now() < deadline,
                "{step}: never reached"
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "{step}: the run ended before it: {}",
                std::fs::read_to_string(log.path()).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(30));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(
            serving(),
            "postgres-0",
            "{step}: the Service left the old pod"
        );
        assert_eq!(census(&pg, "voiceassistant"), before, "{step}");
    };
    kill_when("the new StatefulSet made", &|_| {
        !r.kubectl(&[
            "get",
            "statefulset",
            "-n",
            &ns,
            "postgres-17",
            "--ignore-not-found",
            "-o",
            "name",
        ])
        .is_empty()
    });
    let dumps = backups(root.path()).len();
    kill_when("the dump begun", &|_| backups(root.path()).len() > dumps);
    kill_when("the restore begun", &|log| {
        log.contains("backed up postgres")
    });
    assert_eq!(
        r.field("infra", "statefulset", "postgres-17", "{.metadata.name}"),
        "postgres-17"
    );

    // Again: it copies from a new backup and switches.
    let t = std::time::Instant::now();
    let o = r.run("upgrade-engine", &upgrade);
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    let total = t.elapsed();
    assert!(!said.contains("not-printed"), "{said}");
    assert!(said.contains("starts again from a new backup"), "{said}");
    assert_eq!(census(&pg17, "voiceassistant"), before, "{said}");
    assert_eq!(serving(), "postgres-17-0");
    assert_eq!(
        r.field("infra", "statefulset", "postgres", "{.spec.replicas}"),
        "0"
    );
    assert_eq!(
        r.field("infra", "pvc", "data-postgres-0", "{.metadata.name}"),
        "data-postgres-0"
    );
    let timings = said
        .lines()
        .find(|l| l.starts_with("timings:"))
        .unwrap_or("?")
        .to_string();
    let history = ok(&r, "history", &[]);
    for step in [
        "upgrade-engine postgres 15 → 17: copy",
        "upgrade-engine postgres 15 → 17: switch",
    ] {
        assert!(history.contains(step), "{step}: {history}");
    }

    // Back to 15 (the writes on 17 since the switch stay there).
    pg17.sql("voiceassistant", "DELETE FROM pgbench_history");
    let o = r.run("upgrade-engine", &["postgres", "--back"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "confirmation needed: {}",
        text(&o)
    );
    ok(&r, "upgrade-engine", &["postgres", "--back", "--yes"]);
    assert_eq!(serving(), "postgres-0");
    assert_eq!(census(&pg, "voiceassistant"), before);

    // Up again, then finalize: the old StatefulSet goes, its claim stays and is named.
    ok(&r, "upgrade-engine", &upgrade);
    assert_eq!(serving(), "postgres-17-0");
    let out = ok(&r, "upgrade-engine", &["postgres", "--finalize", "--yes"]);
    assert!(
        out.contains(&format!("kubectl delete pvc -n {ns} data-postgres-0")),
        "{out}"
    );
    assert_eq!(
        r.kubectl(&[
            "get",
            "statefulset",
            "-n",
            &ns,
            "postgres",
            "--ignore-not-found",
            "-o",
            "name"
        ]),
        ""
    );
    assert_eq!(
        r.field("infra", "pvc", "data-postgres-0", "{.metadata.name}"),
        "data-postgres-0"
    );
    assert_eq!(serving(), "postgres-17-0");
    eprintln!(
        "upgrade-engine, pgbench -s 1: {timings}; the resumed run took {:.1}s; the test {:.1}s",
        total.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    r.purge();
}
