//! Roles, role bindings, device scopes and authorization checks.

use super::id::Id;
use super::models::*;
use super::{ApiResult, Created, Deleted, Gate, Tag};
use crate::http::problem::ApiError;
use crate::state::AppState;
use kernel::{BindingId, DeviceScopeId, RoleId, UserId};
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use rbac::engine::Outcome;
use rbac::{Decision, DeviceScopeTarget, Grant, Permission as P, PermissionSet, Resource};
use tenancy::{Scope, UnitKind};
use uuid::Uuid;

pub struct AccessApi {
    pub state: AppState,
}

/// Parses permission names, naming the first unknown one.
fn permission_set(names: &[String]) -> ApiResult<PermissionSet> {
    names
        .iter()
        .map(|n| {
            P::parse(n).ok_or_else(|| {
                ApiError::invalid("permissions", format!("unknown permission `{n}`"))
            })
        })
        .collect()
}

/// Checks that a scope names a node of the kind it says, in the caller's tenant.
pub async fn check_scope(state: &AppState, gate: &Gate, scope: Scope) -> ApiResult<()> {
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
) -> ApiResult<T> {
    match result {
        Ok(v) => Ok(v),
        Err(rbac::RbacError::Delegation(d)) => Err(gate.refuse(perm, resource, d).await),
        Err(e) => Err(e.into()),
    }
}

impl AccessApi {
    /// A custom role of another tenant is refused as cross-tenant, like any other resource.
    async fn role_tenant_check(&self, gate: &Gate, id: RoleId) -> ApiResult<()> {
        match self.state.rbac.repo().role(id).await? {
            Some(rbac::Role {
                tenant_id: Some(t), ..
            }) => gate.same_tenant(t).await,
            _ => Ok(()),
        }
    }
}

#[OpenApi(tag = "Tag::Access")]
impl AccessApi {
    /// List the built-in roles and the tenant's custom roles.
    #[oai(path = "/roles", method = "get", operation_id = "listRoles")]
    async fn list_roles(
        &self,
        gate: Gate,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<RolePage>> {
        gate.authenticated().await?;
        let roles = self.state.rbac.roles(gate.tenant()).await?;
        Ok(Json(
            Paging {
                after: after.0,
                limit: limit.0,
            }
            .request()
            .paginate(roles.into_iter().map(RoleDto::from), |r| r.id)
            .into(),
        ))
    }

    /// Create a custom role.
    #[oai(path = "/roles", method = "post", operation_id = "createRole")]
    async fn create_role(&self, gate: Gate, body: Json<NewRole>) -> ApiResult<Created<RoleDto>> {
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
        Ok(Created::Created(Json(role.into())))
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
    ) -> ApiResult<Json<RoleDto>> {
        self.role_tenant_check(&gate, role_id.0.get()).await?;
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
    async fn delete_role(&self, gate: Gate, role_id: Path<Id<RoleId>>) -> ApiResult<Deleted> {
        self.role_tenant_check(&gate, role_id.0.get()).await?;
        gate.authorize(P::RoleManage, Resource::Tenant(gate.tenant()))
            .await?;
        self.state
            .rbac
            .delete_role(gate.tenant(), role_id.0.get())
            .await?;
        Ok(Deleted::Deleted)
    }

    /// Bind a user to a role at a scope (optionally only in some environments).
    #[oai(
        path = "/role-bindings",
        method = "post",
        operation_id = "createRoleBinding"
    )]
    async fn bind(&self, gate: Gate, body: Json<NewBinding>) -> ApiResult<Created<BindingDto>> {
        let b = body.0;
        let scope: Scope = b.scope.into();
        check_scope(&self.state, &gate, scope).await?;
        self.role_tenant_check(&gate, RoleId::from_uuid(b.role_id))
            .await?;
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
        Ok(Created::Created(Json(binding.into())))
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
    ) -> ApiResult<Json<BindingPage>> {
        let index = gate.authorize_list(P::UserRead).await?;
        let all = self.state.rbac.repo().bindings(gate.tenant()).await?;
        let visible = all
            .into_iter()
            .filter(|b| gate.visible(&index, P::UserRead, Resource::User(b.user_id)));
        Ok(Json(
            Paging {
                after: after.0,
                limit: limit.0,
            }
            .request()
            .paginate(visible.map(BindingDto::from), |b| b.id)
            .into(),
        ))
    }

