//! Every repository path ARCHITECTURE.md writes in backticks exists, so the
//! document cannot keep naming files that have moved.
//!
//! A backticked span (outside fenced blocks) is taken for a path when it has
//! no spaces and either starts with a top-level directory of the repository
//! (`crates/…`, `xtask/…`, `docs/…`) or ends in a source or configuration
//! file extension (`enforce/rest.rs`, `clippy.toml`). It must then name a
//! file or directory under the root, under `crates/`, or under the `src/`
//! of a crate (so `enforce/rest.rs` may stand for
//! `crates/app/src/enforce/rest.rs`). Spans such as `/api/v1` or
//! `tools/call` are not paths by this rule and are left alone.
//!
//! The code map (the fenced block under `## Code map`) is held to the tree
//! both ways: a line indented two spaces names a crate (`tools/`), and
//! every directory under `crates/` has such a line. Lines indented four
//! spaces under a crate name its modules (`rest/`, `wiring.rs`); a crate
//! whose modules are listed must list every file and directory of its
//! `src/` (besides `lib.rs` and `main.rs`), and nothing else.

use std::path::{Path, PathBuf};

/// File extensions that make a backticked span a path.
const PATH_EXTENSIONS: &[&str] = &["rs", "toml", "md", "json", "yml", "yaml", "sql"];

/// The backticked spans of `doc` outside fenced blocks.
fn code_spans(doc: &str) -> Vec<&str> {
    let mut spans = Vec::new();
    let mut fenced = false;
    for line in doc.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            spans.extend(line.split('`').skip(1).step_by(2));
        }
    }
    spans
}

/// The directories a relative path in the document may be relative to.
fn bases(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf(), root.join("crates")];
    let crate_dirs = std::fs::read_dir(root.join("crates"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path());
    out.extend(
        crate_dirs
            .chain([root.join("xtask"), root.join("migrations")])
            .map(|dir| dir.join("src"))
            .filter(|src| src.is_dir()),
    );
    out
}

fn looks_like_path(span: &str, root: &Path) -> bool {
    if span.is_empty() || span.starts_with('/') || span.contains(char::is_whitespace) {
        return false;
    }
    if span.chars().any(|c| "{}*<>|=(),:".contains(c)) {
        return false;
    }
    let top_level = span
        .split_once('/')
        .is_some_and(|(first, _)| !first.is_empty() && root.join(first).is_dir());
    let file = Path::new(span)
        .extension()
        .is_some_and(|e| PATH_EXTENSIONS.iter().any(|x| e == *x));
    top_level || file
}

/// Every path written in `doc` that names nothing in the repository at `root`.
pub fn violations(root: &Path, doc: &str) -> Vec<String> {
    let bases = bases(root);
    let mut out = Vec::new();
    for span in code_spans(doc) {
        if looks_like_path(span, root) && !bases.iter().any(|b| b.join(span).exists()) {
            out.push(format!(
                "ARCHITECTURE.md names `{span}`, which does not exist: write the path it has now"
            ));
        }
    }
    out
}

/// The crates and modules the code map names: each crate line (two spaces
/// of indent) with the module lines (four spaces) under it.
fn code_map(doc: &str) -> Vec<(String, Vec<String>)> {
    let block = doc
        .split_once("## Code map")
        .and_then(|(_, rest)| rest.split_once("```"))
        .and_then(|(_, rest)| rest.split_once("```"))
        .map_or("", |(block, _)| block);
    let mut crates: Vec<(String, Vec<String>)> = Vec::new();
    for line in block.lines() {
        let word = line.split_whitespace().next().unwrap_or_default();
        if line.starts_with("    ") && !line.starts_with("     ") {
            if let Some((_, modules)) = crates.last_mut() {
                modules.push(word.trim_end_matches('/').to_owned());
            }
        } else if line.starts_with("  ") && !line.starts_with("   ") {
            crates.push((word.trim_end_matches('/').to_owned(), Vec::new()));
        }
    }
    crates
}

/// The names in `dir`, directories and files alike, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// Where the code map and the tree at `root` disagree.
pub fn code_map_violations(root: &Path, doc: &str) -> Vec<String> {
    let map = code_map(doc);
    let mut out = Vec::new();
    for dir in entries(&root.join("crates")) {
        if !map.iter().any(|(c, _)| *c == dir) {
            out.push(format!(
                "the code map in ARCHITECTURE.md has no line for `crates/{dir}/`: add one saying what it holds"
            ));
        }
    }
    for (name, modules) in &map {
        let src = root.join("crates").join(name).join("src");
        if !root.join("crates").join(name).is_dir() {
            continue;
        }
        if modules.is_empty() {
            continue;
        }
        let present: Vec<String> = entries(&src)
            .into_iter()
            .filter(|e| e != "lib.rs" && e != "main.rs")
            .map(|e| e.trim_end_matches(".rs").to_owned())
            .collect();
        let listed: Vec<String> = modules
            .iter()
            .map(|m| m.trim_end_matches(".rs").to_owned())
            .collect();
        for p in present.iter().filter(|p| !listed.contains(p)) {
            out.push(format!(
                "the code map lists modules of `{name}/` but not `{p}` (crates/{name}/src): add it"
            ));
        }
        for l in listed.iter().filter(|l| !present.contains(l)) {
            out.push(format!(
                "the code map lists `{l}` under `{name}/`, which crates/{name}/src does not hold: write what it is now"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_in_backticks_must_exist_and_routes_are_no_paths() {
        let root = crate::root();
        let doc = "See `xtask/src/tidy.rs`, `tidy/paths.rs`, `clippy.toml`, `/api/v1`, \
                   `tools/call`, `cargo xtask tidy` and `crates/nothing/here.rs`.\n\
                   ```\n`crates/in/a/fence.rs`\n```\n";
        let v = violations(&root, doc);
        assert_eq!(v.len(), 1, "{v:#?}");
        assert!(v[0].contains("`crates/nothing/here.rs`"));
    }

    #[test]
    fn the_code_map_lists_every_crate_and_the_modules_it_claims_to() {
        let root = crate::root();
        let doc = "## Code map\n```\ncrates/\n  kernel/     ids\n  app/        wiring\n    \
                   wiring.rs  builds\n    nowhere/   gone\n```\n";
        let v = code_map_violations(&root, doc);
        assert!(v.iter().any(|m| m.contains("`crates/tools/`")), "{v:#?}");
        assert!(v.iter().any(|m| m.contains("not `rest`")), "{v:#?}");
        assert!(
            v.iter().any(|m| m.contains("`nowhere` under `app/`")),
            "{v:#?}"
        );
        assert!(!v.iter().any(|m| m.contains("`crates/kernel/`")), "{v:#?}");
    }
}
