//! `--set path=value` assignments, as in Helm: `modelRouter.hpa.maxReplicas=5`,
//! `cluster.nodes[0].count=4`, `modelRouter.providers=[openai]`.

use serde_json::{Map, Value};

use super::{Diagnostic, LIMITS, Limit, yaml};

/// Levels of lists and mappings in `v` (0 for a scalar); `v` is within the depth limit.
fn height(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(height).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(height).max().unwrap_or(0),
        _ => 0,
    }
}

/// Turns `a.b[0].c` into the JSON pointer `/a/b/0/c`; `None` when malformed.
pub(super) fn pointer(path: &str) -> Option<String> {
    let mut out = String::new();
    for part in path.split('.') {
        let (name, rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        if name.is_empty() {
            return None;
        }
        out.push('/');
        out.push_str(name);
        let mut rest = rest;
        while !rest.is_empty() {
            let (idx, after) = rest.split_once(']')?;
            idx.parse::<usize>().ok()?;
            out.push('/');
            out.push_str(idx);
            rest = after.strip_prefix('[').unwrap_or(after);
            if !after.is_empty() && !after.starts_with('[') {
                return None;
            }
        }
    }
    Some(out)
}

/// Applies one `path=value` assignment to `doc`, creating mappings on the way.
pub fn apply_set(doc: &mut Value, assignment: &str) -> Result<(), Diagnostic> {
    let Some((path, raw)) = assignment.split_once('=') else {
        return Err(Diagnostic::at_value(
            "--set",
            format!("`{assignment}` is not of the form path=value"),
        ));
    };
    let path = path.trim();
    let ptr = pointer(path).ok_or_else(|| {
        Diagnostic::at_value(
            "--set",
            format!("`{path}` is not a field path (example: modelRouter.hpa.maxReplicas)"),
        )
    })?;
    let segments: Vec<&str> = ptr.split('/').skip(1).collect();
    if let Some(long) = segments.iter().find(|s| s.len() > LIMITS.key_bytes) {
        return Err(Diagnostic::at_value(
            "--set",
            format!(
                "a path segment of {} bytes: over the {} limit of {}",
                long.len(),
                Limit::KeyBytes.name(),
                LIMITS.key_bytes
            ),
        ));
    }
    if segments.len() > LIMITS.depth {
        return Err(Diagnostic::at_value(
            "--set",
            format!(
                "a path {} levels deep: over the {} limit of {}",
                segments.len(),
                Limit::Depth.name(),
                LIMITS.depth
            ),
        ));
    }
    let value = yaml::parse(raw)
        .map(|d| d.value)
        .map_err(|e| match e.limit {
            Some(_) => {
                let at = if e.path.is_empty() {
                    String::new()
                } else {
                    format!(" at `{}`", e.path)
                };
                Diagnostic::at_value(path, format!("--set value{at}: {}", e.message))
            }
            None => Diagnostic::at_value(
                path,
                format!("--set value `{raw}` is not valid YAML: {}", e.message),
            ),
        })?;
    let depth = segments.len() + height(&value);
    if depth > LIMITS.depth {
        return Err(Diagnostic::at_value(
            path,
            format!(
                "--set path and value nested {depth} deep: over the {} limit of {}",
                Limit::Depth.name(),
                LIMITS.depth
            ),
        ));
    }
    let mut cur = doc;
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let next_is_index = segments
            .get(i + 1)
            .is_some_and(|s| s.parse::<usize>().is_ok());
        let fresh = || {
            if next_is_index {
                Value::Array(Vec::new())
            } else {
                Value::Object(Map::new())
            }
        };
        if cur.is_null() {
            *cur = fresh();
        }
        cur = match cur {
            Value::Object(m) => {
                if last {
                    m.insert((*seg).to_string(), value);
                    return Ok(());
                }
                m.entry((*seg).to_string()).or_insert_with(fresh)
            }
            Value::Array(a) => {
                let idx: usize = seg
                    .parse()
                    .map_err(|_| Diagnostic::at_value(path, "expected a list index"))?;
                if idx > a.len() {
                    return Err(Diagnostic::at_value(
                        path,
                        format!(
                            "index {idx} is past the end of the list ({} items)",
                            a.len()
                        ),
                    ));
                }
                if idx == a.len() {
                    a.push(fresh());
                }
                if last {
                    a[idx] = value;
                    return Ok(());
                }
                &mut a[idx]
            }
            _ => {
                return Err(Diagnostic::at_value(
                    path,
                    format!("`{}` is not a mapping or list", segments[..i].join(".")),
                ));
            }
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_nested_values() {
        let mut v = serde_json::json!({"modelRouter": {"replicas": 2}});
        apply_set(&mut v, "modelRouter.hpa.maxReplicas=5").unwrap();
        apply_set(&mut v, "cluster.nodes[0].cpu=4").unwrap();
        apply_set(&mut v, "modelRouter.providers=[openai, anthropic]").unwrap();
        assert_eq!(v["modelRouter"]["hpa"]["maxReplicas"], 5);
        assert_eq!(v["cluster"]["nodes"][0]["cpu"], 4);
        assert_eq!(v["modelRouter"]["providers"][1], "anthropic");
        assert!(apply_set(&mut v, "noequals").is_err());
        assert!(apply_set(&mut v, "a..b=1").is_err());
        assert!(apply_set(&mut v, "cluster.nodes[5].cpu=1").is_err());
    }
}
