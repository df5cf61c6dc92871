//! The "no escalation" property: random sequences of changes to roles,
//! bindings, invitations, device scopes, device groups' members, devices'
//! places (environment and site) and deletions of devices and device
//! groups, each made by a random user of a random tenant through the checks
//! the REST handlers make (the gate's decisions, then
//! [`rbac::delegation`]), never leave anyone able to do
//! something (a permission on a resource, environments and device scopes
//! included) that neither they nor the user who made the change could do
//! just before. By induction, whatever anyone can do, someone in its chain
//! of granters could do before.
//!
//! Users as resources are left out of the comparison on purpose: reaching a
//! user for a change depends on how much the *target* holds (see
//! `AuthzIndex::decide_user`), so it grows when a target loses power, which
//! escalates nobody. The strict reach rule has its own HTTP tests.
//!
//! Device groups bear on decisions in one way only: a device scope entry
//! naming a group narrows its holder's tool use to the group's members.
//! Bindings are never scoped to a group, and a group as a resource is
//! reached from tenant-wide bindings alone, whatever its members. Adding a
//! device to a group widens the tool use of everyone narrowed through it,
//! so it is held to the property above, and checked as a device scope
//! grant of that device to each of them (`user:update` on them, never one's
//! own scope, a narrowed changer only within its own). Taking a device out
//! only narrows.
//!
//! Deleting a device or a device group deletes the device scope entries
//! naming it. It is held to the property above and, directly, to never
//! leaving a narrowed user without entries (which would widen it to every
//! device its bindings reach).
//!
//! Moving a device, to another environment or to another site of its
//! tenant (another team's, group's or division's), is held to a property
//! of its own. A move changes which bindings apply to the device (an
//! `ops_rw` binding limited to prod reaches a lab device once it is moved
//! to prod; a team's `ops_rw` binding reaches a device moved to the team's
//! site), though its mover may hold no tools, so "nobody gains what neither
//! they nor the maker could" does not hold for it by design. Instead, after
//! a move:
//!
//! - what anyone may do on the moved device is exactly what their own
//!   bindings gave them, before the move, at its new place: on the device
//!   in the new environment (`AuthzIndex::decide_in`, the rule an
//!   environment move is checked by), or on a device of its environment at
//!   the new site (`decide_in` on the site, the rule a site move is checked
//!   by), tool use narrowed by their device scope, which a move leaves as
//!   it was;
//! - nothing changes on any other resource;
//! - the device lands only where its mover may put devices: the mover held
//!   `device:update` on it before and, after, holds `device:configure` on
//!   it in its new environment (which it held in the old one too), or
//!   `device:create` on it at its new site (it may create devices there).
//!
//! A move into another tenant's site is refused.

use kernel::{
    BindingId, DeviceGroupId, DeviceId, Environment, EnvironmentSet, RoleId, SiteId, TeamId,
    TenantId, UserId,
};
use proptest::prelude::*;
use rbac::delegation;
use rbac::index::UnitRow;
use rbac::{
    AuthzIndex, BuiltinRole, DeviceScopeTarget, Permission, PermissionSet, Resource, RoleBinding,
    TenantSnapshot,
};
use std::collections::HashSet;
use tenancy::{Scope, UnitKind};
use time::OffsetDateTime;
use uuid::Uuid;

/// One change, with every choice an index resolved against the current
/// state (modulo its length), so that shrinking keeps cases meaningful.
#[derive(Debug, Clone)]
enum Op {
    CreateRole {
        actor: u8,
        perms: Vec<u8>,
    },
    UpdateRole {
        actor: u8,
        role: u8,
        perms: Vec<u8>,
    },
    Bind {
        actor: u8,
        grantee: u8,
        role: u8,
        scope: u8,
        envs: u8,
    },
    Unbind {
        actor: u8,
        binding: u8,
    },
    Invite {
        actor: u8,
        role: u8,
        scope: u8,
        envs: u8,
    },
    Accept {
        invitation: u8,
    },
    GrantScope {
        actor: u8,
        user: u8,
        target: u8,
    },
    RevokeScope {
        actor: u8,
        entry: u8,
    },
    RemoveUser {
        actor: u8,
        user: u8,
    },
    /// Moving a device to another environment, checked as `PATCH
    /// /devices/{id}` does: `device:update` and `device:configure` on the
    /// device, and `device:configure` as if it were already in the new one.
    MoveDevice {
        actor: u8,
        device: u8,
        env: u8,
    },
    /// Moving a device to another site, checked as `PATCH /devices/{id}`
    /// does: `device:update` on the device, and `device:create` at the new
    /// site, there in the device's environment. The site may be another
    /// tenant's, which the index does not know: refused.
    MoveToSite {
        actor: u8,
        device: u8,
        site: u8,
    },
    /// Adding a device to a device group, or taking it out if it is in,
    /// checked as `PATCH /device-groups/{id}` does: every member in the
    /// tenant, `device:update` on the group and, when a device is added,
    /// `user:update` on every user narrowed through the group, then
    /// [`delegation::device_group_change`]. The group or the device may be
    /// another tenant's: refused.
    GroupMembers {
        actor: u8,
        group: u8,
        device: u8,
    },
    /// Deleting a device or a device group, checked as `DELETE
    /// /devices/{id}` and `DELETE /device-groups/{id}` do: `device:delete`
    /// on it, `user:update` on every user whose device scope names it, then
    /// [`delegation::device_scope_target_deletion`]. It goes with its group
    /// memberships and the device scope entries naming it. It may be another
    /// tenant's: refused.
    Delete {
        actor: u8,
        target: u8,
    },
}

