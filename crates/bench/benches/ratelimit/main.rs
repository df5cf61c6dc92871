//! `cargo bench -p bench --bench ratelimit`: what a rate-limit check costs,
//! in process (`MemoryRateLimiter`) and on Redis (`RedisRateLimiter`), each
//! against a baseline measured in the same run:
//!
//! - in process, the floor: a bare `Mutex<HashMap<String, u64>>` counter
//!   bump on the same keys with the same concurrency, so the ratio is what
//!   GCRA and the port (an `async_trait` call) add to a locked map update;
//! - on Redis, a bare `INCR` through fred on a pool built exactly as
//!   `RedisSessionStore::connect` builds the limiter's, with the same keys
//!   and concurrency, so the ratio is what the Lua script (`EVALSHA`, a
//!   `GET` and a `SET … PX`) adds to the cheapest round trip.
//!
//! Every case runs a fixed number of checks: one warm-up pass, then three
//! timed passes, of which the median is reported. Checks with a big quota
//! are all allowed (asserted); a separate set of keys is first exhausted
//! with a tight quota so that its timed checks are all refused (asserted).
//!
//! Redis comes from `ROSGATE_BENCH_REDIS_URL` (default
//! `redis://127.0.0.1:6379`). Every key the run writes is under a prefix of
//! its own, and exactly those keys are deleted at the end; nothing else in
//! Redis is touched.

#![allow(clippy::expect_used, clippy::print_stdout)]

use fred::prelude::{Builder, ClientLike, Config, KeysInterface, Pool, ReconnectPolicy};
use kernel::{Clock, SystemClock};
use kernel::{MemoryRateLimiter, Quota, RateLimiter};
use redis_store::{RedisRateLimiter, RedisSessionStore};
use std::collections::HashMap;
use std::future::Future;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};
use time::{Duration, OffsetDateTime};

const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// Checks per in-process case: enough for tens of milliseconds a pass.
const MEMORY_OPS: usize = 2_000_000;
/// Checks per concurrent Redis case.
const REDIS_OPS: usize = 50_000;
/// Checks per single-task Redis case (one round trip each, so fewer).
const REDIS_SINGLE_OPS: usize = 20_000;
/// Distinct keys in the many-keys cases, used round-robin.
const KEYS: usize = 10_000;
/// Tasks in the concurrent cases.
const TASKS: usize = 64;
/// Timed passes per case; the median is reported.
const PASSES: usize = 3;

/// As `RedisSessionStore::connect` sets up its pool (`POOL_SIZE` and the
/// timeouts there), so the `INCR` baseline runs on the same client settings.
const POOL_SIZE: usize = 4;
const CONNECT_TIMEOUT: StdDuration = StdDuration::from_secs(5);
const COMMAND_TIMEOUT: StdDuration = StdDuration::from_secs(5);

/// So big that nothing here comes near it: every check is allowed.
const ROOMY: Quota = Quota {
    limit: 1_000_000_000,
    period: Duration::hours(1),
};
/// One per hour: after the first check, every check on a key is refused.
const TIGHT: Quota = Quota {
    limit: 1,
    period: Duration::hours(1),
};

/// One operation of a case; `n` is the operation's number in the pass.
/// Returns whether it was allowed.
trait Op: Send + Sync + 'static {
    fn run(&self, n: usize) -> impl Future<Output = bool> + Send;
}

/// The in-process floor: one locked map update.
struct Floor {
    counts: Mutex<HashMap<String, u64>>,
    keys: Vec<String>,
}

impl Op for Floor {
    async fn run(&self, n: usize) -> bool {
        let key = &self.keys[n % self.keys.len()];
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        match counts.get_mut(key) {
            Some(c) => *c += 1,
            None => {
                counts.insert(key.clone(), 1);
            }
        }
        true
    }
}

/// A check on a [`RateLimiter`], through the port as the application
/// calls it.
struct Check {
    limiter: Arc<dyn RateLimiter>,
    keys: Vec<String>,
    quota: Quota,
    now: OffsetDateTime,
}

impl Op for Check {
    async fn run(&self, n: usize) -> bool {
        let key = &self.keys[n % self.keys.len()];
        self.limiter
            .check(key, self.quota, self.now)
            .await
            .expect("the limiter answers")
            .allowed
    }
}

/// The Redis baseline: one `INCR`.
struct Incr {
    pool: Pool,
    keys: Vec<String>,
}

impl Op for Incr {
    async fn run(&self, n: usize) -> bool {
        let key = self.keys[n % self.keys.len()].as_str();
        let count: i64 = self.pool.incr(key).await.expect("Redis answers INCR");
        black_box(count) > 0
    }
}

/// One timed pass.
struct Pass {
    elapsed: StdDuration,
    allowed: usize,
    /// Per-operation latencies, if they were recorded.
    latencies: Vec<StdDuration>,
}

