//! A property of the admission path: random sequences of REST and MCP
//! requests (good, malformed, forged, anonymous, over budget) leave, taken
//! together, exactly one audit event per request, where a counted refusal
//! stands for as many requests as its `count`.

use audit::AuditEvent;
use audit::query::{ChainKey, for_each};
use kernel::{Clock, ManualClock, SystemClock, TenantId};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rbac::BuiltinRole as R;
use rosgate::config::Budget;
use std::sync::Arc;
use tenancy::Scope;
use testkit::{TestApp, TestDatabase, reserve};

/// Whose credentials a request carries.
#[derive(Debug, Clone, Copy)]
enum Who {
    /// A user with an ample budget.
    Good,
    /// A user whose budget runs out after a few requests.
    Thrifty,
    /// A real token id with a wrong secret.
    WrongSecret,
    /// Junk that is no token at all.
    Forged,
    Anonymous,
}

/// What is sent.
#[derive(Debug, Clone, Copy)]
enum What {
    GetMe,
    ListSites,
    UnknownSite,
    CreateSiteMalformed,
    CreateSiteWrongTypes,
    NoSuchRoute,
    McpToolsList,
    McpResourcesList,
    McpUnknownMethod,
    McpNotJson,
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        3 => Just(Who::Good),
        2 => Just(Who::Thrifty),
        1 => Just(Who::WrongSecret),
        1 => Just(Who::Forged),
        1 => Just(Who::Anonymous),
    ]
}

fn what() -> impl Strategy<Value = What> {
    prop_oneof![
        Just(What::GetMe),
        Just(What::ListSites),
        Just(What::UnknownSite),
        Just(What::CreateSiteMalformed),
        Just(What::CreateSiteWrongTypes),
        Just(What::NoSuchRoute),
        Just(What::McpToolsList),
        Just(What::McpResourcesList),
        Just(What::McpUnknownMethod),
        Just(What::McpNotJson),
    ]
}

struct World {
    app: TestApp,
    tenant: TenantId,
    good: String,
    thrifty: String,
}

impl World {
    async fn send(&self, who: Who, what: What) {
        let token = match who {
            Who::Good => Some(self.good.clone()),
            Who::Thrifty => Some(self.thrifty.clone()),
            Who::WrongSecret => {
                let last = if self.good.ends_with('x') { 'y' } else { 'x' };
                Some(format!("{}{last}", &self.good[..self.good.len() - 1]))
            }
            Who::Forged => Some("eyJhbGciOiJub25lIn0.e30.".to_owned()),
            Who::Anonymous => None,
        };
        let base = &self.app.base;
        let (method, url, body, mcp) = match what {
            What::GetMe => ("GET", format!("{base}/api/v1/me"), None, false),
            What::ListSites => ("GET", format!("{base}/api/v1/sites"), None, false),
            What::UnknownSite => (
                "GET",
                format!("{base}/api/v1/sites/{}", uuid::Uuid::now_v7()),
                None,
                false,
            ),
            What::CreateSiteMalformed => (
                "POST",
                format!("{base}/api/v1/sites"),
                Some("{\"name\":".to_owned()),
                false,
            ),
            What::CreateSiteWrongTypes => (
                "POST",
                format!("{base}/api/v1/sites"),
                Some("{\"name\": 7, \"team_id\": false}".to_owned()),
                false,
            ),
            What::NoSuchRoute => ("GET", format!("{base}/api/v1/nothing/here"), None, false),
            What::McpToolsList => (
                "POST",
                format!("{base}/mcp"),
                Some(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#.to_owned()),
                true,
            ),
            What::McpResourcesList => (
                "POST",
                format!("{base}/mcp"),
                Some(r#"{"jsonrpc":"2.0","id":1,"method":"resources/list"}"#.to_owned()),
                true,
            ),
            What::McpUnknownMethod => (
                "POST",
                format!("{base}/mcp"),
                Some(r#"{"jsonrpc":"2.0","id":1,"method":"no\u0000such"}"#.to_owned()),
                true,
            ),
            What::McpNotJson => ("POST", format!("{base}/mcp"), Some("{{{".to_owned()), true),
        };
        let mut req = self
            .app
            .client
            .request(method.parse().unwrap(), url)
            .header("content-type", "application/json");
        if mcp {
            req = req.header("accept", "application/json, text/event-stream");
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let status = req.send().await.unwrap().status();
        assert!(!status.is_server_error(), "{who:?} {what:?}: {status}");
    }

    /// Requests the trail accounts for so far: one per event, `count` per
    /// counted refusal, in the tenant's chain and the platform chain.
    async fn accounted(&self) -> u64 {
        rosgate::wiring::refusal_writer(&self.app.state)
            .flush(true)
            .await;
        let mut n = 0;
        for key in [ChainKey::of(Some(self.tenant)), ChainKey::NONE] {
            for_each(&self.app.state.db, key, 1, i64::MAX, |row| {
                n += u64::from(weight(&row.event));
                true
            })
            .await
            .unwrap();
        }
        n
    }
}

/// How many requests one event stands for.
fn weight(e: &AuditEvent) -> u32 {
    e.count.max(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_leaves_one_event_or_one_counted_refusal() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let app = TestApp::spawn_clocked(
        TestDatabase::from_env(),
        reserve().await,
        |c| {
            c.rate_limits.per_address_per_minute = Some(25);
            c.rate_limits.roles.insert(
                "read_only".into(),
                Budget {
                    per_hour: Some(4),
                    per_day: None,
                },
            );
        },
        clock.clone(),
    )
    .await;
    let t = app.tenant("acme").await;
    let team = app.team(&t, "core").await;
    let (_, good) = app
        .user(t.id, &[(R::TeamAdmin, Scope::Team(team.id.into()))])
        .await;
    let (_, thrifty) = app.user(t.id, &[(R::ReadOnly, Scope::Tenant(t.id))]).await;
    let world = World {
        app,
        tenant: t.id,
        good,
        thrifty,
    };
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: 24,
        ..Config::default()
    });
    let sent = std::sync::atomic::AtomicU64::new(0);
    runner
        .run(
            &proptest::collection::vec((who(), what()), 1..12),
            |requests| {
                tokio::task::block_in_place(|| {
                    handle.block_on(async {
                        for (who, what) in &requests {
                            world.send(*who, *what).await;
                            sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            // Now and then a minute goes by.
                            if matches!(what, What::GetMe) {
                                clock.advance(time::Duration::seconds(61));
                            }
                        }
                        let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
                        let accounted = world.accounted().await;
                        prop_assert_eq!(accounted, sent, "after {:?}", requests);
                        Ok(())
                    })
                })
            },
        )
        .unwrap();
}
