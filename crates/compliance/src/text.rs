//! An event as report columns, written without allocating per field.
//!
//! Exports run over millions of rows, so the text of an event's ids, time
//! and hash is written into one reused buffer ([`Cells`]) and the columns
//! borrow from it and from the event; JSON and CSV then write those same
//! columns, which keeps the two formats in step.
//!
//! CSV goes through [`CsvWriter`], which neutralises every cell a
//! spreadsheet would run as a formula: a user's email or a reason is
//! written by whoever made the request, and a report is opened by an
//! auditor.

use audit::query::StoredEvent;
use kernel::StoreError;
use serde::Serialize;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::ops::Range;
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

/// The columns of an event in a report, in order: the keys of each JSON
/// event and the CSV header.
pub const EVENT_COLUMNS: [&str; 21] = [
    "seq",
    "id",
    "at",
    "user_id",
    "user_email",
    "actor",
    "operation",
    "tool_name",
    "device_id",
    "environment",
    "action",
    "decision",
    "reason",
    "result",
    "error_class",
    "approval_request_id",
    "request_id",
    "client_request_id",
    "intent_id",
    "count",
    "hash",
];

/// One event's columns, borrowed from the event and from [`Cells`].
/// Serializes to a JSON object whose keys are [`EVENT_COLUMNS`].
#[derive(Debug, Serialize)]
pub(crate) struct EventRow<'a> {
    pub seq: i64,
    pub id: &'a str,
    pub at: &'a str,
    pub user_id: Option<&'a str>,
    pub user_email: Option<&'a str>,
    pub actor: &'static str,
    pub operation: &'a str,
    pub tool_name: Option<&'a str>,
    pub device_id: Option<&'a str>,
    pub environment: Option<&'a str>,
    pub action: &'a str,
    pub decision: &'static str,
    pub reason: &'a str,
    pub result: &'static str,
    pub error_class: Option<&'a str>,
    pub approval_request_id: Option<&'a str>,
    pub request_id: &'a str,
    pub client_request_id: Option<&'a str>,
    pub intent_id: Option<&'a str>,
    pub count: u32,
    pub hash: &'a str,
    /// `seq` as text, for CSV.
    #[serde(skip)]
    pub seq_text: &'a str,
    /// `count` as text, for CSV.
    #[serde(skip)]
    pub count_text: &'a str,
}

impl EventRow<'_> {
    /// The CSV fields, in [`EVENT_COLUMNS`] order; absent values are empty.
    pub fn csv_fields(&self) -> [&[u8]; 21] {
        fn opt(v: Option<&str>) -> &[u8] {
            v.unwrap_or_default().as_bytes()
        }
        [
            self.seq_text.as_bytes(),
            self.id.as_bytes(),
            self.at.as_bytes(),
            opt(self.user_id),
            opt(self.user_email),
            self.actor.as_bytes(),
            self.operation.as_bytes(),
            opt(self.tool_name),
            opt(self.device_id),
            opt(self.environment),
            self.action.as_bytes(),
            self.decision.as_bytes(),
            self.reason.as_bytes(),
            self.result.as_bytes(),
            opt(self.error_class),
            opt(self.approval_request_id),
            self.request_id.as_bytes(),
            opt(self.client_request_id),
            opt(self.intent_id),
            self.count_text.as_bytes(),
            self.hash.as_bytes(),
        ]
    }
}

/// What a cell may not start with: spreadsheets run such a cell as a
/// formula (`=`, `+`, `-`, `@`), and some strip a leading tab or carriage
/// return and then do. OWASP's list for CSV injection.
const FORMULA_STARTS: &[u8] = b"=+-@\t\r";

/// A CSV cell as it is written: one that starts like a formula gets a
/// leading `'`, which spreadsheets show as text; every other cell is
/// borrowed unchanged, so the common case copies nothing.
pub(crate) fn csv_cell(field: &[u8]) -> Cow<'_, [u8]> {
    match field.first() {
        Some(b) if FORMULA_STARTS.contains(b) => {
            let mut safe = Vec::with_capacity(field.len() + 1);
            safe.push(b'\'');
            safe.extend_from_slice(field);
            Cow::Owned(safe)
        }
        _ => Cow::Borrowed(field),
    }
}

/// A CSV writer into memory that passes every cell through [`csv_cell`],
/// so that no report can forget to.
#[derive(Debug)]
pub(crate) struct CsvWriter(csv::Writer<Vec<u8>>);

