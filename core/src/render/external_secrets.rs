//! The ExternalSecret (external-secrets.io/v1) of each Secret filled from a secret store
//! (`secrets.source: external-secrets`): it makes exactly the Secret the workloads read,
//! with one entry per key and each key's remote place from the catalog. The v1 API is
//! served from External Secrets Operator 0.16.0 on (`config/crds/bases/
//! external-secrets.io_externalsecrets.yaml@d174726` in external-secrets/external-secrets).

use serde_json::{Value, json};

use super::{Object, Stage, meta};
use crate::catalog::secrets::remote_values;
use crate::catalog::{Component, SecretSpec, Stack};
use crate::config::Secrets;

/// The API group of ExternalSecrets and of the stores they read.
pub const GROUP: &str = "external-secrets.io";
/// The version of [`GROUP`] rendered and read.
pub const VERSION: &str = "v1";
/// The API version rendered: [`GROUP`]/[`VERSION`].
pub const API_VERSION: &str = "external-secrets.io/v1";

/// The ExternalSecrets of a component's Secrets, when a store fills them.
pub fn objects(stack: &Stack, c: &Component) -> Vec<Object> {
    let Secrets::ExternalSecrets(store) = &stack.config.secrets else {
        return Vec::new();
    };
    stack
        .secrets
        .iter()
        .filter(|s| s.external && s.component == c.name)
        .filter_map(|s| object(stack, c, s, store))
        .collect()
}

/// The ExternalSecret of one Secret; none when it would read nothing (only optional values,
/// none listed): its readers refer to that Secret as optional, as without a store.
fn object(
    stack: &Stack,
    c: &Component,
    spec: &SecretSpec,
    store: &crate::config::Store,
) -> Option<Object> {
    let values = remote_values(stack, store, spec);
    if values.is_empty() {
        return None;
    }
    let data: Vec<Value> = values
        .into_iter()
        .map(|v| {
            let mut remote = json!({ "key": v.remote_key });
            if !v.property.is_empty() {
                remote["property"] = Value::String(v.property);
            }
            json!({ "secretKey": v.key, "remoteRef": remote })
        })
        .collect();
    let value = json!({
        "apiVersion": API_VERSION,
        "kind": "ExternalSecret",
        "metadata": serde_json::to_value(meta(stack, c, &spec.name)).unwrap_or(Value::Null),
        "spec": {
            "refreshInterval": store.refresh_interval,
            "secretStoreRef": { "kind": store.kind, "name": store.name },
            // `Orphan`: the operator writes and updates the Secret without owning it, so
            // deleting the ExternalSecret (a move back to generated or existing Secrets, an
            // uninstall that keeps Secrets) leaves every value in place; a value removed from
            // the store stays in the Secret (`Retain`). `apis/externalsecrets/v1/
            // externalsecret_types.go@ec12919`.
            "target": {
                "name": spec.name,
                "creationPolicy": "Orphan",
                "deletionPolicy": "Retain",
            },
            "data": data,
        },
    });
    Some(Object::from_value(&c.name, Stage::Config, value))
}

#[cfg(test)]
mod tests {
    use crate::config::{Input, ProfileName};

    #[test]
    fn api_version_is_group_and_version() {
        assert_eq!(
            super::API_VERSION,
            format!("{}/{}", super::GROUP, super::VERSION)
        );
    }

    #[test]
    fn one_external_secret_per_secret_that_reads_a_value() {
        for profile in [
            ProfileName::Dev,
            ProfileName::Small,
            ProfileName::Production,
        ] {
            let stack = crate::load(&Input {
                yaml: "secrets: {source: external-secrets, store: {name: vault}}\n",
                profile: Some(profile),
                ..Default::default()
            })
            .unwrap();
            let objects = crate::render::render(&stack);
            let es: Vec<_> = objects
                .iter()
                .filter(|o| o.kind == "ExternalSecret")
                .collect();
            let readable = stack
                .secrets
                .iter()
                .filter(|s| s.external)
                .filter(|s| {
                    let crate::config::Secrets::ExternalSecrets(st) = &stack.config.secrets else {
                        unreachable!()
                    };
                    !crate::catalog::secrets::remote_values(&stack, st, s).is_empty()
                })
                .count();
            assert_eq!(es.len(), readable, "{profile:?}");
            for o in es {
                let v = o.value();
                assert_eq!(v["apiVersion"], "external-secrets.io/v1");
                assert_eq!(v["spec"]["target"]["name"], o.name.as_str());
                assert_eq!(v["spec"]["secretStoreRef"]["kind"], "ClusterSecretStore");
                assert!(!v["spec"]["data"].as_array().unwrap().is_empty());
            }
        }
    }
}
