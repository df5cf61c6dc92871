//! A decision and its reason. Every allow names the binding that granted it;
//! every deny says why, in words an operator can act on.

use crate::permission::Permission;
use kernel::{BindingId, Environment, RoleId};
use serde::Serialize;

/// Why access was allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Grant {
    /// A role binding whose scope covers the resource grants the permission.
    Binding {
        /// The granting binding.
        binding_id: BindingId,
        /// Its role.
        role_id: RoleId,
    },
    /// Users may read their own record.
    Myself,
    /// Platform administrators may create and list tenants.
    PlatformAdmin,
}

/// Why access was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DenyReason {
    /// The resource belongs to another tenant.
    CrossTenant,
    /// The caller holds the permission, but no binding of theirs reaches the resource.
    OutOfReach,
    /// No binding of the caller grants the permission at all.
    MissingPermission {
        /// The permission that was needed.
        permission: Permission,
    },
    /// A binding reaches the device, but only in other environments.
    Environment {
        /// The device's environment.
        environment: Environment,
    },
    /// The caller's device scope does not include the device.
    OutsideDeviceScope,
    /// The target user holds bindings the caller does not cover, or more
    /// than the caller holds there: only someone who outranks a user may
    /// change it.
    Outranked,
}

impl DenyReason {
    /// The message shown to the caller.
    pub fn message(&self) -> String {
        match self {
            DenyReason::CrossTenant => "Cross-tenant access denied".into(),
            DenyReason::OutOfReach => "No access to this resource".into(),
            DenyReason::MissingPermission { permission } => {
                format!("Missing permission: {permission}")
            }
            DenyReason::Environment { environment } => {
                format!("No access to this resource in the {environment} environment")
            }
            DenyReason::OutsideDeviceScope => "Device is outside your device scope".into(),
            DenyReason::Outranked => "This user holds roles, scopes or environments beyond yours: \
                only someone who covers all of them can change it"
                .into(),
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            DenyReason::CrossTenant => "cross_tenant",
            DenyReason::OutOfReach => "out_of_reach",
            DenyReason::MissingPermission { .. } => "missing_permission",
            DenyReason::Environment { .. } => "environment_not_allowed",
            DenyReason::OutsideDeviceScope => "outside_device_scope",
            DenyReason::Outranked => "outranked",
        }
    }
}

/// The answer to "may this user do this to that?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", content = "reason", rename_all = "snake_case")]
pub enum Decision {
    /// Allowed, and by what.
    Allow(Grant),
    /// Denied, and why.
    Deny(DenyReason),
}

impl Decision {
    /// Whether the decision allows.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }

    /// A one-line reason for logs and audit records.
    pub fn reason_text(&self) -> String {
        match self {
            Decision::Allow(Grant::Binding {
                binding_id,
                role_id,
            }) => {
                format!("granted by binding {binding_id} (role {role_id})")
            }
            Decision::Allow(Grant::Myself) => "own user record".into(),
            Decision::Allow(Grant::PlatformAdmin) => "platform administrator".into(),
            Decision::Deny(r) => r.message(),
        }
    }
}
