//! A real MCP client for tests: the PyPI package `mcp` (pinned), installed
//! once into a virtualenv under the target directory, driven by
//! `testkit/mcp/client.py`.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// The pinned client package.
pub const MCP: &str = "mcp==2.3.0";

static INSTALL: Mutex<()> = Mutex::new(());

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    )
}

/// The virtualenv's python with `mcp` installed.
pub fn python() -> PathBuf {
    let _one = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let venv = target_dir().join("mcp-client-venv");
    let python = venv.join("bin/python");
    let marker = venv.join(".installed-mcp-2.3.0");
    if marker.exists() {
        return python;
    }
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", MCP])
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        ok,
        "cannot install {MCP}: python3 with venv and pip is needed"
    );
    std::fs::write(&marker, MCP).expect("write the install marker");
    python
}

/// Runs the client with `args` against `url` as `token`; the printed JSON,
/// or `Err` with what the client wrote to standard error.
pub async fn run(url: &str, token: &str, args: &[&str]) -> Result<Value, String> {
    let python = tokio::task::spawn_blocking(python)
        .await
        .expect("install task");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("mcp/client.py");
    let out = tokio::process::Command::new(python)
        .arg(script)
        .arg(url)
        .arg(token)
        .args(args)
        .output()
        .await
        .expect("run the MCP client");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "client printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
