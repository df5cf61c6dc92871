//! Delegation: what one user may hand to another.
//!
//! Every way of giving someone power (a custom role, a change to one, a
//! role binding, an invitation, a device scope grant, a device added to a
//! group someone is narrowed through) is checked here, over
//! the tenant's compiled [`AuthzIndex`], so that nobody hands out what they
//! do not hold: the permissions, at the place, in the environments, on the
//! devices. Deleting a device or device group, which deletes the device
//! scope grants naming it, is checked as revoking them and never lifts a
//! device scope. The same functions guard the ways of taking power away
//! from the last unrestricted administrator of a tenant. REST handlers and the
//! acceptance of invitations call them; the "no escalation" property test
//! drives them with random changes.

use crate::index::{AuthzIndex, CompiledBinding, ROOT};
use crate::model::DeviceScopeTarget;
use crate::permission::{Permission, PermissionSet};
use kernel::{
    BindingId, DeviceGroupId, DeviceId, Environment, EnvironmentSet, Principal, RoleId, UserId,
};
use tenancy::Scope;

/// Why a delegation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DelegationError {
    /// The granter does not hold these permissions where it grants them.
    #[error("you cannot grant permissions you do not hold at that scope: {}", names(.0))]
    MissingPermissions(Vec<Permission>),
    /// The granter holds them there, but not in every environment granted.
    #[error(
        "you hold {} there only in other environments, not in {}: limit the grant to environments you hold",
        names(.permissions),
        env_names(*.environments)
    )]
    Environments {
        /// The permissions held in too few environments.
        permissions: Vec<Permission>,
        /// The environments (3-bit mask) the granter lacks for them.
        environments: u8,
    },
    /// A narrowed granter handed tool permissions to someone its device scope does not contain.
    #[error(
        "your tool use is narrowed to some devices: you can hand out tool permissions only to users already narrowed within your device scope; ask someone without a device scope"
    )]
    DeviceScope,
    /// A device scope grant names devices outside the granter's own device scope.
    #[error(
        "the device or device group is outside your device scope: you can only grant devices your own tool use reaches"
    )]
    DevicesOutsideScope,
    /// Device scopes are never changed by their holder.
    #[error("nobody changes their own device scope: ask another administrator")]
    OwnDeviceScope,
    /// Revoking a grant may widen a user to every device: only an unnarrowed user may.
    #[error(
        "your tool use is narrowed to some devices: only someone without a device scope can revoke device scope grants"
    )]
    NarrowedRevoker,
    /// Deleting a device or device group would delete the last device scope
    /// entry of some users, and so lift their device scope.
    #[error(
        "{users} user(s) are limited to this {what} only: deleting it would lift their device scope and widen their tool use to every device; change their device scopes first"
    )]
    DeviceScopeWouldLapse {
        /// How many users it is the only device scope entry of.
        users: usize,
        /// `device` or `device group`.
        what: &'static str,
    },
    /// Identity links are never changed by the account's holder.
    #[error("nobody changes their own account's identity links; ask another administrator")]
    OwnIdentityLink,
    /// An administrator's identity links are a way to sign in as an
    /// administrator: only a platform administrator changes them.
    #[error(
        "only a platform administrator changes the identity links of an administrator (admin:* anywhere, or a platform administrator)"
    )]
    AdministratorLink,
    /// The change would leave the tenant without an unrestricted administrator.
    #[error(
        "this would leave the tenant without an unrestricted administrator (admin:* at the tenant, in every environment, without a device scope): make someone else one first"
    )]
    LastAdmin,
}

impl DelegationError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            DelegationError::MissingPermissions(_) => "privilege_escalation",
            DelegationError::Environments { .. } => "environment_escalation",
            DelegationError::DeviceScope
            | DelegationError::DevicesOutsideScope
            | DelegationError::NarrowedRevoker => "device_scope_escalation",
            DelegationError::OwnDeviceScope => "own_device_scope",
            DelegationError::DeviceScopeWouldLapse { .. } => "device_scope_would_lapse",
            DelegationError::LastAdmin => "last_admin",
            DelegationError::OwnIdentityLink => "own_identity_link",
            DelegationError::AdministratorLink => "platform_admin_link",
        }
    }

    /// Whether the refusal is a clash with the tenant's state (409) rather
    /// than a lack of power (403).
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            DelegationError::LastAdmin | DelegationError::DeviceScopeWouldLapse { .. }
        )
    }
}

