//! The compiled decision index of one tenant.
//!
//! A [`TenantSnapshot`] (plain rows) is compiled into dense integer tables:
//! every hierarchy node, site and device gets a `u32`, parents are a vector,
//! permissions are 64-bit masks and environments 3-bit masks. A decision is
//! then one hash lookup for the resource, one for the user, and a walk of
//! at most five parent links per binding the user holds. The index is
//! immutable; a change rebuilds it (see [`crate::Authorizer`]).

use crate::decision::{Decision, DenyReason, Grant};
use crate::model::{DeviceScopeTarget, RoleBinding};
use crate::permission::{Permission, PermissionSet};
use crate::role::BuiltinRole;
use kernel::{
    DeviceGroupId, DeviceId, Environment, EnvironmentSet, RoleId, SiteId, TeamId, TenantId, UserId,
};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::HashMap;
use tenancy::{Scope, UnitKind};
use uuid::Uuid;

mod reach;

/// What a decision is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// The installation itself: creating and listing tenants.
    Platform,
    /// A tenant as a whole.
    Tenant(TenantId),
    /// A division, group or team.
    Unit(Uuid),
    /// A site.
    Site(SiteId),
    /// A device.
    Device(DeviceId),
    /// A user.
    User(UserId),
    /// A device group (reached from tenant-wide bindings only).
    DeviceGroup(DeviceGroupId),
}

impl Resource {
    /// The resource a binding scope stands for.
    pub fn from_scope(scope: Scope) -> Resource {
        match scope {
            Scope::Tenant(t) => Resource::Tenant(t),
            other => Resource::Unit(other.uuid()),
        }
    }

    /// The kind as a word, for audit records.
    pub fn kind(&self) -> &'static str {
        match self {
            Resource::Platform => "platform",
            Resource::Tenant(_) => "tenant",
            Resource::Unit(_) => "unit",
            Resource::Site(_) => "site",
            Resource::Device(_) => "device",
            Resource::User(_) => "user",
            Resource::DeviceGroup(_) => "device_group",
        }
    }

    /// The id, if the resource has one.
    pub fn id(&self) -> Option<Uuid> {
        match self {
            Resource::Platform => None,
            Resource::Tenant(id) => Some(id.uuid()),
            Resource::Unit(id) => Some(*id),
            Resource::Site(id) => Some(id.uuid()),
            Resource::Device(id) => Some(id.uuid()),
            Resource::User(id) => Some(id.uuid()),
            Resource::DeviceGroup(id) => Some(id.uuid()),
        }
    }
}

/// A division, group or team row of a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitRow {
    pub id: Uuid,
    pub kind: UnitKind,
    pub parent_id: Uuid,
}

/// Everything about one tenant that decisions depend on, as plain rows.
#[derive(Debug, Clone, Default)]
pub struct TenantSnapshot {
    pub tenant_id: Option<TenantId>,
    /// Bumped by every change that can alter a decision.
    pub generation: u64,
    pub units: Vec<UnitRow>,
    pub sites: Vec<(SiteId, TeamId)>,
    pub devices: Vec<(DeviceId, SiteId, Environment)>,
    pub users: Vec<UserId>,
    /// The tenant's custom roles; built-in roles need no rows.
    pub custom_roles: Vec<(RoleId, PermissionSet)>,
    pub bindings: Vec<RoleBinding>,
    pub device_groups: Vec<(DeviceGroupId, Vec<DeviceId>)>,
    pub device_scopes: Vec<(UserId, DeviceScopeTarget)>,
}

pub(crate) const ROOT: u32 = 0;

#[derive(Debug, Clone, Copy)]
pub(crate) struct CompiledBinding {
    pub(crate) node: u32,
    pub(crate) perms: PermissionSet,
    pub(crate) envs: u8,
    pub(crate) binding_id: kernel::BindingId,
    pub(crate) role_id: RoleId,
}

#[derive(Debug, Default)]
struct UserEntry {
    bindings: Vec<CompiledBinding>,
    /// Union of every binding's permissions, to tell "out of reach" from "missing".
    any: PermissionSet,
    /// Device nodes the user is narrowed to; `None` when not narrowed.
    device_scope: Option<FxHashSet<u32>>,
    /// The user's device scope entries, as granted (a device or a group).
    scope_entries: Vec<DeviceScopeTarget>,
}

/// What a user lacks to hand some permissions on somewhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Shortfall {
    /// Permissions it holds nowhere that covers the place.
    pub(crate) permissions: Vec<Permission>,
    /// Permissions it holds there, but not in every environment asked for.
    pub(crate) limited: Vec<Permission>,
    /// The environments (3-bit mask) it lacks for those.
    pub(crate) environments: u8,
}

