//! Bridges and their ports.

use crate::call::{DeviceCall, ToolResult};

pub async fn bridges(c: &DeviceCall<'_>) -> ToolResult {
    c.table("interface/bridge", "bridges").await
}

pub async fn ports(c: &DeviceCall<'_>) -> ToolResult {
    c.table("interface/bridge/port", "bridge ports").await
}
