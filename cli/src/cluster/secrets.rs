//! The Secrets of a rollout: created only if absent, completed key by key, never
//! overwritten. Generated values come from a CSPRNG with the length each consumer needs;
//! user values from `--secrets-file`, `VOICE_<SECRET>_<KEY>` variables or voice.yaml.
//! No value is ever printed, logged or written to disk by the tool.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use base64::Engine;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use rand::Rng;
use serde_json::json;
use voice_core::Stack;
use voice_core::catalog::{SecretSource, SecretSpec};
use voice_core::config::Posthog;

use crate::cluster::inventory::{Inventory, PART_OF};
use crate::cluster::is_not_found;

/// What happened to one Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Created with every key.
    Created,
    /// Existed; these keys were added.
    Completed(Vec<String>),
    /// Existed with every key: left alone.
    Unchanged,
    /// Existed; these keys were set anew: copies that disagreed with their source
    /// (`KEY from namespace/secret`) and values rotated with `--rotate` (`KEY (rotated)`).
    Repaired(Vec<String>),
    /// Not created: it would hold no value (only optional keys, none supplied).
    NotNeeded,
}

/// The values of the Secrets install ensured, by `(namespace, name)`: what the pods read,
/// for their fingerprint annotation. Never printed.
pub(crate) use voice_core::render::inputs::SecretValues as Values;

/// Values the user supplied, keyed by `(secret, key)`.
#[derive(Default)]
pub(crate) struct UserValues(BTreeMap<(String, String), String>);

impl std::fmt::Debug for UserValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UserValues({} keys, values redacted)", self.0.len())
    }
}

fn env_name(secret: &str, key: &str) -> String {
    format!("VOICE_{}_{}", secret.to_uppercase().replace('-', "_"), key)
}

/// A value that is needed and not supplied, with how to supply it.
fn unsupplied(spec: &SecretSpec, key: &str) -> String {
    format!(
        "{}/{} key {key} (set {} or add it under `{}:` in --secrets-file)",
        spec.namespace,
        spec.name,
        env_name(&spec.name, key),
        spec.name
    )
}

impl UserValues {
    /// Collects values from voice.yaml, the secrets file and the environment (in rising
    /// precedence).
    pub(crate) fn collect(stack: &Stack, file: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let mut v = BTreeMap::new();
        if let Posthog::SelfHosted(ph) = &stack.config.posthog
            && let (Some(k), Some(s)) = (
                &ph.secret_key,
                stack.secrets.iter().find(|s| s.component == "posthog-web"),
            )
        {
            v.insert(
                (s.name.clone(), "SECRET_KEY".to_string()),
                k.expose().to_string(),
            );
        }
        if let Posthog::Cloud(c) = &stack.config.posthog
            && let (Some(k), Some(s)) = (
                &c.project_api_key,
                stack.secrets.iter().find(|s| s.component == "model-router"),
            )
        {
            v.insert(
                (s.name.clone(), "POSTHOG_API_KEY".to_string()),
                k.expose().to_string(),
            );
        }
        if let Some(path) = file {
            let text = crate::config::read_bounded(path, "the secrets file")?;
            let doc = voice_core::config::yaml::parse_bounded_strings(&text).map_err(|d| {
                crate::error::Usage(format!(
                    "{}{}: {}: {}",
                    path.display(),
                    d.line
                        .map(|l| format!(":{l}:{}", d.column.unwrap_or(1)))
                        .unwrap_or_default(),
                    if d.path.is_empty() {
                        "(document)"
                    } else {
                        &d.path
                    },
                    d.message
                ))
            })?;
            let map: BTreeMap<String, BTreeMap<String, String>> = serde_json::from_value(doc)
                .map_err(|_| {
                    crate::error::Usage(format!(
                        "{}: expected a mapping of secret name to a mapping of key to value",
                        path.display()
                    ))
                })?;
            for (secret, keys) in map {
                for (key, value) in keys {
                    v.insert((secret.clone(), key), value);
                }
            }
        }
        for s in &stack.secrets {
            for k in &s.keys {
                if let Ok(value) = std::env::var(env_name(&s.name, &k.key)) {
                    v.insert((s.name.clone(), k.key.clone()), value);
                }
            }
        }
        Ok(UserValues(v))
    }
}

