//! The tenant hierarchy and what hangs off it.
//!
//! A tenant holds divisions, a division groups, a group teams; teams own
//! sites, sites hold devices. Users belong to exactly one tenant. This crate
//! owns those models, the rules that keep them valid, and the
//! [`TenancyRepository`] port that storage adapters implement. It knows
//! nothing of HTTP, SQL or OIDC, and nothing of who may do what: that is
//! `rbac`'s job.

pub mod identity;
pub mod model;
pub mod ports;
pub mod scope;
pub mod secret;
pub mod service;
pub mod session;
pub mod target;
pub mod validate;

pub use identity::{
    ExternalIdentity, Grant, IdentityError, IdentityProvider, IdpTokens, ProvisioningRule,
    VerifiedAccess,
};
pub use model::*;
pub use ports::TenancyRepository;
pub use scope::Scope;
pub use service::{EmailLinkCheck, TenancyError, TenancyService};
pub use session::{MemorySessionStore, SessionStore, Sessions, UserSession};
pub use target::{HostResolver, TargetRefusal, TargetRules};
