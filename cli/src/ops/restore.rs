//! Restoring a backup made by `kubectl voice backup`: checks the files against the
//! manifest's sha256, checks the versions, asks, then streams the backup into the
//! component's pod over exec stdin.
//!
//! Every input is read with `head -c SIZE` in the container: the command ends when the
//! manifest's byte count has arrived, whether or not the runtime passes on the end of stdin.
//!
//! PostgreSQL: roles from `globals.sql` (through psql; existing roles stay, the connecting
//! superuser is left alone), then each database with `pg_restore --clean --if-exists
//! --single-transaction` (created first when missing), so a failed database restore rolls
//! back. Redis: the RDB is written next to the data, served by a second, loopback-only
//! `redis-server` started in the same container (on the first free one of a few random
//! ports; the script reaches it through a unix socket), and the running server replicates
//! from it (`REPLICAOF`, full sync), then is promoted back (`REPLICAOF NO ONE`). The full
//! sync replaces the dataset and rewrites the AOF, so it holds on a real cluster without a
//! restart and without AOF winning over the RDB at the next start.

use anyhow::{Context, bail};

use crate::cluster::streams::{self, Target};
use crate::error::Usage;
use crate::ops::backups::{self as backup, Manifest, PG_ENV, REDIS_ENV, major};

/// Every file is there, with the manifest's size and sha256.
pub(crate) fn verify(dir: &std::path::Path, m: &Manifest) -> anyhow::Result<()> {
    if m.files.is_empty() {
        bail!("{}: the manifest lists no files", dir.display());
    }
    for f in &m.files {
        let path = dir.join(&f.name);
        if f.name.contains('/') || f.name.contains("..") {
            bail!(
                "{}: bad file name {:?} in the manifest",
                dir.display(),
                f.name
            );
        }
        let (bytes, sha) = streams::sha256_file(&path)
            .with_context(|| format!("checking the backup {}", dir.display()))?;
        if bytes != f.bytes || sha != f.sha256 {
            bail!(
                "{} does not match its manifest (sha256 {sha}, {bytes} bytes; the manifest says {}, {} bytes): the backup is damaged, restore another one",
                path.display(),
                f.sha256,
                f.bytes
            );
        }
    }
    Ok(())
}

/// Refuses a dump newer than the target.
pub(crate) fn check_versions(
    m: &Manifest,
    t: &Target,
    server: &str,
    tool: &str,
    product: &str,
) -> anyhow::Result<()> {
    let (Some(from), Some(to)) = (major(&m.server_version), major(server)) else {
        bail!(
            "cannot compare the versions {:?} (backup) and {server:?} ({t})",
            m.server_version
        );
    };
    if from > to {
        return Err(Usage(format!(
            "refusing to restore: the backup comes from {product} {} and the target {t} runs {product} {server}, an older major version ({from} > {to}) that cannot read it; restore into a {product} {from} or newer server",
            m.server_version
        ))
        .into());
    }
    if let (Some(dumped), Some(reader)) = (major(&m.client_version), major(tool))
        && dumped > reader
    {
        return Err(Usage(format!(
            "refusing to restore: the backup was written by {} and the target {t} has {tool}, which cannot read it; restore into a container with tools of version {dumped} or newer",
            m.client_version
        ))
        .into());
    }
    Ok(())
}

