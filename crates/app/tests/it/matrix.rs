//! The authorization matrix: every operation × every built-in role ×
//! (own scope, sibling team, other tenant), checked over HTTP against the
//! expected-outcome table below. The table must name every operation of the
//! generated OpenAPI document: a new endpoint without a row fails the test.
//!
//! Each role's user is bound at team A (org_admin at the tenant). "own"
//! targets live in team A (or are team A's division/group), "sibling"
//! targets in team B of the same tenant, "other" targets in another tenant.

use rbac::BuiltinRole as R;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tenancy::{OrgUnit, Scope, Tenant, UnitKind};
use testkit::{TestApp, short_id};
use uuid::Uuid;

/// Roles by letter: O org_admin, A team_admin, L team_lead, M member,
/// R read_only, W ops_rw, D admin, P approver.
const ROLES: [(char, R); 8] = [
    ('O', R::OrgAdmin),
    ('A', R::TeamAdmin),
    ('L', R::TeamLead),
    ('M', R::Member),
    ('R', R::ReadOnly),
    ('W', R::OpsRw),
    ('D', R::Admin),
    ('P', R::Approver),
];

const ALL: &str = "OALMRWDP";

/// `(operation, allowed at own, allowed at sibling, allowed at other)`.
/// `None` in the last two columns: the operation names no target.
const TABLE: &[(&str, &str, Option<&str>, Option<&str>)] = &[
    // hierarchy
    ("createTenant", "", None, None),
    ("listTenants", "O", None, None),
    ("getTenant", "O", Some("O"), Some("")),
    ("updateTenant", "O", Some("O"), Some("")),
    ("createDivision", "O", Some("O"), Some("")),
    ("listDivisions", "O", None, None),
    ("getDivision", "O", Some("O"), Some("")),
    ("updateDivision", "O", Some("O"), Some("")),
    ("deleteDivision", "O", Some("O"), Some("")),
    ("createGroup", "O", Some("O"), Some("")),
    ("listGroups", "O", None, None),
    ("getGroup", "O", Some("O"), Some("")),
    ("updateGroup", "O", Some("O"), Some("")),
    ("deleteGroup", "O", Some("O"), Some("")),
    ("createTeam", "O", Some("O"), Some("")),
    ("listTeams", ALL, None, None),
    ("getTeam", ALL, Some("O"), Some("")),
    ("updateTeam", "OA", Some("O"), Some("")),
    ("deleteTeam", "O", Some("O"), Some("")),
    // directory
    ("getMe", ALL, None, None),
    ("listUsers", "OALM", None, None),
    ("getUser", "OALM", Some("O"), Some("")),
    ("updateUser", "OA", Some("O"), Some("")),
    ("removeUser", "OA", Some("O"), Some("")),
    ("linkUserIdentity", "O", Some("O"), Some("")),
    ("listUserIdentities", "OALM", Some("O"), Some("")),
    ("unlinkUserIdentity", "O", Some("O"), Some("")),
    ("createInvitation", "OA", Some("O"), Some("")),
    ("createToken", ALL, None, None),
    ("listTokens", ALL, None, None),
    ("revokeToken", "OA", Some("O"), Some("")),
    // inventory
    ("createSite", "OALM", Some("O"), Some("")),
    ("listSites", ALL, None, None),
    ("getSite", ALL, Some("O"), Some("")),
    ("updateSite", "OALM", Some("O"), Some("")),
    ("deleteSite", "OAL", Some("O"), Some("")),
    ("publishSite", "OA", Some("O"), Some("")),
    ("createDevice", "OAL", Some("O"), Some("")),
    ("listDevices", ALL, None, None),
    ("getDevice", ALL, Some("O"), Some("")),
    ("updateDevice", "OAL", Some("O"), Some("")),
    ("deleteDevice", "OA", Some("O"), Some("")),
    ("setDeviceCredentials", "OA", Some("O"), Some("")),
    ("createDeviceGroup", "O", None, None),
    ("listDeviceGroups", ALL, None, None),
    ("getDeviceGroup", "O", Some("O"), Some("")),
    ("updateDeviceGroup", "O", Some("O"), Some("")),
    ("deleteDeviceGroup", "O", Some("O"), Some("")),
    // access
    ("listRoles", ALL, None, None),
    ("createRole", "O", None, None),
    ("updateRole", "O", Some("O"), Some("")),
    ("deleteRole", "O", Some("O"), Some("")),
    ("createRoleBinding", "O", Some("O"), Some("")),
    ("listRoleBindings", "OALM", None, None),
    ("deleteRoleBinding", "O", Some("O"), Some("")),
    ("grantDeviceScope", "OA", Some("O"), Some("")),
    ("listDeviceScopes", "OALM", None, None),
    ("revokeDeviceScope", "OA", Some("O"), Some("")),
    ("checkAuthorization", ALL, Some(ALL), Some(ALL)),
    // tools: a fundamental read on a device with its required argument
    // missing: allowed calls pass every guard and end at input checking (422),
    // so the matrix never reaches a device.
    ("listTools", ALL, None, None),
    ("runDeviceTool", "OALMRWD", Some("O"), Some("")),
    // Fleet tools read their devices from the body, so input is checked
    // before authorization: invalid input is 422 for everyone. Their guards
    // are tested in tools.rs.
    ("runFleetTool", ALL, None, None),
    // audit trail: `audit:read` anywhere lists what the caller's part of
    // the tenant did; verification and compliance reports span the tenant
    // and need `audit:read` / `compliance:read` over all of it.
    ("listAuditEvents", "OADP", None, None),
    ("verifyAuditChain", "O", None, None),
    // the platform chain: platform administrators only, whatever the role.
    ("listPlatformAuditEvents", "", None, None),
    ("verifyPlatformAuditChain", "", None, None),
    ("productionChangesReport", "O", None, None),
    ("denialsReport", "O", None, None),
    ("topUsersReport", "O", None, None),
];

