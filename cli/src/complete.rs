//! Dynamic completion in cobra's protocol, shared by the shell scripts of `kubectl voice
//! completion` and by kubectl itself (kubectl ≥ 1.26 runs `kubectl_complete-voice ARGS…`
//! for `kubectl voice ARGS…<TAB>`). `kubectl-voice __complete ARGS… CURRENT` prints one
//! candidate per line (`value<TAB>description`), then `:<directive>`.

use clap::{Arg, CommandFactory as _};

use crate::cli::Cli;

/// cobra's ShellCompDirective bits.
pub(crate) mod directive {
    /// Complete file names when there is no candidate.
    pub(crate) const DEFAULT: u32 = 0;
    /// Do not fall back to file names.
    pub(crate) const NO_FILE_COMP: u32 = 4;
}

/// The parts `--only`/`--skip` take.
pub(crate) const PARTS: [&str; 6] = [
    "posthog",
    "model-router",
    "voiceassistant",
    "infra",
    "istio",
    "monitoring",
];
/// The embedded profiles.
pub(crate) const PROFILES: [&str; 3] = ["dev", "small", "production"];

/// Candidates (value, description) and the directive for the words after the program name;
/// the last word is the one being completed (empty for a new word).
pub(crate) fn complete(words: &[String]) -> (Vec<(String, String)>, u32) {
    let mut root = Cli::command();
    root.build();
    let (cur, done) = match words.split_last() {
        Some((c, d)) => (c.as_str(), d),
        None => ("", &[][..]),
    };
    let mut cmd = &root;
    let mut positional = 0usize;
    let mut pending: Option<&Arg> = None;
    let mut kubeconfig: Option<String> = None;
    // Flags whose values shape what completes: the kubeconfig (contexts), the profile and
    // file (dashboards).
    let mut given: Vec<(String, String)> = Vec::new();
    let mut dashdash = false;
    for w in done {
        if let Some(a) = pending.take() {
            if a.get_id() == "kubeconfig" {
                kubeconfig = Some(w.clone());
            }
            given.push((a.get_id().to_string(), w.clone()));
            continue;
        }
        if dashdash || !w.starts_with('-') || w == "-" {
            match cmd
                .get_subcommands()
                .find(|s| s.get_name() == w || s.get_all_aliases().any(|a| a == w))
            {
                Some(sub) if positional == 0 => cmd = sub,
                _ => positional += 1,
            }
            continue;
        }
        if w == "--" {
            dashdash = true;
            continue;
        }
        if let Some(long) = w.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            if let Some(a) = find(cmd, |a| a.get_long() == Some(name)) {
                match value {
                    Some(v) if a.get_id() == "kubeconfig" => kubeconfig = Some(v.to_string()),
                    Some(v) => given.push((a.get_id().to_string(), v.to_string())),
                    None if takes_value(a) => pending = Some(a),
                    None => {}
                }
            }
        } else if let Some(last) = w.chars().last()
            && let Some(a) = find(cmd, |a| a.get_short() == Some(last))
            && takes_value(a)
            && w.len() == 2
        {
            pending = Some(a);
        }
    }
    let line = Line { kubeconfig, given };
    if let Some(a) = pending {
        return values(a, cur, &line);
    }
    // `--flag=val` or `-o=val`: as cobra does, the candidates are values alone; the shell
    // scripts (ours and kubectl's) put the `--flag=` back.
    if !dashdash
        && cur.starts_with('-')
        && let Some((flag, value)) = cur.split_once('=')
    {
        let arg = match flag.strip_prefix("--") {
            Some(name) => find(cmd, |a| a.get_long() == Some(name)),
            None => {
                let mut c = flag[1..].chars();
                match (c.next(), c.next()) {
                    (Some(short), None) => find(cmd, |a| a.get_short() == Some(short)),
                    _ => None,
                }
            }
        };
        return match arg {
            Some(a) => values(a, value, &line),
            None => (Vec::new(), directive::NO_FILE_COMP),
        };
    }
    if !dashdash && cur.starts_with('-') {
        let mut flags: Vec<(String, String)> = cmd
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| Some((format!("--{}", a.get_long()?), help(a))))
            .filter(|(f, _)| f.starts_with(cur))
            .collect();
        flags.sort();
        return (flags, directive::NO_FILE_COMP);
    }
    let mut out = Vec::new();
    if positional == 0 {
        out.extend(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set() && s.get_name().starts_with(cur))
                .map(|s| {
                    let about = s.get_about().map(|a| a.to_string()).unwrap_or_default();
                    (s.get_name().to_string(), first_sentence(&about))
                }),
        );
    }
    let mut args: Vec<&Arg> = cmd.get_positionals().collect();
    args.sort_by_key(|a| a.get_index());
    let arg = args.get(positional).copied().or_else(|| {
        args.last()
            .copied()
            .filter(|a| a.get_num_args().is_some_and(|n| n.max_values() > 1))
    });
    match arg {
        Some(a) => {
            let (vals, d) = values(a, cur, &line);
            out.extend(vals);
            (out, d)
        }
        None => (out, directive::NO_FILE_COMP),
    }
}

