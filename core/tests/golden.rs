//! Golden files: `manifests/<profile>.yaml` is the rendered output of each embedded profile,
//! committed so reviewers see YAML diffs. A test fails when the renderer and the files
//! disagree; `UPDATE_GOLDEN=1 cargo test -p voice-core --test golden` rewrites them.

use std::path::PathBuf;

use voice_core::catalog::WorkloadKind;
use voice_core::quantity::{Bytes, MilliCpu};
use voice_core::{Input, ProfileName};

fn render(p: ProfileName) -> String {
    let stack = voice_core::load(&Input {
        profile: Some(p),
        ..Default::default()
    })
    .unwrap();
    voice_core::render::to_yaml(&voice_core::render::render(&stack))
}

#[test]
fn manifests_match_the_renderer() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../manifests");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut stale = Vec::new();
    for p in voice_core::config::PROFILES {
        let path = dir.join(format!("{}.yaml", p.as_str()));
        let want = render(p);
        if update {
            std::fs::write(&path, &want).unwrap();
            continue;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have != want {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "rendered output differs from {stale:?}; review and run UPDATE_GOLDEN=1 cargo test -p voice-core --test golden"
    );
}

#[test]
fn rendering_is_deterministic() {
    for p in voice_core::config::PROFILES {
        assert_eq!(render(p), render(p));
    }
}

#[test]
fn production_carries_the_reference_numbers() {
    let stack = voice_core::load(&Input {
        profile: Some(ProfileName::Production),
        ..Default::default()
    })
    .unwrap();
    let plan = voice_core::plan::plan(&stack);
    let row = |n: &str| {
        plan.sizing
            .components
            .iter()
            .find(|c| c.name == n)
            .unwrap_or_else(|| panic!("{n} missing"))
    };
    let check =
        |n: &str, replicas: (u32, u32), req: (&str, &str), lim: (&str, &str), storage: &str| {
            let r = row(n);
            assert_eq!((r.min_replicas, r.max_replicas), replicas, "{n} replicas");
            let main = &stack.component(n).unwrap().main().resources;
            assert_eq!(
                main.requests.cpu,
                MilliCpu::parse(req.0).unwrap(),
                "{n} cpu request"
            );
            assert_eq!(
                main.requests.memory,
                Bytes::parse(req.1).unwrap(),
                "{n} memory request"
            );
            assert_eq!(
                main.limits.cpu,
                MilliCpu::parse(lim.0).unwrap(),
                "{n} cpu limit"
            );
            assert_eq!(
                main.limits.memory,
                Bytes::parse(lim.1).unwrap(),
                "{n} memory limit"
            );
            assert_eq!(
                r.storage,
                if storage == "-" {
                    Bytes(0)
                } else {
                    Bytes::parse(storage).unwrap()
                },
                "{n} storage"
            );
        };
    check(
        "posthog-postgres",
        (1, 1),
        ("500m", "512Mi"),
        ("1", "2Gi"),
        "20Gi",
    );
    // Redis with Sentinel: each node carries the reference Redis numbers; HAProxy keeps
    // the `posthog-redis` Service.
    check(
        "posthog-redis-node",
        (3, 3),
        ("250m", "256Mi"),
        ("500m", "1Gi"),
        "5Gi",
    );
    check(
        "posthog-redis",
        (2, 2),
        ("50m", "64Mi"),
        ("250m", "256Mi"),
        "-",
    );
    check(
        "posthog-clickhouse",
        (1, 1),
        ("1", "2Gi"),
        ("4", "8Gi"),
        "50Gi",
    );
    check("posthog-web", (2, 2), ("500m", "1Gi"), ("2", "4Gi"), "-");
    check("posthog-worker", (2, 2), ("500m", "1Gi"), ("2", "4Gi"), "-");
    check(
        "model-router",
        (3, 10),
        ("500m", "512Mi"),
        ("2", "2Gi"),
        "-",
    );
    // The same numbers reach the rendered objects.
    let yaml = render(ProfileName::Production);
    for needle in [
        "name: posthog-clickhouse",
        "storage: 50Gi",
        "minReplicas: 3",
        "maxReplicas: 10",
        "averageUtilization: 70",
        "averageUtilization: 80",
    ] {
        assert!(
            yaml.contains(needle),
            "rendered production lacks `{needle}`"
        );
    }
    assert!(!yaml.contains(":latest"), "an unpinned image was rendered");
    assert!(!yaml.contains("kind: Secret\n"), "a Secret was rendered");
}

#[test]
fn every_component_has_workload_service_account_and_policy() {
    for p in voice_core::config::PROFILES {
        let stack = voice_core::load(&Input {
            profile: Some(p),
            ..Default::default()
        })
        .unwrap();
        let objects = voice_core::render::render(&stack);
        for c in &stack.components {
            let kinds: Vec<&str> = objects
                .iter()
                .filter(|o| o.component == c.name)
                .map(|o| o.kind.as_str())
                .collect();
            let workload = match c.kind {
                WorkloadKind::Deployment => "Deployment",
                WorkloadKind::StatefulSet => "StatefulSet",
                WorkloadKind::Job => "Job",
            };
            for k in [workload, "ServiceAccount", "NetworkPolicy"] {
                assert!(
                    kinds.contains(&k),
                    "{}: {} has no {k} ({kinds:?})",
                    p.as_str(),
                    c.name
                );
            }
            if c.service {
                assert!(
                    kinds.contains(&"Service"),
                    "{}: {} has no Service",
                    p.as_str(),
                    c.name
                );
            }
        }
    }
}

/// The GitOps trees of the dev profile, kept small: for Argo CD each object's file and its
/// Argo CD annotations, for Flux the file list and the wave Kustomizations
/// (`manifests/gitops/dev-*.txt`; `UPDATE_GOLDEN=1` rewrites them).
#[test]
fn gitops_trees_match_their_summaries() {
    use voice_core::gitops::{Engine, FLUX_WAVES_FILE, FluxSource};
    let stack = voice_core::load(&Input {
        profile: Some(ProfileName::Dev),
        ..Default::default()
    })
    .unwrap();
    let objects = voice_core::render::selected(&stack);
    let argocd = voice_core::gitops::tree(&stack, &objects, &Engine::Argocd);
    let mut summary = String::new();
    for (file, text) in &argocd {
        for doc in text.split("\n---\n").map(|d| d.trim_start_matches("---\n")) {
            let v = voice_core::config::yaml::parse_value(doc).unwrap();
            let Some(notes) = v
                .pointer("/metadata/annotations")
                .and_then(|a| a.as_object())
            else {
                continue;
            };
            let argo: Vec<String> = notes
                .iter()
                .filter(|(k, _)| k.starts_with("argocd.argoproj.io/"))
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        &k["argocd.argoproj.io/".len()..],
                        v.as_str().unwrap()
                    )
                })
                .collect();
            summary.push_str(&format!(
                "{file}\t{} {}/{}\t{}\n",
                v["kind"].as_str().unwrap(),
                v.pointer("/metadata/namespace")
                    .and_then(|n| n.as_str())
                    .unwrap_or(""),
                v["metadata"]["name"].as_str().unwrap(),
                argo.join(" ")
            ));
        }
    }
    let source = FluxSource::parse("GitRepository/flux-system", "./deploy").unwrap();
    let flux = voice_core::gitops::tree(&stack, &objects, &Engine::Flux(source));
    let mut flux_summary: String = flux.iter().map(|(f, _)| format!("{f}\n")).collect();
    flux_summary.push_str(&flux.iter().find(|(f, _)| f == FLUX_WAVES_FILE).unwrap().1);

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../manifests/gitops");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (name, want) in [("dev-argocd.txt", summary), ("dev-flux.txt", flux_summary)] {
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &want).unwrap();
            continue;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} differs; review and run UPDATE_GOLDEN=1 cargo test -p voice-core --test golden",
            path.display()
        );
    }
    // Rendering the trees is deterministic.
    assert_eq!(
        argocd,
        voice_core::gitops::tree(&stack, &objects, &Engine::Argocd)
    );
}
