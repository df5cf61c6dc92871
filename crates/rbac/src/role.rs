//! Roles: the built-in ones of the two origin plans, and custom roles a
//! tenant defines for itself.

use crate::permission::{Permission as P, PermissionSet};
use kernel::{RoleId, TenantId};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// The roles every tenant has. Their ids are fixed so that they need no rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinRole {
    /// Everything in the tenant (`admin:*`).
    OrgAdmin,
    /// Manages a team: its users, sites and devices.
    TeamAdmin,
    /// Manages a team's sites; cannot invite.
    TeamLead,
    /// Sees the team and works on its sites.
    Member,
    /// Runs fundamental (read-only) tools.
    ReadOnly,
    /// Runs fundamental and advanced tools.
    OpsRw,
    /// Runs every tool tier, including professional workflows.
    Admin,
    /// Approves risky changes; runs no tools.
    Approver,
}

const TEAM_VIEW: &[P] = &[P::TeamRead, P::SiteRead, P::DeviceRead];

impl BuiltinRole {
    /// All built-in roles.
    pub const ALL: [BuiltinRole; 8] = [
        BuiltinRole::OrgAdmin,
        BuiltinRole::TeamAdmin,
        BuiltinRole::TeamLead,
        BuiltinRole::Member,
        BuiltinRole::ReadOnly,
        BuiltinRole::OpsRw,
        BuiltinRole::Admin,
        BuiltinRole::Approver,
    ];

    /// The role's name, such as `org_admin`.
    pub const fn name(self) -> &'static str {
        match self {
            BuiltinRole::OrgAdmin => "org_admin",
            BuiltinRole::TeamAdmin => "team_admin",
            BuiltinRole::TeamLead => "team_lead",
            BuiltinRole::Member => "member",
            BuiltinRole::ReadOnly => "read_only",
            BuiltinRole::OpsRw => "ops_rw",
            BuiltinRole::Admin => "admin",
            BuiltinRole::Approver => "approver",
        }
    }

    /// The fixed id of the role.
    pub const fn id(self) -> RoleId {
        RoleId::from_uuid(Uuid::from_u128(
            0x0000_0000_0000_7000_8000_0000_0000_0001 + self as u128,
        ))
    }

    /// The built-in role with this id, if it is one.
    pub fn from_id(id: RoleId) -> Option<BuiltinRole> {
        Self::ALL.into_iter().find(|r| r.id() == id)
    }

    /// The built-in role with this name, if it is one.
    pub fn from_name(name: &str) -> Option<BuiltinRole> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The role's permissions. The four hierarchy roles are seed 003's sets
    /// plus device and tool permissions; the four tool roles are seed 000's.
    /// `docs/authorization.md` explains each addition.
    pub fn permissions(self) -> PermissionSet {
        let mut set = match self {
            BuiltinRole::OrgAdmin => PermissionSet::of(&[P::AdminAll]),
            BuiltinRole::TeamAdmin => PermissionSet::of(&[
                P::TeamRead,
                P::TeamUpdate,
                P::UserInvite,
                P::UserRead,
                P::UserUpdate,
                P::UserRemove,
                P::SiteCreate,
                P::SiteRead,
                P::SiteUpdate,
                P::SiteDelete,
                P::SitePublish,
                P::DeviceRead,
                P::DeviceCreate,
                P::DeviceUpdate,
                P::DeviceDelete,
                P::DeviceCredentials,
                P::DeviceConfigure,
                P::ToolFundamental,
                P::AuditRead,
            ]),
            BuiltinRole::TeamLead => PermissionSet::of(&[
                P::TeamRead,
                P::UserRead,
                P::SiteCreate,
                P::SiteRead,
                P::SiteUpdate,
                P::SiteDelete,
                P::DeviceRead,
                P::DeviceCreate,
                P::DeviceUpdate,
                P::ToolFundamental,
            ]),
            BuiltinRole::Member => PermissionSet::of(&[
                P::TeamRead,
                P::UserRead,
                P::SiteRead,
                P::SiteCreate,
                P::SiteUpdate,
                P::DeviceRead,
                P::ToolFundamental,
            ]),
            BuiltinRole::ReadOnly => PermissionSet::of(&[P::ToolFundamental]),
            BuiltinRole::OpsRw => PermissionSet::of(&[P::ToolFundamental, P::ToolAdvanced]),
            BuiltinRole::Admin => PermissionSet::of(&[
                P::ToolFundamental,
                P::ToolAdvanced,
                P::ToolProfessional,
                P::AuditRead,
            ]),
            BuiltinRole::Approver => {
                PermissionSet::of(&[P::ApprovalApprove, P::AuditRead, P::ComplianceRead])
            }
        };
        if matches!(
            self,
            BuiltinRole::ReadOnly | BuiltinRole::OpsRw | BuiltinRole::Admin | BuiltinRole::Approver
        ) {
            set = set.union(PermissionSet::of(TEAM_VIEW));
        }
        set
    }

    /// The role as a [`Role`] value.
    pub fn role(self) -> Role {
        Role {
            id: self.id(),
            tenant_id: None,
            name: self.name().to_owned(),
            permissions: self.permissions(),
            builtin: true,
            created_at: OffsetDateTime::UNIX_EPOCH,
        }
    }
}

/// A named set of permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: RoleId,
    /// `None` for built-in roles, which every tenant shares.
    pub tenant_id: Option<TenantId>,
    pub name: String,
    pub permissions: PermissionSet,
    pub builtin: bool,
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_003_sets_are_kept() {
        let has = |r: BuiltinRole, p| r.permissions().grants(p);
        assert!(has(BuiltinRole::OrgAdmin, P::TenantDelete));
        assert!(
            has(BuiltinRole::TeamAdmin, P::UserInvite)
                && has(BuiltinRole::TeamAdmin, P::SitePublish)
        );
        assert!(
            !has(BuiltinRole::TeamLead, P::UserInvite)
                && !has(BuiltinRole::TeamLead, P::SitePublish)
        );
        assert!(
            has(BuiltinRole::Member, P::SiteUpdate) && !has(BuiltinRole::Member, P::SiteDelete)
        );
        assert!(
            !has(BuiltinRole::Approver, P::ToolFundamental),
            "approvers run no tools"
        );
        assert!(
            has(BuiltinRole::TeamAdmin, P::DeviceConfigure)
                && !has(BuiltinRole::TeamLead, P::DeviceConfigure),
            "moving a device between environments or changing its capabilities is the team admin's"
        );
        assert!(
            has(BuiltinRole::OpsRw, P::ToolAdvanced)
                && !has(BuiltinRole::OpsRw, P::ToolProfessional)
        );
    }

    #[test]
    fn builtin_ids_are_distinct_and_round_trip() {
        for r in BuiltinRole::ALL {
            assert_eq!(BuiltinRole::from_id(r.id()), Some(r));
            assert_eq!(BuiltinRole::from_name(r.name()), Some(r));
        }
    }
}
