//! Reach over what the index decides about, for readers of the audit
//! trail: an event names its resource by kind and id, and a reader over
//! part of a tenant sees it only when that resource, or the whole of the
//! user it names, lies in the reader's reach.
//!
//! A user counts as a whole: the reader must cover every place the user
//! is bound. A user that is also bound beside the reader's reach (an org
//! admin bound tenant-wide) is out of it, so what it does elsewhere never
//! shows through a binding it happens to hold inside.

use super::{AuthzIndex, ROOT, Resource};
use crate::permission::Permission;
use kernel::{DeviceGroupId, DeviceId, SiteId, UserId};
use uuid::Uuid;

impl Resource {
    /// The resource an audit record names by [`Resource::kind`] and id, or
    /// `None` for a kind the index does not decide over (a plan, a tool, a
    /// session) or a kind that needs an id and has none.
    pub fn from_kind(kind: &str, id: Option<Uuid>) -> Option<Resource> {
        Some(match (kind, id) {
            ("platform", _) => Resource::Platform,
            ("tenant", Some(id)) => Resource::Tenant(kernel::TenantId::from_uuid(id)),
            ("unit", Some(id)) => Resource::Unit(id),
            ("site", Some(id)) => Resource::Site(SiteId::from_uuid(id)),
            ("device", Some(id)) => Resource::Device(DeviceId::from_uuid(id)),
            ("user", Some(id)) => Resource::User(UserId::from_uuid(id)),
            ("device_group", Some(id)) => Resource::DeviceGroup(DeviceGroupId::from_uuid(id)),
            _ => return None,
        })
    }
}

impl AuthzIndex {
    /// Whether `reader` holds `perm` over every place `target` is bound. A
    /// user without bindings sits at the tenant, so only a tenant-wide
    /// binding covers it; a user not in this tenant is covered by nobody.
    /// Environment limits play no part: they restrict devices, not people.
    pub fn covers_user(&self, reader: UserId, perm: Permission, target: UserId) -> bool {
        let (Some(reader), Some(target)) = (self.users.get(&reader), self.users.get(&target))
        else {
            return false;
        };
        let covered = |place: u32| {
            reader
                .bindings
                .iter()
                .any(|b| b.perms.grants(perm) && self.covers(b.node, place))
        };
        if target.bindings.is_empty() {
            return covered(ROOT);
        }
        target.bindings.iter().all(|b| covered(b.node))
    }

