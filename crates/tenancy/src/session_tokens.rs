//! The identity provider's tokens a browser session keeps: sealed at rest
//! (bound to their purpose, so a sealed value of another kind never opens
//! as tokens), and renewed once the access token has expired, so a session
//! lasts only as long as the provider keeps honouring its login.

use crate::identity::{IdentityError, IdpTokens};
use crate::ports::{IdentityProvider, Sealer};
use crate::session::Sessions;
use crate::session_model::UserSession;
use kernel::StoreError;
use time::OffsetDateTime;

/// What sealed session tokens are bound to.
const TOKENS_CONTEXT: &[u8] = b"rosgate/session-tokens/v1";

/// Seals `tokens` for keeping in a session.
pub fn seal(sealer: &dyn Sealer, tokens: &IdpTokens) -> Result<Vec<u8>, StoreError> {
    let plain = serde_json::to_vec(tokens)
        .map_err(|e| StoreError::Unavailable(format!("session tokens do not encode: {e}")))?;
    Ok(sealer.seal(&plain, TOKENS_CONTEXT))
}

/// The tokens kept in `session`, if they open.
pub fn open(sealer: &dyn Sealer, session: &UserSession) -> Option<IdpTokens> {
    let plain = sealer.open(&session.sealed_tokens, TOKENS_CONTEXT)?;
    serde_json::from_slice(&plain).ok()
}

/// Why a session's tokens could not be kept fresh.
#[derive(Debug)]
pub enum Renewal {
    /// The provider refused the refresh: the session has been ended.
    Ended(String),
}

/// Renews the provider's tokens of a session whose access token has
/// expired at `now`. When the provider says the refresh token is dead
/// (`invalid_grant`: the person was disabled, the grant revoked), the
/// session ends. A provider that cannot be reached, or refuses for another
/// reason (`temporarily_unavailable`, `invalid_client`, …), ends nothing
/// (the session's own lifetime still bounds it). A refusal because another
/// request refreshed the same session meanwhile (with a rotated refresh
/// token) is recognised by the session's tokens having changed.
pub async fn renew_if_expired(
    sessions: &Sessions,
    sealer: &dyn Sealer,
    idp: &dyn IdentityProvider,
    now: OffsetDateTime,
    cookie: &str,
    session: &UserSession,
) -> Result<(), Renewal> {
    let Some(tokens) = open(sealer, session) else {
        return Ok(());
    };
    let expired = tokens.expires_at.is_some_and(|t| now >= t);
    if !expired || tokens.refresh_token.is_none() {
        return Ok(());
    }
    match idp.refresh(&tokens).await {
        Ok(fresh) => {
            let Ok(sealed) = seal(sealer, &fresh) else {
                return Ok(());
            };
            let mut renewed = session.clone();
            renewed.sealed_tokens = sealed;
            if let Err(e) = sessions.replace(cookie, &renewed).await {
                tracing::warn!(error = %e, "renewed tokens could not be stored");
            }
            Ok(())
        }
        Err(IdentityError::Rejected(why)) => {
            if let Ok(Some(now)) = sessions.resume(cookie).await
                && now.sealed_tokens != session.sealed_tokens
            {
                return Ok(());
            }
            let _ = sessions.end(cookie).await;
            Err(Renewal::Ended(why))
        }
        Err(IdentityError::Unavailable(why)) => {
            tracing::warn!(%why, "cannot renew a session's tokens; the session goes on");
            Ok(())
        }
    }
}
