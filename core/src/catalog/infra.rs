//! Shared infrastructure in the infra namespace: the PostgreSQL and Redis that the Model
//! Router (and the platform services) use, with an init Job that creates each database and
//! its user. The reference manifests pointed the Model Router at `postgres-service` and
//! `redis-service`, which did not exist; here the Services it names are the ones planned.
//!
//! Facts: postgres StatefulSet 1000m/2Gi → 2000m/4Gi, 50Gi, exporter 50m/64Mi → 100m/128Mi;
//! redis 250m/512Mi → 500m/1Gi, 10Gi, maxmemory with allkeys-lru.

use super::*;
use crate::config::Config;
use crate::quantity::Bytes;

/// Secret with the infrastructure credentials.
pub const SECRET: &str = "infra-secrets";
const POSTGRES_EXPORTER_IMAGE: &str = "prometheuscommunity/postgres-exporter:v0.15.0";
const REDIS_EXPORTER_IMAGE: &str = "oliver006/redis_exporter:v1.55.0-alpine";

/// A database and its owner that the init Job creates.
pub struct DatabaseUser {
    /// Database and role name.
    pub name: String,
    /// Key of [`SECRET`] holding the role's password.
    pub password_key: String,
}

/// The databases the enabled consumers need.
pub fn databases(cfg: &Config) -> Vec<DatabaseUser> {
    let mut out = Vec::new();
    if let Some(mr) = &cfg.model_router {
        if mr.database.external_host.is_none() {
            out.push(DatabaseUser { name: mr.database.name.clone(), password_key: "MODEL_ROUTER_DB_PASSWORD".into() });
        }
    }
    out
}

/// Whether the shared Redis is needed.
fn needs_redis(cfg: &Config) -> bool {
    cfg.model_router.is_some()
}

