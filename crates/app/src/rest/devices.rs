//! Devices: RouterOS routers at a site, with capability flags, TLS
//! settings, write-only credentials and their last health check.

use super::common::EnvironmentDto;
use super::device_scopes::revokes_scopes;
use super::failure;
use super::id::Id;
use super::page::{Paging, page};
use super::{ApiResult, Creation, Deletion, Gate, Tag};
use crate::state::AppState;
use kernel::DeviceId;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use rbac::{Permission as P, Resource};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// The operations on devices.
pub struct DevicesApi {
    pub state: AppState,
}

/// What a device allows beyond reads.
#[derive(Debug, Clone, Copy, Object, Default)]
pub struct CapabilitiesDto {
    #[oai(default)]
    pub allow_advanced_writes: bool,
    #[oai(default)]
    pub allow_professional_workflows: bool,
    #[oai(default)]
    pub allow_firewall_writes: bool,
    #[oai(default)]
    pub allow_routing_writes: bool,
    #[oai(default)]
    pub allow_wireless_writes: bool,
    #[oai(default)]
    pub allow_dhcp_writes: bool,
    #[oai(default)]
    pub allow_bridge_writes: bool,
    #[oai(default)]
    pub allow_bandwidth_test: bool,
}

impl From<CapabilitiesDto> for tenancy::Capabilities {
    fn from(c: CapabilitiesDto) -> Self {
        tenancy::Capabilities {
            allow_advanced_writes: c.allow_advanced_writes,
            allow_professional_workflows: c.allow_professional_workflows,
            allow_firewall_writes: c.allow_firewall_writes,
            allow_routing_writes: c.allow_routing_writes,
            allow_wireless_writes: c.allow_wireless_writes,
            allow_dhcp_writes: c.allow_dhcp_writes,
            allow_bridge_writes: c.allow_bridge_writes,
            allow_bandwidth_test: c.allow_bandwidth_test,
        }
    }
}

impl From<tenancy::Capabilities> for CapabilitiesDto {
    fn from(c: tenancy::Capabilities) -> Self {
        CapabilitiesDto {
            allow_advanced_writes: c.allow_advanced_writes,
            allow_professional_workflows: c.allow_professional_workflows,
            allow_firewall_writes: c.allow_firewall_writes,
            allow_routing_writes: c.allow_routing_writes,
            allow_wireless_writes: c.allow_wireless_writes,
            allow_dhcp_writes: c.allow_dhcp_writes,
            allow_bridge_writes: c.allow_bridge_writes,
            allow_bandwidth_test: c.allow_bandwidth_test,
        }
    }
}

/// Device login credentials: write-only, stored encrypted, never returned.
#[derive(Object)]
pub struct CredentialsBody {
    #[oai(validator(min_length = 1, max_length = 128))]
    pub username: String,
    #[oai(validator(max_length = 1024))]
    pub password: String,
}

impl std::fmt::Debug for CredentialsBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsBody")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl From<CredentialsBody> for tenancy::DeviceCredentials {
    fn from(c: CredentialsBody) -> Self {
        tenancy::DeviceCredentials {
            username: c.username,
            password: c.password,
        }
    }
}

/// A device.
#[derive(Debug, Object)]
pub struct DeviceDto {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub site_id: Uuid,
    pub name: String,
    pub host: String,
    pub port: u16,
    pub environment: EnvironmentDto,
    pub tags: BTreeMap<String, String>,
    pub capabilities: CapabilitiesDto,
    pub tls: DeviceTlsDto,
    /// Whether credentials are stored (they are never returned).
    pub has_credentials: bool,
    pub created_at: OffsetDateTime,
    /// The last health check, if one ran in the last five minutes.
    #[oai(skip_serializing_if_is_none)]
    pub health: Option<HealthDto>,
}

/// A device's last health check.
#[derive(Debug, Clone, Object)]
pub struct HealthDto {
    pub status: HealthStatusDto,
    #[oai(skip_serializing_if_is_none)]
    pub cpu_load_percent: Option<f64>,
    #[oai(skip_serializing_if_is_none)]
    pub memory_used_percent: Option<f64>,
    /// `warning` (CPU or memory above 75 %) or `critical` (above 90 %).
    #[oai(skip_serializing_if_is_none)]
    pub level: Option<String>,
    /// Why the device could not be checked.
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<String>,
    pub checked_at: OffsetDateTime,
    /// When the next scheduled check is due; it adapts: longer for a
    /// steadily healthy device, backing off for an unreachable one.
    #[oai(skip_serializing_if_is_none)]
    pub next_check_at: Option<OffsetDateTime>,
}