/// Operations that need no authentication: the token in the body is the credential.
const PUBLIC: &[&str] = &["acceptInvitation"];

/// Everything a target level offers to build requests from.
struct Place {
    tenant: Tenant,
    division: OrgUnit,
    group: OrgUnit,
    team: OrgUnit,
    site: tenancy::Site,
    device: tenancy::Device,
    member: tenancy::User,
    member_token_id: Uuid,
    device_group: Uuid,
    role: Uuid,
    binding: Uuid,
    device_scope: Uuid,
}

async fn place(app: &TestApp, tenant: &Tenant, team: &OrgUnit) -> Place {
    let group = app
        .state
        .tenancy
        .unit(UnitKind::Group, team.parent_id)
        .await
        .unwrap();
    let division = app
        .state
        .tenancy
        .unit(UnitKind::Division, group.parent_id)
        .await
        .unwrap();
    let site = app
        .site(tenant.id, team, &format!("site-{}", short_id()))
        .await;
    let device = app.device(tenant.id, &site, kernel::Environment::Lab).await;
    let (member, _) = app
        .user(tenant.id, &[(R::Member, Scope::Team(team.id.into()))])
        .await;
    let (token, _) = app
        .state
        .tenancy
        .create_api_token(&member, "t", None)
        .await
        .unwrap();
    let dg = app
        .state
        .tenancy
        .create_device_group(tenant.id, &format!("dg-{}", short_id()), vec![device.id])
        .await
        .unwrap();
    let role = app
        .role(
            tenant.id,
            &format!("role-{}", short_id()),
            rbac::PermissionSet::of(&[rbac::Permission::SiteRead]),
        )
        .await;
    let bindings = app.state.rbac.repo().bindings(tenant.id).await.unwrap();
    let binding = bindings
        .iter()
        .find(|b| b.user_id == member.id)
        .unwrap()
        .id
        .uuid();
    let scope = app
        .device_scope(
            tenant.id,
            member.id,
            rbac::DeviceScopeTarget::Device(device.id),
        )
        .await;
    Place {
        tenant: tenant.clone(),
        division,
        group,
        team: team.clone(),
        site,
        device,
        member,
        member_token_id: token.id.uuid(),
        device_group: dg.id.uuid(),
        role: role.id.uuid(),
        binding,
        device_scope: scope.id.uuid(),
    }
}

