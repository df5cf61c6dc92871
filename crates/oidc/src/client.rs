//! The provider as rosgate uses it: [`OidcProvider`] implements
//! [`IdentityProvider`] with the authorization code flow (PKCE S256),
//! refresh, revocation (RFC 7009), RP-initiated logout and bearer token
//! verification (RFC 9068 access tokens for rosgate's resource, RFC 8707).

use crate::discovery::ProviderMetadata;
use crate::jwks::{Expect, Jwks};
use crate::{claims, http};
use async_trait::async_trait;
use kernel::Clock;
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;
use tenancy::{ExternalIdentity, IdentityError, IdentityProvider, IdpTokens, VerifiedAccess};
use tokio::sync::OnceCell;

/// How rosgate is registered at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The issuer URL, exactly as the provider writes it in its tokens.
    pub issuer: String,
    pub client_id: String,
    /// `None` for a public client.
    pub client_secret: Option<String>,
    /// rosgate's `/auth/callback` as registered at the provider.
    pub redirect_uri: String,
    /// Scopes asked for at login.
    pub scopes: Vec<String>,
    /// rosgate's resource URI: the audience bearer tokens must carry.
    pub audience: String,
    /// Send `resource=<audience>` (RFC 8707) when logging in.
    pub resource_indicator: bool,
    /// `prompt` to send at login (`consent` makes some providers issue refresh tokens).
    pub prompt: Option<String>,
    /// Claims the login needs besides `email`, `email_verified` and `name`
    /// (those provisioning rules name, such as `groups`): asked for in the
    /// ID token with the `claims` parameter where the provider supports
    /// it, and read from UserInfo when the ID token lacks them.
    pub claims: Vec<String>,
}

/// Person claims a login needs; with [`OidcSettings::claims`], UserInfo is
/// asked when the ID token lacks one of them.
const PERSON_CLAIMS: &[&str] = &["email", "email_verified", "name"];

/// The first wait after discovery failed; it doubles up to [`DISCOVERY_MAX_BACKOFF`].
pub const DISCOVERY_BACKOFF: time::Duration = time::Duration::seconds(1);
/// The longest wait between two discovery attempts while the provider is down.
pub const DISCOVERY_MAX_BACKOFF: time::Duration = time::Duration::minutes(1);

/// How long token renewals wait after the provider failed one for a reason
/// of its own (unreachable, `temporarily_unavailable`, `invalid_client`…),
/// so sessions do not each call it on every request while it is down.
pub const REFRESH_PAUSE: time::Duration = time::Duration::seconds(30);

/// Until when renewals are not attempted: set by a failure of the
/// provider, never by a refusal of one session's grant.
#[derive(Debug, Default)]
struct Pause(std::sync::Mutex<Option<time::OffsetDateTime>>);

impl Pause {
    fn until(&self) -> std::sync::MutexGuard<'_, Option<time::OffsetDateTime>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a call may be made at `now`.
    fn open(&self, now: time::OffsetDateTime) -> bool {
        self.until().is_none_or(|until| now >= until)
    }

