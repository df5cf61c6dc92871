//! The API's request and response bodies, and their conversions from the
//! domain models. Field names are the public contract: renaming one is a
//! breaking change caught by the OpenAPI drift check.

use kernel::Environment;
use poem_openapi::{Enum, Object};
use std::collections::BTreeMap;
use tenancy::Scope;
use time::OffsetDateTime;
use uuid::Uuid;

macro_rules! page {
    ($name:ident, $item:ty) => {
        /// One page of results; pass `next_cursor` as `after` for the next.
        #[derive(Debug, Object)]
        pub struct $name {
            pub items: Vec<$item>,
            #[oai(skip_serializing_if_is_none)]
            pub next_cursor: Option<Uuid>,
        }

        impl From<kernel::Page<$item>> for $name {
            fn from(p: kernel::Page<$item>) -> Self {
                Self {
                    items: p.items,
                    next_cursor: p.next_cursor,
                }
            }
        }
    };
}

/// A device environment.
#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum EnvironmentDto {
    Lab,
    Staging,
    Prod,
}

impl From<EnvironmentDto> for Environment {
    fn from(e: EnvironmentDto) -> Self {
        match e {
            EnvironmentDto::Lab => Environment::Lab,
            EnvironmentDto::Staging => Environment::Staging,
            EnvironmentDto::Prod => Environment::Prod,
        }
    }
}

impl From<Environment> for EnvironmentDto {
    fn from(e: Environment) -> Self {
        match e {
            Environment::Lab => EnvironmentDto::Lab,
            Environment::Staging => EnvironmentDto::Staging,
            Environment::Prod => EnvironmentDto::Prod,
        }
    }
}

pub fn envs_in(v: Option<Vec<EnvironmentDto>>) -> Option<Vec<Environment>> {
    v.map(|v| v.into_iter().map(Into::into).collect())
}

pub fn envs_out(v: Option<Vec<Environment>>) -> Option<Vec<EnvironmentDto>> {
    v.map(|v| v.into_iter().map(Into::into).collect())
}

/// The level of the hierarchy a scope names.
#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum ScopeKind {
    Tenant,
    Division,
    Group,
    Team,
}

/// A node of the tenant hierarchy.
#[derive(Debug, Clone, Object)]
pub struct ScopeRef {
    #[oai(rename = "type")]
    pub kind: ScopeKind,
    pub id: Uuid,
}

impl From<ScopeRef> for Scope {
    fn from(s: ScopeRef) -> Self {
        match s.kind {
            ScopeKind::Tenant => Scope::Tenant(s.id.into()),
            ScopeKind::Division => Scope::Division(s.id.into()),
            ScopeKind::Group => Scope::Group(s.id.into()),
            ScopeKind::Team => Scope::Team(s.id.into()),
        }
    }
}

impl From<Scope> for ScopeRef {
    fn from(s: Scope) -> Self {
        let kind = match s {
            Scope::Tenant(_) => ScopeKind::Tenant,
            Scope::Division(_) => ScopeKind::Division,
            Scope::Group(_) => ScopeKind::Group,
            Scope::Team(_) => ScopeKind::Team,
        };
        ScopeRef { kind, id: s.uuid() }
    }
}

// ---- tenants and units ----------------------------------------------------

/// A tenant.
#[derive(Debug, Object)]
pub struct TenantDto {
    pub id: Uuid,
    pub name: String,
    pub created_at: OffsetDateTime,
}

impl From<tenancy::Tenant> for TenantDto {
    fn from(t: tenancy::Tenant) -> Self {
        Self {
            id: t.id.uuid(),
            name: t.name,
            created_at: t.created_at,
        }
    }
}

page!(TenantPage, TenantDto);

/// A name, for creating or renaming.
#[derive(Debug, Object)]
pub struct NameBody {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
}

/// A division, group or team.
#[derive(Debug, Object)]
pub struct UnitDto {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The tenant (for a division), division (for a group) or group (for a team).
    pub parent_id: Uuid,
    pub name: String,
    pub created_at: OffsetDateTime,
}

impl From<tenancy::OrgUnit> for UnitDto {
    fn from(u: tenancy::OrgUnit) -> Self {
        Self {
            id: u.id,
            tenant_id: u.tenant_id.uuid(),
            parent_id: u.parent_id,
            name: u.name,
            created_at: u.created_at,
        }
    }
}

page!(UnitPage, UnitDto);

