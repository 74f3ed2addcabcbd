//! Data engines' version rules: which image changes an engine makes in place, which need a
//! procedure first, and which it refuses, each from the engine's own documentation or code.
//! A version is read from the image tag (`postgres:15.12-alpine`, also in the pinned form
//! `postgres:15.12-alpine@sha256:…`); an image named by digest alone has no readable version.

use serde::Serialize;

/// The on-disk format a component keeps its data in: whose rules govern its image changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Store {
    /// PostgreSQL (data directory marked with `PG_VERSION`).
    Postgresql,
    /// Redis (RDB and AOF files).
    Redis,
    /// ClickHouse.
    Clickhouse,
    /// Elasticsearch.
    Elasticsearch,
    /// Apache Kafka in KRaft mode, from Confluent Platform images (`cp-kafka`).
    Kafka,
    /// Redpanda.
    Redpanda,
    /// MinIO (`RELEASE.<date>` tags).
    Minio,
    /// etcd.
    Etcd,
    /// MySQL.
    Mysql,
}

impl Store {
    /// The store a catalog image runs, by its repository's last name (`postgres`,
    /// `clickhouse-server`, `cp-kafka`…), whatever registry serves it. The catalog calls this
    /// on its pinned images, before `components.<name>.image` overrides, so an override keeps
    /// its component's rules.
    pub fn of_image(image: &str) -> Option<Store> {
        let named = image.split('@').next()?;
        let repo = named.rsplit('/').next()?.split(':').next()?;
        Some(match repo {
            "postgres" => Store::Postgresql,
            "redis" => Store::Redis,
            "clickhouse-server" => Store::Clickhouse,
            "elasticsearch" => Store::Elasticsearch,
            "cp-kafka" => Store::Kafka,
            "redpanda" => Store::Redpanda,
            "minio" => Store::Minio,
            "etcd" => Store::Etcd,
            "mysql" | "nacos-mysql" => Store::Mysql,
            _ => return None,
        })
    }

    /// The engine's name in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Store::Postgresql => "PostgreSQL",
            Store::Redis => "Redis",
            Store::Clickhouse => "ClickHouse",
            Store::Elasticsearch => "Elasticsearch",
            Store::Kafka => "Kafka",
            Store::Redpanda => "Redpanda",
            Store::Minio => "MinIO",
            Store::Etcd => "etcd",
            Store::Mysql => "MySQL",
        }
    }
}

/// What an image change does to an engine's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "step")]
pub enum Step {
    /// The same version.
    Same,
    /// The engine reads the data as it is: the pods roll.
    InPlace {
        /// Why, in words.
        why: String,
    },
    /// The data must move by a procedure before the new version serves it; `how` says which.
    Procedure {
        /// Why, in words.
        why: String,
        /// The way to do it.
        how: String,
    },
    /// The engine refuses (or its documentation rules out) this change of data written by the
    /// old version.
    Refused {
        /// Why, in words.
        why: String,
        /// The way to do it.
        how: String,
    },
}

impl Step {
    /// Whether a rollout may apply the change as a plain image change.
    pub fn in_place(&self) -> bool {
        matches!(self, Step::Same | Step::InPlace { .. })
    }
}

/// The numeric parts of an image's tag (`15.12-alpine` → `[15, 12]`; a MinIO `RELEASE.`
/// date → year, month, day, hour, minute, second), or `None` when the tag carries none.
pub fn version(image: &str) -> Option<Vec<u32>> {
    let named = image.split('@').next()?;
    let last = named.rsplit('/').next()?;
    let (_, tag) = last.split_once(':')?;
    let tag = tag.strip_prefix("RELEASE.").unwrap_or(tag);
    let tag = tag.strip_prefix('v').unwrap_or(tag);
    if !tag.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    // A MinIO date (2025-04-22T22-12-26Z) counts each number; other tags end at the first
    // character that is neither a digit nor a dot (`-alpine`).
    let date = tag.len() > 10 && tag.as_bytes().get(4) == Some(&b'-') && tag.contains('T');
    let end = if date {
        tag.len()
    } else {
        tag.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(tag.len())
    };
    let parts: Vec<u32> = tag[..end]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    (!parts.is_empty()).then_some(parts)
}

