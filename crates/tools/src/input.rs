//! A tool's input, checked against its parameters before anything reaches
//! a device: unknown fields, wrong types, out-of-range numbers, malformed
//! addresses and item ids are refused with the field's name.

use crate::args::{Args, BadArg, bad, cidr, is_item_id};
use crate::catalogue::{Kind, Tool};
use serde_json::{Map, Value};
use std::net::IpAddr;

impl Args {
    /// Checks `input` (a JSON object, or null for none) against `tool`.
    /// `device_id` is ignored here: the caller resolves it.
    pub fn parse(tool: &Tool, input: &Value) -> Result<Args, BadArg> {
        let map = match input {
            Value::Null => Map::new(),
            Value::Object(m) => m.clone(),
            _ => return Err(bad("input", "must be a JSON object")),
        };
        let mut out = Map::new();
        for (k, v) in &map {
            if k == "device_id" {
                continue;
            }
            let Some(p) = tool.params.iter().find(|p| p.name == k) else {
                return Err(bad(k, format!("`{}` takes no such argument", tool.name)));
            };
            if v.is_null() && !p.required {
                continue;
            }
            check(k, p.kind, v, p.required)?;
            out.insert(k.clone(), v.clone());
        }
        for p in tool.params.iter().filter(|p| p.required) {
            if !out.contains_key(p.name) {
                return Err(bad(p.name, "is required"));
            }
        }
        Ok(Args::checked(out))
    }
}

fn check(field: &str, kind: Kind, v: &Value, required: bool) -> Result<(), BadArg> {
    match kind {
        Kind::Text { max } => {
            let s = v.as_str().ok_or_else(|| bad(field, "must be a string"))?;
            if s.chars().count() > max {
                return Err(bad(field, format!("must be at most {max} characters")));
            }
            if required && s.trim().is_empty() {
                return Err(bad(field, "must not be empty"));
            }
            if s.chars().any(char::is_control) {
                return Err(bad(field, "must not contain control characters"));
            }
        }
        Kind::Bool => {
            v.as_bool()
                .ok_or_else(|| bad(field, "must be true or false"))?;
        }
        Kind::Int { min, max } => {
            let n = v.as_i64().ok_or_else(|| bad(field, "must be an integer"))?;
            if n < min || n > max {
                return Err(bad(field, format!("must be between {min} and {max}")));
            }
        }
        Kind::Host => host(
            field,
            v.as_str().ok_or_else(|| bad(field, "must be a string"))?,
        )?,
        Kind::Cidr => {
            cidr(v.as_str().ok_or_else(|| bad(field, "must be a string"))?).ok_or_else(|| {
                bad(
                    field,
                    "must be an IPv4 address with a prefix, like 192.0.2.10/24",
                )
            })?;
        }
        Kind::ItemId => {
            let s = v.as_str().ok_or_else(|| bad(field, "must be a string"))?;
            if !is_item_id(s) {
                return Err(bad(field, "must be a RouterOS item id like *1A"));
            }
        }
        Kind::HostList { max } => {
            let items = v.as_array().ok_or_else(|| bad(field, "must be a list"))?;
            if items.is_empty() || items.len() > max {
                return Err(bad(field, format!("must hold 1 to {max} entries")));
            }
            for i in items {
                host(
                    field,
                    i.as_str().ok_or_else(|| bad(field, "must hold strings"))?,
                )?;
            }
        }
        Kind::OneOf(words) => {
            let s = v.as_str().ok_or_else(|| bad(field, "must be a string"))?;
            if !words.contains(&s) {
                return Err(bad(field, format!("must be one of {}", words.join(", "))));
            }
        }
        Kind::DeviceIds { max } => {
            let items = v
                .as_array()
                .ok_or_else(|| bad(field, "must be a list of device ids"))?;
            if items.is_empty() || items.len() > max {
                return Err(bad(field, format!("must hold 1 to {max} device ids")));
            }
            let mut seen = std::collections::HashSet::new();
            for i in items {
                let id = i
                    .as_str()
                    .and_then(|s| uuid::Uuid::parse_str(s).ok())
                    .ok_or_else(|| bad(field, "must hold device ids (UUIDs)"))?;
                if !seen.insert(id) {
                    return Err(bad(field, "must not name a device twice"));
                }
            }
        }
        Kind::Uuid => {
            v.as_str()
                .and_then(|s| uuid::Uuid::parse_str(s).ok())
                .ok_or_else(|| bad(field, "must be an id (a UUID)"))?;
        }
        Kind::Words { max } => {
            let items = v.as_array().ok_or_else(|| bad(field, "must be a list"))?;
            if items.len() > max {
                return Err(bad(field, format!("must hold at most {max} entries")));
            }
            for i in items {
                let s = i.as_str().ok_or_else(|| bad(field, "must hold strings"))?;
                if s.is_empty()
                    || s.len() > 64
                    || !s
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.,".contains(&b))
                {
                    return Err(bad(
                        field,
                        "entries must be short words (letters, digits, - _ .)",
                    ));
                }
            }
        }
    }
    Ok(())
}

/// An IP address or an RFC 1123 host name.
fn host(field: &str, s: &str) -> Result<(), BadArg> {
    if s.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let ok = !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(bad(field, "must be an IP address or a host name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::find;
    use serde_json::json;

    fn parse(tool: &str, v: Value) -> Result<Args, BadArg> {
        Args::parse(find(tool).ok_or_else(|| bad("tool", "unknown"))?, &v)
    }

    #[test]
    fn inputs_are_checked_field_by_field() {
        assert!(parse("ping", json!({"target": "192.0.2.1", "count": 3})).is_ok());
        assert!(parse("ping", json!({"target": "router-1.example.net"})).is_ok());
        assert_eq!(parse("ping", json!({})).unwrap_err().field, "target");
        assert_eq!(
            parse("ping", json!({"target": "a b"})).unwrap_err().field,
            "target"
        );
        assert_eq!(
            parse("ping", json!({"target": "x", "count": 101}))
                .unwrap_err()
                .field,
            "count"
        );
        assert_eq!(
            parse("ping", json!({"target": "x", "evil": 1}))
                .unwrap_err()
                .field,
            "evil"
        );
        assert_eq!(
            parse("get_route", json!({"route_id": "1; /system reset"}))
                .unwrap_err()
                .field,
            "route_id"
        );
        assert!(parse("get_route", json!({"route_id": "*1A"})).is_ok());
        assert_eq!(
            parse(
                "add_secondary_ip_address",
                json!({"address": "10.0.0.1", "interface": "ether1"})
            )
            .unwrap_err()
            .field,
            "address"
        );
        assert_eq!(
            parse("update_dns_servers", json!({"dns_servers": []}))
                .unwrap_err()
                .field,
            "dns_servers"
        );
        assert!(parse("ping", json!("not an object")).is_err());
    }
}
