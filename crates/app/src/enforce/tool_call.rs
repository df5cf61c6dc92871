//! Running a tool for a caller: the one path REST and MCP share.
//!
//! In order: the tool exists; RBAC allows `tool:<tier>` on the device (the
//! binding's scope reaches it, the device scope includes it, the binding's
//! environments allow the device's environment); the device's capability
//! flags allow the tier and topic; the input is valid; the device has
//! credentials; the tool's own budget, if it has one. Every decision goes
//! into the caller's [`Trail`], which becomes the call's one audit event;
//! then the tool runs through the `RouterOs` port.

use crate::enforce::limits::Refusal;
use crate::enforce::trail::{DecisionEntry, DeviceStep, Trail};
use crate::http::codes::Code;
use crate::state::AppState;
use audit::IntendedChanges;
use audit::intents::IntendedChange;
use audit::{Effect, Outcome as AuditOutcome};
use kernel::{DeviceId, Principal};
use rbac::engine::Ruling;
use rbac::{Decision, Permission, Resource};
use tools::readback::IntendedWrite;
use tools::{Args, Tier, Tool, ToolError, ToolOutput};

/// Why a tool call did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("there is no tool named {0:?}")]
    UnknownTool(String),
    #[error("device not found")]
    UnknownDevice,
    /// RBAC said no; the message is the decision's reason.
    #[error("{message}")]
    Denied { code: Code, message: String },
    /// The device's capability flags say no.
    #[error(transparent)]
    Capability(#[from] tools::guard::CapabilityRefusal),
    #[error(transparent)]
    Invalid(#[from] tools::BadArg),
    #[error(
        "device `{0}` has no stored credentials; set them with PUT /devices/{{id}}/credentials"
    )]
    NoCredentials(String),
    #[error(transparent)]
    Tool(ToolError),
    /// A single-device tool called without a device, or the reverse.
    #[error("{0}")]
    WrongEndpoint(String),
    #[error("plan not found")]
    UnknownPlan,
    /// The confirmation token is wrong, expired, not the caller's, made for
    /// another content of the plan, or used.
    #[error("{0}")]
    Token(String),
    /// Storage or the audit trail failed; nothing ran.
    #[error("{0}")]
    Unavailable(String),
    /// The tool's own budget is used up; retry after this many seconds.
    #[error("the budget of this tool is used up; retry in {0} s")]
    RateLimited(u64),
}

/// The permission a tier needs.
pub fn permission(tier: Tier) -> Permission {
    match tier {
        Tier::Fundamental => Permission::ToolFundamental,
        Tier::Advanced => Permission::ToolAdvanced,
        Tier::Professional => Permission::ToolProfessional,
    }
}

/// Who is calling, over which channel, and the trail the call's one audit
/// event is made from.
#[derive(Debug, Clone)]
pub struct Invocation<'a> {
    pub who: &'a Principal,
    /// `rest` or `mcp`.
    pub channel: &'static str,
    pub trail: &'a Trail,
}

/// Names the tool in the trail: the operation it counts as, whether it
/// changes anything, and a digest of its input with secrets taken out.
fn begin(c: &Invocation<'_>, tool: &Tool, input: &serde_json::Value) {
    let effect = if tool.writes {
        Effect::Write
    } else {
        Effect::Read
    };
    let digest = audit::args_digest(&tools::redact::redact(input.clone()));
    c.trail.tool(
        format!("{}:{}", c.channel, tool.name),
        tool.name,
        effect,
        Some(digest),
    );
}

/// Records a decision about `device` in the trail.
fn decide(
    c: &Invocation<'_>,
    action: &str,
    device: DeviceId,
    outcome: AuditOutcome,
    reason: String,
) {
    c.trail.decide(DecisionEntry {
        action: action.to_owned(),
        resource_type: "device".into(),
        resource_id: Some(device.uuid()),
        device_id: Some(device.uuid()),
        outcome,
        reason,
    });
}

/// Counts the call against the tool's own budget, if it has one.
async fn admit(state: &AppState, c: &Invocation<'_>, tool: &Tool) -> Result<(), CallError> {
    match state.limits.admit_tool(c.who, tool.name).await {
        Ok(_) => Ok(()),
        Err(Refusal::Limited(v)) => {
            let secs = v.retry_after_secs();
            c.trail.decide(DecisionEntry {
                action: "rate_limit".into(),
                resource_type: "tool".into(),
                resource_id: None,
                device_id: None,
                outcome: AuditOutcome::Deny,
                reason: format!("budget of {} used up", tool.name),
            });
            Err(CallError::RateLimited(secs))
        }
        Err(Refusal::Unavailable) => Err(CallError::Unavailable(
            "rate limits cannot be checked right now; try again".into(),
        )),
    }
}

