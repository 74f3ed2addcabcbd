//! The binary as a user runs it: exit codes, output formats, files, and discovery by kubectl.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kubectl-voice")
}

/// Runs the binary offline: no kubeconfig to find, so `plan` fits on the profile's nodes.
fn run(args: &[&str]) -> Output {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let home = HOME.get_or_init(|| tempfile::tempdir().expect("a temporary HOME"));
    Command::new(bin())
        .args(args)
        .env("NO_COLOR", "1")
        .env("HOME", home.path())
        .env_remove("KUBECONFIG")
        .output()
        .expect("run kubectl-voice")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn plan_prints_sizing_fit_and_waves() {
    let o = run(&["plan", "--profile", "production"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    for needle in [
        "COMPONENT",
        "posthog-clickhouse",
        "model-router",
        "TOTAL (max)",
        "Fit on",
        "Waves:",
        "migrations",
        "values never printed",
        "then `kubectl voice status --verify` checks",
    ] {
        assert!(s.contains(needle), "plan output lacks `{needle}`:\n{s}");
    }
    // Only the waves install runs are numbered.
    assert!(!s.contains(". verification"), "{s}");
}

#[test]
fn plan_json_and_yaml_are_machine_readable() {
    let o = run(&["plan", "--profile", "production", "-o", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["profile"], "production");
    let web = v["sizing"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "posthog-web")
        .unwrap();
    assert_eq!(web["pod"]["requests"]["cpu"], 500);
    assert!(v["waves"].as_array().unwrap().len() >= 6);
    let o = run(&["plan", "--profile", "dev", "-o", "yaml"]);
    let y: serde_yaml::Value = serde_yaml::from_slice(&o.stdout).expect("yaml");
    assert_eq!(y["profile"], serde_yaml::Value::from("dev"));
}

#[test]
fn plan_says_what_replacing_each_workloads_pods_means_in_its_table_and_json() {
    let o = run(&["plan", "--profile", "production"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    let table = s
        .split("\nAvailability: ")
        .nth(1)
        .and_then(|t| t.split("\n\n").next())
        .unwrap_or_else(|| panic!("no availability table:\n{s}"));
    assert!(
        table.contains("a fresh install creates every workload"),
        "{table}"
    );
    let line = |name: &str| {
        table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row of {name}:\n{table}"))
            .to_string()
    };
    assert!(
        line("posthog-clickhouse").contains("1 replica → its 4 consumers lose it until the new pod is Ready (readiness budget 900 s)"),
        "{table}"
    );
    assert!(
        line("model-router").contains("rolling, ≥ 3 of 3 ready throughout"),
        "{table}"
    );
    assert!(
        line("kafka").contains("one pod at a time, ≥ 2 of 3 ready throughout, a quorum of 2 kept"),
        "{table}"
    );

    let o = run(&["plan", "--profile", "production", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let rows = v["availability"].as_array().expect("availability rows");
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    let ch = row("posthog-clickhouse");
    assert_eq!(ch["change"], "created");
    assert_eq!(ch["replicas"], 1);
    assert_eq!(ch["outage"], true);
    assert_eq!(ch["readyWithinSeconds"], 900);
    assert_eq!(ch["consumers"].as_array().map(Vec::len), Some(4));
    let mr = row("model-router");
    assert_eq!(
        (mr["readyThroughout"].as_u64(), mr["outage"].as_bool()),
        (Some(3), Some(false))
    );
    assert_eq!(mr["rollout"], serde_json::json!({"surge": 1}));
    // Every table row is a JSON row, and the waves order the data stores.
    assert_eq!(table.lines().count() - 3, rows.len(), "{table}");
    let stateful = v["waves"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "stateful")
        .unwrap();
    let order: Vec<&str> = stateful["oneByOne"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    let at = |n: &str| {
        order
            .iter()
            .position(|o| *o == n)
            .unwrap_or_else(|| panic!("{n}: {order:?}"))
    };
    assert!(
        at("posthog-zookeeper") < at("posthog-clickhouse") && at("nacos-mysql") < at("nacos"),
        "{order:?}"
    );
}

#[test]
fn render_matches_the_reference_manifests() {
    for p in ["dev", "small", "production"] {
        let o = run(&["render", "--profile", p]);
        assert!(o.status.success(), "{}", stderr(&o));
        let want = std::fs::read_to_string(repo().join(format!("manifests/{p}.yaml"))).unwrap();
        assert!(
            stdout(&o) == want,
            "render --profile {p} differs from manifests/{p}.yaml"
        );
        let t = run(&["template", "--profile", p]);
        assert_eq!(t.stdout, o.stdout, "template is an alias of render");
    }
}

#[test]
fn render_out_writes_one_file_per_component_and_a_kustomization() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[
        "render",
        "--profile",
        "small",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let k = std::fs::read_to_string(dir.path().join("kustomization.yaml")).unwrap();
    assert!(
        k.contains("- namespaces.yaml")
            && k.contains("- posthog-web.yaml")
            && k.contains("- model-router.yaml"),
        "{k}"
    );
    let web = std::fs::read_to_string(dir.path().join("posthog-web.yaml")).unwrap();
    assert!(web.contains("kind: Deployment") && web.contains("kind: Ingress"));

    // A second render into the same directory leaves no file of the first behind, and
    // keeps files it never wrote.
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let o = run(&[
        "render",
        "--profile",
        "small",
        "--only",
        "model-router",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!dir.path().join("posthog-web.yaml").exists());
    assert!(dir.path().join("model-router.yaml").exists());
    assert!(dir.path().join("notes.txt").exists());
}

#[test]
fn selections_are_checked_and_shown_by_every_verb() {
    let o = run(&["plan", "--only", "posthog,istoi", "--skip", "infr"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("--only: `istoi` is not a part, did you mean `istio`?")
            && e.contains("--skip: `infr` is not a part, did you mean `infra`?"),
        "{e}"
    );
    // The plan of a selection lists its objects alone, and says which selection it is.
    let o = run(&[
        "plan",
        "--profile",
        "production",
        "--only",
        "posthog",
        "-o",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(plan["selection"]["only"], serde_json::json!(["posthog"]));
    let namespaces: std::collections::BTreeSet<&str> = plan["waves"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|w| w["objects"].as_array().unwrap())
        .filter_map(|o| o["namespace"].as_str())
        .collect();
    assert_eq!(namespaces.into_iter().collect::<Vec<_>>(), ["posthog"]);
    // render and validate take the same flags.
    let o = run(&["render", "--profile", "production", "--skip", "monitoring"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("kind: ServiceMonitor"));
    let o = run(&["validate", "--only", "monitoring"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn bad_input_exits_2_names_the_field_and_line_and_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("voice.yaml");
    std::fs::write(
        &f,
        "profile: production\nmodelRouter:\n  hpa:\n    minReplicas: 4\n    maxReplicas: 2\n",
    )
    .unwrap();
    let o = run(&["render", "-f", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let e = stderr(&o);
    assert!(
        e.contains(
            "voice.yaml:5:18: modelRouter.hpa.maxReplicas: must be at least minReplicas (4)"
        ),
        "{e}"
    );
    assert!(e.contains("nothing was applied"), "{e}");

    let o = run(&["plan", "--profile", "prod"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a profile"));

    let o = run(&["plan", "--set", "cluster.nodes[0].cpu=lots"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cluster.nodes[0].cpu"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn validate_schema_and_profile() {
    let o = run(&["validate", "--profile", "dev"]);
    assert!(o.status.success());
    let o = run(&["schema"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["properties"]["modelRouter"].is_object());
    let o = run(&["profile", "production"]);
    assert!(stdout(&o).contains("profile: production"));
    // Without a name: the list, with what each profile is for.
    let o = run(&["profile"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for p in ["dev ", "small ", "production "] {
        assert!(stdout(&o).contains(p), "{}", stdout(&o));
    }
    assert!(stdout(&o).contains("4 CPU / 8 GiB"), "{}", stdout(&o));
}

#[test]
fn kubectl_finds_the_plugin() {
    let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let dir = Path::new(bin()).parent().unwrap();
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    match Command::new(&kubectl)
        .args(["voice", "--help"])
        .env("PATH", path)
        .output()
    {
        Ok(o) => {
            assert!(
                o.status.success(),
                "kubectl voice --help failed: {}",
                stderr(&o)
            );
            assert!(
                stdout(&o).contains("Usage: kubectl voice"),
                "{}",
                stdout(&o)
            );
        }
        Err(e) => assert!(
            std::env::var_os("VOICE_REQUIRE_KUBECTL").is_none(),
            "no kubectl ({kubectl}): {e}"
        ),
    }
}

/// `PATH` with the built binaries first.
fn path_with_bins() -> String {
    let dir = Path::new(bin()).parent().unwrap();
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs the bash completion function with `words` typed (the last one being completed)
/// and returns COMPREPLY.
fn bash_complete(words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect();
    let script = format!(
        "source <(kubectl-voice completion bash) || exit 9
COMP_WORDS=({}); COMP_CWORD={}; COMP_WORDBREAKS=$' \\t\\n\"'\"'\"'><=;|&(:'
_kubectl_voice
printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        quoted.join(" "),
        words.len() - 1
    );
    let o = Command::new("bash")
        .args(["--norc", "-c", &script])
        .env("PATH", path_with_bins())
        .output()
        .expect("run bash");
    assert!(o.status.success(), "bash: {}", stderr(&o));
    stdout(&o)
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn bash_completion_covers_subcommands_flags_values_and_components() {
    assert_eq!(bash_complete(&["kubectl-voice", "ins"]), ["install"]);
    assert_eq!(
        bash_complete(&["kubectl-voice", "install", "--pro"]),
        ["--profile"]
    );
    assert_eq!(
        bash_complete(&["kubectl-voice", "install", "--profile", ""]),
        ["dev", "small", "production"]
    );
    assert_eq!(
        bash_complete(&["kubectl-voice", "status", "-o", ""]),
        ["table", "json", "yaml"]
    );
    // bash splits `--only=posthog,i` at `=`; the reply replaces only what follows it.
    assert_eq!(
        bash_complete(&["kubectl-voice", "plan", "--only", "=", "posthog,i"]),
        ["posthog,infra", "posthog,istio"]
    );
    assert_eq!(
        bash_complete(&["kubectl-voice", "--context", "x", "scale", "model-r"]),
        ["model-router"]
    );
    let restart = bash_complete(&["kubectl-voice", "restart", "model-router", ""]);
    assert!(restart.iter().any(|c| c == "voice-engine"), "{restart:?}");
    // Jobs run to completion: scale and restart do not offer them; logs does.
    for verb in ["scale", "restart"] {
        let offered = bash_complete(&["kubectl-voice", verb, "posthog-"]);
        assert!(
            !offered.is_empty() && !offered.iter().any(|c| c.ends_with("-init")),
            "{verb}: {offered:?}"
        );
    }
    let logs = bash_complete(&["kubectl-voice", "logs", "posthog-"]);
    assert!(
        logs.iter().any(|c| c == "posthog-postgres-init"),
        "{logs:?}"
    );
    // Dashboards are those of the configuration on the line (the default profile has no
    // Grafana; production has).
    let small = bash_complete(&["kubectl-voice", "dashboard", ""]);
    assert!(
        small.contains(&"posthog".to_string()) && !small.contains(&"grafana".to_string()),
        "{small:?}"
    );
    let prod = bash_complete(&["kubectl-voice", "dashboard", "--profile", "production", ""]);
    assert!(prod.contains(&"grafana".to_string()), "{prod:?}");
    // The same function completes `kubectl voice …` when kubectl has no completion loaded.
    assert_eq!(bash_complete(&["kubectl", "vo"]), ["voice"]);
    assert_eq!(
        bash_complete(&["kubectl", "voice", "install", "--skip", "mon"]),
        ["monitoring"]
    );
}

/// A `PATH` for the shells: a directory with only `kubectl-voice`, `kubectl_complete-voice`
/// and the real `kubectl` (`$KUBECTL`, else `scripts/peers`'), then the system's.
fn shell_path() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("kubectl-voice-shells-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let kubectl = match std::env::var_os("KUBECTL") {
            Some(k) => PathBuf::from(k),
            None => voice_tests::peers::kubectl().expect("a real kubectl from scripts/peers"),
        };
        let bins = Path::new(bin()).parent().unwrap();
        for (name, target) in [
            ("kubectl-voice", bins.join("kubectl-voice")),
            (
                "kubectl_complete-voice",
                bins.join("kubectl_complete-voice"),
            ),
            ("kubectl", kubectl),
        ] {
            let link = dir.join(name);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&target, &link).unwrap();
        }
        format!("{}:/usr/local/bin:/usr/bin:/bin", dir.display())
    })
}

/// Fails, saying how to get it, when a shell is missing.
fn require_shell(shell: &str) {
    let found = Command::new(shell)
        .args(["-c", "exit 0"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{shell} is needed to test its completion: apt-get install -y {shell} (.ci/run does)"
    );
}

/// zsh, driven as a user: an interactive `zsh -f` in a pseudo-terminal (zpty) with
/// `compinit` and the script of `kubectl voice completion zsh` loaded (after kubectl's own,
/// `kubectl completion zsh`, with `with_kubectl`), `line` typed and TAB pressed. Returns
/// what completion offered, each as it would be inserted (with `IPREFIX`), in order,
/// without repeats.
const ZSH_SETUP: &str = r#"PS1='' PROMPT='' RPROMPT=''
autoload -Uz compinit && compinit -u -D
[[ -n $WITH_KUBECTL ]] && { source <(kubectl completion zsh) || exit 9 }
source <(kubectl-voice completion zsh) || exit 9
zstyle ':completion:*' insert-tab false
compadd() {
    # compadd's own queries (-O/-A/-D) are not offers.
    if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return; fi
    local -a __hits __pre
    builtin compadd -O __hits "$@"
    # What is inserted: IPREFIX (compset -P), then -P's prefix (kubectl's script), the match.
    zmodload zsh/zutil
    zparseopts -E P:=__pre
    local pre=${${(j::)__pre}#-P} h
    for h in "${__hits[@]}"; do print -r -- "$IPREFIX$pre$h" >>"$CAPTURE"; done
    builtin compadd "$@"
}
_capture_done() { print -r -- '<<DONE>>' >>"$CAPTURE" }
comppostfuncs=(_capture_done)
bindkey '^I' complete-word
"#;

const ZSH_DRIVE: &str = r#"zmodload zsh/zpty || exit 9
: >"$CAPTURE"
zpty z 'zsh -f -i'
zpty -w z "source ${(q)SETUP}"
zpty -w -n z "$LINE"$'	'
for i in {1..200}; do
    grep -q '<<DONE>>' "$CAPTURE" && break
    sleep 0.05
done
zpty -d z
grep -q '<<DONE>>' "$CAPTURE" || { print -u2 "zsh completion did not finish"; exit 1 }
"#;

fn zsh_complete(line: &str, with_kubectl: bool) -> Vec<String> {
    require_shell("zsh");
    let tmp = tempfile::tempdir().unwrap();
    let (setup, capture) = (tmp.path().join("setup.zsh"), tmp.path().join("capture"));
    std::fs::write(&setup, ZSH_SETUP).unwrap();
    let mut cmd = Command::new("zsh");
    cmd.args(["-f", "-c", ZSH_DRIVE])
        .env("PATH", shell_path())
        .env("HOME", tmp.path())
        .env("SETUP", &setup)
        .env("CAPTURE", &capture)
        .env("LINE", line)
        .env_remove("WITH_KUBECTL");
    if with_kubectl {
        cmd.env("WITH_KUBECTL", "1");
    }
    let o = cmd.output().expect("run zsh");
    assert!(o.status.success(), "zsh: {}{}", stdout(&o), stderr(&o));
    let mut out: Vec<String> = Vec::new();
    for l in std::fs::read_to_string(&capture).unwrap().lines() {
        if l != "<<DONE>>" && !out.iter().any(|o| o == l) {
            out.push(l.to_string());
        }
    }
    out
}

/// fish, as `fish --no-config` with the script of `kubectl voice completion fish` sourced
/// (after kubectl's own with `with_kubectl`): the candidates of `complete -C line`, without
/// their descriptions.
fn fish_complete(line: &str, with_kubectl: bool) -> Vec<String> {
    require_shell("fish");
    let tmp = tempfile::tempdir().unwrap();
    let script = format!(
        "{}kubectl-voice completion fish | source; or exit 9; complete -C \"$LINE\"",
        if with_kubectl {
            "kubectl completion fish | source; or exit 9; "
        } else {
            ""
        }
    );
    let o = Command::new("fish")
        .args(["--no-config", "-c", &script])
        .env("PATH", shell_path())
        .env("HOME", tmp.path())
        .env("XDG_CONFIG_HOME", tmp.path())
        .env("XDG_DATA_HOME", tmp.path())
        .env("LINE", line)
        .output()
        .expect("run fish");
    assert!(o.status.success(), "fish: {}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// What every shell must complete, for `kubectl-voice …` and for `kubectl voice …` with our
/// script alone.
fn check_shell(shell: &str, complete: impl Fn(&str, bool) -> Vec<String>) {
    let c = |line: &str| complete(line, false);
    assert_eq!(c("kubectl-voice ins"), ["install"], "{shell}");
    assert_eq!(
        sorted(c("kubectl-voice sc")),
        ["scale", "schema"],
        "{shell}"
    );
    assert_eq!(c("kubectl-voice install --pro"), ["--profile"], "{shell}");
    let flags = c("kubectl-voice install --");
    for f in [
        "--only",
        "--skip",
        "--dry-run",
        "--context",
        "--set",
        "--yes",
    ] {
        assert!(flags.iter().any(|x| x == f), "{shell}: {f} in {flags:?}");
    }
    let profiles = ["dev", "production", "small"];
    assert_eq!(
        sorted(c("kubectl-voice install --profile ")),
        profiles,
        "{shell}"
    );
    assert_eq!(
        sorted(c("kubectl-voice status -o ")),
        ["json", "table", "yaml"],
        "{shell}"
    );
    assert_eq!(
        c("kubectl-voice plan --only=posthog,i"),
        ["--only=posthog,infra", "--only=posthog,istio"],
        "{shell}"
    );
    assert_eq!(
        c("kubectl-voice plan --skip mon"),
        ["monitoring"],
        "{shell}"
    );
    assert_eq!(
        c("kubectl-voice scale model-r"),
        ["model-router"],
        "{shell}"
    );
    let restart = c("kubectl-voice restart model-router ");
    assert!(
        restart.iter().any(|x| x == "voice-engine"),
        "{shell}: {restart:?}"
    );
    // `kubectl voice …` with only our script loaded.
    assert_eq!(c("kubectl vo"), ["voice"], "{shell}");
    assert_eq!(c("kubectl voice ins"), ["install"], "{shell}");
    assert_eq!(
        sorted(c("kubectl voice install --profile ")),
        profiles,
        "{shell}"
    );
    assert_eq!(
        c("kubectl voice restart model-r"),
        ["model-router"],
        "{shell}"
    );
    // With kubectl's own completion script loaded: kubectl runs kubectl_complete-voice.
    let k = |line: &str| complete(line, true);
    assert_eq!(k("kubectl vo"), ["voice"], "{shell}");
    assert_eq!(k("kubectl voice ins"), ["install"], "{shell}");
    assert_eq!(
        sorted(k("kubectl voice install --profile ")),
        profiles,
        "{shell}"
    );
    assert_eq!(
        k("kubectl voice plan --only=posthog,i"),
        ["--only=posthog,infra", "--only=posthog,istio"],
        "{shell}"
    );
    assert_eq!(
        k("kubectl voice scale model-r"),
        ["model-router"],
        "{shell}"
    );
}

#[test]
fn zsh_completion_covers_subcommands_flags_values_and_components() {
    check_shell("zsh", zsh_complete);
}

#[test]
fn fish_completion_covers_subcommands_flags_values_and_components() {
    check_shell("fish", fish_complete);
}

#[test]
fn kubectl_complete_voice_answers_in_cobra_format() {
    let helper = env!("CARGO_BIN_EXE_kubectl_complete-voice");
    // kubectl passes the words after `kubectl voice`; an explicit `__complete` is accepted.
    for prefix in [&[][..], &["__complete"][..]] {
        let o = Command::new(helper)
            .args(prefix)
            .args(["install", "--profile", ""])
            .output()
            .expect("run kubectl_complete-voice");
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o), "dev\nsmall\nproduction\n:4\n");
    }
    let o = run(&["__complete", "plan", "-f", ""]);
    assert_eq!(stdout(&o), ":0\n", "files complete as files");
    let o = run(&["__complete", "st"]);
    assert!(stdout(&o).starts_with("status\t"), "{}", stdout(&o));
    // Through a real kubectl (≥ 1.26) when one is at hand.
    let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
    if let Ok(o) = Command::new(&kubectl)
        .args(["__complete", "voice", "install", "--only", "model"])
        .env("PATH", path_with_bins())
        .output()
    {
        assert_eq!(stdout(&o), "model-router\n:4\n", "{}", stderr(&o));
    }
}

/// A kubeconfig with two contexts whose server refuses connections.
fn unreachable_kubeconfig(dir: &Path) -> PathBuf {
    let p = dir.join("kubeconfig");
    std::fs::write(
        &p,
        "apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: \"https://127.0.0.1:1\", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: x}
contexts:
- {name: one, context: {cluster: c, user: u}}
- {name: two, context: {cluster: c, user: u}}
current-context: one
",
    )
    .unwrap();
    p
}

#[test]
fn exit_codes_are_the_same_for_every_verb() {
    let dir = tempfile::tempdir().unwrap();
    let kc = unreachable_kubeconfig(dir.path());
    let kc = kc.to_str().unwrap();
    // An unreachable API server is a cluster error (3) for every verb, install included.
    for verb in ["install", "check", "status", "diff", "history", "uninstall"] {
        let o = run(&[verb, "--profile", "dev", "--kubeconfig", kc]);
        assert_eq!(o.status.code(), Some(3), "{verb}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("could not be reached"),
            "{verb}: {}",
            stderr(&o)
        );
    }
    // `status --watch` too: it does not wait for a server that cannot be reached.
    let o = run(&["status", "--watch", "--profile", "dev", "--kubeconfig", kc]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    // A wrong --context is bad input and lists the contexts there are, for `plan` too
    // (which otherwise fits on the profile's nodes when a cluster cannot be reached).
    for verb in ["status", "plan"] {
        let o = run(&[
            verb,
            "--profile",
            "dev",
            "--kubeconfig",
            kc,
            "--context",
            "three",
        ]);
        assert_eq!(o.status.code(), Some(2), "{verb}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("context `three` is not in the kubeconfig")
                && stderr(&o).contains("available: one, two"),
            "{verb}: {}",
            stderr(&o)
        );
    }
    // A kubeconfig that cannot be read is said once.
    let missing = dir.path().join("missing");
    let o = run(&["status", "--kubeconfig", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).matches("No such file").count(),
        1,
        "{}",
        stderr(&o)
    );
    // kubectl's duration syntax.
    for ok in ["5s", "1m30s", "2h", "45"] {
        let o = run(&["status", "--kubeconfig", kc, "--request-timeout", ok]);
        assert_eq!(o.status.code(), Some(3), "{ok}: {}", stderr(&o));
        let o = run(&[
            "install",
            "--profile",
            "dev",
            "--kubeconfig",
            kc,
            "--timeout",
            ok,
        ]);
        assert_eq!(o.status.code(), Some(3), "{ok}: {}", stderr(&o));
    }
    let o = run(&["status", "--kubeconfig", kc, "--request-timeout", "5x"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = run(&[
        "install",
        "--profile",
        "dev",
        "--kubeconfig",
        kc,
        "--timeout",
        "1m30",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is not a duration"), "{}", stderr(&o));
}

#[test]
fn validate_json_is_always_json_and_set_problems_name_their_flag() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("voice.yaml");
    std::fs::write(&file, "posthog:\n  mode: bar\n").unwrap();
    let f = file.to_str().unwrap();
    let o = run(&[
        "validate",
        "-f",
        f,
        "--set",
        "modelRouter.hpa.maxReplica=3",
        "-o",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["valid"], false);
    let problems = v["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{v}");
    for p in problems {
        for key in ["path", "line", "column", "message", "source"] {
            assert!(p.get(key).is_some(), "{key} missing in {p}");
        }
    }
    assert_eq!(problems[0]["path"], "posthog.mode");
    assert_eq!(problems[0]["line"], 2);
    assert_eq!(problems[0]["column"], 9);
    assert_eq!(problems[1]["source"], "--set modelRouter.hpa.maxReplica=3");
    assert!(problems[1]["line"].is_null());
    // A file that cannot be read is JSON too.
    let o = run(&["validate", "-f", "/nonexistent/voice.yaml", "-o", "json"]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["valid"], false);
    // Valid: the same shape.
    let o = run(&["validate", "--profile", "dev", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v, serde_json::json!({"valid": true, "problems": []}));
    // For people, a --set problem names its flag, not "(profile)".
    let o = run(&["plan", "--profile", "dev", "--set", "posthog.mode=foo"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("1 problem in the command line:"), "{e}");
    assert!(
        e.contains("  --set posthog.mode=foo: posthog.mode: "),
        "{e}"
    );
    assert!(!e.contains("(profile)"), "{e}");
}

#[test]
fn pods_that_do_not_fit_are_grouped_by_component_on_short_lines() {
    let o = run(&[
        "plan",
        "--profile",
        "production",
        "--set",
        "cluster.nodes[0].count=1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.contains("pod(s) do not fit:\n"), "{s}");
    assert!(
        s.contains("ai-orchestrator ×20 (1.1 CPU, 1.25Gi each)"),
        "{s}"
    );
    assert!(s.contains("postgres (1.05 CPU, 2.06Gi)"), "{s}");
    assert!(
        !s.contains("ai-orchestrator/"),
        "pods listed one by one:\n{s}"
    );
    // The fit section and the secrets' keys wrap to a terminal's width.
    let fit = &s[s.find("Fit on").unwrap()..s.find("Waves:").unwrap()];
    let secrets = &s[s.find("Secrets (").unwrap()..];
    for part in [fit, secrets] {
        assert!(part.lines().all(|l| l.chars().count() <= 100), "{part}");
    }
}

#[test]
fn validate_names_required_secret_values_not_supplied() {
    let o = run(&[
        "validate",
        "--profile",
        "dev",
        "--set",
        "posthog.mode=cloud",
    ]);
    assert!(o.status.success(), "{}", stdout(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("required secret value not supplied")
            && err.contains("VOICE_MODEL_ROUTER_SECRET_POSTHOG_API_KEY"),
        "{err}"
    );
    let o = Command::new(bin())
        .args([
            "validate",
            "--profile",
            "dev",
            "--set",
            "posthog.mode=cloud",
            "-o",
            "json",
        ])
        .env("VOICE_MODEL_ROUTER_SECRET_POSTHOG_API_KEY", "phc_x")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(v.get("unsuppliedSecrets").is_none(), "{v}");
    let o = run(&["validate", "--profile", "dev", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["valid"], true, "{v}");
}

/// Two node pools, one tainted: plan says which nodes each component can go on and why one
/// cannot; a toleration with a misspelt effect is reported with its field and line.
#[test]
fn plan_says_where_each_component_can_go_and_placement_errors_name_field_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("voice.yaml");
    let pools = "\
profile: small
cluster:
  nodes:
    - {name: apps, count: 2, cpu: \"8\", memory: 16Gi, labels: {pool: apps}}
    - name: data
      count: 2
      cpu: \"8\"
      memory: 16Gi
      labels: {pool: data}
      taints: [{key: dedicated, value: data, effect: NoSchedule}]
placement:
  nodeSelector: {pool: apps}
components:
  posthog-clickhouse:
    placement:
      nodeSelector: {pool: data}
      tolerations: [{key: dedicated, operator: Exists, effect: NoSchedule}]
  posthog-postgres:
    placement:
      nodeSelector: {pool: data}
";
    std::fs::write(&f, pools).unwrap();
    let o = run(&["plan", "-f", f.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(
        s.contains(
            "  posthog-clickhouse\n      nodeSelector pool=data; tolerates dedicated:NoSchedule\n      → pool data: data-1, data-2\n"
        ) && s.contains(
            "  posthog-postgres\n      nodeSelector pool=data\n      ✗ every matching node is tainted dedicated=data:NoSchedule, which it does not tolerate\n"
        ) && s.contains("      nodeSelector pool=apps\n      → pool apps: apps-1, apps-2\n"),
        "{s}"
    );
    let o = run(&["plan", "-f", f.to_str().unwrap(), "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("plan json");
    let rows = v["fit"]["placement"].as_array().expect("fit.placement");
    let postgres = rows
        .iter()
        .find(|r| r["component"] == "posthog-postgres")
        .expect("posthog-postgres");
    assert!(
        postgres["problem"]
            .as_str()
            .is_some_and(|p| p.contains("tainted dedicated=data:NoSchedule")),
        "{postgres}"
    );
    assert_eq!(v["fit"]["verdict"], "does-not-fit");

    std::fs::write(
        &f,
        pools.replace(
            "effect: NoSchedule}]\n  posthog-postgres",
            "effect: NoSchedul}]\n  posthog-postgres",
        ),
    )
    .unwrap();
    let o = run(&["render", "-f", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("voice.yaml:17:") && e.contains("components.posthog-clickhouse.placement.tolerations[0].effect: the string \"NoSchedul\" is not one of"),
        "{e}"
    );
}