/// What a health check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum HealthStatusDto {
    /// CPU and memory at or below 75 %.
    Healthy,
    /// CPU or memory above 75 %.
    Degraded,
    /// The device did not answer.
    Unreachable,
    /// The device could not be checked (no stored credentials).
    Unknown,
}

impl From<tools::health::Status> for HealthStatusDto {
    fn from(s: tools::health::Status) -> Self {
        use tools::health::Status;
        match s {
            Status::Healthy => Self::Healthy,
            Status::Degraded => Self::Degraded,
            Status::Unreachable => Self::Unreachable,
            Status::Unknown => Self::Unknown,
        }
    }
}

impl From<tools::health::HealthRecord> for HealthDto {
    fn from(h: tools::health::HealthRecord) -> Self {
        Self {
            status: h.status.into(),
            cpu_load_percent: h.cpu_load_percent,
            memory_used_percent: h.memory_used_percent,
            level: h.level,
            error: h.error,
            checked_at: h.checked_at,
            next_check_at: h.next_check_at,
        }
    }
}

/// How TLS to the device is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum TlsMode {
    /// Verify against the system's trust roots (the default).
    Verify,
    /// Verify against `ca_pem`, a private CA.
    Ca,
    /// Accept the certificate whose SHA-256 fingerprint is `sha256`.
    Pinned,
    /// Plain HTTP: lab devices and the simulator only.
    PlainHttp,
}

/// A device's TLS setting.
#[derive(Debug, Clone, Object)]
pub struct DeviceTlsDto {
    pub mode: TlsMode,
    /// The CA certificate (PEM) for `ca`.
    #[oai(skip_serializing_if_is_none, validator(max_length = 16384))]
    pub ca_pem: Option<String>,
    /// The certificate's SHA-256 fingerprint (64 hex digits) for `pinned`.
    #[oai(skip_serializing_if_is_none, validator(max_length = 100))]
    pub sha256: Option<String>,
}

impl From<tenancy::DeviceTls> for DeviceTlsDto {
    fn from(t: tenancy::DeviceTls) -> Self {
        use tenancy::DeviceTls as T;
        let (mode, ca_pem, sha256) = match t {
            T::Verify => (TlsMode::Verify, None, None),
            T::Ca { ca_pem } => (TlsMode::Ca, Some(ca_pem), None),
            T::Pinned { sha256 } => (TlsMode::Pinned, None, Some(sha256)),
            T::PlainHttp => (TlsMode::PlainHttp, None, None),
        };
        Self {
            mode,
            ca_pem,
            sha256,
        }
    }
}

impl DeviceTlsDto {
    /// The domain setting; a missing `ca_pem` or `sha256` is invalid input.
    pub fn into_domain(self) -> Result<tenancy::DeviceTls, crate::http::problem::ApiError> {
        use tenancy::DeviceTls as T;
        let missing = |f: &str| {
            crate::http::problem::ApiError::invalid(
                f,
                format!("is required when tls.mode is {:?}", self.mode).to_lowercase(),
            )
        };
        Ok(match self.mode {
            TlsMode::Verify => T::Verify,
            TlsMode::PlainHttp => T::PlainHttp,
            TlsMode::Ca => T::Ca {
                ca_pem: self.ca_pem.clone().ok_or_else(|| missing("tls.ca_pem"))?,
            },
            TlsMode::Pinned => T::Pinned {
                sha256: self.sha256.clone().ok_or_else(|| missing("tls.sha256"))?,
            },
        })
    }
}

impl From<tenancy::Device> for DeviceDto {
    fn from(d: tenancy::Device) -> Self {
        Self {
            id: d.id.uuid(),
            tenant_id: d.tenant_id.uuid(),
            site_id: d.site_id.uuid(),
            name: d.name,
            host: d.host,
            port: d.port,
            environment: d.environment.into(),
            tags: d.tags,
            capabilities: d.capabilities.into(),
            tls: d.tls.into(),
            has_credentials: d.has_credentials,
            created_at: d.created_at,
            health: None,
        }
    }
}

