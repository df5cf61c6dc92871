//! `cargo bench -p bench --bench audit`: what the group-commit writer
//! (`audit::writer::GroupCommit`) buys over one transaction per event, on
//! SQLite and on PostgreSQL, each against a baseline measured in the same
//! run on the same database:
//!
//! - **baseline**: every event appended alone, `AuditLog::append(&[event])`,
//!   one transaction each, from C concurrent tasks: what a request costs
//!   when it commits its own event;
//! - **writer**: C concurrent callers, each awaiting
//!   `GroupCommit::record(event)`, which answers only after the batch
//!   holding the event committed, as the request pipeline does.
//!
//! C is 1, 16 and 64. Every pass appends a fixed number of events to a
//! chain of its own (a fresh tenant id), then the chain is verified with
//! `audit::query::verify_range` and must hold exactly the events written,
//! linked from `seq` 1 to the head; the benchmark panics otherwise. One
//! warm-up pass per mode, then three timed passes per case, the baseline's
//! and the writer's alternating; the median pass is reported, and the
//! latencies are those of every call in the three.
//!
//! SQLite is a file in a temporary directory (removed at the end);
//! PostgreSQL comes from `ROSGATE_BENCH_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), where the run creates a
//! database of its own, `rosgate_bench_<random>`, and drops it at the end,
//! also when a check fails.

#![allow(clippy::expect_used, clippy::print_stdout)]

use async_trait::async_trait;
use audit::AuditReader;
use audit::query::{ChainKey, verify_range};
use audit::writer::{GroupCommit, WriterConfig};
use audit::{Actor, AuditEvent, AuditLog, AuditSink, Effect, Outcome, RunResult};
use db::Database;
use kernel::{AuditEventId, Clock, StoreError, SystemClock, TenantId, UserId};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use uuid::Uuid;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Concurrent callers per case.
const CALLERS: [usize; 3] = [1, 16, 64];
/// Timed passes per case; the median is reported.
const PASSES: usize = 3;
/// Events of each warm-up pass.
const WARM_UP: usize = 200;

/// Events per pass, by backend, mode and number of callers (the order of
/// [`CALLERS`]): two to three seconds a pass on a quiet 2-core machine.
struct Sizes {
    baseline: [usize; 3],
    writer: [usize; 3],
}

const SQLITE: Sizes = Sizes {
    baseline: [5_000, 5_000, 5_000],
    writer: [5_000, 30_000, 50_000],
};
const POSTGRES: Sizes = Sizes {
    baseline: [5_000, 5_000, 5_000],
    writer: [5_000, 30_000, 60_000],
};

/// The audit log the cases write through: the database, counting the
/// transactions it committed and the events in them.
struct Counting {
    db: Database,
    commits: AtomicU64,
    events: AtomicU64,
    largest: AtomicUsize,
}

#[async_trait]
impl AuditLog for Counting {
    async fn append(&self, batch: &[AuditEvent]) -> Result<(), StoreError> {
        self.db
            .audit_log(link_keys().current().clone())
            .append(batch)
            .await?;
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.events.fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.largest.fetch_max(batch.len(), Ordering::Relaxed);
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Baseline,
    Writer,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Baseline => "one append per event",
            Mode::Writer => "GroupCommit writer",
        }
    }
}

/// How a caller gets its event stored.
enum Target {
    Alone(Arc<Counting>),
    Writer(Arc<GroupCommit>),
}

impl Target {
    async fn write(&self, event: AuditEvent) -> Result<(), StoreError> {
        match self {
            Target::Alone(log) => log.append(std::slice::from_ref(&event)).await,
            Target::Writer(writer) => writer.record(event).await,
        }
    }
}

/// A tool call's event, as the pipeline records one: who, what, where,
/// the decision and the result.
fn event(tenant: TenantId, n: usize) -> AuditEvent {
    let write = n.is_multiple_of(4);
    AuditEvent {
        id: AuditEventId::from_uuid(Uuid::now_v7()),
        at: SystemClock.now(),
        tenant_id: Some(tenant),
        user_id: Some(UserId::from_uuid(Uuid::from_u128(
            0x1000 + (n % 50) as u128,
        ))),
        user_email: Some(format!("operator{}@example.test", n % 50)),
        actor: Actor::User,
        operation: "mcp:update_dns_servers".into(),
        tool_name: Some(
            if write {
                "update_dns_servers"
            } else {
                "get_routes"
            }
            .into(),
        ),
        action: if write { "tool:advanced" } else { "tool:read" }.into(),
        resource_type: "device".into(),
        resource_id: Some(Uuid::from_u128(0x2000 + (n % 500) as u128)),
        device_id: Some(Uuid::from_u128(0x2000 + (n % 500) as u128)),
        environment: Some("prod".into()),
        effect: if write { Effect::Write } else { Effect::Read },
        decision: Outcome::Allow,
        reason: format!("granted by ops_rw at team {}", n % 20),
        result: RunResult::Success,
        error_class: None,
        approval_request_id: None,
        request_id: Uuid::now_v7().to_string(),
        client_addr: Some("192.0.2.10".into()),
        args_digest: Some(
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        ),
        intent_id: None,
        client_request_id: None,
        count: 1,
    }
}

