//! What a browser session and a login in progress are, apart from where
//! they are kept: the types the [`SessionStore`](crate::SessionStore) port
//! (ports.rs) stores and the session service (session.rs) hands out.

use kernel::{TenantId, UserId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

/// The store's name for a session: SHA-256 of the cookie value, hex.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionKey(String);

impl SessionKey {
    /// The key of the session whose cookie value is `cookie`.
    pub fn of_cookie(cookie: &str) -> SessionKey {
        SessionKey(hex::encode(Sha256::digest(cookie.as_bytes())))
    }

    /// The key as stored (64 hex characters).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is not a credential, but a prefix is enough to correlate.
        write!(f, "SessionKey({}…)", &self.0[..8.min(self.0.len())])
    }
}

/// A signed-in person, as the server remembers them between requests.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSession {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    /// The identity provider's subject for this person.
    pub subject: String,
    pub email: String,
    pub display_name: String,
    /// The value state-changing requests must echo in `X-CSRF-Token`.
    pub csrf_token: String,
    /// The identity provider's tokens (access, refresh, ID), sealed by the
    /// application; opaque here.
    pub sealed_tokens: Vec<u8>,
    #[serde(with = "time::serde::timestamp")]
    pub created_at: OffsetDateTime,
    /// When the session ends unless it is used before; moves on every use.
    #[serde(with = "time::serde::timestamp")]
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for UserSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSession")
            .field("user_id", &self.user_id)
            .field("tenant_id", &self.tenant_id)
            .field("email", &self.email)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl UserSession {
    /// Whether `presented` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        !presented.is_empty() && bool::from(self.csrf_token.as_bytes().ct_eq(presented.as_bytes()))
    }
}

/// A login between the redirect to the identity provider and its callback,
/// found again by its `state`. Used once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    /// The PKCE code verifier (RFC 7636), 64 characters from a CSPRNG.
    pub pkce_verifier: String,
    /// The OpenID Connect `nonce` the ID token must carry.
    pub nonce: String,
    /// Where to send the browser after the login (a local path).
    pub return_to: String,
    #[serde(with = "time::serde::timestamp")]
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("return_to", &self.return_to)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}
