//! Authentication: the one way a handler learns who is calling.
//!
//! Every protected operation takes the gate (`crate::enforce::gate::Gate`),
//! whose extractor calls [`principal`] before the handler body runs, so a
//! handler cannot run without an authenticated principal, and the OpenAPI
//! document marks the operation as secured by either scheme. Three credentials map to the same [`Principal`]:
//!
//! - `Authorization: Bearer rgt_…`: an API token;
//! - `Authorization: Bearer <JWT>`: an access token from the configured
//!   identity provider, issued for rosgate's resource; it must also carry
//!   a scope the method needs (`oidc.read_scopes`, by default
//!   `rosgate:read`, for safe methods, `oidc.write_scopes`, by default
//!   `rosgate:write`, for the others);
//! - the `rosgate_session` cookie of a browser login; state-changing
//!   requests must echo the session's CSRF token in `X-CSRF-Token`.
//!
//! Failures are RFC 9457 problems whose `WWW-Authenticate` header points to
//! the RFC 9728 metadata, as MCP clients expect.

use crate::enforce::trail::Requester;
use crate::http::codes::Code;
use crate::http::problem::AuthProblem;
use crate::state::AppState;
use kernel::{AuthMethod, Principal};
use poem::Request;
use poem::http::{Method, header};
use poem_openapi::auth::{ApiKey, Bearer};
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, SecurityScheme};
use tenancy::session_tokens::{Renewal, renew_if_expired};
use tenancy::{IdentityError, TenancyError, VerifiedAccess};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "rosgate_session";
/// The cookie that tells browser code the CSRF token (readable by scripts).
pub const CSRF_COOKIE: &str = "rosgate_csrf";
/// The header state-changing cookie-authenticated requests must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Scope a bearer JWT needs for safe methods, unless `oidc.read_scopes` says otherwise.
pub const SCOPE_READ: &str = "rosgate:read";
/// Scope a bearer JWT needs for everything else, unless `oidc.write_scopes` says otherwise.
pub const SCOPE_WRITE: &str = "rosgate:write";

/// `Authorization: Bearer <token>`: an API token (`rgt_…`, from
/// `rosgate token create` or `POST /tokens`) or a JWT access token from the
/// identity provider.
#[derive(SecurityScheme)]
#[oai(rename = "bearer", ty = "bearer")]
#[allow(dead_code)] // described in the document; `principal` does the checking
struct BearerScheme(Bearer);

/// The `rosgate_session` cookie set by `/auth/callback`; state-changing
/// requests must also send the session's CSRF token in `X-CSRF-Token`.
#[derive(SecurityScheme)]
#[oai(
    rename = "session",
    ty = "api_key",
    key_name = "rosgate_session",
    key_in = "cookie"
)]
#[allow(dead_code)]
struct SessionScheme(ApiKey);

/// The names of the security schemes a protected operation accepts.
pub const SECURITY_SCHEMES: [&str; 2] = ["bearer", "session"];

/// Describes the security schemes of [`SECURITY_SCHEMES`] in the document.
pub fn register_schemes(registry: &mut Registry) {
    BearerScheme::register(registry);
    SessionScheme::register(registry);
}

/// The principal calling: the outcome the admission pipeline worked out
/// for this request, or, outside it, authenticates the request now.
pub async fn principal(req: &Request) -> poem::Result<Principal> {
    if let Some(Authentication(done)) = req.extensions().get::<Authentication>() {
        return Ok(done.clone()?);
    }
    Ok(authenticate(app_state(req)?, req).await?)
}

/// The server's state, which every request carries.
pub fn app_state(req: &Request) -> poem::Result<&AppState> {
    Ok(req
        .data::<AppState>()
        .ok_or_else(|| AuthFailure::internal("server state missing"))?)
}

/// Why a request was not authenticated, as a complete response.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{detail}")]
pub struct AuthFailure {
    /// The code, answered with the status the table gives it.
    pub code: Code,
    pub detail: String,
    /// The `WWW-Authenticate` challenge, if the status calls for one.
    pub challenge: Option<String>,
    /// The caller, when the credential was good enough to name one (a
    /// session without its CSRF token, a token without the scope): such a
    /// failure is audited.
    pub named: Option<Requester>,
}

