//! rosgate's database schema as ordered migrations, portable across SQLite
//! (the embedded default) and PostgreSQL.
//!
//! Architecture invariant: a migration, once released, never changes; a
//! schema change is a new file `mYYYYMMDD_HHMMSS_name.rs`.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_foundation;
mod m20261122_000002_identities;
mod m20261122_000003_device_tls;
mod m20261122_000004_plans;
mod m20261122_000005_audit_chain;
mod m20261201_000006_audit_intents;
mod m20261204_000007_intended_changes;
mod m20261205_000008_plan_confirmed;

/// The ordered list of migrations.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_foundation::Migration),
            Box::new(m20261122_000002_identities::Migration),
            Box::new(m20261122_000003_device_tls::Migration),
            Box::new(m20261122_000004_plans::Migration),
            Box::new(m20261122_000005_audit_chain::Migration),
            Box::new(m20261201_000006_audit_intents::Migration),
            Box::new(m20261204_000007_intended_changes::Migration),
            Box::new(m20261205_000008_plan_confirmed::Migration),
        ]
    }
}
