//! Browser login through the identity provider: `/auth/login`,
//! `/auth/callback`, `/auth/refresh`, `/auth/logout`.
//!
//! These are protocol endpoints for browsers, not REST operations, so they
//! live outside the OpenAPI document (`docs/authentication.md` describes
//! them). Each failure answers with a problem document, or a small HTML page
//! when the browser asks for HTML, and never leaves a session behind.
//!
//! A login's `state` is bound to the browser that started it by the login
//! cookie (SHA-256 of the state; `__Host-rosgate_login` over https), so a
//! callback link made by someone else's login signs nobody in (login
//! CSRF). A session's provider tokens are renewed once their access token
//! has expired (`tenancy::session_tokens::renew_if_expired`); a renewal the provider refuses with
//! `invalid_grant` ends the session, other failures do not.

use crate::enforce::authn::{CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE};
use crate::http::codes::Code;
use crate::http::problem::Problem;
use crate::state::AppState;
use audit::{AuditEvent, Outcome};
use kernel::AuditEventId;
use poem::http::{StatusCode, header};
use poem::web::cookie::{Cookie, CookieJar, SameSite};
use poem::web::{Data, Form, Query};
use poem::{EndpointExt, IntoResponse, Request, Response, Route, get, handler, post};
use serde::Deserialize;
use tenancy::{
    IdentityError, IdpTokens, TenancyError, UserSession, session::NewSession, session_tokens,
};

/// The `/auth` routes.
pub fn routes() -> impl poem::Endpoint {
    Route::new()
        .at("/login", get(login))
        .at("/callback", get(callback))
        .at("/refresh", post(refresh))
        .at("/logout", post(logout))
        .around(per_address)
}

/// Counts every `/auth` request against its client address's budget, as
/// the admission path does for requests that name nobody; over it, the
/// reply is 429 and the refusal is counted, not written one by one.
async fn per_address<E: poem::Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let Some(state) = req.data::<AppState>().cloned() else {
        return Ok(crate::http::problem::internal_error_response());
    };
    let addr = crate::enforce::client_addr(&req).unwrap_or_default();
    if let Err(refusal) = state.limits.admit_address(&addr).await {
        let (reply, code) = crate::enforce::refusal_reply(&refusal);
        count_refusal(&state, &req, code);
        return Ok(reply);
    }
    next.call(req).await.map(IntoResponse::into_response)
}

/// Counts a refusal of a request that names nobody.
fn count_refusal(state: &AppState, req: &Request, code: Code) {
    let addr = crate::enforce::client_addr(req);
    let request_id = req
        .extensions()
        .get::<crate::http::request_id::RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    state.refusals.count(
        state.clock.now(),
        crate::enforce::refusals::CountedRefusal {
            subject: crate::enforce::refusals::Subject::address(
                addr.as_deref().unwrap_or_default(),
            ),
            code: code.as_str(),
            request_id: &request_id,
            client_addr: addr.as_deref(),
        },
    );
}

/// The cookie that binds a login's `state` to the browser that started it
/// (login CSRF): it holds the SHA-256 of the `state` and lives as long as a
/// pending login. Its name on plain http (the demo), sent only to `/auth`;
/// with secure cookies it is [`HOST_LOGIN_COOKIE`].
pub const LOGIN_COOKIE: &str = "rosgate_login";

/// The login cookie's name with secure cookies (https): the `__Host-`
/// prefix makes browsers accept it only from this very host, `Secure`,
/// with `Path=/` and no `Domain`, so a sibling subdomain cannot plant one.
pub const HOST_LOGIN_COOKIE: &str = "__Host-rosgate_login";

/// The name the login cookie has on this server.
pub fn login_cookie_name(state: &AppState) -> &'static str {
    if state.web.cookie_secure {
        HOST_LOGIN_COOKIE
    } else {
        LOGIN_COOKIE
    }
}