fn names(perms: &[Permission]) -> String {
    perms
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn env_names(mask: u8) -> String {
    environments(mask)
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn environments(mask: u8) -> Vec<Environment> {
    Environment::ALL
        .into_iter()
        .filter(|e| EnvironmentSet::of(&[*e]).bits() & mask != 0)
        .collect()
}

type Result<T> = std::result::Result<T, DelegationError>;

fn env_bits(envs: Option<&[Environment]>) -> u8 {
    envs.map_or(EnvironmentSet::ALL, EnvironmentSet::of).bits()
}

/// Whether `granter` holds `perms` at `node` in every environment of `envs`.
fn holds(
    index: &AuthzIndex,
    granter: UserId,
    perms: PermissionSet,
    node: u32,
    envs: u8,
) -> Result<()> {
    match index.missing_at(granter, perms, node, envs) {
        None => Ok(()),
        Some(s) if !s.permissions.is_empty() => {
            Err(DelegationError::MissingPermissions(s.permissions))
        }
        Some(s) => Err(DelegationError::Environments {
            permissions: s.limited,
            environments: s.environments,
        }),
    }
}

/// Whether `perms` run tools on devices, and so are narrowed by device scopes.
fn reaches_tools(perms: PermissionSet) -> bool {
    Permission::ALL
        .iter()
        .any(|p| p.is_tool() && perms.grants(*p))
}

/// A granter narrowed to some devices hands tool permissions only to a user
/// already narrowed within its own device scope; a newcomer (`None`) is
/// never narrowed, so it gets none from such a granter.
fn within_device_scope(
    index: &AuthzIndex,
    granter: UserId,
    perms: PermissionSet,
    grantee: Option<UserId>,
) -> Result<()> {
    if !reaches_tools(perms) {
        return Ok(());
    }
    let Some(mine) = index.device_scope_of(granter) else {
        return Ok(());
    };
    match grantee.and_then(|u| index.device_scope_of(u)) {
        Some(theirs) if theirs.is_subset(mine) => Ok(()),
        _ => Err(DelegationError::DeviceScope),
    }
}

/// Creating a custom role: the editor holds every permission it puts in,
/// tenant-wide. (The role grants nothing until it is bound; binding it is
/// checked with its scope and environments.)
pub fn role_creation(index: &AuthzIndex, editor: UserId, perms: PermissionSet) -> Result<()> {
    holds(index, editor, perms, ROOT, 0)
}

/// Changing a custom role's permissions from `old` to `new`: the editor
/// holds every added permission tenant-wide and, for every binding of the
/// role, at the binding's scope in its environments and within its device
/// scope. Taking `admin:*` away may not leave the tenant without an
/// unrestricted administrator.
pub fn role_change(
    index: &AuthzIndex,
    editor: UserId,
    role: RoleId,
    old: PermissionSet,
    new: PermissionSet,
) -> Result<()> {
    let added = PermissionSet(new.0 & !old.0);
    if added != PermissionSet::EMPTY {
        holds(index, editor, added, ROOT, 0)?;
        for (user, b) in index.all_bindings().filter(|(_, b)| b.role_id == role) {
            holds(index, editor, added, b.node, b.envs)?;
            within_device_scope(index, editor, added, Some(user))?;
        }
    }
    if !new.grants(Permission::AdminAll) {
        keeps_an_admin(index, |_, b| b.role_id == role, None)?;
    }
    Ok(())
}

/// Binding `grantee` to a role with `perms` at `scope`, optionally only in
/// `environments`: the granter holds the permissions there, in those
/// environments (no limit means all three), and, if it is narrowed, hands
/// out tool permissions only within its device scope.
pub fn binding(
    index: &AuthzIndex,
    granter: UserId,
    grantee: UserId,
    perms: PermissionSet,
    scope: Scope,
    environments: Option<&[Environment]>,
) -> Result<()> {
    grant(index, granter, Some(grantee), perms, scope, environments)
}

/// Inviting someone to a role at a scope: as [`binding`], for a user who
/// does not exist yet and so has no device scope. Checked when the
/// invitation is made and again when it is accepted.
pub fn invitation(
    index: &AuthzIndex,
    inviter: UserId,
    perms: PermissionSet,
    scope: Scope,
    environments: Option<&[Environment]>,
) -> Result<()> {
    grant(index, inviter, None, perms, scope, environments)
}

fn grant(
    index: &AuthzIndex,
    granter: UserId,
    grantee: Option<UserId>,
    perms: PermissionSet,
    scope: Scope,
    environments: Option<&[Environment]>,
) -> Result<()> {
    let Some(node) = index.scope_node(scope) else {
        return Err(DelegationError::MissingPermissions(perms.to_vec()));
    };
    holds(index, granter, perms, node, env_bits(environments))?;
    within_device_scope(index, granter, perms, grantee)
}

/// Granting `user` a device scope entry. Nobody changes their own; a
/// narrowed granter grants only devices inside its own device scope; the
/// last unrestricted administrator is never narrowed. (That the granter
/// outranks `user` is the gate's `user:update` decision.)
pub fn device_scope_grant(
    index: &AuthzIndex,
    granter: UserId,
    user: UserId,
    target: DeviceScopeTarget,
) -> Result<()> {
    if granter == user {
        return Err(DelegationError::OwnDeviceScope);
    }
    let nodes = index
        .target_nodes(target)
        .ok_or(DelegationError::DevicesOutsideScope)?;
    if let Some(mine) = index.device_scope_of(granter)
        && !nodes.iter().all(|n| mine.contains(n))
    {
        return Err(DelegationError::DevicesOutsideScope);
    }
    keeps_an_admin(index, |_, _| false, Some(user))
}

/// Revoking one of `user`'s device scope entries. Revoking the last one
/// widens the user to every device its bindings reach, so only an
/// unnarrowed revoker may revoke, and nobody revokes their own.
pub fn device_scope_revoke(index: &AuthzIndex, revoker: UserId, user: UserId) -> Result<()> {
    if revoker == user {
        return Err(DelegationError::OwnDeviceScope);
    }
    if index.device_scope_of(revoker).is_some() {
        return Err(DelegationError::NarrowedRevoker);
    }
    Ok(())
}

/// Linking an identity to `user`, or removing one of its links: a link is
/// a way to sign in as `user`, so nobody changes their own, and only a
/// platform administrator changes those of an administrator (`admin:*`
/// anywhere in `index`, `user`'s tenant, or a platform administrator).
pub fn identity_link_change(
    index: &AuthzIndex,
    changer: &Principal,
    user: UserId,
    user_is_platform_admin: bool,
) -> Result<()> {
    if changer.user_id == user {
        return Err(DelegationError::OwnIdentityLink);
    }
    let administrator = user_is_platform_admin || index.holds_anywhere(user, Permission::AdminAll);
    if administrator && !changer.platform_admin {
        return Err(DelegationError::AdministratorLink);
    }
    Ok(())
}

/// Replacing `group`'s members with `members`. A device it adds joins the
/// device scope of every user narrowed through the group
/// ([`AuthzIndex::widened_by`]), so the change is checked as a device scope
/// grant of the added devices to each of them: the gate's `user:update`
/// decision on each, then here, nobody widens their own device scope and a
/// narrowed changer adds only devices inside its own. Taking devices out
/// only narrows, and a group nobody is narrowed through changes no decision.
pub fn device_group_change(
    index: &AuthzIndex,
    changer: UserId,
    group: DeviceGroupId,
    members: &[DeviceId],
) -> Result<()> {
    let widened = index.widened_by(group, members);
    if widened.is_empty() {
        return Ok(());
    }
    if widened.contains(&changer) {
        return Err(DelegationError::OwnDeviceScope);
    }
    if let Some(mine) = index.device_scope_of(changer)
        && !index
            .added_to_group(group, members)
            .iter()
            .all(|n| mine.contains(n))
    {
        return Err(DelegationError::DevicesOutsideScope);
    }
    Ok(())
}

/// Deleting a device or a device group (`target`) deletes the device scope
/// entries that name it. It never lifts a device scope: if it is the only
/// entry of some user, the deletion is refused (whoever asks) until their
/// device scopes are changed. Where it is named next to other entries,
/// deleting it revokes those entries, so it needs what
/// [`device_scope_revoke`] needs for each of their users: the gate's
/// `user:update` decision on them ([`AuthzIndex::narrowed_by`]), then here,
/// none of them the deleter and the deleter not narrowed.
pub fn device_scope_target_deletion(
    index: &AuthzIndex,
    deleter: UserId,
    target: DeviceScopeTarget,
) -> Result<()> {
    let named = index.narrowed_by(target);
    let lapsing = named
        .iter()
        .filter(|u| index.only_entry(**u, target))
        .count();
    if lapsing > 0 {
        return Err(DelegationError::DeviceScopeWouldLapse {
            users: lapsing,
            what: match target {
                DeviceScopeTarget::Device(_) => "device",
                DeviceScopeTarget::DeviceGroup(_) => "device group",
            },
        });
    }
    for user in named {
        device_scope_revoke(index, deleter, user)?;
    }
    Ok(())
}

/// Deleting a role binding may not take away the last unrestricted administrator.
pub fn unbinding(index: &AuthzIndex, binding: BindingId) -> Result<()> {
    keeps_an_admin(index, |_, b| b.binding_id == binding, None)
}

/// Removing a user may not take away the last unrestricted administrator.
pub fn user_removal(index: &AuthzIndex, user: UserId) -> Result<()> {
    keeps_an_admin(index, |u, _| u == user, None)
}

/// An unrestricted administrator's binding: `admin:*` at the tenant, in
/// every environment.
fn unrestricted(b: &CompiledBinding) -> bool {
    b.node == ROOT && b.perms.grants(Permission::AdminAll) && b.envs == EnvironmentSet::ALL.bits()
}

/// The unrestricted administrators of the tenant (unnarrowed users with an
/// unrestricted binding), when the bindings `lost` are gone and `narrowed`
/// has a device scope.
fn admins(
    index: &AuthzIndex,
    lost: &impl Fn(UserId, &CompiledBinding) -> bool,
    narrowed: Option<UserId>,
) -> usize {
    let mut users: Vec<UserId> = index
        .all_bindings()
        .filter(|(u, b)| {
            unrestricted(b)
                && !lost(*u, b)
                && Some(*u) != narrowed
                && index.device_scope_of(*u).is_none()
        })
        .map(|(u, _)| u)
        .collect();
    users.sort_unstable();
    users.dedup();
    users.len()
}

/// Refuses a change that takes the tenant from some unrestricted
/// administrators to none.
fn keeps_an_admin(
    index: &AuthzIndex,
    lost: impl Fn(UserId, &CompiledBinding) -> bool,
    narrowed: Option<UserId>,
) -> Result<()> {
    if admins(index, &|_, _| false, None) > 0 && admins(index, &lost, narrowed) == 0 {
        return Err(DelegationError::LastAdmin);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::TenantSnapshot;
    use crate::role::BuiltinRole;
    use kernel::{AuthMethod, TenantId};
    use uuid::Uuid;

    fn person(n: u128, platform_admin: bool) -> Principal {
        Principal {
            user_id: UserId::from_uuid(Uuid::from_u128(n)),
            tenant_id: TenantId::from_uuid(Uuid::from_u128(1)),
            email: format!("u{n}@example.test"),
            platform_admin,
            auth: AuthMethod::Session,
            credential_expires_at: None,
        }
    }

    #[test]
    fn identity_links_are_changed_by_someone_else_and_an_administrators_only_by_a_platform_administrator()
     {
        let (org_admin, member, admin) = (person(2, false), person(3, false), person(4, false));
        let tenant = org_admin.tenant_id;
        let index = AuthzIndex::compile(
            tenant,
            &TenantSnapshot {
                tenant_id: Some(tenant),
                users: vec![org_admin.user_id, member.user_id, admin.user_id],
                bindings: [(50, org_admin.user_id), (51, admin.user_id)]
                    .map(|(id, user)| crate::RoleBinding {
                        id: Uuid::from_u128(id).into(),
                        tenant_id: tenant,
                        user_id: user,
                        role_id: BuiltinRole::OrgAdmin.id(),
                        scope: Scope::Tenant(tenant),
                        environments: None,
                        created_at: time::OffsetDateTime::UNIX_EPOCH,
                    })
                    .to_vec(),
                ..TenantSnapshot::default()
            },
        );
        let change = |who: &Principal, user: &Principal, platform| {
            identity_link_change(&index, who, user.user_id, platform)
        };
        assert!(change(&org_admin, &member, false).is_ok());
        assert_eq!(
            change(&member, &member, false),
            Err(DelegationError::OwnIdentityLink)
        );
        assert_eq!(
            change(&org_admin, &admin, false),
            Err(DelegationError::AdministratorLink),
            "admin:* at the tenant makes an administrator"
        );
        assert_eq!(
            change(&org_admin, &member, true),
            Err(DelegationError::AdministratorLink),
            "a platform administrator is one"
        );
        assert!(change(&person(9, true), &admin, false).is_ok());
    }
}