/// The outcome of authenticating a request, worked out once per request by
/// the pipeline and read by [`principal`].
#[derive(Debug, Clone)]
pub struct Authentication(pub Result<Principal, AuthFailure>);

impl AuthFailure {
    /// The same failure, naming the caller it concerns.
    fn naming(mut self, who: &Principal) -> Self {
        self.named = Some(Requester::principal(who, false));
        self
    }

    fn internal(detail: &str) -> Self {
        AuthFailure {
            code: Code::Internal,
            detail: detail.into(),
            challenge: None,
            named: None,
        }
    }

    /// No credentials at all.
    pub fn missing(web: &crate::state::WebSettings) -> Self {
        AuthFailure {
            code: Code::Unauthenticated,
            detail: "authentication required: send `Authorization: Bearer <token>` or log in at /auth/login".into(),
            challenge: Some(format!(
                "Bearer resource_metadata=\"{}\"",
                resource_metadata_url(web)
            )),
            named: None,
        }
    }

    /// A credential was sent but is not valid.
    pub fn invalid(web: &crate::state::WebSettings, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        AuthFailure {
            code: Code::InvalidToken,
            challenge: Some(format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\", resource_metadata=\"{}\"",
                quote_safe(&detail),
                resource_metadata_url(web)
            )),
            detail,
            named: None,
        }
    }

    fn insufficient_scope(web: &crate::state::WebSettings, scope: &str) -> Self {
        AuthFailure {
            code: Code::InsufficientScope,
            detail: format!("the access token lacks the scope `{scope}`"),
            challenge: Some(format!(
                "Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{}\"",
                resource_metadata_url(web)
            )),
            named: None,
        }
    }

    fn csrf() -> Self {
        AuthFailure {
            code: Code::CsrfFailed,
            detail: "a state-changing request authenticated by the session cookie must send the \
                     session's CSRF token (the `rosgate_csrf` cookie) in `X-CSRF-Token`"
                .into(),
            challenge: None,
            named: None,
        }
    }

    fn unavailable(detail: impl Into<String>) -> Self {
        AuthFailure {
            code: Code::Unavailable,
            detail: detail.into(),
            challenge: None,
            named: None,
        }
    }

    fn not_provisioned(detail: String) -> Self {
        AuthFailure {
            code: Code::NotProvisioned,
            detail,
            challenge: None,
            named: None,
        }
    }
}

impl From<AuthFailure> for AuthProblem {
    fn from(f: AuthFailure) -> Self {
        AuthProblem {
            code: f.code,
            detail: f.detail,
            challenge: f.challenge,
        }
    }
}

impl From<AuthFailure> for poem::Error {
    fn from(f: AuthFailure) -> Self {
        poem::Error::from(AuthProblem::from(f))
    }
}

/// `"` and `\` cannot appear in a quoted challenge parameter; control characters never.
fn quote_safe(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

/// Where the RFC 9728 metadata of this resource server is.
pub fn resource_metadata_url(web: &crate::state::WebSettings) -> String {
    format!("{}/.well-known/oauth-protected-resource", web.public_url)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Authenticates a request by its bearer token or session cookie.
pub async fn authenticate(state: &AppState, req: &Request) -> Result<Principal, AuthFailure> {
    let web = state.web.as_ref();
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                AuthFailure::invalid(web, "the Authorization header must be `Bearer <token>`")
            })?;
        return if token.starts_with("rgt_") {
            api_token(state, token).await
        } else {
            bearer_jwt(state, token, req.method()).await
        };
    }
    match req.cookie().get(SESSION_COOKIE) {
        Some(cookie) => session(state, cookie.value_str(), req).await,
        None => Err(AuthFailure::missing(web)),
    }
}

async fn api_token(state: &AppState, token: &str) -> Result<Principal, AuthFailure> {
    match state.tenancy.authenticate_api_token(token).await {
        Ok(Some((token, user))) => Ok(Principal {
            user_id: user.id,
            tenant_id: user.tenant_id,
            email: user.email,
            platform_admin: user.platform_admin,
            auth: AuthMethod::ApiToken { token_id: token.id },
            credential_expires_at: token.expires_at,
        }),
        Ok(None) => Err(AuthFailure::invalid(
            &state.web,
            "the token is not valid: it is malformed, unknown, expired or revoked",
        )),
        Err(_) => Err(AuthFailure::unavailable(
            "credentials cannot be checked right now; try again",
        )),
    }
}

