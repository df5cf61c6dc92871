//! Commands that do something rather than edit a list: `tool/ping`,
//! `tool/traceroute`, `interface/monitor-traffic` and
//! `ip/dns/cache/flush`. Their results are made up but stable: the same
//! request gives the same answer, so tests can compare them.

use serde_json::{Value, json};

use crate::menus::Failure;
use crate::state::DeviceState;

/// The value of argument `key`, if given.
fn arg<'a>(args: &'a [(String, String)], key: &str) -> Option<&'a str> {
    args.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// A count argument, or `default`, capped at `max`.
fn count(args: &[(String, String)], key: &str, default: u32, max: u32) -> Result<u32, Failure> {
    match arg(args, key) {
        None => Ok(default),
        Some(text) => text
            .parse::<u32>()
            .map(|n| n.min(max))
            .map_err(|_| Failure::Bad(format!("invalid value for argument {key}"))),
    }
}

/// A round-trip time as RouterOS prints it: `453us`, `1ms204us`, `12ms`.
fn rtt(micros: u32) -> String {
    match (micros / 1000, micros % 1000) {
        (0, us) => format!("{us}us"),
        (ms, 0) => format!("{ms}ms"),
        (ms, us) => format!("{ms}ms{us}us"),
    }
}

/// A stable base latency for `host`, in microseconds.
fn base_latency(host: &str) -> u32 {
    let sum: u32 = host.bytes().map(u32::from).sum();
    800 + (sum % 40) * 250
}

/// `tool/ping`: one entry per packet, with running totals.
pub(crate) fn ping(state: &DeviceState, args: &[(String, String)]) -> Result<Value, Failure> {
    let host = arg(args, "address")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Failure::Bad("missing value(s) of argument(s) address".to_owned()))?;
    let packets = count(args, "count", 4, 1000)?;
    let size = arg(args, "size").unwrap_or("56");
    let lost = state.unreachable_hosts.contains(host);
    let base = base_latency(host);
    let (mut min, mut max, mut total) = (u32::MAX, 0, 0);
    let mut out = Vec::new();
    for seq in 0..packets {
        let sent = seq + 1;
        if lost {
            out.push(json!({
                "seq": seq.to_string(), "host": host, "status": "timeout",
                "sent": sent.to_string(), "received": "0", "packet-loss": "100",
            }));
            continue;
        }
        let time = base + (seq * 137) % 600;
        min = min.min(time);
        max = max.max(time);
        total += time;
        out.push(json!({
            "seq": seq.to_string(), "host": host, "size": size, "ttl": "64",
            "time": rtt(time), "sent": sent.to_string(), "received": sent.to_string(),
            "packet-loss": "0", "min-rtt": rtt(min), "avg-rtt": rtt(total / sent),
            "max-rtt": rtt(max),
        }));
    }
    Ok(Value::Array(out))
}

/// `tool/traceroute`: one section listing the hops to the target, which an
/// unreachable host never answers from.
pub(crate) fn traceroute(state: &DeviceState, args: &[(String, String)]) -> Result<Value, Failure> {
    let host = arg(args, "address")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Failure::Bad("missing value(s) of argument(s) address".to_owned()))?;
    let max_hops = count(args, "max-hops", 30, 255)?.max(1);
    let gateway = state
        .table("ip/route")
        .and_then(|t| t.find("dst-address", "0.0.0.0/0"))
        .and_then(|r| r.get("gateway"))
        .cloned()
        .unwrap_or_else(|| "10.0.0.1".to_owned());
    let reached = !state.unreachable_hosts.contains(host);
    let mut hops: Vec<Option<String>> = vec![Some(gateway), Some("100.64.0.1".to_owned())];
    if reached {
        hops.push(Some(host.to_owned()));
    } else {
        hops.extend([None, None, None]);
    }
    let out = hops
        .into_iter()
        .take(max_hops as usize)
        .enumerate()
        .map(|(at, hop)| match hop {
            Some(address) => {
                let ms = format!("{}.{}", at + 1, (at * 3) % 10);
                json!({
                    ".section": "0", "address": address, "loss": "0", "sent": "1",
                    "last": format!("{ms}ms"), "avg": ms, "best": ms, "worst": ms,
                    "std-dev": "0", "status": "",
                })
            }
            None => json!({
                ".section": "0", "address": "", "loss": "100", "sent": "1",
                "last": "timeout", "avg": "0", "best": "0", "worst": "0",
                "std-dev": "0", "status": "",
            }),
        })
        .collect();
    Ok(Value::Array(out))
}

