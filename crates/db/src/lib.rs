//! SQL storage for rosgate: the domain ports implemented with sea-orm over
//! SQLite (the embedded default) or PostgreSQL (production, shared by
//! several instances).
//!
//! Architecture invariant: sea-orm types never leave this crate; callers see
//! only domain models and [`kernel::StoreError`].

mod audit_store;
mod convert;
pub mod entity;
mod intent_store;
mod plan_store;
mod rbac_store;
mod tenancy_store;

pub use audit_store::AuditChainLog;

use kernel::StoreError;
use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, TransactionTrait,
};
use std::time::Duration;
use uuid::Uuid;

/// A connection pool to the configured database.
#[derive(Debug, Clone)]
pub struct Database {
    conn: DatabaseConnection,
}

/// Which SQL engine a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// The backend a database URL names, if it is one we support.
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

impl Database {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://…`). For
    /// SQLite the file's directory is created and write-ahead logging is
    /// switched on so readers do not block the writer.
    pub async fn connect(url: &str) -> Result<Database, StoreError> {
        let backend = Backend::of_url(url).ok_or_else(|| {
            StoreError::Unavailable(
                "database URL must start with sqlite: or postgres:// (see docs/configuration.md)"
                    .into(),
            )
        })?;
        if backend == Backend::Sqlite
            && let Some(dir) = sqlite_dir(url)
        {
            std::fs::create_dir_all(&dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(10))
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 });
        let conn = sea_orm::Database::connect(opts)
            .await
            .map_err(unavailable)?;
        if backend == Backend::Sqlite {
            conn.execute_unprepared("PRAGMA journal_mode=WAL")
                .await
                .map_err(unavailable)?;
        }
        Ok(Database { conn })
    }

    /// Brings the schema up to date.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.conn, None).await.map_err(unavailable)
    }

    /// Starts a write transaction. On SQLite it takes the write lock at
    /// `BEGIN` (`IMMEDIATE`), so a transaction that reads before it writes
    /// waits for other writers instead of failing when its snapshot goes
    /// stale; PostgreSQL ignores the mode.
    pub(crate) async fn write(&self) -> Result<sea_orm::DatabaseTransaction, StoreError> {
        let options = sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        self.conn
            .begin_with_options(options)
            .await
            .map_err(store_err)
    }

    /// The pool, for adapters in this crate.
    pub(crate) fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }
}

fn sqlite_dir(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Into::into)
}

/// Maps a driver error onto the port's error.
pub(crate) fn store_err(e: DbErr) -> StoreError {
    match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            StoreError::Conflict("already exists".into())
        }
        Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_)) => {
            StoreError::Conflict("still referenced".into())
        }
        _ => match e {
            DbErr::RecordNotUpdated | DbErr::RecordNotFound(_) => StoreError::NotFound,
            other => unavailable(other),
        },
    }
}

fn unavailable(e: DbErr) -> StoreError {
    tracing::warn!(error = %e, "database error");
    StoreError::Unavailable(e.to_string())
}

/// Bumps the tenant's authorization generation; call inside the write's transaction.
pub(crate) async fn bump_generation(
    c: &impl ConnectionTrait,
    tenant: Uuid,
) -> Result<(), StoreError> {
    use entity::tenant::{Column, Entity};
    Entity::update_many()
        .col_expr(
            Column::AuthzGeneration,
            Expr::col(Column::AuthzGeneration).add(1),
        )
        .filter(Column::Id.eq(tenant))
        .exec(c)
        .await
        .map_err(store_err)?;
    Ok(())
}
