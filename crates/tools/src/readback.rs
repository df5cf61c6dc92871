//! Reading a device back to settle a change whose outcome was never
//! recorded.
//!
//! Before a change is sent, the app keeps an [`Intended`] beside its
//! intent event (see `audit::intents`). If rosgate stops before the outcome
//! is recorded, [`read_back`] later compares the device with what the
//! change was meant to do. Each write tool and each plan change says here
//! what "in place" means for it. A change that leaves nothing to read (a
//! DNS cache flush) is [`Finding::Unreadable`], and the intent is settled
//! as unknown; a device that cannot be asked now, or a plan whose
//! router-side rollback is still armed (it will undo the change within
//! minutes), is [`Finding::Unavailable`], and the intent is read again
//! later.

use crate::args::Args;
use crate::plan::Change;
use crate::port::{DeviceError, DeviceTarget, RestRequest, RouterOs};
use crate::run::{field, items, servers_of};
use audit::intents::Finding;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// What a change was meant to do, as kept beside its intent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Intended {
    /// A single-device write tool and its input, secrets redacted.
    Tool { tool: String, input: Value },
    /// One device's part of a plan.
    Plan { plan_id: Uuid, change: Change },
}

impl Intended {
    /// The change a tool call means, with secrets redacted.
    pub fn tool(tool: &str, input: &Value) -> Self {
        Intended::Tool {
            tool: tool.to_owned(),
            input: crate::redact::redact(input.clone()),
        }
    }

    /// As stored; [`Intended::from_json`] reads it back.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// What [`Intended::to_json`] stored, if it still reads.
    pub fn from_json(v: &Value) -> Option<Self> {
        serde_json::from_value(v.clone()).ok()
    }
}

/// A failed read: worth trying again later unless the request itself is
/// wrong for the device (then it will never read).
fn unanswered(e: DeviceError) -> Finding {
    match e {
        DeviceError::NotInSchema(_) | DeviceError::BadRequest(_) | DeviceError::BadReply => {
            Finding::Unreadable(e.to_string())
        }
        _ => Finding::Unavailable(e.to_string()),
    }
}

/// Applied when `holds`, not applied otherwise; `what` says what was read.
fn finding(holds: bool, what: String) -> Finding {
    if holds {
        Finding::Applied(what)
    } else {
        Finding::NotApplied(what)
    }
}

struct Reader<'a> {
    api: &'a dyn RouterOs,
    target: &'a DeviceTarget,
}

impl Reader<'_> {
    async fn get(&self, path: &str) -> Result<Value, Finding> {
        self.api
            .call(self.target, RestRequest::get(path))
            .await
            .map_err(unanswered)
    }

    /// Whether the item at `path` is gone.
    async fn gone(&self, path: &str) -> Result<bool, Finding> {
        match self.api.call(self.target, RestRequest::get(path)).await {
            Ok(_) => Ok(false),
            Err(DeviceError::NotFound) => Ok(true),
            Err(e) => Err(unanswered(e)),
        }
    }
}

/// Reads the device behind `target` to see whether `intended` is in place.
pub async fn read_back(api: &dyn RouterOs, target: &DeviceTarget, intended: &Intended) -> Finding {
    let r = Reader { api, target };
    let found = match intended {
        Intended::Tool { tool, input } => tool_in_place(&r, tool, input).await,
        Intended::Plan { plan_id, change } => plan_in_place(&r, *plan_id, change).await,
    };
    found.unwrap_or_else(|unreadable| unreadable)
}

async fn tool_in_place(r: &Reader<'_>, tool: &str, input: &Value) -> Result<Finding, Finding> {
    let Some(def) = crate::find(tool) else {
        return Err(Finding::Unreadable(format!("{tool} is no longer a tool")));
    };
    let args = Args::parse(def, input)
        .map_err(|e| Finding::Unreadable(format!("the kept input no longer reads: {e}")))?;
    let text = |name: &str| args.str(name).unwrap_or_default().trim().to_owned();
    Ok(match tool {
        "set_system_identity" => {
            let name = field(&r.get("system/identity").await?, "name").to_owned();
            let wanted = text("identity");
            finding(name == wanted, format!("identity is {name:?}"))
        }
        "add_secondary_ip_address" => {
            let (address, interface) = (text("address"), text("interface"));
            let present = items(r.get("ip/address").await?)
                .iter()
                .any(|e| field(e, "address") == address && field(e, "interface") == interface);
            finding(
                present,
                format!(
                    "{address} is {}on {interface}",
                    if present { "" } else { "not " }
                ),
            )
        }
        "remove_secondary_ip_address" => {
            let id = text("address_id");
            let gone = r.gone(&format!("ip/address/{id}")).await?;
            finding(
                gone,
                format!(
                    "address {id} is {}",
                    if gone { "gone" } else { "still there" }
                ),
            )
        }
        "update_dns_servers" => {
            let now = servers_of(&r.get("ip/dns").await?);
            let wanted = args.list("dns_servers").unwrap_or_default();
            finding(
                now == wanted,
                format!("DNS servers are {:?}", now.join(",")),
            )
        }
        "update_ntp_servers" => {
            let client = r.get("system/ntp/client").await?;
            let (now, on) = (servers_of(&client), field(&client, "enabled") == "true");
            let wanted = args.list("ntp_servers").unwrap_or_default();
            let enabled = args.bool("enabled").unwrap_or(true);
            finding(
                now == wanted && on == enabled,
                format!("NTP servers are {:?}, enabled {on}", now.join(",")),
            )
        }
        "update_firewall_address_list" => {
            let (list, address) = (text("list_name"), text("address"));
            let wanted = args.str("action").unwrap_or("add") != "remove";
            if wanted && args.str("timeout").is_some_and(|t| !t.is_empty()) {
                return Err(Finding::Unreadable(
                    "the entry was added with a timeout, after which the device drops it".into(),
                ));
            }
            let present = items(r.get("ip/firewall/address-list").await?)
                .iter()
                .any(|e| field(e, "list") == list && field(e, "address") == address);
            finding(
                present == wanted,
                format!(
                    "{address} is {}in {list}",
                    if present { "" } else { "not " }
                ),
            )
        }
        other => Finding::Unreadable(format!("{other} leaves nothing to read back")),
    })
}

async fn plan_in_place(r: &Reader<'_>, plan: Uuid, change: &Change) -> Result<Finding, Finding> {
    let tag = crate::apply::plan_tag(plan);
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