fn perms_of(picks: &[u8]) -> PermissionSet {
    picks
        .iter()
        .map(|i| Permission::ALL[usize::from(*i) % Permission::ALL.len()])
        .collect()
}

fn envs_of(mask: u8) -> Option<Vec<Environment>> {
    match mask % 8 {
        0 => None,
        m => Some(
            Environment::ALL
                .into_iter()
                .filter(|e| EnvironmentSet::of(&[*e]).bits() & m != 0)
                .collect(),
        ),
    }
}

fn op() -> impl Strategy<Value = Op> {
    let n = || any::<u8>();
    let perms = || prop::collection::vec(any::<u8>(), 0..4);
    prop_oneof![
        (n(), perms()).prop_map(|(actor, perms)| Op::CreateRole { actor, perms }),
        (n(), n(), perms()).prop_map(|(actor, role, perms)| Op::UpdateRole { actor, role, perms }),
        (n(), n(), n(), n(), n()).prop_map(|(actor, grantee, role, scope, envs)| Op::Bind {
            actor,
            grantee,
            role,
            scope,
            envs
        }),
        (n(), n()).prop_map(|(actor, binding)| Op::Unbind { actor, binding }),
        (n(), n(), n(), n()).prop_map(|(actor, role, scope, envs)| Op::Invite {
            actor,
            role,
            scope,
            envs
        }),
        n().prop_map(|invitation| Op::Accept { invitation }),
        (n(), n(), n()).prop_map(|(actor, user, target)| Op::GrantScope {
            actor,
            user,
            target
        }),
        (n(), n()).prop_map(|(actor, entry)| Op::RevokeScope { actor, entry }),
        (n(), n()).prop_map(|(actor, user)| Op::RemoveUser { actor, user }),
        (n(), n(), n()).prop_map(|(actor, device, env)| Op::MoveDevice { actor, device, env }),
        (n(), n(), n()).prop_map(|(actor, device, site)| Op::MoveToSite {
            actor,
            device,
            site
        }),
        (n(), n(), n()).prop_map(|(actor, group, device)| Op::GroupMembers {
            actor,
            group,
            device
        }),
        (n(), n()).prop_map(|(actor, target)| Op::Delete { actor, target }),
    ]
}

/// A user's starting bindings (role pick, scope pick, environments) and device scope picks.
type Seed = Vec<(Vec<(u8, u8, u8)>, Vec<u8>)>;

fn seed() -> impl Strategy<Value = (Seed, Vec<Vec<u8>>)> {
    let user = (
        prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 0..3),
        prop::collection::vec(any::<u8>(), 0..2),
    );
    (
        prop::collection::vec(user, 10),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 1..4), 4),
    )
}

/// One tenant: a division > group > two teams, a site per team, three
/// devices in three environments and two device groups; and a second
/// division > group > team with an empty site, for devices to move to.
/// The first user is the owner (`org_admin` tenant-wide); the second holds
/// a random role tenant-wide (and maybe more), everyone else random roles
/// at random places.
struct Tenant {
    id: TenantId,
    snap: TenantSnapshot,
    scopes: Vec<Scope>,
    targets: Vec<DeviceScopeTarget>,
    resources: Vec<Resource>,
}

struct Invitation {
    tenant: usize,
    inviter: UserId,
    role: RoleId,
    scope: Scope,
    environments: Option<Vec<Environment>>,
}

struct State {
    tenants: Vec<Tenant>,
    invitations: Vec<Invitation>,
    next: u128,
}

