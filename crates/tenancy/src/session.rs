//! Browser sessions and the short-lived state of a login in progress.
//!
//! A person who signs in through the identity provider gets a session: a
//! random cookie value that maps to a [`UserSession`] kept server-side with
//! a sliding lifetime. The store only ever sees [`SessionKey`]s (SHA-256 of
//! the cookie value), so a dump of the store holds no usable cookie. The
//! identity provider's tokens ride along sealed ([`UserSession::sealed_tokens`]):
//! this crate never sees them in the clear.
//!
//! [`SessionStore`] is the port (ports.rs, its types in session_model.rs);
//! [`MemorySessionStore`] is the in-process
//! adapter of the embedded default, and the `redis` crate holds the shared
//! one. Time comes from the caller, so expiry is tested without sleeping.

use crate::ports::SessionStore;
use crate::session_model::{PendingLogin, SessionKey, UserSession};
use async_trait::async_trait;
use kernel::{Clock, Entropy, StoreError, TenantId, UserId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

/// How long a session lives without being used (seed 000: eight hours, sliding).
pub const SESSION_TTL: Duration = Duration::hours(8);

/// How long a session lives at most, however often it is used.
pub const SESSION_MAX_LIFETIME: Duration = Duration::hours(24);

/// How long a login may take between leaving for the identity provider and
/// coming back.
pub const LOGIN_TTL: Duration = Duration::minutes(10);

/// How many logins may be pending at once in the in-process store by default.
pub const MAX_PENDING_LOGINS: usize = 10_000;

/// The in-process store of the embedded default: one instance only.
/// Pending logins are capped: past the cap, the oldest is dropped, so
/// anonymous `/auth/login` requests cannot grow memory without bound.
#[derive(Debug)]
pub struct MemorySessionStore {
    inner: Mutex<Maps>,
    max_logins: usize,
}

impl Default for MemorySessionStore {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Default)]
struct Maps {
    sessions: HashMap<SessionKey, UserSession>,
    logins: HashMap<String, PendingLogin>,
    /// States in the order they were stored (some may be taken already).
    login_order: std::collections::VecDeque<String>,
}

impl MemorySessionStore {
    pub fn new() -> Self {
        Self::with_max_pending_logins(MAX_PENDING_LOGINS)
    }

    /// A store keeping at most `max` pending logins (at least one).
    pub fn with_max_pending_logins(max: usize) -> Self {
        Self {
            inner: Mutex::default(),
            max_logins: max.max(1),
        }
    }

