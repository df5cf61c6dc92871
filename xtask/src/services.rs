//! The real services the test suite needs, started or installed when they
//! are missing, or a message saying exactly what to install.

use super::Result;
use std::process::Command;

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

fn run(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

fn quiet(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn pg_ready() -> bool {
    quiet("pg_isready", &["-q", "-h", "127.0.0.1", "-p", "5432"])
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn clusters() -> Vec<String> {
    std::fs::read_dir("/etc/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Makes sure a PostgreSQL server with trust authentication answers on
/// 127.0.0.1:5432 and returns the URL tests should use.
pub fn ensure_postgres() -> Result<String> {
    let url = std::env::var("ROSGATE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_PG.into());
    if url != DEFAULT_PG {
        return Ok(url);
    }
    if !pg_ready() && clusters().is_empty() {
        if !is_root() {
            return Err("PostgreSQL is not running and not installed: install it (Debian: \
                        `apt-get install postgresql`) with trust authentication on 127.0.0.1, or set \
                        ROSGATE_TEST_POSTGRES_URL"
                .into());
        }
        eprintln!("installing PostgreSQL with apt-get");
        if !run("apt-get", &["update", "-qq"])
            || !run("apt-get", &["install", "-y", "-qq", "postgresql"])
        {
            return Err("apt-get could not install postgresql".into());
        }
        trust_local_connections();
    }
    if !pg_ready() {
        for version in clusters() {
            eprintln!("starting PostgreSQL {version}");
            run(
                "pg_ctlcluster",
                &["--skip-systemctl-redirect", &version, "main", "start"],
            );
        }
        for _ in 0..30 {
            if pg_ready() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
    if !pg_ready() {
        return Err(
            "PostgreSQL did not come up on 127.0.0.1:5432; see its log under /var/log/postgresql"
                .into(),
        );
    }
    // The `test` database may be missing on a fresh install.
    let psql = |db: &str, sql: &str| {
        quiet(
            "psql",
            &["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-c", sql],
        )
    };
    if psql("postgres", "select 1") && !psql("test", "select 1") {
        psql("postgres", "create database test");
    }
    Ok(url)
}

/// A fresh Debian install asks for passwords on TCP; tests use trust on loopback.
fn trust_local_connections() {
    for version in clusters() {
        let path = format!("/etc/postgresql/{version}/main/pg_hba.conf");
        let rules =
            "host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust\n";
        if let Ok(old) = std::fs::read_to_string(&path) {
            let _ = std::fs::write(&path, format!("{rules}{old}"));
        }
    }
}

/// Drops the per-test databases a PostgreSQL run created.
pub fn drop_test_databases(url: &str) {
    let list = Command::new("psql")
        .args([
            url,
            "-At",
            "-c",
            "select datname from pg_database where datname like 'rgtest_%'",
        ])
        .output();
    let Ok(out) = list else { return };
    for name in String::from_utf8_lossy(&out.stdout).lines() {
        quiet(
            "psql",
            &[
                url,
                "-q",
                "-c",
                &format!("drop database if exists {name} with (force)"),
            ],
        );
    }
}

/// `cargo deny` for bans, licenses and sources (the advisory database
/// needs the network, which CI does not have).
pub fn cargo_deny() -> Result {
    if !quiet("cargo", &["deny", "--version"]) {
        eprintln!("installing cargo-deny");
        if !run("cargo", &["install", "--locked", "--quiet", "cargo-deny"]) {
            return Err("cargo-deny is not installed and could not be installed: `cargo install --locked cargo-deny`".into());
        }
    }
    if run(
        "cargo",
        &[
            "deny",
            "--all-features",
            "check",
            "bans",
            "licenses",
            "sources",
        ],
    ) {
        Ok(())
    } else {
        Err("cargo deny found a problem (see above)".into())
    }
}
