//! The data stores a user may run outside the cluster (`components.<store>.external`): which
//! engine each is, what that engine's consumers can be told (port, TLS switches, names,
//! credentials), and the components that go with the store when it is external (its setup
//! Job, its coordination service).

use super::{External as Egress, SecretKey, SecretSource, SecretSpec, Stack};
use crate::config::{Config, Diagnostic, External, SecretRef};

/// A data engine as its consumers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// PostgreSQL.
    Postgres,
    /// Redis.
    Redis,
    /// ClickHouse.
    ClickHouse,
    /// Kafka.
    Kafka,
    /// S3-compatible object storage.
    ObjectStorage,
    /// Elasticsearch.
    Elasticsearch,
}

/// A store that may be external.
#[derive(Debug, Clone, Copy)]
pub struct Store {
    /// Its component (the Service its consumers dial when it runs in the cluster).
    pub component: &'static str,
    /// Its engine.
    pub engine: Engine,
    /// Components that exist only for it, dropped with it.
    pub goes_with: &'static [&'static str],
    /// A store of the platform (its services read other env than PostHog's programs).
    pub platform: bool,
}

/// Every store that may be external.
pub const STORES: &[Store] = &[
    Store {
        component: "posthog-postgres",
        engine: Engine::Postgres,
        goes_with: &["posthog-postgres-init"],
        platform: false,
    },
    Store {
        component: "posthog-redis",
        engine: Engine::Redis,
        goes_with: &["posthog-redis-node"],
        platform: false,
    },
    Store {
        component: "posthog-clickhouse",
        engine: Engine::ClickHouse,
        // PostHog's ZooKeeper serves only ClickHouse's replicated DDL.
        goes_with: &["posthog-zookeeper"],
        platform: false,
    },
    Store {
        component: "posthog-kafka",
        engine: Engine::Kafka,
        goes_with: &["posthog-kafka-init"],
        platform: false,
    },
    Store {
        component: "posthog-objectstorage",
        engine: Engine::ObjectStorage,
        goes_with: &["posthog-objectstorage-init"],
        platform: false,
    },
    Store {
        component: "postgres",
        engine: Engine::Postgres,
        goes_with: &["postgres-init"],
        platform: true,
    },
    Store {
        component: "redis",
        engine: Engine::Redis,
        goes_with: &[],
        platform: true,
    },
    Store {
        component: "clickhouse",
        engine: Engine::ClickHouse,
        goes_with: &[],
        platform: true,
    },
    Store {
        component: "kafka",
        engine: Engine::Kafka,
        goes_with: &[],
        platform: true,
    },
    Store {
        component: "elasticsearch",
        engine: Engine::Elasticsearch,
        goes_with: &[],
        platform: true,
    },
    Store {
        component: "minio",
        engine: Engine::ObjectStorage,
        // Making buckets needs admin rights on the store: on an external one they are the user's.
        goes_with: &["minio-setup"],
        platform: true,
    },
];

/// The buckets of the platform's object storage each consumer reads, by their in-cluster
/// names: the platform's services' `MINIO_BUCKET` and Milvus's `minio.bucketName`. An
/// external store's `bucket` is their prefix (`<bucket>-documents`), since S3's and GCS's
/// bucket names are global.
pub const PLATFORM_BUCKETS: &[(&str, &str)] = &[
    ("knowledge-service", "documents"),
    ("indexing-service", "documents"),
    ("multimodal-engine", "multimodal"),
    ("milvus", "milvus-bucket"),
];

/// The bucket `consumer` of the platform's object storage reads: its in-cluster name, after
/// `<bucket>-` when an external store names a prefix.
pub fn platform_bucket(cfg: &Config, consumer: &str) -> String {
    let name = PLATFORM_BUCKETS
        .iter()
        .find(|(c, _)| *c == consumer)
        .map_or(consumer, |(_, b)| b);
    match of(cfg, "minio").and_then(|e| e.names.get("bucket")) {
        Some(prefix) => format!("{prefix}-{name}"),
        None => name.to_string(),
    }
}

/// The enabled platform services that read the platform's object storage (Milvus is no
/// service).
fn platform_object_storage_services(cfg: &Config) -> Vec<&'static str> {
    let mut out: Vec<&str> = PLATFORM_BUCKETS
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| {
            cfg.voice_assistant
                .as_ref()
                .is_some_and(|va| va.service_enabled(c))
        })
        .collect();
    out.dedup();
    out
}

/// A prefix `<p>-documents`, `<p>-multimodal` and `<p>-milvus-bucket` can all take under S3's
/// bucket naming rules: 3 to 63 lowercase letters, digits, `.` and `-`, starting with a letter
/// or digit, no `..`.
fn check_bucket_prefix(p: &str) -> Result<(), String> {
    let longest = PLATFORM_BUCKETS
        .iter()
        .map(|(_, b)| b.len() + 1)
        .max()
        .unwrap_or(0);
    let ok = !p.is_empty()
        && p.len() + longest <= 63
        && p.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && p.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
        && !p.contains("..")
        && !p.ends_with('.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{p}` prefixes the platform's buckets (`{p}-documents`): at most {} lowercase letters, digits, `-` and `.`, starting with a letter or digit (S3's bucket names)",
            63 - longest
        ))
    }
}

