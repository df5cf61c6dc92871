//! Role bindings and device scopes.

use kernel::{
    BindingId, DeviceGroupId, DeviceId, DeviceScopeId, Environment, RoleId, TenantId, UserId,
};
use serde::{Deserialize, Serialize};
use tenancy::Scope;
use time::OffsetDateTime;

/// A user holds a role at a scope and everything below it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleBinding {
    pub id: BindingId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub role_id: RoleId,
    pub scope: Scope,
    /// Only in these environments (for device resources); `None` for all.
    pub environments: Option<Vec<Environment>>,
    pub created_at: OffsetDateTime,
}

/// What a device scope grant names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum DeviceScopeTarget {
    /// One device.
    Device(DeviceId),
    /// Every device of a device group, as it is at decision time.
    DeviceGroup(DeviceGroupId),
}

/// A grant that narrows a user's tool use to the devices it names. A user
/// with no grants is not narrowed; a user with any may run tools only on
/// the devices of its grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceScope {
    pub id: DeviceScopeId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub target: DeviceScopeTarget,
    pub granted_by: UserId,
    pub created_at: OffsetDateTime,
}
