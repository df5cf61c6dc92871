//! The HTTP server: the API under `/api/v1`, its OpenAPI document at
//! `/openapi.json`, interactive docs at `/docs`, and a liveness probe.

use crate::api;
use crate::state::AppState;
use poem::endpoint::make_sync;
use poem::middleware::{CatchPanic, Tracing};
use poem::{Endpoint, EndpointExt, IntoEndpoint, IntoResponse, Route};

/// The whole application as one poem endpoint.
pub fn app(state: AppState, max_body_bytes: usize) -> impl Endpoint {
    let service = api::service(&state);
    let spec = service.spec();
    let docs = service.swagger_ui();
    let limit = api::auth::body_limit(max_body_bytes);
    Route::new()
        .nest("/api/v1", service)
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
        .around(move |ep, req| {
            let limit = limit.clone();
            async move {
                if let Some(e) = limit(&req) {
                    return Err(e);
                }
                ep.call(req).await.map(IntoResponse::into_response)
            }
        })
        .with(CatchPanic::new().with_handler(|_| api::problem::internal_error_response()))
        .around(api::auth::request_id)
        .with(Tracing)
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
