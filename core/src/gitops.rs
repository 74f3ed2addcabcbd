//! The GitOps render (`render --out DIR --gitops argocd|flux`): the plan's waves carried
//! into a tree that Argo CD or Flux applies in our order, each wave's readiness gates held by
//! the engine's own health checks.
//!
//! Facts cited below are in `shared/facts/gitops-secrets-engines.md` (sections B and C).

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::catalog::Stack;
use crate::plan::{self, Wave};
use crate::render::{self, Object};

/// Argo CD's ordering annotation: an integer in a string, low waves first (B1).
pub const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";
/// Argo CD's hook annotation.
pub const HOOK: &str = "argocd.argoproj.io/hook";
/// Argo CD's hook delete policy annotation.
pub const HOOK_DELETE_POLICY: &str = "argocd.argoproj.io/hook-delete-policy";
/// Argo CD's per-object sync options.
pub const SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";

/// The file of the Flux `Kustomization` objects, one per wave.
pub const FLUX_WAVES_FILE: &str = "flux-kustomizations.yaml";

/// Which GitOps engine a tree is written for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// Argo CD (or its gitops-engine): sync waves and hooks.
    Argocd,
    /// Flux's kustomize-controller: one `Kustomization` per wave.
    Flux(FluxSource),
}

/// Where Flux reads the tree: the source object and the tree's path inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FluxSource {
    /// `GitRepository`, `OCIRepository`, `Bucket` or `ExternalArtifact`.
    pub kind: String,
    /// The source's name.
    pub name: String,
    /// The source's namespace, where the wave Kustomizations live too.
    pub namespace: String,
    /// The tree's directory inside the source, `./`-relative and without a trailing `/`.
    pub path: String,
}

/// A GitOps flag that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `--gitops` names no engine we write for.
    #[error("--gitops: {0:?} is not a GitOps engine (expected argocd or flux)")]
    Engine(String),
    /// `--flux-source` is malformed or names a kind Flux cannot read from.
    #[error("--flux-source: {value:?} {why}")]
    Source {
        /// The flag's value.
        value: String,
        /// What is wrong with it.
        why: String,
    },
    /// `--flux-path` is not a directory inside the source.
    #[error("--flux-path: {value:?} {why}")]
    Path {
        /// The flag's value.
        value: String,
        /// What is wrong with it.
        why: String,
    },
}

/// A tree that would wait on Secrets only `install` makes (`secrets.source: generate`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--gitops: secrets.source is generate, and install (which a GitOps engine never runs) makes these Secrets: {}; their readers would wait for them forever. Set secrets.source to existing (create them: `kubectl voice secrets template` lists names and keys) or external-secrets (a store fills them), then render again",
    .0.join(", ")
)]
pub struct GeneratedSecrets(pub Vec<String>);

/// Whether a GitOps tree of the stack's selection can run without `install`: every Secret
/// its workloads need comes from the user or a store, not from install's generator. A
/// Secret of optional values alone is never needed.
pub fn check_secrets(stack: &Stack) -> Result<(), GeneratedSecrets> {
    let generated: Vec<String> = render::selection::secrets(stack)
        .iter()
        .filter(|s| !s.existing && !s.external && !s.is_optional())
        .map(|s| format!("{}/{}", s.namespace, s.name))
        .collect();
    if generated.is_empty() {
        Ok(())
    } else {
        Err(GeneratedSecrets(generated))
    }
}

/// `sourceRef.kind` values kustomize-controller accepts (`api/v1/reference_types.go@186fb3b`,
/// C; `ExternalArtifact` needs its feature gate).
const FLUX_SOURCE_KINDS: [&str; 4] = [
    "GitRepository",
    "OCIRepository",
    "Bucket",
    "ExternalArtifact",
];

/// The namespace Flux installs itself into, and so of a source named without one.
const FLUX_NAMESPACE: &str = "flux-system";

