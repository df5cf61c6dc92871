//! A plan whose creator has confirmed it with its token is `confirmed`,
//! not `approved`: nobody else approves it. Stored plans are rewritten to
//! the new name; going down writes the old one back.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Renames the plan status `from` to `to` in every stored plan.
fn rename_status(from: &str, to: &str) -> UpdateStatement {
    Query::update()
        .table("plans")
        .value("status", to)
        .and_where(Expr::col("status").eq(from))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.exec_stmt(rename_status("approved", "confirmed")).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.exec_stmt(rename_status("confirmed", "approved")).await
    }
}
