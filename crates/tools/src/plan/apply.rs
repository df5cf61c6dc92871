//! Applying a plan: batch by batch, device by device.
//!
//! On each device: take a snapshot of what the change touches; arm a
//! router-side rollback (a `system/scheduler` entry whose script undoes the
//! change unless rosgate removes it first, so a gateway that dies mid-change
//! still leaves a working router); make the change, tagged with the plan id;
//! check health (CPU and memory not critical by the thresholds of
//! [`crate::health::Level`], and the change reads back);
//! then either confirm (remove the scheduler entry) or undo it. When a
//! device fails, the devices already changed are rolled back too.

use crate::call::field;
use crate::device::{DeviceError, DeviceTarget, RestMethod, RestRequest};
use crate::health::load::{Level, Load};
use crate::plan::model::{Change, DeviceOutcome, Plan};
use crate::ports::RouterOs;
use serde_json::{Value, json};

/// How long the router waits for rosgate's confirmation before undoing a change itself.
pub const ROUTER_ROLLBACK_AFTER: &str = "5m";

/// A value as a RouterOS script string literal.
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' | '$' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What was done on one device, so it can be undone.
#[derive(Debug, Clone)]
struct Done {
    /// The item created (firewall rule, route), by `.id`.
    created: Option<(String, String)>,
    /// The item removed, with its properties, to put back.
    removed: Option<(String, Value)>,
    /// DNS and NTP servers before the change.
    servers: Option<(Option<String>, Option<String>)>,
    /// The router-side rollback entry.
    scheduler_id: Option<String>,
}

struct Device<'a> {
    api: &'a dyn RouterOs,
    target: &'a DeviceTarget,
}

impl Device<'_> {
    async fn call(&self, r: RestRequest) -> Result<Value, DeviceError> {
        self.api.call(self.target, r).await
    }

    async fn get(&self, path: &str) -> Result<Value, DeviceError> {
        self.call(RestRequest::get(path)).await
    }

    async fn put(&self, path: &str, body: Value) -> Result<Value, DeviceError> {
        self.call(RestRequest::new(RestMethod::Put, path, Some(body)))
            .await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, DeviceError> {
        self.call(RestRequest::new(RestMethod::Post, path, Some(body)))
            .await
    }

    async fn delete(&self, path: &str) -> Result<Value, DeviceError> {
        self.call(RestRequest::new(RestMethod::Delete, path, None))
            .await
    }
}

fn tag(plan: &Plan) -> String {
    plan_tag(plan.id)
}

/// The tag a plan's changes carry on a device (in a comment, and in the
/// name of its router-side rollback).
pub fn plan_tag(plan: uuid::Uuid) -> String {
    format!("rosgate-plan-{}", plan.simple())
}

fn menu(change: &Change) -> &'static str {
    match change {
        Change::AddFirewallRule { .. } | Change::RemoveFirewallRule { .. } => "ip/firewall/filter",
        Change::AddStaticRoute { .. } | Change::RemoveStaticRoute { .. } => "ip/route",
        Change::DnsNtp { .. } => "ip/dns",
    }
}

fn console(menu: &str) -> String {
    format!("/{}", menu.replace('/', " "))
}

/// The properties of a removed item worth putting back.
fn restorable(item: &Value, keys: &[&str]) -> Vec<(String, String)> {
    keys.iter()
        .filter_map(|k| {
            let v = field(item, k);
            (!v.is_empty()).then(|| ((*k).to_owned(), v.to_owned()))
        })
        .collect()
}

const FILTER_KEYS: &[&str] = &[
    "chain",
    "action",
    "src-address",
    "dst-address",
    "protocol",
    "dst-port",
    "comment",
    "disabled",
];
const ROUTE_KEYS: &[&str] = &["dst-address", "gateway", "distance", "comment", "disabled"];

