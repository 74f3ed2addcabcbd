//! Shared by the end-to-end tests: a release of the stack under its own instance and
//! namespaces, run through the real binary against a real control plane.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

pub(crate) static SERIAL: Mutex<()> = Mutex::new(());

pub(crate) fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kubectl-voice")
}

pub(crate) struct Release {
    pub kubeconfig: String,
    pub name: String,
    pub profile: &'static str,
}

impl Release {
    pub(crate) fn new(name: &str) -> Self {
        Release::on(voice_tests::cluster::shared(), name)
    }
    /// A release on a given cluster.
    pub(crate) fn on(cluster: &voice_tests::cluster::TestCluster, name: &str) -> Self {
        Release {
            kubeconfig: cluster.kubeconfig_path().display().to_string(),
            name: name.to_string(),
            profile: "dev",
        }
    }
    pub(crate) fn args(&self, cmd: &str, extra: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = vec![
            cmd.into(),
            "--kubeconfig".into(),
            self.kubeconfig.clone(),
            "--profile".into(),
            self.profile.into(),
        ];
        for s in [
            format!("instance={}", self.name),
            format!("namespaces.posthog={}-posthog", self.name),
            format!("namespaces.app={}-app", self.name),
            format!("namespaces.infra={}-infra", self.name),
        ] {
            a.push("--set".into());
            a.push(s);
        }
        a.extend(extra.iter().map(|s| (*s).to_string()));
        a
    }
    pub(crate) fn run(&self, cmd: &str, extra: &[&str]) -> Output {
        self.command(cmd, extra)
            .output()
            .expect("run kubectl-voice")
    }
    /// The command line of a run, to add environment variables to.
    pub(crate) fn command(&self, cmd: &str, extra: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(self.args(cmd, extra))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        c
    }
    pub(crate) fn kubectl(&self, args: &[&str]) -> String {
        let o = Command::new(kubectl())
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .output()
            .expect("run kubectl");
        assert!(
            o.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
    /// `kubectl apply -f -` of a YAML stream (kwok's Exec, Logs and PortForward resources,
    /// which say what exec, logs and port-forward of the release's pods run on this machine).
    pub(crate) fn apply_yaml(&self, yaml: &str) {
        use std::io::Write;
        let mut child = Command::new(kubectl())
            .args(["apply", "-f", "-"])
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(yaml.as_bytes())
            .expect("write to kubectl");
        let o = child.wait_with_output().expect("wait for kubectl");
        assert!(o.status.success(), "kubectl apply: {}", text(&o));
    }
    /// `jsonpath` of one object in the release's namespace `ns` (`posthog`, `app`, `infra`).
    pub(crate) fn field(&self, ns: &str, kind: &str, name: &str, jsonpath: &str) -> String {
        self.kubectl(&[
            "get",
            kind,
            "-n",
            &self.ns(ns),
            name,
            "-o",
            &format!("jsonpath={jsonpath}"),
        ])
    }
    /// The namespace of the release for `ns` (`posthog`, `app`, `infra`).
    pub(crate) fn ns(&self, ns: &str) -> String {
        format!("{}-{ns}", self.name)
    }
    /// `kind/namespace/name resourceVersion` of every object of the release.
    pub(crate) fn resource_versions(&self) -> Vec<String> {
        let kinds = "deployments,statefulsets,jobs,services,configmaps,serviceaccounts,networkpolicies,ingresses,horizontalpodautoscalers,poddisruptionbudgets,secrets";
        let out = self.kubectl(&["get", kinds, "-A", "-l", "app.kubernetes.io/instance", "-o", "jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name} {.metadata.resourceVersion}{\"\\n\"}{end}"]);
        let mut v: Vec<String> = out
            .lines()
            .filter(|l| l.contains(&format!("/{}-", self.name)))
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }
    pub(crate) fn secret(&self, ns: &str, name: &str) -> String {
        self.kubectl(&[
            "get",
            "secret",
            "-n",
            &format!("{}-{ns}", self.name),
            name,
            "-o",
            "jsonpath={.data}",
        ])
    }
    /// `namespace/name` → the value of `jsonpath` for each object of `kinds` in the release's
    /// namespaces.
    fn by_name(&self, kinds: &str, selector: &[&str], jsonpath: &str) -> BTreeMap<String, String> {
        let mut args = vec!["get", kinds, "-A"];
        args.extend(selector);
        let path = format!(
            "jsonpath={{range .items[*]}}{{.metadata.namespace}}/{{.metadata.name}} {jsonpath}{{\"\\n\"}}{{end}}"
        );
        args.extend(["-o", &path]);
        self.kubectl(&args)
            .lines()
            .filter(|l| l.starts_with(&format!("{}-", self.name)))
            .filter_map(|l| l.split_once(' '))
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }
    /// Claim → uid, across the release's namespaces.
    pub(crate) fn claim_uids(&self) -> BTreeMap<String, String> {
        self.by_name("pvc", &[], "{.metadata.uid}")
    }
    /// Secret made by the tool → its data (base64; never printed by a passing test).
    pub(crate) fn secret_data(&self) -> BTreeMap<String, String> {
        self.by_name(
            "secrets",
            &["-l", "app.kubernetes.io/managed-by=kubectl-voice"],
            "{.data}",
        )
    }
    pub(crate) fn purge(&self) {
        let o = self.run("uninstall", &["--purge", "--yes"]);
        assert!(o.status.success(), "purge: {}", text(&o));
    }
}

pub(crate) fn kubectl() -> String {
    std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into())
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
