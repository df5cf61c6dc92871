//! Running a tool for a caller: the one path REST and MCP share.
//!
//! In order: the tool exists; RBAC allows `tool:<tier>` on the device (the
//! binding's scope reaches it, the device scope includes it, the binding's
//! environments allow the device's environment); the device's capability
//! flags allow the tier and topic; the input is valid; the device has
//! credentials. Every refusal and every run is audited, then the tool runs
//! through the `RouterOs` port.

use crate::state::AppState;
use audit::{AuditEvent, AuditSink, Outcome as AuditOutcome};
use kernel::{AuditEventId, DeviceId, Principal};
use rbac::engine::Outcome;
use rbac::{Decision, Permission, Resource};
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
    Denied { code: &'static str, message: String },
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
    /// The approval token is wrong, expired, not the caller's or used.
    #[error("{0}")]
    Token(String),
    /// Storage or the audit trail failed; nothing ran.
    #[error("{0}")]
    Unavailable(String),
}

/// The permission a tier needs.
pub fn permission(tier: Tier) -> Permission {
    match tier {
        Tier::Fundamental => Permission::ToolFundamental,
        Tier::Advanced => Permission::ToolAdvanced,
        Tier::Professional => Permission::ToolProfessional,
    }
}

/// The caller's context for audit records.
#[derive(Debug, Clone)]
pub struct Caller<'a> {
    pub who: &'a Principal,
    pub request_id: &'a str,
    /// `rest` or `mcp`.
    pub channel: &'static str,
}

/// Agents over MCP act as agents whatever credential they hold.
fn actor(c: &Caller<'_>) -> audit::Actor {
    if c.channel == "mcp" {
        audit::Actor::Agent
    } else {
        audit::Actor::of(&c.who.auth)
    }
}

async fn audit(
    state: &AppState,
    c: &Caller<'_>,
    tool: &str,
    action: &str,
    device: DeviceId,
    outcome: AuditOutcome,
    reason: String,
) -> Result<(), CallError> {
    let now = state.clock.now();
    state
        .audit
        .record(AuditEvent {
            id: AuditEventId::from_uuid(state.entropy.uuid_v7(now)),
            at: now,
            tenant_id: Some(c.who.tenant_id),
            user_id: Some(c.who.user_id),
            user_email: Some(c.who.email.clone()),
            actor: actor(c),
            operation: format!("{}:{tool}", c.channel),
            tool_name: Some(tool.to_owned()),
            action: action.to_owned(),
            resource_type: "device".into(),
            resource_id: Some(device.uuid()),
            device_id: Some(device.uuid()),
            environment: None,
            effect: if tools::find(tool).is_some_and(|t| t.writes) {
                audit::Effect::Write
            } else {
                audit::Effect::Read
            },
            decision: outcome,
            result: outcome.result(),
            error_class: (outcome == AuditOutcome::Deny).then(|| "denied".to_owned()),
            approval_request_id: None,
            client_addr: None,
            args_digest: None,
            reason: reason.chars().take(1000).collect(),
            request_id: c.request_id.to_owned(),
        })
        .await
        .map_err(|_| {
            CallError::Unavailable("the audit trail cannot be written; the tool did not run".into())
        })
}

/// Whether the caller may call `tool` on `device` (RBAC only), without auditing:
/// for listing tools.
pub async fn may_call(state: &AppState, who: &Principal, tool: &Tool, device: DeviceId) -> bool {
    matches!(
        state
            .authz
            .decide(who, permission(tool.tier), Resource::Device(device))
            .await,
        Ok(Outcome::Decided(Decision::Allow(_)))
    )
}

/// Whether the caller may see `device` (for listing devices to agents).
pub async fn may_see(state: &AppState, who: &Principal, device: DeviceId) -> bool {
    matches!(
        state
            .authz
            .decide(who, Permission::DeviceRead, Resource::Device(device))
            .await,
        Ok(Outcome::Decided(Decision::Allow(_)))
    )
}

