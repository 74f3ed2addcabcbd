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

/// The API version rendered.
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
        .map(|s| object(stack, c, s, store))
        .collect()
}

fn object(stack: &Stack, c: &Component, spec: &SecretSpec, store: &crate::config::Store) -> Object {
    let data: Vec<Value> = remote_values(stack, store, spec)
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
            // The operator owns the Secret it writes (and deletes it with the ExternalSecret);
            // a value removed from the store stays in the Secret (`Retain`).
            "target": {
                "name": spec.name,
                "creationPolicy": "Owner",
                "deletionPolicy": "Retain",
            },
            "data": data,
        },
    });
    Object::from_value(&c.name, Stage::Config, value)
}
