//! Device scopes: grants that narrow a user to some devices, sites or
//! device groups.

use super::common::settled;
use super::failure;
use super::id::Id;
use super::page::{Paging, page};
use super::{ApiResult, Creation, Deletion, Gate, Tag};
use crate::http::problem::ApiError;
use crate::state::AppState;
use kernel::{DeviceScopeId, UserId};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use rbac::{DeviceScopeTarget, Permission as P, Resource};
use time::OffsetDateTime;
use uuid::Uuid;

/// The operations on device scope grants.
pub struct DeviceScopesApi {
    pub state: AppState,
}

/// A device scope grant.
#[derive(Debug, Object)]
pub struct DeviceScopeDto {
    pub id: Uuid,
    pub user_id: Uuid,
    #[oai(skip_serializing_if_is_none)]
    pub device_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub device_group_id: Option<Uuid>,
    pub granted_by: Uuid,
    pub created_at: OffsetDateTime,
}

impl From<rbac::DeviceScope> for DeviceScopeDto {
    fn from(s: rbac::DeviceScope) -> Self {
        let (device_id, device_group_id) = match s.target {
            rbac::DeviceScopeTarget::Device(d) => (Some(d.uuid()), None),
            rbac::DeviceScopeTarget::DeviceGroup(g) => (None, Some(g.uuid())),
        };
        Self {
            id: s.id.uuid(),
            user_id: s.user_id.uuid(),
            device_id,
            device_group_id,
            granted_by: s.granted_by.uuid(),
            created_at: s.created_at,
        }
    }
}

page!(DeviceScopePage, DeviceScopeDto);

/// A new device scope grant: exactly one of `device_id` and `device_group_id`.
#[derive(Debug, Object)]
pub struct NewDeviceScope {
    pub user_id: Uuid,
    #[oai(skip_serializing_if_is_none)]
    pub device_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub device_group_id: Option<Uuid>,
}

/// Deleting a device or device group deletes the device scope grants that
/// name `target`, which is revoking them: `user:update` on each of their
/// users (the gate), then [`rbac::delegation::device_scope_target_deletion`]
/// (no device scope lapses, the caller is not narrowed and not one of them).
/// Refusals are recorded as denials of `device:delete` on `resource`. The
/// store refuses again, in the deleting transaction, to delete the last
/// grant of a user.
pub(super) async fn revokes_scopes(
    gate: &Gate,
    resource: Resource,
    target: rbac::DeviceScopeTarget,
) -> Result<(), ApiError> {
    let index = gate.tenant_index().await?;
    for user in index.narrowed_by(target) {
        gate.authorize(P::UserUpdate, Resource::User(user)).await?;
    }
    if let Err(refusal) =
        rbac::delegation::device_scope_target_deletion(&index, gate.who.user_id, target)
    {
        return Err(gate.refuse(P::DeviceDelete, resource, refusal).await);
    }
    Ok(())
}

#[OpenApi(tag = "Tag::Access")]
impl DeviceScopesApi {
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
    ) -> ApiResult<Creation<DeviceScopeDto>, failure::Create> {
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
                )
                .into());
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
        Ok(Creation::Created(Json(scope.into())))
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
    ) -> ApiResult<Json<DeviceScopePage>, failure::Read> {
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
        Paging::new(after.0, limit.0)
            .visible_in(&gate, &index, P::UserRead, all, |s| {
                Resource::User(s.user_id)
            })
            .map_err(Into::into)
    }

    /// Revoke a device scope grant.
    #[oai(
        path = "/device-scopes/:scope_id",
        method = "delete",
        operation_id = "revokeDeviceScope"
    )]
    async fn revoke(
        &self,
        gate: Gate,
        scope_id: Path<Id<DeviceScopeId>>,
    ) -> ApiResult<Deletion, failure::Delete> {
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
        Ok(Deletion::Deleted)
    }
}
