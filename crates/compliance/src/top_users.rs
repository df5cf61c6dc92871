//! The top users report: who changes the most, and how often their changes
//! fail. It points a reviewer at the accounts whose changes matter most.

use crate::report::{self, Format, Range, Report, Scope};
use crate::tally::{ByUser, rank};
use audit::AuditReader;
use audit::RunResult;
use audit::query::for_each;
use kernel::{StoreError, TenantId, UserId};
use serde::Serialize;
use std::sync::Arc;

/// The most rows [`top_users`] returns; a larger `limit` is taken as this.
pub const MAX_TOP_USERS: usize = 1000;

/// A user's changes, as tallied.
#[derive(Debug, Default, Clone, Copy)]
struct Changes {
    changes: u64,
    failed: u64,
}

/// One user's row.
#[derive(Debug, Serialize)]
struct UserRow {
    user_id: Option<UserId>,
    user_email: Option<String>,
    changes: u64,
    failed: u64,
}

/// Ranks the users of `tenant` by the changes they made in `range` (allowed
/// writes, [`audit::AuditEvent::is_change`]), most first (then by user id
/// and email), and keeps the first `limit`, which is taken into
/// `1..=`[`MAX_TOP_USERS`]. `failed` counts those changes that failed. A
/// user is keyed by id and the email recorded, like every report.
///
/// JSON: `{"report":"top_users","tenant_id","from","to","chain_head",
/// "limit","rows":[{"user_id","user_email","changes","failed"}]}`. CSV:
/// `user_id,user_email,changes,failed`.
///
/// The whole range is read before the report is returned, in bounded
/// chunks; the body is one chunk.
///
/// # Errors
///
/// What the reader returns.
pub async fn top_users(
    reader: Arc<dyn AuditReader>,
    tenant: TenantId,
    range: Range,
    limit: usize,
    format: Format,
) -> Result<Report, StoreError> {
    let limit = limit.clamp(1, MAX_TOP_USERS);
    let scope = Scope::resolve(reader.as_ref(), tenant, range).await?;
    let mut tally = ByUser::<Changes>::default();
    if let Some((first, last)) = scope.seqs {
        for_each(reader.as_ref(), scope.chain, first, last, |row| {
            let e = &row.event;
            if e.is_change() {
                // An aggregate event stands for `count` occurrences.
                let n = u64::from(e.count.max(1));
                let user = tally.entry(e.user_id, e.user_email.as_deref());
                user.changes += n;
                if e.result == RunResult::Failure {
                    user.failed += n;
                }
            }
            true
        })
        .await?;
    }
    let mut rows: Vec<UserRow> = tally
        .into_rows()
        .map(|(user_id, user_email, c)| UserRow {
            user_id,
            user_email,
            changes: c.changes,
            failed: c.failed,
        })
        .collect();
    rank(
        &mut rows,
        |r| r.changes,
        |r| (r.user_id, r.user_email.clone()),
    );
    rows.truncate(limit);

    report::ranked(
        scope,
        "top_users",
        format,
        &rows,
        (&[("limit", limit.into())], &[]),
        &["user_id", "user_email", "changes", "failed"],
        |r| {
            vec![
                r.user_id.map(|u| u.to_string()).unwrap_or_default(),
                r.user_email.clone().unwrap_or_default(),
                r.changes.to_string(),
                r.failed.to_string(),
            ]
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MemoryReader, TENANT, body, prod_change, user};
    use audit::{AuditEvent, Effect, Outcome};
    use serde_json::{Value, json};

    /// User n makes n changes (n = 1..=5) and user 5 fails two of them.
    /// User 3 changes lab devices, which still count: every change does.
    /// Users 1 and 2 also read and are refused ten times, which do not.
    fn events() -> Vec<AuditEvent> {
        let mut events = Vec::new();
        let mut n = 0;
        let mut next = |u: u128, edit: &dyn Fn(&mut AuditEvent)| {
            n += 1;
            let mut e = prod_change(n);
            e.user_id = Some(user(u));
            e.user_email = Some(format!("u{u}@example.test"));
            edit(&mut e);
            e
        };
        for u in 1..=5u128 {
            for i in 0..u {
                events.push(next(u, &|e| {
                    if u == 3 {
                        e.environment = Some("lab".into());
                    }
                    if u == 5 && i < 2 {
                        e.result = RunResult::Failure;
                    }
                }));
            }
        }
        for _ in 0..10 {
            events.push(next(1, &|e| e.effect = Effect::Read));
            events.push(next(2, &|e| e.decision = Outcome::Deny));
        }
        events
    }

    async fn rows(limit: usize) -> Value {
        let reader = Arc::new(MemoryReader::with(events()));
        let r = top_users(reader, TENANT, Range::default(), limit, Format::Json)
            .await
            .unwrap();
        let doc: Value = serde_json::from_str(&body(r).await).unwrap();
        assert_eq!(doc["report"], json!("top_users"));
        doc["rows"].clone()
    }

    fn row(u: u128, changes: u64, failed: u64) -> Value {
        json!({"user_id": user(u).to_string(), "user_email": format!("u{u}@example.test"), "changes": changes, "failed": failed})
    }

    #[tokio::test]
    async fn users_are_ranked_by_changes_and_cut_at_the_limit() {
        assert_eq!(
            rows(3).await,
            json!([row(5, 5, 2), row(4, 4, 0), row(3, 3, 0)])
        );
        assert_eq!(rows(100).await.as_array().unwrap().len(), 5);
        assert_eq!(
            rows(0).await,
            json!([row(5, 5, 2)]),
            "limit 0 is taken as 1"
        );
    }

    #[tokio::test]
    async fn csv_has_the_same_rows() {
        let reader = Arc::new(MemoryReader::with(events()));
        let r = top_users(reader, TENANT, Range::default(), 2, Format::Csv)
            .await
            .unwrap();
        let text = body(r).await;
        let mut parsed = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            parsed.headers().unwrap(),
            vec!["user_id", "user_email", "changes", "failed"]
        );
        let got: Vec<Vec<String>> = parsed
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        assert_eq!(
            got,
            vec![
                vec![
                    user(5).to_string(),
                    "u5@example.test".into(),
                    "5".into(),
                    "2".into()
                ],
                vec![
                    user(4).to_string(),
                    "u4@example.test".into(),
                    "4".into(),
                    "0".into()
                ],
            ]
        );
    }
}
