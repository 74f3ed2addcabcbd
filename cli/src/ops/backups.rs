//! Logical backups of the rollout's PostgreSQL and Redis, streamed out of the pods over exec
//! into a local directory, one directory per component and run, with a `manifest.json`
//! written last (so a directory without one is never a backup): taken by `backup` and by
//! `install` before a PostHog upgrade, read by `restore` and `backup prune`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::args::ClusterArgs;
use crate::args::ConfigArgs;
use crate::cluster::streams::{self, Target};
use crate::cluster::{self, history};
use crate::config;
use crate::error::Usage;

/// The manifest's file name inside a backup directory.
pub(crate) const MANIFEST: &str = "manifest.json";
/// The manifest's format tag.
pub(crate) const FORMAT: &str = "kubectl-voice-backup/v1";
/// The components `backup` knows, in the order `all` takes them.
pub(crate) const TARGETS: [&str; 3] = ["postgres", "posthog-postgres", "redis"];

/// Sets libpq's user and password from the container's own environment (never argv).
pub(crate) const PG_ENV: &str = r#"if [ -n "${POSTGRES_PASSWORD:-}" ]; then export PGPASSWORD="$POSTGRES_PASSWORD"; fi; export PGUSER="${POSTGRES_USER:-postgres}"; "#;
/// Sets redis-cli's password from the container's own environment (never argv).
pub(crate) const REDIS_ENV: &str =
    r#"if [ -n "${REDIS_PASSWORD:-}" ]; then export REDISCLI_AUTH="$REDIS_PASSWORD"; fi; "#;

/// What the manifest says of one file of a backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileEntry {
    /// File name inside the backup directory.
    pub name: String,
    /// `database` (pg_dump -Fc), `globals` (pg_dumpall --globals-only) or `rdb`.
    pub kind: String,
    /// The database of a `database` file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Size in bytes.
    pub bytes: u64,
    /// sha256, lower-case hex.
    pub sha256: String,
}

/// `manifest.json`: what a backup holds, from where, when and with what.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The rollout's instance.
    pub instance: String,
    /// The catalog component.
    pub component: String,
    /// `postgresql` or `redis`.
    pub engine: String,
    /// Namespace of the pod.
    pub namespace: String,
    /// The pod it was taken from.
    pub pod: String,
    /// Container.
    pub container: String,
    /// Start (RFC 3339, UTC).
    pub started: String,
    /// End (RFC 3339, UTC): the backup's time.
    pub finished: String,
    /// `kubectl-voice/vX.Y.Z`.
    pub tool: String,
    /// Server version (`SHOW server_version`, `redis_version`).
    pub server_version: String,
    /// The dump tool's version (`pg_dump --version`, `redis-cli --version`).
    pub client_version: String,
    /// Files, with sizes and sha256.
    pub files: Vec<FileEntry>,
}

impl Manifest {
    /// Total bytes.
    pub(crate) fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

/// Which engine a component runs (a catalog fact).
pub(crate) fn engine_of(c: &voice_core::catalog::Component) -> Option<&'static str> {
    c.engine.map(voice_core::catalog::Engine::as_str)
}

/// The rollout as installed (the current revision), else the configuration given.
pub(crate) async fn installed_stack(
    ca: &ClusterArgs,
    cfg: &ConfigArgs,
) -> anyhow::Result<(kube::Client, voice_core::Stack)> {
    let here = config::load(cfg)?;
    let client = cluster::client(ca).await?;
    let stack = history::installed(&client, ca, here).await?;
    Ok((client, stack))
}

/// Bytes in binary units (`1.5 MiB`).
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Backs up one component into a new directory under `root`; on any failure the directory
/// is removed, so only complete backups (with a manifest) remain.
pub(crate) async fn backup_one(
    client: &kube::Client,
    stack: &voice_core::Stack,
    name: &str,
    root: &Path,
) -> anyhow::Result<(PathBuf, Manifest)> {
    let t = streams::ready_pod(client, stack, name).await?;
    backup_from(client, stack, name, &t, root).await
}