impl State {
    fn id(&mut self) -> Uuid {
        self.next += 1;
        Uuid::from_u128(self.next)
    }

    fn new((users, roles): &(Seed, Vec<Vec<u8>>)) -> State {
        let mut s = State {
            tenants: Vec::new(),
            invitations: Vec::new(),
            next: 1000,
        };
        for k in 0..2 {
            let tenant = TenantId::from_uuid(s.id());
            let (div, grp, team_a, team_b) = (s.id(), s.id(), s.id(), s.id());
            let (div_c, grp_c, team_c) = (s.id(), s.id(), s.id());
            let (site_a, site_b, site_c) = (
                SiteId::from_uuid(s.id()),
                SiteId::from_uuid(s.id()),
                SiteId::from_uuid(s.id()),
            );
            let (lab, prod, staging) = (
                DeviceId::from_uuid(s.id()),
                DeviceId::from_uuid(s.id()),
                DeviceId::from_uuid(s.id()),
            );
            let (group, spare) = (
                DeviceGroupId::from_uuid(s.id()),
                DeviceGroupId::from_uuid(s.id()),
            );
            let unit = |id, kind, parent_id| UnitRow {
                id,
                kind,
                parent_id,
            };
            let mut snap = TenantSnapshot {
                tenant_id: Some(tenant),
                units: vec![
                    unit(div, UnitKind::Division, tenant.uuid()),
                    unit(grp, UnitKind::Group, div),
                    unit(team_a, UnitKind::Team, grp),
                    unit(team_b, UnitKind::Team, grp),
                    unit(div_c, UnitKind::Division, tenant.uuid()),
                    unit(grp_c, UnitKind::Group, div_c),
                    unit(team_c, UnitKind::Team, grp_c),
                ],
                sites: vec![
                    (site_a, TeamId::from_uuid(team_a)),
                    (site_b, TeamId::from_uuid(team_b)),
                    (site_c, TeamId::from_uuid(team_c)),
                ],
                devices: vec![
                    (lab, site_a, Environment::Lab),
                    (prod, site_a, Environment::Prod),
                    (staging, site_b, Environment::Staging),
                ],
                device_groups: vec![(group, vec![lab, staging]), (spare, vec![prod])],
                ..TenantSnapshot::default()
            };
            for picks in &roles[k * 2..k * 2 + 2] {
                snap.custom_roles
                    .push((RoleId::from_uuid(s.id()), perms_of(picks)));
            }
            let scopes = vec![
                Scope::Tenant(tenant),
                Scope::Division(div.into()),
                Scope::Group(grp.into()),
                Scope::Team(team_a.into()),
                Scope::Team(team_b.into()),
                Scope::Division(div_c.into()),
                Scope::Group(grp_c.into()),
                Scope::Team(team_c.into()),
            ];
            let targets = vec![
                DeviceScopeTarget::Device(lab),
                DeviceScopeTarget::Device(prod),
                DeviceScopeTarget::Device(staging),
                DeviceScopeTarget::DeviceGroup(group),
                DeviceScopeTarget::DeviceGroup(spare),
            ];
            let resources = vec![
                Resource::Tenant(tenant),
                Resource::Unit(div),
                Resource::Unit(grp),
                Resource::Unit(team_a),
                Resource::Unit(team_b),
                Resource::Unit(div_c),
                Resource::Unit(grp_c),
                Resource::Unit(team_c),
                Resource::Site(site_a),
                Resource::Site(site_b),
                Resource::Site(site_c),
                Resource::Device(lab),
                Resource::Device(prod),
                Resource::Device(staging),
                Resource::DeviceGroup(group),
                Resource::DeviceGroup(spare),
            ];
            let mut t = Tenant {
                id: tenant,
                snap,
                scopes,
                targets,
                resources,
            };
            for (i, (bindings, device_scopes)) in users[k * 5..k * 5 + 5].iter().enumerate() {
                let user = UserId::from_uuid(s.id());
                t.snap.users.push(user);
                if i == 0 {
                    let b = binding(
                        s.id(),
                        tenant,
                        user,
                        BuiltinRole::OrgAdmin.id(),
                        t.scopes[0],
                        None,
                    );
                    t.snap.bindings.push(b);
                }
                for (j, (role, scope, envs)) in bindings.iter().enumerate() {
                    let role = t.role(*role);
                    // The second user's first binding is tenant-wide: someone
                    // besides the owner holds part of its power everywhere.
                    let scope = match (i, j) {
                        (1, 0) => t.scopes[0],
                        _ => t.scopes[usize::from(*scope) % t.scopes.len()],
                    };
                    let b = binding(s.id(), tenant, user, role, scope, envs_of(*envs));
                    t.snap.bindings.push(b);
                }
                for target in device_scopes {
                    let target = t.targets[usize::from(*target) % t.targets.len()];
                    t.snap.device_scopes.push((user, target));
                }
            }
            s.tenants.push(t);
        }
        s
    }