/// The platform's services with a database of their own on its PostgreSQL, and the Model
/// Router (unless `modelRouter.database.host` gives it another): the credentials of an
/// external platform PostgreSQL, one password each.
const PLATFORM_DB_USERS: &[&str] = &[
    "identity-service",
    "conversation-service",
    "knowledge-service",
    "notification-service",
    "model-router",
];

/// What an engine's consumers accept.
struct Accepts {
    /// Default port without and with TLS; `None`: the consumers take no port.
    port: Option<(u16, u16)>,
    /// Why `tls` cannot be set, when its consumers read no TLS setting.
    no_tls: Option<&'static str>,
    /// Why `tls.verify` cannot be set, when it cannot.
    no_verify: Option<&'static str>,
    /// Name fields it reads.
    names: &'static [&'static str],
    /// Credentials: (name, required when a Secret is referenced).
    credentials: &'static [&'static str],
    /// Whether the Secret must be given.
    secret_required: bool,
}

impl Store {
    fn accepts(&self) -> Accepts {
        const PLATFORM_TLS: &str = "the platform's services read no TLS setting for it (their env in the reference manifests has none)";
        let mut a = self.engine.accepts();
        if self.platform {
            match self.engine {
                Engine::Postgres => {
                    a.credentials = PLATFORM_DB_USERS;
                    a.names = &[];
                }
                Engine::ClickHouse => {
                    // analytics-service reads CLICKHOUSE_PORT.
                    a.port = Some((9000, 9000));
                    a.names = &["database", "user"];
                    a.no_tls = Some(PLATFORM_TLS);
                }
                Engine::Redis | Engine::Kafka | Engine::Elasticsearch => {
                    a.no_tls = Some(PLATFORM_TLS);
                }
                // TLS and the credentials depend on which consumers run (`check`).
                Engine::ObjectStorage => {
                    a.no_verify =
                        Some("neither Milvus nor the platform's services take a switch for it");
                }
            }
        }
        a
    }

    /// Every port its consumers dial.
    pub fn ports(&self, e: &External) -> Vec<u16> {
        match (self.engine, self.platform) {
            (Engine::ClickHouse, true) => vec![e.port_or(9000)],
            (engine, _) => engine.ports(e),
        }
    }
}

impl Engine {
    fn accepts(self) -> Accepts {
        match self {
            Engine::Postgres => Accepts {
                port: Some((5432, 5432)),
                no_tls: None,
                no_verify: Some(
                    "checking the certificate needs a CA file (sslrootcert), which kubectl-voice does not mount; tls.enabled alone connects with sslmode=require",
                ),
                names: &["database", "user"],
                credentials: &["password"],
                secret_required: true,
            },
            Engine::Redis => Accepts {
                port: Some((6379, 6379)),
                no_tls: None,
                no_verify: Some(
                    "PostHog's clients take TLS from the `rediss://` scheme and always check the certificate",
                ),
                names: &[],
                credentials: &["password"],
                secret_required: false,
            },
            Engine::ClickHouse => Accepts {
                // PostHog passes no port to its ClickHouse clients (posthog/settings/
                // data_stores.py@018f9e90): the native protocol's 9000, or 9440 with TLS.
                port: None,
                no_tls: None,
                no_verify: None,
                names: &["database", "user", "cluster"],
                credentials: &["password"],
                secret_required: true,
            },
            Engine::Kafka => Accepts {
                port: Some((9092, 9092)),
                no_tls: None,
                no_verify: Some(
                    "capture's KAFKA_TLS never checks the broker's certificate (PostHog rust/capture/src/config.rs@00c5d0b7)",
                ),
                names: &[],
                // capture reads no SASL settings (same file): a broker needing them is out of reach.
                credentials: &[],
                secret_required: false,
            },
            // Jaeger's --es.username/--es.password (jaegertracing.io/docs/1.68/windows), as
            // ES_USERNAME/ES_PASSWORD beside the ES_SERVER_URLS it already reads;
            // retrieval-service's ES_USER/ES_PASSWORD (the reference manifests' Secret).
            Engine::Elasticsearch => Accepts {
                port: Some((9200, 9200)),
                no_tls: None,
                no_verify: Some("the platform's clients take no switch for it"),
                names: &[],
                credentials: &["username", "password"],
                secret_required: false,
            },
            Engine::ObjectStorage => Accepts {
                port: Some((80, 443)),
                no_tls: None,
                no_verify: Some("PostHog's S3 clients take no switch for it"),
                names: &["bucket", "region"],
                credentials: &["accessKeyId", "secretAccessKey"],
                secret_required: false,
            },
        }
    }

    /// Every port its consumers dial: ClickHouse's native and HTTP ports, else [`Engine::port`].
    pub fn ports(self, e: &External) -> Vec<u16> {
        match (self, e.tls) {
            // data_stores.py@018f9e90 builds the HTTP URL as https://host:8443 or http://host:8123.
            (Engine::ClickHouse, false) => vec![9000, 8123],
            (Engine::ClickHouse, true) => vec![9440, 8443],
            _ => vec![self.port(e)],
        }
    }