/// Runs `tool_name` on `device_id` for the caller with `input`.
pub async fn call(
    state: &AppState,
    c: &Caller<'_>,
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
    let perm = permission(tool.tier);
    let decision = state
        .authz
        .decide(c.who, perm, Resource::Device(device_id))
        .await
        .map_err(|_| {
            CallError::Unavailable("authorization data is unavailable; try again".into())
        })?;
    match decision {
        Outcome::NotFound => {
            audit(
                state,
                c,
                tool.name,
                perm.as_str(),
                device_id,
                AuditOutcome::Deny,
                "device not found".into(),
            )
            .await?;
            return Err(CallError::UnknownDevice);
        }
        Outcome::Decided(Decision::Deny(r)) => {
            audit(
                state,
                c,
                tool.name,
                perm.as_str(),
                device_id,
                AuditOutcome::Deny,
                r.message(),
            )
            .await?;
            return Err(CallError::Denied {
                code: r.code(),
                message: r.message(),
            });
        }
        Outcome::Decided(Decision::Allow(_)) => {}
    }
    let device = state
        .tenancy
        .device(device_id)
        .await
        .map_err(|_| CallError::UnknownDevice)?;
    if let Err(refusal) = tools::guard::device_allows(tool, &device) {
        audit(
            state,
            c,
            tool.name,
            perm.as_str(),
            device_id,
            AuditOutcome::Deny,
            refusal.to_string(),
        )
        .await?;
        return Err(refusal.into());
    }
    let args = match Args::parse(tool, input) {
        Ok(a) => a,
        Err(e) => {
            audit(
                state,
                c,
                tool.name,
                perm.as_str(),
                device_id,
                AuditOutcome::Deny,
                format!("invalid input: {e}"),
            )
            .await?;
            return Err(e.into());
        }
    };
    let credentials = state
        .tenancy
        .credentials(device_id)
        .await
        .map_err(|_| CallError::Unavailable("device credentials cannot be read right now".into()))?
        .ok_or_else(|| CallError::NoCredentials(device.name.clone()))?;
    let target = crate::devices::target(&device, credentials);
    let dry = args.dry_run();
    audit(
        state,
        c,
        tool.name,
        perm.as_str(),
        device_id,
        AuditOutcome::Allow,
        format!(
            "{} {}{}",
            if tool.writes { "write" } else { "read" },
            tool.name,
            if dry { " (dry run)" } else { "" }
        ),
    )
    .await?;
    let result = state.tools.run(tool, &device, &target, &args).await;
    if tool.writes && !dry {
        let (outcome, reason) = match &result {
            Ok(o) => (AuditOutcome::Allow, format!("done: {}", o.summary)),
            Err(e) => (AuditOutcome::Deny, format!("failed: {e}")),
        };
        audit(
            state,
            c,
            tool.name,
            "tool:result",
            device_id,
            outcome,
            reason,
        )
        .await?;
    }
    result.map_err(CallError::Tool)
}

/// The guards of one device for a fleet tool: RBAC, then capability flags.
/// Every refusal is audited.
async fn guard_device(
    state: &AppState,
    c: &Caller<'_>,
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
        Outcome::NotFound => {
            audit(
                state,
                c,
                tool.name,
                perm.as_str(),
                device_id,
                AuditOutcome::Deny,
                "device not found".into(),
            )
            .await?;
            return Err(CallError::UnknownDevice);
        }
        Outcome::Decided(Decision::Deny(r)) => {
            audit(
                state,
                c,
                tool.name,
                perm.as_str(),
                device_id,
                AuditOutcome::Deny,
                r.message(),
            )
            .await?;
            return Err(CallError::Denied {
                code: r.code(),
                message: r.message(),
            });
        }
        Outcome::Decided(Decision::Allow(_)) => {}
    }
    let device = state
        .tenancy
        .device(device_id)
        .await
        .map_err(|_| CallError::UnknownDevice)?;
    if let Err(refusal) = tools::guard::device_allows(tool, &device) {
        audit(
            state,
            c,
            tool.name,
            perm.as_str(),
            device_id,
            AuditOutcome::Deny,
            refusal.to_string(),
        )
        .await?;
        return Err(refusal.into());
    }
    Ok(device)
}

fn plan_error(e: tools::plans::PlanError) -> CallError {
    use tools::plans::PlanError as E;
    match e {
        E::Tool(t) => CallError::Tool(t),
        E::NotFound => CallError::UnknownPlan,
        E::Token(m) => CallError::Token(m),
        E::Store(_) => CallError::Unavailable("plans cannot be stored right now; try again".into()),
    }
}