    fn index(&self, tenant: usize) -> AuthzIndex {
        let t = &self.tenants[tenant];
        AuthzIndex::compile(t.id, &t.snap)
    }

    /// Every user of both tenants, with its tenant.
    fn users(&self) -> Vec<(usize, UserId)> {
        self.tenants
            .iter()
            .enumerate()
            .flat_map(|(k, t)| t.snap.users.iter().map(move |u| (k, *u)))
            .collect()
    }

    fn pick<T: Copy>(items: &[T], i: u8) -> Option<T> {
        (!items.is_empty()).then(|| items[usize::from(i) % items.len()])
    }

    /// Roles of both tenants (built-in first), so that some picks name another tenant's.
    fn role(&self, i: u8) -> RoleId {
        let mut all: Vec<RoleId> = BuiltinRole::ALL.iter().map(|r| r.id()).collect();
        for t in &self.tenants {
            all.extend(t.snap.custom_roles.iter().map(|(r, _)| *r));
        }
        all[usize::from(i) % all.len()]
    }

    fn scope(&self, i: u8) -> Scope {
        let all: Vec<Scope> = self.tenants.iter().flat_map(|t| t.scopes.clone()).collect();
        all[usize::from(i) % all.len()]
    }

    fn target(&self, i: u8) -> (DeviceScopeTarget, Resource) {
        let all: Vec<DeviceScopeTarget> = self
            .tenants
            .iter()
            .flat_map(|t| t.targets.clone())
            .collect();
        let target = all[usize::from(i) % all.len()];
        let resource = match target {
            DeviceScopeTarget::Device(d) => Resource::Device(d),
            DeviceScopeTarget::DeviceGroup(g) => Resource::DeviceGroup(g),
        };
        (target, resource)
    }

