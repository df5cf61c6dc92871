//! The tenancy service: validates input, stamps ids and times, and keeps the
//! hierarchy's shape rules (a team sits below a group, a site belongs to a
//! team of the same tenant, credentials are sealed before they are stored).
//!
//! It does not decide who may call it: callers pass through the enforcement
//! gate first.

use crate::error::TenancyError;
use crate::identity::{ExternalIdentity, ProvisionedBinding, ProvisioningRule};
use crate::model::*;
use crate::ports::{EmailLinkCheck, HostResolver, InvitationCheck, Sealer, TenancyRepository};
use crate::scope::Scope;
use crate::secret::{self, MintedSecret, SecretKind};
use crate::target::{self, TargetRules};
use crate::validate::{self, FieldError};
use kernel::{
    ApiTokenId, BindingId, Clock, DeviceGroupId, DeviceId, Entropy, Environment, InvitationId,
    RoleId, SiteId, StoreError, TeamId, TenantId, UserId,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

type Result<T> = std::result::Result<T, TenancyError>;

/// A new device, as submitted.
#[derive(Debug, Clone)]
pub struct NewDevice {
    pub site_id: SiteId,
    pub name: String,
    pub host: String,
    pub port: u16,
    pub environment: Environment,
    pub tags: BTreeMap<String, String>,
    pub capabilities: Capabilities,
    pub tls: DeviceTls,
    pub credentials: Option<DeviceCredentials>,
}

/// Changes to a device; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct DevicePatch {
    pub site_id: Option<SiteId>,
    pub name: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub environment: Option<Environment>,
    pub tags: Option<BTreeMap<String, String>>,
    pub capabilities: Option<Capabilities>,
    pub tls: Option<DeviceTls>,
}

/// A new invitation, as submitted.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub email: String,
    pub role_id: RoleId,
    pub scope: Scope,
    pub environments: Option<Vec<Environment>>,
    pub ttl: Duration,
}

/// Most devices in one device group.
pub const MAX_GROUP_DEVICES: usize = 10_000;

/// Longest an API token lives unless the service is told otherwise.
pub const DEFAULT_API_TOKEN_MAX_TTL: Duration = Duration::days(90);

/// Longest an invitation may stay open.
pub const MAX_INVITATION_TTL: Duration = Duration::days(30);

/// The tenancy use cases.
#[derive(Debug, Clone)]
pub struct TenancyService {
    repo: Arc<dyn TenancyRepository>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    sealer: Arc<dyn Sealer>,
    /// Without one, no invitation is accepted.
    invitation_check: Option<Arc<dyn InvitationCheck>>,
    /// Without one, no account is linked by email.
    email_link_check: Option<Arc<dyn EmailLinkCheck>>,
    api_token_max_ttl: Duration,
    targets: TargetRules,
    resolver: Arc<dyn HostResolver>,
}

impl TenancyService {
    /// A service over the given ports.
    pub fn new(
        repo: Arc<dyn TenancyRepository>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
        sealer: Arc<dyn Sealer>,
    ) -> Self {
        Self {
            repo,
            clock,
            entropy,
            sealer,
            invitation_check: None,
            email_link_check: None,
            api_token_max_ttl: DEFAULT_API_TOKEN_MAX_TTL,
            targets: TargetRules::default(),
            resolver: Arc::new(target::NoNames),
        }
    }

    /// The service, re-checking every invitation with `check` when it is
    /// accepted. A service without a check accepts no invitation.
    pub fn with_invitation_check(mut self, check: Arc<dyn InvitationCheck>) -> Self {
        self.invitation_check = Some(check);
        self
    }

    /// The service, asking `check` before it links an existing account to a
    /// new identity by email. A service without a check links nobody by email.
    pub fn with_email_link_check(mut self, check: Arc<dyn EmailLinkCheck>) -> Self {
        self.email_link_check = Some(check);
        self
    }

    /// The same service, creating API tokens that live at most `max`.
    pub fn with_api_token_max_ttl(mut self, max: Duration) -> Self {
        self.api_token_max_ttl = max.max(Duration::minutes(1));
        self
    }

    async fn may_link_by_email(&self, user: &User) -> Result<bool> {
        if user.platform_admin {
            return Ok(false);
        }
        match &self.email_link_check {
            Some(c) => c.may_link_by_email(user).await,
            None => Ok(false),
        }
    }

    /// Links `user` to the identity `(issuer, subject)` explicitly (an
    /// operator's decision at the command line, the only way for
    /// administrators besides the API). An identity already linked to
    /// another user is [`TenancyError::IdentityTaken`]; linking it again to
    /// the same user is fine.
    pub async fn link_identity(&self, user: &User, issuer: &str, subject: &str) -> Result<()> {
        let subject = Self::identity_input(issuer, subject)?;
        match self.repo.user_by_identity(issuer, subject).await? {
            Some(u) if u.id == user.id => return Ok(()),
            Some(_) => return Err(TenancyError::IdentityTaken),
            None => {}
        }
        self.repo
            .link_identity(user, issuer, subject, self.clock.now())
            .await
            .map_err(|e| match e {
                // Linked to someone else meanwhile.
                StoreError::Conflict(_) => TenancyError::IdentityTaken,
                other => other.into(),
            })
    }

    /// Links `user` to `(issuer, subject)` as an administrator asks over the
    /// API: as [`TenancyService::link_identity`], and a user has one
    /// identity per provider, so a user linked to another subject at
    /// `issuer` is [`TenancyError::IdentityAlreadyLinked`]: remove the old
    /// link first. The operator's command line is not held to this.
    pub async fn link_sole_identity(&self, user: &User, issuer: &str, subject: &str) -> Result<()> {
        let trimmed = Self::identity_input(issuer, subject)?;
        let links = self.repo.identity_links(user.id).await?;
        if links
            .iter()
            .any(|l| l.issuer == issuer && l.subject != trimmed)
        {
            return Err(TenancyError::IdentityAlreadyLinked);
        }
        self.link_identity(user, issuer, subject).await
    }

    /// The identities linked to `user`, oldest link first.
    pub async fn identity_links(&self, user: UserId) -> Result<Vec<IdentityLink>> {
        Ok(self.repo.identity_links(user).await?)
    }

