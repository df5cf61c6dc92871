//! IPv4 addresses and the ARP table; adding and removing secondary
//! addresses, never one that overlaps another or the one rosgate reaches
//! the device through.

use crate::args::{Args, cidr, is_item_id};
use crate::call::{
    DeviceCall, DeviceReader, ToolResult, confirm, field, finding, items, output, project, trimmed,
};
use crate::device::{DeviceError, RestMethod, RestRequest};
use crate::output::ToolError;
use audit::intents::Finding;
use serde_json::{Value, json};

pub async fn list_addresses(c: &DeviceCall<'_>) -> ToolResult {
    let l = project(
        c.list("ip/address").await?,
        &[
            "address",
            "network",
            "interface",
            "disabled",
            "dynamic",
            "comment",
        ],
    );
    output(format!("{} addresses", l.len()), json!({"addresses": l}))
}

pub async fn get_address(c: &DeviceCall<'_>) -> ToolResult {
    c.one("ip/address", c.args.str("address_id"), "address")
        .await
}

pub async fn arp_table(c: &DeviceCall<'_>) -> ToolResult {
    let l = project(
        c.list("ip/arp").await?,
        &["address", "mac-address", "interface", "dynamic", "complete"],
    );
    output(format!("{} ARP entries", l.len()), json!({"entries": l}))
}

pub async fn add_secondary_address(c: &DeviceCall<'_>) -> ToolResult {
    let address = c.args.str("address").unwrap_or_default().to_owned();
    let interface = c.args.str("interface").unwrap_or_default().to_owned();
    let existing = c.list("ip/address").await?;
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
    if c.args.dry_run() {
        return output(
            format!("would add {address} to {interface}"),
            json!({"dry_run": true, "changed": false, "address": address, "interface": interface}),
        );
    }
    let mut body = json!({"address": address, "interface": interface});
    if let Some(comment) = c.args.str("comment").filter(|c| !c.is_empty()) {
        body["comment"] = Value::from(comment);
    }
    let created = c
        .call(RestRequest::new(RestMethod::Put, "ip/address", Some(body)))
        .await?;
    let id = field(&created, ".id").to_owned();
    if !is_item_id(&id) {
        return Err(ToolError::NotConfirmed(
            "the device returned no id for the new address".into(),
        ));
    }
    let back = c.get(&format!("ip/address/{id}")).await?;
    confirm(field(&back, "address") == address, || {
        format!("entry {id} reads {}", field(&back, "address"))
    })?;
    output(
        format!("added {address} to {interface} as {id}"),
        json!({"changed": true, "id": id, "entry": back}),
    )
}

pub async fn address_added(r: &DeviceReader<'_>, args: &Args) -> Result<Finding, Finding> {
    let (address, interface) = (trimmed(args, "address"), trimmed(args, "interface"));
    let present = items(r.get("ip/address").await?)
        .iter()
        .any(|e| field(e, "address") == address && field(e, "interface") == interface);
    Ok(finding(
        present,
        format!(
            "{address} is {}on {interface}",
            if present { "" } else { "not " }
        ),
    ))
}

pub async fn remove_secondary_address(c: &DeviceCall<'_>) -> ToolResult {
    let id = c.args.str("address_id").unwrap_or_default().to_owned();
    let entry = match c.get(&format!("ip/address/{id}")).await {
        Ok(e) => e,
        Err(ToolError::Device(DeviceError::NotFound)) => {
            return Err(ToolError::Refused(format!("no address with id {id}")));
        }
        Err(e) => return Err(e),
    };
    let address = field(&entry, "address").to_owned();
    if network_contains(&address, &c.device.host) {
        return Err(ToolError::Refused(format!(
            "{address} is the network rosgate reaches {} through ({}); removing it would cut the device off",
            c.device.name, c.device.host
        )));
    }
    if c.args.dry_run() {
        return output(
            format!("would remove {address} ({id})"),
            json!({"dry_run": true, "changed": false, "entry": entry}),
        );
    }
    c.call(RestRequest::new(
        RestMethod::Delete,
        format!("ip/address/{id}"),
        None,
    ))
    .await?;
    match c.get(&format!("ip/address/{id}")).await {
        Err(ToolError::Device(DeviceError::NotFound)) => {}
        Ok(_) => return Err(ToolError::NotConfirmed(format!("{id} is still there"))),
        Err(e) => return Err(e),
    }
    output(
        format!("removed {address} ({id})"),
        json!({"changed": true, "removed": entry}),
    )
}

pub async fn address_removed(r: &DeviceReader<'_>, args: &Args) -> Result<Finding, Finding> {
    let id = trimmed(args, "address_id");
    let gone = r.gone(&format!("ip/address/{id}")).await?;
    Ok(finding(
        gone,
        format!(
            "address {id} is {}",
            if gone { "gone" } else { "still there" }
        ),
    ))
}

/// The network mask of a prefix length.
fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

/// Whether two IPv4 `address/len` entries share addresses.
fn overlaps(a: &str, b: &str) -> bool {
    let (Some((na, la)), Some((nb, lb))) = (cidr(a), cidr(b)) else {
        return false;
    };
    let mask = mask(la.min(lb));
    (u32::from(na) & mask) == (u32::from(nb) & mask)
}

/// Whether the IPv4 network `cidr_text` contains `host`.
fn network_contains(cidr_text: &str, host: &str) -> bool {
    let (Some((net, len)), Ok(h)) = (cidr(cidr_text), host.parse::<std::net::Ipv4Addr>()) else {
        return false;
    };
    let mask = mask(len);
    (u32::from(net) & mask) == (u32::from(h) & mask)
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