/// A resource for a destructive operation, made fresh so every case has its own.
async fn fresh(app: &TestApp, op: &str, p: &Place) -> Uuid {
    let t = &p.tenant;
    match op {
        "deleteDivision" => {
            app.unit(t, UnitKind::Division, t.id.uuid(), &short_id())
                .await
                .id
        }
        "deleteGroup" => {
            app.unit(t, UnitKind::Group, p.division.id, &short_id())
                .await
                .id
        }
        "deleteTeam" => {
            app.unit(t, UnitKind::Team, p.group.id, &short_id())
                .await
                .id
        }
        "deleteSite" => app.site(t.id, &p.team, &short_id()).await.id.uuid(),
        "deleteDevice" | "grantDeviceScope" => app
            .device(t.id, &p.site, kernel::Environment::Lab)
            .await
            .id
            .uuid(),
        "deleteDeviceGroup" => app
            .state
            .tenancy
            .create_device_group(t.id, &short_id(), vec![])
            .await
            .unwrap()
            .id
            .uuid(),
        "unlinkUserIdentity" => {
            let (u, _) = app
                .user(t.id, &[(R::Member, Scope::Team(p.team.id.into()))])
                .await;
            app.state
                .tenancy
                .link_identity(&u, "https://idp.example.test", &u.id.to_string())
                .await
                .unwrap();
            u.id.uuid()
        }
        "removeUser" | "revokeToken" | "deleteRoleBinding" | "revokeDeviceScope" => {
            let (u, _) = app
                .user(t.id, &[(R::Member, Scope::Team(p.team.id.into()))])
                .await;
            match op {
                "removeUser" => u.id.uuid(),
                "revokeToken" => app
                    .state
                    .tenancy
                    .create_api_token(&u, "t", None)
                    .await
                    .unwrap()
                    .0
                    .id
                    .uuid(),
                "deleteRoleBinding" => {
                    let bs = app.state.rbac.repo().bindings(t.id).await.unwrap();
                    bs.iter().find(|b| b.user_id == u.id).unwrap().id.uuid()
                }
                _ => app
                    .device_scope(t.id, u.id, rbac::DeviceScopeTarget::Device(p.device.id))
                    .await
                    .id
                    .uuid(),
            }
        }
        "deleteRole" => app
            .role(t.id, &short_id(), rbac::PermissionSet::EMPTY)
            .await
            .id
            .uuid(),
        _ => Uuid::nil(),
    }
}

