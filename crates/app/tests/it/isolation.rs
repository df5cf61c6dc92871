//! Seed 003's isolation suite, over real HTTP: tenants never see each
//! other, teams of one tenant are isolated, multi-team users reach all their
//! teams, and an org admin reaches every team of its own tenant only.

use rbac::BuiltinRole as R;
use reqwest::StatusCode;
use serde_json::json;
use tenancy::Scope;
use testkit::TestApp;

struct TwoTenants {
    app: TestApp,
    a_token: String,
    b_token: String,
    a_team: uuid::Uuid,
    b_team: uuid::Uuid,
    a_tenant: uuid::Uuid,
}

async fn two_tenants() -> TwoTenants {
    let app = TestApp::spawn().await;
    let ta = app.tenant("tenant-a").await;
    let tb = app.tenant("tenant-b").await;
    let team_a = app.team(&ta, "team-a").await;
    let team_b = app.team(&tb, "team-b").await;
    let (_, a_token) = app
        .user(ta.id, &[(R::TeamAdmin, Scope::Team(team_a.id.into()))])
        .await;
    let (_, b_token) = app
        .user(tb.id, &[(R::TeamAdmin, Scope::Team(team_b.id.into()))])
        .await;
    TwoTenants {
        app,
        a_token,
        b_token,
        a_team: team_a.id,
        b_team: team_b.id,
        a_tenant: ta.id.uuid(),
    }
}

#[tokio::test]
async fn user_cannot_access_other_tenant_data() {
    let w = two_tenants().await;
    let site = w
        .app
        .post(
            &w.a_token,
            "/api/v1/sites",
            json!({"name": "Site A", "team_id": w.a_team}),
        )
        .await;
    assert_eq!(site.status, StatusCode::CREATED, "{:?}", site.body);

    let r = w
        .app
        .get(&w.b_token, &format!("/api/v1/sites/{}", site.str("id")))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.detail().contains("Cross-tenant"), "{:?}", r.body);
    assert!(r.is_problem());
}

#[tokio::test]
async fn user_cannot_list_other_tenant_resources() {
    let w = two_tenants().await;
    w.app
        .post(
            &w.a_token,
            "/api/v1/sites",
            json!({"name": "A1", "team_id": w.a_team}),
        )
        .await;
    w.app
        .post(
            &w.b_token,
            "/api/v1/sites",
            json!({"name": "B1", "team_id": w.b_team}),
        )
        .await;

    let sites = w.app.get(&w.a_token, "/api/v1/sites").await;
    assert_eq!(sites.status, StatusCode::OK);
    let items = sites.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert!(items.iter().all(|s| s["tenant_id"] == json!(w.a_tenant)));
}

