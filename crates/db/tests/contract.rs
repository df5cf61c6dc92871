//! The storage contract of the domain ports, run against the backend chosen
//! by `ROSGATE_TEST_DATABASE` (SQLite by default, PostgreSQL in CI's second
//! pass): atomic writes, conflicts instead of half-written rows, and a
//! generation that moves with every change decisions depend on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use db::Database;
use kernel::{BindingId, Environment, StoreError, TenantId, UserId};
use rbac::{AuthzSource, BuiltinRole, RbacRepository, RoleBinding};
use std::sync::Arc;
use tenancy::{Invitation, OrgUnit, Scope, TenancyRepository, Tenant, UnitKind, User};
use testkit::{TestDatabase, fresh_database};
use time::OffsetDateTime;
use uuid::Uuid;

async fn db() -> (Database, tempfile::TempDir) {
    let (url, dir) = fresh_database(TestDatabase::from_env()).await;
    let db = Database::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    (db, dir)
}

fn now() -> OffsetDateTime {
    // Whole microseconds: both engines store that precision.
    let t = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    t.replace_nanosecond(0).unwrap()
}

fn id() -> Uuid {
    Uuid::now_v7()
}

async fn tenant(db: &Database) -> Tenant {
    let t = Tenant {
        id: id().into(),
        name: format!("t-{}", id().simple()),
        created_at: now(),
    };
    db.insert_tenant(&t).await.unwrap();
    t
}

async fn unit(db: &Database, t: &Tenant, kind: UnitKind, parent: Uuid) -> OrgUnit {
    let u = OrgUnit {
        id: id(),
        tenant_id: t.id,
        kind,
        parent_id: parent,
        name: id().to_string(),
        created_at: now(),
    };
    db.insert_unit(&u).await.unwrap();
    u
}

async fn user(db: &Database, t: TenantId, email: &str) -> Result<User, StoreError> {
    let u = User {
        id: id().into(),
        tenant_id: t,
        email: email.into(),
        display_name: "U".into(),
        platform_admin: false,
        created_at: now(),
    };
    db.insert_user(&u).await.map(|_| u)
}

#[tokio::test]
async fn rows_round_trip() {
    let (db, _d) = db().await;
    let t = tenant(&db).await;
    assert_eq!(db.tenant(t.id).await.unwrap(), Some(t.clone()));
    let div = unit(&db, &t, UnitKind::Division, t.id.uuid()).await;
    assert_eq!(db.unit(div.id).await.unwrap(), Some(div.clone()));
    let u = user(&db, t.id, "a@example.test").await.unwrap();
    assert_eq!(
        db.user_by_email("A@example.test").await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        TenancyRepository::tenant_of(&db, div.id).await.unwrap(),
        Some(t.id)
    );
    assert_eq!(
        TenancyRepository::tenant_of(&db, u.id.uuid())
            .await
            .unwrap(),
        Some(t.id)
    );
    assert_eq!(
        TenancyRepository::tenant_of(&db, t.id.uuid())
            .await
            .unwrap(),
        Some(t.id)
    );
    assert_eq!(TenancyRepository::tenant_of(&db, id()).await.unwrap(), None);
}

#[tokio::test]
async fn uniqueness_is_a_conflict_and_nothing_is_half_written() {
    let (db, _d) = db().await;
    let t = tenant(&db).await;
    user(&db, t.id, "dup@example.test").await.unwrap();
    let err = user(&db, t.id, "dup@example.test").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(db.users(t.id).await.unwrap().len(), 1);
    let again = Tenant {
        id: id().into(),
        name: t.name.clone(),
        created_at: now(),
    };
    assert!(matches!(
        db.insert_tenant(&again).await,
        Err(StoreError::Conflict(_))
    ));
}

