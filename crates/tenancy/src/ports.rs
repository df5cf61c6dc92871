//! What the tenancy domain needs from storage, and from a secret keeper.
//!
//! Adapters MUST make every method atomic: a method that fails leaves
//! nothing half-written. They MUST return [`StoreError::Conflict`] when a
//! uniqueness or "still in use" rule stops a write and
//! [`StoreError::NotFound`] when the row to change is gone. Every write that
//! changes who can reach what (units, sites, devices, groups, users) MUST
//! also bump the tenant's authorization generation, so cached decisions are
//! rebuilt.

use crate::identity::ProvisionedBinding;
use crate::model::*;
use async_trait::async_trait;
use kernel::{
    ApiTokenId, BindingId, DeviceGroupId, DeviceId, InvitationId, SiteId, StoreError, TenantId,
    UserId,
};
use time::OffsetDateTime;
use uuid::Uuid;

/// Storage of the tenant hierarchy.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait TenancyRepository: Send + Sync {
    // Tenants.
    async fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    async fn tenant(&self, id: TenantId) -> Result<Option<Tenant>, StoreError>;
    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;

    // Divisions, groups and teams.
    async fn insert_unit(&self, unit: &OrgUnit) -> Result<(), StoreError>;
    async fn unit(&self, id: Uuid) -> Result<Option<OrgUnit>, StoreError>;
    /// Units of the tenant, ordered by id.
    async fn units(&self, tenant: TenantId) -> Result<Vec<OrgUnit>, StoreError>;
    async fn update_unit(&self, unit: &OrgUnit) -> Result<(), StoreError>;
    /// Deletes the unit and the role bindings scoped to it; `Conflict` while
    /// units or sites remain below it.
    async fn delete_unit(&self, id: Uuid) -> Result<(), StoreError>;

    // Users.
    async fn insert_user(&self, user: &User) -> Result<(), StoreError>;
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// Emails are unique across the whole installation (case-insensitive).
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;
    /// Users of the tenant, ordered by id.
    async fn users(&self, tenant: TenantId) -> Result<Vec<User>, StoreError>;
    async fn update_user(&self, user: &User) -> Result<(), StoreError>;
    /// Deletes the user with its bindings, device scopes and API tokens.
    async fn delete_user(&self, id: UserId) -> Result<(), StoreError>;

    // Sites.
    async fn insert_site(&self, site: &Site) -> Result<(), StoreError>;
    async fn site(&self, id: SiteId) -> Result<Option<Site>, StoreError>;
    async fn sites(&self, tenant: TenantId) -> Result<Vec<Site>, StoreError>;
    async fn update_site(&self, site: &Site) -> Result<(), StoreError>;
    /// `Conflict` while devices remain at the site.
    async fn delete_site(&self, id: SiteId) -> Result<(), StoreError>;

    // Devices.
    async fn insert_device(&self, device: &Device) -> Result<(), StoreError>;
    async fn device(&self, id: DeviceId) -> Result<Option<Device>, StoreError>;
    async fn devices(&self, tenant: TenantId) -> Result<Vec<Device>, StoreError>;
    async fn update_device(&self, device: &Device) -> Result<(), StoreError>;
    /// Deletes the device, its credentials, group memberships and scope
    /// grants; refuses ([`StoreError::Conflict`]) when a grant naming it is
    /// the last of its user, so that no device scope lapses.
    async fn delete_device(&self, id: DeviceId) -> Result<(), StoreError>;
    /// Stores sealed (encrypted) credentials, replacing any before.
    async fn set_device_credentials(&self, id: DeviceId, sealed: &[u8]) -> Result<(), StoreError>;
    /// The sealed credentials, if any.
    async fn device_credentials(&self, id: DeviceId) -> Result<Option<Vec<u8>>, StoreError>;

    // Device groups.
    async fn insert_device_group(&self, group: &DeviceGroup) -> Result<(), StoreError>;
    async fn device_group(&self, id: DeviceGroupId) -> Result<Option<DeviceGroup>, StoreError>;
    async fn device_groups(&self, tenant: TenantId) -> Result<Vec<DeviceGroup>, StoreError>;
    async fn update_device_group(&self, group: &DeviceGroup) -> Result<(), StoreError>;
    /// Deletes the group, its memberships and the scope grants naming it;
    /// refuses ([`StoreError::Conflict`]) when such a grant is the last of
    /// its user, so that no device scope lapses.
    async fn delete_device_group(&self, id: DeviceGroupId) -> Result<(), StoreError>;

    // Invitations.
    async fn insert_invitation(
        &self,
        invitation: &Invitation,
        token_hash: &str,
    ) -> Result<(), StoreError>;
    /// The invitation and its token hash.
    async fn invitation(
        &self,
        id: InvitationId,
    ) -> Result<Option<(Invitation, String)>, StoreError>;
    /// Marks the invitation accepted, creates `user` and a role binding with
    /// id `binding_id` for the invitation's role, scope and environments, all
    /// in one transaction. `Conflict` if it was accepted meanwhile.
    async fn accept_invitation(
        &self,
        id: InvitationId,
        accepted_at: OffsetDateTime,
        user: &User,
        binding_id: BindingId,
    ) -> Result<(), StoreError>;

    // Identities at OpenID Connect providers.
    /// The user linked to `subject` at `issuer`.
    async fn user_by_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<User>, StoreError>;
    /// Links `subject` at `issuer` to `user`; `Conflict` if it is linked already.
    async fn link_identity(
        &self,
        user: &User,
        issuer: &str,
        subject: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The identities linked to `user`, oldest link first.
    async fn identity_links(&self, user: UserId) -> Result<Vec<IdentityLink>, StoreError>;
    /// Removes the link of `subject` at `issuer` to `user`; `NotFound` if
    /// `user` has no such link.
    async fn unlink_identity(
        &self,
        user: UserId,
        issuer: &str,
        subject: &str,
    ) -> Result<(), StoreError>;
    /// The newest invitation for `email` that is neither accepted nor expired at `now`.
    async fn pending_invitation_for(
        &self,
        email: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Invitation>, StoreError>;
    /// Creates `user`, its role binding and its identity link in one
    /// transaction (just-in-time provisioning).
    async fn provision_user(
        &self,
        user: &User,
        grant: &ProvisionedBinding,
        issuer: &str,
        subject: &str,
    ) -> Result<(), StoreError>;

    // API tokens.
    async fn insert_api_token(&self, token: &ApiToken, hash: &str) -> Result<(), StoreError>;
    /// The token and its secret hash.
    async fn api_token(&self, id: ApiTokenId) -> Result<Option<(ApiToken, String)>, StoreError>;
    async fn api_tokens(&self, user: UserId) -> Result<Vec<ApiToken>, StoreError>;
    async fn revoke_api_token(&self, id: ApiTokenId, at: OffsetDateTime) -> Result<(), StoreError>;

    /// Which tenant owns the entity with this id, whatever its kind.
    async fn tenant_of(&self, id: Uuid) -> Result<Option<TenantId>, StoreError>;
}

/// Encrypts secrets at rest. Implementations MUST use authenticated
/// encryption and bind the ciphertext to `context`, so a sealed value moved
/// to another row fails to open.
pub trait Sealer: Send + Sync + std::fmt::Debug {
    /// Encrypts `plaintext`.
    fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8>;
    /// Decrypts, or `None` when the value was tampered with or sealed for another context.
    fn open(&self, sealed: &[u8], context: &[u8]) -> Option<Vec<u8>>;
}
