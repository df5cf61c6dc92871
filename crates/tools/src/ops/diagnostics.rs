//! Whether the device answers, and what it sees of the network: ping and
//! traceroute run on the device.

use crate::call::{DeviceCall, ToolResult, field, items, output};
use serde_json::{Value, json};

pub async fn check_connectivity(c: &DeviceCall<'_>) -> ToolResult {
    let started = c.clock.now();
    let r = c.get("system/resource").await?;
    let ms = (c.clock.now() - started).whole_milliseconds();
    output(
        format!(
            "{} answers over REST (RouterOS {})",
            c.device.name,
            field(&r, "version")
        ),
        json!({"reachable": true, "transport": "rest", "latency_ms": ms, "version": field(&r, "version")}),
    )
}

pub async fn ping(c: &DeviceCall<'_>) -> ToolResult {
    let target = c.args.str("target").unwrap_or_default();
    let count = c.args.int("count").unwrap_or(4);
    let size = c.args.int("packet_size").unwrap_or(64);
    let replies = items(
        c.post(
            "tool/ping",
            json!({"address": target, "count": count.to_string(), "size": size.to_string()}),
        )
        .await?,
    );
    let last = replies.last().cloned().unwrap_or(Value::Null);
    output(
        format!(
            "{target}: {} sent, {} received",
            field(&last, "sent"),
            field(&last, "received")
        ),
        json!({"target": target, "sent": field(&last, "sent"), "received": field(&last, "received"),
               "packet_loss": field(&last, "packet-loss"), "replies": replies}),
    )
}

pub async fn traceroute(c: &DeviceCall<'_>) -> ToolResult {
    let target = c.args.str("target").unwrap_or_default();
    let hops = items(
        c.post(
            "tool/traceroute",
            json!({"address": target, "count": "1", "max-hops": c.args.int("max_hops").unwrap_or(30).to_string()}),
        )
        .await?,
    );
    let reached = hops.iter().any(|h| field(h, "address") == target);
    output(
        format!("{} hops to {target}", hops.len()),
        json!({"target": target, "reached_target": reached, "hops": hops}),
    )
}