    /// Applies `op` if every check passes. Returns the tenant it changed
    /// and the user whose power the change drew on.
    fn apply(&mut self, op: &Op) -> Option<(usize, UserId)> {
        let users = self.users();
        let allowed = |idx: &AuthzIndex, who, perm, resource| {
            idx.decide(who, perm, resource)
                .is_some_and(|d| d.is_allowed())
        };
        match op {
            Op::CreateRole { actor, perms } => {
                let (k, actor) = Self::pick(&users, *actor)?;
                let idx = self.index(k);
                let perms = perms_of(perms);
                allowed(
                    &idx,
                    actor,
                    Permission::RoleManage,
                    Resource::Tenant(idx.tenant_id()),
                )
                .then_some(())?;
                delegation::role_creation(&idx, actor, perms).ok()?;
                let id = RoleId::from_uuid(self.id());
                self.tenants[k].snap.custom_roles.push((id, perms));
                Some((k, actor))
            }
            Op::UpdateRole { actor, role, perms } => {
                let (k, actor) = Self::pick(&users, *actor)?;
                let idx = self.index(k);
                let role = self.role(*role);
                let perms = perms_of(perms);
                allowed(
                    &idx,
                    actor,
                    Permission::RoleManage,
                    Resource::Tenant(idx.tenant_id()),
                )
                .then_some(())?;
                let slot = self.tenants[k]
                    .snap
                    .custom_roles
                    .iter()
                    .position(|(r, _)| *r == role)?;
                let old = self.tenants[k].snap.custom_roles[slot].1;
                delegation::role_change(&idx, actor, role, old, perms).ok()?;
                self.tenants[k].snap.custom_roles[slot].1 = perms;
                Some((k, actor))
            }
            Op::Bind {
                actor,
                grantee,
                role,
                scope,
                envs,
            } => {
                let (k, actor) = Self::pick(&users, *actor)?;
                let (_, grantee) = Self::pick(&users, *grantee)?;
                let idx = self.index(k);
                let scope = self.scope(*scope);
                let role = self.role(*role);
                let envs = envs_of(*envs);
                allowed(&idx, actor, Permission::UserRead, Resource::User(grantee)).then_some(())?;
                allowed(
                    &idx,
                    actor,
                    Permission::RoleManage,
                    Resource::from_scope(scope),
                )
                .then_some(())?;
                let perms = idx.role_permissions(role)?;
                delegation::binding(&idx, actor, grantee, perms, scope, envs.as_deref()).ok()?;
                let id = self.id();
                let t = &mut self.tenants[k];
                t.snap
                    .bindings
                    .push(binding(id, t.id, grantee, role, scope, envs));
                Some((k, actor))
            }
            Op::Unbind { actor, binding } => {
                let (k, actor) = Self::pick(&users, *actor)?;
                let idx = self.index(k);
                let all = &self.tenants[k].snap.bindings;
                if all.is_empty() {
                    return None;
                }
                let b = all[usize::from(*binding) % all.len()].clone();
                allowed(
                    &idx,
                    actor,
                    Permission::RoleManage,
                    Resource::from_scope(b.scope),
                )
                .then_some(())?;
                allowed(
                    &idx,
                    actor,
                    Permission::RoleManage,
                    Resource::User(b.user_id),
                )
                .then_some(())?;
                delegation::unbinding(&idx, b.id).ok()?;
                self.tenants[k].snap.bindings.retain(|x| x.id != b.id);
                Some((k, actor))
            }
            Op::Invite {
                actor,
                role,
                scope,
                envs,
            } => {
                let (k, actor) = Self::pick(&users, *actor)?;
                let idx = self.index(k);
                let scope = self.scope(*scope);
                let role = self.role(*role);
                let environments = envs_of(*envs);
                allowed(
                    &idx,
                    actor,
                    Permission::UserInvite,
                    Resource::from_scope(scope),
                )
                .then_some(())?;
                let perms = idx.role_permissions(role)?;
                delegation::invitation(&idx, actor, perms, scope, environments.as_deref()).ok()?;
                self.invitations.push(Invitation {
                    tenant: k,
                    inviter: actor,
                    role,
                    scope,
                    environments,
                });
                // Nothing changes until the invitation is accepted.
                None
            }
            Op::Accept { invitation } => {
                if self.invitations.is_empty() {
                    return None;
                }
                let inv = self
                    .invitations
                    .remove(usize::from(*invitation) % self.invitations.len());
                let idx = self.index(inv.tenant);
                // What `rbac::acceptance::InviterStillHolds` checks.
                let perms = idx.role_permissions(inv.role)?;
                delegation::invitation(
                    &idx,
                    inv.inviter,
                    perms,
                    inv.scope,
                    inv.environments.as_deref(),
                )
                .ok()?;
                let (user, id) = (UserId::from_uuid(self.id()), self.id());
                let t = &mut self.tenants[inv.tenant];
                t.snap.users.push(user);
                t.snap.bindings.push(binding(
                    id,
                    t.id,
                    user,
                    inv.role,
                    inv.scope,
                    inv.environments,
                ));
                Some((inv.tenant, inv.inviter))
            }
            Op::GrantScope {
                actor,
                user,
                target,
            } => {
                let (k, actor) = Self::pick(&users, *actor)?;
                let (_, user) = Self::pick(&users, *user)?;
                let idx = self.index(k);
                let (target, resource) = self.target(*target);
                allowed(&idx, actor, Permission::UserUpdate, Resource::User(user)).then_some(())?;
                allowed(&idx, actor, Permission::DeviceRead, resource).then_some(())?;
                delegation::device_scope_grant(&idx, actor, user, target).ok()?;
                let t = &mut self.tenants[k];
                if t.snap.device_scopes.contains(&(user, target)) {
                    return None;
                }
                t.snap.device_scopes.push((user, target));
                Some((k, actor))
            }
            Op::RevokeScope { actor, entry } => {
                let (k, actor) = Self::pick(&users, *actor)?;
                let idx = self.index(k);
                let (user, target) = Self::pick(&self.tenants[k].snap.device_scopes, *entry)?;
                allowed(&idx, actor, Permission::UserUpdate, Resource::User(user)).then_some(())?;
                delegation::device_scope_revoke(&idx, actor, user).ok()?;
                let scopes = &mut self.tenants[k].snap.device_scopes;
                let at = scopes.iter().position(|e| *e == (user, target))?;
                scopes.remove(at);
                Some((k, actor))
            }
            Op::RemoveUser { actor, user } => {
                let (k, actor) = Self::pick(&users, *actor)?;
                let (_, user) = Self::pick(&users, *user)?;
                let idx = self.index(k);
                allowed(&idx, actor, Permission::UserRemove, Resource::User(user)).then_some(())?;
                (user != actor).then_some(())?;
                delegation::user_removal(&idx, user).ok()?;
                let snap = &mut self.tenants[k].snap;
                snap.users.retain(|u| *u != user);
                snap.bindings.retain(|b| b.user_id != user);
                snap.device_scopes.retain(|(u, _)| *u != user);
                Some((k, actor))
            }
            Op::MoveDevice { actor, device, env } => {
                let (k, actor, device, env) = self.device_move(&users, *actor, *device, *env)?;
                let idx = self.index(k);
                let d = Resource::Device(device);
                allowed(&idx, actor, Permission::DeviceUpdate, d).then_some(())?;
                allowed(&idx, actor, Permission::DeviceConfigure, d).then_some(())?;
                idx.decide_in(actor, Permission::DeviceConfigure, d, env)
                    .is_some_and(|d| d.is_allowed())
                    .then_some(())?;
                for row in &mut self.tenants[k].snap.devices {
                    if row.0 == device {
                        row.2 = env;
                    }
                }
                Some((k, actor))
            }
            Op::MoveToSite {
                actor,
                device,
                site,
            } => {
                let (k, actor, device, env, site) =
                    self.site_move(&users, *actor, *device, *site)?;
                let idx = self.index(k);
                allowed(
                    &idx,
                    actor,
                    Permission::DeviceUpdate,
                    Resource::Device(device),
                )
                .then_some(())?;
                let at = Resource::Site(site);
                allowed(&idx, actor, Permission::DeviceCreate, at).then_some(())?;
                idx.decide_in(actor, Permission::DeviceCreate, at, env)
                    .is_some_and(|d| d.is_allowed())
                    .then_some(())?;
                for row in &mut self.tenants[k].snap.devices {
                    if row.0 == device {
                        row.1 = site;
                    }
                }
                Some((k, actor))
            }
            Op::GroupMembers {
                actor,
                group,
                device,
            } => {
                let (k, actor) = Self::pick(&users, *actor)?;
                let idx = self.index(k);
                let (group, mut members) =
                    self.across(k, |t| t.snap.device_groups.clone(), *group)?;
                let device =
                    self.across(k, |t| t.snap.devices.iter().map(|d| d.0).collect(), *device)?;
                // The members the request sends: the group's with `device` added or taken out.
                if members.contains(&device) {
                    members.retain(|d| *d != device);
                } else {
                    members.push(device);
                }
                members
                    .iter()
                    .all(|d| idx.contains(d.uuid()))
                    .then_some(())?;
                allowed(
                    &idx,
                    actor,
                    Permission::DeviceUpdate,
                    Resource::DeviceGroup(group),
                )
                .then_some(())?;
                for user in idx.widened_by(group, &members) {
                    allowed(&idx, actor, Permission::UserUpdate, Resource::User(user))
                        .then_some(())?;
                }
                delegation::device_group_change(&idx, actor, group, &members).ok()?;
                let slot = self.tenants[k]
                    .snap
                    .device_groups
                    .iter_mut()
                    .find(|(g, _)| *g == group)?;
                slot.1 = members;
                Some((k, actor))
            }
            Op::Delete { actor, target } => {
                let (k, actor) = Self::pick(&users, *actor)?;
                let idx = self.index(k);
                let (target, resource) = self.target(*target);
                allowed(&idx, actor, Permission::DeviceDelete, resource).then_some(())?;
                for user in idx.narrowed_by(target) {
                    allowed(&idx, actor, Permission::UserUpdate, Resource::User(user))
                        .then_some(())?;
                }
                delegation::device_scope_target_deletion(&idx, actor, target).ok()?;
                let snap = &mut self.tenants[k].snap;
                match target {
                    DeviceScopeTarget::Device(d) => {
                        let at = snap.devices.iter().position(|row| row.0 == d)?;
                        snap.devices.remove(at);
                        for (_, members) in &mut snap.device_groups {
                            members.retain(|m| *m != d);
                        }
                    }
                    DeviceScopeTarget::DeviceGroup(g) => {
                        let at = snap.device_groups.iter().position(|row| row.0 == g)?;
                        snap.device_groups.remove(at);
                    }
                }
                snap.device_scopes.retain(|(_, t)| *t != target);
                Some((k, actor))
            }
        }
    }

