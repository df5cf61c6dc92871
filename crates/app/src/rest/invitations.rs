//! Invitations: created by who may bind their role, accepted once with
//! their token, which creates the user.

use super::common::{EnvironmentDto, ScopeRef, check_scope, envs_in, envs_out};
use super::failure;
use super::users::UserDto;
use super::{ApiResult, Creation, Gate, Tag};
use crate::http::problem::ApiError;
use crate::state::AppState;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use rbac::{Permission as P, Resource, delegation};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The operations on invitations.
pub struct InvitationsApi {
    pub state: AppState,
}

/// A new invitation.
#[derive(Debug, Object)]
#[oai(rename = "NewInvitation")]
pub struct NewInvitationBody {
    #[oai(validator(min_length = 1, max_length = 254))]
    pub email: String,
    pub role_id: Uuid,
    pub scope: ScopeRef,
    /// Limit the resulting binding to these environments; omit for all.
    #[oai(skip_serializing_if_is_none)]
    pub environments: Option<Vec<EnvironmentDto>>,
    /// Hours until the invitation expires (1 to 720; default 72).
    #[oai(
        skip_serializing_if_is_none,
        validator(minimum(value = "1"), maximum(value = "720"))
    )]
    pub ttl_hours: Option<u32>,
}

/// An invitation.
#[derive(Debug, Object)]
pub struct InvitationDto {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub role_id: Uuid,
    pub scope: ScopeRef,
    #[oai(skip_serializing_if_is_none)]
    pub environments: Option<Vec<EnvironmentDto>>,
    pub expires_at: OffsetDateTime,
    #[oai(skip_serializing_if_is_none)]
    pub accepted_at: Option<OffsetDateTime>,
}

impl From<tenancy::Invitation> for InvitationDto {
    fn from(i: tenancy::Invitation) -> Self {
        Self {
            id: i.id.uuid(),
            tenant_id: i.tenant_id.uuid(),
            email: i.email,
            role_id: i.role_id.uuid(),
            scope: i.scope.into(),
            environments: envs_out(i.environments),
            expires_at: i.expires_at,
            accepted_at: i.accepted_at,
        }
    }
}

/// A created invitation with its single-use token, shown only here.
#[derive(Debug, Object)]
#[oai(rename = "CreatedInvitation")]
pub struct InvitationWithToken {
    pub invitation: InvitationDto,
    pub token: String,
}

/// Accepting an invitation.
#[derive(Debug, Object)]
pub struct AcceptInvitation {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub token: String,
    #[oai(validator(min_length = 1, max_length = 200))]
    pub display_name: String,
}

#[OpenApi(tag = "Tag::Directory")]
impl InvitationsApi {
    /// Invite someone by email to a role at a scope. You can only hand out
    /// permissions you hold at that scope.
    #[oai(
        path = "/invitations",
        method = "post",
        operation_id = "createInvitation"
    )]
    async fn invite(
        &self,
        gate: Gate,
        body: Json<NewInvitationBody>,
    ) -> ApiResult<Creation<InvitationWithToken>, failure::Create> {
        let body = body.0;
        let scope: tenancy::Scope = body.scope.into();
        let at = Resource::from_scope(scope);
        check_scope(&self.state, &gate, scope).await?;
        gate.authorize(P::UserInvite, at).await?;
        let role = self
            .state
            .rbac
            .role_in(gate.tenant(), body.role_id.into())
            .await
            .map_err(|_| {
                ApiError::invalid(
                    "role_id",
                    "must name a built-in role or a role of this tenant",
                )
            })?;
        let environments = rbac::service::normalise_environments(envs_in(body.environments))?;
        let index = self.state.authz.index(gate.tenant()).await?;
        if let Err(e) = delegation::invitation(
            &index,
            gate.who.user_id,
            role.permissions,
            scope,
            environments.as_deref(),
        ) {
            return Err(gate.refuse(P::UserInvite, at, e).await.into());
        }
        let (inv, secret) = self
            .state
            .tenancy
            .invite(
                gate.tenant(),
                gate.who.user_id,
                tenancy::service::NewInvitation {
                    email: body.email,
                    role_id: role.id,
                    scope,
                    environments,
                    ttl: Duration::hours(i64::from(body.ttl_hours.unwrap_or(72))),
                },
            )
            .await?;
        Ok(Creation::Created(Json(InvitationWithToken {
            invitation: inv.into(),
            token: secret.token,
        })))
    }

    /// Accept an invitation: creates the user and its role binding. The
    /// token is the credential; it works once, before it expires.
    #[oai(
        path = "/invitations/accept",
        method = "post",
        operation_id = "acceptInvitation"
    )]
    async fn accept(
        &self,
        req: &poem::Request,
        body: Json<AcceptInvitation>,
    ) -> ApiResult<Creation<UserDto>, failure::Create> {
        let trail = crate::enforce::gate::request_trail(req)?;
        let user = self
            .state
            .tenancy
            .accept_invitation(&body.0.token, &body.0.display_name)
            .await?;
        crate::enforce::gate::accepted(&trail, &user);
        Ok(Creation::Created(Json(user.into())))
    }
}
