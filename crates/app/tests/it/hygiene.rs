//! Input and output hygiene at the edge: CSV reports that a spreadsheet
//! cannot be made to run, request logs without query strings, and bodies
//! over the limit refused with 413 however they are sent.

use futures::StreamExt as _;
use rbac::BuiltinRole as R;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tenancy::Scope;
use testkit::TestApp;

// ---- CSV ---------------------------------------------------------------------

#[tokio::test]
async fn a_csv_report_writes_a_cell_that_starts_like_a_formula_as_text() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let team = app.team(&tenant, "core").await;
    let (_, auditor) = app
        .user(tenant.id, &[(R::Approver, Scope::Tenant(tenant.id))])
        .await;
    // Anyone invited may choose an address that reads as a formula.
    let evil = "=1+2@evil.test";
    let user = app
        .state
        .tenancy
        .create_user(tenant.id, evil, "Eve", false)
        .await
        .unwrap();
    let now = app.state.clock.now();
    app.state
        .rbac
        .repo()
        .insert_binding(&rbac::RoleBinding {
            id: app.state.entropy.uuid_v7(now).into(),
            tenant_id: tenant.id,
            user_id: user.id,
            role_id: R::Member.id(),
            scope: Scope::Team(team.id.into()),
            environments: None,
            created_at: now,
        })
        .await
        .unwrap();
    let (_, secret) = app
        .state
        .tenancy
        .create_api_token(&user, "t", None)
        .await
        .unwrap();
    let site = app.site(tenant.id, &team, "hq").await;
    let r = app
        .post(
            &secret.token,
            &format!("/api/v1/sites/{}/publish", site.id),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let resp = app
        .client
        .get(format!(
            "{}/api/v1/compliance/reports/denials?format=csv",
            app.base
        ))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "user_id,user_email,reason,count");
    assert!(
        lines
            .iter()
            .any(|l| l.split(',').nth(1) == Some(format!("'{evil}").as_str())),
        "the address is written as text: {text}"
    );
    for cell in text.split([',', '\r', '\n']) {
        let cell = cell.trim_start_matches('"');
        assert!(
            !cell.starts_with(['=', '+', '-', '@', '\t']),
            "a cell a spreadsheet would run: {cell:?} in {text}"
        );
    }
}

// ---- request logs ------------------------------------------------------------

/// Everything logged while it is the thread's subscriber. The test
/// runtime runs the server on the test's own thread, so its logs land here.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn request_logs_keep_the_path_and_never_the_query() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "info,rosgate=trace,poem=trace,poem_openapi=trace",
        ))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let (_, token) = app
        .user(tenant.id, &[(R::OrgAdmin, Scope::Tenant(tenant.id))])
        .await;
    // A callsite another test thread registered while this subscriber was
    // being installed may have cached "nobody listens"; ask again.
    tracing::callsite::rebuild_interest_cache();

    let r = app
        .client
        .get(format!(
            "{}/auth/callback?code=s3cr3t-code&state=s3cr3t-state",
            app.base
        ))
        .send()
        .await
        .unwrap();
    let callback_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let r = app
        .get(&token, "/api/v1/audit/events?tool_name=s3cr3t-tool")
        .await;
    assert_eq!(r.status, StatusCode::OK);

    let text = logs.text();
    assert!(
        text.contains("path=\"/auth/callback\"") && text.contains(&callback_id),
        "each request is logged with its path and request id: {text}"
    );
    assert!(text.contains("path=\"/api/v1/audit/events\""), "{text}");
    assert!(text.contains("status=200"), "{text}");
    assert!(
        !text.contains("s3cr3t"),
        "a query string was logged: {text}"
    );
    assert!(!text.contains(&token), "a credential was logged: {text}");
}

// ---- body limit --------------------------------------------------------------

/// A JSON body of about `len` bytes creating a site in `team`, sent in
/// chunks without a declared length.
fn chunked_site(team: uuid::Uuid, name: &str, len: usize) -> reqwest::Body {
    let body = json!({"name": name, "team_id": team, "pad": "x".repeat(len)}).to_string();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body
        .into_bytes()
        .chunks(8 * 1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    reqwest::Body::wrap_stream(futures::stream::iter(chunks).boxed())
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_refused_with_413_and_nothing_is_created() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let team = app.team(&tenant, "core").await;
    let (_, token) = app
        .user(tenant.id, &[(R::OrgAdmin, Scope::Tenant(tenant.id))])
        .await;
    let max = app.config.max_body_bytes;
    let send = |name: &'static str, len: usize| {
        app.client
            .post(format!("{}/api/v1/sites", app.base))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(chunked_site(team.id, name, len))
            .send()
    };

    let resp = send("too-big", max + 16 * 1024).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let problem: Value = resp.json().await.unwrap();
    assert_eq!(problem["code"], "payload_too_large", "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains(&max.to_string()),
        "the detail names the limit: {problem}"
    );

    // Under the limit, a chunked body is read whole.
    let resp = send("fits", 1024).await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);

    let sites = app.get(&token, "/api/v1/sites").await;
    let names: Vec<&str> = sites.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"fits") && !names.contains(&"too-big"),
        "{names:?}"
    );

    let events = app.get(&token, "/api/v1/audit/events?limit=500").await;
    let refused: Vec<&Value> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["request_id"] == json!(request_id))
        .collect();
    assert_eq!(refused.len(), 1, "one event for the request: {refused:#?}");
    assert_eq!(refused[0]["error_class"], "payload_too_large");
    assert_eq!(refused[0]["result"], "failure");
}
