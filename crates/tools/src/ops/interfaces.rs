//! Interfaces: the list, one by id, and a snapshot of their traffic.

use crate::call::{DeviceCall, ToolResult, field, items, output, project};
use serde_json::json;

pub async fn list(c: &DeviceCall<'_>) -> ToolResult {
    let l = project(
        c.list("interface").await?,
        &[
            "name",
            "type",
            "running",
            "disabled",
            "mtu",
            "actual-mtu",
            "mac-address",
            "comment",
        ],
    );
    output(format!("{} interfaces", l.len()), json!({"interfaces": l}))
}

pub async fn get(c: &DeviceCall<'_>) -> ToolResult {
    c.one("interface", c.args.str("interface_id"), "interface")
        .await
}

pub async fn stats(c: &DeviceCall<'_>) -> ToolResult {
    let names = match c.args.list("interface_names") {
        Some(n) if !n.is_empty() => n,
        _ => c
            .list("interface")
            .await?
            .iter()
            .map(|i| field(i, "name").to_owned())
            .filter(|n| !n.is_empty())
            .take(32)
            .collect(),
    };
    let mut stats = Vec::new();
    for name in names {
        let r = c
            .post(
                "interface/monitor-traffic",
                json!({"interface": name, "once": "true"}),
            )
            .await?;
        stats.extend(project(
            items(r),
            &[
                "name",
                "rx-bits-per-second",
                "tx-bits-per-second",
                "rx-packets-per-second",
                "tx-packets-per-second",
            ],
        ));
    }
    output(
        format!("traffic of {} interfaces", stats.len()),
        json!({"interfaces": stats}),
    )
}