    /// Records what a call made at `now` ended with.
    fn after(&self, now: time::OffsetDateTime, result: &Result<IdpTokens, IdentityError>) {
        *self.until() = match result {
            Err(IdentityError::Unavailable(_)) => Some(now + REFRESH_PAUSE),
            _ => None,
        };
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

type Tokens = StandardTokenResponse<IdTokenField, BasicTokenType>;

type Client = oauth2::Client<
    BasicErrorResponse,
    Tokens,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

struct Ready {
    meta: ProviderMetadata,
    client: Client,
    jwks: Jwks,
}

/// A configured OpenID Connect provider.
pub struct OidcProvider {
    settings: OidcSettings,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    ready: OnceCell<Ready>,
    /// After a failed discovery: when the next attempt may be made, and the
    /// wait after that one, so a provider that is down costs no outbound
    /// call per request.
    backoff: std::sync::Mutex<Option<(time::OffsetDateTime, time::Duration)>>,
    discoveries: std::sync::atomic::AtomicU64,
    /// After the provider failed a renewal: when the next may be tried.
    refresh_pause: Pause,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("issuer", &self.settings.issuer)
            .field("client_id", &self.settings.client_id)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> IdentityError {
    IdentityError::Unavailable(e.to_string())
}

fn rejected(e: impl Into<String>) -> IdentityError {
    IdentityError::Rejected(e.into())
}

impl OidcProvider {
    /// A provider; its metadata is discovered on first use (and retried
    /// after a failure), so rosgate starts while the provider is down.
    pub fn new(settings: OidcSettings, clock: Arc<dyn Clock>) -> Result<Self, String> {
        for (key, url) in [
            ("oidc.issuer", &settings.issuer),
            ("oidc.redirect_uri", &settings.redirect_uri),
            ("oidc.audience", &settings.audience),
        ] {
            url::Url::parse(url).map_err(|e| format!("{key} is not a URL ({e}): {url:?}"))?;
        }
        Ok(Self {
            settings,
            http: http::client(),
            clock,
            ready: OnceCell::new(),
            backoff: std::sync::Mutex::new(None),
            discoveries: std::sync::atomic::AtomicU64::new(0),
            refresh_pause: Pause::default(),
        })
    }

    /// How many times discovery was attempted.
    pub fn discoveries(&self) -> u64 {
        self.discoveries.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The settings this provider was made with.
    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// The key set cache, once discovered (for its fetch counter).
    pub fn jwks(&self) -> Option<&Jwks> {
        self.ready.get().map(|r| &r.jwks)
    }

    async fn ready(&self) -> Result<&Ready, IdentityError> {
        if let Some(ready) = self.ready.get() {
            return Ok(ready);
        }
        // Requests that queue up behind a failing attempt each re-check the
        // backoff inside the cell, so an outage costs one call per backoff.
        self.ready
            .get_or_try_init(|| async {
                if let Some((next, _)) = *self.backoff.lock().unwrap_or_else(|e| e.into_inner())
                    && self.clock.now() < next
                {
                    return Err(unavailable(
                        "discovery failed a moment ago; not asking again yet",
                    ));
                }
                let result = self.discover().await;
                let mut backoff = self.backoff.lock().unwrap_or_else(|e| e.into_inner());
                match &result {
                    Ok(_) => *backoff = None,
                    Err(_) => {
                        let wait: time::Duration = backoff.map_or(DISCOVERY_BACKOFF, |(_, w)| w);
                        *backoff = Some((
                            self.clock.now() + wait,
                            wait.saturating_mul(2).min(DISCOVERY_MAX_BACKOFF),
                        ));
                    }
                }
                result
            })
            .await
    }

    async fn discover(&self) -> Result<Ready, IdentityError> {
        self.discoveries
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let meta = crate::discovery::discover(&self.http, &self.settings.issuer)
            .await
            .map_err(unavailable)?;
        let bad = |what: &str, e: oauth2::url::ParseError| {
            unavailable(format!("the provider's {what} is not a URL: {e}"))
        };
        let mut client = oauth2::Client::new(ClientId::new(self.settings.client_id.clone()))
            .set_auth_uri(
                AuthUrl::new(meta.authorization_endpoint.clone())
                    .map_err(|e| bad("authorization_endpoint", e))?,
            )
            .set_token_uri(
                TokenUrl::new(meta.token_endpoint.clone()).map_err(|e| bad("token_endpoint", e))?,
            )
            .set_redirect_uri(
                RedirectUrl::new(self.settings.redirect_uri.clone())
                    .map_err(|e| bad("redirect_uri", e))?,
            );
        if let Some(secret) = &self.settings.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.clone()));
        }
        let jwks = Jwks::new(meta.jwks_uri.clone(), self.http.clone(), self.clock.clone());
        tracing::info!(issuer = %meta.issuer, "identity provider discovered");
        Ok(Ready { meta, client, jwks })
    }

    fn tokens(&self, t: &Tokens, previous: Option<&IdpTokens>) -> IdpTokens {
        let now = self.clock.now();
        IdpTokens {
            access_token: t.access_token().secret().clone(),
            refresh_token: t
                .refresh_token()
                .map(|r| r.secret().clone())
                .or_else(|| previous.and_then(|p| p.refresh_token.clone())),
            id_token: t
                .extra_fields()
                .id_token
                .clone()
                .or_else(|| previous.and_then(|p| p.id_token.clone())),
            expires_at: t
                .expires_in()
                .and_then(|d| time::Duration::try_from(d).ok().map(|d| now + d)),
        }
    }

    /// Verifies an ID token: signed by the provider, for this client, carrying `nonce`.
    pub async fn verify_id_token(
        &self,
        id_token: &str,
        nonce: &str,
    ) -> Result<ExternalIdentity, IdentityError> {
        let c = self.id_token_claims(id_token, nonce).await?;
        Ok(claims::identity(&self.settings.issuer, &c))
    }

    /// The claims the login needs that `c` lacks.
    fn missing_claims<'a>(&'a self, c: &Map<String, Value>) -> Vec<&'a str> {
        PERSON_CLAIMS
            .iter()
            .copied()
            .chain(self.settings.claims.iter().map(String::as_str))
            .filter(|k| !c.contains_key(*k))
            .collect()
    }

    /// Core §5.4: fills in from UserInfo the claims the ID token left out.
    /// UserInfo must describe the same `sub`; what the ID token says wins.
    /// A provider that refuses the access token there (one issued for
    /// rosgate's resource, RFC 8707) leaves the claims as they are.
    async fn merge_userinfo(
        &self,
        ready: &Ready,
        c: &mut Map<String, Value>,
        access_token: &str,
    ) -> Result<(), IdentityError> {
        let Some(endpoint) = &ready.meta.userinfo_endpoint else {
            return Ok(());
        };
        let Some(info) = http::userinfo(&self.http, endpoint, access_token)
            .await
            .map_err(unavailable)?
        else {
            tracing::warn!(
                "the ID token lacks claims and the provider refused this login's access token \
                 at UserInfo; see docs/authentication.md"
            );
            return Ok(());
        };
        let same = match (
            info.get("sub").and_then(Value::as_str),
            c.get("sub").and_then(Value::as_str),
        ) {
            (Some(a), Some(b)) => constant_time_eq(a.as_bytes(), b.as_bytes()),
            _ => false,
        };
        if !same {
            return Err(rejected(
                "the provider's UserInfo describes another person than the ID token",
            ));
        }
        claims::merge_userinfo(c, info, PROTOCOL_ONLY);
        Ok(())
    }

    /// An access token for rosgate's own resource when the one at hand is
    /// not (it was exchanged without `resource` so UserInfo takes it): the
    /// refresh token again, with `resource` (RFC 8707). Without a refresh
    /// token, or if the provider says no, the tokens stay as they are.
    async fn for_our_resource(&self, ready: &Ready, tokens: IdpTokens) -> IdpTokens {
        if !self.settings.resource_indicator || tokens.refresh_token.is_none() {
            return tokens;
        }
        let expect = Expect {
            issuer: &self.settings.issuer,
            audience: &self.settings.audience,
        };
        if ready
            .jwks
            .verify(&tokens.access_token, &expect)
            .await
            .is_ok()
        {
            return tokens;
        }
        match self.refresh(&tokens).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "no access token for rosgate's resource at login");
                tokens
            }
        }
    }

    async fn id_token_claims(
        &self,
        id_token: &str,
        nonce: &str,
    ) -> Result<Map<String, Value>, IdentityError> {
        let ready = self.ready().await?;
        let c = ready
            .jwks
            .verify(
                id_token,
                &Expect {
                    issuer: &self.settings.issuer,
                    audience: &self.settings.client_id,
                },
            )
            .await?;
        // Core §3.1.3.7: with several audiences, azp must be this client.
        if let Some(Value::Array(auds)) = c.get("aud")
            && auds.len() > 1
            && c.get("azp").and_then(Value::as_str) != Some(self.settings.client_id.as_str())
        {
            return Err(rejected("the ID token was issued to another client"));
        }
        let given = c.get("nonce").and_then(Value::as_str).unwrap_or_default();
        if given.is_empty() || !constant_time_eq(given.as_bytes(), nonce.as_bytes()) {
            return Err(rejected("the ID token's nonce does not match this login"));
        }
        Ok(c)
    }
}