/// One tenant's bindings compiled for fast decisions.
#[derive(Debug)]
pub struct AuthzIndex {
    tenant_id: TenantId,
    generation: u64,
    node_of: FxHashMap<Uuid, u32>,
    parent: Vec<u32>,
    /// Environment bit of device nodes; 0 for every other node.
    env: Vec<u8>,
    users: FxHashMap<UserId, UserEntry>,
    /// The permissions of the tenant's custom roles.
    roles: FxHashMap<RoleId, PermissionSet>,
    /// The device nodes of each device group, as they are now.
    groups: FxHashMap<DeviceGroupId, Vec<u32>>,
    /// The users whose device scope names each device group.
    narrowed_through: FxHashMap<DeviceGroupId, Vec<UserId>>,
}

impl AuthzIndex {
    /// Compiles a snapshot. Rows that point at unknown parents (which the
    /// store's foreign keys rule out) are attached to nothing and so reached
    /// only by tenant-wide bindings.
    pub fn compile(tenant_id: TenantId, snap: &TenantSnapshot) -> AuthzIndex {
        let n = 1 + snap.units.len() + snap.sites.len() + snap.devices.len();
        let mut node_of =
            FxHashMap::with_capacity_and_hasher(n + snap.device_groups.len(), Default::default());
        node_of.insert(tenant_id.uuid(), ROOT);
        let mut next = 1u32;
        let mut alloc = |id: Uuid, node_of: &mut FxHashMap<Uuid, u32>| {
            node_of.insert(id, next);
            next += 1;
        };
        for u in &snap.units {
            alloc(u.id, &mut node_of);
        }
        for (s, _) in &snap.sites {
            alloc(s.uuid(), &mut node_of);
        }
        for (d, _, _) in &snap.devices {
            alloc(d.uuid(), &mut node_of);
        }
        let mut parent = vec![ROOT; next as usize];
        let mut env = vec![0u8; next as usize];
        let lookup = |id: Uuid| node_of.get(&id).copied().unwrap_or(ROOT);
        for u in &snap.units {
            parent[lookup(u.id) as usize] = lookup(u.parent_id);
        }
        for (s, team) in &snap.sites {
            parent[lookup(s.uuid()) as usize] = lookup(team.uuid());
        }
        for (d, site, e) in &snap.devices {
            let node = lookup(d.uuid()) as usize;
            parent[node] = lookup(site.uuid());
            env[node] = EnvironmentSet::of(&[*e]).bits();
        }
        // Device groups are tenant-level resources.
        for (g, _) in &snap.device_groups {
            node_of.insert(g.uuid(), ROOT);
        }

        let custom: HashMap<RoleId, PermissionSet> = snap.custom_roles.iter().copied().collect();
        let mut users: FxHashMap<UserId, UserEntry> = snap
            .users
            .iter()
            .map(|u| (*u, UserEntry::default()))
            .collect();
        for b in &snap.bindings {
            let perms = BuiltinRole::from_id(b.role_id)
                .map(BuiltinRole::permissions)
                .or_else(|| custom.get(&b.role_id).copied())
                .unwrap_or_default();
            let Some(&node) = node_of.get(&b.scope.uuid()) else {
                continue;
            };
            let envs = b
                .environments
                .as_ref()
                .map_or(EnvironmentSet::ALL, |e| EnvironmentSet::of(e))
                .bits();
            let entry = users.entry(b.user_id).or_default();
            entry.any = entry.any.union(perms);
            entry.bindings.push(CompiledBinding {
                node,
                perms,
                envs,
                binding_id: b.id,
                role_id: b.role_id,
            });
        }
        let groups: HashMap<DeviceGroupId, &Vec<DeviceId>> =
            snap.device_groups.iter().map(|(g, d)| (*g, d)).collect();
        let mut narrowed_through: FxHashMap<DeviceGroupId, Vec<UserId>> = FxHashMap::default();
        for (user, target) in &snap.device_scopes {
            let Some(entry) = users.get_mut(user) else {
                continue;
            };
            if let DeviceScopeTarget::DeviceGroup(g) = target {
                let holders = narrowed_through.entry(*g).or_default();
                if !holders.contains(user) {
                    holders.push(*user);
                }
            }
            entry.scope_entries.push(*target);
            let scope = entry.device_scope.get_or_insert_with(FxHashSet::default);
            let devices: &[DeviceId] = match target {
                DeviceScopeTarget::Device(d) => std::slice::from_ref(d),
                DeviceScopeTarget::DeviceGroup(g) => groups.get(g).map_or(&[], |v| v.as_slice()),
            };
            scope.extend(
                devices
                    .iter()
                    .filter_map(|d| node_of.get(&d.uuid()).copied()),
            );
        }
        let groups = snap
            .device_groups
            .iter()
            .map(|(g, ds)| {
                let nodes = ds
                    .iter()
                    .filter_map(|d| node_of.get(&d.uuid()).copied())
                    .collect();
                (*g, nodes)
            })
            .collect();
        AuthzIndex {
            tenant_id,
            generation: snap.generation,
            node_of,
            parent,
            env,
            users,
            roles: custom.into_iter().collect(),
            groups,
            narrowed_through,
        }
    }