/// Restores a PostgreSQL backup into the pod `t` (roles, then each database), asking
/// `proceed` first; `false`: not confirmed, nothing was changed.
pub(crate) async fn restore_postgres(
    client: &kube::Client,
    t: &Target,
    dir: &std::path::Path,
    m: &Manifest,
    proceed: impl Fn(&str) -> anyhow::Result<bool>,
) -> anyhow::Result<bool> {
    let (server, tool, _) = backup::postgres_info(client, t).await?;
    check_versions(m, t, &server, &tool, "PostgreSQL")?;
    let dbs: Vec<&str> = m
        .files
        .iter()
        .filter_map(|f| f.database.as_deref())
        .collect();
    if !proceed(&format!(
        "This replaces the database(s) {} in {t} with the backup of {} ({})",
        dbs.join(", "),
        m.component,
        m.finished
    ))? {
        return Ok(false);
    }
    let me = streams::text(
        client,
        t,
        "reading the connecting role",
        &format!("{PG_ENV}psql -X -Atq -d postgres -c 'SELECT current_user'"),
        &[],
    )
    .await?;
    for f in &m.files {
        let path = dir.join(&f.name);
        match f.kind.as_str() {
            "globals" => {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let sql = roles_without(&text, &me);
                let n = sql.len().to_string();
                let mut src = std::io::Cursor::new(sql.into_bytes());
                let s = streams::exec(
                    client,
                    t,
                    "restoring roles with psql",
                    &format!(r#"{PG_ENV}head -c "$1" | psql -X -q -d postgres"#),
                    &[&n],
                    Some(&mut src),
                    &mut std::io::sink(),
                )
                .await?;
                for l in s.stderr.lines() {
                    if l.contains("ERROR") && !l.contains("already exists") {
                        eprintln!("warning: roles: {l}");
                    }
                }
                println!("roles restored from {}", f.name);
            }
            "database" => {
                let db = f
                    .database
                    .as_deref()
                    .context("database file without a name")?;
                let mut src = std::fs::File::open(&path)
                    .with_context(|| format!("opening {}", path.display()))?;
                let script = format!(
                    r#"{PG_ENV}set -e
psql -X -q -v ON_ERROR_STOP=1 -d postgres -v db="$1" <<'EOF'
SELECT format('CREATE DATABASE %I', :'db') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
EOF
head -c "$2" | pg_restore --clean --if-exists --single-transaction --no-password -d "$1""#
                );
                let n = f.bytes.to_string();
                streams::exec(
                    client,
                    t,
                    &format!("pg_restore of database {db}"),
                    &script,
                    &[db, &n],
                    Some(&mut src),
                    &mut std::io::sink(),
                )
                .await?;
                println!("database {db} restored ({})", backup::human_bytes(f.bytes));
            }
            other => bail!("{}: unknown file kind {other:?}", f.name),
        }
    }
    Ok(true)
}

/// The roles script without the statements for `me` (the role the restore connects as,
/// whose password and attributes stay as the target has them).
pub(crate) fn roles_without(sql: &str, me: &str) -> String {
    let quoted = format!("\"{}\"", me.replace('"', "\"\""));
    let names = [me.to_string(), quoted];
    sql.lines()
        .filter(|l| {
            !names.iter().any(|n| {
                *l == format!("CREATE ROLE {n};") || l.starts_with(&format!("ALTER ROLE {n} "))
            })
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Restores a Redis backup into the pod `t` (through a loopback replica of the RDB, within
/// `timeout`), asking `proceed` first; `false`: not confirmed, nothing was changed.
pub(crate) async fn restore_redis(
    client: &kube::Client,
    t: &Target,
    dir: &std::path::Path,
    m: &Manifest,
    timeout: std::time::Duration,
    proceed: impl Fn(&str) -> anyhow::Result<bool>,
) -> anyhow::Result<bool> {
    let (server, tool) = backup::redis_info(client, t).await?;
    check_versions(m, t, &server, &tool, "Redis")?;
    let f = m
        .files
        .iter()
        .find(|f| f.kind == "rdb")
        .context("the backup has no RDB file")?;
    if !proceed(&format!(
        "This replaces every key of {} in {t} with the backup of {}",
        m.component, m.finished
    ))? {
        return Ok(false);
    }
    let path = dir.join(&f.name);
    let mut src =
        std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let polls = (timeout.as_secs().max(1) * 5).to_string();
    let s = streams::exec(
        client,
        t,
        "restoring the RDB through a replication sync",
        &format!("{REDIS_ENV}{REDIS_RESTORE}"),
        &[&candidate_ports(), &polls, &f.bytes.to_string()],
        Some(&mut src),
        &mut std::io::sink(),
    )
    .await?;
    let keys = s
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("keys: "))
        .unwrap_or("?")
        .to_string();
    println!("redis restored: {keys} key(s)");
    Ok(true)
}

/// Loopback ports for the temporary server to try in turn (a port in use makes it try the
/// next): random, below Linux's ephemeral range (32768–60999) so that no outgoing
/// connection of the pod holds one.
fn candidate_ports() -> String {
    (0..5)
        .map(|_| rand::random_range(20_000..32_768u16).to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The in-container Redis restore; `$1` the loopback ports the temporary server tries in
/// turn, `$2` how many 0.2 s polls to wait for each step, `$3` the RDB's size.
///
/// The script talks to its temporary server only through a unix socket in the data
/// directory, so a port some other program holds never gets a command: a server that
/// answers on the socket has bound its port (Redis exits when the bind fails), and the
/// replication the pod's server starts from that port reaches it alone.
const REDIS_RESTORE: &str = r#"set -eu
ports="$1"; polls="$2"; size="$3"
cli() { redis-cli --no-auth-warning "$@"; }
dir=$(cli CONFIG GET dir | sed -n 2p)
[ -n "$dir" ] || { echo "cannot read the data directory (CONFIG GET dir)" >&2; exit 1; }
f="$dir/kubectl-voice-restore.rdb"
log="$dir/kubectl-voice-restore.log"
sock="$dir/kubectl-voice-restore.sock"
tmp() { redis-cli --no-auth-warning -s "$sock" "$@"; }
promoted=no
pid=
cleanup() {
  [ "$promoted" = yes ] || cli REPLICAOF NO ONE >/dev/null 2>&1 || true
  if [ -n "$pid" ]; then
    tmp SHUTDOWN NOSAVE >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -f "$f" "$sock"
  [ -f "$log" ] && tail -n 5 "$log" >&2
  rm -f "$log"
}
trap cleanup EXIT
head -c "$size" > "$f"
[ "$(wc -c < "$f")" -eq "$size" ] || { echo "the RDB arrived incomplete" >&2; exit 1; }
for port in $ports; do
  rm -f "$log" "$sock"
  redis-server --port "$port" --bind 127.0.0.1 --unixsocket "$sock" --unixsocketperm 700 \
    --dir "$dir" --dbfilename kubectl-voice-restore.rdb --appendonly no --save '' \
    --repl-diskless-sync-delay 0 --daemonize no --logfile "$log" </dev/null >/dev/null 2>&1 &
  pid=$!
  i=0
  until [ "$(tmp PING 2>/dev/null)" = PONG ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      pid=
      case "$(cat "$log" 2>/dev/null)" in *'Address already in use'*) continue 2 ;; esac
      echo "the temporary server did not load the RDB" >&2; exit 1
    fi
    i=$((i+1)); [ "$i" -le "$polls" ] || { echo "the temporary server did not load the RDB" >&2; exit 1; }
    sleep 0.2
  done
  break
done
[ -n "$pid" ] || { echo "every port the temporary server tried was in use ($ports)" >&2; exit 1; }
cli REPLICAOF 127.0.0.1 "$port" >/dev/null
sleep 0.2
i=0
while :; do
  info=$(cli INFO replication; cli INFO persistence)
  case "$info" in *master_link_status:up*) case "$info" in *master_sync_in_progress:0*) case "$info" in *loading:0*) break;; esac;; esac;; esac
  i=$((i+1)); [ "$i" -le "$polls" ] || { echo "the sync from the backup did not finish in time" >&2; exit 1; }
  sleep 0.2
done
cli REPLICAOF NO ONE >/dev/null
promoted=yes
echo "keys: $(cli DBSIZE)" >&2
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// A redis-server (Debian's, as the e2e tests run) on a free loopback port in `dir`.
    struct Server {
        port: u16,
        child: std::process::Child,
    }

    impl Server {
        fn start(dir: &std::path::Path) -> Server {
            std::fs::create_dir_all(dir).unwrap();
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--appendonly", "yes", "--dir"])
                .arg(dir)
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("redis-server (Debian's redis-server package) on PATH");
            let s = Server { port, child };
            for _ in 0..100 {
                if s.cli(&["PING"]) == "PONG" {
                    return s;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            panic!("redis-server did not start");
        }
        fn cli(&self, args: &[&str]) -> String {
            let o = std::process::Command::new("redis-cli")
                .args(["-p", &self.port.to_string()])
                .args(args)
                .output()
                .expect("redis-cli");
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// The script as the pod runs it, with busy ports first: one held by another Redis
    /// (whose data must not become the pod's, and which must keep running), one by a
    /// listener that never answers. The restore lands on the third port.
    #[test]
    fn the_redis_restore_skips_ports_in_use_and_never_talks_to_their_owner() {
        let root = tempfile::tempdir().unwrap();
        let pod = Server::start(&root.path().join("pod"));
        pod.cli(&["SET", "stray", "1"]);
        let backup = Server::start(&root.path().join("backup"));
        for i in 0..50 {
            backup.cli(&["SET", &format!("key:{i}"), &i.to_string()]);
        }
        assert_eq!(backup.cli(&["SAVE"]), "OK");
        let rdb = std::fs::read(root.path().join("backup/dump.rdb")).unwrap();
        let foreign = Server::start(&root.path().join("foreign"));
        foreign.cli(&["SET", "foreign", "yes"]);
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ports = format!(
            "{} {} {}",
            foreign.port,
            silent.local_addr().unwrap().port(),
            free.local_addr().unwrap().port()
        );
        drop(free);
        // The pod's redis-cli reaches the pod's server on its default port; here a
        // wrapper first on PATH names the port (a later -p or -s still wins).
        let bin = root.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let wrapper = bin.join("redis-cli");
        let real = String::from_utf8(
            std::process::Command::new("sh")
                .args(["-c", "command -v redis-cli"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        std::fs::write(
            &wrapper,
            format!("#!/bin/sh\nexec {} -p {} \"$@\"\n", real.trim(), pod.port),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        let mut sh = std::process::Command::new("sh")
            .args(["-c", REDIS_RESTORE, "sh", &ports, "50"])
            .arg(rdb.len().to_string())
            .env("PATH", path)
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        sh.stdin.take().unwrap().write_all(&rdb).unwrap();
        let out = sh.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{said}");
        assert!(said.contains("keys: 50"), "{said}");
        assert_eq!(pod.cli(&["DBSIZE"]), "50");
        assert_eq!(pod.cli(&["GET", "key:7"]), "7");
        assert!(pod.cli(&["INFO", "replication"]).contains("role:master"));
        assert_eq!(foreign.cli(&["GET", "foreign"]), "yes");
        assert_eq!(foreign.cli(&["DBSIZE"]), "1");
        // Nothing of the temporary server is left in the data directory.
        let left: Vec<_> = std::fs::read_dir(root.path().join("pod"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("kubectl-voice"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        drop(silent);
    }

    #[test]
    fn the_connecting_role_is_left_alone() {
        let sql = "CREATE ROLE app;\nALTER ROLE app WITH LOGIN PASSWORD 'x';\nCREATE ROLE postgres;\nALTER ROLE postgres WITH SUPERUSER LOGIN PASSWORD 'y';\n";
        assert_eq!(
            roles_without(sql, "postgres"),
            "CREATE ROLE app;\nALTER ROLE app WITH LOGIN PASSWORD 'x';\n"
        );
    }
}
