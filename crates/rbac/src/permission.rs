//! The permission catalogue and permission sets as 64-bit masks.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! permissions {
    ($($variant:ident = $name:literal),+ $(,)?) => {
        /// One permission of the catalogue. `admin:*` implies every other.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Permission { $( #[doc = $name] $variant, )+ }

        impl Permission {
            /// Every permission, in catalogue order.
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),+];

            /// The wire name, such as `site:read`.
            pub const fn as_str(self) -> &'static str {
                match self { $(Permission::$variant => $name,)+ }
            }

            /// Parses a wire name.
            pub fn parse(s: &str) -> Option<Permission> {
                match s { $($name => Some(Permission::$variant),)+ _ => None }
            }
        }
    };
}

permissions! {
    TenantCreate = "tenant:create",
    TenantRead = "tenant:read",
    TenantUpdate = "tenant:update",
    TenantDelete = "tenant:delete",
    DivisionCreate = "division:create",
    DivisionRead = "division:read",
    DivisionUpdate = "division:update",
    DivisionDelete = "division:delete",
    GroupCreate = "group:create",
    GroupRead = "group:read",
    GroupUpdate = "group:update",
    GroupDelete = "group:delete",
    TeamCreate = "team:create",
    TeamRead = "team:read",
    TeamUpdate = "team:update",
    TeamDelete = "team:delete",
    UserInvite = "user:invite",
    UserRead = "user:read",
    UserUpdate = "user:update",
    UserRemove = "user:remove",
    SiteCreate = "site:create",
    SiteRead = "site:read",
    SiteUpdate = "site:update",
    SiteDelete = "site:delete",
    SitePublish = "site:publish",
    DeviceRead = "device:read",
    DeviceCreate = "device:create",
    DeviceUpdate = "device:update",
    DeviceDelete = "device:delete",
    DeviceCredentials = "device:credentials",
    DeviceConfigure = "device:configure",
    ToolFundamental = "tool:fundamental",
    ToolAdvanced = "tool:advanced",
    ToolProfessional = "tool:professional",
    ApprovalApprove = "approval:approve",
    AuditRead = "audit:read",
    ComplianceRead = "compliance:read",
    PolicyManage = "policy:manage",
    RoleManage = "role:manage",
    AdminAll = "admin:*",
}

impl Permission {
    /// The bit of this permission in a [`PermissionSet`].
    pub const fn bit(self) -> u64 {
        1u64 << (self as u8)
    }

    /// Whether this permission runs tools on devices, and so is narrowed by
    /// a user's device scope.
    pub const fn is_tool(self) -> bool {
        matches!(
            self,
            Permission::ToolFundamental | Permission::ToolAdvanced | Permission::ToolProfessional
        )
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Permission::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown permission `{s}`")))
    }
}

/// A set of permissions as a bitmask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct PermissionSet(pub u64);

impl PermissionSet {
    /// The empty set.
    pub const EMPTY: PermissionSet = PermissionSet(0);

    /// The set of the given permissions.
    pub const fn of(perms: &[Permission]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < perms.len() {
            bits |= perms[i].bit();
            i += 1;
        }
        PermissionSet(bits)
    }

    /// Whether the set grants `p`, directly or through `admin:*`.
    #[inline]
    pub const fn grants(self, p: Permission) -> bool {
        self.0 & (p.bit() | Permission::AdminAll.bit()) != 0
    }

    /// Whether every permission of `other` is granted by this set.
    pub fn covers(self, other: PermissionSet) -> bool {
        self.grants(Permission::AdminAll) || other.0 & !self.0 == 0
    }

    /// The union.
    pub const fn union(self, other: PermissionSet) -> Self {
        PermissionSet(self.0 | other.0)
    }

    /// The permissions in the set, in catalogue order.
    pub fn to_vec(self) -> Vec<Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(|p| self.0 & p.bit() != 0)
            .collect()
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        PermissionSet(iter.into_iter().fold(0, |acc, p| acc | p.bit()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_fits_in_a_mask_and_round_trips() {
        assert!(Permission::ALL.len() <= 64);
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(*p));
        }
        assert_eq!(Permission::parse("site:fly"), None);
    }

    #[test]
    fn admin_all_grants_everything() {
        let admin = PermissionSet::of(&[Permission::AdminAll]);
        assert!(Permission::ALL.iter().all(|p| admin.grants(*p)));
        assert!(admin.covers(PermissionSet::of(Permission::ALL)));
    }
}
