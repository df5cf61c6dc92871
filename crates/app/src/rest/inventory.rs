//! Sites, devices and device groups.

use super::id::Id;
use super::models::*;
use super::{ApiResult, Created, Deleted, Gate, Tag};
use crate::state::AppState;
use kernel::{DeviceGroupId, DeviceId, SiteId};
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use rbac::{Permission as P, Resource};
use uuid::Uuid;

pub struct InventoryApi {
    pub state: AppState,
}

#[OpenApi(tag = "Tag::Inventory")]
impl InventoryApi {
    /// Create a site owned by a team.
    #[oai(path = "/sites", method = "post", operation_id = "createSite")]
    async fn create_site(&self, gate: Gate, body: Json<NewSite>) -> ApiResult<Created<SiteDto>> {
        gate.authorize(P::SiteCreate, Resource::Unit(body.0.team_id))
            .await?;
        let site = self
            .state
            .tenancy
            .create_site(gate.tenant(), body.0.team_id.into(), &body.0.name)
            .await?;
        Ok(Created::Created(Json(site.into())))
    }

    /// List the sites the caller may see.
    #[oai(path = "/sites", method = "get", operation_id = "listSites")]
    async fn list_sites(
        &self,
        gate: Gate,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<SitePage>> {
        let index = gate.authorize_list(P::SiteRead).await?;
        let sites = self.state.tenancy.repo().sites(gate.tenant()).await?;
        let visible = sites
            .into_iter()
            .filter(|s| gate.visible(&index, P::SiteRead, Resource::Site(s.id)));
        Ok(Json(
            Paging {
                after: after.0,
                limit: limit.0,
            }
            .request()
            .paginate(visible.map(SiteDto::from), |s| s.id)
            .into(),
        ))
    }

    /// Get a site.
    #[oai(path = "/sites/:site_id", method = "get", operation_id = "getSite")]
    async fn get_site(&self, gate: Gate, site_id: Path<Id<SiteId>>) -> ApiResult<Json<SiteDto>> {
        gate.authorize(P::SiteRead, Resource::Site(site_id.0.get()))
            .await?;
        Ok(Json(self.state.tenancy.site(site_id.0.get()).await?.into()))
    }

    /// Rename a site or hand it to another team.
    #[oai(
        path = "/sites/:site_id",
        method = "patch",
        operation_id = "updateSite"
    )]
    async fn update_site(
        &self,
        gate: Gate,
        site_id: Path<Id<SiteId>>,
        body: Json<SitePatch>,
    ) -> ApiResult<Json<SiteDto>> {
        let id = site_id.0.get();
        gate.authorize(P::SiteUpdate, Resource::Site(id)).await?;
        if let Some(team) = body.0.team_id {
            gate.authorize(P::SiteCreate, Resource::Unit(team)).await?;
        }
        let site = self
            .state
            .tenancy
            .update_site(id, body.0.name.as_deref(), body.0.team_id.map(Into::into))
            .await?;
        Ok(Json(site.into()))
    }

    /// Delete a site that has no devices.
    #[oai(
        path = "/sites/:site_id",
        method = "delete",
        operation_id = "deleteSite"
    )]
    async fn delete_site(&self, gate: Gate, site_id: Path<Id<SiteId>>) -> ApiResult<Deleted> {
        gate.authorize(P::SiteDelete, Resource::Site(site_id.0.get()))
            .await?;
        self.state.tenancy.delete_site(site_id.0.get()).await?;
        Ok(Deleted::Deleted)
    }

    /// Publish a site.
    #[oai(
        path = "/sites/:site_id/publish",
        method = "post",
        operation_id = "publishSite"
    )]
    async fn publish_site(
        &self,
        gate: Gate,
        site_id: Path<Id<SiteId>>,
    ) -> ApiResult<Json<SiteDto>> {
        gate.authorize(P::SitePublish, Resource::Site(site_id.0.get()))
            .await?;
        Ok(Json(
            self.state
                .tenancy
                .publish_site(site_id.0.get())
                .await?
                .into(),
        ))
    }

    /// Register a device at a site. Credentials are encrypted at rest and
    /// never returned; giving them needs `device:credentials`, switching on
    /// any capability flag `device:configure`. `plain_http` is for lab
    /// devices only.
    #[oai(path = "/devices", method = "post", operation_id = "createDevice")]
    async fn create_device(
        &self,
        gate: Gate,
        body: Json<NewDevice>,
    ) -> ApiResult<Created<DeviceDto>> {
        let b = body.0;
        let site = Resource::Site(b.site_id.into());
        gate.authorize(P::DeviceCreate, site).await?;
        // In the device's environment: a lab-limited binding creates lab devices only.
        gate.authorize_in(P::DeviceCreate, site, b.environment.into())
            .await?;
        if b.credentials.is_some() {
            gate.authorize(P::DeviceCredentials, Resource::Site(b.site_id.into()))
                .await?;
        }
        let capabilities: tenancy::Capabilities = b.capabilities.into();
        if capabilities != tenancy::Capabilities::default() {
            // Capability flags decide which tools may change the device.
            gate.authorize(P::DeviceConfigure, Resource::Site(b.site_id.into()))
                .await?;
        }
        let tls = b
            .tls
            .map(|t| t.into_domain())
            .transpose()?
            .unwrap_or_default();
        let device = self
            .state
            .tenancy
            .create_device(
                gate.tenant(),
                tenancy::service::NewDevice {
                    site_id: b.site_id.into(),
                    name: b.name,
                    host: b.host,
                    port: b.port.unwrap_or(443),
                    environment: b.environment.into(),
                    tags: b.tags,
                    capabilities,
                    tls,
                    credentials: b.credentials.map(Into::into),
                },
            )
            .await?;
        Ok(Created::Created(Json(device.into())))
    }

    /// List the devices the caller may see.
    #[oai(path = "/devices", method = "get", operation_id = "listDevices")]
    async fn list_devices(
        &self,
        gate: Gate,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<DevicePage>> {
        let index = gate.authorize_list(P::DeviceRead).await?;
        let devices = self.state.tenancy.repo().devices(gate.tenant()).await?;
        let visible = devices
            .into_iter()
            .filter(|d| gate.visible(&index, P::DeviceRead, Resource::Device(d.id)));
        let mut page: DevicePage = Paging {
            after: after.0,
            limit: limit.0,
        }
        .request()
        .paginate(visible.map(DeviceDto::from), |d| d.id)
        .into();
        for d in &mut page.items {
            d.health = self.state.health.get(d.id.into()).await.map(Into::into);
        }
        Ok(Json(page))
    }

    /// Get a device.
    #[oai(
        path = "/devices/:device_id",
        method = "get",
        operation_id = "getDevice"
    )]
    async fn get_device(
        &self,
        gate: Gate,
        device_id: Path<Id<DeviceId>>,
    ) -> ApiResult<Json<DeviceDto>> {
        gate.authorize(P::DeviceRead, Resource::Device(device_id.0.get()))
            .await?;
        let mut dto: DeviceDto = self.state.tenancy.device(device_id.0.get()).await?.into();
        dto.health = self
            .state
            .health
            .get(device_id.0.get())
            .await
            .map(Into::into);
        Ok(Json(dto))
    }

    /// Change a device. Moving it to another site needs `device:create`
    /// there; changing its environment or capability flags needs
    /// `device:configure` in the old and the new environment; changing the
    /// host, port or TLS setting of a device with stored credentials needs
    /// `device:credentials`, since the credentials go wherever it points.
    #[oai(
        path = "/devices/:device_id",
        method = "patch",
        operation_id = "updateDevice"
    )]
    async fn update_device(
        &self,
        gate: Gate,
        device_id: Path<Id<DeviceId>>,
        body: Json<DevicePatch>,
    ) -> ApiResult<Json<DeviceDto>> {
        let id = device_id.0.get();
        let b = body.0;
        gate.authorize(P::DeviceUpdate, Resource::Device(id))
            .await?;
        let current = self.state.tenancy.device(id).await?;
        if let Some(site) = b.site_id {
            let site = Resource::Site(site.into());
            gate.authorize(P::DeviceCreate, site).await?;
            let env = b.environment.map_or(current.environment, Into::into);
            gate.authorize_in(P::DeviceCreate, site, env).await?;
        }
        let patch = tenancy::service::DevicePatch {
            site_id: b.site_id.map(Into::into),
            name: b.name,
            host: b.host,
            port: b.port,
            environment: b.environment.map(Into::into),
            tags: b.tags,
            capabilities: b.capabilities.map(Into::into),
            tls: b.tls.map(|t| t.into_domain()).transpose()?,
        };
        let new_environment = patch.environment.filter(|e| *e != current.environment);
        if new_environment.is_some()
            || patch
                .capabilities
                .is_some_and(|c| c != current.capabilities)
        {
            gate.authorize(P::DeviceConfigure, Resource::Device(id))
                .await?;
            if let Some(env) = new_environment {
                gate.authorize_in(P::DeviceConfigure, Resource::Device(id), env)
                    .await?;
            }
        }
        let retargeted = patch
            .host
            .as_deref()
            .is_some_and(|h| !h.trim().eq_ignore_ascii_case(&current.host))
            || patch.port.is_some_and(|p| p != current.port)
            || patch.tls.as_ref().is_some_and(|t| *t != current.tls);
        if retargeted && current.has_credentials {
            // Refused rather than dropping the credentials: the caller
            // learns why, and nobody loses a working device by accident.
            gate.authorize(P::DeviceCredentials, Resource::Device(id))
                .await?;
        }
        Ok(Json(
            self.state.tenancy.update_device(id, patch).await?.into(),
        ))
    }

    /// Delete a device with its credentials and the device scope grants
    /// that name it. Refused (409) while it is the only device scope grant
    /// of some user, since deleting it would lift that user's device
    /// scope; where it is named next to other grants, deleting it revokes
    /// those grants and needs `user:update` on their users and a caller
    /// without a device scope.
    #[oai(
        path = "/devices/:device_id",
        method = "delete",
        operation_id = "deleteDevice"
    )]
    async fn delete_device(&self, gate: Gate, device_id: Path<Id<DeviceId>>) -> ApiResult<Deleted> {
        let id = device_id.0.get();
        gate.authorize(P::DeviceDelete, Resource::Device(id))
            .await?;
        revokes_scopes(
            &gate,
            Resource::Device(id),
            rbac::DeviceScopeTarget::Device(id),
        )
        .await?;
        self.state.tenancy.repo().delete_device(id).await?;
        Ok(Deleted::Deleted)
    }

    /// Set a device's login credentials (write-only; encrypted at rest).
    #[oai(
        path = "/devices/:device_id/credentials",
        method = "put",
        operation_id = "setDeviceCredentials"
    )]
    async fn set_credentials(
        &self,
        gate: Gate,
        device_id: Path<Id<DeviceId>>,
        body: Json<CredentialsBody>,
    ) -> ApiResult<Json<DeviceDto>> {
        let id = device_id.0.get();
        gate.authorize(P::DeviceCredentials, Resource::Device(id))
            .await?;
        Ok(Json(
            self.state
                .tenancy
                .set_credentials(id, &body.0.into())
                .await?
                .into(),
        ))
    }

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
    ) -> ApiResult<Created<DeviceGroupDto>> {
        gate.ids_in_tenant(&body.0.device_ids).await?;
        gate.authorize(P::DeviceUpdate, Resource::Tenant(gate.tenant()))
            .await?;
        let ids = body.0.device_ids.into_iter().map(Into::into).collect();
        let g = self
            .state
            .tenancy
            .create_device_group(gate.tenant(), &body.0.name, ids)
            .await?;
        Ok(Created::Created(Json(g.into())))
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
    ) -> ApiResult<Json<DeviceGroupPage>> {
        let index = gate.authorize_list(P::DeviceRead).await?;
        let groups = self
            .state
            .tenancy
            .repo()
            .device_groups(gate.tenant())
            .await?;
        let visible = groups
            .into_iter()
            .filter(|g| gate.visible(&index, P::DeviceRead, Resource::DeviceGroup(g.id)));
        Ok(Json(
            Paging {
                after: after.0,
                limit: limit.0,
            }
            .request()
            .paginate(visible.map(DeviceGroupDto::from), |g| g.id)
            .into(),
        ))
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
    ) -> ApiResult<Json<DeviceGroupDto>> {
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
    ) -> ApiResult<Json<DeviceGroupDto>> {
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
                    .await);
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
    ) -> ApiResult<Deleted> {
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
        Ok(Deleted::Deleted)
    }
}

/// Deleting a device or device group deletes the device scope grants that
/// name `target`, which is revoking them: `user:update` on each of their
/// users (the gate), then [`rbac::delegation::device_scope_target_deletion`]
/// (no device scope lapses, the caller is not narrowed and not one of them).
/// Refusals are recorded as denials of `device:delete` on `resource`. The
/// store refuses again, in the deleting transaction, to delete the last
/// grant of a user.
async fn revokes_scopes(
    gate: &Gate,
    resource: Resource,
    target: rbac::DeviceScopeTarget,
) -> ApiResult<()> {
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