    /// The port its consumers dial: `e.port`, else the engine's default.
    pub fn port(self, e: &External) -> u16 {
        let (plain, tls) = self.accepts().port.unwrap_or((9000, 9440));
        e.port_or(if e.tls { tls } else { plain })
    }
}

/// The store `component` when it may be external.
pub fn store(component: &str) -> Option<&'static Store> {
    STORES.iter().find(|s| s.component == component)
}

/// The external service that replaces `component`, when the configuration names one.
pub fn of<'a>(cfg: &'a Config, component: &str) -> Option<&'a External> {
    store(component)?;
    cfg.overrides.get(component)?.external.as_ref()
}

/// Whether `component` is left out because a store it serves is external.
pub fn dropped(cfg: &Config, component: &str) -> bool {
    STORES.iter().any(|s| {
        (s.component == component || s.goes_with.contains(&component))
            && of(cfg, s.component).is_some()
    })
}

/// Adds the existing Secret an external store references, with every key it names, owned by
/// `owner` (its first consumer, whose namespace the Secret must be in, and which a selection
/// runs when it checks the Secret): install and `check` verify it exists and holds them, and
/// create nothing.
fn reference_secret(stack: &mut Stack, r: &SecretRef, (namespace, owner): (&str, &str)) {
    let keys = r.keys.values().map(|k| SecretKey {
        key: k.clone(),
        source: SecretSource::User { required: true },
    });
    match stack
        .secrets
        .iter_mut()
        .find(|s| s.existing && s.name == r.name && s.namespace == namespace)
    {
        Some(s) => {
            for k in keys {
                if !s.keys.iter().any(|x| x.key == k.key) {
                    s.keys.push(k);
                }
            }
        }
        None => stack.secrets.push(SecretSpec {
            name: r.name.clone(),
            namespace: namespace.into(),
            component: owner.into(),
            keys: keys.collect(),
            existing: true,
            external: false,
        }),
    }
}

/// Takes the external stores out of `stack` (with what goes with them), and gives each of
/// their consumers egress to the external host's ports in their place.
pub(super) fn apply(cfg: &Config, stack: &mut Stack) {
    if !STORES.iter().any(|s| of(cfg, s.component).is_some()) {
        return;
    }
    stack.components.retain(|c| !dropped(cfg, &c.name));
    stack.config_maps.retain(|m| !dropped(cfg, &m.component));
    // Each consumer namespace of a store needs the store's Secret.
    let mut refs: Vec<(&SecretRef, String, String)> = Vec::new();
    for s in STORES {
        let Some(r) = of(cfg, s.component).and_then(|e| e.secret.as_ref()) else {
            continue;
        };
        for c in stack
            .components
            .iter()
            .filter(|c| c.depends_on.iter().any(|d| d == s.component))
        {
            if !refs.iter().any(|(x, ns, _)| *x == r && *ns == c.namespace) {
                refs.push((r, c.namespace.clone(), c.name.clone()));
            }
        }
    }
    for (r, ns, owner) in refs {
        reference_secret(stack, r, (&ns, &owner));
    }
    for c in &mut stack.components {
        for s in STORES {
            let Some(e) = of(cfg, s.component) else {
                continue;
            };
            if c.depends_on.iter().any(|d| d == s.component) {
                for port in s.ports(e) {
                    let egress = Egress::Port(e.host.clone(), port);
                    if !c.external.contains(&egress) {
                        c.external.push(egress);
                    }
                }
            }
        }
        c.depends_on.retain(|d| !dropped(cfg, d));
        if let Some(i) = &mut c.ingress {
            i.routes.retain(|r| !dropped(cfg, &r.component));
        }
    }
}

/// The database users of the platform's PostgreSQL this configuration runs.
fn platform_db_users(cfg: &Config) -> Vec<&'static str> {
    PLATFORM_DB_USERS
        .iter()
        .copied()
        .filter(|u| match *u {
            "model-router" => cfg
                .model_router
                .as_ref()
                .is_some_and(|m| m.database.external_host.is_none()),
            svc => cfg
                .voice_assistant
                .as_ref()
                .is_some_and(|va| va.service_enabled(svc)),
        })
        .collect()
}

/// An external store as its consumers dial it (`status --verify`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// The store it replaces.
    pub component: String,
    /// Host.
    pub host: String,
    /// Ports its consumers dial.
    pub ports: Vec<u16>,
    /// Over TLS.
    pub tls: bool,
    /// Whether the certificate is checked, where the engine has the switch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<bool>,
    /// The Secret its credentials come from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The components that dial it.
    pub consumers: Vec<String>,
}

/// Every external store of `stack`, with the components that dial it.
pub fn endpoints(stack: &Stack) -> Vec<Endpoint> {
    STORES
        .iter()
        .filter_map(|s| {
            let e = of(&stack.config, s.component)?;
            let ports = s.ports(e);
            let consumers: Vec<String> = stack
                .components
                .iter()
                .filter(|c| {
                    c.external.iter().any(
                        |x| matches!(x, Egress::Port(h, p) if *h == e.host && ports.contains(p)),
                    )
                })
                .map(|c| c.name.clone())
                .collect();
            Some(Endpoint {
                component: s.component.into(),
                host: e.host.clone(),
                ports,
                tls: e.tls,
                verify: (s.engine == Engine::ClickHouse && e.tls).then(|| e.verify.unwrap_or(true)),
                secret: e.secret.as_ref().map(|r| r.name.clone()),
                consumers,
            })
        })
        .collect()
}

