//! [`IntendedChanges`] over SQL: one row per intent in
//! `audit_intended_changes`, kept while the intent is open.

use crate::entity::audit_event::{self, Column as E};
use crate::entity::audit_intended_change as row;
use crate::{Database, store_err};
use async_trait::async_trait;
use audit::IntendedChanges;
use audit::RunResult;
use audit::intents::IntendedChange;
use kernel::{AuditEventId, StoreError, TenantId};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use time::OffsetDateTime;

#[async_trait]
impl IntendedChanges for Database {
    async fn keep(&self, c: &IntendedChange) -> Result<(), StoreError> {
        let change =
            serde_json::to_string(&c.change).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        row::Entity::insert(row::ActiveModel {
            intent_id: Set(c.intent_id.uuid()),
            at: Set(c.at),
            tenant_id: Set(c.tenant_id.map(|t| t.uuid())),
            device_id: Set(c.device_id),
            change: Set(change),
        })
        .exec(self.conn())
        .await
        .map_err(store_err)?;
        Ok(())
    }

    async fn find(&self, intent: AuditEventId) -> Result<Option<IntendedChange>, StoreError> {
        let Some(m) = row::Entity::find_by_id(intent.uuid())
            .one(self.conn())
            .await
            .map_err(store_err)?
        else {
            return Ok(None);
        };
        Ok(Some(IntendedChange {
            intent_id: AuditEventId::from_uuid(m.intent_id),
            at: m.at,
            tenant_id: m.tenant_id.map(TenantId::from_uuid),
            device_id: m.device_id,
            // A row edited into something unreadable reads back as nothing
            // to compare: the intent is then settled as unknown.
            change: serde_json::from_str(&m.change).unwrap_or(serde_json::Value::Null),
        }))
    }

    async fn forget_concluded(&self, until: OffsetDateTime) -> Result<u64, StoreError> {
        use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
        let (intent, outcome) = (Alias::new("intent"), Alias::new("outcome"));
        // An intent is open while it is pending and no event of its chain
        // names it; a kept change whose intent is not open goes.
        let concluded = Query::select()
            .expr(Expr::val(1))
            .from_as(audit_event::Entity, outcome.clone())
            .and_where(Expr::col((outcome.clone(), E::Chain)).equals((intent.clone(), E::Chain)))
            .and_where(Expr::col((outcome, E::IntentId)).equals((intent.clone(), E::Id)))
            .to_owned();
        let open = Query::select()
            .expr(Expr::val(1))
            .from_as(audit_event::Entity, intent.clone())
            .and_where(
                Expr::col((intent.clone(), E::Id)).equals((row::Entity, row::Column::IntentId)),
            )
            .and_where(Expr::col((intent, E::Result)).eq(RunResult::Pending.as_str()))
            .and_where(Expr::exists(concluded).not())
            .to_owned();
        row::Entity::delete_many()
            .filter(row::Column::At.lte(until))
            .filter(Expr::exists(open).not())
            .exec(self.conn())
            .await
            .map(|r| r.rows_affected)
            .map_err(store_err)
    }
}
