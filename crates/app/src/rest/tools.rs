//! The tool catalogue over REST: the same tools, the same guards and the
//! same audit records as MCP, through [`crate::enforce::tool_call`].

use super::failure;
use super::id::Id;
use super::{ApiResult, Gate, Tag};
use crate::enforce::tool_call::{self, CallError};
use crate::http::problem::ApiError;
use crate::state::AppState;
use kernel::DeviceId;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde_json::Value;
use tools::ToolError;
use uuid::Uuid;

pub struct ToolsApi {
    pub state: AppState,
}

/// A tool of the catalogue.
#[derive(Debug, Object)]
pub struct ToolDto {
    pub name: String,
    pub category: String,
    /// `fundamental`, `advanced` or `professional`: the permission `tool:<tier>` it needs.
    pub tier: String,
    /// Whether it changes the device.
    pub writes: bool,
    pub summary: String,
    /// JSON Schema of the request body of `runDeviceTool`.
    pub input_schema: Value,
}

/// What a tool returned.
#[derive(Debug, Object)]
pub struct ToolResultDto {
    pub tool: String,
    pub device_id: Uuid,
    /// One sentence for people.
    pub summary: String,
    /// The result for programs; secrets are redacted.
    pub data: Value,
}

/// What a fleet tool returned.
#[derive(Debug, Object)]
pub struct FleetResultDto {
    pub tool: String,
    pub summary: String,
    /// For a plan tool: `plan_id`, `confirmation_token`, `expires_at`, `risk`;
    /// for an apply tool: `status` and per-device `outcomes`.
    pub data: Value,
}

impl From<CallError> for ApiError {
    /// The status and code come from the one table (`enforce::codes`).
    fn from(e: CallError) -> Self {
        match e {
            CallError::RateLimited(secs) => ApiError::rate_limited(secs),
            CallError::Invalid(b) | CallError::Tool(ToolError::Invalid(b)) => {
                ApiError::invalid(&b.field, b.reason)
            }
            CallError::UnknownDevice => ApiError::not_found("device"),
            CallError::UnknownPlan => ApiError::not_found("plan"),
            e => ApiError::new(e.code(), e.to_string()),
        }
    }
}

#[OpenApi(tag = "Tag::Tools")]
impl ToolsApi {
    /// The tool catalogue: every tool with its tier and input schema.
    #[oai(path = "/tools", method = "get", operation_id = "listTools")]
    async fn list_tools(&self, gate: Gate) -> ApiResult<Json<Vec<ToolDto>>, failure::List> {
        gate.authenticated().await?;
        Ok(Json(
            tools::CATALOGUE
                .iter()
                .map(|t| ToolDto {
                    name: t.name.into(),
                    category: t.category.into(),
                    tier: t.tier.as_str().into(),
                    writes: t.writes,
                    summary: t.summary.into(),
                    input_schema: t.input_schema(false),
                })
                .collect(),
        ))
    }

    /// Run a tool on a device. Needs `tool:<tier>` from a binding that
    /// reaches the device (within the caller's device scope and the
    /// binding's environments), and the device's capability flags must
    /// allow the tier. The body is the tool's input (`GET /tools`).
    #[oai(
        path = "/devices/:device_id/tools/:tool_name",
        method = "post",
        operation_id = "runDeviceTool"
    )]
    async fn run_tool(
        &self,
        gate: Gate,
        device_id: Path<Id<DeviceId>>,
        tool_name: Path<String>,
        body: Json<Value>,
    ) -> ApiResult<Json<ToolResultDto>, failure::DeviceCall> {
        let trail = gate.trail()?;
        let c = tool_call::Invocation {
            who: &gate.who,
            channel: "rest",
            trail: &trail,
        };
        let out =
            tool_call::call(&self.state, &c, device_id.0.get(), &tool_name.0, &body.0).await?;
        Ok(Json(ToolResultDto {
            tool: tool_name.0,
            device_id: device_id.0.get().uuid(),
            summary: out.summary,
            data: out.data,
        }))
    }

    /// Run a fleet tool: a plan tool (`plan_*`, `config_plan_*`) with
    /// `device_ids`, which checks every device and returns a pending plan
    /// with its creator's single-use confirmation token, or an apply tool
    /// with `plan_id` and `confirmation_token`, which applies the plan
    /// (creator only, within 15 minutes, for the plan's change and devices
    /// as created) with snapshots, health checks and automatic rollback. A
    /// refused apply leaves the plan pending and the token good.
    #[oai(
        path = "/tools/:tool_name",
        method = "post",
        operation_id = "runFleetTool"
    )]
    async fn run_fleet_tool(
        &self,
        gate: Gate,
        tool_name: Path<String>,
        body: Json<Value>,
    ) -> ApiResult<Json<FleetResultDto>, failure::DeviceCall> {
        let trail = gate.trail()?;
        let c = tool_call::Invocation {
            who: &gate.who,
            channel: "rest",
            trail: &trail,
        };
        let out = tool_call::call_fleet(&self.state, &c, &tool_name.0, &body.0).await?;
        Ok(Json(FleetResultDto {
            tool: tool_name.0,
            summary: out.summary,
            data: out.data,
        }))
    }
}