    /// The users of `tenant` whose tool use is narrowed to some devices.
    fn narrowed(&self, tenant: usize) -> HashSet<UserId> {
        self.tenants[tenant]
            .snap
            .device_scopes
            .iter()
            .map(|(u, _)| *u)
            .collect()
    }

    /// One of tenant `k`'s items, or the first of the other tenant's (the
    /// last pick), so that some changes name another tenant's.
    fn across<T: Clone>(&self, k: usize, items: impl Fn(&Tenant) -> Vec<T>, i: u8) -> Option<T> {
        let mut all = items(&self.tenants[k]);
        all.extend(items(&self.tenants[1 - k]).into_iter().take(1));
        (!all.is_empty()).then(|| all[usize::from(i) % all.len()].clone())
    }

    /// The tenant, actor, device, the device's environment and the new
    /// site a site move names; the site may be another tenant's.
    fn site_move(
        &self,
        users: &[(usize, UserId)],
        actor: u8,
        device: u8,
        site: u8,
    ) -> Option<(usize, UserId, DeviceId, Environment, SiteId)> {
        let (k, actor) = Self::pick(users, actor)?;
        let (device, _, env) = Self::pick(&self.tenants[k].snap.devices, device)?;
        let site = self.across(k, |t| t.snap.sites.iter().map(|s| s.0).collect(), site)?;
        Some((k, actor, device, env, site))
    }

