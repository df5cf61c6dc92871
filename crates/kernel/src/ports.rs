//! The kernel's ports in one place: what the domain asks of time,
//! randomness, rate limits, locks and caches. The in-process adapters live
//! beside their subject (clock.rs, entropy.rs, ratelimit.rs, store.rs); a
//! shared store's adapters live in infrastructure crates.

use crate::StoreError;
use crate::quota::{Allowance, Quota};
use async_trait::async_trait;
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Where "now" comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// A source of random bytes.
pub trait Entropy: Send + Sync + std::fmt::Debug {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);

    /// A time-ordered UUIDv7 for `at`: ids sort by creation, which makes them
    /// usable as pagination cursors. The 12 bits after the millisecond hold
    /// the fraction of that millisecond (RFC 9562, method 3), so ids made
    /// within one millisecond still sort by time.
    fn uuid_v7(&self, at: OffsetDateTime) -> Uuid {
        let mut rand = [0u8; 10];
        self.fill(&mut rand);
        let nanos = at.unix_timestamp_nanos();
        let millis = u64::try_from(nanos / 1_000_000).unwrap_or(0);
        let fraction = u16::try_from((nanos.rem_euclid(1_000_000) * 4096) / 1_000_000).unwrap_or(0);
        let mut bytes = *uuid::Builder::from_unix_timestamp_millis(millis, &rand)
            .into_uuid()
            .as_bytes();
        bytes[6] = 0x70 | ((fraction >> 8) as u8 & 0x0f);
        bytes[7] = (fraction & 0xff) as u8;
        Uuid::from_bytes(bytes)
    }

    /// `n` random bytes.
    fn bytes(&self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        self.fill(&mut buf);
        buf
    }
}

/// Counts requests per key against a quota.
///
/// # Errors
///
/// Adapters MUST return [`StoreError::Unavailable`] when their store cannot
/// answer, with a message that holds no credentials; the check then did not
/// count.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one request for `key` at `now` (taken from the clock port) and
    /// says whether it is within `quota`. A refused request is not counted.
    async fn check(
        &self,
        key: &str,
        quota: Quota,
        now: OffsetDateTime,
    ) -> Result<Allowance, StoreError>;
}

/// Mutual exclusion by key, with a time-to-live so a crashed holder cannot
/// keep a lock forever.
#[async_trait]
pub trait LockPort: Send + Sync {
    /// Takes the lock `key` for `ttl`; `None` if someone else holds it.
    /// The returned token releases it.
    async fn try_lock(&self, key: &str, ttl: Duration) -> Result<Option<u64>, StoreError>;
    /// Releases `key` if `token` still holds it.
    async fn unlock(&self, key: &str, token: u64) -> Result<(), StoreError>;
}

/// Values that expire.
#[async_trait]
pub trait CachePort: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Value>, StoreError>;
    async fn put(&self, key: &str, value: Value, ttl: Duration) -> Result<(), StoreError>;
}
