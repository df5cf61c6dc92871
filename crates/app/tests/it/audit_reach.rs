//! Who reads which events: a reader over part of a tenant sees only the
//! events about what it reaches, and the platform chain (events of no
//! tenant) is open to platform administrators alone.

use kernel::Environment;
use rbac::BuiltinRole as R;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tenancy::Scope;
use testkit::TestApp;

const EVENTS: &str = "/api/v1/audit/events?limit=500";
const PLATFORM_EVENTS: &str = "/api/v1/platform/audit/events";
const PLATFORM_VERIFY: &str = "/api/v1/platform/audit/verify";

async fn items(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let r = app.get(token, path).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

/// Whether some event is about `device` and was made by `user`.
fn about(events: &[Value], device: &tenancy::Device, user: &tenancy::User) -> bool {
    events
        .iter()
        .any(|e| e["device_id"] == json!(device.id) && e["user_id"] == json!(user.id))
}

#[tokio::test]
async fn a_team_admin_sees_the_org_admins_actions_on_its_devices_only() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let (team_a, team_b) = (app.team(&tenant, "a").await, app.team(&tenant, "b").await);
    let ours = app
        .device(
            tenant.id,
            &app.site(tenant.id, &team_a, "a").await,
            Environment::Prod,
        )
        .await;
    let theirs = app
        .device(
            tenant.id,
            &app.site(tenant.id, &team_b, "b").await,
            Environment::Prod,
        )
        .await;
    // The org admin is also bound inside team A, so it is a user the team
    // admin's binding touches: that must not open its other events.
    let (owner, owner_token) = app
        .user(
            tenant.id,
            &[
                (R::OrgAdmin, Scope::Tenant(tenant.id)),
                (R::Member, Scope::Team(team_a.id.into())),
            ],
        )
        .await;
    let (_, admin) = app
        .user(tenant.id, &[(R::TeamAdmin, Scope::Team(team_a.id.into()))])
        .await;
    let (member, member_token) = app
        .user(tenant.id, &[(R::Member, Scope::Team(team_a.id.into()))])
        .await;

    for device in [&theirs, &ours] {
        let r = app
            .patch(
                &owner_token,
                &format!("/api/v1/devices/{}", device.id),
                json!({"tags": {"rack": "r1"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    // Above team A: a new team in its group, and the tenant's device list.
    let r = app
        .post(
            &owner_token,
            "/api/v1/teams",
            json!({"name": "c", "group_id": team_a.parent_id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = app.get(&owner_token, "/api/v1/devices").await;
    assert_eq!(r.status, StatusCode::OK);
    // A member of team A tries team B's device: refused, and about team B.
    let r = app
        .get(&member_token, &format!("/api/v1/devices/{}", theirs.id))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .get(&member_token, &format!("/api/v1/devices/{}", ours.id))
        .await;
    assert_eq!(r.status, StatusCode::OK);

    let seen = items(&app, &admin, EVENTS).await;
    assert!(about(&seen, &ours, &owner), "{seen:#?}");
    assert!(about(&seen, &ours, &member), "{seen:#?}");
    assert!(!about(&seen, &theirs, &owner), "{seen:#?}");
    assert!(!about(&seen, &theirs, &member), "{seen:#?}");
    assert!(
        !seen.iter().any(|e| e["operation"] == "createTeam"),
        "a change above the team is out of reach: {seen:#?}"
    );
    assert!(
        !seen
            .iter()
            .any(|e| e["operation"] == "listDevices" && e["user_id"] == json!(owner.id)),
        "a tenant-wide read is out of reach: {seen:#?}"
    );
    // The org admin sees all of it.
    let all = items(&app, &owner_token, EVENTS).await;
    assert!(about(&all, &theirs, &owner) && about(&all, &theirs, &member));
    assert!(all.iter().any(|e| e["operation"] == "createTeam"));
}

#[tokio::test]
async fn platform_admins_list_and_verify_the_platform_chain_and_nobody_else_may() {
    let app = TestApp::spawn().await;
    let home = app.tenant("operator").await;
    let (_, root) = app.user_with(home.id, vec![], true).await;
    let (_, owner) = app
        .user(home.id, &[(R::OrgAdmin, Scope::Tenant(home.id))])
        .await;
    // A sign-in that names nobody: its event belongs to no tenant.
    let r = app
        .client
        .get(format!("{}/auth/callback?code=c0de&state=nobody", app.base))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error() || r.status().is_server_error());
    // Refusals that name nobody are counted a minute at a time: write them now.
    rosgate::wiring::refusal_writer(&app.state)
        .flush(true)
        .await;

    let platform = items(&app, &root, PLATFORM_EVENTS).await;
    let login = platform
        .iter()
        .find(|e| e["operation"] == "refused" && e["error_class"] == "login_failed")
        .unwrap_or_else(|| panic!("{platform:#?}"));
    assert_eq!(login["decision"], "deny");
    assert!(login.get("tenant_id").is_none(), "{login}");
    assert!(platform.iter().all(|e| e.get("tenant_id").is_none()));
    // Filters and limits work as on the tenant's list.
    let denied = items(&app, &root, &format!("{PLATFORM_EVENTS}?decision=allow")).await;
    assert!(denied.iter().all(|e| e["decision"] == "allow"));
    let r = app
        .get(&root, &format!("{PLATFORM_EVENTS}?cursor=nope"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "invalid_cursor");

    let r = app.get(&root, PLATFORM_VERIFY).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["ok"], true, "{:?}", r.body);
    assert!(r.body["checked"].as_u64() >= Some(1), "{:?}", r.body);

    // The tenant's own list never shows the platform's events.
    let tenant = items(&app, &owner, EVENTS).await;
    assert!(!tenant.iter().any(|e| e["operation"] == "refused"));
    for path in [PLATFORM_EVENTS, PLATFORM_VERIFY] {
        let r = app.get(&owner, path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {:?}", r.body);
        assert_eq!(r.detail(), "Missing permission: audit:read");
    }
    // The refusals are on the org admin's record, in its tenant.
    let own = items(&app, &owner, EVENTS).await;
    assert!(
        own.iter()
            .any(|e| e["operation"] == "listPlatformAuditEvents"
                && e["decision"] == "deny"
                && e["resource_type"] == "platform"),
        "{own:#?}"
    );
}
