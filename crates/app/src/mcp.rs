//! `/mcp`: the tool catalogue for MCP agents over streamable HTTP (rmcp).
//!
//! The caller is authenticated by the same code as the REST API (bearer
//! JWT or API token) before rmcp sees the request; the principal rides in
//! the request's extensions. `tools/list` shows only the tools the caller
//! may run on at least one of its devices; `tools/call` goes through
//! [`crate::tooling::call`], the path REST uses, and refusals come back as
//! MCP tool errors that say why. Devices are also readable as resources:
//! `device://{id}/overview` and `fleet://health-summary`.
//!
//! The server runs stateless (no MCP sessions held in memory), so any
//! instance behind a load balancer can answer any request.

use crate::api::auth::{authenticate, resource_metadata_url};
use crate::state::AppState;
use crate::tooling::{self, CallError};
use crate::trail::{self, Decided, Ending, Named, Trail};
use kernel::{DeviceId, Principal};
use poem::endpoint::TowerCompatExt;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response};
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    Implementation, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, ServerCapabilities, ServerConfig, Tool as McpTool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};
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

/// Authenticates before rmcp runs; a failure's challenge points to the
/// metadata of the `/mcp` resource (RFC 9728 path insertion).
async fn authenticate_mcp<E: Endpoint>(next: E, mut req: Request) -> poem::Result<Response> {
    let Some(state) = req.data::<AppState>().cloned() else {
        return Err(poem::Error::from_status(
            poem::http::StatusCode::INTERNAL_SERVER_ERROR,
        ));
    };
    let client_addr = client_addr(&req);
    match authenticate(&state, &req).await {
        Ok(principal) => {
            let verdict = match crate::api::pipeline::admit(&state, &principal).await.1 {
                Ok(v) => v,
                Err(refusal) => {
                    let (resp, code) = crate::api::pipeline::refusal_reply(&refusal);
                    let who = Named::principal(&principal, true);
                    refused(&state, &req, who, "rate_limit", code, client_addr).await?;
                    return Ok(resp);
                }
            };
            req.extensions_mut().insert(principal);
            if let Some(a) = client_addr {
                req.extensions_mut().insert(ClientAddr(a));
            }
            let mut resp = next.call(req).await?.into_response();
            verdict.write_headers(resp.headers_mut());
            Ok(resp)
        }
        Err(mut failure) => {
            if let Some(who) = failure.named.clone() {
                let who = Named {
                    actor: audit::Actor::Agent,
                    ..who
                };
                refused(&state, &req, who, "authenticate", failure.code, client_addr).await?;
            }
            let root = resource_metadata_url(&state.web);
            failure.challenge = failure
                .challenge
                .map(|c| c.replace(&root, &format!("{root}/mcp")));
            Ok(poem::error::ResponseError::as_response(&failure))
        }
    }
}

fn client_addr(req: &Request) -> Option<String> {
    req.remote_addr()
        .as_socket_addr()
        .map(|a| a.ip().to_string())
}

