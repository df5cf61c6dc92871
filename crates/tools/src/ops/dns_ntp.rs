//! DNS and NTP: status, the DNS cache, replacing servers, flushing the
//! cache, and planning a rollout of new servers across devices.

use crate::args::Args;
use crate::call::{
    DeviceCall, DeviceReader, ToolResult, confirm, field, finding, items, output, project,
    servers_of,
};
use crate::output::ToolError;
use crate::plan::model::Change;
use audit::intents::Finding;
use serde_json::json;

pub async fn dns_status(c: &DeviceCall<'_>) -> ToolResult {
    let d = c.get("ip/dns").await?;
    output(
        format!("DNS servers: {}", field(&d, "servers")),
        json!({
            "servers": servers_of(&d),
            "dynamic_servers": field(&d, "dynamic-servers"),
            "allow_remote_requests": field(&d, "allow-remote-requests") == "true",
            "cache_size": field(&d, "cache-size"),
            "cache_used": field(&d, "cache-used"),
        }),
    )
}

pub async fn dns_cache(c: &DeviceCall<'_>) -> ToolResult {
    let all = c.list("ip/dns/cache").await?;
    let total = all.len();
    let limit = c.args.int("limit").unwrap_or(100) as usize;
    let l = project(
        all.into_iter().take(limit).collect(),
        &["name", "type", "data", "ttl"],
    );
    output(
        format!("{} of {total} cache entries", l.len()),
        json!({"total": total, "entries": l}),
    )
}

pub async fn ntp_status(c: &DeviceCall<'_>) -> ToolResult {
    let client = c.get("system/ntp/client").await?;
    let on = field(&client, "enabled") == "true";
    output(
        format!(
            "NTP client {} ({})",
            if on { "on" } else { "off" },
            field(&client, "status")
        ),
        json!({"enabled": on, "servers": servers_of(&client), "status": field(&client, "status"), "client": client}),
    )
}

pub async fn update_dns_servers(c: &DeviceCall<'_>) -> ToolResult {
    let wanted = c.args.list("dns_servers").unwrap_or_default();
    let current = servers_of(&c.get("ip/dns").await?);
    if current == wanted {
        return output(
            "DNS servers unchanged",
            json!({"changed": false, "servers": wanted}),
        );
    }
    if c.args.dry_run() {
        return output(
            format!("would set DNS servers to {}", wanted.join(", ")),
            json!({"dry_run": true, "changed": false, "from": current, "to": wanted}),
        );
    }
    c.post("ip/dns/set", json!({"servers": wanted.join(",")}))
        .await?;
    let after = servers_of(&c.get("ip/dns").await?);
    confirm(after == wanted, || {
        format!("servers read {}", after.join(","))
    })?;
    output(
        format!("DNS servers now {}", wanted.join(", ")),
        json!({"changed": true, "from": current, "to": wanted}),
    )
}

pub async fn dns_servers_in_place(r: &DeviceReader<'_>, args: &Args) -> Result<Finding, Finding> {
    let now = servers_of(&r.get("ip/dns").await?);
    let wanted = args.list("dns_servers").unwrap_or_default();
    Ok(finding(
        now == wanted,
        format!("DNS servers are {:?}", now.join(",")),
    ))
}

/// Flushing leaves nothing to read back: its row has no read-back.
pub async fn flush_dns_cache(c: &DeviceCall<'_>) -> ToolResult {
    let n = items(c.get("ip/dns/cache").await?).len();
    if c.args.dry_run() {
        return output(
            format!("would flush {n} cache entries"),
            json!({"dry_run": true, "changed": false, "entries": n}),
        );
    }
    c.post("ip/dns/cache/flush", json!({})).await?;
    output(
        format!("flushed {n} cache entries"),
        json!({"changed": true, "flushed": n}),
    )
}

pub async fn update_ntp_servers(c: &DeviceCall<'_>) -> ToolResult {
    let wanted = c.args.list("ntp_servers").unwrap_or_default();
    let enabled = c.args.bool("enabled").unwrap_or(true);
    let before = c.get("system/ntp/client").await?;
    let current = servers_of(&before);
    let was_on = field(&before, "enabled") == "true";
    if current == wanted && was_on == enabled {
        return output(
            "NTP unchanged",
            json!({"changed": false, "servers": wanted, "enabled": enabled}),
        );
    }
    if c.args.dry_run() {
        return output(
            format!("would set NTP servers to {}", wanted.join(", ")),
            json!({"dry_run": true, "changed": false, "from": current, "to": wanted, "enabled": enabled}),
        );
    }
    let body = json!({"servers": wanted.join(","), "enabled": if enabled { "yes" } else { "no" }});
    c.post("system/ntp/client/set", body).await?;
    let after = c.get("system/ntp/client").await?;
    confirm(
        servers_of(&after) == wanted && (field(&after, "enabled") == "true") == enabled,
        || {
            format!(
                "client reads servers={} enabled={}",
                field(&after, "servers"),
                field(&after, "enabled")
            )
        },
    )?;
    output(
        format!("NTP servers now {}", wanted.join(", ")),
        json!({"changed": true, "from": current, "to": wanted, "enabled": enabled}),
    )
}

pub async fn ntp_servers_in_place(r: &DeviceReader<'_>, args: &Args) -> Result<Finding, Finding> {
    let client = r.get("system/ntp/client").await?;
    let (now, on) = (servers_of(&client), field(&client, "enabled") == "true");
    let wanted = args.list("ntp_servers").unwrap_or_default();
    let enabled = args.bool("enabled").unwrap_or(true);
    Ok(finding(
        now == wanted && on == enabled,
        format!("NTP servers are {:?}, enabled {on}", now.join(",")),
    ))
}

pub fn plan_rollout(args: &Args) -> Result<Change, ToolError> {
    let dns = args.list("dns_servers");
    let ntp = args.list("ntp_servers");
    if dns.is_none() && ntp.is_none() {
        return Err(ToolError::Refused(
            "give dns_servers, ntp_servers or both".into(),
        ));
    }
    Ok(Change::DnsNtp {
        dns_servers: dns,
        ntp_servers: ntp,
    })
}
