//! The device's own say: a tool runs only if the device's capability flags
//! allow its tier and topic. Who may run it (the `tool:<tier>` permission at
//! a scope reaching the device, device scopes, environment limits) is
//! `rbac`'s decision, taken before this one.

use crate::catalogue::{Tier, Tool, Topic};
use tenancy::Device;

/// Why the device refuses a tool; the message names the flag to turn on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("device `{device}` does not allow {what}: an administrator must turn on `{flag}`")]
pub struct CapabilityRefusal {
    pub device: String,
    pub what: String,
    pub flag: &'static str,
}

/// Whether `device` allows `tool`.
pub fn device_allows(tool: &Tool, device: &Device) -> Result<(), CapabilityRefusal> {
    let c = &device.capabilities;
    let refuse = |what: String, flag| {
        Err(CapabilityRefusal {
            device: device.name.clone(),
            what,
            flag,
        })
    };
    match tool.tier {
        Tier::Fundamental => {}
        Tier::Advanced if !c.allow_advanced_writes => {
            return refuse("advanced writes".into(), "allow_advanced_writes");
        }
        Tier::Advanced => {}
        Tier::Professional if !c.allow_professional_workflows => {
            return refuse(
                "professional workflows".into(),
                "allow_professional_workflows",
            );
        }
        Tier::Professional => {}
    }
    let (flag, on) = match tool.topic {
        Topic::None => return Ok(()),
        Topic::Firewall => ("allow_firewall_writes", c.allow_firewall_writes),
        Topic::Routing => ("allow_routing_writes", c.allow_routing_writes),
        Topic::Dhcp => ("allow_dhcp_writes", c.allow_dhcp_writes),
        Topic::Bridge => ("allow_bridge_writes", c.allow_bridge_writes),
        Topic::Wireless => ("allow_wireless_writes", c.allow_wireless_writes),
    };
    if on || !tool.writes {
        Ok(())
    } else {
        refuse(format!("{:?} changes", tool.topic).to_lowercase(), flag)
    }
}
