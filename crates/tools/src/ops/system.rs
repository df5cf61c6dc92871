//! The device itself: identity, RouterOS version and resources, packages,
//! clock; and renaming it.

use crate::args::Args;
use crate::call::{
    DeviceCall, DeviceReader, ToolResult, confirm, field, finding, output, project, trimmed,
};
use audit::intents::Finding;
use serde_json::json;

pub async fn overview(c: &DeviceCall<'_>) -> ToolResult {
    let r = c.get("system/resource").await?;
    let id = c.get("system/identity").await?;
    let total: f64 = field(&r, "total-memory").parse().unwrap_or(0.0);
    let free: f64 = field(&r, "free-memory").parse().unwrap_or(0.0);
    let used_pct = if total > 0.0 {
        ((total - free) / total * 1000.0).round() / 10.0
    } else {
        0.0
    };
    output(
        format!(
            "{} runs RouterOS {} on {}",
            field(&id, "name"),
            field(&r, "version"),
            field(&r, "board-name")
        ),
        json!({
            "identity": field(&id, "name"),
            "version": field(&r, "version"),
            "board": field(&r, "board-name"),
            "architecture": field(&r, "architecture-name"),
            "cpu_load_percent": field(&r, "cpu-load").parse::<u32>().unwrap_or(0),
            "cpu_count": field(&r, "cpu-count").parse::<u32>().unwrap_or(0),
            "memory_total_bytes": total as u64,
            "memory_free_bytes": free as u64,
            "memory_used_percent": used_pct,
            "uptime": field(&r, "uptime"),
        }),
    )
}

pub async fn packages(c: &DeviceCall<'_>) -> ToolResult {
    let l = project(
        c.list("system/package").await?,
        &["name", "version", "disabled"],
    );
    output(format!("{} packages", l.len()), json!({"packages": l}))
}

pub async fn clock(c: &DeviceCall<'_>) -> ToolResult {
    let clock = c.get("system/clock").await?;
    output(
        format!(
            "{} {} ({})",
            field(&clock, "date"),
            field(&clock, "time"),
            field(&clock, "time-zone-name")
        ),
        clock,
    )
}

pub async fn set_identity(c: &DeviceCall<'_>) -> ToolResult {
    let wanted = c.args.str("identity").unwrap_or_default().trim().to_owned();
    let before = c.get("system/identity").await?;
    let current = field(&before, "name").to_owned();
    if current == wanted {
        return output(
            format!("identity is already {wanted}"),
            json!({"changed": false, "identity": wanted}),
        );
    }
    if c.args.dry_run() {
        return output(
            format!("would rename {current} to {wanted}"),
            json!({"dry_run": true, "changed": false, "from": current, "to": wanted}),
        );
    }
    c.post("system/identity/set", json!({"name": wanted}))
        .await?;
    let after = c.get("system/identity").await?;
    confirm(field(&after, "name") == wanted, || {
        format!("identity reads {}", field(&after, "name"))
    })?;
    output(
        format!("renamed {current} to {wanted}"),
        json!({"changed": true, "from": current, "to": wanted}),
    )
}

pub async fn identity_in_place(r: &DeviceReader<'_>, args: &Args) -> Result<Finding, Finding> {
    let name = field(&r.get("system/identity").await?, "name").to_owned();
    let wanted = trimmed(args, "identity");
    Ok(finding(name == wanted, format!("identity is {name:?}")))
}