/// Backs up component `name` from the pod `t` (one of its pods) into a new directory under
/// `root`, as [`backup_one`] does.
pub(crate) async fn backup_from(
    client: &kube::Client,
    stack: &voice_core::Stack,
    name: &str,
    t: &Target,
    root: &Path,
) -> anyhow::Result<(PathBuf, Manifest)> {
    let t = t.clone();
    let c = stack.component(name).context("component")?;
    let engine =
        engine_of(c).with_context(|| format!("{name} runs neither PostgreSQL nor Redis"))?;
    let started = history::now();
    let stamp = started.replace(['-', ':'], "");
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    let dir = fresh_dir(root, &format!("{}-{name}-{stamp}", stack.config.instance))?;
    // A backup holds the data and the roles' password hashes: readable by its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", dir.display()))?;
    }
    let taken = match engine {
        "postgresql" => backup_postgres(client, &t, &dir).await,
        _ => backup_redis(client, &t, &dir).await,
    };
    let (server_version, client_version, files) = match taken {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    let m = Manifest {
        format: FORMAT.into(),
        instance: stack.config.instance.clone(),
        component: name.into(),
        engine: engine.into(),
        namespace: t.namespace.clone(),
        pod: t.pod.clone(),
        container: t.container.clone(),
        started,
        finished: history::now(),
        tool: history::tool(),
        server_version,
        client_version,
        files,
    };
    if let Err(e) = write_manifest(&dir, &m) {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    Ok((dir, m))
}

/// Creates a new directory `root/base`, or `root/base-2`, `-3`, … when that name is taken
/// (a run in the same second, or one killed before its manifest was written): a backup
/// never writes into another's directory.
fn fresh_dir(root: &Path, base: &str) -> anyhow::Result<PathBuf> {
    for n in 1..=100 {
        let dir = match n {
            1 => root.join(base),
            _ => root.join(format!("{base}-{n}")),
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("creating {}", dir.display())));
            }
        }
    }
    anyhow::bail!(
        "creating a backup directory in {}: {base} and 99 numbered names after it exist; remove old ones or pass another --dir",
        root.display()
    )
}

/// Writes the manifest atomically (temp file, then rename): it is the mark of a complete
/// backup.
pub(crate) fn write_manifest(dir: &Path, m: &Manifest) -> anyhow::Result<()> {
    let tmp = dir.join(format!("{MANIFEST}.partial"));
    let text = serde_json::to_string_pretty(m)? + "\n";
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, dir.join(MANIFEST))
        .with_context(|| format!("writing {}", dir.join(MANIFEST).display()))
}