/// Audits an MCP request refused before rmcp saw it (over budget, or a
/// credential that names its holder but is not good enough).
async fn refused(
    state: &AppState,
    req: &Request,
    who: Named,
    action: &str,
    code: &str,
    client_addr: Option<String>,
) -> poem::Result<()> {
    let trail = Trail::new();
    trail.decide(Decided {
        action: action.into(),
        resource_type: "user".into(),
        resource_id: who.user_id.map(|u| u.uuid()),
        device_id: None,
        outcome: audit::Outcome::Deny,
        reason: format!("refused: {code}"),
    });
    trail.identify(who);
    let end = Ending {
        operation: "mcp".into(),
        safe: false,
        success: false,
        error_class: Some(code.to_owned()),
        request_id: req
            .extensions()
            .get::<crate::api::auth::RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default(),
        client_addr,
    };
    match trail.event(state, end) {
        Some(event) => trail::commit(state, event)
            .await
            .map_err(|()| poem::Error::from_status(poem::http::StatusCode::SERVICE_UNAVAILABLE)),
        None => Ok(()),
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

fn request_id(ctx: &RequestContext<RoleServer>) -> String {
    ctx.extensions
        .get::<poem::http::request::Parts>()
        .and_then(|p| {
            p.extensions
                .get::<crate::api::auth::RequestId>()
                .map(|r| r.0.clone())
        })
        .unwrap_or_default()
}

/// Runs one tool call with a trail of its own and commits the call's one
/// audit event before answering. `device` is `None` for a fleet tool.
async fn audited_call(
    state: &AppState,
    ctx: &RequestContext<RoleServer>,
    who: &Principal,
    name: &str,
    device: Option<Result<DeviceId, CallError>>,
    input: &Value,
) -> Result<tools::ToolOutput, CallError> {
    let trail = Trail::new();
    trail.identify(Named::principal(who, true));
    let c = tooling::Caller {
        who,
        channel: "mcp",
        trail: &trail,
    };
    let result = match device {
        None => tooling::call_fleet(state, &c, name, input).await,
        Some(Ok(device)) => tooling::call(state, &c, device, name, input).await,
        Some(Err(e)) => Err(e),
    };
    let end = Ending {
        operation: format!("mcp:{}", name.chars().take(64).collect::<String>()),
        safe: false,
        success: result.is_ok(),
        error_class: result.as_ref().err().map(|e| error_code(e).to_owned()),
        request_id: request_id(ctx),
        client_addr: ctx
            .extensions
            .get::<poem::http::request::Parts>()
            .and_then(|p| p.extensions.get::<ClientAddr>())
            .map(|a| a.0.clone()),
    };
    if let Some(event) = trail.event(state, end)
        && trail::commit(state, event).await.is_err()
    {
        return Err(CallError::Unavailable(
            "the audit trail cannot be written; check the call's outcome before retrying".into(),
        ));
    }
    result
}

/// The caller's address, carried from the HTTP request into rmcp.
#[derive(Debug, Clone)]
struct ClientAddr(String);

fn tool_error(text: String) -> CallToolResponse {
    CallToolResult::error(vec![ContentBlock::text(text)]).into()
}

impl McpServer {
    /// The devices the caller can see, for tool listing and resources.
    async fn devices(&self, who: &Principal) -> Vec<tenancy::Device> {
        let Ok(all) = self.state.tenancy.repo().devices(who.tenant_id).await else {
            return Vec::new();
        };
        let mut mine = Vec::new();
        for d in all {
            if tooling::may_see(&self.state, who, d.id).await {
                mine.push(d);
            }
        }
        mine
    }
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
        let who = principal(&ctx)?;
        let devices = self.devices(&who).await;
        let mut tools = Vec::new();
        for t in tools::CATALOGUE {
            let mut allowed = false;
            for d in &devices {
                if tools::guard::device_allows(t, d).is_ok()
                    && tooling::may_call(&self.state, &who, t, d.id).await
                {
                    allowed = true;
                    break;
                }
            }
            if allowed {
                let schema = match t.input_schema(true) {
                    Value::Object(m) => m,
                    _ => serde_json::Map::new(),
                };
                tools.push(McpTool::new(
                    t.name,
                    format!(
                        "{} [{} tier{}]",
                        t.summary,
                        t.tier.as_str(),
                        if t.writes { ", writes" } else { "" }
                    ),
                    Arc::new(schema),
                ));
            }
        }
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let who = principal(&ctx)?;
        let input = Value::Object(request.arguments.clone().unwrap_or_default());
        let fleet = tools::find(&request.name).is_some_and(|t| t.fleet);
        let device = (!fleet).then(|| {
            input
                .get("device_id")
                .and_then(Value::as_str)
                .and_then(|s| uuid::Uuid::parse_str(s).ok())
                .map(DeviceId::from_uuid)
                .ok_or_else(|| {
                    CallError::Invalid(tools::BadArg {
                        field: "device_id".into(),
                        reason: "required, the id (a UUID) of one of your devices".into(),
                    })
                })
        });
        let result = audited_call(&self.state, &ctx, &who, &request.name, device, &input).await;
        match result {
            Ok(out) => {
                let mut result = CallToolResult::success(vec![ContentBlock::text(format!(
                    "{}\n{}",
                    out.summary,
                    serde_json::to_string_pretty(&out.data).unwrap_or_default()
                ))]);
                result.structured_content = Some(out.data);
                Ok(result.into())
            }
            Err(CallError::Unavailable(m)) => Err(ErrorData::internal_error(m, None)),
            Err(e) => Ok(tool_error(refusal_text(&e))),
        }
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let who = principal(&ctx)?;
        let mut out = vec![Resource::new(
            "fleet://health-summary",
            "fleet health summary",
        )];
        for d in self.devices(&who).await {
            out.push(Resource::new(
                format!("device://{}/overview", d.id),
                format!("{} overview", d.name),
            ));
            out.push(Resource::new(
                format!("device://{}/health", d.id),
                format!("{} health", d.name),
            ));
        }
        Ok(ListResourcesResult::with_all_items(out))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let who = principal(&ctx)?;
        let uri = request.uri.clone();
        let body = if uri == "fleet://health-summary" {
            let mut rows = Vec::new();
            for d in self.devices(&who).await {
                let health = self.state.health.get(d.id).await;
                rows.push(json!({
                    "id": d.id, "name": d.name, "environment": d.environment.as_str(),
                    "host": d.host, "has_credentials": d.has_credentials,
                    "status": health.as_ref().map_or("unknown", |h| h.status.as_str()),
                    "health": health,
                }));
            }
            json!({ "devices": rows })
        } else if let Some(id) = uri
            .strip_prefix("device://")
            .and_then(|r| r.strip_suffix("/health"))
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
        {
            let id = DeviceId::from_uuid(id);
            if !tooling::may_see(&self.state, &who, id).await {
                return Err(ErrorData::resource_not_found(
                    format!("no resource {uri}"),
                    None,
                ));
            }
            let record = match self.state.health.get(id).await {
                Some(r) => Some(r),
                None => self.state.health.check_now(&self.state, id).await,
            };
            serde_json::to_value(record).unwrap_or_default()
        } else if let Some(id) = uri
            .strip_prefix("device://")
            .and_then(|r| r.strip_suffix("/overview"))
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
        {
            match audited_call(
                &self.state,
                &ctx,
                &who,
                "get_system_overview",
                Some(Ok(DeviceId::from_uuid(id))),
                &json!({}),
            )
            .await
            {
                Ok(o) => o.data,
                Err(e) => return Err(ErrorData::resource_not_found(refusal_text(&e), None)),
            }
        } else {
            return Err(ErrorData::resource_not_found(
                format!("no resource {uri}"),
                None,
            ));
        };
        Ok(ReadResourceResult::new(vec![ResourceContents::text(
            serde_json::to_string_pretty(&body).unwrap_or_default(),
            uri,
        )])
        .into())
    }
}

/// A refusal as the agent reads it: the stable code, then why.
fn refusal_text(e: &CallError) -> String {
    format!("refused ({}): {e}", error_code(e))
}

/// The stable code of a refusal, as REST's problem `code` would say it.
fn error_code(e: &CallError) -> &'static str {
    match e {
        CallError::UnknownTool(_) => "unknown_tool",
        CallError::UnknownDevice => "not_found",
        CallError::Denied { code, .. } => code,
        CallError::Capability(_) => "capability_disabled",
        CallError::Invalid(_) => "invalid_field",
        CallError::NoCredentials(_) => "no_credentials",
        CallError::Tool(_) => "tool_failed",
        CallError::Unavailable(_) => "unavailable",
        CallError::WrongEndpoint(_) => "wrong_endpoint",
        CallError::UnknownPlan => "not_found",
        CallError::Token(_) => "invalid_confirmation_token",
        CallError::RateLimited(_) => "rate_limited",
    }
}