#[tokio::test]
async fn user_cannot_modify_or_delete_other_tenant_data() {
    let w = two_tenants().await;
    let site = w
        .app
        .post(
            &w.a_token,
            "/api/v1/sites",
            json!({"name": "Site A", "team_id": w.a_team}),
        )
        .await;
    let path = format!("/api/v1/sites/{}", site.str("id"));

    let r = w
        .app
        .patch(&w.b_token, &path, json!({"name": "Hacked"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.detail().contains("Cross-tenant"));
    let r = w.app.delete(&w.b_token, &path).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let still = w.app.get(&w.a_token, &path).await;
    assert_eq!(still.str("name"), "Site A", "nothing was changed");
}

#[tokio::test]
async fn a_body_naming_another_tenant_is_refused() {
    let w = two_tenants().await;
    let r = w
        .app
        .post(
            &w.b_token,
            "/api/v1/sites",
            json!({"name": "sneaky", "team_id": w.a_team}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.detail(), "Cross-tenant access denied");
    let r = w
        .app
        .post(
            &w.b_token,
            "/api/v1/divisions",
            json!({"name": "x", "tenant_id": w.a_tenant}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.detail(), "Cross-tenant access denied");
}

#[tokio::test]
async fn user_cannot_access_other_team_sites() {
    let app = TestApp::spawn().await;
    let t = app.tenant("tenant-1").await;
    let team_a = app.team(&t, "team-a").await;
    let team_b = app.team(&t, "team-b").await;
    let (_, a) = app
        .user(t.id, &[(R::Member, Scope::Team(team_a.id.into()))])
        .await;
    let (_, b) = app
        .user(t.id, &[(R::Member, Scope::Team(team_b.id.into()))])
        .await;

    let site = app
        .post(
            &a,
            "/api/v1/sites",
            json!({"name": "Team A Site", "team_id": team_a.id}),
        )
        .await;
    assert_eq!(site.status, StatusCode::CREATED);
    let r = app
        .get(&b, &format!("/api/v1/sites/{}", site.str("id")))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.detail(), "No access to this resource");

    let listed = app.get(&b, "/api/v1/sites").await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        0,
        "lists show only reachable sites"
    );

    let r = app
        .post(
            &b,
            "/api/v1/sites",
            json!({"name": "intruder", "team_id": team_a.id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn multi_team_user_can_access_all_teams() {
    let app = TestApp::spawn().await;
    let t = app.tenant("tenant-1").await;
    let team_a = app.team(&t, "team-a").await;
    let team_b = app.team(&t, "team-b").await;
    let (_, multi) = app
        .user(
            t.id,
            &[
                (R::Member, Scope::Team(team_a.id.into())),
                (R::Member, Scope::Team(team_b.id.into())),
            ],
        )
        .await;

    let a = app
        .post(
            &multi,
            "/api/v1/sites",
            json!({"name": "A", "team_id": team_a.id}),
        )
        .await;
    let b = app
        .post(
            &multi,
            "/api/v1/sites",
            json!({"name": "B", "team_id": team_b.id}),
        )
        .await;
    assert_eq!(
        app.get(&multi, &format!("/api/v1/sites/{}", a.str("id")))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&multi, &format!("/api/v1/sites/{}", b.str("id")))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn org_admin_reaches_every_team_of_its_tenant_and_none_of_another() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let other = app.tenant("globex").await;
    let team_a = app.team(&t, "team-a").await;
    let team_b = app.team(&t, "team-b").await;
    let team_x = app.team(&other, "team-x").await;
    let (_, admin) = app.user(t.id, &[(R::OrgAdmin, Scope::Tenant(t.id))]).await;
    let (_, x) = app
        .user(other.id, &[(R::Member, Scope::Team(team_x.id.into()))])
        .await;

    for team in [&team_a, &team_b] {
        let r = app
            .post(
                &admin,
                "/api/v1/sites",
                json!({"name": "s", "team_id": team.id}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let get = app
            .get(&admin, &format!("/api/v1/sites/{}", r.str("id")))
            .await;
        assert_eq!(get.status, StatusCode::OK);
        let publish = app
            .post(
                &admin,
                &format!("/api/v1/sites/{}/publish", r.str("id")),
                json!({}),
            )
            .await;
        assert_eq!(publish.status, StatusCode::OK);
    }
    let foreign = app
        .post(
            &x,
            "/api/v1/sites",
            json!({"name": "x", "team_id": team_x.id}),
        )
        .await;
    let r = app
        .get(&admin, &format!("/api/v1/sites/{}", foreign.str("id")))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.detail().contains("Cross-tenant"));
    let teams = app.get(&admin, "/api/v1/teams").await;
    assert_eq!(teams.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn ids_of_another_tenant_in_a_body_are_cross_tenant() {
    let app = TestApp::spawn().await;
    let mine = app.tenant("mine").await;
    let theirs = app.tenant("theirs").await;
    let my_team = app.team(&mine, "core").await;
    let their_team = app.team(&theirs, "core").await;
    let their_site = app.site(theirs.id, &their_team, "dc").await;
    let their_device = app
        .device(theirs.id, &their_site, kernel::Environment::Prod)
        .await;
    let (their_user, _) = app
        .user(theirs.id, &[(R::Member, Scope::Team(their_team.id.into()))])
        .await;
    let their_role = app
        .role(
            theirs.id,
            "viewer",
            rbac::PermissionSet::of(&[rbac::Permission::SiteRead]),
        )
        .await;
    let (me, owner) = app
        .user(mine.id, &[(R::OrgAdmin, Scope::Tenant(mine.id))])
        .await;

    let attempts = [
        (
            "/api/v1/device-groups",
            json!({"name": "grab", "device_ids": [their_device.id]}),
        ),
        (
            "/api/v1/role-bindings",
            json!({"user_id": their_user.id, "role_id": R::Member.id(), "scope": {"type": "team", "id": my_team.id}}),
        ),
        (
            "/api/v1/role-bindings",
            json!({"user_id": me.id, "role_id": their_role.id, "scope": {"type": "team", "id": my_team.id}}),
        ),
        (
            "/api/v1/device-scopes",
            json!({"user_id": me.id, "device_id": their_device.id}),
        ),
        (
            "/api/v1/invitations",
            json!({"email": "x@example.test", "role_id": R::Member.id(), "scope": {"type": "team", "id": their_team.id}}),
        ),
    ];
    for (path, body) in attempts {
        let r = app.post(&owner, path, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{path} {body}: {:?}",
            r.body
        );
        assert_eq!(r.detail(), "Cross-tenant access denied", "{path}");
    }
    assert!(
        app.state
            .tenancy
            .repo()
            .device_groups(mine.id)
            .await
            .unwrap()
            .is_empty(),
        "nothing was written"
    );
}
