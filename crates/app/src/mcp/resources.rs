//! MCP resources: `fleet://health-summary` (the caller's devices and their
//! health, which is how an agent finds its device ids),
//! `device://{id}/health` and `device://{id}/overview` (the latter through
//! the same tool call as `get_system_overview`).

use super::tools::{refusal_text, traced_call};
use super::{devices, listed, principal, request_trail};
use crate::enforce::tool_call;
use crate::enforce::trail::DecisionEntry;
use crate::state::AppState;
use kernel::DeviceId;
use rmcp::model::{
    ErrorData, ListResourcesResult, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Resource, ResourceContents,
};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::json;

/// `resources/list`: the fleet summary, and each visible device's
/// overview and health.
pub(super) async fn list(
    state: &AppState,
    ctx: &RequestContext<RoleServer>,
) -> Result<ListResourcesResult, ErrorData> {
    let who = principal(ctx)?;
    let trail = request_trail(ctx)?;
    let mut out = vec![Resource::new(
        "fleet://health-summary",
        "fleet health summary",
    )];
    for d in devices(state, &who).await {
        out.push(Resource::new(
            format!("device://{}/overview", d.id),
            format!("{} overview", d.name),
        ));
        out.push(Resource::new(
            format!("device://{}/health", d.id),
            format!("{} health", d.name),
        ));
    }
    listed(&trail, &who, format!("{} resources", out.len()));
    Ok(ListResourcesResult::with_all_items(out))
}

/// `resources/read`: one resource, if the caller may see it.
pub(super) async fn read(
    state: &AppState,
    request: ReadResourceRequestParams,
    ctx: &RequestContext<RoleServer>,
) -> Result<ReadResourceResponse, ErrorData> {
    let who = principal(ctx)?;
    let trail = request_trail(ctx)?;
    let uri = request.uri.clone();
    let body = if uri == "fleet://health-summary" {
        listed(&trail, &who, "fleet health summary".into());
        let mut rows = Vec::new();
        for d in devices(state, &who).await {
            let health = state.health.get(d.id).await;
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
        let seen = tool_call::may_see(state, &who, id).await;
        trail.decide(DecisionEntry {
            action: rbac::Permission::DeviceRead.as_str().into(),
            resource_type: "device".into(),
            resource_id: Some(id.uuid()),
            device_id: Some(id.uuid()),
            outcome: if seen {
                audit::Outcome::Allow
            } else {
                audit::Outcome::Deny
            },
            reason: if seen {
                "read device health".into()
            } else {
                "device not found or not visible".into()
            },
        });
        if let Ok(index) = state.authz.index(who.tenant_id).await
            && let Some(env) = index.device_environment(id)
        {
            trail.environment(env.as_str());
        }
        if !seen {
            trail.error_class(crate::http::codes::Code::NotFound.as_str());
            return Err(ErrorData::resource_not_found(
                format!("no resource {uri}"),
                None,
            ));
        }
        let record = match state.health.get(id).await {
            Some(r) => Some(r),
            None => state.health.check_now(id).await,
        };
        serde_json::to_value(record).unwrap_or_default()
    } else if let Some(id) = uri
        .strip_prefix("device://")
        .and_then(|r| r.strip_suffix("/overview"))
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
    {
        match traced_call(
            state,
            &trail,
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
        trail.error_class(crate::http::codes::Code::NotFound.as_str());
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
