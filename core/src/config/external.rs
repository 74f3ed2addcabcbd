//! `components.<store>.external`: a data service run outside the cluster, checked field by
//! field into [`External`]. What each engine accepts (its port, TLS switches, credentials) is
//! the catalog's to check (`catalog::external`), since only it knows which store is which.

use std::collections::BTreeMap;

use super::{Diagnostic, ExternalOptions, check_dns_subdomain};

/// An external data service, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct External {
    /// DNS name or IP address.
    pub host: String,
    /// Port as written; the engine's default when `None`.
    pub port: Option<u16>,
    /// Connect with TLS.
    pub tls: bool,
    /// Check the server's certificate, as written.
    pub verify: Option<bool>,
    /// Database, user, cluster, bucket and region as written (`database` → value).
    pub names: BTreeMap<&'static str, String>,
    /// The existing Secret holding the credentials.
    pub secret: Option<SecretRef>,
}

/// An existing Secret and the key holding each credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// Secret name.
    pub name: String,
    /// Credential (`password`) → key in the Secret.
    pub keys: BTreeMap<String, String>,
}

impl External {
    /// The port: as written, else `default`.
    pub fn port_or(&self, default: u16) -> u16 {
        self.port.unwrap_or(default)
    }

    /// A name field (`database`, `user`, `cluster`, `bucket`, `region`), else `default`.
    pub fn name_or(&self, field: &str, default: &str) -> String {
        self.names
            .get(field)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }

    /// The Secret key holding `credential`, when a Secret is referenced and names it.
    pub fn key(&self, credential: &str) -> Option<(&str, &str)> {
        let s = self.secret.as_ref()?;
        s.keys
            .get(credential)
            .map(|k| (s.name.as_str(), k.as_str()))
    }
}

/// Whether `v` is a host a client can dial: a DNS name or an IPv4 or IPv6 address.
pub fn check_host(v: &str) -> Result<(), String> {
    if v.parse::<core::net::IpAddr>().is_ok() {
        return Ok(());
    }
    check_dns_subdomain(&v.to_ascii_lowercase())
        .map_err(|why| format!("`{v}` is neither a DNS name nor an IP address: {why}"))
}

/// A key of a Secret: letters, digits, `-`, `_` and `.`, at most 253 characters.
fn check_secret_key(v: &str) -> Result<(), String> {
    if v.is_empty() || v.len() > 253 {
        return Err("a Secret key has 1 to 253 characters".into());
    }
    if !v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "`{v}` is not a Secret key: letters, digits, `-`, `_` and `.` only"
        ));
    }
    Ok(())
}

/// Checks `o` at `path` (`components.<name>.external`).
pub fn resolve(diags: &mut Vec<Diagnostic>, path: &str, o: &ExternalOptions) -> Option<External> {
    let before = diags.len();
    if o.host.as_deref().is_none_or(str::is_empty) {
        diags.push(Diagnostic::at_value(
            path,
            "an external service needs its host (a DNS name or IP address)",
        ));
    }
    let mut err = |field: &str, msg: String| {
        diags.push(Diagnostic::at_value(&format!("{path}.{field}"), msg))
    };
    let host = match o.host.as_deref() {
        None | Some("") => String::new(),
        Some(h) => {
            if let Err(why) = check_host(h) {
                err("host", why);
            }
            h.to_string()
        }
    };
    let port = o.port.and_then(|p| match u16::try_from(p) {
        Ok(p) if p > 0 => Some(p),
        _ => {
            err("port", format!("must be a TCP port (1–65535), found {p}"));
            None
        }
    });
    let tls = o.tls.clone().unwrap_or_default();
    let enabled = tls.enabled.unwrap_or(false);
    if tls.verify.is_some() && !enabled {
        err(
            "tls.verify",
            "certificates are checked only over TLS; set tls.enabled: true or drop tls.verify"
                .into(),
        );
    }
    let mut names = BTreeMap::new();
    for (field, v) in [
        ("database", &o.database),
        ("user", &o.user),
        ("cluster", &o.cluster),
        ("bucket", &o.bucket),
        ("region", &o.region),
    ] {
        let Some(v) = v else { continue };
        // Each lands in a URL or a client setting: printable, no separators of either.
        if v.is_empty()
            || v.len() > 63
            || !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            err(
                field,
                format!("`{v}` must be 1 to 63 letters, digits, `-`, `_` or `.`"),
            );
        }
        names.insert(field, v.clone());
    }
    let secret = o.secret_ref.as_ref().map(|s| {
        let name = s.name.clone().unwrap_or_default();
        if name.is_empty() {
            err("secretRef.name", "name the existing Secret".into());
        } else if let Err(why) = check_dns_subdomain(&name) {
            err(
                "secretRef.name",
                format!("`{name}` is not a Secret name: {why}"),
            );
        }
        let keys = s.keys.clone().unwrap_or_default();
        if keys.is_empty() {
            err(
                "secretRef.keys",
                "say which key holds each credential (`password: <key>`); a Secret without keys gives the service nothing".into(),
            );
        }
        for (credential, key) in &keys {
            if let Err(why) = check_secret_key(key) {
                err(&format!("secretRef.keys.{credential}"), why);
            }
        }
        SecretRef { name, keys }
    });
    let ok = diags.len() == before;
    ok.then_some(External {
        host,
        port,
        tls: enabled,
        verify: tls.verify,
        names,
        secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_dns_names_or_addresses() {
        assert!(check_host("db.example.internal").is_ok());
        assert!(check_host("DB.Example.com").is_ok());
        assert!(check_host("203.0.113.7").is_ok());
        assert!(check_host("2001:db8::1").is_ok());
        assert!(check_host("db.example.com:5432").is_err());
        assert!(check_host("postgres://db").is_err());
        assert!(check_host("-db").is_err());
    }

    fn opts(yaml: &str) -> ExternalOptions {
        serde_json::from_value(serde_json::from_str::<serde_json::Value>(yaml).unwrap()).unwrap()
    }

    #[test]
    fn every_problem_is_named_by_its_field() {
        let mut d = Vec::new();
        let e = resolve(
            &mut d,
            "components.posthog-postgres.external",
            &opts(
                r#"{"host":"db:1","port":70000,"tls":{"verify":true},"user":"a b","secretRef":{"name":"pg","keys":{}}}"#,
            ),
        );
        assert!(e.is_none());
        let paths: Vec<&str> = d.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "components.posthog-postgres.external.host",
                "components.posthog-postgres.external.port",
                "components.posthog-postgres.external.tls.verify",
                "components.posthog-postgres.external.user",
                "components.posthog-postgres.external.secretRef.keys",
            ]
        );
    }

    #[test]
    fn a_good_service_resolves() {
        let mut d = Vec::new();
        let e = resolve(
            &mut d,
            "x",
            &opts(r#"{"host":"db.example.internal","tls":{"enabled":true},"secretRef":{"name":"pg","keys":{"password":"pw"}}}"#),
        )
        .expect("resolves");
        assert!(d.is_empty());
        assert_eq!(e.port_or(5432), 5432);
        assert!(e.tls);
        assert_eq!(e.key("password"), Some(("pg", "pw")));
        assert_eq!(e.name_or("database", "posthog"), "posthog");
    }
}