/// Runs a fleet tool (a plan tool or an apply tool) for the caller.
/// Plan tools check every named device and store a pending plan with its
/// approval token; apply tools check the token (creator only, 15 minutes,
/// once), check every device again, then apply.
pub async fn call_fleet(
    state: &AppState,
    c: &Caller<'_>,
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
    let args = Args::parse(tool, input)?;
    if let Some(plan_id) = args
        .str("plan_id")
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
    {
        let token = args.str("approval_token").unwrap_or_default();
        let plan = state
            .plans
            .get(c.who.tenant_id, plan_id)
            .await
            .map_err(plan_error)?;
        let apply_with = tools::plans::apply_tool_for(&plan.change);
        if apply_with != tool.name {
            return Err(CallError::Tool(ToolError::Refused(format!(
                "this plan is applied with {apply_with}, not {}",
                tool.name
            ))));
        }
        // Permissions and capabilities may have changed since the plan was made.
        for d in &plan.device_ids {
            guard_device(state, c, tool, *d).await?;
        }
        let plan = state
            .plans
            .start(tool, c.who.tenant_id, plan_id, token, c.who.user_id)
            .await
            .map_err(plan_error)?;
        let mut targets = Vec::new();
        for d in &plan.device_ids {
            let device = state
                .tenancy
                .device(*d)
                .await
                .map_err(|_| CallError::UnknownDevice)?;
            let creds = state.tenancy.credentials(*d).await.map_err(|_| {
                CallError::Unavailable("device credentials cannot be read right now".into())
            })?;
            let Some(creds) = creds else {
                let why = format!("device `{}` has no stored credentials", device.name);
                let _ = state.plans.abort(&plan, &why).await;
                return Err(CallError::NoCredentials(device.name));
            };
            targets.push(crate::devices::target(&device, creds));
        }
        audit_plan(
            state,
            c,
            tool.name,
            plan.id,
            AuditOutcome::Allow,
            format!("applying plan on {} devices", targets.len()),
        )
        .await?;
        let done = state.plans.run(plan, &targets).await.map_err(plan_error)?;
        let completed = done.status == tools::plan::PlanStatus::Completed;
        audit_plan(
            state,
            c,
            tool.name,
            done.id,
            if completed {
                AuditOutcome::Allow
            } else {
                AuditOutcome::Deny
            },
            format!("plan {}", done.status.as_str()),
        )
        .await?;
        return Ok(ToolOutput {
            summary: format!("plan {} {}", done.id, done.status.as_str()),
            data: serde_json::json!({
                "plan_id": done.id, "status": done.status.as_str(), "outcomes": done.outcomes,
            }),
        });
    }
    let devices = tools::plans::device_ids(&args);
    let (change, batch) = tools::plans::change_for(tool, &args).map_err(plan_error)?;
    for d in &devices {
        guard_device(state, c, tool, *d).await?;
    }
    let (plan, token) = state
        .plans
        .create(tool, c.who.tenant_id, c.who.user_id, devices, change, batch)
        .await
        .map_err(plan_error)?;
    audit_plan(
        state,
        c,
        tool.name,
        plan.id,
        AuditOutcome::Allow,
        format!("plan created, risk {}", plan.risk),
    )
    .await?;
    let expires = plan
        .expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Ok(ToolOutput {
        summary: format!(
            "plan {} created for {} devices (risk {}); apply it with {} and the approval token within 15 minutes",
            plan.id,
            plan.device_ids.len(),
            plan.risk,
            tools::plans::apply_tool_for(&plan.change)
        ),
        data: serde_json::json!({
            "plan_id": plan.id,
            "approval_token": token,
            "expires_at": expires,
            "risk": plan.risk,
            "status": plan.status.as_str(),
            "apply_with": tools::plans::apply_tool_for(&plan.change),
            "change": plan.change,
            "device_ids": plan.device_ids,
        }),
    })
}

async fn audit_plan(
    state: &AppState,
    c: &Caller<'_>,
    tool: &str,
    plan: uuid::Uuid,
    outcome: AuditOutcome,
    reason: String,
) -> Result<(), CallError> {
    let now = state.clock.now();
    state
        .audit
        .record(AuditEvent {
            id: AuditEventId::from_uuid(state.entropy.uuid_v7(now)),
            at: now,
            tenant_id: Some(c.who.tenant_id),
            user_id: Some(c.who.user_id),
            user_email: Some(c.who.email.clone()),
            actor: actor(c),
            operation: format!("{}:{tool}", c.channel),
            tool_name: Some(tool.to_owned()),
            action: "tool:professional".into(),
            resource_type: "plan".into(),
            resource_id: Some(plan),
            device_id: None,
            environment: None,
            effect: audit::Effect::Write,
            decision: outcome,
            result: outcome.result(),
            error_class: (outcome == AuditOutcome::Deny).then(|| "plan_failed".to_owned()),
            approval_request_id: None,
            client_addr: None,
            args_digest: None,
            reason,
            request_id: c.request_id.to_owned(),
        })
        .await
        .map_err(|_| CallError::Unavailable("the audit trail cannot be written".into()))
}
