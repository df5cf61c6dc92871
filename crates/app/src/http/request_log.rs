//! One log line per request, with nothing secret in it.
//!
//! A URI can carry secrets in its query string: the code and state of an
//! OpenID Connect callback, a token a client put where it should not.
//! This middleware logs the method, the path without its query, the
//! status, the duration and rosgate's request id, and nothing else of the
//! request; logs inside the request run in a span that names the same
//! method and path.

use crate::state::AppState;
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument as _;

/// Longest path kept in a log line; longer paths are cut.
const MAX_PATH: usize = 200;

/// The middleware: runs `next` and logs how the request ended.
pub async fn log_requests<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let clock = req.data::<AppState>().map(|s| s.clock.clone());
    let started = clock.as_ref().map(|c| c.now());
    let method = req.method().clone();
    let path: String = req.uri().path().chars().take(MAX_PATH).collect();
    let span = tracing::info_span!("request", method = %method, path = ?path);
    let result = next
        .call(req)
        .instrument(span.clone())
        .await
        .map(IntoResponse::into_response);
    let status = match &result {
        Ok(resp) => resp.status(),
        Err(e) => e.status(),
    };
    let request_id = result
        .as_ref()
        .ok()
        .and_then(|r| r.headers().get("x-request-id"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let duration_ms = match (clock, started) {
        (Some(c), Some(t)) => (c.now() - t).whole_milliseconds(),
        _ => 0,
    };
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            duration_ms,
            request_id = %request_id,
            "request finished"
        );
    });
    result
}
