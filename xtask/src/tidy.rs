//! Architecture rules that `cargo` cannot express, checked against the
//! code so ARCHITECTURE.md stays true:
//!
//! - every workspace member has a class, and the dependency edges the
//!   document lists are exactly the code's (architecture.rs);
//! - domain crates stay pure, infra crates do not lean on each other,
//!   nobody but the test harness and the benchmarks imports the app;
//! - no import cycle between the modules of one crate (modules.rs);
//! - every repository path the document writes in backticks exists
//!   (paths.rs).

mod architecture;
mod modules;
mod paths;

use super::Result;
use architecture::Architecture;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
/// Crates a domain crate must never depend on.
pub const FORBIDDEN_IN_DOMAIN: &[&str] = &[
    "sea-orm",
    "sea-orm-migration",
    "sqlx",
    "fred",
    "redis",
    "poem",
    "poem-openapi",
    "reqwest",
    "hyper",
    "oauth2",
    "jsonwebtoken",
    "openidconnect",
    "lettre",
    "rmcp",
    "figment",
];

/// `cargo metadata` of the workspace members, without dependencies.
pub fn metadata(root: &Path) -> Result<Value> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata output: {e}"))
}

/// A workspace member as `cargo metadata` describes it.
#[derive(Debug)]
pub struct Member {
    /// The package name, as in `cargo -p`.
    pub name: String,
    /// The directory holding its `Cargo.toml`.
    pub dir: PathBuf,
    /// The packages it depends on as normal (not dev or build) dependencies.
    pub normal_deps: BTreeSet<String>,
}

impl Member {
    /// Its normal dependencies that are workspace members, sorted.
    pub fn workspace_deps(&self, members: &BTreeSet<&str>) -> Vec<&String> {
        self.normal_deps
            .iter()
            .filter(|d| members.contains(d.as_str()) && **d != self.name)
            .collect()
    }
}

/// The workspace members listed in `cargo metadata --no-deps` output.
pub fn members(meta: &Value) -> Vec<Member> {
    let empty = Vec::new();
    meta["packages"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|pkg| Member {
            name: pkg["name"].as_str().unwrap_or_default().to_string(),
            dir: Path::new(pkg["manifest_path"].as_str().unwrap_or_default())
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            normal_deps: pkg["dependencies"]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str().map(String::from))
                .collect(),
        })
        .collect()
}

/// Every broken dependency rule, as a sentence; `classes` maps each crate
/// to its class as ARCHITECTURE.md gives it.
pub fn dependency_violations(
    members: &[Member],
    classes: &BTreeMap<String, String>,
) -> Vec<String> {
    let class = |name: &str| classes.get(name).map_or("", String::as_str);
    let mut out = Vec::new();
    for m in members {
        let name = m.name.as_str();
        for dep in m.normal_deps.iter().map(String::as_str) {
            let dep_class = class(dep);
            if class(name) == "domain" {
                if FORBIDDEN_IN_DOMAIN.contains(&dep) {
                    out.push(format!("domain crate `{name}` depends on `{dep}`: domain crates know nothing of SQL, HTTP, Redis or OIDC"));
                }
                if !dep_class.is_empty() && dep_class != "domain" {
                    out.push(format!("domain crate `{name}` depends on the {dep_class} crate `{dep}`: dependencies point inwards, never to adapters"));
                }
            }
            if name == "kernel" && !dep_class.is_empty() {
                out.push(format!(
                    "`kernel` depends on `{dep}`: the kernel imports nothing of ours"
                ));
            }
            // The schema belongs to the storage adapter: `db` runs the migrations.
            if class(name) == "infra" && dep != "migration" && matches!(dep_class, "infra" | "app")
            {
                out.push(format!("infra crate `{name}` depends on `{dep}`: adapters never depend on each other or on the app"));
            }
            if dep_class == "app" && !matches!(class(name), "test" | "bench") {
                out.push(format!("`{name}` depends on the app crate `{dep}`: only the test harness and the benchmarks may"));
            }
        }
    }
    out
}

/// Checks the workspace, failing with every violation listed.
pub fn check(root: &Path) -> Result {
    let members = members(&metadata(root)?);
    let doc_path = root.join("ARCHITECTURE.md");
    let doc = std::fs::read_to_string(&doc_path)
        .map_err(|e| format!("cannot read {}: {e}", doc_path.display()))?;
    let arch = Architecture::parse(&doc);
    let mut v = arch.violations(&members);
    v.extend(dependency_violations(&members, &arch.classes));
    for m in &members {
        let sources = modules::read_sources(&m.dir.join("src"))
            .map_err(|e| format!("cannot read the sources of `{}`: {e}", m.name))?;
        let graph = modules::ModuleGraph::build(&sources);
        v.extend(modules::violations(&m.name, &graph));
    }
    v.extend(paths::violations(root, &doc));
    v.extend(paths::code_map_violations(root, &doc));
    if v.is_empty() {
        eprintln!(
            "tidy: ARCHITECTURE.md matches the code; dependency rules hold; no module imports another that imports it back"
        );
        Ok(())
    } else {
        Err(format!(
            "tidy found {} problem(s):\n  {}",
            v.len(),
            v.join("\n  ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_workspace_is_tidy() {
        check(&crate::root()).unwrap();
    }

    #[test]
    fn a_domain_crate_importing_sea_orm_is_caught() {
        let meta = json!({"packages": [
            {"name": "rbac", "manifest_path": "/w/rbac/Cargo.toml", "dependencies": [{"name": "sea-orm", "kind": null}, {"name": "mockall", "kind": "dev"}]},
            {"name": "tenancy", "manifest_path": "/w/tenancy/Cargo.toml", "dependencies": [{"name": "db", "kind": null}]},
            {"name": "db", "manifest_path": "/w/db/Cargo.toml", "dependencies": [{"name": "redis-store", "kind": null}, {"name": "rosgate", "kind": "dev"}]},
        ]});
        let classes: BTreeMap<String, String> = [
            ("rbac", "domain"),
            ("tenancy", "domain"),
            ("db", "infra"),
            ("redis-store", "infra"),
            ("rosgate", "app"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let v = dependency_violations(&members(&meta), &classes);
        assert_eq!(v.len(), 3, "{v:#?}");
        assert!(v[0].contains("`rbac` depends on `sea-orm`"));
        assert!(v[1].contains("`tenancy` depends on the infra crate `db`"));
        assert!(v[2].contains("infra crate `db` depends on `redis-store`"));
    }
}
