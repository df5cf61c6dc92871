//! Managing roles, bindings and device scopes, with the rules that keep
//! delegation safe ([`crate::delegation`]): nobody hands out a permission
//! they do not hold where, in which environments and on which devices they
//! hand it out.

use crate::delegation::{self, DelegationError};
use crate::index::AuthzIndex;
use crate::model::{DeviceScope, DeviceScopeTarget, RoleBinding};
use crate::permission::PermissionSet;
use crate::ports::RbacRepository;
use crate::role::{BuiltinRole, Role};
use kernel::{
    BindingId, Clock, DeviceScopeId, Entropy, Environment, RoleId, StoreError, TenantId, UserId,
};
use std::sync::Arc;
use tenancy::Scope;
use tenancy::validate::{self, FieldError};

/// Why an RBAC operation did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RbacError {
    /// An input field broke a rule.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A delegation rule refused the change.
    #[error(transparent)]
    Delegation(#[from] DelegationError),
    /// The change clashes with what is stored.
    #[error("{0}")]
    Conflict(String),
    /// Storage failed; nothing was changed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for RbacError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => RbacError::Conflict(m),
            other => RbacError::Store(other),
        }
    }
}

type Result<T> = std::result::Result<T, RbacError>;

/// The RBAC management use cases.
#[derive(Clone)]
pub struct RbacService {
    repo: Arc<dyn RbacRepository>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
}

impl std::fmt::Debug for RbacService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RbacService").finish_non_exhaustive()
    }
}

impl RbacService {
    /// A service over the given ports.
    pub fn new(
        repo: Arc<dyn RbacRepository>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
    ) -> Self {
        Self {
            repo,
            clock,
            entropy,
        }
    }

    /// The repository, for plain lookups.
    pub fn repo(&self) -> &dyn RbacRepository {
        self.repo.as_ref()
    }

    /// A role usable in `tenant`: built-in, or one of the tenant's own.
    pub async fn role_in(&self, tenant: TenantId, id: RoleId) -> Result<Role> {
        if let Some(b) = BuiltinRole::from_id(id) {
            return Ok(b.role());
        }
        match self.repo.role(id).await? {
            Some(r) if r.tenant_id == Some(tenant) => Ok(r),
            _ => Err(RbacError::NotFound("role")),
        }
    }

    /// Built-in roles followed by the tenant's custom roles.
    pub async fn roles(&self, tenant: TenantId) -> Result<Vec<Role>> {
        let mut all: Vec<Role> = BuiltinRole::ALL
            .into_iter()
            .map(BuiltinRole::role)
            .collect();
        all.extend(self.repo.roles(tenant).await?);
        Ok(all)
    }

    /// Creates a custom role, with permissions `editor` holds tenant-wide.
    /// Its name may not shadow a built-in role.
    pub async fn create_role(
        &self,
        index: &AuthzIndex,
        editor: UserId,
        name: &str,
        perms: PermissionSet,
    ) -> Result<Role> {
        let tenant = index.tenant_id();
        let name = role_name(name)?;
        delegation::role_creation(index, editor, perms)?;
        let now = self.clock.now();
        let role = Role {
            id: RoleId::from_uuid(self.entropy.uuid_v7(now)),
            tenant_id: Some(tenant),
            name,
            permissions: perms,
            builtin: false,
            created_at: now,
        };
        self.repo.insert_role(&role).await.map_err(|e| match e {
            StoreError::Conflict(_) => {
                RbacError::Conflict("a role with this name already exists".into())
            }
            other => other.into(),
        })?;
        Ok(role)
    }

    /// Renames a custom role and/or replaces its permissions, as
    /// [`delegation::role_change`] allows `editor`.
    pub async fn update_role(
        &self,
        index: &AuthzIndex,
        editor: UserId,
        id: RoleId,
        name: Option<&str>,
        perms: Option<PermissionSet>,
    ) -> Result<Role> {
        let mut role = self.custom_role(index.tenant_id(), id).await?;
        if let Some(n) = name {
            role.name = role_name(n)?;
        }
        if let Some(p) = perms {
            delegation::role_change(index, editor, id, role.permissions, p)?;
            role.permissions = p;
        }
        self.repo.update_role(&role).await?;
        Ok(role)
    }