    /// Remove a role binding.
    #[oai(
        path = "/role-bindings/:binding_id",
        method = "delete",
        operation_id = "deleteRoleBinding"
    )]
    async fn unbind(&self, gate: Gate, binding_id: Path<Id<BindingId>>) -> ApiResult<Deleted> {
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
        Ok(Deleted::Deleted)
    }

    /// Narrow a user's tool use to a device or device group (seed 000 issue 6).
    #[oai(
        path = "/device-scopes",
        method = "post",
        operation_id = "grantDeviceScope"
    )]
    async fn grant(
        &self,
        gate: Gate,
        body: Json<NewDeviceScope>,
    ) -> ApiResult<Created<DeviceScopeDto>> {
        let b = body.0;
        let (target, resource) = match (b.device_id, b.device_group_id) {
            (Some(d), None) => (
                DeviceScopeTarget::Device(d.into()),
                Resource::Device(d.into()),
            ),
            (None, Some(g)) => (
                DeviceScopeTarget::DeviceGroup(g.into()),
                Resource::DeviceGroup(g.into()),
            ),
            _ => {
                return Err(ApiError::invalid(
                    "device_id",
                    "give exactly one of device_id and device_group_id",
                ));
            }
        };
        let user = UserId::from_uuid(b.user_id);
        gate.authorize(P::UserUpdate, Resource::User(user)).await?;
        gate.authorize(P::DeviceRead, resource).await?;
        let index = self.state.authz.index(gate.tenant()).await?;
        let granted = self
            .state
            .rbac
            .grant_device_scope(&index, gate.who.user_id, user, target)
            .await;
        let scope = settled(&gate, P::UserUpdate, Resource::User(user), granted).await?;
        Ok(Created::Created(Json(scope.into())))
    }

    /// List device scope grants, of one user or of every user the caller may see.
    #[oai(
        path = "/device-scopes",
        method = "get",
        operation_id = "listDeviceScopes"
    )]
    async fn list_scopes(
        &self,
        gate: Gate,
        user_id: Query<Option<Uuid>>,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<DeviceScopePage>> {
        let index = match user_id.0 {
            Some(u) => {
                gate.authorize(P::UserRead, Resource::User(u.into()))
                    .await?;
                self.state.authz.index(gate.tenant()).await?
            }
            None => gate.authorize_list(P::UserRead).await?,
        };
        let all = self
            .state
            .rbac
            .repo()
            .device_scopes(gate.tenant(), user_id.0.map(Into::into))
            .await?;
        let visible = all
            .into_iter()
            .filter(|s| gate.visible(&index, P::UserRead, Resource::User(s.user_id)));
        Ok(Json(
            Paging {
                after: after.0,
                limit: limit.0,
            }
            .request()
            .paginate(visible.map(DeviceScopeDto::from), |s| s.id)
            .into(),
        ))
    }

    /// Revoke a device scope grant.
    #[oai(
        path = "/device-scopes/:scope_id",
        method = "delete",
        operation_id = "revokeDeviceScope"
    )]
    async fn revoke(&self, gate: Gate, scope_id: Path<Id<DeviceScopeId>>) -> ApiResult<Deleted> {
        let id = scope_id.0.get();
        let s = self
            .state
            .rbac
            .repo()
            .device_scope(id)
            .await?
            .ok_or_else(|| ApiError::not_found("device scope"))?;
        gate.same_tenant(s.tenant_id).await?;
        let user = Resource::User(s.user_id);
        gate.authorize(P::UserUpdate, user).await?;
        let index = self.state.authz.index(gate.tenant()).await?;
        let revoked = self
            .state
            .rbac
            .revoke_device_scope(&index, gate.who.user_id, &s)
            .await;
        settled(&gate, P::UserUpdate, user, revoked).await?;
        Ok(Deleted::Deleted)
    }

    /// Ask whether a user (the caller by default) may use a permission on a
    /// resource, and why. Asking about another user needs `user:read` on them.
    #[oai(
        path = "/authz/check",
        method = "post",
        operation_id = "checkAuthorization"
    )]
    async fn check(&self, gate: Gate, body: Json<AuthzCheck>) -> ApiResult<Json<AuthzAnswer>> {
        let b = body.0;
        let perm = P::parse(&b.permission).ok_or_else(|| {
            ApiError::invalid(
                "permission",
                format!("unknown permission `{}`", b.permission),
            )
        })?;
        let mut subject = gate.who.clone();
        match b.user_id {
            Some(u) if u != gate.who.user_id.uuid() => {
                gate.authorize(P::UserRead, Resource::User(u.into()))
                    .await?;
                let user = self.state.tenancy.user(u.into()).await?;
                subject.user_id = user.id;
                subject.email = user.email;
                subject.platform_admin = user.platform_admin;
            }
            _ => gate.authenticated().await?,
        }
        let decision = match self
            .state
            .authz
            .decide(&subject, perm, b.resource.clone().into())
            .await?
        {
            Outcome::Decided(d) => d,
            Outcome::NotFound => return Err(ApiError::not_found("resource")),
        };
        let (binding_id, role_id) = match decision {
            Decision::Allow(Grant::Binding {
                binding_id,
                role_id,
            }) => (Some(binding_id.uuid()), Some(role_id.uuid())),
            _ => (None, None),
        };
        Ok(Json(AuthzAnswer {
            allowed: decision.is_allowed(),
            code: match decision {
                Decision::Allow(_) => "allow".into(),
                Decision::Deny(r) => r.code().into(),
            },
            reason: decision.reason_text(),
            binding_id,
            role_id,
        }))
    }
}