/// The script the router runs if rosgate never confirms.
fn undo_script(plan: &Plan, before: &Done, name: &str) -> String {
    let m = console(menu(&plan.change));
    let mut s = match &plan.change {
        Change::AddFirewallRule { .. } | Change::AddStaticRoute { .. } => {
            format!("{m} remove [find where comment~{}]", quoted(&tag(plan)))
        }
        Change::RemoveFirewallRule { .. } | Change::RemoveStaticRoute { .. } => {
            let keys = if matches!(plan.change, Change::RemoveFirewallRule { .. }) {
                FILTER_KEYS
            } else {
                ROUTE_KEYS
            };
            let mut props = before
                .removed
                .as_ref()
                .map(|(_, item)| restorable(item, keys))
                .unwrap_or_default();
            // The restored item carries the plan's tag, so reading the
            // device back later tells a rollback from a removal.
            match props.iter_mut().find(|(k, _)| k == "comment") {
                Some((_, c)) => *c = format!("{} {c}", tag(plan)),
                None => props.push(("comment".into(), tag(plan))),
            }
            let args: Vec<String> = props
                .iter()
                .map(|(k, v)| format!("{k}={}", quoted(v)))
                .collect();
            format!("{m} add {}", args.join(" "))
        }
        Change::DnsNtp { .. } => {
            let mut parts = Vec::new();
            if let Some((dns, ntp)) = &before.servers {
                if let Some(d) = dns {
                    parts.push(format!("/ip dns set servers={}", quoted(d)));
                }
                if let Some(n) = ntp {
                    parts.push(format!("/system ntp client set servers={}", quoted(n)));
                }
            }
            parts.join("; ")
        }
    };
    s.push_str(&format!(
        "; /system scheduler remove [find where name={}]",
        quoted(name)
    ));
    s
}