#[tokio::test]
async fn units_with_children_cannot_be_deleted() {
    let (db, _d) = db().await;
    let t = tenant(&db).await;
    let div = unit(&db, &t, UnitKind::Division, t.id.uuid()).await;
    let grp = unit(&db, &t, UnitKind::Group, div.id).await;
    assert!(matches!(
        db.delete_unit(div.id).await,
        Err(StoreError::Conflict(_))
    ));
    db.delete_unit(grp.id).await.unwrap();
    db.delete_unit(div.id).await.unwrap();
    assert_eq!(db.unit(div.id).await.unwrap(), None);
    assert!(matches!(
        db.delete_unit(div.id).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn every_authorization_relevant_write_moves_the_generation() {
    let (db, _d) = db().await;
    let t = tenant(&db).await;
    let g0 = db.generation(t.id).await.unwrap();
    let div = unit(&db, &t, UnitKind::Division, t.id.uuid()).await;
    let g1 = db.generation(t.id).await.unwrap();
    assert!(g1 > g0);
    let u = user(&db, t.id, "g@example.test").await.unwrap();
    let binding = RoleBinding {
        id: id().into(),
        tenant_id: t.id,
        user_id: u.id,
        role_id: BuiltinRole::OpsRw.id(),
        scope: Scope::Division(div.id.into()),
        environments: Some(vec![Environment::Lab]),
        created_at: now(),
    };
    db.insert_binding(&binding).await.unwrap();
    let g2 = db.generation(t.id).await.unwrap();
    assert!(g2 > g1);
    let snap = db.snapshot(t.id).await.unwrap();
    assert_eq!(snap.generation, g2);
    assert_eq!(snap.bindings, vec![binding.clone()]);
    assert_eq!(snap.units.len(), 1);
    db.delete_binding(binding.id).await.unwrap();
    assert!(db.generation(t.id).await.unwrap() > g2);
    assert!(db.snapshot(t.id).await.unwrap().bindings.is_empty());
}

#[tokio::test]
async fn deleting_a_user_takes_its_bindings_and_tokens_along() {
    let (db, _d) = db().await;
    let t = tenant(&db).await;
    let u = user(&db, t.id, "gone@example.test").await.unwrap();
    let b = RoleBinding {
        id: id().into(),
        tenant_id: t.id,
        user_id: u.id,
        role_id: BuiltinRole::Member.id(),
        scope: Scope::Tenant(t.id),
        environments: None,
        created_at: now(),
    };
    db.insert_binding(&b).await.unwrap();
    let tok = tenancy::ApiToken {
        id: id().into(),
        tenant_id: t.id,
        user_id: u.id,
        name: "x".into(),
        expires_at: None,
        revoked_at: None,
        created_at: now(),
    };
    db.insert_api_token(&tok, "hash").await.unwrap();
    db.delete_user(u.id).await.unwrap();
    assert!(db.bindings(t.id).await.unwrap().is_empty());
    assert_eq!(db.api_token(tok.id).await.unwrap(), None);
}

#[tokio::test]
async fn an_invitation_is_accepted_exactly_once_even_under_concurrency() {
    let (db, _d) = db().await;
    let db = Arc::new(db);
    let t = tenant(&db).await;
    let inv = Invitation {
        id: id().into(),
        tenant_id: t.id,
        email: "race@example.test".into(),
        role_id: BuiltinRole::Member.id(),
        scope: Scope::Tenant(t.id),
        environments: None,
        invited_by: UserId::from_uuid(id()),
        expires_at: now() + time::Duration::days(1),
        accepted_at: None,
        created_at: now(),
    };
    db.insert_invitation(&inv, "hash").await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let db = db.clone();
        let inv_id = inv.id;
        let tenant_id = t.id;
        tasks.push(tokio::spawn(async move {
            let u = User {
                id: id().into(),
                tenant_id,
                email: format!("race{i}@example.test"),
                display_name: "R".into(),
                platform_admin: false,
                created_at: now(),
            };
            db.accept_invitation(inv_id, now(), &u, BindingId::from_uuid(id()))
                .await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::Conflict(_)) | Err(StoreError::Unavailable(_)) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(
        db.users(t.id).await.unwrap().len(),
        1,
        "exactly one user was created"
    );
    assert_eq!(db.bindings(t.id).await.unwrap().len(), 1);
    let (stored, _) = db.invitation(inv.id).await.unwrap().unwrap();
    assert!(stored.accepted_at.is_some());
}

#[tokio::test]
async fn concurrent_read_then_write_transactions_all_succeed() {
    let (db, _d) = db().await;
    let db = Arc::new(db);
    let t = tenant(&db).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let db = db.clone();
        let tenant_id = t.id;
        tasks.push(tokio::spawn(async move {
            let u = user(&db, tenant_id, &format!("c{i}@example.test")).await?;
            let b = RoleBinding {
                id: id().into(),
                tenant_id,
                user_id: u.id,
                role_id: BuiltinRole::Member.id(),
                scope: Scope::Tenant(tenant_id),
                environments: None,
                created_at: now(),
            };
            db.insert_binding(&b).await?;
            db.delete_binding(b.id).await?;
            db.delete_user(u.id).await
        }));
    }
    for task in tasks {
        task.await
            .unwrap()
            .expect("no write is refused for contention");
    }
    assert!(db.users(t.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn identities_link_once_and_provisioning_is_one_transaction() {
    let (db, _d) = db().await;
    let t = tenant(&db).await;
    let team = unit(&db, &t, UnitKind::Division, t.id.uuid()).await;
    let known = user(&db, t.id, "known@example.test").await.unwrap();
    let iss = "https://idp.example";
    assert_eq!(db.user_by_identity(iss, "s-known").await.unwrap(), None);
    db.link_identity(&known, iss, "s-known", now())
        .await
        .unwrap();
    assert_eq!(
        db.user_by_identity(iss, "s-known").await.unwrap(),
        Some(known.clone())
    );
    assert!(
        matches!(
            db.link_identity(&known, iss, "s-known", now()).await,
            Err(StoreError::Conflict(_))
        ),
        "an identity links to one user"
    );
    assert_eq!(
        db.user_by_identity("https://other.example", "s-known")
            .await
            .unwrap(),
        None
    );

    // Links are listed with when they were made, and removed one at a time,
    // only from the user they link to.
    let elsewhere = tenant(&db).await;
    let other = user(&db, elsewhere.id, "other@example.test").await.unwrap();
    db.link_identity(&known, "https://old.example", "s-known", now())
        .await
        .unwrap();
    let links = db.identity_links(known.id).await.unwrap();
    assert_eq!(
        links
            .iter()
            .map(|l| (l.issuer.as_str(), l.subject.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("https://idp.example", "s-known"),
            ("https://old.example", "s-known")
        ]
    );
    assert!(links.iter().all(|l| l.linked_at == now()));
    assert_eq!(
        db.unlink_identity(other.id, iss, "s-known").await,
        Err(StoreError::NotFound),
        "a link is removed only from its own user"
    );
    assert_eq!(
        db.unlink_identity(known.id, iss, "s-unknown").await,
        Err(StoreError::NotFound)
    );
    db.unlink_identity(known.id, "https://old.example", "s-known")
        .await
        .unwrap();
    assert_eq!(
        db.identity_links(known.id)
            .await
            .unwrap()
            .into_iter()
            .map(|l| (l.issuer, l.subject))
            .collect::<Vec<_>>(),
        vec![(iss.to_owned(), "s-known".to_owned())]
    );
    db.unlink_identity(known.id, iss, "s-known").await.unwrap();
    assert_eq!(db.user_by_identity(iss, "s-known").await.unwrap(), None);
    assert!(db.identity_links(known.id).await.unwrap().is_empty());
    db.link_identity(&known, iss, "s-known", now())
        .await
        .unwrap();

    let g0 = db.generation(t.id).await.unwrap();
    let new = User {
        id: id().into(),
        tenant_id: t.id,
        email: "jit@example.test".into(),
        display_name: "J".into(),
        platform_admin: false,
        created_at: now(),
    };
    let grant = tenancy::ProvisionedBinding {
        binding_id: id().into(),
        role_id: BuiltinRole::Member.id(),
        scope: team.scope(),
        environments: Some(vec![Environment::Lab]),
    };
    db.provision_user(&new, &grant, iss, "s-jit").await.unwrap();
    assert_eq!(
        db.user_by_identity(iss, "s-jit").await.unwrap(),
        Some(new.clone())
    );
    assert!(
        db.generation(t.id).await.unwrap() > g0,
        "a new binding moves the generation"
    );
    let b = db.bindings(t.id).await.unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(
        (b[0].scope, b[0].environments.clone()),
        (team.scope(), Some(vec![Environment::Lab]))
    );

    // Provisioning the same identity again writes nothing at all.
    let again = User {
        id: id().into(),
        email: "jit2@example.test".into(),
        ..new.clone()
    };
    let grant2 = tenancy::ProvisionedBinding {
        binding_id: id().into(),
        ..grant
    };
    assert!(
        db.provision_user(&again, &grant2, iss, "s-jit")
            .await
            .is_err()
    );
    assert_eq!(
        db.users(t.id).await.unwrap().len(),
        2,
        "no half-written user"
    );
    assert_eq!(
        db.bindings(t.id).await.unwrap().len(),
        1,
        "no half-written binding"
    );
}

#[tokio::test]
async fn the_newest_live_invitation_is_pending_for_an_email() {
    let (db, _d) = db().await;
    let t = tenant(&db).await;
    let inv = |email: &str, created: OffsetDateTime, expires: OffsetDateTime| Invitation {
        id: id().into(),
        tenant_id: t.id,
        email: email.into(),
        role_id: BuiltinRole::Member.id(),
        scope: Scope::Tenant(t.id),
        environments: None,
        invited_by: UserId::from_uuid(id()),
        expires_at: expires,
        accepted_at: None,
        created_at: created,
    };
    let day = time::Duration::days(1);
    let old = inv("p@example.test", now() - day, now() + day);
    let newer = inv("p@example.test", now(), now() + day);
    let expired = inv("gone@example.test", now() - day * 3, now() - day);
    for i in [&old, &newer, &expired] {
        db.insert_invitation(i, "h").await.unwrap();
    }
    assert_eq!(
        db.pending_invitation_for("P@example.test", now())
            .await
            .unwrap()
            .map(|i| i.id),
        Some(newer.id)
    );
    assert_eq!(
        db.pending_invitation_for("gone@example.test", now())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        db.pending_invitation_for("none@example.test", now())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn plan_status_moves_are_compare_and_set() {
    use tools::PlanStore;
    use tools::plan::{Change, Plan, PlanStatus};
    let (db, _d) = db().await;
    let db = Arc::new(db);
    let t = tenant(&db).await;
    let plan = Plan {
        id: id(),
        tenant_id: t.id,
        created_by: UserId::from_uuid(id()),
        tool: "plan_add_static_route".into(),
        change: Change::RemoveStaticRoute {
            route_id: "*1".into(),
        },
        device_ids: vec![id().into()],
        batch_size: 5,
        status: PlanStatus::Pending,
        risk: "high".into(),
        outcomes: vec![],
        created_at: now(),
        expires_at: now() + time::Duration::minutes(15),
    };
    db.insert_plan(&plan).await.unwrap();
    assert_eq!(
        db.plan(plan.id).await.unwrap(),
        Some(plan.clone()),
        "round trip"
    );
    // Eight callers present the same token at once: one moves the plan.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let db = db.clone();
        let id = plan.id;
        tasks.push(tokio::spawn(async move {
            db.move_plan(id, PlanStatus::Pending, PlanStatus::Confirmed)
                .await
                .unwrap()
        }));
    }
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap());
    }
    assert_eq!(won, 1);
    assert!(
        !db.move_plan(plan.id, PlanStatus::Confirmed, PlanStatus::Pending)
            .await
            .unwrap(),
        "the state machine refuses going back"
    );
    assert!(
        db.move_plan(plan.id, PlanStatus::Confirmed, PlanStatus::Executing)
            .await
            .unwrap()
    );
    let outcome = tools::plan::DeviceOutcome {
        device_id: plan.device_ids[0],
        outcome: "applied".into(),
        detail: "ok".into(),
    };
    db.finish_plan(
        plan.id,
        PlanStatus::Completed,
        std::slice::from_ref(&outcome),
    )
    .await
    .unwrap();
    let stored = db.plan(plan.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.outcomes),
        (PlanStatus::Completed, vec![outcome])
    );
}

mod audit_chain {
    //! The audit trail's storage: dense per-tenant chains under concurrent
    //! appends from several instances, and tampering found by verification.

    use super::*;
    use audit::AuditReader;
    use audit::query::{ChainKey, Filter, LinkBreak, verify_range};
    use audit::testing::EventBuilder;
    use audit::{Actor, AuditEvent, AuditLog, Outcome, RunResult};

    fn key() -> audit::chain::LinkKey {
        audit::chain::LinkKey::new([0x5a; 32])
    }

    fn keys() -> audit::chain::LinkKeys {
        audit::chain::LinkKeys::new(key(), Vec::new())
    }

    fn log(db: &Database) -> db::AuditChainLog {
        db.audit_log(key())
    }

    fn event(tenant: Option<TenantId>, n: i64) -> AuditEvent {
        let tool = if n % 2 == 0 {
            "get_routes"
        } else {
            "update_dns_servers"
        };
        let made = EventBuilder::new(tenant)
            .at(now() + time::Duration::seconds(n))
            .user(UserId::from_uuid(Uuid::from_u128(n as u128 % 3)))
            .email(&format!("u{}@example.test", n % 3))
            .actor(Actor::ApiToken)
            .tool(tool)
            .operation("rest:update_dns_servers")
            .action("tool:advanced")
            .on("device", None)
            .device(Uuid::from_u128(42))
            .environment("prod")
            .write()
            .reason(&format!("reason {n}"))
            .request_id(&format!("r{n}"))
            .client_addr("127.0.0.1")
            .args_digest("00")
            .build();
        AuditEvent {
            decision: if n % 5 == 0 {
                Outcome::Deny
            } else {
                Outcome::Allow
            },
            ..made
        }
    }

    async fn filled(n: i64) -> (Database, tempfile::TempDir, TenantId) {
        let (db, dir) = db().await;
        let t = tenant(&db).await.id;
        let batch: Vec<_> = (1..=n).map(|i| event(Some(t), i)).collect();
        log(&db).append(&batch).await.unwrap();
        (db, dir, t)
    }

    /// An SQL predicate naming the tenant's chain: SQLite keeps uuids as
    /// 16-byte blobs, PostgreSQL as `uuid`.
    fn chain_is(t: TenantId) -> String {
        match TestDatabase::from_env() {
            TestDatabase::Sqlite => format!("chain = x'{}'", t.uuid().simple()),
            TestDatabase::Postgres => format!("chain = '{}'", t.uuid()),
        }
    }

    async fn verify(db: &Database, t: TenantId) -> audit::query::RangeReport {
        verify_range(db, &keys(), None, ChainKey::of(Some(t)), None, None)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn events_round_trip_in_a_dense_chain_that_verifies() {
        let (db, _d, t) = filled(10).await;
        let other = tenant(&db).await.id;
        log(&db)
            .append(&[event(Some(other), 1), event(None, 2)])
            .await
            .unwrap();
        let stored = db
            .scan(ChainKey::of(Some(t)), 0, i64::MAX, 100)
            .await
            .unwrap();
        assert_eq!(
            stored.iter().map(|s| s.seq).collect::<Vec<_>>(),
            (1..=10).collect::<Vec<_>>()
        );
        assert_eq!(stored[3].event.reason, "reason 4");
        assert_eq!(stored[0].prev_hash, audit::chain::GENESIS);
        let report = verify(&db, t).await;
        assert_eq!((report.checked, report.first_break.clone()), (10, None));
        assert_eq!(report.head, stored[9].hash);
        assert_eq!(
            db.head(ChainKey::of(Some(t))).await.unwrap().unwrap().seq,
            10
        );
        // The other tenant's and the tenant-less chains start at 1 of their own.
        for key in [ChainKey::of(Some(other)), ChainKey::NONE] {
            let r = verify_range(&db, &keys(), None, key, None, None)
                .await
                .unwrap();
            assert_eq!((r.checked, r.first_break), (1, None));
        }
    }

    #[tokio::test]
    async fn two_instances_appending_concurrently_keep_one_dense_chain() {
        let (url, _dir) = fresh_database(TestDatabase::from_env()).await;
        let a = Arc::new(Database::connect(&url).await.unwrap());
        a.migrate().await.unwrap();
        let b = Arc::new(Database::connect(&url).await.unwrap());
        let t = tenant(&a).await.id;
        let tasks: Vec<_> = (0..16i64)
            .map(|w| {
                let db = if w % 2 == 0 { a.clone() } else { b.clone() };
                tokio::spawn(async move {
                    for i in 0..10 {
                        let batch: Vec<_> = (0..5)
                            .map(|k| event(Some(t), w * 100 + i * 5 + k))
                            .collect();
                        log(&db).append(&batch).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let report = verify(&a, t).await;
        assert_eq!((report.checked, report.first_break), (800, None));
    }

    #[tokio::test]
    async fn editing_deleting_reordering_and_truncating_rows_are_each_detected() {
        type Tamper = (&'static str, LinkBreak, i64);
        let cases: [Tamper; 7] = [
            (
                "UPDATE audit_events SET reason = 'nothing happened' WHERE seq = 4",
                LinkBreak::Altered,
                4,
            ),
            (
                "UPDATE audit_events SET decision = 'allow' WHERE seq = 5",
                LinkBreak::Altered,
                5,
            ),
            (
                "UPDATE audit_events SET result = 'maybe' WHERE seq = 2",
                LinkBreak::Altered,
                2,
            ),
            (
                "UPDATE audit_events SET hash = 'not hex' WHERE seq = 3",
                LinkBreak::Altered,
                3,
            ),
            (
                "DELETE FROM audit_events WHERE seq = 6",
                LinkBreak::Missing,
                7,
            ),
            (
                // A swap in three steps: (chain, seq) is unique at every row.
                "UPDATE audit_events SET seq = -3 WHERE seq = 3; \
                 UPDATE audit_events SET seq = 3 WHERE seq = 8; \
                 UPDATE audit_events SET seq = 8 WHERE seq = -3",
                LinkBreak::Missing,
                3,
            ),
            (
                "DELETE FROM audit_events WHERE seq >= 9",
                LinkBreak::Truncated,
                10,
            ),
        ];
        for (sql, problem, seq) in cases {
            let (db, _d, t) = filled(10).await;
            assert_eq!(verify(&db, t).await.first_break, None);
            let sql = sql.replace("WHERE", &format!("WHERE {} AND", chain_is(t)));
            for statement in sql.split("; ") {
                let changed = db.execute_unprepared(statement).await.unwrap();
                assert!(changed > 0, "{statement}");
            }
            let found = verify(&db, t).await.first_break.expect(&sql);
            assert_eq!((found.problem, found.seq), (problem, seq), "{sql}");
        }
    }

    /// The database as a verifier sees it when events are appended between
    /// its reading the head and its reading the rows.
    struct HeadReadEarly<'a> {
        db: &'a Database,
        head: audit::query::Head,
    }

    #[async_trait::async_trait]
    impl AuditReader for HeadReadEarly<'_> {
        async fn page(
            &self,
            key: ChainKey,
            f: &Filter,
            before: Option<i64>,
            limit: u32,
        ) -> Result<Vec<audit::query::StoredEvent>, StoreError> {
            self.db.page(key, f, before, limit).await
        }
        async fn scan(
            &self,
            key: ChainKey,
            after: i64,
            until: i64,
            limit: u32,
        ) -> Result<Vec<audit::query::StoredEvent>, StoreError> {
            self.db.scan(key, after, until, limit).await
        }
        async fn hash_at(&self, key: ChainKey, seq: i64) -> Result<Option<[u8; 32]>, StoreError> {
            self.db.hash_at(key, seq).await
        }
        async fn seq_range(
            &self,
            key: ChainKey,
            from: Option<OffsetDateTime>,
            to: Option<OffsetDateTime>,
        ) -> Result<Option<(i64, i64)>, StoreError> {
            self.db.seq_range(key, from, to).await
        }
        async fn head(&self, _: ChainKey) -> Result<Option<audit::query::Head>, StoreError> {
            Ok(Some(self.head))
        }
        async fn is_concluded(
            &self,
            key: ChainKey,
            intent: kernel::AuditEventId,
        ) -> Result<bool, StoreError> {
            self.db.is_concluded(key, intent).await
        }
        async fn open_intents(
            &self,
            key: Option<ChainKey>,
            until: time::OffsetDateTime,
            limit: u32,
        ) -> Result<Vec<audit::query::StoredEvent>, StoreError> {
            self.db.open_intents(key, until, limit).await
        }
    }

    #[tokio::test]
    async fn events_appended_during_a_verification_are_not_taken_for_truncation() {
        let (db, _d, t) = filled(5).await;
        let key = ChainKey::of(Some(t));
        let head = db.head(key).await.unwrap().unwrap();
        let more: Vec<_> = (6..=10).map(|i| event(Some(t), i)).collect();
        log(&db).append(&more).await.unwrap();
        let early = HeadReadEarly { db: &db, head };
        let r = verify_range(&early, &keys(), None, key, None, None)
            .await
            .unwrap();
        assert_eq!((r.checked, r.first_break, r.head), (5, None, head.hash));
    }

    /// Rewrites the tenant's stored rows as version 1 wrote them: plain
    /// SHA-256 links over the first encoding, and the head after them.
    async fn as_version_1(db: &Database, t: TenantId) {
        use audit::chain::{GENESIS, link_v1, to_hex};
        let mut prev = GENESIS;
        let events = db.audit_events(t).await.unwrap();
        for (i, e) in events.iter().enumerate() {
            let hash = link_v1(&prev, e);
            db.execute_unprepared(&format!(
                "UPDATE audit_events SET version = 1, key_id = NULL, prev_hash = '{}', hash = '{}' WHERE {} AND seq = {}",
                to_hex(&prev),
                to_hex(&hash),
                chain_is(t),
                i + 1
            ))
            .await
            .unwrap();
            prev = hash;
        }
        db.execute_unprepared(&format!(
            "UPDATE audit_heads SET hash = '{}' WHERE {}",
            to_hex(&prev),
            chain_is(t)
        ))
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn rows_of_the_first_encoding_still_verify_and_newer_rows_follow_them() {
        let (db, _d, t) = filled(4).await;
        as_version_1(&db, t).await;
        let r = verify(&db, t).await;
        assert_eq!((r.checked, r.first_break), (4, None));
        let more: Vec<_> = (5..=7).map(|i| event(Some(t), i)).collect();
        log(&db).append(&more).await.unwrap();
        let r = verify(&db, t).await;
        assert_eq!((r.checked, r.first_break), (7, None));
        let from = Some(now() + time::Duration::seconds(6));
        let r = verify_range(&db, &keys(), None, ChainKey::of(Some(t)), from, None)
            .await
            .unwrap();
        assert_eq!((r.checked, r.first_break), (2, None));
    }

    #[tokio::test]
    async fn a_nul_in_one_tenants_event_costs_no_other_event_and_is_kept_escaped() {
        use audit::AuditSink;
        use audit::writer::{GroupCommit, WriterConfig};
        let (db, _d) = db().await;
        let bad_tenant = tenant(&db).await.id;
        let good_tenant = tenant(&db).await.id;
        let writer = Arc::new(GroupCommit::start(
            Arc::new(log(&db)),
            WriterConfig::default(),
        ));
        let calls: Vec<_> = (1..=40)
            .map(|n| {
                let w = writer.clone();
                let mut e = event(Some(if n == 20 { bad_tenant } else { good_tenant }), n);
                if n == 20 {
                    e.tool_name = Some("get\0routes".into());
                    e.reason = "key \u{1}\0 in input".into();
                }
                tokio::spawn(async move { w.record(e).await })
            })
            .collect();
        for c in calls {
            c.await.unwrap().unwrap();
        }
        assert_eq!(db.audit_events(good_tenant).await.unwrap().len(), 39);
        let bad = db.audit_events(bad_tenant).await.unwrap();
        assert_eq!(bad[0].tool_name.as_deref(), Some("get\\u0000routes"));
        assert_eq!(bad[0].reason, "key \\u0001\\u0000 in input");
        for t in [good_tenant, bad_tenant] {
            assert_eq!(verify(&db, t).await.first_break, None);
        }
        // Unescaped, PostgreSQL refuses the text: the writer's escaping is
        // what keeps such a batch alive.
        if TestDatabase::from_env() == TestDatabase::Postgres {
            let mut raw = event(Some(bad_tenant), 99);
            raw.tool_name = Some("x\0".into());
            assert!(
                log(&db)
                    .append(&[raw, event(Some(good_tenant), 98)])
                    .await
                    .is_err()
            );
        }
    }

    #[tokio::test]
    async fn open_intents_are_pending_events_no_outcome_names() {
        let (db, _d) = db().await;
        let a = tenant(&db).await.id;
        let b = tenant(&db).await.id;
        let intent = |t, n| {
            let mut e = event(Some(t), n);
            e.result = RunResult::Pending;
            e
        };
        let outcome = |t, n, of: &AuditEvent| {
            let mut e = event(Some(t), n);
            e.intent_id = Some(of.id);
            e.client_request_id = Some(format!("client-{n}"));
            e.count = 3;
            e
        };
        let (a1, a2, a3, b1) = (intent(a, 1), intent(a, 2), intent(a, 3), intent(b, 4));
        // a2 concluded; an outcome in another chain does not conclude a3.
        log(&db)
            .append(&[
                a1.clone(),
                a2.clone(),
                event(Some(a), 5),
                a3.clone(),
                b1.clone(),
            ])
            .await
            .unwrap();
        log(&db)
            .append(&[outcome(a, 6, &a2), outcome(b, 7, &a3)])
            .await
            .unwrap();
        let ids = |rows: Vec<audit::query::StoredEvent>| -> Vec<_> {
            rows.into_iter().map(|r| r.event.id).collect()
        };
        let ka = ChainKey::of(Some(a));
        let later = now() + time::Duration::hours(1);
        assert_eq!(
            ids(db.open_intents(Some(ka), later, 10).await.unwrap()),
            vec![a1.id, a3.id]
        );
        assert_eq!(
            ids(db.open_intents(Some(ka), later, 1).await.unwrap()),
            vec![a1.id]
        );
        // Only intents made at or before the cutoff: younger ones never
        // hold back older ones of another chain.
        assert_eq!(
            ids(db.open_intents(None, a1.at, 10).await.unwrap()),
            vec![a1.id]
        );
        let mut all = ids(db.open_intents(None, later, 10).await.unwrap());
        all.sort();
        let mut expected = vec![a1.id, a3.id, b1.id];
        expected.sort();
        assert_eq!(all, expected);
        // The new fields round-trip and are in the chain.
        let stored = db.audit_events(a).await.unwrap();
        let concluded = stored.iter().find(|e| e.intent_id == Some(a2.id)).unwrap();
        assert_eq!(
            (concluded.client_request_id.as_deref(), concluded.count),
            (Some("client-6"), 3)
        );
        assert_eq!(verify(&db, a).await.first_break, None);
    }

    /// Finds what the kept change's `expect` says the device shows.
    struct ScriptedDevices;

    #[async_trait::async_trait]
    impl audit::ReadBack for ScriptedDevices {
        async fn read_back(
            &self,
            _: &AuditEvent,
            c: &audit::intents::IntendedChange,
        ) -> audit::intents::Finding {
            use audit::intents::Finding as F;
            match c.change["expect"].as_str() {
                Some("applied") => F::Applied("in place".into()),
                Some("absent") => F::NotApplied("not there".into()),
                Some("busy") => F::Unavailable("no answer".into()),
                _ => F::Unreadable("nothing to read".into()),
            }
        }
    }

    #[tokio::test]
    async fn settling_reads_back_each_kept_change_waits_for_devices_that_cannot_be_asked_and_forgets_what_it_concluded()
     {
        use audit::IntendedChanges;
        use audit::intents::{IntendedChange, READ_BACK_PATIENCE, Settle};
        let (db, _d) = db().await;
        let t = tenant(&db).await.id;
        let intent = |n| {
            let mut e = event(Some(t), n);
            e.result = RunResult::Pending;
            e
        };
        let kept = |e: &AuditEvent, expect: &str, device: u128| IntendedChange {
            intent_id: e.id,
            at: e.at,
            tenant_id: Some(t),
            device_id: Uuid::from_u128(device),
            change: serde_json::json!({"expect": expect}),
        };
        // Old intents with kept changes, one without, one whose kept change
        // names another device than its intent, one concluded normally,
        // one too young.
        let (applied, absent, dark, busy, bare, forged, done, young) = (
            intent(1),
            intent(2),
            intent(3),
            intent(4),
            intent(5),
            intent(6),
            intent(7),
            intent(100),
        );
        for (e, expect, device) in [
            (&applied, "applied", 42),
            (&absent, "absent", 42),
            (&dark, "dark", 42),
            (&busy, "busy", 42),
            (&forged, "applied", 43),
            (&done, "applied", 42),
            (&young, "applied", 42),
        ] {
            db.keep(&kept(e, expect, device)).await.unwrap();
        }
        let mut outcome = event(Some(t), 8);
        outcome.intent_id = Some(done.id);
        log(&db)
            .append(&[
                applied.clone(),
                absent.clone(),
                dark.clone(),
                busy.clone(),
                bare.clone(),
                forged.clone(),
                done.clone(),
                outcome,
                young.clone(),
            ])
            .await
            .unwrap();
        let clock = kernel::ManualClock::new(now() + time::Duration::seconds(50));
        let entropy = kernel::SeededEntropy::new(7);
        let sink = log(&db);
        let settle = Settle {
            reader: &db,
            sink: &sink,
            changes: &db,
            read_back: &ScriptedDevices,
            clock: &clock,
            entropy: &entropy,
        };
        let grace = time::Duration::seconds(10);
        let settled = settle.run(grace).await.unwrap();
        assert_eq!(
            (
                settled.applied,
                settled.not_applied,
                settled.unknown,
                settled.waiting
            ),
            (1, 1, 3, 1)
        );
        let events = db.audit_events(t).await.unwrap();
        let outcome_of = |i: &AuditEvent| {
            let o: Vec<_> = events
                .iter()
                .filter(|e| e.intent_id == Some(i.id))
                .collect();
            assert_eq!(o.len(), 1, "one outcome per intent");
            (o[0].result, o[0].error_class.clone())
        };
        let unknown = (RunResult::Unknown, Some("outcome_unknown".to_owned()));
        assert_eq!(outcome_of(&applied), (RunResult::Success, None));
        assert_eq!(
            outcome_of(&absent),
            (RunResult::Failure, Some("not_applied".into()))
        );
        assert_eq!(outcome_of(&dark), unknown);
        assert_eq!(outcome_of(&bare), unknown);
        assert_eq!(
            outcome_of(&forged),
            unknown,
            "a kept change is checked against its intent"
        );
        assert!(
            events.iter().all(|e| e.intent_id != Some(young.id)),
            "the young intent waits"
        );
        assert!(
            events.iter().all(|e| e.intent_id != Some(busy.id)),
            "an unanswered device is asked again"
        );
        // Kept changes go once their intents are concluded, normally or by
        // settling; the open ones stay.
        for gone in [&applied, &absent, &dark, &forged, &done] {
            assert_eq!(db.find(gone.id).await.unwrap(), None);
        }
        for stays in [&busy, &young] {
            assert!(db.find(stays.id).await.unwrap().is_some());
        }
        // A second round asks the silent device again, and nothing else.
        assert_eq!(
            settle.run(grace).await.unwrap(),
            audit::intents::Settlement {
                waiting: 1,
                ..Default::default()
            }
        );
        // Once patience runs out, it is settled as unknown.
        clock.advance(READ_BACK_PATIENCE);
        let last = settle.run(grace).await.unwrap();
        assert_eq!((last.unknown, last.waiting), (1, 0));
        let events = db.audit_events(t).await.unwrap();
        let gave_up: Vec<_> = events
            .iter()
            .filter(|e| e.intent_id == Some(busy.id))
            .collect();
        assert_eq!(gave_up.len(), 1);
        assert!(
            gave_up[0].reason.contains("24 hours"),
            "{}",
            gave_up[0].reason
        );
        assert_eq!(verify(&db, t).await.first_break, None);
    }

    #[tokio::test]
    async fn a_time_range_verifies_from_the_row_before_it() {
        let (db, _d, t) = filled(10).await;
        let key = ChainKey::of(Some(t));
        let from = Some(now() + time::Duration::seconds(4));
        let to = Some(now() + time::Duration::seconds(8));
        let r = verify_range(&db, &keys(), None, key, from, to)
            .await
            .unwrap();
        assert_eq!((r.checked, r.seqs, r.first_break), (4, Some((4, 7)), None));
        assert_eq!(Some(r.head), db.hash_at(key, 7).await.unwrap());
        // The row before the range is gone: the range's first row is unmoored.
        db.execute_unprepared(&format!(
            "DELETE FROM audit_events WHERE {} AND seq = 3",
            chain_is(t)
        ))
        .await
        .unwrap();
        let r = verify_range(&db, &keys(), None, key, from, to)
            .await
            .unwrap();
        assert_eq!(
            r.first_break.map(|b| (b.problem, b.seq)),
            Some((LinkBreak::Missing, 4))
        );
    }

    #[tokio::test]
    async fn pages_filter_and_follow_the_cursor_newest_first() {
        let (db, _d, t) = filled(30).await;
        let f = Filter {
            decision: Some(Outcome::Allow),
            tool_name: Some("update_dns_servers".into()),
            ..Filter::default()
        };
        let chain = ChainKey::of(Some(t));
        let first = db.page(chain, &f, None, 5).await.unwrap();
        let second = db
            .page(chain, &f, first.last().map(|s| s.seq), 5)
            .await
            .unwrap();
        let seqs: Vec<_> = first.iter().chain(&second).map(|s| s.seq).collect();
        // Odd n are update_dns_servers; multiples of 5 are denials.
        assert_eq!(seqs, vec![29, 27, 23, 21, 19, 17, 13, 11, 9, 7]);
        let by_user = Filter {
            user_id: Some(UserId::from_uuid(Uuid::from_u128(1))),
            from: Some(now() + time::Duration::seconds(10)),
            to: Some(now() + time::Duration::seconds(20)),
            ..Filter::default()
        };
        let seqs: Vec<_> = db
            .page(chain, &by_user, None, 50)
            .await
            .unwrap()
            .iter()
            .map(|s| s.seq)
            .collect();
        assert_eq!(seqs, vec![19, 16, 13, 10]);
        let other = tenant(&db).await.id;
        assert!(
            db.page(ChainKey::of(Some(other)), &Filter::default(), None, 50)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
