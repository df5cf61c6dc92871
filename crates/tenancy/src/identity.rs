//! Who a person signing in through an identity provider is, here.
//!
//! The provider vouches for an [`ExternalIdentity`]; [`crate::TenancyService::sign_in`]
//! turns it into one of our users, in this order:
//! 1. the user already linked to the provider's `(issuer, subject)`;
//! 2. the user with the same email, who is linked from now on, only when the
//!    provider says `email_verified: true` and the user is neither a platform
//!    administrator nor holds `admin:*` anywhere (those are linked only
//!    explicitly, by an administrator: an email match must not hand over
//!    the keys to the platform);
//! 3. a pending invitation for that verified email, accepted without its
//!    token (the provider has proven the address);
//! 4. the first [`ProvisioningRule`] whose claim matches: a new user with
//!    the rule's role binding (just-in-time provisioning);
//! 5. otherwise nobody: [`crate::TenancyError::NotProvisioned`].

use crate::scope::Scope;
use kernel::{BindingId, Environment, RoleId, TenantId};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A person as an identity provider describes them, after their token was verified.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExternalIdentity {
    /// The provider's issuer URL.
    pub issuer: String,
    /// The provider's stable id for the person.
    pub subject: String,
    pub email: Option<String>,
    /// What the provider says of the email; `None` when it says nothing,
    /// which counts as unverified.
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    /// Other string or string-list claims (`groups`, `roles`, …), for provisioning rules.
    pub claims: BTreeMap<String, Vec<String>>,
}

impl ExternalIdentity {
    /// The email, only when the provider says it is verified
    /// (`email_verified: true`; missing means not verified).
    pub fn trusted_email(&self) -> Option<&str> {
        match self.email_verified {
            Some(true) => self.email.as_deref().filter(|e| !e.is_empty()),
            _ => None,
        }
    }

    /// Whether the claim `name` holds `value` (or is a list containing it).
    pub fn has_claim(&self, name: &str, value: &str) -> bool {
        match name {
            "email" => self.trusted_email() == Some(value),
            "sub" => self.subject == value,
            _ => self
                .claims
                .get(name)
                .is_some_and(|vs| vs.iter().any(|v| v == value)),
        }
    }
}

/// "People whose `claim` contains `value` get `role` at `unit` (or the whole
/// tenant) in `tenant`." Configured by the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningRule {
    pub claim: String,
    pub value: String,
    pub tenant_id: TenantId,
    /// A division, group or team of the tenant; `None` for the whole tenant.
    pub unit: Option<Uuid>,
    pub role_id: RoleId,
    /// Environments the binding is limited to; `None` for all.
    pub environments: Option<Vec<Environment>>,
}

/// A role binding to create with a new user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedBinding {
    pub binding_id: BindingId,
    pub role_id: RoleId,
    pub scope: Scope,
    pub environments: Option<Vec<Environment>>,
}

/// Tokens an identity provider issued for a signed-in person. Kept only
/// sealed; `Debug` shows none of them.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdpTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    /// When the access token expires, if the provider said.
    #[serde(with = "time::serde::timestamp::option")]
    pub expires_at: Option<time::OffsetDateTime>,
}

impl std::fmt::Debug for IdpTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpTokens")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "…"))
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A bearer access token the provider issued for rosgate, verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAccess {
    pub identity: ExternalIdentity,
    /// The scopes granted (`scope` or `scp`).
    pub scopes: Vec<String>,
    /// When the token expires (`exp`).
    pub expires_at: Option<time::OffsetDateTime>,
}

/// Why the identity provider, or what it sent, was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// A token, code or reply failed a check; the message says which.
    #[error("{0}")]
    Rejected(String),
    /// The provider could not be reached or answered garbage; try again later.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
}
