//! Rate limits in process: the adapter of the [`RateLimiter`] port
//! (ports.rs) for one instance, and the contract every adapter meets. The
//! port lets the HTTP layer refuse a caller that asks too often without
//! knowing whether the count lives in this process or in a store every
//! instance shares.
//!
//! The algorithm is GCRA (the generic cell rate algorithm). Each key keeps
//! one instant, its theoretical arrival time (TAT): when the key would be
//! back to its full budget. A quota of `limit` per `period` has an emission
//! interval `T = period / limit`; a check moves the TAT to
//! `max(TAT, now) + T` and is allowed if that lies at most one window ahead
//! of `now`. So `limit` requests may come at once, and after that one every
//! `T`; a refused check changes nothing.
//!
//! All arithmetic is in whole microseconds (`T` rounded down, at least one
//! microsecond; the window is `limit × T`, which is `period` unless `period`
//! does not divide evenly), so the in-process adapter here and the Redis
//! adapter, which keeps microseconds, decide alike. The time is passed in by
//! the caller from the [`Clock`](crate::Clock) port; the types and the step
//! itself are in quota.rs, so windows are tested
//! without sleeping.

use crate::StoreError;
use crate::ports::RateLimiter;
use crate::quota::{Allowance, Quota, unix_micros};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

/// Pruning runs at least this often (by the callers' `now`) ...
const PRUNE_EVERY_US: i64 = 60 * 1_000_000;
/// ... and whenever the map has doubled since the last pruning, but not
/// below this size.
const PRUNE_MIN_KEYS: usize = 1024;

/// The in-process limiter of the embedded default: one instance only.
///
/// Keys whose TAT has passed are dropped now and then (a key without a TAT
/// behaves exactly like one whose TAT has passed), so memory follows the
/// keys in use, not every key ever seen.
#[derive(Debug, Default)]
pub struct MemoryRateLimiter {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    /// Each key's TAT, unix microseconds.
    tats: HashMap<String, i64>,
    /// Prune when the map reaches this many keys ...
    prune_at_len: usize,
    /// ... or a check comes at or after this instant (unix microseconds).
    prune_at_us: i64,
}

