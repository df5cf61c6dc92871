//! The one admission path: every entry point leaves its audit event (REST
//! operations open to anyone, each MCP request whatever its method, the
//! browser login), requests that name nobody are limited per client
//! address and counted into one event a minute, a user's over-budget
//! refusals likewise, and a tool failure carries one code on every channel.

use crate::lab::lab;
use audit::query::{ChainKey, for_each};
use audit::{AuditEvent, Outcome};
use kernel::{Clock, Environment, ManualClock, SystemClock, TenantId};
use rbac::BuiltinRole as R;
use reqwest::StatusCode;
use rosgate::config::Budget;
use routeros_sim::Fault;
use serde_json::{Value, json};
use std::sync::Arc;
use tenancy::{Capabilities, Scope};
use testkit::{TestApp, TestDatabase, reserve};

/// Every event of one chain, oldest first.
async fn chain(app: &TestApp, tenant: Option<TenantId>) -> Vec<AuditEvent> {
    let mut out = Vec::new();
    for_each(&app.state.db, ChainKey::of(tenant), 1, i64::MAX, |row| {
        out.push(row.event.clone());
        true
    })
    .await
    .unwrap();
    out
}

/// One JSON-RPC request to `/mcp` as `token`.
async fn mcp(app: &TestApp, token: &str, method: &str, params: Value) -> (StatusCode, Value) {
    let resp = app
        .client
        .post(format!("{}/mcp", app.base))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn accepting_an_invitation_leaves_one_event_naming_the_new_user() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let team = app.team(&t, "core").await;
    let (_, owner) = app.user(t.id, &[(R::OrgAdmin, Scope::Tenant(t.id))]).await;
    let inv = app
        .post(
            &owner,
            "/api/v1/invitations",
            json!({"email": "new@acme.test", "role_id": R::Member.id(),
                   "scope": {"type": "team", "id": team.id}}),
        )
        .await;
    assert_eq!(inv.status, StatusCode::CREATED, "{:?}", inv.body);
    let before = chain(&app, Some(t.id)).await.len();

    let accepted = app
        .call(
            reqwest::Method::POST,
            "/api/v1/invitations/accept",
            None,
            Some(json!({"token": inv.str("token"), "display_name": "New"})),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{:?}", accepted.body);

    let events = chain(&app, Some(t.id)).await;
    assert_eq!(events.len(), before + 1, "{events:#?}");
    let e = events.last().unwrap();
    assert_eq!(e.operation, "acceptInvitation");
    assert_eq!(e.user_email.as_deref(), Some("new@acme.test"));
    assert_eq!(
        e.user_id.map(|u| u.uuid().to_string()),
        Some(accepted.str("id"))
    );
    assert_eq!((e.decision, e.result.as_str()), (Outcome::Allow, "success"));
}

#[tokio::test]
async fn every_mcp_request_leaves_one_event_whatever_its_method() {
    let lab = lab().await;
    let d = lab
        .device("r-res", Environment::Lab, Capabilities::default())
        .await;
    let token = lab.user(R::ReadOnly).await;
    let calls = [
        ("tools/list", json!({}), "mcp:tools/list"),
        ("resources/list", json!({}), "mcp:resources/list"),
        (
            "resources/read",
            json!({"uri": format!("device://{}/health", d.id)}),
            "mcp:resources/read",
        ),
        (
            "tools/call",
            json!({"name": "get_system_clock", "arguments": {"device_id": d.id}}),
            "mcp:get_system_clock",
        ),
        ("no/such/method", json!({}), "mcp:no/such/method"),
    ];
    for (method, params, operation) in calls {
        let before = chain(&lab.app, Some(lab.tenant)).await.len();
        let (status, body) = mcp(&lab.app, &token, method, params).await;
        assert_eq!(status, StatusCode::OK, "{method}: {body}");
        let events = chain(&lab.app, Some(lab.tenant)).await;
        assert_eq!(events.len(), before + 1, "{method}: {events:#?}");
        let e = events.last().unwrap();
        assert_eq!(e.operation, operation, "{e:#?}");
        assert_eq!(e.actor, audit::Actor::Agent);
        if method == "resources/read" {
            // Reading health logs into the router: the event names the device.
            assert_eq!(e.device_id, Some(d.id.uuid()));
            assert_eq!(e.environment.as_deref(), Some("lab"));
        }
        if method == "no/such/method" {
            assert_eq!(e.result.as_str(), "failure");
            assert_eq!(e.error_class.as_deref(), Some("unknown_method"));
        }
    }
}

#[tokio::test]
async fn a_device_failure_has_one_code_over_rest_and_mcp() {
    let lab = lab().await;
    let d = lab
        .device("r-code", Environment::Lab, Capabilities::default())
        .await;
    let token = lab.user(R::ReadOnly).await;
    lab.sim.set_fault("r-code", Fault::AuthFailure).await;

    let rest = lab
        .app
        .post(
            &token,
            &format!("/api/v1/devices/{}/tools/get_system_clock", d.id),
            json!({}),
        )
        .await;
    assert_eq!(
        (rest.status, rest.code()),
        (StatusCode::BAD_GATEWAY, "device_auth_failed")
    );
    let (_, body) = mcp(
        &lab.app,
        &token,
        "tools/call",
        json!({"name": "get_system_clock", "arguments": {"device_id": d.id}}),
    )
    .await;
    assert_eq!(body["result"]["isError"], true, "{body}");
    assert!(
        body.to_string().contains("refused (device_auth_failed)"),
        "{body}"
    );
    let classes: Vec<_> = chain(&lab.app, Some(lab.tenant))
        .await
        .into_iter()
        .filter(|e| e.tool_name.as_deref() == Some("get_system_clock"))
        .map(|e| (e.operation, e.error_class))
        .collect();
    assert_eq!(
        classes,
        [
            (
                "rest:get_system_clock".to_owned(),
                Some("device_auth_failed".to_owned())
            ),
            (
                "mcp:get_system_clock".to_owned(),
                Some("device_auth_failed".to_owned())
            ),
        ]
    );
}

#[tokio::test]
async fn requests_that_name_nobody_are_limited_per_address_and_counted_once_a_minute() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let app = TestApp::spawn_clocked(
        TestDatabase::from_env(),
        reserve().await,
        |c| c.rate_limits.per_address_per_minute = Some(5),
        clock.clone(),
    )
    .await;
    let t = app.tenant("acme").await;
    let (_, real) = app.user(t.id, &[(R::ReadOnly, Scope::Tenant(t.id))]).await;
    // A real token id with a wrong secret, junk, and no credentials at all.
    let last = if real.ends_with('x') { 'y' } else { 'x' };
    let wrong_secret = format!("{}{last}", &real[..real.len() - 1]);
    let mut statuses = Vec::new();
    for token in [wrong_secret.as_str(), "junk.jwt.here", "rgt_nope"] {
        statuses.push(app.get(token, "/api/v1/me").await.status);
    }
    for _ in 0..4 {
        let r = app
            .call(reqwest::Method::GET, "/api/v1/sites", None, None)
            .await;
        statuses.push(r.status);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS,
        ]
    );
    // The real user is not locked out by the flood from "its" address's
    // failures: it names itself.
    assert_eq!(app.get(&real, "/api/v1/me").await.status, StatusCode::OK);

    assert!(
        chain(&app, None).await.is_empty(),
        "the minute is not over yet"
    );
    clock.advance(time::Duration::seconds(61));
    // The background tick writes the minute once it is over.
    rosgate::wiring::refusal_writer(&app.state)
        .flush(false)
        .await;
    let platform = chain(&app, None).await;
    assert_eq!(platform.len(), 1, "one event for the minute: {platform:#?}");
    let e = &platform[0];
    assert_eq!(e.decision, Outcome::Deny);
    assert_eq!(e.client_addr.as_deref(), Some("127.0.0.1"));
    assert!(
        e.reason.starts_with("7 requests refused")
            && e.reason.contains("invalid_token x3")
            && e.reason.contains("unauthenticated x2")
            && e.reason.contains("rate_limited x2"),
        "{}",
        e.reason
    );
    // Nothing of it leaked into the tenant's chain.
    assert!(
        chain(&app, Some(t.id))
            .await
            .iter()
            .all(|e| e.decision == Outcome::Allow)
    );
}

