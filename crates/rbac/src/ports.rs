//! What the RBAC domain needs from storage.
//!
//! Adapters MUST make every method atomic and MUST bump the tenant's
//! authorization generation in the same transaction as any write, so that
//! [`crate::Authorizer`] rebuilds its index on every instance.

use crate::index::TenantSnapshot;
use crate::model::{DeviceScope, RoleBinding};
use crate::role::Role;
use async_trait::async_trait;
use kernel::{BindingId, DeviceScopeId, RoleId, StoreError, TenantId, UserId};
use uuid::Uuid;

/// Storage of roles, bindings and device scopes.
#[async_trait]
pub trait RbacRepository: Send + Sync {
    async fn insert_role(&self, role: &Role) -> Result<(), StoreError>;
    async fn role(&self, id: RoleId) -> Result<Option<Role>, StoreError>;
    /// The tenant's custom roles, ordered by id.
    async fn roles(&self, tenant: TenantId) -> Result<Vec<Role>, StoreError>;
    async fn update_role(&self, role: &Role) -> Result<(), StoreError>;
    /// `Conflict` while bindings or open invitations use the role.
    async fn delete_role(&self, id: RoleId) -> Result<(), StoreError>;

    async fn insert_binding(&self, binding: &RoleBinding) -> Result<(), StoreError>;
    async fn binding(&self, id: BindingId) -> Result<Option<RoleBinding>, StoreError>;
    /// The tenant's bindings, ordered by id.
    async fn bindings(&self, tenant: TenantId) -> Result<Vec<RoleBinding>, StoreError>;
    async fn delete_binding(&self, id: BindingId) -> Result<(), StoreError>;

    async fn insert_device_scope(&self, scope: &DeviceScope) -> Result<(), StoreError>;
    async fn device_scope(&self, id: DeviceScopeId) -> Result<Option<DeviceScope>, StoreError>;
    /// The tenant's device scope grants (of one user when `user` is given), ordered by id.
    async fn device_scopes(
        &self,
        tenant: TenantId,
        user: Option<UserId>,
    ) -> Result<Vec<DeviceScope>, StoreError>;
    async fn delete_device_scope(&self, id: DeviceScopeId) -> Result<(), StoreError>;
}

/// Where the [`crate::Authorizer`] gets what it compiles.
#[async_trait]
pub trait AuthzSource: Send + Sync {
    /// The tenant's current authorization generation (0 for an unknown tenant).
    async fn generation(&self, tenant: TenantId) -> Result<u64, StoreError>;
    /// Everything decisions depend on. The generation MUST be read before
    /// the rows, so the rows are at least as new as it.
    async fn snapshot(&self, tenant: TenantId) -> Result<TenantSnapshot, StoreError>;
    /// The tenant of the entity with `id`, whatever its kind.
    async fn tenant_of(&self, id: Uuid) -> Result<Option<TenantId>, StoreError>;
}
