#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The Redis session store against a real Redis: the `SessionStore`
//! contract, the keys it leaves, and what it does when Redis is not there.
//!
//! Needs a Redis at `ROSGATE_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`).
//! Every test works under a prefix of its own and deletes its keys at the end.

use fred::prelude::{
    Builder, Client, ClientLike, Config, HashesInterface, KeysInterface, LuaInterface,
};
use kernel::{Clock, StoreError, SystemClock, TenantId, UserId};
use redis_store::{RedisRateLimiter, RedisSessionStore};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};
use tenancy::session::{SESSION_TTL, contract};
use tenancy::{SessionKey, SessionStore, UserSession};

fn redis_url() -> String {
    std::env::var("ROSGATE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn fresh_prefix() -> String {
    format!("rgtest:{}:", uuid::Uuid::new_v4())
}

async fn store(prefix: &str) -> RedisSessionStore {
    RedisSessionStore::connect(&redis_url(), prefix)
        .await
        .expect("a Redis for the tests (start one, or set ROSGATE_TEST_REDIS_URL)")
}

/// A plain client, to look at what the store left in Redis.
async fn raw() -> Client {
    let client = Builder::from_config(Config::from_url(&redis_url()).expect("url"))
        .build()
        .expect("client");
    client.init().await.expect("connect");
    client
}

/// Deletes every key under `prefix`; returns how many there were.
async fn clean_up(client: &Client, prefix: &str) -> i64 {
    const SCAN_AND_DELETE: &str = r"
local cursor, n = '0', 0
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 500)
  cursor = page[1]
  for _, k in ipairs(page[2]) do n = n + redis.call('DEL', k) end
until cursor == '0'
return n
";
    client
        .eval(
            SCAN_AND_DELETE,
            Vec::<String>::new(),
            vec![format!("{prefix}*")],
        )
        .await
        .expect("clean up")
}

#[tokio::test]
async fn redis_store_meets_the_contract() {
    let now = SystemClock.now();
    let (p1, p2, p3) = (fresh_prefix(), fresh_prefix(), fresh_prefix());
    contract::lifecycle(&store(&p1).await, now).await;
    contract::concurrent(Arc::new(store(&p2).await), now).await;
    contract::pending_logins(Arc::new(store(&p3).await), now).await;

    let client = raw().await;
    for p in [p1, p2, p3] {
        clean_up(&client, &p).await;
    }
}

#[tokio::test]
async fn keys_expire_in_redis_and_hold_no_cookie() {
    let prefix = fresh_prefix();
    let store = store(&prefix).await;
    let client = raw().await;
    let now = SystemClock.now();
    let cookie = "a1".repeat(32);
    let key = SessionKey::of_cookie(&cookie);
    let session = UserSession {
        user_id: UserId::from_uuid(uuid::Uuid::from_u128(1)),
        tenant_id: TenantId::from_uuid(uuid::Uuid::from_u128(2)),
        subject: "s".into(),
        email: "a@example.test".into(),
        display_name: "A".into(),
        csrf_token: "csrf".into(),
        sealed_tokens: vec![1, 2, 3],
        created_at: now,
        expires_at: now + SESSION_TTL,
    };
    store.insert(&key, &session).await.expect("insert");
    assert!(
        store
            .touch(&key, SystemClock.now(), SESSION_TTL)
            .await
            .expect("touch")
            .is_some()
    );

    let redis_key = format!("{prefix}session:{}", key.as_str());
    let pttl: i64 = client.pttl(&redis_key).await.expect("pttl");
    let (low, high) = ((7 * 60 + 59) * 60 * 1000, 8 * 60 * 60 * 1000);
    assert!(
        (low..=high).contains(&pttl),
        "Redis expires the session with it, 8h after its last use: PTTL {pttl} ms"
    );

    // The key is the cookie's hash; neither the key nor the value holds the cookie.
    assert!(!redis_key.contains(&cookie));
    let data: String = client.hget(&redis_key, "data").await.expect("hget");
    assert!(
        !data.contains(&cookie),
        "the stored session names no cookie"
    );
    let exp: i64 = client.hget(&redis_key, "exp").await.expect("hget");
    assert!(exp > 0, "the expiry is kept apart, in unix milliseconds");

    let login = tenancy::PendingLogin {
        pkce_verifier: "v".repeat(64),
        nonce: "n".repeat(64),
        return_to: "/".into(),
        expires_at: now + tenancy::session::LOGIN_TTL,
    };
    store.put_login("the-state", &login).await.expect("put");
    // Pending logins expire in Redis with their login: nobody has to take
    // them, so anonymous /auth/login requests cannot pile them up.
    let login_key = {
        use sha2::Digest;
        format!(
            "{prefix}login:{}",
            hex::encode(sha2::Sha256::digest(b"the-state"))
        )
    };
    let pttl: i64 = client.pttl(&login_key).await.expect("pttl");
    assert!(
        (1..=10 * 60 * 1000).contains(&pttl),
        "a pending login expires within ten minutes: PTTL {pttl} ms"
    );
    let keys: i64 = clean_up(&client, &prefix).await;
    assert_eq!(keys, 2, "one session and one login, nothing else");
    assert_eq!(
        store.take_login("the-state", now).await.expect("take"),
        None,
        "gone with its key"
    );
    store.close().await;
}

