//! The house rules of the source tree, read from ARCHITECTURE.md and checked on every file
//! (as rust-analyzer's `tidy`): each crate's layers, no import circles, no command that
//! imports another command, a `//!` line atop every file, and no I/O in `voice-core`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The crates whose modules the layer table orders, with their source folders.
const CRATES: [(&str, &str); 3] = [
    ("core", "core/src"),
    ("cli", "cli/src"),
    ("wasm", "wasm/src"),
];

/// Calls that reach outside the process: none may appear in `voice-core` outside its tests.
const IO_CALLS: [&str; 15] = [
    "std::fs",
    "std::net",
    "std::process",
    "std::env",
    "std::thread",
    "std::time::Instant",
    "std::time::SystemTime",
    "Instant::now",
    "SystemTime::now",
    "stdin()",
    "stdout()",
    "stderr()",
    "println!",
    "eprintln!",
    "tokio::",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One crate's source: module path (`render::istio`; `crate` for the root) → code without
/// comments and without `#[cfg(test)]` items.
struct Source {
    files: BTreeMap<String, (PathBuf, String)>,
}

impl Source {
    fn read(dir: &Path) -> Source {
        let mut files = BTreeMap::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
                let path = entry.expect("a directory entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let rel = path.strip_prefix(dir).expect("below its folder");
                    let text = std::fs::read_to_string(&path).expect("a source file");
                    files.insert(module_of(rel), (path.clone(), text));
                }
            }
        }
        Source { files }
    }

    /// Which modules each module imports (`use` and inline paths through `crate`, `super`,
    /// `self`), the module itself and its folder's `mod.rs` (or its own files) left out.
    fn imports(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out = BTreeMap::new();
        for (module, (_, text)) in &self.files {
            let code = without_tests(&code_only(text));
            let mut to = BTreeSet::new();
            for path in paths(&code) {
                if let Some(target) = self.resolve(module, &path)
                    && target != *module
                    && !parent_and_child(module, &target)
                {
                    to.insert(target);
                }
            }
            out.insert(module.clone(), to);
        }
        out
    }

    /// The module a path such as `crate::render::Object` or `super::istio::GATEWAY` names:
    /// its longest prefix that is a file of this crate.
    fn resolve(&self, from: &str, path: &[String]) -> Option<String> {
        let mut base: Vec<String> = if from == "crate" {
            Vec::new()
        } else {
            from.split("::").map(String::from).collect()
        };
        let mut rest = path;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                base.clear();
                rest = &rest[1..];
            }
            Some("self") => rest = &rest[1..],
            Some("super") => {
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
            }
            _ => return None,
        }
        (0..=rest.len()).rev().find_map(|n| {
            let mut segs = base.clone();
            segs.extend_from_slice(&rest[..n]);
            let name = if segs.is_empty() {
                "crate".to_string()
            } else {
                segs.join("::")
            };
            self.files.contains_key(&name).then_some(name)
        })
    }
}

/// A folder's `mod.rs` and a file directly in it are one module: it declares them and they
/// use its types (`super::Component`), which is no circle between layers.
fn parent_and_child(a: &str, b: &str) -> bool {
    let parent = |m: &str| m.rsplit_once("::").map_or("crate", |(p, _)| p).to_string();
    // The crate root is no folder: what its files take from it is an upward import.
    a != "crate" && b != "crate" && (parent(a) == b || parent(b) == a)
}

/// `render/istio.rs` → `render::istio`; `render/mod.rs` → `render`; `lib.rs` → `crate`.
fn module_of(rel: &Path) -> String {
    let mut segs: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if segs
        .last()
        .is_some_and(|s| s == "mod" || s == "lib" || s == "main")
    {
        segs.pop();
    }
    if segs.is_empty() {
        "crate".into()
    } else {
        segs.join("::")
    }
}

/// The code alone: comments dropped, and every string and char literal (raw strings
/// included) emptied, so that neither a path in prose nor a brace in a string counts.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut kept = 0;
    let skip_to = |from: usize, end: &str| {
        let from = from.min(b.len());
        text[from..].find(end).map_or(b.len(), |e| from + e)
    };
    while i < b.len() {
        let (start, end, with) = match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => (i, skip_to(i, "\n"), ""),
            b'/' if b.get(i + 1) == Some(&b'*') => (i, skip_to(i + 2, "*/") + 2, ""),
            b'r' if matches!(b.get(i + 1), Some(b'"' | b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let close = format!("\"{}", "#".repeat(hashes));
                (i, skip_to(i + 2 + hashes, &close) + close.len(), "\"\"")
            }
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                (i, j + 1, "\"\"")
            }
            // A char literal ('"', '\'', '{'); a lifetime ('a) has no closing quote.
            b'\'' if b.get(i + 1) == Some(&b'\\') => (i, skip_to(i + 2, "'") + 1, "' '"),
            b'\'' if b.get(i + 2) == Some(&b'\'') => (i, i + 3, "' '"),
            _ => {
                i += 1;
                continue;
            }
        };
        out.push_str(&text[kept..start]);
        out.push_str(with);
        i = end.min(b.len());
        kept = i;
    }
    out.push_str(&text[kept..]);
    out
}

