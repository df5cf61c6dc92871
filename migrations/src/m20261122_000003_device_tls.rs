//! How rosgate checks each device's TLS certificate: verified against the
//! system's roots (the default for existing rows), a private CA, a pinned
//! fingerprint, or plain HTTP for lab devices.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("devices")
                .add_column(text("tls").default("{\"mode\":\"verify\"}"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("devices")
                .drop_column("tls")
                .to_owned(),
        )
        .await
    }
}