    /// What every user of `tenant` could do on `device` if it were at
    /// `site` (in `env`), before it moves: what their bindings give on a
    /// device of that environment there, tool use narrowed by their device
    /// scope as it stands (a move does not change device scopes).
    fn abilities_at(
        &self,
        tenant: usize,
        device: DeviceId,
        site: SiteId,
        env: Environment,
    ) -> HashSet<(UserId, Permission, Resource)> {
        let t = &self.tenants[tenant];
        let bindings_only = AuthzIndex::compile(
            t.id,
            &TenantSnapshot {
                device_scopes: Vec::new(),
                ..t.snap.clone()
            },
        );
        let mut out = HashSet::new();
        for u in &t.snap.users {
            for p in Permission::ALL {
                let given = bindings_only
                    .decide_in(*u, *p, Resource::Site(site), env)
                    .is_some_and(|d| d.is_allowed());
                if given && (!p.is_tool() || self.scope_admits(tenant, *u, device)) {
                    out.insert((*u, *p, Resource::Device(device)));
                }
            }
        }
        out
    }

    /// Whether `user`'s device scope lets it use tools on `device`: it has
    /// none, or one of its entries names the device or a group holding it.
    fn scope_admits(&self, tenant: usize, user: UserId, device: DeviceId) -> bool {
        let snap = &self.tenants[tenant].snap;
        let mut entries = snap
            .device_scopes
            .iter()
            .filter(|(u, _)| *u == user)
            .peekable();
        entries.peek().is_none()
            || entries.any(|(_, target)| match target {
                DeviceScopeTarget::Device(d) => *d == device,
                DeviceScopeTarget::DeviceGroup(g) => snap
                    .device_groups
                    .iter()
                    .any(|(h, members)| h == g && members.contains(&device)),
            })
    }

    /// The tenant, actor, device and new environment a move names.
    fn device_move(
        &self,
        users: &[(usize, UserId)],
        actor: u8,
        device: u8,
        env: u8,
    ) -> Option<(usize, UserId, DeviceId, Environment)> {
        let (k, actor) = Self::pick(users, actor)?;
        let devices = &self.tenants[k].snap.devices;
        let (device, _, _) = Self::pick(devices, device)?;
        let env = Environment::ALL[usize::from(env) % Environment::ALL.len()];
        Some((k, actor, device, env))
    }

    /// What every user of `tenant` could do on `device` if it were in
    /// `env`, as the engine decides it before the device moves.
    fn abilities_in(
        &self,
        tenant: usize,
        device: DeviceId,
        env: Environment,
    ) -> HashSet<(UserId, Permission, Resource)> {
        let idx = self.index(tenant);
        let r = Resource::Device(device);
        let mut out = HashSet::new();
        for u in &self.tenants[tenant].snap.users {
            for p in Permission::ALL {
                if idx
                    .decide_in(*u, *p, r, env)
                    .is_some_and(|d| d.is_allowed())
                {
                    out.insert((*u, *p, r));
                }
            }
        }
        out
    }

    /// What every user of `tenant` may do, resources other than users.
    fn abilities(&self, tenant: usize) -> HashSet<(UserId, Permission, Resource)> {
        let idx = self.index(tenant);
        let t = &self.tenants[tenant];
        let mut out = HashSet::new();
        for u in &t.snap.users {
            for r in &t.resources {
                for p in Permission::ALL {
                    if idx.decide(*u, *p, *r).is_some_and(|d| d.is_allowed()) {
                        out.insert((*u, *p, *r));
                    }
                }
            }
        }
        out
    }
}

