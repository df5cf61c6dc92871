//! Audit events gain what encoding version 2 of the chain covers: the
//! intent an outcome concludes (`intent_id`), the request id the client
//! sent (`client_request_id`) and how many occurrences an event stands for
//! (`count`); and what each link was written with (`version`, `key_id`).
//!
//! Rows written before keep `version` 1 and no `key_id`, and still verify
//! as they were written; every new row is version 2. The indexes serve the
//! search for open intents: pending events no outcome names.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        for column in [
            uuid_null("intent_id"),
            string_null("client_request_id"),
            integer("count").default(1).to_owned(),
            integer("version").default(1).to_owned(),
            string_null("key_id"),
        ] {
            let mut column = column;
            m.alter_table(
                Table::alter()
                    .table("audit_events")
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
        }
        for (name, cols) in [
            ("ix_audit_chain_intent", &["chain", "intent_id"][..]),
            ("ix_audit_result_chain_seq", &["result", "chain", "seq"][..]),
        ] {
            let mut i = Index::create();
            i.name(name).table("audit_events");
            for c in cols {
                i.col(*c);
            }
            m.create_index(i).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in ["ix_audit_chain_intent", "ix_audit_result_chain_seq"] {
            m.drop_index(Index::drop().name(name).table("audit_events").to_owned())
                .await?;
        }
        for column in [
            "intent_id",
            "client_request_id",
            "count",
            "version",
            "key_id",
        ] {
            m.alter_table(
                Table::alter()
                    .table("audit_events")
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
