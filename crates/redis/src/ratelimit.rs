//! The rate-limit port on Redis: one atomic GCRA script per check, so
//! every instance sharing the Redis shares one budget per key.
//! Key: `{prefix}rl:{key}` holding the theoretical arrival time in unix
//! microseconds, expiring one period after its last use.

use crate::{LuaScript, RedisSessionStore, unavailable};
use async_trait::async_trait;
use fred::prelude::*;
use kernel::StoreError;
use kernel::ratelimit::{Decision, Quota, RateLimiter, decision};
use time::OffsetDateTime;

const GCRA_LUA: &str = r"
local now = tonumber(ARGV[1])
local t = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + t
if new_tat - now <= period then
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil(period / 1000))
  return {1, string.format('%.0f', new_tat)}
end
return {0, string.format('%.0f', tat)}
";

/// Rate limits shared by every instance, on the session store's Redis.
pub struct RedisRateLimiter {
    pool: Pool,
    prefix: String,
    script: LuaScript,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn micros(t: OffsetDateTime) -> i128 {
    t.unix_timestamp_nanos() / 1_000
}

impl RedisSessionStore {
    /// A rate limiter on the same Redis connections and key prefix.
    pub async fn rate_limiter(&self) -> Result<RedisRateLimiter, StoreError> {
        let sha: String = self.pool.script_load(GCRA_LUA).await.map_err(unavailable)?;
        Ok(RedisRateLimiter {
            pool: self.pool.clone(),
            prefix: self.prefix.clone(),
            script: LuaScript { lua: GCRA_LUA, sha },
        })
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(
        &self,
        key: &str,
        quota: Quota,
        now: OffsetDateTime,
    ) -> Result<Decision, StoreError> {
        // Redis keeps microseconds: decide on the same precision.
        let now = OffsetDateTime::from_unix_timestamp_nanos(micros(now) * 1_000).unwrap_or(now);
        let redis_key = format!("{}rl:{key}", self.prefix);
        let args = vec![
            micros(now).to_string(),
            quota.emission_interval().whole_microseconds().to_string(),
            quota.period.whole_microseconds().to_string(),
        ];
        let reply: Vec<String> = match self
            .pool
            .evalsha(self.script.sha.as_str(), redis_key.as_str(), args.clone())
            .await
        {
            Err(e) if e.details().starts_with("NOSCRIPT") => self
                .pool
                .eval(self.script.lua, redis_key, args)
                .await
                .map_err(unavailable)?,
            r => r.map_err(unavailable)?,
        };
        let (allowed, kept) = match reply.as_slice() {
            [a, k] => (a == "1", k.parse::<i128>().ok()),
            _ => (false, None),
        };
        let kept = kept
            .and_then(|us| OffsetDateTime::from_unix_timestamp_nanos(us * 1_000).ok())
            .ok_or_else(|| {
                StoreError::Unavailable("Redis sent an unreadable rate-limit reply".into())
            })?;
        Ok(decision(allowed, kept, quota, now))
    }
}
