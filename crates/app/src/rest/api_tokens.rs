//! API tokens: a caller's own bearer credentials; the secret is shown once.

use super::failure;
use super::id::Id;
use super::page::{Paging, page};
use super::{ApiResult, Creation, Deletion, Gate, Tag};
use crate::http::problem::ApiError;
use crate::state::AppState;
use kernel::ApiTokenId;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use rbac::{Permission as P, Resource};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The operations on API tokens.
pub struct ApiTokensApi {
    pub state: AppState,
}

/// A new API token.
#[derive(Debug, Object)]
pub struct NewToken {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
    /// Days until the token expires, at most `api_tokens.max_ttl_days` (90
    /// by default); omitted, that maximum. Never past the expiry of the
    /// credential making the request: a token cannot mint a token that
    /// outlives itself.
    #[oai(
        skip_serializing_if_is_none,
        validator(minimum(value = "1"), maximum(value = "3650"))
    )]
    pub ttl_days: Option<u32>,
}

/// An API token (never its secret).
#[derive(Debug, Object)]
pub struct TokenDto {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    #[oai(skip_serializing_if_is_none)]
    pub expires_at: Option<OffsetDateTime>,
    #[oai(skip_serializing_if_is_none)]
    pub revoked_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

impl From<tenancy::ApiToken> for TokenDto {
    fn from(t: tenancy::ApiToken) -> Self {
        Self {
            id: t.id.uuid(),
            user_id: t.user_id.uuid(),
            name: t.name,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
            created_at: t.created_at,
        }
    }
}

page!(TokenPage, TokenDto);

/// A created API token with its secret, shown only here.
#[derive(Debug, Object)]
#[oai(rename = "CreatedToken")]
pub struct TokenWithSecret {
    pub token: TokenDto,
    pub secret: String,
}

#[OpenApi(tag = "Tag::Directory")]
impl ApiTokensApi {
    /// Create an API token for yourself; the secret is shown only in this reply.
    #[oai(path = "/tokens", method = "post", operation_id = "createToken")]
    async fn create_token(
        &self,
        gate: Gate,
        body: Json<NewToken>,
    ) -> ApiResult<Creation<TokenWithSecret>, failure::Create> {
        gate.authenticated().await?;
        let user = self.state.tenancy.user(gate.who.user_id).await?;
        let ttl = body.0.ttl_days.map(|d| Duration::days(i64::from(d)));
        let (token, secret) = self
            .state
            .tenancy
            .create_api_token_within(&user, &body.0.name, ttl, gate.who.credential_expires_at)
            .await?;
        Ok(Creation::Created(Json(TokenWithSecret {
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
    ) -> ApiResult<Json<TokenPage>, failure::List> {
        gate.authenticated().await?;
        let tokens = self
            .state
            .tenancy
            .repo()
            .api_tokens(gate.who.user_id)
            .await?;
        Ok(Paging::new(after.0, limit.0).page(tokens))
    }

    /// Revoke an API token: your own, or one of a user you may update.
    #[oai(
        path = "/tokens/:token_id",
        method = "delete",
        operation_id = "revokeToken"
    )]
    async fn revoke_token(
        &self,
        gate: Gate,
        token_id: Path<Id<ApiTokenId>>,
    ) -> ApiResult<Deletion, failure::Delete> {
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
        Ok(Deletion::Deleted)
    }
}
