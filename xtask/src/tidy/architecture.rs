//! What ARCHITECTURE.md says about the crates, read so that tidy can hold it
//! against `cargo metadata`: the class of every workspace member ("Crate
//! classes") and the workspace crates each one depends on ("Dependency
//! edges"). Both are fenced blocks of `name: list` / `name -> list` lines,
//! so the document stays readable and the check stays exact.

use super::Member;
use std::collections::{BTreeMap, BTreeSet};

/// The classes a workspace member can have, with what each means.
pub const CLASSES: &[(&str, &str)] = &[
    (
        "domain",
        "models, services and ports; no SQL, HTTP, Redis or OIDC",
    ),
    ("infra", "adapters that implement domain ports"),
    ("app", "the composition root"),
    ("test", "harnesses and doubles for tests"),
    ("bench", "benchmarks"),
    ("tool", "project automation"),
];

/// Written in place of a list for a crate that depends on no workspace crate.
pub const NO_EDGES: &str = "(none)";

/// The two blocks of ARCHITECTURE.md that tidy holds against the code.
#[derive(Debug, Default)]
pub struct Architecture {
    /// crate -> class
    pub classes: BTreeMap<String, String>,
    /// crate -> the workspace crates it depends on, in the document's order
    pub edges: BTreeMap<String, Vec<String>>,
    /// Problems found while reading the blocks themselves.
    pub malformed: Vec<String>,
}

/// The lines of the first fenced block after the `## {title}` heading.
fn block<'a>(doc: &'a str, title: &str) -> Option<Vec<&'a str>> {
    let heading = format!("## {title}");
    let mut lines = doc.lines().skip_while(|l| l.trim() != heading).skip(1);
    lines.find(|l| l.trim_start().starts_with("```"))?;
    Some(
        lines
            .take_while(|l| !l.trim_start().starts_with("```"))
            .filter(|l| !l.trim().is_empty())
            .collect(),
    )
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != NO_EDGES)
        .map(String::from)
        .collect()
}

impl Architecture {
    /// Reads the "Crate classes" and "Dependency edges" blocks.
    pub fn parse(doc: &str) -> Architecture {
        let mut arch = Architecture::default();
        let Some(classes) = block(doc, "Crate classes") else {
            arch.malformed.push("ARCHITECTURE.md has no `## Crate classes` section with a fenced block of `class: crate, crate` lines".into());
            return arch;
        };
        for line in classes {
            let Some((class, crates)) = line.split_once(':') else {
                arch.malformed.push(format!(
                    "ARCHITECTURE.md crate classes: `{line}` is not `class: crate, crate`"
                ));
                continue;
            };
            let class = class.trim();
            if !CLASSES.iter().any(|(c, _)| *c == class) {
                let known: Vec<&str> = CLASSES.iter().map(|(c, _)| *c).collect();
                arch.malformed.push(format!(
                    "ARCHITECTURE.md crate classes: `{class}` is no class; classes are {}",
                    known.join(", ")
                ));
            }
            for name in list(crates) {
                if let Some(other) = arch.classes.insert(name.clone(), class.to_string()) {
                    arch.malformed.push(format!("ARCHITECTURE.md crate classes: `{name}` is both `{other}` and `{class}`: keep one"));
                }
            }
        }
        let Some(edges) = block(doc, "Dependency edges") else {
            arch.malformed.push("ARCHITECTURE.md has no `## Dependency edges` section with a fenced block of `crate -> crate, crate` lines".into());
            return arch;
        };
        for line in edges {
            let Some((name, deps)) = line.split_once("->") else {
                arch.malformed.push(format!("ARCHITECTURE.md dependency edges: `{line}` is not `crate -> crate, crate` (or `crate -> {NO_EDGES}`)"));
                continue;
            };
            let name = name.trim().to_string();
            if arch.edges.insert(name.clone(), list(deps)).is_some() {
                arch.malformed.push(format!(
                    "ARCHITECTURE.md dependency edges: `{name}` has two lines: keep one"
                ));
            }
        }
        arch
    }

