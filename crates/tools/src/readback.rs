//! Reading a device back to settle a change whose outcome was never
//! recorded.
//!
//! Before a change is sent, the app keeps an [`IntendedWrite`] beside its
//! intent event (see `audit::intents`). If rosgate stops before the outcome
//! is recorded, [`read_back`] later compares the device with what the
//! change was meant to do. Each write tool says what "in place" means for
//! it with the read-back function its catalogue row carries (beside the
//! tool in `ops/`); each plan change says it here. A change that leaves
//! nothing to read (a DNS cache flush) is [`Finding::Unreadable`], and the
//! intent is settled as unknown; a device that cannot be asked now, or a plan whose
//! router-side rollback is still armed (it will undo the change within
//! minutes), is [`Finding::Unavailable`], and the intent is read again
//! later.

use crate::args::Args;
use crate::call::{DeviceReader, field, finding, items, servers_of};
use crate::catalogue::{Implementation, find};
use crate::device::DeviceTarget;
use crate::plan::apply::plan_tag;
use crate::plan::model::Change;
use crate::ports::RouterOs;
use audit::intents::Finding;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// What a change was meant to do, as kept beside its intent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IntendedWrite {
    /// A single-device write tool and its input, secrets redacted.
    Tool { tool: String, input: Value },
    /// One device's part of a plan.
    Plan { plan_id: Uuid, change: Change },
}

impl IntendedWrite {
    /// The change a tool call means, with secrets redacted.
    pub fn tool(tool: &str, input: &Value) -> Self {
        IntendedWrite::Tool {
            tool: tool.to_owned(),
            input: crate::redact::redact(input.clone()),
        }
    }

    /// As stored; [`IntendedWrite::from_json`] reads it back.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// What [`IntendedWrite::to_json`] stored, if it still reads.
    pub fn from_json(v: &Value) -> Option<Self> {
        serde_json::from_value(v.clone()).ok()
    }
}

/// Reads the device behind `target` to see whether `intended` is in place.
pub async fn read_back(
    api: &dyn RouterOs,
    target: &DeviceTarget,
    intended: &IntendedWrite,
) -> Finding {
    let r = DeviceReader { api, target };
    let found = match intended {
        IntendedWrite::Tool { tool, input } => tool_in_place(&r, tool, input).await,
        IntendedWrite::Plan { plan_id, change } => plan_in_place(&r, *plan_id, change).await,
    };
    found.unwrap_or_else(|unreadable| unreadable)
}

async fn tool_in_place(
    r: &DeviceReader<'_>,
    tool: &str,
    input: &Value,
) -> Result<Finding, Finding> {
    let Some(def) = find(tool) else {
        return Err(Finding::Unreadable(format!("{tool} is no longer a tool")));
    };
    let args = Args::parse(def, input)
        .map_err(|e| Finding::Unreadable(format!("the kept input no longer reads: {e}")))?;
    match def.implementation {
        Implementation::Write {
            read_back: Some(in_place),
            ..
        } => in_place(r, &args).await,
        _ => Ok(Finding::Unreadable(format!(
            "{tool} leaves nothing to read back"
        ))),
    }
}

async fn plan_in_place(
    r: &DeviceReader<'_>,
    plan: Uuid,
    change: &Change,
) -> Result<Finding, Finding> {
    let tag = plan_tag(plan);
    // A router-side rollback still armed will undo the change: what the
    // device shows now is not its final state.
    let armed = items(r.get("system/scheduler").await?)
        .iter()
        .any(|e| field(e, "name").starts_with(&tag));
    if armed {
        return Err(Finding::Unavailable(format!(
            "the router-side rollback of plan {plan} is still armed, so the change may yet be undone"
        )));
    }
    let tagged = |menu: Value| {
        items(menu)
            .iter()
            .any(|e| field(e, "comment").contains(&tag))
    };
    Ok(match change {
        Change::AddFirewallRule { .. } => {
            let present = tagged(r.get("ip/firewall/filter").await?);
            finding(present, rule_text("firewall rule", present))
        }
        Change::AddStaticRoute { .. } => {
            let present = tagged(r.get("ip/route").await?);
            finding(present, rule_text("route", present))
        }
        Change::RemoveFirewallRule { rule_id } => {
            let menu = "ip/firewall/filter";
            let gone = r.gone(&format!("{menu}/{rule_id}")).await? && !tagged(r.get(menu).await?);
            finding(gone, removed_text("firewall rule", rule_id, gone))
        }
        Change::RemoveStaticRoute { route_id } => {
            let menu = "ip/route";
            let gone = r.gone(&format!("{menu}/{route_id}")).await? && !tagged(r.get(menu).await?);
            finding(gone, removed_text("route", route_id, gone))
        }
        Change::DnsNtp {
            dns_servers,
            ntp_servers,
        } => {
            let mut holds = true;
            let mut read = Vec::new();
            if let Some(wanted) = dns_servers {
                let now = servers_of(&r.get("ip/dns").await?);
                holds &= &now == wanted;
                read.push(format!("DNS servers are {:?}", now.join(",")));
            }
            if let Some(wanted) = ntp_servers {
                let now = servers_of(&r.get("system/ntp/client").await?);
                holds &= &now == wanted;
                read.push(format!("NTP servers are {:?}", now.join(",")));
            }
            finding(holds, read.join("; "))
        }
    })
}

fn rule_text(what: &str, present: bool) -> String {
    format!(
        "a {what} tagged with the plan is {}",
        if present { "present" } else { "absent" }
    )
}

fn removed_text(what: &str, id: &str, gone: bool) -> String {
    if gone {
        format!("{what} {id} is gone")
    } else {
        format!("{what} {id} is still there, or the router's rollback put it back")
    }
}