impl CsvWriter {
    /// A writer with room for `capacity` bytes: RFC 4180, CRLF line ends,
    /// quotes only where needed.
    pub fn new(capacity: usize) -> Self {
        CsvWriter(
            csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(Vec::with_capacity(capacity)),
        )
    }

    /// Writes one record, each cell neutralised.
    pub fn write_record<I, T>(&mut self, record: I) -> csv::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        for field in record {
            self.0.write_field(csv_cell(field.as_ref()))?;
        }
        // An empty record ends the one the fields above began.
        self.0.write_record(None::<&[u8]>)
    }

    /// The bytes written.
    ///
    /// # Errors
    ///
    /// Flushing into memory does not fail; an error stands for a bug.
    pub fn into_bytes(self) -> Result<Vec<u8>, StoreError> {
        self.0.into_inner().map_err(|e| encoding(e.error()))
    }
}

/// The reused buffer an event's formatted columns live in.
#[derive(Debug, Default)]
pub(crate) struct Cells {
    text: String,
}

impl Cells {
    /// Formats `row`'s ids, time, `seq` and hash and returns its columns.
    pub fn fill<'a>(&'a mut self, row: &'a StoredEvent) -> EventRow<'a> {
        let e = &row.event;
        let t = &mut self.text;
        t.clear();
        let seq = span(t, |t| push_int(t, row.seq));
        let id = span(t, |t| push_uuid(t, e.id.uuid()));
        let at = span(t, |t| push_rfc3339(t, e.at));
        let user_id = e.user_id.map(|u| span(t, |t| push_uuid(t, u.uuid())));
        let device_id = e.device_id.map(|d| span(t, |t| push_uuid(t, d)));
        let approval = e.approval_request_id.map(|a| span(t, |t| push_uuid(t, a)));
        let intent = e.intent_id.map(|i| span(t, |t| push_uuid(t, i.uuid())));
        let count = span(t, |t| push_int(t, i64::from(e.count)));
        let hash = span(t, |t| push_hex(t, &row.hash));
        let t = &self.text;
        let cut = |r: Range<usize>| &t[r];
        EventRow {
            seq: row.seq,
            id: cut(id),
            at: cut(at),
            user_id: user_id.map(cut),
            user_email: e.user_email.as_deref(),
            actor: e.actor.as_str(),
            operation: &e.operation,
            tool_name: e.tool_name.as_deref(),
            device_id: device_id.map(cut),
            environment: e.environment.as_deref(),
            action: &e.action,
            decision: e.decision.as_str(),
            reason: &e.reason,
            result: e.result.as_str(),
            error_class: e.error_class.as_deref(),
            approval_request_id: approval.map(cut),
            request_id: &e.request_id,
            client_request_id: e.client_request_id.as_deref(),
            intent_id: intent.map(cut),
            count: e.count,
            hash: cut(hash),
            seq_text: cut(seq),
            count_text: cut(count),
        }
    }
}

/// Runs `write` and returns the byte range of what it appended.
fn span(text: &mut String, write: impl FnOnce(&mut String)) -> Range<usize> {
    let start = text.len();
    write(text);
    start..text.len()
}

/// An instant as RFC 3339 in UTC with microseconds
/// (`2024-10-05T12:00:00.000000Z`), the precision stored events keep.
pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    let mut text = String::with_capacity(32);
    push_rfc3339(&mut text, at);
    text
}

/// Appends [`rfc3339`]'s text. An instant whose UTC year falls outside
/// 0000..=9999 has no RFC 3339 form; it is written in its own offset with a
/// signed year instead of panicking (no clock produces one).
pub(crate) fn push_rfc3339(out: &mut String, at: OffsetDateTime) {
    match at.checked_to_offset(UtcOffset::UTC) {
        Some(utc) if (0..=9999).contains(&utc.year()) => {
            let mut text = *b"0000-00-00T00:00:00.000000Z";
            digits(&mut text[0..4], utc.year().unsigned_abs());
            digits(&mut text[5..7], u32::from(u8::from(utc.month())));
            digits(&mut text[8..10], u32::from(utc.day()));
            digits(&mut text[11..13], u32::from(utc.hour()));
            digits(&mut text[14..16], u32::from(utc.minute()));
            digits(&mut text[17..19], u32::from(utc.second()));
            digits(&mut text[20..26], utc.microsecond());
            push_ascii(out, &text);
        }
        _ => {
            let (h, m, s) = at.offset().as_hms();
            let sign = if at.offset().is_negative() { '-' } else { '+' };
            // Writing to a String cannot fail.
            let _ = write!(
                out,
                "{:+05}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{sign}{:02}:{:02}:{:02}",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute(),
                at.second(),
                at.microsecond(),
                h.unsigned_abs(),
                m.unsigned_abs(),
                s.unsigned_abs()
            );
        }
    }
}