/// Whether the caller may call `tool` on `device` (RBAC only), without auditing:
/// for listing tools.
pub async fn may_call(state: &AppState, who: &Principal, tool: &Tool, device: DeviceId) -> bool {
    matches!(
        state
            .authz
            .decide(who, permission(tool.tier), Resource::Device(device))
            .await,
        Ok(Ruling::Decided(Decision::Allow(_)))
    )
}

/// Whether the caller may see `device` (for listing devices to agents).
pub async fn may_see(state: &AppState, who: &Principal, device: DeviceId) -> bool {
    matches!(
        state
            .authz
            .decide(who, Permission::DeviceRead, Resource::Device(device))
            .await,
        Ok(Ruling::Decided(Decision::Allow(_)))
    )
}

/// Runs `tool_name` on `device_id` for the caller with `input`.
pub async fn call(
    state: &AppState,
    c: &Invocation<'_>,
    device_id: DeviceId,
    tool_name: &str,
    input: &serde_json::Value,
) -> Result<ToolOutput, CallError> {
    let tool = tools::find(tool_name)
        .ok_or_else(|| CallError::UnknownTool(tool_name.chars().take(64).collect()))?;
    if tool.fleet {
        return Err(CallError::WrongEndpoint(format!(
            "{} works on several devices or a plan: call it without a device (REST: POST /api/v1/tools/{})",
            tool.name, tool.name
        )));
    }
    begin(c, tool, input);
    let perm = permission(tool.tier);
    let device = guard_device(state, c, tool, device_id).await?;
    let args = match Args::parse(tool, input) {
        Ok(a) => a,
        Err(e) => {
            decide(
                c,
                perm.as_str(),
                device_id,
                AuditOutcome::Deny,
                format!("invalid input: {e}"),
            );
            return Err(e.into());
        }
    };
    let credentials = state
        .tenancy
        .credentials(device_id)
        .await
        .map_err(|_| CallError::Unavailable("device credentials cannot be read right now".into()))?
        .ok_or_else(|| CallError::NoCredentials(device.name.clone()))?;
    let target = tools::device_target(&device, credentials);
    let dry = args.dry_run();
    if dry {
        c.trail.effect(Effect::Read);
    }
    decide(
        c,
        perm.as_str(),
        device_id,
        AuditOutcome::Allow,
        format!(
            "{} {}{}",
            if tool.writes { "write" } else { "read" },
            tool.name,
            if dry { " (dry run)" } else { "" }
        ),
    );
    admit(state, c, tool).await?;
    if tool.writes && !dry {
        record_intent(state, c, device_id, IntendedWrite::tool(tool.name, input)).await?;
    }
    let result = state.tools.run(tool, &device, &target, &args).await;
    match &result {
        Ok(o) => c.trail.note(format!("done: {}", o.summary)),
        Err(e) => c.trail.note(format!("failed: {e}")),
    }
    result.map_err(CallError::Tool)
}

/// Commits the intent of a change before the device is touched, with
/// what it is meant to change kept beside it, so a crash between the
/// change and its outcome still leaves it on the record (settled by reading
/// the device back after a restart). If either cannot be written the change
/// does not run.
async fn record_intent(
    state: &AppState,
    c: &Invocation<'_>,
    device: DeviceId,
    intended: IntendedWrite,
) -> Result<(), CallError> {
    let Some(intent) = c.trail.intent() else {
        return Err(CallError::Unavailable(
            "the change cannot be put on the record; it did not run".into(),
        ));
    };
    commit_intent(state, intent, device, intended, "the change did not run").await?;
    Ok(())
}

/// Keeps `intended` beside `intent`, then commits the intent; returns its id.
async fn commit_intent(
    state: &AppState,
    intent: audit::AuditEvent,
    device: DeviceId,
    intended: IntendedWrite,
    not_run: &str,
) -> Result<kernel::AuditEventId, CallError> {
    let id = intent.id;
    let unavailable = || {
        CallError::Unavailable(format!(
            "the audit trail cannot be written; {not_run}, try again"
        ))
    };
    let change = IntendedChange {
        intent_id: id,
        at: intent.at,
        tenant_id: intent.tenant_id,
        device_id: device.uuid(),
        change: intended.to_json(),
    };
    state.db.keep(&change).await.map_err(|_| unavailable())?;
    crate::enforce::commit(state, intent)
        .await
        .map_err(|()| unavailable())?;
    Ok(id)
}