    /// The tenant this index is for.
    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    /// The generation of the snapshot it was compiled from.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether the entity with `id` belongs to this tenant.
    pub fn contains(&self, id: Uuid) -> bool {
        self.node_of.contains_key(&id) || self.users.contains_key(&UserId::from_uuid(id))
    }

    #[inline]
    fn covers(&self, ancestor: u32, mut node: u32) -> bool {
        loop {
            if node == ancestor {
                return true;
            }
            if node == ROOT {
                return false;
            }
            node = self.parent[node as usize];
        }
    }

    /// Decides whether `user` may use `perm` on `resource`. `None` means the
    /// resource is not in this tenant: it is another tenant's or does not
    /// exist, which only the store can tell apart.
    pub fn decide(&self, user: UserId, perm: Permission, resource: Resource) -> Option<Decision> {
        let target = match resource {
            Resource::Platform => {
                return Some(Decision::Deny(DenyReason::MissingPermission {
                    permission: perm,
                }));
            }
            Resource::User(target) => return self.decide_user(user, perm, target),
            Resource::Tenant(t) if t == self.tenant_id => ROOT,
            other => *self.node_of.get(&other.id()?)?,
        };
        let Some(entry) = self.users.get(&user) else {
            return Some(Decision::Deny(DenyReason::MissingPermission {
                permission: perm,
            }));
        };
        Some(self.decide_node(entry, perm, target, self.env[target as usize]))
    }

    /// Decides like [`AuthzIndex::decide`] for `device` as if it were in
    /// `environment`: moving a device to another environment needs the
    /// permission in the new environment as well as in the old one.
    pub fn decide_device_in(
        &self,
        user: UserId,
        perm: Permission,
        device: DeviceId,
        environment: Environment,
    ) -> Option<Decision> {
        self.decide_in(user, perm, Resource::Device(device), environment)
    }

    /// Decides like [`AuthzIndex::decide`] for a device, or for a site as
    /// the place of a new device, as if the device were in `environment`:
    /// creating, moving or re-homing a device needs the permission in the
    /// device's environment, so an environment-limited binding can never
    /// put a device where its holder could not act. `None` for any other
    /// resource, or one not in this tenant.
    pub fn decide_in(
        &self,
        user: UserId,
        perm: Permission,
        resource: Resource,
        environment: Environment,
    ) -> Option<Decision> {
        let target = match resource {
            Resource::Device(d) => {
                let node = *self.node_of.get(&d.uuid())?;
                if self.env.get(node as usize).copied().unwrap_or(0) == 0 {
                    return None;
                }
                node
            }
            Resource::Site(s) => *self.node_of.get(&s.uuid())?,
            _ => return None,
        };
        let Some(entry) = self.users.get(&user) else {
            return Some(Decision::Deny(DenyReason::MissingPermission {
                permission: perm,
            }));
        };
        let env_bit = EnvironmentSet::of(&[environment]).bits();
        Some(self.decide_node(entry, perm, target, env_bit))
    }

    #[inline]
    fn decide_node(
        &self,
        entry: &UserEntry,
        perm: Permission,
        target: u32,
        env_bit: u8,
    ) -> Decision {
        let mut env_denied = false;
        let mut scope_denied = false;
        for b in &entry.bindings {
            if !b.perms.grants(perm) || !self.covers(b.node, target) {
                continue;
            }
            if env_bit != 0 && b.envs & env_bit == 0 {
                env_denied = true;
                continue;
            }
            if env_bit != 0
                && perm.is_tool()
                && let Some(scope) = &entry.device_scope
                && !scope.contains(&target)
            {
                scope_denied = true;
                continue;
            }
            return Decision::Allow(Grant::Binding {
                binding_id: b.binding_id,
                role_id: b.role_id,
            });
        }
        Decision::Deny(if env_denied {
            DenyReason::Environment {
                environment: Self::environment_of_bits(env_bit),
            }
        } else if scope_denied {
            DenyReason::OutsideDeviceScope
        } else if entry.any.grants(perm) {
            DenyReason::OutOfReach
        } else {
            DenyReason::MissingPermission { permission: perm }
        })
    }

