//! Architecture rules checked from `cargo metadata`: domain crates stay
//! pure, infra crates do not lean on each other, nobody but the composition
//! root and its test harness imports `rosgate`.

use super::Result;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Pure domain crates: models, services and ports only.
pub const DOMAIN: &[&str] = &[
    "kernel",
    "tenancy",
    "rbac",
    "policy",
    "approval",
    "audit",
    "compliance",
    "tools",
];
/// Adapters implementing domain ports.
pub const INFRA: &[&str] = &[
    "db",
    "redis-store",
    "oidc",
    "notify",
    "routeros",
    "seal",
    "migration",
];
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

fn metadata(root: &Path) -> Result<Value> {
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

/// Every broken rule, as a sentence.
pub fn violations(meta: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let empty = Vec::new();
    for pkg in meta["packages"].as_array().unwrap_or(&empty) {
        let name = pkg["name"].as_str().unwrap_or_default();
        let deps: Vec<(&str, bool)> = pkg["dependencies"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .map(|d| (d["name"].as_str().unwrap_or_default(), d["kind"].is_null()))
            .collect();
        for (dep, normal) in deps {
            if DOMAIN.contains(&name) && normal {
                if FORBIDDEN_IN_DOMAIN.contains(&dep) {
                    out.push(format!("domain crate `{name}` depends on `{dep}`: domain crates know nothing of SQL, HTTP, Redis or OIDC"));
                }
                if INFRA.contains(&dep) || dep == "rosgate" || dep == "testkit" {
                    out.push(format!("domain crate `{name}` depends on `{dep}`: dependencies point inwards, never to adapters"));
                }
                if name == "kernel" && (DOMAIN.contains(&dep) || INFRA.contains(&dep)) {
                    out.push(format!(
                        "`kernel` depends on `{dep}`: the kernel imports nothing of ours"
                    ));
                }
            }
            if INFRA.contains(&name)
                && normal
                && dep != "migration"
                && (INFRA.contains(&dep) || dep == "rosgate")
            {
                out.push(format!("infra crate `{name}` depends on `{dep}`: adapters never depend on each other or on the app"));
            }
            if dep == "rosgate" && !["testkit", "bench"].contains(&name) && normal {
                out.push(format!(
                    "`{name}` depends on the app crate: only the harness may"
                ));
            }
        }
    }
    out
}

/// Checks the workspace, failing with every violation listed.
pub fn check(root: &Path) -> Result {
    let v = violations(&metadata(root)?);
    if v.is_empty() {
        eprintln!("tidy: dependency rules hold");
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
            {"name": "rbac", "dependencies": [{"name": "sea-orm", "kind": null}, {"name": "mockall", "kind": "dev"}]},
            {"name": "tenancy", "dependencies": [{"name": "db", "kind": null}]},
            {"name": "db", "dependencies": [{"name": "redis-store", "kind": null}]},
        ]});
        let v = violations(&meta);
        assert_eq!(v.len(), 3, "{v:#?}");
        assert!(v[0].contains("`rbac` depends on `sea-orm`"));
    }
}
