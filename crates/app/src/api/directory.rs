//! Users, invitations and API tokens.

use super::models::*;
use super::{ApiResult, Created, Ctx, Deleted, Tag, auth::Caller, problem::ApiError};
use crate::state::AppState;
use kernel::UserId;
use poem::Request;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use rbac::{Permission as P, Resource, delegation};
use time::Duration;
use uuid::Uuid;

pub struct DirectoryApi {
    pub state: AppState,
}

#[OpenApi(tag = "Tag::Directory")]
impl DirectoryApi {
    /// The caller's own user record and role bindings.
    #[oai(path = "/me", method = "get", operation_id = "getMe")]
    async fn me(&self, caller: Caller, req: &Request) -> ApiResult<Json<MeDto>> {
        let ctx = Ctx::new(&self.state, caller, req);
        ctx.authenticated().await?;
        let user = self.state.tenancy.user(ctx.who.user_id).await?;
        let bindings = self.state.rbac.repo().bindings(ctx.tenant()).await?;
        let mine = bindings
            .into_iter()
            .filter(|b| b.user_id == ctx.who.user_id)
            .map(BindingDto::from)
            .collect();
        Ok(Json(MeDto {
            user: user.into(),
            bindings: mine,
        }))
    }

    /// List the users the caller may see.
    #[oai(path = "/users", method = "get", operation_id = "listUsers")]
    async fn list_users(
        &self,
        caller: Caller,
        req: &Request,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<UserPage>> {
        let ctx = Ctx::new(&self.state, caller, req);
        let index = ctx.authorize_list(P::UserRead).await?;
        let users = self.state.tenancy.repo().users(ctx.tenant()).await?;
        let visible = users
            .into_iter()
            .filter(|u| ctx.visible(&index, P::UserRead, Resource::User(u.id)));
        Ok(Json(
            Paging {
                after: after.0,
                limit: limit.0,
            }
            .request()
            .paginate(visible.map(UserDto::from), |u| u.id)
            .into(),
        ))
    }

    /// Get a user.
    #[oai(path = "/users/:user_id", method = "get", operation_id = "getUser")]
    async fn get_user(
        &self,
        caller: Caller,
        req: &Request,
        user_id: Path<Uuid>,
    ) -> ApiResult<Json<UserDto>> {
        let ctx = Ctx::new(&self.state, caller, req);
        ctx.authorize(P::UserRead, Resource::User(user_id.0.into()))
            .await?;
        Ok(Json(
            self.state.tenancy.user(user_id.0.into()).await?.into(),
        ))
    }

    /// Change a user's display name.
    #[oai(
        path = "/users/:user_id",
        method = "patch",
        operation_id = "updateUser"
    )]
    async fn update_user(
        &self,
        caller: Caller,
        req: &Request,
        user_id: Path<Uuid>,
        body: Json<UserPatch>,
    ) -> ApiResult<Json<UserDto>> {
        let ctx = Ctx::new(&self.state, caller, req);
        ctx.authorize(P::UserUpdate, Resource::User(user_id.0.into()))
            .await?;
        Ok(Json(
            self.state
                .tenancy
                .update_user(user_id.0.into(), &body.0.display_name)
                .await?
                .into(),
        ))
    }

    /// Remove a user with its bindings, device scopes and tokens.
    #[oai(
        path = "/users/:user_id",
        method = "delete",
        operation_id = "removeUser"
    )]
    async fn remove_user(
        &self,
        caller: Caller,
        req: &Request,
        user_id: Path<Uuid>,
    ) -> ApiResult<Deleted> {
        let ctx = Ctx::new(&self.state, caller, req);
        let id = UserId::from_uuid(user_id.0);
        ctx.authorize(P::UserRemove, Resource::User(id)).await?;
        if id == ctx.who.user_id {
            return Err(ApiError::conflict(
                "you cannot remove yourself; ask another administrator",
            ));
        }
        let index = self.state.authz.index(ctx.tenant()).await?;
        if let Err(e) = delegation::user_removal(&index, id) {
            return Err(ctx.refuse(P::UserRemove, Resource::User(id), e).await);
        }
        self.state.tenancy.repo().delete_user(id).await?;
        Ok(Deleted::Deleted)
    }

    /// Link a user to an identity at the identity provider (its issuer and
    /// `sub`): whoever logs in there as that identity is this user from
    /// then on. Platform administrators and holders of `admin:*` are never
    /// linked by email at login, only this way (or with `rosgate user
    /// link-identity`). Needs `admin:*` over the user; a platform
    /// administrator is linked only by a platform administrator.
    #[oai(
        path = "/users/:user_id/identities",
        method = "post",
        operation_id = "linkUserIdentity"
    )]
    async fn link_identity(
        &self,
        caller: Caller,
        req: &Request,
        user_id: Path<Uuid>,
        body: Json<NewIdentityLink>,
    ) -> ApiResult<Created<IdentityLinkDto>> {
        let ctx = Ctx::new(&self.state, caller, req);
        let id = UserId::from_uuid(user_id.0);
        ctx.authorize(P::AdminAll, Resource::User(id)).await?;
        let user = self.state.tenancy.user(id).await?;
        if user.platform_admin && !ctx.who.platform_admin {
            return Err(ApiError::forbidden(
                "platform_admin_link",
                "only a platform administrator links a platform administrator to an identity",
            ));
        }
        let issuer = match (&body.0.issuer, &self.state.idp) {
            (Some(i), _) => i.clone(),
            (None, Some(idp)) => idp.issuer().to_owned(),
            (None, None) => {
                return Err(ApiError::invalid(
                    "issuer",
                    "no identity provider is configured here; name the issuer",
                ));
            }
        };
        self.state
            .tenancy
            .link_identity(&user, &issuer, &body.0.subject)
            .await?;
        Ok(Created::Created(Json(IdentityLinkDto {
            user_id: user.id.uuid(),
            issuer,
            subject: body.0.subject.trim().to_owned(),
        })))
    }

    /// Invite someone by email to a role at a scope. You can only hand out
    /// permissions you hold at that scope.
    #[oai(
        path = "/invitations",
        method = "post",
        operation_id = "createInvitation"
    )]
    async fn invite(
        &self,
        caller: Caller,
        req: &Request,
        body: Json<NewInvitation>,
    ) -> ApiResult<Created<CreatedInvitation>> {
        let ctx = Ctx::new(&self.state, caller, req);
        let body = body.0;
        let scope: tenancy::Scope = body.scope.into();
        let at = Resource::from_scope(scope);
        super::access::check_scope(&self.state, &ctx, scope).await?;
        ctx.authorize(P::UserInvite, at).await?;
        let role = self
            .state
            .rbac
            .role_in(ctx.tenant(), body.role_id.into())
            .await
            .map_err(|_| {
                ApiError::invalid(
                    "role_id",
                    "must name a built-in role or a role of this tenant",
                )
            })?;
        let environments = rbac::service::normalise_environments(envs_in(body.environments))?;
        let index = self.state.authz.index(ctx.tenant()).await?;
        if let Err(e) = delegation::invitation(
            &index,
            ctx.who.user_id,
            role.permissions,
            scope,
            environments.as_deref(),
        ) {
            return Err(ctx.refuse(P::UserInvite, at, e).await);
        }
        let (inv, secret) = self
            .state
            .tenancy
            .invite(
                ctx.tenant(),
                ctx.who.user_id,
                tenancy::service::NewInvitation {
                    email: body.email,
                    role_id: role.id,
                    scope,
                    environments,
                    ttl: Duration::hours(i64::from(body.ttl_hours.unwrap_or(72))),
                },
            )
            .await?;
        Ok(Created::Created(Json(CreatedInvitation {
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
        req: &Request,
        body: Json<AcceptInvitation>,
    ) -> ApiResult<Created<UserDto>> {
        let trail = super::gate::request_trail(req)?;
        let user = self
            .state
            .tenancy
            .accept_invitation(&body.0.token, &body.0.display_name)
            .await?;
        super::gate::accepted(&trail, &user);
        Ok(Created::Created(Json(user.into())))
    }

    /// Create an API token for yourself; the secret is shown only in this reply.
    #[oai(path = "/tokens", method = "post", operation_id = "createToken")]
    async fn create_token(
        &self,
        caller: Caller,
        req: &Request,
        body: Json<NewToken>,
    ) -> ApiResult<Created<CreatedToken>> {
        let ctx = Ctx::new(&self.state, caller, req);
        ctx.authenticated().await?;
        let user = self.state.tenancy.user(ctx.who.user_id).await?;
        let ttl = body.0.ttl_days.map(|d| Duration::days(i64::from(d)));
        let (token, secret) = self
            .state
            .tenancy
            .create_api_token_within(&user, &body.0.name, ttl, ctx.who.credential_expires_at)
            .await?;
        Ok(Created::Created(Json(CreatedToken {
            token: token.into(),
            secret: secret.token,
        })))
    }

    /// List your own API tokens.
    #[oai(path = "/tokens", method = "get", operation_id = "listTokens")]
    async fn list_tokens(
        &self,
        caller: Caller,
        req: &Request,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<TokenPage>> {
        let ctx = Ctx::new(&self.state, caller, req);
        ctx.authenticated().await?;
        let tokens = self
            .state
            .tenancy
            .repo()
            .api_tokens(ctx.who.user_id)
            .await?;
        Ok(Json(
            Paging {
                after: after.0,
                limit: limit.0,
            }
            .request()
            .paginate(tokens.into_iter().map(TokenDto::from), |t| t.id)
            .into(),
        ))
    }

    /// Revoke an API token: your own, or one of a user you may update.
    #[oai(
        path = "/tokens/:token_id",
        method = "delete",
        operation_id = "revokeToken"
    )]
    async fn revoke_token(
        &self,
        caller: Caller,
        req: &Request,
        token_id: Path<Uuid>,
    ) -> ApiResult<Deleted> {
        let ctx = Ctx::new(&self.state, caller, req);
        let (token, _) = self
            .state
            .tenancy
            .repo()
            .api_token(token_id.0.into())
            .await?
            .ok_or_else(|| ApiError::not_found("token"))?;
        ctx.same_tenant(token.tenant_id).await?;
        if token.user_id == ctx.who.user_id {
            ctx.authenticated().await?;
        } else {
            ctx.authorize(P::UserUpdate, Resource::User(token.user_id))
                .await?;
        }
        self.state.tenancy.revoke_api_token(token.id).await?;
        Ok(Deleted::Deleted)
    }
}