page!(DevicePage, DeviceDto);

/// A new device.
#[derive(Debug, Object)]
#[oai(rename = "NewDevice")]
pub struct NewDeviceBody {
    pub site_id: Uuid,
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
    #[oai(validator(min_length = 1, max_length = 253))]
    pub host: String,
    /// REST API port (default 443).
    #[oai(skip_serializing_if_is_none)]
    pub port: Option<u16>,
    pub environment: EnvironmentDto,
    #[oai(default)]
    pub tags: BTreeMap<String, String>,
    #[oai(default)]
    pub capabilities: CapabilitiesDto,
    /// TLS checking; verification against the system's roots when omitted.
    #[oai(skip_serializing_if_is_none)]
    pub tls: Option<DeviceTlsDto>,
    #[oai(skip_serializing_if_is_none)]
    pub credentials: Option<CredentialsBody>,
}

/// Changes to a device.
#[derive(Debug, Object)]
#[oai(rename = "DevicePatch")]
pub struct DevicePatchBody {
    /// Move the device to another site (needs `device:create` there).
    #[oai(skip_serializing_if_is_none)]
    pub site_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none, validator(max_length = 200))]
    pub name: Option<String>,
    /// Where the device is reached. With stored credentials, changing the
    /// host, port or TLS setting needs `device:credentials`.
    #[oai(skip_serializing_if_is_none, validator(max_length = 253))]
    pub host: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub port: Option<u16>,
    #[oai(skip_serializing_if_is_none)]
    pub environment: Option<EnvironmentDto>,
    #[oai(skip_serializing_if_is_none)]
    pub tags: Option<BTreeMap<String, String>>,
    #[oai(skip_serializing_if_is_none)]
    pub capabilities: Option<CapabilitiesDto>,
    #[oai(skip_serializing_if_is_none)]
    pub tls: Option<DeviceTlsDto>,
}

impl DevicesApi {
    /// Puts the device's last health check, if it has one, on `dto`.
    async fn add_health(&self, dto: &mut DeviceDto) {
        dto.health = self.state.health.get(dto.id.into()).await.map(Into::into);
    }
}

#[OpenApi(tag = "Tag::Inventory")]
impl DevicesApi {
    /// Register a device at a site. Credentials are encrypted at rest and
    /// never returned; giving them needs `device:credentials`, switching on
    /// any capability flag `device:configure`. `plain_http` is for lab
    /// devices only.
    #[oai(path = "/devices", method = "post", operation_id = "createDevice")]
    async fn create_device(
        &self,
        gate: Gate,
        body: Json<NewDeviceBody>,
    ) -> ApiResult<Creation<DeviceDto>, failure::Create> {
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
        Ok(Creation::Created(Json(device.into())))
    }

    /// List the devices the caller may see.
    #[oai(path = "/devices", method = "get", operation_id = "listDevices")]
    async fn list_devices(
        &self,
        gate: Gate,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<DevicePage>, failure::List> {
        let devices = self.state.tenancy.repo().devices(gate.tenant());
        let Json(mut page): Json<DevicePage> = Paging::new(after.0, limit.0)
            .visible(&gate, P::DeviceRead, devices, |d| Resource::Device(d.id))
            .await?;
        for d in &mut page.items {
            self.add_health(d).await;
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
    ) -> ApiResult<Json<DeviceDto>, failure::Read> {
        gate.authorize(P::DeviceRead, Resource::Device(device_id.0.get()))
            .await?;
        let mut dto: DeviceDto = self.state.tenancy.device(device_id.0.get()).await?.into();
        self.add_health(&mut dto).await;
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
        body: Json<DevicePatchBody>,
    ) -> ApiResult<Json<DeviceDto>, failure::Update> {
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
    async fn delete_device(
        &self,
        gate: Gate,
        device_id: Path<Id<DeviceId>>,
    ) -> ApiResult<Deletion, failure::Delete> {
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
        Ok(Deletion::Deleted)
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
    ) -> ApiResult<Json<DeviceDto>, failure::Update> {
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
}