    fn environment_of(&self, node: u32) -> Environment {
        Self::environment_of_bits(self.env[node as usize])
    }

    fn environment_of_bits(bits: u8) -> Environment {
        Environment::ALL
            .into_iter()
            .find(|e| EnvironmentSet::of(&[*e]).bits() == bits)
            .unwrap_or(Environment::Prod)
    }

    /// A user is reached through the scopes of its own bindings. Reading
    /// needs a caller binding that covers one of them, so a team admin sees
    /// everyone who works in its team. Anything else needs the strict rule:
    /// the caller covers every binding of the target with `perm` and holds
    /// at least the target's permissions there, in the target's environments.
    /// A user without bindings is reached from tenant-wide bindings only.
    fn decide_user(&self, caller: UserId, perm: Permission, target: UserId) -> Option<Decision> {
        let target_entry = self.users.get(&target)?;
        if caller == target && perm == Permission::UserRead {
            return Some(Decision::Allow(Grant::Myself));
        }
        let Some(entry) = self.users.get(&caller) else {
            return Some(Decision::Deny(DenyReason::MissingPermission {
                permission: perm,
            }));
        };
        let root = [CompiledBinding {
            node: ROOT,
            perms: PermissionSet::EMPTY,
            envs: 0,
            binding_id: kernel::BindingId::from_uuid(Uuid::nil()),
            role_id: RoleId::from_uuid(Uuid::nil()),
        }];
        let locations: &[CompiledBinding] = if target_entry.bindings.is_empty() {
            &root
        } else {
            &target_entry.bindings
        };
        let reaching = |l: &CompiledBinding| {
            entry
                .bindings
                .iter()
                .find(|b| b.perms.grants(perm) && self.covers(b.node, l.node))
        };
        let grant = |b: &CompiledBinding| {
            Some(Decision::Allow(Grant::Binding {
                binding_id: b.binding_id,
                role_id: b.role_id,
            }))
        };
        if perm == Permission::UserRead {
            if let Some(b) = locations.iter().find_map(reaching) {
                return grant(b);
            }
        } else {
            let first = locations.iter().find_map(reaching);
            let all = locations.iter().all(|l| {
                reaching(l).is_some() && self.missing_at(caller, l.perms, l.node, l.envs).is_none()
            });
            match first {
                Some(b) if all => return grant(b),
                Some(_) => return Some(Decision::Deny(DenyReason::Outranked)),
                None => {}
            }
        }
        Some(Decision::Deny(if entry.any.grants(perm) {
            DenyReason::OutOfReach
        } else {
            DenyReason::MissingPermission { permission: perm }
        }))
    }

    /// What `user` lacks to hand `perms` on at `node` in the environments
    /// `envs` (a 3-bit mask; 0 asks for no environment): `None` when it
    /// lacks nothing. A permission counts as held in an environment when a
    /// binding of `user` that covers `node` grants it there; several
    /// bindings may add up.
    pub(crate) fn missing_at(
        &self,
        user: UserId,
        perms: PermissionSet,
        node: u32,
        envs: u8,
    ) -> Option<Shortfall> {
        let bindings: &[CompiledBinding] = self.users.get(&user).map_or(&[], |e| &e.bindings);
        let mut short = Shortfall::default();
        for p in perms.to_vec() {
            let mut held: Option<u8> = None;
            for b in bindings {
                if b.perms.grants(p) && self.covers(b.node, node) {
                    held = Some(held.unwrap_or(0) | b.envs);
                }
            }
            match held {
                None => short.permissions.push(p),
                Some(h) if h & envs != envs => {
                    short.environments |= envs & !h;
                    short.limited.push(p);
                }
                Some(_) => {}
            }
        }
        (!short.permissions.is_empty() || !short.limited.is_empty()).then_some(short)
    }

    /// The node of a binding scope, if it is in this tenant.
    pub(crate) fn scope_node(&self, scope: Scope) -> Option<u32> {
        match scope {
            Scope::Tenant(t) => (t == self.tenant_id).then_some(ROOT),
            other => self.node_of.get(&other.uuid()).copied(),
        }
    }

    /// The device nodes `user`'s tool use is narrowed to; `None` when it is
    /// not narrowed (or not a user of this tenant).
    pub(crate) fn device_scope_of(&self, user: UserId) -> Option<&FxHashSet<u32>> {
        self.users.get(&user)?.device_scope.as_ref()
    }

