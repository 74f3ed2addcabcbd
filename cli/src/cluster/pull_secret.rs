//! `--image-pull-secret FILE`: a Docker config (`{"auths": {…}}`) made into a Secret of type
//! `kubernetes.io/dockerconfigjson` named `<instance>-registry` in every namespace where the
//! run starts pods, and listed in `images.pullSecrets` so every pod pulls with it.
//!
//! The file is checked before anything is written and never printed; a Secret that exists is
//! kept as it is, never regenerated (to change the credentials, delete it and run again). The
//! name goes into the recorded configuration, so later runs keep referring to it.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::Value;
use voice_core::Stack;

use crate::cluster::inventory::Inventory;
use crate::cluster::secrets::secret_labels;

/// The Secret type kubelet reads registry credentials from.
pub(crate) const TYPE: &str = "kubernetes.io/dockerconfigjson";
/// Its one key.
pub(crate) const KEY: &str = ".dockerconfigjson";

/// The checked contents of a Docker config file. Never printed: `Debug` says only how many
/// registries it holds.
#[derive(Clone)]
pub(crate) struct PullSecret {
    /// The Secret's name.
    pub name: String,
    data: Vec<u8>,
    registries: usize,
}

impl std::fmt::Debug for PullSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PullSecret({}, {} registries, contents redacted)",
            self.name, self.registries
        )
    }
}

/// The name of the Secret `--image-pull-secret` makes for a rollout.
pub(crate) fn name(instance: &str) -> String {
    format!("{instance}-registry")
}

/// Checks a Docker config's text: a JSON object whose `auths` maps each registry to its
/// credentials (`auth`, or `username` and `password`, or an `identitytoken`). The problem is
/// said without any of the file's values. Returns the number of registries.
pub(crate) fn check(text: &str) -> Result<usize, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "not JSON (line {}, column {}); a Docker config is what `docker login` writes to ~/.docker/config.json",
            e.line(),
            e.column()
        )
    })?;
    let Some(auths) = v.get("auths") else {
        return Err(
            if v.get("credsStore").is_some() || v.get("credHelpers").is_some() {
                "it has no `auths`: its credentials live in a credential helper (credsStore/credHelpers), not in the file; write one with the credentials in it (`docker login` with no helper configured, or `kubectl create secret docker-registry --dry-run=client -o jsonpath='{.data.\\.dockerconfigjson}' | base64 -d`)".into()
            } else {
                "it has no `auths`: a Docker config maps each registry under `auths` to its credentials, {\"auths\": {\"registry.example.com\": {\"auth\": \"<base64 user:password>\"}}}".into()
            },
        );
    };
    let Some(auths) = auths.as_object() else {
        return Err("`auths` is not a mapping of registry to credentials".into());
    };
    if auths.is_empty() {
        return Err("`auths` names no registry".into());
    }
    for (registry, entry) in auths {
        let has = |k: &str| {
            entry
                .get(k)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        };
        if !entry.is_object() {
            return Err(format!(
                "`auths.{registry}` is not a mapping of credentials"
            ));
        }
        if !(has("auth") || (has("username") && has("password")) || has("identitytoken")) {
            return Err(format!(
                "`auths.{registry}` holds no credentials: it needs `auth` (base64 of user:password), or `username` and `password`"
            ));
        }
        if let Some(a) = entry
            .get("auth")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        {
            use base64::Engine;
            let ok = base64::engine::general_purpose::STANDARD
                .decode(a)
                .ok()
                .is_some_and(|d| d.contains(&b':'));
            if !ok {
                return Err(format!(
                    "`auths.{registry}.auth` is not base64 of `user:password`"
                ));
            }
        }
    }
    Ok(auths.len())
}

/// Reads and checks `--image-pull-secret FILE` for a rollout.
pub(crate) fn read(path: &std::path::Path, instance: &str) -> anyhow::Result<PullSecret> {
    let text = crate::config::read_bounded(path, "the Docker config")?;
    let registries = check(&text).map_err(|why| {
        crate::error::Usage(format!(
            "--image-pull-secret {}: {why}; nothing was applied",
            path.display()
        ))
    })?;
    Ok(PullSecret {
        name: name(instance),
        data: text.into_bytes(),
        registries,
    })
}

