//! Structural checks of a `voice.yaml` value against the JSON Schema of [`super::Options`].
//!
//! Serde stops at the first problem; this walk reports every unknown key (with the closest valid
//! key), every wrong type and every value outside an enumeration, each with its field path.

use serde_json::Value;

use super::Diagnostic;

/// Checks `value` against `schema` (the root schema with its `$defs`).
pub fn check(value: &Value, schema: &Value, out: &mut Vec<Diagnostic>) {
    walk(value, schema, schema, "", out);
}

fn resolve<'a>(mut s: &'a Value, root: &'a Value) -> &'a Value {
    while let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        match root.get("$defs").and_then(|d| d.get(name)) {
            Some(t) => s = t,
            None => break,
        }
    }
    s
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string \"{s}\""),
        Value::Object(_) => "a mapping".into(),
        Value::Array(_) => "a list".into(),
        other => format!("`{other}`"),
    }
}

fn type_matches(expected: &str, v: &Value) -> bool {
    let actual = json_type(v);
    actual == expected || (expected == "number" && actual == "integer")
}

/// Allowed constant values of an enumeration schema, if it is one.
fn constants(s: &Value, root: &Value) -> Option<Vec<Value>> {
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        return Some(e.clone());
    }
    let alts = s.get("oneOf").or_else(|| s.get("anyOf"))?.as_array()?;
    let mut out = Vec::new();
    for a in alts {
        let a = resolve(a, root);
        if let Some(c) = a.get("const") {
            out.push(c.clone());
        } else if let Some(e) = a.get("enum").and_then(Value::as_array) {
            out.extend(e.iter().cloned());
        } else {
            return None;
        }
    }
    Some(out)
}

fn walk(v: &Value, s: &Value, root: &Value, path: &str, out: &mut Vec<Diagnostic>) {
    let s = resolve(s, root);
    if let Some(allowed) = constants(s, root) {
        if !allowed.contains(v) {
            let names: Vec<String> = allowed
                .iter()
                .map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_string))
                .collect();
            let mut msg = format!("{} is not one of: {}", describe(v), names.join(", "));
            if let Some(best) = v
                .as_str()
                .and_then(|x| closest(x, names.iter().map(String::as_str)))
            {
                msg.push_str(&format!(" (did you mean `{best}`?)"));
            }
            out.push(Diagnostic::at_value(path, msg));
        }
        return;
    }
    if let Some(alts) = s
        .get("anyOf")
        .or_else(|| s.get("oneOf"))
        .and_then(Value::as_array)
    {
        // `Option<T>`: null or T.
        if v.is_null()
            && alts
                .iter()
                .any(|a| resolve(a, root).get("type") == Some(&Value::from("null")))
        {
            return;
        }
        let non_null: Vec<&Value> = alts
            .iter()
            .filter(|a| resolve(a, root).get("type") != Some(&Value::from("null")))
            .collect();
        if let [only] = non_null.as_slice() {
            walk(v, only, root, path, out);
        }
        return;
    }
    match s.get("type") {
        Some(Value::String(t)) if !type_matches(t, v) => {
            out.push(Diagnostic::at_value(
                path,
                format!(
                    "expected {}, found {}{}",
                    article(t),
                    describe(v),
                    quote_hint(t, v)
                ),
            ));
            return;
        }
        Some(Value::Array(ts)) => {
            if !ts
                .iter()
                .filter_map(Value::as_str)
                .any(|t| type_matches(t, v))
            {
                let first = ts
                    .iter()
                    .filter_map(Value::as_str)
                    .find(|t| *t != "null")
                    .unwrap_or("value");
                out.push(Diagnostic::at_value(
                    path,
                    format!(
                        "expected {}, found {}{}",
                        article(first),
                        describe(v),
                        quote_hint(first, v)
                    ),
                ));
                return;
            }
            if v.is_null() {
                return;
            }
        }
        _ => {}
    }
    if let (Some(n), Some(min)) = (v.as_f64(), s.get("minimum").and_then(Value::as_f64))
        && n < min
    {
        out.push(Diagnostic::at_value(
            path,
            format!("must be at least {min}, found {n}"),
        ));
    }
    if let (Some(n), Some(max)) = (v.as_f64(), s.get("maximum").and_then(Value::as_f64))
        && n > max
    {
        out.push(Diagnostic::at_value(
            path,
            format!("must be at most {max}, found {n}"),
        ));
    }
    match v {
        Value::Object(map) => {
            let props = s.get("properties").and_then(Value::as_object);
            let extra = s.get("additionalProperties");
            for (k, child) in map {
                let child_path = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if let Some(ps) = props.and_then(|p| p.get(k)) {
                    walk(child, ps, root, &child_path, out);
                } else if let Some(extra) = extra.filter(|e| e.is_object()) {
                    walk(child, extra, root, &child_path, out);
                } else {
                    let keys: Vec<&str> = props
                        .map(|p| p.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    let mut msg = format!("unknown field `{k}`");
                    match closest(k, keys.iter().copied()) {
                        Some(best) => msg.push_str(&format!(", did you mean `{best}`?")),
                        None => msg.push_str(&format!("; valid fields: {}", keys.join(", "))),
                    }
                    out.push(Diagnostic::at_key(&child_path, msg));
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(item, is, root, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

/// YAML reads `8080` and `true` as a number and a boolean; a string field wants them
/// quoted (and `1.10` would not survive as a number).
fn quote_hint(expected: &str, v: &Value) -> String {
    match v {
        Value::Number(_) | Value::Bool(_) if expected == "string" => {
            format!("; quote it: \"{v}\"")
        }
        _ => String::new(),
    }
}

fn article(t: &str) -> String {
    match t {
        "integer" => "an integer".into(),
        "object" => "a mapping".into(),
        "array" => "a list".into(),
        "boolean" => "true or false".into(),
        other => format!("a {other}"),
    }
}

/// Levenshtein distance, case-insensitive.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_ascii_lowercase().chars().collect();
    let b: Vec<char> = b.to_ascii_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .map(|c| (distance(word, c), c))
        .filter(|(d, c)| {
            *d <= limit
                || c.to_ascii_lowercase()
                    .starts_with(&word.to_ascii_lowercase())
                || word
                    .to_ascii_lowercase()
                    .starts_with(&c.to_ascii_lowercase())
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            closest("maxReplica", ["minReplicas", "maxReplicas"].into_iter()),
            Some("maxReplicas")
        );
        assert_eq!(
            closest("prod", ["dev", "small", "production"].into_iter()),
            Some("production")
        );
        assert_eq!(closest("zzzzzz", ["dev", "small"].into_iter()), None);
    }
}