    /// Every compiled binding of the tenant with its user.
    pub(crate) fn all_bindings(&self) -> impl Iterator<Item = (UserId, &CompiledBinding)> + '_ {
        self.users
            .iter()
            .flat_map(|(u, e)| e.bindings.iter().map(move |b| (*u, b)))
    }

    /// The device nodes a device scope target names, as they are now; `None`
    /// when the device or group is not in this tenant.
    pub(crate) fn target_nodes(&self, target: DeviceScopeTarget) -> Option<Vec<u32>> {
        match target {
            DeviceScopeTarget::Device(d) => {
                let n = *self.node_of.get(&d.uuid())?;
                (self.env.get(n as usize).copied().unwrap_or(0) != 0).then(|| vec![n])
            }
            DeviceScopeTarget::DeviceGroup(g) => self.groups.get(&g).cloned(),
        }
    }

    /// The device nodes among `members` that `group` does not hold now:
    /// what replacing its members with `members` adds to it.
    pub(crate) fn added_to_group(&self, group: DeviceGroupId, members: &[DeviceId]) -> Vec<u32> {
        let now: &[u32] = self.groups.get(&group).map_or(&[], Vec::as_slice);
        members
            .iter()
            .filter_map(|d| self.node_of.get(&d.uuid()).copied())
            .filter(|n| self.env.get(*n as usize).copied().unwrap_or(0) != 0 && !now.contains(n))
            .collect()
    }

    /// The users whose tool use replacing `group`'s members with `members`
    /// widens: those whose device scope names the group, when it gains a
    /// device. Changing the members is then a device scope grant to each
    /// of them, which needs `user:update` on them (see
    /// [`crate::delegation::device_group_change`]).
    pub fn widened_by(&self, group: DeviceGroupId, members: &[DeviceId]) -> Vec<UserId> {
        if self.added_to_group(group, members).is_empty() {
            return Vec::new();
        }
        self.narrowed_through
            .get(&group)
            .cloned()
            .unwrap_or_default()
    }

    /// The users whose device scope names `target` itself (not a group
    /// holding the device), in a stable order. Deleting the device or group
    /// deletes those entries, which is revoking them (see
    /// [`crate::delegation::device_scope_target_deletion`]).
    pub fn narrowed_by(&self, target: DeviceScopeTarget) -> Vec<UserId> {
        let mut users: Vec<UserId> = self
            .users
            .iter()
            .filter(|(_, e)| e.scope_entries.contains(&target))
            .map(|(u, _)| *u)
            .collect();
        users.sort_unstable();
        users
    }

    /// Whether every device scope entry of `user` names `target`, so that
    /// deleting the device or group would leave the user with none: not
    /// narrowed, reaching every device its bindings reach.
    pub(crate) fn only_entry(&self, user: UserId, target: DeviceScopeTarget) -> bool {
        self.users.get(&user).is_some_and(|e| {
            !e.scope_entries.is_empty() && e.scope_entries.iter().all(|t| *t == target)
        })
    }

    /// The permissions of a role usable in this tenant: built-in, or one of
    /// its custom roles.
    pub fn role_permissions(&self, role: RoleId) -> Option<PermissionSet> {
        BuiltinRole::from_id(role)
            .map(BuiltinRole::permissions)
            .or_else(|| self.roles.get(&role).copied())
    }

    /// The environment of `device`, if it is in this tenant.
    pub fn device_environment(&self, device: DeviceId) -> Option<Environment> {
        let node = *self.node_of.get(&device.uuid())?;
        (self.env.get(node as usize).copied().unwrap_or(0) != 0).then(|| self.environment_of(node))
    }

    /// The roles `user` is bound to anywhere in the tenant (with repeats).
    pub fn roles_of(&self, user: UserId) -> impl Iterator<Item = RoleId> + '_ {
        self.users
            .get(&user)
            .into_iter()
            .flat_map(|e| e.bindings.iter().map(|b| b.role_id))
    }

    /// Whether `user` holds `perm` anywhere in the tenant.
    pub fn holds_anywhere(&self, user: UserId, perm: Permission) -> bool {
        self.users.get(&user).is_some_and(|e| e.any.grants(perm))
    }

    /// A binding of `user` that grants `perm` somewhere, if any.
    pub fn any_grant(&self, user: UserId, perm: Permission) -> Option<Grant> {
        self.users
            .get(&user)?
            .bindings
            .iter()
            .find(|b| b.perms.grants(perm))
            .map(|b| Grant::Binding {
                binding_id: b.binding_id,
                role_id: b.role_id,
            })
    }

    /// The union of the permissions of `user`'s bindings that reach `resource`,
    /// ignoring environment limits: what the user could hand on to others there.
    pub fn permissions_at(&self, user: UserId, resource: Resource) -> PermissionSet {
        let node = match resource {
            Resource::Tenant(t) if t == self.tenant_id => ROOT,
            other => match other.id().and_then(|id| self.node_of.get(&id)) {
                Some(n) => *n,
                None => return PermissionSet::EMPTY,
            },
        };
        self.users.get(&user).map_or(PermissionSet::EMPTY, |e| {
            e.bindings
                .iter()
                .filter(|b| self.covers(b.node, node))
                .fold(PermissionSet::EMPTY, |acc, b| acc.union(b.perms))
        })
    }
}