/// Lists the Secret in the document's `images.pullSecrets` (when it is not there yet) and
/// builds the stack again from it.
pub(crate) fn reference(
    stack: Stack,
    mut document: Value,
    secret: &PullSecret,
) -> anyhow::Result<(Stack, Value)> {
    if stack.config.images.pull_secrets.contains(&secret.name) {
        return Ok((stack, document));
    }
    let Some(root) = document.as_object_mut() else {
        anyhow::bail!("the configuration is not a mapping");
    };
    let images = root
        .entry("images")
        .or_insert_with(|| Value::Object(Default::default()));
    if images.is_null() {
        *images = Value::Object(Default::default());
    }
    let list = images
        .as_object_mut()
        .context("images is not a mapping")?
        .entry("pullSecrets")
        .or_insert_with(|| Value::Array(Vec::new()));
    if list.is_null() {
        *list = Value::Array(Vec::new());
    }
    list.as_array_mut()
        .context("images.pullSecrets is not a list")?
        .push(Value::from(secret.name.clone()));
    let stack = crate::cluster::history::load_document(&document, stack.selection.clone())?;
    Ok((stack, document))
}

/// The namespaces where this run's selection starts pods: where the pull Secrets must be.
pub(crate) fn namespaces(stack: &Stack) -> BTreeSet<String> {
    stack
        .components
        .iter()
        .filter(|c| stack.selection.includes(c))
        .map(|c| c.namespace.clone())
        .collect()
}

/// Creates the Secret in every namespace that lacks it; one that exists is kept as it is.
/// Returns `(created, kept)`.
pub(crate) async fn ensure(
    client: &Client,
    stack: &Stack,
    inv: &Inventory,
    secret: &PullSecret,
    dry_run: bool,
) -> anyhow::Result<(usize, usize)> {
    let (mut created, mut kept) = (0, 0);
    for ns in namespaces(stack) {
        let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
        let s = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(secret.name.clone()),
                namespace: Some(ns.clone()),
                labels: Some(secret_labels(inv, stack)),
                ..Default::default()
            },
            type_: Some(TYPE.into()),
            data: Some(BTreeMap::from([(
                KEY.to_string(),
                ByteString(secret.data.clone()),
            )])),
            ..Default::default()
        };
        let pp = PostParams {
            dry_run,
            field_manager: Some(voice_core::render::MANAGER.into()),
        };
        match api.create(&pp, &s).await {
            Ok(_) => created += 1,
            Err(kube::Error::Api(e)) if e.code == 409 => kept += 1,
            // A dry run's namespace that the run would create.
            Err(kube::Error::Api(e)) if dry_run && e.code == 404 => created += 1,
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("creating Secret {ns}/{}", secret.name))
                );
            }
        }
    }
    Ok((created, kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_docker_config_needs_auths_with_credentials() {
        let good = r#"{"auths": {"registry.example.com": {"auth": "dXNlcjpwYXNz"}, "ghcr.io": {"username": "u", "password": "p"}}}"#;
        assert_eq!(check(good), Ok(2));
        for (text, fragment) in [
            ("{", "not JSON"),
            ("[]", "no `auths`"),
            (r#"{"credsStore": "desktop"}"#, "credential helper"),
            (r#"{"auths": []}"#, "not a mapping"),
            (r#"{"auths": {}}"#, "names no registry"),
            (
                r#"{"auths": {"r": {"email": "a@b"}}}"#,
                "holds no credentials",
            ),
            (r#"{"auths": {"r": {"auth": "not-base64!"}}}"#, "not base64"),
            (
                r#"{"auths": {"r": {"auth": "c2VjcmV0"}}}"#,
                "not base64 of `user:password`",
            ),
        ] {
            let why = check(text).expect_err(text);
            assert!(why.contains(fragment), "{text}: {why}");
        }
        // No value of the file is ever in a problem.
        let why = check(r#"{"auths": {"r": {"auth": "c2VjcmV0"}}}"#).unwrap_err();
        assert!(
            !why.contains("c2VjcmV0") && !why.contains("secret"),
            "{why}"
        );
        let p = PullSecret {
            name: "voice-registry".into(),
            data: good.as_bytes().to_vec(),
            registries: 2,
        };
        assert!(!format!("{p:?}").contains("dXNlcjpwYXNz"));
    }

    #[test]
    fn the_reference_is_recorded_once() {
        let loaded = voice_core::config::load_with_document(&voice_core::Input {
            profile: Some(voice_core::ProfileName::Dev),
            ..Default::default()
        })
        .expect("valid");
        let stack = voice_core::build(
            &loaded.config,
            &voice_core::Selection::default(),
            &loaded.positions,
        )
        .expect("builds");
        let p = PullSecret {
            name: name("voice"),
            data: Vec::new(),
            registries: 1,
        };
        let (stack, doc) = reference(stack, loaded.document, &p).expect("referenced");
        assert_eq!(stack.config.images.pull_secrets, ["voice-registry"]);
        let (stack, again) = reference(stack, doc.clone(), &p).expect("referenced");
        assert_eq!(again, doc);
        assert_eq!(stack.config.images.pull_secrets, ["voice-registry"]);
    }
}