impl Engine {
    /// Reads `--gitops` with, for Flux, `--flux-source` and `--flux-path`.
    pub fn parse(engine: &str, source: &str, path: &str) -> Result<Engine, Error> {
        match engine {
            "argocd" => Ok(Engine::Argocd),
            "flux" => Ok(Engine::Flux(FluxSource::parse(source, path)?)),
            other => Err(Error::Engine(other.into())),
        }
    }
}

impl FluxSource {
    /// Reads `KIND/NAME` or `KIND/NAMESPACE/NAME` and the tree's path in the source.
    pub fn parse(source: &str, path: &str) -> Result<FluxSource, Error> {
        let bad = |why: &str| Error::Source {
            value: source.into(),
            why: why.into(),
        };
        let parts: Vec<&str> = source.split('/').collect();
        let (kind, namespace, name) = match parts[..] {
            [k, n] => (k, FLUX_NAMESPACE, n),
            [k, ns, n] => (k, ns, n),
            _ => return Err(bad("is not KIND/NAME or KIND/NAMESPACE/NAME")),
        };
        if !FLUX_SOURCE_KINDS.contains(&kind) {
            return Err(bad(&format!(
                "names kind {kind:?}; Flux reads from {}",
                FLUX_SOURCE_KINDS.join(", ")
            )));
        }
        for (what, v) in [("namespace", namespace), ("name", name)] {
            if !is_dns_label(v) {
                return Err(bad(&format!(
                    "has the {what} {v:?}, which is not a DNS-1123 label (lower case letters, \
                     digits and '-', at most 63)"
                )));
            }
        }
        Ok(FluxSource {
            kind: kind.into(),
            name: name.into(),
            namespace: namespace.into(),
            path: flux_path(path)?,
        })
    }
}

/// The tree's path as Flux's `spec.path` takes it: `./a/b`, or `.` for the source's root.
fn flux_path(path: &str) -> Result<String, Error> {
    let bad = |why: &str| Error::Path {
        value: path.into(),
        why: why.into(),
    };
    if path.starts_with('/') {
        return Err(bad(
            "is absolute; give the directory relative to the source's root",
        ));
    }
    let segments: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    if segments.contains(&"..") {
        return Err(bad("leaves the source with '..'"));
    }
    if let Some(s) = segments
        .iter()
        .find(|s| s.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err(bad(&format!("has the segment {s:?} with blanks")));
    }
    Ok(if segments.is_empty() {
        ".".into()
    } else {
        format!("./{}", segments.join("/"))
    })
}

fn is_dns_label(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// The tree for `engine`: relative file paths and their text, in a stable order.
pub fn tree(stack: &Stack, objects: &[Object], engine: &Engine) -> Vec<(String, String)> {
    let waves = applied_waves(stack, objects);
    match engine {
        Engine::Argocd => argocd(objects, &waves),
        Engine::Flux(source) => flux(stack, objects, &waves, source),
    }
}

/// The plan's waves that write objects, each object with its wave's index.
fn applied_waves(stack: &Stack, objects: &[Object]) -> Vec<Wave> {
    plan::waves(stack, objects)
        .into_iter()
        .filter(|w| !w.objects.is_empty())
        .collect()
}

/// Each object's wave, by kind, namespace and name.
type WaveIndex<'a> = HashMap<(&'a str, Option<&'a str>, &'a str), &'a Wave>;

fn wave_of(waves: &[Wave]) -> WaveIndex<'_> {
    waves
        .iter()
        .flat_map(|w| {
            w.objects.iter().map(move |r| {
                (
                    (r.kind.as_str(), r.namespace.as_deref(), r.name.as_str()),
                    w,
                )
            })
        })
        .collect()
}

fn find<'a>(index: &HashMap<(&str, Option<&str>, &str), &'a Wave>, o: &Object) -> Option<&'a Wave> {
    index
        .get(&(o.kind.as_str(), o.namespace.as_deref(), o.name.as_str()))
        .copied()
}

