//! Tamper evidence against someone who can write the database: keyed
//! links they cannot recompute, and signed checkpoints of each chain's head
//! kept outside the database, which catch a tail cut off together with the
//! recorded head, and which they cannot forge either.

use audit::AuditReader;
use audit::chain::{LinkKey, canonical, link, to_hex};
use audit::checkpoint::{Checkpoint, CheckpointSigner};
use audit::query::ChainKey;
use rbac::BuiltinRole as R;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::Write;
use tenancy::{Scope, Tenant};
use testkit::{TestApp, TestDatabase};

const VERIFY: &str = "/api/v1/audit/verify";

/// A tenant whose auditor made a few events.
async fn trail() -> (TestApp, Tenant, String) {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("kept").await;
    let (_, auditor) = app
        .user(tenant.id, &[(R::Approver, Scope::Tenant(tenant.id))])
        .await;
    for _ in 0..4 {
        assert_eq!(
            app.get(&auditor, "/api/v1/sites").await.status,
            StatusCode::OK
        );
    }
    (app, tenant, auditor)
}

async fn verify(app: &TestApp, token: &str, query: &str) -> Value {
    let r = app.get(token, &format!("{VERIFY}{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

fn chain_is(app: &TestApp, t: &Tenant) -> String {
    match app.backend {
        TestDatabase::Sqlite => format!("chain = x'{}'", t.id.uuid().simple()),
        TestDatabase::Postgres => format!("chain = '{}'", t.id.uuid()),
    }
}

async fn sql(app: &TestApp, sql: &str) {
    let changed = app.state.db.execute_unprepared(sql).await.unwrap();
    assert!(changed > 0, "{sql} changed nothing");
}

#[tokio::test]
async fn a_database_writer_who_relinks_an_edited_row_without_the_key_is_caught() {
    let (app, tenant, auditor) = trail().await;
    let key = ChainKey::of(Some(tenant.id));
    let row = app.state.db.scan(key, 1, 2, 1).await.unwrap().remove(0);
    let mut edited = row.event.clone();
    edited.reason = "nothing happened".into();
    let plain: [u8; 32] = {
        let mut h = Sha256::new();
        h.update([audit::chain::VERSION]);
        h.update(row.prev_hash);
        h.update(canonical(&edited));
        h.finalize().into()
    };
    let guessed = link(&LinkKey::new([0; 32]), &row.prev_hash, &edited);
    for (how, hash) in [
        ("plain SHA-256", plain),
        ("HMAC under a guessed key", guessed),
    ] {
        sql(
            &app,
            &format!(
                "UPDATE audit_events SET reason = 'nothing happened', hash = '{}' WHERE {} AND seq = 2",
                to_hex(&hash),
                chain_is(&app, &tenant)
            ),
        )
        .await;
        let v = verify(&app, &auditor, "").await;
        assert_eq!(v["ok"], false, "{how}: {v}");
        assert_eq!(v["first_break"]["seq"], 2, "{how}: {v}");
        assert_eq!(v["first_break"]["problem"], "altered", "{how}: {v}");
    }
}

#[tokio::test]
async fn cutting_the_tail_and_the_head_together_is_caught_by_the_signed_checkpoint() {
    let (app, tenant, auditor) = trail().await;
    let key = ChainKey::of(Some(tenant.id));
    assert!(
        app.state
            .audit_trust
            .write_checkpoints(&app.state.db, app.state.clock.now())
            .await
            .unwrap()
            >= 1
    );
    let head = app.state.db.head(key).await.unwrap().unwrap();
    let v = verify(&app, &auditor, "").await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["checkpoint"]["seq"], head.seq);
    assert_eq!(v["checkpoint"]["head"], json!(to_hex(&head.hash)));

    // The newest two rows go, and the recorded head moves back with them:
    // every remaining link holds and the head agrees with the rows.
    let keep = head.seq - 2;
    let kept = app.state.db.hash_at(key, keep).await.unwrap().unwrap();
    sql(
        &app,
        &format!(
            "DELETE FROM audit_events WHERE {} AND seq > {keep}",
            chain_is(&app, &tenant)
        ),
    )
    .await;
    sql(
        &app,
        &format!(
            "UPDATE audit_heads SET seq = {keep}, hash = '{}' WHERE {}",
            to_hex(&kept),
            chain_is(&app, &tenant)
        ),
    )
    .await;
    let v = verify(&app, &auditor, "").await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["first_break"]["problem"], "truncated", "{v}");
    assert_eq!(v["first_break"]["seq"], head.seq);
    // A bounded range sees the cut too. (The verification above was
    // itself recorded, at a `seq` the cut freed: the chain still ends
    // before the checkpoint's.)
    let v = verify(&app, &auditor, "?to=2999-01-01T00:00:00Z").await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["first_break"]["problem"], "truncated", "{v}");
    // Once new events cover the checkpoint's `seq` again, they are not the
    // row it signed.
    app.get(&auditor, "/api/v1/sites").await;
    let v = verify(&app, &auditor, "?from=2000-01-01T00:00:00Z").await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["first_break"]["problem"], "rewritten", "{v}");
}

#[tokio::test]
async fn a_forged_checkpoint_is_reported() {
    let (app, tenant, auditor) = trail().await;
    let key = ChainKey::of(Some(tenant.id));
    app.state
        .audit_trust
        .write_checkpoints(&app.state.db, app.state.clock.now())
        .await
        .unwrap();
    let head = app.state.db.head(key).await.unwrap().unwrap();
    // Someone without the signing key vouches for a shorter chain.
    let forged = CheckpointSigner::from_seed([9; 32]).line(&Checkpoint {
        chain: key,
        seq: 1,
        head: head.hash,
        at: app.state.clock.now(),
    });
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(app.state.audit_trust.file())
        .unwrap();
    writeln!(f, "{forged}").unwrap();
    let v = verify(&app, &auditor, "").await;
    assert_eq!(v["ok"], false, "{v}");
    assert!(v["first_break"].is_null(), "the chain itself holds: {v}");
    assert_eq!(
        v["forged_checkpoint_lines"].as_array().unwrap().len(),
        1,
        "{v}"
    );
    assert_eq!(
        v["checkpoint"]["seq"], head.seq,
        "the genuine one still counts"
    );
}
