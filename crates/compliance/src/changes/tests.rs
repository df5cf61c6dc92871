use super::*;
use crate::testing::{
    MemoryReader, OTHER_TENANT, TENANT, at, body, chunks, device, prod_change, user,
};
use audit::chain::{GENESIS, to_hex};
use audit::query::verify_range;
use futures::StreamExt;
use serde_json::{Value, json};

fn shared(reader: MemoryReader) -> Arc<MemoryReader> {
    Arc::new(reader)
}

async fn run(reader: &Arc<MemoryReader>, range: Range, format: Format) -> (String, String) {
    let report = production_changes(reader.clone(), TENANT, range, format)
        .await
        .unwrap();
    let head = report.chain_head.clone();
    (head, body(report).await)
}

async fn json_report(reader: &Arc<MemoryReader>, range: Range) -> Value {
    let (head, text) = run(reader, range, Format::Json).await;
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["chain_head"], json!(head));
    doc
}

async fn csv_rows(reader: &Arc<MemoryReader>, range: Range) -> Vec<csv::StringRecord> {
    let (_, text) = run(reader, range, Format::Csv).await;
    let mut parsed = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(parsed.headers().unwrap(), &EVENT_COLUMNS[..]);
    parsed.records().map(Result::unwrap).collect()
}

/// Asserts that the keys appear in `text` in this order.
fn in_order(text: &str, keys: &[&str]) {
    let mut from = 0;
    for key in keys {
        let quoted = format!("\"{key}\":");
        let at = text[from..]
            .find(&quoted)
            .unwrap_or_else(|| panic!("{key} missing or out of order"));
        from += at + quoted.len();
    }
}

fn seqs(doc: &Value) -> Vec<i64> {
    doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect()
}

/// Events 1..=8 of which only 1, 6 and 8 are production changes (another
/// tenant's production change sits between them in its own chain).
fn mixed() -> Vec<AuditEvent> {
    let mut events = Vec::new();
    events.push(prod_change(1));
    let mut read = prod_change(2);
    read.effect = Effect::Read;
    events.push(read);
    let mut denied = prod_change(3);
    denied.decision = Outcome::Deny;
    denied.result = RunResult::Failure;
    events.push(denied);
    let mut staging = prod_change(4);
    staging.environment = Some("staging".into());
    events.push(staging);
    let mut no_device = prod_change(5);
    no_device.device_id = None;
    events.push(no_device);
    let mut other = prod_change(100);
    other.tenant_id = Some(OTHER_TENANT);
    events.push(other);
    events.push(prod_change(6));
    let mut no_env = prod_change(7);
    no_env.environment = None;
    events.push(no_env);
    events.push(prod_change(8));
    events
}

#[tokio::test]
async fn only_allowed_writes_on_production_devices_appear() {
    let reader = shared(MemoryReader::with(mixed()));
    let doc = json_report(&reader, Range::default()).await;
    assert_eq!(seqs(&doc), vec![1, 6, 8]);
    let rows = csv_rows(&reader, Range::default()).await;
    let csv_seqs: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(csv_seqs, vec!["1", "6", "8"]);
    assert_eq!(doc["summary"]["total"], json!(3));
}

