//! Roles: the built-in catalogue and a tenant's custom roles.

use super::common::{role_tenant_check, settled};
use super::failure;
use super::id::Id;
use super::page::{Paging, page};
use super::{ApiResult, Creation, Deletion, Gate, Tag};
use crate::http::problem::ApiError;
use crate::state::AppState;
use kernel::RoleId;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use rbac::{Permission as P, PermissionSet, Resource};
use uuid::Uuid;

/// The operations on roles.
pub struct RolesApi {
    pub state: AppState,
}

/// A role.
#[derive(Debug, Object)]
pub struct RoleDto {
    pub id: Uuid,
    pub name: String,
    pub builtin: bool,
    pub permissions: Vec<String>,
}

impl From<rbac::Role> for RoleDto {
    fn from(r: rbac::Role) -> Self {
        Self {
            id: r.id.uuid(),
            name: r.name,
            builtin: r.builtin,
            permissions: r
                .permissions
                .to_vec()
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
        }
    }
}

page!(RolePage, RoleDto);

/// A new custom role.
#[derive(Debug, Object)]
pub struct NewRole {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
    #[oai(validator(max_items = 64))]
    pub permissions: Vec<String>,
}

/// Changes to a custom role.
#[derive(Debug, Object)]
pub struct RolePatch {
    #[oai(skip_serializing_if_is_none, validator(max_length = 200))]
    pub name: Option<String>,
    #[oai(skip_serializing_if_is_none, validator(max_items = 64))]
    pub permissions: Option<Vec<String>>,
}

/// Parses permission names, naming the first unknown one.
fn permission_set(names: &[String]) -> Result<PermissionSet, ApiError> {
    names
        .iter()
        .map(|n| {
            P::parse(n).ok_or_else(|| {
                ApiError::invalid("permissions", format!("unknown permission `{n}`"))
            })
        })
        .collect()
}

#[OpenApi(tag = "Tag::Access")]
impl RolesApi {
    /// List the built-in roles and the tenant's custom roles.
    #[oai(path = "/roles", method = "get", operation_id = "listRoles")]
    async fn list_roles(
        &self,
        gate: Gate,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<RolePage>, failure::List> {
        gate.authenticated().await?;
        let roles = self.state.rbac.roles(gate.tenant()).await?;
        Ok(Paging::new(after.0, limit.0).page(roles))
    }

    /// Create a custom role.
    #[oai(path = "/roles", method = "post", operation_id = "createRole")]
    async fn create_role(
        &self,
        gate: Gate,
        body: Json<NewRole>,
    ) -> ApiResult<Creation<RoleDto>, failure::Create> {
        let at = Resource::Tenant(gate.tenant());
        gate.authorize(P::RoleManage, at).await?;
        let perms = permission_set(&body.0.permissions)?;
        let index = self.state.authz.index(gate.tenant()).await?;
        let created = self
            .state
            .rbac
            .create_role(&index, gate.who.user_id, &body.0.name, perms)
            .await;
        let role = settled(&gate, P::RoleManage, at, created).await?;
        Ok(Creation::Created(Json(role.into())))
    }

    /// Rename a custom role or replace its permissions.
    #[oai(
        path = "/roles/:role_id",
        method = "patch",
        operation_id = "updateRole"
    )]
    async fn update_role(
        &self,
        gate: Gate,
        role_id: Path<Id<RoleId>>,
        body: Json<RolePatch>,
    ) -> ApiResult<Json<RoleDto>, failure::Update> {
        role_tenant_check(&self.state, &gate, role_id.0.get()).await?;
        gate.authorize(P::RoleManage, Resource::Tenant(gate.tenant()))
            .await?;
        let perms = body
            .0
            .permissions
            .as_deref()
            .map(permission_set)
            .transpose()?;
        let index = self.state.authz.index(gate.tenant()).await?;
        let updated = self
            .state
            .rbac
            .update_role(
                &index,
                gate.who.user_id,
                role_id.0.get(),
                body.0.name.as_deref(),
                perms,
            )
            .await;
        let role = settled(
            &gate,
            P::RoleManage,
            Resource::Tenant(gate.tenant()),
            updated,
        )
        .await?;
        Ok(Json(role.into()))
    }

    /// Delete a custom role no binding or open invitation uses.
    #[oai(
        path = "/roles/:role_id",
        method = "delete",
        operation_id = "deleteRole"
    )]
    async fn delete_role(
        &self,
        gate: Gate,
        role_id: Path<Id<RoleId>>,
    ) -> ApiResult<Deletion, failure::Delete> {
        role_tenant_check(&self.state, &gate, role_id.0.get()).await?;
        gate.authorize(P::RoleManage, Resource::Tenant(gate.tenant()))
            .await?;
        self.state
            .rbac
            .delete_role(gate.tenant(), role_id.0.get())
            .await?;
        Ok(Deletion::Deleted)
    }
}
