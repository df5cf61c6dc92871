//! No import cycle between the modules of one crate: a lower module never
//! imports a higher one, so each module can be read, tested and moved with
//! only what lies below it.
//!
//! The graph, per workspace crate, read from `src/**/*.rs`:
//!
//! - **Nodes** are the top-level modules under `src/` (`src/a.rs` or
//!   `src/a/mod.rs` is `a`) and, for a module that is a directory, its
//!   children one level deeper (`src/a/b.rs` is `a::b`). Anything deeper
//!   belongs to its two-level ancestor, and so do inline `mod x { … }`
//!   blocks. The crate root (`lib.rs`, `main.rs`) is no node.
//! - **Edges** come from paths in code (not in comments or strings):
//!   `crate::…`, `super::…`, `self::…` and paths that start with the name
//!   of a child module, in `use` items and in expressions alike. A path is
//!   followed through the `use` imports of the module it names, so
//!   `crate::AppState` re-exported by the root from `state` is an edge to
//!   `state`.
//! - **Not edges**: a child naming its own parent module (`super::X` in
//!   `src/a/b.rs` where `X` is defined in `a`): a parent is the child's
//!   context; the parent naming its children is an edge as usual. Code
//!   under `#[cfg(test)]` (inline or a `#[cfg(test)] mod tests;` file) is
//!   left out: a test may reach anything.
//!
//! Every strongly connected group of two or more nodes is a cycle and
//! fails tidy.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

/// A module path from the crate root, e.g. `["api", "gate"]`.
type ModulePath = Vec<String>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

/// Splits Rust source into identifiers, `::` and single punctuation,
/// dropping comments, string and character literals and lifetimes.
fn lex(src: &str) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let at = |k: usize| chars.get(k).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_string(&chars, i + 1);
        } else if c == '\'' {
            if at(i + 1) == '\\' {
                i += 3; // the quote, the backslash and the escaped character
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1; // a lifetime or label: its name follows as an ident
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let raw_string = at(i) == '"' || (at(i) == '#' && matches!(at(i + 1), '"' | '#'));
            match (word.as_str(), at(i)) {
                ("r" | "br" | "cr", _) if raw_string => i = skip_raw_string(&chars, i),
                ("b" | "c", '"') => i = skip_string(&chars, i + 1),
                ("b", '\'') => {
                    i += 1;
                    if at(i) == '\\' {
                        i += 1;
                    }
                    i += 1;
                    while i < chars.len() && chars[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                }
                ("r", '#') => i += 1, // a raw identifier: its name follows
                _ => tokens.push(Token::Ident(word)),
            }
        } else if c == ':' && at(i + 1) == ':' {
            tokens.push(Token::PathSep);
            i += 2;
        } else {
            tokens.push(Token::Punct(c));
            i += 1;
        }
    }
    tokens
}