#[cfg(test)]
mod tests {
    //! The truth table of `docs/authorization.md`, row by row.

    use super::*;
    use crate::role::BuiltinRole as R;
    use kernel::{BindingId, DeviceGroupId, DivisionId, GroupId};
    use time::OffsetDateTime;

    struct World {
        snap: TenantSnapshot,
        tenant: TenantId,
        next: u128,
    }

    impl World {
        fn new() -> Self {
            let tenant = TenantId::from_uuid(Uuid::from_u128(1));
            World {
                snap: TenantSnapshot::default(),
                tenant,
                next: 100,
            }
        }
        fn id(&mut self) -> Uuid {
            self.next += 1;
            Uuid::from_u128(self.next)
        }
        fn unit(&mut self, kind: UnitKind, parent: Uuid) -> Uuid {
            let id = self.id();
            self.snap.units.push(UnitRow {
                id,
                kind,
                parent_id: parent,
            });
            id
        }
        /// A division > group > team chain; returns (division, group, team).
        fn team(&mut self) -> (Uuid, Uuid, TeamId) {
            let d = self.unit(UnitKind::Division, self.tenant.uuid());
            let g = self.unit(UnitKind::Group, d);
            let t = self.unit(UnitKind::Team, g);
            (d, g, TeamId::from_uuid(t))
        }
        fn site(&mut self, team: TeamId) -> SiteId {
            let s = SiteId::from_uuid(self.id());
            self.snap.sites.push((s, team));
            s
        }
        fn device(&mut self, site: SiteId, env: Environment) -> DeviceId {
            let d = DeviceId::from_uuid(self.id());
            self.snap.devices.push((d, site, env));
            d
        }
        fn user(&mut self, bindings: &[(R, Scope, Option<Vec<Environment>>)]) -> UserId {
            let u = UserId::from_uuid(self.id());
            self.snap.users.push(u);
            for (role, scope, envs) in bindings {
                let id = BindingId::from_uuid(self.id());
                self.snap.bindings.push(RoleBinding {
                    id,
                    tenant_id: self.tenant,
                    user_id: u,
                    role_id: role.id(),
                    scope: *scope,
                    environments: envs.clone(),
                    created_at: OffsetDateTime::UNIX_EPOCH,
                });
            }
            u
        }
        fn index(&self) -> AuthzIndex {
            AuthzIndex::compile(self.tenant, &self.snap)
        }
    }

    fn deny(d: Option<Decision>) -> DenyReason {
        match d {
            Some(Decision::Deny(r)) => r,
            other => panic!("expected a denial, got {other:?}"),
        }
    }

    fn allowed(d: Option<Decision>) -> bool {
        d.is_some_and(|d| d.is_allowed())
    }

    #[test]
    fn a_binding_reaches_everything_below_its_scope_and_nothing_beside_it() {
        let mut w = World::new();
        let (div, grp, team_a) = w.team();
        let team_b = TeamId::from_uuid(w.unit(UnitKind::Team, grp));
        let site_a = w.site(team_a);
        let site_b = w.site(team_b);
        let dev_a = w.device(site_a, Environment::Prod);
        let member = w.user(&[(R::Member, Scope::Team(team_a), None)]);
        let group_admin = w.user(&[(R::TeamAdmin, Scope::Group(GroupId::from_uuid(grp)), None)]);
        let division_lead = w.user(&[(
            R::TeamLead,
            Scope::Division(DivisionId::from_uuid(div)),
            None,
        )]);
        let owner = w.user(&[(R::OrgAdmin, Scope::Tenant(w.tenant), None)]);
        let idx = w.index();

        assert!(allowed(idx.decide(
            member,
            Permission::SiteRead,
            Resource::Site(site_a)
        )));
        assert!(allowed(idx.decide(
            member,
            Permission::DeviceRead,
            Resource::Device(dev_a)
        )));
        assert_eq!(
            deny(idx.decide(member, Permission::SiteRead, Resource::Site(site_b))),
            DenyReason::OutOfReach
        );
        assert_eq!(
            deny(idx.decide(member, Permission::SiteDelete, Resource::Site(site_a))),
            DenyReason::MissingPermission {
                permission: Permission::SiteDelete
            }
        );
        for user in [group_admin, division_lead, owner] {
            assert!(allowed(idx.decide(
                user,
                Permission::SiteRead,
                Resource::Site(site_b)
            )));
        }
        assert!(allowed(idx.decide(
            owner,
            Permission::TenantDelete,
            Resource::Tenant(w.tenant)
        )));
        assert!(!allowed(idx.decide(
            group_admin,
            Permission::TenantRead,
            Resource::Tenant(w.tenant)
        )));
    }

