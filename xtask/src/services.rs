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

const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";

fn redis_ready() -> bool {
    Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", "6379", "ping"])
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"PONG"))
}

fn apt_install(packages: &[&str], hint: &str) -> Result {
    if !is_root() {
        return Err(format!(
            "{hint}: install it (Debian: `apt-get install {}`)",
            packages.join(" ")
        ));
    }
    eprintln!("installing {} with apt-get", packages.join(" "));
    let mut args = vec!["install", "-y", "-qq"];
    args.extend_from_slice(packages);
    if !run("apt-get", &["update", "-qq"]) || !run("apt-get", &args) {
        return Err(format!("apt-get could not install {}", packages.join(" ")));
    }
    Ok(())
}

/// Makes sure Redis answers on 127.0.0.1:6379 (starting it without
/// persistence if needed) and returns the URL tests should use.
pub fn ensure_redis() -> Result<String> {
    let url = std::env::var("ROSGATE_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS.into());
    if url != DEFAULT_REDIS || redis_ready() {
        return Ok(url);
    }
    if !quiet("redis-server", &["--version"]) {
        apt_install(&["redis-server"], "Redis is not running and not installed")?;
    }
    if !redis_ready() {
        eprintln!("starting Redis on 127.0.0.1:6379");
        run(
            "redis-server",
            &[
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        );
        for _ in 0..30 {
            if redis_ready() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    if redis_ready() {
        Ok(url)
    } else {
        Err("Redis did not come up on 127.0.0.1:6379; run `redis-server` by hand to see why".into())
    }
}

/// Makes sure Node.js 20+ and npm are there for the test identity provider.
pub fn ensure_node() -> Result {
    let major = Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            let v = String::from_utf8_lossy(&o.stdout)
                .trim()
                .trim_start_matches('v')
                .to_owned();
            v.split('.').next()?.parse::<u32>().ok()
        });
    if major.is_some_and(|m| m >= 20) && quiet("npm", &["--version"]) {
        return Ok(());
    }
    apt_install(
        &["nodejs", "npm"],
        "Node.js 20+ and npm run the test identity provider",
    )?;
    if quiet("npm", &["--version"]) {
        Ok(())
    } else {
        Err("npm is still missing after installing nodejs and npm".into())
    }
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