/// The guards of one device, for every tool: RBAC (`tool:<tier>` at the
/// device, within the caller's device scope and environments), then the
/// device's capability flags. Every refusal is audited.
async fn guard_device(
    state: &AppState,
    c: &Invocation<'_>,
    tool: &Tool,
    device_id: DeviceId,
) -> Result<tenancy::Device, CallError> {
    let perm = permission(tool.tier);
    let decision = state
        .authz
        .decide(c.who, perm, Resource::Device(device_id))
        .await
        .map_err(|_| {
            CallError::Unavailable("authorization data is unavailable; try again".into())
        })?;
    match decision {
        Ruling::NotFound => {
            decide(
                c,
                perm.as_str(),
                device_id,
                AuditOutcome::Deny,
                "device not found".into(),
            );
            return Err(CallError::UnknownDevice);
        }
        Ruling::Decided(Decision::Deny(r)) => {
            decide(c, perm.as_str(), device_id, AuditOutcome::Deny, r.message());
            return Err(CallError::Denied {
                code: Code::of(r.code()),
                message: r.message(),
            });
        }
        Ruling::Decided(Decision::Allow(_)) => {}
    }
    let device = state
        .tenancy
        .device(device_id)
        .await
        .map_err(|_| CallError::UnknownDevice)?;
    c.trail.environment(device.environment.as_str());
    if let Err(refusal) = tools::guard::device_allows(tool, &device) {
        decide(
            c,
            perm.as_str(),
            device_id,
            AuditOutcome::Deny,
            refusal.to_string(),
        );
        return Err(refusal.into());
    }
    Ok(device)
}

fn plan_error(e: tools::plan::PlanError) -> CallError {
    use tools::plan::PlanError as E;
    match e {
        E::Tool(t) => CallError::Tool(t),
        E::NotFound => CallError::UnknownPlan,
        E::Token(m) => CallError::Token(m),
        E::Store(_) => CallError::Unavailable("plans cannot be stored right now; try again".into()),
    }
}

/// Runs a fleet tool (a plan tool or an apply tool) for the caller.
/// Plan tools check every named device and store a pending plan with its
/// creator's confirmation token; apply tools check the token (creator only,
/// 15 minutes, the plan's content unchanged), check every device, its
/// credentials and the tool's budget again, and only then use the token up
/// (once) and apply.
pub async fn call_fleet(
    state: &AppState,
    c: &Invocation<'_>,
    tool_name: &str,
    input: &serde_json::Value,
) -> Result<ToolOutput, CallError> {
    let tool = tools::find(tool_name)
        .ok_or_else(|| CallError::UnknownTool(tool_name.chars().take(64).collect()))?;
    if !tool.fleet {
        return Err(CallError::WrongEndpoint(format!(
            "{} runs on one device: REST POST /api/v1/devices/{{device_id}}/tools/{}, or MCP with device_id",
            tool.name, tool.name
        )));
    }
    begin(c, tool, input);
    let args = Args::parse(tool, input)?;
    if let Some(plan_id) = args
        .str("plan_id")
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
    {
        let token = args.str("confirmation_token").unwrap_or_default();
        // The token is checked here and used up only after every other
        // check has passed: a refusal leaves the plan pending.
        let plan = state
            .plans
            .confirm(tool, c.who.tenant_id, plan_id, token, c.who.user_id)
            .await
            .map_err(plan_error)?;
        // Permissions and capabilities may have changed since the plan was made.
        let mut targets = Vec::new();
        let mut devices = Vec::new();
        for d in &plan.device_ids {
            let device = guard_device(state, c, tool, *d).await?;
            devices.push((device.id, device.environment.as_str().to_owned()));
            let creds = state.tenancy.credentials(*d).await.map_err(|_| {
                CallError::Unavailable("device credentials cannot be read right now".into())
            })?;
            let Some(creds) = creds else {
                return Err(CallError::NoCredentials(device.name));
            };
            targets.push(tools::device_target(&device, creds));
        }
        admit(state, c, tool).await?;
        decide_plan(
            c,
            plan.id,
            AuditOutcome::Allow,
            format!("applying plan on {} devices", targets.len()),
        );
        c.trail.approval(plan.id);
        // Each device's own events carry its environment, so a plan that
        // touches a prod device shows among the production changes.
        c.trail.no_environment();
        // On the record before the token is used up: an intent that cannot
        // be committed leaves the plan pending and its token usable.
        let intents = record_device_intents(state, c, &plan, &devices).await?;
        let plan_id = plan.id;
        let plan = match state.plans.start(plan).await {
            Ok(p) => p,
            Err(e) => {
                let why = format!("plan {plan_id} not started: {e}");
                conclude(state, c, &intents, |_| {
                    (audit::RunResult::Failure, why.clone())
                })
                .await?;
                return Err(plan_error(e));
            }
        };
        let done = state.plans.run(plan, &targets).await.map_err(plan_error)?;
        conclude(state, c, &intents, |device| device_result(&done, device)).await?;
        if done.status == tools::plan::PlanStatus::Completed {
            c.trail.note(format!("plan {}", done.status.as_str()));
        } else {
            c.trail.failed(
                Code::PlanFailed.as_str(),
                format!("plan {}", done.status.as_str()),
            );
        }
        return Ok(ToolOutput {
            summary: format!("plan {} {}", done.id, done.status.as_str()),
            data: serde_json::json!({
                "plan_id": done.id, "status": done.status.as_str(), "outcomes": done.outcomes,
            }),
        });
    }
    let devices = tools::plan::device_ids(&args);
    let (change, batch) = tools::plan::change_for(tool, &args).map_err(plan_error)?;
    for d in &devices {
        guard_device(state, c, tool, *d).await?;
    }
    let (plan, token) = state
        .plans
        .create(tool, c.who.tenant_id, c.who.user_id, devices, change, batch)
        .await
        .map_err(plan_error)?;
    decide_plan(
        c,
        plan.id,
        AuditOutcome::Allow,
        format!("plan created, risk {}", plan.risk),
    );
    let expires = plan
        .expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Ok(ToolOutput {
        summary: format!(
            "plan {} created for {} devices (risk {}); confirm it by applying it with {} and the confirmation token within 15 minutes",
            plan.id,
            plan.device_ids.len(),
            plan.risk,
            tools::plan::apply_tool_for(&plan.change)
        ),
        data: serde_json::json!({
            "plan_id": plan.id,
            "confirmation_token": token,
            "expires_at": expires,
            "risk": plan.risk,
            "status": plan.status.as_str(),
            "apply_with": tools::plan::apply_tool_for(&plan.change),
            "change": plan.change,
            "device_ids": plan.device_ids,
        }),
    })
}

