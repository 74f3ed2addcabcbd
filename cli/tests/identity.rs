//! Workload identity and private registries on a real control plane, production profile:
//! an IAM role (IRSA) annotated on two components reaches exactly their pods, and a Docker
//! config given to `install --image-pull-secret` becomes a Secret in every namespace that
//! runs pods, referenced by every pod template and pod. `check` names a referenced pull
//! Secret that is missing; a re-run changes nothing and does not regenerate the Secret.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use common::{Release, text};
use voice_tests::cluster::{Options, TestCluster};

const ROLE: &str = "arn:aws:iam::111122223333:role/posthog-object-storage";

/// The components whose pods read object storage get the role; no other pod may.
const WITH_ROLE: [&str; 2] = ["posthog-web", "posthog-worker"];

const VOICE_YAML: &str = "\
podLabels: {team: voice}
components:
  posthog-web:
    serviceAccount:
      annotations: {eks.amazonaws.com/role-arn: \"arn:aws:iam::111122223333:role/posthog-object-storage\"}
  posthog-worker:
    serviceAccount:
      annotations: {eks.amazonaws.com/role-arn: \"arn:aws:iam::111122223333:role/posthog-object-storage\"}
";

/// `user:hunter2-registry-password`, base64: what must never be printed.
const AUTH: &str = "dXNlcjpodW50ZXIyLXJlZ2lzdHJ5LXBhc3N3b3Jk";

fn docker_config() -> String {
    format!("{{\"auths\": {{\"registry.example.com\": {{\"auth\": \"{AUTH}\"}}}}}}")
}

/// `namespace/name` → the value of `jsonpath` for every object of `kind` of the release.
fn by_name(r: &Release, kind: &str, jsonpath: &str) -> BTreeMap<String, String> {
    let out = r.kubectl(&[
        "get",
        kind,
        "-A",
        "-o",
        &format!(
            "jsonpath={{range .items[*]}}{{.metadata.namespace}}/{{.metadata.name}}\t{jsonpath}{{\"\\n\"}}{{end}}"
        ),
    ]);
    out.lines()
        .filter(|l| l.starts_with(&format!("{}-", r.name)))
        .filter_map(|l| l.split_once('\t'))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn an_iam_role_and_a_pull_secret_reach_every_pod_that_needs_them() {
    let cluster = TestCluster::start(Options::production())
        .expect("a control plane with room for production");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("voice.yaml");
    std::fs::write(&file, VOICE_YAML).unwrap();
    let file = file.to_str().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(&config, docker_config()).unwrap();
    let config = config.to_str().unwrap();
    let r = Release {
        profile: "production",
        ..Release::on(&cluster, "ident")
    };
    let secret = format!("{}-registry", r.name);
    let namespaces: BTreeSet<String> = ["posthog", "app", "infra"]
        .iter()
        .map(|n| r.ns(n))
        .collect();

    // A file that is not a Docker config is refused before anything is written.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"credsStore\": \"desktop\"}").unwrap();
    let o = r.run(
        "install",
        &["-f", file, "--image-pull-secret", bad.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("credential helper"),
        "{}",
        text(&o)
    );

    // What the configuration names and the cluster lacks, check names: a pull Secret in
    // each namespace, a Secret an env entry reads, a PriorityClass.
    let o = r.run(
        "check",
        &[
            "-f",
            file,
            "--set",
            "images.pullSecrets=[team-registry]",
            "--set",
            "components.model-router.env=[{name: SENTRY_DSN, secretKeyRef: {name: sentry, key: dsn}}]",
            "--set",
            "components.model-router.priorityClassName=business-critical",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("× image pull Secret team-registry is missing in these namespaces:"),
        "{out}"
    );
    for ns in &namespaces {
        assert!(out.contains(ns.as_str()), "{ns}: {out}");
    }
    assert!(
        out.contains(&format!(
            "× Secret {}/sentry does not exist; the env of model-router reads its key dsn",
            r.ns("app")
        )) && out.contains(
            "× PriorityClass business-critical does not exist: the pods of model-router would be refused"
        ),
        "{out}"
    );

    // Install with the Docker config: the Secret is made in every namespace with pods.
    let o = r.run(
        "install",
        &["-f", file, "--image-pull-secret", config, "--timeout", "8m"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let said = text(&o);
    eprint!("first install: {}", String::from_utf8_lossy(&o.stdout));
    assert!(!said.contains(AUTH) && !said.contains("hunter2"), "{said}");
    let types = by_name(&r, "secrets", "{.type}");
    for ns in &namespaces {
        assert_eq!(
            types.get(&format!("{ns}/{secret}")).map(String::as_str),
            Some("kubernetes.io/dockerconfigjson"),
            "{ns}"
        );
        let data = r.kubectl(&[
            "get",
            "secret",
            "-n",
            ns,
            &secret,
            "-o",
            "jsonpath={.data.\\.dockerconfigjson}",
        ]);
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .expect("base64");
        assert!(
            decoded == docker_config().as_bytes(),
            "{ns}: the stored config differs from the file"
        );
    }

    // Every pod template and every pod pulls with it.
    let want = format!("[{{\"name\":\"{secret}\"}}]");
    for kind in ["deployments", "statefulsets", "jobs"] {
        let found = by_name(&r, kind, "{.spec.template.spec.imagePullSecrets}");
        assert!(!found.is_empty(), "no {kind}");
        for (id, v) in &found {
            assert_eq!(v, &want, "{kind} {id}");
        }
    }
    let pods = by_name(
        &r,
        "pods",
        "{.metadata.labels.app\\.kubernetes\\.io/name} {.spec.serviceAccountName} {.spec.imagePullSecrets}",
    );
    assert!(pods.len() > 40, "{pods:?}");
    eprintln!("{} pods, each pulling with {secret}", pods.len());
    for (id, v) in &pods {
        assert!(v.ends_with(&want), "pod {id}: {v}");
    }

    // The role is on the ServiceAccounts of the two components alone, and exactly their
    // pods run as those ServiceAccounts.
    let roles = by_name(
        &r,
        "serviceaccounts",
        "{.metadata.annotations.eks\\.amazonaws\\.com/role-arn}",
    );
    let annotated: BTreeSet<&str> = roles
        .iter()
        .filter(|(_, v)| v.as_str() == ROLE)
        .map(|(id, _)| id.rsplit('/').next().unwrap_or_default())
        .collect();
    assert_eq!(annotated, WITH_ROLE.into_iter().collect(), "{roles:?}");
    let mut with_role = BTreeSet::new();
    for (id, v) in &pods {
        let mut f = v.split(' ');
        let (component, account) = (f.next().unwrap_or_default(), f.next().unwrap_or_default());
        assert_eq!(
            component, account,
            "pod {id} runs as another component's account"
        );
        if annotated.contains(account) {
            with_role.insert(component);
        }
    }
    assert_eq!(with_role, WITH_ROLE.into_iter().collect());
    // Their pods may reach AWS STS to assume it.
    let policy = r.field(
        "posthog",
        "networkpolicy",
        "posthog-web",
        "{.spec.egress[*].ports[*].port}",
    );
    assert!(policy.split(' ').any(|p| p == "443"), "{policy}");
    let labels = by_name(&r, "pods", "{.metadata.labels.team}");
    assert!(labels.values().all(|v| v == "voice"), "{labels:?}");

    // check passes the references it now finds.
    let o = r.run(
        "check",
        &[
            "-f",
            file,
            "--set",
            &format!("images.pullSecrets=[{secret}]"),
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!("√ image pull Secret {secret} exists in ")),
        "{out}"
    );

    // A re-run, even with another file, changes nothing: the Secret is kept as it is.
    let versions = by_name(&r, "secrets", "{.metadata.resourceVersion}");
    std::fs::write(
        dir.path().join("config.json"),
        docker_config().replace(AUTH, "b3RoZXI6b3RoZXI="),
    )
    .unwrap();
    let o = r.run("install", &["-f", file, "--image-pull-secret", config]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    eprint!("re-run: {out}");
    assert!(
        out.contains(" 0 created, 0 configured") && out.contains("0 written"),
        "{}",
        text(&o)
    );
    assert_eq!(
        by_name(&r, "secrets", "{.metadata.resourceVersion}"),
        versions
    );
}
