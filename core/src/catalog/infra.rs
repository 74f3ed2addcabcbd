//! Shared infrastructure in the infra namespace: the PostgreSQL and Redis that the Model
//! Router (and the platform services) use, with an init Job that creates each database and
//! its user. The reference manifests pointed the Model Router at `postgres-service` and
//! `redis-service`, which did not exist; here the Services it names are the ones planned.
//!
//! Facts: postgres StatefulSet 1000m/2Gi → 2000m/4Gi, 50Gi, exporter 50m/64Mi → 100m/128Mi;
//! redis 250m/512Mi → 500m/1Gi, 10Gi, maxmemory with allkeys-lru.
//!
//! With the VoiceAssistant platform on, the switchable platform infrastructure lives here too:
//! Nacos (+ MySQL in cluster mode), Milvus (+ etcd, on the one shared MinIO), Elasticsearch,
//! ClickHouse, Kafka (KRaft), MinIO with a bucket setup Job, Prometheus, Grafana,
//! Alertmanager, Jaeger and an OpenTelemetry collector (see `platform`).

use super::*;
use crate::config::Config;
use crate::quantity::Bytes;

/// Secret with the infrastructure credentials.
pub const SECRET: &str = "infra-secrets";
const POSTGRES_EXPORTER_IMAGE: &str = "prometheuscommunity/postgres-exporter:v0.15.0";
const REDIS_EXPORTER_IMAGE: &str = "oliver006/redis_exporter:v1.55.0-alpine";

/// A database and its owner that the init Job creates.
pub struct DatabaseUser {
    /// Database name.
    pub name: String,
    /// Owning role.
    pub owner: String,
    /// Key of [`SECRET`] holding the role's password.
    pub password_key: String,
}

/// The platform services with a PostgreSQL database: (service, database, role, password key).
pub const SERVICE_DATABASES: [(&str, &str, &str, &str); 4] = [
    (
        "identity-service",
        "identity",
        "identity_user",
        "IDENTITY_DB_PASSWORD",
    ),
    (
        "conversation-service",
        "conversation",
        "conversation_user",
        "CONVERSATION_DB_PASSWORD",
    ),
    (
        "knowledge-service",
        "knowledge",
        "knowledge_user",
        "KNOWLEDGE_DB_PASSWORD",
    ),
    (
        "notification-service",
        "notification",
        "notification_user",
        "NOTIFICATION_DB_PASSWORD",
    ),
];

/// The databases the enabled consumers need.
pub fn databases(cfg: &Config) -> Vec<DatabaseUser> {
    let mut out = Vec::new();
    if let Some(mr) = &cfg.model_router
        && mr.database.external_host.is_none()
    {
        out.push(DatabaseUser {
            name: mr.database.name.clone(),
            owner: mr.database.user.clone(),
            password_key: "MODEL_ROUTER_DB_PASSWORD".into(),
        });
    }
    if let Some(va) = &cfg.voice_assistant {
        for (svc, db, user, key) in SERVICE_DATABASES {
            if va.service_enabled(svc) {
                out.push(DatabaseUser {
                    name: db.into(),
                    owner: user.into(),
                    password_key: key.into(),
                });
            }
        }
    }
    out
}

/// Whether the shared Redis is needed.
fn needs_redis(cfg: &Config) -> bool {
    cfg.model_router.is_some() || cfg.voice_assistant.is_some()
}

pub(super) fn add(cfg: &Config, stack: &mut Stack) {
    let ns = cfg.namespaces.infra.as_str();
    let p = cfg.profile;
    let dbs = databases(cfg);
    if !dbs.is_empty() {
        let mut keys = vec![SecretKey {
            key: "POSTGRES_PASSWORD".into(),
            source: SecretSource::Random { length: 32 },
        }];
        keys.extend(dbs.iter().map(|d| SecretKey {
            key: d.password_key.clone(),
            source: SecretSource::Random { length: 32 },
        }));
        stack.secrets.push(SecretSpec {
            name: SECRET.into(),
            namespace: ns.into(),
            component: "postgres".into(),
            keys,
            existing: false,
            external: false,
        });

        let pg_res = by_profile(
            p,
            res("100m", "256Mi", "500m", "1Gi"),
            res("500m", "1Gi", "1", "2Gi"),
            res("1", "2Gi", "2", "4Gi"),
        );
        let pg = engines::Instance {
            name: "postgres",
            group: Group::Infra,
            namespace: ns,
            resources: pg_res,
            size: by_profile(p, Bytes::gi(2), Bytes::gi(10), Bytes::gi(50)),
        };
        let mut c = engines::postgres(
            cfg,
            &pg,
            "postgres",
            "voiceassistant",
            SECRET,
            "POSTGRES_PASSWORD",
        );
        if cfg.monitoring {
            let mut e = Container::new("exporter", &with_registry(cfg, POSTGRES_EXPORTER_IMAGE), res("50m", "64Mi", "100m", "128Mi"))
                .env_secret("POSTGRES_PASSWORD", SECRET, "POSTGRES_PASSWORD")
                .env("DATA_SOURCE_NAME", "postgresql://postgres:$(POSTGRES_PASSWORD)@127.0.0.1:5432/postgres?sslmode=disable");
            e.ports.push(Port {
                name: "metrics",
                port: 9187,
            });
            c.containers.push(e);
            c.metrics = Some(("metrics", "/metrics"));
        }
        stack.components.push(c);

        let mut script = String::from("set -eu\nuntil pg_isready -q; do sleep 2; done\n");
        let mut j = Container::new(
            "create-databases",
            &with_registry(cfg, engines::POSTGRES_IMAGE),
            res("50m", "64Mi", "200m", "256Mi"),
        )
        .env("PGHOST", format!("postgres.{ns}.svc.cluster.local"))
        .env("PGUSER", "postgres")
        .env("PGDATABASE", "postgres")
        .env_secret("PGPASSWORD", SECRET, "POSTGRES_PASSWORD");
        for d in &dbs {
            let var = format!("PW_{}", d.owner.to_ascii_uppercase());
            j = j.env_secret(&var, SECRET, &d.password_key);
            script.push_str(&format!(
                "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname = '{o}'\" | grep -q 1 || psql -v ON_ERROR_STOP=1 -c \"CREATE ROLE {o} LOGIN\"\necho \"ALTER ROLE {o} WITH LOGIN PASSWORD :'pw'\" | psql -v ON_ERROR_STOP=1 -v pw=\"${var}\"\npsql -tAc \"SELECT 1 FROM pg_database WHERE datname = '{n}'\" | grep -q 1 || psql -v ON_ERROR_STOP=1 -c \"CREATE DATABASE {n} OWNER {o}\"\n",
                n = d.name,
                o = d.owner
            ));
        }
        let mut c = Component::new(
            "postgres-init",
            Group::Infra,
            ns,
            "database-setup",
            WorkloadKind::Job,
            Tier::Setup,
            70,
        );
        c.containers.push(j.shell(&script));
        c.job = Some(JobSpec {
            backoff_limit: 6,
            active_deadline: 600,
        });
        c.notes.push("creates each consumer's database and role, and sets the role's password from the generated Secret (idempotent)");
        stack.components.push(c.needs(&["postgres"]));
    }

    if needs_redis(cfg) {
        let redis_res = by_profile(
            p,
            res("50m", "64Mi", "250m", "256Mi"),
            res("100m", "256Mi", "500m", "512Mi"),
            res("250m", "512Mi", "500m", "1Gi"),
        );
        let redis = engines::Instance {
            name: "redis",
            group: Group::Infra,
            namespace: ns,
            resources: redis_res,
            size: by_profile(p, Bytes::gi(1), Bytes::gi(2), Bytes::gi(10)),
        };
        let maxmem = by_profile(p, "200mb", "400mb", "768mb");
        let mut c = engines::redis(
            cfg,
            &redis,
            maxmem,
            "a single Redis; its contents are caches and rate-limit counters",
        );
        if cfg.monitoring {
            let mut e = Container::new(
                "exporter",
                &with_registry(cfg, REDIS_EXPORTER_IMAGE),
                res("50m", "64Mi", "100m", "128Mi"),
            )
            .env("REDIS_ADDR", "redis://127.0.0.1:6379");
            e.ports.push(Port {
                name: "metrics",
                port: 9121,
            });
            c.containers.push(e);
            c.metrics = Some(("metrics", "/metrics"));
        }
        stack.components.push(c);
    }
    platform(cfg, stack);
}