/// Fills `slot` with `value` in decimal, zero-padded on the left (the
/// value's low digits when it is too long, which callers rule out).
fn digits(slot: &mut [u8], mut value: u32) {
    for d in slot.iter_mut().rev() {
        *d = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Appends bytes the caller made from ASCII digits and punctuation.
fn push_ascii(out: &mut String, ascii: &[u8]) {
    // Always ASCII here, so this never takes the empty fallback.
    out.push_str(std::str::from_utf8(ascii).unwrap_or_default());
}

/// Appends a signed integer in decimal.
fn push_int(out: &mut String, value: i64) {
    if value < 0 {
        out.push('-');
    }
    let mut v = value.unsigned_abs();
    let mut text = [b'0'; 20];
    let mut at = text.len();
    loop {
        at -= 1;
        text[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    push_ascii(out, &text[at..]);
}

/// Appends a UUID, hyphenated and lower case.
fn push_uuid(out: &mut String, id: Uuid) {
    out.push_str(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
}

/// Appends a hash in lower-case hex, as [`audit::chain::to_hex`] does.
fn push_hex(out: &mut String, hash: &[u8; 32]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 64];
    for (pair, &b) in text.chunks_exact_mut(2).zip(hash) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0x0f)];
    }
    push_ascii(out, &text);
}

/// A report that could not be encoded. Writing to memory does not fail,
/// so this stands for a bug rather than a storage problem.
pub(crate) fn encoding(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("report encoding failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn csv_of(records: &[&[&str]]) -> String {
        let mut w = CsvWriter::new(64);
        for r in records {
            w.write_record(*r).unwrap();
        }
        String::from_utf8(w.into_bytes().unwrap()).unwrap()
    }

    #[test]
    fn cells_that_start_like_a_formula_are_written_as_text() {
        for evil in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            "\tcmd",
            "\r=1",
        ] {
            assert_eq!(
                csv_cell(evil.as_bytes()).as_ref(),
                format!("'{evil}").as_bytes()
            );
        }
        for plain in ["", "alice@example.test", "a=b", "42", "'quoted"] {
            assert!(
                matches!(csv_cell(plain.as_bytes()), Cow::Borrowed(_)),
                "{plain:?}"
            );
        }
        assert_eq!(
            csv_of(&[&["email", "reason"], &["=cmd|' /C calc'!A0", "ok"]]),
            "email,reason\r\n'=cmd|' /C calc'!A0,ok\r\n"
        );
        let parsed: Vec<String> =
            csv::Reader::from_reader(csv_of(&[&["a", "b"], &["@x", "-y"]]).as_bytes())
                .records()
                .flat_map(|r| r.unwrap().iter().map(str::to_owned).collect::<Vec<_>>())
                .collect();
        assert_eq!(parsed, ["'@x", "'-y"]);
    }

    #[test]
    fn times_are_rfc3339_utc_with_microseconds() {
        assert_eq!(
            rfc3339(datetime!(2024-05-06 07:08:09.123456789 +02:00)),
            "2024-05-06T05:08:09.123456Z"
        );
        assert_eq!(
            rfc3339(datetime!(0001-01-01 00:00:00 UTC)),
            "0001-01-01T00:00:00.000000Z"
        );
        let parsed = OffsetDateTime::parse(
            &rfc3339(datetime!(2024-12-31 23:59:59.5 UTC)),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert_eq!(parsed, datetime!(2024-12-31 23:59:59.5 UTC));
    }

    #[test]
    fn an_instant_beyond_utc_years_is_written_without_panicking() {
        let at = datetime!(9999-12-31 23:00:00 -05:00);
        assert_eq!(rfc3339(at), "+9999-12-31T23:00:00.000000-05:00:00");
    }

    #[test]
    fn integers_and_hashes_are_written_like_the_standard_library() {
        for v in [0, 7, 10, 999, 1_000_000, i64::MAX, -1, i64::MIN] {
            let mut s = String::new();
            push_int(&mut s, v);
            assert_eq!(s, v.to_string());
        }
        let hash: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
        let mut s = String::new();
        push_hex(&mut s, &hash);
        assert_eq!(s, audit::chain::to_hex(&hash));
    }
}
