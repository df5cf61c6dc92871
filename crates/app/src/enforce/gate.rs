//! The enforcement gate: the single path from "who is calling" to "allowed
//! to touch this". Every REST handler that needs a caller takes a [`Gate`]
//! as an extractor: obtaining one authenticates the request, so a handler
//! cannot run unauthenticated, and asking it is the only way a handler
//! authorizes. Every decision, allow or deny, goes into the request's
//! [`Trail`]; the admission path (crate::enforce) commits the request's one
//! audit event before the reply leaves, and refuses the request if it
//! cannot.

use crate::enforce::authn;
use crate::enforce::trail::{DecisionEntry, Trail};
use crate::http::problem::ApiError;
use audit::Outcome as AuditOutcome;
use kernel::{Principal, TenantId};
use poem::{Request, RequestBody};
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use rbac::engine::Ruling;
use rbac::{Authorizer, AuthzIndex, Decision, DenyReason, Grant, Permission, Resource};
use std::sync::Arc;

/// One authenticated request's view of the authorizer.
#[derive(Debug)]
pub struct Gate {
    /// The authenticated caller.
    pub who: Principal,
    authz: Arc<Authorizer>,
    trail: Option<Arc<Trail>>,
    /// The tenant's index as the pipeline read it, if it did.
    index: Option<Arc<AuthzIndex>>,
}

/// Obtaining a gate is authenticating: poem-openapi extracts it before the
/// handler body runs, and the document marks the operation secured by the
/// bearer and session schemes.
impl<'a> ApiExtractor<'a> for Gate {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        authn::register_schemes(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        authn::SECURITY_SCHEMES.to_vec()
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        let who = authn::principal(req).await?;
        Ok(Gate {
            who,
            authz: authn::app_state(req)?.authz.clone(),
            trail: req.extensions().get::<Arc<Trail>>().cloned(),
            index: req
                .extensions()
                .get::<crate::enforce::rest::RequestIndex>()
                .map(|i| i.0.clone()),
        })
    }
}

impl Gate {
    /// The request's trail, for a call that records its own decisions
    /// (a tool call); outside the admission path nothing would be audited,
    /// so nothing runs.
    pub fn trail(&self) -> Result<Arc<Trail>, ApiError> {
        self.trail.clone().ok_or_else(|| {
            ApiError::unavailable("the audit trail cannot be written; nothing was done")
        })
    }

    /// The caller's tenant's decision index, as the authorizer holds it now.
    pub async fn tenant_index(&self) -> Result<Arc<AuthzIndex>, ApiError> {
        Ok(self.authz.index(self.who.tenant_id).await?)
    }

    /// The caller's tenant.
    pub fn tenant(&self) -> TenantId {
        self.who.tenant_id
    }

    async fn record(
        &self,
        action: &str,
        resource: Resource,
        decision: &Decision,
    ) -> Result<(), ApiError> {
        let outcome = if decision.is_allowed() {
            AuditOutcome::Allow
        } else {
            AuditOutcome::Deny
        };
        self.write(action, resource, outcome, decision.reason_text())
            .await
    }

    async fn write(
        &self,
        action: &str,
        resource: Resource,
        outcome: AuditOutcome,
        reason: String,
    ) -> Result<(), ApiError> {
        // Outside the pipeline nothing would be audited: refuse.
        let trail = self.trail.as_ref().ok_or_else(|| {
            ApiError::unavailable(
                "the audit trail cannot be written; the request was not carried out",
            )
        })?;
        if let Resource::Device(d) = resource {
            let index = match &self.index {
                Some(i) => Some(i.clone()),
                None => self.authz.index(self.who.tenant_id).await.ok(),
            };
            if let Some(env) = index.and_then(|i| i.device_environment(d)) {
                trail.environment(env.as_str());
            }
        }
        trail.decide(DecisionEntry {
            action: action.to_owned(),
            resource_type: resource.kind().to_owned(),
            resource_id: resource.id(),
            device_id: match resource {
                Resource::Device(d) => Some(d.uuid()),
                _ => None,
            },
            outcome,
            reason,
        });
        Ok(())
    }

    /// Requires `perm` on `resource`: records the decision and returns the
    /// grant, or the 403/404 problem to reply with.
    pub async fn authorize(&self, perm: Permission, resource: Resource) -> Result<Grant, ApiError> {
        let outcome = self.authz.decide(&self.who, perm, resource).await?;
        match outcome {
            Ruling::Decided(d) => {
                self.record(perm.as_str(), resource, &d).await?;
                match d {
                    Decision::Allow(g) => Ok(g),
                    Decision::Deny(r) => Err(ApiError::denied(r)),
                }
            }
            Ruling::NotFound => {
                let reason = format!("{} not found", resource.kind());
                self.write(perm.as_str(), resource, AuditOutcome::Deny, reason)
                    .await?;
                Err(ApiError::not_found(resource.kind()))
            }
        }
    }