// --- VoiceAssistant platform infrastructure ---------------------------------------------

const NACOS_IMAGE: &str = "nacos/nacos-server:v2.2.3";
const NACOS_MYSQL_IMAGE: &str = "nacos/nacos-mysql:8.0.16";
const MILVUS_IMAGE: &str = "milvusdb/milvus:v2.3.3";
const ETCD_IMAGE: &str = "quay.io/coreos/etcd:v3.5.10";
const ES_IMAGE: &str = "docker.elastic.co/elasticsearch/elasticsearch:8.11.1";
const CLICKHOUSE_IMAGE: &str = "clickhouse/clickhouse-server:23.8-alpine";
const KAFKA_IMAGE: &str = "confluentinc/cp-kafka:7.5.0";
const PROMETHEUS_IMAGE: &str = "prom/prometheus:v2.48.0";
const GRAFANA_IMAGE: &str = "grafana/grafana:10.2.2";
const ALERTMANAGER_IMAGE: &str = "prom/alertmanager:v0.26.0";
const JAEGER_COLLECTOR_IMAGE: &str = "jaegertracing/jaeger-collector:1.51";
const JAEGER_QUERY_IMAGE: &str = "jaegertracing/jaeger-query:1.51";
const OTEL_IMAGE: &str = "otel/opentelemetry-collector:0.91.0";
/// Buckets the MinIO setup Job creates: documents, multimodal, Milvus segments, backups.
pub const BUCKETS: [&str; 4] = ["documents", "multimodal", "milvus-bucket", "backups"];

/// Milvus's credentials for its object storage: the in-cluster MinIO's root keys, or, for an
/// external store, its TLS switch, region and key pair, else its workload identity.
///
/// Milvus reads `minio.useSSL`, `minio.region`, `minio.accessKeyID`,
/// `minio.secretAccessKey`, `minio.useIAM` and `minio.cloudProvider`
/// (milvus-io/milvus pkg/util/paramtable/service_param.go@2fe7d0e3 `MinioConfig`: each key's
/// `Version` is 2.0.0 to 2.3.0, so v2.3.3, the image pinned here, reads them; the stored version
/// is newer), and an environment variable overrides a key whose name matches it lowercased
/// without `_`, `.` and `/` (pkg/config/config.go@0377e490 `formatKey`,
/// pkg/config/env_source.go@05fb0195): `MINIO_USE_SSL` is `minio.useSSL`. `MINIO_ADDRESS`
/// carries the port, which `minio.address` keeps as written when it holds a `:`.
fn milvus_object_storage(m: Container, stores: &voiceassistant::Stores<'_>) -> Container {
    let Some(e) = stores.minio else {
        return m
            .env_secret("MINIO_ACCESS_KEY_ID", SECRET, "MINIO_ROOT_USER")
            .env_secret("MINIO_SECRET_ACCESS_KEY", SECRET, "MINIO_ROOT_PASSWORD");
    };
    let mut m = m.env("MINIO_USE_SSL", e.tls.to_string());
    if let Some(region) = e.names.get("region") {
        m = m.env("MINIO_REGION", region.clone());
    }
    // Google Cloud Storage's S3 interface: Milvus's `gcp` provider (signature and, with
    // useIAM, the metadata server's credentials); `aws`, its default, serves every other store.
    if e.host == "storage.googleapis.com" {
        m = m.env("MINIO_CLOUD_PROVIDER", "gcp");
    }
    match stores.minio_keys {
        Some(((is, ik), (ss, sk))) => m.env_secret("MINIO_ACCESS_KEY_ID", is, ik).env_secret(
            "MINIO_SECRET_ACCESS_KEY",
            ss,
            sk,
        ),
        None => m.env("MINIO_USE_IAM", "true"),
    }
}

/// Adds keys to the infrastructure Secret, creating it when absent.
fn secret_keys(stack: &mut Stack, ns: &str, keys: &[(&str, usize)]) {
    let new = keys.iter().map(|(k, n)| SecretKey {
        key: (*k).into(),
        source: SecretSource::Random { length: *n },
    });
    match stack
        .secrets
        .iter_mut()
        .find(|s| s.name == SECRET && s.namespace == ns)
    {
        Some(s) => s.keys.extend(new),
        None => stack.secrets.push(SecretSpec {
            name: SECRET.into(),
            namespace: ns.into(),
            component: "postgres".into(),
            keys: new.collect(),
            existing: false,
            external: false,
        }),
    }
}

fn fq(name: &str, ns: &str) -> String {
    format!("{name}.{ns}.svc.cluster.local")
}

