//! Reading `voice.yaml` text into a JSON value plus a map from field path to line and column.
//!
//! We parse with an event parser (yaml-rust2) rather than serde so that every field keeps its
//! position: validation reports all problems at once, each with `line:column`.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A 1-based source position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// Field path → position of its key (for mapping entries) and of its value.
#[derive(Debug, Default, Clone)]
pub struct Positions {
    keys: HashMap<String, Pos>,
    values: HashMap<String, Pos>,
}

impl Positions {
    /// Where the key of `path` was written, else where its value was.
    pub fn key(&self, path: &str) -> Option<Pos> {
        self.keys
            .get(path)
            .or_else(|| self.values.get(path))
            .copied()
    }
    /// Where the value of `path` was written, else its key.
    pub fn value(&self, path: &str) -> Option<Pos> {
        self.values
            .get(path)
            .or_else(|| self.keys.get(path))
            .copied()
    }
    /// The nearest written ancestor of `path` (for paths the user did not write).
    pub fn nearest(&self, path: &str) -> Option<Pos> {
        let mut p = path;
        loop {
            if let Some(pos) = self.key(p) {
                return Some(pos);
            }
            p = &p[..p.rfind(['.', '['])?];
        }
    }
}

/// A YAML syntax problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where the parser stopped.
    pub pos: Pos,
    /// The parser's message.
    pub message: String,
}

enum Frame {
    Map {
        map: Map<String, Value>,
        path: String,
        key: Option<(String, Pos)>,
        dup: Vec<(String, Pos)>,
    },
    Seq {
        items: Vec<Value>,
        path: String,
    },
}

struct Builder {
    /// Whether to record positions and field paths (off for reading rendered objects back).
    track: bool,
    stack: Vec<Frame>,
    root: Option<Value>,
    pos: Positions,
    duplicates: Vec<(String, Pos)>,
    anchors: HashMap<usize, Value>,
    pending_anchor: Vec<usize>,
}

fn to_pos(m: Marker) -> Pos {
    Pos {
        line: m.line(),
        column: m.col() + 1,
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Resolves a plain scalar the way YAML 1.2's core schema does.
fn plain_scalar(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = s.parse::<i64>() {
        return Value::Number(i.into());
    }
    let looks_float = s
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        && s.chars().any(|c| c.is_ascii_digit());
    if looks_float && let Some(n) = s.parse::<f64>().ok().and_then(Number::from_f64) {
        return Value::Number(n);
    }
    Value::String(s.to_string())
}

impl Builder {
    fn current_path(&self) -> String {
        if !self.track {
            return String::new();
        }
        match self.stack.last() {
            None => String::new(),
            Some(Frame::Map {
                path,
                key: Some((k, _)),
                ..
            }) => join(path, k),
            Some(Frame::Map { path, .. }) => path.clone(),
            Some(Frame::Seq { items, path }) => format!("{path}[{}]", items.len()),
        }
    }

    fn push_value(&mut self, v: Value, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, v.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(v),
            Some(Frame::Seq { items, .. }) => items.push(v),
            Some(Frame::Map { map, key, dup, .. }) => {
                if let Some((k, kpos)) = key.take() {
                    if map.contains_key(&k) {
                        dup.push((k.clone(), kpos));
                    }
                    map.insert(k, v);
                }
            }
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = to_pos(mark);
        match ev {
            Event::Scalar(s, style, anchor, _tag) => {
                if let Some(Frame::Map {
                    key: key @ None,
                    path,
                    ..
                }) = self.stack.last_mut()
                {
                    if self.track {
                        self.pos.keys.insert(join(path, &s), pos);
                    }
                    *key = Some((s, pos));
                    return;
                }
                if self.track {
                    let path = self.current_path();
                    self.pos.values.insert(path, pos);
                }
                let v = if style == TScalarStyle::Plain {
                    plain_scalar(&s)
                } else {
                    Value::String(s)
                };
                self.push_value(v, anchor);
            }
            Event::Alias(id) => {
                if self.track {
                    let path = self.current_path();
                    self.pos.values.insert(path, pos);
                }
                let v = self.anchors.get(&id).cloned().unwrap_or(Value::Null);
                if let Some(Frame::Map {
                    key: key @ None, ..
                }) = self.stack.last_mut()
                {
                    *key = Some((v.as_str().unwrap_or_default().to_string(), pos));
                    return;
                }
                self.push_value(v, 0);
            }
            Event::MappingStart(anchor, _) => {
                let path = self.current_path();
                if self.track {
                    self.pos.values.insert(path.clone(), pos);
                }
                self.pending_anchor.push(anchor);
                self.stack.push(Frame::Map {
                    map: Map::new(),
                    path,
                    key: None,
                    dup: Vec::new(),
                });
            }
            Event::SequenceStart(anchor, _) => {
                let path = self.current_path();
                if self.track {
                    self.pos.values.insert(path.clone(), pos);
                }
                self.pending_anchor.push(anchor);
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    path,
                });
            }
            Event::MappingEnd => {
                if let Some(Frame::Map { map, path, dup, .. }) = self.stack.pop() {
                    for (k, p) in dup {
                        self.duplicates.push((join(&path, &k), p));
                    }
                    let anchor = self.pending_anchor.pop().unwrap_or(0);
                    self.push_value(Value::Object(map), anchor);
                }
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { items, .. }) = self.stack.pop() {
                    let anchor = self.pending_anchor.pop().unwrap_or(0);
                    self.push_value(Value::Array(items), anchor);
                }
            }
            _ => {}
        }
    }
}

