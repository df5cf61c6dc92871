//! Where a device points decides where its stored credentials go: who may
//! change a device's host, port, TLS setting, environment and capability
//! flags, and which targets are refused outright (plain HTTP outside lab,
//! loopback, link-local and unspecified addresses).

use kernel::Environment;
use rbac::BuiltinRole as R;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tenancy::{DeviceCredentials, DeviceTls, Scope, Tenant};
use testkit::{Reply, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A listener on 127.0.0.1 that answers every request with `{}` and keeps
/// the `Authorization` header of each: where credentials would leak to.
struct Recorder {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    async fn start() -> Recorder {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let n = conn.read(&mut buf).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..n]).to_string();
                    for line in head.lines() {
                        if line.to_ascii_lowercase().starts_with("authorization:") {
                            log.lock().unwrap().push(line.to_owned());
                        }
                    }
                    let _ = conn
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                        .await;
                });
            }
        });
        Recorder { port, seen }
    }

    fn authorizations(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

struct Org {
    app: TestApp,
    tenant: Tenant,
    team: tenancy::OrgUnit,
    site: tenancy::Site,
    owner: String,
}

async fn org(app: TestApp) -> Org {
    let tenant = app.tenant("acme").await;
    let team = app.team(&tenant, "core").await;
    let site = app.site(tenant.id, &team, "hq").await;
    let (_, owner) = app
        .user(tenant.id, &[(R::OrgAdmin, Scope::Tenant(tenant.id))])
        .await;
    Org {
        app,
        tenant,
        team,
        site,
        owner,
    }
}

impl Org {
    async fn member(&self, role: R, environments: Option<Vec<Environment>>) -> String {
        self.app
            .user_with(
                self.tenant.id,
                vec![(role, Scope::Team(self.team.id.into()), environments)],
                false,
            )
            .await
            .1
    }

    /// A device at the team's site, reached over TLS, with credentials.
    async fn device(&self, env: Environment) -> tenancy::Device {
        self.device_at(env, "192.0.2.10", 443, DeviceTls::Verify)
            .await
    }

    /// A device with credentials at `host`:`port`.
    async fn device_at(
        &self,
        env: Environment,
        host: &str,
        port: u16,
        tls: DeviceTls,
    ) -> tenancy::Device {
        self.app
            .state
            .tenancy
            .create_device(
                self.tenant.id,
                tenancy::service::NewDevice {
                    site_id: self.site.id,
                    name: format!("r-{}", testkit::short_id()),
                    host: host.into(),
                    port,
                    environment: env,
                    tags: Default::default(),
                    capabilities: Default::default(),
                    tls,
                    credentials: Some(DeviceCredentials {
                        username: "admin".into(),
                        password: "demo".into(),
                    }),
                },
            )
            .await
            .unwrap()
    }

    async fn patch(&self, token: &str, d: &tenancy::Device, body: Value) -> Reply {
        self.app
            .patch(token, &format!("/api/v1/devices/{}", d.id), body)
            .await
    }

    async fn create(&self, token: &str, body: Value) -> Reply {
        let mut body = body;
        body["site_id"] = json!(self.site.id);
        body["name"] = json!(format!("r-{}", testkit::short_id()));
        self.app.post(token, "/api/v1/devices", body).await
    }

    async fn stored(&self, d: &tenancy::Device) -> tenancy::Device {
        self.app.state.tenancy.device(d.id).await.unwrap()
    }
}

fn refused(r: &Reply) -> (StatusCode, &str) {
    (r.status, r.code())
}

#[tokio::test]
async fn a_team_lead_cannot_point_a_device_with_credentials_at_its_own_listener() {
    let o = org(TestApp::spawn().await).await;
    // The real router, simulated on loopback (which the test server allows).
    let router = Recorder::start().await;
    let prod = o
        .device_at(
            Environment::Prod,
            "127.0.0.1",
            router.port,
            DeviceTls::PlainHttp,
        )
        .await;
    let lead = o.member(R::TeamLead, None).await;
    let listener = Recorder::start().await;

    let r = o
        .patch(
            &lead,
            &prod,
            json!({"host": "127.0.0.1", "port": listener.port, "tls": {"mode": "plain_http"}}),
        )
        .await;
    assert_eq!(
        refused(&r),
        (StatusCode::FORBIDDEN, "missing_permission"),
        "{}",
        r.body
    );
    assert!(r.detail().contains("device:credentials"), "{}", r.body);
    for body in [
        json!({"host": "192.0.2.99"}),
        json!({"port": listener.port}),
        json!({"tls": {"mode": "pinned", "sha256": "ab".repeat(32)}}),
    ] {
        let r = o.patch(&lead, &prod, body.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{body}: {}", r.body);
    }
    let after = o.stored(&prod).await;
    assert_eq!(
        (after.host.as_str(), after.port),
        ("127.0.0.1", router.port),
        "the device still points where it did"
    );

    // The next tool call logs in at the router, not at the listener.
    o.app
        .post(
            &lead,
            &format!("/api/v1/devices/{}/tools/get_system_clock", prod.id),
            json!({}),
        )
        .await;
    assert!(
        !router.authorizations().is_empty(),
        "the router was called with its credentials"
    );

    assert!(
        listener.authorizations().is_empty(),
        "credentials reached the listener: {:?}",
        listener.authorizations()
    );

    // Without stored credentials nothing follows the device: the lead may move it.
    let bare = o.app.device(o.tenant.id, &o.site, Environment::Lab).await;
    let r = o
        .patch(&lead, &bare, json!({"host": "192.0.2.20", "port": 8443}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Renaming a device with credentials needs no more than device:update.
    let r = o.patch(&lead, &prod, json!({"name": "renamed"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn a_holder_of_device_credentials_may_repoint_the_device() {
    let o = org(TestApp::spawn().await).await;
    let lab = o.device(Environment::Lab).await;
    let admin = o.member(R::TeamAdmin, None).await;
    let r = o
        .patch(&admin, &lab, json!({"host": "192.0.2.30", "port": 8443}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(o.stored(&lab).await.host, "192.0.2.30");
}

#[tokio::test]
async fn plain_http_is_refused_outside_lab_on_create_and_update() {
    let o = org(TestApp::spawn().await).await;
    for env in ["staging", "prod"] {
        let r = o
            .create(
                &o.owner,
                json!({"host": "192.0.2.40", "environment": env, "tls": {"mode": "plain_http"}}),
            )
            .await;
        assert_eq!(
            refused(&r),
            (StatusCode::UNPROCESSABLE_ENTITY, "plain_http_outside_lab"),
            "{}",
            r.body
        );
        assert_eq!(r.body["field"], "tls", "{}", r.body);
    }
    let r = o
        .create(
            &o.owner,
            json!({"host": "192.0.2.40", "environment": "lab", "tls": {"mode": "plain_http"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.str("id");
    let r = o
        .app
        .patch(
            &o.owner,
            &format!("/api/v1/devices/{id}"),
            json!({"environment": "prod"}),
        )
        .await;
    assert_eq!(
        refused(&r),
        (StatusCode::UNPROCESSABLE_ENTITY, "plain_http_outside_lab"),
        "a plain-http lab device cannot become a prod device: {}",
        r.body
    );
    let prod = o.device(Environment::Prod).await;
    let r = o
        .patch(&o.owner, &prod, json!({"tls": {"mode": "plain_http"}}))
        .await;
    assert_eq!(
        refused(&r),
        (StatusCode::UNPROCESSABLE_ENTITY, "plain_http_outside_lab"),
        "{}",
        r.body
    );
    assert_eq!(o.stored(&prod).await.tls, DeviceTls::Verify);
}

#[tokio::test]
async fn private_device_hosts_are_refused_unless_the_server_allows_them() {
    let app = TestApp::spawn_with(
        testkit::TestDatabase::from_env(),
        testkit::reserve().await,
        |c| {
            c.devices.allow_private_hosts = false;
        },
    )
    .await;
    let o = org(app).await;
    for host in [
        "127.0.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "localhost",
    ] {
        let r = o
            .create(&o.owner, json!({"host": host, "environment": "lab"}))
            .await;
        assert_eq!(
            refused(&r),
            (StatusCode::UNPROCESSABLE_ENTITY, "private_device_host"),
            "{host}: {}",
            r.body
        );
        assert_eq!(r.body["field"], "host");
    }
    let r = o
        .create(
            &o.owner,
            json!({"host": "no-such-router.invalid", "environment": "lab"}),
        )
        .await;
    assert_eq!(
        refused(&r),
        (StatusCode::UNPROCESSABLE_ENTITY, "unresolvable_device_host"),
        "{}",
        r.body
    );
    let d = o.device(Environment::Lab).await;
    let r = o
        .patch(&o.owner, &d, json!({"host": "169.254.169.254"}))
        .await;
    assert_eq!(
        refused(&r),
        (StatusCode::UNPROCESSABLE_ENTITY, "private_device_host"),
        "{}",
        r.body
    );
    assert_eq!(o.stored(&d).await.host, "192.0.2.10");
    let r = o
        .create(
            &o.owner,
            json!({"host": "192.0.2.50", "environment": "lab"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn changing_environment_or_capabilities_needs_device_configure_in_both_environments() {
    let o = org(TestApp::spawn().await).await;
    let lab = o.device(Environment::Lab).await;
    let lead = o.member(R::TeamLead, None).await;
    let lab_admin = o.member(R::TeamAdmin, Some(vec![Environment::Lab])).await;
    let admin = o.member(R::TeamAdmin, None).await;
    let writes = json!({"capabilities": {"allow_advanced_writes": true}});

    for body in [json!({"environment": "prod"}), writes.clone()] {
        let r = o.patch(&lead, &lab, body.clone()).await;
        assert_eq!(
            refused(&r),
            (StatusCode::FORBIDDEN, "missing_permission"),
            "{body}: {}",
            r.body
        );
        assert!(r.detail().contains("device:configure"), "{}", r.body);
    }
    let r = o
        .create(&lead, json!({"host": "192.0.2.60", "environment": "lab", "capabilities": {"allow_advanced_writes": true}}))
        .await;
    assert_eq!(
        refused(&r),
        (StatusCode::FORBIDDEN, "missing_permission"),
        "a new device with capability flags: {}",
        r.body
    );

    // A team admin limited to lab configures lab devices, but cannot move one out of lab.
    let r = o.patch(&lab_admin, &lab, writes.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = o
        .patch(&lab_admin, &lab, json!({"environment": "prod"}))
        .await;
    assert_eq!(
        refused(&r),
        (StatusCode::FORBIDDEN, "environment_not_allowed"),
        "{}",
        r.body
    );
    assert_eq!(o.stored(&lab).await.environment, Environment::Lab);
    // Nor touch a prod device's flags.
    let prod = o.device(Environment::Prod).await;
    let r = o.patch(&lab_admin, &prod, writes.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // Sending the values a device already has changes nothing and needs nothing more.
    let r = o
        .patch(
            &lead,
            &lab,
            json!({"environment": "lab", "capabilities": {"allow_advanced_writes": true}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let r = o
        .patch(&admin, &lab, json!({"environment": "staging"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(o.stored(&lab).await.environment, Environment::Staging);
}

#[tokio::test]
async fn a_lab_limited_team_admin_creates_and_rehomes_lab_devices_only() {
    let o = org(TestApp::spawn().await).await;
    let lab_admin = o.member(R::TeamAdmin, Some(vec![Environment::Lab])).await;
    let r = o
        .create(
            &lab_admin,
            json!({"host": "192.0.2.61", "environment": "prod"}),
        )
        .await;
    assert_eq!(
        refused(&r),
        (StatusCode::FORBIDDEN, "environment_not_allowed"),
        "{}",
        r.body
    );
    let r = o
        .create(
            &lab_admin,
            json!({"host": "192.0.2.62", "environment": "lab"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // It moves a lab device to another site of its team: in lab, it may.
    let second = o.app.site(o.tenant.id, &o.team, "second").await;
    let lab = o.device(Environment::Lab).await;
    let r = o
        .patch(&lab_admin, &lab, json!({"site_id": second.id}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn adding_a_device_to_a_group_is_a_device_scope_grant_to_everyone_narrowed_through_it() {
    let o = org(TestApp::spawn().await).await;
    let first = o.device(Environment::Prod).await;
    let second = o.device(Environment::Prod).await;
    let r = o
        .app
        .post(
            &o.owner,
            "/api/v1/device-groups",
            json!({"name": "edge", "device_ids": [first.id]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let group = r.body["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/device-groups/{group}");
    let tenant_wide = |role| vec![(role, Scope::Tenant(o.tenant.id), None)];
    let narrow = |user: kernel::UserId| {
        let body = json!({"user_id": user, "device_group_id": group});
        let app = &o.app;
        let owner = &o.owner;
        async move {
            let r = app.post(owner, "/api/v1/device-scopes", body).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        }
    };
    let both = json!({"device_ids": [first.id, second.id]});

    // A tenant-wide team admin narrowed to the group would widen its own
    // device scope (and its tool use) to the second device.
    let (admin, admin_token) = o
        .app
        .user_with(o.tenant.id, tenant_wide(R::TeamAdmin), false)
        .await;
    narrow(admin.id).await;
    let r = o.app.patch(&admin_token, &path, both.clone()).await;
    assert_eq!(
        refused(&r),
        (StatusCode::FORBIDDEN, "own_device_scope"),
        "{}",
        r.body
    );
    // An unnarrowed tenant-wide team admin does not outrank an ops_rw user
    // narrowed to the group, whose tool:advanced the new device would reach.
    let (ops, _) = o
        .app
        .user_with(
            o.tenant.id,
            vec![(R::OpsRw, Scope::Team(o.team.id.into()), None)],
            false,
        )
        .await;
    narrow(ops.id).await;
    let (_, other_admin) = o
        .app
        .user_with(o.tenant.id, tenant_wide(R::TeamAdmin), false)
        .await;
    let r = o.app.patch(&other_admin, &path, both.clone()).await;
    assert_eq!(
        refused(&r),
        (StatusCode::FORBIDDEN, "outranked"),
        "{}",
        r.body
    );
    let stored = |id: &str| {
        let id = kernel::DeviceGroupId::from_uuid(id.parse().unwrap());
        let app = &o.app;
        async move { app.state.tenancy.device_group(id).await.unwrap() }
    };
    assert_eq!(stored(&group).await.device_ids, vec![first.id]);

    // Taking a device out only narrows, and renaming changes nothing: both pass.
    let r = o
        .app
        .patch(
            &other_admin,
            &path,
            json!({"name": "core", "device_ids": []}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The owner outranks both and is not narrowed.
    let r = o.app.patch(&o.owner, &path, both).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut expected = vec![first.id, second.id];
    expected.sort();
    assert_eq!(stored(&group).await.device_ids, expected);
}

/// Whether `user` may run fundamental tools on `device` now.
async fn runs_tools_on(o: &Org, user: kernel::UserId, device: &tenancy::Device) -> bool {
    let index = o.app.state.authz.index(o.tenant.id).await.unwrap();
    matches!(
        index.decide(
            user,
            rbac::Permission::ToolFundamental,
            rbac::Resource::Device(device.id)
        ),
        Some(rbac::Decision::Allow(_))
    )
}

/// The last audit event of the tenant: `(decision, user, operation)`.
async fn last_event(o: &Org) -> (String, Option<kernel::UserId>, String) {
    let events = o.app.state.db.audit_events(o.tenant.id).await.unwrap();
    let e = events.last().unwrap();
    (
        e.decision.as_str().to_owned(),
        e.user_id,
        e.operation.clone(),
    )
}

#[tokio::test]
async fn a_narrowed_admin_cannot_lift_its_device_scope_by_deleting_its_only_entry() {
    let o = org(TestApp::spawn().await).await;
    let mine = o.device(Environment::Prod).await;
    let other = o.device(Environment::Prod).await;
    let tenant_wide = vec![(R::TeamAdmin, Scope::Tenant(o.tenant.id), None)];

    // Narrowed to a device group: deleting the group is refused.
    let r = o
        .app
        .post(
            &o.owner,
            "/api/v1/device-groups",
            json!({"name": "mine", "device_ids": [mine.id]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let group = kernel::DeviceGroupId::from_uuid(r.body["id"].as_str().unwrap().parse().unwrap());
    let (admin, token) = o
        .app
        .user_with(o.tenant.id, tenant_wide.clone(), false)
        .await;
    o.app
        .device_scope(
            o.tenant.id,
            admin.id,
            rbac::DeviceScopeTarget::DeviceGroup(group),
        )
        .await;
    assert!(!runs_tools_on(&o, admin.id, &other).await);
    let r = o
        .app
        .delete(&token, &format!("/api/v1/device-groups/{group}"))
        .await;
    assert_eq!(
        refused(&r),
        (StatusCode::CONFLICT, "device_scope_would_lapse"),
        "{}",
        r.body
    );
    assert_eq!(
        last_event(&o).await,
        ("deny".into(), Some(admin.id), "deleteDeviceGroup".into())
    );
    assert!(o.app.state.tenancy.device_group(group).await.is_ok());
    assert!(!runs_tools_on(&o, admin.id, &other).await);
    assert!(runs_tools_on(&o, admin.id, &mine).await);

    // Narrowed to a device: deleting the device is refused.
    let (admin, token) = o.app.user_with(o.tenant.id, tenant_wide, false).await;
    o.app
        .device_scope(
            o.tenant.id,
            admin.id,
            rbac::DeviceScopeTarget::Device(mine.id),
        )
        .await;
    let r = o
        .app
        .delete(&token, &format!("/api/v1/devices/{}", mine.id))
        .await;
    assert_eq!(
        refused(&r),
        (StatusCode::CONFLICT, "device_scope_would_lapse"),
        "{}",
        r.body
    );
    assert_eq!(
        last_event(&o).await,
        ("deny".into(), Some(admin.id), "deleteDevice".into())
    );
    assert_eq!(o.stored(&mine).await.id, mine.id);
    assert!(!runs_tools_on(&o, admin.id, &other).await);
}

#[tokio::test]
async fn deleting_a_device_that_is_someones_only_device_scope_entry_is_a_conflict() {
    let o = org(TestApp::spawn().await).await;
    let device = o.device(Environment::Prod).await;
    let other = o.device(Environment::Prod).await;
    let (ops, _) = o
        .app
        .user_with(
            o.tenant.id,
            vec![(R::OpsRw, Scope::Team(o.team.id.into()), None)],
            false,
        )
        .await;
    o.app
        .device_scope(
            o.tenant.id,
            ops.id,
            rbac::DeviceScopeTarget::Device(device.id),
        )
        .await;
    let r = o
        .app
        .delete(&o.owner, &format!("/api/v1/devices/{}", device.id))
        .await;
    assert_eq!(
        refused(&r),
        (StatusCode::CONFLICT, "device_scope_would_lapse"),
        "{}",
        r.body
    );
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains("1 user"), "{detail}");
    assert!(
        detail.contains("change their device scopes first"),
        "{detail}"
    );
    assert_eq!(last_event(&o).await.0, "deny");
    assert_eq!(o.stored(&device).await.id, device.id);
    assert!(!runs_tools_on(&o, ops.id, &other).await);

    // The store refuses it too, inside the deleting transaction.
    let stored = o.app.state.tenancy.repo().delete_device(device.id).await;
    assert!(
        matches!(stored, Err(kernel::StoreError::Conflict(_))),
        "{stored:?}"
    );
    assert_eq!(o.stored(&device).await.id, device.id);
}

#[tokio::test]
async fn deleting_a_device_named_next_to_other_entries_needs_what_revoking_them_needs() {
    let o = org(TestApp::spawn().await).await;
    let gone = o.device(Environment::Prod).await;
    let kept = o.device(Environment::Prod).await;
    let outside = o.device(Environment::Prod).await;
    let (ops, _) = o
        .app
        .user_with(
            o.tenant.id,
            vec![(R::OpsRw, Scope::Team(o.team.id.into()), None)],
            false,
        )
        .await;
    for d in [&gone, &kept] {
        o.app
            .device_scope(o.tenant.id, ops.id, rbac::DeviceScopeTarget::Device(d.id))
            .await;
    }
    let path = format!("/api/v1/devices/{}", gone.id);

    // A narrowed org admin may not revoke device scope entries.
    let (narrowed, narrowed_token) = o
        .app
        .user(o.tenant.id, &[(R::OrgAdmin, Scope::Tenant(o.tenant.id))])
        .await;
    o.app
        .device_scope(
            o.tenant.id,
            narrowed.id,
            rbac::DeviceScopeTarget::Device(outside.id),
        )
        .await;
    let r = o.app.delete(&narrowed_token, &path).await;
    assert_eq!(
        refused(&r),
        (StatusCode::FORBIDDEN, "device_scope_escalation"),
        "{}",
        r.body
    );
    assert_eq!(
        last_event(&o).await,
        ("deny".into(), Some(narrowed.id), "deleteDevice".into())
    );
    assert_eq!(o.stored(&gone).await.id, gone.id);

    // The unnarrowed owner may; the user stays narrowed to the rest.
    let r = o.app.delete(&o.owner, &path).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert!(runs_tools_on(&o, ops.id, &kept).await);
    assert!(!runs_tools_on(&o, ops.id, &outside).await);
    use rbac::RbacRepository;
    let left = o
        .app
        .state
        .db
        .device_scopes(o.tenant.id, Some(ops.id))
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].target, rbac::DeviceScopeTarget::Device(kept.id));
}
