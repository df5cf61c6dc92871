//! The shared session store: browser sessions and pending logins in Redis.
//!
//! One rosgate instance can keep its sessions in memory
//! (`tenancy::session::MemorySessionStore`). Several instances behind a load
//! balancer cannot: a person who signed in through one instance must be
//! signed in on all of them, a login that left through one instance may come
//! back through another, and a sign-out on one must end the session
//! everywhere. [`RedisSessionStore`] implements the
//! [`SessionStore`] port on a Redis server they all share. On the same
//! connections, [`RedisRateLimiter`] gives all instances one rate-limit
//! budget per key (`{prefix}rl:{key}`).
//!
//! # Key layout
//!
//! Every key starts with the `key_prefix` given to
//! [`RedisSessionStore::connect`] (say `rosgate:`), so several deployments,
//! or tests, can share one Redis database.
//!
//! | key | type | content |
//! | --- | --- | --- |
//! | `{prefix}session:{session key}` | hash | `data`: the session as JSON, without its expiry; `exp`: its expiry, unix milliseconds |
//! | `{prefix}login:{SHA-256 of state, hex}` | string | the pending login as JSON |
//!
//! The session key is [`SessionKey::as_str`], itself the SHA-256 of the
//! cookie value, and a login's `state` is hashed the same way: a dump of the
//! database holds neither a usable cookie nor a usable `state`. The identity
//! provider's tokens are stored sealed, as the application hands them over.
//!
//! # Time
//!
//! Whether a session or login is still alive is decided against the `now`
//! the caller passes (the application's clock port), never against Redis's
//! clock, so tests can move time without sleeping. Every write also sets the
//! key's own Redis expiry (`PEXPIREAT`, `PXAT`) to the same instant, so Redis
//! collects sessions nobody uses any more. Expiry has millisecond
//! granularity, like Redis's own.
//!
//! # Atomicity
//!
//! Operations that read and then write one session run as Lua scripts
//! (`EVALSHA`, with a fallback to `EVAL` when the server lost its script
//! cache), so a session that was removed is never written back by a
//! concurrent `touch` or `replace`. Pending logins are taken with `GETDEL`:
//! one caller gets each.

use async_trait::async_trait;
use fred::prelude::{
    Builder, ClientLike, Config, Error as RedisError, Expiration, FromValue, KeysInterface,
    LuaInterface, Pool, ReconnectPolicy,
};
use kernel::{StoreError, TenantId, UserId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration as StdDuration;
use tenancy::{PendingLogin, SessionKey, SessionStore, UserSession};
use time::{Duration, OffsetDateTime};

mod ratelimit;
pub use ratelimit::RedisRateLimiter;

/// Connections kept open to Redis; every command is one short round trip.
const POOL_SIZE: usize = 4;
/// How long opening one connection (TCP and TLS) may take.
const CONNECT_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// How long one command may take, waiting for a reconnection included.
const COMMAND_TIMEOUT: StdDuration = StdDuration::from_secs(5);

/// Stores a new session unless its key is taken.
/// KEYS[1] session key; ARGV[1] data, ARGV[2] expiry (unix ms). Returns 1, or 0 if taken.
const INSERT_LUA: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'exp', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
";

/// The session's data with its expiry slid forward, or nil (and the session
/// forgotten) once `now` has reached its expiry.
/// KEYS[1] session key; ARGV[1] now (unix ms), ARGV[2] new expiry (unix ms).
const TOUCH_LUA: &str = r"
local v = redis.call('HMGET', KEYS[1], 'data', 'exp')
if not v[1] then return false end
local exp = tonumber(v[2])
if not exp or exp <= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return false
end
redis.call('HSET', KEYS[1], 'exp', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return v[1]
";

/// Replaces a session's data, keeping its expiry; never recreates a session.
/// KEYS[1] session key; ARGV[1] data. Returns 1, or 0 if there is none.
const REPLACE_LUA: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'data', ARGV[1])
return 1
";

/// The [`SessionStore`] shared by several rosgate instances, on Redis.
pub struct RedisSessionStore {
    pool: Pool,
    prefix: String,
    insert: LuaScript,
    touch: LuaScript,
    replace: LuaScript,
}

impl std::fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionStore")
            .field("prefix", &self.prefix)
            .field("connections", &self.pool.size())
            .finish_non_exhaustive()
    }
}

/// A Lua script and the SHA-1 the server knows it by.
#[derive(Debug)]
struct LuaScript {
    lua: &'static str,
    sha: String,
}

