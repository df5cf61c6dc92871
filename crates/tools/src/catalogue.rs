//! Every tool rosgate serves: its name, category, tier, topic, whether it
//! writes, and its parameters. The MCP `tools/list`, the REST endpoint, the
//! guards and `docs/tools.md` are all generated from this one table.

use serde::Serialize;
use serde_json::{Map, Value, json};

/// How much a tool may change, which decides the permission it needs
/// (`tool:<tier>`) and the device capability that must allow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Reads and diagnostics.
    Fundamental,
    /// Single-device writes with a dry run.
    Advanced,
    /// Planned, confirmed, multi-device changes.
    Professional,
}

impl Tier {
    pub const fn as_str(self) -> &'static str {
        match self {
            Tier::Fundamental => "fundamental",
            Tier::Advanced => "advanced",
            Tier::Professional => "professional",
        }
    }
}

/// The area a professional tool changes; each has its own device flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    None,
    Firewall,
    Routing,
    Dhcp,
    Bridge,
    Wireless,
}

/// The type of a parameter, with its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string of 1 to `max` characters (0 allowed when optional).
    Text {
        max: usize,
    },
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// An IPv4 or IPv6 address or a host name (RFC 1123).
    Host,
    /// An IPv4 address with a prefix length, `192.0.2.1/24`.
    Cidr,
    /// A RouterOS item id, `*1A`.
    ItemId,
    /// 1 to `max` IP addresses or host names.
    HostList {
        max: usize,
    },
    /// One of the listed words.
    OneOf(&'static [&'static str]),
    /// 0 to `max` short words.
    Words {
        max: usize,
    },
    /// 1 to `max` device ids.
    DeviceIds {
        max: usize,
    },
    /// An id (a UUID), such as a plan's.
    Uuid,
}

/// One parameter of a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub help: &'static str,
}

const fn req(name: &'static str, kind: Kind, help: &'static str) -> Param {
    Param {
        name,
        kind,
        required: true,
        help,
    }
}

const fn opt(name: &'static str, kind: Kind, help: &'static str) -> Param {
    Param {
        name,
        kind,
        required: false,
        help,
    }
}

const DRY_RUN: Param = opt(
    "dry_run",
    Kind::Bool,
    "Report the change without making it (default false).",
);

/// A tool's definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    pub name: &'static str,
    pub category: &'static str,
    pub tier: Tier,
    pub topic: Topic,
    pub writes: bool,
    /// Whether the tool works on several devices (`device_ids`) or on a
    /// plan (`plan_id`) rather than on one `device_id`.
    pub fleet: bool,
    pub summary: &'static str,
    /// Parameters besides `device_id`.
    pub params: &'static [Param],
}

const fn read(
    name: &'static str,
    category: &'static str,
    summary: &'static str,
    params: &'static [Param],
) -> Tool {
    Tool {
        name,
        category,
        tier: Tier::Fundamental,
        topic: Topic::None,
        writes: false,
        fleet: false,
        summary,
        params,
    }
}

const fn write(
    name: &'static str,
    category: &'static str,
    summary: &'static str,
    params: &'static [Param],
) -> Tool {
    Tool {
        name,
        category,
        tier: Tier::Advanced,
        topic: Topic::None,
        writes: true,
        fleet: false,
        summary,
        params,
    }
}

const fn pro(
    name: &'static str,
    category: &'static str,
    topic: Topic,
    summary: &'static str,
    params: &'static [Param],
) -> Tool {
    Tool {
        name,
        category,
        tier: Tier::Professional,
        topic,
        writes: true,
        fleet: true,
        summary,
        params,
    }
}

const DEVICES: Param = req(
    "device_ids",
    Kind::DeviceIds { max: 50 },
    "The devices to change (1 to 50).",
);
const PLAN: Param = req(
    "plan_id",
    Kind::Uuid,
    "The plan, as returned when it was created.",
);
const TOKEN: Param = req(
    "confirmation_token",
    Kind::Text { max: 100 },
    "The single-use token returned with the plan to its creator, who confirms the plan with it within 15 minutes; it works only for the plan's change and devices as they were created.",
);

const ID: Kind = Kind::ItemId;