#[tokio::test]
async fn a_users_over_budget_refusals_are_one_counted_event_a_minute() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let app = TestApp::spawn_clocked(
        TestDatabase::from_env(),
        reserve().await,
        |c| {
            c.rate_limits.roles.insert(
                "read_only".into(),
                Budget {
                    per_hour: Some(2),
                    per_day: None,
                },
            );
        },
        clock.clone(),
    )
    .await;
    let t = app.tenant("acme").await;
    let (_, token) = app.user(t.id, &[(R::ReadOnly, Scope::Tenant(t.id))]).await;
    let mut refused = 0;
    for _ in 0..6 {
        if app.get(&token, "/api/v1/me").await.status == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert_eq!(refused, 4);
    assert_eq!(chain(&app, Some(t.id)).await.len(), 2, "two admitted");
    clock.advance(time::Duration::seconds(61));
    rosgate::wiring::refusal_writer(&app.state)
        .flush(false)
        .await;
    let events = chain(&app, Some(t.id)).await;
    assert_eq!(events.len(), 3, "{events:#?}");
    let e = &events[2];
    assert_eq!(
        (e.action.as_str(), e.decision),
        ("rate_limit", Outcome::Deny)
    );
    assert!(e.reason.starts_with("4 requests refused"), "{}", e.reason);
    assert_eq!(
        e.user_email.as_deref(),
        Some(events[0].user_email.as_deref().unwrap())
    );
}

