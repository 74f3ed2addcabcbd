//! A pod template's inputs from ConfigMaps and Secrets, fingerprinted onto the template so a
//! change to exactly those inputs rolls exactly the pods that read them.
//!
//! - `checksum/config` (set by render): the SHA-256 over the data of every rendered ConfigMap
//!   the pod template reads, through a ConfigMap volume, `envFrom` or an env `configMapKeyRef`.
//!   A key reference counts the whole ConfigMap: the pods roll on any change to a map they
//!   read from, which errs towards rolling. A Job's name derives from its pod template
//!   (`workload_name` in `workload.rs`), so a changed ConfigMap also renames the Job and it
//!   runs again.
//! - `checksum/secrets` (set by the CLI through [`stamp_secrets`], which knows the values):
//!   the SHA-256 over the values of exactly the Secret keys the pod template reads, through
//!   an env `secretKeyRef`, `envFrom` or a Secret volume.
//!
//! Each ConfigMap's data is hashed once per render ([`ConfigDigests::all`]); a pod template's
//! checksum then hashes only the names and digests of the maps it reads.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Object;
use crate::catalog::{Component, ConfigMapSpec, EnvFrom, EnvValue, Stack, VolumeSource};

/// The pod-template annotation carrying the ConfigMap checksum.
pub const CONFIG_CHECKSUM: &str = "checksum/config";
/// The pod-template annotation carrying the Secret fingerprint.
pub const SECRETS_CHECKSUM: &str = "checksum/secrets";

/// Writes a length-prefixed field, so that no two different sequences hash alike.
fn field(h: &mut Sha256, s: &[u8]) {
    h.update((s.len() as u64).to_le_bytes());
    h.update(s);
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The digest of one ConfigMap's data (keys in order, each key and value length-prefixed).
fn digest(cm: &ConfigMapSpec) -> [u8; 32] {
    let mut h = Sha256::new();
    for (k, v) in &cm.data {
        field(&mut h, k.as_bytes());
        field(&mut h, v.as_bytes());
    }
    h.finalize().into()
}

/// The names of the ConfigMaps a component's pod template reads, in order.
pub fn config_maps_read(c: &Component) -> BTreeSet<&str> {
    let mut out = BTreeSet::new();
    for v in &c.volumes {
        if let VolumeSource::ConfigMap(n) = &v.source {
            out.insert(n.as_str());
        }
    }
    for x in c.init_containers.iter().chain(&c.containers) {
        for f in &x.env_from {
            if let EnvFrom::Config(n) = f {
                out.insert(n.as_str());
            }
        }
        for e in &x.env {
            if let EnvValue::Config(n, _) = &e.value {
                out.insert(n.as_str());
            }
        }
    }
    out
}

/// Digests of a stack's ConfigMaps, by namespace and name.
pub struct ConfigDigests<'a> {
    by_name: BTreeMap<(&'a str, &'a str), [u8; 32]>,
}

impl<'a> ConfigDigests<'a> {
    /// Hashes every ConfigMap of the stack (once per render).
    pub fn all(stack: &'a Stack) -> Self {
        ConfigDigests {
            by_name: stack
                .config_maps
                .iter()
                .map(|m| ((m.namespace.as_str(), m.name.as_str()), digest(m)))
                .collect(),
        }
    }
    /// Hashes only the ConfigMaps one component reads.
    pub fn of(stack: &'a Stack, c: &Component) -> Self {
        let read = config_maps_read(c);
        ConfigDigests {
            by_name: stack
                .config_maps
                .iter()
                .filter(|m| m.namespace == c.namespace && read.contains(m.name.as_str()))
                .map(|m| ((m.namespace.as_str(), m.name.as_str()), digest(m)))
                .collect(),
        }
    }
    /// The `checksum/config` value of a component's pod template: SHA-256 (hex) over the
    /// name and data digest of each rendered ConfigMap it reads, in name order. `None` when it
    /// reads none.
    pub fn checksum(&self, c: &Component) -> Option<String> {
        let mut h = Sha256::new();
        let mut any = false;
        for name in config_maps_read(c) {
            if let Some(d) = self.by_name.get(&(c.namespace.as_str(), name)) {
                field(&mut h, name.as_bytes());
                h.update(d);
                any = true;
            }
        }
        any.then(|| hex(&h.finalize()))
    }
}

/// Secret values by `(namespace, Secret name)`, then by key.
pub type SecretValues = BTreeMap<(String, String), BTreeMap<String, String>>;

