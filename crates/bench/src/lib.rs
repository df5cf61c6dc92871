//! The authorization benchmark's workload, and the contract the engines it
//! compares fulfil. The engines themselves (cedar-policy, casbin and the
//! floor beside rosgate's index) live in `benches/authz/`, so the policy
//! engines stay dev-only dependencies.
//!
//! The question the benchmark answers: is rosgate's compiled per-tenant
//! index ([`rbac::AuthzIndex`]) fast enough to sit on every request, and how
//! does it compare with general-purpose policy engines (cedar-policy,
//! casbin) modelling the same rules, and with the least a lookup could cost
//! (a plain HashMap + bitmask floor)? All four must agree on every decision
//! before any is timed.
//!
//! Rules, as in `docs/authorization.md`: tenant > division > group > team >
//! site; a binding reaches its scope and everything below; `org_admin`
//! grants everything in its tenant; nothing crosses tenants.

#![allow(clippy::expect_used)] // benchmark set-up: failing loudly is right

use kernel::{BindingId, SeededEntropy, SiteId, TeamId, TenantId, UserId};
use rbac::index::UnitRow;
use rbac::{BuiltinRole, Permission, RoleBinding, TenantSnapshot};
use std::collections::HashMap;
use tenancy::{Scope, UnitKind};
use uuid::Uuid;

/// Size of the workload.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub tenants: usize,
    pub teams: usize,
    pub users: usize,
    pub sites: usize,
    pub requests: usize,
    /// Percentage of requests naming a site of another tenant.
    pub cross_tenant_percent: u64,
}

impl Shape {
    /// The workload of the issue: 50 × 20 × 40 × 100, 100k requests, 15 % cross-tenant.
    pub const ISSUE: Shape = Shape {
        tenants: 50,
        teams: 20,
        users: 40,
        sites: 100,
        requests: 100_000,
        cross_tenant_percent: 15,
    };
}

/// The site permissions requests draw from.
pub const ACTIONS: [Permission; 5] = [
    Permission::SiteRead,
    Permission::SiteUpdate,
    Permission::SiteDelete,
    Permission::SitePublish,
    Permission::SiteCreate,
];

/// One tenant of the workload.
#[derive(Debug, Clone)]
pub struct TenantData {
    pub id: TenantId,
    pub snapshot: TenantSnapshot,
    /// site → team → group → division, for engines that need the chain.
    pub site_chain: Vec<(SiteId, [Uuid; 3])>,
}

/// One authorization request.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub user: UserId,
    pub action: Permission,
    pub site: SiteId,
}

/// The whole workload.
#[derive(Debug, Clone)]
pub struct Workload {
    pub tenants: Vec<TenantData>,
    /// Each user's tenant: what a principal carries in production.
    pub user_tenant: HashMap<UserId, TenantId>,
    pub requests: Vec<Request>,
}

struct Ids(u128);

impl Ids {
    fn next(&mut self) -> Uuid {
        self.0 += 1;
        Uuid::from_u128(self.0)
    }
}

