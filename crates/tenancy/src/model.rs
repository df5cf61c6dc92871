//! The models of the tenant hierarchy. Constructed only through
//! [`crate::TenancyService`], which validates them, or by storage adapters
//! reading back what was validated before.

use crate::scope::Scope;
use kernel::{
    ApiTokenId, DeviceGroupId, DeviceId, DivisionId, Environment, GroupId, InvitationId, RoleId,
    SiteId, TeamId, TenantId, UserId,
};
use serde::Serialize;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// A customer organisation; nothing crosses its boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub created_at: OffsetDateTime,
}

/// Which level of the hierarchy an [`OrgUnit`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// Directly below the tenant.
    Division,
    /// Below a division.
    Group,
    /// Below a group; owns sites.
    Team,
}

impl UnitKind {
    /// The word used in storage and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Division => "division",
            UnitKind::Group => "group",
            UnitKind::Team => "team",
        }
    }

    /// Parses the stored word.
    pub fn parse(s: &str) -> Option<UnitKind> {
        match s {
            "division" => Some(UnitKind::Division),
            "group" => Some(UnitKind::Group),
            "team" => Some(UnitKind::Team),
            _ => None,
        }
    }

    /// What kind of node a unit of this kind sits below.
    pub fn parent_kind(self) -> Option<UnitKind> {
        match self {
            UnitKind::Division => None,
            UnitKind::Group => Some(UnitKind::Division),
            UnitKind::Team => Some(UnitKind::Group),
        }
    }
}

/// A division, group or team. The three levels share one shape; the kind
/// says which level it is and what its parent must be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgUnit {
    pub id: uuid::Uuid,
    pub tenant_id: TenantId,
    pub kind: UnitKind,
    /// The tenant id for a division, the division for a group, the group for a team.
    pub parent_id: uuid::Uuid,
    pub name: String,
    pub created_at: OffsetDateTime,
}

impl OrgUnit {
    /// The binding scope this unit stands for.
    pub fn scope(&self) -> Scope {
        match self.kind {
            UnitKind::Division => Scope::Division(DivisionId::from_uuid(self.id)),
            UnitKind::Group => Scope::Group(GroupId::from_uuid(self.id)),
            UnitKind::Team => Scope::Team(TeamId::from_uuid(self.id)),
        }
    }
}

/// A person (or agent owner) in one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: String,
    pub display_name: String,
    /// May create and list tenants; grants no access inside other tenants.
    pub platform_admin: bool,
    pub created_at: OffsetDateTime,
}

/// A user's link to an identity at an OpenID Connect provider: whoever
/// signs in there as `subject` at `issuer` is the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityLink {
    pub issuer: String,
    pub subject: String,
    /// When the link was made (by an administrator, or at a first sign-in).
    pub linked_at: OffsetDateTime,
}

/// A physical or logical location owned by one team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Site {
    pub id: SiteId,
    pub tenant_id: TenantId,
    pub team_id: TeamId,
    pub name: String,
    /// When the site was last published; `None` while it is a draft.
    pub published_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// What a device allows beyond reads. All default to off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
pub struct Capabilities {
    pub allow_advanced_writes: bool,
    pub allow_professional_workflows: bool,
    pub allow_firewall_writes: bool,
    pub allow_routing_writes: bool,
    pub allow_wireless_writes: bool,
    pub allow_dhcp_writes: bool,
    pub allow_bridge_writes: bool,
    pub allow_bandwidth_test: bool,
}

impl Capabilities {
    /// Every flag on.
    pub const ALL: Capabilities = Capabilities {
        allow_advanced_writes: true,
        allow_professional_workflows: true,
        allow_firewall_writes: true,
        allow_routing_writes: true,
        allow_wireless_writes: true,
        allow_dhcp_writes: true,
        allow_bridge_writes: true,
        allow_bandwidth_test: true,
    };
}

/// A RouterOS device managed through rosgate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    pub id: DeviceId,
    pub tenant_id: TenantId,
    pub site_id: SiteId,
    pub name: String,
    /// Management host name or address.
    pub host: String,
    /// Management port of the REST API.
    pub port: u16,
    pub environment: Environment,
    pub tags: BTreeMap<String, String>,
    pub capabilities: Capabilities,
    /// How rosgate checks the device's TLS certificate.
    pub tls: DeviceTls,
    /// Whether credentials are stored; they themselves are never read back.
    pub has_credentials: bool,
    pub created_at: OffsetDateTime,
}

/// How rosgate checks a device's TLS certificate. Verification against the
/// system's trust roots is the default; the others are explicit choices.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum DeviceTls {
    /// Verified against the system's trust roots.
    #[default]
    Verify,
    /// Verified against this CA certificate (PEM), for a private CA.
    Ca { ca_pem: String },
    /// Accepted when the certificate's SHA-256 fingerprint is this (64 hex digits).
    Pinned { sha256: String },
    /// Plain HTTP, no TLS: only for lab devices and the simulator.
    PlainHttp,
}

/// Login credentials of a device, in the clear. Only ever held in memory on
/// the way to the encrypting store or to the device.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for DeviceCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A named, tenant-scoped set of devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceGroup {
    pub id: DeviceGroupId,
    pub tenant_id: TenantId,
    pub name: String,
    pub device_ids: Vec<DeviceId>,
    pub created_at: OffsetDateTime,
}

/// An invitation to join a tenant with a role at a scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invitation {
    pub id: InvitationId,
    pub tenant_id: TenantId,
    pub email: String,
    pub role_id: RoleId,
    pub scope: Scope,
    /// Environments the resulting binding is limited to; `None` for all.
    pub environments: Option<Vec<Environment>>,
    pub invited_by: UserId,
    pub expires_at: OffsetDateTime,
    pub accepted_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// A long-lived credential for scripts and agents; the secret is stored
/// only as a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub name: String,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

impl ApiToken {
    /// Whether the token may be used at `now`.
    pub fn is_usable(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}
