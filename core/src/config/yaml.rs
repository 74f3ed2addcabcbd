//! Reading `voice.yaml` text into a JSON value plus a map from field path to line and column.
//!
//! We parse with an event parser (yaml-rust2) rather than serde so that every field keeps its
//! position: validation reports all problems at once, each with `line:column`.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};

use super::limits::{LIMITS, Limit, Limits};
use super::{Anchor, Diagnostic};
use yaml_rust2::parser::{Event, Parser};
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

/// Why a text was not read: a YAML syntax error, or an input limit hit (see
/// [`super::limits`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Where the parser stopped.
    pub pos: Pos,
    /// The parser's message, or which limit was hit and by how much.
    pub message: String,
    /// The field path where a limit was hit (empty for a syntax error or the text's size).
    pub path: String,
    /// The limit hit; `None` for a syntax error.
    pub limit: Option<Limit>,
}

impl ParseError {
    /// The error as a diagnostic with its position.
    pub fn diagnostic(&self) -> Diagnostic {
        Diagnostic {
            path: self.path.clone(),
            line: Some(self.pos.line),
            column: Some(self.pos.column),
            message: match self.limit {
                None => format!("invalid YAML: {}", self.message),
                Some(_) => self.message.clone(),
            },
            anchor: Anchor::Value,
        }
    }
}

/// What a value adds to the document once its aliases are expanded.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    nodes: usize,
    keys: usize,
    bytes: usize,
    /// Levels of lists and mappings (0 for a scalar).
    height: usize,
}

enum Container {
    Map {
        map: Map<String, Value>,
        key: Option<(String, Pos)>,
        dup: Vec<(String, Pos)>,
    },
    Seq(Vec<Value>),
}

struct Frame {
    container: Container,
    path: String,
    anchor: usize,
    /// The document's totals when this container started.
    start: Size,
    /// The tallest child so far.
    height: usize,
}

struct Builder<'l> {
    /// Whether to record positions and field paths (off for reading rendered objects back).
    track: bool,
    /// Whether plain scalars stay strings (`007`, `true`) instead of the core schema's types.
    plain_strings: bool,
    limits: &'l Limits,
    stack: Vec<Frame>,
    root: Option<Value>,
    pos: Positions,
    duplicates: Vec<(String, Pos)>,
    anchors: HashMap<usize, (Value, Size)>,
    /// Totals of the document as expanded so far (`height` unused).
    total: Size,
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