/// One pass, verified.
struct Pass {
    elapsed: Duration,
    commits: u64,
    largest: usize,
    latencies: Vec<Duration>,
}

/// `events` events from `callers` spawned tasks (event `n` on task
/// `n % callers`) into a fresh chain, timed from the first spawn until
/// every call returned; then the chain is checked.
async fn pass(db: &Database, mode: Mode, callers: usize, events: usize) -> Pass {
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    let log = Arc::new(Counting {
        db: db.clone(),
        commits: AtomicU64::new(0),
        events: AtomicU64::new(0),
        largest: AtomicUsize::new(0),
    });
    let writer = match mode {
        Mode::Baseline => None,
        Mode::Writer => Some(Arc::new(GroupCommit::start(
            log.clone(),
            WriterConfig::default(),
        ))),
    };
    let target = Arc::new(match &writer {
        None => Target::Alone(log.clone()),
        Some(w) => Target::Writer(w.clone()),
    });

    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|t| {
            let target = target.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(events / callers + 1);
                for n in (t..events).step_by(callers) {
                    let e = event(tenant, n);
                    let begun = Instant::now();
                    target
                        .write(e)
                        .await
                        .expect("every event is committed: the benchmark is invalid otherwise");
                    latencies.push(begun.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(events);
    for t in tasks {
        latencies.extend(t.await.expect("a caller task finishes"));
    }
    let elapsed = start.elapsed();
    if let Some(w) = writer {
        w.shutdown().await;
    }

    let commits = log.commits.load(Ordering::Relaxed);
    let committed = log.events.load(Ordering::Relaxed);
    assert_eq!(
        committed,
        events as u64,
        "{}: events committed through the port",
        mode.label()
    );
    if mode == Mode::Baseline {
        assert_eq!(commits, events as u64, "baseline: one commit per event");
    }
    verify(db, tenant, events).await;
    Pass {
        elapsed,
        commits,
        largest: log.largest.load(Ordering::Relaxed),
        latencies,
    }
}

/// The key the benchmark's chains are linked with.
fn link_keys() -> audit::chain::LinkKeys {
    audit::chain::LinkKeys::new(audit::chain::LinkKey::new([0x42; 32]), Vec::new())
}

/// Fails loudly unless the tenant's chain verifies and holds exactly
/// `events` events, `seq` 1 to `events`, with the recorded head at the last.
async fn verify(db: &Database, tenant: TenantId, events: usize) {
    let key = ChainKey::of(Some(tenant));
    let report = verify_range(db, &link_keys(), None, key, None, None)
        .await
        .expect("the chain can be read back");
    assert_eq!(
        report.first_break, None,
        "the chain of {events} events verifies"
    );
    assert_eq!(report.checked, events as u64, "rows checked in the chain");
    assert_eq!(report.seqs, Some((1, events as i64)), "the chain's seqs");
    let head = db
        .head(key)
        .await
        .expect("the head can be read")
        .expect("the chain has a head");
    assert_eq!(head.seq, events as i64, "the recorded head's seq");
    assert_eq!(head.hash, report.head, "the recorded head's hash");
}

/// One measured case.
struct Measured {
    backend: &'static str,
    mode: Mode,
    callers: usize,
    events: usize,
    /// The median pass's time.
    elapsed: Duration,
    /// Events/s of the slowest and the fastest pass.
    range: (f64, f64),
    /// Commits and largest batch over all timed passes.
    commits: u64,
    largest: usize,
    /// Latencies of every call in the timed passes, sorted.
    latencies: Vec<Duration>,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i]
    }

    fn mean_batch(&self) -> f64 {
        (self.events * PASSES) as f64 / self.commits as f64
    }

    fn name(&self) -> String {
        let callers = match self.callers {
            1 => "1 caller".to_owned(),
            c => format!("{c} callers"),
        };
        format!("{}, {callers}, {}", self.backend, self.mode.label())
    }
}

/// Folds a case's timed passes into its measurement.
fn summarize(
    backend: &'static str,
    mode: Mode,
    callers: usize,
    events: usize,
    mut passes: Vec<Pass>,
) -> Measured {
    let mut latencies: Vec<Duration> = passes
        .iter_mut()
        .flat_map(|p| std::mem::take(&mut p.latencies))
        .collect();
    latencies.sort_unstable();
    passes.sort_by_key(|p| p.elapsed);
    let rate = |d: Duration| events as f64 / d.as_secs_f64();
    let m = Measured {
        backend,
        mode,
        callers,
        events,
        elapsed: passes[passes.len() / 2].elapsed,
        range: (
            rate(passes[passes.len() - 1].elapsed),
            rate(passes[0].elapsed),
        ),
        commits: passes.iter().map(|p| p.commits).sum(),
        largest: passes.iter().map(|p| p.largest).max().unwrap_or(0),
        latencies,
    };
    println!(
        "  {}: {:.0} events/s ({} events in {:.3} s; passes {:.0}–{:.0}/s), {:.1} events per commit, chains verified",
        m.name(),
        m.rate(),
        m.events,
        m.elapsed.as_secs_f64(),
        m.range.0,
        m.range.1,
        m.mean_batch()
    );
    m
}

/// The baseline and the writer with `callers` callers. Their passes
/// alternate (baseline first, then writer first, …), so that a drift of
/// the machine over the run (the disk's write-back, a checkpoint) weighs on
/// both alike.
async fn pair(
    db: &Database,
    backend: &'static str,
    callers: usize,
    sizes: (usize, usize),
) -> (Measured, Measured) {
    let (mut base, mut writer) = (Vec::new(), Vec::new());
    for i in 0..PASSES {
        if i % 2 == 0 {
            base.push(pass(db, Mode::Baseline, callers, sizes.0).await);
            writer.push(pass(db, Mode::Writer, callers, sizes.1).await);
        } else {
            writer.push(pass(db, Mode::Writer, callers, sizes.1).await);
            base.push(pass(db, Mode::Baseline, callers, sizes.0).await);
        }
    }
    (
        summarize(backend, Mode::Baseline, callers, sizes.0, base),
        summarize(backend, Mode::Writer, callers, sizes.1, writer),
    )
}

/// Every case on one database: for each number of callers, the baseline
/// and then the writer.
async fn cases(db: Database, backend: &'static str, sizes: &Sizes) -> Vec<(Measured, Measured)> {
    println!("\n{backend}:");
    pass(&db, Mode::Baseline, 16, WARM_UP).await;
    pass(&db, Mode::Writer, 16, WARM_UP).await;
    let mut out = Vec::new();
    for (i, callers) in CALLERS.into_iter().enumerate() {
        out.push(pair(&db, backend, callers, (sizes.baseline[i], sizes.writer[i])).await);
    }
    out
}

async fn on_sqlite() -> Vec<(Measured, Measured)> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let db = Database::connect(&url).await.expect("SQLite opens");
    db.migrate().await.expect("the schema migrates");
    cases(db, "SQLite", &SQLITE).await
}