/// `(namespace, name)`.
type SecretId = (String, String);

/// What the supplied secret values mean for the live Secrets, found before any write.
#[derive(Debug, Default)]
pub(crate) struct Preflight {
    /// Required values neither supplied nor stored: `ns/name key K (how to supply it)`.
    pub missing: Vec<String>,
    /// Supplied values that differ from the stored ones: `ns/name key K`.
    pub differs: Vec<String>,
    /// Secrets voice.yaml names (existingSecret, an external service's secretRef) that are
    /// absent or lack a key, in words.
    pub named: Vec<String>,
}

impl UserValues {
    /// The required values not supplied here: `ns/name key K (how to supply it)`. Offline,
    /// for `validate`: install needs them unless the cluster already stores them.
    pub(crate) fn unsupplied(&self, stack: &Stack) -> Vec<String> {
        voice_core::render::selection::secrets(stack)
            .iter()
            .filter(|s| !s.existing && !s.external)
            .flat_map(|s| {
                s.keys
                    .iter()
                    .filter(move |k| {
                        matches!(k.source, SecretSource::User { required: true })
                            && !self.0.contains_key(&(s.name.clone(), k.key.clone()))
                    })
                    .map(move |k| unsupplied(s, &k.key))
            })
            .collect()
    }
}

/// The copies among the user's Secrets (`SameAs` keys of Secrets that exist already) that
/// do not hold their source's value: one password would differ between its readers.
fn copies_disagree(specs: &[SecretSpec], values: &Values) -> Vec<String> {
    let value = |ns: &str, name: &str, key: &str| {
        values
            .get(&(ns.to_string(), name.to_string()))
            .and_then(|d| d.get(key))
    };
    let mut out = Vec::new();
    for spec in specs.iter().filter(|s| s.existing) {
        for k in &spec.keys {
            if let SecretSource::SameAs {
                namespace,
                secret,
                key,
            } = &k.source
                && let (Some(copy), Some(source)) = (
                    value(&spec.namespace, &spec.name, &k.key),
                    value(namespace, secret, key),
                )
                && copy != source
            {
                out.push(format!(
                    "Secret {}/{} key {} differs from {namespace}/{secret} key {key}, whose value it must hold; set it to that value",
                    spec.namespace, spec.name, k.key
                ));
            }
        }
    }
    out
}

/// Why a Secret must exist already, in words.
fn named_by(stack: &Stack) -> &'static str {
    match stack.config.secrets {
        voice_core::config::Secrets::Existing => "which you create (secrets.source: existing)",
        _ => "named in voice.yaml",
    }
}