/// The code with every item marked `#[cfg(test)]` cut out (to its matching brace or `;`).
fn without_tests(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let end = match (after.find('{'), after.find(';')) {
            (Some(b), Some(s)) if s < b => s + 1,
            (Some(b), _) => {
                let mut depth = 0usize;
                let mut end = after.len();
                for (i, c) in after[b..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (None, Some(s)) => s + 1,
            (None, None) => after.len(),
        };
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Every path a file names through `crate`, `super` or `self`: `use` trees expanded, and
/// inline paths such as `crate::plan::waves(…)`.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < code.len() {
        let starts_word = i == 0 || !(ident(bytes[i - 1]) || bytes[i - 1] == b':');
        if starts_word && bytes[i..].starts_with(b"use ") {
            let end = code[i..].find(';').map_or(code.len(), |e| i + e);
            expand(&code[i + 4..end], &mut Vec::new(), &mut out);
            i = end;
            continue;
        }
        if starts_word
            && [&b"crate::"[..], b"super::", b"self::"]
                .iter()
                .any(|p| bytes[i..].starts_with(p))
        {
            let mut j = i;
            while j < code.len() && (ident(bytes[j]) || bytes[j] == b':') {
                j += 1;
            }
            out.push(
                code[i..j]
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            );
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// Expands one `use` tree (`crate::a::{b, c::{d as e}}`) into its paths.
fn expand(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim().trim_end_matches("::");
        let pushed: Vec<String> = head
            .split("::")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let n = pushed.len();
        prefix.extend(pushed);
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&inner[start..i], prefix, out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&inner[start..], prefix, out);
        prefix.truncate(prefix.len() - n);
    } else {
        let item = tree.split(" as ").next().unwrap_or("").trim();
        if item.is_empty() {
            return;
        }
        let mut path = prefix.clone();
        for seg in item.split("::") {
            // `a::{self, b}` names `a` itself; a leading `self::` is a path of its own.
            if seg != "self" || path.is_empty() {
                path.push(seg.to_string());
            }
        }
        if path
            .first()
            .is_some_and(|s| s == "crate" || s == "super" || s == "self")
        {
            out.push(path);
        }
    }
}

/// ARCHITECTURE.md's layer table: crate → (module prefix → layer), and the upward imports
/// kept with a reason: crate → (from, to).
struct Layers {
    of: BTreeMap<String, Vec<(String, u32)>>,
    kept: BTreeMap<String, BTreeSet<(String, String)>>,
}

impl Layers {
    fn read() -> Layers {
        let text =
            std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
        let mut of: BTreeMap<String, Vec<(String, u32)>> = BTreeMap::new();
        let mut kept: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
        for line in text.lines() {
            let cells: Vec<&str> = line
                .trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect();
            match cells.as_slice() {
                // | crate | layer | modules | …
                [krate, layer, modules, ..] if layer.parse::<u32>().is_ok() => {
                    let layer: u32 = layer.parse().expect("checked");
                    for m in modules.split(',') {
                        let m = m.trim().trim_matches('`').trim_end_matches('/');
                        of.entry(krate.trim_matches('`').to_string())
                            .or_default()
                            .push((m.replace('/', "::"), layer));
                    }
                }
                // | crate | `from` → `to` | reason |
                [krate, edge, reason] if edge.contains('→') && !reason.is_empty() => {
                    let (from, to) = edge.split_once('→').expect("checked");
                    kept.entry(krate.trim_matches('`').to_string())
                        .or_default()
                        .insert((
                            from.trim().trim_matches('`').to_string(),
                            to.trim().trim_matches('`').to_string(),
                        ));
                }
                _ => {}
            }
        }
        Layers { of, kept }
    }

    /// The layer of a module: that of the longest table entry it lies in.
    fn layer(&self, krate: &str, module: &str) -> Option<u32> {
        self.of
            .get(krate)?
            .iter()
            .filter(|(prefix, _)| module == prefix || module.starts_with(&format!("{prefix}::")))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, layer)| *layer)
    }
}

