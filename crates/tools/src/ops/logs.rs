//! The device's log and its logging rules.

use crate::call::{DeviceCall, ToolResult, field, output};
use serde_json::{Value, json};

pub async fn recent(c: &DeviceCall<'_>) -> ToolResult {
    let limit = c.args.int("limit").unwrap_or(100) as usize;
    let topics = c.args.list("topics").unwrap_or_default();
    let needle = c.args.str("message").map(str::to_lowercase);
    let lines: Vec<Value> = c
        .list("log")
        .await?
        .into_iter()
        .filter(|l| {
            topics.is_empty()
                || field(l, "topics")
                    .split(',')
                    .any(|tp| topics.iter().any(|w| w == tp))
        })
        .filter(|l| {
            needle
                .as_ref()
                .is_none_or(|n| field(l, "message").to_lowercase().contains(n))
        })
        .collect();
    let skip = lines.len().saturating_sub(limit);
    let l: Vec<Value> = lines.into_iter().skip(skip).collect();
    output(format!("{} log lines", l.len()), json!({"lines": l}))
}

pub async fn config(c: &DeviceCall<'_>) -> ToolResult {
    c.table("system/logging", "logging rules").await
}