    /// Every way the document and the workspace disagree, as sentences that
    /// say which line to change.
    pub fn violations(&self, members: &[Member]) -> Vec<String> {
        let mut out = self.malformed.clone();
        let names: BTreeSet<&str> = members.iter().map(|m| m.name.as_str()).collect();
        for m in members {
            if !self.classes.contains_key(&m.name) {
                let known: Vec<&str> = CLASSES.iter().map(|(c, _)| *c).collect();
                out.push(format!(
                    "`{}` has no class: add it to one line of ARCHITECTURE.md's crate classes ({})",
                    m.name,
                    known.join(", ")
                ));
            }
            let code: Vec<&String> = m.workspace_deps(&names);
            let Some(written) = self.edges.get(&m.name) else {
                out.push(format!(
                    "ARCHITECTURE.md's dependency edges have no line for `{}`: add `{} -> {}`",
                    m.name,
                    m.name,
                    edge_list(code.iter().map(|s| s.as_str()))
                ));
                continue;
            };
            let missing: Vec<&&String> = code.iter().filter(|d| !written.contains(d)).collect();
            let stale: Vec<&String> = written.iter().filter(|d| !code.contains(d)).collect();
            if missing.is_empty() && stale.is_empty() {
                continue;
            }
            let mut why = Vec::new();
            for d in &missing {
                why.push(format!(
                    "Cargo.toml has `{} -> {d}`, the document does not",
                    m.name
                ));
            }
            for d in &stale {
                why.push(format!(
                    "the document has `{} -> {d}`, Cargo.toml does not",
                    m.name
                ));
            }
            let fixed = written
                .iter()
                .filter(|d| code.contains(d))
                .chain(missing.iter().map(|d| **d))
                .map(String::as_str);
            out.push(format!(
                "{}: make its line in ARCHITECTURE.md's dependency edges `{} -> {}`",
                why.join("; "),
                m.name,
                edge_list(fixed)
            ));
        }
        let named: BTreeSet<&String> = self.classes.keys().chain(self.edges.keys()).collect();
        for name in named {
            if !names.contains(name.as_str()) {
                out.push(format!(
                    "ARCHITECTURE.md names `{name}`, which is no workspace member: remove it"
                ));
            }
        }
        out
    }
}

fn edge_list<'a>(deps: impl Iterator<Item = &'a str>) -> String {
    let deps: Vec<&str> = deps.collect();
    if deps.is_empty() {
        NO_EDGES.to_string()
    } else {
        deps.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# A\n\n## Crate classes\n\n```\ndomain: kernel, audit\ninfra: db\n```\n\n## Dependency edges\n\n```\nkernel -> (none)\naudit  -> kernel\ndb     -> kernel, audit\n```\n";

    fn member(name: &str, deps: &[&str]) -> Member {
        Member {
            name: name.into(),
            dir: std::path::PathBuf::new(),
            normal_deps: deps.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn a_document_that_matches_the_code_passes() {
        let members = [
            member("kernel", &["serde"]),
            member("audit", &["kernel"]),
            member("db", &["audit", "kernel", "sea-orm"]),
        ];
        assert_eq!(
            Architecture::parse(DOC).violations(&members),
            Vec::<String>::new()
        );
    }

    #[test]
    fn an_edge_missing_from_either_side_names_the_line_to_write() {
        let members = [
            member("kernel", &[]),
            member("audit", &[]),
            member("db", &["audit", "kernel", "tools"]),
            member("tools", &["kernel"]),
        ];
        let v = Architecture::parse(DOC).violations(&members);
        assert!(
            v.iter()
                .any(|s| s.contains("the document has `audit -> kernel`")
                    && s.contains("`audit -> (none)`")),
            "{v:#?}"
        );
        assert!(
            v.iter().any(|s| s.contains("Cargo.toml has `db -> tools`")
                && s.contains("`db -> kernel, audit, tools`")),
            "{v:#?}"
        );
        assert!(
            v.iter().any(|s| s.contains("`tools` has no class")),
            "{v:#?}"
        );
        assert!(
            v.iter()
                .any(|s| s.contains("no line for `tools`: add `tools -> kernel`")),
            "{v:#?}"
        );
    }

    #[test]
    fn a_crate_the_workspace_lacks_must_leave_the_document() {
        let v = Architecture::parse(DOC)
            .violations(&[member("kernel", &[]), member("audit", &["kernel"])]);
        assert!(
            v.iter()
                .any(|s| s.contains("`db`, which is no workspace member")),
            "{v:#?}"
        );
    }
}
