//! The enforcement gate: the single path from "who is calling" to "allowed
//! to touch this". Every decision, allow or deny, is written to the audit
//! port before the handler goes on; if the audit record cannot be written,
//! the request is refused.

use super::auth::{Caller, RequestId};
use super::problem::ApiError;
use crate::state::AppState;
use audit::{AuditEvent, AuditSink, Outcome as AuditOutcome};
use kernel::{AuditEventId, Principal, TenantId};
use rbac::engine::Outcome;
use rbac::{AuthzIndex, Decision, DenyReason, Grant, Permission, Resource};
use std::sync::Arc;

/// One request's view of the gate.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub state: &'a AppState,
    pub who: Principal,
    request_id: String,
}

impl<'a> Ctx<'a> {
    /// The gate for `caller`'s request.
    pub fn new(state: &'a AppState, caller: Caller, req: &poem::Request) -> Self {
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        Ctx {
            state,
            who: caller.0,
            request_id,
        }
    }

    /// The caller's tenant.
    pub fn tenant(&self) -> TenantId {
        self.who.tenant_id
    }

    async fn record(
        &self,
        operation: &str,
        action: &str,
        resource: Resource,
        decision: &Decision,
    ) -> Result<(), ApiError> {
        let outcome = if decision.is_allowed() {
            AuditOutcome::Allow
        } else {
            AuditOutcome::Deny
        };
        self.write(operation, action, resource, outcome, decision.reason_text())
            .await
    }

    async fn write(
        &self,
        operation: &str,
        action: &str,
        resource: Resource,
        decision: AuditOutcome,
        reason: String,
    ) -> Result<(), ApiError> {
        let now = self.state.clock.now();
        let event = AuditEvent {
            id: AuditEventId::from_uuid(self.state.entropy.uuid_v7(now)),
            at: now,
            tenant_id: Some(self.who.tenant_id),
            user_id: Some(self.who.user_id),
            user_email: Some(self.who.email.clone()),
            actor: audit::Actor::of(&self.who.auth),
            operation: operation.to_owned(),
            tool_name: None,
            action: action.to_owned(),
            resource_type: resource.kind().to_owned(),
            resource_id: resource.id(),
            device_id: match resource {
                Resource::Device(d) => Some(d.uuid()),
                _ => None,
            },
            environment: None,
            effect: if action.ends_with(":read") || action == "authenticated" {
                audit::Effect::Read
            } else {
                audit::Effect::Write
            },
            decision,
            result: decision.result(),
            error_class: (decision == AuditOutcome::Deny).then(|| "denied".to_owned()),
            reason,
            approval_request_id: None,
            request_id: self.request_id.clone(),
            client_addr: None,
            args_digest: None,
        };
        self.state.audit.record(event).await.map_err(|_| {
            ApiError::unavailable(
                "the audit trail cannot be written; the request was not carried out",
            )
        })
    }

    /// Requires `perm` on `resource`: records the decision and returns the
    /// grant, or the 403/404 problem to reply with.
    pub async fn authorize(
        &self,
        operation: &str,
        perm: Permission,
        resource: Resource,
    ) -> Result<Grant, ApiError> {
        let outcome = self.state.authz.decide(&self.who, perm, resource).await?;
        match outcome {
            Outcome::Decided(d) => {
                self.record(operation, perm.as_str(), resource, &d).await?;
                match d {
                    Decision::Allow(g) => Ok(g),
                    Decision::Deny(r) => Err(ApiError::denied(r)),
                }
            }
            Outcome::NotFound => {
                let reason = format!("{} not found", resource.kind());
                self.write(
                    operation,
                    perm.as_str(),
                    resource,
                    AuditOutcome::Deny,
                    reason,
                )
                .await?;
                Err(ApiError::not_found(resource.kind()))
            }
        }
    }

    /// Requires that the caller holds `perm` somewhere in its tenant, for a
    /// list whose items are then filtered with [`Ctx::visible`].
    pub async fn authorize_list(
        &self,
        operation: &str,
        perm: Permission,
    ) -> Result<Arc<AuthzIndex>, ApiError> {
        let index = self.state.authz.index(self.who.tenant_id).await?;
        let d = match index.any_grant(self.who.user_id, perm) {
            Some(g) => Decision::Allow(g),
            None => Decision::Deny(DenyReason::MissingPermission { permission: perm }),
        };
        self.record(
            operation,
            perm.as_str(),
            Resource::Tenant(self.who.tenant_id),
            &d,
        )
        .await?;
        match d {
            Decision::Deny(r) => Err(ApiError::denied(r)),
            Decision::Allow(_) => Ok(index),
        }
    }

    /// Records an operation that needs no permission beyond being signed in
    /// (reading one's own profile and tokens, listing the role catalogue).
    pub async fn authenticated(&self, operation: &str) -> Result<(), ApiError> {
        let d = Decision::Allow(Grant::Myself);
        self.record(
            operation,
            "authenticated",
            Resource::User(self.who.user_id),
            &d,
        )
        .await
    }

    /// Whether an item of a list is visible to the caller.
    pub fn visible(&self, index: &AuthzIndex, perm: Permission, resource: Resource) -> bool {
        index
            .decide(self.who.user_id, perm, resource)
            .is_some_and(|d| d.is_allowed())
    }

    /// Refuses a body that names entities of another tenant. The first id
    /// not in the caller's tenant decides: another tenant's is refused as
    /// cross-tenant; one unknown everywhere passes, for the service to
    /// report as invalid input. At most one lookup leaves the index.
    pub async fn ids_in_tenant(&self, operation: &str, ids: &[uuid::Uuid]) -> Result<(), ApiError> {
        let index = self.state.authz.index(self.who.tenant_id).await?;
        if let Some(stranger) = ids.iter().find(|id| !index.contains(**id))
            && let Some(owner) = self.state.authz.tenant_of(*stranger).await?
        {
            self.same_tenant(operation, owner).await?;
        }
        Ok(())
    }

    /// Refuses a body or path that names another tenant.
    pub async fn same_tenant(&self, operation: &str, tenant: TenantId) -> Result<(), ApiError> {
        if tenant == self.who.tenant_id {
            return Ok(());
        }
        let d = Decision::Deny(DenyReason::CrossTenant);
        self.record(operation, "tenant", Resource::Tenant(tenant), &d)
            .await?;
        Err(ApiError::denied(DenyReason::CrossTenant))
    }
}
