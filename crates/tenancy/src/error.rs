//! Why a tenancy operation did not happen, in one type the service, its
//! ports and the API layers all speak, with a stable code for each reason.

use crate::validate::FieldError;
use kernel::StoreError;

/// Why a tenancy operation did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenancyError {
    /// An input field broke a rule.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The operation clashes with what is stored (a duplicate, or children left).
    #[error("{0}")]
    Conflict(String),
    /// A token was not valid: unknown, wrong, expired or used.
    #[error("{0}")]
    BadToken(&'static str),
    /// An identity provider vouched for someone rosgate does not know: no
    /// linked or matching user, no invitation, no provisioning rule.
    #[error(
        "{0} has no account here: ask an administrator for an invitation, or for a provisioning rule that matches your groups"
    )]
    NotProvisioned(String),
    /// The identity's verified email belongs to a platform administrator,
    /// to someone holding `admin:*`, or to an account linked to another
    /// identity already: such accounts are linked to an identity only
    /// explicitly, by an administrator.
    #[error(
        "the account of {0} can only be linked to this login by an administrator (rosgate user link-identity)"
    )]
    LinkRequired(String),
    /// The identity is linked to another user already.
    #[error("this identity is already linked to another user")]
    IdentityTaken,
    /// The user is linked to an identity at that provider already; a user
    /// has one per provider.
    #[error("this user is linked to an identity already; a user has one")]
    IdentityAlreadyLinked,
    /// An invitation hands out more than its inviter now holds.
    #[error("this invitation can no longer be accepted: {0}; ask for a new invitation")]
    InvitationLapsed(String),
    /// A device's host or TLS setting would send its credentials where
    /// they must not go (see [`crate::target`]).
    #[error(transparent)]
    Target(#[from] TargetRefusal),
    /// Storage failed; nothing was changed.
    #[error(transparent)]
    Store(StoreError),
}

impl TenancyError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            TenancyError::Invalid(_) => "invalid_field",
            TenancyError::NotFound(_) | TenancyError::Store(StoreError::NotFound) => "not_found",
            TenancyError::Conflict(_) | TenancyError::Store(StoreError::Conflict(_)) => "conflict",
            TenancyError::BadToken(_) => "invalid_token",
            TenancyError::NotProvisioned(_) => "not_provisioned",
            TenancyError::LinkRequired(_) => "identity_link_required",
            TenancyError::IdentityTaken => "identity_taken",
            TenancyError::IdentityAlreadyLinked => "identity_already_linked",
            TenancyError::InvitationLapsed(_) => "invitation_lapsed",
            TenancyError::Target(t) => t.code,
            TenancyError::Store(StoreError::Unavailable(_)) => "unavailable",
        }
    }
}

impl From<StoreError> for TenancyError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => TenancyError::Conflict(m),
            other => TenancyError::Store(other),
        }
    }
}

/// A device target broke a rule: the field, a stable code and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct TargetRefusal {
    /// The input field, as the API names it.
    pub field: &'static str,
    /// `private_device_host`, `unresolvable_device_host` or `plain_http_outside_lab`.
    pub code: &'static str,
    /// What is wrong and what is accepted.
    pub reason: String,
}

impl TargetRefusal {
    /// The host does not resolve.
    pub const UNRESOLVABLE_HOST: &'static str = "unresolvable_device_host";
    /// The host is or resolves to a loopback, link-local or unspecified address.
    pub const PRIVATE_HOST: &'static str = "private_device_host";
    /// Plain http outside the `lab` environment.
    pub const PLAIN_HTTP_OUTSIDE_LAB: &'static str = "plain_http_outside_lab";
    /// Every code a refusal carries.
    pub const CODES: [&'static str; 3] = [
        Self::UNRESOLVABLE_HOST,
        Self::PRIVATE_HOST,
        Self::PLAIN_HTTP_OUTSIDE_LAB,
    ];
}