impl RedisSessionStore {
    /// Connects to the Redis at `url` (`redis://[user:password@]host:port[/db]`,
    /// or `rediss://` for TLS) and keeps every key under `key_prefix`.
    ///
    /// Fails with [`StoreError::Unavailable`] if the server cannot be reached
    /// within a few seconds; the message names the server without its password.
    /// Once connected, lost connections are re-established in the background.
    pub async fn connect(url: &str, key_prefix: &str) -> Result<Self, StoreError> {
        let shown = without_secrets(url);
        let config = Config::from_url(url).map_err(|e| {
            StoreError::Unavailable(format!(
                "`{shown}` is not a Redis URL ({}); check `redis_url`",
                e.details()
            ))
        })?;
        let mut builder = Builder::from_config(config);
        builder
            .with_connection_config(|c| {
                c.connection_timeout = CONNECT_TIMEOUT;
                c.internal_command_timeout = COMMAND_TIMEOUT;
            })
            .with_performance_config(|p| p.default_command_timeout = COMMAND_TIMEOUT)
            // Reconnect after a lost connection, without end; the first
            // connection still fails at once (`fail_fast`, fred's default).
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2));
        let pool = builder.build_pool(POOL_SIZE).map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot set up a Redis client for {shown}: {e}; check `redis_url`"
            ))
        })?;
        let unreachable = |e: RedisError| {
            StoreError::Unavailable(format!(
                "Redis at {shown} is unreachable: {e}; check `redis_url`, \
                 and that Redis runs there and accepts this client's connections and credentials"
            ))
        };
        // The connection tasks run on their own; nothing needs their handle.
        let _tasks = pool.init().await.map_err(unreachable)?;

        let mut scripts = Vec::with_capacity(3);
        for lua in [INSERT_LUA, TOUCH_LUA, REPLACE_LUA] {
            let loaded: Result<String, RedisError> = pool.script_load(lua).await;
            match loaded {
                Ok(sha) => scripts.push(LuaScript { lua, sha }),
                Err(e) => {
                    let _ = pool.quit().await;
                    return Err(StoreError::Unavailable(format!(
                        "Redis at {shown} refused to load a Lua script: {e}; \
                         the session store needs a Redis (6.2 or later) that allows scripting"
                    )));
                }
            }
        }
        let [insert, touch, replace] = <[LuaScript; 3]>::try_from(scripts)
            .map_err(|_| StoreError::Unavailable("Redis scripts went missing".into()))?;
        tracing::info!(redis = %shown, prefix = key_prefix, "connected to the shared session store");
        Ok(Self {
            pool,
            prefix: key_prefix.to_owned(),
            insert,
            touch,
            replace,
        })
    }

    /// Closes the connections; the store is of no use afterwards.
    pub async fn close(&self) {
        let _ = self.pool.quit().await;
    }

    fn session_key(&self, key: &SessionKey) -> String {
        format!("{}session:{}", self.prefix, key.as_str())
    }

    fn login_key(&self, state: &str) -> String {
        format!(
            "{}login:{}",
            self.prefix,
            hex::encode(Sha256::digest(state.as_bytes()))
        )
    }

    /// Runs a script by its SHA-1, sending its text if the server forgot it
    /// (after a restart or `SCRIPT FLUSH`).
    async fn run<R: FromValue>(
        &self,
        script: &LuaScript,
        key: String,
        args: Vec<String>,
    ) -> Result<R, StoreError> {
        match self
            .pool
            .evalsha(script.sha.as_str(), key.as_str(), args.clone())
            .await
        {
            Err(e) if e.details().starts_with("NOSCRIPT") => self
                .pool
                .eval(script.lua, key, args)
                .await
                .map_err(unavailable),
            result => result.map_err(unavailable),
        }
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn insert(&self, key: &SessionKey, session: &UserSession) -> Result<(), StoreError> {
        let exp = unix_ms(session.expires_at);
        let stored: i64 = self
            .run(
                &self.insert,
                self.session_key(key),
                vec![StoredSession::encode(session)?, exp.to_string()],
            )
            .await?;
        if stored == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict("session key already in use".into()))
        }
    }

    async fn touch(
        &self,
        key: &SessionKey,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> Result<Option<UserSession>, StoreError> {
        let expires_at = now + ttl;
        let data: Option<String> = self
            .run(
                &self.touch,
                self.session_key(key),
                vec![unix_ms(now).to_string(), unix_ms(expires_at).to_string()],
            )
            .await?;
        let Some(data) = data else {
            return Ok(None);
        };
        match serde_json::from_str::<StoredSession>(&data) {
            Ok(stored) => Ok(Some(stored.into_session(expires_at))),
            Err(e) => {
                // Left in place: a newer rosgate may have written it, and Redis
                // forgets it when it expires. The error's text may quote the
                // data, so only its kind and place are logged.
                tracing::warn!(
                    session = ?key,
                    error = ?e.classify(),
                    column = e.column(),
                    "unreadable session in Redis; treating it as absent"
                );
                Ok(None)
            }
        }
    }

    async fn replace(&self, key: &SessionKey, session: &UserSession) -> Result<bool, StoreError> {
        let replaced: i64 = self
            .run(
                &self.replace,
                self.session_key(key),
                vec![StoredSession::encode(session)?],
            )
            .await?;
        Ok(replaced == 1)
    }

    async fn remove(&self, key: &SessionKey) -> Result<bool, StoreError> {
        let removed: i64 = self
            .pool
            .del(self.session_key(key))
            .await
            .map_err(unavailable)?;
        Ok(removed > 0)
    }

    async fn put_login(&self, state: &str, login: &PendingLogin) -> Result<(), StoreError> {
        let value = serde_json::to_string(&StoredLogin::from(login)).map_err(unencodable)?;
        // PXAT must be positive; an instant before 1970 has long passed anyway.
        let at = unix_ms(login.expires_at).max(1);
        self.pool
            .set::<(), _, _>(
                self.login_key(state),
                value,
                Some(Expiration::PXAT(at)),
                None,
                false,
            )
            .await
            .map_err(unavailable)
    }

    async fn take_login(
        &self,
        state: &str,
        now: OffsetDateTime,
    ) -> Result<Option<PendingLogin>, StoreError> {
        let value: Option<String> = self
            .pool
            .getdel(self.login_key(state))
            .await
            .map_err(unavailable)?;
        let Some(value) = value else {
            return Ok(None);
        };
        match serde_json::from_str::<StoredLogin>(&value) {
            Ok(stored) => Ok(Some(stored.into_login()).filter(|l| now < l.expires_at)),
            Err(e) => {
                tracing::warn!(
                    error = ?e.classify(),
                    column = e.column(),
                    "unreadable pending login in Redis; treating it as absent"
                );
                Ok(None)
            }
        }
    }
}