    /// Whether `resource` is in `reader`'s reach for `perm`, a user
    /// counting only when covered whole ([`AuthzIndex::covers_user`]).
    pub fn reaches(&self, reader: UserId, perm: Permission, resource: Resource) -> bool {
        match resource {
            Resource::User(target) => self.covers_user(reader, perm, target),
            other => self
                .decide(reader, perm, other)
                .is_some_and(|d| d.is_allowed()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{TenantSnapshot, UnitRow};
    use crate::model::RoleBinding;
    use crate::role::BuiltinRole as R;
    use kernel::{BindingId, Environment, TeamId, TenantId};
    use tenancy::{Scope, UnitKind};
    use time::OffsetDateTime;

    struct Lab {
        tenant: TenantId,
        snap: TenantSnapshot,
        next: u128,
    }

    impl Lab {
        fn new() -> Lab {
            Lab {
                tenant: TenantId::from_uuid(Uuid::from_u128(1)),
                snap: TenantSnapshot::default(),
                next: 10,
            }
        }
        fn id(&mut self) -> Uuid {
            self.next += 1;
            Uuid::from_u128(self.next)
        }
        fn team(&mut self) -> TeamId {
            let id = self.id();
            self.snap.units.push(UnitRow {
                id,
                kind: UnitKind::Team,
                parent_id: self.tenant.uuid(),
            });
            TeamId::from_uuid(id)
        }
        fn device(&mut self, team: TeamId) -> DeviceId {
            let site = SiteId::from_uuid(self.id());
            self.snap.sites.push((site, team));
            let d = DeviceId::from_uuid(self.id());
            self.snap.devices.push((d, site, Environment::Prod));
            d
        }
        fn user(&mut self, bindings: &[(R, Scope)]) -> UserId {
            let u = UserId::from_uuid(self.id());
            self.snap.users.push(u);
            for (role, scope) in bindings {
                let id = BindingId::from_uuid(self.id());
                self.snap.bindings.push(RoleBinding {
                    id,
                    tenant_id: self.tenant,
                    user_id: u,
                    role_id: role.id(),
                    scope: *scope,
                    environments: None,
                    created_at: OffsetDateTime::UNIX_EPOCH,
                });
            }
            u
        }
    }

    #[test]
    fn a_user_is_covered_only_when_every_binding_of_it_is() {
        let mut lab = Lab::new();
        let (a, b) = (lab.team(), lab.team());
        let admin = lab.user(&[(R::TeamAdmin, Scope::Team(a))]);
        let member = lab.user(&[(R::Member, Scope::Team(a))]);
        let straddler = lab.user(&[(R::Member, Scope::Team(a)), (R::Member, Scope::Team(b))]);
        let owner = lab.user(&[
            (R::OrgAdmin, Scope::Tenant(lab.tenant)),
            (R::Member, Scope::Team(a)),
        ]);
        let unbound = lab.user(&[]);
        let idx = AuthzIndex::compile(lab.tenant, &lab.snap);
        let p = Permission::AuditRead;

        assert!(idx.covers_user(admin, p, member));
        assert!(idx.covers_user(admin, p, admin));
        assert!(!idx.covers_user(admin, p, straddler));
        assert!(!idx.covers_user(admin, p, owner), "bound tenant-wide");
        assert!(!idx.covers_user(admin, p, unbound), "sits at the tenant");
        assert!(
            !idx.covers_user(member, p, member),
            "members do not read the trail"
        );
        assert!(idx.covers_user(owner, p, unbound));
        assert!(!idx.covers_user(admin, p, UserId::from_uuid(Uuid::from_u128(999))));
        assert!(idx.reaches(admin, p, Resource::User(member)));
        assert!(!idx.reaches(admin, p, Resource::User(owner)));
    }

    #[test]
    fn resources_are_reached_as_decisions_reach_them() {
        let mut lab = Lab::new();
        let (a, b) = (lab.team(), lab.team());
        let (ours, theirs) = (lab.device(a), lab.device(b));
        let admin = lab.user(&[(R::TeamAdmin, Scope::Team(a))]);
        let idx = AuthzIndex::compile(lab.tenant, &lab.snap);
        let p = Permission::AuditRead;
        assert!(idx.reaches(admin, p, Resource::Device(ours)));
        assert!(!idx.reaches(admin, p, Resource::Device(theirs)));
        assert!(idx.reaches(admin, p, Resource::Unit(a.uuid())));
        assert!(!idx.reaches(admin, p, Resource::Tenant(lab.tenant)));
        assert!(!idx.reaches(admin, p, Resource::Platform));
    }

    #[test]
    fn kinds_read_back_into_the_resources_they_were_written_from() {
        let id = Uuid::from_u128(7);
        for r in [
            Resource::Platform,
            Resource::Tenant(TenantId::from_uuid(id)),
            Resource::Unit(id),
            Resource::Site(SiteId::from_uuid(id)),
            Resource::Device(DeviceId::from_uuid(id)),
            Resource::User(UserId::from_uuid(id)),
            Resource::DeviceGroup(DeviceGroupId::from_uuid(id)),
        ] {
            assert_eq!(Resource::from_kind(r.kind(), r.id()), Some(r));
        }
        assert_eq!(Resource::from_kind("plan", Some(id)), None);
        assert_eq!(Resource::from_kind("session", None), None);
        assert_eq!(Resource::from_kind("device", None), None);
    }
}