async fn on_postgres(admin_url: &str) -> Vec<(Measured, Measured)> {
    let admin = Database::connect(admin_url)
        .await
        .expect("PostgreSQL is reachable: start it or set ROSGATE_BENCH_POSTGRES_URL");
    let name = format!("rosgate_bench_{}", Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("CREATE DATABASE");
    let base = admin_url
        .split('?')
        .next()
        .and_then(|u| u.rsplit_once('/'))
        .map_or(admin_url, |(b, _)| b);
    let url = format!("{base}/{name}");
    // In a task of its own, so that a failed check still drops the database.
    let run = tokio::spawn(async move {
        let db = Database::connect(&url).await.expect("the new database");
        db.migrate().await.expect("the schema migrates");
        cases(db, "PostgreSQL", &POSTGRES).await
    })
    .await;
    admin
        .execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .expect("DROP DATABASE");
    println!("  dropped this run's database");
    match run {
        Ok(cases) => cases,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

fn table(results: &[(Measured, Measured)]) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "\n| case | events | seconds | events/s | events/s ratio to baseline | events per commit (mean / max) | p50 ms | p99 ms |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (base, writer) in results {
        for m in [base, writer] {
            println!(
                "| {} | {} | {:.2} | {:.0} | {:.2}× | {:.1} / {} | {:.2} | {:.2} |",
                m.name(),
                m.events,
                m.elapsed.as_secs_f64(),
                m.rate(),
                m.rate() / base.rate(),
                m.mean_batch(),
                m.largest,
                ms(m.percentile(0.5)),
                ms(m.percentile(0.99)),
            );
        }
    }
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_owned();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "{cpus} CPUs ({model}), {:.1} GiB RAM",
        mem_kib as f64 / (1024.0 * 1024.0)
    )
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "audit: {}; tokio multi-thread runtime, {workers} worker threads; median of {PASSES} passes, \
         writer {:?}",
        machine(),
        WriterConfig::default()
    );
    let url = std::env::var("ROSGATE_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    let results = runtime.block_on(async {
        let mut results = on_sqlite().await;
        results.extend(on_postgres(&url).await);
        results
    });
    table(&results);
}
