//! Terminal output: tables in kubectl's style, colour only on a TTY and without `NO_COLOR`.

use std::io::IsTerminal;

use tabled::builder::Builder;
use tabled::settings::Style;

/// Whether to colour standard output.
pub fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Paints `s` with an ANSI colour code when colour is on.
pub fn paint(s: &str, code: &str) -> String {
    if color() {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// A borderless table with upper-case headers, like `kubectl get`.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
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
