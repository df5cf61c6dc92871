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
}