impl Builder<'_> {
    fn current_path(&self) -> String {
        if !self.track {
            return String::new();
        }
        match self.stack.last() {
            None => String::new(),
            Some(Frame {
                container:
                    Container::Map {
                        key: Some((k, _)), ..
                    },
                path,
                ..
            }) => join(path, k),
            Some(Frame {
                container: Container::Map { .. },
                path,
                ..
            }) => path.clone(),
            Some(Frame {
                container: Container::Seq(items),
                path,
                ..
            }) => format!("{path}[{}]", items.len()),
        }
    }

    /// The path of the innermost container (where a key is being read).
    fn container_path(&self) -> String {
        self.stack
            .last()
            .map(|f| f.path.clone())
            .unwrap_or_default()
    }

    fn limit_error(&self, limit: Limit, path: String, pos: Pos, what: String) -> ParseError {
        let n = limit.of(self.limits);
        ParseError {
            pos,
            message: format!("{what}: over the {} limit of {n}", limit.name()),
            path,
            limit: Some(limit),
        }
    }

    /// Adds a value of `size` to the document's totals, refusing it past a limit.
    fn add(&mut self, size: Size, pos: Pos) -> Result<(), ParseError> {
        self.add_at(size, pos, None)
    }

    /// As [`Builder::add`], naming `path` (else the current path) when a limit is hit.
    fn add_at(&mut self, size: Size, pos: Pos, path: Option<&str>) -> Result<(), ParseError> {
        let path = |b: &Self| path.map_or_else(|| b.current_path(), str::to_string);
        let depth = self.stack.len() + size.height;
        if depth > self.limits.depth {
            let what = format!("lists and mappings nested {depth} deep");
            return Err(self.limit_error(Limit::Depth, path(self), pos, what));
        }
        let t = &mut self.total;
        t.nodes = t.nodes.saturating_add(size.nodes);
        t.keys = t.keys.saturating_add(size.keys);
        t.bytes = t.bytes.saturating_add(size.bytes);
        let (nodes, keys, bytes) = (t.nodes, t.keys, t.bytes);
        let over = if nodes > self.limits.nodes {
            Some((
                Limit::Nodes,
                format!("more than {} values, aliases expanded", self.limits.nodes),
            ))
        } else if keys > self.limits.keys {
            Some((
                Limit::Keys,
                format!(
                    "more than {} mapping keys, aliases expanded",
                    self.limits.keys
                ),
            ))
        } else if bytes > self.limits.expanded_bytes {
            Some((
                Limit::ExpandedBytes,
                format!(
                    "more than {} bytes of keys and strings, aliases expanded",
                    self.limits.expanded_bytes
                ),
            ))
        } else {
            None
        };
        match over {
            Some((limit, what)) => Err(self.limit_error(limit, path(self), pos, what)),
            None => Ok(()),
        }
    }

    /// Takes `key` as the key of the mapping being read.
    fn key(&mut self, key: String, pos: Pos, anchor: usize) -> Result<(), ParseError> {
        if key.len() > self.limits.key_bytes {
            let what = format!("a key of {} bytes", key.len());
            return Err(self.limit_error(Limit::KeyBytes, self.container_path(), pos, what));
        }
        let size = Size {
            nodes: 0,
            keys: 1,
            bytes: key.len(),
            height: 0,
        };
        let path = if self.track {
            join(&self.container_path(), &key)
        } else {
            String::new()
        };
        self.add_at(size, pos, Some(&path))?;
        if anchor > 0 {
            self.anchors.insert(
                anchor,
                (
                    Value::String(key.clone()),
                    Size {
                        nodes: 1,
                        keys: 0,
                        ..size
                    },
                ),
            );
        }
        if let Some(Frame {
            container: Container::Map { key: slot, .. },
            path,
            ..
        }) = self.stack.last_mut()
        {
            if self.track {
                self.pos.keys.insert(join(path, &key), pos);
            }
            *slot = Some((key, pos));
        }
        Ok(())
    }

    fn wants_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame {
                container: Container::Map { key: None, .. },
                ..
            })
        )
    }

    fn push_value(&mut self, v: Value, anchor: usize, size: Size) {
        if anchor > 0 {
            self.anchors.insert(anchor, (v.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.root = Some(v),
            Some(f) => {
                f.height = f.height.max(size.height);
                match &mut f.container {
                    Container::Seq(items) => items.push(v),
                    Container::Map { map, key, dup } => {
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
    }

    fn start(&mut self, container: Container, anchor: usize, pos: Pos) -> Result<(), ParseError> {
        if self.wants_key() {
            return Err(ParseError {
                pos,
                message: "a mapping key must be a string, not a list or mapping".into(),
                path: self.container_path(),
                limit: None,
            });
        }
        let path = self.current_path();
        let start = self.total;
        let one = Size {
            nodes: 1,
            height: 1,
            ..Size::default()
        };
        self.add(one, pos)?;
        if self.track {
            self.pos.values.insert(path.clone(), pos);
        }
        self.stack.push(Frame {
            container,
            path,
            anchor,
            start,
            height: 0,
        });
        Ok(())
    }

    fn end(&mut self) {
        let Some(f) = self.stack.pop() else {
            return;
        };
        let size = Size {
            nodes: self.total.nodes - f.start.nodes,
            keys: self.total.keys - f.start.keys,
            bytes: self.total.bytes - f.start.bytes,
            height: f.height + 1,
        };
        let v = match f.container {
            Container::Map { map, dup, .. } => {
                for (k, p) in dup {
                    self.duplicates.push((join(&f.path, &k), p));
                }
                Value::Object(map)
            }
            Container::Seq(items) => Value::Array(items),
        };
        self.push_value(v, f.anchor, size);
    }

    fn on_event(&mut self, ev: Event, mark: Marker) -> Result<(), ParseError> {
        let pos = to_pos(mark);
        match ev {
            Event::Scalar(s, style, anchor, _tag) => {
                if self.wants_key() {
                    return self.key(s, pos, anchor);
                }
                if s.len() > self.limits.string_bytes {
                    let what = format!("a string of {} bytes", s.len());
                    return Err(self.limit_error(
                        Limit::StringBytes,
                        self.current_path(),
                        pos,
                        what,
                    ));
                }
                let size = Size {
                    nodes: 1,
                    bytes: s.len(),
                    ..Size::default()
                };
                self.add(size, pos)?;
                if self.track {
                    let path = self.current_path();
                    self.pos.values.insert(path, pos);
                }
                let v = if style == TScalarStyle::Plain && !self.plain_strings {
                    plain_scalar(&s)
                } else {
                    Value::String(s)
                };
                self.push_value(v, anchor, size);
            }
            Event::Alias(id) => {
                if self.wants_key() {
                    let key = self
                        .anchors
                        .get(&id)
                        .and_then(|(v, _)| v.as_str())
                        .unwrap_or_default()
                        .to_string();
                    return self.key(key, pos, 0);
                }
                let size = self.anchors.get(&id).map_or(
                    Size {
                        nodes: 1,
                        ..Size::default()
                    },
                    |(_, s)| *s,
                );
                // Counted before it is copied: a billion-laughs stops here.
                self.add(size, pos)?;
                let v = self
                    .anchors
                    .get(&id)
                    .map_or(Value::Null, |(v, _)| v.clone());
                if self.track {
                    let path = self.current_path();
                    self.pos.values.insert(path, pos);
                }
                self.push_value(v, 0, size);
            }
            Event::MappingStart(anchor, _) => {
                let map = Container::Map {
                    map: Map::new(),
                    key: None,
                    dup: Vec::new(),
                };
                self.start(map, anchor, pos)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.start(Container::Seq(Vec::new()), anchor, pos)?;
            }
            Event::MappingEnd | Event::SequenceEnd => self.end(),
            _ => {}
        }
        Ok(())
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

/// Parses one YAML document within [`LIMITS`].
pub fn parse(text: &str) -> Result<Document, ParseError> {
    build(text, true, false, &LIMITS)
}

/// Parses an untrusted YAML text (such as the secrets file) within [`LIMITS`] into its value:
/// the first document, scalars resolved as in `voice.yaml` (YAML 1.2 core schema). A syntax
/// error or a limit hit comes back as a diagnostic with its line and column.
pub fn parse_bounded(text: &str) -> Result<Value, Diagnostic> {
    build(text, false, false, &LIMITS)
        .map(|d| d.value)
        .map_err(|e| e.diagnostic())
}

/// As [`parse_bounded`], but every scalar is the string as written (`007`, `true`, `1e3`
/// stay strings; an empty value is `""`): for files whose values are all strings, such as the
/// secrets file.
pub fn parse_bounded_strings(text: &str) -> Result<Value, Diagnostic> {
    build(text, false, true, &LIMITS)
        .map(|d| d.value)
        .map_err(|e| e.diagnostic())
}

/// Parses one YAML document into its value alone, without positions (much cheaper: reading
/// rendered objects back). No limits: for text the core wrote itself, never for user input.
pub fn parse_value(text: &str) -> Result<Value, ParseError> {
    const UNBOUNDED: Limits = Limits {
        bytes: usize::MAX,
        nodes: usize::MAX,
        expanded_bytes: usize::MAX,
        depth: usize::MAX,
        keys: usize::MAX,
        key_bytes: usize::MAX,
        string_bytes: usize::MAX,
        diagnostics: usize::MAX,
        pods: u64::MAX,
        cluster_nodes: u64::MAX,
    };
    build(text, false, false, &UNBOUNDED).map(|d| d.value)
}

/// The position of byte `at` of `text` (which must be on a character boundary or past the end).
fn pos_at(text: &str, at: usize) -> Pos {
    let before = text.as_bytes().get(..at).unwrap_or(text.as_bytes());
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = before.len()
        - before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
    Pos {
        line,
        column: column + 1,
    }
}

fn build(
    text: &str,
    track: bool,
    plain_strings: bool,
    limits: &Limits,
) -> Result<Document, ParseError> {
    if text.len() > limits.bytes {
        return Err(ParseError {
            pos: pos_at(text, limits.bytes),
            message: format!(
                "{} bytes: over the {} limit of {}",
                text.len(),
                Limit::Bytes.name(),
                limits.bytes
            ),
            path: String::new(),
            limit: Some(Limit::Bytes),
        });
    }
    let mut b = Builder {
        track,
        plain_strings,
        limits,
        stack: Vec::new(),
        root: None,
        pos: Positions::default(),
        duplicates: Vec::new(),
        anchors: HashMap::new(),
        total: Size::default(),
    };
    // Driven event by event (the parser's own `load` recurses once per level of nesting) so
    // that the first limit hit stops the parse.
    let mut parser = Parser::new_from_str(text);
    loop {
        let (ev, mark) = parser.next_token().map_err(|e| {
            let pos = to_pos(*e.marker());
            // The scanner refuses flow collections nested past 255 before handing us a token.
            if e.info() == "recursion limit exceeded" {
                let what = "lists and mappings nested more than 255 deep".to_string();
                return b.limit_error(Limit::Depth, b.current_path(), pos, what);
            }
            ParseError {
                pos,
                message: e.info().to_string(),
                path: String::new(),
                limit: None,
            }
        })?;
        // The first document only, as far as its end (which reports what follows the value).
        if matches!(ev, Event::StreamEnd | Event::DocumentEnd) {
            break;
        }
        b.on_event(ev, mark)?;
    }
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
    fn aliases_count_what_they_repeat() {
        // Anchors and aliases within the limits read as before.
        let doc = parse("a: &a {x: [1, 2]}\nb: *a\n").unwrap();
        assert_eq!(doc.value["b"]["x"][1], 2);
        // Each alias counts the values it repeats, not one.
        let mut text = String::from("a: &a [");
        text.push_str(&"0, ".repeat(LIMITS.nodes / 4));
        text.push_str("0]\nb: [*a, *a, *a, *a]\n");
        let err = parse(&text).err().unwrap();
        assert_eq!(err.limit, Some(Limit::Nodes), "{err:?}");
        assert_eq!(err.path, "b[2]");
        assert_eq!(
            err.pos,
            Pos {
                line: 2,
                column: 13
            }
        );
    }

    #[test]
    fn bounded_values_for_other_files() {
        let v = parse_bounded("db: {password: 007, flag: true}\n").unwrap();
        assert_eq!(v["db"]["password"], 7);
        let v = parse_bounded_strings("db: {password: 007, flag: true, empty: }\n").unwrap();
        assert_eq!(v["db"]["password"], "007");
        assert_eq!(v["db"]["flag"], "true");
        assert_eq!(v["db"]["empty"], "");
        let d = parse_bounded_strings(&format!("k: {}\n", "v".repeat(LIMITS.string_bytes + 1)))
            .unwrap_err();
        assert!(d.message.contains("string length limit"), "{d:?}");
        assert_eq!((d.line, d.column), (Some(1), Some(4)));
        let d = parse_bounded("a: [1\n").unwrap_err();
        assert!(d.message.starts_with("invalid YAML"), "{d:?}");
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
