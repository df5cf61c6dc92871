//! One audit event per request: allowed or refused, whatever refused it,
//! each REST request leaves exactly one event, committed before the reply,
//! and the tenant's chain verifies under load.

use audit::query::{ChainKey, verify_range};
use audit::{AuditEvent, Effect};
use rbac::BuiltinRole as R;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tenancy::Scope;
use testkit::TestApp;

/// Sends a request with an `X-Request-Id`, so its event can be found.
async fn send(
    app: &TestApp,
    id: &str,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&str>,
) -> StatusCode {
    let mut req = app
        .client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("x-request-id", id);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_owned());
    }
    req.send().await.unwrap().status()
}

fn of<'a>(events: &'a [AuditEvent], request_id: &str) -> Vec<&'a AuditEvent> {
    events
        .iter()
        .filter(|e| e.client_request_id.as_deref() == Some(request_id))
        .collect()
}

#[tokio::test]
async fn every_request_leaves_exactly_one_event_whatever_its_outcome() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let team = app.team(&t, "core").await;
    let (member, token) = app
        .user(t.id, &[(R::ReadOnly, Scope::Team(team.id.into()))])
        .await;
    let unknown = uuid::Uuid::now_v7();
    let site = json!({"name": "hq", "team_id": team.id}).to_string();

    let cases: [(&str, Method, String, Option<&str>, StatusCode); 5] = [
        ("ok", Method::GET, "/api/v1/me".into(), None, StatusCode::OK),
        (
            "denied",
            Method::POST,
            "/api/v1/sites".into(),
            Some(&site),
            StatusCode::FORBIDDEN,
        ),
        (
            "unknown-id",
            Method::GET,
            format!("/api/v1/sites/{unknown}"),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "malformed",
            Method::POST,
            "/api/v1/sites".into(),
            Some("{\"name\":"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "no-route",
            Method::GET,
            "/api/v1/no-such-thing".into(),
            None,
            StatusCode::NOT_FOUND,
        ),
    ];
    for (id, method, path, body, status) in &cases {
        let got = send(&app, id, method.clone(), path, &token, *body).await;
        assert_eq!(got, *status, "{id}");
    }

    let events = app.state.db.audit_events(t.id).await.unwrap();
    assert_eq!(events.len(), cases.len(), "{events:#?}");
    let one = |id: &str| {
        let found = of(&events, id);
        assert_eq!(found.len(), 1, "{id}: {found:#?}");
        found[0].clone()
    };
    let row = |e: &AuditEvent| {
        (
            e.operation.clone(),
            e.decision.as_str(),
            e.result.as_str(),
            e.error_class.clone(),
        )
    };
    assert_eq!(row(&one("ok")), ("getMe".into(), "allow", "success", None));
    assert_eq!(
        row(&one("denied")),
        (
            "createSite".into(),
            "deny",
            "failure",
            Some("missing_permission".into())
        )
    );
    assert_eq!(
        row(&one("unknown-id")),
        (
            "getSite".into(),
            "deny",
            "failure",
            Some("not_found".into())
        )
    );
    let malformed = one("malformed");
    assert_eq!(
        (malformed.operation.as_str(), malformed.result.as_str()),
        ("createSite", "failure")
    );
    assert!(malformed.error_class.is_some(), "{malformed:#?}");
    assert_eq!(
        row(&one("no-route")),
        (
            "GET /api/v1/no-such-thing".into(),
            "allow",
            "failure",
            Some("route_not_found".into())
        )
    );
    for e in &events {
        assert_eq!(e.user_id, Some(member.id));
        assert_eq!(e.user_email.as_deref(), Some(member.email.as_str()));
        assert_eq!(e.actor, audit::Actor::ApiToken);
        assert_eq!(e.client_addr.as_deref(), Some("127.0.0.1"));
    }
    assert_eq!(one("ok").effect, Effect::Read);
    assert_eq!(one("denied").effect, Effect::Write);
}

#[tokio::test]
async fn anonymous_and_forged_credentials_name_nobody_and_are_not_audited() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    for token in [None, Some("rgt_forged"), Some("not-a-jwt")] {
        let r = app.call(Method::GET, "/api/v1/me", token, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    assert!(app.state.db.audit_events(t.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn many_concurrent_callers_leave_one_event_each_and_the_chain_verifies() {
    const CALLERS: usize = 16;
    const EACH: usize = 25;
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let t = app.tenant("busy").await;
    let team = app.team(&t, "core").await;
    let mut tokens = Vec::new();
    for i in 0..CALLERS {
        let role = if i % 2 == 0 { R::TeamAdmin } else { R::Member };
        tokens.push(
            app.user(t.id, &[(role, Scope::Team(team.id.into()))])
                .await
                .1,
        );
    }
    let tasks: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, token)| {
            let app = app.clone();
            tokio::spawn(async move {
                for k in 0..EACH {
                    let id = format!("load-{i}-{k}");
                    // Reads, creates (refused for members) and unknown ids.
                    let (method, path, body) = match k % 3 {
                        0 => (Method::GET, "/api/v1/sites".to_owned(), None),
                        1 => (
                            Method::POST,
                            "/api/v1/sites".to_owned(),
                            Some(json!({"name": id, "team_id": team.id}).to_string()),
                        ),
                        _ => (
                            Method::GET,
                            format!("/api/v1/sites/{}", uuid::Uuid::now_v7()),
                            None,
                        ),
                    };
                    let status = send(&app, &id, method, &path, &token, body.as_deref()).await;
                    assert!(status.as_u16() < 500, "{id}: {status}");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }

    let events = app.state.db.audit_events(t.id).await.unwrap();
    assert_eq!(events.len(), CALLERS * EACH);
    let mut ids: Vec<_> = events.iter().map(|e| e.request_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), CALLERS * EACH, "every request exactly once");
    let report = verify_range(
        &app.state.db,
        &app.state.audit_trust.links,
        None,
        ChainKey::of(Some(t.id)),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (report.checked, report.first_break),
        ((CALLERS * EACH) as u64, None)
    );
}

#[tokio::test]
async fn a_request_about_a_device_records_the_device_and_its_environment() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let team = app.team(&t, "core").await;
    let site = app.site(t.id, &team, "hq").await;
    let device = app.device(t.id, &site, kernel::Environment::Prod).await;
    let (_, token) = app
        .user(t.id, &[(R::TeamAdmin, Scope::Team(team.id.into()))])
        .await;
    let path = format!("/api/v1/devices/{}", device.id);
    let status = send(
        &app,
        "edit",
        Method::PATCH,
        &path,
        &token,
        Some("{\"tags\":{\"rack\":\"a1\"}}"),
    )
    .await;
    assert!(status.is_success(), "{status}");
    let events = app.state.db.audit_events(t.id).await.unwrap();
    let e = of(&events, "edit")[0];
    assert_eq!(e.device_id, Some(device.id.uuid()));
    assert_eq!(e.environment.as_deref(), Some("prod"));
    assert_eq!(
        (e.effect, e.operation.as_str()),
        (Effect::Write, "updateDevice")
    );
}