/// A parsed document: its value (null when empty), the positions of its fields, and any
/// keys written twice in one mapping.
pub struct Document {
    /// The document as JSON.
    pub value: Value,
    /// Field positions.
    pub positions: Positions,
    /// Paths of keys that appear twice in the same mapping, with the second occurrence.
    pub duplicates: Vec<(String, Pos)>,
}

/// Parses one YAML document.
pub fn parse(text: &str) -> Result<Document, SyntaxError> {
    build(text, true)
}

/// Parses one YAML document into its value alone, without positions (much cheaper: reading
/// rendered objects back).
pub fn parse_value(text: &str) -> Result<Value, SyntaxError> {
    build(text, false).map(|d| d.value)
}

fn build(text: &str, track: bool) -> Result<Document, SyntaxError> {
    let mut b = Builder {
        track,
        stack: Vec::new(),
        root: None,
        pos: Positions::default(),
        duplicates: Vec::new(),
        anchors: HashMap::new(),
        pending_anchor: Vec::new(),
    };
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut b, false).map_err(|e| SyntaxError {
        pos: to_pos(*e.marker()),
        message: e.info().to_string(),
    })?;
    Ok(Document {
        value: b.root.unwrap_or(Value::Null),
        positions: b.pos,
        duplicates: b.duplicates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_positions() {
        let doc = parse("profile: dev\nmodelRouter:\n  hpa:\n    maxReplicas: 4\n  providers: [openai, \"2\"]\n").unwrap();
        assert_eq!(doc.value["modelRouter"]["hpa"]["maxReplicas"], 4);
        assert_eq!(doc.value["modelRouter"]["providers"][1], "2");
        assert_eq!(
            doc.positions.key("modelRouter.hpa.maxReplicas"),
            Some(Pos { line: 4, column: 5 })
        );
        assert_eq!(
            doc.positions.value("modelRouter.hpa.maxReplicas"),
            Some(Pos {
                line: 4,
                column: 18
            })
        );
        assert_eq!(
            doc.positions.value("modelRouter.providers[1]"),
            Some(Pos {
                line: 5,
                column: 23
            })
        );
        assert_eq!(
            doc.positions.nearest("modelRouter.hpa.minReplicas"),
            Some(Pos { line: 3, column: 3 })
        );
    }

    #[test]
    fn scalars_follow_core_schema() {
        let doc = parse("a: ~\nb: true\nc: '1'\nd: 1.5\ne: 500m\nf: 0x1\n").unwrap();
        assert_eq!(doc.value["a"], Value::Null);
        assert_eq!(doc.value["b"], true);
        assert_eq!(doc.value["c"], "1");
        assert_eq!(doc.value["d"], 1.5);
        assert_eq!(doc.value["e"], "500m");
        assert_eq!(doc.value["f"], "0x1");
    }

    #[test]
    fn duplicates_and_syntax_errors() {
        let doc = parse("a: 1\na: 2\n").unwrap();
        assert_eq!(
            doc.duplicates,
            vec![("a".to_string(), Pos { line: 2, column: 1 })]
        );
        let err = parse("a: [1, 2\nb: 3\n").err().unwrap();
        assert!(err.pos.line >= 2, "{err:?}");
    }
}
