//! RFC 9728 protected resource metadata: how an OAuth client (an MCP agent,
//! say) learns which authorization server issues tokens for rosgate and
//! which scopes exist. Served at `/.well-known/oauth-protected-resource`
//! and at the path-inserted form for `/mcp`.

use crate::state::AppState;
use poem::web::{Data, Json};
use poem::{Route, get, handler};
use serde_json::{Value, json};

/// The `/.well-known` routes.
pub fn routes() -> Route {
    Route::new()
        .at("/oauth-protected-resource", get(metadata))
        .at("/oauth-protected-resource/mcp", get(metadata))
}

/// The metadata document. There is one resource, rosgate itself: its REST
/// API and its MCP endpoint accept the same tokens.
pub fn document(state: &AppState) -> Value {
    let mut scopes: Vec<&String> = Vec::new();
    for s in state.web.read_scopes.iter().chain(&state.web.write_scopes) {
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    let mut doc = json!({
        "resource": state.web.resource,
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header"],
        "resource_name": "rosgate",
        "resource_documentation": format!("{}/docs", state.web.public_url),
    });
    if let Some(idp) = &state.idp {
        doc["authorization_servers"] = json!([idp.issuer()]);
    }
    doc
}

#[handler]
fn metadata(state: Data<&AppState>) -> Json<Value> {
    Json(document(&state))
}