/// Claims of a UserInfo reply that are not about the person, never merged.
const PROTOCOL_ONLY: &[&str] = &["iss", "aud", "exp", "nbf", "iat", "nonce", "azp", "sub"];

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn token_error<E: std::error::Error + 'static>(
    what: &str,
    e: RequestTokenError<E, impl oauth2::ErrorResponse + 'static>,
) -> IdentityError {
    match e {
        RequestTokenError::ServerResponse(r) => {
            rejected(format!("the identity provider refused the {what}: {r}"))
        }
        RequestTokenError::Request(e) => unavailable(format!("{what}: {e}")),
        RequestTokenError::Parse(e, _) => unavailable(format!("{what}: unreadable reply: {e}")),
        RequestTokenError::Other(e) => unavailable(format!("{what}: {e}")),
    }
}

/// A failed refresh. Only `invalid_grant` (RFC 6749 §5.2: the refresh
/// token is invalid, expired or revoked) says the login is over and is
/// `Rejected`; any other refusal (`invalid_client`,
/// `temporarily_unavailable`, `invalid_target`, …) is trouble between
/// rosgate and the provider, not the person's, and is `Unavailable`.
fn refresh_error<E: std::error::Error + 'static>(
    e: RequestTokenError<E, BasicErrorResponse>,
) -> IdentityError {
    match e {
        RequestTokenError::ServerResponse(r)
            if *r.error() == BasicErrorResponseType::InvalidGrant =>
        {
            rejected(format!(
                "the identity provider refused the refresh token: {r}"
            ))
        }
        RequestTokenError::ServerResponse(r) => {
            unavailable(format!("refresh token: the identity provider answered {r}"))
        }
        other => token_error("refresh token", other),
    }
}

