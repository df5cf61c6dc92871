//! Verifying JWTs against the provider's JSON Web Key Set.
//!
//! What a token must pass, in order: at most 16 KiB; a JOSE header naming an
//! asymmetric algorithm (never `none`, never HMAC: a public key used as an
//! HMAC secret is the classic algorithm-confusion attack); a `kid` found in
//! the key set (refetched on an unknown `kid`, at most once a minute); a key
//! whose type and declared `alg` fit the token's; a valid signature; `iss`
//! and `aud` as expected; `exp` and `nbf` against the clock port with a
//! small leeway.

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use kernel::Clock;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tenancy::IdentityError;
use time::{Duration, OffsetDateTime};

/// The shortest time between two fetches of the key set.
pub const REFETCH_INTERVAL: Duration = Duration::minutes(1);

/// After a failed fetch, how long requests are refused (503) without
/// asking the provider again.
pub const FAILURE_BACKOFF: Duration = Duration::seconds(10);

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY: Duration = Duration::seconds(30);

/// Longest token accepted.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Algorithms accepted: asymmetric signatures only.
pub const ALLOWED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// What a token must say about itself.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
}

/// The provider's keys, fetched on demand and cached.
pub struct Jwks {
    uri: String,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    state: tokio::sync::RwLock<KeySetCache>,
    refetch: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

struct KeySetCache {
    keys: JwkSet,
    fetched_at: Option<OffsetDateTime>,
    /// The last fetch that failed, while no later one succeeded.
    failed_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

fn rejected(why: impl Into<String>) -> IdentityError {
    IdentityError::Rejected(why.into())
}

impl Jwks {
    /// A cache for the key set at `uri`; nothing is fetched until needed.
    pub fn new(uri: String, client: reqwest::Client, clock: Arc<dyn Clock>) -> Self {
        Self {
            uri,
            client,
            clock,
            state: tokio::sync::RwLock::new(KeySetCache {
                keys: JwkSet { keys: Vec::new() },
                fetched_at: None,
                failed_at: None,
            }),
            refetch: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
        }
    }

    /// How many times fetching the key set was attempted.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Verifies `token` and returns its claims.
    pub async fn verify(
        &self,
        token: &str,
        expect: &Expect<'_>,
    ) -> Result<Map<String, Value>, IdentityError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(rejected("the token is too long"));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| rejected("the token is not a JWT signed with a supported algorithm"))?;
        if !ALLOWED.contains(&header.alg) {
            return Err(rejected(format!(
                "tokens signed with {:?} are not accepted; only asymmetric algorithms are",
                header.alg
            )));
        }
        let jwk = self.key_for(header.kid.as_deref(), header.alg).await?;
        if let Some(alg) = jwk.common.key_algorithm
            && alg.to_string() != format!("{:?}", header.alg)
        {
            return Err(rejected("the token's algorithm is not its key's algorithm"));
        }
        if matches!(
            jwk.common.public_key_use,
            Some(ref u) if *u != PublicKeyUse::Signature
        ) {
            return Err(rejected("the token's key is not a signing key"));
        }
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|_| rejected("the provider's key cannot verify this token"))?;
        let mut v = Validation::new(header.alg);
        v.validate_exp = false; // checked below against the clock port
        v.validate_nbf = false;
        v.leeway = 0;
        v.set_issuer(&[expect.issuer]);
        v.set_audience(&[expect.audience]);
        v.required_spec_claims = ["iss", "aud", "sub", "exp"]
            .into_iter()
            .map(String::from)
            .collect::<HashSet<_>>();
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            rejected(match e.kind() {
                K::InvalidSignature => "the token's signature is not valid".to_owned(),
                K::InvalidIssuer => format!("the token was not issued by {}", expect.issuer),
                K::InvalidAudience => format!("the token is not meant for {}", expect.audience),
                K::InvalidAlgorithm => "the token's algorithm does not fit its key".to_owned(),
                K::MissingRequiredClaim(c) => format!("the token has no `{c}` claim"),
                _ => "the token is malformed".to_owned(),
            })
        })?;
        let claims = data.claims;
        let now = self.clock.now().unix_timestamp();
        let leeway = LEEWAY.whole_seconds();
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(|| rejected("the token's `exp` is not a number"))?;
        if now > exp.saturating_add(leeway) {
            return Err(rejected("the token has expired"));
        }
        if let Some(nbf) = claims.get("nbf") {
            let nbf = nbf
                .as_i64()
                .ok_or_else(|| rejected("the token's `nbf` is not a number"))?;
            if nbf.saturating_sub(leeway) > now {
                return Err(rejected("the token is not valid yet"));
            }
        }
        match claims.get("sub").and_then(Value::as_str) {
            Some(s) if !s.is_empty() && s.len() <= 255 => {}
            _ => return Err(rejected("the token's `sub` must be 1 to 255 characters")),
        }
        Ok(claims)
    }

    /// The key a token names, refetching the set once if it is unknown and
    /// the last fetch is older than [`REFETCH_INTERVAL`].
    async fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> Result<Jwk, IdentityError> {
        if let Some(k) = find(&self.state.read().await.keys, kid, alg) {
            return Ok(k);
        }
        let _one_at_a_time = self.refetch.lock().await;
        // Another request may have refetched while this one waited.
        let (fetched_at, failed_at) = {
            let cached = self.state.read().await;
            if let Some(k) = find(&cached.keys, kid, alg) {
                return Ok(k);
            }
            (cached.fetched_at, cached.failed_at)
        };
        let now = self.clock.now();
        if failed_at.is_some_and(|t| now - t < FAILURE_BACKOFF) {
            return Err(IdentityError::Unavailable(
                "the provider's key set could not be fetched a moment ago".into(),
            ));
        }
        if fetched_at.is_some_and(|t| now - t < REFETCH_INTERVAL) {
            return Err(rejected("the token's signing key is unknown"));
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let keys: JwkSet = match crate::http::get_json(&self.client, &self.uri).await {
            Ok(keys) => keys,
            Err(e) => {
                self.state.write().await.failed_at = Some(now);
                return Err(IdentityError::Unavailable(e));
            }
        };
        let found = find(&keys, kid, alg);
        *self.state.write().await = KeySetCache {
            keys,
            fetched_at: Some(now),
            failed_at: None,
        };
        found.ok_or_else(|| rejected("the token's signing key is unknown"))
    }
}

/// The key with id `kid`; without a `kid`, the only key that fits `alg`.
fn find(set: &JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<Jwk> {
    match kid {
        Some(kid) => set
            .keys
            .iter()
            .find(|k| k.common.key_id.as_deref() == Some(kid))
            .cloned(),
        None => {
            let mut fitting = set.keys.iter().filter(|k| fits(k, alg));
            match (fitting.next(), fitting.next()) {
                (Some(k), None) => Some(k.clone()),
                _ => None,
            }
        }
    }
}

fn fits(k: &Jwk, alg: Algorithm) -> bool {
    use jsonwebtoken::jwk::AlgorithmParameters as P;
    matches!(
        (&k.algorithm, alg),
        (
            P::RSA(_),
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        ) | (P::EllipticCurve(_), Algorithm::ES256 | Algorithm::ES384)
            | (P::OctetKeyPair(_), Algorithm::EdDSA)
    )
}
