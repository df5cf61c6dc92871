//! [`AuditSink`] over SQL: one row per decision, written before the reply.

use crate::entity::audit_event;
use crate::{Database, store_err};
use async_trait::async_trait;
use audit::{AuditEvent, AuditSink};
use kernel::StoreError;
use sea_orm::ActiveValue::Set;
use sea_orm::EntityTrait;

#[async_trait]
impl AuditSink for Database {
    async fn record(&self, e: AuditEvent) -> Result<(), StoreError> {
        audit_event::Entity::insert(audit_event::ActiveModel {
            id: Set(e.id.uuid()),
            at: Set(e.at),
            tenant_id: Set(e.tenant_id.map(|t| t.uuid())),
            user_id: Set(e.user_id.map(|u| u.uuid())),
            user_email: Set(e.user_email),
            operation: Set(e.operation),
            action: Set(e.action),
            resource_type: Set(e.resource_type),
            resource_id: Set(e.resource_id),
            decision: Set(e.decision.as_str().into()),
            reason: Set(e.reason),
            request_id: Set(e.request_id),
        })
        .exec(self.conn())
        .await
        .map_err(store_err)?;
        Ok(())
    }
}

impl Database {
    /// The audit events of a tenant, oldest first (for tests and, later, the audit API).
    pub async fn audit_events(
        &self,
        tenant: kernel::TenantId,
    ) -> Result<Vec<audit_event::Model>, StoreError> {
        use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
        audit_event::Entity::find()
            .filter(audit_event::Column::TenantId.eq(tenant.uuid()))
            .order_by_asc(audit_event::Column::Id)
            .all(self.conn())
            .await
            .map_err(store_err)
    }
}
