//! The firewall: filter and NAT rules, address lists; adding to and
//! removing from `mcp-` address lists; and planning filter rules to add or
//! remove across devices.

use crate::args::Args;
use crate::call::{
    DeviceCall, DeviceReader, ToolResult, confirm, field, finding, given, items, output, trimmed,
};
use crate::device::{RestMethod, RestRequest};
use crate::output::ToolError;
use crate::plan::model::Change;
use audit::intents::Finding;
use serde_json::{Value, json};

pub async fn filter_rules(c: &DeviceCall<'_>) -> ToolResult {
    c.table("ip/firewall/filter", "filter rules").await
}

pub async fn nat_rules(c: &DeviceCall<'_>) -> ToolResult {
    c.table("ip/firewall/nat", "NAT rules").await
}

pub async fn address_lists(c: &DeviceCall<'_>) -> ToolResult {
    let all = c.list("ip/firewall/address-list").await?;
    let l: Vec<Value> = match c.args.str("list_name") {
        Some(name) => all
            .into_iter()
            .filter(|e| field(e, "list") == name)
            .collect(),
        None => all,
    };
    output(
        format!("{} address-list entries", l.len()),
        json!({"entries": l}),
    )
}

pub async fn update_address_list(c: &DeviceCall<'_>) -> ToolResult {
    let list = c.args.str("list_name").unwrap_or_default().to_owned();
    if !list.starts_with("mcp-") {
        return Err(ToolError::Refused(format!(
            "only lists whose name starts with `mcp-` may be changed here, not {list:?}"
        )));
    }
    let address = c.args.str("address").unwrap_or_default().to_owned();
    let entries = c.list("ip/firewall/address-list").await?;
    let found: Vec<&Value> = entries
        .iter()
        .filter(|e| field(e, "list") == list && field(e, "address") == address)
        .collect();
    match c.args.str("action").unwrap_or("add") {
        "remove" => remove_from_list(c, &list, &address, &found).await,
        _ => add_to_list(c, &list, &address, found.first().copied()).await,
    }
}

async fn remove_from_list(
    c: &DeviceCall<'_>,
    list: &str,
    address: &str,
    found: &[&Value],
) -> ToolResult {
    if found.is_empty() {
        return output(
            format!("{address} is not in {list}"),
            json!({"changed": false}),
        );
    }
    let ids: Vec<String> = found.iter().map(|e| field(e, ".id").to_owned()).collect();
    if c.args.dry_run() {
        return output(
            format!("would remove {address} from {list}"),
            json!({"dry_run": true, "changed": false, "ids": ids}),
        );
    }
    for id in &ids {
        c.call(RestRequest::new(
            RestMethod::Delete,
            format!("ip/firewall/address-list/{id}"),
            None,
        ))
        .await?;
    }
    output(
        format!("removed {address} from {list}"),
        json!({"changed": true, "ids": ids}),
    )
}

async fn add_to_list(
    c: &DeviceCall<'_>,
    list: &str,
    address: &str,
    found: Option<&Value>,
) -> ToolResult {
    if let Some(e) = found {
        return output(
            format!("{address} is already in {list}"),
            json!({"changed": false, "id": field(e, ".id")}),
        );
    }
    if c.args.dry_run() {
        return output(
            format!("would add {address} to {list}"),
            json!({"dry_run": true, "changed": false}),
        );
    }
    let mut body = json!({"list": list, "address": address});
    for (arg, key) in [("comment", "comment"), ("timeout", "timeout")] {
        if let Some(v) = c.args.str(arg).filter(|v| !v.is_empty()) {
            body[key] = Value::from(v);
        }
    }
    let created = c
        .call(RestRequest::new(
            RestMethod::Put,
            "ip/firewall/address-list",
            Some(body),
        ))
        .await?;
    let id = field(&created, ".id").to_owned();
    let back = c.get(&format!("ip/firewall/address-list/{id}")).await?;
    confirm(field(&back, "list") == list, || {
        format!("entry {id} reads list {}", field(&back, "list"))
    })?;
    output(
        format!("added {address} to {list} as {id}"),
        json!({"changed": true, "id": id}),
    )
}

pub async fn address_list_in_place(r: &DeviceReader<'_>, args: &Args) -> Result<Finding, Finding> {
    let (list, address) = (trimmed(args, "list_name"), trimmed(args, "address"));
    let wanted = args.str("action").unwrap_or("add") != "remove";
    if wanted && args.str("timeout").is_some_and(|t| !t.is_empty()) {
        return Err(Finding::Unreadable(
            "the entry was added with a timeout, after which the device drops it".into(),
        ));
    }
    let present = items(r.get("ip/firewall/address-list").await?)
        .iter()
        .any(|e| field(e, "list") == list && field(e, "address") == address);
    Ok(finding(
        present == wanted,
        format!(
            "{address} is {}in {list}",
            if present { "" } else { "not " }
        ),
    ))
}

pub fn plan_add_rule(args: &Args) -> Result<Change, ToolError> {
    let s = |name| given(args, name);
    if s("dst_port").is_some() && !matches!(args.str("protocol"), Some("tcp" | "udp")) {
        return Err(ToolError::Refused(
            "dst_port needs protocol tcp or udp".into(),
        ));
    }
    Ok(Change::AddFirewallRule {
        chain: s("chain").unwrap_or_default(),
        action: s("action").unwrap_or_default(),
        src_address: s("src_address"),
        dst_address: s("dst_address"),
        protocol: s("protocol"),
        dst_port: s("dst_port"),
        comment: s("comment"),
    })
}

pub fn plan_remove_rule(args: &Args) -> Result<Change, ToolError> {
    Ok(Change::RemoveFirewallRule {
        rule_id: given(args, "rule_id").unwrap_or_default(),
    })
}
