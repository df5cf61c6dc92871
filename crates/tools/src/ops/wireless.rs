//! Wireless interfaces, clients and CAPsMAN, through RouterOS 7's `wifi`
//! menus (7.24 has no `wireless` or `caps-man`). A device without the
//! package has none.

use crate::call::{DeviceCall, ToolResult};

pub async fn interfaces(c: &DeviceCall<'_>) -> ToolResult {
    c.optional("interface/wifi", "wireless interfaces").await
}

pub async fn clients(c: &DeviceCall<'_>) -> ToolResult {
    c.optional("interface/wifi/registration-table", "wireless clients")
        .await
}

pub async fn capsman_remote_caps(c: &DeviceCall<'_>) -> ToolResult {
    c.optional("interface/wifi/capsman/remote-cap", "CAPs")
        .await
}

pub async fn capsman_registrations(c: &DeviceCall<'_>) -> ToolResult {
    c.optional("interface/wifi/registration-table", "CAPsMAN registrations")
        .await
}
