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

/// Writes a value as `-o json` (pretty) or `-o yaml` to standard output.
pub fn print(out: crate::args::Output, value: &impl serde::Serialize) -> anyhow::Result<()> {
    use std::io::Write;
    let text = match out {
        crate::args::Output::Yaml => serde_yaml::to_string(value)?,
        _ => serde_json::to_string_pretty(value)? + "\n",
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(())
}

/// Asks a yes/no question on standard error; true only for an explicit yes.
pub fn confirm(question: &str) -> bool {
    use std::io::Write;
    eprint!("{question} ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).is_ok()
        && matches!(line.trim(), "y" | "yes" | "Y" | "YES")
}
