//! The advanced single-device writes. Each reads the current state first,
//! does nothing when nothing would change, reports the plan on `dry_run`,
//! addresses items by `.id`, and reads the result back.

use crate::args::{Args, cidr};
use crate::catalogue::Tool;
use crate::port::{DeviceError, DeviceTarget, RestMethod, RestRequest};
use crate::run::{Runner, ToolError, ToolOutput, field, items, network_contains, servers_of};
use serde_json::{Value, json};
use tenancy::Device;

fn done(summary: impl Into<String>, data: Value) -> Result<ToolOutput, ToolError> {
    Ok(ToolOutput {
        summary: summary.into(),
        data: crate::redact::redact(data),
    })
}

pub(crate) async fn run(
    r: &Runner,
    tool: &Tool,
    device: &Device,
    t: &DeviceTarget,
    args: &Args,
) -> Result<ToolOutput, ToolError> {
    let dry = args.dry_run();
    match tool.name {
        "set_system_identity" => {
            let wanted = args.str("identity").unwrap_or_default().trim().to_owned();
            let before = r.read(t, "system/identity").await?;
            let current = field(&before, "name").to_owned();
            if current == wanted {
                return done(
                    format!("identity is already {wanted}"),
                    json!({"changed": false, "identity": wanted}),
                );
            }
            if dry {
                return done(
                    format!("would rename {current} to {wanted}"),
                    json!({"dry_run": true, "changed": false, "from": current, "to": wanted}),
                );
            }
            r.send(
                t,
                RestRequest::new(
                    RestMethod::Post,
                    "system/identity/set",
                    Some(json!({"name": wanted})),
                ),
            )
            .await?;
            let after = r.read(t, "system/identity").await?;
            confirm(field(&after, "name") == wanted, || {
                format!("identity reads {}", field(&after, "name"))
            })?;
            done(
                format!("renamed {current} to {wanted}"),
                json!({"changed": true, "from": current, "to": wanted}),
            )
        }
        "add_secondary_ip_address" => {
            let address = args.str("address").unwrap_or_default().to_owned();
            let interface = args.str("interface").unwrap_or_default().to_owned();
            let existing = items(r.read(t, "ip/address").await?);
            if let Some(clash) = existing
                .iter()
                .find(|e| overlaps(field(e, "address"), &address))
            {
                return Err(ToolError::Refused(format!(
                    "{address} overlaps {} on {} (id {})",
                    field(clash, "address"),
                    field(clash, "interface"),
                    field(clash, ".id")
                )));
            }
            if dry {
                return done(
                    format!("would add {address} to {interface}"),
                    json!({"dry_run": true, "changed": false, "address": address, "interface": interface}),
                );
            }
            let mut body = json!({"address": address, "interface": interface});
            if let Some(c) = args.str("comment").filter(|c| !c.is_empty()) {
                body["comment"] = Value::from(c);
            }
            let created = r
                .send(
                    t,
                    RestRequest::new(RestMethod::Put, "ip/address", Some(body)),
                )
                .await?;
            let id = field(&created, ".id").to_owned();
            if !crate::args::is_item_id(&id) {
                return Err(ToolError::NotConfirmed(
                    "the device returned no id for the new address".into(),
                ));
            }
            let back = r.read(t, &format!("ip/address/{id}")).await?;
            confirm(field(&back, "address") == address, || {
                format!("entry {id} reads {}", field(&back, "address"))
            })?;
            done(
                format!("added {address} to {interface} as {id}"),
                json!({"changed": true, "id": id, "entry": back}),
            )
        }
        "remove_secondary_ip_address" => {
            let id = args.str("address_id").unwrap_or_default().to_owned();
            let entry = match r.read(t, &format!("ip/address/{id}")).await {
                Ok(e) => e,
                Err(ToolError::Device(DeviceError::NotFound)) => {
                    return Err(ToolError::Refused(format!("no address with id {id}")));
                }
                Err(e) => return Err(e),
            };
            let address = field(&entry, "address").to_owned();
            if network_contains(&address, &device.host) {
                return Err(ToolError::Refused(format!(
                    "{address} is the network rosgate reaches {} through ({}); removing it would cut the device off",
                    device.name, device.host
                )));
            }
            if dry {
                return done(
                    format!("would remove {address} ({id})"),
                    json!({"dry_run": true, "changed": false, "entry": entry}),
                );
            }
            r.send(
                t,
                RestRequest::new(RestMethod::Delete, format!("ip/address/{id}"), None),
            )
            .await?;
            match r.read(t, &format!("ip/address/{id}")).await {
                Err(ToolError::Device(DeviceError::NotFound)) => {}
                Ok(_) => return Err(ToolError::NotConfirmed(format!("{id} is still there"))),
                Err(e) => return Err(e),
            }
            done(
                format!("removed {address} ({id})"),
                json!({"changed": true, "removed": entry}),
            )
        }
        "update_dns_servers" => {
            let wanted = args.list("dns_servers").unwrap_or_default();
            let before = r.read(t, "ip/dns").await?;
            let current = servers_of(&before);
            if current == wanted {
                return done(
                    "DNS servers unchanged",
                    json!({"changed": false, "servers": wanted}),
                );
            }
            if dry {
                return done(
                    format!("would set DNS servers to {}", wanted.join(", ")),
                    json!({"dry_run": true, "changed": false, "from": current, "to": wanted}),
                );
            }
            r.send(
                t,
                RestRequest::new(
                    RestMethod::Post,
                    "ip/dns/set",
                    Some(json!({"servers": wanted.join(",")})),
                ),
            )
            .await?;
            let after = servers_of(&r.read(t, "ip/dns").await?);
            confirm(after == wanted, || {
                format!("servers read {}", after.join(","))
            })?;
            done(
                format!("DNS servers now {}", wanted.join(", ")),
                json!({"changed": true, "from": current, "to": wanted}),
            )
        }
        "flush_dns_cache" => {
            let n = items(r.read(t, "ip/dns/cache").await?).len();
            if dry {
                return done(
                    format!("would flush {n} cache entries"),
                    json!({"dry_run": true, "changed": false, "entries": n}),
                );
            }
            r.send(
                t,
                RestRequest::new(RestMethod::Post, "ip/dns/cache/flush", Some(json!({}))),
            )
            .await?;
            done(
                format!("flushed {n} cache entries"),
                json!({"changed": true, "flushed": n}),
            )
        }
        "update_ntp_servers" => {
            let wanted = args.list("ntp_servers").unwrap_or_default();
            let enabled = args.bool("enabled").unwrap_or(true);
            let before = r.read(t, "system/ntp/client").await?;
            let current = servers_of(&before);
            let was_on = field(&before, "enabled") == "true";
            if current == wanted && was_on == enabled {
                return done(
                    "NTP unchanged",
                    json!({"changed": false, "servers": wanted, "enabled": enabled}),
                );
            }
            if dry {
                return done(
                    format!("would set NTP servers to {}", wanted.join(", ")),
                    json!({"dry_run": true, "changed": false, "from": current, "to": wanted, "enabled": enabled}),
                );
            }
            let body =
                json!({"servers": wanted.join(","), "enabled": if enabled { "yes" } else { "no" }});
            r.send(
                t,
                RestRequest::new(RestMethod::Post, "system/ntp/client/set", Some(body)),
            )
            .await?;
            let after = r.read(t, "system/ntp/client").await?;
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
            done(
                format!("NTP servers now {}", wanted.join(", ")),
                json!({"changed": true, "from": current, "to": wanted, "enabled": enabled}),
            )
        }
        "update_firewall_address_list" => {
            let list = args.str("list_name").unwrap_or_default().to_owned();
            if !list.starts_with("mcp-") {
                return Err(ToolError::Refused(format!(
                    "only lists whose name starts with `mcp-` may be changed here, not {list:?}"
                )));
            }
            let address = args.str("address").unwrap_or_default().to_owned();
            let action = args.str("action").unwrap_or("add");
            let entries = items(r.read(t, "ip/firewall/address-list").await?);
            let found: Vec<&Value> = entries
                .iter()
                .filter(|e| field(e, "list") == list && field(e, "address") == address)
                .collect();
            match action {
                "remove" => {
                    if found.is_empty() {
                        return done(
                            format!("{address} is not in {list}"),
                            json!({"changed": false}),
                        );
                    }
                    let ids: Vec<String> =
                        found.iter().map(|e| field(e, ".id").to_owned()).collect();
                    if dry {
                        return done(
                            format!("would remove {address} from {list}"),
                            json!({"dry_run": true, "changed": false, "ids": ids}),
                        );
                    }
                    for id in &ids {
                        r.send(
                            t,
                            RestRequest::new(
                                RestMethod::Delete,
                                format!("ip/firewall/address-list/{id}"),
                                None,
                            ),
                        )
                        .await?;
                    }
                    done(
                        format!("removed {address} from {list}"),
                        json!({"changed": true, "ids": ids}),
                    )
                }
                _ => {
                    if let Some(e) = found.first() {
                        return done(
                            format!("{address} is already in {list}"),
                            json!({"changed": false, "id": field(e, ".id")}),
                        );
                    }
                    if dry {
                        return done(
                            format!("would add {address} to {list}"),
                            json!({"dry_run": true, "changed": false}),
                        );
                    }
                    let mut body = json!({"list": list, "address": address});
                    for (arg, key) in [("comment", "comment"), ("timeout", "timeout")] {
                        if let Some(v) = args.str(arg).filter(|v| !v.is_empty()) {
                            body[key] = Value::from(v);
                        }
                    }
                    let created = r
                        .send(
                            t,
                            RestRequest::new(
                                RestMethod::Put,
                                "ip/firewall/address-list",
                                Some(body),
                            ),
                        )
                        .await?;
                    let id = field(&created, ".id").to_owned();
                    let back = r.read(t, &format!("ip/firewall/address-list/{id}")).await?;
                    confirm(field(&back, "list") == list, || {
                        format!("entry {id} reads list {}", field(&back, "list"))
                    })?;
                    done(
                        format!("added {address} to {list} as {id}"),
                        json!({"changed": true, "id": id}),
                    )
                }
            }
        }
        other => Err(ToolError::Refused(format!(
            "tool {other} is not available yet"
        ))),
    }
}

fn confirm(ok: bool, what: impl FnOnce() -> String) -> Result<(), ToolError> {
    if ok {
        Ok(())
    } else {
        Err(ToolError::NotConfirmed(what()))
    }
}

/// Whether two IPv4 `address/len` entries share addresses.
fn overlaps(a: &str, b: &str) -> bool {
    let (Some((na, la)), Some((nb, lb))) = (cidr(a), cidr(b)) else {
        return false;
    };
    let len = la.min(lb);
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    (u32::from(na) & mask) == (u32::from(nb) & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_is_by_the_shorter_prefix() {
        assert!(overlaps("10.0.0.1/24", "10.0.0.200/32"));
        assert!(overlaps("10.0.0.1/16", "10.0.5.1/24"));
        assert!(!overlaps("10.0.0.1/24", "10.0.1.1/24"));
        assert!(network_contains("192.0.2.1/24", "192.0.2.77"));
        assert!(!network_contains("192.0.2.1/24", "198.51.100.1"));
    }
}
