//! Rate limits as a port. The algorithm is GCRA (the generic cell rate
//! algorithm): one timestamp per key, the theoretical arrival time (TAT) of
//! the next request. A quota of `limit` per `period` lets `limit` requests
//! through at once and then one every `period / limit`. The time is passed
//! in by the caller (from the clock port), so windows are tested without
//! sleeping; the in-process adapter here serves the embedded default, a
//! Redis adapter (one atomic script per check) serves several instances.

use crate::StoreError;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

/// `limit` requests per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub period: Duration,
}

impl Quota {
    /// Time between requests at the steady rate.
    pub fn emission_interval(self) -> Duration {
        self.period / self.limit.max(1)
    }
}

/// The answer to one check, with what the rate-limit headers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// When the key is back to its full budget.
    pub reset_after: Duration,
    /// When a refused caller may try again.
    pub retry_after: Option<Duration>,
}

/// Counts requests per key against a quota.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    async fn check(
        &self,
        key: &str,
        quota: Quota,
        now: OffsetDateTime,
    ) -> Result<Decision, StoreError>;
}

/// One GCRA step: the decision and the key's new TAT (unchanged when refused).
pub fn gcra(
    tat: Option<OffsetDateTime>,
    quota: Quota,
    now: OffsetDateTime,
) -> (Decision, OffsetDateTime) {
    let tat = tat.map_or(now, |x| x.max(now));
    let new_tat = tat + quota.emission_interval();
    let allowed = new_tat - now <= quota.period;
    let kept = if allowed { new_tat } else { tat };
    (decision(allowed, kept, quota, now), kept)
}

/// The decision for a check that was `allowed` (or not) and left the key's
/// TAT at `kept`: what an adapter that runs the GCRA step elsewhere (in a
/// Redis script) reports.
pub fn decision(
    allowed: bool,
    kept: OffsetDateTime,
    quota: Quota,
    now: OffsetDateTime,
) -> Decision {
    let t = quota.emission_interval();
    let used = (kept - now).max(Duration::ZERO);
    let spare = quota.period - used;
    let remaining = if t.is_zero() {
        0
    } else {
        u32::try_from((spare.whole_microseconds() / t.whole_microseconds().max(1)).max(0))
            .unwrap_or(0)
            .min(quota.limit)
    };
    Decision {
        allowed,
        limit: quota.limit,
        remaining,
        reset_after: used,
        retry_after: (!allowed).then(|| kept + t - quota.period - now),
    }
}

/// The in-process limiter of the embedded default: one instance only.
#[derive(Debug, Default)]
pub struct MemoryRateLimiter {
    tats: Mutex<HashMap<String, OffsetDateTime>>,
}

impl MemoryRateLimiter {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn check(
        &self,
        key: &str,
        quota: Quota,
        now: OffsetDateTime,
    ) -> Result<Decision, StoreError> {
        let mut tats = self.tats.lock().unwrap_or_else(|e| e.into_inner());
        if tats.len() > 100_000 {
            // Keys whose TAT has passed hold nothing a fresh key would not.
            tats.retain(|_, tat| *tat > now);
        }
        let (decision, tat) = gcra(tats.get(key).copied(), quota, now);
        tats.insert(key.to_owned(), tat);
        Ok(decision)
    }
}

/// The behaviour every [`RateLimiter`] adapter must show, as async
/// functions an adapter's tests call.
#[cfg(any(test, feature = "contract"))]
#[allow(clippy::expect_used)] // a failed expectation is a failed contract
pub mod contract {
    use super::*;
    use std::sync::Arc;

    const HOURLY: Quota = Quota {
        limit: 10,
        period: Duration::hours(1),
    };

    /// `limit` at once, then refused with a retry time; remaining counts down.
    pub async fn limit_then_deny(l: &dyn RateLimiter, key: &str, now: OffsetDateTime) {
        for i in 0..HOURLY.limit {
            let d = l.check(key, HOURLY, now).await.expect("check");
            assert!(d.allowed, "request {i} is within the quota");
            assert_eq!(d.remaining, HOURLY.limit - i - 1);
        }
        let d = l.check(key, HOURLY, now).await.expect("check");
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(
            d.retry_after,
            Some(HOURLY.emission_interval()),
            "one slot frees up after period/limit"
        );
    }

    /// After the window the full budget is back; a slot frees up at the steady rate.
    pub async fn refills_with_time(l: &dyn RateLimiter, key: &str, now: OffsetDateTime) {
        for _ in 0..=HOURLY.limit {
            l.check(key, HOURLY, now).await.expect("check");
        }
        let later = now + HOURLY.emission_interval();
        assert!(
            l.check(key, HOURLY, later).await.expect("check").allowed,
            "one slot after 6 minutes"
        );
        assert!(!l.check(key, HOURLY, later).await.expect("check").allowed);
        let reset = now + HOURLY.period + HOURLY.period;
        for _ in 0..HOURLY.limit {
            assert!(
                l.check(key, HOURLY, reset).await.expect("check").allowed,
                "the whole budget is back"
            );
        }
    }

    /// Many tasks on one key never get more than the limit.
    pub async fn concurrent_never_exceeds(l: Arc<dyn RateLimiter>, key: &str, now: OffsetDateTime) {
        let quota = Quota {
            limit: 100,
            period: Duration::hours(1),
        };
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let (l, key) = (l.clone(), key.to_owned());
            tasks.push(tokio::spawn(async move {
                let mut allowed = 0u32;
                for _ in 0..4 {
                    if l.check(&key, quota, now).await.expect("check").allowed {
                        allowed += 1;
                    }
                }
                allowed
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.expect("task");
        }
        assert_eq!(total, 100, "exactly the limit, never more");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn t0() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(20_000)
    }

    #[tokio::test]
    async fn the_memory_limiter_meets_the_contract() {
        let l = MemoryRateLimiter::new();
        contract::limit_then_deny(&l, "a", t0()).await;
        contract::refills_with_time(&l, "b", t0()).await;
        contract::concurrent_never_exceeds(Arc::new(MemoryRateLimiter::new()), "c", t0()).await;
    }

    #[tokio::test]
    async fn keys_are_independent() {
        let l = MemoryRateLimiter::new();
        let q = Quota {
            limit: 1,
            period: Duration::minutes(1),
        };
        assert!(l.check("alice", q, t0()).await.unwrap().allowed);
        assert!(!l.check("alice", q, t0()).await.unwrap().allowed);
        assert!(l.check("bob", q, t0()).await.unwrap().allowed);
    }
}
