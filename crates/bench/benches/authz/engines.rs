//! The four engines, each built from the same [`Workload`].

#![allow(clippy::expect_used)]

use bench::{ACTIONS, Engine, Request, Workload};
use kernel::{SiteId, TenantId, UserId};
use rbac::{AuthzIndex, BuiltinRole, Permission, Resource};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use tenancy::Scope;
use uuid::Uuid;

/// rosgate: one compiled index per tenant; the caller's tenant comes from its principal.
#[derive(Debug)]
pub struct Rosgate {
    user_tenant: HashMap<UserId, TenantId>,
    indexes: HashMap<TenantId, AuthzIndex>,
}

impl Rosgate {
    pub fn new(w: &Workload) -> Self {
        Rosgate {
            user_tenant: w.user_tenant.clone(),
            indexes: w
                .tenants
                .iter()
                .map(|t| (t.id, AuthzIndex::compile(t.id, &t.snapshot)))
                .collect(),
        }
    }
}

impl Engine for Rosgate {
    fn name(&self) -> &'static str {
        "rosgate"
    }
    fn allows(&self, r: &Request) -> bool {
        let Some(t) = self.user_tenant.get(&r.user) else {
            return false;
        };
        self.indexes[t]
            .decide(r.user, r.action, Resource::Site(r.site))
            .is_some_and(|d| d.is_allowed())
    }
}

/// The floor: a site's tenant and ancestors, a user's tenant and (scope, mask) list.
#[derive(Debug)]
pub struct Floor {
    sites: HashMap<SiteId, (TenantId, [Uuid; 4])>,
    users: HashMap<UserId, (TenantId, Vec<(Uuid, u64)>)>,
}

impl Floor {
    pub fn new(w: &Workload) -> Self {
        let mut sites = HashMap::new();
        let mut users: HashMap<UserId, (TenantId, Vec<(Uuid, u64)>)> = HashMap::new();
        for t in &w.tenants {
            for (site, [team, group, division]) in &t.site_chain {
                sites.insert(*site, (t.id, [*team, *group, *division, t.id.uuid()]));
            }
            for u in &t.snapshot.users {
                users.insert(*u, (t.id, Vec::new()));
            }
            for b in &t.snapshot.bindings {
                let mask = BuiltinRole::from_id(b.role_id)
                    .expect("built-in")
                    .permissions()
                    .0;
                users
                    .get_mut(&b.user_id)
                    .expect("user")
                    .1
                    .push((b.scope.uuid(), mask));
            }
        }
        Floor { sites, users }
    }
}

impl Engine for Floor {
    fn name(&self) -> &'static str {
        "floor"
    }
    fn allows(&self, r: &Request) -> bool {
        let (Some((st, chain)), Some((ut, bindings))) =
            (self.sites.get(&r.site), self.users.get(&r.user))
        else {
            return false;
        };
        let bit = r.action.bit() | Permission::AdminAll.bit();
        st == ut
            && bindings
                .iter()
                .any(|(scope, mask)| mask & bit != 0 && chain.contains(scope))
    }
}

fn role_action_group(role: BuiltinRole) -> String {
    format!("role_{}", role.name())
}

const HIERARCHY_ROLES: [BuiltinRole; 4] = [
    BuiltinRole::OrgAdmin,
    BuiltinRole::TeamAdmin,
    BuiltinRole::TeamLead,
    BuiltinRole::Member,
];

/// cedar-policy: per tenant, one policy template per role, linked once per
/// binding (principal = the user, resource = the scope entity); concrete
/// actions are members of the action groups of the roles that grant them.
pub struct Cedar {
    user_tenant: HashMap<UserId, TenantId>,
    tenants: HashMap<TenantId, (cedar_policy::PolicySet, cedar_policy::Entities)>,
    authorizer: cedar_policy::Authorizer,
}

impl std::fmt::Debug for Cedar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cedar")
    }
}

fn euid(kind: &str, id: impl std::fmt::Display) -> cedar_policy::EntityUid {
    cedar_policy::EntityUid::from_type_name_and_id(
        cedar_policy::EntityTypeName::from_str(kind).expect("entity type"),
        cedar_policy::EntityId::new(id.to_string()),
    )
}

fn scope_euid(scope: Scope) -> cedar_policy::EntityUid {
    match scope {
        Scope::Tenant(t) => euid("Tenant", t),
        Scope::Division(d) => euid("Division", d),
        Scope::Group(g) => euid("Group", g),
        Scope::Team(t) => euid("Team", t),
    }
}

