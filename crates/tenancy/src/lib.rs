//! The tenant hierarchy and what hangs off it.
//!
//! A tenant holds divisions, a division groups, a group teams; teams own
//! sites, sites hold devices. Users belong to exactly one tenant. This crate
//! owns those models, the rules that keep them valid, and the ports its
//! adapters implement. It knows nothing of HTTP, SQL or OIDC, and nothing
//! of who may do what: that is `rbac`'s job.
//!
//! - [`model`], [`scope`], [`identity`], [`session_model`], [`error`]: the
//!   models, who signs in, what a session is, why an operation failed.
//! - [`ports`]: every port of the crate: [`TenancyRepository`] for
//!   storage, [`Sealer`](ports::Sealer), [`IdentityProvider`],
//!   [`HostResolver`], [`SessionStore`], and the checks the service asks of
//!   authorization, [`InvitationCheck`] and [`EmailLinkCheck`].
//! - [`validate`], [`secret`], [`target`]: input rules, minted secrets,
//!   where a device's credentials may go.
//! - [`service`]: [`TenancyService`], the use cases; [`session`] and
//!   [`session_tokens`]: browser sessions and the provider's tokens in them.
//!
//! # Using this crate
//!
//! The models and rules are plain Rust; the ports have in-process adapters
//! where a server is not needed. Here browser sessions live in a
//! [`MemorySessionStore`], with time from a manual clock and randomness
//! from a seeded source, so the idle expiry can be shown without waiting:
//!
//! ```
//! use kernel::{Clock, ManualClock, SeededEntropy, TenantId, UserId};
//! use std::sync::Arc;
//! use tenancy::session::{NewSession, SESSION_TTL};
//! use tenancy::{MemorySessionStore, Sessions};
//! use time::{Duration, macros::datetime};
//! use uuid::Uuid;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), kernel::StoreError> {
//! let clock = Arc::new(ManualClock::new(datetime!(2026-01-01 9:00 UTC)));
//! let sessions = Sessions::new(
//!     Arc::new(MemorySessionStore::new()),
//!     clock.clone(),
//!     Arc::new(SeededEntropy::new(7)),
//! );
//! let (cookie, session) = sessions
//!     .start(NewSession {
//!         user_id: UserId::from_uuid(Uuid::from_u128(2)),
//!         tenant_id: TenantId::from_uuid(Uuid::from_u128(1)),
//!         subject: "alice@idp".into(),
//!         email: "alice@example.test".into(),
//!         display_name: "Alice".into(),
//!         sealed_tokens: Vec::new(),
//!     })
//!     .await?;
//! assert_eq!(session.expires_at, clock.now() + SESSION_TTL);
//!
//! // Use within the idle time slides the expiry forward...
//! clock.advance(SESSION_TTL - Duration::minutes(1));
//! assert!(sessions.resume(&cookie).await?.is_some());
//! // ...and a session left idle longer is gone.
//! clock.advance(SESSION_TTL + Duration::minutes(1));
//! assert!(sessions.resume(&cookie).await?.is_none());
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod identity;
pub mod model;
pub mod ports;
pub mod scope;
pub mod secret;
pub mod service;
pub mod session;
pub mod session_model;
pub mod session_tokens;
pub mod target;
pub mod validate;

pub use error::{TargetRefusal, TenancyError};
pub use identity::{
    ExternalIdentity, IdentityError, IdpTokens, ProvisionedBinding, ProvisioningRule,
    VerifiedAccess,
};
pub use model::*;
pub use ports::{
    EmailLinkCheck, HostResolver, IdentityProvider, InvitationCheck, SessionStore,
    TenancyRepository,
};
pub use scope::Scope;
pub use service::TenancyService;
pub use session::{MemorySessionStore, Sessions};
pub use session_model::{PendingLogin, SessionKey, UserSession};
pub use target::TargetRules;