/// `ops` operations spread over `tasks` spawned tasks (operation `n` on
/// task `n % tasks`), timed from the first spawn until all have finished.
async fn pass<O: Op>(op: &Arc<O>, tasks: usize, ops: usize, record: bool) -> Pass {
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut allowed = 0;
                let mut latencies = Vec::with_capacity(if record { ops / tasks + 1 } else { 0 });
                for n in (t..ops).step_by(tasks) {
                    if record {
                        let begun = Instant::now();
                        allowed += usize::from(op.run(n).await);
                        latencies.push(begun.elapsed());
                    } else {
                        allowed += usize::from(op.run(n).await);
                    }
                }
                (allowed, latencies)
            })
        })
        .collect();
    let mut total = Pass {
        elapsed: StdDuration::ZERO,
        allowed: 0,
        latencies: Vec::new(),
    };
    for h in handles {
        let (allowed, latencies) = h.await.expect("a benchmark task finishes");
        total.allowed += allowed;
        total.latencies.extend(latencies);
    }
    total.elapsed = start.elapsed();
    total
}

/// What to expect of every check in a case.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allowed,
    Refused,
}

/// One measured case.
struct Measured {
    name: String,
    ops: usize,
    /// The median pass.
    elapsed: StdDuration,
    /// Latencies of all timed passes, sorted; empty if not recorded.
    latencies: Vec<StdDuration>,
}

impl Measured {
    fn ops_per_s(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> StdDuration {
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i]
    }
}

async fn measure<O: Op>(
    name: &str,
    op: O,
    tasks: usize,
    ops: usize,
    expect: Expect,
    record: bool,
) -> Measured {
    let op = Arc::new(op);
    pass(&op, tasks, ops / 10, false).await;
    let mut passes = Vec::with_capacity(PASSES);
    for _ in 0..PASSES {
        let p = pass(&op, tasks, ops, record).await;
        let want = if expect == Expect::Allowed { ops } else { 0 };
        assert_eq!(p.allowed, want, "{name}: allowed checks in a pass");
        passes.push(p);
    }
    let mut latencies: Vec<StdDuration> = passes
        .iter_mut()
        .flat_map(|p| std::mem::take(&mut p.latencies))
        .collect();
    latencies.sort();
    passes.sort_by_key(|p| p.elapsed);
    let m = Measured {
        name: name.to_owned(),
        ops,
        elapsed: passes[PASSES / 2].elapsed,
        latencies,
    };
    println!(
        "  {name}: {:.0} ops/s ({} ops in {:.3} s)",
        m.ops_per_s(),
        m.ops,
        m.elapsed.as_secs_f64()
    );
    m
}

/// `n` key names `{stem}{i}`.
fn keys(stem: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{stem}{i}")).collect()
}

/// Prints the throughput table; each group is `(baseline, cases)`.
fn throughput_table(groups: &[(&Measured, Vec<&Measured>)]) {
    println!("\n| case | ops | seconds | ops/s | ratio to baseline |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (base, cases) in groups {
        for m in std::iter::once(base).chain(cases) {
            println!(
                "| {} | {} | {:.3} | {:.0} | {:.2}× |",
                m.name,
                m.ops,
                m.elapsed.as_secs_f64(),
                m.ops_per_s(),
                m.elapsed.as_secs_f64() / base.elapsed.as_secs_f64()
            );
        }
    }
}

/// Prints the single-task latency table; `base` first.
fn latency_table(base: &Measured, cases: &[&Measured]) {
    let us = |d: StdDuration| d.as_secs_f64() * 1e6;
    println!("\n| case | p50 µs | p99 µs | p50 ratio to baseline |");
    println!("| --- | ---: | ---: | ---: |");
    for m in std::iter::once(base).chain(cases.iter().copied()) {
        println!(
            "| {} | {:.1} | {:.1} | {:.2}× |",
            m.name,
            us(m.percentile(0.5)),
            us(m.percentile(0.99)),
            us(m.percentile(0.5)) / us(base.percentile(0.5))
        );
    }
}

async fn in_process(now: OffsetDateTime) {
    println!("in process, {MEMORY_OPS} checks per case:");
    let mut groups = Vec::new();
    for tasks in [1, TASKS] {
        let t = if tasks == 1 {
            "1 task".to_owned()
        } else {
            format!("{tasks} tasks")
        };
        for (label, n) in [("1 key", 1), ("10k keys", KEYS)] {
            let floor = measure(
                &format!("floor (locked HashMap), {label}, {t}"),
                Floor {
                    counts: Mutex::default(),
                    keys: keys("k", n),
                },
                tasks,
                MEMORY_OPS,
                Expect::Allowed,
                false,
            )
            .await;
            let mut cases = vec![
                measure(
                    &format!("MemoryRateLimiter, {label}, {t}"),
                    Check {
                        limiter: Arc::new(MemoryRateLimiter::new()),
                        keys: keys("k", n),
                        quota: ROOMY,
                        now,
                    },
                    tasks,
                    MEMORY_OPS,
                    Expect::Allowed,
                    false,
                )
                .await,
            ];
            if n == KEYS && tasks == TASKS {
                let limiter = Arc::new(MemoryRateLimiter::new());
                let deny = keys("k", n);
                for k in &deny {
                    let d = limiter.check(k, TIGHT, now).await;
                    assert!(d.is_ok_and(|d| d.allowed), "the first check is allowed");
                }
                cases.push(
                    measure(
                        &format!("MemoryRateLimiter refusing, {label}, {t}"),
                        Check {
                            limiter,
                            keys: deny,
                            quota: TIGHT,
                            now,
                        },
                        tasks,
                        MEMORY_OPS,
                        Expect::Refused,
                        false,
                    )
                    .await,
                );
            }
            groups.push((floor, cases));
        }
    }
    let groups: Vec<_> = groups
        .iter()
        .map(|(b, cs)| (b, cs.iter().collect()))
        .collect();
    throughput_table(&groups);
}