pub(super) fn add(cfg: &Config, stack: &mut Stack) {
    let ns = cfg.namespaces.infra.as_str();
    let p = cfg.profile;
    let dbs = databases(cfg);
    if !dbs.is_empty() {
        let mut keys = vec![SecretKey { key: "POSTGRES_PASSWORD".into(), source: SecretSource::Random { length: 32 } }];
        keys.extend(dbs.iter().map(|d| SecretKey { key: d.password_key.clone(), source: SecretSource::Random { length: 32 } }));
        stack.secrets.push(SecretSpec { name: SECRET.into(), namespace: ns.into(), component: "postgres".into(), keys, existing: false });

        let pg_res = by_profile(p, res("100m", "256Mi", "500m", "1Gi"), res("500m", "1Gi", "1", "2Gi"), res("1", "2Gi", "2", "4Gi"));
        let mut pg = Container::new("postgres", &with_registry(cfg, super::posthog::POSTGRES_IMAGE), pg_res)
            .env("POSTGRES_USER", "postgres")
            .env("POSTGRES_DB", "voiceassistant")
            .env("PGDATA", "/var/lib/postgresql/data/pgdata")
            .env_secret("POSTGRES_PASSWORD", SECRET, "POSTGRES_PASSWORD");
        pg.ports.push(Port { name: "postgres", port: 5432 });
        let ready = ProbeCheck::Exec(["pg_isready", "-U", "postgres", "-h", "127.0.0.1", "-p", "5432"].map(String::from).to_vec());
        pg.probes.liveness = Some(Probe::new(ready.clone(), (30, 10, 5, 6)));
        pg.probes.readiness = Some(Probe::new(ready, (5, 3, 1, 3)));
        let mut c = Component::new("postgres", Group::Infra, ns, "database", WorkloadKind::StatefulSet, Tier::Stateful, 70);
        c.containers.push(pg);
        if cfg.monitoring {
            let mut e = Container::new("exporter", &with_registry(cfg, POSTGRES_EXPORTER_IMAGE), res("50m", "64Mi", "100m", "128Mi"))
                .env_secret("POSTGRES_PASSWORD", SECRET, "POSTGRES_PASSWORD")
                .env("DATA_SOURCE_NAME", "postgresql://postgres:$(POSTGRES_PASSWORD)@127.0.0.1:5432/postgres?sslmode=disable");
            e.ports.push(Port { name: "metrics", port: 9187 });
            c.containers.push(e);
            c.metrics = Some(("metrics", "/metrics"));
        }
        let c = singleton(
            c.persistent("data", "/var/lib/postgresql/data", by_profile(p, Bytes::gi(2), Bytes::gi(10), Bytes::gi(50))).scratch("run", "/var/run/postgresql").scratch("tmp", "/tmp"),
            "a single PostgreSQL primary without replication",
        );
        stack.components.push(c);

        let mut script = String::from("set -eu\nuntil pg_isready -q; do sleep 2; done\n");
        let mut j = Container::new("create-databases", &with_registry(cfg, super::posthog::POSTGRES_IMAGE), res("50m", "64Mi", "200m", "256Mi"))
            .env("PGHOST", format!("postgres.{ns}.svc.cluster.local"))
            .env("PGUSER", "postgres")
            .env("PGDATABASE", "postgres")
            .env_secret("PGPASSWORD", SECRET, "POSTGRES_PASSWORD");
        for d in &dbs {
            let var = format!("PW_{}", d.name.to_uppercase());
            j = j.env_secret(&var, SECRET, &d.password_key);
            script.push_str(&format!(
                "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname = '{n}'\" | grep -q 1 || psql -v ON_ERROR_STOP=1 -c \"CREATE ROLE {n} LOGIN\"\necho \"ALTER ROLE {n} WITH LOGIN PASSWORD :'pw'\" | psql -v ON_ERROR_STOP=1 -v pw=\"${var}\"\npsql -tAc \"SELECT 1 FROM pg_database WHERE datname = '{n}'\" | grep -q 1 || psql -v ON_ERROR_STOP=1 -c \"CREATE DATABASE {n} OWNER {n}\"\n",
                n = d.name
            ));
        }
        let mut c = Component::new("postgres-init", Group::Infra, ns, "database-setup", WorkloadKind::Job, Tier::Setup, 70);
        c.containers.push(j.shell(&script));
        c.job = Some(JobSpec { backoff_limit: 6, active_deadline: 600 });
        c.notes.push("creates each consumer's database and role, and sets the role's password from the generated Secret (idempotent)");
        stack.components.push(c.needs(&["postgres"]));
    }

    if needs_redis(cfg) {
        let redis_res = by_profile(p, res("50m", "64Mi", "250m", "256Mi"), res("100m", "256Mi", "500m", "512Mi"), res("250m", "512Mi", "500m", "1Gi"));
        let maxmem = by_profile(p, "200mb", "400mb", "768mb");
        let mut r = Container::new("redis", &with_registry(cfg, super::posthog::REDIS_IMAGE), redis_res);
        r.command = vec!["redis-server".into()];
        r.args = ["--maxmemory", maxmem, "--maxmemory-policy", "allkeys-lru", "--appendonly", "yes", "--dir", "/data"].map(String::from).to_vec();
        r.ports.push(Port { name: "redis", port: 6379 });
        r.probes.liveness = Some(Probe::new(ProbeCheck::Tcp(6379), (15, 10, 3, 3)));
        r.probes.readiness = Some(Probe::new(ProbeCheck::Exec(vec!["redis-cli".into(), "ping".into()]), (5, 5, 2, 3)));
        let mut c = Component::new("redis", Group::Infra, ns, "cache", WorkloadKind::StatefulSet, Tier::Stateful, 999);
        c.containers.push(r);
        if cfg.monitoring {
            let mut e = Container::new("exporter", &with_registry(cfg, REDIS_EXPORTER_IMAGE), res("50m", "64Mi", "100m", "128Mi")).env("REDIS_ADDR", "redis://127.0.0.1:6379");
            e.ports.push(Port { name: "metrics", port: 9121 });
            c.containers.push(e);
            c.metrics = Some(("metrics", "/metrics"));
        }
        let c = singleton(c.persistent("data", "/data", by_profile(p, Bytes::gi(1), Bytes::gi(2), Bytes::gi(10))), "a single Redis; its contents are caches and rate-limit counters");
        stack.components.push(c);
    }
}