#[tokio::test]
async fn the_json_document_has_its_header_events_and_summary() {
    let reader = shared(MemoryReader::with(mixed()));
    let range = Range {
        from: Some(at(1)),
        to: Some(at(9)),
    };
    let (_, text) = run(&reader, range, Format::Json).await;
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["report"], json!("production_changes"));
    assert_eq!(doc["tenant_id"], json!(TENANT.to_string()));
    assert_eq!(doc["from"], json!("2026-01-01T00:01:00.000000Z"));
    assert_eq!(doc["to"], json!("2026-01-01T00:09:00.000000Z"));
    let top = [
        "report",
        "tenant_id",
        "from",
        "to",
        "chain_head",
        "events",
        "summary",
    ];
    assert_eq!(doc.as_object().unwrap().len(), top.len());
    in_order(&text, &top);
    // The summary comes after the last event.
    assert!(text.rfind(r#""seq":"#).unwrap() < text.find(r#""summary":"#).unwrap());
    let first = &doc["events"][0];
    let row = &reader.rows(TENANT)[0];
    assert_eq!(first.as_object().unwrap().len(), EVENT_COLUMNS.len());
    in_order(&text[text.find(r#""events":"#).unwrap()..], &EVENT_COLUMNS);
    assert_eq!(
        first,
        &json!({
            "seq": 1,
            "id": row.event.id.to_string(),
            "at": "2026-01-01T00:01:00.000000Z",
            "user_id": user(1).to_string(),
            "user_email": "u1@example.test",
            "actor": "user",
            "operation": "mcp:update_dns_servers",
            "tool_name": "update_dns_servers",
            "device_id": device(1).to_string(),
            "environment": "prod",
            "action": "tool:advanced",
            "decision": "allow",
            "reason": "granted by ops_rw at team",
            "result": "success",
            "error_class": null,
            "approval_request_id": null,
            "request_id": "req-1",
            "client_request_id": null,
            "intent_id": null,
            "count": 1,
            "hash": to_hex(&row.hash),
        })
    );
}

#[tokio::test]
async fn open_ends_are_null_and_an_empty_range_is_a_complete_document() {
    let reader = shared(MemoryReader::with(mixed()));
    let doc = json_report(&reader, Range::default()).await;
    assert_eq!((&doc["from"], &doc["to"]), (&Value::Null, &Value::Null));

    let empty = Range {
        from: Some(at(1000)),
        to: None,
    };
    let scans_before = reader.scan_limits.lock().unwrap().len();
    let doc = json_report(&reader, empty).await;
    // Nothing was read: the range was known to be empty.
    assert_eq!(reader.scan_limits.lock().unwrap().len(), scans_before);
    assert_eq!(doc["chain_head"], json!(to_hex(&GENESIS)));
    assert_eq!(doc["events"], json!([]));
    assert_eq!(
        doc["summary"],
        json!({"total": 0, "succeeded": 0, "failed": 0, "pending": 0, "unknown": 0, "by_user": [], "by_device": [], "by_tool": []})
    );
    assert!(csv_rows(&reader, empty).await.is_empty());
}

#[tokio::test]
async fn the_summary_counts_by_user_device_and_tool() {
    let mut events = Vec::new();
    for n in 1..=10 {
        let mut e = prod_change(n);
        // Users: 2 makes 5 changes, 1 makes 3, 3 makes 2.
        let u = match n {
            1..=5 => 2,
            6..=8 => 1,
            _ => 3,
        };
        e.user_id = Some(user(u));
        e.user_email = Some(format!("u{u}@example.test"));
        // Devices: 1 has 4, 2 has 4, 3 has 2 (a tie broken by id).
        e.device_id = Some(device((n % 5) as u128 / 2 + 1));
        // Tools: 4 without a tool name (a REST operation), 6 named.
        e.tool_name = (n > 4).then(|| "set_identity".to_owned());
        if n % 4 == 0 {
            e.result = RunResult::Failure;
            e.error_class = Some("device_unreachable".into());
        }
        events.push(e);
    }
    let reader = shared(MemoryReader::with(events));
    let doc = json_report(&reader, Range::default()).await;
    let mut by_device = std::collections::BTreeMap::<u128, u64>::new();
    for n in 1..=10i64 {
        *by_device.entry((n % 5) as u128 / 2 + 1).or_default() += 1;
    }
    assert_eq!(
        by_device.into_iter().collect::<Vec<_>>(),
        [(1, 4), (2, 4), (3, 2)]
    );
    assert_eq!(
        doc["summary"],
        json!({
            "total": 10,
            "succeeded": 8,
            "failed": 2,
            "pending": 0,
            "unknown": 0,
            "by_user": [
                {"user_id": user(2).to_string(), "user_email": "u2@example.test", "count": 5},
                {"user_id": user(1).to_string(), "user_email": "u1@example.test", "count": 3},
                {"user_id": user(3).to_string(), "user_email": "u3@example.test", "count": 2},
            ],
            "by_device": [
                {"device_id": device(1).to_string(), "count": 4},
                {"device_id": device(2).to_string(), "count": 4},
                {"device_id": device(3).to_string(), "count": 2},
            ],
            "by_tool": [
                {"tool": "set_identity", "count": 6},
                {"tool": null, "count": 4},
            ],
        })
    );
}

#[tokio::test]
async fn csv_round_trips_awkward_text() {
    let awkward = [
        "a, b, and c",
        "she said \"no\"",
        "line one\nline two\r\nline three",
        "",
        ",\"\n",
        "ünïcødé ✓",
    ];
    let events: Vec<_> = awkward
        .iter()
        .enumerate()
        .map(|(i, reason)| {
            let mut e = prod_change(i as i64 + 1);
            e.reason = (*reason).to_owned();
            e.user_email = Some(format!("\"odd, {i}\"@example.test"));
            e.approval_request_id = Some(Uuid::from_u128(42));
            e
        })
        .collect();
    let reader = shared(MemoryReader::with(events));
    let rows = csv_rows(&reader, Range::default()).await;
    let doc = json_report(&reader, Range::default()).await;
    assert_eq!(rows.len(), awkward.len());
    for (i, (row, reason)) in rows.iter().zip(awkward).enumerate() {
        assert_eq!(row.len(), EVENT_COLUMNS.len());
        assert_eq!(&row[12], reason);
        assert_eq!(row[4], format!("\"odd, {i}\"@example.test"));
        assert_eq!(&row[15], Uuid::from_u128(42).to_string());
        // Every CSV field is the JSON value as text (null as empty).
        let event = &doc["events"][i];
        for (column, field) in EVENT_COLUMNS.iter().zip(row.iter()) {
            let expected = match &event[*column] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(field, expected, "{column} of row {i}");
        }
    }
    let (_, text) = run(&reader, Range::default(), Format::Csv).await;
    assert!(text.starts_with("seq,id,at,user_id,"));
    assert!(text.ends_with("\r\n"));
}

#[tokio::test]
async fn range_bounds_are_respected_and_the_head_is_the_last_row_in_range() {
    let reader = shared(MemoryReader::with(mixed()));
    // From is inclusive, to exclusive: events at minutes 6..8 → seqs 7 and 8
    // of the tenant's chain (the other tenant's event is in its own chain).
    let range = Range {
        from: Some(at(6)),
        to: Some(at(8)),
    };
    let doc = json_report(&reader, range).await;
    assert_eq!(seqs(&doc), vec![6]);
    let rows = reader.rows(TENANT);
    let (first, last) = (rows[5].seq, rows[6].seq);
    assert_eq!((rows[5].event.at, rows[6].event.at), (at(6), at(7)));
    assert_eq!((first, last), (6, 7));
    // The last row in range (minute 7) is not a production change; the head
    // is still its hash: the head covers the rows read, not the rows shown.
    assert_eq!(doc["chain_head"], json!(to_hex(&rows[6].hash)));
    let verified = verify_range(
        reader.as_ref(),
        &crate::testing::link_keys(),
        None,
        ChainKey::of(Some(TENANT)),
        range.from,
        range.to,
    )
    .await
    .unwrap();
    assert_eq!(verified.first_break, None);
    assert_eq!(doc["chain_head"], json!(to_hex(&verified.head)));

    let all = json_report(&reader, Range::default()).await;
    assert_eq!(all["chain_head"], json!(to_hex(&rows[rows.len() - 1].hash)));
    let from_only = json_report(
        &reader,
        Range {
            from: Some(at(7)),
            to: None,
        },
    )
    .await;
    assert_eq!(seqs(&from_only), vec![8]);
    let to_only = json_report(
        &reader,
        Range {
            from: None,
            to: Some(at(6)),
        },
    )
    .await;
    assert_eq!(seqs(&to_only), vec![1]);
}

#[tokio::test]
async fn another_tenants_chain_is_never_read() {
    let reader = shared(MemoryReader::with(mixed()));
    let report = production_changes(reader.clone(), OTHER_TENANT, Range::default(), Format::Json)
        .await
        .unwrap();
    let doc: Value = serde_json::from_str(&body(report).await).unwrap();
    assert_eq!(doc["tenant_id"], json!(OTHER_TENANT.to_string()));
    assert_eq!(doc["events"].as_array().unwrap().len(), 1);
    assert_eq!(doc["events"][0]["request_id"], json!("req-100"));
}

#[tokio::test]
async fn the_body_streams_in_bounded_chunks() {
    const ROWS: i64 = 5_000;
    let reader = shared(MemoryReader::with((1..=ROWS).map(prod_change).collect()));
    for format in [Format::Json, Format::Csv] {
        reader.scan_limits.lock().unwrap().clear();
        let report = production_changes(reader.clone(), TENANT, Range::default(), format)
            .await
            .unwrap();
        // Nothing is read up front: rows are read as the body is pulled.
        assert!(reader.scan_limits.lock().unwrap().is_empty());
        let mut body = report.body;
        let preamble = body.next().await.unwrap().unwrap();
        assert!(!preamble.is_empty());
        assert!(reader.scan_limits.lock().unwrap().is_empty());
        let first_rows = body.next().await.unwrap().unwrap();
        assert_eq!(
            reader.scan_limits.lock().unwrap().len(),
            1,
            "one read per chunk"
        );
        let mut all = vec![preamble, first_rows];
        while let Some(chunk) = body.next().await {
            all.push(chunk.unwrap());
        }
        let row_chunks = all.len() - 1;
        let per_chunk = CHUNK as usize;
        assert!(
            row_chunks >= ROWS as usize / per_chunk,
            "{format:?}: {row_chunks} chunks for {ROWS} rows"
        );
        let limits = reader.scan_limits.lock().unwrap().clone();
        assert!(limits.len() >= ROWS as usize / per_chunk);
        assert!(limits.iter().all(|&l| l == CHUNK), "{limits:?}");
        let text = String::from_utf8(all.concat()).unwrap();
        match format {
            Format::Json => {
                let doc: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(doc["events"].as_array().unwrap().len(), ROWS as usize);
                assert_eq!(doc["summary"]["total"], json!(ROWS));
            }
            Format::Csv => {
                let mut parsed = csv::Reader::from_reader(text.as_bytes());
                assert_eq!(parsed.records().count(), ROWS as usize);
            }
        }
    }
}

#[tokio::test]
async fn chunks_without_a_match_are_skipped_not_sent_empty() {
    // 3,500 reads, then one change: the reader is asked four times and the
    // body is the preamble and one chunk holding the change and the end.
    let mut events: Vec<_> = (1..=3_500)
        .map(|n| {
            let mut e = prod_change(n);
            e.effect = Effect::Read;
            e
        })
        .collect();
    events.push(prod_change(3_501));
    let reader = shared(MemoryReader::with(events));
    let report = production_changes(reader.clone(), TENANT, Range::default(), Format::Json)
        .await
        .unwrap();
    let parts = chunks(report).await;
    assert_eq!(parts.len(), 2);
    assert!(parts.iter().all(|p| !p.is_empty()));
    assert_eq!(reader.scan_limits.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn a_storage_error_ends_the_body_with_that_error() {
    let mut reader = MemoryReader::with((1..=2_500).map(prod_change).collect());
    reader.failing_scan = Some(1);
    let reader = shared(reader);
    let report = production_changes(reader.clone(), TENANT, Range::default(), Format::Csv)
        .await
        .unwrap();
    let items: Vec<_> = report.body.collect().await;
    assert_eq!(items.len(), 3, "preamble, first chunk, error");
    assert!(items[..2].iter().all(Result::is_ok));
    assert!(matches!(items[2], Err(StoreError::Unavailable(_))));
}

#[test]
fn formats_name_their_content_types() {
    assert_eq!(Format::parse("json"), Some(Format::Json));
    assert_eq!(Format::parse("csv"), Some(Format::Csv));
    assert_eq!(Format::parse("xml"), None);
    assert_eq!(Format::Json.content_type(), "application/json");
    assert_eq!(Format::Csv.content_type(), "text/csv; charset=utf-8");
}