#[async_trait]
impl IdentityProvider for OidcProvider {
    fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    async fn authorization_url(
        &self,
        state: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<String, IdentityError> {
        let ready = self.ready().await?;
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            pkce_verifier.into(),
        ));
        let state = state.to_owned();
        let mut req = ready
            .client
            .authorize_url(move || CsrfToken::new(state))
            .set_pkce_challenge(challenge)
            .add_extra_param("nonce", nonce)
            .add_scopes(self.settings.scopes.iter().cloned().map(Scope::new));
        if self.settings.resource_indicator {
            req = req.add_extra_param("resource", self.settings.audience.clone());
        }
        if let Some(p) = &self.settings.prompt {
            req = req.add_extra_param("prompt", p.clone());
        }
        if ready.meta.claims_parameter_supported {
            // Core §5.5: the person's claims in the ID token itself, so the
            // login needs no UserInfo call.
            let wanted: Map<String, Value> = PERSON_CLAIMS
                .iter()
                .copied()
                .chain(self.settings.claims.iter().map(String::as_str))
                .filter(|c| *c != "sub")
                .map(|c| (c.to_owned(), Value::Null))
                .collect();
            let claims = serde_json::json!({ "id_token": wanted }).to_string();
            req = req.add_extra_param("claims", claims);
        }
        Ok(req.url().0.to_string())
    }

    async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<(ExternalIdentity, IdpTokens), IdentityError> {
        let ready = self.ready().await?;
        let http = self.http.clone();
        let send = move |r| http::send(http.clone(), r);
        let t = ready
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&send)
            .await
            .map_err(|e| token_error("authorization code", e))?;
        let tokens = self.tokens(&t, None);
        let id_token = tokens.id_token.as_deref().ok_or_else(|| {
            rejected("the provider sent no ID token; is `openid` among oidc.scopes?")
        })?;
        let mut c = self.id_token_claims(id_token, nonce).await?;
        let missing = self.missing_claims(&c);
        if !missing.is_empty() {
            match self
                .merge_userinfo(ready, &mut c, &tokens.access_token)
                .await
            {
                // Only a group or a name missing: the login goes on with
                // what the ID token says rather than fail on UserInfo.
                Err(IdentityError::Unavailable(why))
                    if !missing.iter().any(|m| m.starts_with("email")) =>
                {
                    tracing::warn!(%why, "UserInfo unavailable; signing in with the ID token's claims");
                }
                other => other?,
            }
        }
        let identity = claims::identity(&self.settings.issuer, &c);
        let tokens = self.for_our_resource(ready, tokens).await;
        Ok((identity, tokens))
    }

    async fn refresh(&self, tokens: &IdpTokens) -> Result<IdpTokens, IdentityError> {
        if !self.refresh_pause.open(self.clock.now()) {
            return Err(unavailable(
                "the provider failed a renewal a moment ago; not asking again yet",
            ));
        }
        let result = self.refresh_now(tokens).await;
        self.refresh_pause.after(self.clock.now(), &result);
        result
    }

    async fn revoke(&self, tokens: &IdpTokens) -> Result<(), IdentityError> {
        let ready = self.ready().await?;
        let Some(endpoint) = &ready.meta.revocation_endpoint else {
            return Ok(());
        };
        // RFC 7009 by hand: the oauth2 crate refuses non-HTTPS endpoints,
        // which rules out a provider on loopback.
        let mut revocable = Vec::new();
        if let Some(r) = &tokens.refresh_token {
            revocable.push((r.as_str(), "refresh_token"));
        }
        revocable.push((tokens.access_token.as_str(), "access_token"));
        for (token, hint) in revocable {
            let mut form = vec![("token", token), ("token_type_hint", hint)];
            let mut req = self.http.post(endpoint);
            match &self.settings.client_secret {
                Some(secret) => req = req.basic_auth(&self.settings.client_id, Some(secret)),
                None => form.push(("client_id", &self.settings.client_id)),
            }
            let resp = req.form(&form).send().await.map_err(unavailable)?;
            // RFC 7009 §2.2: 200 whether or not the token was valid.
            if !resp.status().is_success() {
                return Err(rejected(format!(
                    "the identity provider refused to revoke the {hint}: HTTP {}",
                    resp.status()
                )));
            }
        }
        Ok(())
    }

    async fn end_session_url(
        &self,
        tokens: &IdpTokens,
        post_logout_redirect_uri: Option<&str>,
    ) -> Option<String> {
        let ready = self.ready().await.ok()?;
        let mut url = url::Url::parse(ready.meta.end_session_endpoint.as_deref()?).ok()?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.settings.client_id);
            if let Some(id) = &tokens.id_token {
                q.append_pair("id_token_hint", id);
            }
            if let Some(uri) = post_logout_redirect_uri {
                q.append_pair("post_logout_redirect_uri", uri);
            }
        }
        Some(url.to_string())
    }

    async fn verify_access_token(&self, token: &str) -> Result<VerifiedAccess, IdentityError> {
        let ready = self.ready().await?;
        let c = ready
            .jwks
            .verify(
                token,
                &Expect {
                    issuer: &self.settings.issuer,
                    audience: &self.settings.audience,
                },
            )
            .await?;
        Ok(VerifiedAccess {
            identity: claims::identity(&self.settings.issuer, &c),
            scopes: claims::scopes(&c),
            expires_at: c
                .get("exp")
                .and_then(Value::as_i64)
                .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok()),
        })
    }
}

