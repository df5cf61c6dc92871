//! Project automation, run as `cargo xtask <command>`:
//!
//! - `ci`: everything CI checks, in order: services, fmt, clippy, tidy,
//!   the examples, the whole test suite on SQLite and again on PostgreSQL, and
//!   `cargo deny`.
//! - `tidy`: the architecture rules that `cargo` cannot express (which
//!   crate may depend on which, no import cycle between modules) and
//!   ARCHITECTURE.md held against the code (crate classes, dependency
//!   edges, the paths it names).
//! - `openapi [--check]`: regenerate (or check) `docs/openapi.json`.
//! - `fuzz`: schemathesis against a demo server and its OpenAPI document.
//! - `bench`: the benchmarks whose numbers go into `docs/benchmarks.md`.

#![allow(clippy::print_stdout)] // a command-line tool: printing is its job

mod fuzz;
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
        Some("fuzz") => fuzz::run(),
        _ => Err("usage: cargo xtask <ci | tidy | openapi [--check] | fuzz | bench>".into()),
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

/// Runs the test suite with `env`, echoing its output, and returns the
/// number of tests passed and failed.
fn cargo_test(env: &[(&str, &str)]) -> Result<(usize, usize)> {
    use std::io::{BufRead, BufReader};
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["test", "--workspace", "--exclude", "bench", "--locked"])
        .current_dir(root())
        .stdout(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|e| format!("cannot run cargo: {e}"))?;
    let (mut passed, mut failed) = (0, 0);
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out)
            .lines()
            .map_while(std::result::Result::ok)
        {
            println!("{line}");
            if let Some(rest) = line.strip_prefix("test result: ") {
                passed += count(rest, " passed");
                failed += count(rest, " failed");
            }
        }
    }
    let status = child.wait().map_err(|e| format!("cargo test: {e}"))?;
    if status.success() {
        Ok((passed, failed))
    } else {
        Err("`cargo test` failed".into())
    }
}

/// The number before `label` in a `test result:` line.
fn count(line: &str, label: &str) -> usize {
    line.split(';')
        .find(|part| part.trim_end().ends_with(label.trim()))
        .and_then(|part| part.split_whitespace().rev().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn ci() -> Result {
    step("services: PostgreSQL, Redis, Node.js");
    let pg = services::ensure_postgres()?;
    let redis = services::ensure_redis()?;
    services::ensure_node()?;
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
    step("examples");
    run_examples()?;
    step("tests on SQLite");
    let (sqlite_passed, _) = cargo_test(&[
        ("ROSGATE_TEST_DATABASE", "sqlite"),
        ("ROSGATE_TEST_REDIS_URL", &redis),
    ])?;
    step("tests on PostgreSQL");
    let result = cargo_test(&[
        ("ROSGATE_TEST_DATABASE", "postgres"),
        ("ROSGATE_TEST_POSTGRES_URL", &pg),
        ("ROSGATE_TEST_REDIS_URL", &redis),
    ]);
    services::drop_test_databases(&pg);
    let (pg_passed, _) = result?;
    step("openapi drift");
    openapi(true)?;
    step("API contract fuzzing (schemathesis)");
    fuzz::run()?;
    step("cargo deny");
    services::cargo_deny()?;
    eprintln!("\nall checks passed: {sqlite_passed} tests on SQLite, {pg_passed} on PostgreSQL");
    println!("ci: {} passed, 0 failed", sqlite_passed + pg_passed);
    Ok(())
}

/// The workspace's examples (`examples/*.rs` of each crate), as
/// (package, example) pairs, from `cargo metadata`.
fn examples(meta: &serde_json::Value) -> Vec<(String, String)> {
    let empty = Vec::new();
    let mut out = Vec::new();
    for pkg in meta["packages"].as_array().unwrap_or(&empty) {
        for target in pkg["targets"].as_array().unwrap_or(&empty) {
            let is_example = target["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "example"));
            if is_example {
                let name = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
                out.push((name(&pkg["name"]), name(&target["name"])));
            }
        }
    }
    out
}

/// Runs every example, so the code shown to embedders keeps working.
fn run_examples() -> Result {
    for (package, example) in examples(&tidy::metadata(&root())?) {
        cargo(
            &["run", "--locked", "-p", &package, "--example", &example],
            &[],
        )?;
    }
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
        let tools = root().join("docs/tools.md");
        std::fs::write(&tools, tools::doc::markdown())
            .map_err(|e| format!("cannot write {}: {e}", tools.display()))?;
        eprintln!("wrote {}", tools.display());
        Ok(())
    }
}

fn bench() -> Result {
    step("services: PostgreSQL, Redis");
    let pg = services::ensure_postgres()?;
    let redis = services::ensure_redis()?;
    let env = [
        ("ROSGATE_BENCH_POSTGRES_URL", pg.as_str()),
        ("ROSGATE_BENCH_REDIS_URL", redis.as_str()),
        // The loopback load run starts rosgate through the test harness.
        ("ROSGATE_TEST_POSTGRES_URL", pg.as_str()),
        ("ROSGATE_TEST_REDIS_URL", redis.as_str()),
    ];
    for (name, what) in [
        ("authz", "authorization engines (criterion)"),
        (
            "ratelimit",
            "rate-limit checks: in-process, Redis, bare INCR",
        ),
        ("export", "audit export: CSV of 1M events"),
        (
            "audit",
            "audit: group commit vs one insert per event, SQLite and PostgreSQL",
        ),
        (
            "load",
            "the API on loopback: 64 callers, one audit event per request",
        ),
    ] {
        step(what);
        cargo(&["bench", "--locked", "-p", "bench", "--bench", name], &env)?;
    }
    eprintln!("\ncopy the summary table above into docs/benchmarks.md with the machine it ran on");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples_are_found_in_cargo_metadata() {
        let meta = serde_json::json!({"packages": [
            {"name": "rbac", "targets": [
                {"name": "rbac", "kind": ["lib"]},
                {"name": "decide", "kind": ["example"]},
            ]},
            {"name": "kernel", "targets": [{"name": "kernel", "kind": ["lib"]}]},
        ]});
        assert_eq!(
            super::examples(&meta),
            [("rbac".to_string(), "decide".to_string())]
        );
    }

    #[test]
    fn counts_are_read_from_test_result_lines() {
        let line =
            "ok. 21 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 8.22s";
        assert_eq!(super::count(line, " passed"), 21);
        assert_eq!(super::count(line, " failed"), 2);
    }
}
