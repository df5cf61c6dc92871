//! Routes: a summary, one by id, and planning static routes to add or
//! remove across devices (never a default route).

use crate::args::{Args, cidr};
use crate::call::{DeviceCall, ToolResult, field, given, output, project};
use crate::output::ToolError;
use crate::plan::model::Change;
use serde_json::json;

pub async fn summary(c: &DeviceCall<'_>) -> ToolResult {
    let routes = c.list("ip/route").await?;
    let count = |k: &str| routes.iter().filter(|r| field(r, k) == "true").count();
    let l = project(
        routes.clone(),
        &[
            "dst-address",
            "gateway",
            "distance",
            "static",
            "dynamic",
            "connect",
            "active",
            "comment",
        ],
    );
    output(
        format!("{} routes", routes.len()),
        json!({"total": routes.len(), "static": count("static"), "dynamic": count("dynamic"), "connected": count("connect"), "routes": l}),
    )
}

pub async fn get_route(c: &DeviceCall<'_>) -> ToolResult {
    c.one("ip/route", c.args.str("route_id"), "route").await
}

pub fn plan_add_static_route(args: &Args) -> Result<Change, ToolError> {
    let dst = given(args, "dst_address").unwrap_or_default();
    if cidr(&dst).is_some_and(|(_, len)| len == 0) {
        return Err(ToolError::Refused(
            "default routes (0.0.0.0/0) are refused: they can cut every device off at once".into(),
        ));
    }
    Ok(Change::AddStaticRoute {
        dst_address: dst,
        gateway: given(args, "gateway").unwrap_or_default(),
        distance: args.int("distance"),
        comment: given(args, "comment"),
    })
}

pub fn plan_remove_static_route(args: &Args) -> Result<Change, ToolError> {
    Ok(Change::RemoveStaticRoute {
        route_id: given(args, "route_id").unwrap_or_default(),
    })
}
