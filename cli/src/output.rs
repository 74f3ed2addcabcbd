//! Terminal output: tables in kubectl's style, colour only on a TTY and without `NO_COLOR`,
//! the `-o` formats, and confirmation prompts.

use std::io::IsTerminal;

use clap::ValueEnum;
use tabled::builder::Builder;
use tabled::settings::Style;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum Output {
    /// Human-readable tables.
    #[default]
    Table,
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

/// Whether to colour standard output.
pub(crate) fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Paints `s` with an ANSI colour code when colour is on.
pub(crate) fn paint(s: &str, code: &str) -> String {
    if color() {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// A borderless table with upper-case headers, like `kubectl get`.
pub(crate) fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut b = Builder::default();
    b.push_record(headers.iter().map(|h| h.to_string()));
    for r in rows {
        b.push_record(r);
    }
    let mut t = b.build();
    t.with(Style::blank());
    t.to_string()
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The availability rows (`plan`, `diff`) as a table: workload, replicas, what this run
/// does to its pods (when `change`), and what replacing them means.
pub(crate) fn availability(rows: &[&voice_core::availability::Row], change: bool) -> String {
    use voice_core::availability::PodChange;
    let body = rows
        .iter()
        .map(|r| {
            let mut row = vec![r.name.clone(), r.namespace.clone(), r.replicas.to_string()];
            if change {
                row.push(
                    match r.change {
                        PodChange::Created => "created",
                        PodChange::Replaced => "replaced",
                        PodChange::Unchanged => "unchanged",
                    }
                    .into(),
                );
            }
            row.push(if r.outage && (r.serves || !r.consumers.is_empty()) {
                paint(&r.effect, "33")
            } else {
                r.effect.clone()
            });
            row
        })
        .collect();
    let mut headers = vec!["WORKLOAD", "NAMESPACE", "REPLICAS"];
    if change {
        headers.push("PODS");
    }
    headers.push("WHILE ITS PODS ARE REPLACED");
    table(&headers, body)
}

/// Writes a value as `-o json` (pretty) or `-o yaml` to standard output.
pub(crate) fn print(out: Output, value: &impl serde::Serialize) -> anyhow::Result<()> {
    use std::io::Write;
    let text = match out {
        Output::Yaml => serde_yaml::to_string(value)?,
        _ => serde_json::to_string_pretty(value)? + "\n",
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(())
}

/// The one rule for a destructive action (`what`, said as a clause): `--yes` goes on; a
/// terminal is asked; with neither, the action is refused (exit 2) and nothing is done.
/// `Ok(false)` is a declined prompt.
pub(crate) fn confirm_destructive(what: &str, yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(crate::error::Usage(format!(
            "{what}; pass --yes to confirm (nothing was done)"
        ))
        .into());
    }
    Ok(confirm(&format!("{what}. Continue? [y/N]")))
}

/// Asks a yes/no question on standard error; true only for an explicit yes.
pub(crate) fn confirm(question: &str) -> bool {
    use std::io::Write;
    eprint!("{question} ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).is_ok()
        && matches!(line.trim(), "y" | "yes" | "Y" | "YES")
}

/// Compares strings with their digit runs as numbers, so `pod/2` sorts before `pod/16`.
pub(crate) fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(&cb) {
        let o = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if o.is_ne() {
            return o;
        }
    }
    ca.len().cmp(&cb.len()).then_with(|| a.cmp(b))
}

/// Joins items with `, ` into lines of at most `width` characters (an item longer than
/// that gets a line of its own).
pub(crate) fn wrap(items: &[String], width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() {
            format!("{item},")
        } else {
            item.clone()
        };
        if !line.is_empty() && line.chars().count() + 1 + piece.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&piece);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Pods grouped by component with their requests, largest first as placed:
/// `ai-orchestrator ×12 (1.1 CPU, 1.25Gi each)`, `postgres (1.05 CPU, 2.06Gi)`.
pub(crate) fn pod_groups(pods: &[voice_core::fit::PodRequest]) -> Vec<String> {
    use voice_core::quantity::{cores_str, gib_str};
    let mut groups: Vec<(&str, voice_core::fit::PodRequest, usize)> = Vec::new();
    for p in pods {
        let component = p.pod.rsplit_once('/').map_or(p.pod.as_str(), |(c, _)| c);
        match groups
            .iter_mut()
            .find(|(c, r, _)| *c == component && r.cpu == p.cpu && r.memory == p.memory)
        {
            Some(g) => g.2 += 1,
            None => groups.push((component, p.clone(), 1)),
        }
    }
    groups
        .into_iter()
        .map(|(c, r, n)| {
            let (cpu, mem) = (cores_str(r.cpu), gib_str(r.memory));
            if n == 1 {
                format!("{c} ({cpu} CPU, {mem})")
            } else {
                format!("{c} ×{n} ({cpu} CPU, {mem} each)")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_and_wrapping() {
        let mut v = vec!["a/16", "a/2", "a/10", "b/1", "a/1"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["a/1", "a/2", "a/10", "a/16", "b/1"]);
        let items: Vec<String> = ["alpha", "beta", "gamma", "delta"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(wrap(&items, 12), ["alpha, beta,", "gamma, delta"]);
        assert_eq!(wrap(&items, 11), ["alpha,", "beta,", "gamma,", "delta"]);
        assert_eq!(wrap(&items, 80), ["alpha, beta, gamma, delta"]);
    }
}
