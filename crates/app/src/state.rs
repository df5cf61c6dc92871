//! The application state: the domain services and ports every adapter
//! reaches, cheap to clone. It holds them and nothing else; [`crate::wiring`]
//! builds it from the configuration, and no service takes it: each holds
//! the ports it uses.

use db::Database;
use kernel::{Clock, Entropy};
use rbac::{Authorizer, RbacService};
use std::sync::Arc;
use tenancy::ports::Sealer;
use tenancy::{IdentityProvider, ProvisioningRule, Sessions, TenancyService};

/// Everything a request handler needs, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub tenancy: TenancyService,
    pub rbac: RbacService,
    pub authz: Arc<Authorizer>,
    /// The group-commit writer every audit event goes through; flush it
    /// with `shutdown` after the server stops.
    pub audit: Arc<audit::writer::GroupCommit>,
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
    pub db: Database,
    /// Browser sessions (in-process, or Redis when `redis_url` is set).
    pub sessions: Sessions,
    /// Seals identity provider tokens kept in sessions.
    pub sealer: Arc<dyn Sealer>,
    /// The identity provider, when `[oidc]` is configured.
    pub idp: Option<Arc<dyn IdentityProvider>>,
    pub web: Arc<WebSettings>,
    /// Runs catalogue tools on devices through the RouterOS adapter.
    pub tools: tools::Runner,
    /// Professional changes: plans, confirmation tokens, application.
    pub plans: tools::plan::Plans,
    /// Device health checks and their cached results.
    pub health: tools::health::Health,
    /// Per-user request budgets.
    pub limits: crate::enforce::limits::Limits,
    /// Refusals counted into one event per subject and minute.
    pub refusals: Arc<crate::enforce::refusals::Refusals>,
    /// The audit chain's link keys and the signed checkpoint file.
    pub audit_trust: Arc<crate::checkpoint::AuditTrust>,
}

/// What the browser-facing endpoints need from the configuration.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// `public_url` without a trailing slash.
    pub public_url: String,
    pub cookie_secure: bool,
    /// Just-in-time provisioning rules, resolved.
    pub provisioning: Vec<ProvisioningRule>,
    pub post_logout_redirect_uri: Option<String>,
    /// The resource URI bearer tokens must be issued for.
    pub resource: String,
    /// A bearer JWT must hold one of these for safe methods.
    pub read_scopes: Vec<String>,
    /// A bearer JWT must hold one of these for the other methods.
    pub write_scopes: Vec<String>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}
