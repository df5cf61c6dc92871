//! The denials report: who was refused, and why, counted. It shows a
//! misconfigured role or a probing account at a glance, where the raw trail
//! would show thousands of lines.

use crate::report::{self, Format, Range, Report, Scope};
use crate::tally::{ByName, ByUser, rank};
use audit::AuditReader;
use audit::Outcome;
use audit::query::for_each;
use kernel::{StoreError, TenantId, UserId};
use serde::Serialize;
use std::sync::Arc;

/// One (user, email, reason) and how often it was refused.
#[derive(Debug, Serialize)]
struct DenialRow {
    user_id: Option<UserId>,
    user_email: Option<String>,
    reason: String,
    count: u64,
}

/// Counts the refused requests of `tenant` in `range` by user and reason
/// (an aggregate event counts as the `count` refusals it stands for),
/// most frequent first (then by user id, email and reason).
///
/// JSON: `{"report":"denials","tenant_id","from","to","chain_head",
/// "rows":[{"user_id","user_email","reason","count"}],"total"}` where
/// `total` counts every denial. CSV: `user_id,user_email,reason,count`.
///
/// The whole range is read before the report is returned (its rows are
/// known only then), in bounded chunks; the body is one chunk.
///
/// # Errors
///
/// What the reader returns.
pub async fn denials(
    reader: Arc<dyn AuditReader>,
    tenant: TenantId,
    range: Range,
    format: Format,
) -> Result<Report, StoreError> {
    let scope = Scope::resolve(reader.as_ref(), tenant, range).await?;
    let mut tally = ByUser::<ByName>::default();
    let mut total = 0u64;
    if let Some((first, last)) = scope.seqs {
        for_each(reader.as_ref(), scope.chain, first, last, |row| {
            let e = &row.event;
            if e.decision == Outcome::Deny {
                // An aggregate event stands for `count` refusals.
                let n = u64::from(e.count.max(1));
                total += n;
                tally
                    .entry(e.user_id, e.user_email.as_deref())
                    .add_n(Some(&e.reason), n);
            }
            true
        })
        .await?;
    }
    let mut rows: Vec<DenialRow> = tally
        .into_rows()
        .flat_map(|(user_id, user_email, reasons)| {
            reasons.into_rows().map(move |(reason, count)| DenialRow {
                user_id,
                user_email: user_email.clone(),
                reason: reason.unwrap_or_default(),
                count,
            })
        })
        .collect();
    rank(
        &mut rows,
        |r| r.count,
        |r| (r.user_id, r.user_email.clone(), r.reason.clone()),
    );

    report::ranked(
        scope,
        "denials",
        format,
        &rows,
        (&[], &[("total", total.into())]),
        &["user_id", "user_email", "reason", "count"],
        |r| {
            vec![
                r.user_id.map(|u| u.to_string()).unwrap_or_default(),
                r.user_email.clone().unwrap_or_default(),
                r.reason.clone(),
                r.count.to_string(),
            ]
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MemoryReader, TENANT, at, body, prod_change, user};
    use audit::AuditEvent;
    use audit::chain::to_hex;
    use serde_json::{Value, json};

    fn denial(n: i64, u: u128, reason: &str) -> AuditEvent {
        let mut e = prod_change(n);
        e.user_id = Some(user(u));
        e.user_email = Some(format!("u{u}@example.test"));
        e.decision = Outcome::Deny;
        e.result = audit::RunResult::Failure;
        e.error_class = Some("forbidden".into());
        e.reason = reason.into();
        e
    }

    fn events() -> Vec<AuditEvent> {
        let missing = "no binding grants site:update at site 3";
        let awkward = "out of reach: team \"core\", site 9\nsecond line";
        vec![
            denial(1, 1, missing),
            prod_change(2),
            denial(3, 2, awkward),
            denial(4, 1, missing),
            denial(5, 2, awkward),
            denial(6, 2, missing),
            denial(7, 1, missing),
            denial(8, 3, awkward),
        ]
    }

    async fn report(reader: Arc<MemoryReader>, range: Range, format: Format) -> (String, String) {
        let r = denials(reader, TENANT, range, format).await.unwrap();
        let head = r.chain_head.clone();
        (head, body(r).await)
    }

    #[tokio::test]
    async fn an_aggregate_event_counts_as_the_refusals_it_stands_for() {
        let mut aggregate = denial(9, 4, "rate limited");
        aggregate.count = 25;
        let reader = Arc::new(MemoryReader::with(vec![
            denial(1, 4, "rate limited"),
            aggregate,
        ]));
        let (_, text) = report(reader, Range::default(), Format::Json).await;
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["total"], json!(26));
        assert_eq!(doc["rows"][0]["count"], json!(26));
    }

    #[tokio::test]
    async fn denials_are_counted_by_user_and_reason_most_first() {
        let reader = Arc::new(MemoryReader::with(events()));
        let (head, text) = report(reader.clone(), Range::default(), Format::Json).await;
        let doc: Value = serde_json::from_str(&text).unwrap();
        let missing = "no binding grants site:update at site 3";
        let awkward = "out of reach: team \"core\", site 9\nsecond line";
        assert_eq!(doc["report"], json!("denials"));
        assert_eq!(doc["chain_head"], json!(head));
        assert_eq!(head, to_hex(&reader.rows(TENANT)[7].hash));
        assert_eq!(doc["total"], json!(7));
        let row = |u: u128, reason: &str, count: u64| json!({"user_id": user(u).to_string(), "user_email": format!("u{u}@example.test"), "reason": reason, "count": count});
        assert_eq!(
            doc["rows"],
            json!([
                row(1, missing, 3),
                row(2, awkward, 2),
                row(2, missing, 1),
                row(3, awkward, 1),
            ])
        );

        let (_, text) = report(reader, Range::default(), Format::Csv).await;
        let mut parsed = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            parsed.headers().unwrap(),
            vec!["user_id", "user_email", "reason", "count"]
        );
        let rows: Vec<Vec<String>> = parsed
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        assert_eq!(rows.len(), 4);
        assert_eq!(
            rows[1],
            vec![
                user(2).to_string(),
                "u2@example.test".to_owned(),
                awkward.to_owned(),
                "2".to_owned()
            ]
        );
    }

    #[tokio::test]
    async fn the_range_limits_what_is_counted() {
        let reader = Arc::new(MemoryReader::with(events()));
        let range = Range {
            from: Some(at(4)),
            to: Some(at(7)),
        };
        let (head, text) = report(reader.clone(), range, Format::Json).await;
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["total"], json!(3));
        assert_eq!(head, to_hex(&reader.rows(TENANT)[5].hash));
        assert_eq!(doc["rows"].as_array().unwrap().len(), 3);
    }
}
