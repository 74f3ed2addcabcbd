//! The stack's Secrets under `secrets.source`: with `existing`, every Secret install would
//! generate is the user's to create; with `external-secrets`, an ExternalSecret fills each
//! from the store, and every value has one remote place: a copy of another Secret's key
//! (`SameAs`) reads the remote place of the key it copies, so both copies hold one value.

use crate::config::{Config, Diagnostic, Secrets, Store};

use super::{SecretSource, SecretSpec, Stack};

/// Marks the Secrets install would generate as the user's (`existing`) or the store's
/// (`external-secrets`), and checks `secrets.optionalKeys` against the stack's optional
/// values.
pub(crate) fn apply(cfg: &Config, stack: &mut Stack) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    match &cfg.secrets {
        Secrets::Generate => {}
        Secrets::Existing => {
            for s in &mut stack.secrets {
                s.existing = true;
            }
        }
        Secrets::ExternalSecrets(store) => {
            for s in stack.secrets.iter_mut().filter(|s| !s.existing) {
                s.external = true;
            }
            let optional: Vec<String> = stack
                .secrets
                .iter()
                .filter(|s| s.external)
                .flat_map(|s| {
                    s.keys
                        .iter()
                        .filter(|k| matches!(k.source, SecretSource::User { required: false }))
                        .map(move |k| format!("{}/{}", s.name, k.key))
                })
                .collect();
            for (i, (secret, key)) in store.optional_keys.iter().enumerate() {
                if !optional.contains(&format!("{secret}/{key}")) {
                    diags.push(Diagnostic::at_value(
                        &format!("secrets.optionalKeys[{i}]"),
                        format!(
                            "`{secret}/{key}` is not an optional value of this stack; these are: {}",
                            if optional.is_empty() {
                                "none".to_string()
                            } else {
                                optional.join(", ")
                            }
                        ),
                    ));
                }
            }
        }
    }
    diags
}

/// One value an ExternalSecret reads: the Secret's key and its remote place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteValue {
    /// The key in the Secret.
    pub key: String,
    /// The remote key.
    pub remote_key: String,
    /// The remote property (empty: none).
    pub property: String,
}

/// The values a Secret filled from `store` reads, in the Secret's key order: every key but
/// the optional ones not listed in `secrets.optionalKeys`.
pub fn remote_values(stack: &Stack, store: &Store, spec: &SecretSpec) -> Vec<RemoteValue> {
    spec.keys
        .iter()
        .filter(|k| match k.source {
            SecretSource::User { required: false } => store
                .optional_keys
                .iter()
                .any(|(s, key)| s == &spec.name && key == &k.key),
            _ => true,
        })
        .map(|k| {
            let (ns, secret, key) = origin(stack, &spec.namespace, &spec.name, &k.key);
            let (remote_key, property) = store.remote(&stack.config.instance, ns, secret, key);
            RemoteValue {
                key: k.key.clone(),
                remote_key,
                property,
            }
        })
        .collect()
}

/// One Secret as `kubectl voice secrets template` lists it: who provides it and, per key,
/// how its value is made and where the store keeps it. Never a value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateSecret {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Owning component.
    pub component: String,
    /// `install` (generated), `you` (existing) or `store` (an ExternalSecret).
    pub provided_by: &'static str,
    /// Its keys.
    pub keys: Vec<TemplateKey>,
}

/// One key of a [`TemplateSecret`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateKey {
    /// Key.
    pub key: String,
    /// How its value is made, in words.
    pub value: String,
    /// Whether a workload needs it (optional keys are read only when present).
    pub required: bool,
    /// Where the store keeps it (`external-secrets`; absent for optional values not listed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_key: Option<String>,
    /// The property of the remote key, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_property: Option<String>,
}

