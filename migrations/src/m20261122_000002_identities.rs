//! Links between users and their identities at OpenID Connect providers:
//! one row per (issuer, subject), so a person who signed in once is found
//! again by the provider's stable subject, not by an email that can change.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("user_identities")
                .col(string("issuer"))
                .col(string("subject"))
                .col(uuid("user_id"))
                .col(uuid("tenant_id"))
                .col(timestamp_with_time_zone("created_at"))
                .primary_key(Index::create().col("issuer").col("subject"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_user_identities_user_id")
                        .from("user_identities", "user_id")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_user_identities_user_id")
                .table("user_identities")
                .col("user_id")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("user_identities").to_owned())
            .await
    }
}
