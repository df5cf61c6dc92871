//! The `plans` table; the change, devices and outcomes are JSON.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub created_by: Uuid,
    pub tool: String,
    #[sea_orm(column_type = "Text")]
    pub change: String,
    #[sea_orm(column_type = "Text")]
    pub device_ids: String,
    pub batch_size: i32,
    pub status: String,
    pub risk: String,
    #[sea_orm(column_type = "Text")]
    pub outcomes: String,
    pub created_at: TimeDateTimeWithTimeZone,
    pub expires_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
