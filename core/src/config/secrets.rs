//! `secrets`: where the values of the Secrets the workloads read come from. `generate` is
//! install's own (made once, never regenerated); `existing` and `external-secrets` let a
//! tree applied by Argo CD or Flux run without `install`: the user's Secrets, or
//! ExternalSecret objects (external-secrets.io/v1) the External Secrets Operator fills
//! from a secret store.

use serde::Serialize;

use super::options::{SecretStoreKind, SecretsOptions, SecretsSourceName};
use super::{Diagnostic, check_dns_subdomain};

/// The checked `secrets` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Secrets {
    /// Install generates the values.
    #[default]
    Generate,
    /// The user creates every Secret.
    Existing,
    /// ExternalSecrets fill every Secret from a store.
    ExternalSecrets(Store),
}

/// How the ExternalSecrets read the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Store {
    /// `ClusterSecretStore` or `SecretStore`.
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// The remote key template.
    pub remote_key: String,
    /// The property template (empty: none).
    pub remote_property: String,
    /// The refresh interval (a Go duration).
    pub refresh_interval: String,
    /// Optional values read from the store too: `(secret, key)`.
    pub optional_keys: Vec<(String, String)>,
}

/// The placeholders a remote key or property may hold.
const PLACEHOLDERS: [&str; 4] = ["instance", "namespace", "secret", "key"];

/// The default remote key.
const REMOTE_KEY: &str = "{instance}/{secret}";
/// The default remote property.
const REMOTE_PROPERTY: &str = "{key}";
/// The default refresh interval.
const REFRESH_INTERVAL: &str = "1h";

impl Store {
    /// The layout of `secrets.remoteKey` and `remoteProperty` when voice.yaml sets none (a
    /// ClusterSecretStore without a name): what `secrets export` writes before a move to a
    /// store.
    pub fn default_layout() -> Store {
        Store {
            kind: "ClusterSecretStore",
            name: String::new(),
            remote_key: REMOTE_KEY.into(),
            remote_property: REMOTE_PROPERTY.into(),
            refresh_interval: REFRESH_INTERVAL.into(),
            optional_keys: Vec::new(),
        }
    }

    /// The remote key and property of one value, its placeholders filled.
    pub fn remote(
        &self,
        instance: &str,
        namespace: &str,
        secret: &str,
        key: &str,
    ) -> (String, String) {
        let fill = |t: &str| {
            t.replace("{instance}", instance)
                .replace("{namespace}", namespace)
                .replace("{secret}", secret)
                .replace("{key}", key)
        };
        (fill(&self.remote_key), fill(&self.remote_property))
    }
}

/// Checks `secrets`, reporting each problem at its field.
pub(crate) fn resolve(diags: &mut Vec<Diagnostic>, o: Option<&SecretsOptions>) -> Secrets {
    let Some(o) = o else {
        return Secrets::Generate;
    };
    let source = o.source.unwrap_or(SecretsSourceName::Generate);
    let mut err = |path: &str, msg: String| diags.push(Diagnostic::at_value(path, msg));
    if source != SecretsSourceName::ExternalSecrets {
        for (set, field) in [
            (o.store.is_some(), "store"),
            (o.remote_key.is_some(), "remoteKey"),
            (o.remote_property.is_some(), "remoteProperty"),
            (o.refresh_interval.is_some(), "refreshInterval"),
            (o.optional_keys.is_some(), "optionalKeys"),
        ] {
            if set {
                err(
                    &format!("secrets.{field}"),
                    "applies to `secrets.source: external-secrets` only".into(),
                );
            }
        }
    }
    match source {
        SecretsSourceName::Generate => Secrets::Generate,
        SecretsSourceName::Existing => Secrets::Existing,
        SecretsSourceName::ExternalSecrets => {
            let store = o.store.clone().unwrap_or_default();
            let name = store.name.unwrap_or_default();
            if name.is_empty() {
                // Reported where the user wrote something: the store, else the source.
                err(
                    if o.store.is_some() {
                        "secrets.store"
                    } else {
                        "secrets.source"
                    },
                    "external-secrets needs secrets.store.name: name the ClusterSecretStore (or SecretStore, with `kind`) the ExternalSecrets read".into(),
                );
            } else if let Err(why) = check_dns_subdomain(&name) {
                err(
                    "secrets.store.name",
                    format!("`{name}` is not a valid DNS name: {why}"),
                );
            }
            let remote_key = o.remote_key.clone().unwrap_or_else(|| REMOTE_KEY.into());
            let remote_property = o
                .remote_property
                .clone()
                .unwrap_or_else(|| REMOTE_PROPERTY.into());
            for (field, t) in [
                ("secrets.remoteKey", &remote_key),
                ("secrets.remoteProperty", &remote_property),
            ] {
                if let Some(bad) = unknown_placeholder(t) {
                    err(
                        field,
                        format!(
                            "unknown placeholder `{{{bad}}}`; these are filled in: {}",
                            PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
                        ),
                    );
                }
            }
            if remote_key.trim().is_empty() {
                err("secrets.remoteKey", "must not be empty".into());
            }
            // Every value needs its own place in the store.
            let both = format!("{remote_key}\u{0}{remote_property}");
            if !both.contains("{secret}") || !both.contains("{key}") {
                err(
                    "secrets.remoteKey",
                    format!(
                        "`{remote_key}` with property `{remote_property}` gives two values one remote place; use both {{secret}} and {{key}} (e.g. remoteKey `{{instance}}/{{secret}}` with remoteProperty `{{key}}`, or remoteKey `{{instance}}/{{secret}}/{{key}}` with remoteProperty `\"\"`)"
                    ),
                );
            }
            let refresh_interval = o
                .refresh_interval
                .clone()
                .unwrap_or_else(|| REFRESH_INTERVAL.into());
            if !is_go_duration(&refresh_interval) {
                err(
                    "secrets.refreshInterval",
                    format!(
                        "`{refresh_interval}` is not a Go duration such as `1h`, `15m` or `1h30m`; `0` reads the store once"
                    ),
                );
            }
            let mut optional_keys = Vec::new();
            for (i, k) in o.optional_keys.iter().flatten().enumerate() {
                match k.split_once('/') {
                    Some((s, key)) if !s.is_empty() && !key.is_empty() && !key.contains('/') => {
                        optional_keys.push((s.to_string(), key.to_string()));
                    }
                    _ => err(
                        &format!("secrets.optionalKeys[{i}]"),
                        format!(
                            "`{k}` must be `<secret>/<KEY>`, e.g. `model-router-secret/OPENAI_API_KEY`"
                        ),
                    ),
                }
            }
            Secrets::ExternalSecrets(Store {
                kind: match store.kind.unwrap_or(SecretStoreKind::ClusterSecretStore) {
                    SecretStoreKind::ClusterSecretStore => "ClusterSecretStore",
                    SecretStoreKind::SecretStore => "SecretStore",
                },
                name,
                remote_key,
                remote_property,
                refresh_interval,
                optional_keys,
            })
        }
    }
}