/// What the line being completed says so far that shapes the candidates.
struct Line {
    /// `--kubeconfig` (for context names).
    kubeconfig: Option<String>,
    /// `(argument id, value)` of the other flags with values (`profile`, `file`, `sets`).
    given: Vec<(String, String)>,
}

/// The dashboards of the configuration the line names (`--profile`, `-f`, `--set`), read
/// offline; every name any profile has when it does not load.
fn dashboards(line: &Line) -> Vec<String> {
    let given = &line.given;
    let value = |id: &str| given.iter().find(|(i, _)| i == id).map(|(_, v)| v.clone());
    let sets: Vec<String> = given
        .iter()
        .filter(|(i, _)| i == "sets")
        .map(|(_, v)| v.clone())
        .collect();
    let text = value("file")
        .and_then(|f| {
            crate::config::read_bounded(std::path::Path::new(&f), "the configuration").ok()
        })
        .unwrap_or_default();
    let input = voice_core::Input {
        yaml: &text,
        profile: value("profile").and_then(|p| voice_core::ProfileName::parse(&p)),
        sets: &sets,
        ..Default::default()
    };
    match voice_core::load(&input) {
        Ok(stack) => voice_core::dashboards::dashboards(&stack)
            .into_iter()
            .map(|d| d.name.to_string())
            .collect(),
        Err(_) => voice_core::dashboards::all_names()
            .into_iter()
            .map(str::to_string)
            .collect(),
    }
}

fn find(cmd: &clap::Command, pred: impl Fn(&Arg) -> bool) -> Option<&Arg> {
    cmd.get_arguments().find(|a| pred(a))
}

fn takes_value(a: &Arg) -> bool {
    a.get_action().takes_values()
}

fn help(a: &Arg) -> String {
    first_sentence(&a.get_help().map(|h| h.to_string()).unwrap_or_default())
}

/// The help up to its first `: ` (what follows lists values, which complete on their own),
/// unless that would cut inside parentheses or leave a single word.
fn first_sentence(s: &str) -> String {
    let s = match s.split_once(": ") {
        Some((head, _))
            if head.matches('(').count() == head.matches(')').count() && head.contains(' ') =>
        {
            head
        }
        _ => s,
    };
    s.trim_end_matches('.').replace(['\t', '\n'], " ")
}

/// The values an argument takes, those starting with `cur`.
fn values(a: &Arg, cur: &str, line: &Line) -> (Vec<(String, String)>, u32) {
    let id = a.get_id().as_str();
    let fixed: Vec<(String, String)> = match id {
        "profile" | "name" => PROFILES
            .iter()
            .map(|p| (p.to_string(), String::new()))
            .collect(),
        "posthog" => ["self-hosted", "cloud", "disabled"]
            .iter()
            .map(|p| (p.to_string(), String::new()))
            .collect(),
        "only" | "skip" => {
            // A comma-separated list: complete its last item.
            let (head, last) = match cur.rfind(',') {
                Some(i) => (&cur[..=i], &cur[i + 1..]),
                None => ("", cur),
            };
            let given: Vec<&str> = head.split(',').collect();
            let out = PARTS
                .iter()
                .filter(|p| p.starts_with(last) && !given.contains(p))
                .map(|p| (format!("{head}{p}"), String::new()))
                .collect();
            return (out, directive::NO_FILE_COMP);
        }
        "component" | "components" => voice_core::catalog::all_component_names()
            .into_iter()
            .map(|n| (n, String::new()))
            .collect(),
        "workload" | "workloads" => voice_core::catalog::workload_component_names()
            .into_iter()
            .map(|n| (n, String::new()))
            .collect(),
        "dashboards" => dashboards(line)
            .into_iter()
            .chain(["all".to_string()])
            .map(|n| (n, String::new()))
            .collect(),
        "context" => contexts(line.kubeconfig.as_deref())
            .into_iter()
            .map(|n| (n, String::new()))
            .collect(),
        "file" | "kubeconfig" | "secrets_file" | "backup" | "dir" => {
            return (Vec::new(), directive::DEFAULT);
        }
        _ => a
            .get_possible_values()
            .into_iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| {
                let h = v.get_help().map(|h| h.to_string()).unwrap_or_default();
                (v.get_name().to_string(), first_sentence(&h))
            })
            .collect(),
    };
    let out = fixed
        .into_iter()
        .filter(|(v, _)| v.starts_with(cur))
        .collect();
    (out, directive::NO_FILE_COMP)
}

/// The context names of the kubeconfig, read without contacting any server.
fn contexts(path: Option<&str>) -> Vec<String> {
    let kc = match path {
        Some(p) => kube::config::Kubeconfig::read_from(p),
        None => kube::config::Kubeconfig::read(),
    };
    kc.map(|kc| kc.contexts.into_iter().map(|c| c.name).collect())
        .unwrap_or_default()
}

/// Prints the candidates and the directive in cobra's format.
pub(crate) fn run(words: &[String]) -> u8 {
    let (candidates, d) = complete(words);
    let mut s = String::new();
    for (v, desc) in candidates {
        s.push_str(&v);
        if !desc.is_empty() {
            s.push('\t');
            s.push_str(&desc);
        }
        s.push('\n');
    }
    s.push_str(&format!(":{d}\n"));
    use std::io::Write as _;
    let _ = std::io::stdout().write_all(s.as_bytes());
    crate::error::exit::OK
}