/// Applies `plan` on one device; on any failure after the change, undoes it.
async fn apply_one(plan: &Plan, dev: &Device<'_>) -> Result<Done, String> {
    let mut done = Done {
        created: None,
        removed: None,
        servers: None,
        scheduler_id: None,
    };
    let fail = |what: String| Err(what);
    // 1. Snapshot.
    match &plan.change {
        Change::RemoveFirewallRule { rule_id }
        | Change::RemoveStaticRoute { route_id: rule_id } => {
            let m = menu(&plan.change);
            match dev.get(&format!("{m}/{rule_id}")).await {
                Ok(item) => done.removed = Some((rule_id.clone(), item)),
                Err(e) => return fail(format!("snapshot: {e}")),
            }
        }
        Change::DnsNtp {
            dns_servers,
            ntp_servers,
        } => {
            let dns = match dns_servers {
                Some(_) => match dev.get("ip/dns").await {
                    Ok(v) => Some(field(&v, "servers").to_owned()),
                    Err(e) => return fail(format!("snapshot: {e}")),
                },
                None => None,
            };
            let ntp = match ntp_servers {
                Some(_) => match dev.get("system/ntp/client").await {
                    Ok(v) => Some(field(&v, "servers").to_owned()),
                    Err(e) => return fail(format!("snapshot: {e}")),
                },
                None => None,
            };
            done.servers = Some((dns, ntp));
        }
        _ => {
            if let Err(e) = dev.get(menu(&plan.change)).await {
                return fail(format!("snapshot: {e}"));
            }
        }
    }
    // 2. Arm the router-side rollback.
    let name = format!("{}-{}", tag(plan), dev.target.device_id.uuid().simple());
    let script = undo_script(plan, &done, &name);
    match dev
        .put(
            "system/scheduler",
            json!({"name": name, "interval": ROUTER_ROLLBACK_AFTER, "on-event": script,
                   "comment": "rosgate: undoes a change unless confirmed"}),
        )
        .await
    {
        Ok(v) => done.scheduler_id = Some(field(&v, ".id").to_owned()).filter(|s| !s.is_empty()),
        Err(e) => return fail(format!("arming the router-side rollback: {e}")),
    }
    // 3. Change.
    let changed = match &plan.change {
        Change::AddFirewallRule {
            chain,
            action,
            src_address,
            dst_address,
            protocol,
            dst_port,
            comment,
        } => {
            let mut body = json!({"chain": chain, "action": action,
                "comment": format!("{} {}", tag(plan), comment.clone().unwrap_or_default()).trim().to_owned()});
            for (k, v) in [
                ("src-address", src_address),
                ("dst-address", dst_address),
                ("protocol", protocol),
                ("dst-port", dst_port),
            ] {
                if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                    body[k] = Value::from(v.clone());
                }
            }
            dev.put("ip/firewall/filter", body).await.map(|v| {
                done.created = Some(("ip/firewall/filter".into(), field(&v, ".id").to_owned()))
            })
        }
        Change::AddStaticRoute {
            dst_address,
            gateway,
            distance,
            comment,
        } => {
            let mut body = json!({"dst-address": dst_address, "gateway": gateway,
                "comment": format!("{} {}", tag(plan), comment.clone().unwrap_or_default()).trim().to_owned()});
            if let Some(d) = distance {
                body["distance"] = Value::from(d.to_string());
            }
            dev.put("ip/route", body)
                .await
                .map(|v| done.created = Some(("ip/route".into(), field(&v, ".id").to_owned())))
        }
        Change::RemoveFirewallRule { rule_id }
        | Change::RemoveStaticRoute { route_id: rule_id } => dev
            .delete(&format!("{}/{rule_id}", menu(&plan.change)))
            .await
            .map(|_| ()),
        Change::DnsNtp {
            dns_servers,
            ntp_servers,
        } => {
            let mut r = Ok(());
            if let Some(d) = dns_servers {
                r = dev
                    .post("ip/dns/set", json!({"servers": d.join(",")}))
                    .await
                    .map(|_| ());
            }
            if r.is_ok()
                && let Some(n) = ntp_servers
            {
                r = dev
                    .post("system/ntp/client/set", json!({"servers": n.join(",")}))
                    .await
                    .map(|_| ());
            }
            r
        }
    };
    if let Err(e) = changed {
        let _ = undo(plan, dev, &done).await;
        return fail(format!("change: {e}"));
    }
    // 4. Health check: the device is well and holds the change.
    if let Err(why) = healthy(plan, dev, &done).await {
        let undone = undo(plan, dev, &done).await;
        let note = match undone {
            Ok(()) => "rolled back".to_owned(),
            Err(e) => format!("rollback failed ({e}); the router-side rollback is armed"),
        };
        return fail(format!("health check: {why}; {note}"));
    }
    // 5. Confirm: disarm the router-side rollback.
    if let Some(id) = &done.scheduler_id
        && let Err(e) = dev.delete(&format!("system/scheduler/{id}")).await
    {
        let _ = undo(plan, dev, &done).await;
        return fail(format!("confirming: {e}"));
    }
    Ok(done)
}

async fn healthy(plan: &Plan, dev: &Device<'_>, done: &Done) -> Result<(), String> {
    let r = dev
        .get("system/resource")
        .await
        .map_err(|e| e.to_string())?;
    let load = Load::of_resource(&r);
    if load.level() == Some(Level::Critical) {
        return Err(format!(
            "CPU {:.0} %, memory {:.0} % (limit {:.0} %)",
            load.cpu_percent,
            load.memory_percent,
            Level::Critical.above()
        ));
    }
    match &plan.change {
        Change::AddFirewallRule { .. } | Change::AddStaticRoute { .. } => {
            let (menu, id) = done.created.clone().unwrap_or_default();
            dev.get(&format!("{menu}/{id}"))
                .await
                .map(|_| ())
                .map_err(|e| format!("the new item does not read back: {e}"))
        }
        Change::RemoveFirewallRule { rule_id }
        | Change::RemoveStaticRoute { route_id: rule_id } => {
            match dev.get(&format!("{}/{rule_id}", menu(&plan.change))).await {
                Err(DeviceError::NotFound) => Ok(()),
                Ok(_) => Err("the item is still there".into()),
                Err(e) => Err(e.to_string()),
            }
        }
        Change::DnsNtp {
            dns_servers,
            ntp_servers,
        } => {
            if let Some(d) = dns_servers {
                let v = dev.get("ip/dns").await.map_err(|e| e.to_string())?;
                if field(&v, "servers") != d.join(",") {
                    return Err(format!("DNS servers read {}", field(&v, "servers")));
                }
            }
            if let Some(n) = ntp_servers {
                let v = dev
                    .get("system/ntp/client")
                    .await
                    .map_err(|e| e.to_string())?;
                if field(&v, "servers") != n.join(",") {
                    return Err(format!("NTP servers read {}", field(&v, "servers")));
                }
            }
            Ok(())
        }
    }
}

