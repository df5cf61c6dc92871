//! Rate limits over HTTP: a user over budget gets 429 with `Retry-After`,
//! every admitted reply says how much budget is left, the budget comes back
//! after its window (moved on a test clock, never by sleeping), and two
//! instances sharing one Redis spend from one budget.

use kernel::{Clock, ManualClock, SystemClock};
use rbac::BuiltinRole as R;
use reqwest::StatusCode;
use rosgate::config::Budget;
use std::sync::Arc;
use tenancy::Scope;
use testkit::{TestApp, TestDatabase, reserve};

fn header(r: &testkit::Reply, name: &str) -> String {
    r.headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn three_an_hour(config: &mut rosgate::Config) {
    config.rate_limits.roles.insert(
        "read_only".into(),
        Budget {
            per_hour: Some(3),
            per_day: Some(100),
        },
    );
}

#[tokio::test]
async fn over_budget_is_429_with_retry_after_and_the_window_gives_it_back() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let app = TestApp::spawn_clocked(
        TestDatabase::from_env(),
        reserve().await,
        three_an_hour,
        clock.clone(),
    )
    .await;
    let t = app.tenant("acme").await;
    let (_, token) = app.user(t.id, &[(R::ReadOnly, Scope::Tenant(t.id))]).await;

    for left in ["2", "1", "0"] {
        let r = app.get(&token, "/api/v1/me").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(header(&r, "x-ratelimit-limit"), "3");
        assert_eq!(header(&r, "x-ratelimit-remaining"), left);
        assert_eq!(
            header(&r, "ratelimit"),
            format!("\"hour\";r={left};t={}", header(&r, "x-ratelimit-reset"))
        );
        assert_eq!(
            header(&r, "ratelimit-policy"),
            "\"day\";q=100;w=86400, \"hour\";q=3;w=3600"
        );
    }
    let r = app.get(&token, "/api/v1/me").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.is_problem(), "{:?}", r.body);
    assert_eq!(r.code(), "rate_limited");
    // One request comes back every 3600 / 3 seconds.
    assert_eq!(header(&r, "retry-after"), "1200");
    assert_eq!(header(&r, "x-ratelimit-remaining"), "0");

    clock.advance(time::Duration::seconds(1200));
    let r = app.get(&token, "/api/v1/me").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(header(&r, "x-ratelimit-remaining"), "0");

    // The refusal is audited, counted into one event for its minute
    // (written by the background tick once the minute is over).
    rosgate::wiring::refusal_writer(&app.state)
        .flush(false)
        .await;
    let events = app.state.db.audit_events(t.id).await.unwrap();
    let limited: Vec<_> = events
        .iter()
        .filter(|e| e.error_class.as_deref() == Some("rate_limited"))
        .collect();
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].decision.as_str(), "deny");
    assert!(limited[0].reason.starts_with("1 request refused"));
    clock.advance(time::Duration::hours(1));
    let r = app.get(&token, "/api/v1/me").await;
    assert_eq!(header(&r, "x-ratelimit-remaining"), "2");
}

#[tokio::test]
async fn budgets_are_per_user() {
    let app = TestApp::spawn_with(TestDatabase::from_env(), reserve().await, three_an_hour).await;
    let t = app.tenant("acme").await;
    let (_, a) = app.user(t.id, &[(R::ReadOnly, Scope::Tenant(t.id))]).await;
    let (_, b) = app.user(t.id, &[(R::ReadOnly, Scope::Tenant(t.id))]).await;
    for _ in 0..3 {
        assert_eq!(app.get(&a, "/api/v1/me").await.status, StatusCode::OK);
    }
    assert_eq!(
        app.get(&a, "/api/v1/me").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(app.get(&b, "/api/v1/me").await.status, StatusCode::OK);
}

#[tokio::test]
async fn two_instances_on_one_redis_spend_one_budget() {
    let prefix = format!("rosgate-test-{}:", testkit::short_id());
    let shared = |config: &mut rosgate::Config| {
        three_an_hour(config);
        config.redis_url = Some(testkit::redis_url());
        config.redis_key_prefix = prefix.clone();
    };
    let a = TestApp::spawn_with(TestDatabase::from_env(), reserve().await, shared).await;
    let database_url = a.config.database_url.clone();
    let key_file = a.config.key_file.clone();
    let b = TestApp::spawn_with(TestDatabase::from_env(), reserve().await, |c| {
        shared(c);
        c.database_url = database_url;
        c.key_file = key_file;
    })
    .await;
    let t = a.tenant("acme").await;
    let (_, token) = a.user(t.id, &[(R::ReadOnly, Scope::Tenant(t.id))]).await;

    let statuses = [
        a.get(&token, "/api/v1/me").await.status,
        b.get(&token, "/api/v1/me").await.status,
        a.get(&token, "/api/v1/me").await.status,
        b.get(&token, "/api/v1/me").await.status,
        a.get(&token, "/api/v1/me").await.status,
    ];
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}