/// The request for `op` against `p`; `f` is the fresh resource of destructive operations.
fn request(op: &str, p: &Place, f: Uuid) -> (Method, String, Option<Value>, StatusCode) {
    use Method as M;
    use StatusCode as S;
    let n = format!("n-{}", short_id());
    let v1 = "/api/v1";
    let (m, path, body, ok) = match op {
        "createTenant" => (
            M::POST,
            "/tenants".into(),
            Some(json!({"name": n})),
            S::CREATED,
        ),
        "listTenants" => (M::GET, "/tenants".into(), None, S::OK),
        "getTenant" => (M::GET, format!("/tenants/{}", p.tenant.id), None, S::OK),
        "updateTenant" => (
            M::PATCH,
            format!("/tenants/{}", p.tenant.id),
            Some(json!({"name": n})),
            S::OK,
        ),
        "createDivision" => (
            M::POST,
            "/divisions".into(),
            Some(json!({"name": n, "tenant_id": p.tenant.id})),
            S::CREATED,
        ),
        "listDivisions" => (M::GET, "/divisions".into(), None, S::OK),
        "getDivision" => (M::GET, format!("/divisions/{}", p.division.id), None, S::OK),
        "updateDivision" => (
            M::PATCH,
            format!("/divisions/{}", p.division.id),
            Some(json!({"name": n})),
            S::OK,
        ),
        "deleteDivision" => (M::DELETE, format!("/divisions/{f}"), None, S::NO_CONTENT),
        "createGroup" => (
            M::POST,
            "/groups".into(),
            Some(json!({"name": n, "division_id": p.division.id})),
            S::CREATED,
        ),
        "listGroups" => (M::GET, "/groups".into(), None, S::OK),
        "getGroup" => (M::GET, format!("/groups/{}", p.group.id), None, S::OK),
        "updateGroup" => (
            M::PATCH,
            format!("/groups/{}", p.group.id),
            Some(json!({"name": n})),
            S::OK,
        ),
        "deleteGroup" => (M::DELETE, format!("/groups/{f}"), None, S::NO_CONTENT),
        "createTeam" => (
            M::POST,
            "/teams".into(),
            Some(json!({"name": n, "group_id": p.group.id})),
            S::CREATED,
        ),
        "listTeams" => (M::GET, "/teams".into(), None, S::OK),
        "getTeam" => (M::GET, format!("/teams/{}", p.team.id), None, S::OK),
        "updateTeam" => (
            M::PATCH,
            format!("/teams/{}", p.team.id),
            Some(json!({"name": n})),
            S::OK,
        ),
        "deleteTeam" => (M::DELETE, format!("/teams/{f}"), None, S::NO_CONTENT),
        "getMe" => (M::GET, "/me".into(), None, S::OK),
        "listUsers" => (M::GET, "/users".into(), None, S::OK),
        "getUser" => (M::GET, format!("/users/{}", p.member.id), None, S::OK),
        "updateUser" => (
            M::PATCH,
            format!("/users/{}", p.member.id),
            Some(json!({"display_name": n})),
            S::OK,
        ),
        "removeUser" => (M::DELETE, format!("/users/{f}"), None, S::NO_CONTENT),
        "linkUserIdentity" => (
            M::POST,
            format!("/users/{}/identities", p.member.id),
            Some(json!({"subject": n, "issuer": "https://idp.example.test"})),
            S::CREATED,
        ),
        "listUserIdentities" => (
            M::GET,
            format!("/users/{}/identities", p.member.id),
            None,
            S::OK,
        ),
        "unlinkUserIdentity" => (
            M::DELETE,
            format!("/users/{f}/identities?issuer=https%3A%2F%2Fidp.example.test&subject={f}"),
            None,
            S::NO_CONTENT,
        ),
        "createInvitation" => (
            M::POST,
            "/invitations".into(),
            Some(
                json!({"email": format!("{n}@example.test"), "role_id": R::Member.id(), "scope": {"type": "team", "id": p.team.id}}),
            ),
            S::CREATED,
        ),
        "createToken" => (
            M::POST,
            "/tokens".into(),
            Some(json!({"name": n})),
            S::CREATED,
        ),
        "listTokens" => (M::GET, "/tokens".into(), None, S::OK),
        "revokeToken" => (M::DELETE, format!("/tokens/{f}"), None, S::NO_CONTENT),
        "createSite" => (
            M::POST,
            "/sites".into(),
            Some(json!({"name": n, "team_id": p.team.id})),
            S::CREATED,
        ),
        "listSites" => (M::GET, "/sites".into(), None, S::OK),
        "getSite" => (M::GET, format!("/sites/{}", p.site.id), None, S::OK),
        "updateSite" => (
            M::PATCH,
            format!("/sites/{}", p.site.id),
            Some(json!({"name": n})),
            S::OK,
        ),
        "deleteSite" => (M::DELETE, format!("/sites/{f}"), None, S::NO_CONTENT),
        "publishSite" => (
            M::POST,
            format!("/sites/{}/publish", p.site.id),
            None,
            S::OK,
        ),
        "createDevice" => (
            M::POST,
            "/devices".into(),
            Some(
                json!({"name": n, "site_id": p.site.id, "host": "10.1.1.1", "environment": "lab"}),
            ),
            S::CREATED,
        ),
        "listDevices" => (M::GET, "/devices".into(), None, S::OK),
        "getDevice" => (M::GET, format!("/devices/{}", p.device.id), None, S::OK),
        "updateDevice" => (
            M::PATCH,
            format!("/devices/{}", p.device.id),
            Some(json!({"name": n})),
            S::OK,
        ),
        "deleteDevice" => (M::DELETE, format!("/devices/{f}"), None, S::NO_CONTENT),
        "setDeviceCredentials" => (
            M::PUT,
            format!("/devices/{}/credentials", p.device.id),
            Some(json!({"username": "admin", "password": "s3cret"})),
            S::OK,
        ),
        "createDeviceGroup" => (
            M::POST,
            "/device-groups".into(),
            Some(json!({"name": n})),
            S::CREATED,
        ),
        "listDeviceGroups" => (M::GET, "/device-groups".into(), None, S::OK),
        "getDeviceGroup" => (
            M::GET,
            format!("/device-groups/{}", p.device_group),
            None,
            S::OK,
        ),
        "updateDeviceGroup" => (
            M::PATCH,
            format!("/device-groups/{}", p.device_group),
            Some(json!({"name": n})),
            S::OK,
        ),
        "deleteDeviceGroup" => (
            M::DELETE,
            format!("/device-groups/{f}"),
            None,
            S::NO_CONTENT,
        ),
        "listRoles" => (M::GET, "/roles".into(), None, S::OK),
        "listTools" => (M::GET, "/tools".into(), None, S::OK),
        "runFleetTool" => (
            M::POST,
            "/tools/plan_add_static_route".into(),
            Some(json!({"device_ids": []})),
            S::UNPROCESSABLE_ENTITY,
        ),
        "runDeviceTool" => (
            M::POST,
            format!("/devices/{}/tools/get_route", p.device.id),
            Some(json!({})),
            S::UNPROCESSABLE_ENTITY,
        ),
        "createRole" => (
            M::POST,
            "/roles".into(),
            Some(json!({"name": n, "permissions": ["site:read"]})),
            S::CREATED,
        ),
        "updateRole" => (
            M::PATCH,
            format!("/roles/{}", p.role),
            Some(json!({"name": n})),
            S::OK,
        ),
        "deleteRole" => (M::DELETE, format!("/roles/{f}"), None, S::NO_CONTENT),
        "createRoleBinding" => (
            M::POST,
            "/role-bindings".into(),
            Some(
                json!({"user_id": p.member.id, "role_id": R::ReadOnly.id(), "scope": {"type": "team", "id": p.team.id}}),
            ),
            S::CREATED,
        ),
        "listRoleBindings" => (M::GET, "/role-bindings".into(), None, S::OK),
        "deleteRoleBinding" => (
            M::DELETE,
            format!("/role-bindings/{f}"),
            None,
            S::NO_CONTENT,
        ),
        "grantDeviceScope" => (
            M::POST,
            "/device-scopes".into(),
            Some(json!({"user_id": p.member.id, "device_id": f})),
            S::CREATED,
        ),
        "listDeviceScopes" => (M::GET, "/device-scopes".into(), None, S::OK),
        "revokeDeviceScope" => (
            M::DELETE,
            format!("/device-scopes/{f}"),
            None,
            S::NO_CONTENT,
        ),
        "checkAuthorization" => (
            M::POST,
            "/authz/check".into(),
            Some(json!({"permission": "site:read", "resource": {"type": "site", "id": p.site.id}})),
            S::OK,
        ),
        "listAuditEvents" => (M::GET, "/audit/events".into(), None, S::OK),
        "verifyAuditChain" => (M::GET, "/audit/verify".into(), None, S::OK),
        "listPlatformAuditEvents" => (M::GET, "/platform/audit/events".into(), None, S::OK),
        "verifyPlatformAuditChain" => (M::GET, "/platform/audit/verify".into(), None, S::OK),
        "productionChangesReport" => (
            M::GET,
            "/compliance/reports/production-changes".into(),
            None,
            S::OK,
        ),
        "denialsReport" => (M::GET, "/compliance/reports/denials".into(), None, S::OK),
        "topUsersReport" => (M::GET, "/compliance/reports/top-users".into(), None, S::OK),
        other => panic!("no request builder for operation {other}: add one to matrix.rs"),
    };
    let _ = (&p.member_token_id, &p.binding, &p.device_scope);
    (m, format!("{v1}{path}"), body, ok)
}