/// Argo CD: the plain render's files, each object annotated with its wave.
///
/// - `sync-wave` is the plan's wave index: Argo applies the lowest wave with anything out of
///   sync or unhealthy and moves on only when it is Healthy (B1; gitops-engine marks a
///   multi-wave sync's applied objects running until their health is Healthy,
///   `pkg/sync/sync_context.go@v0.7.3`). Its built-in health is our gates: a Deployment
///   Healthy once its updated replicas are available, a StatefulSet once `readyReplicas`
///   reaches `spec.replicas`, a PVC once Bound, a Job once Complete (B2); a Service's ready
///   endpoints follow from its workload's pods. An ExternalSecret has Argo's Lua health
///   (Ready=True → Healthy, A3).
/// - Jobs (setup and migrations) are `Sync` hooks in their wave, so they start only after the
///   databases' wave is Healthy and the next wave waits for them. Argo runs hooks on every
///   sync and creates rather than applies them (B1, B3); `BeforeHookCreation` deletes the
///   previous run's Job just before the next is created, so a Job of the same name never
///   blocks the run and the completed Job stays inspectable until then (`HookSucceeded` would
///   leave a failed Job in the way of every later sync).
/// - Objects of a custom resource whose CRD may not be in this sync skip the dry run
///   (`SkipDryRunOnMissingResource=true`, B1).
fn argocd(objects: &[Object], waves: &[Wave]) -> Vec<(String, String)> {
    let index = wave_of(waves);
    let annotated: Vec<Object> = objects
        .iter()
        .map(|o| {
            let mut o = o.clone();
            let mut notes: Vec<(&str, String)> = Vec::new();
            if let Some(w) = find(&index, &o) {
                notes.push((SYNC_WAVE, w.index.to_string()));
            }
            if o.kind == "Job" {
                notes.push((HOOK, "Sync".into()));
                notes.push((HOOK_DELETE_POLICY, "BeforeHookCreation".into()));
            }
            if !is_builtin(&o.api_version) {
                notes.push((SYNC_OPTIONS, "SkipDryRunOnMissingResource=true".into()));
            }
            annotate(&mut o, &notes);
            o
        })
        .collect();
    render::to_files(&annotated)
}

/// Whether an apiVersion is served by every API server (no CRD needed).
fn is_builtin(api_version: &str) -> bool {
    match api_version.split_once('/') {
        None => true,
        Some((group, _)) => {
            !group.contains('.') || group.ends_with(".k8s.io") && !group.ends_with(".x-k8s.io")
        }
    }
}

fn annotate(o: &mut Object, notes: &[(&str, String)]) {
    if notes.is_empty() {
        return;
    }
    let meta = o
        .value_mut()
        .pointer_mut("/metadata")
        .and_then(Value::as_object_mut)
        .expect("every object has metadata");
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("annotations are a map");
    for (k, v) in notes {
        annotations.insert((*k).into(), Value::String(v.clone()));
    }
}

/// A wave's directory in the Flux tree: `NN-name`.
pub fn wave_dir(w: &Wave) -> String {
    format!("{:02}-{}", w.index, w.name)
}

/// Whether a directory name is one [`wave_dir`] writes (for removing stale waves).
pub fn is_wave_dir(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() > 3
        && b[..2].iter().all(u8::is_ascii_digit)
        && b[2] == b'-'
        && b[3..].iter().all(|c| c.is_ascii_lowercase())
}

