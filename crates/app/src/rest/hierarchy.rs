//! Tenants, divisions, groups and teams.

use super::id::Id;
use super::models::*;
use super::{ApiResult, Created, Deleted, Gate, Tag};
use crate::http::problem::ApiError;
use crate::state::AppState;
use kernel::{DivisionId, GroupId, TeamId, TenantId};
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use rbac::{Permission as P, Resource};
use tenancy::UnitKind;
use uuid::Uuid;

pub struct HierarchyApi {
    pub state: AppState,
}

/// The permissions of each unit level.
fn perms(kind: UnitKind) -> [P; 4] {
    match kind {
        UnitKind::Division => [
            P::DivisionCreate,
            P::DivisionRead,
            P::DivisionUpdate,
            P::DivisionDelete,
        ],
        UnitKind::Group => [P::GroupCreate, P::GroupRead, P::GroupUpdate, P::GroupDelete],
        UnitKind::Team => [P::TeamCreate, P::TeamRead, P::TeamUpdate, P::TeamDelete],
    }
}

impl HierarchyApi {
    async fn create_unit(
        &self,
        gate: &Gate,
        kind: UnitKind,
        parent: Uuid,
        name: &str,
    ) -> ApiResult<Created<UnitDto>> {
        let target = if kind == UnitKind::Division {
            Resource::Tenant(parent.into())
        } else {
            Resource::Unit(parent)
        };
        gate.authorize(perms(kind)[0], target).await?;
        let unit = self
            .state
            .tenancy
            .create_unit(gate.tenant(), kind, parent, name)
            .await?;
        Ok(Created::Created(Json(unit.into())))
    }

    async fn list_units(
        &self,
        gate: &Gate,
        kind: UnitKind,
        paging: Paging,
    ) -> ApiResult<Json<UnitPage>> {
        let read = perms(kind)[1];
        let index = gate.authorize_list(read).await?;
        let units = self.state.tenancy.repo().units(gate.tenant()).await?;
        let visible = units
            .into_iter()
            .filter(|u| u.kind == kind && gate.visible(&index, read, Resource::Unit(u.id)));
        Ok(Json(
            paging
                .request()
                .paginate(visible.map(UnitDto::from), |u| u.id)
                .into(),
        ))
    }

    async fn get_unit(&self, gate: &Gate, kind: UnitKind, id: Uuid) -> ApiResult<Json<UnitDto>> {
        gate.authorize(perms(kind)[1], Resource::Unit(id)).await?;
        Ok(Json(self.state.tenancy.unit(kind, id).await?.into()))
    }

    async fn rename_unit(
        &self,
        gate: &Gate,
        kind: UnitKind,
        id: Uuid,
        name: &str,
    ) -> ApiResult<Json<UnitDto>> {
        gate.authorize(perms(kind)[2], Resource::Unit(id)).await?;
        Ok(Json(
            self.state.tenancy.rename_unit(kind, id, name).await?.into(),
        ))
    }

    async fn delete_unit(&self, gate: &Gate, kind: UnitKind, id: Uuid) -> ApiResult<Deleted> {
        gate.authorize(perms(kind)[3], Resource::Unit(id)).await?;
        self.state.tenancy.delete_unit(kind, id).await?;
        Ok(Deleted::Deleted)
    }
}

#[OpenApi(tag = "Tag::Hierarchy")]
impl HierarchyApi {
    /// Create a tenant (platform administrators only).
    #[oai(path = "/tenants", method = "post", operation_id = "createTenant")]
    async fn create_tenant(
        &self,
        gate: Gate,
        body: Json<NameBody>,
    ) -> ApiResult<Created<TenantDto>> {
        gate.authorize(P::TenantCreate, Resource::Platform).await?;
        Ok(Created::Created(Json(
            self.state.tenancy.create_tenant(&body.0.name).await?.into(),
        )))
    }