#[tokio::test]
async fn a_client_request_id_is_kept_beside_rosgates_own_and_never_replaces_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (_, token) = app.user(t.id, &[(R::ReadOnly, Scope::Tenant(t.id))]).await;
    let mut ours = Vec::new();
    for _ in 0..2 {
        let resp = app
            .client
            .get(format!("{}/api/v1/me", app.base))
            .bearer_auth(&token)
            .header("x-request-id", "same-id")
            .send()
            .await
            .unwrap();
        ours.push(resp.headers()["x-request-id"].to_str().unwrap().to_owned());
    }
    assert_ne!(ours[0], ours[1]);
    assert!(!ours.contains(&"same-id".to_owned()));
    let events = chain(&app, Some(t.id)).await;
    let got: Vec<_> = events
        .iter()
        .map(|e| (e.request_id.clone(), e.client_request_id.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (ours[0].clone(), Some("same-id".to_owned())),
            (ours[1].clone(), Some("same-id".to_owned())),
        ]
    );
}

#[tokio::test]
async fn an_mcp_call_whose_client_goes_away_still_leaves_its_event() {
    let lab = lab().await;
    let d = lab
        .device("r-gone", Environment::Lab, Capabilities::default())
        .await;
    let token = lab.user(R::ReadOnly).await;
    // The router answers after a second; the client gives up long before.
    lab.sim
        .set_fault("r-gone", Fault::Slow(std::time::Duration::from_secs(1)))
        .await;
    let gone = lab
        .app
        .client
        .post(format!("{}/mcp", lab.app.base))
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .timeout(std::time::Duration::from_millis(100))
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "get_system_clock", "arguments": {"device_id": d.id}}}))
        .send()
        .await;
    assert!(gone.is_err(), "the client gave up");
    for _ in 0..100 {
        let events = chain(&lab.app, Some(lab.tenant)).await;
        if let Some(e) = events
            .iter()
            .find(|e| e.operation == "mcp:get_system_clock")
        {
            assert_eq!(e.device_id, Some(d.id.uuid()));
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the call ran, but left no event");
}

#[tokio::test]
async fn an_invitation_accepted_beside_a_refused_credential_is_recorded_as_allowed() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (owner_user, owner) = app.user(t.id, &[(R::OrgAdmin, Scope::Tenant(t.id))]).await;
    let inv = app
        .post(
            &owner,
            "/api/v1/invitations",
            json!({"email": "second@acme.test", "role_id": R::Member.id(),
                   "scope": {"type": "tenant", "id": t.id}}),
        )
        .await;
    assert_eq!(inv.status, StatusCode::CREATED, "{:?}", inv.body);
    // The owner's session cookie without its CSRF token (a refusal that
    // names the owner) beside the invitation token: the invitation decides.
    let (cookie, _) = app
        .state
        .sessions
        .start(tenancy::session::NewSession {
            user_id: owner_user.id,
            tenant_id: t.id,
            subject: "owner".into(),
            email: owner_user.email.clone(),
            display_name: "Owner".into(),
            sealed_tokens: Vec::new(),
        })
        .await
        .unwrap();
    let resp = app
        .client
        .post(format!("{}/api/v1/invitations/accept", app.base))
        .header("cookie", format!("rosgate_session={cookie}"))
        .json(&json!({"token": inv.str("token"), "display_name": "Second"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let events = chain(&app, Some(t.id)).await;
    let e = events.last().unwrap();
    assert_eq!(e.operation, "acceptInvitation");
    assert_eq!((e.decision, e.result.as_str()), (Outcome::Allow, "success"));
    assert_eq!(e.user_email.as_deref(), Some("second@acme.test"));
}
