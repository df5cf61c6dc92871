//! The envelope of every request under `/api/v1`: [`super::admit`]
//! (authenticate once, name the caller, count the request), run the
//! operation (whose gate decides tenant and RBAC and records into the
//! request's trail), then [`super::Admission::close`] (the request's one
//! audit event, committed before the reply leaves). A handler that panics
//! still leaves its event: the panic is caught here and answered as a 500
//! problem.

use super::{Channel, Closing, admit};
use crate::enforce::authn::Authentication;
use crate::http::problem::{ApiError, catch_all, internal_error_response};
use crate::state::AppState;
use futures::FutureExt;
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::OperationId;
use rbac::AuthzIndex;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// Longest request path kept as the operation of an unknown route.
const MAX_PATH: usize = 200;

/// The tenant's authorization index as admission read it, so the gate
/// need not read its generation again within the request.
#[derive(Debug, Clone)]
pub struct RequestIndex(pub Arc<AuthzIndex>);

/// The middleware around the API. The request runs in a task of its own,
/// so a client that goes away (or resets its stream) cancels nothing: the
/// operation and the commit of its event always run to the end together.
pub async fn pipeline<E: Endpoint + 'static>(ep: E, req: Request) -> poem::Result<Response> {
    match tokio::spawn(envelope(ep, req)).await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!(error = %e, "a request's envelope failed");
            Ok(internal_error_response())
        }
    }
}

async fn envelope<E: Endpoint>(ep: E, mut req: Request) -> poem::Result<Response> {
    let Some(state) = req.data::<AppState>().cloned() else {
        return Ok(internal_error_response());
    };
    let route = format!("{} {}", req.method(), req.original_uri().path())
        .chars()
        .take(MAX_PATH)
        .collect::<String>();
    let mut admission = admit(&state, &req, Channel::Rest).await;
    if let Some(index) = &admission.index {
        req.extensions_mut().insert(RequestIndex(index.clone()));
    }
    req.extensions_mut()
        .insert(Authentication(admission.auth.clone()));
    req.extensions_mut().insert(admission.trail.clone());

    let (mut resp, operation) = match admission.refused.take() {
        Some(r) => (r, None),
        None => match AssertUnwindSafe(ep.call(req)).catch_unwind().await {
            Ok(Ok(r)) => {
                let r = r.into_response();
                let op = r.data::<OperationId>().map(|o| o.0);
                (r, op)
            }
            Ok(Err(e)) => {
                let op = e.data::<OperationId>().map(|o| o.0);
                (catch_all(e).await, op)
            }
            Err(_) => {
                tracing::error!(%route, "a request handler panicked");
                (internal_error_response(), None)
            }
        },
    };
    let end = closing(&mut resp, operation.map_or(route, str::to_owned)).await;
    if admission.close(&state, end, Some(&mut resp)).await.is_err() {
        return Ok(ApiError::unavailable(
            "the audit trail cannot be written; the request's effect, if any, is logged; \
             check its outcome before retrying",
        )
        .into_response());
    }
    Ok(resp)
}

/// How a REST reply ended: its status and its problem `code`.
async fn closing(resp: &mut Response, operation: String) -> Closing {
    let status = resp.status();
    let success = status.is_success() || status.is_redirection();
    let error_class = if success {
        None
    } else {
        Some(
            problem_code(resp)
                .await
                .unwrap_or_else(|| format!("http_{}", status.as_u16())),
        )
    };
    Closing {
        operation,
        success,
        error_class,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use kernel::{OsEntropy, SystemClock};
    use poem::{EndpointExt, Route, handler};

    #[handler]
    fn boom() -> &'static str {
        panic!("a handler bug")
    }

    #[tokio::test]
    async fn a_panicking_handler_still_leaves_its_event() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            database_url: format!("sqlite://{}/t.db?mode=rwc", dir.path().display()),
            key_file: dir.path().join("key").display().to_string(),
            ..Config::default()
        };
        let state = crate::wiring::build(&config, Arc::new(SystemClock), Arc::new(OsEntropy))
            .await
            .unwrap();
        let tenant = state.tenancy.create_tenant("acme").await.unwrap();
        let user = state
            .tenancy
            .create_user(tenant.id, "a@acme.test", "A", false)
            .await
            .unwrap();
        let (_, secret) = state
            .tenancy
            .create_api_token(&user, "t", None)
            .await
            .unwrap();
        let app = Route::new()
            .at("/boom", boom)
            .around(pipeline)
            .data(state.clone());
        let req = Request::builder()
            .uri(poem::http::Uri::from_static("/boom"))
            .header("authorization", format!("Bearer {}", secret.token))
            .finish();
        let resp = app.call(req).await.unwrap();
        assert_eq!(resp.status(), poem::http::StatusCode::INTERNAL_SERVER_ERROR);
        let events = state.db.audit_events(tenant.id).await.unwrap();
        assert_eq!(events.len(), 1, "{events:#?}");
        assert_eq!(events[0].error_class.as_deref(), Some("internal"));
        assert_eq!(events[0].user_id, Some(user.id));
    }
}