/// A version in words: its parts joined by dots (a MinIO date as its tag says it).
fn shown(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

fn part(v: &[u32], i: usize) -> u32 {
    v.get(i).copied().unwrap_or(0)
}

/// What changing `component`'s image from `from` to `to` does to data of `store`.
pub fn step(store: Store, component: &str, from: &str, to: &str) -> Step {
    if from == to {
        return Step::Same;
    }
    let (Some(a), Some(b)) = (version(from), version(to)) else {
        let unread = if version(from).is_none() { from } else { to };
        return Step::Refused {
            why: format!(
                "the {} version of {unread} cannot be read from its tag, so whether it can open the data cannot be told",
                store.as_str()
            ),
            how: "name the image by a tag with its version (pinned: `name:tag@sha256:digest`)"
                .into(),
        };
    };
    if a == b {
        return Step::Same;
    }
    let rule = match store {
        Store::Postgresql => postgresql(component, &a, &b),
        Store::Redis => redis(&a, &b),
        Store::Clickhouse => clickhouse(&a, &b),
        Store::Elasticsearch => elasticsearch(&a, &b),
        Store::Kafka => kafka(&a, &b),
        Store::Redpanda => redpanda(&a, &b),
        Store::Minio => minio(&a, &b),
        Store::Etcd => etcd(&a, &b),
        Store::Mysql => mysql(&a, &b),
    };
    rule.unwrap_or_else(|| Step::InPlace {
        why: "a newer release of the same line reads the data in place".into(),
    })
}

fn refused(why: String, how: impl Into<String>) -> Option<Step> {
    Some(Step::Refused {
        why,
        how: how.into(),
    })
}

fn in_place(why: impl Into<String>) -> Option<Step> {
    Some(Step::InPlace { why: why.into() })
}

/// PostgreSQL: minor releases keep the storage format; a major version needs a dump and
/// restore or `pg_upgrade` (manual, "Upgrading a PostgreSQL Cluster", 19.6 in 15); the
/// server refuses a data directory whose `PG_VERSION` names another major ("database files
/// are incompatible with server", `ValidatePgVersion` in `src/backend/utils/init/miscinit.c`),
/// in both directions; `pg_upgrade` refuses to go to an older major (`check.c`).
fn postgresql(component: &str, a: &[u32], b: &[u32]) -> Option<Step> {
    let (from, to) = (part(a, 0), part(b, 0));
    match to.cmp(&from) {
        std::cmp::Ordering::Equal => {
            in_place("a minor release keeps PostgreSQL's storage format: the pods roll")
        }
        std::cmp::Ordering::Greater => Some(Step::Procedure {
            why: format!(
                "PostgreSQL {to} refuses a data directory initialized by {from} (\"database files are incompatible with server\"): a major version moves its data by a dump and restore"
            ),
            how: format!(
                "`kubectl voice upgrade-engine {component} --to {to}` dumps it, restores into a new StatefulSet and keeps the old one until --finalize"
            ),
        }),
        std::cmp::Ordering::Less => refused(
            format!(
                "PostgreSQL {to} cannot open a data directory of {from}, and pg_upgrade never goes to an older major"
            ),
            format!(
                "keep PostgreSQL {from}; if the data must go back, `kubectl voice upgrade-engine {component} --back` returns to the database kept by an earlier upgrade"
            ),
        ),
    }
}

/// The RDB format version a Redis release writes (`RDB_VERSION` in `src/rdb.h` at each
/// release tag; 7.4 writes 12).
fn rdb(v: &[u32]) -> Option<u32> {
    Some(match (part(v, 0), part(v, 1)) {
        (2, 6 | 8) | (3, 0) => 6,
        (3, 2) => 7,
        (4, 0) => 8,
        (5, 0) | (6, 0 | 2) => 9,
        (7, 0) => 10,
        (7, 2) => 11,
        (7, 4) => 12,
        _ => return None,
    })
}

/// Redis: a server loads no RDB file newer than its own format ("Can't handle RDB format
/// version N", `src/rdb.c`); a newer server reads older files.
fn redis(a: &[u32], b: &[u32]) -> Option<Step> {
    if b >= a {
        return in_place("a newer Redis reads the RDB and AOF files of an older one");
    }
    match (rdb(a), rdb(b)) {
        (Some(x), Some(y)) if y >= x => in_place(format!(
            "both releases write RDB format {x}: the files load"
        )),
        (Some(x), Some(y)) => refused(
            format!(
                "Redis {} reads RDB files up to format {y} and {} writes format {x} (\"Can't handle RDB format version {x}\")",
                shown(b),
                shown(a)
            ),
            format!("keep Redis {} or newer", shown(a)),
        ),
        _ => refused(
            format!(
                "whether Redis {} loads the RDB files of {} is not known (their format versions are not in the table)",
                shown(b),
                shown(a)
            ),
            format!("keep Redis {} or newer", shown(a)),
        ),
    }
}

/// ClickHouse (operations/update): in-place upgrades within about a year (two LTS releases);
/// a downgrade only to a release under a year old and only when no new feature has touched
/// the data, which cannot be checked from outside.
fn clickhouse(a: &[u32], b: &[u32]) -> Option<Step> {
    let month = |v: &[u32]| part(v, 0) * 12 + part(v, 1);
    if month(b) == month(a) {
        return in_place("the same ClickHouse release line: the server is swapped in place");
    }
    if b < a {
        return refused(
            format!(
                "ClickHouse {} may not read parts written by {}: a downgrade works only while no new feature has touched the data, which cannot be checked",
                shown(b),
                shown(a)
            ),
            format!(
                "keep ClickHouse {} or newer; to go back, restore a backup taken before the upgrade into the older release",
                shown(a)
            ),
        );
    }
    if month(b) - month(a) > 12 {
        return refused(
            format!(
                "ClickHouse {} is more than a year newer than {}: in-place upgrades and mixed versions are supported within a year",
                shown(b),
                shown(a)
            ),
            format!(
                "upgrade first to a release at most a year newer than {} (e.g. {}.{}), then to {}",
                shown(a),
                part(a, 0) + 1,
                part(a, 1),
                shown(b)
            ),
        );
    }
    in_place("within a year of ClickHouse releases: the server is swapped in place")
}

/// Elasticsearch: no node goes back to an older version (restore a snapshot instead); a
/// major upgrade starts from the last minor of the previous major: 8 from 7.17, 9.0 from
/// 8.18, 9.1 and later from 8.19.
fn elasticsearch(a: &[u32], b: &[u32]) -> Option<Step> {
    if b < a {
        return refused(
            format!(
                "Elasticsearch nodes cannot be downgraded once {} has opened the data",
                shown(a)
            ),
            format!(
                "keep Elasticsearch {} or newer; the way back is a snapshot taken before the upgrade",
                shown(a)
            ),
        );
    }
    let (from, to) = (part(a, 0), part(b, 0));
    if to == from {
        return in_place("a rolling upgrade within one Elasticsearch major");
    }
    let needed = match (to, part(b, 1)) {
        (t, _) if t > from + 1 => None,
        (8, _) => Some([7, 17]),
        (9, 0) => Some([8, 18]),
        (9, _) => Some([8, 19]),
        _ => return in_place("a rolling upgrade to the next Elasticsearch major"),
    };
    match needed {
        Some(n) if (part(a, 0), part(a, 1)) >= (n[0], n[1]) => {
            in_place("a rolling upgrade to the next major from its last minor")
        }
        Some(n) => refused(
            format!(
                "Elasticsearch {} is reached only from {}.{}",
                shown(b),
                n[0],
                n[1]
            ),
            format!("upgrade to {}.{} first, then to {}", n[0], n[1], shown(b)),
        ),
        None => refused(
            format!("Elasticsearch upgrades one major at a time, {from} → {to} skips one"),
            format!("upgrade to the last minor of {} first", from + 1),
        ),
    }
}

/// Kafka from Confluent Platform images: CP 7.x carries Kafka 3.x (the compatibility matrix
/// of CP 7.5's Streams upgrade guide), CP 8.x Kafka 4.x. In KRaft mode brokers roll and
/// `metadata.version` is raised after; it goes down only when no release in between changed
/// the metadata, which cannot be checked here; 4.0 needs 3.3 or newer and advises 3.9 first.
fn kafka(a: &[u32], b: &[u32]) -> Option<Step> {
    let apache = |v: &[u32]| (part(v, 0).saturating_sub(4), part(v, 1));
    let (from, to) = (apache(a), apache(b));
    let said = |v: (u32, u32)| format!("{}.{}", v.0, v.1);
    if to < from {
        return refused(
            format!(
                "Kafka {} → {} lowers the KRaft metadata version, possible only when no release in between changed the metadata",
                said(from),
                said(to)
            ),
            format!(
                "keep Kafka {} (Confluent Platform {}.{}) or newer",
                said(from),
                part(a, 0),
                part(a, 1)
            ),
        );
    }
    if to.0 >= 4 && from.0 < 4 && from < (3, 9) {
        return refused(
            format!(
                "Kafka 4 runs only KRaft and is reached from 3.9 (the last 3.x); this cluster runs {}",
                said(from)
            ),
            "upgrade to Confluent Platform 7.9 (Kafka 3.9) first",
        );
    }
    in_place("brokers roll in place; raise metadata.version afterwards with kafka-features.sh")
}

/// Redpanda: one feature release at a time (22.2 → 22.3 → 23.1; three a year), and back only
/// between patches of one feature release.
fn redpanda(a: &[u32], b: &[u32]) -> Option<Step> {
    let feature = |v: &[u32]| (part(v, 0), part(v, 1));
    let (from, to) = (feature(a), feature(b));
    let next = if from.1 >= 3 {
        (from.0 + 1, 1)
    } else {
        (from.0, from.1 + 1)
    };
    if to == from {
        return in_place("patches of one Redpanda feature release");
    }
    if to < from {
        return refused(
            format!(
                "Redpanda goes back only between patches of one feature release, not {}.{} → {}.{}",
                from.0, from.1, to.0, to.1
            ),
            format!("keep Redpanda {}.{}", from.0, from.1),
        );
    }
    if to != next {
        return refused(
            format!(
                "Redpanda upgrades one feature release at a time; {}.{} → {}.{} skips one",
                from.0, from.1, to.0, to.1
            ),
            format!("upgrade to {}.{} first", next.0, next.1),
        );
    }
    in_place("the next Redpanda feature release rolls broker by broker")
}

/// MinIO: RELEASE.2022-10-29T06-21-33Z removed the `fs` backend that single-drive
/// deployments made before RELEASE.2022-06-02 used; newer servers refuse it ("found backend
/// type fs").
fn minio(a: &[u32], b: &[u32]) -> Option<Step> {
    const FS_REMOVED: [u32; 3] = [2022, 10, 29];
    if a[..a.len().min(3)] < FS_REMOVED[..] && b[..b.len().min(3)] >= FS_REMOVED[..] {
        return refused(
            format!(
                "MinIO {} no longer reads the `fs` backend that single-drive deployments of {} may use",
                shown(b),
                shown(a)
            ),
            "deploy the new MinIO on new claims and copy the objects (mc mirror), with the config and IAM exported and imported",
        );
    }
    None
}

/// etcd: patch releases or one minor at a time, up; a downgrade only by etcd's downgrade
/// procedure, one minor at a time.
fn etcd(a: &[u32], b: &[u32]) -> Option<Step> {
    let (from, to) = ((part(a, 0), part(a, 1)), (part(b, 0), part(b, 1)));
    if to == from {
        return in_place("patch releases of one etcd minor");
    }
    if to < from {
        return refused(
            format!(
                "etcd {}.{} → {}.{} is a downgrade, made only by etcd's downgrade procedure",
                from.0, from.1, to.0, to.1
            ),
            format!("keep etcd {}.{}", from.0, from.1),
        );
    }
    if to != (from.0, from.1 + 1) {
        return refused(
            format!(
                "etcd upgrades one minor at a time; {}.{} → {}.{} skips one",
                from.0, from.1, to.0, to.1
            ),
            format!("upgrade to {}.{} first", from.0, from.1 + 1),
        );
    }
    in_place("one etcd minor up, from its newest patch")
}

/// MySQL: 8.0 → 8.4 in place; 8.4 → 8.0 only by dump and load; within 8.0 an in-place
/// downgrade reaches 8.0.35 and later only ("Downgrade is not supported", MY-013171).
fn mysql(a: &[u32], b: &[u32]) -> Option<Step> {
    let (from, to) = ((part(a, 0), part(a, 1)), (part(b, 0), part(b, 1)));
    if b > a {
        return None;
    }
    if to < from {
        return refused(
            format!(
                "MySQL {}.{} → {}.{} is possible only by a logical dump and load",
                from.0, from.1, to.0, to.1
            ),
            format!("keep MySQL {}.{}", from.0, from.1),
        );
    }
    if (to == (8, 0)) && part(b, 2) < 35 {
        return refused(
            format!(
                "MySQL {} refuses data of {} (\"Cannot boot server version … Downgrade is not supported\"); 8.0 downgrades in place only to 8.0.35 or later",
                shown(b),
                shown(a)
            ),
            format!("keep MySQL {} or newer", shown(a)),
        );
    }
    in_place("a downgrade within one MySQL line that reads the data in place")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pinned PostgreSQL major is reached from an older one by the procedure
    /// `upgrade-engine` runs, and never the other way.
    #[test]
    fn pinned_postgres_majors_move_by_a_procedure() {
        use crate::catalog::engines::POSTGRES_MAJORS;
        for (a, from) in POSTGRES_MAJORS {
            for (b, to) in POSTGRES_MAJORS {
                let s = step(Store::Postgresql, "postgres", from, to);
                match a.cmp(&b) {
                    std::cmp::Ordering::Less => {
                        assert!(matches!(s, Step::Procedure { .. }), "{from} → {to}: {s:?}");
                    }
                    std::cmp::Ordering::Greater => {
                        assert!(matches!(s, Step::Refused { .. }), "{from} → {to}: {s:?}");
                    }
                    std::cmp::Ordering::Equal => assert_eq!(s, Step::Same),
                }
                assert_eq!(version(to).map(|v| v[0]), Some(b));
            }
        }
    }

    fn says(store: Store, from: &str, to: &str) -> &'static str {
        match step(store, "db", from, to) {
            Step::Same => "same",
            Step::InPlace { .. } => "in place",
            Step::Procedure { .. } => "procedure",
            Step::Refused { .. } => "refused",
        }
    }

    #[test]
    fn versions_come_from_tags() {
        assert_eq!(version("postgres:15.12-alpine"), Some(vec![15, 12]));
        assert_eq!(
            version("reg.example:5000/lib/postgres:16.4@sha256:abc"),
            Some(vec![16, 4])
        );
        assert_eq!(version("postgres@sha256:abc"), None);
        assert_eq!(version("postgres:latest"), None);
        assert_eq!(version("quay.io/coreos/etcd:v3.5.10"), Some(vec![3, 5, 10]));
        assert_eq!(
            version("minio/minio:RELEASE.2025-04-22T22-12-26Z"),
            Some(vec![2025, 4, 22, 22, 12, 26])
        );
        assert_eq!(
            version("clickhouse/clickhouse-server:25.6.13.41"),
            Some(vec![25, 6, 13, 41])
        );
    }

    #[test]
    fn each_engine_follows_its_rules() {
        use Store::*;
        let cases = [
            (
                Postgresql,
                "postgres:15.12-alpine",
                "postgres:15.13-alpine",
                "in place",
            ),
            (
                Postgresql,
                "postgres:15.13-alpine",
                "postgres:15.12-alpine",
                "in place",
            ),
            (
                Postgresql,
                "postgres:15.12-alpine",
                "postgres:16.10-alpine",
                "procedure",
            ),
            (
                Postgresql,
                "postgres:16.10-alpine",
                "postgres:15.12-alpine",
                "refused",
            ),
            (
                Postgresql,
                "postgres:15.12-alpine",
                "postgres@sha256:00",
                "refused",
            ),
            (
                Postgresql,
                "postgres:15.12-alpine",
                "postgres:15.12-bookworm",
                "same",
            ),
            (
                Redis,
                "redis:7.2.7-alpine",
                "redis:7.4.1-alpine",
                "in place",
            ),
            (Redis, "redis:7.4.1-alpine", "redis:7.2.7-alpine", "refused"),
            (Redis, "redis:6.2.1", "redis:6.0.9", "in place"),
            (Redis, "redis:8.0.1", "redis:7.4.1", "refused"),
            (Clickhouse, "c:23.8-alpine", "c:24.8-alpine", "in place"),
            (Clickhouse, "c:23.8-alpine", "c:25.6.13.41", "refused"),
            (Clickhouse, "c:25.6.13.41", "c:25.3.1.1", "refused"),
            (Clickhouse, "c:25.6.13.41", "c:25.6.2.5", "in place"),
            (Elasticsearch, "e:8.11.1", "e:8.19.2", "in place"),
            (Elasticsearch, "e:8.11.1", "e:9.1.0", "refused"),
            (Elasticsearch, "e:8.19.2", "e:9.1.0", "in place"),
            (Elasticsearch, "e:8.18.3", "e:9.0.1", "in place"),
            (Elasticsearch, "e:7.10.0", "e:8.11.1", "refused"),
            (Elasticsearch, "e:7.17.9", "e:9.1.0", "refused"),
            (Elasticsearch, "e:8.11.1", "e:8.10.0", "refused"),
            (Kafka, "k:7.5.0", "k:7.9.1", "in place"),
            (Kafka, "k:7.5.0", "k:8.0.0", "refused"),
            (Kafka, "k:7.9.1", "k:8.0.0", "in place"),
            (Kafka, "k:7.6.0", "k:7.5.0", "refused"),
            (Redpanda, "r:v25.1.9", "r:v25.1.2", "in place"),
            (Redpanda, "r:v25.1.9", "r:v25.2.1", "in place"),
            (Redpanda, "r:v24.3.9", "r:v25.1.1", "in place"),
            (Redpanda, "r:v25.1.9", "r:v25.3.1", "refused"),
            (Redpanda, "r:v25.2.1", "r:v25.1.9", "refused"),
            (
                Minio,
                "m:RELEASE.2022-05-26T05-48-41Z",
                "m:RELEASE.2025-04-22T22-12-26Z",
                "refused",
            ),
            (
                Minio,
                "m:RELEASE.2023-01-01T00-00-00Z",
                "m:RELEASE.2025-04-22T22-12-26Z",
                "in place",
            ),
            (Etcd, "e:v3.5.10", "e:v3.5.17", "in place"),
            (Etcd, "e:v3.5.10", "e:v3.6.0", "in place"),
            (Etcd, "e:v3.4.30", "e:v3.6.0", "refused"),
            (Etcd, "e:v3.6.0", "e:v3.5.10", "refused"),
            (Mysql, "m:8.0.16", "m:8.4.3", "in place"),
            (Mysql, "m:8.4.3", "m:8.0.40", "refused"),
            (Mysql, "m:8.0.40", "m:8.0.36", "in place"),
            (Mysql, "m:8.0.40", "m:8.0.16", "refused"),
        ];
        for (store, from, to, want) in cases {
            assert_eq!(says(store, from, to), want, "{store:?} {from} → {to}");
        }
    }

    #[test]
    fn a_refusal_says_why_and_the_way() {
        let Step::Procedure { why, how } = step(
            Store::Postgresql,
            "posthog-postgres",
            "postgres:15.12",
            "postgres:16.10",
        ) else {
            panic!("a major bump needs a procedure");
        };
        assert!(why.contains("incompatible with server"), "{why}");
        assert!(
            how.contains("upgrade-engine posthog-postgres --to 16"),
            "{how}"
        );
    }
}
