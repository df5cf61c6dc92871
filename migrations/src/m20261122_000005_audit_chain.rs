//! The audit trail becomes a hash chain per tenant with the full event
//! (actor, tool, device, environment, effect, result, approval, client,
//! arguments digest).
//!
//! Rows written before this migration carry none of that and no chain
//! position; they are kept, unchanged, in `audit_events_v0` rather than
//! being given hashes they were never written with. `audit_heads` records
//! each chain's newest `seq` and `hash`, the row writers lock to append.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.rename_table(
            Table::rename()
                .table("audit_events", "audit_events_v0")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("audit_events")
                .col(pk_uuid("id"))
                .col(uuid("chain"))
                .col(big_integer("seq"))
                .col(timestamp_with_time_zone("at"))
                .col(uuid_null("tenant_id"))
                .col(uuid_null("user_id"))
                .col(string_null("user_email"))
                .col(string("actor"))
                .col(string("operation"))
                .col(string_null("tool_name"))
                .col(string("action"))
                .col(string("resource_type"))
                .col(uuid_null("resource_id"))
                .col(uuid_null("device_id"))
                .col(string_null("environment"))
                .col(string("effect"))
                .col(string("decision"))
                .col(text("reason"))
                .col(string("result"))
                .col(string_null("error_class"))
                .col(uuid_null("approval_request_id"))
                .col(string("request_id"))
                .col(string_null("client_addr"))
                .col(string_null("args_digest"))
                .col(string("prev_hash"))
                .col(string("hash"))
                .to_owned(),
        )
        .await?;
        for (name, cols, unique) in [
            ("ix_audit_chain_seq", &["chain", "seq"][..], true),
            ("ix_audit_chain_at", &["chain", "at"][..], false),
            (
                "ix_audit_chain_user",
                &["chain", "user_id", "seq"][..],
                false,
            ),
            (
                "ix_audit_chain_device",
                &["chain", "device_id", "seq"][..],
                false,
            ),
        ] {
            let mut i = Index::create();
            i.name(name).table("audit_events");
            for c in cols {
                i.col(*c);
            }
            if unique {
                i.unique();
            }
            m.create_index(i).await?;
        }
        m.create_table(
            Table::create()
                .table("audit_heads")
                .col(pk_uuid("chain"))
                .col(big_integer("seq"))
                .col(string("hash"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("audit_heads").to_owned())
            .await?;
        m.drop_table(Table::drop().table("audit_events").to_owned())
            .await?;
        m.rename_table(
            Table::rename()
                .table("audit_events_v0", "audit_events")
                .to_owned(),
        )
        .await
    }
}