/// A deterministic KRaft cluster id (base64url of 16 bytes, no padding) derived from the
/// release and namespace, so re-renders give the same id.
pub fn kafka_cluster_id(instance: &str, ns: &str) -> String {
    let mut bytes = [0u8; 16];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, b) in bytes.iter_mut().enumerate() {
        for c in format!("{instance}/{ns}/{i}").bytes() {
            h = (h ^ u64::from(c)).wrapping_mul(0x0100_0000_01b3);
        }
        *b = (h >> 24) as u8;
    }
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(A[((acc >> bits) & 63) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(A[((acc << (6 - bits)) & 63) as usize] as char);
    }
    out
}

/// The platform infrastructure of [`crate::config::VoiceAssistant`], each component switchable.
fn platform(cfg: &Config, stack: &mut Stack) {
    let Some(va) = &cfg.voice_assistant else {
        return;
    };
    let ns = cfg.namespaces.infra.as_str();
    let p = cfg.profile;
    let sw = va.infra;
    let prod = va.reference_scale;
    let img = |i: &str| with_registry(cfg, i);

    if sw.nacos {
        let replicas = if prod { 3 } else { 1 };
        let mut n = Container::new(
            "nacos",
            &img(NACOS_IMAGE),
            by_profile(
                p,
                res("100m", "384Mi", "500m", "1Gi"),
                res("250m", "768Mi", "1", "2Gi"),
                res("500m", "1Gi", "1", "2Gi"),
            ),
        )
        .env("PREFER_HOST_MODE", "hostname")
        .env("NACOS_SERVER_PORT", "8848")
        .env("JVM_XMS", by_profile(p, "256m", "512m", "512m"))
        .env("JVM_XMX", by_profile(p, "256m", "512m", "768m"))
        .env("JVM_XMN", by_profile(p, "128m", "256m", "256m"));
        if replicas > 1 {
            let servers: Vec<String> = (0..replicas)
                .map(|i| format!("nacos-{i}.{}:8848", fq("nacos", ns)))
                .collect();
            secret_keys(
                stack,
                ns,
                &[("NACOS_MYSQL_PASSWORD", 32), ("MYSQL_ROOT_PASSWORD", 32)],
            );
            n = n
                .env("MODE", "cluster")
                .env("NACOS_SERVERS", servers.join(" "))
                .env("SPRING_DATASOURCE_PLATFORM", "mysql")
                .env("MYSQL_SERVICE_HOST", fq("nacos-mysql", ns))
                .env("MYSQL_SERVICE_PORT", "3306")
                .env("MYSQL_SERVICE_DB_NAME", "nacos")
                .env("MYSQL_SERVICE_USER", "nacos")
                .env_secret("MYSQL_SERVICE_PASSWORD", SECRET, "NACOS_MYSQL_PASSWORD");
        } else {
            n = n
                .env("MODE", "standalone")
                .env("EMBEDDED_STORAGE", "embedded");
        }
        n.ports = vec![
            Port {
                name: "http",
                port: 8848,
            },
            Port {
                name: "client-rpc",
                port: 9848,
            },
            Port {
                name: "raft-rpc",
                port: 9849,
            },
            Port {
                name: "old-raft",
                port: 7848,
            },
        ];
        n.probes.liveness = Some(Probe::new(
            ProbeCheck::Http("/nacos/actuator/health".into(), 8848),
            (60, 10, 5, 6),
        ));
        n.probes.readiness = Some(Probe::new(
            ProbeCheck::Http("/nacos/actuator/health".into(), 8848),
            (30, 10, 5, 6),
        ));
        // nacos-group/nacos-k8s helm/values.yaml@6fce81c5: startup 180 s delay + 5 s × 3.
        n.starts_within(
            ProbeCheck::Http("/nacos/actuator/health".into(), 8848),
            (10, 30),
            "Spring Boot start, then Raft leader election among the peers (upstream's chart allows 195 s)",
        );
        n.read_only_root = false;
        let mut c = Component::new(
            "nacos",
            Group::Infra,
            ns,
            "config-center",
            WorkloadKind::StatefulSet,
            Tier::Stateful,
            1000,
        );
        c.containers.push(n);
        c.replicas = replicas;
        c.parallel_pods = replicas > 1;
        c.quorum = true;
        c.security.writable_root_reason = Some(
            "the Nacos start script and server write under /home/nacos (in cluster mode conf/, where it writes cluster.conf, is a volume seeded from the image)",
        );
        c.notes.push("cluster mode (3 peers on MySQL) at reference scale, standalone with embedded storage otherwise; console auth stays off, reachable only through the NetworkPolicy");
        let mut c = c
            .persistent(
                "data",
                "/home/nacos/data",
                by_profile(p, Bytes::gi(1), Bytes::gi(5), Bytes::gi(10)),
            )
            .scratch("logs", "/home/nacos/logs")
            .scratch("tmp", "/tmp");
        if replicas > 1 {
            // In cluster mode the image's start script writes conf/cluster.conf
            // (nacos-group/nacos-docker build/bin/docker-startup.sh@d1540868 L21), in a
            // directory root unpacked (build/Dockerfile@d1540868 L32, L42) that UID 1000 cannot
            // write: the directory becomes a volume, seeded from the image.
            let seed = Container::new(
                "conf",
                &img(NACOS_IMAGE),
                res("50m", "64Mi", "100m", "128Mi"),
            )
            .shell("cp -R /home/nacos/conf/. /conf/")
            .mount("conf", "/conf");
            c.init_containers.push(seed);
            c = c
                .needs(&["nacos-mysql"])
                .scratch("conf", "/home/nacos/conf");
        }
        c = c.with_ui("nacos", 8848, "/nacos/");
        stack.components.push(c);
        if replicas > 1 {
            let mut m = Container::new(
                "mysql",
                &img(NACOS_MYSQL_IMAGE),
                res("250m", "512Mi", "500m", "1Gi"),
            )
            .env("MYSQL_DATABASE", "nacos")
            .env("MYSQL_USER", "nacos")
            .env_secret("MYSQL_PASSWORD", SECRET, "NACOS_MYSQL_PASSWORD")
            .env_secret("MYSQL_ROOT_PASSWORD", SECRET, "MYSQL_ROOT_PASSWORD");
            m.ports.push(Port {
                name: "mysql",
                port: 3306,
            });
            m.probes.liveness = Some(Probe::new(ProbeCheck::Tcp(3306), (30, 10, 5, 3)));
            // bitnami/charts bitnami/mysql/values.yaml@5165628a: startup on by default, 115 s.
            m.starts_within(
                ProbeCheck::Tcp(3306),
                (10, 30),
                "InnoDB replays its redo log before it accepts connections (bitnami's chart allows 115 s on a primary)",
            );
            m.probes.readiness = Some(Probe::new(
                ProbeCheck::Exec(
                    [
                        "sh",
                        "-c",
                        "mysqladmin ping -h 127.0.0.1 -u root -p\"$MYSQL_ROOT_PASSWORD\"",
                    ]
                    .map(String::from)
                    .to_vec(),
                ),
                (10, 5, 3, 3),
            ));
            let mut c = Component::new(
                "nacos-mysql",
                Group::Infra,
                ns,
                "database",
                WorkloadKind::StatefulSet,
                Tier::Stateful,
                999,
            );
            c.containers.push(m);
            c.notes
                .push("the nacos-mysql image ships Nacos' schema and loads it on first start");
            stack.components.push(singleton(
                c.persistent("data", "/var/lib/mysql", Bytes::gi(20))
                    .scratch("run", "/var/run/mysqld")
                    .scratch("tmp", "/tmp"),
                "a single MySQL for the Nacos cluster",
            ));
        }
    }

    if sw.minio {
        secret_keys(
            stack,
            ns,
            &[("MINIO_ROOT_USER", 20), ("MINIO_ROOT_PASSWORD", 40)],
        );
        let minio = engines::Instance {
            name: "minio",
            group: Group::Infra,
            namespace: ns,
            resources: by_profile(
                p,
                res("50m", "128Mi", "250m", "512Mi"),
                res("100m", "256Mi", "500m", "1Gi"),
                res("500m", "1Gi", "1", "2Gi"),
            ),
            size: by_profile(p, Bytes::gi(5), Bytes::gi(20), Bytes::gi(200)),
        };
        let mut c = engines::minio(
            cfg,
            &minio,
            ("api", 9000),
            9001,
            SECRET,
            ("MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"),
        );
        c.notes.push("the one shared object store: documents, multimodal, Milvus segments and backups (the reference defined MinIO twice)");
        stack
            .components
            .push(c.with_ui("minio", 9001, "/").with_login(Login {
                user: None,
                secret: SECRET.into(),
                user_key: Some("MINIO_ROOT_USER".into()),
                password_key: "MINIO_ROOT_PASSWORD".into(),
            }));

        let j = Container::new(
            "create-buckets",
            &img(engines::MC_IMAGE),
            res("50m", "64Mi", "200m", "256Mi"),
        )
        .env_secret("ACCESS_KEY", SECRET, "MINIO_ROOT_USER")
        .env_secret("SECRET_KEY", SECRET, "MINIO_ROOT_PASSWORD")
        .env("MINIO_URL", format!("http://{}:9000", fq("minio", ns)))
        .env("HOME", "/tmp");
        let mut script = String::from(
            "set -eu\nuntil mc alias set store \"$MINIO_URL\" \"$ACCESS_KEY\" \"$SECRET_KEY\"; do sleep 2; done\n",
        );
        for b in BUCKETS {
            script.push_str(&format!(
                "mc mb --ignore-existing store/{b}\nmc anonymous set none store/{b}\n"
            ));
        }
        let mut c = Component::new(
            "minio-setup",
            Group::Infra,
            ns,
            "object-storage-setup",
            WorkloadKind::Job,
            Tier::Setup,
            1000,
        );
        c.containers.push(j.shell(&script));
        c.job = Some(JobSpec {
            backoff_limit: 6,
            active_deadline: 600,
        });
        c.notes.push("creates the documents, multimodal, milvus-bucket and backups buckets, private (idempotent)");
        stack
            .components
            .push(c.needs(&["minio"]).scratch("tmp", "/tmp"));
    }

    if sw.milvus {
        let mut e = Container::new(
            "etcd",
            &img(ETCD_IMAGE),
            by_profile(
                p,
                res("25m", "64Mi", "250m", "256Mi"),
                res("100m", "256Mi", "500m", "512Mi"),
                res("250m", "512Mi", "500m", "1Gi"),
            ),
        )
        .env("ETCD_NAME", "milvus-etcd-0")
        .env("ETCD_DATA_DIR", "/etcd")
        .env("ETCD_LISTEN_CLIENT_URLS", "http://0.0.0.0:2379")
        .env(
            "ETCD_ADVERTISE_CLIENT_URLS",
            format!("http://{}:2379", fq("milvus-etcd", ns)),
        )
        .env("ETCD_LISTEN_PEER_URLS", "http://0.0.0.0:2380")
        .env("ETCD_AUTO_COMPACTION_MODE", "revision")
        .env("ETCD_AUTO_COMPACTION_RETENTION", "1000")
        .env("ETCD_QUOTA_BACKEND_BYTES", "4294967296");
        e.command = vec!["etcd".into()];
        e.ports = vec![
            Port {
                name: "client",
                port: 2379,
            },
            Port {
                name: "peer",
                port: 2380,
            },
        ];
        e.probes.liveness = Some(Probe::new(
            ProbeCheck::Exec(vec!["etcdctl".into(), "endpoint".into(), "health".into()]),
            (30, 10, 5, 3),
        ));
        e.probes.readiness = Some(Probe::new(
            ProbeCheck::Exec(vec!["etcdctl".into(), "endpoint".into(), "health".into()]),
            (5, 5, 5, 3),
        ));
        let mut c = Component::new(
            "milvus-etcd",
            Group::Infra,
            ns,
            "metadata-store",
            WorkloadKind::StatefulSet,
            Tier::Stateful,
            1000,
        );
        c.containers.push(e);
        stack.components.push(singleton(
            c.persistent(
                "data",
                "/etcd",
                by_profile(p, Bytes::gi(1), Bytes::gi(5), Bytes::gi(10)),
            ),
            "Milvus standalone keeps its metadata in one etcd",
        ));

        let stores = voiceassistant::Stores::of(cfg);
        let m = Container::new(
            "milvus",
            &img(MILVUS_IMAGE),
            by_profile(
                p,
                res("100m", "512Mi", "1", "2Gi"),
                res("500m", "1Gi", "1", "3Gi"),
                res("1", "2Gi", "2", "4Gi"),
            ),
        )
        .env("ETCD_ENDPOINTS", format!("{}:2379", fq("milvus-etcd", ns)))
        .env("MINIO_ADDRESS", stores.minio_endpoint.clone())
        .env(
            "MINIO_BUCKET_NAME",
            external::platform_bucket(cfg, "milvus"),
        );
        let mut m = milvus_object_storage(m, &stores);
        m.command = vec!["milvus".into(), "run".into(), "standalone".into()];
        m.ports = vec![
            Port {
                name: "grpc",
                port: 19530,
            },
            Port {
                name: "metrics",
                port: 9091,
            },
        ];
        m.probes.liveness = Some(Probe::new(
            ProbeCheck::Http("/healthz".into(), 9091),
            (90, 30, 10, 5),
        ));
        m.probes.readiness = Some(Probe::new(
            ProbeCheck::Http("/healthz".into(), 9091),
            (60, 15, 10, 5),
        ));
        // zilliztech/milvus-helm charts/milvus/values.yaml@98324768: liveness 90 + 30 × 5.
        m.starts_within(
            ProbeCheck::Http("/healthz".into(), 9091),
            (10, 30),
            "Milvus loads collection metadata from etcd and segments from MinIO before it is healthy (upstream's chart allows 240 s)",
        );
        m.read_only_root = false;
        let mut c = Component::new(
            "milvus",
            Group::Infra,
            ns,
            "vector-database",
            WorkloadKind::StatefulSet,
            Tier::Stateful,
            1000,
        );
        c.containers.push(m);
        c.metrics = Some(("metrics", "/metrics"));
        c.security.writable_root_reason = Some(
            "Milvus writes its rendered configuration and local caches under /milvus at start",
        );
        c.notes.push("standalone, segments in the shared MinIO bucket milvus-bucket; authorization off, reachable only through the NetworkPolicy");
        stack.components.push(
            singleton(
                c.persistent(
                    "data",
                    "/var/lib/milvus",
                    by_profile(p, Bytes::gi(5), Bytes::gi(20), Bytes::gi(100)),
                )
                .scratch("tmp", "/tmp"),
                "Milvus standalone",
            )
            .needs(&["milvus-etcd", "minio"]),
        );
    }

    if sw.elasticsearch {
        let mut e = Container::new(
            "elasticsearch",
            &img(ES_IMAGE),
            by_profile(
                p,
                res("100m", "1Gi", "1", "1536Mi"),
                res("500m", "2Gi", "1", "3Gi"),
                res("1", "3Gi", "2", "4Gi"),
            ),
        )
        .env("discovery.type", "single-node")
        .env("cluster.name", "voiceassistant-es")
        .env("xpack.security.enabled", "false")
        .env(
            "ES_JAVA_OPTS",
            by_profile(p, "-Xms512m -Xmx512m", "-Xms1g -Xmx1g", "-Xms2g -Xmx2g"),
        );
        e.ports = vec![
            Port {
                name: "rest",
                port: 9200,
            },
            Port {
                name: "transport",
                port: 9300,
            },
        ];
        e.probes.liveness = Some(Probe::new(
            ProbeCheck::Http("/_cluster/health?local=true".into(), 9200),
            (90, 20, 10, 5),
        ));
        e.probes.readiness = Some(Probe::new(
            ProbeCheck::Http("/_cluster/health?local=true".into(), 9200),
            (60, 10, 5, 6),
        ));
        // bitnami/charts bitnami/elasticsearch/values.yaml@5165628a: liveness after 180 s
        // (PR #19677: "avoid restarts during the cluster bootstrap stage").
        e.starts_within(
            ProbeCheck::Http("/_cluster/health?local=true".into(), 9200),
            (10, 30),
            "the JVM starts, then the node recovers its local shards (bitnami's chart waits 230 s)",
        );
        e.read_only_root = false;
        let mut c = Component::new(
            "elasticsearch",
            Group::Infra,
            ns,
            "search",
            WorkloadKind::StatefulSet,
            Tier::Stateful,
            1000,
        );
        c.containers.push(e);
        c.security.writable_root_reason = Some(
            "Elasticsearch creates its keystore and writes logs under /usr/share/elasticsearch at start",
        );
        c.notes.push("no privileged sysctl init container: each node needs vm.max_map_count >= 262144 (sysctl on the node); xpack security off, reachable only through the NetworkPolicy");
        stack.components.push(singleton(
            c.persistent(
                "data",
                "/usr/share/elasticsearch/data",
                by_profile(p, Bytes::gi(5), Bytes::gi(20), Bytes::gi(100)),
            )
            .scratch("tmp", "/tmp"),
            "a single-node Elasticsearch",
        ));
    }

    if sw.clickhouse {
        secret_keys(stack, ns, &[("CLICKHOUSE_PASSWORD", 32)]);
        let mut ch = Container::new(
            "clickhouse",
            &img(CLICKHOUSE_IMAGE),
            by_profile(
                p,
                res("100m", "512Mi", "1", "2Gi"),
                res("500m", "2Gi", "1", "4Gi"),
                res("1", "4Gi", "2", "8Gi"),
            ),
        )
        .env("CLICKHOUSE_DB", "analytics")
        .env("CLICKHOUSE_USER", "default")
        .env("CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT", "0")
        .env_secret("CLICKHOUSE_PASSWORD", SECRET, "CLICKHOUSE_PASSWORD");
        ch.ports = vec![
            Port {
                name: "native",
                port: 9000,
            },
            Port {
                name: "http",
                port: 8123,
            },
            Port {
                name: "interserver",
                port: 9009,
            },
        ];
        ch.probes.liveness = Some(Probe::new(
            ProbeCheck::Http("/ping".into(), 8123),
            (30, 10, 5, 6),
        ));
        ch.probes.readiness = Some(Probe::new(
            ProbeCheck::Http("/ping".into(), 8123),
            (10, 5, 3, 3),
        ));
        ch.starts_within(
            ProbeCheck::Http("/ping".into(), 8123),
            (10, 90),
            CLICKHOUSE_START,
        );
        ch.read_only_root = false;
        let mut c = Component::new(
            "clickhouse",
            Group::Infra,
            ns,
            "analytics-database",
            WorkloadKind::StatefulSet,
            Tier::Stateful,
            101,
        );
        c.containers.push(ch);
        c.security.writable_root_reason = Some(
            "the entrypoint writes the default user's password into /etc/clickhouse-server/users.d",
        );
        stack.components.push(singleton(
            c.persistent(
                "data",
                "/var/lib/clickhouse",
                by_profile(p, Bytes::gi(5), Bytes::gi(20), Bytes::gi(100)),
            )
            .scratch("logs", "/var/log/clickhouse-server")
            .scratch("tmp", "/tmp"),
            "a single ClickHouse node",
        ));
    }

    if sw.kafka {
        let replicas: u32 = if prod { 3 } else { 1 };
        let voters: Vec<String> = (0..replicas)
            .map(|i| format!("{i}@kafka-{i}.{}:9093", fq("kafka", ns)))
            .collect();
        let rf = replicas.to_string();
        let isr = if replicas >= 3 { "2" } else { "1" };
        let mut k = Container::new(
            "kafka",
            &img(KAFKA_IMAGE),
            by_profile(
                p,
                res("100m", "768Mi", "500m", "1Gi"),
                res("250m", "1Gi", "1", "2Gi"),
                res("500m", "2Gi", "1", "4Gi"),
            ),
        )
        .env("KAFKA_PROCESS_ROLES", "broker,controller")
        .env("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093")
        .env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
        .env(
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
            "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        )
        .env("KAFKA_INTER_BROKER_LISTENER_NAME", "PLAINTEXT")
        .env("KAFKA_CONTROLLER_QUORUM_VOTERS", voters.join(","))
        .env("CLUSTER_ID", kafka_cluster_id(&cfg.instance, ns))
        .env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", rf.clone())
        .env("KAFKA_DEFAULT_REPLICATION_FACTOR", rf.clone())
        .env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", rf)
        .env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", isr)
        .env("KAFKA_LOG_RETENTION_HOURS", "168")
        .env("KAFKA_LOG_RETENTION_BYTES", "1073741824")
        .env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "true")
        .env("KAFKA_LOG_DIRS", "/var/lib/kafka/data/logs")
        .env(
            "KAFKA_HEAP_OPTS",
            by_profile(p, "-Xmx512M -Xms512M", "-Xmx768M -Xms768M", "-Xmx2G -Xms2G"),
        )
        .env(
            "KAFKA_JVM_PERFORMANCE_OPTS",
            "-XX:+UseG1GC -XX:MaxGCPauseMillis=20",
        );
        k = k.shell(&format!(
            "export KAFKA_NODE_ID=\"${{HOSTNAME##*-}}\"\nexport KAFKA_ADVERTISED_LISTENERS=\"PLAINTEXT://${{HOSTNAME}}.{}:9092\"\nexec /etc/confluent/docker/run\n",
            fq("kafka", ns)
        ));
        k.ports = vec![
            Port {
                name: "broker",
                port: 9092,
            },
            Port {
                name: "controller",
                port: 9093,
            },
        ];
        k.probes.liveness = Some(Probe::new(ProbeCheck::Tcp(9092), (60, 10, 5, 6)));
        k.probes.readiness = Some(Probe::new(ProbeCheck::Tcp(9092), (30, 10, 5, 6)));
        // The port stays closed while logs recover (strimzi-kafka-operator#1645; bitnami's
        // chart keeps liveness off the port for the same reason).
        k.starts_within(
            ProbeCheck::Tcp(9092),
            (10, 60),
            "after an unclean shutdown the broker recovers every log segment before it opens its port",
        );
        k.read_only_root = false;
        let mut c = Component::new(
            "kafka",
            Group::Infra,
            ns,
            "broker",
            WorkloadKind::StatefulSet,
            Tier::Stateful,
            1000,
        );
        c.containers.push(k);
        c.replicas = replicas;
        c.parallel_pods = replicas > 1;
        c.quorum = true;
        c.security.writable_root_reason = Some(
            "the Confluent image renders /etc/kafka/*.properties from the environment at start",
        );
        c.notes.push("KRaft: every broker is also a controller; the cluster id is derived from the release so re-renders keep it; kafka-ui (unpinned `latest` in the reference) is left out");
        stack.components.push(
            c.persistent(
                "data",
                "/var/lib/kafka/data",
                by_profile(p, Bytes::gi(5), Bytes::gi(10), Bytes::gi(50)),
            )
            .scratch("tmp", "/tmp"),
        );
    }

    if sw.otel_collector {
        let exporter = if sw.jaeger {
            format!(
                "  otlp/jaeger:\n    endpoint: {}:4317\n    tls:\n      insecure: true\n",
                fq("jaeger-collector", ns)
            )
        } else {
            "  debug:\n    verbosity: basic\n".to_string()
        };
        let exp_name = if sw.jaeger { "otlp/jaeger" } else { "debug" };
        let conf = format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 0.0.0.0:4317\n      http:\n        endpoint: 0.0.0.0:4318\nprocessors:\n  memory_limiter:\n    check_interval: 1s\n    limit_percentage: 80\n    spike_limit_percentage: 20\n  batch: {{}}\nexporters:\n{exporter}extensions:\n  health_check:\n    endpoint: 0.0.0.0:13133\nservice:\n  extensions: [health_check]\n  telemetry:\n    metrics:\n      address: 0.0.0.0:8888\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [memory_limiter, batch]\n      exporters: [{exp_name}]\n"
        );
        stack.config_maps.push(ConfigMapSpec {
            name: "otel-collector-config".into(),
            namespace: ns.into(),
            component: "otel-collector".into(),
            data: [("config.yaml".to_string(), conf)].into_iter().collect(),
        });
        let mut o = Container::new(
            "otel-collector",
            &img(OTEL_IMAGE),
            by_profile(
                p,
                res("25m", "64Mi", "250m", "256Mi"),
                res("100m", "128Mi", "500m", "512Mi"),
                res("200m", "256Mi", "1", "1Gi"),
            ),
        );
        o.args = vec!["--config=/conf/config.yaml".into()];
        o.ports = vec![
            Port {
                name: "otlp-grpc",
                port: 4317,
            },
            Port {
                name: "otlp-http",
                port: 4318,
            },
            Port {
                name: "metrics",
                port: 8888,
            },
            Port {
                name: "health",
                port: 13133,
            },
        ];
        o.probes.liveness = Some(Probe::new(
            ProbeCheck::Http("/".into(), 13133),
            (10, 10, 3, 3),
        ));
        o.probes.readiness = Some(Probe::new(
            ProbeCheck::Http("/".into(), 13133),
            (5, 5, 3, 3),
        ));
        o.mounts.push(Mount {
            volume: "config".into(),
            path: "/conf".into(),
            read_only: true,
        });
        let mut c = Component::new(
            "otel-collector",
            Group::Infra,
            ns,
            "telemetry",
            WorkloadKind::Deployment,
            Tier::Stateful,
            10001,
        );
        c.containers.push(o);
        c.replicas = if prod { 2 } else { 1 };
        c.metrics = Some(("metrics", "/metrics"));
        c.volumes.push(Volume {
            name: "config".into(),
            source: VolumeSource::ConfigMap("otel-collector-config".into()),
        });
        c.notes.push("the OTLP endpoint the services and the mesh export to (the reference pointed at it without defining it)");
        c.mesh.trace_sink = true;
        if sw.jaeger {
            c = c.needs(&["jaeger-collector"]);
        }
        stack.components.push(c);
    }

    if sw.jaeger {
        // The in-cluster Elasticsearch, or the external one (`components.elasticsearch.external`).
        let stores = voiceassistant::Stores::of(cfg);
        let es = format!("http://{}:{}", stores.es_host, stores.es_port);
        let es_auth = |c: Container| match stores.es_credentials {
            Some(((us, uk), (ps, pk))) => {
                c.env_secret("ES_USERNAME", us, uk)
                    .env_secret("ES_PASSWORD", ps, pk)
            }
            None => c,
        };
        let j = Container::new(
            "jaeger-collector",
            &img(JAEGER_COLLECTOR_IMAGE),
            by_profile(
                p,
                res("50m", "128Mi", "500m", "512Mi"),
                res("250m", "512Mi", "1", "1Gi"),
                res("500m", "1Gi", "1", "2Gi"),
            ),
        )
        .env("SPAN_STORAGE_TYPE", "elasticsearch")
        .env("ES_SERVER_URLS", es.clone())
        .env("ES_INDEX_PREFIX", "jaeger")
        .env("COLLECTOR_OTLP_ENABLED", "true");
        let mut j = es_auth(j);
        j.ports = vec![
            Port {
                name: "http",
                port: 14268,
            },
            Port {
                name: "grpc",
                port: 14250,
            },
            Port {
                name: "zipkin",
                port: 9411,
            },
            Port {
                name: "otlp-grpc",
                port: 4317,
            },
            Port {
                name: "admin",
                port: 14269,
            },
        ];
        j.probes.liveness = Some(Probe::new(
            ProbeCheck::Http("/".into(), 14269),
            (10, 10, 3, 3),
        ));
        j.probes.readiness = Some(Probe::new(
            ProbeCheck::Http("/".into(), 14269),
            (5, 5, 3, 3),
        ));
        let mut c = Component::new(
            "jaeger-collector",
            Group::Infra,
            ns,
            "tracing",
            WorkloadKind::Deployment,
            Tier::Stateful,
            10001,
        );
        c.containers.push(j);
        c.replicas = if prod { 2 } else { 1 };
        c.metrics = Some(("admin", "/metrics"));
        c.notes.push("the jaeger-agent DaemonSet is left out: spans arrive over OTLP through the OpenTelemetry collector");
        stack.components.push(c.needs(&["elasticsearch"]));
        let q = Container::new(
            "jaeger-query",
            &img(JAEGER_QUERY_IMAGE),
            by_profile(
                p,
                res("25m", "64Mi", "250m", "256Mi"),
                res("100m", "256Mi", "500m", "512Mi"),
                res("250m", "512Mi", "500m", "1Gi"),
            ),
        )
        .env("SPAN_STORAGE_TYPE", "elasticsearch")
        .env("ES_SERVER_URLS", es)
        .env("ES_INDEX_PREFIX", "jaeger");
        let mut q = es_auth(q);
        q.ports = vec![
            Port {
                name: "ui",
                port: 16686,
            },
            Port {
                name: "admin",
                port: 16687,
            },
        ];
        q.probes.liveness = Some(Probe::new(
            ProbeCheck::Http("/".into(), 16687),
            (10, 10, 3, 3),
        ));
        q.probes.readiness = Some(Probe::new(
            ProbeCheck::Http("/".into(), 16687),
            (5, 5, 3, 3),
        ));
        let mut c = Component::new(
            "jaeger-query",
            Group::Infra,
            ns,
            "tracing-ui",
            WorkloadKind::Deployment,
            Tier::Stateful,
            10001,
        );
        c.containers.push(q);
        c.metrics = Some(("admin", "/metrics"));
        stack
            .components
            .push(c.needs(&["elasticsearch"]).with_ui("jaeger", 16686, "/"));
    }

    if sw.monitoring {
        let am_replicas: u32 = if prod { 2 } else { 1 };
        let prom_conf = format!(
            "global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\n  external_labels:\n    cluster: voiceassistant\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"{am}:9093\"]\nscrape_configs:\n  - job_name: kubernetes-pods\n    kubernetes_sd_configs:\n      - role: pod\n    relabel_configs:\n      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]\n        action: keep\n        regex: \"true\"\n      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]\n        action: replace\n        target_label: __metrics_path__\n        regex: (.+)\n      - source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]\n        action: replace\n        regex: ([^:]+)(?::\\d+)?;(\\d+)\n        replacement: $1:$2\n        target_label: __address__\n      - source_labels: [__meta_kubernetes_namespace]\n        target_label: namespace\n      - source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_name]\n        target_label: app\n",
            am = fq("alertmanager", ns)
        );
        stack.config_maps.push(ConfigMapSpec {
            name: "prometheus-config".into(),
            namespace: ns.into(),
            component: "prometheus".into(),
            data: [("prometheus.yml".to_string(), prom_conf)]
                .into_iter()
                .collect(),
        });
        let mut pr = Container::new(
            "prometheus",
            &img(PROMETHEUS_IMAGE),
            by_profile(
                p,
                res("100m", "512Mi", "500m", "1Gi"),
                res("250m", "1Gi", "1", "2Gi"),
                res("500m", "2Gi", "2", "8Gi"),
            ),
        );
        pr.args = [
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            "--storage.tsdb.retention.time=15d",
            "--web.enable-lifecycle",
        ]
        .map(String::from)
        .to_vec();
        pr.ports = vec![Port {
            name: "http",
            port: 9090,
        }];
        pr.probes.liveness = Some(Probe::new(
            ProbeCheck::Http("/-/healthy".into(), 9090),
            (30, 15, 5, 3),
        ));
        pr.probes.readiness = Some(Probe::new(
            ProbeCheck::Http("/-/ready".into(), 9090),
            (10, 10, 5, 3),
        ));
        pr.mounts.push(Mount {
            volume: "config".into(),
            path: "/etc/prometheus".into(),
            read_only: true,
        });
        let mut c = Component::new(
            "prometheus",
            Group::Infra,
            ns,
            "monitoring",
            WorkloadKind::StatefulSet,
            Tier::Stateful,
            65534,
        );
        c.containers.push(pr);
        c.volumes.push(Volume {
            name: "config".into(),
            source: VolumeSource::ConfigMap("prometheus-config".into()),
        });
        c.scraper = true;
        c.api_access = true;
        c.metrics = Some(("http", "/metrics"));
        c.notes.push("discovers pods through the API (ClusterRole prometheus) and scrapes those annotated prometheus.io/scrape; the admin API stays off");
        let c = singleton(
            c.persistent(
                "data",
                "/prometheus",
                by_profile(p, Bytes::gi(5), Bytes::gi(20), Bytes::gi(100)),
            ),
            "one Prometheus server",
        )
        .needs(&["alertmanager"])
        .with_ui("prometheus", 9090, "/");
        stack.components.push(c);

        secret_keys(stack, ns, &[("GRAFANA_ADMIN_PASSWORD", 32)]);
        let mut ds = format!(
            "apiVersion: 1\ndatasources:\n  - name: Prometheus\n    type: prometheus\n    access: proxy\n    url: http://{}:9090\n    isDefault: true\n",
            fq("prometheus", ns)
        );
        if sw.jaeger {
            ds.push_str(&format!(
                "  - name: Jaeger\n    type: jaeger\n    access: proxy\n    url: http://{}:16686\n",
                fq("jaeger-query", ns)
            ));
        }
        stack.config_maps.push(ConfigMapSpec {
            name: "grafana-datasources".into(),
            namespace: ns.into(),
            component: "grafana".into(),
            data: [("datasources.yaml".to_string(), ds)].into_iter().collect(),
        });
        let mut g = Container::new(
            "grafana",
            &img(GRAFANA_IMAGE),
            by_profile(
                p,
                res("25m", "64Mi", "250m", "256Mi"),
                res("100m", "256Mi", "500m", "512Mi"),
                res("250m", "512Mi", "500m", "1Gi"),
            ),
        )
        .env("GF_SECURITY_ADMIN_USER", "admin")
        .env_secret(
            "GF_SECURITY_ADMIN_PASSWORD",
            SECRET,
            "GRAFANA_ADMIN_PASSWORD",
        )
        .env("GF_PATHS_DATA", "/var/lib/grafana")
        .env("GF_PATHS_LOGS", "/var/log/grafana")
        .env("GF_ANALYTICS_REPORTING_ENABLED", "false");
        g.ports = vec![Port {
            name: "http",
            port: 3000,
        }];
        g.probes.liveness = Some(Probe::new(
            ProbeCheck::Http("/api/health".into(), 3000),
            (30, 10, 5, 3),
        ));
        g.probes.readiness = Some(Probe::new(
            ProbeCheck::Http("/api/health".into(), 3000),
            (5, 5, 3, 3),
        ));
        g.mounts.push(Mount {
            volume: "datasources".into(),
            path: "/etc/grafana/provisioning/datasources".into(),
            read_only: true,
        });
        let mut c = Component::new(
            "grafana",
            Group::Infra,
            ns,
            "dashboards",
            WorkloadKind::StatefulSet,
            Tier::Stateful,
            472,
        );
        c.containers.push(g);
        c.volumes.push(Volume {
            name: "datasources".into(),
            source: VolumeSource::ConfigMap("grafana-datasources".into()),
        });
        c.metrics = Some(("http", "/metrics"));
        let mut deps = vec!["prometheus"];
        if sw.jaeger {
            deps.push("jaeger-query");
        }
        let c = singleton(
            c.persistent(
                "data",
                "/var/lib/grafana",
                by_profile(p, Bytes::gi(1), Bytes::gi(5), Bytes::gi(10)),
            )
            .scratch("logs", "/var/log/grafana")
            .scratch("tmp", "/tmp"),
            "Grafana on a local SQLite database",
        )
        .needs(&deps)
        .with_ui("grafana", 3000, "/")
        .with_login(Login {
            user: Some("admin"),
            secret: SECRET.into(),
            user_key: None,
            password_key: "GRAFANA_ADMIN_PASSWORD".into(),
        });
        stack.components.push(c);

        let am_conf = "global:\n  resolve_timeout: 5m\nroute:\n  receiver: default\n  group_by: [alertname, namespace]\n  group_wait: 30s\n  group_interval: 5m\n  repeat_interval: 4h\nreceivers:\n  - name: default\n".to_string();
        stack.config_maps.push(ConfigMapSpec {
            name: "alertmanager-config".into(),
            namespace: ns.into(),
            component: "alertmanager".into(),
            data: [("alertmanager.yml".to_string(), am_conf)]
                .into_iter()
                .collect(),
        });
        let mut a = Container::new(
            "alertmanager",
            &img(ALERTMANAGER_IMAGE),
            by_profile(
                p,
                res("25m", "32Mi", "100m", "128Mi"),
                res("50m", "64Mi", "250m", "256Mi"),
                res("100m", "128Mi", "500m", "512Mi"),
            ),
        );
        a.args = [
            "--config.file=/etc/alertmanager/alertmanager.yml",
            "--storage.path=/alertmanager",
        ]
        .map(String::from)
        .to_vec();
        if am_replicas > 1 {
            a.args.push("--cluster.listen-address=0.0.0.0:9094".into());
            for i in 0..am_replicas {
                a.args.push(format!(
                    "--cluster.peer=alertmanager-{i}.{}:9094",
                    fq("alertmanager", ns)
                ));
            }
        } else {
            a.args.push("--cluster.listen-address=".into());
        }
        a.ports = vec![
            Port {
                name: "web",
                port: 9093,
            },
            Port {
                name: "cluster",
                port: 9094,
            },
        ];
        a.probes.liveness = Some(Probe::new(
            ProbeCheck::Http("/-/healthy".into(), 9093),
            (10, 10, 3, 3),
        ));
        a.probes.readiness = Some(Probe::new(
            ProbeCheck::Http("/-/ready".into(), 9093),
            (5, 5, 3, 3),
        ));
        a.mounts.push(Mount {
            volume: "config".into(),
            path: "/etc/alertmanager".into(),
            read_only: true,
        });
        let mut c = Component::new(
            "alertmanager",
            Group::Infra,
            ns,
            "alerting",
            WorkloadKind::StatefulSet,
            Tier::Stateful,
            65534,
        );
        c.containers.push(a);
        c.replicas = am_replicas;
        c.parallel_pods = am_replicas > 1;
        c.volumes.push(Volume {
            name: "config".into(),
            source: VolumeSource::ConfigMap("alertmanager-config".into()),
        });
        c.metrics = Some(("web", "/metrics"));
        c.notes.push("one default receiver without notifiers: add e-mail or chat receivers to alertmanager-config (the reference's smtp.example.com is a placeholder)");
        stack
            .components
            .push(
                c.scratch("data", "/alertmanager")
                    .with_ui("alertmanager", 9093, "/"),
            );
    }
}