/// A new division.
#[derive(Debug, Object)]
pub struct NewDivision {
    /// Optional; when given it must be the caller's own tenant.
    #[oai(skip_serializing_if_is_none)]
    pub tenant_id: Option<Uuid>,
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
}

/// A new group.
#[derive(Debug, Object)]
pub struct NewGroup {
    pub division_id: Uuid,
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
}

/// A new team.
#[derive(Debug, Object)]
pub struct NewTeam {
    pub group_id: Uuid,
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
}

// ---- users, invitations, tokens -----------------------------------------------

/// A user.
#[derive(Debug, Object)]
pub struct UserDto {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub platform_admin: bool,
    pub created_at: OffsetDateTime,
}

impl From<tenancy::User> for UserDto {
    fn from(u: tenancy::User) -> Self {
        Self {
            id: u.id.uuid(),
            tenant_id: u.tenant_id.uuid(),
            email: u.email,
            display_name: u.display_name,
            platform_admin: u.platform_admin,
            created_at: u.created_at,
        }
    }
}

page!(UserPage, UserDto);

/// Changes to a user.
#[derive(Debug, Object)]
pub struct UserPatch {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub display_name: String,
}

/// An identity at the identity provider to link a user to.
#[derive(Debug, Object)]
pub struct NewIdentityLink {
    /// The provider's subject (`sub`) for the person.
    #[oai(validator(min_length = 1, max_length = 255))]
    pub subject: String,
    /// The provider's issuer; the configured `oidc.issuer` when omitted.
    #[oai(skip_serializing_if_is_none, validator(max_length = 2048))]
    pub issuer: Option<String>,
}

/// A user's link to an identity at the identity provider.
#[derive(Debug, Object)]
pub struct IdentityLinkDto {
    pub user_id: Uuid,
    pub issuer: String,
    pub subject: String,
}

/// An identity linked to a user: whoever signs in as `subject` at `issuer`
/// is that user.
#[derive(Debug, Object)]
pub struct LinkedIdentityDto {
    pub issuer: String,
    pub subject: String,
    /// When the link was made (by an administrator, or at a first sign-in).
    pub linked_at: OffsetDateTime,
}

impl From<tenancy::IdentityLink> for LinkedIdentityDto {
    fn from(l: tenancy::IdentityLink) -> Self {
        LinkedIdentityDto {
            issuer: l.issuer,
            subject: l.subject,
            linked_at: l.linked_at,
        }
    }
}

/// The identities linked to a user, oldest link first.
#[derive(Debug, Object)]
pub struct LinkedIdentities {
    pub items: Vec<LinkedIdentityDto>,
}

/// A new invitation.
#[derive(Debug, Object)]
pub struct NewInvitation {
    #[oai(validator(min_length = 1, max_length = 254))]
    pub email: String,
    pub role_id: Uuid,
    pub scope: ScopeRef,
    /// Limit the resulting binding to these environments; omit for all.
    #[oai(skip_serializing_if_is_none)]
    pub environments: Option<Vec<EnvironmentDto>>,
    /// Hours until the invitation expires (1 to 720; default 72).
    #[oai(
        skip_serializing_if_is_none,
        validator(minimum(value = "1"), maximum(value = "720"))
    )]
    pub ttl_hours: Option<u32>,
}

/// An invitation.
#[derive(Debug, Object)]
pub struct InvitationDto {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub role_id: Uuid,
    pub scope: ScopeRef,
    #[oai(skip_serializing_if_is_none)]
    pub environments: Option<Vec<EnvironmentDto>>,
    pub expires_at: OffsetDateTime,
    #[oai(skip_serializing_if_is_none)]
    pub accepted_at: Option<OffsetDateTime>,
}

impl From<tenancy::Invitation> for InvitationDto {
    fn from(i: tenancy::Invitation) -> Self {
        Self {
            id: i.id.uuid(),
            tenant_id: i.tenant_id.uuid(),
            email: i.email,
            role_id: i.role_id.uuid(),
            scope: i.scope.into(),
            environments: envs_out(i.environments),
            expires_at: i.expires_at,
            accepted_at: i.accepted_at,
        }
    }
}

/// A created invitation with its single-use token, shown only here.
#[derive(Debug, Object)]
pub struct CreatedInvitation {
    pub invitation: InvitationDto,
    pub token: String,
}