/// Every tool, in the order `docs/tools.md` lists them.
pub const CATALOGUE: &[Tool] = &[
    read(
        "check_connectivity",
        "device",
        "Whether the device answers over its REST API, and how fast.",
        &[],
    ),
    read(
        "get_system_overview",
        "system",
        "Identity, RouterOS version, board, CPU, memory and uptime.",
        &[],
    ),
    read(
        "get_system_packages",
        "system",
        "Installed packages and their versions.",
        &[],
    ),
    read(
        "get_system_clock",
        "system",
        "Date, time, time zone and whether the zone is detected automatically.",
        &[],
    ),
    read(
        "list_interfaces",
        "interface",
        "Interfaces: name, type, running, disabled, MTU, MAC address, comment.",
        &[],
    ),
    read(
        "get_interface",
        "interface",
        "One interface by its id.",
        &[req(
            "interface_id",
            ID,
            "The interface's `.id`, such as `*1`.",
        )],
    ),
    read(
        "get_interface_stats",
        "interface",
        "One snapshot of receive and transmit rates per interface.",
        &[opt(
            "interface_names",
            Kind::Words { max: 32 },
            "Interfaces to sample; all when omitted.",
        )],
    ),
    read(
        "list_ip_addresses",
        "ip",
        "IPv4 addresses with their network and interface.",
        &[],
    ),
    read(
        "get_ip_address",
        "ip",
        "One IPv4 address entry by its id.",
        &[req("address_id", ID, "The address's `.id`.")],
    ),
    read("get_arp_table", "ip", "The ARP table.", &[]),
    read(
        "get_dns_status",
        "dns_ntp",
        "DNS servers, dynamic servers, remote requests and cache use.",
        &[],
    ),
    read(
        "get_dns_cache",
        "dns_ntp",
        "DNS cache entries, at most `limit`, and the total count.",
        &[opt(
            "limit",
            Kind::Int { min: 1, max: 1000 },
            "Most entries to return (default 100).",
        )],
    ),
    read(
        "get_ntp_status",
        "dns_ntp",
        "NTP client configuration and synchronisation state.",
        &[],
    ),
    read(
        "get_dhcp_server_status",
        "dhcp",
        "DHCP servers: interface, pool, lease time, enabled.",
        &[],
    ),
    read(
        "get_dhcp_leases",
        "dhcp",
        "Bound leases: address, MAC, client id, host name, server.",
        &[],
    ),
    read(
        "get_routing_summary",
        "routing",
        "Route counts (static, dynamic, connected) and the routes.",
        &[],
    ),
    read(
        "get_route",
        "routing",
        "One route by its id.",
        &[req("route_id", ID, "The route's `.id`.")],
    ),
    read(
        "list_firewall_filter_rules",
        "firewall",
        "Filter rules in order.",
        &[],
    ),
    read(
        "list_firewall_nat_rules",
        "firewall",
        "NAT rules in order.",
        &[],
    ),
    read(
        "list_firewall_address_lists",
        "firewall",
        "Address-list entries, optionally of one list.",
        &[opt(
            "list_name",
            Kind::Text { max: 64 },
            "Only entries of this list.",
        )],
    ),
    read(
        "get_recent_logs",
        "logs",
        "Recent log lines, newest last, filtered by topic and text.",
        &[
            opt(
                "limit",
                Kind::Int { min: 1, max: 1000 },
                "Most lines to return (default 100).",
            ),
            opt(
                "topics",
                Kind::Words { max: 16 },
                "Only lines with one of these topics.",
            ),
            opt(
                "message",
                Kind::Text { max: 200 },
                "Only lines containing this text (case-insensitive).",
            ),
        ],
    ),
    read(
        "get_logging_config",
        "logs",
        "Logging rules: topics and their actions.",
        &[],
    ),
    read(
        "list_bridges",
        "bridge",
        "Bridges with their STP and VLAN-filtering settings.",
        &[],
    ),
    read(
        "list_bridge_ports",
        "bridge",
        "Which interface is a port of which bridge.",
        &[],
    ),
    read(
        "get_wireless_interfaces",
        "wireless",
        "Wireless interfaces (empty when the device has none).",
        &[],
    ),
    read(
        "get_wireless_clients",
        "wireless",
        "Connected wireless stations with signal and rates.",
        &[],
    ),
    read(
        "get_capsman_remote_caps",
        "wireless",
        "CAPs the CAPsMAN controller sees.",
        &[],
    ),
    read(
        "get_capsman_registrations",
        "wireless",
        "Stations registered through CAPsMAN.",
        &[],
    ),
    read(
        "ping",
        "diagnostics",
        "Pings a host from the device.",
        &[
            req("target", Kind::Host, "An IP address or host name."),
            opt(
                "count",
                Kind::Int { min: 1, max: 100 },
                "Packets to send (default 4).",
            ),
            opt(
                "packet_size",
                Kind::Int {
                    min: 28,
                    max: 65500,
                },
                "Packet size in bytes (default 64).",
            ),
        ],
    ),
    read(
        "traceroute",
        "diagnostics",
        "Traces the route from the device to a host.",
        &[
            req("target", Kind::Host, "An IP address or host name."),
            opt(
                "max_hops",
                Kind::Int { min: 1, max: 64 },
                "Most hops (default 30).",
            ),
        ],
    ),
    write(
        "set_system_identity",
        "system",
        "Sets the device's identity (its name).",
        &[
            req("identity", Kind::Text { max: 255 }, "The new identity."),
            DRY_RUN,
        ],
    ),
    write(
        "add_secondary_ip_address",
        "ip",
        "Adds an IPv4 address to an interface, refusing overlaps with existing ones.",
        &[
            req(
                "address",
                Kind::Cidr,
                "The address with its prefix, `192.0.2.10/24`.",
            ),
            req("interface", Kind::Text { max: 64 }, "The interface's name."),
            opt(
                "comment",
                Kind::Text { max: 255 },
                "A comment on the entry.",
            ),
            DRY_RUN,
        ],
    ),
    write(
        "remove_secondary_ip_address",
        "ip",
        "Removes an IPv4 address by its id, never the one rosgate manages the device through.",
        &[req("address_id", ID, "The address's `.id`."), DRY_RUN],
    ),
    write(
        "update_dns_servers",
        "dns_ntp",
        "Replaces the device's DNS servers.",
        &[
            req(
                "dns_servers",
                Kind::HostList { max: 10 },
                "1 to 10 servers.",
            ),
            DRY_RUN,
        ],
    ),
    write(
        "flush_dns_cache",
        "dns_ntp",
        "Empties the device's DNS cache.",
        &[DRY_RUN],
    ),
    write(
        "update_ntp_servers",
        "dns_ntp",
        "Replaces the device's NTP servers and switches the client on or off.",
        &[
            req(
                "ntp_servers",
                Kind::HostList { max: 10 },
                "1 to 10 servers.",
            ),
            opt(
                "enabled",
                Kind::Bool,
                "Whether the NTP client runs (default true).",
            ),
            DRY_RUN,
        ],
    ),
    write(
        "update_firewall_address_list",
        "firewall",
        "Adds an address to, or removes it from, a firewall address list whose name starts with `mcp-`.",
        &[
            req(
                "list_name",
                Kind::Text { max: 64 },
                "The list; must start with `mcp-`.",
            ),
            req("address", Kind::Host, "An IP address, range or host name."),
            opt(
                "action",
                Kind::OneOf(&["add", "remove"]),
                "`add` (default) or `remove`.",
            ),
            opt(
                "comment",
                Kind::Text { max: 255 },
                "A comment on the entry.",
            ),
            opt(
                "timeout",
                Kind::Text { max: 32 },
                "How long the entry lives, such as `1d` (RouterOS syntax).",
            ),
            DRY_RUN,
        ],
    ),
    pro(
        "plan_add_firewall_rule",
        "firewall",
        Topic::Firewall,
        "Plans a new filter rule on each device; nothing changes until the plan is applied.",
        &[
            DEVICES,
            req(
                "chain",
                Kind::OneOf(&["input", "forward", "output"]),
                "The chain.",
            ),
            req(
                "action",
                Kind::OneOf(&["accept", "drop", "reject", "log", "passthrough"]),
                "The action.",
            ),
            opt(
                "src_address",
                Kind::Text { max: 64 },
                "Source address or prefix.",
            ),
            opt(
                "dst_address",
                Kind::Text { max: 64 },
                "Destination address or prefix.",
            ),
            opt(
                "protocol",
                Kind::OneOf(&["tcp", "udp", "icmp"]),
                "Protocol.",
            ),
            opt(
                "dst_port",
                Kind::Text { max: 32 },
                "Destination port or range (tcp or udp).",
            ),
            opt(
                "comment",
                Kind::Text { max: 200 },
                "A comment; the plan id is added.",
            ),
        ],
    ),
    pro(
        "plan_remove_firewall_rule",
        "firewall",
        Topic::Firewall,
        "Plans removing a filter rule by its id.",
        &[DEVICES, req("rule_id", ID, "The rule's `.id`.")],
    ),
    pro(
        "apply_firewall_plan",
        "firewall",
        Topic::Firewall,
        "Applies a firewall plan: snapshot, router-side rollback armed, change, health check, then confirm or roll back.",
        &[PLAN, TOKEN],
    ),
    pro(
        "plan_add_static_route",
        "routing",
        Topic::Routing,
        "Plans a static route on each device (default routes are refused).",
        &[
            DEVICES,
            req("dst_address", Kind::Cidr, "The destination prefix."),
            req("gateway", Kind::Host, "The gateway address."),
            opt(
                "distance",
                Kind::Int { min: 1, max: 255 },
                "Administrative distance.",
            ),
            opt(
                "comment",
                Kind::Text { max: 200 },
                "A comment; the plan id is added.",
            ),
        ],
    ),
    pro(
        "plan_remove_static_route",
        "routing",
        Topic::Routing,
        "Plans removing a static route by its id.",
        &[DEVICES, req("route_id", ID, "The route's `.id`.")],
    ),
    pro(
        "apply_routing_plan",
        "routing",
        Topic::Routing,
        "Applies a routing plan device by device with health checks and automatic rollback.",
        &[PLAN, TOKEN],
    ),
    pro(
        "config_plan_dns_ntp_rollout",
        "dns_ntp",
        Topic::None,
        "Plans new DNS and/or NTP servers across devices, applied in batches.",
        &[
            DEVICES,
            opt(
                "dns_servers",
                Kind::HostList { max: 3 },
                "Up to 3 DNS servers.",
            ),
            opt(
                "ntp_servers",
                Kind::HostList { max: 4 },
                "Up to 4 NTP servers.",
            ),
            opt(
                "batch_size",
                Kind::Int { min: 1, max: 50 },
                "Devices per batch (default 5).",
            ),
        ],
    ),
    pro(
        "config_apply_dns_ntp_rollout",
        "dns_ntp",
        Topic::None,
        "Applies a DNS/NTP rollout batch by batch; a failure rolls back every device already changed.",
        &[PLAN, TOKEN],
    ),
];