/// `interface/monitor-traffic`: one snapshot per named interface. It needs
/// `once` (or `duration`): without, RouterOS streams until stopped.
pub(crate) fn monitor_traffic(
    state: &DeviceState,
    args: &[(String, String)],
) -> Result<Value, Failure> {
    let names = arg(args, "interface")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Failure::Bad("missing value(s) of argument(s) interface".to_owned()))?;
    if arg(args, "once").is_none() && arg(args, "duration").is_none() {
        return Err(Failure::Bad(
            "monitor-traffic runs until interrupted: pass once or duration".to_owned(),
        ));
    }
    let interfaces = state.table("interface");
    let mut out = Vec::new();
    for name in names.split(',') {
        let Some(interface) = interfaces.and_then(|t| t.get(name)) else {
            return Err(Failure::Bad(format!("no such item ({name})")));
        };
        let running = interface.get("running").is_some_and(|r| r == "true");
        let seed = base_latency(name);
        let rate = |factor: u32| {
            if running {
                (seed * factor).to_string()
            } else {
                "0".to_owned()
            }
        };
        out.push(json!({
            "name": interface.get("name").cloned().unwrap_or_default(),
            "rx-packets-per-second": rate(1),
            "rx-bits-per-second": rate(9_000),
            "fp-rx-packets-per-second": rate(1),
            "fp-rx-bits-per-second": rate(9_000),
            "rx-drops-per-second": "0",
            "rx-errors-per-second": "0",
            "tx-packets-per-second": rate(2),
            "tx-bits-per-second": rate(4_000),
            "fp-tx-packets-per-second": rate(2),
            "fp-tx-bits-per-second": rate(4_000),
            "tx-drops-per-second": "0",
            "tx-queue-drops-per-second": "0",
            "tx-errors-per-second": "0",
        }));
    }
    Ok(Value::Array(out))
}

/// `ip/dns/cache/flush`: empties the cache.
pub(crate) fn flush_dns_cache(state: &mut DeviceState) -> Value {
    if let Some(cache) = state.table_mut("ip/dns/cache") {
        cache.clear();
    }
    if let Some(dns) = state.settings.get_mut("ip/dns") {
        dns.insert("cache-used".to_owned(), "0KiB".to_owned());
    }
    Value::Array(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn rtts_print_like_routeros() {
        assert_eq!(rtt(453), "453us");
        assert_eq!(rtt(1204), "1ms204us");
        assert_eq!(rtt(12000), "12ms");
    }

    #[test]
    fn ping_counts_packets_and_losses() {
        let s = DeviceState::seeded("r1", 1);
        let ok = ping(&s, &args(&[("address", "1.1.1.1"), ("count", "3")])).unwrap();
        assert_eq!(ok.as_array().unwrap().len(), 3);
        assert_eq!(ok[2]["received"], "3");
        let lost = ping(&s, &args(&[("address", "192.0.2.1"), ("count", "2")])).unwrap();
        assert_eq!(lost[1]["packet-loss"], "100");
        assert!(ping(&s, &args(&[("count", "2")])).is_err());
    }

    #[test]
    fn traceroute_stops_at_max_hops() {
        let s = DeviceState::seeded("r1", 1);
        let hops = traceroute(&s, &args(&[("address", "8.8.8.8"), ("max-hops", "2")])).unwrap();
        assert_eq!(hops.as_array().unwrap().len(), 2);
        let all = traceroute(&s, &args(&[("address", "8.8.8.8")])).unwrap();
        assert_eq!(all[2]["address"], "8.8.8.8");
    }
}