/// Where a kind keeps its pod template.
fn template_pointer(kind: &str) -> Option<&'static str> {
    match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => Some("/spec/template"),
        "CronJob" => Some("/spec/jobTemplate/spec/template"),
        _ => None,
    }
}

/// The Secret keys (`name`, `key`) a pod spec reads that `values` holds, in order.
fn secret_keys_read<'v>(
    spec: &Value,
    ns: &str,
    values: &'v SecretValues,
) -> BTreeSet<(&'v str, &'v str, &'v str)> {
    let mut out = BTreeSet::new();
    let secret = |name: &str| {
        values
            .get_key_value(&(ns.to_string(), name.to_string()))
            .map(|((_, n), keys)| (n.as_str(), keys))
    };
    let whole = |name: &str, only: Option<&Vec<Value>>, out: &mut BTreeSet<_>| {
        let Some((n, keys)) = secret(name) else {
            return;
        };
        for k in keys.keys() {
            let listed = only.is_none_or(|items| {
                items
                    .iter()
                    .any(|i| i.get("key").and_then(Value::as_str) == Some(k))
            });
            if listed {
                out.insert((n, k.as_str(), keys[k].as_str()));
            }
        }
    };
    let str_at = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    for list in ["/initContainers", "/containers"] {
        for x in spec
            .pointer(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for f in x
                .get("envFrom")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(n) = str_at(f, "/secretRef/name") {
                    whole(&n, None, &mut out);
                }
            }
            for e in x.get("env").and_then(Value::as_array).into_iter().flatten() {
                let (Some(n), Some(k)) = (
                    str_at(e, "/valueFrom/secretKeyRef/name"),
                    str_at(e, "/valueFrom/secretKeyRef/key"),
                ) else {
                    continue;
                };
                if let Some((n, keys)) = secret(&n)
                    && let Some((k, v)) = keys.get_key_value(&k)
                {
                    out.insert((n, k.as_str(), v.as_str()));
                }
            }
        }
    }
    for v in spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(n) = str_at(v, "/secret/secretName") {
            let items = v.pointer("/secret/items").and_then(Value::as_array);
            whole(&n, items, &mut out);
        }
    }
    out
}

/// The fingerprint of the Secret keys a pod template reads, if it reads any in `values`.
fn secrets_checksum(template: &Value, ns: &str, values: &SecretValues) -> Option<String> {
    let spec = template.get("spec")?;
    let read = secret_keys_read(spec, ns, values);
    if read.is_empty() {
        return None;
    }
    let mut h = Sha256::new();
    for (name, key, value) in read {
        field(&mut h, ns.as_bytes());
        field(&mut h, name.as_bytes());
        field(&mut h, key.as_bytes());
        field(&mut h, value.as_bytes());
    }
    Some(hex(&h.finalize()))
}

