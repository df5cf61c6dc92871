//! Running a tool on a device through the [`RouterOs`] port.
//!
//! Writes follow three rules the best RouterOS automation keeps: items are
//! addressed by their real `.id`, never by list position; every write is
//! read back and the result says whether the device now holds what was
//! asked; `dry_run` reads and reports without writing. Results are redacted
//! before anyone sees them.

use crate::args::{Args, BadArg, cidr};
use crate::catalogue::Tool;
use crate::port::{DeviceError, DeviceTarget, RestMethod, RestRequest, RouterOs};
use crate::redact::redact;
use kernel::Clock;
use serde_json::{Value, json};
use std::sync::Arc;
use tenancy::Device;

/// What a tool returns: a sentence for people and the data for programs.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    pub summary: String,
    pub data: Value,
}

/// Why a tool did not run to the end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    #[error(transparent)]
    Invalid(#[from] BadArg),
    /// The request is well-formed but unsafe or impossible; nothing changed.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// A write went through but reading it back showed something else.
    #[error("the device did not confirm the change: {0}")]
    NotConfirmed(String),
}

impl ToolError {
    /// The stable code of this failure, the same on every channel and in
    /// the audit trail.
    pub fn code(&self) -> &'static str {
        match self {
            ToolError::Invalid(_) => "invalid_field",
            ToolError::Refused(_) => "tool_refused",
            ToolError::Device(d) => d.code(),
            ToolError::NotConfirmed(_) => "not_confirmed",
        }
    }
}

/// Runs tools against devices.
#[derive(Clone)]
pub struct Runner {
    api: Arc<dyn RouterOs>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Runner")
    }
}

fn out(summary: impl Into<String>, data: Value) -> Result<ToolOutput, ToolError> {
    Ok(ToolOutput {
        summary: summary.into(),
        data: redact(data),
    })
}