    /// How many logins are pending (including expired ones not yet dropped).
    pub fn pending_logins(&self) -> usize {
        self.maps().logins.len()
    }

    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        // A panic while holding the lock leaves plain maps behind: still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn insert(&self, key: &SessionKey, session: &UserSession) -> Result<(), StoreError> {
        let mut m = self.maps();
        if m.sessions.contains_key(key) {
            return Err(StoreError::Conflict("session key already in use".into()));
        }
        m.sessions.insert(key.clone(), session.clone());
        Ok(())
    }

    async fn touch(
        &self,
        key: &SessionKey,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> Result<Option<UserSession>, StoreError> {
        let mut m = self.maps();
        let Some(s) = m.sessions.get_mut(key) else {
            return Ok(None);
        };
        if now >= s.expires_at {
            m.sessions.remove(key);
            return Ok(None);
        }
        s.expires_at = now + ttl;
        Ok(Some(s.clone()))
    }

    async fn replace(&self, key: &SessionKey, session: &UserSession) -> Result<bool, StoreError> {
        let mut m = self.maps();
        match m.sessions.get_mut(key) {
            Some(s) => {
                *s = session.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn remove(&self, key: &SessionKey) -> Result<bool, StoreError> {
        Ok(self.maps().sessions.remove(key).is_some())
    }

    async fn put_login(&self, state: &str, login: &PendingLogin) -> Result<(), StoreError> {
        let mut m = self.maps();
        if m.logins.insert(state.to_owned(), login.clone()).is_none() {
            m.login_order.push_back(state.to_owned());
        }
        // Over the cap: drop the oldest.
        while m.logins.len() > self.max_logins {
            let Some(oldest) = m.login_order.pop_front() else {
                break;
            };
            m.logins.remove(&oldest);
        }
        // Taken logins leave their state in the order behind: compact now
        // and then, so the order stays as bounded as the map.
        if m.login_order.len() > 2 * self.max_logins {
            let Maps {
                logins,
                login_order,
                ..
            } = &mut *m;
            login_order.retain(|s| logins.contains_key(s));
        }
        Ok(())
    }

    async fn take_login(
        &self,
        state: &str,
        now: OffsetDateTime,
    ) -> Result<Option<PendingLogin>, StoreError> {
        Ok(self
            .maps()
            .logins
            .remove(state)
            .filter(|l| now < l.expires_at))
    }
}

/// Sessions as the application uses them: minting cookie values and login
/// secrets from the [`Entropy`] port, expiry from the [`Clock`] port.
#[derive(Clone)]
pub struct Sessions {
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    ttl: Duration,
    max_lifetime: Duration,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("ttl", &self.ttl)
            .field("max_lifetime", &self.max_lifetime)
            .finish_non_exhaustive()
    }
}

/// What a new session needs to know about its person.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub subject: String,
    pub email: String,
    pub display_name: String,
    pub sealed_tokens: Vec<u8>,
}

impl Sessions {
    pub fn new(
        store: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
    ) -> Self {
        Self {
            store,
            clock,
            entropy,
            ttl: SESSION_TTL,
            max_lifetime: SESSION_MAX_LIFETIME,
        }
    }

    /// The same sessions, ending `max_lifetime` after the login however
    /// often they are used (the sliding idle expiry stays).
    pub fn with_max_lifetime(mut self, max_lifetime: Duration) -> Self {
        self.max_lifetime = max_lifetime;
        self
    }

    /// When a session started at `created_at` ends whatever happens.
    pub fn ends_at(&self, created_at: OffsetDateTime) -> OffsetDateTime {
        created_at + self.max_lifetime
    }

    /// The store underneath.
    pub fn store(&self) -> &dyn SessionStore {
        self.store.as_ref()
    }

    /// 32 random bytes, hex: cookie values, CSRF tokens, `state`, `nonce`, PKCE verifiers.
    pub fn random_token(&self) -> String {
        hex::encode(self.entropy.bytes(32))
    }

    /// Starts a login: returns the `state` to send to the identity provider
    /// and the pending login (PKCE verifier, nonce) kept under it.
    pub async fn begin_login(&self, return_to: &str) -> Result<(String, PendingLogin), StoreError> {
        let state = self.random_token();
        let login = PendingLogin {
            pkce_verifier: self.random_token(),
            nonce: self.random_token(),
            return_to: return_to.to_owned(),
            expires_at: self.clock.now() + LOGIN_TTL,
        };
        self.store.put_login(&state, &login).await?;
        Ok((state, login))
    }

    /// The pending login for `state`, once; `None` for unknown, used or expired states.
    pub async fn finish_login(&self, state: &str) -> Result<Option<PendingLogin>, StoreError> {
        if state.is_empty() || state.len() > 128 {
            return Ok(None);
        }
        self.store.take_login(state, self.clock.now()).await
    }

    /// Starts a session; returns the cookie value (shown to the browser
    /// only) and the session.
    pub async fn start(&self, new: NewSession) -> Result<(String, UserSession), StoreError> {
        let now = self.clock.now();
        let cookie = self.random_token();
        let session = UserSession {
            user_id: new.user_id,
            tenant_id: new.tenant_id,
            subject: new.subject,
            email: new.email,
            display_name: new.display_name,
            csrf_token: self.random_token(),
            sealed_tokens: new.sealed_tokens,
            created_at: now,
            expires_at: now + self.ttl,
        };
        self.store
            .insert(&SessionKey::of_cookie(&cookie), &session)
            .await?;
        Ok((cookie, session))
    }

    /// The live session a cookie value names, its idle expiry slid forward;
    /// `None` once it was idle too long or is older than its maximum lifetime.
    pub async fn resume(&self, cookie: &str) -> Result<Option<UserSession>, StoreError> {
        if cookie.len() != 64 || !cookie.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let key = SessionKey::of_cookie(cookie);
        let now = self.clock.now();
        let Some(session) = self.store.touch(&key, now, self.ttl).await? else {
            return Ok(None);
        };
        if now >= self.ends_at(session.created_at) {
            // Past its absolute lifetime: gone for good, however recently used.
            self.store.remove(&key).await?;
            return Ok(None);
        }
        Ok(Some(session))
    }

    /// Stores a changed session (new tokens after a refresh).
    pub async fn replace(&self, cookie: &str, session: &UserSession) -> Result<bool, StoreError> {
        self.store
            .replace(&SessionKey::of_cookie(cookie), session)
            .await
    }

    /// Ends a session.
    pub async fn end(&self, cookie: &str) -> Result<bool, StoreError> {
        self.store.remove(&SessionKey::of_cookie(cookie)).await
    }
}

/// The contract every [`SessionStore`] adapter must meet, as plain async
/// functions an adapter's tests call with a fresh store. `now` should be the
/// real current time: adapters may hand expiry to a server that has its own clock.
#[cfg(any(test, feature = "contract"))]
#[allow(clippy::expect_used)] // a failed expectation is a failed contract
pub mod contract {
    use super::*;

    fn session(n: u8, now: OffsetDateTime) -> UserSession {
        UserSession {
            user_id: UserId::from_uuid(uuid::Uuid::from_u128(u128::from(n) + 1)),
            tenant_id: TenantId::from_uuid(uuid::Uuid::from_u128(7)),
            subject: format!("sub-{n}"),
            email: format!("u{n}@example.test"),
            display_name: format!("User {n}"),
            csrf_token: format!("csrf-{n}"),
            sealed_tokens: vec![n; 16],
            created_at: now,
            expires_at: now + SESSION_TTL,
        }
    }

    fn key(name: &str) -> SessionKey {
        SessionKey::of_cookie(name)
    }

    /// Round trip, sliding expiry, expiry, replace and remove.
    pub async fn lifecycle(store: &dyn SessionStore, now: OffsetDateTime) {
        let k = key("lifecycle");
        let s = session(1, now);
        store.insert(&k, &s).await.expect("insert");
        assert!(
            matches!(store.insert(&k, &s).await, Err(StoreError::Conflict(_))),
            "a key is used once"
        );
        let got = store.touch(&k, now, SESSION_TTL).await.expect("touch");
        assert_eq!(got.as_ref(), Some(&s), "round trip");

        // Used after seven hours: still there, and now good for eight more.
        let later = now + Duration::hours(7);
        let got = store
            .touch(&k, later, SESSION_TTL)
            .await
            .expect("touch")
            .expect("alive after 7h");
        assert_eq!(got.expires_at, later + SESSION_TTL, "expiry slides");
        let later = later + Duration::hours(7);
        assert!(
            store
                .touch(&k, later, SESSION_TTL)
                .await
                .expect("touch")
                .is_some(),
            "14h after login, 7h after last use: alive"
        );
        // Eight idle hours: gone, and gone for good.
        let idle = later + SESSION_TTL;
        assert_eq!(
            store.touch(&k, idle, SESSION_TTL).await.expect("touch"),
            None
        );
        assert_eq!(
            store.touch(&k, later, SESSION_TTL).await.expect("touch"),
            None
        );

        let k2 = key("replace");
        store.insert(&k2, &session(2, now)).await.expect("insert");
        let mut changed = session(2, now);
        changed.sealed_tokens = vec![9; 32];
        assert!(store.replace(&k2, &changed).await.expect("replace"));
        let got = store.touch(&k2, now, SESSION_TTL).await.expect("touch");
        assert_eq!(got.map(|s| s.sealed_tokens), Some(vec![9; 32]));
        assert!(store.remove(&k2).await.expect("remove"));
        assert!(!store.remove(&k2).await.expect("remove twice"));
        assert!(
            !store
                .replace(&k2, &changed)
                .await
                .expect("replace after remove")
        );
        assert_eq!(
            store.touch(&k2, now, SESSION_TTL).await.expect("touch"),
            None
        );
    }

    /// Many tasks using, refreshing and ending sessions at once.
    pub async fn concurrent(store: Arc<dyn SessionStore>, now: OffsetDateTime) {
        // 16 sessions, each touched by 8 tasks at once: every touch sees it.
        let mut tasks = Vec::new();
        for n in 0..16u8 {
            store
                .insert(&key(&format!("c{n}")), &session(n, now))
                .await
                .expect("insert");
            for t in 0..8i64 {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    let at = now + Duration::seconds(t);
                    store
                        .touch(&key(&format!("c{n}")), at, SESSION_TTL)
                        .await
                        .expect("touch")
                        .map(|s| s.email)
                }));
            }
        }
        for t in tasks {
            assert!(
                t.await.expect("task").is_some(),
                "a live session is always found"
            );
        }

        // A removal racing touches and replaces: once removed, never back.
        let k = key("race");
        store.insert(&k, &session(99, now)).await.expect("insert");
        let mut racers = Vec::new();
        for i in 0..32 {
            let store = store.clone();
            let k = k.clone();
            racers.push(tokio::spawn(async move {
                match i % 3 {
                    0 => {
                        store.remove(&k).await.expect("remove");
                    }
                    1 => {
                        store.touch(&k, now, SESSION_TTL).await.expect("touch");
                    }
                    _ => {
                        store.replace(&k, &session(99, now)).await.expect("replace");
                    }
                }
            }));
        }
        for r in racers {
            r.await.expect("task");
        }
        assert_eq!(
            store.touch(&k, now, SESSION_TTL).await.expect("touch"),
            None,
            "a removed session does not come back"
        );
    }

    /// Pending logins: single use, and never after they expired.
    pub async fn pending_logins(store: Arc<dyn SessionStore>, now: OffsetDateTime) {
        let login = PendingLogin {
            pkce_verifier: "v".repeat(64),
            nonce: "n".repeat(64),
            return_to: "/".into(),
            expires_at: now + LOGIN_TTL,
        };
        store.put_login("state-once", &login).await.expect("put");
        let mut takers = Vec::new();
        for _ in 0..8 {
            let store = store.clone();
            takers.push(tokio::spawn(async move {
                store.take_login("state-once", now).await.expect("take")
            }));
        }
        let mut won = 0;
        for t in takers {
            if let Some(l) = t.await.expect("task") {
                assert_eq!(l, login);
                won += 1;
            }
        }
        assert_eq!(
            won, 1,
            "exactly one of eight concurrent callbacks gets the login"
        );

        store.put_login("state-late", &login).await.expect("put");
        assert_eq!(
            store
                .take_login("state-late", now + LOGIN_TTL)
                .await
                .expect("take"),
            None,
            "an expired login is refused"
        );
        assert_eq!(
            store.take_login("never-issued", now).await.expect("take"),
            None
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::{ManualClock, SeededEntropy, SystemClock};

    #[tokio::test]
    async fn memory_store_meets_the_contract() {
        let now = SystemClock.now();
        contract::lifecycle(&MemorySessionStore::new(), now).await;
        contract::concurrent(Arc::new(MemorySessionStore::new()), now).await;
        contract::pending_logins(Arc::new(MemorySessionStore::new()), now).await;
    }

    #[tokio::test]
    async fn sessions_slide_and_end_with_the_clock() {
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let sessions = Sessions::new(
            Arc::new(MemorySessionStore::new()),
            clock.clone(),
            Arc::new(SeededEntropy::new(1)),
        );
        let (cookie, s) = sessions
            .start(NewSession {
                user_id: UserId::from_uuid(uuid::Uuid::from_u128(1)),
                tenant_id: TenantId::from_uuid(uuid::Uuid::from_u128(2)),
                subject: "s".into(),
                email: "a@example.test".into(),
                display_name: "A".into(),
                sealed_tokens: vec![],
            })
            .await
            .expect("start");
        assert_ne!(
            cookie, s.csrf_token,
            "cookie and CSRF token are different secrets"
        );
        clock.advance(Duration::hours(7));
        assert!(sessions.resume(&cookie).await.expect("resume").is_some());
        clock.advance(Duration::hours(7));
        assert!(sessions.resume(&cookie).await.expect("resume").is_some());
        clock.advance(SESSION_TTL);
        assert!(sessions.resume(&cookie).await.expect("resume").is_none());
        assert!(
            sessions
                .resume("not-a-cookie")
                .await
                .expect("resume")
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_login_state_works_once_and_expires() {
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let sessions = Sessions::new(
            Arc::new(MemorySessionStore::new()),
            clock.clone(),
            Arc::new(SeededEntropy::new(2)),
        );
        let (state, login) = sessions.begin_login("/").await.expect("begin");
        assert_eq!(
            login.pkce_verifier.len(),
            64,
            "RFC 7636 allows 43 to 128 characters"
        );
        assert_ne!(login.pkce_verifier, login.nonce);
        assert_eq!(
            sessions.finish_login(&state).await.expect("finish"),
            Some(login)
        );
        assert_eq!(sessions.finish_login(&state).await.expect("replay"), None);
        let (state, _) = sessions.begin_login("/").await.expect("begin");
        clock.advance(LOGIN_TTL);
        assert_eq!(sessions.finish_login(&state).await.expect("late"), None);
    }

    #[tokio::test]
    async fn pending_logins_are_capped_and_the_oldest_go_first() {
        let store = MemorySessionStore::with_max_pending_logins(3);
        let now = SystemClock.now();
        let login = |n: u8| PendingLogin {
            pkce_verifier: format!("v{n}"),
            nonce: format!("n{n}"),
            return_to: "/".into(),
            expires_at: now + LOGIN_TTL,
        };
        for n in 0..5 {
            store
                .put_login(&format!("s{n}"), &login(n))
                .await
                .expect("put");
        }
        assert_eq!(store.pending_logins(), 3);
        for gone in ["s0", "s1"] {
            assert_eq!(store.take_login(gone, now).await.expect("take"), None);
        }
        assert_eq!(
            store.take_login("s4", now).await.expect("take"),
            Some(login(4))
        );
        // Taking and putting many times keeps the bookkeeping bounded too.
        for n in 0..100u8 {
            let s = format!("t{n}");
            store.put_login(&s, &login(n)).await.expect("put");
            store.take_login(&s, now).await.expect("take");
        }
        assert!(store.maps().login_order.len() <= 6);
        assert_eq!(
            store.take_login("s3", now).await.expect("take"),
            Some(login(3))
        );
    }

    #[tokio::test]
    async fn a_session_ends_at_its_maximum_lifetime_however_often_it_is_used() {
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let sessions = Sessions::new(
            Arc::new(MemorySessionStore::new()),
            clock.clone(),
            Arc::new(SeededEntropy::new(4)),
        );
        let (cookie, s) = sessions
            .start(NewSession {
                user_id: UserId::from_uuid(uuid::Uuid::from_u128(1)),
                tenant_id: TenantId::from_uuid(uuid::Uuid::from_u128(2)),
                subject: "s".into(),
                email: "a@example.test".into(),
                display_name: "A".into(),
                sealed_tokens: vec![],
            })
            .await
            .expect("start");
        assert_eq!(
            sessions.ends_at(s.created_at),
            s.created_at + SESSION_MAX_LIFETIME
        );
        for _ in 0..3 {
            clock.advance(Duration::hours(7));
            assert!(sessions.resume(&cookie).await.expect("resume").is_some());
        }
        clock.advance(Duration::hours(3));
        assert!(
            sessions.resume(&cookie).await.expect("resume").is_none(),
            "24 hours after login, used 3 hours ago: over"
        );
        assert!(
            sessions
                .store()
                .touch(&SessionKey::of_cookie(&cookie), clock.now(), SESSION_TTL)
                .await
                .expect("touch")
                .is_none(),
            "and gone from the store"
        );
    }

    #[test]
    fn csrf_check_refuses_empty_and_wrong_tokens() {
        let now = SystemClock.now();
        let s = contract_session(now);
        assert!(s.csrf_matches("csrf-1"));
        assert!(!s.csrf_matches("csrf-2"));
        assert!(!s.csrf_matches(""));
    }

    fn contract_session(now: OffsetDateTime) -> UserSession {
        UserSession {
            user_id: UserId::from_uuid(uuid::Uuid::from_u128(1)),
            tenant_id: TenantId::from_uuid(uuid::Uuid::from_u128(2)),
            subject: "s".into(),
            email: "a@example.test".into(),
            display_name: "A".into(),
            csrf_token: "csrf-1".into(),
            sealed_tokens: vec![],
            created_at: now,
            expires_at: now + SESSION_TTL,
        }
    }
}