    /// Records a refusal decided by a delegation rule (an escalation, the
    /// last administrator) as a denial of `perm` on `resource`, and returns
    /// the problem to reply with.
    pub async fn refuse(
        &self,
        perm: Permission,
        resource: Resource,
        refusal: rbac::DelegationError,
    ) -> ApiError {
        match self
            .write(
                perm.as_str(),
                resource,
                AuditOutcome::Deny,
                refusal.to_string(),
            )
            .await
        {
            Ok(()) => refusal.into(),
            Err(e) => e,
        }
    }

    /// Records a refusal decided after [`Gate::authorize`] by the
    /// operation's own rules as a denial of `perm` on `resource`, with
    /// `reason`, and returns `refusal` to reply with.
    pub async fn refuse_because(
        &self,
        perm: Permission,
        resource: Resource,
        reason: String,
        refusal: ApiError,
    ) -> ApiError {
        match self
            .write(perm.as_str(), resource, AuditOutcome::Deny, reason)
            .await
        {
            Ok(()) => refusal,
            Err(e) => e,
        }
    }

    /// Replaces the reason of an allowed decision with one that says what
    /// was done (the decision itself stays).
    pub async fn allowed_because(
        &self,
        perm: Permission,
        resource: Resource,
        reason: String,
    ) -> Result<(), ApiError> {
        self.write(perm.as_str(), resource, AuditOutcome::Allow, reason)
            .await
    }

    /// Requires `perm` on a device, or on a site as the place of a device,
    /// as if the device were in `environment` (creating it, moving it
    /// there, or re-homing it): records the decision like
    /// [`Gate::authorize`].
    pub async fn authorize_in(
        &self,
        perm: Permission,
        resource: Resource,
        environment: kernel::Environment,
    ) -> Result<Grant, ApiError> {
        let index = self.authz.index(self.who.tenant_id).await?;
        let Some(d) = index.decide_in(self.who.user_id, perm, resource, environment) else {
            let reason = format!("{} not found", resource.kind());
            self.write(perm.as_str(), resource, AuditOutcome::Deny, reason)
                .await?;
            return Err(ApiError::not_found(resource.kind()));
        };
        self.record(perm.as_str(), resource, &d).await?;
        match d {
            Decision::Allow(g) => Ok(g),
            Decision::Deny(r) => Err(ApiError::denied(r)),
        }
    }

    /// Requires that the caller holds `perm` somewhere in its tenant, for a
    /// list whose items are then filtered with [`Gate::visible`].
    pub async fn authorize_list(&self, perm: Permission) -> Result<Arc<AuthzIndex>, ApiError> {
        let index = self.authz.index(self.who.tenant_id).await?;
        let d = match index.any_grant(self.who.user_id, perm) {
            Some(g) => Decision::Allow(g),
            None => Decision::Deny(DenyReason::MissingPermission { permission: perm }),
        };
        self.record(perm.as_str(), Resource::Tenant(self.who.tenant_id), &d)
            .await?;
        match d {
            Decision::Deny(r) => Err(ApiError::denied(r)),
            Decision::Allow(_) => Ok(index),
        }
    }

    /// Records an operation that needs no permission beyond being signed in
    /// (reading one's own profile and tokens, listing the role catalogue).
    pub async fn authenticated(&self) -> Result<(), ApiError> {
        let d = Decision::Allow(Grant::Myself);
        self.record("authenticated", Resource::User(self.who.user_id), &d)
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
    pub async fn ids_in_tenant(&self, ids: &[uuid::Uuid]) -> Result<(), ApiError> {
        let index = self.authz.index(self.who.tenant_id).await?;
        if let Some(stranger) = ids.iter().find(|id| !index.contains(**id))
            && let Some(owner) = self.authz.tenant_of(*stranger).await?
        {
            self.same_tenant(owner).await?;
        }
        Ok(())
    }

    /// Refuses a body or path that names another tenant.
    pub async fn same_tenant(&self, tenant: TenantId) -> Result<(), ApiError> {
        if tenant == self.who.tenant_id {
            return Ok(());
        }
        let d = Decision::Deny(DenyReason::CrossTenant);
        self.record("tenant", Resource::Tenant(tenant), &d).await?;
        Err(ApiError::denied(DenyReason::CrossTenant))
    }
}

/// The request's trail, which the admission path commits; outside it
/// nothing would be audited, so nothing runs.
pub fn request_trail(req: &poem::Request) -> Result<Arc<Trail>, ApiError> {
    req.extensions()
        .get::<Arc<Trail>>()
        .cloned()
        .ok_or_else(|| ApiError::unavailable("the audit trail cannot be written; nothing was done"))
}

/// Names the user an accepted invitation created as the request's caller:
/// the invitation token was its credential.
pub fn accepted(trail: &Trail, user: &tenancy::User) {
    trail.identify(crate::enforce::trail::Requester {
        tenant_id: Some(user.tenant_id),
        user_id: Some(user.id),
        email: Some(user.email.clone()),
        actor: audit::Actor::User,
    });
    trail.decide_over(DecisionEntry {
        action: "invitation:accept".into(),
        resource_type: "user".into(),
        resource_id: Some(user.id.uuid()),
        device_id: None,
        outcome: AuditOutcome::Allow,
        reason: "invitation accepted: user and role binding created".into(),
    });
}