/// Accepting an invitation.
#[derive(Debug, Object)]
pub struct AcceptInvitation {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub token: String,
    #[oai(validator(min_length = 1, max_length = 200))]
    pub display_name: String,
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
pub struct CreatedToken {
    pub token: TokenDto,
    pub secret: String,
}

// ---- sites and devices ------------------------------------------------------

/// A site.
#[derive(Debug, Object)]
pub struct SiteDto {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub team_id: Uuid,
    pub name: String,
    #[oai(skip_serializing_if_is_none)]
    pub published_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

impl From<tenancy::Site> for SiteDto {
    fn from(s: tenancy::Site) -> Self {
        Self {
            id: s.id.uuid(),
            tenant_id: s.tenant_id.uuid(),
            team_id: s.team_id.uuid(),
            name: s.name,
            published_at: s.published_at,
            created_at: s.created_at,
        }
    }
}

page!(SitePage, SiteDto);

/// A new site.
#[derive(Debug, Object)]
pub struct NewSite {
    pub team_id: Uuid,
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
}

/// Changes to a site.
#[derive(Debug, Object)]
pub struct SitePatch {
    #[oai(skip_serializing_if_is_none, validator(max_length = 200))]
    pub name: Option<String>,
    /// Hand the site to another team (needs `site:create` there).
    #[oai(skip_serializing_if_is_none)]
    pub team_id: Option<Uuid>,
}

/// What a device allows beyond reads.
#[derive(Debug, Clone, Copy, Object, Default)]
pub struct CapabilitiesDto {
    #[oai(default)]
    pub allow_advanced_writes: bool,
    #[oai(default)]
    pub allow_professional_workflows: bool,
    #[oai(default)]
    pub allow_firewall_writes: bool,
    #[oai(default)]
    pub allow_routing_writes: bool,
    #[oai(default)]
    pub allow_wireless_writes: bool,
    #[oai(default)]
    pub allow_dhcp_writes: bool,
    #[oai(default)]
    pub allow_bridge_writes: bool,
    #[oai(default)]
    pub allow_bandwidth_test: bool,
}

impl From<CapabilitiesDto> for tenancy::Capabilities {
    fn from(c: CapabilitiesDto) -> Self {
        tenancy::Capabilities {
            allow_advanced_writes: c.allow_advanced_writes,
            allow_professional_workflows: c.allow_professional_workflows,
            allow_firewall_writes: c.allow_firewall_writes,
            allow_routing_writes: c.allow_routing_writes,
            allow_wireless_writes: c.allow_wireless_writes,
            allow_dhcp_writes: c.allow_dhcp_writes,
            allow_bridge_writes: c.allow_bridge_writes,
            allow_bandwidth_test: c.allow_bandwidth_test,
        }
    }
}

impl From<tenancy::Capabilities> for CapabilitiesDto {
    fn from(c: tenancy::Capabilities) -> Self {
        CapabilitiesDto {
            allow_advanced_writes: c.allow_advanced_writes,
            allow_professional_workflows: c.allow_professional_workflows,
            allow_firewall_writes: c.allow_firewall_writes,
            allow_routing_writes: c.allow_routing_writes,
            allow_wireless_writes: c.allow_wireless_writes,
            allow_dhcp_writes: c.allow_dhcp_writes,
            allow_bridge_writes: c.allow_bridge_writes,
            allow_bandwidth_test: c.allow_bandwidth_test,
        }
    }
}

/// Device login credentials: write-only, stored encrypted, never returned.
#[derive(Object)]
pub struct CredentialsBody {
    #[oai(validator(min_length = 1, max_length = 128))]
    pub username: String,
    #[oai(validator(max_length = 1024))]
    pub password: String,
}

impl std::fmt::Debug for CredentialsBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsBody")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl From<CredentialsBody> for tenancy::DeviceCredentials {
    fn from(c: CredentialsBody) -> Self {
        tenancy::DeviceCredentials {
            username: c.username,
            password: c.password,
        }
    }
}

/// A device.
#[derive(Debug, Object)]
pub struct DeviceDto {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub site_id: Uuid,
    pub name: String,
    pub host: String,
    pub port: u16,
    pub environment: EnvironmentDto,
    pub tags: BTreeMap<String, String>,
    pub capabilities: CapabilitiesDto,
    pub tls: DeviceTlsDto,
    /// Whether credentials are stored (they are never returned).
    pub has_credentials: bool,
    pub created_at: OffsetDateTime,
    /// The last health check, if one ran in the last five minutes.
    #[oai(skip_serializing_if_is_none)]
    pub health: Option<HealthDto>,
}

/// A device's last health check.
#[derive(Debug, Clone, Object)]
pub struct HealthDto {
    pub status: HealthStatusDto,
    #[oai(skip_serializing_if_is_none)]
    pub cpu_load_percent: Option<f64>,
    #[oai(skip_serializing_if_is_none)]
    pub memory_used_percent: Option<f64>,
    /// `warning` (CPU or memory above 75 %) or `critical` (above 90 %).
    #[oai(skip_serializing_if_is_none)]
    pub level: Option<String>,
    /// Why the device could not be checked.
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<String>,
    pub checked_at: OffsetDateTime,
    /// When the next scheduled check is due; it adapts: longer for a
    /// steadily healthy device, backing off for an unreachable one.
    #[oai(skip_serializing_if_is_none)]
    pub next_check_at: Option<OffsetDateTime>,
}

/// What a health check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum HealthStatusDto {
    /// CPU and memory at or below 75 %.
    Healthy,
    /// CPU or memory above 75 %.
    Degraded,
    /// The device did not answer.
    Unreachable,
    /// The device could not be checked (no stored credentials).
    Unknown,
}