    #[test]
    fn another_tenants_resources_are_not_in_the_index() {
        let mut w = World::new();
        let (_, _, team) = w.team();
        let owner = w.user(&[(R::OrgAdmin, Scope::Tenant(w.tenant), None)]);
        let idx = w.index();
        let foreign = SiteId::from_uuid(Uuid::from_u128(999_999));
        assert_eq!(
            idx.decide(owner, Permission::SiteRead, Resource::Site(foreign)),
            None
        );
        let other_tenant = TenantId::from_uuid(Uuid::from_u128(2));
        assert_eq!(
            idx.decide(
                owner,
                Permission::TenantRead,
                Resource::Tenant(other_tenant)
            ),
            None
        );
        assert!(idx.contains(team.uuid()));
    }

    #[test]
    fn environment_limits_apply_to_devices_only() {
        let mut w = World::new();
        let (_, _, team) = w.team();
        let site = w.site(team);
        let lab = w.device(site, Environment::Lab);
        let prod = w.device(site, Environment::Prod);
        let ops = w.user(&[(
            R::OpsRw,
            Scope::Team(team),
            Some(vec![Environment::Lab, Environment::Staging]),
        )]);
        let idx = w.index();
        assert!(allowed(idx.decide(
            ops,
            Permission::ToolAdvanced,
            Resource::Device(lab)
        )));
        assert_eq!(
            deny(idx.decide(ops, Permission::ToolAdvanced, Resource::Device(prod))),
            DenyReason::Environment {
                environment: Environment::Prod
            }
        );
        assert!(
            allowed(idx.decide(ops, Permission::SiteRead, Resource::Site(site))),
            "sites have no environment"
        );
    }

    #[test]
    fn moving_a_device_to_another_environment_is_decided_in_that_environment() {
        let mut w = World::new();
        let (_, _, team) = w.team();
        let site = w.site(team);
        let lab = w.device(site, Environment::Lab);
        let lab_admin = w.user(&[(
            R::TeamAdmin,
            Scope::Team(team),
            Some(vec![Environment::Lab]),
        )]);
        let admin = w.user(&[(R::TeamAdmin, Scope::Team(team), None)]);
        let lead = w.user(&[(R::TeamLead, Scope::Team(team), None)]);
        let idx = w.index();
        let configure = Permission::DeviceConfigure;
        assert!(allowed(idx.decide(
            lab_admin,
            configure,
            Resource::Device(lab)
        )));
        assert_eq!(
            deny(idx.decide_device_in(lab_admin, configure, lab, Environment::Prod)),
            DenyReason::Environment {
                environment: Environment::Prod
            }
        );
        assert!(allowed(idx.decide_device_in(
            admin,
            configure,
            lab,
            Environment::Prod
        )));
        assert_eq!(
            deny(idx.decide_device_in(lead, configure, lab, Environment::Lab)),
            DenyReason::MissingPermission {
                permission: configure
            }
        );
        let not_a_device = DeviceId::from_uuid(site.uuid());
        assert_eq!(
            idx.decide_device_in(admin, configure, not_a_device, Environment::Lab),
            None
        );
    }

    #[test]
    fn a_device_scope_narrows_tool_use_but_not_reads() {
        let mut w = World::new();
        let (_, _, team) = w.team();
        let site = w.site(team);
        let d1 = w.device(site, Environment::Lab);
        let d2 = w.device(site, Environment::Lab);
        let d3 = w.device(site, Environment::Lab);
        let narrowed = w.user(&[(R::ReadOnly, Scope::Team(team), None)]);
        let free = w.user(&[(R::ReadOnly, Scope::Team(team), None)]);
        let group = DeviceGroupId::from_uuid(w.id());
        w.snap.device_groups.push((group, vec![d2]));
        w.snap
            .device_scopes
            .push((narrowed, DeviceScopeTarget::Device(d1)));
        w.snap
            .device_scopes
            .push((narrowed, DeviceScopeTarget::DeviceGroup(group)));
        let idx = w.index();
        assert!(allowed(idx.decide(
            narrowed,
            Permission::ToolFundamental,
            Resource::Device(d1)
        )));
        assert!(
            allowed(idx.decide(narrowed, Permission::ToolFundamental, Resource::Device(d2))),
            "through the group"
        );
        assert_eq!(
            deny(idx.decide(narrowed, Permission::ToolFundamental, Resource::Device(d3))),
            DenyReason::OutsideDeviceScope
        );
        assert!(
            allowed(idx.decide(narrowed, Permission::DeviceRead, Resource::Device(d3))),
            "reads are not narrowed"
        );
        assert!(
            allowed(idx.decide(free, Permission::ToolFundamental, Resource::Device(d3))),
            "no grants, no narrowing"
        );
    }

