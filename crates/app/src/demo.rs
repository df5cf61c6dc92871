//! Demo data for `rosgate serve --demo`: two tenants with the hierarchy,
//! sites, devices and users every example in the docs uses. Seeding is
//! idempotent: a second start finds the data and leaves it alone.

use kernel::{Clock, Entropy, Environment, TenantId};
use rbac::{BuiltinRole, RbacService};
use std::collections::BTreeMap;
use tenancy::service::NewDevice;
use tenancy::{Capabilities, Scope, TenancyError, TenancyService, UnitKind};

/// The demo users and their roles, as `(email, display name)`.
pub const DEMO_USERS: &[&str] = &[
    "owner@acme.test",
    "admin@acme.test",
    "lead@acme.test",
    "member@acme.test",
    "multi@acme.test",
    "approver@acme.test",
    "ops@acme.test",
    "owner@globex.test",
    "root@rosgate.test",
];

/// A demo user: tenant, email, display name and role bindings.
type Person = (
    TenantId,
    &'static str,
    &'static str,
    Vec<(BuiltinRole, Scope, Option<Vec<Environment>>)>,
);

/// Seeds the demo data unless it is already there; role bindings are
/// written straight to `rbac`'s store, stamped by `clock` and `entropy`.
pub async fn seed(
    t: &TenancyService,
    rbac: &RbacService,
    clock: &dyn Clock,
    entropy: &dyn Entropy,
) -> Result<(), TenancyError> {
    if t.repo().user_by_email("owner@acme.test").await?.is_some() {
        return Ok(());
    }
    let rbac_err = |e: rbac::RbacError| TenancyError::Conflict(e.to_string());

    let acme = t.create_tenant("acme").await?;
    let emea = t
        .create_unit(acme.id, UnitKind::Division, acme.id.uuid(), "emea")
        .await?;
    let ops = t
        .create_unit(acme.id, UnitKind::Group, emea.id, "ops")
        .await?;
    let core = t
        .create_unit(acme.id, UnitKind::Team, ops.id, "core")
        .await?;
    let edge = t
        .create_unit(acme.id, UnitKind::Team, ops.id, "edge")
        .await?;
    let hq = t.create_site(acme.id, core.id.into(), "acme-hq").await?;
    let branch = t
        .create_site(acme.id, edge.id.into(), "acme-branch")
        .await?;
    let device = |site, name: &str, host: &str, env, caps| NewDevice {
        site_id: site,
        name: name.into(),
        host: host.into(),
        port: 443,
        environment: env,
        tags: BTreeMap::from([("demo".to_owned(), "true".to_owned())]),
        capabilities: caps,
        tls: tenancy::DeviceTls::Verify,
        credentials: Some(tenancy::DeviceCredentials {
            username: "admin".into(),
            password: "demo".into(),
        }),
    };
    let hq_caps = Capabilities {
        allow_advanced_writes: true,
        ..Capabilities::default()
    };
    t.create_device(
        acme.id,
        device(hq.id, "acme-hq-r1", "127.0.0.1", Environment::Prod, hq_caps),
    )
    .await?;
    t.create_device(
        acme.id,
        device(
            branch.id,
            "acme-branch-r1",
            "127.0.0.1",
            Environment::Lab,
            Capabilities::ALL,
        ),
    )
    .await?;

    let globex = t.create_tenant("globex").await?;
    let g_div = t
        .create_unit(globex.id, UnitKind::Division, globex.id.uuid(), "main")
        .await?;
    let g_grp = t
        .create_unit(globex.id, UnitKind::Group, g_div.id, "main")
        .await?;
    let net = t
        .create_unit(globex.id, UnitKind::Team, g_grp.id, "net")
        .await?;
    let dc = t.create_site(globex.id, net.id.into(), "globex-dc").await?;
    t.create_device(
        globex.id,
        device(
            dc.id,
            "globex-dc-r1",
            "127.0.0.1",
            Environment::Prod,
            Capabilities::default(),
        ),
    )
    .await?;

    let operator = t.create_tenant("rosgate").await?;

    let team = |id: uuid::Uuid| Scope::Team(id.into());
    let people: Vec<Person> = vec![
        (
            acme.id,
            "owner@acme.test",
            "Acme Owner",
            vec![(BuiltinRole::OrgAdmin, Scope::Tenant(acme.id), None)],
        ),
        (
            acme.id,
            "admin@acme.test",
            "Acme Team Admin",
            vec![(BuiltinRole::TeamAdmin, team(core.id), None)],
        ),
        (
            acme.id,
            "lead@acme.test",
            "Acme Team Lead",
            vec![(BuiltinRole::TeamLead, team(core.id), None)],
        ),
        (
            acme.id,
            "member@acme.test",
            "Acme Member",
            vec![(BuiltinRole::Member, team(edge.id), None)],
        ),
        (
            acme.id,
            "multi@acme.test",
            "Acme Multi-team",
            vec![
                (BuiltinRole::Member, team(core.id), None),
                (BuiltinRole::Member, team(edge.id), None),
            ],
        ),
        (
            acme.id,
            "approver@acme.test",
            "Acme Approver",
            vec![(BuiltinRole::Approver, Scope::Tenant(acme.id), None)],
        ),
        (
            acme.id,
            "ops@acme.test",
            "Acme Ops",
            vec![(
                BuiltinRole::OpsRw,
                team(core.id),
                Some(vec![Environment::Lab, Environment::Staging]),
            )],
        ),
        (
            globex.id,
            "owner@globex.test",
            "Globex Owner",
            vec![(BuiltinRole::OrgAdmin, Scope::Tenant(globex.id), None)],
        ),
        (
            operator.id,
            "root@rosgate.test",
            "Platform Operator",
            vec![(BuiltinRole::OrgAdmin, Scope::Tenant(operator.id), None)],
        ),
    ];
    for (tenant, email, name, bindings) in people {
        let user = t
            .create_user(tenant, email, name, email == "root@rosgate.test")
            .await?;
        for (role, scope, environments) in bindings {
            let now = clock.now();
            let binding = rbac::RoleBinding {
                id: entropy.uuid_v7(now).into(),
                tenant_id: tenant,
                user_id: user.id,
                role_id: role.id(),
                scope,
                environments,
                created_at: now,
            };
            rbac.repo()
                .insert_binding(&binding)
                .await
                .map_err(|e| rbac_err(e.into()))?;
        }
    }
    Ok(())
}