/// Checks each `components.<name>.external` against what its engine's consumers accept.
pub fn check(cfg: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (name, o) in &cfg.overrides {
        let Some(e) = &o.external else { continue };
        let path = format!("components.{name}.external");
        let Some(s) = store(name) else {
            let names: Vec<&str> = STORES.iter().map(|s| s.component).collect();
            out.push(Diagnostic::at_key(
                &path,
                format!(
                    "{name} is not a data store kubectl-voice can replace with an external service; these can be: {}",
                    names.join(", ")
                ),
            ));
            continue;
        };
        let a = s.accepts();
        let mut err = |field: &str, msg: String| {
            out.push(Diagnostic::at_value(&format!("{path}.{field}"), msg))
        };
        if let (Some(why), true) = (a.no_tls, e.tls) {
            err("tls.enabled", format!("not for {name}: {why}"));
        }
        if a.port.is_none() && e.port.is_some() {
            err(
                "port",
                "PostHog's ClickHouse clients take no port: they dial 9000, or 9440 with tls.enabled".into(),
            );
        }
        if let (Some(why), Some(_)) = (a.no_verify, e.verify) {
            err("tls.verify", format!("not for this engine: {why}"));
        }
        for field in e.names.keys() {
            if !a.names.contains(field) {
                err(
                    field,
                    format!(
                        "{name} reads no {field}{}",
                        if a.names.is_empty() {
                            String::new()
                        } else {
                            format!(" (it reads: {})", a.names.join(", "))
                        }
                    ),
                );
            }
        }
        match &e.secret {
            None if a.secret_required => err(
                "secretRef",
                format!(
                    "name the existing Secret holding the {} (`secretRef: {{name: …, keys: {{{}: …}}}}`); credentials never go in this file",
                    a.credentials.join(" and "),
                    a.credentials[0]
                ),
            ),
            Some(_) if a.credentials.is_empty() => err(
                "secretRef",
                format!("{name}'s consumers read no credentials for it (no SASL): drop secretRef"),
            ),
            Some(r) => {
                for k in r.keys.keys() {
                    if !a.credentials.contains(&k.as_str()) {
                        err(
                            &format!("secretRef.keys.{k}"),
                            format!(
                                "not a credential of this engine (it takes: {})",
                                a.credentials.join(", ")
                            ),
                        );
                    }
                }
                // The access key pair goes together; Redis may have no password at all; the
                // platform's PostgreSQL needs the password of each database user in use.
                let needed: Vec<&str> = if s.platform && s.engine == Engine::Postgres {
                    platform_db_users(cfg)
                } else if a.secret_required || a.credentials.len() > 1 {
                    a.credentials.to_vec()
                } else {
                    Vec::new()
                };
                let missing: Vec<&str> = needed
                    .into_iter()
                    .filter(|c| !r.keys.contains_key(*c))
                    .collect();
                if !missing.is_empty() {
                    err(
                        "secretRef.keys",
                        format!("say which key holds the {}", missing.join(" and ")),
                    );
                }
            }
            None => {}
        }
        if s.platform && s.engine == Engine::ObjectStorage {
            // The platform's services read MINIO_ENDPOINT as host:port, MINIO_BUCKET and the
            // key pair, nothing else (the reference manifests' env): no TLS switch, no
            // credential chain. Milvus has both (minio.useSSL, minio.useIAM).
            let services = platform_object_storage_services(cfg);
            if !services.is_empty() {
                let who = services.join(", ");
                if e.tls {
                    err(
                        "tls.enabled",
                        format!(
                            "{who} read MINIO_ENDPOINT as host:port and no TLS switch (their env in the reference manifests has none): use a plain-HTTP endpoint or turn those services off"
                        ),
                    );
                }
                if e.secret.is_none() {
                    err(
                        "secretRef",
                        format!(
                            "{who} read only an access key pair (MINIO_ACCESS_KEY, MINIO_SECRET_KEY), no workload identity: name the existing Secret (`secretRef: {{name: …, keys: {{accessKeyId: …, secretAccessKey: …}}}}`)"
                        ),
                    );
                }
            }
            if let Some(Err(why)) = e.names.get("bucket").map(|b| check_bucket_prefix(b)) {
                err("bucket", why);
            }
        }
        let set: Vec<&str> = [
            ("replicas", o.replicas.is_some()),
            ("maxReplicas", o.max_replicas.is_some()),
            ("image", o.image.is_some()),
            (
                "resources",
                o.requests != (None, None) || o.limits != (None, None),
            ),
            ("storage", o.storage.is_some()),
            ("engineUpgrade", o.engine_upgrade.is_some()),
            ("placement", o.placement.is_some()),
        ]
        .into_iter()
        .filter_map(|(f, on)| on.then_some(f))
        .collect();
        for f in set {
            out.push(Diagnostic::at_key(
                &format!("components.{name}.{f}"),
                format!("{name} is external, so nothing of it runs here: drop {f}"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{EnvValue, WorkloadKind};
    use crate::config::{Input, ProfileName};

    /// Every PostHog store external, as `cli/tests/external.rs` installs it.
    const ALL: &str = "
components:
  posthog-postgres:
    external:
      host: pg.example.internal
      tls: {enabled: true}
      database: ph
      user: ph_app
      secretRef: {name: ph-pg, keys: {password: pw}}
  posthog-redis:
    external:
      host: redis.example.internal
      port: 6380
      tls: {enabled: true}
      secretRef: {name: ph-redis, keys: {password: auth}}
  posthog-clickhouse:
    external:
      host: ch.example.internal
      tls: {enabled: true, verify: false}
      user: ph
      cluster: main
      secretRef: {name: ph-ch, keys: {password: pw}}
  posthog-kafka:
    external: {host: kafka.example.internal, tls: {enabled: true}}
  posthog-objectstorage:
    external: {host: s3.eu-west-1.amazonaws.com, tls: {enabled: true}, bucket: ph-data, region: eu-west-1}
";

    fn stack(yaml: &str) -> Result<Stack, crate::Errors> {
        crate::load(&Input {
            yaml,
            profile: Some(ProfileName::Production),
            ..Default::default()
        })
    }

    fn env<'a>(s: &'a Stack, component: &str, container: &str, name: &str) -> Option<&'a EnvValue> {
        let c = s.component(component)?;
        c.containers
            .iter()
            .chain(&c.init_containers)
            .find(|x| x.name == container)?
            .env
            .iter()
            .find(|e| e.name == name)
            .map(|e| &e.value)
    }

    fn literal<'a>(s: &'a Stack, component: &str, container: &str, name: &str) -> &'a str {
        match env(s, component, container, name) {
            Some(EnvValue::Literal(v)) => v,
            other => panic!("{component}/{container} {name}: {other:?}"),
        }
    }

    fn secret<'a>(
        s: &'a Stack,
        component: &str,
        container: &str,
        name: &str,
    ) -> (&'a str, &'a str) {
        match env(s, component, container, name) {
            Some(EnvValue::Secret(n, k)) => (n, k),
            other => panic!("{component}/{container} {name}: {other:?}"),
        }
    }

    fn config<'a>(s: &'a Stack, key: &str) -> Option<&'a str> {
        s.config_maps
            .iter()
            .find(|m| m.name == "posthog-config")
            .and_then(|m| m.data.get(key))
            .map(String::as_str)
    }

    #[test]
    fn external_stores_leave_the_plan_and_their_consumers_dial_them() {
        let s = stack(ALL).unwrap_or_else(|e| panic!("{e}"));
        for gone in [
            "posthog-postgres",
            "posthog-postgres-init",
            "posthog-redis",
            "posthog-redis-node",
            "posthog-clickhouse",
            "posthog-zookeeper",
            "posthog-kafka",
            "posthog-kafka-init",
            "posthog-objectstorage",
            "posthog-objectstorage-init",
        ] {
            assert!(s.component(gone).is_none(), "{gone} still planned");
        }
        assert!(
            !s.components
                .iter()
                .any(|c| c.kind == WorkloadKind::StatefulSet && c.name.starts_with("posthog-"))
        );
        for c in &s.components {
            for d in &c.depends_on {
                assert!(
                    s.component(d).is_some(),
                    "{} depends on dropped {d}",
                    c.name
                );
            }
        }
        // PostgreSQL: one URL with the sslmode, the password from the user's Secret.
        assert_eq!(
            literal(&s, "posthog-web", "web", "DATABASE_URL"),
            "postgres://ph_app:$(POSTHOG_DB_PASSWORD)@pg.example.internal:5432/ph?sslmode=require"
        );
        assert_eq!(
            secret(&s, "posthog-web", "web", "POSTHOG_DB_PASSWORD"),
            ("ph-pg", "pw")
        );
        assert_eq!(
            literal(
                &s,
                "posthog-feature-flags",
                "feature-flags",
                "READ_DATABASE_URL"
            ),
            "postgres://ph_app:$(POSTHOG_DB_PASSWORD)@pg.example.internal:5432/ph?sslmode=require"
        );
        // Redis: rediss:// with the password, in the container's own env after it.
        let url = "rediss://:$(POSTHOG_REDIS_PASSWORD)@redis.example.internal:6380/";
        for (c, x) in [
            ("posthog-web", "web"),
            ("posthog-capture", "capture"),
            ("posthog-feature-flags", "feature-flags"),
        ] {
            assert_eq!(literal(&s, c, x, "REDIS_URL"), url, "{c}");
            let names: Vec<&str> = s.component(c).unwrap().containers[0]
                .env
                .iter()
                .map(|e| e.name.as_str())
                .collect();
            let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
            assert!(at("POSTHOG_REDIS_PASSWORD") < at("REDIS_URL"), "{c}");
        }
        assert_eq!(config(&s, "REDIS_URL"), None);
        assert_eq!(config(&s, "LOGS_REDIS_TLS"), Some("true"));
        assert_eq!(config(&s, "CDP_REDIS_HOST"), Some("redis.example.internal"));
        assert_eq!(
            secret(&s, "posthog-plugins", "plugins", "CDP_REDIS_PASSWORD"),
            ("ph-redis", "auth")
        );
        assert_eq!(
            secret(&s, "posthog-plugins", "heartbeat", "REDISCLI_AUTH"),
            ("ph-redis", "auth")
        );
        // ClickHouse: secure without verify, its user and password.
        assert_eq!(config(&s, "CLICKHOUSE_HOST"), Some("ch.example.internal"));
        assert_eq!(config(&s, "CLICKHOUSE_SECURE"), Some("true"));
        assert_eq!(config(&s, "CLICKHOUSE_VERIFY"), Some("false"));
        assert_eq!(config(&s, "CLICKHOUSE_CLUSTER"), Some("main"));
        assert_eq!(
            literal(&s, "posthog-migrate", "flush-logs", "CLICKHOUSE_USER"),
            "ph"
        );
        assert_eq!(
            secret(&s, "posthog-web", "web", "CLICKHOUSE_PASSWORD"),
            ("ph-ch", "pw")
        );
        // Kafka over TLS: Django's protocol, capture's switch.
        assert_eq!(
            config(&s, "KAFKA_HOSTS"),
            Some("kafka.example.internal:9092")
        );
        assert_eq!(config(&s, "KAFKA_SECURITY_PROTOCOL"), Some("SSL"));
        assert_eq!(
            literal(&s, "posthog-capture", "capture", "KAFKA_TLS"),
            "true"
        );
        // Object storage without keys: the credential chain, the Node client's keys emptied.
        assert_eq!(
            config(&s, "OBJECT_STORAGE_ENDPOINT"),
            Some("https://s3.eu-west-1.amazonaws.com")
        );
        assert_eq!(config(&s, "OBJECT_STORAGE_REGION"), Some("eu-west-1"));
        assert_eq!(config(&s, "OBJECT_STORAGE_BUCKET"), Some("ph-data"));
        assert!(env(&s, "posthog-web", "web", "OBJECT_STORAGE_ACCESS_KEY_ID").is_none());
        assert_eq!(
            literal(
                &s,
                "posthog-plugins",
                "plugins",
                "SESSION_RECORDING_V2_S3_ACCESS_KEY_ID"
            ),
            ""
        );
        // The referenced Secrets are checked, never created; nothing is generated for them.
        let own = s
            .secrets
            .iter()
            .find(|x| x.name == "posthog-secrets")
            .unwrap();
        assert!(
            !own.keys
                .iter()
                .any(|k| k.key == "POSTHOG_DB_PASSWORD" || k.key.starts_with("OBJECT_STORAGE"))
        );
        let refs: Vec<(&str, bool)> = s
            .secrets
            .iter()
            .filter(|x| x.name.starts_with("ph-"))
            .map(|x| (x.name.as_str(), x.existing))
            .collect();
        assert_eq!(refs, [("ph-pg", true), ("ph-redis", true), ("ph-ch", true)]);
        // Egress to each host's ports, any address (a VPC's private range included).
        let web = s.component("posthog-web").unwrap();
        for want in [
            Egress::Port("pg.example.internal".into(), 5432),
            Egress::Port("redis.example.internal".into(), 6380),
            Egress::Port("ch.example.internal".into(), 9440),
            Egress::Port("ch.example.internal".into(), 8443),
            Egress::Port("kafka.example.internal".into(), 9092),
            Egress::Port("s3.eu-west-1.amazonaws.com".into(), 443),
        ] {
            assert!(web.external.contains(&want), "{want:?}");
        }
        let ends = endpoints(&s);
        let ch = ends
            .iter()
            .find(|e| e.component == "posthog-clickhouse")
            .unwrap();
        assert_eq!(
            (ch.ports.as_slice(), ch.tls, ch.verify),
            (&[9440, 8443][..], true, Some(false))
        );
        assert!(ch.consumers.iter().any(|c| c == "posthog-web"));
        assert_eq!(ends.len(), 5);
        let ing = web.ingress.as_ref().unwrap();
        assert!(
            !ing.routes
                .iter()
                .any(|r| r.component == "posthog-objectstorage")
        );
    }

    #[test]
    fn the_plan_shrinks() {
        let full = stack("").unwrap();
        let ext = stack(ALL).unwrap();
        let total = |s: &Stack| crate::sizing::size(s).total.min;
        let (f, e) = (total(&full), total(&ext));
        assert!(e.pods < f.pods && e.requests.memory < f.requests.memory && e.storage < f.storage);
    }

    /// The platform's stores external, as `cli/tests/external.rs` installs them.
    const PLATFORM: &str = "
