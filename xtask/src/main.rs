//! Project automation, run as `cargo xtask <command>`:
//!
//! - `ci`: everything CI checks, in order: services, fmt, clippy, tidy,
//!   the whole test suite on SQLite and again on PostgreSQL, and
//!   `cargo deny`.
//! - `tidy`: the architecture rules that `cargo` cannot express (which
//!   crate may depend on which).
//! - `openapi [--check]`: regenerate (or check) `docs/openapi.json`.
//! - `bench`: the benchmarks whose numbers go into `docs/benchmarks.md`.

mod services;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("tidy") => tidy::check(&root()),
        Some("openapi") => openapi(args.iter().any(|a| a == "--check")),
        Some("bench") => bench(),
        _ => Err("usage: cargo xtask <ci | tidy | openapi [--check] | bench>".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn step(name: &str) {
    eprintln!("\n==> {name}");
}

/// Runs `cargo` with `args` (and extra environment) in the workspace root.
fn cargo(args: &[&str], env: &[(&str, &str)]) -> Result {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(args).current_dir(root());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed", args.join(" ")))
    }
}

fn ci() -> Result {
    step("services: PostgreSQL");
    let pg = services::ensure_postgres()?;
    step("format");
    cargo(&["fmt", "--all", "--check"], &[])?;
    step("clippy");
    cargo(
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    step("tidy");
    tidy::check(&root())?;
    step("tests on SQLite");
    cargo(
        &["test", "--workspace", "--exclude", "bench", "--locked"],
        &[("ROSGATE_TEST_DATABASE", "sqlite")],
    )?;
    step("tests on PostgreSQL");
    let result = cargo(
        &["test", "--workspace", "--exclude", "bench", "--locked"],
        &[
            ("ROSGATE_TEST_DATABASE", "postgres"),
            ("ROSGATE_TEST_POSTGRES_URL", &pg),
        ],
    );
    services::drop_test_databases(&pg);
    result?;
    step("openapi drift");
    openapi(true)?;
    step("cargo deny");
    services::cargo_deny()?;
    eprintln!("\nci: all checks passed");
    Ok(())
}

fn openapi(check: bool) -> Result {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "run", "--quiet", "--locked", "-p", "rosgate", "--", "openapi",
        ])
        .current_dir(root())
        .output()
        .map_err(|e| format!("cannot run rosgate: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`rosgate openapi` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let path = root().join("docs/openapi.json");
    if check {
        let committed = std::fs::read(&path).unwrap_or_default();
        if committed != out.stdout {
            return Err(
                "docs/openapi.json is out of date: run `cargo xtask openapi` and commit it".into(),
            );
        }
        eprintln!("docs/openapi.json matches the code");
        Ok(())
    } else {
        std::fs::write(&path, &out.stdout)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
        Ok(())
    }
}

fn bench() -> Result {
    step("authorization engines (criterion)");
    cargo(
        &["bench", "--locked", "-p", "bench", "--bench", "authz"],
        &[],
    )?;
    eprintln!("\ncopy the summary table above into docs/benchmarks.md with the machine it ran on");
    Ok(())
}