/// The Secrets of `specs` (the run's selection) with their keys, for `secrets template`.
pub fn template(stack: &Stack, specs: &[SecretSpec]) -> Vec<TemplateSecret> {
    let store = match &stack.config.secrets {
        Secrets::ExternalSecrets(s) => Some(s),
        _ => None,
    };
    specs
        .iter()
        .map(|spec| {
            let remote = store
                .filter(|_| spec.external)
                .map(|st| remote_values(stack, st, spec))
                .unwrap_or_default();
            TemplateSecret {
                namespace: spec.namespace.clone(),
                name: spec.name.clone(),
                component: spec.component.clone(),
                provided_by: if spec.external {
                    "store"
                } else if spec.existing {
                    "you"
                } else {
                    "install"
                },
                keys: spec
                    .keys
                    .iter()
                    .map(|k| {
                        let r = remote.iter().find(|r| r.key == k.key);
                        TemplateKey {
                            key: k.key.clone(),
                            value: match &k.source {
                                SecretSource::Random { length } => {
                                    format!("random, {length} letters and digits")
                                }
                                SecretSource::RandomHex { length } => {
                                    format!("random, {length} hex digits")
                                }
                                SecretSource::SameAs {
                                    namespace,
                                    secret,
                                    key,
                                } => format!("the value of {namespace}/{secret} {key}"),
                                SecretSource::User { .. } => "yours".into(),
                            },
                            required: !matches!(k.source, SecretSource::User { required: false }),
                            remote_key: r.map(|r| r.remote_key.clone()),
                            remote_property: r
                                .filter(|r| !r.property.is_empty())
                                .map(|r| r.property.clone()),
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The values of `specs` in the shape a secret store is loaded with: each remote key to
/// its value (`remoteProperty` empty) or to an object of property → value, each remote place
/// once (a copy's value is its source's). `value(namespace, secret, key)` reads the live
/// values; returns the document and the problems found (a copy that disagrees with its
/// source, a required value that is absent).
pub fn store_document<'v>(
    stack: &Stack,
    store: &Store,
    specs: &[SecretSpec],
    value: impl Fn(&str, &str, &str) -> Option<&'v str>,
) -> (
    std::collections::BTreeMap<String, serde_json::Value>,
    Vec<String>,
) {
    use serde_json::Value;
    let mut doc: std::collections::BTreeMap<String, Value> = Default::default();
    let mut problems = Vec::new();
    // Sources first, so a copy that disagrees is the one named.
    let keys = [false, true].into_iter().flat_map(|copies| {
        specs.iter().flat_map(move |spec| {
            spec.keys
                .iter()
                .filter(move |k| matches!(k.source, SecretSource::SameAs { .. }) == copies)
                .map(move |k| (spec, k))
        })
    });
    for (spec, k) in keys {
        let Some(v) = value(&spec.namespace, &spec.name, &k.key) else {
            if !matches!(k.source, SecretSource::User { required: false }) {
                problems.push(format!(
                    "{}/{} has no key {}",
                    spec.namespace, spec.name, k.key
                ));
            }
            continue;
        };
        let (ns, secret, key) = origin(stack, &spec.namespace, &spec.name, &k.key);
        let (remote_key, property) = store.remote(&stack.config.instance, ns, secret, key);
        let held = doc.get(&remote_key).map(|v| match v {
            Value::Object(props) if !property.is_empty() => props.get(&property),
            v => Some(v),
        });
        match held {
            Some(Some(held)) => {
                if held.as_str() != Some(v) {
                    problems.push(format!(
                        "{}/{} {} differs from {ns}/{secret} {key}, whose copy it is",
                        spec.namespace, spec.name, k.key
                    ));
                }
            }
            _ if property.is_empty() => {
                doc.insert(remote_key, Value::String(v.to_string()));
            }
            _ => match doc
                .entry(remote_key.clone())
                .or_insert_with(|| Value::Object(Default::default()))
            {
                Value::Object(props) => {
                    props.insert(property, Value::String(v.to_string()));
                }
                _ => problems.push(format!("{remote_key} holds a value and properties")),
            },
        }
    }
    (doc, problems)
}

/// The key a value copies, followed to its first Secret: `(namespace, secret, key)`.
fn origin<'a>(
    stack: &'a Stack,
    ns: &'a str,
    secret: &'a str,
    key: &'a str,
) -> (&'a str, &'a str, &'a str) {
    let (mut at, mut hops) = ((ns, secret, key), 0);
    while hops < 8 {
        let source = stack
            .secrets
            .iter()
            .find(|s| s.namespace == at.0 && s.name == at.1)
            .and_then(|s| s.keys.iter().find(|k| k.key == at.2))
            .map(|k| &k.source);
        match source {
            Some(SecretSource::SameAs {
                namespace,
                secret,
                key,
            }) => at = (namespace, secret, key),
            _ => break,
        }
        hops += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use crate::config::{Input, ProfileName};

    fn stack(yaml: &str) -> Result<crate::Stack, String> {
        crate::load(&Input {
            yaml,
            profile: Some(ProfileName::Production),
            ..Default::default()
        })
        .map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn copies_read_the_remote_place_of_the_key_they_copy() {
        let s = stack("secrets:\n  source: external-secrets\n  store: {name: vault}\n").unwrap();
        let crate::config::Secrets::ExternalSecrets(store) = &s.config.secrets else {
            panic!()
        };
        let mr = s
            .secrets
            .iter()
            .find(|x| x.component == "model-router")
            .unwrap();
        assert!(mr.external && !mr.existing);
        let values = super::remote_values(&s, store, mr);
        let db = values.iter().find(|v| v.key == "DB_PASSWORD").unwrap();
        // The Model Router's DB_PASSWORD copies the infrastructure Secret's key.
        assert_eq!(db.property, "MODEL_ROUTER_DB_PASSWORD");
        assert!(db.remote_key.starts_with("voice/"), "{db:?}");
        // Optional values are left out unless listed.
        assert!(values.iter().all(|v| v.key != "POSTHOG_API_KEY"));
    }

    #[test]
    fn unknown_optional_keys_are_named_with_the_known_ones() {
        let e = stack(
            "secrets:\n  source: external-secrets\n  store: {name: vault}\n  optionalKeys: [posthog/NOPE]\n",
        )
        .unwrap_err();
        assert!(e.contains("secrets.optionalKeys[0]"), "{e}");
        assert!(e.contains("model-router-secret/POSTHOG_API_KEY"), "{e}");
    }

    #[test]
    fn a_store_document_holds_each_remote_place_once_and_names_disagreeing_copies() {
        let s = stack("secrets:\n  source: external-secrets\n  store: {name: vault}\n").unwrap();
        let crate::config::Secrets::ExternalSecrets(store) = &s.config.secrets else {
            panic!()
        };
        let infra = &s.config.namespaces.infra;
        // Every value is "v", but the Model Router's copy of its database password.
        let (doc, problems) = super::store_document(&s, store, &s.secrets, |ns, name, key| {
            (name == "model-router-secret" && key == "DB_PASSWORD")
                .then_some("other")
                .or(Some("v"))
                .filter(|_| ns != "nowhere")
        });
        let infra_secret = doc["voice/infra-secrets"].as_object().unwrap();
        assert_eq!(infra_secret["MODEL_ROUTER_DB_PASSWORD"], "v");
        // Copies add no remote place of their own.
        assert!(
            !doc.contains_key("voice/model-router-secret")
                || !doc["voice/model-router-secret"]
                    .as_object()
                    .unwrap()
                    .contains_key("DB_PASSWORD")
        );
        assert_eq!(
            problems,
            [format!(
                "{}/model-router-secret DB_PASSWORD differs from {infra}/infra-secrets MODEL_ROUTER_DB_PASSWORD, whose copy it is",
                s.config.namespaces.app
            )]
        );
    }

    #[test]
    fn existing_makes_every_secret_the_users() {
        let s = stack("secrets:\n  source: existing\n").unwrap();
        assert!(s.secrets.iter().all(|x| x.existing && !x.external));
    }
}
