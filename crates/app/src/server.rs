//! The HTTP server: the API under `/api/v1`, its OpenAPI document at
//! `/openapi.json`, interactive docs at `/docs`, browser login under
//! `/auth`, RFC 9728 metadata under `/.well-known`, and a liveness probe.

use crate::api;
use crate::state::AppState;
use poem::endpoint::make_sync;
use poem::middleware::{CatchPanic, CookieJarManager, Tracing};
use poem::{Endpoint, EndpointExt, IntoEndpoint, IntoResponse, Route};

/// The whole application as one poem endpoint.
pub fn app(state: AppState, max_body_bytes: usize) -> impl Endpoint {
    let service = api::service(&state);
    let spec = service.spec();
    let docs = service.swagger_ui();
    Route::new()
        .nest("/api/v1", service.around(crate::enforce::rest::pipeline))
        .at(
            "/openapi.json",
            make_sync(move |_| {
                spec.clone()
                    .with_content_type("application/json")
                    .into_response()
            }),
        )
        .nest("/docs", docs)
        .at("/healthz", make_sync(|_| "ok"))
        .nest("/auth", crate::login::routes())
        .nest("/.well-known", crate::well_known::routes())
        .nest("/mcp", crate::mcp::endpoint(state.clone()))
        .around(move |ep, req| limit_body(ep, req, max_body_bytes))
        .with(CookieJarManager::new())
        .with(CatchPanic::new().with_handler(|_| api::problem::internal_error_response()))
        .around(api::auth::request_id)
        .with(Tracing)
        .data(state)
        .into_endpoint()
}

/// Refuses bodies declared larger than `max` bytes with 413, and cuts
/// undeclared (chunked) bodies at `max` bytes, so no request can make the
/// server buffer more than that.
async fn limit_body<E: Endpoint>(
    ep: E,
    mut req: poem::Request,
    max: usize,
) -> poem::Result<poem::Response> {
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match declared {
        Some(n) if n > max => {
            return Err(poem::Error::from_string(
                format!("the request body is {n} bytes; the limit is {max}"),
                poem::http::StatusCode::PAYLOAD_TOO_LARGE,
            ));
        }
        Some(_) => {}
        None => {
            use tokio::io::AsyncReadExt;
            let body = req.take_body().into_async_read().take(max as u64);
            req.set_body(poem::Body::from_async_read(body));
        }
    }
    ep.call(req).await.map(IntoResponse::into_response)
}

/// Serves `app` on `listener` until `shutdown` resolves.
pub async fn serve<E: Endpoint + 'static>(
    app: E,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener)?;
    poem::Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app, shutdown, None)
        .await
}