/// Mints a fresh API token for every demo user, so a newcomer can call the
/// API at once. Returns `(email, token)` pairs.
pub async fn tokens(tenancy: &TenancyService) -> Result<Vec<(String, String)>, TenancyError> {
    let mut out = Vec::new();
    for email in DEMO_USERS {
        let Some(user) = tenancy.repo().user_by_email(email).await? else {
            continue;
        };
        let (_, secret) = tenancy
            .create_api_token(&user, "demo", Some(time::Duration::days(1)))
            .await?;
        out.push(((*email).to_owned(), secret.token));
    }
    Ok(out)
}

/// Points every demo device at a simulated RouterOS of its own, so tools
/// work out of the box: plain HTTP on 127.0.0.1, the demo credentials.
/// Run on every start: the simulator's ports change from run to run.
pub async fn attach_simulator(
    t: &TenancyService,
    sim: &routeros_sim::Simulator,
) -> Result<usize, Box<dyn std::error::Error>> {
    let mut n = 0;
    for tenant in t.repo().tenants().await? {
        for d in t.repo().devices(tenant.id).await? {
            if d.tags.get("demo").map(String::as_str) != Some("true") {
                continue;
            }
            let dev = sim.add_device(&d.name, "admin", "demo").await?;
            t.update_device(
                d.id,
                tenancy::service::DevicePatch {
                    host: Some(dev.host.clone()),
                    port: Some(dev.port),
                    tls: Some(tenancy::DeviceTls::PlainHttp),
                    ..Default::default()
                },
            )
            .await?;
            n += 1;
        }
    }
    Ok(n)
}