impl MemoryRateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many keys it holds now; for tests of the pruning.
    pub fn len(&self) -> usize {
        self.lock().tats.len()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl MemoryState {
    fn prune_if_due(&mut self, now_us: i64) {
        if self.tats.len() < self.prune_at_len.max(PRUNE_MIN_KEYS) && now_us < self.prune_at_us {
            return;
        }
        self.tats.retain(|_, tat| *tat > now_us);
        self.prune_at_len = self.tats.len().saturating_mul(2);
        self.prune_at_us = now_us.saturating_add(PRUNE_EVERY_US);
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn check(
        &self,
        key: &str,
        quota: Quota,
        now: OffsetDateTime,
    ) -> Result<Allowance, StoreError> {
        let Some(gcra) = quota.gcra() else {
            return Ok(quota.refusal());
        };
        let now_us = unix_micros(now);
        let mut state = self.lock();
        state.prune_if_due(now_us);
        let (allowed, kept) = gcra.step(state.tats.get(key).copied(), now_us);
        if allowed {
            match state.tats.get_mut(key) {
                Some(tat) => *tat = kept,
                None => {
                    state.tats.insert(key.to_owned(), kept);
                }
            }
        }
        Ok(gcra.decision(allowed, kept, now_us))
    }
}

/// The behaviour every [`RateLimiter`] adapter must show, as async
/// functions an adapter's tests call with a fresh limiter (or a fresh key
/// prefix) and a fixed `now`. Each function uses keys of its own, so they
/// may share one limiter.
#[cfg(any(test, feature = "contract"))]
#[allow(clippy::expect_used)] // a failed expectation is a failed contract
pub mod contract {
    use super::*;
    use std::sync::Arc;
    use time::Duration;

    /// The example quota: 1000 per hour, one every 3.6 seconds.
    pub const HOURLY: Quota = Quota {
        limit: 1000,
        period: Duration::hours(1),
    };

    async fn check(l: &dyn RateLimiter, key: &str, quota: Quota, now: OffsetDateTime) -> Allowance {
        l.check(key, quota, now).await.expect("the limiter answers")
    }

    /// Exactly `limit` at once, remaining counting down; then refused with a
    /// positive retry time, and refusals do not count.
    pub async fn limit_then_deny(l: &dyn RateLimiter, now: OffsetDateTime) {
        let key = "contract:limit-then-deny";
        let t = HOURLY.emission_interval();
        assert_eq!(t, Duration::milliseconds(3600));
        for i in 1..=HOURLY.limit {
            let d = check(l, key, HOURLY, now).await;
            assert!(d.allowed, "request {i} is within the quota");
            assert_eq!(d.limit, HOURLY.limit);
            assert_eq!(d.remaining, HOURLY.limit - i, "after request {i}");
            assert_eq!(d.reset_after, t * i, "after request {i}");
            assert_eq!(d.retry_after, None);
        }
        for _ in 0..3 {
            let d = check(l, key, HOURLY, now).await;
            assert!(!d.allowed, "one more than the limit is refused");
            assert_eq!(d.remaining, 0);
            assert_eq!(d.reset_after, HOURLY.period, "a refusal does not count");
            assert_eq!(
                d.retry_after,
                Some(t),
                "one slot frees up after period/limit"
            );
        }
        let d = check(l, key, HOURLY, now + t - Duration::microseconds(1)).await;
        assert!(!d.allowed, "not before the retry time");
        assert_eq!(d.retry_after, Some(Duration::microseconds(1)));
        let d = check(l, key, HOURLY, now + t).await;
        assert!(d.allowed, "at the retry time");
        assert_eq!(d.remaining, 0);

        // A period that does not divide evenly still lets exactly `limit` through.
        let odd = Quota {
            limit: 7,
            period: Duration::seconds(1),
        };
        let key = "contract:limit-then-deny:odd";
        for i in 1..=odd.limit {
            let d = check(l, key, odd, now).await;
            assert!(d.allowed, "request {i} of 7 per second");
            assert_eq!(d.remaining, odd.limit - i);
        }
        let d = check(l, key, odd, now).await;
        assert!(!d.allowed, "the 8th of 7 per second");
        assert!(d.retry_after.is_some_and(|r| r.is_positive()));
    }

    /// Once `period` has passed the full budget is back; before that, one
    /// request per emission interval.
    pub async fn resets_after_the_window(l: &dyn RateLimiter, now: OffsetDateTime) {
        let quota = Quota {
            limit: 10,
            period: Duration::minutes(1),
        };
        let t = quota.emission_interval();
        let key = "contract:resets";
        for _ in 0..quota.limit {
            assert!(check(l, key, quota, now).await.allowed);
        }
        assert!(!check(l, key, quota, now).await.allowed);

        let later = now + t;
        let d = check(l, key, quota, later).await;
        assert!(d.allowed, "one slot after period/limit");
        assert_eq!(d.remaining, 0);
        assert!(!check(l, key, quota, later).await.allowed);

        let reset = later + quota.period;
        for i in 1..=quota.limit {
            let d = check(l, key, quota, reset).await;
            assert!(d.allowed, "request {i}: the whole budget is back");
            assert_eq!(d.remaining, quota.limit - i);
        }
        assert!(!check(l, key, quota, reset).await.allowed);

        // Half the window gives back half the budget.
        let half = reset + quota.period / 2;
        for _ in 0..quota.limit / 2 {
            assert!(check(l, key, quota, half).await.allowed);
        }
        assert!(!check(l, key, quota, half).await.allowed);

        // Long idle time is not saved up: still exactly `limit` at once.
        let idle = half + quota.period * 100;
        for i in 1..=quota.limit {
            let d = check(l, key, quota, idle).await;
            assert!(d.allowed, "request {i} after a long pause");
            assert_eq!(d.remaining, quota.limit - i);
        }
        assert!(!check(l, key, quota, idle).await.allowed);
    }

    /// 64 tasks checking one key 4 times each, limit 100: exactly 100 pass.
    pub async fn concurrent_never_exceeds(l: Arc<dyn RateLimiter>, now: OffsetDateTime) {
        let quota = Quota {
            limit: 100,
            period: Duration::hours(1),
        };
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let l = l.clone();
            tasks.push(tokio::spawn(async move {
                let mut allowed = 0u32;
                for _ in 0..4 {
                    if check(&*l, "contract:concurrent", quota, now).await.allowed {
                        allowed += 1;
                    }
                }
                allowed
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.expect("the task finishes");
        }
        assert_eq!(total, quota.limit, "exactly the limit, never more");
    }

    /// One key's budget is its own.
    pub async fn keys_are_independent(l: &dyn RateLimiter, now: OffsetDateTime) {
        let quota = Quota {
            limit: 2,
            period: Duration::minutes(1),
        };
        let (alice, bob) = ("contract:keys:alice", "contract:keys:bob");
        assert!(check(l, alice, quota, now).await.allowed);
        assert!(check(l, alice, quota, now).await.allowed);
        assert!(!check(l, alice, quota, now).await.allowed);
        let d = check(l, bob, quota, now).await;
        assert!(d.allowed, "bob has a budget of his own");
        assert_eq!(d.remaining, 1);
        assert!(
            !check(l, alice, quota, now).await.allowed,
            "alice still has none"
        );
        // A key whose name extends another's is another key.
        assert!(check(l, "contract:keys:alice2", quota, now).await.allowed);
    }

    /// A limit of zero (or an empty period) refuses everything, and waiting
    /// does not help.
    pub async fn a_zero_quota_refuses(l: &dyn RateLimiter, now: OffsetDateTime) {
        for quota in [
            Quota {
                limit: 0,
                period: Duration::hours(1),
            },
            Quota {
                limit: 5,
                period: Duration::ZERO,
            },
        ] {
            let d = check(l, "contract:zero", quota, now).await;
            assert!(!d.allowed, "{quota:?}");
            assert_eq!(d.remaining, 0);
            assert_eq!(d.retry_after, None);
        }
    }

    /// Every contract function above, on one limiter.
    pub async fn all(l: Arc<dyn RateLimiter>, now: OffsetDateTime) {
        limit_then_deny(&*l, now).await;
        resets_after_the_window(&*l, now).await;
        keys_are_independent(&*l, now).await;
        a_zero_quota_refuses(&*l, now).await;
        concurrent_never_exceeds(l, now).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::MAX_PERIOD_US;
    use std::sync::Arc;
    use time::Duration;

    fn t0() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(20_000)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_memory_limiter_meets_the_contract() {
        contract::all(Arc::new(MemoryRateLimiter::new()), t0()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_checks_on_their_own_limiter() {
        contract::concurrent_never_exceeds(Arc::new(MemoryRateLimiter::new()), t0()).await;
    }

    #[test]
    fn gcra_follows_the_formulas() {
        let g = contract::HOURLY.gcra().unwrap();
        assert_eq!(g.interval_us, 3_600_000);
        assert_eq!(g.window_us, 3_600_000_000);
        let now = 1_000_000_000_000;
        // Empty key: new TAT = now + T.
        assert_eq!(g.step(None, now), (true, now + g.interval_us));
        // A TAT in the past counts as now.
        assert_eq!(g.step(Some(now - 5), now), (true, now + g.interval_us));
        // new_tat - now == window is still allowed; one microsecond more is not.
        let full = now + g.window_us - g.interval_us;
        assert_eq!(g.step(Some(full), now), (true, now + g.window_us));
        assert_eq!(g.step(Some(full + 1), now), (false, full + 1));
        let d = g.decision(false, full + 1, now);
        assert_eq!(d.retry_after, Some(Duration::microseconds(1)));
        assert_eq!(
            d.reset_after,
            Duration::microseconds(g.window_us - g.interval_us + 1)
        );
    }

    #[test]
    fn tiny_and_huge_periods_stay_sane() {
        // More than one per microsecond: one per microsecond, window = limit µs.
        let fast = Quota {
            limit: 3_000_000,
            period: Duration::seconds(1),
        }
        .gcra()
        .unwrap();
        assert_eq!((fast.interval_us, fast.window_us), (1, 3_000_000));
        assert_eq!(fast.expiry_us, 3_000_000, "kept while it matters");
        let slow = Quota {
            limit: 1,
            period: Duration::MAX,
        }
        .gcra()
        .unwrap();
        assert_eq!(slow.window_us, MAX_PERIOD_US);
        // Near the end of year 9999: still no overflow.
        let now = 253_000_000_000_000_000;
        let (allowed, tat) = slow.step(None, now);
        assert!(allowed && tat == now + MAX_PERIOD_US);
        assert!(!slow.step(Some(tat), now).0);
    }

    #[tokio::test]
    async fn keys_whose_time_has_passed_are_pruned() {
        let l = MemoryRateLimiter::new();
        let q = Quota {
            limit: 1,
            period: Duration::seconds(10),
        };
        for i in 0..5000 {
            l.check(&format!("k{i}"), q, t0()).await.unwrap();
        }
        assert!(l.len() <= 5000);
        // A minute later every TAT has passed; the next check prunes them.
        let later = t0() + Duration::minutes(1);
        let d = l.check("fresh", q, later).await.unwrap();
        assert!(d.allowed);
        assert_eq!(l.len(), 1, "only the fresh key is left");
        // A pruned key behaves like a new one.
        assert!(l.check("k1", q, later).await.unwrap().allowed);
    }

    #[tokio::test]
    async fn pruning_keeps_live_keys() {
        let l = MemoryRateLimiter::new();
        let q = Quota {
            limit: 1,
            period: Duration::hours(1),
        };
        for i in 0..3000 {
            assert!(l.check(&format!("k{i}"), q, t0()).await.unwrap().allowed);
        }
        // Pruning ran while they were added (the map passed 1024 keys); all
        // are still within their hour, so all are kept and still refused.
        assert_eq!(l.len(), 3000);
        for i in (0..3000).step_by(97) {
            assert!(!l.check(&format!("k{i}"), q, t0()).await.unwrap().allowed);
        }
    }

    #[test]
    fn microseconds_round_down() {
        let t = OffsetDateTime::UNIX_EPOCH + Duration::nanoseconds(1_999);
        assert_eq!(unix_micros(t), 1);
        assert_eq!(
            unix_micros(OffsetDateTime::UNIX_EPOCH - Duration::nanoseconds(1)),
            -1
        );
    }
}