fn pick(rng: &SeededEntropy, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

/// Builds the workload deterministically from `seed`.
pub fn workload(shape: Shape, seed: u64) -> Workload {
    let rng = SeededEntropy::new(seed);
    let mut ids = Ids(1 << 64);
    let mut tenants = Vec::with_capacity(shape.tenants);
    let mut user_tenant = HashMap::new();
    for _ in 0..shape.tenants {
        let tenant = TenantId::from_uuid(ids.next());
        let mut snap = TenantSnapshot {
            tenant_id: Some(tenant),
            ..TenantSnapshot::default()
        };
        let divisions: Vec<Uuid> = (0..2).map(|_| ids.next()).collect();
        for d in &divisions {
            snap.units.push(UnitRow {
                id: *d,
                kind: UnitKind::Division,
                parent_id: tenant.uuid(),
            });
        }
        let groups: Vec<(Uuid, Uuid)> = (0..4).map(|i| (ids.next(), divisions[i % 2])).collect();
        for (g, d) in &groups {
            snap.units.push(UnitRow {
                id: *g,
                kind: UnitKind::Group,
                parent_id: *d,
            });
        }
        let teams: Vec<(Uuid, usize)> = (0..shape.teams)
            .map(|i| (ids.next(), i % groups.len()))
            .collect();
        for (t, g) in &teams {
            snap.units.push(UnitRow {
                id: *t,
                kind: UnitKind::Team,
                parent_id: groups[*g].0,
            });
        }
        let mut site_chain = Vec::with_capacity(shape.sites);
        for _ in 0..shape.sites {
            let site = SiteId::from_uuid(ids.next());
            let (team, g) = teams[pick(&rng, teams.len())];
            let (group, division) = groups[g];
            snap.sites.push((site, TeamId::from_uuid(team)));
            site_chain.push((site, [team, group, division]));
        }
        for u in 0..shape.users {
            let user = UserId::from_uuid(ids.next());
            snap.users.push(user);
            user_tenant.insert(user, tenant);
            let mut bind = |role: BuiltinRole, scope: Scope| {
                snap.bindings.push(RoleBinding {
                    id: BindingId::from_uuid(ids.next()),
                    tenant_id: tenant,
                    user_id: user,
                    role_id: role.id(),
                    scope,
                    environments: None,
                    created_at: time::OffsetDateTime::UNIX_EPOCH,
                });
            };
            if u == 0 || (u == 1 && rng.next_u64().is_multiple_of(2)) {
                bind(BuiltinRole::OrgAdmin, Scope::Tenant(tenant));
                continue;
            }
            let team_roles = [
                BuiltinRole::TeamAdmin,
                BuiltinRole::TeamLead,
                BuiltinRole::Member,
            ];
            if rng.next_u64().is_multiple_of(10) {
                let role = team_roles[pick(&rng, 3)];
                bind(
                    role,
                    Scope::Group(groups[pick(&rng, groups.len())].0.into()),
                );
            }
            for _ in 0..1 + pick(&rng, 2) {
                let role = team_roles[pick(&rng, 3)];
                bind(role, Scope::Team(teams[pick(&rng, teams.len())].0.into()));
            }
        }
        tenants.push(TenantData {
            id: tenant,
            snapshot: snap,
            site_chain,
        });
    }
    let mut requests = Vec::with_capacity(shape.requests);
    for _ in 0..shape.requests {
        let t = pick(&rng, tenants.len());
        let users = &tenants[t].snapshot.users;
        let user = users[pick(&rng, users.len())];
        let site_tenant = if rng.next_u64() % 100 < shape.cross_tenant_percent {
            (t + 1 + pick(&rng, tenants.len() - 1)) % tenants.len()
        } else {
            t
        };
        let sites = &tenants[site_tenant].site_chain;
        let site = sites[pick(&rng, sites.len())].0;
        requests.push(Request {
            user,
            action: ACTIONS[pick(&rng, ACTIONS.len())],
            site,
        });
    }
    Workload {
        tenants,
        user_tenant,
        requests,
    }
}

/// An engine answering allow or deny.
pub trait Engine {
    /// A short name for reports.
    fn name(&self) -> &'static str;
    /// Whether `r` is allowed.
    fn allows(&self, r: &Request) -> bool;
}

/// Runs every request through every engine and returns the number of
/// allows, or the first disagreement.
pub fn agree(engines: &[&dyn Engine], requests: &[Request]) -> Result<usize, String> {
    let mut allows = 0;
    for (i, r) in requests.iter().enumerate() {
        let first = engines[0].allows(r);
        for e in &engines[1..] {
            if e.allows(r) != first {
                return Err(format!(
                    "request {i} ({r:?}): {} says {first}, {} says {}",
                    engines[0].name(),
                    e.name(),
                    !first
                ));
            }
        }
        allows += usize::from(first);
    }
    Ok(allows)
}
