//! The stateful engines that PostHog and the platform both run — PostgreSQL, Redis and
//! MinIO — defined once. Each product file names, sizes and extends its own instance.

use super::*;
use crate::config::Config;
use crate::quantity::Bytes;

/// PostgreSQL image (also used by the database setup Jobs).
pub const POSTGRES_IMAGE: &str = "postgres:15.12-alpine";
/// Redis image (also the PostHog plugin-server heartbeat sidecar).
pub const REDIS_IMAGE: &str = "redis:7.2.7-alpine";
/// MinIO server image.
pub const MINIO_IMAGE: &str = "minio/minio:RELEASE.2025-04-22T22-12-26Z";
/// MinIO client image (bucket setup Jobs).
pub const MC_IMAGE: &str = "minio/mc:RELEASE.2025-04-16T18-13-26Z";

/// Where an engine instance lives and how big it is.
pub struct Instance<'a> {
    /// Component name.
    pub name: &'a str,
    /// Product group.
    pub group: Group,
    /// Namespace.
    pub namespace: &'a str,
    /// Main container resources.
    pub resources: ResourceSpec,
    /// Volume size.
    pub size: Bytes,
}

impl Instance<'_> {
    fn component(&self, role: &'static str, uid: i64, container: Container) -> Component {
        let mut c = Component::new(
            self.name,
            self.group,
            self.namespace,
            role,
            WorkloadKind::StatefulSet,
            Tier::Stateful,
            uid,
        );
        c.containers.push(container);
        c
    }
}

/// A single PostgreSQL primary whose superuser is `user`, with its password in `secret`/`key`.
pub fn postgres(
    cfg: &Config,
    i: &Instance<'_>,
    user: &str,
    db: &str,
    secret: &str,
    key: &str,
) -> Component {
    let mut pg = Container::new("postgres", &with_registry(cfg, POSTGRES_IMAGE), i.resources)
        .env("POSTGRES_USER", user)
        .env("POSTGRES_DB", db)
        .env("PGDATA", "/var/lib/postgresql/data/pgdata")
        .env_secret("POSTGRES_PASSWORD", secret, key);
    pg.ports.push(Port {
        name: "postgres",
        port: 5432,
    });
    let ready = ProbeCheck::Exec(
        ["pg_isready", "-U", user, "-h", "127.0.0.1", "-p", "5432"]
            .map(String::from)
            .to_vec(),
    );
    pg.probes.liveness = Some(Probe::new(ready.clone(), (30, 10, 5, 6)));
    pg.probes.readiness = Some(Probe::new(ready, (5, 3, 1, 3)));
    singleton(
        i.component("database", 70, pg)
            .persistent("data", "/var/lib/postgresql/data", i.size)
            .scratch("run", "/var/run/postgresql")
            .scratch("tmp", "/tmp"),
        "a single PostgreSQL primary without replication",
    )
}

/// A single Redis with append-only persistence and an LRU memory cap.
pub fn redis(cfg: &Config, i: &Instance<'_>, maxmemory: &str, why: &'static str) -> Component {
    let mut r = Container::new("redis", &with_registry(cfg, REDIS_IMAGE), i.resources);
    r.command = vec!["redis-server".into()];
    r.args = [
        "--maxmemory",
        maxmemory,
        "--maxmemory-policy",
        "allkeys-lru",
        "--appendonly",
        "yes",
        "--dir",
        "/data",
    ]
    .map(String::from)
    .to_vec();
    r.ports.push(Port {
        name: "redis",
        port: 6379,
    });
    r.probes.liveness = Some(Probe::new(ProbeCheck::Tcp(6379), (15, 10, 3, 3)));
    r.probes.readiness = Some(Probe::new(
        ProbeCheck::Exec(vec!["redis-cli".into(), "ping".into()]),
        (5, 5, 2, 3),
    ));
    singleton(
        i.component("cache", 999, r)
            .persistent("data", "/data", i.size),
        why,
    )
}

/// A single-drive MinIO serving S3 on `api` (named `api_name`) and its console on `console`,
/// with root credentials from `secret`.
pub fn minio(
    cfg: &Config,
    i: &Instance<'_>,
    (api_name, api): (&'static str, u16),
    console: u16,
    secret: &str,
    (user_key, password_key): (&str, &str),
) -> Component {
    let mut m = Container::new("minio", &with_registry(cfg, MINIO_IMAGE), i.resources)
        .env_secret("MINIO_ROOT_USER", secret, user_key)
        .env_secret("MINIO_ROOT_PASSWORD", secret, password_key)
        .env("MINIO_PROMETHEUS_AUTH_TYPE", "public");
    m.args = vec![
        "server".to_string(),
        "/data".into(),
        "--address".into(),
        format!(":{api}"),
        "--console-address".into(),
        format!(":{console}"),
        "--certs-dir".into(),
        "/tmp/certs".into(),
    ];
    m.ports = vec![
        Port {
            name: api_name,
            port: api,
        },
        Port {
            name: "console",
            port: console,
        },
    ];
    m.probes.liveness = Some(Probe::new(
        ProbeCheck::Http("/minio/health/live".into(), api),
        (20, 10, 3, 3),
    ));
    m.probes.readiness = Some(Probe::new(
        ProbeCheck::Http("/minio/health/ready".into(), api),
        (5, 5, 3, 3),
    ));
    let mut c = i
        .component("object-storage", 1000, m)
        .persistent("data", "/data", i.size)
        .scratch("tmp", "/tmp");
    c.metrics = Some((api_name, "/minio/v2/metrics/cluster"));
    singleton(c, "a single-drive MinIO")
}
