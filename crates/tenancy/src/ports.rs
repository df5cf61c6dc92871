//! What the tenancy domain needs from outside, in one place: storage, a
//! secret keeper, the identity provider, a name resolver, a session store,
//! and the checks the service asks of authorization (invitations, links
//! by email). Adapters live in infrastructure crates, or beside their
//! subject for the in-process ones (session.rs, target.rs).
//!
//! Storage adapters MUST make every method atomic: a method that fails
//! leaves nothing half-written. They MUST return [`StoreError::Conflict`] when a
//! uniqueness or "still in use" rule stops a write and
//! [`StoreError::NotFound`] when the row to change is gone. Every write that
//! changes who can reach what (units, sites, devices, groups, users) MUST
//! also bump the tenant's authorization generation, so cached decisions are
//! rebuilt.

use crate::error::TenancyError;
use crate::identity::{
    ExternalIdentity, IdentityError, IdpTokens, ProvisionedBinding, VerifiedAccess,
};
use crate::model::*;
use crate::session_model::{PendingLogin, SessionKey, UserSession};
use async_trait::async_trait;
use kernel::{
    ApiTokenId, BindingId, DeviceGroupId, DeviceId, InvitationId, SiteId, StoreError, TenantId,
    UserId,
};
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};
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

/// An OpenID Connect provider, as the login flow and bearer authentication
/// need it. The `oidc` crate implements it.
#[async_trait::async_trait]
pub trait IdentityProvider: Send + Sync + std::fmt::Debug {
    /// The issuer URL, exactly as configured.
    fn issuer(&self) -> &str;
    /// Where to send the browser: the authorization endpoint with PKCE
    /// (S256 of `pkce_verifier`), `state` and `nonce`.
    async fn authorization_url(
        &self,
        state: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<String, IdentityError>;
    /// Exchanges an authorization code and verifies the ID token it brings
    /// (signature, `iss`, `aud`, `exp`, and that it carries `nonce`).
    async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<(ExternalIdentity, IdpTokens), IdentityError>;
    /// New tokens for a refresh token. `Rejected` only when the provider
    /// says the refresh token is dead (`invalid_grant`); other refusals and
    /// an unreachable provider are `Unavailable`.
    async fn refresh(&self, tokens: &IdpTokens) -> Result<IdpTokens, IdentityError>;
    /// Revokes the refresh and access tokens where the provider allows it.
    async fn revoke(&self, tokens: &IdpTokens) -> Result<(), IdentityError>;
    /// The provider's end-session URL for RP-initiated logout, if it has one.
    async fn end_session_url(
        &self,
        tokens: &IdpTokens,
        post_logout_redirect_uri: Option<&str>,
    ) -> Option<String>;
    /// Verifies a bearer access token issued for rosgate's resource.
    async fn verify_access_token(&self, token: &str) -> Result<VerifiedAccess, IdentityError>;
}

/// Resolves host names to addresses.
///
/// Adapters MUST NOT block the async runtime and MUST give up after a
/// bounded time, returning `Err` with a short reason.
#[async_trait]
pub trait HostResolver: Send + Sync {
    /// The addresses `host` resolves to (for connections to `port`).
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String>;
}

/// Where sessions and pending logins are kept.
///
/// Contract (checked by `session::contract` against every adapter):
/// - `touch` returns the session and moves its expiry to `now + ttl`, or
///   returns `None` (and forgets it) once `now` has reached its expiry;
/// - a removed session never comes back, whatever `touch` or `replace` race it;
/// - `take_login` returns a pending login at most once, and never after it expired.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session under `key`; `Conflict` if the key is taken.
    async fn insert(&self, key: &SessionKey, session: &UserSession) -> Result<(), StoreError>;
    /// The live session under `key`, its expiry slid to `now + ttl`.
    async fn touch(
        &self,
        key: &SessionKey,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> Result<Option<UserSession>, StoreError>;
    /// Replaces a live session (after a token refresh); `false` if it is gone.
    async fn replace(&self, key: &SessionKey, session: &UserSession) -> Result<bool, StoreError>;
    /// Forgets a session; `false` if there was none.
    async fn remove(&self, key: &SessionKey) -> Result<bool, StoreError>;
    /// Keeps a pending login under its `state`.
    async fn put_login(&self, state: &str, login: &PendingLogin) -> Result<(), StoreError>;
    /// Takes a pending login out: the first caller gets it, later ones `None`.
    async fn take_login(
        &self,
        state: &str,
        now: OffsetDateTime,
    ) -> Result<Option<PendingLogin>, StoreError>;
}

/// Re-checks an invitation when it is accepted: its inviter may have lost,
/// since inviting, what the invitation hands out.
#[async_trait::async_trait]
pub trait InvitationCheck: Send + Sync {
    /// `Err(TenancyError::InvitationLapsed)` when the inviter no longer
    /// holds the invitation's role at its scope, in its environments.
    async fn inviter_still_holds(&self, invitation: &Invitation) -> Result<(), TenancyError>;
}

/// Whether an existing account may be linked to a new identity because
/// their verified emails match. Accounts that may not (administrators) are
/// linked only explicitly ([`crate::TenancyService::link_identity`]).
#[async_trait::async_trait]
pub trait EmailLinkCheck: Send + Sync {
    /// `false` when `user` holds `admin:*` anywhere.
    async fn may_link_by_email(&self, user: &User) -> Result<bool, TenancyError>;
}

impl std::fmt::Debug for dyn EmailLinkCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmailLinkCheck")
    }
}

impl std::fmt::Debug for dyn InvitationCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InvitationCheck")
    }
}

impl std::fmt::Debug for dyn TenancyRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TenancyRepository")
    }
}

impl std::fmt::Debug for dyn HostResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostResolver")
    }
}