/// Undoes what `done` records, then disarms the router-side rollback.
async fn undo(plan: &Plan, dev: &Device<'_>, done: &Done) -> Result<(), DeviceError> {
    if let Some((menu, id)) = &done.created
        && !id.is_empty()
    {
        match dev.delete(&format!("{menu}/{id}")).await {
            Ok(_) | Err(DeviceError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    if let Some((_, item)) = &done.removed {
        let keys = if matches!(plan.change, Change::RemoveFirewallRule { .. }) {
            FILTER_KEYS
        } else {
            ROUTE_KEYS
        };
        let body: serde_json::Map<String, Value> = restorable(item, keys)
            .into_iter()
            .map(|(k, v)| (k, Value::from(v)))
            .collect();
        if !body.is_empty() {
            dev.put(menu(&plan.change), Value::Object(body)).await?;
        }
    }
    if let Some((dns, ntp)) = &done.servers {
        if let Some(d) = dns {
            dev.post("ip/dns/set", json!({"servers": d})).await?;
        }
        if let Some(n) = ntp {
            dev.post("system/ntp/client/set", json!({"servers": n}))
                .await?;
        }
    }
    if let Some(id) = &done.scheduler_id {
        match dev.delete(&format!("system/scheduler/{id}")).await {
            Ok(_) | Err(DeviceError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Applies `plan` on `targets` (in the plan's device order) in batches.
/// Returns whether every device succeeded, and each device's outcome; on a
/// failure, the devices already changed are rolled back.
pub async fn apply(
    plan: &Plan,
    api: &dyn RouterOs,
    targets: &[DeviceTarget],
) -> (bool, Vec<DeviceOutcome>) {
    let mut outcomes: Vec<DeviceOutcome> = Vec::new();
    let mut applied: Vec<(usize, Done)> = Vec::new();
    let mut failed = false;
    'batches: for batch in targets.chunks(plan.batch_size.max(1)) {
        for t in batch {
            let dev = Device { api, target: t };
            match apply_one(plan, &dev).await {
                Ok(done) => {
                    outcomes.push(DeviceOutcome {
                        device_id: t.device_id,
                        outcome: "applied".into(),
                        detail: "changed, healthy, confirmed".into(),
                    });
                    applied.push((outcomes.len() - 1, done));
                }
                Err(why) => {
                    outcomes.push(DeviceOutcome {
                        device_id: t.device_id,
                        outcome: "failed".into(),
                        detail: why,
                    });
                    failed = true;
                    break 'batches;
                }
            }
        }
    }
    if failed {
        // Undo the devices already changed, newest first.
        for (i, done) in applied.into_iter().rev() {
            // Outcomes are pushed in target order: index i is targets[i].
            let dev = Device {
                api,
                target: &targets[i],
            };
            let (outcome, detail) = match undo(plan, &dev, &done).await {
                Ok(()) => (
                    "rolled_back",
                    "undone after another device failed".to_owned(),
                ),
                Err(e) => (
                    "failed",
                    format!("undo failed ({e}); the router-side rollback is armed"),
                ),
            };
            outcomes[i].outcome = outcome.into();
            outcomes[i].detail = detail;
        }
        for t in targets.iter().skip(outcomes.len()) {
            outcomes.push(DeviceOutcome {
                device_id: t.device_id,
                outcome: "not_started".into(),
                detail: "an earlier device failed".into(),
            });
        }
    }
    (!failed, outcomes)
}
