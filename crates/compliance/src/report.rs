//! What every report shares: the output [`Format`], the time [`Range`] it
//! covers, the [`Report`] handed back, and the resolution of a range to the
//! rows of the tenant's chain it spans and the chain head an auditor can
//! verify later.

use crate::text;
use audit::AuditReader;
use audit::chain::{GENESIS, to_hex};
use audit::query::ChainKey;
use futures::stream::BoxStream;
use kernel::{StoreError, TenantId};
use serde::Serialize;
use std::fmt;
use time::OffsetDateTime;

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// One JSON document.
    Json,
    /// RFC 4180 CSV with a header line (CRLF line ends, quotes only where
    /// needed). An absent value and an empty text are both an empty field.
    Csv,
}

impl Format {
    /// The `Content-Type` of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    /// The file name extension, for a download's suggested name.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }

    /// The format named `json` or `csv`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// The events a report covers: at or after `from`, before `to`; an open
/// end reaches the start or the end of the chain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Range {
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
}

/// A report: the chain head it was built up to, and its bytes.
pub struct Report {
    /// Lower-case hex of the `hash` of the last row in the range, or of
    /// [`GENESIS`] when the range holds no event. The body names it too.
    pub chain_head: String,
    /// The body, in chunks. A storage error part way through ends the
    /// stream with that error: the bytes sent before it are an incomplete
    /// document and must not be taken for a report.
    pub body: BoxStream<'static, Result<Vec<u8>, StoreError>>,
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("chain_head", &self.chain_head)
            .finish_non_exhaustive()
    }
}

/// A range resolved against the tenant's chain.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    pub tenant: TenantId,
    pub range: Range,
    pub chain: ChainKey,
    /// The first and last `seq` the range spans, if it holds any event.
    pub seqs: Option<(i64, i64)>,
    pub chain_head: String,
}

impl Scope {
    /// Finds the rows `range` spans in `tenant`'s chain and their head.
    ///
    /// # Errors
    ///
    /// What the reader returns; [`StoreError::NotFound`] when the last row
    /// of the range vanished between the two reads.
    pub async fn resolve(
        reader: &dyn AuditReader,
        tenant: TenantId,
        range: Range,
    ) -> Result<Self, StoreError> {
        let chain = ChainKey::of(Some(tenant));
        let seqs = reader.seq_range(chain, range.from, range.to).await?;
        let head = match seqs {
            None => GENESIS,
            Some((_, last)) => reader
                .hash_at(chain, last)
                .await?
                .ok_or(StoreError::NotFound)?,
        };
        Ok(Scope {
            tenant,
            range,
            chain,
            seqs,
            chain_head: to_hex(&head),
        })
    }

    /// Writes `{"report":…,"tenant_id":…,"from":…,"to":…,"chain_head":…`
    /// with the object left open, so the report's own fields follow.
    pub fn open_json(&self, report: &'static str, out: &mut Vec<u8>) -> Result<(), StoreError> {
        #[derive(Serialize)]
        struct Preamble<'a> {
            report: &'static str,
            tenant_id: TenantId,
            from: Option<String>,
            to: Option<String>,
            chain_head: &'a str,
        }
        let preamble = Preamble {
            report,
            tenant_id: self.tenant,
            from: self.range.from.map(text::rfc3339),
            to: self.range.to.map(text::rfc3339),
            chain_head: &self.chain_head,
        };
        json_into(out, &preamble)?;
        // A serialized struct always ends with its closing brace.
        out.pop();
        Ok(())
    }
}

/// Appends `value` as JSON.
pub(crate) fn json_into<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> Result<(), StoreError> {
    serde_json::to_writer(out, value).map_err(encoding)
}

pub(crate) use text::encoding;

/// A CSV writer into memory, as every report writes CSV (RFC 4180, CRLF),
/// that neutralises formula cells ([`text::CsvWriter`]).
pub(crate) fn csv_writer(capacity: usize) -> text::CsvWriter {
    text::CsvWriter::new(capacity)
}

/// The bytes a CSV writer holds.
pub(crate) fn csv_bytes(writer: text::CsvWriter) -> Result<Vec<u8>, StoreError> {
    writer.into_bytes()
}

/// JSON fields of a report beside its rows, in order.
pub(crate) type Fields<'a> = &'a [(&'a str, serde_json::Value)];

/// The one-chunk report of a few ranked rows. JSON: the preamble, the
/// `before` fields, `"rows"`, the `after` fields. CSV: `header`, then
/// `record(row)` for each row.
pub(crate) fn ranked<R: Serialize>(
    scope: Scope,
    name: &'static str,
    format: Format,
    rows: &[R],
    (before, after): (Fields<'_>, Fields<'_>),
    header: &[&str],
    record: impl Fn(&R) -> Vec<String>,
) -> Result<Report, StoreError> {
    fn field<T: Serialize + ?Sized>(
        out: &mut Vec<u8>,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        out.push(b',');
        json_into(out, key)?;
        out.push(b':');
        json_into(out, value)
    }
    let body = match format {
        Format::Json => {
            let mut out = Vec::new();
            scope.open_json(name, &mut out)?;
            for (k, v) in before {
                field(&mut out, k, v)?;
            }
            field(&mut out, "rows", rows)?;
            for (k, v) in after {
                field(&mut out, k, v)?;
            }
            out.extend_from_slice(b"}\n");
            out
        }
        Format::Csv => {
            let mut csv = csv_writer(64 * rows.len() + 64);
            csv.write_record(header).map_err(encoding)?;
            for r in rows {
                csv.write_record(record(r)).map_err(encoding)?;
            }
            csv_bytes(csv)?
        }
    };
    Ok(Report {
        chain_head: scope.chain_head,
        body: futures::StreamExt::boxed(futures::stream::iter([Ok(body)])),
    })
}
