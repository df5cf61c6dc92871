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
use crate::limits::{Refusal, Verdict};
use crate::state::AppState;
use crate::trail::{self, Decided, Ending, Named, Trail};
use audit::Outcome;
use kernel::{Principal, RoleId};
use poem::http::Method;
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::OperationId;
use rbac::AuthzIndex;
use std::sync::Arc;

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
                trail.decide(Decided {
                    action: "authenticate".into(),
                    resource_type: "user".into(),
                    resource_id: named.user_id.map(|u| u.uuid()),
                    device_id: None,
                    outcome: Outcome::Deny,
                    reason: format!("refused: {}", f.code),
                });
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
        let (index, admitted) = admit(&state, who).await;
        if let Some(index) = index {
            req.extensions_mut().insert(RequestIndex(index));
        }
        match admitted {
            Ok(v) => verdict = Some(v),
            Err(refusal) => {
                early = Some(refuse(&trail, who.user_id.uuid(), &refusal));
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

/// The tenant's authorization index as the pipeline read it, so the gate
/// need not read its generation again within the request.
#[derive(Debug, Clone)]
pub struct RequestIndex(pub Arc<AuthzIndex>);

/// Counts one request of `who` against its budget (REST and MCP alike).
/// The tenant's index, for the user's roles, is read only when limits are
/// on, and handed back for reuse.
pub(crate) async fn admit(
    state: &AppState,
    who: &Principal,
) -> (Option<Arc<AuthzIndex>>, Result<Verdict, Refusal>) {
    if !state.limits.enabled() {
        return (None, Ok(Verdict::default()));
    }
    let index = state.authz.index(who.tenant_id).await.ok();
    let roles: Vec<RoleId> = index.iter().flat_map(|i| i.roles_of(who.user_id)).collect();
    (index, state.limits.admit_user(who, roles).await)
}

/// The reply to a request the rate limiter refused, and its problem code.
pub(crate) fn refusal_reply(refusal: &Refusal) -> (Response, &'static str) {
    match refusal {
        Refusal::Limited(v) => {
            let mut resp = ApiError::rate_limited(v.retry_after_secs()).into_response();
            v.write_headers(resp.headers_mut());
            (resp, "rate_limited")
        }
        Refusal::Unavailable => (
            ApiError::unavailable("rate limits cannot be checked right now; try again")
                .into_response(),
            "unavailable",
        ),
    }
}

/// The reply to a request refused by the rate limiter, with its decision
/// recorded in the trail.
fn refuse(trail: &Trail, user: uuid::Uuid, refusal: &Refusal) -> Response {
    let reason = match refusal {
        Refusal::Limited(_) => "request budget used up",
        Refusal::Unavailable => "rate limits cannot be checked",
    };
    trail.decide(Decided {
        action: "rate_limit".into(),
        resource_type: "user".into(),
        resource_id: Some(user),
        device_id: None,
        outcome: Outcome::Deny,
        reason: reason.into(),
    });
    refusal_reply(refusal).0
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