components:
  postgres:
    external:
      host: rds.example.internal
      tls: {enabled: true}
      secretRef:
        name: va-db
        keys: {identity-service: identity, conversation-service: conversation, knowledge-service: knowledge, notification-service: notification, model-router: router}
  redis:
    external:
      host: cache.example.internal
      secretRef: {name: va-redis, keys: {password: auth}}
  clickhouse:
    external:
      host: olap.example.internal
      port: 9000
      user: analytics
      secretRef: {name: va-ch, keys: {password: pw}}
  kafka:
    external: {host: msk.example.internal, port: 9094}
  elasticsearch:
    external:
      host: search.example.internal
      port: 443
      secretRef: {name: va-es, keys: {username: user, password: pw}}
  minio:
    external:
      host: objects.example.internal
      bucket: acme-voice
      region: eu-west-1
      secretRef: {name: va-s3, keys: {accessKeyId: id, secretAccessKey: key}}
";

    fn config_of<'a>(s: &'a Stack, map: &str, key: &str) -> &'a str {
        s.config_maps
            .iter()
            .find(|m| m.name == map)
            .and_then(|m| m.data.get(key))
            .map_or("", String::as_str)
    }

    #[test]
    fn the_platform_stores_can_be_external_too() {
        let s = stack(PLATFORM).unwrap_or_else(|e| panic!("{e}"));
        for gone in [
            "postgres",
            "postgres-init",
            "redis",
            "clickhouse",
            "kafka",
            "elasticsearch",
            "minio",
            "minio-setup",
        ] {
            assert!(s.component(gone).is_none(), "{gone} still planned");
        }
        assert_eq!(
            config_of(&s, "identity-service-config", "DB_HOST"),
            "rds.example.internal"
        );
        assert_eq!(
            config_of(&s, "identity-service-config", "DB_SSL_MODE"),
            "require"
        );
        assert_eq!(
            secret(&s, "identity-service", "identity-service", "DB_PASSWORD"),
            ("va-db", "identity")
        );
        assert_eq!(
            config_of(&s, "identity-service-config", "REDIS_ADDR"),
            "cache.example.internal:6379"
        );
        assert_eq!(
            secret(&s, "identity-service", "identity-service", "REDIS_PASSWORD"),
            ("va-redis", "auth")
        );
        // Python services: the URL with the password moves into the container's env.
        assert_eq!(config_of(&s, "rag-engine-config", "REDIS_URL"), "");
        assert_eq!(
            literal(&s, "rag-engine", "rag-engine", "REDIS_URL"),
            "redis://:$(REDIS_PASSWORD)@cache.example.internal:6379/2"
        );
        assert_eq!(
            config_of(&s, "analytics-service-config", "CLICKHOUSE_HOST"),
            "olap.example.internal"
        );
        assert_eq!(
            config_of(&s, "analytics-service-config", "CLICKHOUSE_USER"),
            "analytics"
        );
        assert_eq!(
            config_of(&s, "analytics-service-config", "KAFKA_BROKERS"),
            "msk.example.internal:9094"
        );
        // The Model Router follows the platform's PostgreSQL.
        assert_eq!(
            config_of(&s, "model-router-config", "DB_HOST"),
            "rds.example.internal"
        );
        assert_eq!(
            secret(&s, "model-router", "model-router", "DB_PASSWORD"),
            ("va-db", "router")
        );
        let mr = s
            .secrets
            .iter()
            .find(|x| x.name == "model-router-secret")
            .unwrap();
        assert!(!mr.keys.iter().any(|k| k.key == "DB_PASSWORD"));
        // Elasticsearch: retrieval-service's ES_* and Jaeger's ES_SERVER_URLS; each
        // consumer namespace needs the Secret.
        assert_eq!(
            config_of(&s, "retrieval-service-config", "ES_HOST"),
            "search.example.internal"
        );
        assert_eq!(config_of(&s, "retrieval-service-config", "ES_PORT"), "443");
        assert_eq!(
            secret(&s, "retrieval-service", "retrieval-service", "ES_PASSWORD"),
            ("va-es", "pw")
        );
        assert_eq!(
            literal(&s, "jaeger-query", "jaeger-query", "ES_SERVER_URLS"),
            "http://search.example.internal:443"
        );
        assert_eq!(
            secret(&s, "jaeger-collector", "jaeger-collector", "ES_USERNAME"),
            ("va-es", "user")
        );
        // Object storage: the services' MINIO_* with the buckets under the prefix, Milvus's
        // minio.* (infra.rs `milvus_object_storage`), the key pair from the user's Secret.
        assert_eq!(
            config_of(&s, "knowledge-service-config", "MINIO_ENDPOINT"),
            "objects.example.internal:80"
        );
        assert_eq!(
            config_of(&s, "knowledge-service-config", "MINIO_BUCKET"),
            "acme-voice-documents"
        );
        assert_eq!(
            config_of(&s, "multimodal-engine-config", "MINIO_BUCKET"),
            "acme-voice-multimodal"
        );
        assert_eq!(
            secret(
                &s,
                "indexing-service",
                "indexing-service",
                "MINIO_SECRET_KEY"
            ),
            ("va-s3", "key")
        );
        let own = s
            .secrets
            .iter()
            .find(|x| x.name == "knowledge-service-secret")
            .unwrap();
        assert!(!own.keys.iter().any(|k| k.key.starts_with("MINIO_")));
        for (k, v) in [
            ("MINIO_ADDRESS", "objects.example.internal:80"),
            ("MINIO_BUCKET_NAME", "acme-voice-milvus-bucket"),
            ("MINIO_USE_SSL", "false"),
            ("MINIO_REGION", "eu-west-1"),
        ] {
            assert_eq!(literal(&s, "milvus", "milvus", k), v, "{k}");
        }
        assert_eq!(
            secret(&s, "milvus", "milvus", "MINIO_ACCESS_KEY_ID"),
            ("va-s3", "id")
        );
        assert!(env(&s, "milvus", "milvus", "MINIO_USE_IAM").is_none());
        let milvus = s.component("milvus").unwrap();
        assert!(milvus.depends_on.iter().all(|d| d != "minio"));
        assert!(
            milvus
                .external
                .contains(&Egress::Port("objects.example.internal".into(), 80))
        );
        let refs: Vec<(&str, &str)> = s
            .secrets
            .iter()
            .filter(|x| x.existing)
            .map(|x| (x.name.as_str(), x.namespace.as_str()))
            .collect();
        assert_eq!(
            refs,
            [
                ("va-db", "voiceassistant-prod"),
                ("va-redis", "voiceassistant-prod"),
                ("va-ch", "voiceassistant-prod"),
                ("va-es", "voiceassistant-infra"),
                ("va-es", "voiceassistant-prod"),
                ("va-s3", "voiceassistant-infra"),
                ("va-s3", "voiceassistant-prod"),
            ]
        );
    }

    #[test]
    fn milvus_alone_reaches_object_storage_by_workload_identity() {
        let s = stack(
            "voiceAssistant:\n  services:\n    knowledge-service: {enabled: false}\n    indexing-service: {enabled: false}\n    multimodal-engine: {enabled: false}\ncomponents:\n  minio:\n    external: {host: storage.googleapis.com, tls: {enabled: true}, bucket: acme}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(s.component("minio").is_none() && s.component("minio-setup").is_none());
        for (k, v) in [
            ("MINIO_ADDRESS", "storage.googleapis.com:443"),
            ("MINIO_BUCKET_NAME", "acme-milvus-bucket"),
            ("MINIO_USE_SSL", "true"),
            ("MINIO_CLOUD_PROVIDER", "gcp"),
            ("MINIO_USE_IAM", "true"),
        ] {
            assert_eq!(literal(&s, "milvus", "milvus", k), v, "{k}");
        }
        assert!(env(&s, "milvus", "milvus", "MINIO_ACCESS_KEY_ID").is_none());
        assert!(env(&s, "milvus", "milvus", "MINIO_REGION").is_none());
    }

    #[test]
    fn the_platform_object_storage_refuses_what_its_services_cannot_read() {
        let e = errors(
            "components:\n  minio:\n    external: {host: s3.amazonaws.com, tls: {enabled: true, verify: true}, bucket: Acme_Voice}\n",
        );
        let paths: Vec<&str> = e.iter().map(|m| m.split(':').next().unwrap()).collect();
        assert_eq!(
            paths,
            [
                "components.minio.external.tls.enabled",
                "components.minio.external.tls.verify",
                "components.minio.external.bucket",
                "components.minio.external.secretRef",
            ],
            "{e:#?}"
        );
        assert!(
            e[0].contains(
                "knowledge-service, indexing-service, multimodal-engine read MINIO_ENDPOINT"
            ),
            "{e:#?}"
        );
        let long = "a".repeat(50);
        assert!(check_bucket_prefix(&long).is_err());
        assert!(check_bucket_prefix(&long[..49]).is_ok());
        for bad in ["-acme", "acme..voice", "acme."] {
            assert!(check_bucket_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_platform_postgres_needs_a_password_per_database_user() {
        let e = errors(
            "components:\n  postgres:\n    external:\n      host: rds.example.internal\n      secretRef: {name: va, keys: {identity-service: i}}\n  redis:\n    external: {host: cache.example.internal, tls: {enabled: true}}\n",
        );
        assert!(
            e.iter().any(|m| m.starts_with("components.postgres.external.secretRef.keys: say which key holds the conversation-service and knowledge-service and notification-service and model-router")),
            "{e:#?}"
        );
        assert!(
            e.iter()
                .any(|m| m.starts_with("components.redis.external.tls.enabled: not for redis")),
            "{e:#?}"
        );
    }

    fn errors(yaml: &str) -> Vec<String> {
        match stack(yaml) {
            Ok(_) => panic!("accepted:\n{yaml}"),
            Err(e) => {
                e.0.iter()
                    .map(|d| format!("{}: {}", d.path, d.message))
                    .collect()
            }
        }
    }

    #[test]
    fn engine_rules_name_their_field() {
        let e = errors(
            "components:\n  posthog-clickhouse:\n    external: {host: ch.example.internal, port: 9440, secretRef: {name: c, keys: {token: t}}}\n  posthog-kafka:\n    external: {host: k.example.internal, tls: {enabled: true, verify: true}, secretRef: {name: k, keys: {password: p}}}\n  posthog-web:\n    external: {host: w.example.internal}\n  posthog-postgres:\n    replicas: 2\n    external: {host: pg.example.internal}\n",
        );
        let paths: Vec<&str> = e.iter().map(|m| m.split(':').next().unwrap()).collect();
        assert_eq!(
            paths,
            [
                "components.posthog-clickhouse.external.port",
                "components.posthog-clickhouse.external.secretRef.keys",
                "components.posthog-clickhouse.external.secretRef.keys.token",
                "components.posthog-kafka.external.tls.verify",
                "components.posthog-kafka.external.secretRef",
                "components.posthog-web.external",
                "components.posthog-postgres.replicas",
                "components.posthog-postgres.external.secretRef",
            ],
            "{e:#?}"
        );
    }
}
