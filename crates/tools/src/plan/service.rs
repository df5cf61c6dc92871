//! The plan service: turns a plan tool's input into a [`Plan`], hands its
//! creator a confirmation token, and applies the plan when the token comes
//! back. Checking a token ([`Plans::confirm`]) changes nothing; the token
//! is used up only by [`Plans::start`], which the caller runs once every
//! other check (permissions, devices, credentials, budgets) has passed, so
//! a refusal leaves the plan pending and its token good.

use crate::args::Args;
use crate::catalogue::{Implementation, Tool};
use crate::device::DeviceTarget;
use crate::output::ToolError;
use crate::plan::apply;
use crate::plan::model::{Change, ConfirmationKey, Plan, PlanStatus, TOKEN_TTL};
use crate::ports::{PlanStore, RouterOs};
use kernel::{Clock, DeviceId, Entropy, StoreError, TenantId, UserId};
use std::sync::Arc;
use uuid::Uuid;

/// Plans, their confirmation tokens and their application.
#[derive(Clone)]
pub struct Plans {
    store: Arc<dyn PlanStore>,
    api: Arc<dyn RouterOs>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    key: ConfirmationKey,
}

impl std::fmt::Debug for Plans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Plans")
    }
}

/// Why a plan could not be created or applied.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Tool(#[from] ToolError),
    #[error("plan not found")]
    NotFound,
    /// The token is wrong, expired, not the caller's, or already used.
    #[error("{0}")]
    Token(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn used(status: PlanStatus) -> PlanError {
    PlanError::Token(format!(
        "the confirmation token was already used (the plan is {})",
        status.as_str()
    ))
}

fn refused(m: impl Into<String>) -> PlanError {
    PlanError::Tool(ToolError::Refused(m.into()))
}

/// Which apply tool applies which change.
pub fn apply_tool_for(change: &Change) -> &'static str {
    match change {
        Change::AddFirewallRule { .. } | Change::RemoveFirewallRule { .. } => "apply_firewall_plan",
        Change::AddStaticRoute { .. } | Change::RemoveStaticRoute { .. } => "apply_routing_plan",
        Change::DnsNtp { .. } => "config_apply_dns_ntp_rollout",
    }
}

/// The devices a plan tool's input names.
pub fn device_ids(args: &Args) -> Vec<DeviceId> {
    args.list("device_ids")
        .unwrap_or_default()
        .iter()
        .filter_map(|s| Uuid::parse_str(s).ok())
        .map(DeviceId::from_uuid)
        .collect()
}

/// The change a plan tool's checked input asks for (made by the function
/// its catalogue row carries), and its batch size.
pub fn change_for(tool: &Tool, args: &Args) -> Result<(Change, usize), PlanError> {
    let Implementation::Plan(make_change) = tool.implementation else {
        return Err(refused(format!("{} does not create plans", tool.name)));
    };
    let change = make_change(args)?;
    let batch = args.int("batch_size").unwrap_or(5).clamp(1, 50) as usize;
    Ok((change, batch))
}

impl Plans {
    pub fn new(
        store: Arc<dyn PlanStore>,
        api: Arc<dyn RouterOs>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
        key: ConfirmationKey,
    ) -> Self {
        Self {
            store,
            api,
            clock,
            entropy,
            key,
        }
    }

    /// The plan `id`, if it is in `tenant`.
    pub async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Plan, PlanError> {
        match self.store.plan(id).await? {
            Some(p) if p.tenant_id == tenant => Ok(p),
            _ => Err(PlanError::NotFound),
        }
    }

    /// Stores a pending plan and returns it with its confirmation token.
    pub async fn create(
        &self,
        tool: &Tool,
        tenant: TenantId,
        creator: UserId,
        devices: Vec<DeviceId>,
        change: Change,
        batch_size: usize,
    ) -> Result<(Plan, String), PlanError> {
        let now = self.clock.now();
        let plan = Plan {
            id: self.entropy.uuid_v7(now),
            tenant_id: tenant,
            created_by: creator,
            tool: tool.name.to_owned(),
            risk: change.risk(devices.len()).to_owned(),
            change,
            device_ids: devices,
            batch_size,
            status: PlanStatus::Pending,
            outcomes: Vec::new(),
            created_at: now,
            expires_at: now + TOKEN_TTL,
        };
        self.store.insert_plan(&plan).await?;
        let token = self.key.token(&plan);
        Ok((plan, token))
    }

