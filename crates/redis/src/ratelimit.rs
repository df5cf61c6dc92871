//! The rate-limit port on Redis, so every rosgate instance sharing the
//! Redis draws on one budget per key.
//!
//! Each check is one Lua script, the kernel's GCRA step
//! ([`kernel::quota::Gcra::step`]) transcribed, so concurrent checks from
//! any number of instances never let more through than the quota. The key
//! `{prefix}rl:{key}` holds the theoretical arrival time in unix
//! microseconds, and Redis forgets it one period after the last allowed
//! check, when it no longer matters. As for sessions, `now` comes from the
//! caller's clock port, never from Redis's clock.

use crate::{LuaScript, RedisSessionStore, unavailable};
use async_trait::async_trait;
use fred::prelude::{LuaInterface, Pool};
use kernel::RateLimiter;
use kernel::StoreError;
use kernel::quota::{Allowance, Quota, unix_micros};
use time::OffsetDateTime;

/// One GCRA step.
/// KEYS[1] the key; ARGV[1] now (unix µs), ARGV[2] emission interval (µs),
/// ARGV[3] window (µs), ARGV[4] expiry (ms).
/// Returns {'1' or '0' (allowed), the TAT kept (unix µs)}; only an allowed
/// check writes. Lua numbers are doubles, exact for these integers (the
/// kernel caps periods at ten years).
const GCRA_LUA: &str = r"
local now = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + tonumber(ARGV[2])
if new_tat - now <= tonumber(ARGV[3]) then
  local kept = string.format('%.0f', new_tat)
  redis.call('SET', KEYS[1], kept, 'PX', ARGV[4])
  return {'1', kept}
end
return {'0', string.format('%.0f', tat)}
";

/// The [`RateLimiter`] shared by several rosgate instances, on Redis.
pub struct RedisRateLimiter {
    pool: Pool,
    prefix: String,
    script: LuaScript,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("prefix", &self.prefix)
            .field("connections", &self.pool.size())
            .finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    /// A limiter on the session store's connections and key prefix; closing
    /// the store closes it too.
    ///
    /// Fails with [`StoreError::Unavailable`] if Redis refuses the script.
    pub async fn from_store(store: &RedisSessionStore) -> Result<Self, StoreError> {
        let sha: String = store
            .pool
            .script_load(GCRA_LUA)
            .await
            .map_err(unavailable)?;
        Ok(Self {
            pool: store.pool.clone(),
            prefix: store.prefix.clone(),
            script: LuaScript { lua: GCRA_LUA, sha },
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}rl:{key}", self.prefix)
    }

    /// Runs the script by its SHA-1, sending its text if the server forgot
    /// it (after a restart or `SCRIPT FLUSH`).
    async fn run(&self, key: String, args: Vec<String>) -> Result<Vec<String>, StoreError> {
        match self
            .pool
            .evalsha(self.script.sha.as_str(), key.as_str(), args.clone())
            .await
        {
            Err(e) if e.details().starts_with("NOSCRIPT") => self
                .pool
                .eval(self.script.lua, key, args)
                .await
                .map_err(unavailable),
            result => result.map_err(unavailable),
        }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
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
        // At least a millisecond: `PX 0` is an error.
        let expiry_ms = (gcra.expiry_us.saturating_add(999) / 1000).max(1);
        let reply = self
            .run(
                self.key(key),
                vec![
                    now_us.to_string(),
                    gcra.interval_us.to_string(),
                    gcra.window_us.to_string(),
                    expiry_ms.to_string(),
                ],
            )
            .await?;
        let (allowed, kept) = match reply.as_slice() {
            [allowed, kept] => (allowed == "1", kept.parse::<i64>().ok()),
            _ => (false, None),
        };
        let kept = kept.ok_or_else(|| {
            StoreError::Unavailable("Redis sent an unreadable rate-limit reply".into())
        })?;
        Ok(gcra.decision(allowed, kept, now_us))
    }
}
