//! The `audit_events` table: one row per event, in its chain.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub chain: Uuid,
    pub seq: i64,
    pub at: TimeDateTimeWithTimeZone,
    pub tenant_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub user_email: Option<String>,
    pub actor: String,
    pub operation: String,
    pub tool_name: Option<String>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub environment: Option<String>,
    pub effect: String,
    pub decision: String,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    pub result: String,
    pub error_class: Option<String>,
    pub approval_request_id: Option<Uuid>,
    pub request_id: String,
    pub client_addr: Option<String>,
    pub args_digest: Option<String>,
    pub intent_id: Option<Uuid>,
    pub client_request_id: Option<String>,
    pub count: i32,
    /// The chain encoding the link was written in.
    pub version: i32,
    /// The link key's id, for keyed links.
    pub key_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
