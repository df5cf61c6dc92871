//! Sites: places owned by a team, where devices are.

use super::failure;
use super::id::Id;
use super::page::{Paging, page};
use super::{ApiResult, Creation, Deletion, Gate, Tag};
use crate::state::AppState;
use kernel::SiteId;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use rbac::{Permission as P, Resource};
use time::OffsetDateTime;
use uuid::Uuid;

/// The operations on sites.
pub struct SitesApi {
    pub state: AppState,
}

/// A site.
#[derive(Debug, Object)]
pub struct SiteDto {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub team_id: Uuid,
    pub name: String,
    #[oai(skip_serializing_if_is_none)]
    pub published_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

impl From<tenancy::Site> for SiteDto {
    fn from(s: tenancy::Site) -> Self {
        Self {
            id: s.id.uuid(),
            tenant_id: s.tenant_id.uuid(),
            team_id: s.team_id.uuid(),
            name: s.name,
            published_at: s.published_at,
            created_at: s.created_at,
        }
    }
}

page!(SitePage, SiteDto);

/// A new site.
#[derive(Debug, Object)]
pub struct NewSite {
    pub team_id: Uuid,
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
}

/// Changes to a site.
#[derive(Debug, Object)]
pub struct SitePatch {
    #[oai(skip_serializing_if_is_none, validator(max_length = 200))]
    pub name: Option<String>,
    /// Hand the site to another team (needs `site:create` there).
    #[oai(skip_serializing_if_is_none)]
    pub team_id: Option<Uuid>,
}

#[OpenApi(tag = "Tag::Inventory")]
impl SitesApi {
    /// Create a site owned by a team.
    #[oai(path = "/sites", method = "post", operation_id = "createSite")]
    async fn create_site(
        &self,
        gate: Gate,
        body: Json<NewSite>,
    ) -> ApiResult<Creation<SiteDto>, failure::Create> {
        gate.authorize(P::SiteCreate, Resource::Unit(body.0.team_id))
            .await?;
        let site = self
            .state
            .tenancy
            .create_site(gate.tenant(), body.0.team_id.into(), &body.0.name)
            .await?;
        Ok(Creation::Created(Json(site.into())))
    }

    /// List the sites the caller may see.
    #[oai(path = "/sites", method = "get", operation_id = "listSites")]
    async fn list_sites(
        &self,
        gate: Gate,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<SitePage>, failure::List> {
        Paging::new(after.0, limit.0)
            .visible(
                &gate,
                P::SiteRead,
                self.state.tenancy.repo().sites(gate.tenant()),
                |s| Resource::Site(s.id),
            )
            .await
            .map_err(Into::into)
    }

    /// Get a site.
    #[oai(path = "/sites/:site_id", method = "get", operation_id = "getSite")]
    async fn get_site(
        &self,
        gate: Gate,
        site_id: Path<Id<SiteId>>,
    ) -> ApiResult<Json<SiteDto>, failure::Read> {
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
    ) -> ApiResult<Json<SiteDto>, failure::Update> {
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
    async fn delete_site(
        &self,
        gate: Gate,
        site_id: Path<Id<SiteId>>,
    ) -> ApiResult<Deletion, failure::Delete> {
        gate.authorize(P::SiteDelete, Resource::Site(site_id.0.get()))
            .await?;
        self.state.tenancy.delete_site(site_id.0.get()).await?;
        Ok(Deletion::Deleted)
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
    ) -> ApiResult<Json<SiteDto>, failure::Create> {
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
}