/// Streams one command's standard output into `dir/name` (as `name.partial` until it
/// succeeds).
async fn stream_to(
    client: &kube::Client,
    t: &Target,
    dir: &Path,
    name: &str,
    what: &str,
    script: &str,
    args: &[&str],
) -> anyhow::Result<(u64, String)> {
    let partial = dir.join(format!("{name}.partial"));
    let mut f = std::fs::File::create(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let r = streams::exec(client, t, what, script, args, None, &mut f).await;
    drop(f);
    match r {
        Ok(s) => {
            std::fs::rename(&partial, dir.join(name))?;
            Ok((s.bytes, s.sha256))
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

type Taken = (String, String, Vec<FileEntry>);

/// The first line of `pg_dump --version`, `SHOW server_version`, and the databases.
pub(crate) async fn postgres_info(
    client: &kube::Client,
    t: &Target,
) -> anyhow::Result<(String, String, Vec<String>)> {
    let script = format!(
        "{PG_ENV}pg_dump --version && psql -X -Atq -d postgres -c 'SHOW server_version' && psql -X -Atq -d postgres -c 'SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1'"
    );
    let text = streams::text(client, t, "reading the PostgreSQL version", &script, &[]).await?;
    let mut lines = text.lines();
    let client_version = lines.next().unwrap_or_default().trim().to_string();
    let server_version = lines.next().unwrap_or_default().trim().to_string();
    let dbs: Vec<String> = lines
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if major(&server_version).is_none() || major(&client_version).is_none() {
        bail!("unexpected answer from {t} to the PostgreSQL version queries: {text:?}");
    }
    Ok((server_version, client_version, dbs))
}

async fn backup_postgres(client: &kube::Client, t: &Target, dir: &Path) -> anyhow::Result<Taken> {
    let (server, tool, dbs) = postgres_info(client, t).await?;
    let mut files = Vec::new();
    let (bytes, sha256) = stream_to(
        client,
        t,
        dir,
        "globals.sql",
        "pg_dumpall --globals-only",
        &format!("{PG_ENV}exec pg_dumpall --globals-only"),
        &[],
    )
    .await?;
    files.push(FileEntry {
        name: "globals.sql".into(),
        kind: "globals".into(),
        database: None,
        bytes,
        sha256,
    });
    for (i, db) in dbs.iter().enumerate() {
        let name = format!("{:02}-{}.dump", i + 1, file_safe(db));
        let (bytes, sha256) = stream_to(
            client,
            t,
            dir,
            &name,
            &format!("pg_dump -Fc of database {db}"),
            &format!(r#"{PG_ENV}exec pg_dump -Fc -d "$1""#),
            &[db],
        )
        .await?;
        files.push(FileEntry {
            name,
            kind: "database".into(),
            database: Some(db.clone()),
            bytes,
            sha256,
        });
    }
    Ok((server, tool, files))
}

/// `redis_version` of the server and the first line of `redis-cli --version`.
pub(crate) async fn redis_info(
    client: &kube::Client,
    t: &Target,
) -> anyhow::Result<(String, String)> {
    let script = format!(
        "{REDIS_ENV}redis-cli --version && redis-cli --no-auth-warning INFO server | grep '^redis_version:'"
    );
    let text = streams::text(client, t, "reading the Redis version", &script, &[]).await?;
    let mut lines = text.lines();
    let tool = lines.next().unwrap_or_default().trim().to_string();
    let server = lines
        .next()
        .and_then(|l| l.trim().strip_prefix("redis_version:"))
        .unwrap_or_default()
        .to_string();
    if major(&server).is_none() {
        bail!("unexpected answer from {t} to INFO server: {text:?}");
    }
    Ok((server, tool))
}

async fn backup_redis(client: &kube::Client, t: &Target, dir: &Path) -> anyhow::Result<Taken> {
    let (server, tool) = redis_info(client, t).await?;
    let (bytes, sha256) = stream_to(
        client,
        t,
        dir,
        "dump.rdb",
        "redis-cli --rdb",
        &format!("{REDIS_ENV}exec redis-cli --no-auth-warning --rdb -"),
        &[],
    )
    .await?;
    if bytes < 9 {
        bail!("redis-cli --rdb in {t} sent {bytes} bytes, not an RDB file");
    }
    Ok((
        server,
        tool,
        vec![FileEntry {
            name: "dump.rdb".into(),
            kind: "rdb".into(),
            database: None,
            bytes,
            sha256,
        }],
    ))
}

/// A database name as a file name.
fn file_safe(db: &str) -> String {
    db.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The major version in a version string: `15` of `15.12`, of `pg_dump (PostgreSQL) 15.18
/// (Debian …)` and of `redis-cli 7.2.7`.
pub(crate) fn major(version: &str) -> Option<u32> {
    version
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .find(|w| w.contains('.') || w.parse::<u32>().is_ok())
        .and_then(|w| w.split('.').next())
        .and_then(|m| m.parse().ok())
}

/// Reads a backup's manifest; `path` is the backup directory or its manifest.
pub(crate) fn read_manifest(path: &Path) -> anyhow::Result<(PathBuf, Manifest)> {
    let (dir, file) = if path.is_dir() {
        (path.to_path_buf(), path.join(MANIFEST))
    } else {
        (
            path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            path.to_path_buf(),
        )
    };
    let text = std::fs::read_to_string(&file).with_context(|| {
        format!(
            "{} has no readable {MANIFEST}: not a complete kubectl-voice backup",
            dir.display()
        )
    })?;
    let m: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a kubectl-voice backup manifest", file.display()))?;
    if m.format != FORMAT {
        bail!(
            "{}: unknown format {:?} (expected {FORMAT})",
            file.display(),
            m.format
        );
    }
    Ok((dir, m))
}

/// Parses an age: `30d`, `2w`, or a duration as `--timeout` takes it (`12h`, `90m`).
pub(crate) fn parse_age(s: &str) -> anyhow::Result<std::time::Duration> {
    let t = s.trim();
    for (suffix, secs) in [("d", 86_400.0), ("w", 604_800.0)] {
        if let Some(n) = t.strip_suffix(suffix)
            && let Ok(v) = n.parse::<f64>()
            && v >= 0.0
        {
            return Ok(std::time::Duration::from_secs_f64(v * secs));
        }
    }
    crate::args::duration(t)
        .map_err(|_| Usage(format!("`{s}` is not an age (examples: 30d, 2w, 12h, 90m)")).into())
}

/// A backup found on disk.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    /// Its directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// When it finished.
    pub at: k8s_openapi::jiff::Timestamp,
}

/// The complete backups under `root` (directories with a valid manifest), newest first.
pub(crate) fn list(root: &Path) -> anyhow::Result<Vec<Found>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {}", root.display()))),
    };
    for e in entries {
        let dir = e?.path();
        if !dir.join(MANIFEST).is_file() {
            continue;
        }
        let Ok((dir, manifest)) = read_manifest(&dir) else {
            continue;
        };
        let Ok(at) = manifest.finished.parse::<k8s_openapi::jiff::Timestamp>() else {
            continue;
        };
        out.push(Found { dir, manifest, at });
    }
    out.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.dir.cmp(&b.dir)));
    Ok(out)
}

/// Which backups retention deletes: older than `max_age` (when given) and not among the
/// newest `keep_last` of their instance and component (when given).
pub(crate) fn doomed(
    found: &[Found],
    now: k8s_openapi::jiff::Timestamp,
    max_age: Option<std::time::Duration>,
    keep_last: Option<usize>,
) -> Vec<usize> {
    let mut seen: std::collections::BTreeMap<(String, String), usize> = Default::default();
    let mut out = Vec::new();
    for (i, f) in found.iter().enumerate() {
        let rank = seen
            .entry((f.manifest.instance.clone(), f.manifest.component.clone()))
            .or_default();
        *rank += 1;
        if keep_last.is_some_and(|k| *rank <= k) {
            continue;
        }
        let age = now.duration_since(f.at);
        let old = match max_age {
            Some(m) => age.as_secs_f64() > m.as_secs_f64(),
            None => true,
        };
        if old {
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_ages() {
        assert_eq!(major("15.12"), Some(15));
        assert_eq!(
            major("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"),
            Some(15)
        );
        assert_eq!(major("16.1 (Debian 16.1-1)"), Some(16));
        assert_eq!(major("redis-cli 7.2.7"), Some(7));
        assert_eq!(major("garbage"), None);
        assert_eq!(parse_age("30d").unwrap().as_secs(), 30 * 86_400);
        assert_eq!(parse_age("12h").unwrap().as_secs(), 12 * 3600);
        assert!(parse_age("soon").is_err());
        assert_eq!(file_safe("my db/x"), "my_db_x");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }

    #[test]
    fn a_taken_backup_name_gets_a_number() {
        let root = tempfile::tempdir().unwrap();
        let first = fresh_dir(root.path(), "voice-postgres-20261207T071030Z").unwrap();
        // A run killed before its manifest leaves its directory behind in the same second.
        let second = fresh_dir(root.path(), "voice-postgres-20261207T071030Z").unwrap();
        let third = fresh_dir(root.path(), "voice-postgres-20261207T071030Z").unwrap();
        assert_eq!(
            first.file_name().unwrap(),
            "voice-postgres-20261207T071030Z"
        );
        assert_eq!(
            second.file_name().unwrap(),
            "voice-postgres-20261207T071030Z-2"
        );
        assert_eq!(
            third.file_name().unwrap(),
            "voice-postgres-20261207T071030Z-3"
        );
    }

    fn found(component: &str, days_ago: i64) -> Found {
        let now = k8s_openapi::jiff::Timestamp::from_second(1_000_000_000).unwrap();
        let at = now - k8s_openapi::jiff::SignedDuration::from_hours(24 * days_ago);
        Found {
            dir: PathBuf::from(format!("{component}-{days_ago}")),
            at,
            manifest: Manifest {
                format: FORMAT.into(),
                instance: "voice".into(),
                component: component.into(),
                engine: "postgresql".into(),
                namespace: "ns".into(),
                pod: "p".into(),
                container: "c".into(),
                started: String::new(),
                finished: at.to_string(),
                tool: String::new(),
                server_version: "15.1".into(),
                client_version: "15.1".into(),
                files: Vec::new(),
            },
        }
    }

    #[test]
    fn retention_by_age_and_count() {
        let now = k8s_openapi::jiff::Timestamp::from_second(1_000_000_000).unwrap();
        let all = vec![
            found("postgres", 1),
            found("postgres", 40),
            found("postgres", 50),
            found("redis", 45),
        ];
        let day = 86_400;
        let month = Some(std::time::Duration::from_secs(30 * day));
        assert_eq!(doomed(&all, now, month, None), [1, 2, 3]);
        // The newest of each component stays, however old.
        assert_eq!(doomed(&all, now, month, Some(1)), [1, 2]);
        assert_eq!(doomed(&all, now, None, Some(2)), [2]);
    }
}
