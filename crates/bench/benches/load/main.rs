//! `cargo bench -p bench --bench load`: rosgate on loopback under many
//! concurrent callers, on SQLite and on PostgreSQL.
//!
//! The question: what does the enforcement path (authentication, tenant
//! isolation, RBAC, the request's one audit event committed before the
//! reply) cost per request, and does every request leave exactly one event
//! in a chain that verifies? Each backend runs, in the same process and
//! run:
//!
//! - `healthz`: the unauthenticated liveness probe, the baseline: HTTP on
//!   loopback and nothing else;
//! - `read`: `GET /api/v1/sites` with an API token (allowed);
//! - `mixed`: a third reads, a third creates a site (allowed for half the
//!   callers, refused for the others), a third asks for an unknown id.
//!
//! After the audited runs the tenant's events are counted against the
//! requests made and the chain is verified; the benchmark fails if either
//! is off. Rate limits are off: this measures the path, not the budget.

#![allow(clippy::expect_used, clippy::print_stdout, clippy::unwrap_used)]

use audit::query::{ChainKey, verify_range};
use rbac::BuiltinRole as R;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tenancy::Scope;
use testkit::{TestApp, TestDatabase, reserve};

/// Concurrent callers.
const CALLERS: usize = 64;
/// How long each scenario runs.
const RUN: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Healthz,
    Read,
    Mixed,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Healthz => "healthz (baseline)",
            Scenario::Read => "read",
            Scenario::Mixed => "mixed",
        }
    }
}

struct Outcome {
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Outcome {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&mut self, p: f64) -> Duration {
        self.latencies.sort_unstable();
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies.get(i).copied().unwrap_or_default()
    }
}

struct World {
    app: TestApp,
    tenant: kernel::TenantId,
    team: uuid::Uuid,
    tokens: Vec<String>,
}

async fn world(backend: TestDatabase) -> World {
    let app = TestApp::spawn_with(backend, reserve().await, |c| {
        c.rate_limits.enabled = false;
        c.max_body_bytes = 64 * 1024;
    })
    .await;
    let t = app.tenant("load").await;
    let team = app.team(&t, "core").await;
    let mut tokens = Vec::new();
    for i in 0..CALLERS {
        let role = if i % 2 == 0 {
            R::TeamAdmin
        } else {
            R::ReadOnly
        };
        let scope = Scope::Team(team.id.into());
        let (_, token) = app.user(t.id, &[(role, scope)]).await;
        tokens.push(token);
    }
    World {
        tenant: t.id,
        team: team.id,
        app,
        tokens,
    }
}

async fn run(w: &World, scenario: Scenario) -> Outcome {
    let stop = Arc::new(AtomicBool::new(false));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CALLERS)
        .build()
        .unwrap();
    let start = Instant::now();
    let tasks: Vec<_> = w
        .tokens
        .iter()
        .enumerate()
        .map(|(caller, token)| {
            let stop = stop.clone();
            let client = client.clone();
            let base = w.app.base.clone();
            let token = token.clone();
            let team = w.team;
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut k = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let t0 = Instant::now();
                    let req = match (scenario, k % 3) {
                        (Scenario::Healthz, _) => client.get(format!("{base}/healthz")),
                        (Scenario::Read, _) | (Scenario::Mixed, 0) => client
                            .get(format!("{base}/api/v1/sites"))
                            .bearer_auth(&token),
                        (Scenario::Mixed, 1) => client
                            .post(format!("{base}/api/v1/sites"))
                            .bearer_auth(&token)
                            .json(&serde_json::json!({
                                "name": format!("s-{caller}-{k}"),
                                "team_id": team,
                            })),
                        (Scenario::Mixed, _) => client
                            .get(format!("{base}/api/v1/sites/{}", uuid::Uuid::now_v7()))
                            .bearer_auth(&token),
                    };
                    let status = req.send().await.expect("reply").status();
                    assert!(status.as_u16() < 500, "server error {status}");
                    latencies.push(t0.elapsed());
                    k += 1;
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(RUN).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    Outcome {
        requests: latencies.len(),
        elapsed: start.elapsed(),
        latencies,
    }
}

async fn backend(backend: TestDatabase, label: &str) {
    let w = world(backend).await;
    let mut audited = 0usize;
    println!(
        "\n{label}: {CALLERS} callers, {} s per scenario",
        RUN.as_secs()
    );
    println!(
        "| scenario | requests | req/s | p50 | p99 | vs baseline |\n| --- | ---: | ---: | ---: | ---: | ---: |"
    );
    let mut baseline = 0.0;
    for scenario in [Scenario::Healthz, Scenario::Read, Scenario::Mixed] {
        let mut o = run(&w, scenario).await;
        if scenario == Scenario::Healthz {
            baseline = o.per_second();
        } else {
            audited += o.requests;
        }
        let (p50, p99) = (o.percentile(0.5), o.percentile(0.99));
        println!(
            "| {} | {} | {:.0} | {:.1} ms | {:.1} ms | {:.2}× |",
            scenario.name(),
            o.requests,
            o.per_second(),
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            o.per_second() / baseline
        );
    }
    let events = w.app.state.db.audit_events(w.tenant).await.unwrap();
    let report = verify_range(
        &w.app.state.db,
        &w.app.state.audit_trust.links,
        None,
        ChainKey::of(Some(w.tenant)),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        events.len(),
        audited,
        "every audited request leaves exactly one event"
    );
    assert_eq!(report.first_break, None, "the chain verifies");
    println!(
        "audit: {} requests, {} events, chain of {} verified",
        audited,
        events.len(),
        report.checked
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        backend(TestDatabase::Sqlite, "SQLite").await;
        backend(TestDatabase::Postgres, "PostgreSQL").await;
    });
}