/// The tool named `name`.
pub fn find(name: &str) -> Option<&'static Tool> {
    CATALOGUE.iter().find(|t| t.name == name)
}

impl Tool {
    /// The JSON Schema of the tool's input. With `with_device` the schema
    /// also asks for `device_id` (MCP); REST takes it from the path.
    pub fn input_schema(&self, with_device: bool) -> Value {
        let mut props = Map::new();
        let mut required = Vec::new();
        if with_device && !self.fleet {
            props.insert(
                "device_id".into(),
                json!({"type": "string", "format": "uuid", "description": "The device to run the tool on."}),
            );
            required.push(Value::from("device_id"));
        }
        for p in self.params {
            let mut s = match p.kind {
                Kind::Text { max } => json!({"type": "string", "maxLength": max}),
                Kind::Bool => json!({"type": "boolean"}),
                Kind::Int { min, max } => {
                    json!({"type": "integer", "minimum": min, "maximum": max})
                }
                Kind::Host => json!({"type": "string", "maxLength": 253}),
                Kind::Cidr => json!({"type": "string", "maxLength": 18}),
                Kind::ItemId => json!({"type": "string", "pattern": "^\\*[0-9A-Fa-f]{1,8}$"}),
                Kind::HostList { max } => json!({
                    "type": "array", "minItems": 1, "maxItems": max,
                    "items": {"type": "string", "maxLength": 253}
                }),
                Kind::OneOf(words) => json!({"type": "string", "enum": words}),
                Kind::Words { max } => json!({
                    "type": "array", "maxItems": max, "items": {"type": "string", "maxLength": 64}
                }),
                Kind::DeviceIds { max } => json!({
                    "type": "array", "minItems": 1, "maxItems": max,
                    "items": {"type": "string", "format": "uuid"}
                }),
                Kind::Uuid => json!({"type": "string", "format": "uuid"}),
            };
            s["description"] = Value::from(p.help);
            props.insert(p.name.into(), s);
            if p.required {
                required.push(Value::from(p.name));
            }
        }
        json!({
            "type": "object",
            "properties": props,
            "required": required,
            "additionalProperties": false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for t in CATALOGUE {
            assert!(seen.insert(t.name), "{} twice", t.name);
            assert!(
                t.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{}",
                t.name
            );
        }
    }

    #[test]
    fn writes_are_never_fundamental_and_offer_a_dry_run() {
        for t in CATALOGUE.iter().filter(|t| t.writes && !t.fleet) {
            assert_ne!(t.tier, Tier::Fundamental, "{}", t.name);
            assert!(t.params.iter().any(|p| p.name == "dry_run"), "{}", t.name);
        }
    }

    #[test]
    fn schemas_require_what_is_required() {
        let s = find("ping")
            .map(|t| t.input_schema(true))
            .unwrap_or_default();
        assert_eq!(s["required"], json!(["device_id", "target"]));
        assert_eq!(s["additionalProperties"], json!(false));
    }
}
