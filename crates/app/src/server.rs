//! The HTTP server: the API under `/api/v1`, its OpenAPI document at
//! `/openapi.json`, interactive docs at `/docs`, browser login under
//! `/auth`, RFC 9728 metadata under `/.well-known`, and a liveness probe,
//! inside the body limit, the request id and the request log (http/).

use crate::http::body_limit::limit_body;
use crate::http::request_log::log_requests;
use crate::rest;
use crate::state::AppState;
use poem::endpoint::make_sync;
use poem::middleware::{CatchPanic, CookieJarManager};
use poem::{Endpoint, EndpointExt, IntoEndpoint, IntoResponse, Route};

/// The whole application as one poem endpoint.
pub fn app(state: AppState, max_body_bytes: usize) -> impl Endpoint {
    let service = rest::service(&state);
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
        .nest("/auth", crate::web::login::routes())
        .nest("/.well-known", crate::web::well_known::routes())
        .nest("/mcp", crate::mcp::endpoint(state.clone()))
        .around(move |ep, req| limit_body(ep, req, max_body_bytes))
        .with(CookieJarManager::new())
        .with(CatchPanic::new().with_handler(|_| crate::http::problem::internal_error_response()))
        .around(crate::http::request_id::request_id)
        .around(log_requests)
        .data(state)
        .into_endpoint()
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