fn operations_in_spec(app: &TestApp) -> BTreeSet<String> {
    let spec: Value = serde_json::from_str(&rosgate::rest::spec_json(&app.state)).unwrap();
    let mut ops = BTreeSet::new();
    for (_, item) in spec["paths"].as_object().unwrap() {
        for (_, op) in item.as_object().unwrap() {
            if let Some(id) = op["operationId"].as_str() {
                ops.insert(id.to_owned());
            }
        }
    }
    ops
}

#[tokio::test]
async fn every_operation_has_a_row() {
    let app = TestApp::spawn().await;
    let in_spec = operations_in_spec(&app);
    let in_table: BTreeSet<String> = TABLE
        .iter()
        .map(|r| r.0.to_owned())
        .chain(PUBLIC.iter().map(|s| (*s).to_owned()))
        .collect();
    let missing: Vec<_> = in_spec.difference(&in_table).collect();
    let stale: Vec<_> = in_table.difference(&in_spec).collect();
    assert!(
        missing.is_empty(),
        "operations without a row in the matrix table: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "rows for operations that no longer exist: {stale:?}"
    );
}

#[tokio::test]
async fn every_protected_operation_refuses_anonymous_callers() {
    // Hundreds of anonymous requests from one address: no address budget.
    let app = TestApp::spawn_with(
        testkit::TestDatabase::from_env(),
        testkit::reserve().await,
        |c| {
            c.rate_limits.per_address_per_minute = None;
        },
    )
    .await;
    let t = app.tenant("anon").await;
    let team = app.team(&t, "team").await;
    let p = place(&app, &t, &team).await;
    for (op, ..) in TABLE {
        let (m, path, body, _) = request(op, &p, Uuid::now_v7());
        for token in [
            None,
            Some("rgt_not-a-token"),
            Some(&*format!("rgt_{}_{}", Uuid::nil().simple(), "0".repeat(64))),
        ] {
            let r = app.call(m.clone(), &path, token, body.clone()).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{op} with {token:?}: {:?}",
                r.body
            );
            assert!(r.is_problem(), "{op}: 401 must be a problem document");
            assert!(
                r.headers.contains_key("www-authenticate"),
                "{op}: 401 must carry WWW-Authenticate"
            );
        }
    }
}

