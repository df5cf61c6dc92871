//! Typed ids. Every entity has its own newtype over a UUID so a `SiteId` can
//! never be passed where a `DeviceId` is expected; parsing happens once, at
//! the edge.

/// Defines an id newtype over a UUID with parsing, display and serde.
macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// Wraps a UUID.
            pub const fn from_uuid(uuid: uuid::Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn uuid(self) -> uuid::Uuid {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = crate::id::InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| crate::id::InvalidId { kind: stringify!($name) })
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(uuid: uuid::Uuid) -> Self {
                Self(uuid)
            }
        }
    };
}

/// A string that is not a valid id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {kind}: expected a UUID")]
pub struct InvalidId {
    /// Which id type was expected.
    pub kind: &'static str,
}

define_id!(/// A tenant: the unit of isolation.
    TenantId);
define_id!(/// A division, the first level below a tenant.
    DivisionId);
define_id!(/// A group, below a division.
    GroupId);
define_id!(/// A team, below a group; teams own sites.
    TeamId);
define_id!(/// A user; users belong to exactly one tenant.
    UserId);
define_id!(/// A site, owned by one team.
    SiteId);
define_id!(/// A RouterOS device, at one site.
    DeviceId);
define_id!(/// A tenant-scoped set of devices.
    DeviceGroupId);
define_id!(/// A role, built-in or custom.
    RoleId);
define_id!(/// A role binding: user, role, scope.
    BindingId);
define_id!(/// A per-user device scope grant.
    DeviceScopeId);
define_id!(/// An invitation to join a tenant.
    InvitationId);
define_id!(/// An API token.
    ApiTokenId);
define_id!(/// An audit event.
    AuditEventId);
