//! Every tool rosgate serves: its name, category, tier, topic, whether it
//! writes, its parameters, and its implementation. The MCP `tools/list`,
//! the REST endpoint, the guards and `docs/tools.md` are all generated from
//! this one table, and running a tool is calling the function its row
//! names: a row without an implementation does not compile, and no code is
//! chosen by matching a tool's name.

use crate::call::{PlanFn, ReadBackFn, RunFn, read_back_fn as read_back, run_fn as run};
use crate::ops::{
    bridge, dhcp, diagnostics, dns_ntp, firewall, interfaces, ip, logs, routing, system, wireless,
};
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

/// What running a tool does, as the functions that do it.
#[derive(Debug, Clone, Copy)]
pub enum Implementation {
    /// Reads or diagnoses one device.
    Read(RunFn),
    /// Changes one device. `read_back` says whether the change is in place,
    /// to settle a call whose outcome was never recorded; a change that
    /// leaves nothing to read (a cache flush) has none.
    Write {
        run: RunFn,
        read_back: Option<ReadBackFn>,
    },
    /// Turns the input into the change of a new plan (`plan::Plans`).
    Plan(PlanFn),
    /// Applies a stored plan (`plan::Plans`).
    ApplyPlan,
}

/// A tool's definition.
#[derive(Debug, Clone, Copy)]
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
    pub implementation: Implementation,
}

const fn read(
    name: &'static str,
    category: &'static str,
    summary: &'static str,
    params: &'static [Param],
    run: RunFn,
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
        implementation: Implementation::Read(run),
    }
}

const fn write(
    name: &'static str,
    category: &'static str,
    summary: &'static str,
    params: &'static [Param],
    run: RunFn,
    read_back: Option<ReadBackFn>,
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
        implementation: Implementation::Write { run, read_back },
    }
}

const fn professional(
    name: &'static str,
    category: &'static str,
    topic: Topic,
    summary: &'static str,
    params: &'static [Param],
    implementation: Implementation,
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
        implementation,
    }
}

const fn plan_tool(
    name: &'static str,
    category: &'static str,
    topic: Topic,
    summary: &'static str,
    params: &'static [Param],
    change: PlanFn,
) -> Tool {
    professional(
        name,
        category,
        topic,
        summary,
        params,
        Implementation::Plan(change),
    )
}

