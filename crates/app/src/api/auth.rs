//! Authentication: the one way a handler learns who is calling.
//!
//! Every protected operation takes a [`Caller`]; poem-openapi runs its
//! checker before the handler body, so a handler cannot run without an
//! authenticated principal, and the OpenAPI document marks the operation as
//! secured. API tokens work now; OIDC sessions and bearer JWTs map to the
//! same [`Principal`].

use crate::state::AppState;
use kernel::{AuthMethod, Principal};
use poem::Request;
use poem::http::StatusCode;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

/// The authenticated caller of an operation: an API token (`rgt_…`) created
/// with `rosgate token create` or `POST /api/v1/tokens`.
#[derive(Debug, SecurityScheme)]
#[oai(rename = "bearer", ty = "bearer", checker = "authenticate")]
pub struct Caller(pub Principal);

async fn authenticate(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    let state = req.data::<AppState>().ok_or_else(|| {
        poem::Error::from_string("server state missing", StatusCode::INTERNAL_SERVER_ERROR)
    })?;
    match state.tenancy.authenticate_api_token(&bearer.token).await {
        Ok(Some((token, user))) => Ok(Principal {
            user_id: user.id,
            tenant_id: user.tenant_id,
            email: user.email,
            platform_admin: user.platform_admin,
            auth: AuthMethod::ApiToken { token_id: token.id },
        }),
        Ok(None) => Err(poem::Error::from_string(
            "the token is not valid: it is malformed, unknown, expired or revoked",
            StatusCode::UNAUTHORIZED,
        )),
        Err(_) => Err(poem::Error::from_string(
            "credentials cannot be checked right now; try again",
            StatusCode::SERVICE_UNAVAILABLE,
        )),
    }
}

/// The id that ties a request to its log lines and audit events.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Middleware: takes a sane `X-Request-Id` from the client or makes one, and
/// echoes it on the response.
pub async fn request_id<E: poem::Endpoint>(
    next: E,
    mut req: Request,
) -> poem::Result<poem::Response> {
    use poem::IntoResponse;
    let given = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_owned);
    let id = match given {
        Some(id) => id,
        None => match req.data::<AppState>() {
            Some(s) => s.entropy.uuid_v7(s.clock.now()).to_string(),
            None => String::new(),
        },
    };
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut resp = match next.call(req).await {
        Ok(r) => r.into_response(),
        Err(e) => super::problem::catch_all(e).await,
    };
    if let Ok(v) = poem::http::HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    Ok(resp)
}