async fn on_redis(url: &str, now: OffsetDateTime) {
    let prefix = format!("rosgate-bench:{}:", uuid::Uuid::new_v4().simple());
    let store = RedisSessionStore::connect(url, &prefix)
        .await
        .expect("Redis is reachable: start it or set ROSGATE_BENCH_REDIS_URL");
    let limiter: Arc<dyn RateLimiter> = Arc::new(
        RedisRateLimiter::from_store(&store)
            .await
            .expect("Redis loads the rate-limit script"),
    );

    let mut builder = Builder::from_config(
        Config::from_url(url).expect("ROSGATE_BENCH_REDIS_URL is a Redis URL"),
    );
    builder
        .with_connection_config(|c| {
            c.connection_timeout = CONNECT_TIMEOUT;
            c.internal_command_timeout = COMMAND_TIMEOUT;
        })
        .with_performance_config(|p| p.default_command_timeout = COMMAND_TIMEOUT)
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2));
    let pool = builder
        .build_pool(POOL_SIZE)
        .expect("a Redis client can be set up");
    let _tasks = pool.init().await.expect("Redis is reachable");

    // Limiter keys: `a…` allowed, `d…` exhausted first, then refused.
    let allow = keys("a", KEYS);
    let deny = keys("d", KEYS);
    let incr = keys(&format!("{prefix}incr:"), KEYS);
    for k in &deny {
        let d = limiter.check(k, TIGHT, now).await;
        assert!(d.is_ok_and(|d| d.allowed), "the first check is allowed");
    }

    let check = |keys: &Vec<String>, quota| Check {
        limiter: limiter.clone(),
        keys: keys.clone(),
        quota,
        now,
    };
    let incr_op = || Incr {
        pool: pool.clone(),
        keys: incr.clone(),
    };

    println!("\non Redis, {REDIS_OPS} checks per concurrent case, {REDIS_SINGLE_OPS} single-task:");
    let c = format!("{TASKS} tasks, 10k keys");
    let incr_c = measure(
        &format!("INCR, {c}"),
        incr_op(),
        TASKS,
        REDIS_OPS,
        Expect::Allowed,
        false,
    )
    .await;
    let rl_c = measure(
        &format!("RedisRateLimiter, {c}"),
        check(&allow, ROOMY),
        TASKS,
        REDIS_OPS,
        Expect::Allowed,
        false,
    )
    .await;
    let deny_c = measure(
        &format!("RedisRateLimiter refusing, {c}"),
        check(&deny, TIGHT),
        TASKS,
        REDIS_OPS,
        Expect::Refused,
        false,
    )
    .await;
    let s = "1 task, 10k keys";
    let incr_s = measure(
        &format!("INCR, {s}"),
        incr_op(),
        1,
        REDIS_SINGLE_OPS,
        Expect::Allowed,
        true,
    )
    .await;
    let rl_s = measure(
        &format!("RedisRateLimiter, {s}"),
        check(&allow, ROOMY),
        1,
        REDIS_SINGLE_OPS,
        Expect::Allowed,
        true,
    )
    .await;
    let deny_s = measure(
        &format!("RedisRateLimiter refusing, {s}"),
        check(&deny, TIGHT),
        1,
        REDIS_SINGLE_OPS,
        Expect::Refused,
        true,
    )
    .await;

    throughput_table(&[
        (&incr_c, vec![&rl_c, &deny_c]),
        (&incr_s, vec![&rl_s, &deny_s]),
    ]);
    latency_table(&incr_s, &[&rl_s, &deny_s]);

    // Exactly the keys this run wrote (the limiter keeps `{prefix}rl:{key}`).
    let written: Vec<String> = allow
        .iter()
        .chain(&deny)
        .map(|k| format!("{prefix}rl:{k}"))
        .chain(incr)
        .collect();
    let mut deleted = 0;
    for chunk in written.chunks(1_000) {
        let n: i64 = pool
            .del(chunk.to_vec())
            .await
            .expect("Redis deletes this run's keys");
        deleted += n;
    }
    println!("\ndeleted this run's {deleted} Redis keys");
    let _ = pool.quit().await;
    store.close().await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("tokio multi-thread runtime, {workers} worker threads");
    // One instant for every check: the cost measured is the limiter's, not
    // the clock's, and the big quota's budget stays far from exhausted.
    let now = SystemClock.now();
    let url =
        std::env::var("ROSGATE_BENCH_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.to_owned());
    runtime.block_on(async {
        in_process(now).await;
        on_redis(&url, now).await;
    });
}