/// The login cookie's value for `state`: SHA-256, hex.
fn state_digest(state: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(state.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether the browser's one login cookie names `state` (constant time).
/// A request carrying several login cookies (one planted beside the
/// browser's own) is bound to nothing.
fn state_bound_to_browser(app: &AppState, req: &Request, state: &str) -> bool {
    use subtle::ConstantTimeEq;
    let name = login_cookie_name(app);
    let mut held = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim());
    let (Some(held), None) = (held.next(), held.next()) else {
        return false;
    };
    let expected = state_digest(state);
    !state.is_empty() && bool::from(held.as_bytes().ct_eq(expected.as_bytes()))
}

fn login_cookie(state: &AppState, value: &str) -> Cookie {
    let mut c = Cookie::new_with_str(login_cookie_name(state), value);
    c.set_path(if state.web.cookie_secure {
        "/"
    } else {
        "/auth"
    });
    c.set_http_only(true);
    c.set_same_site(SameSite::Lax);
    c.set_secure(state.web.cookie_secure);
    c.set_max_age(std::time::Duration::from_secs(
        tenancy::session::LOGIN_TTL.whole_seconds().unsigned_abs(),
    ));
    c
}

fn clear_login_cookie(state: &AppState, jar: &CookieJar) {
    let mut c = login_cookie(state, "");
    c.make_removal();
    jar.add(c);
}

/// A failed step of the login flow.
struct Failure {
    /// The code, answered with the status the table gives it.
    code: Code,
    detail: String,
}

impl Failure {
    fn new(code: Code, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }

    fn idp(e: IdentityError) -> Self {
        match e {
            IdentityError::Rejected(why) => Failure::new(Code::LoginFailed, why),
            IdentityError::Unavailable(why) => {
                tracing::warn!(%why, "identity provider unavailable");
                Failure::new(
                    Code::IdpUnavailable,
                    "the identity provider cannot be reached; try again in a moment",
                )
            }
        }
    }

    fn store() -> Self {
        Failure::new(
            Code::Unavailable,
            "sessions cannot be stored right now; try again",
        )
    }

    fn not_configured() -> Self {
        Failure::new(
            Code::LoginNotConfigured,
            "login through an identity provider is not configured here (see the [oidc] \
             settings in docs/authentication.md); use an API token instead",
        )
    }

    fn respond(self, req: &Request) -> Response {
        let wants_html = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
        let status = self.code.status();
        if wants_html {
            let title = status.canonical_reason().unwrap_or("Error");
            let page = format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title} · rosgate</title></head>\
                 <body><h1>{title}</h1><p>{}</p><p><a href=\"/auth/login\">Log in again</a></p></body></html>",
                html_escape(&self.detail)
            );
            return poem::web::Html(page).with_status(status).into_response();
        }
        Problem::new(self.code, self.detail, None).into_response()
    }
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A local path to return to after login: `/…` but not `//…` (another host).
fn local_path(p: Option<&str>) -> String {
    match p {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && p.len() <= 512
                && !p.chars().any(char::is_control) =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn redirect(to: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, to)
        .header(header::CACHE_CONTROL, "no-store")
        .finish()
}

fn cookie(state: &AppState, name: &str, value: &str, http_only: bool) -> Cookie {
    let mut c = Cookie::new_with_str(name, value);
    c.set_path("/");
    c.set_http_only(http_only);
    c.set_same_site(SameSite::Lax);
    c.set_secure(state.web.cookie_secure);
    c
}

fn clear_cookies(state: &AppState, jar: &CookieJar) {
    for (name, http_only) in [(SESSION_COOKIE, true), (CSRF_COOKIE, false)] {
        let mut c = cookie(state, name, "", http_only);
        c.make_removal();
        jar.add(c);
    }
}

/// Records a step of the login flow. A refused step that names nobody is
/// counted per client address; everything else is one event, committed
/// before the reply: when it cannot be, the step fails closed.
async fn record(
    state: &AppState,
    req: &Request,
    user: Option<&UserSession>,
    action: &str,
    outcome: Outcome,
    reason: &str,
) -> Result<(), Failure> {
    if user.is_none() && outcome == Outcome::Deny {
        count_refusal(state, req, Code::LoginFailed);
        return Ok(());
    }
    let now = state.clock.now();
    let event = AuditEvent {
        id: AuditEventId::from_uuid(state.entropy.uuid_v7(now)),
        at: now,
        tenant_id: user.map(|u| u.tenant_id),
        user_id: user.map(|u| u.user_id),
        user_email: user.map(|u| u.email.clone()),
        actor: audit::Actor::User,
        operation: action.to_owned(),
        tool_name: None,
        action: format!("auth:{action}"),
        resource_type: "session".into(),
        resource_id: None,
        device_id: None,
        environment: None,
        effect: audit::Effect::Write,
        decision: outcome,
        result: outcome.result(),
        error_class: (outcome == Outcome::Deny).then(|| Code::LoginFailed.into()),
        approval_request_id: None,
        client_addr: crate::enforce::client_addr(req),
        args_digest: None,
        intent_id: None,
        client_request_id: req
            .extensions()
            .get::<crate::http::request_id::ClientRequestId>()
            .map(|r| r.0.clone()),
        count: 1,
        reason: reason.chars().take(500).collect(),
        request_id: req
            .extensions()
            .get::<crate::http::request_id::RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default(),
    };
    crate::enforce::commit(state, event).await.map_err(|()| {
        Failure::new(
            Code::Unavailable,
            "the audit trail cannot be written, so nothing was done; try again",
        )
    })
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

#[handler]
async fn login(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Query(q): Query<LoginQuery>,
) -> Response {
    let Some(idp) = &state.idp else {
        return Failure::not_configured().respond(req);
    };
    let return_to = local_path(q.return_to.as_deref());
    let (state_token, pending) = match state.sessions.begin_login(&return_to).await {
        Ok(p) => p,
        Err(_) => return Failure::store().respond(req),
    };
    match idp
        .authorization_url(&state_token, &pending.nonce, &pending.pkce_verifier)
        .await
    {
        Ok(url) => {
            jar.add(login_cookie(&state, &state_digest(&state_token)));
            redirect(&url)
        }
        Err(e) => Failure::idp(e).respond(req),
    }
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[handler]
async fn callback(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Query(q): Query<CallbackQuery>,
) -> Response {
    // Whatever happens, this browser's login attempt is over.
    let bound = state_bound_to_browser(&state, req, q.state.as_deref().unwrap_or_default());
    clear_login_cookie(&state, jar);
    match finish_login(&state, req, q, bound).await {
        Ok((cookie_value, session, return_to)) => {
            if let Err(f) = record(
                &state,
                req,
                Some(&session),
                "login",
                Outcome::Allow,
                "signed in through the identity provider",
            )
            .await
            {
                // Off the record, no session: end the one just started.
                let _ = state.sessions.end(&cookie_value).await;
                return f.respond(req);
            }
            jar.add(cookie(&state, SESSION_COOKIE, &cookie_value, true));
            jar.add(cookie(&state, CSRF_COOKIE, &session.csrf_token, false));
            redirect(&return_to)
        }
        Err(f) => match record(&state, req, None, "login", Outcome::Deny, &f.detail).await {
            Ok(()) => f.respond(req),
            Err(unrecorded) => unrecorded.respond(req),
        },
    }
}

async fn finish_login(
    state: &AppState,
    _req: &Request,
    q: CallbackQuery,
    bound_to_browser: bool,
) -> Result<(String, UserSession, String), Failure> {
    let idp = state.idp.as_ref().ok_or_else(Failure::not_configured)?;
    // Login CSRF: a callback whose `state` this browser did not start (a
    // link an attacker made with their own login) signs nobody in. The
    // pending login is left alone, so it costs no store work either.
    if !bound_to_browser {
        return Err(Failure::new(
            Code::StateMismatch,
            "this login was not started in this browser (its login cookie is missing or \
             names another login); start again at /auth/login",
        ));
    }
    let bad_state = || {
        Failure::new(
            Code::InvalidState,
            "this login link is unknown, used or expired; start again at /auth/login",
        )
    };
    // The state is consumed first, whatever else is wrong: a callback URL works once.
    let pending = state
        .sessions
        .finish_login(q.state.as_deref().unwrap_or_default())
        .await
        .map_err(|_| Failure::store())?
        .ok_or_else(bad_state)?;
    if let Some(error) = q.error {
        let why = q.error_description.unwrap_or_default();
        return Err(Failure::new(
            Code::LoginRefused,
            format!(
                "the identity provider refused the login: {} {}",
                error.chars().take(64).collect::<String>(),
                why.chars().take(256).collect::<String>()
            ),
        ));
    }
    let code = q
        .code
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or_else(|| Failure::new(Code::InvalidRequest, "the callback carries no code"))?;
    let (identity, tokens) = idp
        .exchange_code(&code, &pending.pkce_verifier, &pending.nonce)
        .await
        .map_err(Failure::idp)?;
    let user = state
        .tenancy
        .sign_in(&identity, &state.web.provisioning)
        .await
        .map_err(|e| match e {
            TenancyError::NotProvisioned(_)
            | TenancyError::InvitationLapsed(_)
            | TenancyError::LinkRequired(_) => Failure::new(Code::of(e.code()), e.to_string()),
            other => {
                tracing::warn!(error = %other, "sign-in failed");
                Failure::store()
            }
        })?;
    let sealed = seal_tokens(state, &tokens)?;
    let (cookie_value, session) = state
        .sessions
        .start(NewSession {
            user_id: user.id,
            tenant_id: user.tenant_id,
            subject: identity.subject,
            email: user.email,
            display_name: user.display_name,
            sealed_tokens: sealed,
        })
        .await
        .map_err(|_| Failure::store())?;
    Ok((cookie_value, session, pending.return_to))
}

fn seal_tokens(state: &AppState, tokens: &IdpTokens) -> Result<Vec<u8>, Failure> {
    session_tokens::seal(state.sealer.as_ref(), tokens).map_err(|_| Failure::store())
}

/// The identity provider tokens kept in a session.
pub fn open_tokens(state: &AppState, session: &UserSession) -> Option<IdpTokens> {
    session_tokens::open(state.sealer.as_ref(), session)
}

/// The session a state-changing browser request acts on: its cookie, and a
/// CSRF token in the header or the form field `csrf_token`.
async fn csrf_session(
    state: &AppState,
    req: &Request,
    jar: &CookieJar,
    form_csrf: Option<&str>,
) -> Result<Option<(String, UserSession)>, Failure> {
    let Some(cookie_value) = jar.get(SESSION_COOKIE).map(|c| c.value_str().to_owned()) else {
        return Ok(None);
    };
    let Some(session) = state
        .sessions
        .resume(&cookie_value)
        .await
        .map_err(|_| Failure::store())?
    else {
        return Ok(None);
    };
    let presented = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .or(form_csrf)
        .unwrap_or_default();
    if !session.csrf_matches(presented) {
        return Err(Failure::new(
            Code::CsrfFailed,
            "send the session's CSRF token (the `rosgate_csrf` cookie) in `X-CSRF-Token`",
        ));
    }
    Ok(Some((cookie_value, session)))
}

#[handler]
async fn refresh(req: &Request, state: Data<&AppState>, jar: &CookieJar) -> Response {
    let result = async {
        let idp = state.idp.as_ref().ok_or_else(Failure::not_configured)?;
        let (cookie_value, mut session) =
            csrf_session(&state, req, jar, None).await?.ok_or_else(|| {
                Failure::new(Code::Unauthenticated, "no session; log in at /auth/login")
            })?;
        let tokens = open_tokens(&state, &session).ok_or_else(Failure::store)?;
        let fresh = match idp.refresh(&tokens).await {
            Ok(t) => t,
            Err(IdentityError::Rejected(why)) => {
                // The provider no longer honours this login: end the session too.
                let _ = state.sessions.end(&cookie_value).await;
                clear_cookies(&state, jar);
                return Err(Failure::new(
                    Code::RefreshFailed,
                    format!("{why}; log in again at /auth/login"),
                ));
            }
            Err(e) => return Err(Failure::idp(e)),
        };
        session.sealed_tokens = seal_tokens(&state, &fresh)?;
        if !state
            .sessions
            .replace(&cookie_value, &session)
            .await
            .map_err(|_| Failure::store())?
        {
            return Err(Failure::new(
                Code::Unauthenticated,
                "the session ended meanwhile",
            ));
        }
        record(
            &state,
            req,
            Some(&session),
            "refresh",
            Outcome::Allow,
            "access token renewed",
        )
        .await?;
        Ok(fresh.expires_at)
    }
    .await;
    match result {
        Ok(expires_at) => {
            let expires = expires_at.and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            });
            poem::web::Json(
                serde_json::json!({ "refreshed": true, "access_token_expires_at": expires }),
            )
            .into_response()
        }
        Err(f) => f.respond(req),
    }
}

#[derive(Debug, Deserialize, Default)]
struct LogoutForm {
    csrf_token: Option<String>,
}

#[handler]
async fn logout(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    form: Option<Form<LogoutForm>>,
) -> Response {
    let form_csrf = form.as_ref().and_then(|f| f.0.csrf_token.clone());
    let found = match csrf_session(&state, req, jar, form_csrf.as_deref()).await {
        Ok(found) => found,
        Err(f) => return f.respond(req),
    };
    clear_cookies(&state, jar);
    let Some((cookie_value, session)) = found else {
        return redirect("/");
    };
    if state.sessions.end(&cookie_value).await.is_err() {
        return Failure::store().respond(req);
    }
    if let Err(f) = record(
        &state,
        req,
        Some(&session),
        "logout",
        Outcome::Allow,
        "signed out",
    )
    .await
    {
        return f.respond(req);
    }
    let mut to = "/".to_owned();
    if let (Some(idp), Some(tokens)) = (&state.idp, open_tokens(&state, &session)) {
        if let Err(e) = idp.revoke(&tokens).await {
            // The session is gone either way; the tokens expire on their own.
            tracing::warn!(error = %e, "token revocation at the identity provider failed");
        }
        if let Some(url) = idp
            .end_session_url(&tokens, state.web.post_logout_redirect_uri.as_deref())
            .await
        {
            to = url;
        }
    }
    redirect(&to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(local_path(Some("/api/v1/me")), "/api/v1/me");
        for hostile in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "evil",
            "/a\nb",
        ] {
            assert_eq!(local_path(Some(hostile)), "/", "{hostile:?}");
        }
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn pages_escape_what_they_echo() {
        assert_eq!(
            html_escape("<script>\"'&"),
            "&lt;script&gt;&quot;&#39;&amp;"
        );
    }
}