/// Flux: one directory per wave (its objects unchanged, one file per component and a
/// kustomization.yaml), and one `Kustomization` per wave in [`FLUX_WAVES_FILE`], which the
/// root kustomization.yaml lists alone: a Flux Kustomization pointed at the tree applies the
/// waves' Kustomizations, never the objects all at once.
///
/// Each waits for the previous one (`dependsOn`: applied only after the dependency is Ready,
/// and after its `wait` health checks pass) and health-checks everything it applied
/// (`wait: true`: Deployments, StatefulSets, PVCs, Jobs, kstatus-compatible custom
/// resources), prunes what left the source (C). Jobs need no `force`: their names hash
/// their pod template, so a changed Job is a new object and the old one is pruned.
fn flux(
    stack: &Stack,
    objects: &[Object],
    waves: &[Wave],
    source: &FluxSource,
) -> Vec<(String, String)> {
    let index = wave_of(waves);
    let mut files = Vec::new();
    let mut kustomizations = Vec::new();
    let mut previous: Option<String> = None;
    for w in waves {
        let dir = wave_dir(w);
        let mine: Vec<Object> = objects
            .iter()
            .filter(|o| find(&index, o).is_some_and(|x| x.index == w.index))
            .cloned()
            .collect();
        files.extend(
            render::to_files(&mine)
                .into_iter()
                .map(|(f, text)| (format!("{dir}/{f}"), text)),
        );
        let name = format!("{}-{dir}", stack.config.instance);
        kustomizations.push(flux_kustomization(
            &name,
            previous.as_deref(),
            &format!("{}/{dir}", source.path),
            w,
            source,
        ));
        previous = Some(name);
    }
    files.push((FLUX_WAVES_FILE.into(), render::to_yaml(&kustomizations)));
    files.push((
        "kustomization.yaml".into(),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {FLUX_WAVES_FILE}\n"
        ),
    ));
    files
}