    /// Removes the link of `user` to the identity `(issuer, subject)`, named
    /// exactly as stored (not trimmed): that identity no longer signs in as
    /// `user`. `NotFound("identity link")` when `user` has no such link.
    pub async fn unlink_identity(&self, user: &User, issuer: &str, subject: &str) -> Result<()> {
        Self::check_identity(issuer, subject)?;
        self.repo
            .unlink_identity(user.id, issuer, subject)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => TenancyError::NotFound("identity link"),
                other => other.into(),
            })
    }

    /// Checks an identity named for [`TenancyService::link_identity`]: the
    /// subject, trimmed, or why the input is not an identity.
    pub fn identity_input<'a>(issuer: &str, subject: &'a str) -> Result<&'a str> {
        let subject = subject.trim();
        Self::check_identity(issuer, subject)?;
        Ok(subject)
    }

    /// Why `(issuer, subject)`, taken as given, names no identity, if it
    /// does not.
    fn check_identity(issuer: &str, subject: &str) -> Result<()> {
        if subject.is_empty() || subject.len() > 255 || subject.chars().any(char::is_control) {
            return Err(FieldError::new(
                "subject",
                "must be 1 to 255 characters, none of them control characters",
            )
            .into());
        }
        if !(issuer.starts_with("https://") || issuer.starts_with("http://"))
            || issuer.len() > 2048
            || issuer.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(FieldError::new("issuer", "must be the provider's issuer URL").into());
        }
        Ok(())
    }

    async fn recheck(&self, invitation: &Invitation) -> Result<()> {
        match &self.invitation_check {
            Some(c) => c.inviter_still_holds(invitation).await,
            None => Err(TenancyError::InvitationLapsed(
                "invitations are not checked on this server".into(),
            )),
        }
    }

    /// The same service with these device target rules and this resolver
    /// for device host names. Without it, private hosts are refused and
    /// only address literals are accepted.
    pub fn with_targets(mut self, rules: TargetRules, resolver: Arc<dyn HostResolver>) -> Self {
        self.targets = rules;
        self.resolver = resolver;
        self
    }

    /// The repository, for read-only lookups the service adds nothing to.
    pub fn repo(&self) -> &dyn TenancyRepository {
        self.repo.as_ref()
    }

    fn new_id(&self) -> (Uuid, OffsetDateTime) {
        let now = self.clock.now();
        (self.entropy.uuid_v7(now), now)
    }

    // ---- tenants -------------------------------------------------------

    /// Creates a tenant.
    pub async fn create_tenant(&self, name: &str) -> Result<Tenant> {
        let name = validate::name("name", name)?;
        let (id, now) = self.new_id();
        let tenant = Tenant {
            id: TenantId::from_uuid(id),
            name,
            created_at: now,
        };
        self.repo.insert_tenant(&tenant).await?;
        Ok(tenant)
    }

    /// Renames a tenant.
    pub async fn rename_tenant(&self, id: TenantId, name: &str) -> Result<Tenant> {
        let mut tenant = self
            .repo
            .tenant(id)
            .await?
            .ok_or(TenancyError::NotFound("tenant"))?;
        tenant.name = validate::name("name", name)?;
        self.repo.update_tenant(&tenant).await?;
        Ok(tenant)
    }

    // ---- divisions, groups, teams --------------------------------------

    /// Creates a division, group or team below `parent_id`, which must be the
    /// tenant (for a division) or a unit of the kind above in the same tenant.
    pub async fn create_unit(
        &self,
        tenant: TenantId,
        kind: UnitKind,
        parent_id: Uuid,
        name: &str,
    ) -> Result<OrgUnit> {
        let name = validate::name("name", name)?;
        self.check_parent(tenant, kind, parent_id).await?;
        let (id, now) = self.new_id();
        let unit = OrgUnit {
            id,
            tenant_id: tenant,
            kind,
            parent_id,
            name,
            created_at: now,
        };
        self.repo.insert_unit(&unit).await?;
        Ok(unit)
    }

    async fn check_parent(&self, tenant: TenantId, kind: UnitKind, parent_id: Uuid) -> Result<()> {
        let field = match kind {
            UnitKind::Division => return Ok(()),
            UnitKind::Group => "division_id",
            UnitKind::Team => "group_id",
        };
        match self.repo.unit(parent_id).await? {
            Some(p) if p.tenant_id == tenant && Some(p.kind) == kind.parent_kind() => Ok(()),
            _ => Err(FieldError::new(
                field,
                format!(
                    "must name an existing {} of this tenant",
                    field.trim_end_matches("_id")
                ),
            )
            .into()),
        }
    }

    /// A unit of the expected kind, or `NotFound`.
    pub async fn unit(&self, kind: UnitKind, id: Uuid) -> Result<OrgUnit> {
        match self.repo.unit(id).await? {
            Some(u) if u.kind == kind => Ok(u),
            _ => Err(TenancyError::NotFound(kind.as_str())),
        }
    }

    /// Renames a unit.
    pub async fn rename_unit(&self, kind: UnitKind, id: Uuid, name: &str) -> Result<OrgUnit> {
        let mut unit = self.unit(kind, id).await?;
        unit.name = validate::name("name", name)?;
        self.repo.update_unit(&unit).await?;
        Ok(unit)
    }

    /// Deletes an empty unit.
    pub async fn delete_unit(&self, kind: UnitKind, id: Uuid) -> Result<()> {
        self.unit(kind, id).await?;
        self.repo.delete_unit(id).await.map_err(|e| match e {
            StoreError::Conflict(_) => TenancyError::Conflict(format!(
                "the {} still has units or sites below it: move or delete them first",
                kind.as_str()
            )),
            other => other.into(),
        })
    }

    // ---- users ---------------------------------------------------------

    /// Creates a user directly (administrative bootstrap and demo data).
    pub async fn create_user(
        &self,
        tenant: TenantId,
        email: &str,
        display_name: &str,
        platform_admin: bool,
    ) -> Result<User> {
        let email = validate::email("email", email)?;
        let display_name = validate::name("display_name", display_name)?;
        let (id, now) = self.new_id();
        let user = User {
            id: UserId::from_uuid(id),
            tenant_id: tenant,
            email,
            display_name,
            platform_admin,
            created_at: now,
        };
        self.repo.insert_user(&user).await.map_err(|e| match e {
            StoreError::Conflict(_) => {
                TenancyError::Conflict("a user with this email already exists".into())
            }
            other => other.into(),
        })?;
        Ok(user)
    }

    /// A user, or `NotFound`.
    pub async fn user(&self, id: UserId) -> Result<User> {
        self.repo
            .user(id)
            .await?
            .ok_or(TenancyError::NotFound("user"))
    }

    /// Changes a user's display name.
    pub async fn update_user(&self, id: UserId, display_name: &str) -> Result<User> {
        let mut user = self.user(id).await?;
        user.display_name = validate::name("display_name", display_name)?;
        self.repo.update_user(&user).await?;
        Ok(user)
    }

    // ---- sites ---------------------------------------------------------

    /// Creates a site owned by `team_id`.
    pub async fn create_site(&self, tenant: TenantId, team_id: TeamId, name: &str) -> Result<Site> {
        let name = validate::name("name", name)?;
        self.check_team(tenant, team_id).await?;
        let (id, now) = self.new_id();
        let site = Site {
            id: SiteId::from_uuid(id),
            tenant_id: tenant,
            team_id,
            name,
            published_at: None,
            created_at: now,
        };
        self.repo.insert_site(&site).await?;
        Ok(site)
    }

    async fn check_team(&self, tenant: TenantId, team: TeamId) -> Result<()> {
        match self.repo.unit(team.uuid()).await? {
            Some(u) if u.tenant_id == tenant && u.kind == UnitKind::Team => Ok(()),
            _ => {
                Err(FieldError::new("team_id", "must name an existing team of this tenant").into())
            }
        }
    }

    /// A site, or `NotFound`.
    pub async fn site(&self, id: SiteId) -> Result<Site> {
        self.repo
            .site(id)
            .await?
            .ok_or(TenancyError::NotFound("site"))
    }

    /// Renames a site and/or hands it to another team of the same tenant.
    pub async fn update_site(
        &self,
        id: SiteId,
        name: Option<&str>,
        team_id: Option<TeamId>,
    ) -> Result<Site> {
        let mut site = self.site(id).await?;
        if let Some(name) = name {
            site.name = validate::name("name", name)?;
        }
        if let Some(team) = team_id {
            self.check_team(site.tenant_id, team).await?;
            site.team_id = team;
        }
        self.repo.update_site(&site).await?;
        Ok(site)
    }

    /// Marks a site published now.
    pub async fn publish_site(&self, id: SiteId) -> Result<Site> {
        let mut site = self.site(id).await?;
        site.published_at = Some(self.clock.now());
        self.repo.update_site(&site).await?;
        Ok(site)
    }

    /// Deletes a site with no devices.
    pub async fn delete_site(&self, id: SiteId) -> Result<()> {
        self.site(id).await?;
        self.repo.delete_site(id).await.map_err(|e| match e {
            StoreError::Conflict(_) => TenancyError::Conflict(
                "the site still has devices: move or delete them first".into(),
            ),
            other => other.into(),
        })
    }

    // ---- devices -------------------------------------------------------

    /// Registers a device at a site of the tenant, sealing its credentials.
    pub async fn create_device(&self, tenant: TenantId, new: NewDevice) -> Result<Device> {
        let name = validate::name("name", &new.name)?;
        let host = validate::host("host", &new.host)?;
        let port = validate::port("port", new.port)?;
        let tags = validate::tags("tags", new.tags)?;
        let tls = validate::tls("tls", new.tls)?;
        self.check_site(tenant, new.site_id).await?;
        if let Some(c) = &new.credentials {
            validate_credentials(c)?;
        }
        self.check_target(&host, port, &tls, new.environment)
            .await?;
        let (id, now) = self.new_id();
        let device = Device {
            id: DeviceId::from_uuid(id),
            tenant_id: tenant,
            site_id: new.site_id,
            name,
            host,
            port,
            environment: new.environment,
            tags,
            capabilities: new.capabilities,
            tls,
            has_credentials: false,
            created_at: now,
        };
        self.repo
            .insert_device(&device)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => TenancyError::Conflict(
                    "a device with this name already exists in the tenant".into(),
                ),
                other => other.into(),
            })?;
        match new.credentials {
            Some(c) => self.set_credentials(device.id, &c).await,
            None => Ok(device),
        }
    }

    async fn check_site(&self, tenant: TenantId, site: SiteId) -> Result<()> {
        match self.repo.site(site).await? {
            Some(s) if s.tenant_id == tenant => Ok(()),
            _ => {
                Err(FieldError::new("site_id", "must name an existing site of this tenant").into())
            }
        }
    }

    /// A device, or `NotFound`.
    pub async fn device(&self, id: DeviceId) -> Result<Device> {
        self.repo
            .device(id)
            .await?
            .ok_or(TenancyError::NotFound("device"))
    }

    async fn check_target(
        &self,
        host: &str,
        port: u16,
        tls: &DeviceTls,
        environment: Environment,
    ) -> Result<()> {
        target::check(
            self.targets,
            self.resolver.as_ref(),
            host,
            port,
            tls,
            environment,
        )
        .await?;
        Ok(())
    }

    /// Applies `patch` to a device. A change of host, port, TLS setting or
    /// environment is checked against the target rules.
    pub async fn update_device(&self, id: DeviceId, patch: DevicePatch) -> Result<Device> {
        let retargeted = patch.host.is_some()
            || patch.port.is_some()
            || patch.tls.is_some()
            || patch.environment.is_some();
        let mut d = self.device(id).await?;
        if let Some(v) = patch.site_id {
            self.check_site(d.tenant_id, v).await?;
            d.site_id = v;
        }
        if let Some(v) = patch.name {
            d.name = validate::name("name", &v)?;
        }
        if let Some(v) = patch.host {
            d.host = validate::host("host", &v)?;
        }
        if let Some(v) = patch.port {
            d.port = validate::port("port", v)?;
        }
        if let Some(v) = patch.environment {
            d.environment = v;
        }
        if let Some(v) = patch.tags {
            d.tags = validate::tags("tags", v)?;
        }
        if let Some(v) = patch.capabilities {
            d.capabilities = v;
        }
        if let Some(v) = patch.tls {
            d.tls = validate::tls("tls", v)?;
        }
        if retargeted {
            self.check_target(&d.host, d.port, &d.tls, d.environment)
                .await?;
        }
        self.repo.update_device(&d).await?;
        Ok(d)
    }

    /// Seals and stores a device's credentials. They are never returned.
    pub async fn set_credentials(&self, id: DeviceId, creds: &DeviceCredentials) -> Result<Device> {
        validate_credentials(creds)?;
        let mut device = self.device(id).await?;
        let plain = format!("{}\n{}", creds.username, creds.password);
        let sealed = self.sealer.seal(plain.as_bytes(), id.uuid().as_bytes());
        self.repo.set_device_credentials(id, &sealed).await?;
        device.has_credentials = true;
        Ok(device)
    }

    /// Opens a device's stored credentials, for the adapter that talks to it.
    pub async fn credentials(&self, id: DeviceId) -> Result<Option<DeviceCredentials>> {
        let Some(sealed) = self.repo.device_credentials(id).await? else {
            return Ok(None);
        };
        let plain =
            self.sealer
                .open(&sealed, id.uuid().as_bytes())
                .ok_or(TenancyError::Conflict(
                    "stored credentials cannot be decrypted with the configured key".into(),
                ))?;
        let text = String::from_utf8(plain)
            .map_err(|_| TenancyError::Conflict("stored credentials are corrupt".into()))?;
        let (username, password) = text.split_once('\n').unwrap_or((&text, ""));
        Ok(Some(DeviceCredentials {
            username: username.into(),
            password: password.into(),
        }))
    }

    // ---- device groups ---------------------------------------------------

    /// Creates a device group of devices in the tenant.
    pub async fn create_device_group(
        &self,
        tenant: TenantId,
        name: &str,
        device_ids: Vec<DeviceId>,
    ) -> Result<DeviceGroup> {
        let name = validate::name("name", name)?;
        let device_ids = self.check_devices(tenant, device_ids).await?;
        let (id, now) = self.new_id();
        let group = DeviceGroup {
            id: DeviceGroupId::from_uuid(id),
            tenant_id: tenant,
            name,
            device_ids,
            created_at: now,
        };
        self.repo.insert_device_group(&group).await?;
        Ok(group)
    }

    async fn check_devices(
        &self,
        tenant: TenantId,
        mut ids: Vec<DeviceId>,
    ) -> Result<Vec<DeviceId>> {
        ids.sort();
        ids.dedup();
        if ids.len() > MAX_GROUP_DEVICES {
            return Err(FieldError::new(
                "device_ids",
                format!("at most {MAX_GROUP_DEVICES} devices"),
            )
            .into());
        }
        if ids.is_empty() {
            return Ok(ids);
        }
        let known: std::collections::HashSet<DeviceId> = self
            .repo
            .devices(tenant)
            .await?
            .into_iter()
            .map(|d| d.id)
            .collect();
        if let Some(stranger) = ids.iter().find(|id| !known.contains(id)) {
            return Err(FieldError::new(
                "device_ids",
                format!("{stranger} is not a device of this tenant"),
            )
            .into());
        }
        Ok(ids)
    }

    /// A device group, or `NotFound`.
    pub async fn device_group(&self, id: DeviceGroupId) -> Result<DeviceGroup> {
        self.repo
            .device_group(id)
            .await?
            .ok_or(TenancyError::NotFound("device group"))
    }

    /// Renames a device group and/or replaces its members.
    pub async fn update_device_group(
        &self,
        id: DeviceGroupId,
        name: Option<&str>,
        device_ids: Option<Vec<DeviceId>>,
    ) -> Result<DeviceGroup> {
        let mut g = self.device_group(id).await?;
        if let Some(n) = name {
            g.name = validate::name("name", n)?;
        }
        if let Some(ids) = device_ids {
            g.device_ids = self.check_devices(g.tenant_id, ids).await?;
        }
        self.repo.update_device_group(&g).await?;
        Ok(g)
    }

    // ---- invitations -----------------------------------------------------

    /// Creates an invitation and mints its single-use token.
    pub async fn invite(
        &self,
        tenant: TenantId,
        invited_by: UserId,
        new: NewInvitation,
    ) -> Result<(Invitation, MintedSecret)> {
        let email = validate::email("email", &new.email)?;
        if new.ttl <= Duration::ZERO || new.ttl > MAX_INVITATION_TTL {
            return Err(FieldError::new("ttl_hours", "must be between 1 hour and 30 days").into());
        }
        if self.repo.user_by_email(&email).await?.is_some() {
            return Err(TenancyError::Conflict(
                "a user with this email already exists".into(),
            ));
        }
        let (id, now) = self.new_id();
        let invitation = Invitation {
            id: InvitationId::from_uuid(id),
            tenant_id: tenant,
            email,
            role_id: new.role_id,
            scope: new.scope,
            environments: new.environments,
            invited_by,
            expires_at: now + new.ttl,
            accepted_at: None,
            created_at: now,
        };
        let minted = secret::mint(SecretKind::Invitation, id, self.entropy.as_ref());
        self.repo
            .insert_invitation(&invitation, &minted.hash)
            .await?;
        Ok((invitation, minted))
    }

    /// Accepts an invitation by its token: creates the user and its role
    /// binding. A token works once, before it expires.
    pub async fn accept_invitation(&self, token: &str, display_name: &str) -> Result<User> {
        const BAD: &str = "the invitation token is not valid: it is unknown, used or expired";
        let display_name = validate::name("display_name", display_name)?;
        let (id, secret_part) =
            secret::parse(SecretKind::Invitation, token).ok_or(TenancyError::BadToken(BAD))?;
        let (inv, hash) = self
            .repo
            .invitation(InvitationId::from_uuid(id))
            .await?
            .ok_or(TenancyError::BadToken(BAD))?;
        let now = self.clock.now();
        if !secret::verify(secret_part, &hash) || inv.accepted_at.is_some() || now >= inv.expires_at
        {
            return Err(TenancyError::BadToken(BAD));
        }
        self.recheck(&inv).await?;
        let (uid, _) = self.new_id();
        let user = User {
            id: UserId::from_uuid(uid),
            tenant_id: inv.tenant_id,
            email: inv.email.clone(),
            display_name,
            platform_admin: false,
            created_at: now,
        };
        let binding = BindingId::from_uuid(self.entropy.uuid_v7(now));
        self.repo
            .accept_invitation(inv.id, now, &user, binding)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => TenancyError::BadToken(BAD),
                other => other.into(),
            })?;
        Ok(user)
    }

    // ---- sign-in through an identity provider -----------------------------

    /// The user an identity provider's verified identity stands for, found,
    /// linked or provisioned as [`crate::identity`] describes.
    pub async fn sign_in(&self, id: &ExternalIdentity, rules: &[ProvisioningRule]) -> Result<User> {
        if let Some(user) = self.repo.user_by_identity(&id.issuer, &id.subject).await? {
            return Ok(user);
        }
        let who = id
            .trusted_email()
            .map_or_else(|| format!("subject {}", id.subject), str::to_owned);
        // Only an ASCII email is matched against accounts, invitations and
        // rules: a non-ASCII one may stand for another person's address
        // under some case folding.
        let email = id
            .trusted_email()
            .filter(|e| e.is_ascii())
            .and_then(|e| validate::email("email", e).ok());
        let now = self.clock.now();
        if let Some(email) = &email {
            if let Some(user) = self.repo.user_by_email(email).await? {
                // An email match stands in for a link only for someone not
                // linked yet at this provider: a second account there with
                // the same email is not a way into an account that has one.
                // Links of another issuer (a provider moved from) cannot
                // sign anyone in, so they do not count.
                let linked_here = self
                    .repo
                    .identity_links(user.id)
                    .await?
                    .iter()
                    .any(|link| link.issuer == id.issuer);
                if linked_here || !self.may_link_by_email(&user).await? {
                    return Err(TenancyError::LinkRequired(email.clone()));
                }
                self.link(&user, id, now).await?;
                return Ok(user);
            }
            if let Some(inv) = self.repo.pending_invitation_for(email, now).await? {
                self.recheck(&inv).await?;
                let user = self.new_user(inv.tenant_id, email, id, now);
                let binding = BindingId::from_uuid(self.entropy.uuid_v7(now));
                self.repo
                    .accept_invitation(inv.id, now, &user, binding)
                    .await?;
                self.link(&user, id, now).await?;
                return Ok(user);
            }
            for rule in rules.iter().filter(|r| id.has_claim(&r.claim, &r.value)) {
                let scope = match rule.unit {
                    None => Scope::Tenant(rule.tenant_id),
                    Some(unit) => match self.repo.unit(unit).await? {
                        Some(u) if u.tenant_id == rule.tenant_id => u.scope(),
                        // A rule naming a unit that is gone grants nothing.
                        _ => continue,
                    },
                };
                let user = self.new_user(rule.tenant_id, email, id, now);
                let grant = ProvisionedBinding {
                    binding_id: BindingId::from_uuid(self.entropy.uuid_v7(now)),
                    role_id: rule.role_id,
                    scope,
                    environments: rule.environments.clone(),
                };
                self.repo
                    .provision_user(&user, &grant, &id.issuer, &id.subject)
                    .await?;
                return Ok(user);
            }
        }
        Err(TenancyError::NotProvisioned(who))
    }

    fn new_user(
        &self,
        tenant: TenantId,
        email: &str,
        id: &ExternalIdentity,
        now: OffsetDateTime,
    ) -> User {
        let fallback = email.split('@').next().unwrap_or(email);
        let display_name = id
            .name
            .as_deref()
            .and_then(|n| validate::name("display_name", n).ok())
            .unwrap_or_else(|| fallback.to_owned());
        User {
            id: UserId::from_uuid(self.entropy.uuid_v7(now)),
            tenant_id: tenant,
            email: email.to_owned(),
            display_name,
            platform_admin: false,
            created_at: now,
        }
    }

    /// Links the identity to `user`; a link made meanwhile by a concurrent
    /// sign-in of the same person is fine.
    async fn link(&self, user: &User, id: &ExternalIdentity, now: OffsetDateTime) -> Result<()> {
        match self
            .repo
            .link_identity(user, &id.issuer, &id.subject, now)
            .await
        {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    // ---- API tokens ------------------------------------------------------

    /// Creates an API token for `user`; the returned secret is shown once.
    /// It lives `ttl`, at most the service's maximum (by default
    /// [`DEFAULT_API_TOKEN_MAX_TTL`]), and that maximum when `ttl` is `None`.
    pub async fn create_api_token(
        &self,
        user: &User,
        name: &str,
        ttl: Option<Duration>,
    ) -> Result<(ApiToken, MintedSecret)> {
        self.create_api_token_within(user, name, ttl, None).await
    }

    /// As [`TenancyService::create_api_token`], for a caller whose own
    /// credential expires at `not_after`: a token never outlives the one
    /// that creates it. Without `ttl` the new token ends with the caller's;
    /// a `ttl` reaching past it is refused.
    pub async fn create_api_token_within(
        &self,
        user: &User,
        name: &str,
        ttl: Option<Duration>,
        not_after: Option<OffsetDateTime>,
    ) -> Result<(ApiToken, MintedSecret)> {
        let name = validate::name("name", name)?;
        let max = self.api_token_max_ttl;
        if ttl.is_some_and(|t| t <= Duration::ZERO || t > max) {
            return Err(FieldError::new(
                "ttl_days",
                format!("must be between 1 second and {} days", max.whole_days()),
            )
            .into());
        }
        let (id, now) = self.new_id();
        let mut expires_at = now + ttl.unwrap_or(max);
        if let Some(limit) = not_after {
            if ttl.is_some() && expires_at > limit {
                return Err(FieldError::new(
                    "ttl_days",
                    format!(
                        "a token cannot outlive the credential that creates it, which expires at {}",
                        limit
                            .format(&time::format_description::well_known::Rfc3339)
                            .unwrap_or_default()
                    ),
                )
                .into());
            }
            expires_at = expires_at.min(limit);
            if expires_at <= now {
                return Err(
                    FieldError::new("ttl_days", "the calling credential has expired").into(),
                );
            }
        }
        let token = ApiToken {
            id: ApiTokenId::from_uuid(id),
            tenant_id: user.tenant_id,
            user_id: user.id,
            name,
            expires_at: Some(expires_at),
            revoked_at: None,
            created_at: now,
        };
        let minted = secret::mint(SecretKind::ApiToken, id, self.entropy.as_ref());
        self.repo.insert_api_token(&token, &minted.hash).await?;
        Ok((token, minted))
    }

    /// Resolves a presented API token to its user, or `None` when the token
    /// is malformed, unknown, wrong, expired, revoked or its user is gone.
    pub async fn authenticate_api_token(&self, token: &str) -> Result<Option<(ApiToken, User)>> {
        let Some((id, secret_part)) = secret::parse(SecretKind::ApiToken, token) else {
            return Ok(None);
        };
        let Some((row, hash)) = self.repo.api_token(ApiTokenId::from_uuid(id)).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        if !secret::verify(secret_part, &hash) || !row.is_usable(now) {
            return Ok(None);
        }
        // A token from before lifetimes were capped, without an expiry,
        // lives no longer than the maximum either.
        let mut row = row;
        if row.expires_at.is_none() {
            let end = row.created_at + self.api_token_max_ttl;
            if now >= end {
                return Ok(None);
            }
            row.expires_at = Some(end);
        }
        Ok(self.repo.user(row.user_id).await?.map(|u| (row, u)))
    }

    /// Revokes an API token now.
    pub async fn revoke_api_token(&self, id: ApiTokenId) -> Result<()> {
        Ok(self.repo.revoke_api_token(id, self.clock.now()).await?)
    }
}

fn validate_credentials(c: &DeviceCredentials) -> Result<()> {
    if c.username.is_empty() || c.username.len() > 128 || c.username.contains('\n') {
        return Err(FieldError::new(
            "credentials.username",
            "must be 1 to 128 characters, one line",
        )
        .into());
    }
    if c.password.len() > 1024 {
        return Err(FieldError::new("credentials.password", "must be at most 1024 bytes").into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MockTenancyRepository;
    use kernel::{ManualClock, SeededEntropy};
    use time::macros::datetime;

    #[derive(Debug)]
    struct XorSealer;
    impl Sealer for XorSealer {
        fn seal(&self, p: &[u8], _: &[u8]) -> Vec<u8> {
            p.iter().map(|b| b ^ 0x5a).collect()
        }
        fn open(&self, s: &[u8], _: &[u8]) -> Option<Vec<u8>> {
            Some(s.iter().map(|b| b ^ 0x5a).collect())
        }
    }

    fn service(repo: MockTenancyRepository, clock: Arc<ManualClock>) -> TenancyService {
        TenancyService::new(
            Arc::new(repo),
            clock,
            Arc::new(SeededEntropy::new(3)),
            Arc::new(XorSealer),
        )
        .with_invitation_check(Arc::new(Approve))
        .with_email_link_check(Arc::new(NoAdmins))
    }

    /// Users whose display name is `Admin` hold `admin:*`.
    struct NoAdmins;
    #[async_trait::async_trait]
    impl EmailLinkCheck for NoAdmins {
        async fn may_link_by_email(&self, user: &User) -> Result<bool> {
            Ok(user.display_name != "Admin")
        }
    }

    /// Every inviter still holds what it handed out.
    struct Approve;
    #[async_trait::async_trait]
    impl InvitationCheck for Approve {
        async fn inviter_still_holds(&self, _: &Invitation) -> Result<()> {
            Ok(())
        }
    }

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(datetime!(2026-11-22 12:00 UTC)))
    }

    fn invitation(expires_at: OffsetDateTime) -> Invitation {
        Invitation {
            id: InvitationId::from_uuid(Uuid::from_u128(9)),
            tenant_id: TenantId::from_uuid(Uuid::from_u128(1)),
            email: "new@example.test".into(),
            role_id: RoleId::from_uuid(Uuid::from_u128(2)),
            scope: Scope::Tenant(TenantId::from_uuid(Uuid::from_u128(1))),
            environments: None,
            invited_by: UserId::from_uuid(Uuid::from_u128(3)),
            expires_at,
            accepted_at: None,
            created_at: datetime!(2026-11-22 11:00 UTC),
        }
    }

    #[tokio::test]
    async fn an_invitation_cannot_be_accepted_after_it_expires() {
        let clock = clock();
        let minted = secret::mint(
            SecretKind::Invitation,
            Uuid::from_u128(9),
            &SeededEntropy::new(1),
        );
        let mut repo = MockTenancyRepository::new();
        let hash = minted.hash.clone();
        repo.expect_invitation().returning(move |_| {
            Ok(Some((
                invitation(datetime!(2026-11-22 13:00 UTC)),
                hash.clone(),
            )))
        });
        repo.expect_accept_invitation().times(0);
        let svc = service(repo, clock.clone());
        clock.advance(Duration::hours(2));
        let err = svc
            .accept_invitation(&minted.token, "New")
            .await
            .unwrap_err();
        assert!(matches!(err, TenancyError::BadToken(_)));
    }

    #[tokio::test]
    async fn a_valid_invitation_creates_the_user_and_binding_in_one_call() {
        let minted = secret::mint(
            SecretKind::Invitation,
            Uuid::from_u128(9),
            &SeededEntropy::new(1),
        );
        let mut repo = MockTenancyRepository::new();
        let hash = minted.hash.clone();
        repo.expect_invitation().returning(move |_| {
            Ok(Some((
                invitation(datetime!(2026-11-23 12:00 UTC)),
                hash.clone(),
            )))
        });
        repo.expect_accept_invitation()
            .times(1)
            .withf(|id, _, user, _| {
                id.uuid() == Uuid::from_u128(9) && user.email == "new@example.test"
            })
            .returning(|_, _, _, _| Ok(()));
        let user = service(repo, clock())
            .accept_invitation(&minted.token, "New")
            .await
            .unwrap();
        assert_eq!(user.display_name, "New");
        assert!(
            !user.platform_admin,
            "invitations never make platform admins"
        );
    }

    #[tokio::test]
    async fn a_site_must_belong_to_a_team_of_the_same_tenant() {
        let mut repo = MockTenancyRepository::new();
        repo.expect_unit().returning(|id| {
            Ok(Some(OrgUnit {
                id,
                tenant_id: TenantId::from_uuid(Uuid::from_u128(99)),
                kind: UnitKind::Team,
                parent_id: Uuid::from_u128(5),
                name: "elsewhere".into(),
                created_at: OffsetDateTime::UNIX_EPOCH,
            }))
        });
        repo.expect_insert_site().times(0);
        let err = service(repo, clock())
            .create_site(
                TenantId::from_uuid(Uuid::from_u128(1)),
                TeamId::from_uuid(Uuid::from_u128(7)),
                "hq",
            )
            .await
            .unwrap_err();
        assert_eq!(
            err,
            TenancyError::Invalid(FieldError::new(
                "team_id",
                "must name an existing team of this tenant"
            ))
        );
    }

    #[tokio::test]
    async fn credentials_are_sealed_before_they_reach_the_store() {
        let mut repo = MockTenancyRepository::new();
        let device_id = DeviceId::from_uuid(Uuid::from_u128(4));
        repo.expect_device().returning(move |id| {
            Ok(Some(Device {
                id,
                tenant_id: TenantId::from_uuid(Uuid::from_u128(1)),
                site_id: SiteId::from_uuid(Uuid::from_u128(2)),
                name: "r1".into(),
                host: "10.0.0.1".into(),
                port: 443,
                environment: Environment::Lab,
                tags: BTreeMap::new(),
                capabilities: Capabilities::default(),
                tls: DeviceTls::default(),
                has_credentials: false,
                created_at: OffsetDateTime::UNIX_EPOCH,
            }))
        });
        repo.expect_set_device_credentials()
            .times(1)
            .withf(|_, sealed| !sealed.windows(6).any(|w| w == b"secret"))
            .returning(|_, _| Ok(()));
        let creds = DeviceCredentials {
            username: "admin".into(),
            password: "secret".into(),
        };
        let d = service(repo, clock())
            .set_credentials(device_id, &creds)
            .await
            .unwrap();
        assert!(d.has_credentials);
    }

    // ---- sign-in ---------------------------------------------------------

    fn identity(email: &str, verified: Option<bool>, groups: &[&str]) -> ExternalIdentity {
        let mut claims = BTreeMap::new();
        claims.insert(
            "groups".to_owned(),
            groups.iter().map(|g| (*g).to_owned()).collect(),
        );
        ExternalIdentity {
            issuer: "https://idp.example".into(),
            subject: "sub-1".into(),
            email: Some(email.into()),
            email_verified: verified,
            name: Some("New Person".into()),
            claims,
        }
    }

    fn existing(email: &str) -> User {
        User {
            id: UserId::from_uuid(Uuid::from_u128(77)),
            tenant_id: TenantId::from_uuid(Uuid::from_u128(1)),
            email: email.into(),
            display_name: "Existing".into(),
            platform_admin: false,
            created_at: datetime!(2026-01-01 0:00 UTC),
        }
    }

    fn rule(group: &str) -> ProvisioningRule {
        ProvisioningRule {
            claim: "groups".into(),
            value: group.into(),
            tenant_id: TenantId::from_uuid(Uuid::from_u128(1)),
            unit: None,
            role_id: RoleId::from_uuid(Uuid::from_u128(5)),
            environments: None,
        }
    }

    #[tokio::test]
    async fn a_linked_identity_signs_in_without_further_lookups() {
        let mut repo = MockTenancyRepository::new();
        repo.expect_user_by_identity()
            .withf(|iss, sub| iss == "https://idp.example" && sub == "sub-1")
            .returning(|_, _| Ok(Some(existing("someone@example.test"))));
        repo.expect_user_by_email().never();
        repo.expect_provision_user().never();
        let user = service(repo, clock())
            .sign_in(
                &identity("someone@example.test", Some(true), &[]),
                &[rule("netops")],
            )
            .await
            .unwrap();
        assert_eq!(user.id, existing("x").id);
    }

    #[tokio::test]
    async fn a_known_email_is_linked_on_first_sign_in() {
        let mut repo = MockTenancyRepository::new();
        repo.expect_user_by_identity().returning(|_, _| Ok(None));
        repo.expect_user_by_email()
            .returning(|e| Ok(Some(existing(e))));
        repo.expect_identity_links().returning(|_| Ok(vec![]));
        repo.expect_link_identity()
            .withf(|u, iss, sub, _| {
                u.id == existing("x").id && iss == "https://idp.example" && sub == "sub-1"
            })
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        let user = service(repo, clock())
            .sign_in(&identity("Known@Example.test", Some(true), &[]), &[])
            .await
            .unwrap();
        assert_eq!(user.email, "known@example.test");
    }

    #[tokio::test]
    async fn a_link_at_a_provider_moved_from_does_not_keep_an_account_from_its_new_one() {
        let mut repo = MockTenancyRepository::new();
        repo.expect_user_by_identity().returning(|_, _| Ok(None));
        repo.expect_user_by_email()
            .returning(|e| Ok(Some(existing(e))));
        repo.expect_identity_links().returning(|_| {
            Ok(vec![IdentityLink {
                issuer: "https://old-idp.example".into(),
                subject: "sub-0".into(),
                linked_at: time::OffsetDateTime::UNIX_EPOCH,
            }])
        });
        repo.expect_link_identity()
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        let user = service(repo, clock())
            .sign_in(&identity("known@example.test", Some(true), &[]), &[])
            .await;
        assert!(user.is_ok(), "{user:?}");
    }

    #[tokio::test]
    async fn an_account_linked_already_gets_no_second_identity_by_email() {
        let mut repo = MockTenancyRepository::new();
        repo.expect_user_by_identity().returning(|_, _| Ok(None));
        repo.expect_user_by_email()
            .returning(|e| Ok(Some(existing(e))));
        repo.expect_identity_links().returning(|_| {
            Ok(vec![IdentityLink {
                issuer: "https://idp.example".into(),
                subject: "sub-0".into(),
                linked_at: time::OffsetDateTime::UNIX_EPOCH,
            }])
        });
        repo.expect_link_identity().never();
        repo.expect_pending_invitation_for().never();
        repo.expect_provision_user().never();
        let err = service(repo, clock())
            .sign_in(
                &identity("known@example.test", Some(true), &["netops"]),
                &[rule("netops")],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, TenancyError::LinkRequired(_)), "{err}");
    }

    #[tokio::test]
    async fn a_non_ascii_email_matches_nobody() {
        let mut repo = MockTenancyRepository::new();
        repo.expect_user_by_identity().returning(|_, _| Ok(None));
        repo.expect_user_by_email().never();
        repo.expect_pending_invitation_for().never();
        repo.expect_link_identity().never();
        repo.expect_provision_user().never();
        let err = service(repo, clock())
            .sign_in(
                &identity("\u{212A}nown@example.test", Some(true), &["netops"]),
                &[rule("netops")],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, TenancyError::NotProvisioned(_)), "{err}");
        assert_eq!(
            validate::email("email", "\u{212A}nown@Example.test").unwrap(),
            "\u{212A}nown@example.test",
            "ASCII case only"
        );
    }

    #[tokio::test]
    async fn an_email_the_provider_does_not_call_verified_matches_nobody() {
        let mut repo = MockTenancyRepository::new();
        repo.expect_user_by_identity().returning(|_, _| Ok(None));
        repo.expect_user_by_email().never();
        repo.expect_pending_invitation_for().never();
        repo.expect_link_identity().never();
        let err = service(repo, clock())
            .sign_in(&identity("known@example.test", None, &[]), &[])
            .await
            .unwrap_err();
        assert!(matches!(err, TenancyError::NotProvisioned(_)), "{err}");
    }

    #[tokio::test]
    async fn administrators_are_never_linked_by_email() {
        for (platform_admin, name) in [(true, "Existing"), (false, "Admin")] {
            let mut repo = MockTenancyRepository::new();
            repo.expect_user_by_identity().returning(|_, _| Ok(None));
            repo.expect_user_by_email().returning(move |e| {
                let mut u = existing(e);
                u.platform_admin = platform_admin;
                u.display_name = name.into();
                Ok(Some(u))
            });
            repo.expect_identity_links().returning(|_| Ok(vec![]));
            repo.expect_link_identity().never();
            repo.expect_pending_invitation_for().never();
            repo.expect_provision_user().never();
            let err = service(repo, clock())
                .sign_in(
                    &identity("root@example.test", Some(true), &["netops"]),
                    &[rule("netops")],
                )
                .await
                .unwrap_err();
            assert!(matches!(err, TenancyError::LinkRequired(_)), "{err}");
        }
    }

    #[tokio::test]
    async fn an_explicit_link_checks_its_input_and_never_takes_an_identity_from_someone_else() {
        let mut repo = MockTenancyRepository::new();
        repo.expect_user_by_identity().returning(|_, sub| {
            Ok((sub == "taken").then(|| {
                let mut u = existing("other@example.test");
                u.id = UserId::from_uuid(Uuid::from_u128(78));
                u
            }))
        });
        repo.expect_link_identity()
            .withf(|u, iss, sub, _| {
                u.id == existing("x").id && iss == "https://idp.example" && sub == "sub-9"
            })
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        let svc = service(repo, clock());
        let me = existing("me@example.test");
        for (issuer, subject) in [
            ("https://idp.example", ""),
            ("https://idp.example", "a\0b"),
            ("https://idp.example", &"x".repeat(256)),
            ("idp.example", "sub-9"),
            ("https://idp.example/ x", "sub-9"),
        ] {
            let err = svc.link_identity(&me, issuer, subject).await.unwrap_err();
            assert!(
                matches!(err, TenancyError::Invalid(_)),
                "{issuer:?} {subject:?}: {err}"
            );
        }
        let err = svc
            .link_identity(&me, "https://idp.example", "taken")
            .await
            .unwrap_err();
        assert!(matches!(err, TenancyError::IdentityTaken), "{err}");
        svc.link_identity(&me, "https://idp.example", " sub-9 ")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn over_the_api_a_user_has_one_identity_per_provider() {
        let mut repo = MockTenancyRepository::new();
        repo.expect_identity_links().returning(|_| {
            Ok(vec![IdentityLink {
                issuer: "https://idp.example".into(),
                subject: "sub-1".into(),
                linked_at: OffsetDateTime::UNIX_EPOCH,
            }])
        });
        repo.expect_user_by_identity()
            .returning(|_, sub| Ok((sub == "sub-1").then(|| existing("me@example.test"))));
        repo.expect_link_identity()
            .withf(|_, iss, sub, _| iss == "https://other.example" && sub == "sub-2")
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        let svc = service(repo, clock());
        let me = existing("me@example.test");
        let err = svc
            .link_sole_identity(&me, "https://idp.example", "sub-2")
            .await
            .unwrap_err();
        assert!(matches!(err, TenancyError::IdentityAlreadyLinked), "{err}");
        svc.link_sole_identity(&me, "https://idp.example", " sub-1 ")
            .await
            .expect("the link it has is no second one");
        svc.link_sole_identity(&me, "https://other.example", "sub-2")
            .await
            .expect("another provider");
    }

    #[tokio::test]
    async fn an_unlink_checks_its_input_and_names_a_missing_link() {
        let mut repo = MockTenancyRepository::new();
        repo.expect_unlink_identity()
            .withf(|u, iss, _| *u == existing("x").id && iss == "https://idp.example")
            .times(2)
            .returning(|_, _, sub| {
                if sub == " sub-9" {
                    Ok(())
                } else {
                    Err(StoreError::NotFound)
                }
            });
        let svc = service(repo, clock());
        let me = existing("me@example.test");
        for (issuer, subject) in [
            ("https://idp.example", ""),
            ("https://idp.example", "a\0b"),
            ("https://idp.example", "a\nb"),
            ("https://idp.example", &"x".repeat(256)),
            ("", "sub-9"),
            ("https://idp.example/\u{7f}", "sub-9"),
            (&"h".repeat(2049), "sub-9"),
        ] {
            let err = svc.unlink_identity(&me, issuer, subject).await.unwrap_err();
            assert!(
                matches!(err, TenancyError::Invalid(_)),
                "{issuer:?} {subject:?}: {err}"
            );
        }
        // Named exactly as stored: not trimmed.
        svc.unlink_identity(&me, "https://idp.example", " sub-9")
            .await
            .unwrap();
        let err = svc
            .unlink_identity(&me, "https://idp.example", "sub-9")
            .await
            .unwrap_err();
        assert_eq!(err, TenancyError::NotFound("identity link"));
    }

    #[tokio::test]
    async fn without_a_link_check_nobody_is_linked_by_email() {
        let mut repo = MockTenancyRepository::new();
        repo.expect_user_by_identity().returning(|_, _| Ok(None));
        repo.expect_user_by_email()
            .returning(|e| Ok(Some(existing(e))));
        repo.expect_identity_links().returning(|_| Ok(vec![]));
        repo.expect_link_identity().never();
        let svc = TenancyService::new(
            Arc::new(repo),
            clock(),
            Arc::new(SeededEntropy::new(3)),
            Arc::new(XorSealer),
        );
        let err = svc
            .sign_in(&identity("known@example.test", Some(true), &[]), &[])
            .await
            .unwrap_err();
        assert!(matches!(err, TenancyError::LinkRequired(_)), "{err}");
    }

    #[tokio::test]
    async fn an_unverified_email_matches_nobody() {
        let mut repo = MockTenancyRepository::new();
        repo.expect_user_by_identity().returning(|_, _| Ok(None));
        repo.expect_user_by_email().never();
        repo.expect_pending_invitation_for().never();
        repo.expect_provision_user().never();
        let err = service(repo, clock())
            .sign_in(
                &identity("known@example.test", Some(false), &["netops"]),
                &[rule("netops")],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, TenancyError::NotProvisioned(_)), "{err}");
    }

    #[tokio::test]
    async fn a_pending_invitation_is_accepted_by_email() {
        let clock = clock();
        let mut repo = MockTenancyRepository::new();
        repo.expect_user_by_identity().returning(|_, _| Ok(None));
        repo.expect_user_by_email().returning(|_| Ok(None));
        let inv = invitation(clock.now() + Duration::days(1));
        repo.expect_pending_invitation_for()
            .returning(move |_, _| Ok(Some(inv.clone())));
        repo.expect_accept_invitation()
            .withf(|id, _, u, _| {
                *id == InvitationId::from_uuid(Uuid::from_u128(9)) && u.display_name == "New Person"
            })
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        repo.expect_link_identity()
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        repo.expect_provision_user().never();
        let user = service(repo, clock)
            .sign_in(
                &identity("new@example.test", Some(true), &["netops"]),
                &[rule("netops")],
            )
            .await
            .unwrap();
        assert_eq!(user.tenant_id, TenantId::from_uuid(Uuid::from_u128(1)));
    }

    /// No inviter holds anything any more.
    struct Lapsed;
    #[async_trait::async_trait]
    impl InvitationCheck for Lapsed {
        async fn inviter_still_holds(&self, _: &Invitation) -> Result<()> {
            Err(TenancyError::InvitationLapsed("gone".into()))
        }
    }

    #[tokio::test]
    async fn an_invitation_whose_inviter_lapsed_is_accepted_neither_at_sign_in_nor_by_token() {
        let clock = clock();
        let minted = secret::mint(
            SecretKind::Invitation,
            Uuid::from_u128(9),
            &SeededEntropy::new(1),
        );
        let mut repo = MockTenancyRepository::new();
        repo.expect_user_by_identity().returning(|_, _| Ok(None));
        repo.expect_user_by_email().returning(|_| Ok(None));
        let inv = invitation(clock.now() + Duration::days(1));
        let pending = inv.clone();
        repo.expect_pending_invitation_for()
            .returning(move |_, _| Ok(Some(pending.clone())));
        let hash = minted.hash.clone();
        repo.expect_invitation()
            .returning(move |_| Ok(Some((inv.clone(), hash.clone()))));
        repo.expect_accept_invitation().never();
        repo.expect_provision_user().never();
        let svc = service(repo, clock).with_invitation_check(Arc::new(Lapsed));
        let err = svc
            .sign_in(&identity("new@example.test", Some(true), &[]), &[])
            .await
            .unwrap_err();
        assert!(matches!(err, TenancyError::InvitationLapsed(_)), "{err}");
        let err = svc
            .accept_invitation(&minted.token, "New")
            .await
            .unwrap_err();
        assert!(matches!(err, TenancyError::InvitationLapsed(_)), "{err}");
    }

    #[tokio::test]
    async fn the_first_matching_rule_provisions_the_user_with_its_role() {
        let mut repo = MockTenancyRepository::new();
        repo.expect_user_by_identity().returning(|_, _| Ok(None));
        repo.expect_user_by_email().returning(|_| Ok(None));
        repo.expect_pending_invitation_for()
            .returning(|_, _| Ok(None));
        repo.expect_provision_user()
            .withf(|u, g, iss, sub| {
                u.email == "new@example.test"
                    && g.role_id == RoleId::from_uuid(Uuid::from_u128(5))
                    && g.scope == Scope::Tenant(TenantId::from_uuid(Uuid::from_u128(1)))
                    && iss == "https://idp.example"
                    && sub == "sub-1"
            })
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        service(repo, clock())
            .sign_in(
                &identity("new@example.test", Some(true), &["dev", "netops"]),
                &[rule("sales"), rule("netops")],
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn nobody_matching_is_not_provisioned() {
        let mut repo = MockTenancyRepository::new();
        repo.expect_user_by_identity().returning(|_, _| Ok(None));
        repo.expect_user_by_email().returning(|_| Ok(None));
        repo.expect_pending_invitation_for()
            .returning(|_, _| Ok(None));
        repo.expect_provision_user().never();
        let err = service(repo, clock())
            .sign_in(
                &identity("stranger@example.test", Some(true), &["dev"]),
                &[rule("netops")],
            )
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("stranger@example.test has no account here"),
            "{err}"
        );
    }
}
