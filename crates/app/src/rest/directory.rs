//! Users, invitations and API tokens.

use super::id::Id;
use super::models::*;
use super::{ApiResult, Created, Deleted, Gate, Tag};
use crate::http::problem::ApiError;
use crate::state::AppState;
use kernel::{ApiTokenId, UserId};
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use rbac::{Permission as P, Resource, delegation};
use time::Duration;
use uuid::Uuid;

/// `s` for an audit reason: quoted, escaped, at most 256 characters.
fn shown(s: &str) -> String {
    let short: String = s.chars().take(256).collect();
    format!("{short:?}")
}

impl DirectoryApi {
    /// The user whose identity links `gate`'s caller may change: never its
    /// own, and an administrator's (`admin:*` anywhere, or a platform
    /// administrator) only as a platform administrator.
    async fn may_change_links(&self, gate: &Gate, id: UserId) -> Result<tenancy::User, ApiError> {
        if id == gate.who.user_id {
            return Err(ApiError::forbidden(
                "own_identity_link",
                "nobody changes their own account's identity links; ask another administrator",
            ));
        }
        let user = self.state.tenancy.user(id).await?;
        let index = self.state.authz.index(user.tenant_id).await?;
        let administrator = user.platform_admin || index.holds_anywhere(id, P::AdminAll);
        if administrator && !gate.who.platform_admin {
            return Err(ApiError::forbidden(
                "platform_admin_link",
                "only a platform administrator changes the identity links of an administrator \
                 (admin:* anywhere, or a platform administrator)",
            ));
        }
        Ok(user)
    }

    /// Records the outcome of a change to an identity link described by
    /// `what`: allowed (`what` and `done`) or, for a refusal, denied (`what`,
    /// `refused` and the problem's code).
    async fn audit_link_change<T>(
        gate: &Gate,
        at: Resource,
        what: &str,
        (done, refused): (&str, &str),
        outcome: Result<T, ApiError>,
    ) -> ApiResult<T> {
        match outcome {
            Ok(v) => {
                gate.allowed_because(P::AdminAll, at, format!("{what} {done}"))
                    .await?;
                Ok(v)
            }
            Err(e) if e.problem().status < 500 => {
                let reason = format!("{what} {refused}: {}", e.problem().code);
                Err(gate.refuse_because(P::AdminAll, at, reason, e).await)
            }
            Err(e) => Err(e),
        }
    }

    /// The checks of [`DirectoryApi::link_identity`] after authorization,
    /// then the link itself.
    async fn link_checked(
        &self,
        gate: &Gate,
        id: UserId,
        issuer: &str,
        subject: &str,
    ) -> Result<tenancy::User, ApiError> {
        let user = self.may_change_links(gate, id).await?;
        match &self.state.idp {
            Some(idp) if issuer != idp.issuer() => {
                return Err(ApiError::invalid_code(
                    "issuer_mismatch",
                    "issuer",
                    format!("must be the configured provider's issuer, {}", idp.issuer()),
                ));
            }
            Some(_) => {}
            None if issuer.is_empty() => {
                return Err(ApiError::invalid(
                    "issuer",
                    "no identity provider is configured here; name the issuer",
                ));
            }
            // Links made before a provider is configured: the issuer as named.
            None => {}
        }
        // One identity per user and provider; a link at a provider moved
        // from signs nobody in and does not stand in the way.
        let links = self.state.tenancy.identity_links(id).await?;
        if links
            .iter()
            .any(|l| l.issuer == issuer && l.subject != subject)
        {
            return Err(ApiError::conflict_code(
                "identity_already_linked",
                "this user is linked to an identity already; a user has one",
            ));
        }
        self.state
            .tenancy
            .link_identity(&user, issuer, subject)
            .await
            .map_err(|e| match e {
                tenancy::TenancyError::Conflict(_)
                | tenancy::TenancyError::Store(kernel::StoreError::Conflict(_)) => {
                    ApiError::conflict_code(
                        "identity_taken",
                        "this identity is already linked to another user",
                    )
                }
                other => other.into(),
            })?;
        Ok(user)
    }

    /// The checks of [`DirectoryApi::unlink_identity`] after authorization,
    /// then the removal itself.
    async fn unlink_checked(
        &self,
        gate: &Gate,
        id: UserId,
        issuer: &str,
        subject: &str,
    ) -> Result<(), ApiError> {
        let user = self.may_change_links(gate, id).await?;
        self.state
            .tenancy
            .unlink_identity(&user, issuer, subject)
            .await
            .map_err(|e| match e {
                tenancy::TenancyError::NotFound(_) => ApiError::not_found_code(
                    "identity_not_found",
                    "this user is not linked to that identity",
                ),
                other => other.into(),
            })
    }
}

