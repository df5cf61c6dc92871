//! [`PlanStore`] over SQL. Status moves are compare-and-set updates, so two
//! callers presenting the same confirmation token cannot both start a plan.

use crate::entity::plan;
use crate::{Database, store_err};
use async_trait::async_trait;
use kernel::StoreError;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tools::PlanStore;
use tools::plan::{DeviceOutcome, Plan, PlanStatus};
use uuid::Uuid;

fn corrupt(what: &str) -> StoreError {
    StoreError::Unavailable(format!("stored plan has an unreadable {what}"))
}

fn to_plan(m: plan::Model) -> Result<Plan, StoreError> {
    Ok(Plan {
        id: m.id,
        tenant_id: m.tenant_id.into(),
        created_by: m.created_by.into(),
        tool: m.tool,
        change: serde_json::from_str(&m.change).map_err(|_| corrupt("change"))?,
        device_ids: serde_json::from_str(&m.device_ids).map_err(|_| corrupt("device list"))?,
        batch_size: usize::try_from(m.batch_size).map_err(|_| corrupt("batch size"))?,
        status: PlanStatus::parse(&m.status).ok_or_else(|| corrupt("status"))?,
        risk: m.risk,
        outcomes: serde_json::from_str(&m.outcomes).map_err(|_| corrupt("outcomes"))?,
        created_at: m.created_at,
        expires_at: m.expires_at,
    })
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Unavailable(e.to_string()))
}

#[async_trait]
impl PlanStore for Database {
    async fn insert_plan(&self, p: &Plan) -> Result<(), StoreError> {
        plan::Entity::insert(plan::ActiveModel {
            id: Set(p.id),
            tenant_id: Set(p.tenant_id.uuid()),
            created_by: Set(p.created_by.uuid()),
            tool: Set(p.tool.clone()),
            change: Set(json(&p.change)?),
            device_ids: Set(json(&p.device_ids)?),
            batch_size: Set(i32::try_from(p.batch_size).unwrap_or(i32::MAX)),
            status: Set(p.status.as_str().into()),
            risk: Set(p.risk.clone()),
            outcomes: Set(json(&p.outcomes)?),
            created_at: Set(p.created_at),
            expires_at: Set(p.expires_at),
        })
        .exec(self.conn())
        .await
        .map_err(store_err)?;
        Ok(())
    }

    async fn plan(&self, id: Uuid) -> Result<Option<Plan>, StoreError> {
        plan::Entity::find_by_id(id)
            .one(self.conn())
            .await
            .map_err(store_err)?
            .map(to_plan)
            .transpose()
    }

    async fn move_plan(
        &self,
        id: Uuid,
        from: PlanStatus,
        to: PlanStatus,
    ) -> Result<bool, StoreError> {
        if !from.can_move_to(to) {
            return Ok(false);
        }
        let r = plan::Entity::update_many()
            .col_expr(plan::Column::Status, Expr::value(to.as_str()))
            .filter(plan::Column::Id.eq(id))
            .filter(plan::Column::Status.eq(from.as_str()))
            .exec(self.conn())
            .await
            .map_err(store_err)?;
        Ok(r.rows_affected == 1)
    }

    async fn finish_plan(
        &self,
        id: Uuid,
        status: PlanStatus,
        outcomes: &[DeviceOutcome],
    ) -> Result<(), StoreError> {
        plan::Entity::update_many()
            .col_expr(plan::Column::Status, Expr::value(status.as_str()))
            .col_expr(plan::Column::Outcomes, Expr::value(json(&outcomes)?))
            .filter(plan::Column::Id.eq(id))
            .exec(self.conn())
            .await
            .map_err(store_err)?;
        Ok(())
    }
}