    #[test]
    fn users_are_reached_through_their_bindings() {
        let mut w = World::new();
        let (_, grp, team_a) = w.team();
        let team_b = TeamId::from_uuid(w.unit(UnitKind::Team, grp));
        let admin_a = w.user(&[(R::TeamAdmin, Scope::Team(team_a), None)]);
        let member_a = w.user(&[(R::Member, Scope::Team(team_a), None)]);
        let member_b = w.user(&[(R::Member, Scope::Team(team_b), None)]);
        let owner = w.user(&[(R::OrgAdmin, Scope::Tenant(w.tenant), None)]);
        let loner = w.user(&[]);
        let idx = w.index();
        assert!(allowed(idx.decide(
            admin_a,
            Permission::UserUpdate,
            Resource::User(member_a)
        )));
        assert_eq!(
            deny(idx.decide(admin_a, Permission::UserUpdate, Resource::User(member_b))),
            DenyReason::OutOfReach
        );
        assert_eq!(
            deny(idx.decide(admin_a, Permission::UserUpdate, Resource::User(owner))),
            DenyReason::OutOfReach
        );
        assert!(allowed(idx.decide(
            owner,
            Permission::UserRemove,
            Resource::User(loner)
        )));
        assert_eq!(
            idx.decide(loner, Permission::UserRead, Resource::User(loner)),
            Some(Decision::Allow(Grant::Myself))
        );
    }

    #[test]
    fn changing_a_user_needs_every_binding_covered_with_at_least_its_permissions() {
        let mut w = World::new();
        let (_, _, team) = w.team();
        let core = Scope::Team(team);
        let admin = w.user(&[(R::TeamAdmin, core, None)]);
        let owner = w.user(&[
            (R::OrgAdmin, Scope::Tenant(w.tenant), None),
            (R::Member, core, None),
        ]);
        let ops = w.user(&[(R::OpsRw, core, None)]);
        let lab_admin = w.user(&[(R::TeamAdmin, core, Some(vec![Environment::Lab]))]);
        let idx = w.index();
        assert!(
            allowed(idx.decide(admin, Permission::UserRead, Resource::User(owner))),
            "reading needs one binding in reach"
        );
        for perm in [Permission::UserUpdate, Permission::UserRemove] {
            assert_eq!(
                deny(idx.decide(admin, perm, Resource::User(owner))),
                DenyReason::Outranked
            );
        }
        assert_eq!(
            deny(idx.decide(admin, Permission::UserUpdate, Resource::User(ops))),
            DenyReason::Outranked,
            "ops_rw holds tool:advanced, which a team admin does not"
        );
        assert_eq!(
            deny(idx.decide(lab_admin, Permission::UserUpdate, Resource::User(admin))),
            DenyReason::Outranked,
            "a lab-only admin does not outrank an admin of every environment"
        );
        assert!(allowed(idx.decide(
            admin,
            Permission::UserUpdate,
            Resource::User(lab_admin)
        )));
        assert!(allowed(idx.decide(
            owner,
            Permission::UserRemove,
            Resource::User(admin)
        )));
    }

    #[test]
    fn custom_roles_and_unknown_roles() {
        let mut w = World::new();
        let (_, _, team) = w.team();
        let site = w.site(team);
        let custom = kernel::RoleId::from_uuid(w.id());
        w.snap
            .custom_roles
            .push((custom, PermissionSet::of(&[Permission::SitePublish])));
        let u = w.user(&[]);
        for role in [custom, kernel::RoleId::from_uuid(Uuid::from_u128(424_242))] {
            let id = BindingId::from_uuid(w.id());
            w.snap.bindings.push(RoleBinding {
                id,
                tenant_id: w.tenant,
                user_id: u,
                role_id: role,
                scope: Scope::Team(team),
                environments: None,
                created_at: OffsetDateTime::UNIX_EPOCH,
            });
        }
        let idx = w.index();
        assert!(allowed(idx.decide(
            u,
            Permission::SitePublish,
            Resource::Site(site)
        )));
        assert!(
            !allowed(idx.decide(u, Permission::SiteRead, Resource::Site(site))),
            "an unknown role grants nothing"
        );
        assert_eq!(
            idx.permissions_at(u, Resource::Site(site)),
            PermissionSet::of(&[Permission::SitePublish])
        );
    }
}