    /// The pending plan `id` if `token` confirms it: the right apply tool,
    /// the caller is its creator, the token is unexpired and was made for
    /// the plan's current change and devices. Changes nothing.
    pub async fn confirm(
        &self,
        apply_tool: &Tool,
        tenant: TenantId,
        id: Uuid,
        token: &str,
        by: UserId,
    ) -> Result<Plan, PlanError> {
        let plan = self.get(tenant, id).await?;
        if apply_tool_for(&plan.change) != apply_tool.name {
            return Err(refused(format!(
                "this plan is applied with {}, not {}",
                apply_tool_for(&plan.change),
                apply_tool.name
            )));
        }
        self.key
            .verify(&plan, token, by, self.clock.now())
            .map_err(|m| PlanError::Token(m.into()))?;
        if plan.status != PlanStatus::Pending {
            return Err(used(plan.status));
        }
        Ok(plan)
    }

    /// Uses up the token of a plan [`Plans::confirm`] accepted: moves it
    /// pending → confirmed → executing. The first move is a compare-and-set, so of two callers
    /// with the same token only one starts the plan.
    pub async fn start(&self, mut plan: Plan) -> Result<Plan, PlanError> {
        if !self
            .store
            .move_plan(plan.id, PlanStatus::Pending, PlanStatus::Confirmed)
            .await?
        {
            let now = self.store.plan(plan.id).await?.map(|p| p.status);
            return Err(used(now.unwrap_or(plan.status)));
        }
        if !self
            .store
            .move_plan(plan.id, PlanStatus::Confirmed, PlanStatus::Executing)
            .await?
        {
            return Err(PlanError::Token("the plan was cancelled meanwhile".into()));
        }
        plan.status = PlanStatus::Executing;
        Ok(plan)
    }

    /// Applies a started plan on `targets` (one per plan device, in order)
    /// and records the outcome.
    pub async fn run(&self, mut plan: Plan, targets: &[DeviceTarget]) -> Result<Plan, PlanError> {
        let (ok, outcomes) = apply::apply(&plan, self.api.as_ref(), targets).await;
        let status = if ok {
            PlanStatus::Completed
        } else {
            // executing → rolling_back → rolled_back, as the state machine says.
            self.store
                .move_plan(plan.id, PlanStatus::Executing, PlanStatus::RollingBack)
                .await?;
            if outcomes
                .iter()
                .any(|o| o.outcome == "failed" && o.detail.contains("undo failed"))
            {
                PlanStatus::Failed
            } else {
                PlanStatus::RolledBack
            }
        };
        self.store.finish_plan(plan.id, status, &outcomes).await?;
        plan.status = status;
        plan.outcomes = outcomes;
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_is_applied_by_an_apply_tool_of_the_catalogue() {
        let changes = [
            Change::AddFirewallRule {
                chain: "input".into(),
                action: "drop".into(),
                src_address: None,
                dst_address: None,
                protocol: None,
                dst_port: None,
                comment: None,
            },
            Change::RemoveFirewallRule {
                rule_id: "*1".into(),
            },
            Change::AddStaticRoute {
                dst_address: "192.0.2.0/24".into(),
                gateway: "198.51.100.1".into(),
                distance: None,
                comment: None,
            },
            Change::RemoveStaticRoute {
                route_id: "*1".into(),
            },
            Change::DnsNtp {
                dns_servers: None,
                ntp_servers: None,
            },
        ];
        for change in changes {
            let apply = crate::find(apply_tool_for(&change)).map(|t| t.implementation);
            assert!(
                matches!(apply, Some(Implementation::ApplyPlan)),
                "{change:?}"
            );
        }
    }

    #[test]
    fn only_plan_tools_make_changes() {
        let ping = crate::find("ping").map(|t| change_for(t, &Args::default()));
        assert!(matches!(
            ping,
            Some(Err(PlanError::Tool(ToolError::Refused(_))))
        ));
    }
}
