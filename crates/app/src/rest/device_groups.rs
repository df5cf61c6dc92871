//! Device groups: tenant-wide sets of devices, reached by device scopes.

use super::device_scopes::revokes_scopes;
use super::failure;
use super::id::Id;
use super::page::{Paging, page};
use super::{ApiResult, Creation, Deletion, Gate, Tag};
use crate::state::AppState;
use kernel::{DeviceGroupId, DeviceId};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use rbac::{Permission as P, Resource};
use time::OffsetDateTime;
use uuid::Uuid;

/// The operations on device groups.
pub struct DeviceGroupsApi {
    pub state: AppState,
}

/// A device group.
#[derive(Debug, Object)]
pub struct DeviceGroupDto {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub device_ids: Vec<Uuid>,
    pub created_at: OffsetDateTime,
}

impl From<tenancy::DeviceGroup> for DeviceGroupDto {
    fn from(g: tenancy::DeviceGroup) -> Self {
        Self {
            id: g.id.uuid(),
            tenant_id: g.tenant_id.uuid(),
            name: g.name,
            device_ids: g.device_ids.into_iter().map(|d| d.uuid()).collect(),
            created_at: g.created_at,
        }
    }
}

page!(DeviceGroupPage, DeviceGroupDto);

/// A new device group.
#[derive(Debug, Object)]
pub struct NewDeviceGroup {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
    #[oai(default, validator(max_items = 10000))]
    pub device_ids: Vec<Uuid>,
}

/// Changes to a device group.
#[derive(Debug, Object)]
pub struct DeviceGroupPatch {
    #[oai(skip_serializing_if_is_none, validator(max_length = 200))]
    pub name: Option<String>,
    #[oai(skip_serializing_if_is_none, validator(max_items = 10000))]
    pub device_ids: Option<Vec<Uuid>>,
}

#[OpenApi(tag = "Tag::Inventory")]
impl DeviceGroupsApi {
    /// Create a device group (tenant-wide).
    #[oai(
        path = "/device-groups",
        method = "post",
        operation_id = "createDeviceGroup"
    )]
    async fn create_group(
        &self,
        gate: Gate,
        body: Json<NewDeviceGroup>,
    ) -> ApiResult<Creation<DeviceGroupDto>, failure::Create> {
        gate.ids_in_tenant(&body.0.device_ids).await?;
        gate.authorize(P::DeviceUpdate, Resource::Tenant(gate.tenant()))
            .await?;
        let ids = body.0.device_ids.into_iter().map(Into::into).collect();
        let g = self
            .state
            .tenancy
            .create_device_group(gate.tenant(), &body.0.name, ids)
            .await?;
        Ok(Creation::Created(Json(g.into())))
    }

    /// List device groups.
    #[oai(
        path = "/device-groups",
        method = "get",
        operation_id = "listDeviceGroups"
    )]
    async fn list_groups(
        &self,
        gate: Gate,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<DeviceGroupPage>, failure::List> {
        Paging::new(after.0, limit.0)
            .visible(
                &gate,
                P::DeviceRead,
                self.state.tenancy.repo().device_groups(gate.tenant()),
                |g| Resource::DeviceGroup(g.id),
            )
            .await
            .map_err(Into::into)
    }

    /// Get a device group.
    #[oai(
        path = "/device-groups/:group_id",
        method = "get",
        operation_id = "getDeviceGroup"
    )]
    async fn get_group(
        &self,
        gate: Gate,
        group_id: Path<Id<DeviceGroupId>>,
    ) -> ApiResult<Json<DeviceGroupDto>, failure::Read> {
        gate.authorize(P::DeviceRead, Resource::DeviceGroup(group_id.0.get()))
            .await?;
        Ok(Json(
            self.state
                .tenancy
                .device_group(group_id.0.get())
                .await?
                .into(),
        ))
    }

    /// Rename a device group or replace its members. A device added joins
    /// the device scope of everyone narrowed through the group, so adding
    /// one is a device scope grant to each of them: it needs `user:update`
    /// on them, is never done by one of them, and a narrowed caller adds
    /// only devices inside its own device scope.
    #[oai(
        path = "/device-groups/:group_id",
        method = "patch",
        operation_id = "updateDeviceGroup"
    )]
    async fn update_group(
        &self,
        gate: Gate,
        group_id: Path<Id<DeviceGroupId>>,
        body: Json<DeviceGroupPatch>,
    ) -> ApiResult<Json<DeviceGroupDto>, failure::Update> {
        let id = group_id.0.get();
        if let Some(ids) = &body.0.device_ids {
            gate.ids_in_tenant(ids).await?;
        }
        gate.authorize(P::DeviceUpdate, Resource::DeviceGroup(id))
            .await?;
        let ids: Option<Vec<DeviceId>> = body
            .0
            .device_ids
            .map(|v| v.into_iter().map(Into::into).collect());
        if let Some(members) = &ids {
            let index = self.state.authz.index(gate.tenant()).await?;
            for user in index.widened_by(id, members) {
                gate.authorize(P::UserUpdate, Resource::User(user)).await?;
            }
            if let Err(refusal) =
                rbac::delegation::device_group_change(&index, gate.who.user_id, id, members)
            {
                return Err(gate
                    .refuse(P::DeviceUpdate, Resource::DeviceGroup(id), refusal)
                    .await
                    .into());
            }
        }
        Ok(Json(
            self.state
                .tenancy
                .update_device_group(id, body.0.name.as_deref(), ids)
                .await?
                .into(),
        ))
    }

    /// Delete a device group and the device scope grants that name it.
    /// Refused (409) while it is the only device scope grant of some user,
    /// since deleting it would lift that user's device scope; where it is
    /// named next to other grants, deleting it revokes those grants and
    /// needs `user:update` on their users and a caller without a device
    /// scope.
    #[oai(
        path = "/device-groups/:group_id",
        method = "delete",
        operation_id = "deleteDeviceGroup"
    )]
    async fn delete_group(
        &self,
        gate: Gate,
        group_id: Path<Id<DeviceGroupId>>,
    ) -> ApiResult<Deletion, failure::Delete> {
        let id = group_id.0.get();
        gate.authorize(P::DeviceDelete, Resource::DeviceGroup(id))
            .await?;
        revokes_scopes(
            &gate,
            Resource::DeviceGroup(id),
            rbac::DeviceScopeTarget::DeviceGroup(id),
        )
        .await?;
        self.state.tenancy.repo().delete_device_group(id).await?;
        Ok(Deletion::Deleted)
    }
}