#[tokio::test]
async fn every_role_gets_the_expected_outcome_everywhere() {
    let app = TestApp::spawn().await;
    let own_tenant = app.tenant("own").await;
    let other_tenant = app.tenant("other").await;
    let team_a = app.team(&own_tenant, "team-a").await;
    let team_b = app.team(&own_tenant, "team-b").await;
    let team_x = app.team(&other_tenant, "team-x").await;
    let own = place(&app, &own_tenant, &team_a).await;
    let sibling = place(&app, &own_tenant, &team_b).await;
    let other = place(&app, &other_tenant, &team_x).await;

    let mut tokens = Vec::new();
    for (letter, role) in ROLES {
        let scope = if role == R::OrgAdmin {
            Scope::Tenant(own_tenant.id)
        } else {
            Scope::Team(team_a.id.into())
        };
        let (_, token) = app.user(own_tenant.id, &[(role, scope)]).await;
        tokens.push((letter, role, token));
    }

    let mut failures = Vec::new();
    for (op, own_allowed, sib_allowed, other_allowed) in TABLE {
        let levels: Vec<(&str, &Place, &str)> = match (sib_allowed, other_allowed) {
            (Some(s), Some(o)) => vec![
                ("own", &own, own_allowed),
                ("sibling", &sibling, s),
                ("other", &other, o),
            ],
            _ => vec![("own", &own, own_allowed)],
        };
        for (level, place, allowed) in levels {
            for (letter, role, token) in &tokens {
                let f = fresh(&app, op, place).await;
                let (m, path, body, ok) = request(op, place, f);
                let r = app.call(m, &path, Some(token), body).await;
                let expect_allowed = allowed.contains(*letter);
                let good = if expect_allowed {
                    r.status == ok
                } else {
                    r.status == StatusCode::FORBIDDEN
                        && r.is_problem()
                        && (level != "other" || r.detail() == "Cross-tenant access denied")
                };
                if !good {
                    failures.push(format!(
                        "{op} as {} at {level}: expected {}, got {} {}",
                        role.name(),
                        if expect_allowed {
                            ok.to_string()
                        } else {
                            "403".into()
                        },
                        r.status,
                        r.body
                    ));
                }
                let own = own_tenant.id.to_string();
                let foreign = r.body["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|item| item["tenant_id"].as_str())
                    .any(|t| t != own);
                if foreign {
                    failures.push(format!(
                        "{op} as {} listed another tenant's item",
                        role.name()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