pub struct DirectoryApi {
    pub state: AppState,
}

#[OpenApi(tag = "Tag::Directory")]
impl DirectoryApi {
    /// The caller's own user record and role bindings.
    #[oai(path = "/me", method = "get", operation_id = "getMe")]
    async fn me(&self, gate: Gate) -> ApiResult<Json<MeDto>> {
        gate.authenticated().await?;
        let user = self.state.tenancy.user(gate.who.user_id).await?;
        let bindings = self.state.rbac.repo().bindings(gate.tenant()).await?;
        let mine = bindings
            .into_iter()
            .filter(|b| b.user_id == gate.who.user_id)
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
        gate: Gate,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<UserPage>> {
        let index = gate.authorize_list(P::UserRead).await?;
        let users = self.state.tenancy.repo().users(gate.tenant()).await?;
        let visible = users
            .into_iter()
            .filter(|u| gate.visible(&index, P::UserRead, Resource::User(u.id)));
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
    async fn get_user(&self, gate: Gate, user_id: Path<Id<UserId>>) -> ApiResult<Json<UserDto>> {
        gate.authorize(P::UserRead, Resource::User(user_id.0.get()))
            .await?;
        Ok(Json(self.state.tenancy.user(user_id.0.get()).await?.into()))
    }

    /// Change a user's display name.
    #[oai(
        path = "/users/:user_id",
        method = "patch",
        operation_id = "updateUser"
    )]
    async fn update_user(
        &self,
        gate: Gate,
        user_id: Path<Id<UserId>>,
        body: Json<UserPatch>,
    ) -> ApiResult<Json<UserDto>> {
        gate.authorize(P::UserUpdate, Resource::User(user_id.0.get()))
            .await?;
        Ok(Json(
            self.state
                .tenancy
                .update_user(user_id.0.get(), &body.0.display_name)
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
    async fn remove_user(&self, gate: Gate, user_id: Path<Id<UserId>>) -> ApiResult<Deleted> {
        let id = user_id.0.get();
        gate.authorize(P::UserRemove, Resource::User(id)).await?;
        if id == gate.who.user_id {
            return Err(ApiError::conflict(
                "you cannot remove yourself; ask another administrator",
            ));
        }
        let index = self.state.authz.index(gate.tenant()).await?;
        if let Err(e) = delegation::user_removal(&index, id) {
            return Err(gate.refuse(P::UserRemove, Resource::User(id), e).await);
        }
        self.state.tenancy.repo().delete_user(id).await?;
        Ok(Deleted::Deleted)
    }

    /// Link a user to an identity at the identity provider (its issuer and
    /// `sub`): whoever logs in there as that identity is this user from
    /// then on. Platform administrators and holders of `admin:*` are never
    /// linked by email at login, only this way (or with `rosgate user
    /// link-identity`). Needs `admin:*` over the user; a user who holds
    /// `admin:*` anywhere, or is a platform administrator, is linked only by
    /// a platform administrator. Nobody links themselves, a user linked to
    /// an identity already is not linked to another one
    /// (`identity_already_linked`), and the issuer must be the configured
    /// provider's. Every refusal is audited as a denial naming the issuer
    /// and subject.
    #[oai(
        path = "/users/:user_id/identities",
        method = "post",
        operation_id = "linkUserIdentity"
    )]
    async fn link_identity(
        &self,
        gate: Gate,
        user_id: Path<Id<UserId>>,
        body: Json<NewIdentityLink>,
    ) -> ApiResult<Created<IdentityLinkDto>> {
        let id = user_id.0.get();
        let at = Resource::User(id);
        gate.authorize(P::AdminAll, at).await?;
        let subject = body.0.subject.trim().to_owned();
        let issuer = body
            .0
            .issuer
            .clone()
            .or_else(|| self.state.idp.as_ref().map(|i| i.issuer().to_owned()))
            .unwrap_or_default();
        let what = format!(
            "identity link of subject {} at issuer {}",
            shown(&subject),
            shown(&issuer)
        );
        let outcome = self.link_checked(&gate, id, &issuer, &subject).await;
        let user =
            Self::audit_link_change(&gate, at, &what, ("created", "refused"), outcome).await?;
        Ok(Created::Created(Json(IdentityLinkDto {
            user_id: user.id.uuid(),
            issuer,
            subject,
        })))
    }

    /// List the identities linked to a user (issuer, subject, and when the
    /// link was made): each is a way to sign in as that user. Needs
    /// `user:read` over the user.
    #[oai(
        path = "/users/:user_id/identities",
        method = "get",
        operation_id = "listUserIdentities"
    )]
    async fn list_identities(
        &self,
        gate: Gate,
        user_id: Path<Id<UserId>>,
    ) -> ApiResult<Json<LinkedIdentities>> {
        let id = user_id.0.get();
        gate.authorize(P::UserRead, Resource::User(id)).await?;
        let links = self.state.tenancy.identity_links(id).await?;
        Ok(Json(LinkedIdentities {
            items: links.into_iter().map(LinkedIdentityDto::from).collect(),
        }))
    }

    /// Remove a user's link to an identity, named exactly as listed by its
    /// `issuer` (the configured provider's when omitted) and `subject`:
    /// that identity no longer signs in as the user. Sessions it started
    /// before run on to their own end. Gated like linking: `admin:*` over
    /// the user; a user who holds `admin:*` anywhere, or is a platform
    /// administrator, only by a platform administrator; nobody removes
    /// their own link (`own_identity_link`). `identity_not_found` when the
    /// user has no such link. Every refusal is audited as a denial naming
    /// the issuer and subject.
    #[oai(
        path = "/users/:user_id/identities",
        method = "delete",
        operation_id = "unlinkUserIdentity"
    )]
    async fn unlink_identity(
        &self,
        gate: Gate,
        user_id: Path<Id<UserId>>,
        subject: Query<String>,
        issuer: Query<Option<String>>,
    ) -> ApiResult<Deleted> {
        let id = user_id.0.get();
        let at = Resource::User(id);
        gate.authorize(P::AdminAll, at).await?;
        let subject = subject.0;
        let issuer = issuer
            .0
            .or_else(|| self.state.idp.as_ref().map(|i| i.issuer().to_owned()))
            .unwrap_or_default();
        let what = format!(
            "identity link of subject {} at issuer {}",
            shown(&subject),
            shown(&issuer)
        );
        let outcome = self.unlink_checked(&gate, id, &issuer, &subject).await;
        Self::audit_link_change(&gate, at, &what, ("removed", "removal refused"), outcome).await?;
        Ok(Deleted::Deleted)
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
        gate: Gate,
        body: Json<NewInvitation>,
    ) -> ApiResult<Created<CreatedInvitation>> {
        let body = body.0;
        let scope: tenancy::Scope = body.scope.into();
        let at = Resource::from_scope(scope);
        super::access::check_scope(&self.state, &gate, scope).await?;
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
            return Err(gate.refuse(P::UserInvite, at, e).await);
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
        req: &poem::Request,
        body: Json<AcceptInvitation>,
    ) -> ApiResult<Created<UserDto>> {
        let trail = crate::enforce::gate::request_trail(req)?;
        let user = self
            .state
            .tenancy
            .accept_invitation(&body.0.token, &body.0.display_name)
            .await?;
        crate::enforce::gate::accepted(&trail, &user);
        Ok(Created::Created(Json(user.into())))
    }

    /// Create an API token for yourself; the secret is shown only in this reply.
    #[oai(path = "/tokens", method = "post", operation_id = "createToken")]
    async fn create_token(
        &self,
        gate: Gate,
        body: Json<NewToken>,
    ) -> ApiResult<Created<CreatedToken>> {
        gate.authenticated().await?;
        let user = self.state.tenancy.user(gate.who.user_id).await?;
        let ttl = body.0.ttl_days.map(|d| Duration::days(i64::from(d)));
        let (token, secret) = self
            .state
            .tenancy
            .create_api_token_within(&user, &body.0.name, ttl, gate.who.credential_expires_at)
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
        gate: Gate,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<TokenPage>> {
        gate.authenticated().await?;
        let tokens = self
            .state
            .tenancy
            .repo()
            .api_tokens(gate.who.user_id)
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
    async fn revoke_token(&self, gate: Gate, token_id: Path<Id<ApiTokenId>>) -> ApiResult<Deleted> {
        let (token, _) = self
            .state
            .tenancy
            .repo()
            .api_token(token_id.0.get())
            .await?
            .ok_or_else(|| ApiError::not_found("token"))?;
        gate.same_tenant(token.tenant_id).await?;
        if token.user_id == gate.who.user_id {
            gate.authenticated().await?;
        } else {
            gate.authorize(P::UserUpdate, Resource::User(token.user_id))
                .await?;
        }
        self.state.tenancy.revoke_api_token(token.id).await?;
        Ok(Deleted::Deleted)
    }
}
