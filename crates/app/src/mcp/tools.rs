//! `tools/list` and `tools/call`: the catalogue as the caller may use it,
//! and each call through [`crate::enforce::tool_call`], the path REST
//! uses, so a tool runs under the same checks and leaves the same trail
//! whichever channel asked for it.

use super::{devices, listed, principal, request_trail};
use crate::enforce::tool_call::{self, CallError};
use crate::enforce::trail::Trail;
use crate::state::AppState;
use kernel::{DeviceId, Principal};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    ListToolsResult, Tool as McpTool,
};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::Value;
use std::sync::Arc;

/// `tools/list`: the tools the caller may run on at least one of its
/// devices.
pub(super) async fn list(
    state: &AppState,
    ctx: &RequestContext<RoleServer>,
) -> Result<ListToolsResult, ErrorData> {
    let who = principal(ctx)?;
    let trail = request_trail(ctx)?;
    let devices = devices(state, &who).await;
    let mut tools = Vec::new();
    for t in tools::CATALOGUE {
        let mut allowed = false;
        for d in &devices {
            if tools::guard::device_allows(t, d).is_ok()
                && tool_call::may_call(state, &who, t, d.id).await
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
    listed(&trail, &who, format!("{} tools", tools.len()));
    Ok(ListToolsResult::with_all_items(tools))
}

/// `tools/call`: runs one tool; a refusal comes back as a tool error that
/// says why, a store that cannot answer as a JSON-RPC error.
pub(super) async fn call(
    state: &AppState,
    request: CallToolRequestParams,
    ctx: &RequestContext<RoleServer>,
) -> Result<CallToolResponse, ErrorData> {
    let who = principal(ctx)?;
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
    let trail = request_trail(ctx)?;
    let result = traced_call(state, &trail, &who, &request.name, device, &input).await;
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

/// Runs one tool call; its decisions and outcome go into the request's
/// trail. `device` is `None` for a fleet tool.
pub(super) async fn traced_call(
    state: &AppState,
    trail: &Trail,
    who: &Principal,
    name: &str,
    device: Option<Result<DeviceId, CallError>>,
    input: &Value,
) -> Result<tools::ToolOutput, CallError> {
    let c = tool_call::Invocation {
        who,
        channel: "mcp",
        trail,
    };
    let result = match device {
        None => tool_call::call_fleet(state, &c, name, input).await,
        Some(Ok(device)) => tool_call::call(state, &c, device, name, input).await,
        Some(Err(e)) => Err(e),
    };
    if let Err(e) = &result {
        trail.error_class(e.code().as_str());
    }
    result
}

fn tool_error(text: String) -> CallToolResponse {
    CallToolResult::error(vec![ContentBlock::text(text)]).into()
}

/// A refusal as the agent reads it: the stable code, then why.
pub(super) fn refusal_text(e: &CallError) -> String {
    format!("refused ({}): {e}", e.code())
}
