//! Plans stored while the confirmed state was still called `approved` read
//! as `confirmed` once the schema is up to date, and going down restores
//! the old name.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use migration::{Migrator, MigratorTrait};
use sea_orm_migration::sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

async fn statuses(db: &DatabaseConnection) -> Vec<String> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT status FROM plans ORDER BY id",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "status").unwrap())
        .collect()
}

#[tokio::test]
async fn approved_plans_become_confirmed_and_nothing_else_moves() {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    let before = Migrator::migrations().len() - 1;
    Migrator::up(&db, Some(u32::try_from(before).unwrap()))
        .await
        .unwrap();
    db.execute_unprepared(
        "INSERT INTO tenants (id, name, authz_generation, created_at) \
         VALUES ('t1', 'tenant', 0, '2026-12-01T00:00:00Z')",
    )
    .await
    .unwrap();
    for (id, status) in [("p1", "approved"), ("p2", "pending"), ("p3", "completed")] {
        db.execute_unprepared(&format!(
            "INSERT INTO plans (id, tenant_id, created_by, tool, \"change\", device_ids, \
             batch_size, status, risk, outcomes, created_at, expires_at) \
             VALUES ('{id}', 't1', 'u1', 'plan_add_static_route', '{{}}', '[]', 5, \
             '{status}', 'high', '[]', '2026-12-01T00:00:00Z', '2026-12-01T00:15:00Z')"
        ))
        .await
        .unwrap();
    }

    Migrator::up(&db, None).await.unwrap();
    assert_eq!(statuses(&db).await, ["confirmed", "pending", "completed"]);

    Migrator::down(&db, Some(1)).await.unwrap();
    assert_eq!(statuses(&db).await, ["approved", "pending", "completed"]);
}
