//! `/mcp`: the tool catalogue for MCP agents over streamable HTTP (rmcp).
//!
//! This module is the endpoint: every MCP HTTP request goes through the
//! admission path ([`crate::enforce::admit`] and
//! [`crate::enforce::Admission::close`]) before and after rmcp handles it,
//! so the caller is authenticated by the same code as the REST API (bearer
//! JWT or API token) and each request leaves one event; the principal and
//! the trail ride in the request's extensions. What the handler answers
//! lives next to it: `tools` (`tools/list`, and `tools/call` through
//! [`crate::enforce::tool_call`], the path REST uses) and `resources`
//! (`fleet://health-summary`, `device://{id}/overview` and
//! `device://{id}/health`).
//!
//! The server runs stateless (no MCP sessions held in memory), so any
//! instance behind a load balancer can answer any request.

mod resources;
mod tools;

use crate::enforce::authn::resource_metadata_url;
use crate::enforce::tool_call;
use crate::enforce::trail::{DecisionEntry, Trail};
use crate::enforce::{self, Channel};
use crate::state::AppState;
use futures::FutureExt;
use kernel::Principal;
use poem::endpoint::TowerCompatExt;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response};
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ErrorData, Implementation, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::Value;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// The `/mcp` endpoint.
pub fn endpoint(state: AppState) -> impl Endpoint {
    let for_handler = state.clone();
    let mut config = StreamableHttpServerConfig::default();
    config.legacy_session_mode = false;
    config.json_response = true;
    if let Some(host) = url::Url::parse(&state.web.public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
    {
        config.allowed_hosts.push(host);
    }
    let service = StreamableHttpService::new(
        move || {
            Ok(McpServer {
                state: for_handler.clone(),
            })
        },
        Arc::new(LocalSessionManager::default()),
        config,
    );
    service.compat().around(authenticate_mcp)
}

/// Runs one MCP HTTP request through the admission path: authenticate
/// and count it before rmcp sees it (and before its body is read), hand
/// rmcp the principal and the request's trail, and commit the request's
/// one event after rmcp has answered (every JSON-RPC method, including
/// `tools/list` and `resources/read`, and malformed requests alike). It
/// runs in a task of its own, so a client that goes away cancels neither
/// the handler nor the event. A failure's challenge points to the metadata
/// of the `/mcp` resource (RFC 9728 path insertion).
async fn authenticate_mcp<E: Endpoint + 'static>(next: E, req: Request) -> poem::Result<Response> {
    match tokio::spawn(mcp_envelope(next, req)).await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!(error = %e, "an MCP request's envelope failed");
            Ok(crate::http::problem::internal_error_response())
        }
    }
}

async fn mcp_envelope<E: Endpoint>(next: E, mut req: Request) -> poem::Result<Response> {
    let Some(state) = req.data::<AppState>().cloned() else {
        return Ok(crate::http::problem::internal_error_response());
    };
    let mut admission = enforce::admit(&state, &req, Channel::Mcp).await;
    // Listings, reads and protocol chatter read; a tool call says what it does.
    admission.trail.effect(audit::Effect::Read);
    let mut method = format!("mcp:{}", req.method());
    let mut resp = if let Some(refused) = admission.refused.take() {
        refused
    } else {
        match &admission.auth {
            Ok(principal) => match req.take_body().into_bytes().await {
                Err(e) => {
                    method = "mcp:invalid".into();
                    crate::http::problem::catch_all(e.into()).await
                }
                Ok(body) => {
                    method = jsonrpc_method(&body, req.method());
                    req.set_body(body);
                    req.extensions_mut().insert(principal.clone());
                    req.extensions_mut().insert(admission.trail.clone());
                    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
                        Ok(Ok(r)) => r.into_response(),
                        Ok(Err(e)) => crate::http::problem::catch_all(e).await,
                        Err(_) => {
                            tracing::error!("an MCP request handler panicked");
                            crate::http::problem::internal_error_response()
                        }
                    }
                }
            },
            Err(failure) => {
                let mut failure = failure.clone();
                let root = resource_metadata_url(&state.web);
                failure.challenge = failure
                    .challenge
                    .map(|c| c.replace(&root, &format!("{root}/mcp")));
                poem::error::ResponseError::as_response(&crate::http::problem::AuthProblem::from(
                    failure,
                ))
            }
        }
    };
    let end = closing(&admission.trail, &mut resp, method).await;
    if admission.close(&state, end, Some(&mut resp)).await.is_err() {
        return Ok(crate::http::problem::ApiError::unavailable(
            "the audit trail cannot be written; check the request's outcome before retrying",
        )
        .into_response());
    }
    Ok(resp)
}