/// A session as kept in the `data` field: everything but its expiry (the
/// `exp` field), with instants to the nanosecond so it reads back unchanged.
#[derive(Serialize, Deserialize)]
struct StoredSession {
    user_id: UserId,
    tenant_id: TenantId,
    subject: String,
    email: String,
    display_name: String,
    csrf_token: String,
    #[serde(with = "base64_bytes")]
    sealed_tokens: Vec<u8>,
    #[serde(with = "time::serde::timestamp::nanoseconds")]
    created_at: OffsetDateTime,
}

impl StoredSession {
    fn encode(s: &UserSession) -> Result<String, StoreError> {
        serde_json::to_string(&StoredSession {
            user_id: s.user_id,
            tenant_id: s.tenant_id,
            subject: s.subject.clone(),
            email: s.email.clone(),
            display_name: s.display_name.clone(),
            csrf_token: s.csrf_token.clone(),
            sealed_tokens: s.sealed_tokens.clone(),
            created_at: s.created_at,
        })
        .map_err(unencodable)
    }

    fn into_session(self, expires_at: OffsetDateTime) -> UserSession {
        UserSession {
            user_id: self.user_id,
            tenant_id: self.tenant_id,
            subject: self.subject,
            email: self.email,
            display_name: self.display_name,
            csrf_token: self.csrf_token,
            sealed_tokens: self.sealed_tokens,
            created_at: self.created_at,
            expires_at,
        }
    }
}

/// A pending login as kept in Redis, its expiry to the nanosecond.
#[derive(Serialize, Deserialize)]
struct StoredLogin {
    pkce_verifier: String,
    nonce: String,
    return_to: String,
    #[serde(with = "time::serde::timestamp::nanoseconds")]
    expires_at: OffsetDateTime,
}

impl From<&PendingLogin> for StoredLogin {
    fn from(l: &PendingLogin) -> Self {
        StoredLogin {
            pkce_verifier: l.pkce_verifier.clone(),
            nonce: l.nonce.clone(),
            return_to: l.return_to.clone(),
            expires_at: l.expires_at,
        }
    }
}

impl StoredLogin {
    fn into_login(self) -> PendingLogin {
        PendingLogin {
            pkce_verifier: self.pkce_verifier,
            nonce: self.nonce,
            return_to: self.return_to,
            expires_at: self.expires_at,
        }
    }
}

/// Bytes as one base64 string rather than a JSON array of numbers.
mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&BASE64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        BASE64
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

/// Milliseconds since 1970, rounded down (the unit of Redis expiries).
fn unix_ms(t: OffsetDateTime) -> i64 {
    let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
    // Every `OffsetDateTime` is within ±10,000 years: far inside i64.
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

fn unavailable(e: RedisError) -> StoreError {
    // fred's errors name the failure (I/O, timeout, server reply), never the
    // URL or its credentials.
    StoreError::Unavailable(format!("Redis: {e}"))
}

fn unencodable(e: serde_json::Error) -> StoreError {
    StoreError::Unavailable(format!("cannot encode for Redis: {e}"))
}

/// `url` as it may be shown: scheme, host, port and database, no user
/// name, password or query.
fn without_secrets(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            let path = if u.path() == "/" { "" } else { u.path() };
            format!("{}://{host}{port}{path}", u.scheme())
        }
        Err(_) => "(an unparseable URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_urls_carry_no_credentials() {
        assert_eq!(
            without_secrets("redis://admin:hunter2@cache.internal:6380/2"),
            "redis://cache.internal:6380/2"
        );
        assert_eq!(
            without_secrets("rediss://:hunter2@cache.internal"),
            "rediss://cache.internal"
        );
        assert!(!without_secrets("redis//:hunter2@x").contains("hunter2"));
    }

    #[test]
    fn expiries_round_down_to_the_millisecond() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_999_999)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(unix_ms(t), 1_700_000_000_123);
        let before = OffsetDateTime::UNIX_EPOCH - Duration::nanoseconds(1);
        assert_eq!(unix_ms(before), -1);
    }
}