/// The index after the closing quote of a string whose body starts at `i`.
fn skip_string(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// The index after a raw string whose `#`s or opening quote start at `i`.
fn skip_raw_string(chars: &[char], mut i: usize) -> usize {
    let mut hashes = 0;
    while chars.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    i += 1; // the opening quote
    while i < chars.len() {
        if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

fn ident(t: Option<&Token>) -> Option<&str> {
    match t {
        Some(Token::Ident(s)) => Some(s),
        _ => None,
    }
}

/// Reads one `use` tree or path starting at `i` under `base`, pushing every
/// full path it names into `out`; returns the index after it.
fn path_tree(t: &[Token], mut i: usize, mut base: ModulePath, out: &mut Vec<ModulePath>) -> usize {
    loop {
        match t.get(i) {
            Some(Token::Ident(s)) if s == "super" => {
                base.pop();
            }
            Some(Token::Ident(s)) if s == "self" => {}
            Some(Token::Ident(s)) => base.push(s.clone()),
            Some(Token::Punct('{')) => {
                i += 1;
                loop {
                    match t.get(i) {
                        Some(Token::Punct('}')) => return i + 1,
                        None => return i,
                        _ => {}
                    }
                    i = path_tree(t, i, base.clone(), out);
                    match t.get(i) {
                        Some(Token::Punct(',')) => i += 1,
                        Some(Token::Punct('}')) => return i + 1,
                        _ => return i,
                    }
                }
            }
            _ => {
                // `*`, or a path that ends before its next segment
                out.push(base);
                return if t.get(i) == Some(&Token::Punct('*')) {
                    i + 1
                } else {
                    i
                };
            }
        }
        i += 1;
        if t.get(i) == Some(&Token::PathSep) {
            i += 1;
        } else {
            if ident(t.get(i)) == Some("as") {
                i += 2;
            }
            out.push(base);
            return i;
        }
    }
}

/// What one file says: the paths it names (with the module it names them
/// from), what its `use` items bring into scope, and which of its child
/// modules exist only under `#[cfg(test)]`.
#[derive(Debug, Default)]
struct FileRefs {
    /// (module the path is written in, absolute path named)
    paths: Vec<(ModulePath, ModulePath)>,
    /// (module, name in scope, absolute path it stands for)
    imports: Vec<(ModulePath, String, ModulePath)>,
    test_modules: Vec<ModulePath>,
}

/// Index after the item starting at `i`: through its first `;` or its
/// first balanced `{ … }`, whichever comes first.
fn skip_item(t: &[Token], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < t.len() {
        match t[i] {
            Token::Punct('{') | Token::Punct('[') | Token::Punct('(') => depth += 1,
            Token::Punct('}') | Token::Punct(']') | Token::Punct(')') => {
                depth = depth.saturating_sub(1);
                if depth == 0 && t[i] == Token::Punct('}') {
                    return i + 1;
                }
            }
            Token::Punct(';') if depth == 0 => return i + 1,
            _ => {}
        }
        i += 1;
    }
    i
}

fn is_cfg_test(t: &[Token], i: usize) -> bool {
    let want = ["#", "[", "cfg", "(", "test", ")", "]"];
    want.iter().enumerate().all(|(k, w)| match t.get(i + k) {
        Some(Token::Punct(c)) => w.len() == 1 && w.starts_with(*c),
        Some(Token::Ident(s)) => s == w,
        _ => false,
    })
}

/// Reads the paths of one file whose module is `module`; `is_module`
/// tells which module paths exist (to recognise paths that start with a
/// child module's name).
fn scan(src: &str, module: &[String], is_module: &dyn Fn(&[String]) -> bool) -> FileRefs {
    let t = lex(src);
    let mut refs = FileRefs::default();
    let mut current: ModulePath = module.to_vec();
    let mut inline: Vec<usize> = Vec::new(); // brace depth of each open inline `mod`
    let mut depth = 0usize;
    let mut i = 0;
    while i < t.len() {
        if is_cfg_test(&t, i) {
            let item = i + 7;
            let end = skip_item(&t, item);
            let words: Vec<&str> = t[item..end].iter().filter_map(|x| ident(Some(x))).collect();
            if let Some(p) = words.iter().position(|w| *w == "mod")
                && t.get(end - 1) == Some(&Token::Punct(';'))
                && let Some(name) = words.get(p + 1)
            {
                let mut child = current.clone();
                child.push((*name).to_string());
                refs.test_modules.push(child);
            }
            i = end;
            continue;
        }
        let prev = if i == 0 { None } else { t.get(i - 1) };
        match &t[i] {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                if inline.last() == Some(&depth) {
                    inline.pop();
                    current.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Ident(w) if w == "mod" && t.get(i + 2) == Some(&Token::Punct('{')) => {
                if let Some(name) = ident(t.get(i + 1)) {
                    current.push(name.to_string());
                    inline.push(depth + 1);
                }
                i += 2;
                continue;
            }
            Token::Ident(w)
                if t.get(i + 1) == Some(&Token::PathSep) && prev != Some(&Token::PathSep) =>
            {
                let visibility = i >= 3
                    && ident(prev) == Some("in")
                    && t[i - 2] == Token::Punct('(')
                    && ident(t.get(i - 3)) == Some("pub");
                let mut child = current.clone();
                child.push(w.clone());
                let base = match w.as_str() {
                    _ if visibility => None,
                    "crate" => Some(Vec::new()),
                    "self" => Some(current.clone()),
                    "super" => Some(current[..current.len().saturating_sub(1)].to_vec()),
                    _ if is_module(&child) => Some(current.clone()),
                    _ => None,
                };
                if let Some(base) = base {
                    let start =
                        if is_module(&child) && !["crate", "self", "super"].contains(&w.as_str()) {
                            i
                        } else {
                            i + 2
                        };
                    let mut out = Vec::new();
                    let end = path_tree(&t, start, base, &mut out);
                    let in_use = ident(prev) == Some("use");
                    for path in out {
                        if in_use && let Some(name) = path.last() {
                            refs.imports
                                .push((current.clone(), name.clone(), path.clone()));
                        }
                        refs.paths.push((current.clone(), path));
                    }
                    i = end.max(i + 1);
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    refs
}

/// The module graph of one crate.
#[derive(Debug, Default)]
pub struct ModuleGraph {
    pub edges: BTreeMap<String, BTreeSet<String>>,
}

/// Source files of one crate: module path and text.
pub type Sources = Vec<(ModulePath, String)>;

/// Every `.rs` file under `src`, with its module path.
pub fn read_sources(src: &Path) -> std::io::Result<Sources> {
    let mut out = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap_or(&path);
            let mut module: ModulePath = rel
                .iter()
                .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            if matches!(module.last().map(String::as_str), Some("mod")) {
                module.pop();
            }
            if module.len() == 1 && (module[0] == "lib" || module[0] == "main") {
                module.clear();
            }
            out.push((module, std::fs::read_to_string(&path)?));
        }
    }
    out.sort();
    Ok(out)
}

/// The graph node a module path belongs to: its first two segments when
/// the first is a directory module, else its first; none for the root.
fn node(path: &[String], modules: &BTreeSet<ModulePath>) -> Option<String> {
    match path {
        [] => None,
        [a, b, ..] if modules.contains(&vec![a.clone(), b.clone()]) => Some(format!("{a}::{b}")),
        [a, ..] => Some(a.clone()),
    }
}

impl ModuleGraph {
    /// Builds the graph from a crate's sources.
    pub fn build(sources: &Sources) -> ModuleGraph {
        let all: BTreeSet<ModulePath> = sources.iter().map(|(m, _)| m.clone()).collect();
        let scans: Vec<FileRefs> = sources
            .iter()
            .map(|(m, text)| scan(text, m, &|p: &[String]| all.contains(p)))
            .collect();
        let tests: Vec<&ModulePath> = scans.iter().flat_map(|s| &s.test_modules).collect();
        let is_test = |m: &ModulePath| tests.iter().any(|t| m.starts_with(t));
        let modules: BTreeSet<ModulePath> = all.iter().filter(|m| !is_test(m)).cloned().collect();
        let mut imports: BTreeMap<(ModulePath, String), ModulePath> = BTreeMap::new();
        for ((m, _), s) in sources.iter().zip(&scans) {
            if is_test(m) {
                continue;
            }
            for (scope, name, target) in &s.imports {
                imports
                    .entry((scope.clone(), name.clone()))
                    .or_insert_with(|| target.clone());
            }
        }
        // The module a path lands in, following `use` imports a few hops.
        let land = |path: &ModulePath| -> ModulePath {
            let mut path = path.clone();
            for _ in 0..8 {
                let k = (0..=path.len())
                    .rev()
                    .find(|k| *k == 0 || modules.contains(&path[..*k]))
                    .unwrap_or(0);
                let Some(next) = path.get(k) else { return path };
                match imports.get(&(path[..k].to_vec(), next.clone())) {
                    Some(target) if *target != path[..=k] => {
                        let mut rerouted = target.clone();
                        rerouted.extend_from_slice(&path[k + 1..]);
                        path = rerouted;
                    }
                    _ => return path[..k].to_vec(),
                }
            }
            path
        };
        let mut graph = ModuleGraph::default();
        for ((m, _), s) in sources.iter().zip(&scans) {
            if is_test(m) {
                continue;
            }
            for (scope, path) in &s.paths {
                let (Some(from), Some(to)) = (node(scope, &modules), node(&land(path), &modules))
                else {
                    continue;
                };
                if from != to && !from.starts_with(&format!("{to}::")) {
                    graph.edges.entry(from.clone()).or_default().insert(to);
                }
            }
        }
        graph
    }

    fn reachable(&self, from: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut queue: VecDeque<&str> = VecDeque::from([from]);
        while let Some(n) = queue.pop_front() {
            for next in self.edges.get(n).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    queue.push_back(next);
                }
            }
        }
        seen
    }

    /// Each group of modules that import each other, sorted, with one
    /// shortest cycle through its first module as an example.
    pub fn cycles(&self) -> Vec<(Vec<String>, Vec<String>)> {
        let nodes: BTreeSet<&String> = self
            .edges
            .iter()
            .flat_map(|(a, bs)| std::iter::once(a).chain(bs))
            .collect();
        let reach: BTreeMap<&String, BTreeSet<String>> =
            nodes.iter().map(|n| (*n, self.reachable(n))).collect();
        let mut done: BTreeSet<String> = BTreeSet::new();
        let mut out = Vec::new();
        for n in &nodes {
            if done.contains(*n) || !reach[n].contains(*n) {
                continue;
            }
            let group: Vec<String> = nodes
                .iter()
                .filter(|m| reach[n].contains(**m) && reach[*m].contains(*n))
                .map(|m| (*m).clone())
                .collect();
            done.extend(group.iter().cloned());
            out.push((group, self.shortest_cycle(n)));
        }
        out
    }

    /// The shortest path from `start` back to itself.
    fn shortest_cycle(&self, start: &str) -> Vec<String> {
        let mut came_from: BTreeMap<String, String> = BTreeMap::new();
        let mut queue: VecDeque<String> = VecDeque::from([start.to_string()]);
        while let Some(n) = queue.pop_front() {
            for next in self.edges.get(&n).into_iter().flatten() {
                if next == start {
                    let mut path = vec![start.to_string(), n.clone()];
                    let mut at = n.clone();
                    while let Some(prev) = came_from.get(&at) {
                        path.push(prev.clone());
                        at = prev.clone();
                    }
                    path.reverse();
                    return path;
                }
                if !came_from.contains_key(next) && next != start {
                    came_from.insert(next.clone(), n.clone());
                    queue.push_back(next.clone());
                }
            }
        }
        vec![start.to_string()]
    }
}

/// Every cycle of `package`'s modules, as sentences.
pub fn violations(package: &str, graph: &ModuleGraph) -> Vec<String> {
    graph
        .cycles()
        .iter()
        .map(|(group, example)| {
            format!(
                "modules of `{package}` import each other ({}), e.g. {}: a lower module never imports a higher one",
                group.join(", "),
                example.join(" -> ")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> Sources {
        files
            .iter()
            .map(|(m, text)| {
                let module = if m.is_empty() {
                    Vec::new()
                } else {
                    m.split("::").map(String::from).collect()
                };
                (module, (*text).to_string())
            })
            .collect()
    }

    #[test]
    fn a_cycle_between_two_modules_is_named() {
        let src = tree(&[
            ("", "pub mod a; pub mod b; pub use b::Thing;"),
            (
                "a",
                "use crate::Thing; // crate::c::X in a comment is no edge\n",
            ),
            (
                "b",
                "pub struct Thing; fn f() { let _ = \"crate::c::X\"; crate::a::g(); }",
            ),
            ("c", "pub struct X;"),
        ]);
        let graph = ModuleGraph::build(&src);
        let v = violations("demo", &graph);
        assert_eq!(v.len(), 1, "{v:#?}");
        assert!(
            v[0].contains("(a, b)") && v[0].contains("a -> b -> a"),
            "{}",
            v[0]
        );
    }

    #[test]
    fn children_may_name_their_parent_and_tests_may_name_anything() {
        let src = tree(&[
            ("", "mod p; mod q;"),
            ("p", "mod x; mod y; pub struct Config; use x::Run;"),
            (
                "p::x",
                "use super::Config; pub struct Run; use super::y::{self, Y as Why};",
            ),
            (
                "p::y",
                "pub struct Y; #[cfg(test)] mod tests { use crate::q::Q; }",
            ),
            (
                "q",
                "pub struct Q; use crate::p::Config; #[cfg(test)] mod t;",
            ),
            ("q::t", "use crate::p::x::Run;"),
        ]);
        let graph = ModuleGraph::build(&src);
        assert!(graph.cycles().is_empty(), "{:?}", graph.edges);
        assert_eq!(graph.edges["p"], BTreeSet::from(["p::x".to_string()]));
        assert!(graph.edges["p::x"].contains("p::y"));
    }

    #[test]
    fn a_cycle_through_siblings_of_a_directory_is_found() {
        let src = tree(&[
            ("api", "pub mod auth; pub mod problem;"),
            (
                "api::auth",
                "use super::problem::Problem; pub struct Caller;",
            ),
            (
                "api::problem",
                "pub struct Problem; fn f(_: &crate::api::auth::Caller) {}",
            ),
        ]);
        let cycles = ModuleGraph::build(&src).cycles();
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].0, ["api::auth", "api::problem"]);
    }

    #[test]
    fn comments_strings_and_characters_hide_paths() {
        let src = "let q = '\\''; let s = r#\"crate::x\"#; /* crate::y /* nested */ */ \
                   let b = b'\\\\'; fn f<'a>(_: &'a str) {} // crate::z\n crate::real::f();";
        let words: Vec<Token> = lex(src)
            .into_iter()
            .filter(|t| matches!(t, Token::Ident(w) if w == "crate" || w == "real"))
            .collect();
        assert_eq!(
            words,
            [Token::Ident("crate".into()), Token::Ident("real".into())]
        );
    }
}
