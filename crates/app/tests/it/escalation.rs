//! Delegation and escalation: nobody hands out what they do not hold (the
//! permissions, the environments, the devices), nobody changes a user who
//! holds more than they do, and the last unrestricted administrator of a
//! tenant stays. Each test is one attack, tried over HTTP.

use rbac::{BuiltinRole as R, DeviceScopeTarget, Permission as P, PermissionSet};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tenancy::Scope;
use testkit::TestApp;

/// The decision recorded for the latest request of `operation` that failed with `code`.
async fn decision_of(
    app: &TestApp,
    tenant: kernel::TenantId,
    operation: &str,
    code: &str,
) -> String {
    let events = app.state.db.audit_events(tenant).await.unwrap();
    let e = events
        .iter()
        .rev()
        .find(|e| e.operation == operation && e.error_class.as_deref() == Some(code))
        .unwrap_or_else(|| panic!("no {operation} event with {code}: {events:#?}"));
    e.decision.as_str().to_owned()
}

async fn binding_of(app: &TestApp, tenant: kernel::TenantId, user: kernel::UserId) -> uuid::Uuid {
    let all = app.state.rbac.repo().bindings(tenant).await.unwrap();
    all.iter().find(|b| b.user_id == user).unwrap().id.uuid()
}

#[tokio::test]
async fn a_role_manager_cannot_mint_admin_into_a_new_role_or_one_bound_to_itself() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let managers = app
        .role(t.id, "role-managers", PermissionSet::of(&[P::RoleManage]))
        .await;
    let (manager, token) = app.user(t.id, &[]).await;
    app.state
        .rbac
        .repo()
        .insert_binding(&rbac::RoleBinding {
            id: uuid::Uuid::now_v7().into(),
            tenant_id: t.id,
            user_id: manager.id,
            role_id: managers.id,
            scope: Scope::Tenant(t.id),
            environments: None,
            created_at: app.state.clock.now(),
        })
        .await
        .unwrap();

    let r = app
        .post(
            &token,
            "/api/v1/roles",
            json!({"name": "owners", "permissions": ["admin:*"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(r.code(), "privilege_escalation");
    assert!(r.detail().contains("admin:*"), "{}", r.detail());
    assert_eq!(
        decision_of(&app, t.id, "createRole", "privilege_escalation").await,
        "deny"
    );

    let path = format!("/api/v1/roles/{}", managers.id);
    let r = app
        .patch(
            &token,
            &path,
            json!({"permissions": ["role:manage", "admin:*"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(r.code(), "privilege_escalation");
    assert_eq!(
        decision_of(&app, t.id, "updateRole", "privilege_escalation").await,
        "deny"
    );
    let stored = app
        .state
        .rbac
        .repo()
        .role(managers.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.permissions, PermissionSet::of(&[P::RoleManage]));

    let r = app
        .post(
            &token,
            "/api/v1/roles",
            json!({"name": "deputies", "permissions": ["role:manage"]}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "what it holds it may hand on: {:?}",
        r.body
    );
}

#[tokio::test]
async fn a_role_change_needs_the_added_permissions_in_the_environments_of_every_binding() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let team = app.team(&t, "core").await;
    let editor_role = app
        .role(
            t.id,
            "lab-editors",
            PermissionSet::of(&[P::RoleManage, P::ToolFundamental, P::ToolAdvanced]),
        )
        .await;
    let (editor, token) = app.user(t.id, &[]).await;
    let (worker, _) = app.user(t.id, &[]).await;
    let workers = app
        .role(t.id, "workers", PermissionSet::of(&[P::ToolFundamental]))
        .await;
    for (user, role, scope, envs) in [
        (
            editor.id,
            editor_role.id,
            Scope::Tenant(t.id),
            Some(vec![kernel::Environment::Lab]),
        ),
        (worker.id, workers.id, Scope::Team(team.id.into()), None),
    ] {
        app.state
            .rbac
            .repo()
            .insert_binding(&rbac::RoleBinding {
                id: uuid::Uuid::now_v7().into(),
                tenant_id: t.id,
                user_id: user,
                role_id: role,
                scope,
                environments: envs,
                created_at: app.state.clock.now(),
            })
            .await
            .unwrap();
    }

    let r = app
        .patch(
            &token,
            &format!("/api/v1/roles/{}", workers.id),
            json!({"permissions": ["tool:fundamental", "tool:advanced"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(r.code(), "environment_escalation");
    assert!(
        r.detail().contains("staging") && r.detail().contains("prod"),
        "{}",
        r.detail()
    );
    assert_eq!(
        decision_of(&app, t.id, "updateRole", "environment_escalation").await,
        "deny"
    );
}

#[tokio::test]
async fn a_team_admin_cannot_remove_change_or_narrow_the_org_admin_who_also_works_in_its_team() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let team = app.team(&t, "core").await;
    let site = app.site(t.id, &team, "hq").await;
    let device = app.device(t.id, &site, kernel::Environment::Lab).await;
    let core = Scope::Team(team.id.into());
    let (owner, owner_token) = app
        .user(
            t.id,
            &[(R::OrgAdmin, Scope::Tenant(t.id)), (R::Member, core)],
        )
        .await;
    let (_, admin) = app.user(t.id, &[(R::TeamAdmin, core)]).await;
    let (member, _) = app.user(t.id, &[(R::Member, core)]).await;

    let owner_path = format!("/api/v1/users/{}", owner.id);
    let r = app.delete(&admin, &owner_path).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(r.code(), "outranked");
    let r = app
        .patch(
            &admin,
            &owner_path,
            json!({"display_name": "Mallory's puppet"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "outranked");
    let r = app
        .post(
            &admin,
            "/api/v1/device-scopes",
            json!({"user_id": owner.id, "device_id": device.id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "outranked");
    let tokens = app.get(&owner_token, "/api/v1/tokens").await;
    let token_id = tokens.body["items"][0]["id"].as_str().unwrap().to_owned();
    let r = app
        .delete(&admin, &format!("/api/v1/tokens/{token_id}"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "outranked");
    assert_eq!(
        app.get(&owner_token, "/api/v1/me").await.status,
        StatusCode::OK
    );

    // Reading stays as it was: the team admin still sees who works in its team.
    let users = app.get(&admin, "/api/v1/users").await;
    assert!(
        users.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["id"] == json!(owner.id)),
        "{:?}",
        users.body
    );
    // And it still manages the users it outranks.
    let r = app
        .patch(
            &admin,
            &format!("/api/v1/users/{}", member.id),
            json!({"display_name": "Renamed"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn the_last_unrestricted_admin_can_never_be_removed_unbound_or_narrowed() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let team = app.team(&t, "core").await;
    let site = app.site(t.id, &team, "hq").await;
    let device = app.device(t.id, &site, kernel::Environment::Lab).await;
    let tenant = Scope::Tenant(t.id);
    let (first, first_token) = app.user(t.id, &[(R::OrgAdmin, tenant)]).await;
    let (second, _) = app.user(t.id, &[(R::OrgAdmin, tenant)]).await;
    // An org admin narrowed to one device outranks the others, but is not
    // an unrestricted administrator itself.
    let (narrowed, narrowed_token) = app.user(t.id, &[(R::OrgAdmin, tenant)]).await;
    app.device_scope(t.id, narrowed.id, DeviceScopeTarget::Device(device.id))
        .await;

    let r = app
        .delete(&first_token, &format!("/api/v1/users/{}", second.id))
        .await;
    assert_eq!(
        r.status,
        StatusCode::NO_CONTENT,
        "one of two may go: {:?}",
        r.body
    );

    let r = app
        .delete(&narrowed_token, &format!("/api/v1/users/{}", first.id))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.code(), "last_admin");
    assert!(r.detail().contains("make someone else one first"));
    assert_eq!(
        decision_of(&app, t.id, "removeUser", "last_admin").await,
        "deny"
    );

    let binding = binding_of(&app, t.id, first.id).await;
    for token in [&narrowed_token, &first_token] {
        let r = app
            .delete(token, &format!("/api/v1/role-bindings/{binding}"))
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
        assert_eq!(r.code(), "last_admin");
    }

    let r = app
        .post(
            &narrowed_token,
            "/api/v1/device-scopes",
            json!({"user_id": first.id, "device_id": device.id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.code(), "last_admin");
    assert!(
        app.state
            .rbac
            .repo()
            .device_scopes(t.id, Some(first.id))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_lab_limited_team_admin_can_invite_only_into_lab() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let team = app.team(&t, "core").await;
    let core = json!({"type": "team", "id": team.id});
    let (_, lab_admin) = app
        .user_with(
            t.id,
            vec![(
                R::TeamAdmin,
                Scope::Team(team.id.into()),
                Some(vec![kernel::Environment::Lab]),
            )],
            false,
        )
        .await;

    let r = app
        .post(
            &lab_admin,
            "/api/v1/invitations",
            json!({"email": "ops@example.test", "role_id": R::Member.id(), "scope": core}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(r.code(), "environment_escalation");
    assert_eq!(
        decision_of(&app, t.id, "createInvitation", "environment_escalation").await,
        "deny"
    );
    let r = app
        .post(
            &lab_admin,
            "/api/v1/invitations",
            json!({"email": "ops@example.test", "role_id": R::Member.id(), "scope": core, "environments": ["lab", "prod"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "environment_escalation");
    let r = app
        .post(
            &lab_admin,
            "/api/v1/invitations",
            json!({"email": "ops@example.test", "role_id": R::Member.id(), "scope": core, "environments": ["lab"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

#[tokio::test]
async fn a_device_scoped_team_admin_hands_out_no_tool_permissions_to_newcomers() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let team = app.team(&t, "core").await;
    let site = app.site(t.id, &team, "hq").await;
    let device = app.device(t.id, &site, kernel::Environment::Lab).await;
    let core = json!({"type": "team", "id": team.id});
    let (admin, token) = app
        .user(t.id, &[(R::TeamAdmin, Scope::Team(team.id.into()))])
        .await;
    app.device_scope(t.id, admin.id, DeviceScopeTarget::Device(device.id))
        .await;
    let viewers = app
        .role(
            t.id,
            "viewers",
            PermissionSet::of(&[P::SiteRead, P::DeviceRead]),
        )
        .await;

    let r = app
        .post(
            &token,
            "/api/v1/invitations",
            json!({"email": "ro@example.test", "role_id": R::Member.id(), "scope": core}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(r.code(), "device_scope_escalation");
    let r = app
        .post(
            &token,
            "/api/v1/invitations",
            json!({"email": "ro@example.test", "role_id": viewers.id, "scope": core}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "no tools, no device scope to keep: {:?}",
        r.body
    );
}

#[tokio::test]
async fn an_invitation_is_refused_at_acceptance_once_its_inviter_lost_what_it_handed_out() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let team = app.team(&t, "core").await;
    let (_, owner) = app.user(t.id, &[(R::OrgAdmin, Scope::Tenant(t.id))]).await;
    let (inviter, token) = app
        .user(t.id, &[(R::TeamAdmin, Scope::Team(team.id.into()))])
        .await;
    let r = app
        .post(
            &token,
            "/api/v1/invitations",
            json!({"email": "late@example.test", "role_id": R::Member.id(), "scope": {"type": "team", "id": team.id}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let invitation = r.str("token");

    let binding = binding_of(&app, t.id, inviter.id).await;
    let r = app
        .delete(&owner, &format!("/api/v1/role-bindings/{binding}"))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);

    let r = app
        .call(
            Method::POST,
            "/api/v1/invitations/accept",
            None,
            Some(json!({"token": invitation, "display_name": "Late"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(r.code(), "invitation_lapsed");
    assert!(
        r.detail().contains("ask for a new invitation"),
        "{}",
        r.detail()
    );
    assert!(
        app.state
            .tenancy
            .repo()
            .user_by_email("late@example.test")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_device_scoped_user_cannot_widen_its_own_scope_nor_grant_devices_beyond_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let team = app.team(&t, "core").await;
    let site = app.site(t.id, &team, "hq").await;
    let mine = app.device(t.id, &site, kernel::Environment::Lab).await;
    let other = app.device(t.id, &site, kernel::Environment::Prod).await;
    let core = Scope::Team(team.id.into());
    let (admin, token) = app.user(t.id, &[(R::TeamAdmin, core)]).await;
    let entry = app
        .device_scope(t.id, admin.id, DeviceScopeTarget::Device(mine.id))
        .await;
    let (member, _) = app.user(t.id, &[(R::Member, core)]).await;

    let r = app
        .post(
            &token,
            "/api/v1/device-scopes",
            json!({"user_id": admin.id, "device_id": other.id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(r.code(), "own_device_scope");
    assert_eq!(
        decision_of(&app, t.id, "grantDeviceScope", "own_device_scope").await,
        "deny"
    );
    let r = app
        .delete(&token, &format!("/api/v1/device-scopes/{}", entry.id))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(r.code(), "own_device_scope");

    let r = app
        .post(
            &token,
            "/api/v1/device-scopes",
            json!({"user_id": member.id, "device_id": other.id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(r.code(), "device_scope_escalation");
    let r = app
        .post(
            &token,
            "/api/v1/device-scopes",
            json!({"user_id": member.id, "device_id": mine.id}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "within its own scope: {:?}",
        r.body
    );
    let granted = r.str("id");
    let r = app
        .delete(&token, &format!("/api/v1/device-scopes/{granted}"))
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "revoking may widen: {:?}",
        r.body
    );
    assert_eq!(r.code(), "device_scope_escalation");
    let scopes = app
        .state
        .rbac
        .repo()
        .device_scopes(t.id, Some(admin.id))
        .await
        .unwrap();
    assert_eq!(scopes.len(), 1);
}