impl OidcProvider {
    /// One renewal at the token endpoint.
    async fn refresh_now(&self, tokens: &IdpTokens) -> Result<IdpTokens, IdentityError> {
        let ready = self.ready().await?;
        let refresh = tokens
            .refresh_token
            .as_ref()
            .ok_or_else(|| rejected("this session has no refresh token; log in again"))?;
        let http = self.http.clone();
        let send = move |r| http::send(http.clone(), r);
        let refresh = RefreshToken::new(refresh.clone());
        let mut req = ready.client.exchange_refresh_token(&refresh);
        if self.settings.resource_indicator {
            // RFC 8707 §2.2: the new access token is for rosgate's resource.
            req = req.add_extra_param("resource", self.settings.audience.clone());
        }
        let t = req.request_async(&send).await.map_err(refresh_error)?;
        Ok(self.tokens(&t, Some(tokens)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: BasicErrorResponseType) -> IdentityError {
        refresh_error::<std::io::Error>(RequestTokenError::ServerResponse(BasicErrorResponse::new(
            code, None, None,
        )))
    }

    #[test]
    fn only_invalid_grant_ends_a_login_at_refresh() {
        assert!(matches!(
            refused(BasicErrorResponseType::InvalidGrant),
            IdentityError::Rejected(_)
        ));
        for code in [
            BasicErrorResponseType::InvalidClient,
            BasicErrorResponseType::InvalidRequest,
            BasicErrorResponseType::UnauthorizedClient,
            BasicErrorResponseType::UnsupportedGrantType,
            BasicErrorResponseType::InvalidScope,
            BasicErrorResponseType::Extension("temporarily_unavailable".into()),
            BasicErrorResponseType::Extension("invalid_target".into()),
            BasicErrorResponseType::Extension("server_error".into()),
        ] {
            assert!(
                matches!(refused(code.clone()), IdentityError::Unavailable(_)),
                "{code:?}"
            );
        }
        let unreachable = refresh_error::<std::io::Error>(RequestTokenError::Request(
            std::io::Error::other("connection refused"),
        ));
        assert!(matches!(unreachable, IdentityError::Unavailable(_)));
    }

    #[test]
    fn renewals_pause_after_the_provider_fails_and_not_after_a_grant_is_refused() {
        let pause = Pause::default();
        let t = time::OffsetDateTime::UNIX_EPOCH;
        assert!(pause.open(t));
        pause.after(t, &Err(rejected("invalid_grant")));
        assert!(pause.open(t), "one session's dead grant pauses nobody");
        pause.after(t, &Err(unavailable("connection refused")));
        assert!(!pause.open(t + REFRESH_PAUSE - time::Duration::seconds(1)));
        assert!(pause.open(t + REFRESH_PAUSE));
    }
}