    /// List tenants: every tenant for platform administrators, otherwise the caller's own.
    #[oai(path = "/tenants", method = "get", operation_id = "listTenants")]
    async fn list_tenants(
        &self,
        gate: Gate,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<TenantPage>> {
        let paging = Paging {
            after: after.0,
            limit: limit.0,
        };
        let tenants = if gate.who.platform_admin {
            gate.authorize(P::TenantCreate, Resource::Platform).await?;
            self.state.tenancy.repo().tenants().await?
        } else {
            gate.authorize(P::TenantRead, Resource::Tenant(gate.tenant()))
                .await?;
            self.state
                .tenancy
                .repo()
                .tenant(gate.tenant())
                .await?
                .into_iter()
                .collect()
        };
        Ok(Json(
            paging
                .request()
                .paginate(tenants.into_iter().map(TenantDto::from), |t| t.id)
                .into(),
        ))
    }

    /// Get a tenant.
    #[oai(
        path = "/tenants/:tenant_id",
        method = "get",
        operation_id = "getTenant"
    )]
    async fn get_tenant(
        &self,
        gate: Gate,
        tenant_id: Path<Id<TenantId>>,
    ) -> ApiResult<Json<TenantDto>> {
        gate.authorize(P::TenantRead, Resource::Tenant(tenant_id.0.get()))
            .await?;
        let t = self
            .state
            .tenancy
            .repo()
            .tenant(tenant_id.0.get())
            .await?
            .ok_or_else(|| ApiError::not_found("tenant"))?;
        Ok(Json(t.into()))
    }

    /// Rename a tenant.
    #[oai(
        path = "/tenants/:tenant_id",
        method = "patch",
        operation_id = "updateTenant"
    )]
    async fn update_tenant(
        &self,
        gate: Gate,
        tenant_id: Path<Id<TenantId>>,
        body: Json<NameBody>,
    ) -> ApiResult<Json<TenantDto>> {
        gate.authorize(P::TenantUpdate, Resource::Tenant(tenant_id.0.get()))
            .await?;
        Ok(Json(
            self.state
                .tenancy
                .rename_tenant(tenant_id.0.get(), &body.0.name)
                .await?
                .into(),
        ))
    }

    /// Create a division.
    #[oai(path = "/divisions", method = "post", operation_id = "createDivision")]
    async fn create_division(
        &self,
        gate: Gate,
        body: Json<NewDivision>,
    ) -> ApiResult<Created<UnitDto>> {
        if let Some(t) = body.0.tenant_id {
            gate.same_tenant(t.into()).await?;
        }
        let tenant = gate.tenant().uuid();
        self.create_unit(&gate, UnitKind::Division, tenant, &body.0.name)
            .await
    }

    /// List the divisions the caller may see.
    #[oai(path = "/divisions", method = "get", operation_id = "listDivisions")]
    async fn list_divisions(
        &self,
        gate: Gate,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<UnitPage>> {
        self.list_units(
            &gate,
            UnitKind::Division,
            Paging {
                after: after.0,
                limit: limit.0,
            },
        )
        .await
    }

    /// Get a division.
    #[oai(
        path = "/divisions/:division_id",
        method = "get",
        operation_id = "getDivision"
    )]
    async fn get_division(
        &self,
        gate: Gate,
        division_id: Path<Id<DivisionId>>,
    ) -> ApiResult<Json<UnitDto>> {
        self.get_unit(&gate, UnitKind::Division, division_id.0.get().uuid())
            .await
    }

    /// Rename a division.
    #[oai(
        path = "/divisions/:division_id",
        method = "patch",
        operation_id = "updateDivision"
    )]
    async fn update_division(
        &self,
        gate: Gate,
        division_id: Path<Id<DivisionId>>,
        body: Json<NameBody>,
    ) -> ApiResult<Json<UnitDto>> {
        self.rename_unit(
            &gate,
            UnitKind::Division,
            division_id.0.get().uuid(),
            &body.0.name,
        )
        .await
    }

    /// Delete an empty division.
    #[oai(
        path = "/divisions/:division_id",
        method = "delete",
        operation_id = "deleteDivision"
    )]
    async fn delete_division(
        &self,
        gate: Gate,
        division_id: Path<Id<DivisionId>>,
    ) -> ApiResult<Deleted> {
        self.delete_unit(&gate, UnitKind::Division, division_id.0.get().uuid())
            .await
    }

    /// Create a group in a division.
    #[oai(path = "/groups", method = "post", operation_id = "createGroup")]
    async fn create_group(&self, gate: Gate, body: Json<NewGroup>) -> ApiResult<Created<UnitDto>> {
        self.create_unit(&gate, UnitKind::Group, body.0.division_id, &body.0.name)
            .await
    }

    /// List the groups the caller may see.
    #[oai(path = "/groups", method = "get", operation_id = "listGroups")]
    async fn list_groups(
        &self,
        gate: Gate,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<UnitPage>> {
        self.list_units(
            &gate,
            UnitKind::Group,
            Paging {
                after: after.0,
                limit: limit.0,
            },
        )
        .await
    }

    /// Get a group.
    #[oai(path = "/groups/:group_id", method = "get", operation_id = "getGroup")]
    async fn get_group(&self, gate: Gate, group_id: Path<Id<GroupId>>) -> ApiResult<Json<UnitDto>> {
        self.get_unit(&gate, UnitKind::Group, group_id.0.get().uuid())
            .await
    }

    /// Rename a group.
    #[oai(
        path = "/groups/:group_id",
        method = "patch",
        operation_id = "updateGroup"
    )]
    async fn update_group(
        &self,
        gate: Gate,
        group_id: Path<Id<GroupId>>,
        body: Json<NameBody>,
    ) -> ApiResult<Json<UnitDto>> {
        self.rename_unit(
            &gate,
            UnitKind::Group,
            group_id.0.get().uuid(),
            &body.0.name,
        )
        .await
    }

    /// Delete an empty group.
    #[oai(
        path = "/groups/:group_id",
        method = "delete",
        operation_id = "deleteGroup"
    )]
    async fn delete_group(&self, gate: Gate, group_id: Path<Id<GroupId>>) -> ApiResult<Deleted> {
        self.delete_unit(&gate, UnitKind::Group, group_id.0.get().uuid())
            .await
    }

    /// Create a team in a group.
    #[oai(path = "/teams", method = "post", operation_id = "createTeam")]
    async fn create_team(&self, gate: Gate, body: Json<NewTeam>) -> ApiResult<Created<UnitDto>> {
        self.create_unit(&gate, UnitKind::Team, body.0.group_id, &body.0.name)
            .await
    }

    /// List the teams the caller may see.
    #[oai(path = "/teams", method = "get", operation_id = "listTeams")]
    async fn list_teams(
        &self,
        gate: Gate,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<UnitPage>> {
        self.list_units(
            &gate,
            UnitKind::Team,
            Paging {
                after: after.0,
                limit: limit.0,
            },
        )
        .await
    }

    /// Get a team.
    #[oai(path = "/teams/:team_id", method = "get", operation_id = "getTeam")]
    async fn get_team(&self, gate: Gate, team_id: Path<Id<TeamId>>) -> ApiResult<Json<UnitDto>> {
        self.get_unit(&gate, UnitKind::Team, team_id.0.get().uuid())
            .await
    }

    /// Rename a team.
    #[oai(
        path = "/teams/:team_id",
        method = "patch",
        operation_id = "updateTeam"
    )]
    async fn update_team(
        &self,
        gate: Gate,
        team_id: Path<Id<TeamId>>,
        body: Json<NameBody>,
    ) -> ApiResult<Json<UnitDto>> {
        self.rename_unit(&gate, UnitKind::Team, team_id.0.get().uuid(), &body.0.name)
            .await
    }

    /// Delete an empty team.
    #[oai(
        path = "/teams/:team_id",
        method = "delete",
        operation_id = "deleteTeam"
    )]
    async fn delete_team(&self, gate: Gate, team_id: Path<Id<TeamId>>) -> ApiResult<Deleted> {
        self.delete_unit(&gate, UnitKind::Team, team_id.0.get().uuid())
            .await
    }
}