/// Commits one intent per device of a plan before any of them is
/// touched; returns each device's environment and intent id.
async fn record_device_intents(
    state: &AppState,
    c: &Invocation<'_>,
    plan: &tools::plan::Plan,
    devices: &[(DeviceId, String)],
) -> Result<Vec<(DeviceId, String, kernel::AuditEventId)>, CallError> {
    let mut out = Vec::with_capacity(devices.len());
    for (device, environment) in devices {
        let event = c
            .trail
            .device_event(DeviceStep {
                device_id: device.uuid(),
                environment: environment.clone(),
                result: audit::RunResult::Pending,
                reason: format!("about to apply plan {} on this device", plan.id),
                intent_id: None,
            })
            .ok_or_else(|| CallError::Unavailable("the caller cannot be named".into()))?;
        let intended = IntendedWrite::Plan {
            plan_id: plan.id,
            change: plan.change.clone(),
        };
        let id = commit_intent(state, event, *device, intended, "the plan did not run").await?;
        out.push((*device, environment.clone(), id));
    }
    Ok(out)
}

/// What a plan did on `device`, as an outcome's result and reason.
fn device_result(done: &tools::plan::Plan, device: DeviceId) -> (audit::RunResult, String) {
    match done.outcomes.iter().find(|o| o.device_id == device) {
        Some(o) if o.outcome == "applied" => (
            audit::RunResult::Success,
            format!("plan {} applied: {}", done.id, o.detail),
        ),
        Some(o) => (
            audit::RunResult::Failure,
            format!("plan {} {}: {}", done.id, o.outcome, o.detail),
        ),
        None => (
            audit::RunResult::Failure,
            format!(
                "plan {} {} before this device",
                done.id,
                done.status.as_str()
            ),
        ),
    }
}

/// Commits each device's outcome, naming its intent.
async fn conclude(
    state: &AppState,
    c: &Invocation<'_>,
    intents: &[(DeviceId, String, kernel::AuditEventId)],
    outcome: impl Fn(DeviceId) -> (audit::RunResult, String),
) -> Result<(), CallError> {
    for (device, environment, intent) in intents {
        let (result, reason) = outcome(*device);
        let Some(event) = c.trail.device_event(DeviceStep {
            device_id: device.uuid(),
            environment: environment.clone(),
            result,
            reason,
            intent_id: Some(*intent),
        }) else {
            continue;
        };
        // If the outcome cannot be written, the intent stays open and is
        // settled as unknown; the caller is told.
        crate::enforce::commit(state, event).await.map_err(|()| {
            CallError::Unavailable(
                "the plan's outcome could not be recorded; check the devices".into(),
            )
        })?;
    }
    Ok(())
}

/// Records a decision about a plan in the trail.
fn decide_plan(c: &Invocation<'_>, plan: uuid::Uuid, outcome: AuditOutcome, reason: String) {
    c.trail.decide(DecisionEntry {
        action: "tool:professional".into(),
        resource_type: "plan".into(),
        resource_id: Some(plan),
        device_id: None,
        outcome,
        reason,
    });
}
