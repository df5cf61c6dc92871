//! The REST API under `/api/v1`, one file per group of resources, and the
//! OpenAPI document generated from it.

mod id;
pub mod models;

mod access;
mod audit;
mod directory;
mod hierarchy;
mod inventory;
mod platform_audit;
mod reports;
mod tools;

use crate::http::problem::ApiError;
use crate::state::AppState;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApiService, Tags};

pub use crate::enforce::gate::Gate;

/// The result of every operation.
pub type ApiResult<T> = Result<T, ApiError>;

/// Tags grouping operations in the OpenAPI document.
#[derive(Debug, Tags)]
pub enum Tag {
    /// Tenants, divisions, groups and teams.
    Hierarchy,
    /// Users, invitations and API tokens.
    Directory,
    /// Sites, devices and device groups.
    Inventory,
    /// Roles, role bindings, device scopes and authorization checks.
    Access,
    /// The RouterOS tool catalogue, run on devices.
    Tools,
    /// The audit trail: events and verification of the tenant's hash chain,
    /// and of the platform chain of events that belong to no tenant.
    Audit,
    /// Compliance reports over the audit trail, as JSON or CSV.
    Compliance,
}

/// A resource was created.
#[derive(Debug, ApiResponse)]
pub enum Created<T: poem_openapi::types::ToJSON + Send + Sync> {
    /// Created.
    #[oai(status = 201)]
    Created(Json<T>),
}

/// A resource was deleted.
#[derive(Debug, ApiResponse)]
pub enum Deleted {
    /// Deleted.
    #[oai(status = 204)]
    Deleted,
}

/// The OpenAPI service for all operations.
pub fn service(state: &AppState) -> OpenApiService<impl poem_openapi::OpenApi, ()> {
    let apis = (
        hierarchy::HierarchyApi {
            state: state.clone(),
        },
        directory::DirectoryApi {
            state: state.clone(),
        },
        inventory::InventoryApi {
            state: state.clone(),
        },
        access::AccessApi {
            state: state.clone(),
        },
        tools::ToolsApi {
            state: state.clone(),
        },
        audit::AuditApi {
            state: state.clone(),
        },
        platform_audit::PlatformAuditApi {
            state: state.clone(),
        },
        reports::ReportsApi {
            state: state.clone(),
        },
    );
    OpenApiService::new(apis, "rosgate", env!("CARGO_PKG_VERSION"))
        .description(
            "Access control and governance for MikroTik RouterOS fleets. Every operation \
             passes one enforcement path (authentication, tenant isolation, RBAC) and is audited. \
             Errors are RFC 9457 problem documents with a stable `code`.",
        )
        .server("/api/v1")
}

/// The OpenAPI document as pretty JSON, as committed in `docs/openapi.json`.
pub fn spec_json(state: &AppState) -> String {
    service(state).spec()
}
