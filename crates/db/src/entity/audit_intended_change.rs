//! The `audit_intended_changes` table: an intent's change (JSON, secrets
//! redacted) until the intent is concluded.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_intended_changes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub intent_id: Uuid,
    pub at: TimeDateTimeWithTimeZone,
    pub tenant_id: Option<Uuid>,
    pub device_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub change: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