impl From<tools::health::Status> for HealthStatusDto {
    fn from(s: tools::health::Status) -> Self {
        use tools::health::Status;
        match s {
            Status::Healthy => Self::Healthy,
            Status::Degraded => Self::Degraded,
            Status::Unreachable => Self::Unreachable,
            Status::Unknown => Self::Unknown,
        }
    }
}

impl From<tools::health::HealthRecord> for HealthDto {
    fn from(h: tools::health::HealthRecord) -> Self {
        Self {
            status: h.status.into(),
            cpu_load_percent: h.cpu_load_percent,
            memory_used_percent: h.memory_used_percent,
            level: h.level,
            error: h.error,
            checked_at: h.checked_at,
            next_check_at: h.next_check_at,
        }
    }
}

/// How TLS to the device is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum TlsMode {
    /// Verify against the system's trust roots (the default).
    Verify,
    /// Verify against `ca_pem`, a private CA.
    Ca,
    /// Accept the certificate whose SHA-256 fingerprint is `sha256`.
    Pinned,
    /// Plain HTTP: lab devices and the simulator only.
    PlainHttp,
}

/// A device's TLS setting.
#[derive(Debug, Clone, Object)]
pub struct DeviceTlsDto {
    pub mode: TlsMode,
    /// The CA certificate (PEM) for `ca`.
    #[oai(skip_serializing_if_is_none, validator(max_length = 16384))]
    pub ca_pem: Option<String>,
    /// The certificate's SHA-256 fingerprint (64 hex digits) for `pinned`.
    #[oai(skip_serializing_if_is_none, validator(max_length = 100))]
    pub sha256: Option<String>,
}

impl From<tenancy::DeviceTls> for DeviceTlsDto {
    fn from(t: tenancy::DeviceTls) -> Self {
        use tenancy::DeviceTls as T;
        let (mode, ca_pem, sha256) = match t {
            T::Verify => (TlsMode::Verify, None, None),
            T::Ca { ca_pem } => (TlsMode::Ca, Some(ca_pem), None),
            T::Pinned { sha256 } => (TlsMode::Pinned, None, Some(sha256)),
            T::PlainHttp => (TlsMode::PlainHttp, None, None),
        };
        Self {
            mode,
            ca_pem,
            sha256,
        }
    }
}

impl DeviceTlsDto {
    /// The domain setting; a missing `ca_pem` or `sha256` is invalid input.
    pub fn into_domain(self) -> Result<tenancy::DeviceTls, crate::http::problem::ApiError> {
        use tenancy::DeviceTls as T;
        let missing = |f: &str| {
            crate::http::problem::ApiError::invalid(
                f,
                format!("is required when tls.mode is {:?}", self.mode).to_lowercase(),
            )
        };
        Ok(match self.mode {
            TlsMode::Verify => T::Verify,
            TlsMode::PlainHttp => T::PlainHttp,
            TlsMode::Ca => T::Ca {
                ca_pem: self.ca_pem.clone().ok_or_else(|| missing("tls.ca_pem"))?,
            },
            TlsMode::Pinned => T::Pinned {
                sha256: self.sha256.clone().ok_or_else(|| missing("tls.sha256"))?,
            },
        })
    }
}

