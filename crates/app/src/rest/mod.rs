//! The REST API under `/api/v1`, one file per resource with its own
//! bodies, and the OpenAPI document generated from it. Every protected
//! operation takes a [`Gate`], typed path ids ([`id::Id`]) and, for a
//! list, answers through [`page`]. Each operation's failures are narrowed
//! to the statuses it can answer with ([`failure`]).

mod common;
pub mod failure;
pub mod id;
pub mod page;

mod api_tokens;
mod audit;
mod authz_checks;
mod device_groups;
mod device_scopes;
mod devices;
mod identities;
mod invitations;
mod platform_audit;
mod reports;
mod role_bindings;
mod roles;
mod sites;
mod tenants;
mod tools;
mod units;
mod users;

use crate::state::AppState;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApiService, Tags};

pub use crate::enforce::gate::Gate;

/// The result of an operation whose failures have the statuses of `S`
/// ([`failure`]).
pub type ApiResult<T, S> = Result<T, failure::Failure<S>>;

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
pub enum Creation<T: poem_openapi::types::ToJSON + Send + Sync> {
    /// Created.
    #[oai(status = 201)]
    Created(Json<T>),
}

/// A resource was deleted.
#[derive(Debug, ApiResponse)]
pub enum Deletion {
    /// Deleted.
    #[oai(status = 204)]
    Deleted,
}

/// The OpenAPI service for all operations.
pub fn service(state: &AppState) -> OpenApiService<impl poem_openapi::OpenApi, ()> {
    /// A tuple of the resource APIs named, each holding the state.
    macro_rules! apis {
        ($($file:ident::$api:ident),+ $(,)?) => {
            ($($file::$api { state: state.clone() },)+)
        };
    }
    // Nested: poem-openapi implements OpenApi for tuples of a bounded size.
    let apis = (
        apis!(
            tenants::TenantsApi,
            units::UnitsApi,
            users::UsersApi,
            identities::IdentitiesApi,
            invitations::InvitationsApi,
            api_tokens::ApiTokensApi,
        ),
        apis!(
            sites::SitesApi,
            devices::DevicesApi,
            device_groups::DeviceGroupsApi,
        ),
        apis!(
            roles::RolesApi,
            role_bindings::RoleBindingsApi,
            device_scopes::DeviceScopesApi,
            authz_checks::AuthzChecksApi,
        ),
        apis!(
            tools::ToolsApi,
            audit::AuditApi,
            platform_audit::PlatformAuditApi,
            reports::ReportsApi,
        ),
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
