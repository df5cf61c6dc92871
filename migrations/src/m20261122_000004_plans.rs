//! Plans: professional changes waiting for approval, being applied, or done.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("plans")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(uuid("created_by"))
                .col(string("tool"))
                .col(text("change"))
                .col(text("device_ids"))
                .col(integer("batch_size"))
                .col(string("status"))
                .col(string("risk"))
                .col(text("outcomes"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_plans_tenant_id")
                        .from("plans", "tenant_id")
                        .to("tenants", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_plans_tenant_id_created_at")
                .table("plans")
                .col("tenant_id")
                .col("created_at")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("plans").to_owned()).await
    }
}