impl From<tenancy::Device> for DeviceDto {
    fn from(d: tenancy::Device) -> Self {
        Self {
            id: d.id.uuid(),
            tenant_id: d.tenant_id.uuid(),
            site_id: d.site_id.uuid(),
            name: d.name,
            host: d.host,
            port: d.port,
            environment: d.environment.into(),
            tags: d.tags,
            capabilities: d.capabilities.into(),
            tls: d.tls.into(),
            has_credentials: d.has_credentials,
            created_at: d.created_at,
            health: None,
        }
    }
}

page!(DevicePage, DeviceDto);

/// A new device.
#[derive(Debug, Object)]
pub struct NewDevice {
    pub site_id: Uuid,
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
    #[oai(validator(min_length = 1, max_length = 253))]
    pub host: String,
    /// REST API port (default 443).
    #[oai(skip_serializing_if_is_none)]
    pub port: Option<u16>,
    pub environment: EnvironmentDto,
    #[oai(default)]
    pub tags: BTreeMap<String, String>,
    #[oai(default)]
    pub capabilities: CapabilitiesDto,
    /// TLS checking; verification against the system's roots when omitted.
    #[oai(skip_serializing_if_is_none)]
    pub tls: Option<DeviceTlsDto>,
    #[oai(skip_serializing_if_is_none)]
    pub credentials: Option<CredentialsBody>,
}

/// Changes to a device.
#[derive(Debug, Object)]
pub struct DevicePatch {
    /// Move the device to another site (needs `device:create` there).
    #[oai(skip_serializing_if_is_none)]
    pub site_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none, validator(max_length = 200))]
    pub name: Option<String>,
    /// Where the device is reached. With stored credentials, changing the
    /// host, port or TLS setting needs `device:credentials`.
    #[oai(skip_serializing_if_is_none, validator(max_length = 253))]
    pub host: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub port: Option<u16>,
    #[oai(skip_serializing_if_is_none)]
    pub environment: Option<EnvironmentDto>,
    #[oai(skip_serializing_if_is_none)]
    pub tags: Option<BTreeMap<String, String>>,
    #[oai(skip_serializing_if_is_none)]
    pub capabilities: Option<CapabilitiesDto>,
    #[oai(skip_serializing_if_is_none)]
    pub tls: Option<DeviceTlsDto>,
}

/// A device group.
#[derive(Debug, Object)]
pub struct DeviceGroupDto {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub device_ids: Vec<Uuid>,
    pub created_at: OffsetDateTime,
}

impl From<tenancy::DeviceGroup> for DeviceGroupDto {
    fn from(g: tenancy::DeviceGroup) -> Self {
        Self {
            id: g.id.uuid(),
            tenant_id: g.tenant_id.uuid(),
            name: g.name,
            device_ids: g.device_ids.into_iter().map(|d| d.uuid()).collect(),
            created_at: g.created_at,
        }
    }
}

page!(DeviceGroupPage, DeviceGroupDto);

/// A new device group.
#[derive(Debug, Object)]
pub struct NewDeviceGroup {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
    #[oai(default, validator(max_items = 10000))]
    pub device_ids: Vec<Uuid>,
}

/// Changes to a device group.
#[derive(Debug, Object)]
pub struct DeviceGroupPatch {
    #[oai(skip_serializing_if_is_none, validator(max_length = 200))]
    pub name: Option<String>,
    #[oai(skip_serializing_if_is_none, validator(max_items = 10000))]
    pub device_ids: Option<Vec<Uuid>>,
}

// ---- RBAC -----------------------------------------------------------------

/// A role.
#[derive(Debug, Object)]
pub struct RoleDto {
    pub id: Uuid,
    pub name: String,
    pub builtin: bool,
    pub permissions: Vec<String>,
}

impl From<rbac::Role> for RoleDto {
    fn from(r: rbac::Role) -> Self {
        Self {
            id: r.id.uuid(),
            name: r.name,
            builtin: r.builtin,
            permissions: r
                .permissions
                .to_vec()
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
        }
    }
}

page!(RolePage, RoleDto);

/// A new custom role.
#[derive(Debug, Object)]
pub struct NewRole {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
    #[oai(validator(max_items = 64))]
    pub permissions: Vec<String>,
}

/// Changes to a custom role.
#[derive(Debug, Object)]
pub struct RolePatch {
    #[oai(skip_serializing_if_is_none, validator(max_length = 200))]
    pub name: Option<String>,
    #[oai(skip_serializing_if_is_none, validator(max_items = 64))]
    pub permissions: Option<Vec<String>>,
}

