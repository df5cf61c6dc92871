//! Divisions, groups and teams: the levels of a tenant's hierarchy (org units),
//! which share one shape and differ in their permissions.

use super::common::NameBody;
use super::failure;
use super::id::Id;
use super::page::{Paging, page};
use super::{ApiResult, Creation, Deletion, Gate, Tag};
use crate::http::problem::ApiError;
use crate::state::AppState;
use kernel::{DivisionId, GroupId, TeamId};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use rbac::{Permission as P, Resource};
use tenancy::UnitKind;
use time::OffsetDateTime;
use uuid::Uuid;

/// The operations on divisions, groups and teams.
pub struct UnitsApi {
    pub state: AppState,
}

/// A division, group or team.
#[derive(Debug, Object)]
pub struct UnitDto {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The tenant (for a division), division (for a group) or group (for a team).
    pub parent_id: Uuid,
    pub name: String,
    pub created_at: OffsetDateTime,
}

impl From<tenancy::OrgUnit> for UnitDto {
    fn from(u: tenancy::OrgUnit) -> Self {
        Self {
            id: u.id,
            tenant_id: u.tenant_id.uuid(),
            parent_id: u.parent_id,
            name: u.name,
            created_at: u.created_at,
        }
    }
}

page!(UnitPage, UnitDto);

/// A new division.
#[derive(Debug, Object)]
pub struct NewDivision {
    /// Optional; when given it must be the caller's own tenant.
    #[oai(skip_serializing_if_is_none)]
    pub tenant_id: Option<Uuid>,
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
}

/// A new group.
#[derive(Debug, Object)]
pub struct NewGroup {
    pub division_id: Uuid,
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
}

/// A new team.
#[derive(Debug, Object)]
pub struct NewTeam {
    pub group_id: Uuid,
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
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

impl UnitsApi {
    async fn create_unit(
        &self,
        gate: &Gate,
        kind: UnitKind,
        parent: Uuid,
        name: &str,
    ) -> Result<Creation<UnitDto>, ApiError> {
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
        Ok(Creation::Created(Json(unit.into())))
    }

    async fn list_units(
        &self,
        gate: &Gate,
        kind: UnitKind,
        paging: Paging,
    ) -> Result<Json<UnitPage>, ApiError> {
        let read = perms(kind)[1];
        let units = async {
            let all = self.state.tenancy.repo().units(gate.tenant()).await?;
            Ok::<_, kernel::StoreError>(all.into_iter().filter(|u| u.kind == kind).collect())
        };
        paging
            .visible(gate, read, units, |u| Resource::Unit(u.id))
            .await
    }

    async fn get_unit(
        &self,
        gate: &Gate,
        kind: UnitKind,
        id: Uuid,
    ) -> Result<Json<UnitDto>, ApiError> {
        gate.authorize(perms(kind)[1], Resource::Unit(id)).await?;
        Ok(Json(self.state.tenancy.unit(kind, id).await?.into()))
    }

    async fn rename_unit(
        &self,
        gate: &Gate,
        kind: UnitKind,
        id: Uuid,
        name: &str,
    ) -> Result<Json<UnitDto>, ApiError> {
        gate.authorize(perms(kind)[2], Resource::Unit(id)).await?;
        Ok(Json(
            self.state.tenancy.rename_unit(kind, id, name).await?.into(),
        ))
    }

    async fn delete_unit(
        &self,
        gate: &Gate,
        kind: UnitKind,
        id: Uuid,
    ) -> Result<Deletion, ApiError> {
        gate.authorize(perms(kind)[3], Resource::Unit(id)).await?;
        self.state.tenancy.delete_unit(kind, id).await?;
        Ok(Deletion::Deleted)
    }
}

#[OpenApi(tag = "Tag::Hierarchy")]
impl UnitsApi {
    /// Create a division.
    #[oai(path = "/divisions", method = "post", operation_id = "createDivision")]
    async fn create_division(
        &self,
        gate: Gate,
        body: Json<NewDivision>,
    ) -> ApiResult<Creation<UnitDto>, failure::Create> {
        if let Some(t) = body.0.tenant_id {
            gate.same_tenant(t.into()).await?;
        }
        let tenant = gate.tenant().uuid();
        self.create_unit(&gate, UnitKind::Division, tenant, &body.0.name)
            .await
            .map_err(Into::into)
    }