/// Every import circle: the strongly connected components of more than one module.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Kosaraju: finish order on the graph, then components on the reversed graph.
    fn visit<'a>(
        v: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        seen: &mut BTreeSet<&'a str>,
        order: &mut Vec<&'a str>,
    ) {
        if !seen.insert(v) {
            return;
        }
        for w in graph.get(v).into_iter().flatten() {
            visit(w, graph, seen, order);
        }
        order.push(v);
    }
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    for v in graph.keys() {
        visit(v, graph, &mut seen, &mut order);
    }
    let mut reversed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (v, ws) in graph {
        for w in ws {
            reversed.entry(w.clone()).or_default().insert(v.clone());
        }
    }
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for v in order.into_iter().rev() {
        let mut component = Vec::new();
        visit(v, &reversed, &mut done, &mut component);
        if component.len() > 1 {
            component.sort();
            out.push(component.into_iter().map(String::from).collect());
        }
    }
    out
}

#[test]
fn layers_hold_and_no_module_imports_in_a_circle() {
    let layers = Layers::read();
    let mut problems = String::new();
    for (krate, dir) in CRATES {
        let source = Source::read(&root().join(dir));
        let graph = source.imports();
        for module in graph.keys() {
            if layers.layer(krate, module).is_none() {
                let _ = writeln!(
                    problems,
                    "{krate}: `{module}` has no layer; add it to the table in ARCHITECTURE.md"
                );
            }
        }
        let kept = layers.kept.get(krate).cloned().unwrap_or_default();
        assert!(
            kept.len() <= 2,
            "{krate} keeps {} upward imports; the rule allows two",
            kept.len()
        );
        for (from, tos) in &graph {
            for to in tos {
                let (Some(lf), Some(lt)) = (layers.layer(krate, from), layers.layer(krate, to))
                else {
                    continue;
                };
                let upward = lt > lf && !kept.contains(&(from.clone(), to.clone()));
                if upward {
                    let _ = writeln!(
                        problems,
                        "{krate}: `{from}` (layer {lf}) imports `{to}` (layer {lt}), a higher layer"
                    );
                }
                let command = |m: &str| m.strip_prefix("commands::").map(str::to_string);
                if let (Some(a), Some(b)) = (command(from), command(to))
                    && a != b
                {
                    let _ = writeln!(
                        problems,
                        "{krate}: the command `{a}` imports the command `{b}`; move what they share into ops/"
                    );
                }
            }
        }
        for circle in circles(&graph) {
            let _ = writeln!(
                problems,
                "{krate}: these modules import each other in a circle: {}",
                circle.join(", ")
            );
        }
    }
    assert!(problems.is_empty(), "\n{problems}");
}

#[test]
fn every_source_file_says_what_it_holds() {
    let mut missing = Vec::new();
    let tests = [
        "core/tests",
        "cli/tests",
        "wasm/tests",
        "tests/support",
        "tests/cluster",
    ];
    for dir in CRATES.iter().map(|(_, dir)| *dir).chain(tests) {
        for (path, text) in Source::read(&root().join(dir)).files.values() {
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            if !first.starts_with("//!") {
                missing.push(path.display().to_string());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "these files do not open with a `//!` line saying what they hold:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_core_does_no_io() {
    let source = Source::read(&root().join("core/src"));
    let mut found = Vec::new();
    for (path, text) in source.files.values() {
        let code = without_tests(&code_only(text));
        for call in IO_CALLS {
            if code.contains(call) {
                found.push(format!("{}: {call}", path.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "voice-core is sans-IO (files, network, processes, environment, clock, threads, \
         printing belong to the cli), but:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_checks_see_what_they_must() {
    // The reader finds each kind of path, so an import cannot hide from the table.
    let code = without_tests(&code_only(
        "use crate::{a::{b, c as d}, e};\n// use crate::f;\nfn x() { super::g::h(); }\n\
         #[cfg(test)]\nmod tests { use crate::i; }\n",
    ));
    let found: Vec<String> = paths(&code).iter().map(|p| p.join("::")).collect();
    assert_eq!(
        found,
        ["crate::a::b", "crate::a::c", "crate::e", "super::g::h"]
    );
    let graph: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "a"), ("c", "a")]
        .iter()
        .map(|(f, t)| (f.to_string(), BTreeSet::from([t.to_string()])))
        .collect();
    assert_eq!(circles(&graph), [["a", "b"]]);
}