/// A role binding.
#[derive(Debug, Object)]
pub struct BindingDto {
    pub id: Uuid,
    pub user_id: Uuid,
    pub role_id: Uuid,
    pub scope: ScopeRef,
    #[oai(skip_serializing_if_is_none)]
    pub environments: Option<Vec<EnvironmentDto>>,
    pub created_at: OffsetDateTime,
}

impl From<rbac::RoleBinding> for BindingDto {
    fn from(b: rbac::RoleBinding) -> Self {
        Self {
            id: b.id.uuid(),
            user_id: b.user_id.uuid(),
            role_id: b.role_id.uuid(),
            scope: b.scope.into(),
            environments: envs_out(b.environments),
            created_at: b.created_at,
        }
    }
}

page!(BindingPage, BindingDto);

/// A new role binding.
#[derive(Debug, Object)]
pub struct NewBinding {
    pub user_id: Uuid,
    pub role_id: Uuid,
    pub scope: ScopeRef,
    #[oai(skip_serializing_if_is_none)]
    pub environments: Option<Vec<EnvironmentDto>>,
}

/// A device scope grant.
#[derive(Debug, Object)]
pub struct DeviceScopeDto {
    pub id: Uuid,
    pub user_id: Uuid,
    #[oai(skip_serializing_if_is_none)]
    pub device_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub device_group_id: Option<Uuid>,
    pub granted_by: Uuid,
    pub created_at: OffsetDateTime,
}

impl From<rbac::DeviceScope> for DeviceScopeDto {
    fn from(s: rbac::DeviceScope) -> Self {
        let (device_id, device_group_id) = match s.target {
            rbac::DeviceScopeTarget::Device(d) => (Some(d.uuid()), None),
            rbac::DeviceScopeTarget::DeviceGroup(g) => (None, Some(g.uuid())),
        };
        Self {
            id: s.id.uuid(),
            user_id: s.user_id.uuid(),
            device_id,
            device_group_id,
            granted_by: s.granted_by.uuid(),
            created_at: s.created_at,
        }
    }
}

page!(DeviceScopePage, DeviceScopeDto);

/// A new device scope grant: exactly one of `device_id` and `device_group_id`.
#[derive(Debug, Object)]
pub struct NewDeviceScope {
    pub user_id: Uuid,
    #[oai(skip_serializing_if_is_none)]
    pub device_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub device_group_id: Option<Uuid>,
}

/// What a resource reference names, for `POST /authz/check`.
#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ResourceKind {
    Tenant,
    Division,
    Group,
    Team,
    Site,
    Device,
    User,
    DeviceGroup,
}

/// A reference to a resource.
#[derive(Debug, Clone, Object)]
pub struct ResourceRef {
    #[oai(rename = "type")]
    pub kind: ResourceKind,
    pub id: Uuid,
}

impl From<ResourceRef> for rbac::Resource {
    fn from(r: ResourceRef) -> Self {
        use rbac::Resource as R;
        match r.kind {
            ResourceKind::Tenant => R::Tenant(r.id.into()),
            ResourceKind::Division | ResourceKind::Group | ResourceKind::Team => R::Unit(r.id),
            ResourceKind::Site => R::Site(r.id.into()),
            ResourceKind::Device => R::Device(r.id.into()),
            ResourceKind::User => R::User(r.id.into()),
            ResourceKind::DeviceGroup => R::DeviceGroup(r.id.into()),
        }
    }
}

/// An authorization question.
#[derive(Debug, Object)]
pub struct AuthzCheck {
    /// Whose access to check; omit for the caller's own.
    #[oai(skip_serializing_if_is_none)]
    pub user_id: Option<Uuid>,
    /// A permission such as `site:read`.
    #[oai(validator(max_length = 64))]
    pub permission: String,
    pub resource: ResourceRef,
}

/// The answer to an authorization question.
#[derive(Debug, Object)]
pub struct AuthzAnswer {
    pub allowed: bool,
    /// `allow`, or the stable code of the denial.
    pub code: String,
    /// The reason in words.
    pub reason: String,
    #[oai(skip_serializing_if_is_none)]
    pub binding_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub role_id: Option<Uuid>,
}

/// The caller, as the API sees it.
#[derive(Debug, Object)]
pub struct MeDto {
    pub user: UserDto,
    pub bindings: Vec<BindingDto>,
}

/// Query parameters of list operations.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub after: Option<Uuid>,
    pub limit: Option<u32>,
}

impl Paging {
    pub fn request(self) -> kernel::PageRequest {
        kernel::PageRequest::new(self.after, self.limit)
    }
}