fn flux_kustomization(
    name: &str,
    depends_on: Option<&str>,
    path: &str,
    w: &Wave,
    source: &FluxSource,
) -> Object {
    let mut spec = json!({
        // The docs' production sample: re-applied hourly, a failed apply retried sooner
        // (C). The timeout caps build, apply and health checks: install's default wave
        // deadline (`install --timeout 10m`).
        "interval": "60m",
        "retryInterval": "2m",
        "timeout": "10m",
        "path": path,
        "prune": true,
        "wait": true,
        "sourceRef": {"kind": source.kind, "name": source.name},
    });
    if let Some(d) = depends_on {
        spec["dependsOn"] = json!([{ "name": d }]);
    }
    Object::from_value(
        "",
        render::Stage::Cluster,
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {
                "name": name,
                "namespace": source.namespace,
                "annotations": {"kubectl-voice.io/wave": w.description},
                "labels": {"app.kubernetes.io/managed-by": render::MANAGER},
            },
            "spec": spec,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Input, ProfileName};

    /// The documents of a multi-document YAML file.
    fn docs(text: &str) -> Vec<Value> {
        format!("\n{text}")
            .split("\n---\n")
            .filter(|d| !d.trim().is_empty())
            .map(|d| crate::config::yaml::parse_value(d).unwrap())
            .collect()
    }

    fn dev() -> (Stack, Vec<Object>) {
        let stack = crate::load(&Input {
            profile: Some(ProfileName::Dev),
            ..Default::default()
        })
        .expect("dev is valid");
        let objects = render::selected(&stack);
        (stack, objects)
    }

    #[test]
    fn flags_are_read_or_refused_naming_the_flag() {
        assert_eq!(
            Engine::parse("flux", "GitRepository/flux-system", "deploy/"),
            Ok(Engine::Flux(FluxSource {
                kind: "GitRepository".into(),
                name: "flux-system".into(),
                namespace: "flux-system".into(),
                path: "./deploy".into(),
            }))
        );
        let ok = Engine::parse("flux", "OCIRepository/apps/voice", ".").unwrap();
        assert!(matches!(ok, Engine::Flux(s) if s.namespace == "apps" && s.path == "."));
        for (engine, source, path, want) in [
            ("helm", "GitRepository/x", ".", "--gitops: \"helm\""),
            (
                "flux",
                "GitRepo/x",
                ".",
                "--flux-source: \"GitRepo/x\" names kind",
            ),
            ("flux", "x", ".", "is not KIND/NAME"),
            ("flux", "Bucket/a/b/c", ".", "is not KIND/NAME"),
            ("flux", "Bucket/My_Repo", ".", "not a DNS-1123 label"),
            (
                "flux",
                "Bucket/x",
                "/abs",
                "--flux-path: \"/abs\" is absolute",
            ),
            ("flux", "Bucket/x", "./a/../..", "leaves the source"),
            ("flux", "Bucket/x", "a b", "with blanks"),
        ] {
            let e = Engine::parse(engine, source, path).unwrap_err().to_string();
            assert!(e.contains(want), "{engine} {source} {path}: {e}");
        }
    }

    /// Every object carries its plan wave; Jobs are Sync hooks deleted before their next run;
    /// waves never go down along the plan's order.
    #[test]
    fn argocd_annotations_follow_the_plan() {
        let (stack, objects) = dev();
        let files = tree(&stack, &objects, &Engine::Argocd);
        let docs: Vec<Value> = files
            .iter()
            .filter(|(f, _)| f != "kustomization.yaml")
            .flat_map(|(_, t)| docs(t))
            .collect();
        assert_eq!(docs.len(), objects.len());
        let note = |d: &Value, k: &str| {
            d.pointer(&format!("/metadata/annotations/{}", k.replace('/', "~1")))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let wave = |kind: &str| {
            docs.iter()
                .filter(|d| d["kind"] == kind)
                .map(|d| note(d, SYNC_WAVE).unwrap().parse::<usize>().unwrap())
                .collect::<Vec<_>>()
        };
        let jobs = wave("Job");
        assert!(!jobs.is_empty());
        assert!(wave("StatefulSet").iter().max() < jobs.iter().min());
        assert!(jobs.iter().max() < wave("Deployment").iter().min());
        assert!(wave("Namespace").iter().max() < wave("StatefulSet").iter().min());
        for d in &docs {
            assert!(note(d, SYNC_WAVE).is_some(), "{d}");
            let hook = note(d, HOOK);
            assert_eq!(hook.is_some(), d["kind"] == "Job", "{d}");
            if hook.is_some() {
                assert_eq!(
                    note(d, HOOK_DELETE_POLICY).as_deref(),
                    Some("BeforeHookCreation")
                );
            }
        }
    }

    #[test]
    fn custom_resources_skip_the_dry_run() {
        assert!(is_builtin("v1"));
        assert!(is_builtin("apps/v1"));
        assert!(is_builtin("networking.k8s.io/v1"));
        assert!(!is_builtin("monitoring.coreos.com/v1"));
        assert!(!is_builtin("external-secrets.io/v1"));
        assert!(!is_builtin("gateway.networking.x-k8s.io/v1alpha1"));
    }

    /// One directory per wave holding its objects unchanged, one Kustomization per wave
    /// depending on the previous one.
    #[test]
    fn flux_has_a_kustomization_per_wave_in_order() {
        let (stack, objects) = dev();
        let source = FluxSource::parse("GitRepository/flux-system", "./deploy").unwrap();
        let files = tree(&stack, &objects, &Engine::Flux(source));
        let waves = applied_waves(&stack, &objects);
        let (_, ks) = files.iter().find(|(f, _)| f == FLUX_WAVES_FILE).unwrap();
        let ks = docs(ks);
        assert_eq!(ks.len(), waves.len());
        for (i, (k, w)) in ks.iter().zip(&waves).enumerate() {
            assert_eq!(k["spec"]["path"], format!("./deploy/{}", wave_dir(w)));
            assert!(is_wave_dir(&wave_dir(w)));
            assert_eq!(k["spec"]["wait"], true);
            assert_eq!(k["spec"]["prune"], true);
            let dep = k["spec"]["dependsOn"][0]["name"].clone();
            if i == 0 {
                assert!(dep.is_null());
            } else {
                assert_eq!(dep, ks[i - 1]["metadata"]["name"]);
            }
            assert!(
                files
                    .iter()
                    .any(|(f, _)| *f == format!("{}/kustomization.yaml", wave_dir(w)))
            );
        }
        let in_dirs: Vec<Value> = files
            .iter()
            .filter(|(f, _)| f.contains('/') && !f.ends_with("/kustomization.yaml"))
            .flat_map(|(_, t)| docs(t))
            .collect();
        let plain: Vec<Value> = objects.iter().map(|o| o.value().into_owned()).collect();
        assert_eq!(in_dirs.len(), plain.len());
        assert!(in_dirs.iter().all(|d| plain.contains(d)));
        assert!(!is_wave_dir("kustomization.yaml") && !is_wave_dir("1-x"));
    }
}