const fn apply_tool(
    name: &'static str,
    category: &'static str,
    topic: Topic,
    summary: &'static str,
) -> Tool {
    professional(
        name,
        category,
        topic,
        summary,
        &[PLAN, TOKEN],
        Implementation::ApplyPlan,
    )
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
        run!(diagnostics::check_connectivity),
    ),
    read(
        "get_system_overview",
        "system",
        "Identity, RouterOS version, board, CPU, memory and uptime.",
        &[],
        run!(system::overview),
    ),
    read(
        "get_system_packages",
        "system",
        "Installed packages and their versions.",
        &[],
        run!(system::packages),
    ),
    read(
        "get_system_clock",
        "system",
        "Date, time, time zone and whether the zone is detected automatically.",
        &[],
        run!(system::clock),
    ),
    read(
        "list_interfaces",
        "interface",
        "Interfaces: name, type, running, disabled, MTU, MAC address, comment.",
        &[],
        run!(interfaces::list),
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
        run!(interfaces::get),
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
        run!(interfaces::stats),
    ),
    read(
        "list_ip_addresses",
        "ip",
        "IPv4 addresses with their network and interface.",
        &[],
        run!(ip::list_addresses),
    ),
    read(
        "get_ip_address",
        "ip",
        "One IPv4 address entry by its id.",
        &[req("address_id", ID, "The address's `.id`.")],
        run!(ip::get_address),
    ),
    read(
        "get_arp_table",
        "ip",
        "The ARP table.",
        &[],
        run!(ip::arp_table),
    ),
    read(
        "get_dns_status",
        "dns_ntp",
        "DNS servers, dynamic servers, remote requests and cache use.",
        &[],
        run!(dns_ntp::dns_status),
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
        run!(dns_ntp::dns_cache),
    ),
    read(
        "get_ntp_status",
        "dns_ntp",
        "NTP client configuration and synchronisation state.",
        &[],
        run!(dns_ntp::ntp_status),
    ),
    read(
        "get_dhcp_server_status",
        "dhcp",
        "DHCP servers: interface, pool, lease time, enabled.",
        &[],
        run!(dhcp::server_status),
    ),
    read(
        "get_dhcp_leases",
        "dhcp",
        "Bound leases: address, MAC, client id, host name, server.",
        &[],
        run!(dhcp::leases),
    ),
    read(
        "get_routing_summary",
        "routing",
        "Route counts (static, dynamic, connected) and the routes.",
        &[],
        run!(routing::summary),
    ),
    read(
        "get_route",
        "routing",
        "One route by its id.",
        &[req("route_id", ID, "The route's `.id`.")],
        run!(routing::get_route),
    ),
    read(
        "list_firewall_filter_rules",
        "firewall",
        "Filter rules in order.",
        &[],
        run!(firewall::filter_rules),
    ),
    read(
        "list_firewall_nat_rules",
        "firewall",
        "NAT rules in order.",
        &[],
        run!(firewall::nat_rules),
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
        run!(firewall::address_lists),
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
        run!(logs::recent),
    ),
    read(
        "get_logging_config",
        "logs",
        "Logging rules: topics and their actions.",
        &[],
        run!(logs::config),
    ),
    read(
        "list_bridges",
        "bridge",
        "Bridges with their STP and VLAN-filtering settings.",
        &[],
        run!(bridge::bridges),
    ),
    read(
        "list_bridge_ports",
        "bridge",
        "Which interface is a port of which bridge.",
        &[],
        run!(bridge::ports),
    ),
    read(
        "get_wireless_interfaces",
        "wireless",
        "Wireless interfaces (empty when the device has none).",
        &[],
        run!(wireless::interfaces),
    ),
    read(
        "get_wireless_clients",
        "wireless",
        "Connected wireless stations with signal and rates.",
        &[],
        run!(wireless::clients),
    ),
    read(
        "get_capsman_remote_caps",
        "wireless",
        "CAPs the CAPsMAN controller sees.",
        &[],
        run!(wireless::capsman_remote_caps),
    ),
    read(
        "get_capsman_registrations",
        "wireless",
        "Stations registered through CAPsMAN.",
        &[],
        run!(wireless::capsman_registrations),
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
        run!(diagnostics::ping),
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
        run!(diagnostics::traceroute),
    ),
    write(
        "set_system_identity",
        "system",
        "Sets the device's identity (its name).",
        &[
            req("identity", Kind::Text { max: 255 }, "The new identity."),
            DRY_RUN,
        ],
        run!(system::set_identity),
        Some(read_back!(system::identity_in_place)),
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
        run!(ip::add_secondary_address),
        Some(read_back!(ip::address_added)),
    ),
    write(
        "remove_secondary_ip_address",
        "ip",
        "Removes an IPv4 address by its id, never the one rosgate manages the device through.",
        &[req("address_id", ID, "The address's `.id`."), DRY_RUN],
        run!(ip::remove_secondary_address),
        Some(read_back!(ip::address_removed)),
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
        run!(dns_ntp::update_dns_servers),
        Some(read_back!(dns_ntp::dns_servers_in_place)),
    ),
    write(
        "flush_dns_cache",
        "dns_ntp",
        "Empties the device's DNS cache.",
        &[DRY_RUN],
        run!(dns_ntp::flush_dns_cache),
        None,
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
        run!(dns_ntp::update_ntp_servers),
        Some(read_back!(dns_ntp::ntp_servers_in_place)),
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
        run!(firewall::update_address_list),
        Some(read_back!(firewall::address_list_in_place)),
    ),
    plan_tool(
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
        firewall::plan_add_rule,
    ),
    plan_tool(
        "plan_remove_firewall_rule",
        "firewall",
        Topic::Firewall,
        "Plans removing a filter rule by its id.",
        &[DEVICES, req("rule_id", ID, "The rule's `.id`.")],
        firewall::plan_remove_rule,
    ),
    apply_tool(
        "apply_firewall_plan",
        "firewall",
        Topic::Firewall,
        "Applies a firewall plan: snapshot, router-side rollback armed, change, health check, then confirm or roll back.",
    ),
    plan_tool(
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
        routing::plan_add_static_route,
    ),
    plan_tool(
        "plan_remove_static_route",
        "routing",
        Topic::Routing,
        "Plans removing a static route by its id.",
        &[DEVICES, req("route_id", ID, "The route's `.id`.")],
        routing::plan_remove_static_route,
    ),
    apply_tool(
        "apply_routing_plan",
        "routing",
        Topic::Routing,
        "Applies a routing plan device by device with health checks and automatic rollback.",
    ),
    plan_tool(
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
        dns_ntp::plan_rollout,
    ),
    apply_tool(
        "config_apply_dns_ntp_rollout",
        "dns_ntp",
        Topic::None,
        "Applies a DNS/NTP rollout batch by batch; a failure rolls back every device already changed.",
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