    /// Deletes an unused custom role.
    pub async fn delete_role(&self, tenant: TenantId, id: RoleId) -> Result<()> {
        self.custom_role(tenant, id).await?;
        self.repo.delete_role(id).await.map_err(|e| match e {
            StoreError::Conflict(_) => RbacError::Conflict(
                "the role is still bound to users or named by open invitations: remove those first"
                    .into(),
            ),
            other => other.into(),
        })
    }

    async fn custom_role(&self, tenant: TenantId, id: RoleId) -> Result<Role> {
        if BuiltinRole::from_id(id).is_some() {
            return Err(RbacError::Conflict(
                "built-in roles cannot be changed".into(),
            ));
        }
        self.role_in(tenant, id).await
    }

    /// Binds `user` to `role` at `scope`, after checking that `granter` may
    /// delegate the role's permissions there.
    #[allow(clippy::too_many_arguments)]
    pub async fn bind(
        &self,
        index: &AuthzIndex,
        granter: UserId,
        user: UserId,
        role: RoleId,
        scope: Scope,
        environments: Option<Vec<Environment>>,
    ) -> Result<RoleBinding> {
        let tenant = index.tenant_id();
        if !index.contains(user.uuid()) {
            return Err(FieldError::new("user_id", "must name a user of this tenant").into());
        }
        let role = self.role_in(tenant, role).await.map_err(|_| {
            RbacError::Invalid(FieldError::new(
                "role_id",
                "must name a built-in role or a role of this tenant",
            ))
        })?;
        let environments = normalise_environments(environments)?;
        delegation::binding(
            index,
            granter,
            user,
            role.permissions,
            scope,
            environments.as_deref(),
        )?;
        let now = self.clock.now();
        let binding = RoleBinding {
            id: BindingId::from_uuid(self.entropy.uuid_v7(now)),
            tenant_id: tenant,
            user_id: user,
            role_id: role.id,
            scope,
            environments,
            created_at: now,
        };
        self.repo
            .insert_binding(&binding)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    RbacError::Conflict("the user already has this role at this scope".into())
                }
                other => other.into(),
            })?;
        Ok(binding)
    }

    /// Deletes a role binding, unless it is the last unrestricted
    /// administrator's.
    pub async fn unbind(&self, index: &AuthzIndex, binding: BindingId) -> Result<()> {
        delegation::unbinding(index, binding)?;
        Ok(self.repo.delete_binding(binding).await?)
    }

    /// Grants `user` a device scope entry, as
    /// [`delegation::device_scope_grant`] allows `granted_by`.
    pub async fn grant_device_scope(
        &self,
        index: &AuthzIndex,
        granted_by: UserId,
        user: UserId,
        target: DeviceScopeTarget,
    ) -> Result<DeviceScope> {
        let tenant = index.tenant_id();
        delegation::device_scope_grant(index, granted_by, user, target)?;
        let now = self.clock.now();
        let scope = DeviceScope {
            id: DeviceScopeId::from_uuid(self.entropy.uuid_v7(now)),
            tenant_id: tenant,
            user_id: user,
            target,
            granted_by,
            created_at: now,
        };
        self.repo
            .insert_device_scope(&scope)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    RbacError::Conflict("the user already has this grant".into())
                }
                other => other.into(),
            })?;
        Ok(scope)
    }

    /// Revokes a device scope entry of `scope.user_id`, as
    /// [`delegation::device_scope_revoke`] allows `revoker`.
    pub async fn revoke_device_scope(
        &self,
        index: &AuthzIndex,
        revoker: UserId,
        scope: &DeviceScope,
    ) -> Result<()> {
        delegation::device_scope_revoke(index, revoker, scope.user_id)?;
        Ok(self.repo.delete_device_scope(scope.id).await?)
    }
}

fn role_name(name: &str) -> Result<String> {
    let name = validate::name("name", name)?;
    if BuiltinRole::from_name(&name).is_some() {
        return Err(FieldError::new("name", "must not be the name of a built-in role").into());
    }
    Ok(name)
}

/// Sorts and de-duplicates an environment list; an empty list is refused
/// (it would grant nothing: leave the field out for "all environments").
pub fn normalise_environments(envs: Option<Vec<Environment>>) -> Result<Option<Vec<Environment>>> {
    match envs {
        None => Ok(None),
        Some(mut e) => {
            e.sort();
            e.dedup();
            if e.is_empty() {
                return Err(FieldError::new(
                    "environments",
                    "must name at least one environment, or be left out for all",
                )
                .into());
            }
            Ok(Some(e))
        }
    }
}
