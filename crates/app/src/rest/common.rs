//! Bodies and checks several resources share: environments, scopes of the
//! hierarchy, a name, and the refusals a delegation rule decides.

use super::Gate;
use crate::http::problem::ApiError;
use crate::state::AppState;
use kernel::{Environment, RoleId};
use poem_openapi::{Enum, Object};
use rbac::{Permission as P, Resource};
use tenancy::{Scope, UnitKind};
use uuid::Uuid;

/// A device environment.
#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum EnvironmentDto {
    Lab,
    Staging,
    Prod,
}

impl From<EnvironmentDto> for Environment {
    fn from(e: EnvironmentDto) -> Self {
        match e {
            EnvironmentDto::Lab => Environment::Lab,
            EnvironmentDto::Staging => Environment::Staging,
            EnvironmentDto::Prod => Environment::Prod,
        }
    }
}

impl From<Environment> for EnvironmentDto {
    fn from(e: Environment) -> Self {
        match e {
            Environment::Lab => EnvironmentDto::Lab,
            Environment::Staging => EnvironmentDto::Staging,
            Environment::Prod => EnvironmentDto::Prod,
        }
    }
}

pub fn envs_in(v: Option<Vec<EnvironmentDto>>) -> Option<Vec<Environment>> {
    v.map(|v| v.into_iter().map(Into::into).collect())
}

pub fn envs_out(v: Option<Vec<Environment>>) -> Option<Vec<EnvironmentDto>> {
    v.map(|v| v.into_iter().map(Into::into).collect())
}

/// The level of the hierarchy a scope names.
#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum ScopeKind {
    Tenant,
    Division,
    Group,
    Team,
}

/// A node of the tenant hierarchy.
#[derive(Debug, Clone, Object)]
pub struct ScopeRef {
    #[oai(rename = "type")]
    pub kind: ScopeKind,
    pub id: Uuid,
}

impl From<ScopeRef> for Scope {
    fn from(s: ScopeRef) -> Self {
        match s.kind {
            ScopeKind::Tenant => Scope::Tenant(s.id.into()),
            ScopeKind::Division => Scope::Division(s.id.into()),
            ScopeKind::Group => Scope::Group(s.id.into()),
            ScopeKind::Team => Scope::Team(s.id.into()),
        }
    }
}

impl From<Scope> for ScopeRef {
    fn from(s: Scope) -> Self {
        let kind = match s {
            Scope::Tenant(_) => ScopeKind::Tenant,
            Scope::Division(_) => ScopeKind::Division,
            Scope::Group(_) => ScopeKind::Group,
            Scope::Team(_) => ScopeKind::Team,
        };
        ScopeRef { kind, id: s.uuid() }
    }
}

/// A name, for creating or renaming.
#[derive(Debug, Object)]
pub struct NameBody {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
}

/// Checks that a scope names a node of the kind it says, in the caller's tenant.
pub async fn check_scope(state: &AppState, gate: &Gate, scope: Scope) -> Result<(), ApiError> {
    let kind = match scope {
        Scope::Tenant(t) => return gate.same_tenant(t).await,
        Scope::Division(_) => UnitKind::Division,
        Scope::Group(_) => UnitKind::Group,
        Scope::Team(_) => UnitKind::Team,
    };
    match state.tenancy.repo().unit(scope.uuid()).await? {
        Some(u) if u.kind == kind => gate.same_tenant(u.tenant_id).await,
        _ => Err(ApiError::invalid(
            "scope.id",
            format!("must name an existing {}", kind.as_str()),
        )),
    }
}

/// Turns a service result into the reply; a change a delegation rule
/// refused is recorded as a denial of `perm` on `resource`.
pub async fn settled<T>(
    gate: &Gate,
    perm: P,
    resource: Resource,
    result: Result<T, rbac::RbacError>,
) -> Result<T, ApiError> {
    match result {
        Ok(v) => Ok(v),
        Err(rbac::RbacError::Delegation(d)) => Err(gate.refuse(perm, resource, d).await),
        Err(e) => Err(e.into()),
    }
}

/// A custom role of another tenant is refused as cross-tenant, like any other resource.
pub async fn role_tenant_check(state: &AppState, gate: &Gate, id: RoleId) -> Result<(), ApiError> {
    match state.rbac.repo().role(id).await? {
        Some(rbac::Role {
            tenant_id: Some(t), ..
        }) => gate.same_tenant(t).await,
        _ => Ok(()),
    }
}
