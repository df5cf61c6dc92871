//! Short-lived shared state: a lock (one worker per key at a time) and a
//! cache (values that expire), whose ports are in ports.rs. The in-process
//! adapters here serve the embedded default; a shared adapter (Redis) serves several instances.
//! Expiry follows the [`Clock`] port, so it is tested without sleeping.

use crate::StoreError;
use crate::ports::{CachePort, Clock, LockPort};
use async_trait::async_trait;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

fn guard<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Held locks: the last token handed out, and each key's holder and expiry.
type Held = (u64, HashMap<String, (u64, OffsetDateTime)>);

/// The in-process lock of the embedded default.
pub struct MemoryLocks {
    clock: Arc<dyn Clock>,
    held: Mutex<Held>,
}

impl std::fmt::Debug for MemoryLocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryLocks")
    }
}

impl MemoryLocks {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            held: Mutex::new((0, HashMap::new())),
        }
    }
}

#[async_trait]
impl LockPort for MemoryLocks {
    async fn try_lock(&self, key: &str, ttl: Duration) -> Result<Option<u64>, StoreError> {
        let now = self.clock.now();
        let mut g = guard(&self.held);
        let (next, map) = &mut *g;
        if map.get(key).is_some_and(|(_, until)| *until > now) {
            return Ok(None);
        }
        *next += 1;
        map.insert(key.to_owned(), (*next, now + ttl));
        Ok(Some(*next))
    }

    async fn unlock(&self, key: &str, token: u64) -> Result<(), StoreError> {
        let mut g = guard(&self.held);
        if g.1.get(key).is_some_and(|(t, _)| *t == token) {
            g.1.remove(key);
        }
        Ok(())
    }
}

/// The in-process cache of the embedded default.
pub struct MemoryCache {
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<String, (Value, OffsetDateTime)>>,
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryCache")
    }
}

impl MemoryCache {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl CachePort for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Value>, StoreError> {
        let now = self.clock.now();
        let mut g = guard(&self.entries);
        match g.get(key) {
            Some((v, until)) if *until > now => Ok(Some(v.clone())),
            Some(_) => {
                g.remove(key);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn put(&self, key: &str, value: Value, ttl: Duration) -> Result<(), StoreError> {
        let until = self.clock.now() + ttl;
        let mut g = guard(&self.entries);
        // Drop expired entries now and then so the map does not grow forever.
        if g.len() > 10_000 {
            let now = self.clock.now();
            g.retain(|_, (_, u)| *u > now);
        }
        g.insert(key.to_owned(), (value, until));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(
            OffsetDateTime::UNIX_EPOCH + Duration::days(20_000),
        ))
    }

    #[tokio::test]
    async fn a_lock_is_held_once_until_released_or_expired() {
        let c = clock();
        let locks = MemoryLocks::new(c.clone());
        let t = locks
            .try_lock("d1", Duration::seconds(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            locks.try_lock("d1", Duration::seconds(30)).await.unwrap(),
            None
        );
        assert!(
            locks
                .try_lock("d2", Duration::seconds(30))
                .await
                .unwrap()
                .is_some(),
            "keys are independent"
        );
        locks.unlock("d1", t + 100).await.unwrap();
        assert_eq!(
            locks.try_lock("d1", Duration::seconds(30)).await.unwrap(),
            None,
            "a stranger's token releases nothing"
        );
        locks.unlock("d1", t).await.unwrap();
        let t2 = locks.try_lock("d1", Duration::seconds(30)).await.unwrap();
        assert!(t2.is_some());
        c.advance(Duration::seconds(31));
        assert!(
            locks
                .try_lock("d1", Duration::seconds(30))
                .await
                .unwrap()
                .is_some(),
            "a crashed holder's lock expires"
        );
    }

    #[tokio::test]
    async fn cached_values_expire_with_the_clock() {
        let c = clock();
        let cache = MemoryCache::new(c.clone());
        cache
            .put("k", Value::from(1), Duration::minutes(5))
            .await
            .unwrap();
        c.advance(Duration::minutes(4));
        assert_eq!(cache.get("k").await.unwrap(), Some(Value::from(1)));
        c.advance(Duration::minutes(1));
        assert_eq!(cache.get("k").await.unwrap(), None);
    }
}