/// A menu's items: a list, or a single item, or nothing.
pub(crate) fn items(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// A property as text (empty when absent).
pub(crate) fn field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Keeps only `keys` of each item (plus `.id`), in that order.
fn project(list: Vec<Value>, keys: &[&str]) -> Vec<Value> {
    list.into_iter()
        .map(|item| {
            let mut m = serde_json::Map::new();
            for k in std::iter::once(&".id").chain(keys) {
                if let Some(v) = item.get(*k) {
                    m.insert((*k).to_owned(), v.clone());
                }
            }
            Value::Object(m)
        })
        .collect()
}

/// The comma-separated `servers` property (DNS, NTP) as a list.
pub(crate) fn servers_of(v: &Value) -> Vec<String> {
    field(v, "servers")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Runner {
    pub fn new(api: Arc<dyn RouterOs>, clock: Arc<dyn Clock>) -> Self {
        Self { api, clock }
    }

    /// Whether `intended` is in place on the device (see [`crate::readback`]).
    pub async fn read_back(
        &self,
        t: &DeviceTarget,
        intended: &crate::readback::Intended,
    ) -> audit::intents::Finding {
        crate::readback::read_back(self.api.as_ref(), t, intended).await
    }

    async fn call(&self, t: &DeviceTarget, r: RestRequest) -> Result<Value, ToolError> {
        Ok(self.api.call(t, r).await?)
    }

    async fn get(&self, t: &DeviceTarget, path: &str) -> Result<Value, ToolError> {
        self.call(t, RestRequest::get(path)).await
    }

    async fn list(&self, t: &DeviceTarget, path: &str) -> Result<Vec<Value>, ToolError> {
        Ok(items(self.get(t, path).await?))
    }

    /// A list that a device without the package answers with 404: empty.
    async fn optional_list(
        &self,
        t: &DeviceTarget,
        path: &str,
    ) -> Result<Option<Vec<Value>>, ToolError> {
        match self.api.call(t, RestRequest::get(path)).await {
            Ok(v) => Ok(Some(items(v))),
            Err(DeviceError::NotFound) | Err(DeviceError::NotInSchema(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Runs `tool` with checked `args` on `device`.
    pub async fn run(
        &self,
        tool: &Tool,
        device: &Device,
        t: &DeviceTarget,
        args: &Args,
    ) -> Result<ToolOutput, ToolError> {
        match tool.name {
            "check_connectivity" => {
                let started = self.clock.now();
                let r = self.get(t, "system/resource").await?;
                let ms = (self.clock.now() - started).whole_milliseconds();
                out(
                    format!(
                        "{} answers over REST (RouterOS {})",
                        device.name,
                        field(&r, "version")
                    ),
                    json!({"reachable": true, "transport": "rest", "latency_ms": ms, "version": field(&r, "version")}),
                )
            }
            "get_system_overview" => {
                let r = self.get(t, "system/resource").await?;
                let id = self.get(t, "system/identity").await?;
                let total: f64 = field(&r, "total-memory").parse().unwrap_or(0.0);
                let free: f64 = field(&r, "free-memory").parse().unwrap_or(0.0);
                let used_pct = if total > 0.0 {
                    ((total - free) / total * 1000.0).round() / 10.0
                } else {
                    0.0
                };
                out(
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
            "get_system_packages" => {
                let l = project(
                    self.list(t, "system/package").await?,
                    &["name", "version", "disabled"],
                );
                out(format!("{} packages", l.len()), json!({"packages": l}))
            }
            "get_system_clock" => {
                let c = self.get(t, "system/clock").await?;
                out(
                    format!(
                        "{} {} ({})",
                        field(&c, "date"),
                        field(&c, "time"),
                        field(&c, "time-zone-name")
                    ),
                    c,
                )
            }
            "list_interfaces" => {
                let l = project(
                    self.list(t, "interface").await?,
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
                out(format!("{} interfaces", l.len()), json!({"interfaces": l}))
            }
            "get_interface" => {
                self.one(t, "interface", args.str("interface_id"), "interface")
                    .await
            }
            "get_interface_stats" => {
                let names = match args.list("interface_names") {
                    Some(n) if !n.is_empty() => n,
                    _ => self
                        .list(t, "interface")
                        .await?
                        .iter()
                        .map(|i| field(i, "name").to_owned())
                        .filter(|n| !n.is_empty())
                        .take(32)
                        .collect(),
                };
                let mut stats = Vec::new();
                for name in names {
                    let r = self
                        .call(
                            t,
                            RestRequest::new(
                                RestMethod::Post,
                                "interface/monitor-traffic",
                                Some(json!({"interface": name, "once": "true"})),
                            ),
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
                out(
                    format!("traffic of {} interfaces", stats.len()),
                    json!({"interfaces": stats}),
                )
            }
            "list_ip_addresses" => {
                let l = project(
                    self.list(t, "ip/address").await?,
                    &[
                        "address",
                        "network",
                        "interface",
                        "disabled",
                        "dynamic",
                        "comment",
                    ],
                );
                out(format!("{} addresses", l.len()), json!({"addresses": l}))
            }
            "get_ip_address" => {
                self.one(t, "ip/address", args.str("address_id"), "address")
                    .await
            }
            "get_arp_table" => {
                let l = project(
                    self.list(t, "ip/arp").await?,
                    &["address", "mac-address", "interface", "dynamic", "complete"],
                );
                out(format!("{} ARP entries", l.len()), json!({"entries": l}))
            }
            "get_dns_status" => {
                let d = self.get(t, "ip/dns").await?;
                out(
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
            "get_dns_cache" => {
                let all = self.list(t, "ip/dns/cache").await?;
                let total = all.len();
                let limit = args.int("limit").unwrap_or(100) as usize;
                let l = project(
                    all.into_iter().take(limit).collect(),
                    &["name", "type", "data", "ttl"],
                );
                out(
                    format!("{} of {total} cache entries", l.len()),
                    json!({"total": total, "entries": l}),
                )
            }
            "get_ntp_status" => {
                let c = self.get(t, "system/ntp/client").await?;
                out(
                    format!(
                        "NTP client {} ({})",
                        if field(&c, "enabled") == "true" {
                            "on"
                        } else {
                            "off"
                        },
                        field(&c, "status")
                    ),
                    json!({"enabled": field(&c, "enabled") == "true", "servers": servers_of(&c), "status": field(&c, "status"), "client": c}),
                )
            }
            "get_dhcp_server_status" => {
                let l = project(
                    self.list(t, "ip/dhcp-server").await?,
                    &[
                        "name",
                        "interface",
                        "address-pool",
                        "lease-time",
                        "disabled",
                    ],
                );
                out(format!("{} DHCP servers", l.len()), json!({"servers": l}))
            }
            "get_dhcp_leases" => {
                let bound: Vec<Value> = self
                    .list(t, "ip/dhcp-server/lease")
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
                out(format!("{} bound leases", l.len()), json!({"leases": l}))
            }
            "get_routing_summary" => {
                let routes = self.list(t, "ip/route").await?;
                let count = |k: &str| routes.iter().filter(|r| field(r, k) == "true").count();
                let l = project(
                    routes.clone(),
                    &[
                        "dst-address",
                        "gateway",
                        "distance",
                        "static",
                        "dynamic",
                        "connect",
                        "active",
                        "comment",
                    ],
                );
                out(
                    format!("{} routes", routes.len()),
                    json!({"total": routes.len(), "static": count("static"), "dynamic": count("dynamic"), "connected": count("connect"), "routes": l}),
                )
            }
            "get_route" => self.one(t, "ip/route", args.str("route_id"), "route").await,
            "list_firewall_filter_rules" => {
                self.table(t, "ip/firewall/filter", "filter rules").await
            }
            "list_firewall_nat_rules" => self.table(t, "ip/firewall/nat", "NAT rules").await,
            "list_firewall_address_lists" => {
                let all = self.list(t, "ip/firewall/address-list").await?;
                let l: Vec<Value> = match args.str("list_name") {
                    Some(name) => all
                        .into_iter()
                        .filter(|e| field(e, "list") == name)
                        .collect(),
                    None => all,
                };
                out(
                    format!("{} address-list entries", l.len()),
                    json!({"entries": l}),
                )
            }
            "get_recent_logs" => {
                let limit = args.int("limit").unwrap_or(100) as usize;
                let topics = args.list("topics").unwrap_or_default();
                let needle = args.str("message").map(str::to_lowercase);
                let lines: Vec<Value> = self
                    .list(t, "log")
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
                out(format!("{} log lines", l.len()), json!({"lines": l}))
            }
            "get_logging_config" => self.table(t, "system/logging", "logging rules").await,
            "list_bridges" => self.table(t, "interface/bridge", "bridges").await,
            "list_bridge_ports" => self.table(t, "interface/bridge/port", "bridge ports").await,
            // RouterOS 7 `wifi` menus: 7.24 has no `wireless` or `caps-man`.
            "get_wireless_interfaces" => {
                self.optional(t, "interface/wifi", "wireless interfaces")
                    .await
            }
            "get_wireless_clients" => {
                self.optional(t, "interface/wifi/registration-table", "wireless clients")
                    .await
            }
            "get_capsman_remote_caps" => {
                self.optional(t, "interface/wifi/capsman/remote-cap", "CAPs")
                    .await
            }
            "get_capsman_registrations" => {
                self.optional(
                    t,
                    "interface/wifi/registration-table",
                    "CAPsMAN registrations",
                )
                .await
            }
            "ping" => {
                let target = args.str("target").unwrap_or_default();
                let count = args.int("count").unwrap_or(4);
                let size = args.int("packet_size").unwrap_or(64);
                let replies = items(
                    self.call(
                        t,
                        RestRequest::new(
                            RestMethod::Post,
                            "tool/ping",
                            Some(json!({"address": target, "count": count.to_string(), "size": size.to_string()})),
                        ),
                    )
                    .await?,
                );
                let last = replies.last().cloned().unwrap_or(Value::Null);
                out(
                    format!(
                        "{target}: {} sent, {} received",
                        field(&last, "sent"),
                        field(&last, "received")
                    ),
                    json!({"target": target, "sent": field(&last, "sent"), "received": field(&last, "received"),
                           "packet_loss": field(&last, "packet-loss"), "replies": replies}),
                )
            }
            "traceroute" => {
                let target = args.str("target").unwrap_or_default();
                let hops = items(
                    self.call(
                        t,
                        RestRequest::new(
                            RestMethod::Post,
                            "tool/traceroute",
                            Some(json!({"address": target, "count": "1", "max-hops": args.int("max_hops").unwrap_or(30).to_string()})),
                        ),
                    )
                    .await?,
                );
                let reached = hops.iter().any(|h| field(h, "address") == target);
                out(
                    format!("{} hops to {target}", hops.len()),
                    json!({"target": target, "reached_target": reached, "hops": hops}),
                )
            }
            _ => crate::write::run(self, tool, device, t, args).await,
        }
    }

    async fn one(
        &self,
        t: &DeviceTarget,
        menu: &str,
        id: Option<&str>,
        what: &str,
    ) -> Result<ToolOutput, ToolError> {
        let id = id.unwrap_or_default();
        match self
            .api
            .call(t, RestRequest::get(format!("{menu}/{id}")))
            .await
        {
            Ok(v) => out(format!("{what} {id}"), v),
            Err(DeviceError::NotFound) => {
                let n = self.list(t, menu).await?.len();
                Err(ToolError::Refused(format!(
                    "no {what} with id {id}; the device has {n}"
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn table(
        &self,
        t: &DeviceTarget,
        menu: &str,
        what: &str,
    ) -> Result<ToolOutput, ToolError> {
        let l = self.list(t, menu).await?;
        out(format!("{} {what}", l.len()), json!({"items": l}))
    }

    async fn optional(
        &self,
        t: &DeviceTarget,
        menu: &str,
        what: &str,
    ) -> Result<ToolOutput, ToolError> {
        match self.optional_list(t, menu).await? {
            Some(l) => out(format!("{} {what}", l.len()), json!({"items": l})),
            None => out(
                format!("the device has no {what} (package or menu absent)"),
                json!({"items": []}),
            ),
        }
    }

    /// GET on the device (for [`crate::write`]).
    pub(crate) async fn read(&self, t: &DeviceTarget, path: &str) -> Result<Value, ToolError> {
        self.get(t, path).await
    }

    /// Any call on the device (for [`crate::write`]).
    pub(crate) async fn send(&self, t: &DeviceTarget, r: RestRequest) -> Result<Value, ToolError> {
        self.call(t, r).await
    }
}

/// Whether the IPv4 network `cidr_text` contains `host`.
pub(crate) fn network_contains(cidr_text: &str, host: &str) -> bool {
    let (Some((net, len)), Ok(h)) = (cidr(cidr_text), host.parse::<std::net::Ipv4Addr>()) else {
        return false;
    };
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    (u32::from(net) & mask) == (u32::from(h) & mask)
}