/// Longest JSON-RPC method name kept as an operation.
const MAX_METHOD: usize = 64;

/// `mcp:<method>` for the event of a request: the JSON-RPC method of its
/// body (`batch` for an array, `invalid` when there is none), or the HTTP
/// method for a request without a body.
fn jsonrpc_method(body: &[u8], http: &poem::http::Method) -> String {
    if body.is_empty() {
        return format!("mcp:{http}");
    }
    let name = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(_)) => "batch".to_owned(),
        Ok(v) => v
            .get("method")
            .and_then(Value::as_str)
            .filter(|m| {
                m.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/_-.".contains(&b))
            })
            .map_or_else(
                || "invalid".to_owned(),
                |m| m.chars().take(MAX_METHOD).collect(),
            ),
        Err(_) => "invalid".to_owned(),
    };
    format!("mcp:{name}")
}

/// How an MCP reply ended. rmcp answers 200 for JSON-RPC errors, so a JSON
/// reply is read (it is complete: the server answers in JSON, not SSE) for
/// its `error`; a tool's own failure was recorded in the trail by the
/// handler.
async fn closing(trail: &Trail, resp: &mut Response, operation: String) -> enforce::Closing {
    let status = resp.status();
    let mut error_class = None;
    if !status.is_success() {
        error_class = Some(format!("http_{}", status.as_u16()));
    }
    let is_json = resp
        .headers()
        .get(poem::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.starts_with("application/json") || v.starts_with("application/problem+json")
        });
    if is_json && let Ok(body) = resp.take_body().into_bytes().await {
        if let Ok(v) = serde_json::from_slice::<Value>(&body) {
            if let Some(code) = v.get("code").and_then(Value::as_str) {
                error_class = Some(code.chars().take(64).collect());
            } else if let Some(code) = v.pointer("/error/code").and_then(Value::as_i64) {
                error_class = Some(jsonrpc_code(code).into());
            }
        }
        resp.set_body(body);
    }
    let success = error_class.is_none() && !trail.has_failed();
    enforce::Closing {
        operation,
        success,
        error_class,
    }
}

/// A stable name for a JSON-RPC error code.
fn jsonrpc_code(code: i64) -> crate::http::codes::Code {
    use crate::http::codes::Code;
    match code {
        -32700 => Code::InvalidJson,
        -32600 => Code::InvalidRequest,
        -32601 => Code::UnknownMethod,
        -32602 => Code::InvalidParams,
        -32603 => Code::Internal,
        -32002 => Code::NotFound,
        _ => Code::JsonrpcError,
    }
}

#[derive(Clone)]
struct McpServer {
    state: AppState,
}

fn principal(ctx: &RequestContext<RoleServer>) -> Result<Principal, ErrorData> {
    ctx.extensions
        .get::<poem::http::request::Parts>()
        .and_then(|p| p.extensions.get::<Principal>().cloned())
        .ok_or_else(|| ErrorData::invalid_request("not authenticated", None))
}

/// The trail of the MCP request being handled, which the admission path
/// commits once rmcp has answered; without one nothing runs.
fn request_trail(ctx: &RequestContext<RoleServer>) -> Result<Arc<Trail>, ErrorData> {
    ctx.extensions
        .get::<poem::http::request::Parts>()
        .and_then(|p| p.extensions.get::<Arc<Trail>>().cloned())
        .ok_or_else(|| ErrorData::internal_error("the audit trail is missing; nothing ran", None))
}

/// The devices the caller can see, for tool listing and resources.
async fn devices(state: &AppState, who: &Principal) -> Vec<tenancy::Device> {
    let Ok(all) = state.tenancy.repo().devices(who.tenant_id).await else {
        return Vec::new();
    };
    let mut mine = Vec::new();
    for d in all {
        if tool_call::may_see(state, who, d.id).await {
            mine.push(d);
        }
    }
    mine
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("rosgate", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "RouterOS tools behind rosgate's access control. Every tool takes `device_id`; \
                 list your devices with the `fleet://health-summary` resource.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        tools::list(&self.state, &ctx).await
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        tools::call(&self.state, request, &ctx).await
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        resources::list(&self.state, &ctx).await
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        resources::read(&self.state, request, &ctx).await
    }
}

/// Records a listing, which needs no permission beyond being signed in:
/// what it shows is filtered by the caller's permissions.
fn listed(trail: &Trail, who: &Principal, what: String) {
    trail.decide(DecisionEntry {
        action: "authenticated".into(),
        resource_type: "user".into(),
        resource_id: Some(who.user_id.uuid()),
        device_id: None,
        outcome: audit::Outcome::Allow,
        reason: format!("listed {what}"),
    });
    trail.effect(audit::Effect::Read);
}