impl Tenant {
    fn role(&self, i: u8) -> RoleId {
        let mut all: Vec<RoleId> = BuiltinRole::ALL.iter().map(|r| r.id()).collect();
        all.extend(self.snap.custom_roles.iter().map(|(r, _)| *r));
        all[usize::from(i) % all.len()]
    }
}

fn binding(
    id: Uuid,
    tenant: TenantId,
    user: UserId,
    role: RoleId,
    scope: Scope,
    environments: Option<Vec<Environment>>,
) -> RoleBinding {
    RoleBinding {
        id: BindingId::from_uuid(id),
        tenant_id: tenant,
        user_id: user,
        role_id: role,
        scope,
        environments,
        created_at: OffsetDateTime::UNIX_EPOCH,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_change_leaves_anyone_able_to_do_what_neither_they_nor_its_maker_could(
        world in seed(),
        ops in prop::collection::vec(op(), 1..16),
    ) {
        let mut state = State::new(&world);
        let mut known: Vec<_> = (0..state.tenants.len()).map(|k| state.abilities(k)).collect();
        for op in &ops {
            // A device's move legitimately changes which bindings apply to
            // it, so what anyone may do on the moved device is held to what
            // their bindings already gave them at its new place (environment
            // or site), as decided before the move; nothing else may change.
            let users = state.users();
            let moved = match op {
                Op::MoveDevice { actor, device, env } => state
                    .device_move(&users, *actor, *device, *env)
                    .map(|(k, _, d, env)| (Resource::Device(d), state.abilities_in(k, d, env))),
                Op::MoveToSite {
                    actor,
                    device,
                    site,
                } => state
                    .site_move(&users, *actor, *device, *site)
                    .map(|(k, _, d, env, site)| {
                        (Resource::Device(d), state.abilities_at(k, d, site, env))
                    }),
                _ => None,
            };
            let foreign_site = match op {
                Op::MoveToSite {
                    actor,
                    device,
                    site,
                } => state
                    .site_move(&users, *actor, *device, *site)
                    .is_some_and(|(k, _, _, _, site)| {
                        !state.tenants[k].snap.sites.iter().any(|s| s.0 == site)
                    }),
                _ => false,
            };
            let narrowed: Vec<_> = (0..state.tenants.len()).map(|k| state.narrowed(k)).collect();
            let applied = state.apply(op);
            prop_assert!(
                !(foreign_site && applied.is_some()),
                "{:?} moved a device into another tenant's site",
                op
            );
            let Some((k, maker)) = applied else { continue };
            // Deleting a device or a group never lifts a device scope.
            if let Op::Delete { .. } = op {
                let lifted: Vec<_> = narrowed[k].difference(&state.narrowed(k)).copied().collect();
                prop_assert!(lifted.is_empty(), "{op:?} lifted the device scope of {lifted:?}");
            }
            let after = state.abilities(k);
            if let Some((device, expected)) = &moved {
                let (on_it, rest): (HashSet<_>, HashSet<_>) =
                    after.iter().partition(|(_, _, r)| r == device);
                prop_assert_eq!(&on_it, expected, "{:?} moved {:?}", op, device);
                let before: HashSet<_> =
                    known[k].iter().filter(|(_, _, r)| r != device).copied().collect();
                prop_assert_eq!(rest, before, "{:?} changed more than {:?}", op, device);
                // A device lands only where its mover may put devices: it
                // could change the device before, and may configure it in
                // its new environment, or create devices at its new site.
                let (held, needed) = match op {
                    Op::MoveDevice { .. } => (
                        [Permission::DeviceUpdate, Permission::DeviceConfigure],
                        Permission::DeviceConfigure,
                    ),
                    _ => (
                        [Permission::DeviceUpdate, Permission::DeviceUpdate],
                        Permission::DeviceCreate,
                    ),
                };
                for perm in held {
                    prop_assert!(
                        known[k].contains(&(maker, perm, *device)),
                        "{op:?}: {maker} moved {device:?} without {perm} on it"
                    );
                }
                prop_assert!(
                    on_it.contains(&(maker, needed, *device)),
                    "{op:?}: {maker} moved {device:?} where it lacks {needed}"
                );
            } else {
                for (user, perm, resource) in after.difference(&known[k]) {
                    prop_assert!(
                        known[k].contains(&(maker, *perm, *resource)),
                        "{op:?} let {user} do {perm} on {resource:?}, which neither it nor {maker} could"
                    );
                }
            }
            known[k] = after;
        }
    }
}
