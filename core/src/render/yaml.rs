//! A small YAML emitter for rendered objects.
//!
//! Manifests are read by kubectl and the API server with YAML 1.1 rules, where `yes`, `on`
//! or `0755` are not strings; this emitter quotes every scalar that any YAML version could
//! read as something other than a string, writes multi-line strings as literal blocks, and
//! keeps key order. It is also smaller and faster than a general serializer.

use serde_json::Value;

/// Writes one document (without the `---` separator).
pub fn to_string(v: &Value) -> String {
    let mut out = String::with_capacity(2048);
    write(&mut out, v);
    out
}

/// Appends one document to `out`.
pub fn write(out: &mut String, v: &Value) {
    let out = &mut *out;
    match v {
        Value::Object(m) if !m.is_empty() => mapping(out, m, 0),
        Value::Array(a) if !a.is_empty() => sequence(out, a, 0),
        other => {
            scalar(out, other, 0);
            out.push('\n');
        }
    }
}

fn indent(out: &mut String, n: usize) {
    const SPACES: &str = "                                                                ";
    let mut n = n;
    while n > SPACES.len() {
        out.push_str(SPACES);
        n -= SPACES.len();
    }
    out.push_str(&SPACES[..n]);
}

fn mapping(out: &mut String, m: &serde_json::Map<String, Value>, level: usize) {
    for (k, v) in m {
        indent(out, level);
        string(out, k, level, true);
        out.push(':');
        value_after_key(out, v, level);
    }
}

fn sequence(out: &mut String, a: &[Value], level: usize) {
    for v in a {
        indent(out, level);
        out.push('-');
        match v {
            Value::Object(m) if !m.is_empty() => {
                // The first entry shares the dash's line.
                let mut first = true;
                for (k, item) in m {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        indent(out, level + 2);
                    }
                    string(out, k, level + 2, true);
                    out.push(':');
                    value_after_key(out, item, level + 2);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                sequence(out, inner, level + 2);
            }
            other => {
                out.push(' ');
                scalar(out, other, level + 2);
                out.push('\n');
            }
        }
    }
}

fn value_after_key(out: &mut String, v: &Value, level: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            mapping(out, m, level + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            sequence(out, a, level);
        }
        other => {
            out.push(' ');
            scalar(out, other, level + 2);
            out.push('\n');
        }
    }
}

fn scalar(out: &mut String, v: &Value, level: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => string(out, s, level, false),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
    }
}

/// Words that YAML 1.1 or 1.2 read as booleans or null.
const RESERVED: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
    "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~",
];

fn needs_quotes(s: &str) -> bool {
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else {
        return true;
    };
    // Fast path: identifiers, paths, image references and quantities that are not numbers.
    if first.is_ascii_alphabetic()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
    {
        return bytes.len() <= 5 && RESERVED.contains(&s);
    }
    if RESERVED.contains(&s)
        || first == b' '
        || bytes[bytes.len() - 1] == b' '
        || s.starts_with("---")
        || looks_numeric(s)
    {
        return true;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') || s.chars().any(char::is_control) {
        return true;
    }
    if first == b'-' {
        // `-c` and `--flag` are plain; `- x` would start a list.
        return !s[1..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-');
    }
    b"?:,[]{}#&*!|>'\"%@`".contains(&first)
}

/// Anything a YAML resolver could take for a number, date or special float.
fn looks_numeric(s: &str) -> bool {
    let t = s.trim_start_matches(['+', '-']);
    if matches!(t.to_ascii_lowercase().as_str(), ".inf" | ".nan") {
        return true;
    }
    let first = t.chars().next();
    first.is_some_and(|c| c.is_ascii_digit() || c == '.')
        && t.chars().all(|c| {
            c.is_ascii_hexdigit()
                || matches!(
                    c,
                    '.' | '_'
                        | ':'
                        | 'x'
                        | 'o'
                        | 'X'
                        | 'O'
                        | '+'
                        | '-'
                        | 'e'
                        | 'E'
                        | 'T'
                        | 't'
                        | 'Z'
                        | ' '
                )
        })
}

fn string(out: &mut String, s: &str, level: usize, key: bool) {
    if !key
        && s.contains('\n')
        && !s.starts_with([' ', '\n'])
        && !s.chars().any(|c| c.is_control() && c != '\n')
    {
        out.push_str(if s.ends_with('\n') {
            if s.ends_with("\n\n") { "|+" } else { "|" }
        } else {
            "|-"
        });
        for line in s.trim_end_matches('\n').split('\n') {
            out.push('\n');
            if !line.is_empty() {
                indent(out, level);
                out.push_str(line);
            }
        }
        return;
    }
    if !needs_quotes(s) {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quotes_what_yaml_1_1_would_misread() {
        let v = json!({"args": ["--appendonly", "yes", "on", "0755", "1e3", "8080", "-c", "a: b", "", "x #y", "ok"], "port": 8080, "flag": true});
        let y = to_string(&v);
        assert_eq!(
            y,
            "args:\n- --appendonly\n- \"yes\"\n- \"on\"\n- \"0755\"\n- \"1e3\"\n- \"8080\"\n- -c\n- \"a: b\"\n- \"\"\n- \"x #y\"\n- ok\nport: 8080\nflag: true\n"
        );
    }

    #[test]
    fn nests_and_writes_literal_blocks() {
        let v = json!({"spec": {"containers": [{"name": "a", "command": ["sh", "-c", "set -e\necho hi\n"]}], "empty": {}, "none": []}});
        assert_eq!(
            to_string(&v),
            "spec:\n  containers:\n  - name: a\n    command:\n    - sh\n    - -c\n    - |\n      set -e\n      echo hi\n  empty: {}\n  none: []\n"
        );
    }

    #[test]
    fn round_trips_through_a_parser() {
        let v = json!({"data": {"A": "yes", "B": "1.0", "C": "multi\nline", "D": "  lead", "E": "-1", "F": "http://x:80/p", "G": "{json}"}, "list": [[1, 2], {"k": null}]});
        let back = crate::config::yaml::parse(&to_string(&v)).unwrap().value;
        assert_eq!(back, v);
    }
}