#[tokio::test]
async fn unreadable_data_counts_as_absent() {
    let prefix = fresh_prefix();
    let store = store(&prefix).await;
    let client = raw().await;
    let now = SystemClock.now();
    let key = SessionKey::of_cookie("broken");
    let redis_key = format!("{prefix}session:{}", key.as_str());
    let exp = (now.unix_timestamp() + 3600) * 1000;
    let _: () = client
        .hset(
            &redis_key,
            [("data", "{not json".to_owned()), ("exp", exp.to_string())],
        )
        .await
        .expect("hset");
    assert_eq!(
        store.touch(&key, now, SESSION_TTL).await.expect("touch"),
        None
    );
    // A login's key is the SHA-256 of its state, hex: what a session key is of its cookie.
    let login_key = format!(
        "{prefix}login:{}",
        SessionKey::of_cookie("odd-state").as_str()
    );
    let _: () = client
        .set(&login_key, "[]", None, None, false)
        .await
        .expect("set");
    assert_eq!(
        store.take_login("odd-state", now).await.expect("take"),
        None
    );
    let left: i64 = client.exists(&login_key).await.expect("exists");
    assert_eq!(left, 0, "taken, even though unreadable");
    clean_up(&client, &prefix).await;
}

#[tokio::test]
async fn an_unreachable_redis_fails_fast() {
    let started = Instant::now();
    let err = RedisSessionStore::connect("redis://user:s3cret@127.0.0.1:1", "rgtest:")
        .await
        .expect_err("nothing listens on port 1");
    assert!(
        started.elapsed() < StdDuration::from_secs(10),
        "fails within the connection timeout, took {:?}",
        started.elapsed()
    );
    let StoreError::Unavailable(message) = err else {
        panic!("expected Unavailable, got {err:?}");
    };
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(message.contains("redis_url"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");

    let err = RedisSessionStore::connect("not a url", "rgtest:")
        .await
        .expect_err("not a URL");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn scripts_survive_a_flushed_script_cache() {
    let prefix = fresh_prefix();
    let store = store(&prefix).await;
    let client = raw().await;
    // As after a Redis restart: the server no longer knows the scripts' SHA-1s.
    client.script_flush(false).await.expect("script flush");
    contract::lifecycle(&store, SystemClock.now()).await;
    clean_up(&client, &prefix).await;
}

// The rate limiter. `now` is a fixed instant: Redis decides on the `now` it
// is given, and only its key expiry follows its own clock.

fn rl_t0() -> time::OffsetDateTime {
    time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000)
}

async fn limiter(store: &RedisSessionStore) -> RedisRateLimiter {
    RedisRateLimiter::from_store(store)
        .await
        .expect("Redis loads the rate-limit script")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_rate_limiter_meets_the_contract() {
    use kernel::ratelimit::contract as rl;
    let now = rl_t0();
    let prefixes: Vec<String> = (0..5).map(|_| fresh_prefix()).collect();
    let stores = [
        store(&prefixes[0]).await,
        store(&prefixes[1]).await,
        store(&prefixes[2]).await,
        store(&prefixes[3]).await,
        store(&prefixes[4]).await,
    ];
    rl::limit_then_deny(&limiter(&stores[0]).await, now).await;
    rl::resets_after_the_window(&limiter(&stores[1]).await, now).await;
    rl::keys_are_independent(&limiter(&stores[2]).await, now).await;
    rl::a_zero_quota_refuses(&limiter(&stores[3]).await, now).await;
    rl::concurrent_never_exceeds(Arc::new(limiter(&stores[4]).await), now).await;
    let client = raw().await;
    for p in &prefixes {
        clean_up(&client, p).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_sharing_redis_share_one_budget() {
    use kernel::{Quota, RateLimiter};
    let prefix = fresh_prefix();
    // Two separately connected stores, as two rosgate instances would have.
    let (store_one, store_two) = (store(&prefix).await, store(&prefix).await);
    let one: Arc<dyn RateLimiter> = Arc::new(limiter(&store_one).await);
    let two: Arc<dyn RateLimiter> = Arc::new(limiter(&store_two).await);
    let quota = Quota {
        limit: 50,
        period: time::Duration::hours(1),
    };
    let now = rl_t0();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let l = if i % 2 == 0 { one.clone() } else { two.clone() };
        tasks.push(tokio::spawn(async move {
            let mut allowed = 0u32;
            for _ in 0..3 {
                if l.check("alice", quota, now).await.unwrap().allowed {
                    allowed += 1;
                }
            }
            allowed
        }));
    }
    let mut allowed = 0;
    for t in tasks {
        allowed += t.await.unwrap();
    }
    assert_eq!(allowed, 50, "one budget across both instances");
    let d = two.check("alice", quota, now).await.unwrap();
    assert!(!d.allowed);
    assert_eq!(d.retry_after, Some(quota.emission_interval()));
    // The slot that frees up goes to whichever instance asks first.
    let later = now + quota.emission_interval();
    assert!(one.check("alice", quota, later).await.unwrap().allowed);
    assert!(!two.check("alice", quota, later).await.unwrap().allowed);
    assert!(one.check("bob", quota, now).await.unwrap().allowed);
    clean_up(&raw().await, &prefix).await;
    store_one.close().await;
    store_two.close().await;
}

#[tokio::test]
async fn rate_limit_keys_expire_with_their_period() {
    use kernel::{Quota, RateLimiter};
    let prefix = fresh_prefix();
    let store = store(&prefix).await;
    let limiter = limiter(&store).await;
    let client = raw().await;
    let quota = Quota {
        limit: 10,
        period: time::Duration::minutes(10),
    };
    let now = rl_t0();
    assert!(limiter.check("k", quota, now).await.unwrap().allowed);

    let key = format!("{prefix}rl:k");
    let pttl: i64 = client.pttl(&key).await.expect("pttl");
    assert!(
        (590_000..=600_000).contains(&pttl),
        "Redis forgets the key one period after its last use: PTTL {pttl} ms"
    );
    let tat: String = client.get(&key).await.expect("get");
    let expected = (now + quota.emission_interval()).unix_timestamp_nanos() / 1_000;
    assert_eq!(tat, expected.to_string(), "the TAT in unix microseconds");

    // A refused check writes nothing: the expiry does not move.
    let tight = Quota {
        limit: 1,
        period: time::Duration::minutes(10),
    };
    assert!(!limiter.check("k", tight, now).await.unwrap().allowed);
    let after: String = client.get(&key).await.expect("get");
    assert_eq!(after, tat);

    // Unreadable content counts as no TAT at all.
    let _: () = client
        .set(&key, "not a number", None, None, false)
        .await
        .expect("set");
    assert!(limiter.check("k", tight, now).await.unwrap().allowed);

    assert_eq!(clean_up(&client, &prefix).await, 1, "one key, nothing else");
    store.close().await;
}

#[tokio::test]
async fn the_rate_limit_script_survives_a_flushed_script_cache() {
    use kernel::{Quota, RateLimiter};
    let prefix = fresh_prefix();
    let store = store(&prefix).await;
    let limiter = limiter(&store).await;
    let client = raw().await;
    client.script_flush(false).await.expect("script flush");
    let quota = Quota {
        limit: 1,
        period: time::Duration::minutes(1),
    };
    assert!(limiter.check("k", quota, rl_t0()).await.unwrap().allowed);
    assert!(!limiter.check("k", quota, rl_t0()).await.unwrap().allowed);
    clean_up(&client, &prefix).await;
    store.close().await;
}

#[tokio::test]
async fn a_rate_limiter_on_a_lost_redis_is_unavailable() {
    use kernel::{Quota, RateLimiter};
    let prefix = fresh_prefix();
    let store = store(&prefix).await;
    let limiter = limiter(&store).await;
    store.close().await;
    let quota = Quota {
        limit: 1,
        period: time::Duration::minutes(1),
    };
    let err = limiter
        .check("k", quota, rl_t0())
        .await
        .expect_err("the connections are closed");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}
