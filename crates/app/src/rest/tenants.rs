//! Tenants: created by platform administrators, read and renamed by their own.

use super::common::NameBody;
use super::failure;
use super::id::Id;
use super::page::{Paging, page};
use super::{ApiResult, Creation, Gate, Tag};
use crate::http::problem::ApiError;
use crate::state::AppState;
use kernel::TenantId;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use rbac::{Permission as P, Resource};
use time::OffsetDateTime;
use uuid::Uuid;

/// The operations on tenants.
pub struct TenantsApi {
    pub state: AppState,
}

/// A tenant.
#[derive(Debug, Object)]
pub struct TenantDto {
    pub id: Uuid,
    pub name: String,
    pub created_at: OffsetDateTime,
}

impl From<tenancy::Tenant> for TenantDto {
    fn from(t: tenancy::Tenant) -> Self {
        Self {
            id: t.id.uuid(),
            name: t.name,
            created_at: t.created_at,
        }
    }
}

page!(TenantPage, TenantDto);

#[OpenApi(tag = "Tag::Hierarchy")]
impl TenantsApi {
    /// Create a tenant (platform administrators only).
    #[oai(path = "/tenants", method = "post", operation_id = "createTenant")]
    async fn create_tenant(
        &self,
        gate: Gate,
        body: Json<NameBody>,
    ) -> ApiResult<Creation<TenantDto>, failure::Create> {
        gate.authorize(P::TenantCreate, Resource::Platform).await?;
        Ok(Creation::Created(Json(
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
    ) -> ApiResult<Json<TenantPage>, failure::List> {
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
        Ok(Paging::new(after.0, limit.0).page(tenants))
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
    ) -> ApiResult<Json<TenantDto>, failure::Read> {
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
    ) -> ApiResult<Json<TenantDto>, failure::Update> {
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
}
