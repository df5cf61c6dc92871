//! The platform chain over REST: the events that belong to no tenant (a
//! failed sign-in naming nobody rosgate knows, an identity no tenant
//! provisions), listed and verified by platform administrators.
//!
//! Such events cannot go into a tenant's chain, and no tenant's auditor
//! may read them: they name people and addresses outside every tenant.
//! They share one chain of their own ([`ChainKey::NONE`]), which only a
//! user with `platform_admin` reads; the gate records the decision in the
//! caller's own tenant chain like any other.

use super::audit::{
    AuditDecision, AuditEventPage, AuditResult, ChainVerificationDto, check_order, event_query,
    full_page, instant,
};
use super::failure;
use super::{ApiResult, Gate, Tag};
use crate::state::AppState;
use audit::query::ChainKey;
use poem_openapi::OpenApi;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use rbac::Permission as P;
use rbac::Resource;
use time::OffsetDateTime;
use uuid::Uuid;

pub struct PlatformAuditApi {
    pub state: AppState,
}

#[OpenApi(tag = "Tag::Audit")]
impl PlatformAuditApi {
    /// List the events of the platform chain, newest first: the events
    /// that belong to no tenant (failed sign-ins naming no known user,
    /// identities no tenant provisions). Only platform administrators may;
    /// anyone else gets 403. Filters, `limit` and `cursor` work as for
    /// `GET /audit/events`.
    #[oai(
        path = "/platform/audit/events",
        method = "get",
        operation_id = "listPlatformAuditEvents"
    )]
    #[allow(clippy::too_many_arguments)] // one per query parameter
    async fn list_events(
        &self,
        gate: Gate,
        /// Events of this user.
        user_id: Query<Option<Uuid>>,
        /// Events touching this device.
        device_id: Query<Option<Uuid>>,
        /// Calls of this tool.
        #[oai(validator(min_length = 1, max_length = 100))]
        tool_name: Query<Option<String>>,
        decision: Query<Option<AuditDecision>>,
        result: Query<Option<AuditResult>>,
        /// Events at or after this instant.
        from: Query<Option<OffsetDateTime>>,
        /// Events before this instant.
        to: Query<Option<OffsetDateTime>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<AuditEventPage>, failure::Query> {
        gate.authorize(P::AuditRead, Resource::Platform).await?;
        let q = event_query(
            user_id.0,
            device_id.0,
            tool_name.0,
            decision.0,
            result.0,
            from.0,
            to.0,
            limit.0,
            cursor.0.as_deref(),
        )?;
        Ok(Json(full_page(&self.state.db, ChainKey::NONE, &q).await?))
    }

    /// Recompute the platform chain over the events in `[from, to)` and
    /// report the first broken link, as `GET /audit/verify` does for a
    /// tenant's chain. Only platform administrators may; anyone else gets
    /// 403.
    #[oai(
        path = "/platform/audit/verify",
        method = "get",
        operation_id = "verifyPlatformAuditChain"
    )]
    async fn verify_chain(
        &self,
        gate: Gate,
        /// Check from the first event at or after this instant.
        from: Query<Option<OffsetDateTime>>,
        /// Check up to the last event before this instant.
        to: Query<Option<OffsetDateTime>>,
    ) -> ApiResult<Json<ChainVerificationDto>, failure::Query> {
        gate.authorize(P::AuditRead, Resource::Platform).await?;
        let from = instant(from.0, "from")?;
        let to = instant(to.0, "to")?;
        check_order(from, to)?;
        Ok(Json(
            super::audit::verified(&self.state, ChainKey::NONE, from, to).await?,
        ))
    }
}
