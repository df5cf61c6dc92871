//! The `devices` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "devices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub site_id: Uuid,
    pub name: String,
    pub host: String,
    pub port: i32,
    pub environment: String,
    #[sea_orm(column_type = "Text")]
    pub tags: String,
    pub allow_advanced_writes: bool,
    pub allow_professional_workflows: bool,
    pub allow_firewall_writes: bool,
    pub allow_routing_writes: bool,
    pub allow_wireless_writes: bool,
    pub allow_dhcp_writes: bool,
    pub allow_bridge_writes: bool,
    pub allow_bandwidth_test: bool,
    pub credentials: Option<Vec<u8>>,
    /// `DeviceTls` as JSON.
    #[sea_orm(column_type = "Text")]
    pub tls: String,
    pub created_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
