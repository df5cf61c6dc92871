//! The envelope of every request under `/api/v1`, in the order the
//! enforcement path runs: authenticate once (the [`Caller`] extractor reads
//! the result), count the request against its user's budget, run the
//! operation (whose gate decides tenant, RBAC and records into the
//! request's [`Trail`]), then commit the request's one audit event before
//! the reply leaves, and put the rate-limit headers on the reply.
//!
//! [`Caller`]: super::auth::Caller

use super::auth::{Authenticated, RequestId, authenticate};
use super::problem::{ApiError, catch_all};
use crate::limits::Refusal;
use crate::state::AppState;
use crate::trail::{self, Decided, Ending, Named, Trail};
use audit::Outcome;
use kernel::RoleId;
use poem::http::Method;
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::OperationId;

/// Longest request path kept as the operation of an unknown route.
const MAX_PATH: usize = 200;

/// The middleware around the API.
pub async fn pipeline<E: Endpoint>(ep: E, mut req: Request) -> poem::Result<Response> {
    let Some(state) = req.data::<AppState>().cloned() else {
        return ep.call(req).await.map(IntoResponse::into_response);
    };
    let trail = Trail::new();
    let auth = authenticate(&state, &req).await;
    match &auth {
        Ok(who) => trail.identify(Named::principal(who, false)),
        Err(f) => {
            if let Some(named) = &f.named {
                trail.identify(named.clone());
            }
        }
    }
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let route = format!("{} {}", req.method(), req.original_uri().path())
        .chars()
        .take(MAX_PATH)
        .collect::<String>();
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let client_addr = req
        .remote_addr()
        .as_socket_addr()
        .map(|a| a.ip().to_string());

    let mut verdict = None;
    let mut early = None;
    if let Ok(who) = &auth {
        let roles: Vec<RoleId> = match state.authz.index(who.tenant_id).await {
            Ok(index) => index.roles_of(who.user_id).collect(),
            Err(_) => Vec::new(),
        };
        match state.limits.admit_user(who, roles).await {
            Ok(v) => verdict = Some(v),
            Err(refusal) => {
                early = Some(refuse(&trail, who.user_id.uuid(), refusal));
            }
        }
    }
    req.extensions_mut().insert(Authenticated(auth));
    req.extensions_mut().insert(trail.clone());

    let (mut resp, operation) = match early {
        Some(r) => (r, None),
        None => match ep.call(req).await {
            Ok(r) => {
                let r = r.into_response();
                let op = r.data::<OperationId>().map(|o| o.0);
                (r, op)
            }
            Err(e) => {
                let op = e.data::<OperationId>().map(|o| o.0);
                (catch_all(e).await, op)
            }
        },
    };
    let status = resp.status();
    let success = status.is_success() || status.is_redirection();
    let error_class = if success {
        None
    } else {
        Some(
            problem_code(&mut resp)
                .await
                .unwrap_or_else(|| format!("http_{}", status.as_u16())),
        )
    };
    let end = Ending {
        operation: operation.map_or(route, str::to_owned),
        safe,
        success,
        error_class,
        request_id,
        client_addr,
    };
    if let Some(event) = trail.event(&state, end)
        && trail::commit(&state, event).await.is_err()
    {
        return Ok(ApiError::unavailable(
            "the audit trail cannot be written; the request's effect, if any, is logged; \
             check its outcome before retrying",
        )
        .into_response());
    }
    if let Some(v) = verdict {
        v.write_headers(resp.headers_mut());
    }
    Ok(resp)
}

/// The reply to a request refused by the rate limiter, and its decision.
fn refuse(trail: &Trail, user: uuid::Uuid, refusal: Refusal) -> Response {
    let (reason, resp) = match refusal {
        Refusal::Limited(v) => {
            let mut resp = ApiError::rate_limited(v.retry_after_secs()).into_response();
            v.write_headers(resp.headers_mut());
            ("request budget used up", resp)
        }
        Refusal::Unavailable => (
            "rate limits cannot be checked",
            ApiError::unavailable("rate limits cannot be checked right now; try again")
                .into_response(),
        ),
    };
    trail.decide(Decided {
        action: "rate_limit".into(),
        resource_type: "user".into(),
        resource_id: Some(user),
        device_id: None,
        outcome: Outcome::Deny,
        reason: reason.into(),
    });
    resp
}

/// The `code` of a problem document reply (small by construction); the
/// body is put back untouched.
async fn problem_code(resp: &mut Response) -> Option<String> {
    let is_problem = resp
        .headers()
        .get(poem::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !is_problem {
        return None;
    }
    let body = resp.take_body().into_bytes().await.ok()?;
    let code = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.get("code")?
                .as_str()
                .map(|c| c.chars().take(64).collect())
        });
    resp.set_body(body);
    code
}