/// Reads the run's Secrets (writing nothing) and compares them with the supplied values.
pub(crate) async fn preflight(
    client: &Client,
    stack: &Stack,
    user: &UserValues,
) -> anyhow::Result<Preflight> {
    let specs = voice_core::render::selection::secrets(stack);
    let mut out = Preflight::default();
    let mut named: Values = BTreeMap::new();
    // The Secrets voice.yaml names (existingSecret, an external service's secretRef): each
    // must exist with every key it names; their values are not looked at.
    for spec in specs.iter().filter(|s| s.existing) {
        let id = format!("{}/{}", spec.namespace, spec.name);
        let live = match Api::<Secret>::namespaced(client.clone(), &spec.namespace)
            .get_opt(&spec.name)
            .await
        {
            Ok(s) => s,
            Err(kube::Error::Api(e)) if e.code == 404 => None,
            Err(e) => return Err(anyhow::Error::new(e).context(format!("reading Secret {id}"))),
        };
        let Some(live) = live else {
            // A Secret of optional values alone may be absent: its readers say optional.
            if spec.is_optional() {
                continue;
            }
            let keys: Vec<String> = spec
                .keys
                .iter()
                .filter(|k| !matches!(k.source, SecretSource::User { required: false }))
                .map(|k| format!("--from-literal={}=…", k.key))
                .collect();
            out.named.push(format!(
                "Secret {id}, {}, does not exist; create it: kubectl create secret generic -n {} {} {} (`kubectl voice secrets template` lists every Secret and key)",
                named_by(stack),
                spec.namespace,
                spec.name,
                keys.join(" ")
            ));
            continue;
        };
        let has = |k: &str| {
            live.data.as_ref().is_some_and(|d| d.contains_key(k))
                || live.string_data.as_ref().is_some_and(|d| d.contains_key(k))
        };
        named.insert((spec.namespace.clone(), spec.name.clone()), decode(&live));
        for k in spec
            .keys
            .iter()
            .filter(|k| !matches!(k.source, SecretSource::User { required: false }) && !has(&k.key))
        {
            out.named.push(format!(
                "Secret {id}, {}, has no key {}; add it",
                named_by(stack),
                k.key
            ));
        }
    }
    out.named.extend(copies_disagree(&specs, &named));
    for spec in specs.iter().filter(|s| !s.existing && !s.external) {
        let users: Vec<(&str, bool)> = spec
            .keys
            .iter()
            .filter_map(|k| match k.source {
                SecretSource::User { required } => Some((k.key.as_str(), required)),
                _ => None,
            })
            .collect();
        if users.is_empty() {
            continue;
        }
        let id = format!("{}/{}", spec.namespace, spec.name);
        let api: Api<Secret> = Api::namespaced(client.clone(), &spec.namespace);
        let live = match api.get_opt(&spec.name).await {
            Ok(s) => s.as_ref().map(decode).unwrap_or_default(),
            // A namespace this run would create: nothing is stored yet.
            Err(kube::Error::Api(e)) if e.code == 404 => BTreeMap::new(),
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("reading Secret {id}")));
            }
        };
        for (key, required) in users {
            match (
                user.0.get(&(spec.name.clone(), key.to_string())),
                live.get(key),
            ) {
                (None, None) if required => out.missing.push(unsupplied(spec, key)),
                (Some(supplied), Some(stored)) if supplied != stored => {
                    out.differs.push(format!("{id} key {key}"));
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

/// Reads the values of the run's Secrets that exist, writing nothing (for `diff`).
pub(crate) async fn read(client: &Client, stack: &Stack) -> anyhow::Result<Values> {
    read_where(client, stack, |_| true).await
}

/// Reads the values of the run's Secrets that ExternalSecrets fill, once they are synced:
/// what their readers' `checksum/secrets` is computed from.
pub(crate) async fn read_external(client: &Client, stack: &Stack) -> anyhow::Result<Values> {
    read_where(client, stack, |s| s.external).await
}

async fn read_where(
    client: &Client,
    stack: &Stack,
    wanted: impl Fn(&SecretSpec) -> bool,
) -> anyhow::Result<Values> {
    let mut specs = voice_core::render::selection::secrets(stack);
    specs.retain(|s| wanted(s));
    let found: Vec<Option<(SecretId, BTreeMap<String, String>)>> =
        futures::stream::iter(specs.iter())
            .map(|spec| async move {
                let api: Api<Secret> = Api::namespaced(client.clone(), &spec.namespace);
                let live = api
                    .get_opt(&spec.name)
                    .await
                    .with_context(|| format!("reading Secret {}/{}", spec.namespace, spec.name))?;
                Ok::<_, anyhow::Error>(
                    live.map(|s| ((spec.namespace.clone(), spec.name.clone()), decode(&s))),
                )
            })
            .buffered(16)
            .try_collect()
            .await?;
    Ok(found.into_iter().flatten().collect())
}

fn random(length: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..length)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// The labels of a Secret kubectl-voice writes itself: the rollout's, and its applyset's.
pub(crate) fn secret_labels(inv: &Inventory, stack: &Stack) -> BTreeMap<String, String> {
    BTreeMap::from([
        (PART_OF.to_string(), inv.id.clone()),
        (
            "app.kubernetes.io/managed-by".to_string(),
            voice_core::render::MANAGER.to_string(),
        ),
        (
            "app.kubernetes.io/instance".to_string(),
            stack.config.instance.clone(),
        ),
    ])
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";

fn decode(s: &Secret) -> BTreeMap<String, String> {
    s.data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
        .collect()
}

/// A write to make.
enum Write {
    Create(Box<Secret>),
    Add(String, BTreeMap<String, String>),
    /// Keys to set, some of them repairs (described).
    Repair(String, BTreeMap<String, String>, Vec<String>),
}

/// Ensures every Secret of the stack. Reads run in parallel (none on a first install,
/// `fresh`), values are decided in dependency order, writes run in parallel. A Secret that
/// appears between the read and the create is completed instead, never overwritten.
pub(crate) async fn ensure(
    client: &Client,
    stack: &Stack,
    inv: &Inventory,
    user: &UserValues,
    dry_run: bool,
    fresh: bool,
    rotate: bool,
) -> anyhow::Result<(Vec<(String, Outcome)>, Values)> {
    let selected = voice_core::render::selection::secrets(stack);
    // Those an ExternalSecret fills are the operator's to write.
    let mut specs: Vec<&SecretSpec> = selected.iter().filter(|s| !s.external).collect();
    specs.sort_by_key(|s| {
        s.keys
            .iter()
            .any(|k| matches!(k.source, SecretSource::SameAs { .. }))
    });
    let lives: Vec<Option<Secret>> = if fresh {
        specs.iter().map(|_| None).collect()
    } else {
        futures::stream::iter(specs.iter())
            .map(|spec| async move {
                let api: Api<Secret> = Api::namespaced(client.clone(), &spec.namespace);
                match api.get(&spec.name).await {
                    Ok(s) => Ok(Some(s)),
                    Err(e) if is_not_found(&e) => Ok(None),
                    Err(e) => Err(anyhow::Error::new(e)
                        .context(format!("reading Secret {}/{}", spec.namespace, spec.name))),
                }
            })
            .buffered(16)
            .try_collect()
            .await?
    };
    // The values that copies hold, by the key they copy: a source key that is missing (its
    // namespace was deleted and made again) takes its copies' value instead of a new one,
    // so nothing that exists is regenerated.
    let mut copied: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for (spec, live) in specs.iter().zip(&lives) {
        let data = live.as_ref().map(decode).unwrap_or_default();
        for k in &spec.keys {
            if let (
                SecretSource::SameAs {
                    namespace,
                    secret,
                    key,
                },
                Some(v),
            ) = (&k.source, data.get(&k.key))
            {
                copied
                    .entry((namespace.clone(), secret.clone(), key.clone()))
                    .or_insert_with(|| v.clone());
            }
        }
    }
    let mut known: BTreeMap<(String, String, String), String> = BTreeMap::new();
    let mut missing_required = Vec::new();
    let mut out = Vec::new();
    let mut values: Values = BTreeMap::new();
    let mut writes: Vec<(&SecretSpec, Write)> = Vec::new();
    for (spec, live) in specs.iter().zip(lives) {
        let id = format!("{}/{}", spec.namespace, spec.name);
        if spec.existing {
            let live = match live {
                Some(l) => l,
                None => match Api::<Secret>::namespaced(client.clone(), &spec.namespace)
                    .get_opt(&spec.name)
                    .await?
                {
                    Some(l) => l,
                    // Optional values alone, none given: nothing to read.
                    None if spec.is_optional() => {
                        out.push((id, Outcome::NotNeeded));
                        continue;
                    }
                    None => bail!(
                        "the Secret {id}, {}, was not found; create it (`kubectl voice secrets template` lists its keys)",
                        named_by(stack)
                    ),
                },
            };
            let data = decode(&live);
            values.insert((spec.namespace.clone(), spec.name.clone()), data.clone());
            let absent: Vec<&str> = spec
                .keys
                .iter()
                .filter(|k| {
                    !data.contains_key(&k.key)
                        && !matches!(k.source, SecretSource::User { required: false })
                })
                .map(|k| k.key.as_str())
                .collect();
            if !absent.is_empty() {
                bail!(
                    "the existing Secret {id} lacks the keys {}",
                    absent.join(", ")
                );
            }
            out.push((id, Outcome::Unchanged));
            continue;
        }
        let data = live.as_ref().map(decode).unwrap_or_default();
        for (k, v) in &data {
            known.insert(
                (spec.namespace.clone(), spec.name.clone(), k.clone()),
                v.clone(),
            );
        }
        let mut added: BTreeMap<String, String> = BTreeMap::new();
        let mut repaired: Vec<String> = Vec::new();
        // `--rotate`: supplied values replace the stored ones (their copies follow below).
        if rotate {
            for k in &spec.keys {
                if let (SecretSource::User { .. }, Some(v), Some(old)) = (
                    &k.source,
                    user.0.get(&(spec.name.clone(), k.key.clone())),
                    data.get(&k.key),
                ) && v != old
                {
                    added.insert(k.key.clone(), v.clone());
                    known.insert(
                        (spec.namespace.clone(), spec.name.clone(), k.key.clone()),
                        v.clone(),
                    );
                    repaired.push(format!("{} (rotated)", k.key));
                }
            }
        }
        // Copies that disagree with their source take the source's value.
        for k in spec.keys.iter().filter(|k| data.contains_key(&k.key)) {
            if let SecretSource::SameAs {
                namespace,
                secret,
                key,
            } = &k.source
                && let Some(v) = known.get(&(namespace.clone(), secret.clone(), key.clone()))
                && data.get(&k.key) != Some(v)
            {
                added.insert(k.key.clone(), v.clone());
                known.insert(
                    (spec.namespace.clone(), spec.name.clone(), k.key.clone()),
                    v.clone(),
                );
                repaired.push(format!(
                    "{} from {namespace}/{secret} (the copy disagreed with its source)",
                    k.key
                ));
            }
        }
        let adopted = |k: &str| {
            copied
                .get(&(spec.namespace.clone(), spec.name.clone(), k.to_string()))
                .cloned()
        };
        for k in spec.keys.iter().filter(|k| !data.contains_key(&k.key)) {
            let value = match &k.source {
                SecretSource::Random { length } => {
                    Some(adopted(&k.key).unwrap_or_else(|| random(*length, ALNUM)))
                }
                SecretSource::RandomHex { length } => {
                    Some(adopted(&k.key).unwrap_or_else(|| random(*length, HEX)))
                }
                SecretSource::SameAs {
                    namespace,
                    secret,
                    key,
                } => match known.get(&(namespace.clone(), secret.clone(), key.clone())) {
                    Some(v) => Some(v.clone()),
                    None => {
                        let other: Api<Secret> = Api::namespaced(client.clone(), namespace);
                        // An absent source holds no value (an optional one never supplied).
                        let s = other.get_opt(secret).await.with_context(|| {
                            format!("reading Secret {namespace}/{secret} for {id}/{}", k.key)
                        })?;
                        s.as_ref().and_then(|s| decode(s).get(key).cloned())
                    }
                },
                SecretSource::User { required } => {
                    match user.0.get(&(spec.name.clone(), k.key.clone())) {
                        Some(v) => Some(v.clone()),
                        None if *required => {
                            missing_required.push(unsupplied(spec, &k.key));
                            None
                        }
                        None => None,
                    }
                }
            };
            if let Some(v) = value {
                known.insert(
                    (spec.namespace.clone(), spec.name.clone(), k.key.clone()),
                    v.clone(),
                );
                added.insert(k.key.clone(), v);
            }
        }
        let mut all = data.clone();
        all.extend(added.iter().map(|(k, v)| (k.clone(), v.clone())));
        values.insert((spec.namespace.clone(), spec.name.clone()), all);
        match (live.is_some(), added.is_empty()) {
            (true, true) => out.push((id, Outcome::Unchanged)),
            // Nothing to store (only optional values, none supplied): no empty Secret; its
            // readers refer to it as optional.
            (false, true) => out.push((id, Outcome::NotNeeded)),
            (true, false) if !repaired.is_empty() => {
                writes.push((spec, Write::Repair(id, added, repaired)))
            }
            (true, false) => writes.push((spec, Write::Add(id, added))),
            (false, _) => {
                let encoded: BTreeMap<String, ByteString> = added
                    .iter()
                    .map(|(k, v)| (k.clone(), ByteString(v.as_bytes().to_vec())))
                    .collect();
                let s = Secret {
                    metadata: kube::api::ObjectMeta {
                        name: Some(spec.name.clone()),
                        namespace: Some(spec.namespace.clone()),
                        labels: Some(secret_labels(inv, stack)),
                        ..Default::default()
                    },
                    type_: Some("Opaque".into()),
                    data: Some(encoded),
                    ..Default::default()
                };
                writes.push((spec, Write::Create(Box::new(s))));
            }
        }
    }
    if !missing_required.is_empty() {
        bail!(crate::error::Usage(format!(
            "required secret values are missing:\n  {}",
            missing_required.join("\n  ")
        )));
    }
    let written: Vec<(String, Outcome)> = futures::stream::iter(writes)
        .map(|(spec, w)| async move {
            let api: Api<Secret> = Api::namespaced(client.clone(), &spec.namespace);
            let id = format!("{}/{}", spec.namespace, spec.name);
            match w {
                Write::Create(s) => {
                    let pp = PostParams {
                        dry_run,
                        field_manager: Some(voice_core::render::MANAGER.into()),
                    };
                    match api.create(&pp, &s).await {
                        Ok(_) => Ok((id, Outcome::Created)),
                        // It exists after all (made by hand, or by a concurrent run): add only
                        // the keys it lacks.
                        Err(kube::Error::Api(e)) if e.code == 409 => {
                            let live = decode(
                                &api.get(&spec.name)
                                    .await
                                    .with_context(|| format!("reading Secret {id}"))?,
                            );
                            let planned: BTreeMap<String, String> = s
                                .data
                                .iter()
                                .flatten()
                                .map(|(k, v)| {
                                    (k.clone(), String::from_utf8_lossy(&v.0).into_owned())
                                })
                                .collect();
                            let added: BTreeMap<String, String> = planned
                                .into_iter()
                                .filter(|(k, _)| !live.contains_key(k))
                                .collect();
                            add_keys(&api, &spec.name, &id, &added, dry_run).await
                        }
                        Err(e) => {
                            Err(anyhow::Error::new(e).context(format!("creating Secret {id}")))
                        }
                    }
                }
                Write::Add(id, added) => add_keys(&api, &spec.name, &id, &added, dry_run).await,
                Write::Repair(id, set, repaired) => add_keys(&api, &spec.name, &id, &set, dry_run)
                    .await
                    .map(|(id, _)| (id, Outcome::Repaired(repaired))),
            }
        })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    out.extend(written);
    Ok((out, values))
}

async fn add_keys(
    api: &Api<Secret>,
    name: &str,
    id: &str,
    added: &BTreeMap<String, String>,
    dry_run: bool,
) -> anyhow::Result<(String, Outcome)> {
    if added.is_empty() {
        return Ok((id.to_string(), Outcome::Unchanged));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let patch = json!({"data": added.iter().map(|(k, v)| (k.clone(), b64.encode(v))).collect::<BTreeMap<_, _>>()});
    let pp = PatchParams {
        dry_run,
        ..Default::default()
    };
    api.patch(name, &pp, &Patch::Merge(&patch))
        .await
        .with_context(|| format!("adding keys to Secret {id}"))?;
    Ok((
        id.to_string(),
        Outcome::Completed(added.keys().cloned().collect()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_values_have_the_length_and_alphabet() {
        let a = random(50, ALNUM);
        assert_eq!(a.len(), 50);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        let h = random(32, HEX);
        assert!(h.len() == 32 && h.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(random(32, ALNUM), random(32, ALNUM));
        assert_eq!(
            env_name("model-router-secret", "OPENAI_API_KEY"),
            "VOICE_MODEL_ROUTER_SECRET_OPENAI_API_KEY"
        );
    }
}