    /// List the divisions the caller may see.
    #[oai(path = "/divisions", method = "get", operation_id = "listDivisions")]
    async fn list_divisions(
        &self,
        gate: Gate,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<UnitPage>, failure::List> {
        self.list_units(&gate, UnitKind::Division, Paging::new(after.0, limit.0))
            .await
            .map_err(Into::into)
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
    ) -> ApiResult<Json<UnitDto>, failure::Read> {
        self.get_unit(&gate, UnitKind::Division, division_id.0.get().uuid())
            .await
            .map_err(Into::into)
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
    ) -> ApiResult<Json<UnitDto>, failure::Update> {
        self.rename_unit(
            &gate,
            UnitKind::Division,
            division_id.0.get().uuid(),
            &body.0.name,
        )
        .await
        .map_err(Into::into)
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
    ) -> ApiResult<Deletion, failure::Delete> {
        self.delete_unit(&gate, UnitKind::Division, division_id.0.get().uuid())
            .await
            .map_err(Into::into)
    }

    /// Create a group in a division.
    #[oai(path = "/groups", method = "post", operation_id = "createGroup")]
    async fn create_group(
        &self,
        gate: Gate,
        body: Json<NewGroup>,
    ) -> ApiResult<Creation<UnitDto>, failure::Create> {
        self.create_unit(&gate, UnitKind::Group, body.0.division_id, &body.0.name)
            .await
            .map_err(Into::into)
    }

    /// List the groups the caller may see.
    #[oai(path = "/groups", method = "get", operation_id = "listGroups")]
    async fn list_groups(
        &self,
        gate: Gate,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<UnitPage>, failure::List> {
        self.list_units(&gate, UnitKind::Group, Paging::new(after.0, limit.0))
            .await
            .map_err(Into::into)
    }

    /// Get a group.
    #[oai(path = "/groups/:group_id", method = "get", operation_id = "getGroup")]
    async fn get_group(
        &self,
        gate: Gate,
        group_id: Path<Id<GroupId>>,
    ) -> ApiResult<Json<UnitDto>, failure::Read> {
        self.get_unit(&gate, UnitKind::Group, group_id.0.get().uuid())
            .await
            .map_err(Into::into)
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
    ) -> ApiResult<Json<UnitDto>, failure::Update> {
        self.rename_unit(
            &gate,
            UnitKind::Group,
            group_id.0.get().uuid(),
            &body.0.name,
        )
        .await
        .map_err(Into::into)
    }

    /// Delete an empty group.
    #[oai(
        path = "/groups/:group_id",
        method = "delete",
        operation_id = "deleteGroup"
    )]
    async fn delete_group(
        &self,
        gate: Gate,
        group_id: Path<Id<GroupId>>,
    ) -> ApiResult<Deletion, failure::Delete> {
        self.delete_unit(&gate, UnitKind::Group, group_id.0.get().uuid())
            .await
            .map_err(Into::into)
    }

    /// Create a team in a group.
    #[oai(path = "/teams", method = "post", operation_id = "createTeam")]
    async fn create_team(
        &self,
        gate: Gate,
        body: Json<NewTeam>,
    ) -> ApiResult<Creation<UnitDto>, failure::Create> {
        self.create_unit(&gate, UnitKind::Team, body.0.group_id, &body.0.name)
            .await
            .map_err(Into::into)
    }

    /// List the teams the caller may see.
    #[oai(path = "/teams", method = "get", operation_id = "listTeams")]
    async fn list_teams(
        &self,
        gate: Gate,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<UnitPage>, failure::List> {
        self.list_units(&gate, UnitKind::Team, Paging::new(after.0, limit.0))
            .await
            .map_err(Into::into)
    }

    /// Get a team.
    #[oai(path = "/teams/:team_id", method = "get", operation_id = "getTeam")]
    async fn get_team(
        &self,
        gate: Gate,
        team_id: Path<Id<TeamId>>,
    ) -> ApiResult<Json<UnitDto>, failure::Read> {
        self.get_unit(&gate, UnitKind::Team, team_id.0.get().uuid())
            .await
            .map_err(Into::into)
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
    ) -> ApiResult<Json<UnitDto>, failure::Update> {
        self.rename_unit(&gate, UnitKind::Team, team_id.0.get().uuid(), &body.0.name)
            .await
            .map_err(Into::into)
    }

    /// Delete an empty team.
    #[oai(
        path = "/teams/:team_id",
        method = "delete",
        operation_id = "deleteTeam"
    )]
    async fn delete_team(
        &self,
        gate: Gate,
        team_id: Path<Id<TeamId>>,
    ) -> ApiResult<Deletion, failure::Delete> {
        self.delete_unit(&gate, UnitKind::Team, team_id.0.get().uuid())
            .await
            .map_err(Into::into)
    }
}