/// Sets `checksum/secrets` on the pod template of every object that has one and reads at
/// least one Secret key present in `values` (keyed by namespace and Secret name): the
/// SHA-256 (hex) over namespace, name, key and value of exactly the keys it reads, in that
/// order. So a changed Secret value rolls exactly the pods that read it. Values themselves
/// are written nowhere.
///
/// Like any unsalted digest, the fingerprint of a single low-entropy value can be guessed
/// offline by whoever can read the workload; generated values are long random strings.
pub fn stamp_secrets(objects: &mut [Object], values: &SecretValues) {
    for o in objects {
        let Some(ptr) = template_pointer(&o.kind) else {
            continue;
        };
        let ns = o.namespace.clone().unwrap_or_default();
        let Some(sum) = o
            .value()
            .pointer(ptr)
            .and_then(|t| secrets_checksum(t, &ns, values))
        else {
            continue;
        };
        let Some(template) = o.value_mut().pointer_mut(ptr) else {
            continue;
        };
        let Some(t) = template.as_object_mut() else {
            continue;
        };
        let meta = t
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        let Some(meta) = meta.as_object_mut() else {
            continue;
        };
        let ann = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(ann) = ann.as_object_mut() {
            ann.insert(SECRETS_CHECKSUM.into(), Value::String(sum));
            ann.sort_keys();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Input, ProfileName};
    use crate::render::render;

    fn stack(sets: &[&str]) -> Stack {
        let sets: Vec<String> = sets.iter().map(|s| (*s).to_string()).collect();
        crate::load(&Input {
            profile: Some(ProfileName::Production),
            sets: &sets,
            ..Default::default()
        })
        .expect("valid")
    }

    fn annotation(o: &Object, key: &str) -> Option<String> {
        let ptr = template_pointer(&o.kind)?;
        o.value()
            .pointer(ptr)?
            .pointer("/metadata/annotations")?
            .get(key)?
            .as_str()
            .map(str::to_string)
    }

    /// Pod-template checksums by component and kind (Job names change with their template).
    fn checksums(objects: &[Object], key: &str) -> BTreeMap<(String, String), Option<String>> {
        objects
            .iter()
            .filter(|o| template_pointer(&o.kind).is_some())
            .map(|o| {
                let name = if o.kind == "Job" {
                    o.component.clone()
                } else {
                    o.name.clone()
                };
                ((o.kind.clone(), name), annotation(o, key))
            })
            .collect()
    }

    fn changed<T: PartialEq>(
        a: &BTreeMap<(String, String), T>,
        b: &BTreeMap<(String, String), T>,
    ) -> BTreeSet<String> {
        assert_eq!(a.len(), b.len());
        a.iter()
            .filter(|(k, v)| b.get(*k) != Some(*v))
            .map(|((_, n), _)| n.clone())
            .collect()
    }

    #[test]
    fn every_consumer_of_a_rendered_config_map_carries_its_checksum() {
        for p in crate::config::PROFILES {
            let s = crate::load(&Input {
                profile: Some(p),
                ..Default::default()
            })
            .expect("valid");
            let objects = render(&s);
            for c in &s.components {
                let reads = config_maps_read(c).into_iter().any(|n| {
                    s.config_maps
                        .iter()
                        .any(|m| m.namespace == c.namespace && m.name == n)
                });
                for o in objects
                    .iter()
                    .filter(|o| o.component == c.name && template_pointer(&o.kind).is_some())
                {
                    let sum = annotation(o, CONFIG_CHECKSUM);
                    assert_eq!(sum.is_some(), reads, "{}", o.id());
                    if let Some(sum) = sum {
                        assert_eq!(sum.len(), 64);
                        assert!(sum.bytes().all(|b| b.is_ascii_hexdigit()));
                    }
                }
            }
        }
    }

    #[test]
    fn a_config_map_change_rolls_exactly_its_consumers() {
        let (before, after) = (
            render(&stack(&[])),
            render(&stack(&["modelRouter.database.sslMode=require"])),
        );
        // Only model-router-config changes, and only its reader rolls.
        let differ: BTreeSet<String> = before
            .iter()
            .zip(&after)
            .filter(|(a, b)| a != b)
            .map(|(a, _)| a.id())
            .collect();
        assert_eq!(
            differ,
            BTreeSet::from([
                "ConfigMap/voiceassistant-prod/model-router-config".to_string(),
                "Deployment/voiceassistant-prod/model-router".to_string(),
            ])
        );
        let (a, b) = (
            checksums(&before, CONFIG_CHECKSUM),
            checksums(&after, CONFIG_CHECKSUM),
        );
        assert_eq!(
            changed(&a, &b),
            BTreeSet::from(["model-router".to_string()])
        );
        // The same checksum whether computed for the whole render or for one component.
        let s = stack(&[]);
        let c = s.component("model-router").expect("model-router");
        assert_eq!(
            ConfigDigests::all(&s).checksum(c),
            ConfigDigests::of(&s, c).checksum(c)
        );
    }

    #[test]
    fn a_config_map_change_renames_the_job_that_reads_it() {
        let s = stack(&[]);
        let mut changed_stack = s.clone();
        let cm = changed_stack
            .config_maps
            .iter_mut()
            .find(|m| m.name == "posthog-config")
            .expect("posthog-config");
        cm.data.insert("EXTRA".into(), "1".into());
        let (before, after) = (render(&s), render(&changed_stack));
        let job = |objs: &[Object]| {
            objs.iter()
                .find(|o| o.kind == "Job" && o.component == "posthog-migrate")
                .map(|o| o.name.clone())
                .expect("migration Job")
        };
        assert_ne!(job(&before), job(&after));
        let readers: BTreeSet<String> = s
            .components
            .iter()
            .filter(|c| c.namespace == "posthog" && config_maps_read(c).contains("posthog-config"))
            .map(|c| c.name.clone())
            .collect();
        let (a, b) = (
            checksums(&before, CONFIG_CHECKSUM),
            checksums(&after, CONFIG_CHECKSUM),
        );
        let rolled: BTreeSet<String> = changed(&a, &b)
            .into_iter()
            .map(|n| {
                n.trim_end_matches("-blue")
                    .trim_end_matches("-green")
                    .to_string()
            })
            .collect();
        assert!(readers.contains("posthog-migrate"));
        assert_eq!(rolled, readers);
    }

    fn values(s: &Stack) -> SecretValues {
        s.secrets
            .iter()
            .map(|sec| {
                (
                    (sec.namespace.clone(), sec.name.clone()),
                    sec.keys
                        .iter()
                        .map(|k| (k.key.clone(), format!("value-of-{}", k.key)))
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn a_secret_change_restamps_exactly_the_readers_of_that_key() {
        let s = stack(&[]);
        let mut vals = values(&s);
        let mut before = render(&s);
        stamp_secrets(&mut before, &vals);
        // Every workload that reads a Secret key gets a fingerprint, and no value leaks.
        let text = crate::render::to_yaml(&before);
        for keys in vals.values() {
            for v in keys.values() {
                assert!(!text.contains(v.as_str()), "{v} rendered");
            }
        }
        let ns = "voiceassistant-prod".to_string();
        let secret = s
            .secrets
            .iter()
            .find(|x| x.namespace == ns && x.component == "model-router")
            .expect("model-router Secret");
        let slot = vals
            .get_mut(&(ns.clone(), secret.name.clone()))
            .and_then(|m| m.get_mut("DB_PASSWORD"))
            .expect("DB_PASSWORD");
        *slot = "rotated".into();
        let mut after = render(&s);
        stamp_secrets(&mut after, &vals);
        let (a, b) = (
            checksums(&before, SECRETS_CHECKSUM),
            checksums(&after, SECRETS_CHECKSUM),
        );
        let readers: BTreeSet<String> = s
            .components
            .iter()
            .filter(|c| c.namespace == ns)
            .filter(|c| {
                c.init_containers.iter().chain(&c.containers).any(|x| {
                    x.env.iter().any(|e| {
                        e.value == EnvValue::Secret(secret.name.clone(), "DB_PASSWORD".into())
                    }) || x.env_from.contains(&EnvFrom::Secret(secret.name.clone()))
                })
            })
            .map(|c| c.name.clone())
            .collect();
        assert_eq!(readers, BTreeSet::from(["model-router".to_string()]));
        assert_eq!(changed(&a, &b), readers);
        assert!(a.values().filter(|v| v.is_some()).count() > 1);
        // Deterministic: the same values give the same bytes.
        let mut again = render(&s);
        stamp_secrets(&mut again, &vals);
        assert_eq!(
            crate::render::to_yaml(&after),
            crate::render::to_yaml(&again)
        );
    }

    #[test]
    fn stamp_secrets_counts_only_keys_it_was_given() {
        let s = stack(&[]);
        let mut objects = render(&s);
        let plain = crate::render::to_yaml(&objects);
        stamp_secrets(&mut objects, &SecretValues::new());
        assert_eq!(crate::render::to_yaml(&objects), plain);
        // A key the pods do not read changes nothing.
        let mut vals = values(&s);
        let mut one = render(&s);
        stamp_secrets(&mut one, &vals);
        vals.entry(("voiceassistant-prod".into(), "unused".into()))
            .or_default()
            .insert("K".into(), "v".into());
        let mut two = render(&s);
        stamp_secrets(&mut two, &vals);
        assert_eq!(crate::render::to_yaml(&one), crate::render::to_yaml(&two));
    }

    #[test]
    fn secret_volumes_and_env_from_are_read_in_full_or_by_item() {
        let vals: SecretValues = BTreeMap::from([(
            ("ns".to_string(), "s".to_string()),
            BTreeMap::from([
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "2".to_string()),
            ]),
        )]);
        let spec = |v: Value| serde_json::json!({ "spec": v });
        let whole = spec(serde_json::json!({
            "containers": [{ "envFrom": [{ "secretRef": { "name": "s" } }] }]
        }));
        let vol = spec(serde_json::json!({
            "containers": [{}],
            "volumes": [{ "secret": { "secretName": "s" } }]
        }));
        let item = spec(serde_json::json!({
            "containers": [{}],
            "volumes": [{ "secret": { "secretName": "s", "items": [{ "key": "b", "path": "b" }] } }]
        }));
        let key = spec(serde_json::json!({
            "initContainers": [{ "env": [{ "name": "B", "valueFrom": { "secretKeyRef": { "name": "s", "key": "b" } } }] }],
            "containers": [{}]
        }));
        let sum = |t: &Value| secrets_checksum(t, "ns", &vals);
        assert!(sum(&whole).is_some());
        assert_eq!(sum(&whole), sum(&vol));
        assert_eq!(sum(&item), sum(&key));
        assert_ne!(sum(&whole), sum(&item));
        assert_eq!(secrets_checksum(&whole, "other", &vals), None);
    }
}
