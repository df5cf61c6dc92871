//! DHCP servers and their bound leases.

use crate::call::{DeviceCall, ToolResult, field, output, project};
use serde_json::{Value, json};

pub async fn server_status(c: &DeviceCall<'_>) -> ToolResult {
    let l = project(
        c.list("ip/dhcp-server").await?,
        &[
            "name",
            "interface",
            "address-pool",
            "lease-time",
            "disabled",
        ],
    );
    output(format!("{} DHCP servers", l.len()), json!({"servers": l}))
}

pub async fn leases(c: &DeviceCall<'_>) -> ToolResult {
    let bound: Vec<Value> = c
        .list("ip/dhcp-server/lease")
        .await?
        .into_iter()
        .filter(|l| field(l, "status") == "bound" && field(l, "disabled") != "true")
        .collect();
    let l = project(
        bound,
        &[
            "address",
            "mac-address",
            "client-id",
            "host-name",
            "server",
            "status",
        ],
    );
    output(format!("{} bound leases", l.len()), json!({"leases": l}))
}
