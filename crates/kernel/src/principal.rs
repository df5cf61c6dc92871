//! The authenticated caller. Every enforcement decision starts from a
//! [`Principal`]; how it was authenticated is recorded but never changes what
//! it may do.

use crate::{ApiTokenId, TenantId, UserId};
use serde::Serialize;

/// How the caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuthMethod {
    /// An API token created by `rosgate token create` or the API.
    ApiToken {
        /// Which token.
        token_id: ApiTokenId,
    },
    /// A browser session from an OIDC login.
    Session,
    /// A bearer JWT issued by the identity provider.
    Bearer,
}

/// An authenticated user acting in its tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// The user.
    pub user_id: UserId,
    /// The user's tenant; a principal never acts outside it.
    pub tenant_id: TenantId,
    /// The user's email, for audit records.
    pub email: String,
    /// Platform administrators may create and list tenants, nothing more.
    pub platform_admin: bool,
    /// How the caller authenticated.
    pub auth: AuthMethod,
    /// When the credential this request came with stops working (an API
    /// token's expiry, a JWT's `exp`, a session's maximum lifetime), if it
    /// does: what it creates must not outlive it.
    #[serde(skip)]
    pub credential_expires_at: Option<time::OffsetDateTime>,
}