async fn bearer_jwt(
    state: &AppState,
    token: &str,
    method: &Method,
) -> Result<Principal, AuthFailure> {
    let web = state.web.as_ref();
    let Some(idp) = &state.idp else {
        return Err(AuthFailure::invalid(
            web,
            "the token is not valid: it is malformed, unknown, expired or revoked",
        ));
    };
    let VerifiedAccess {
        identity,
        scopes,
        expires_at,
    } = idp.verify_access_token(token).await.map_err(|e| match e {
        IdentityError::Rejected(why) => AuthFailure::invalid(web, why),
        IdentityError::Unavailable(why) => {
            tracing::warn!(%why, "cannot verify a bearer token");
            AuthFailure::unavailable("the identity provider cannot be reached; try again")
        }
    })?;
    let user = state
        .tenancy
        .sign_in(&identity, &web.provisioning)
        .await
        .map_err(|e| match e {
            TenancyError::NotProvisioned(_)
            | TenancyError::InvitationLapsed(_)
            | TenancyError::LinkRequired(_) => {
                let mut f = AuthFailure::not_provisioned(e.to_string());
                if matches!(e, TenancyError::LinkRequired(_)) {
                    f.code = Code::IdentityLinkRequired;
                }
                f.named = Some(Requester {
                    tenant_id: None,
                    user_id: None,
                    email: identity.email.clone(),
                    actor: audit::Actor::User,
                });
                f
            }
            _ => AuthFailure::unavailable("credentials cannot be checked right now; try again"),
        })?;
    let who = Principal {
        user_id: user.id,
        tenant_id: user.tenant_id,
        email: user.email,
        platform_admin: user.platform_admin,
        auth: AuthMethod::Bearer,
        credential_expires_at: expires_at,
    };
    let needed = if is_safe(method) {
        &web.read_scopes
    } else {
        &web.write_scopes
    };
    if !scopes.iter().any(|s| needed.contains(s)) {
        let first = needed.first().map_or(SCOPE_READ, String::as_str);
        return Err(AuthFailure::insufficient_scope(web, first).naming(&who));
    }
    Ok(who)
}

async fn session(state: &AppState, cookie: &str, req: &Request) -> Result<Principal, AuthFailure> {
    let web = state.web.as_ref();
    let expired =
        || AuthFailure::invalid(web, "the session has ended; log in again at /auth/login");
    let session = state
        .sessions
        .resume(cookie)
        .await
        .map_err(|_| AuthFailure::unavailable("sessions cannot be checked right now; try again"))?
        .ok_or_else(expired)?;
    // The user may have been removed since the login.
    let user = state
        .tenancy
        .repo()
        .user(session.user_id)
        .await
        .map_err(|_| {
            AuthFailure::unavailable("credentials cannot be checked right now; try again")
        })?
        .ok_or_else(expired)?;
    let who = Principal {
        user_id: user.id,
        tenant_id: user.tenant_id,
        email: user.email,
        platform_admin: user.platform_admin,
        auth: AuthMethod::Session,
        credential_expires_at: Some(state.sessions.ends_at(session.created_at)),
    };
    if !is_safe(req.method()) {
        let presented = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !session.csrf_matches(presented) {
            return Err(AuthFailure::csrf().naming(&who));
        }
    }
    if let Some(idp) = &state.idp
        && let Err(Renewal::Ended(why)) = renew_if_expired(
            &state.sessions,
            state.sealer.as_ref(),
            idp.as_ref(),
            state.clock.now(),
            cookie,
            &session,
        )
        .await
    {
        return Err(AuthFailure {
            code: Code::RefreshFailed,
            detail: format!(
                "the identity provider no longer honours this login ({why}); log in again at /auth/login"
            ),
            challenge: Some(format!(
                "Bearer resource_metadata=\"{}\"",
                resource_metadata_url(web)
            )),
            named: None,
        }
        .naming(&who));
    }
    Ok(who)
}
