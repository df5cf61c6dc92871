//! Role bindings: a user holds a role over a scope of the hierarchy.

use super::common::{
    EnvironmentDto, ScopeRef, check_scope, envs_in, envs_out, role_tenant_check, settled,
};
use super::failure;
use super::id::Id;
use super::page::{Paging, page};
use super::{ApiResult, Creation, Deletion, Gate, Tag};
use crate::http::problem::ApiError;
use crate::state::AppState;
use kernel::{BindingId, RoleId};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use rbac::{Permission as P, Resource};
use tenancy::Scope;
use time::OffsetDateTime;
use uuid::Uuid;

/// The operations on role bindings.
pub struct RoleBindingsApi {
    pub state: AppState,
}

/// A role binding.
#[derive(Debug, Object)]
pub struct BindingDto {
    pub id: Uuid,
    pub user_id: Uuid,
    pub role_id: Uuid,
    pub scope: ScopeRef,
    #[oai(skip_serializing_if_is_none)]
    pub environments: Option<Vec<EnvironmentDto>>,
    pub created_at: OffsetDateTime,
}

impl From<rbac::RoleBinding> for BindingDto {
    fn from(b: rbac::RoleBinding) -> Self {
        Self {
            id: b.id.uuid(),
            user_id: b.user_id.uuid(),
            role_id: b.role_id.uuid(),
            scope: b.scope.into(),
            environments: envs_out(b.environments),
            created_at: b.created_at,
        }
    }
}

page!(BindingPage, BindingDto);

/// A new role binding.
#[derive(Debug, Object)]
pub struct NewBinding {
    pub user_id: Uuid,
    pub role_id: Uuid,
    pub scope: ScopeRef,
    #[oai(skip_serializing_if_is_none)]
    pub environments: Option<Vec<EnvironmentDto>>,
}

#[OpenApi(tag = "Tag::Access")]
impl RoleBindingsApi {
    /// Bind a user to a role at a scope (optionally only in some environments).
    #[oai(
        path = "/role-bindings",
        method = "post",
        operation_id = "createRoleBinding"
    )]
    async fn bind(
        &self,
        gate: Gate,
        body: Json<NewBinding>,
    ) -> ApiResult<Creation<BindingDto>, failure::Create> {
        let b = body.0;
        let scope: Scope = b.scope.into();
        check_scope(&self.state, &gate, scope).await?;
        role_tenant_check(&self.state, &gate, RoleId::from_uuid(b.role_id)).await?;
        gate.authorize(P::UserRead, Resource::User(b.user_id.into()))
            .await?;
        gate.authorize(P::RoleManage, Resource::from_scope(scope))
            .await?;
        let index = self.state.authz.index(gate.tenant()).await?;
        let bound = self
            .state
            .rbac
            .bind(
                &index,
                gate.who.user_id,
                b.user_id.into(),
                b.role_id.into(),
                scope,
                envs_in(b.environments),
            )
            .await;
        let binding = settled(&gate, P::RoleManage, Resource::from_scope(scope), bound).await?;
        Ok(Creation::Created(Json(binding.into())))
    }

    /// List the role bindings of users the caller may see.
    #[oai(
        path = "/role-bindings",
        method = "get",
        operation_id = "listRoleBindings"
    )]
    async fn list_bindings(
        &self,
        gate: Gate,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<BindingPage>, failure::List> {
        Paging::new(after.0, limit.0)
            .visible(
                &gate,
                P::UserRead,
                self.state.rbac.repo().bindings(gate.tenant()),
                |b| Resource::User(b.user_id),
            )
            .await
            .map_err(Into::into)
    }

    /// Remove a role binding.
    #[oai(
        path = "/role-bindings/:binding_id",
        method = "delete",
        operation_id = "deleteRoleBinding"
    )]
    async fn unbind(
        &self,
        gate: Gate,
        binding_id: Path<Id<BindingId>>,
    ) -> ApiResult<Deletion, failure::Delete> {
        let id = binding_id.0.get();
        let b = self
            .state
            .rbac
            .repo()
            .binding(id)
            .await?
            .ok_or_else(|| ApiError::not_found("role binding"))?;
        gate.same_tenant(b.tenant_id).await?;
        gate.authorize(P::RoleManage, Resource::from_scope(b.scope))
            .await?;
        // Taking a binding away is a change to its user: only someone who
        // outranks the user may make it.
        let user = Resource::User(b.user_id);
        gate.authorize(P::RoleManage, user).await?;
        let index = self.state.authz.index(gate.tenant()).await?;
        let unbound = self.state.rbac.unbind(&index, id).await;
        settled(&gate, P::RoleManage, user, unbound).await?;
        Ok(Deletion::Deleted)
    }
}
