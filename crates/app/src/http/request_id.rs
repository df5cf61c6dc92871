//! The id of each request: rosgate makes its own, keeps a sane
//! `X-Request-Id` from the client beside it, and echoes its own on the
//! response, so log lines, audit events and replies can be tied together.

use crate::state::AppState;
use poem::{IntoResponse, Request, Response};

/// The id that ties a request to its log lines and audit events: always
/// rosgate's own.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The `X-Request-Id` a client sent, if it was sane: kept in the audit
/// event as `client_request_id`, never used as rosgate's own id (a client
/// could otherwise make two requests look like one).
#[derive(Debug, Clone)]
pub struct ClientRequestId(pub String);

/// Middleware: makes the request's id, keeps a sane `X-Request-Id` from
/// the client beside it, and echoes rosgate's id on the response.
pub async fn request_id<E: poem::Endpoint>(next: E, mut req: Request) -> poem::Result<Response> {
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
    let id = match req.data::<AppState>() {
        Some(s) => s.entropy.uuid_v7(s.clock.now()).to_string(),
        None => String::new(),
    };
    if let Some(given) = given {
        req.extensions_mut().insert(ClientRequestId(given));
    }
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
