//! What each intent was meant to change, kept beside the chain (events
//! never hold arguments) until the intent is concluded, so an intent nobody
//! concluded can be settled by reading the device back. The change is
//! stored with secrets redacted; no foreign keys, so a deleted tenant or
//! device never blocks settling its intents.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("audit_intended_changes")
                .col(pk_uuid("intent_id"))
                .col(timestamp_with_time_zone("at"))
                .col(uuid_null("tenant_id"))
                .col(uuid("device_id"))
                .col(text("change"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_audit_intended_changes_at")
                .table("audit_intended_changes")
                .col("at")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("audit_intended_changes").to_owned())
            .await
    }
}
