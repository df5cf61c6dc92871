//! The API's contract beyond authorization: problem documents for bad
//! input, the OpenAPI document, secrets that never come back, invitations,
//! tokens, pagination and the audit record of every decision.

use rbac::BuiltinRole as R;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenancy::Scope;
use testkit::TestApp;

async fn org_admin(app: &TestApp) -> (tenancy::Tenant, tenancy::OrgUnit, String) {
    let t = app.tenant("acme").await;
    let team = app.team(&t, "core").await;
    let (_, token) = app.user(t.id, &[(R::OrgAdmin, Scope::Tenant(t.id))]).await;
    (t, team, token)
}

#[tokio::test]
async fn committed_openapi_document_matches_the_code() {
    let app = TestApp::spawn().await;
    let generated: Value = serde_json::from_str(&rosgate::rest::spec_json(&app.state)).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("docs/openapi.json exists"))
            .expect("docs/openapi.json is JSON");
    assert!(
        generated == committed,
        "docs/openapi.json is out of date: run `cargo xtask openapi` and commit the result"
    );
    let served = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(served.body, generated);
    let docs = app
        .client
        .get(format!("{}/docs/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_input_gets_clear_problem_documents() {
    let app = TestApp::spawn().await;
    let (_, team, token) = org_admin(&app).await;
    let url = format!("{}/api/v1/sites", app.base);

    let malformed = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        malformed.headers()["content-type"],
        "application/problem+json"
    );

    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"name": {"a": 1}, "team_id": team.id}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"name": "x", "team_id": 5}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"team_id": team.id}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"name": "x", "team_id": "not-a-uuid"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"name": "x".repeat(201), "team_id": team.id}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"name": "   ", "team_id": team.id}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"name": "x", "team_id": uuid::Uuid::now_v7()}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (body, status, code) in cases {
        let r = app.post(&token, "/api/v1/sites", body.clone()).await;
        assert_eq!(r.status, status, "{body}: {:?}", r.body);
        assert!(r.is_problem(), "{body}: {:?}", r.body);
        assert_eq!(r.code(), code, "{body}");
    }
    let r = app
        .post(
            &token,
            "/api/v1/sites",
            json!({"name": "  ", "team_id": team.id}),
        )
        .await;
    assert_eq!(r.body["field"], "name", "validation errors name the field");

    let r = app.get(&token, "/api/v1/sites/not-a-uuid").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.is_problem());
    let r = app
        .get(&token, &format!("/api/v1/sites/{}", uuid::Uuid::now_v7()))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.get(&token, "/api/v1/no-such-thing").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.is_problem());

    let huge = "x".repeat(200 * 1024);
    let r = app
        .post(
            &token,
            "/api/v1/sites",
            json!({"name": huge, "team_id": team.id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.is_problem());

    let r = app.post(&token, "/api/v1/devices", json!({"name": "r", "site_id": uuid::Uuid::now_v7(), "host": "bad host!", "environment": "lab"})).await;
    assert!(r.status.is_client_error() && r.is_problem(), "{:?}", r.body);
    let r = app.post(&token, "/api/v1/devices", json!({"name": "r", "site_id": uuid::Uuid::now_v7(), "host": "h", "environment": "moon"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app.get(&token, "/api/v1/sites?limit=0").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_malformed_id_in_a_path_is_a_bad_request_problem() {
    let app = TestApp::spawn().await;
    let (_, _, token) = org_admin(&app).await;
    for path in ["sites/not-a-uuid", "devices/42", "users/x/identities"] {
        let r = app
            .client
            .get(format!("{}/api/v1/{path}", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "invalid_request", "{path}");
    }
}

#[tokio::test]
async fn device_credentials_are_write_only_and_sealed() {
    let app = TestApp::spawn().await;
    let (t, team, token) = org_admin(&app).await;
    let site = app.site(t.id, &team, "hq").await;
    let r = app
        .post(
            &token,
            "/api/v1/devices",
            json!({"name": "r1", "site_id": site.id, "host": "10.0.0.1", "environment": "prod",
                   "credentials": {"username": "admin", "password": "hunter2-secret"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["has_credentials"], true);
    assert!(
        !r.body.to_string().contains("hunter2"),
        "credentials never come back"
    );
    let id: kernel::DeviceId = r.str("id").parse().unwrap();
    let got = app.get(&token, &format!("/api/v1/devices/{id}")).await;
    assert!(!got.body.to_string().contains("hunter2"));
    let sealed = app
        .state
        .tenancy
        .repo()
        .device_credentials(id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !sealed.windows(7).any(|w| w == b"hunter2"),
        "stored encrypted"
    );
    let opened = app.state.tenancy.credentials(id).await.unwrap().unwrap();
    assert_eq!(opened.password, "hunter2-secret");
}

#[tokio::test]
async fn invitations_create_users_once_and_never_escalate() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let team = app.team(&t, "core").await;
    let (_, team_admin) = app
        .user(t.id, &[(R::TeamAdmin, Scope::Team(team.id.into()))])
        .await;

    let r = app
        .post(&team_admin, "/api/v1/invitations", json!({"email": "New@Example.test", "role_id": R::Member.id(), "scope": {"type": "team", "id": team.id}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let token = r.body["token"].as_str().unwrap().to_owned();

    let accept = |display: &'static str| {
        let token = token.clone();
        let app = &app;
        async move {
            app.call(
                Method::POST,
                "/api/v1/invitations/accept",
                None,
                Some(json!({"token": token, "display_name": display})),
            )
            .await
        }
    };
    let first = accept("New Person").await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(first.str("email"), "new@example.test");
    let again = accept("Again").await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "single use");
    assert!(again.is_problem());

    let bindings = app.state.rbac.repo().bindings(t.id).await.unwrap();
    let new_id: uuid::Uuid = first.str("id").parse().unwrap();
    assert!(
        bindings
            .iter()
            .any(|b| b.user_id.uuid() == new_id && b.role_id == R::Member.id())
    );

    // A team admin cannot invite an org admin, nor invite at the tenant scope.
    let r = app
        .post(&team_admin, "/api/v1/invitations", json!({"email": "boss@example.test", "role_id": R::OrgAdmin.id(), "scope": {"type": "team", "id": team.id}}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "privilege_escalation");
    let r = app
        .post(&team_admin, "/api/v1/invitations", json!({"email": "x@example.test", "role_id": R::Member.id(), "scope": {"type": "tenant", "id": t.id}}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let bogus = app
        .call(
            Method::POST,
            "/api/v1/invitations/accept",
            None,
            Some(json!({"token": "rgi_nope", "display_name": "x"})),
        )
        .await;
    assert_eq!(bogus.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn revoked_and_expired_tokens_stop_working() {
    let app = TestApp::spawn().await;
    let (_, _, token) = org_admin(&app).await;
    let created = app
        .post(
            &token,
            "/api/v1/tokens",
            json!({"name": "script", "ttl_days": 1}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let secret = created.str("secret");
    assert_eq!(app.get(&secret, "/api/v1/me").await.status, StatusCode::OK);
    let listed = app.get(&token, "/api/v1/tokens").await;
    assert!(
        !listed.body.to_string().contains(&secret),
        "secrets are shown once"
    );
    let id = created.body["token"]["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&token, &format!("/api/v1/tokens/{id}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let r = app.get(&secret, "/api/v1/me").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.detail().contains("revoked"));
}

#[tokio::test]
async fn lists_page_with_cursors() {
    let app = TestApp::spawn().await;
    let (t, team, token) = org_admin(&app).await;
    for i in 0..7 {
        app.site(t.id, &team, &format!("s{i}")).await;
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/api/v1/sites?limit=3&after={a}"),
            None => "/api/v1/sites?limit=3".into(),
        };
        let r = app.get(&token, &path).await;
        assert_eq!(r.status, StatusCode::OK);
        for s in r.body["items"].as_array().unwrap() {
            seen.push(s["name"].as_str().unwrap().to_owned());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => after = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, (0..7).map(|i| format!("s{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn every_decision_is_audited_allow_and_deny() {
    let app = TestApp::spawn().await;
    let (t, team, token) = org_admin(&app).await;
    let other = app.team(&t, "edge").await;
    let site = app.site(t.id, &other, "edge-site").await;
    let (member, member_token) = app
        .user(t.id, &[(R::Member, Scope::Team(team.id.into()))])
        .await;
    let before = app.state.db.audit_events(t.id).await.unwrap().len();

    let allowed = app
        .call(
            Method::GET,
            &format!("/api/v1/sites/{}", site.id),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(allowed.status, StatusCode::OK);
    let request_id = allowed.headers["x-request-id"].to_str().unwrap().to_owned();
    let denied = app
        .get(&member_token, &format!("/api/v1/sites/{}", site.id))
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    let events = app.state.db.audit_events(t.id).await.unwrap();
    assert_eq!(events.len(), before + 2, "one event per decision");
    let allow = &events[before];
    assert_eq!(
        (allow.decision.as_str(), allow.action.as_str()),
        ("allow", "site:read")
    );
    assert_eq!(allow.request_id, request_id);
    assert_eq!(allow.resource_id, Some(site.id.uuid()));
    let deny = &events[before + 1];
    assert_eq!(deny.decision.as_str(), "deny");
    assert_eq!(deny.user_id, Some(member.id));
    assert_eq!(deny.reason, "No access to this resource");
    assert_eq!(deny.operation, "getSite");
}

#[tokio::test]
async fn authz_check_explains_decisions() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let team = app.team(&t, "core").await;
    let site = app.site(t.id, &team, "hq").await;
    let lab = app.device(t.id, &site, kernel::Environment::Lab).await;
    let prod = app.device(t.id, &site, kernel::Environment::Prod).await;
    let (_, ops) = app
        .user_with(
            t.id,
            vec![(
                R::OpsRw,
                Scope::Team(team.id.into()),
                Some(vec![kernel::Environment::Lab, kernel::Environment::Staging]),
            )],
            false,
        )
        .await;
    let check = |perm: &str, device: &tenancy::Device| json!({"permission": perm, "resource": {"type": "device", "id": device.id}});
    let r = app
        .post(&ops, "/api/v1/authz/check", check("tool:advanced", &lab))
        .await;
    assert_eq!(r.body["allowed"], true, "{:?}", r.body);
    assert!(r.body["binding_id"].is_string());
    let r = app
        .post(&ops, "/api/v1/authz/check", check("tool:advanced", &prod))
        .await;
    assert_eq!(r.body["allowed"], false);
    assert_eq!(r.body["code"], "environment_not_allowed");
    let r = app
        .post(
            &ops,
            "/api/v1/authz/check",
            check("tool:professional", &lab),
        )
        .await;
    assert_eq!(r.body["reason"], "Missing permission: tool:professional");
    let r = app
        .post(
            &ops,
            "/api/v1/authz/check",
            json!({"permission": "site:fly", "resource": {"type": "site", "id": site.id}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn platform_admins_create_tenants_and_nobody_else_does() {
    let app = TestApp::spawn().await;
    let home = app.tenant("operator").await;
    let (_, root) = app.user_with(home.id, vec![], true).await;
    let (_, owner) = app
        .user(home.id, &[(R::OrgAdmin, Scope::Tenant(home.id))])
        .await;
    let r = app
        .post(&root, "/api/v1/tenants", json!({"name": "newco"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = app
        .post(&owner, "/api/v1/tenants", json!({"name": "sneaky"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.detail(), "Missing permission: tenant:create");
    let dup = app
        .post(&root, "/api/v1/tenants", json!({"name": "newco"}))
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn demo_data_is_seeded_once_with_the_documented_people() {
    let app = TestApp::spawn().await;
    let s = &app.state;
    for _ in 0..2 {
        rosgate::demo::seed(&s.tenancy, &s.rbac, s.clock.as_ref(), s.entropy.as_ref())
            .await
            .unwrap();
    }
    let repo = app.state.tenancy.repo();
    let tenants: Vec<String> = repo
        .tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        tenants,
        ["acme", "globex", "rosgate"],
        "seeding twice adds nothing"
    );
    let acme = repo.tenants().await.unwrap().remove(0);
    let devices = repo.devices(acme.id).await.unwrap();
    let hq = devices.iter().find(|d| d.name == "acme-hq-r1").unwrap();
    assert_eq!(hq.environment, kernel::Environment::Prod);
    assert!(hq.capabilities.allow_advanced_writes && !hq.capabilities.allow_professional_workflows);
    let branch = devices.iter().find(|d| d.name == "acme-branch-r1").unwrap();
    assert_eq!(branch.capabilities, tenancy::Capabilities::ALL);

    let tokens = rosgate::demo::tokens(&app.state.tenancy).await.unwrap();
    let token = |email: &str| tokens.iter().find(|(e, _)| e == email).unwrap().1.clone();
    assert_eq!(
        site_names(&app, token("owner@acme.test")).await,
        ["acme-branch", "acme-hq"]
    );
    assert_eq!(
        site_names(&app, token("admin@acme.test")).await,
        ["acme-hq"]
    );
    assert_eq!(
        site_names(&app, token("member@acme.test")).await,
        ["acme-branch"]
    );
    assert_eq!(
        site_names(&app, token("multi@acme.test")).await,
        ["acme-branch", "acme-hq"]
    );
    assert_eq!(
        site_names(&app, token("owner@globex.test")).await,
        ["globex-dc"]
    );

    let ops = token("ops@acme.test");
    let check = |d: &tenancy::Device| json!({"permission": "tool:advanced", "resource": {"type": "device", "id": d.id}});
    let r = app.post(&ops, "/api/v1/authz/check", check(hq)).await;
    assert_eq!(
        r.body["code"], "environment_not_allowed",
        "ops_rw is limited to lab and staging"
    );
}

#[tokio::test]
async fn the_cli_mints_tokens_that_the_api_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display());
    let key_file = dir.path().join("key").display().to_string();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_rosgate"))
            .args(args)
            .env("ROSGATE_DATABASE_URL", &url)
            .env("ROSGATE_KEY_FILE", &key_file)
            .output()
            .unwrap()
    };
    assert!(run(&["migrate"]).status.success());
    let config = rosgate::Config {
        database_url: url.clone(),
        key_file: key_file.clone(),
        ..Default::default()
    };
    let state = rosgate::wiring::build(
        &config,
        std::sync::Arc::new(kernel::SystemClock),
        std::sync::Arc::new(kernel::OsEntropy),
    )
    .await
    .unwrap();
    let t = state.tenancy.create_tenant("cli").await.unwrap();
    state
        .tenancy
        .create_user(t.id, "cli@example.test", "CLI", false)
        .await
        .unwrap();

    let out = run(&[
        "token",
        "create",
        "--email",
        "cli@example.test",
        "--ttl",
        "30d",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (row, user) = state
        .tenancy
        .authenticate_api_token(&token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.email, "cli@example.test");
    assert!(row.expires_at.is_some());

    let bad = run(&["token", "create", "--email", "nobody@example.test"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no user with email"));
    let bad = run(&[
        "token",
        "create",
        "--email",
        "cli@example.test",
        "--ttl",
        "forever",
    ]);
    assert!(!bad.status.success());
}

async fn site_names(app: &TestApp, token: String) -> Vec<String> {
    let r = app.get(&token, "/api/v1/sites").await;
    let mut names: Vec<String> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn an_undeclared_oversized_body_is_cut_off_not_buffered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let (_, team, token) = org_admin(&app).await;
    let addr = app.base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1/sites HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let body = format!(
        "{{\"team_id\": \"{}\", \"name\": \"{}\"}}",
        team.id,
        "x".repeat(200 * 1024)
    );
    for chunk in body.as_bytes().chunks(8192) {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if conn.write_all(&frame).await.is_err() {
            break;
        }
    }
    let _ = conn.write_all(b"0\r\n\r\n").await;
    let mut reply = String::new();
    let _ = conn.read_to_string(&mut reply).await;
    let status: u16 = reply.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(
        (400..500).contains(&status),
        "{}",
        &reply[..reply.len().min(300)]
    );
    assert!(reply.contains("application/problem+json"));
}

#[tokio::test]
async fn the_cli_links_an_administrator_to_an_identity_and_keeps_token_lifetimes() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display());
    let key_file = dir.path().join("key").display().to_string();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_rosgate"))
            .args(args)
            .env("ROSGATE_DATABASE_URL", &url)
            .env("ROSGATE_KEY_FILE", &key_file)
            .output()
            .unwrap()
    };
    assert!(run(&["migrate"]).status.success());
    let config = rosgate::Config {
        database_url: url.clone(),
        key_file: key_file.clone(),
        ..Default::default()
    };
    let state = rosgate::wiring::build(
        &config,
        std::sync::Arc::new(kernel::SystemClock),
        std::sync::Arc::new(kernel::OsEntropy),
    )
    .await
    .unwrap();
    let t = state.tenancy.create_tenant("cli-link").await.unwrap();
    let root = state
        .tenancy
        .create_user(t.id, "root@example.test", "Root", true)
        .await
        .unwrap();
    state
        .tenancy
        .create_user(t.id, "other@example.test", "Other", false)
        .await
        .unwrap();
    let issuer = "https://idp.example.test";
    let link = |email: &str| {
        run(&[
            "user",
            "link-identity",
            "--email",
            email,
            "--subject",
            "00u-root",
            "--issuer",
            issuer,
        ])
    };
    let out = link("root@example.test");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let linked = state
        .tenancy
        .repo()
        .user_by_identity(issuer, "00u-root")
        .await
        .unwrap()
        .expect("linked");
    assert_eq!(linked.id, root.id);
    // The identity is root's: nobody else gets it.
    assert!(!link("other@example.test").status.success());
    // Both attempts are in the audit trail, the refusal as a denial.
    let events = state.db.audit_events(t.id).await.unwrap();
    let cli: Vec<_> = events
        .iter()
        .filter(|e| e.operation == "cli:link-identity")
        .map(|e| {
            (
                e.resource_id,
                e.decision.as_str(),
                e.reason.contains("\"00u-root\""),
            )
        })
        .collect();
    let other = state
        .tenancy
        .repo()
        .user_by_email("other@example.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        cli,
        vec![
            (Some(root.id.uuid()), "allow", true),
            (Some(other.id.uuid()), "deny", true)
        ],
        "{events:#?}"
    );
    // Without --issuer and without [oidc], the command says what is missing.
    let out = run(&[
        "user",
        "link-identity",
        "--email",
        "root@example.test",
        "--subject",
        "x",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--issuer"));
    // API tokens live at most 90 days, from the CLI too.
    let out = run(&[
        "token",
        "create",
        "--email",
        "root@example.test",
        "--ttl",
        "91d",
    ]);
    assert!(!out.status.success(), "a token past the maximum lifetime");
}

#[tokio::test]
async fn a_server_whose_stdout_is_closed_after_its_first_line_keeps_serving() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let listen = {
        let (l, _) = testkit::reserve().await;
        l.local_addr().unwrap().to_string()
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rosgate"))
        .args(["serve", "--demo"])
        .env("ROSGATE_LISTEN", &listen)
        .env(
            "ROSGATE_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display()),
        )
        .env("ROSGATE_KEY_FILE", dir.path().join("key"))
        .env("ROSGATE_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // A supervisor reads one line, then stops reading: the rest of the
    // banner goes into a closed pipe, and the server must not die of it.
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty());
    let client = reqwest::Client::new();
    let mut serving = false;
    for _ in 0..300 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if client
            .get(format!("http://{listen}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            serving = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(serving, "the server stopped when its stdout was closed");
}