impl Cedar {
    pub fn new(w: &Workload) -> Self {
        use cedar_policy::{Entity, PolicyId, SlotId, Template};
        let mut tenants = HashMap::new();
        for t in &w.tenants {
            let mut set = cedar_policy::PolicySet::new();
            for role in HIERARCHY_ROLES {
                let src = format!(
                    r#"permit(principal == ?principal, action in Action::"{}", resource in ?resource);"#,
                    role_action_group(role)
                );
                let template =
                    Template::parse(Some(PolicyId::new(role.name())), src).expect("template");
                set.add_template(template).expect("add template");
            }
            for (i, b) in t.snapshot.bindings.iter().enumerate() {
                let role = BuiltinRole::from_id(b.role_id).expect("built-in");
                let slots = HashMap::from([
                    (SlotId::principal(), euid("User", b.user_id)),
                    (SlotId::resource(), scope_euid(b.scope)),
                ]);
                set.link(
                    PolicyId::new(role.name()),
                    PolicyId::new(format!("b{i}")),
                    slots,
                )
                .expect("link");
            }
            let mut entities = Vec::new();
            for role in HIERARCHY_ROLES {
                entities.push(Entity::new_no_attrs(
                    euid("Action", role_action_group(role)),
                    HashSet::new(),
                ));
            }
            for action in ACTIONS {
                let parents = HIERARCHY_ROLES
                    .into_iter()
                    .filter(|r| r.permissions().grants(action))
                    .map(|r| euid("Action", role_action_group(r)))
                    .collect();
                entities.push(Entity::new_no_attrs(
                    euid("Action", action.as_str()),
                    parents,
                ));
            }
            entities.push(Entity::new_no_attrs(euid("Tenant", t.id), HashSet::new()));
            let parent_of = |kind: tenancy::UnitKind, parent: Uuid| match kind {
                tenancy::UnitKind::Division => euid("Tenant", parent),
                tenancy::UnitKind::Group => euid("Division", parent),
                tenancy::UnitKind::Team => euid("Group", parent),
            };
            for u in &t.snapshot.units {
                let kind = match u.kind {
                    tenancy::UnitKind::Division => "Division",
                    tenancy::UnitKind::Group => "Group",
                    tenancy::UnitKind::Team => "Team",
                };
                entities.push(Entity::new_no_attrs(
                    euid(kind, u.id),
                    HashSet::from([parent_of(u.kind, u.parent_id)]),
                ));
            }
            for (site, team) in &t.snapshot.sites {
                entities.push(Entity::new_no_attrs(
                    euid("Site", site),
                    HashSet::from([euid("Team", team)]),
                ));
            }
            for u in &t.snapshot.users {
                entities.push(Entity::new_no_attrs(euid("User", u), HashSet::new()));
            }
            let entities = cedar_policy::Entities::from_entities(entities, None).expect("entities");
            tenants.insert(t.id, (set, entities));
        }
        Cedar {
            user_tenant: w.user_tenant.clone(),
            tenants,
            authorizer: cedar_policy::Authorizer::new(),
        }
    }
}

impl Engine for Cedar {
    fn name(&self) -> &'static str {
        "cedar-policy"
    }
    fn allows(&self, r: &Request) -> bool {
        let Some(t) = self.user_tenant.get(&r.user) else {
            return false;
        };
        let (policies, entities) = &self.tenants[t];
        let request = cedar_policy::Request::new(
            euid("User", r.user),
            euid("Action", r.action.as_str()),
            euid("Site", r.site),
            cedar_policy::Context::empty(),
            None,
        )
        .expect("request");
        self.authorizer
            .is_authorized(&request, policies, entities)
            .decision()
            == cedar_policy::Decision::Allow
    }
}

/// casbin: per tenant, RBAC with a resource hierarchy: `g` links a user to
/// `role@scope`, `g2` links site → team → group → division → tenant, and a
/// policy `role@scope, scope, action` exists for every action the role grants.
pub struct Casbin {
    user_tenant: HashMap<UserId, TenantId>,
    tenants: HashMap<TenantId, casbin::Enforcer>,
}

impl std::fmt::Debug for Casbin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Casbin")
    }
}

const CASBIN_MODEL: &str = r#"
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _
g2 = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && g2(r.obj, p.obj) && r.act == p.act
"#;

impl Casbin {
    pub fn new(w: &Workload) -> Self {
        use casbin::{CoreApi, DefaultModel, MemoryAdapter, MgmtApi};
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let mut tenants = HashMap::new();
        for t in &w.tenants {
            let enforcer = rt.block_on(async {
                let model = DefaultModel::from_str(CASBIN_MODEL).await.expect("model");
                let mut e = casbin::Enforcer::new(model, MemoryAdapter::default())
                    .await
                    .expect("enforcer");
                let mut policies = HashSet::new();
                let mut groupings = Vec::new();
                for b in &t.snapshot.bindings {
                    let role = BuiltinRole::from_id(b.role_id).expect("built-in");
                    let subject = format!("{}@{}", role.name(), b.scope.uuid());
                    groupings.push(vec![b.user_id.to_string(), subject.clone()]);
                    for a in ACTIONS.iter().filter(|a| role.permissions().grants(**a)) {
                        policies.insert(vec![
                            subject.clone(),
                            b.scope.uuid().to_string(),
                            a.as_str().to_owned(),
                        ]);
                    }
                }
                e.add_policies(policies.into_iter().collect())
                    .await
                    .expect("policies");
                e.add_grouping_policies(groupings).await.expect("g");
                let mut g2 = Vec::new();
                for u in &t.snapshot.units {
                    g2.push(vec![u.id.to_string(), u.parent_id.to_string()]);
                }
                for (site, team) in &t.snapshot.sites {
                    g2.push(vec![site.to_string(), team.to_string()]);
                }
                e.add_named_grouping_policies("g2", g2).await.expect("g2");
                e
            });
            tenants.insert(t.id, enforcer);
        }
        Casbin {
            user_tenant: w.user_tenant.clone(),
            tenants,
        }
    }
}

impl Engine for Casbin {
    fn name(&self) -> &'static str {
        "casbin"
    }
    fn allows(&self, r: &Request) -> bool {
        use casbin::CoreApi;
        let Some(t) = self.user_tenant.get(&r.user) else {
            return false;
        };
        self.tenants[t]
            .enforce((r.user.to_string(), r.site.to_string(), r.action.as_str()))
            .expect("enforce")
    }
}
