//! The stateful engines that PostHog and the platform both run — PostgreSQL, Redis and
//! MinIO — defined once. Each product file names, sizes and extends its own instance.
//! Redis comes single or, for production, as three nodes with Sentinel behind HAProxy.

use super::*;
use crate::config::Config;
use crate::quantity::Bytes;

/// PostgreSQL image (also used by the database setup Jobs).
pub const POSTGRES_IMAGE: &str = "postgres:15.12-alpine";
/// The PostgreSQL image `upgrade-engine --to <major>` moves a database to, one per major
/// (the official image's alpine variant, as [`POSTGRES_IMAGE`]); the images' contents are
/// in `core/tests/images.rs`.
pub const POSTGRES_MAJORS: [(u32, &str); 3] = [
    (15, POSTGRES_IMAGE),
    (16, "postgres:16.11-alpine"),
    (17, "postgres:17.6-alpine"),
];

/// The pinned PostgreSQL image of a major version, with the configuration's registry.
pub fn postgres_image(cfg: &Config, major: u32) -> Option<String> {
    POSTGRES_MAJORS
        .iter()
        .find(|(m, _)| *m == major)
        .map(|(_, i)| with_registry(cfg, i))
}
/// Redis image (also the PostHog plugin-server heartbeat sidecar).
pub const REDIS_IMAGE: &str = "redis:7.2.7-alpine";
/// HAProxy image that routes Redis clients to the Sentinel-elected primary.
pub const HAPROXY_IMAGE: &str = "haproxy:2.9.7-alpine";
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
        self.component_named(self.name, role, uid, container)
    }
    fn component_named(
        &self,
        name: &str,
        role: &'static str,
        uid: i64,
        container: Container,
    ) -> Component {
        let mut c = Component::new(
            name,
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
    let mut c = singleton(
        i.component("database", 70, pg)
            .persistent("data", "/var/lib/postgresql/data", i.size)
            .scratch("run", "/var/run/postgresql")
            .scratch("tmp", "/tmp"),
        "a single PostgreSQL primary without replication",
    );
    c.engine = Some(Engine::Postgresql);
    c
}

/// The Redis container's probes: TCP liveness, `PING` readiness.
fn redis_probes(r: &mut Container) {
    r.probes.liveness = Some(Probe::new(ProbeCheck::Tcp(6379), (15, 10, 3, 3)));
    r.probes.readiness = Some(Probe::new(
        ProbeCheck::Exec(vec!["redis-cli".into(), "ping".into()]),
        (5, 5, 2, 3),
    ));
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
    redis_probes(&mut r);
    let mut c = singleton(
        i.component("cache", 999, r)
            .persistent("data", "/data", i.size),
        why,
    );
    c.engine = Some(Engine::Redis);
    c
}

/// Redis nodes in a Sentinel deployment: one primary, the others replicas.
pub const SENTINEL_NODES: u32 = 3;
/// Sentinels that must agree a primary is down before a failover.
pub const SENTINEL_QUORUM: u32 = 2;
/// Sentinel's port.
pub const SENTINEL_PORT: u16 = 26379;
/// The name the sentinels monitor the primary under.
pub const SENTINEL_MASTER: &str = "mymaster";
/// HAProxy's health endpoint (`/healthz`, 503 while no node answers `role:master`).
const HAPROXY_HEALTH_PORT: u16 = 8404;

/// Redis with Sentinel: the nodes, the proxy clients reach under the instance's name, and the
/// proxy's configuration.
pub struct SentinelRedis {
    /// `<name>-node`: a StatefulSet of [`SENTINEL_NODES`] Redis pods, each with a sentinel.
    pub nodes: Component,
    /// `<name>`: HAProxy, forwarding to whichever node answers `role:master`.
    pub proxy: Component,
    /// `<name>-haproxy`: the proxy's `haproxy.cfg`.
    pub proxy_config: ConfigMapSpec,
}

/// Lines joined into a script or a configuration file.
fn lines<S: AsRef<str>>(ls: &[S]) -> String {
    ls.iter().fold(String::new(), |mut out, l| {
        out.push_str(l.as_ref());
        out.push('\n');
        out
    })
}

/// Shell that sets `$self` to this pod's stable name and `$primary` to the primary the
/// sentinels name, or pod 0 when none answers (a first start). Only a name from `$NODES`
/// is accepted, so an error reply or an empty answer never passes for a host.
fn find_primary() -> String {
    lines(&[
        "self=\"$(hostname).$SERVICE\"".to_string(),
        "primary=\"\"".into(),
        "for n in $NODES; do".into(),
        format!(
            "  primary=$(timeout 3 redis-cli -h \"$n\" -p {SENTINEL_PORT} SENTINEL get-master-addr-by-name {SENTINEL_MASTER} 2>/dev/null | head -n 1) || primary=\"\""
        ),
        "  case \" $NODES \" in *\" $primary \"*) break ;; esac".into(),
        "  primary=\"\"".into(),
        "done".into(),
        "if [ -z \"$primary\" ]; then primary=\"${NODES%% *}\"; fi".into(),
    ])
    .trim_end()
    .to_string()
}

/// Three Redis nodes with Sentinel failover (quorum 2) behind a two-replica HAProxy.
///
/// Each node asks the sentinels for the current primary when it starts and replicates from
/// it; with no answer (a first start) pod 0 is the primary. Nodes and sentinels announce
/// their stable names from the headless Service `<name>-node`, and write their configuration
/// into an emptyDir because Sentinel rewrites its file. HAProxy keeps the plain Service
/// `<name>` on 6379 and health-checks every node with `INFO replication`, so only the
/// primary receives traffic and clients keep a plain `redis://` URL.
pub fn redis_sentinel(cfg: &Config, i: &Instance<'_>, maxmemory: &str) -> SentinelRedis {
    let nodes_name = format!("{}-node", i.name);
    let service = format!("{nodes_name}.{}.svc.cluster.local", i.namespace);
    let hosts: Vec<String> = (0..SENTINEL_NODES)
        .map(|n| format!("{nodes_name}-{n}.{service}"))
        .collect();
    let image = with_registry(cfg, REDIS_IMAGE);

    let mut r = Container::new("redis", &image, i.resources)
        .env("SERVICE", service.clone())
        .env("NODES", hosts.join(" "));
    r = r.shell(&lines(&[
        "set -eu".to_string(),
        find_primary(),
        "cat > /conf/redis.conf <<EOF".into(),
        "port 6379".into(),
        "protected-mode no".into(),
        "dir /data".into(),
        "appendonly yes".into(),
        format!("maxmemory {maxmemory}"),
        "maxmemory-policy allkeys-lru".into(),
        "replica-announce-ip $self".into(),
        "replica-announce-port 6379".into(),
        "EOF".into(),
        "if [ \"$primary\" != \"$self\" ]; then echo \"replicaof $primary 6379\" >> /conf/redis.conf; fi"
            .into(),
        "echo \"primary: $primary\"".into(),
        "exec redis-server /conf/redis.conf".into(),
    ]));
    r.ports.push(Port {
        name: "redis",
        port: 6379,
    });
    redis_probes(&mut r);

    let mut s = Container::new("sentinel", &image, res("50m", "64Mi", "100m", "128Mi"))
        .env("SERVICE", service.clone())
        .env("NODES", hosts.join(" "))
        .mount("sentinel", "/sentinel");
    s = s.shell(&lines(&[
        "set -eu".to_string(),
        find_primary(),
        "# Sentinel exits when the primary's name does not resolve yet: wait for its record."
            .into(),
        "i=0".into(),
        "until getent hosts \"$primary\" >/dev/null || [ \"$i\" -ge 20 ]; do i=$((i + 1)); sleep 2; done"
            .into(),
        "cat > /sentinel/sentinel.conf <<EOF".into(),
        format!("port {SENTINEL_PORT}"),
        "dir /sentinel".into(),
        "sentinel resolve-hostnames yes".into(),
        "sentinel announce-hostnames yes".into(),
        "sentinel announce-ip $self".into(),
        format!("sentinel announce-port {SENTINEL_PORT}"),
        format!("sentinel monitor {SENTINEL_MASTER} $primary 6379 {SENTINEL_QUORUM}"),
        format!("sentinel down-after-milliseconds {SENTINEL_MASTER} 10000"),
        format!("sentinel failover-timeout {SENTINEL_MASTER} 60000"),
        format!("sentinel parallel-syncs {SENTINEL_MASTER} 1"),
        "EOF".into(),
        "exec redis-server /sentinel/sentinel.conf --sentinel".into(),
    ]));
    s.ports.push(Port {
        name: "sentinel",
        port: SENTINEL_PORT,
    });
    s.probes.liveness = Some(Probe::new(ProbeCheck::Tcp(SENTINEL_PORT), (30, 10, 3, 3)));
    s.probes.readiness = Some(Probe::new(
        ProbeCheck::Exec(vec![
            "redis-cli".into(),
            "-p".into(),
            SENTINEL_PORT.to_string(),
            "ping".into(),
        ]),
        (5, 5, 2, 3),
    ));

    let mut nodes = i
        .component_named(&nodes_name, "cache", 999, r)
        .persistent("data", "/data", i.size)
        .scratch("conf", "/conf");
    nodes.containers.push(s);
    nodes.volumes.push(Volume {
        name: "sentinel".into(),
        source: VolumeSource::EmptyDir(None),
    });
    nodes.replicas = SENTINEL_NODES;
    nodes.fixed_replicas = true;
    nodes.quorum = true;
    nodes.parallel_pods = true;
    nodes.notes.push("three Redis nodes with a sentinel each (quorum 2): a node follows the primary the sentinels name, pod 0 is the primary on a first start; HAProxy names every node, so the count is fixed");

    let config_name = format!("{}-haproxy", i.name);
    let mut cfg_lines: Vec<String> = [
        "global",
        "  maxconn 2048",
        "  log stdout format raw local0 info",
        "",
        "defaults",
        "  mode tcp",
        "  log global",
        "  timeout connect 3s",
        "  timeout client 1h",
        "  timeout server 1h",
        "  timeout check 2s",
        "",
        "resolvers cluster",
        "  parse-resolv-conf",
        "  hold valid 5s",
        "",
        "frontend health",
        "  mode http",
    ]
    .map(String::from)
    .to_vec();
    cfg_lines.push(format!("  bind :{HAPROXY_HEALTH_PORT}"));
    cfg_lines.extend(
        [
            "  timeout client 10s",
            "  timeout http-request 5s",
            "  monitor-uri /healthz",
            "  monitor fail if { nbsrv(primary) lt 1 }",
            "",
            "frontend redis",
            "  bind :6379",
            "  default_backend primary",
            "",
            "backend primary",
            "  balance first",
            "  option tcp-check",
            "  option log-health-checks",
            "  tcp-check connect",
            "  tcp-check send PING\\r\\n",
            "  tcp-check expect string +PONG",
            "  tcp-check send info\\ replication\\r\\n",
            "  tcp-check expect string role:master",
            "  tcp-check send QUIT\\r\\n",
            "  tcp-check expect string +OK",
            "  default-server check inter 1s fall 2 rise 1 resolvers cluster resolve-prefer ipv4 init-addr none on-marked-down shutdown-sessions",
        ]
        .map(String::from),
    );
    cfg_lines.extend(
        hosts
            .iter()
            .enumerate()
            .map(|(n, h)| format!("  server node-{n} {h}:6379")),
    );
    let proxy_config = ConfigMapSpec {
        name: config_name.clone(),
        namespace: i.namespace.into(),
        component: i.name.into(),
        data: BTreeMap::from([("haproxy.cfg".to_string(), lines(&cfg_lines))]),
    };

    let mut h = Container::new(
        "haproxy",
        &with_registry(cfg, HAPROXY_IMAGE),
        res("50m", "64Mi", "250m", "256Mi"),
    );
    h.command = [
        "haproxy",
        "-W",
        "-db",
        "-f",
        "/usr/local/etc/haproxy/haproxy.cfg",
    ]
    .map(String::from)
    .to_vec();
    h.ports.push(Port {
        name: "redis",
        port: 6379,
    });
    h.mounts.push(Mount {
        volume: "config".into(),
        path: "/usr/local/etc/haproxy".into(),
        read_only: true,
    });
    h.probes.liveness = Some(Probe::new(ProbeCheck::Tcp(6379), (10, 10, 3, 3)));
    // Ready only while a primary is up. The kubelet probes 8404 directly: it is no Service
    // port, so clients and their NetworkPolicies see 6379 alone.
    h.probes.readiness = Some(Probe::new(
        ProbeCheck::Http("/healthz".into(), HAPROXY_HEALTH_PORT),
        (3, 5, 2, 2),
    ));
    let mut proxy = Component::new(
        i.name,
        i.group,
        i.namespace,
        "cache-proxy",
        WorkloadKind::Deployment,
        Tier::Stateful,
        99,
    );
    proxy.containers.push(h);
    proxy.volumes.push(Volume {
        name: "config".into(),
        source: VolumeSource::ConfigMap(config_name),
    });
    proxy.replicas = 2;
    proxy.notes.push("HAProxy in front of the Redis nodes: only the node answering role:master gets traffic, so REDIS_URL stays a plain redis:// URL across failovers");
    let proxy = proxy.needs(&[nodes_name.as_str()]);

    SentinelRedis {
        nodes,
        proxy,
        proxy_config,
    }
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
