//! Authorization checks: may a user use a permission on a resource, and why.

use super::failure;
use super::{ApiResult, Gate, Tag};
use crate::http::problem::ApiError;
use crate::state::AppState;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use rbac::engine::Ruling;
use rbac::{Decision, Grant, Permission as P, Resource};
use uuid::Uuid;

/// The operations on authorization checks.
pub struct AuthzChecksApi {
    pub state: AppState,
}

/// What a resource reference names, for `POST /authz/check`.
#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ResourceKind {
    Tenant,
    Division,
    Group,
    Team,
    Site,
    Device,
    User,
    DeviceGroup,
}

/// A reference to a resource.
#[derive(Debug, Clone, Object)]
pub struct ResourceRef {
    #[oai(rename = "type")]
    pub kind: ResourceKind,
    pub id: Uuid,
}

impl From<ResourceRef> for rbac::Resource {
    fn from(r: ResourceRef) -> Self {
        use rbac::Resource as R;
        match r.kind {
            ResourceKind::Tenant => R::Tenant(r.id.into()),
            ResourceKind::Division | ResourceKind::Group | ResourceKind::Team => R::Unit(r.id),
            ResourceKind::Site => R::Site(r.id.into()),
            ResourceKind::Device => R::Device(r.id.into()),
            ResourceKind::User => R::User(r.id.into()),
            ResourceKind::DeviceGroup => R::DeviceGroup(r.id.into()),
        }
    }
}

/// An authorization question.
#[derive(Debug, Object)]
pub struct AuthzCheck {
    /// Whose access to check; omit for the caller's own.
    #[oai(skip_serializing_if_is_none)]
    pub user_id: Option<Uuid>,
    /// A permission such as `site:read`.
    #[oai(validator(max_length = 64))]
    pub permission: String,
    pub resource: ResourceRef,
}

/// The answer to an authorization question.
#[derive(Debug, Object)]
pub struct AuthzAnswer {
    pub allowed: bool,
    /// `allow`, or the stable code of the denial.
    pub code: String,
    /// The reason in words.
    pub reason: String,
    #[oai(skip_serializing_if_is_none)]
    pub binding_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub role_id: Option<Uuid>,
}

#[OpenApi(tag = "Tag::Access")]
impl AuthzChecksApi {
    /// Ask whether a user (the caller by default) may use a permission on a
    /// resource, and why. Asking about another user needs `user:read` on them.
    #[oai(
        path = "/authz/check",
        method = "post",
        operation_id = "checkAuthorization"
    )]
    async fn check(
        &self,
        gate: Gate,
        body: Json<AuthzCheck>,
    ) -> ApiResult<Json<AuthzAnswer>, failure::Create> {
        let b = body.0;
        let perm = P::parse(&b.permission).ok_or_else(|| {
            ApiError::invalid(
                "permission",
                format!("unknown permission `{}`", b.permission),
            )
        })?;
        let mut subject = gate.who.clone();
        match b.user_id {
            Some(u) if u != gate.who.user_id.uuid() => {
                gate.authorize(P::UserRead, Resource::User(u.into()))
                    .await?;
                let user = self.state.tenancy.user(u.into()).await?;
                subject.user_id = user.id;
                subject.email = user.email;
                subject.platform_admin = user.platform_admin;
            }
            _ => gate.authenticated().await?,
        }
        let decision = match self
            .state
            .authz
            .decide(&subject, perm, b.resource.clone().into())
            .await?
        {
            Ruling::Decided(d) => d,
            Ruling::NotFound => return Err(ApiError::not_found("resource").into()),
        };
        let (binding_id, role_id) = match decision {
            Decision::Allow(Grant::Binding {
                binding_id,
                role_id,
            }) => (Some(binding_id.uuid()), Some(role_id.uuid())),
            _ => (None, None),
        };
        Ok(Json(AuthzAnswer {
            allowed: decision.is_allowed(),
            code: match decision {
                Decision::Allow(_) => "allow".into(),
                Decision::Deny(r) => r.code().into(),
            },
            reason: decision.reason_text(),
            binding_id,
            role_id,
        }))
    }
}