/// The first `{name}` in `t` that is not a placeholder.
fn unknown_placeholder(t: &str) -> Option<&str> {
    let mut rest = t;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let end = after.find('}')?;
        let name = &after[..end];
        if !PLACEHOLDERS.contains(&name) {
            return Some(name);
        }
        rest = &after[end + 1..];
    }
    None
}

/// Whether `s` is a Go duration (`time.ParseDuration`): `0`, or numbers each with a unit.
fn is_go_duration(s: &str) -> bool {
    if s == "0" {
        return true;
    }
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 || rest[..digits].parse::<f64>().is_err() {
            return false;
        }
        rest = &rest[digits..];
        let Some(unit) = ["ns", "us", "µs", "ms", "s", "m", "h"]
            .iter()
            .filter(|u| rest.starts_with(**u))
            .max_by_key(|u| u.len())
        else {
            return false;
        };
        rest = &rest[unit.len()..];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(o: SecretsOptions) -> (Secrets, Vec<String>) {
        let mut d = Vec::new();
        let s = resolve(&mut d, Some(&o));
        (
            s,
            d.iter()
                .map(|d| format!("{}: {}", d.path, d.message))
                .collect(),
        )
    }

    #[test]
    fn external_secrets_needs_a_store_and_distinct_remote_places() {
        let (_, errs) = check(SecretsOptions {
            source: Some(SecretsSourceName::ExternalSecrets),
            remote_key: Some("{instance}/{nope}".into()),
            remote_property: Some(String::new()),
            refresh_interval: Some("an hour".into()),
            optional_keys: Some(vec!["OPENAI_API_KEY".into()]),
            ..Default::default()
        });
        let text = errs.join("\n");
        for want in [
            "secrets.source: external-secrets needs secrets.store.name",
            "secrets.remoteKey: unknown placeholder `{nope}`",
            "gives two values one remote place",
            "secrets.refreshInterval: `an hour` is not a Go duration",
            "secrets.optionalKeys[0]: `OPENAI_API_KEY` must be `<secret>/<KEY>`",
        ] {
            assert!(text.contains(want), "{want} not in\n{text}");
        }
    }

    #[test]
    fn store_settings_outside_external_secrets_are_refused() {
        let (s, errs) = check(SecretsOptions {
            source: Some(SecretsSourceName::Existing),
            remote_key: Some("{secret}/{key}".into()),
            ..Default::default()
        });
        assert_eq!(s, Secrets::Existing);
        assert_eq!(
            errs,
            ["secrets.remoteKey: applies to `secrets.source: external-secrets` only"]
        );
    }

    #[test]
    fn remote_places_fill_their_placeholders() {
        let (s, errs) = check(SecretsOptions {
            source: Some(SecretsSourceName::ExternalSecrets),
            store: Some(super::super::options::SecretStoreOptions {
                kind: None,
                name: Some("vault".into()),
            }),
            refresh_interval: Some("1h30m".into()),
            ..Default::default()
        });
        assert!(errs.is_empty(), "{errs:?}");
        let Secrets::ExternalSecrets(store) = s else {
            panic!("{s:?}")
        };
        assert_eq!(store.kind, "ClusterSecretStore");
        assert_eq!(
            store.remote("voice", "posthog", "posthog", "SECRET_KEY"),
            ("voice/posthog".into(), "SECRET_KEY".into())
        );
        for ok in ["0", "1h", "15m", "1.5h", "300ms", "2h45m10s"] {
            assert!(is_go_duration(ok), "{ok}");
        }
        for bad in ["", "h", "10", "1d", "-1h"] {
            assert!(!is_go_duration(bad), "{bad}");
        }
    }
}
