//! The configuration a simulated router starts with: a small home/office
//! router (hAP ax³ class, RouterOS 7.24 with the `wifi` package) close to
//! MikroTik's default configuration, WAN on `ether1`, LAN on `bridge`.
//!
//! Devices differ by their index: WAN network `10.0.<n>.0/24`, MAC
//! addresses and identity, so tests can tell them apart.

use std::collections::BTreeSet;

use crate::state::{DeviceState, Table, item};

impl DeviceState {
    /// The starting state of device number `index` (1, 2, …) named `name`.
    pub fn seeded(name: &str, index: u8) -> Self {
        let n = index.to_string();
        let wan_net = format!("10.0.{n}.0");
        let wan_address = format!("10.0.{n}.2/24");
        let wan_gateway = format!("10.0.{n}.1");
        let mac = |port: u8| format!("48:A9:8A:{index:02X}:00:{port:02X}");
        let mut s = DeviceState::default();

        s.settings.insert(
            "system/resource".into(),
            item(&[
                ("uptime", "3d4h12m7s"),
                ("version", "7.24 (stable)"),
                ("build-time", "2026-01-08 10:12:41"),
                ("factory-software", "7.5"),
                ("free-memory", "812638208"),
                ("total-memory", "1073741824"),
                ("cpu", "ARM64"),
                ("cpu-count", "4"),
                ("cpu-frequency", "864"),
                ("cpu-load", "4"),
                ("free-hdd-space", "96468992"),
                ("total-hdd-space", "134217728"),
                ("write-sect-since-reboot", "1432"),
                ("write-sect-total", "88210"),
                ("architecture-name", "arm64"),
                ("board-name", "hAP ax^3"),
                ("platform", "MikroTik"),
            ]),
        );
        s.settings
            .insert("system/identity".into(), item(&[("name", name)]));
        s.settings.insert(
            "system/clock".into(),
            item(&[
                ("time", "12:00:00"),
                ("date", "2026-01-13"),
                ("time-zone-autodetect", "true"),
                ("time-zone-name", "Europe/Riga"),
                ("gmt-offset", "+02:00"),
                ("dst-active", "false"),
            ]),
        );
        s.settings.insert(
            "ip/dns".into(),
            item(&[
                ("servers", "1.1.1.1,9.9.9.9"),
                ("dynamic-servers", &wan_gateway),
                ("use-doh-server", ""),
                ("verify-doh-cert", "false"),
                ("allow-remote-requests", "true"),
                ("max-udp-packet-size", "4096"),
                ("query-server-timeout", "2s"),
                ("query-total-timeout", "10s"),
                ("max-concurrent-queries", "100"),
                ("max-concurrent-tcp-sessions", "20"),
                ("cache-size", "2048KiB"),
                ("cache-max-ttl", "1w"),
                ("cache-used", "24KiB"),
                ("vrf", "main"),
            ]),
        );
        s.settings.insert(
            "system/ntp/client".into(),
            item(&[
                ("enabled", "true"),
                ("mode", "unicast"),
                ("servers", "time.cloudflare.com,pool.ntp.org"),
                ("vrf", "main"),
                ("freq-drift", "1.742 PPM"),
                ("status", "synchronized"),
                ("synced-server", "time.cloudflare.com"),
                ("synced-stratum", "3"),
                ("system-offset", "-0.318 ms"),
            ]),
        );

        let interface = |name: &str, kind: &str, port: u8, running: bool| {
            let mac = mac(port);
            let mut i = item(&[
                ("name", name),
                ("type", kind),
                ("mtu", "1500"),
                ("actual-mtu", "1500"),
                ("l2mtu", "1514"),
                ("mac-address", &mac),
                ("running", if running { "true" } else { "false" }),
                ("disabled", "false"),
                ("link-downs", "0"),
                ("rx-byte", if running { "1843210944" } else { "0" }),
                ("tx-byte", if running { "412339812" } else { "0" }),
                ("rx-packet", if running { "1893004" } else { "0" }),
                ("tx-packet", if running { "1022841" } else { "0" }),
            ]);
            if kind != "bridge" {
                i.insert("default-name".into(), name.into());
            }
            i
        };
        s.tables.insert(
            "interface".into(),
            Table::with_items([
                interface("ether1", "ether", 1, true),
                interface("ether2", "ether", 2, true),
                interface("ether3", "ether", 3, false),
                interface("ether4", "ether", 4, false),
                interface("ether5", "ether", 5, false),
                interface("wifi1", "wifi", 6, true),
                interface("wifi2", "wifi", 7, true),
                interface("bridge", "bridge", 2, true),
            ]),
        );
        let wifi = |name: &str, band: &str, port: u8| {
            let mac = mac(port);
            item(&[
                ("name", name),
                ("default-name", name),
                ("mac-address", &mac),
                ("configuration.mode", "ap"),
                ("configuration.ssid", "rosgate-lab"),
                ("channel.band", band),
                ("security.authentication-types", "wpa2-psk,wpa3-psk"),
                ("running", "true"),
                ("disabled", "false"),
            ])
        };
        s.tables.insert(
            "interface/wifi".into(),
            Table::with_items([wifi("wifi1", "5ghz-ax", 6), wifi("wifi2", "2ghz-ax", 7)]),
        );
        s.tables.insert(
            "interface/wifi/registration-table".into(),
            Table::with_items([item(&[
                ("interface", "wifi1"),
                ("mac-address", "3C:22:FB:10:20:30"),
                ("ssid", "rosgate-lab"),
                ("uptime", "2h10m4s"),
                ("signal", "-58"),
                ("tx-rate", "1200.9Mbps"),
                ("rx-rate", "864.8Mbps"),
                ("band", "5ghz-ax"),
                ("authorized", "true"),
            ])]),
        );
        s.tables.insert(
            "interface/bridge".into(),
            Table::with_items([{
                let mac = mac(2);
                item(&[
                    ("name", "bridge"),
                    ("comment", "defconf"),
                    ("mtu", "auto"),
                    ("actual-mtu", "1500"),
                    ("protocol-mode", "rstp"),
                    ("priority", "0x8000"),
                    ("vlan-filtering", "false"),
                    ("fast-forward", "true"),
                    ("auto-mac", "true"),
                    ("mac-address", &mac),
                    ("running", "true"),
                    ("disabled", "false"),
                ])
            }]),
        );
        let port = |interface: &str| {
            item(&[
                ("interface", interface),
                ("bridge", "bridge"),
                ("comment", "defconf"),
                ("pvid", "1"),
                ("hw", "true"),
                ("edge", "auto"),
                ("path-cost", "10"),
                ("inactive", "false"),
                ("status", "in-bridge"),
                ("disabled", "false"),
                ("dynamic", "false"),
            ])
        };
        s.tables.insert(
            "interface/bridge/port".into(),
            Table::with_items(["ether2", "ether3", "ether4", "ether5", "wifi1", "wifi2"].map(port)),
        );
        s.tables
            .insert("interface/bridge/vlan".into(), Table::default());

        let address = |address: &str, network: &str, interface: &str, comment: &str| {
            item(&[
                ("address", address),
                ("network", network),
                ("interface", interface),
                ("actual-interface", interface),
                ("comment", comment),
                ("dynamic", "false"),
                ("invalid", "false"),
                ("disabled", "false"),
            ])
        };
        s.tables.insert(
            "ip/address".into(),
            Table::with_items([
                address("192.168.88.1/24", "192.168.88.0", "bridge", "defconf"),
                address(&wan_address, &wan_net, "ether1", "wan"),
            ]),
        );
        let arp = |address: &str, mac: &str, interface: &str| {
            item(&[
                ("address", address),
                ("mac-address", mac),
                ("interface", interface),
                ("status", "reachable"),
                ("dynamic", "true"),
                ("complete", "true"),
                ("published", "false"),
                ("invalid", "false"),
                ("DHCP", "false"),
                ("disabled", "false"),
            ])
        };
        s.tables.insert(
            "ip/arp".into(),
            Table::with_items([
                arp(&wan_gateway, "00:00:5E:00:53:01", "ether1"),
                arp("192.168.88.253", "3C:22:FB:10:20:30", "bridge"),
                arp("192.168.88.254", "B8:27:EB:44:55:66", "bridge"),
            ]),
        );
        let cache = |name: &str, kind: &str, data: &str, ttl: &str| {
            item(&[
                ("name", name),
                ("type", kind),
                ("data", data),
                ("ttl", ttl),
                ("static", "false"),
            ])
        };
        s.tables.insert(
            "ip/dns/cache".into(),
            Table::with_items([
                cache("mikrotik.com", "A", "159.148.147.196", "55m12s"),
                cache("upgrade.mikrotik.com", "A", "159.148.172.226", "1h2m"),
                cache("time.cloudflare.com", "A", "162.159.200.1", "3m40s"),
                cache(
                    "example.org",
                    "AAAA",
                    "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
                    "12m",
                ),
            ]),
        );
        s.tables.insert(
            "ip/pool".into(),
            Table::with_items([item(&[
                ("name", "default-dhcp"),
                ("ranges", "192.168.88.10-192.168.88.254"),
            ])]),
        );
        s.tables.insert(
            "ip/dhcp-server".into(),
            Table::with_items([item(&[
                ("name", "defconf"),
                ("interface", "bridge"),
                ("address-pool", "default-dhcp"),
                ("lease-time", "30m"),
                ("authoritative", "yes"),
                ("use-radius", "no"),
                ("dynamic", "false"),
                ("invalid", "false"),
                ("disabled", "false"),
            ])]),
        );
        s.tables.insert(
            "ip/dhcp-server/network".into(),
            Table::with_items([item(&[
                ("address", "192.168.88.0/24"),
                ("gateway", "192.168.88.1"),
                ("dns-server", "192.168.88.1"),
                ("comment", "defconf"),
                ("dynamic", "false"),
            ])]),
        );
        let lease = |address: &str, mac: &str, host: &str, status: &str| {
            let client_id = format!("1:{}", mac.to_lowercase());
            item(&[
                ("address", address),
                ("mac-address", mac),
                ("client-id", &client_id),
                ("host-name", host),
                ("server", "defconf"),
                ("status", status),
                ("expires-after", "24m10s"),
                ("last-seen", "5m50s"),
                ("dynamic", "true"),
                ("blocked", "false"),
                ("radius", "false"),
                ("disabled", "false"),
            ])
        };
        s.tables.insert(
            "ip/dhcp-server/lease".into(),
            Table::with_items([
                lease("192.168.88.253", "3C:22:FB:10:20:30", "laptop", "bound"),
                lease("192.168.88.254", "B8:27:EB:44:55:66", "printer", "bound"),
                lease("192.168.88.252", "DC:A6:32:01:02:03", "sensor", "waiting"),
            ]),
        );
        let immediate = format!("{wan_gateway}%ether1");
        let route = |pairs: &[(&str, &str)]| {
            let mut r = item(&[
                ("routing-table", "main"),
                ("distance", "1"),
                ("scope", "30"),
                ("target-scope", "10"),
                ("active", "true"),
                ("disabled", "false"),
                ("inactive", "false"),
                ("ecmp", "false"),
                ("hw-offloaded", "false"),
            ]);
            r.extend(item(pairs));
            r
        };
        s.tables.insert(
            "ip/route".into(),
            Table::with_items([
                route(&[
                    ("dst-address", "0.0.0.0/0"),
                    ("gateway", &wan_gateway),
                    ("immediate-gw", &immediate),
                    ("static", "true"),
                    ("dynamic", "false"),
                    ("comment", "wan default"),
                ]),
                route(&[
                    ("dst-address", "192.168.88.0/24"),
                    ("gateway", "bridge"),
                    ("immediate-gw", "bridge"),
                    ("distance", "0"),
                    ("scope", "10"),
                    ("connect", "true"),
                    ("local-address", "192.168.88.1%bridge"),
                    ("dynamic", "true"),
                ]),
                route(&[
                    ("dst-address", &format!("{wan_net}/24")),
                    ("gateway", "ether1"),
                    ("immediate-gw", "ether1"),
                    ("distance", "0"),
                    ("scope", "10"),
                    ("connect", "true"),
                    ("local-address", &format!("10.0.{n}.2%ether1")),
                    ("dynamic", "true"),
                ]),
            ]),
        );
        let rule = |pairs: &[(&str, &str)]| {
            let mut r = item(&[
                ("bytes", "0"),
                ("packets", "0"),
                ("log", "false"),
                ("log-prefix", ""),
                ("dynamic", "false"),
                ("invalid", "false"),
                ("disabled", "false"),
            ]);
            r.extend(item(pairs));
            r
        };
        s.tables.insert(
            "ip/firewall/filter".into(),
            Table::with_items(
                [
                    [
                        ("chain", "input"),
                        ("action", "accept"),
                        ("connection-state", "established,related,untracked"),
                        ("comment", "defconf: accept established,related,untracked"),
                    ]
                    .as_slice(),
                    &[
                        ("chain", "input"),
                        ("action", "drop"),
                        ("connection-state", "invalid"),
                        ("comment", "defconf: drop invalid"),
                    ],
                    &[
                        ("chain", "input"),
                        ("action", "accept"),
                        ("protocol", "icmp"),
                        ("comment", "defconf: accept ICMP"),
                    ],
                    &[
                        ("chain", "input"),
                        ("action", "drop"),
                        ("in-interface-list", "!LAN"),
                        ("comment", "defconf: drop all not coming from LAN"),
                    ],
                    &[
                        ("chain", "forward"),
                        ("action", "fasttrack-connection"),
                        ("connection-state", "established,related"),
                        ("hw-offload", "true"),
                        ("comment", "defconf: fasttrack"),
                    ],
                    &[
                        ("chain", "forward"),
                        ("action", "accept"),
                        ("connection-state", "established,related,untracked"),
                        ("comment", "defconf: accept established,related, untracked"),
                    ],
                    &[
                        ("chain", "forward"),
                        ("action", "drop"),
                        ("connection-state", "invalid"),
                        ("comment", "defconf: drop invalid"),
                    ],
                ]
                .map(rule),
            ),
        );
        s.tables.insert(
            "ip/firewall/nat".into(),
            Table::with_items([rule(&[
                ("chain", "srcnat"),
                ("action", "masquerade"),
                ("out-interface-list", "WAN"),
                ("ipsec-policy", "out,none"),
                ("comment", "defconf: masquerade"),
            ])]),
        );
        s.tables.insert(
            "ip/firewall/address-list".into(),
            Table::with_items([item(&[
                ("list", "trusted"),
                ("address", "192.168.88.0/24"),
                ("comment", "office LAN"),
                ("creation-time", "2026-01-10 09:15:02"),
                ("dynamic", "false"),
                ("disabled", "false"),
            ])]),
        );
        let log = |time: &str, topics: &str, message: &str| {
            item(&[("time", time), ("topics", topics), ("message", message)])
        };
        s.tables.insert(
            "log".into(),
            Table::with_items([
                log("2026-01-13 11:40:02", "system,info", "router rebooted"),
                log(
                    "2026-01-13 11:40:05",
                    "interface,info",
                    "ether1 link up (speed 1G, full duplex)",
                ),
                log(
                    "2026-01-13 11:40:09",
                    "dhcp,info",
                    "defconf assigned 192.168.88.253 for 3C:22:FB:10:20:30 laptop",
                ),
                log(
                    "2026-01-13 11:52:17",
                    "system,error,critical",
                    "login failure for user admin from 192.168.88.254 via ssh",
                ),
                log(
                    "2026-01-13 11:58:44",
                    "system,info,account",
                    "user rosgate logged in from 10.0.0.5 via rest-api",
                ),
            ]),
        );
        let logging = |topics: &str, action: &str| {
            item(&[
                ("topics", topics),
                ("action", action),
                ("prefix", ""),
                ("default", "true"),
                ("invalid", "false"),
                ("disabled", "false"),
            ])
        };
        s.tables.insert(
            "system/logging".into(),
            Table::with_items([
                logging("info", "memory"),
                logging("error", "memory"),
                logging("warning", "memory"),
                logging("critical", "echo"),
            ]),
        );
        s.tables.insert(
            "system/package".into(),
            Table::with_items([
                item(&[
                    ("name", "routeros"),
                    ("version", "7.24"),
                    ("build-time", "2026-01-08 10:12:41"),
                    ("scheduled", ""),
                    ("size", "12.9MiB"),
                    ("available", "false"),
                    ("disabled", "false"),
                ]),
                item(&[
                    ("name", "wifi-qcom"),
                    ("version", "7.24"),
                    ("build-time", "2026-01-08 10:12:41"),
                    ("scheduled", ""),
                    ("size", "3.2MiB"),
                    ("available", "false"),
                    ("disabled", "false"),
                ]),
            ]),
        );
        s.tables.insert("system/scheduler".into(), Table::default());
        // Present only with the legacy `wireless` package (`legacy_wireless`).
        for menu in [
            "interface/wireless",
            "interface/wireless/registration-table",
            "caps-man/interface",
            "caps-man/remote-cap",
            "caps-man/registration-table",
        ] {
            s.tables.insert(menu.into(), Table::default());
        }
        s.unreachable_hosts =
            BTreeSet::from(["192.0.2.1".to_owned(), "unreachable.example".to_owned()]);
        s
    }
}

/// Menus of optional packages a RouterOS 7.24 device with the `wifi`
/// package lacks; probing them is normal, so they are never schema
/// violations.
pub(crate) const LEGACY_WIRELESS_MENUS: &[&str] = &["interface/wireless", "caps-man"];

/// Whether `path` lies under one of [`LEGACY_WIRELESS_MENUS`].
pub(crate) fn is_legacy_wireless(path: &str) -> bool {
    LEGACY_WIRELESS_MENUS
        .iter()
        .any(|menu| path == *menu || path.strip_prefix(menu).is_some_and(|r| r.starts_with('/')))
}
