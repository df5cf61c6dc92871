//! Property-based testing of the whole API against its own OpenAPI
//! document: schemathesis (pinned, from PyPI, in a virtualenv under
//! `target/`) drives a demo server with generated valid and invalid
//! requests and fails on any server error, any undocumented status code and
//! any reply that does not match its schema.

use super::Result;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

const SCHEMATHESIS: &str = "schemathesis==4.32.5";

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| super::root().join("target"), PathBuf::from)
}

fn venv() -> Result<PathBuf> {
    let venv = target_dir().join("schemathesis-venv");
    let bin = venv.join("bin/schemathesis");
    if bin.exists() {
        return Ok(bin);
    }
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", SCHEMATHESIS])
            .status()
            .is_ok_and(|s| s.success());
    if ok {
        Ok(bin)
    } else {
        Err(format!(
            "cannot install {SCHEMATHESIS}: python3 with venv and pip is needed"
        ))
    }
}

/// Kills the server when the run ends, however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run() -> Result {
    let schemathesis = venv()?;
    super::cargo(&["build", "--locked", "-p", "rosgate"], &[])?;
    let dir = target_dir().join("api-fuzz");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut child = Command::new(target_dir().join("debug/rosgate"))
        .args(["serve", "--demo"])
        .env("ROSGATE_LISTEN", "127.0.0.1:0")
        .env(
            "ROSGATE_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.join("rosgate.db").display()),
        )
        .env("ROSGATE_KEY_FILE", dir.join("key"))
        // The contract is fuzzed, not the budget: thousands of requests by
        // one user would otherwise turn into documented 429s.
        .env("ROSGATE_RATE_LIMITS__ENABLED", "false")
        .env("ROSGATE_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start rosgate: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let server = Server(child);
    let (mut token, mut base) = (None, None);
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref().map_while(std::result::Result::ok) {
        if let Some(rest) = line.trim().strip_prefix("owner@acme.test") {
            token = Some(rest.trim().to_owned());
        }
        if let Some(rest) = line.strip_prefix("rosgate listening on ") {
            base = rest.split_whitespace().next().map(str::to_owned);
            break;
        }
    }
    let (Some(token), Some(base)) = (token, base) else {
        return Err("the demo server did not start".into());
    };
    // Keep reading what the server prints, so it never writes to a closed pipe.
    std::thread::spawn(move || lines.map_while(std::result::Result::ok).for_each(drop));
    let status = Command::new(schemathesis)
        .current_dir(&dir)
        .args(["run", &format!("{base}/openapi.json"), "--url", &format!("{base}/api/v1")])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"])
        .args(["--max-examples", "30", "--seed", "2026", "--workers", "2", "--no-color"])
        .status()
        .map_err(|e| format!("cannot run schemathesis: {e}"))?;
    drop(server);
    if status.success() {
        Ok(())
    } else {
        Err("schemathesis found API contract violations (see above)".into())
    }
}
