//! The production changes report: every write that was allowed on a
//! production device, the question a change-management audit asks first.
//!
//! The body streams. Each chunk the reader hands out becomes one body chunk
//! as soon as it is read (chunks without a matching event are skipped), so
//! the first bytes leave before the last row is read and memory does not
//! grow with the range; only the JSON summary's tallies grow, with distinct
//! users, devices and tools. That is also why the JSON summary comes last,
//! after `events`: its counts are known only once the last row has gone by.
//! CSV has one row per event and no summary.

use crate::report::{self, Format, Range, Report, Scope, json_into};
use crate::tally::{ByName, ByUser, rank};
use crate::text::{Cells, EVENT_COLUMNS};
use audit::AuditReader;
use audit::query::{CHUNK, ChainKey, StoredEvent};
use audit::{AuditEvent, Effect, Outcome, RunResult};
use futures::StreamExt;
use kernel::{StoreError, TenantId, UserId};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// The environment whose writes the report lists.
const PRODUCTION: &str = "prod";

/// Whether an event belongs in the report: an allowed write on a device
/// recorded as production.
pub(crate) fn is_production_change(event: &AuditEvent) -> bool {
    event.effect == Effect::Write
        && event.decision == Outcome::Allow
        && event.device_id.is_some()
        && event.environment.as_deref() == Some(PRODUCTION)
}

/// Lists the allowed writes on production devices of `tenant` in `range`,
/// oldest first.
///
/// JSON: `{"report":"production_changes","tenant_id","from","to",
/// "chain_head","events":[…],"summary":{"total","succeeded","failed","pending","unknown",
/// "by_user":[{"user_id","user_email","count"}],"by_device":[{"device_id",
/// "count"}],"by_tool":[{"tool","count"}]}}`, each event with the keys of
/// [`EVENT_COLUMNS`](crate::EVENT_COLUMNS) and each summary list sorted by
/// count, largest first, then by key. CSV: a header of those columns and
/// one row per event.
///
/// # Errors
///
/// What the reader returns while resolving the range; later storage errors
/// end the body stream with an error.
pub async fn production_changes(
    reader: Arc<dyn AuditReader>,
    tenant: TenantId,
    range: Range,
    format: Format,
) -> Result<Report, StoreError> {
    let scope = Scope::resolve(reader.as_ref(), tenant, range).await?;
    let mut preamble = Vec::with_capacity(512);
    match format {
        Format::Json => {
            scope.open_json("production_changes", &mut preamble)?;
            preamble.extend_from_slice(br#","events":["#);
        }
        Format::Csv => {
            let mut csv = report::csv_writer(512);
            csv.write_record(EVENT_COLUMNS).map_err(report::encoding)?;
            preamble = report::csv_bytes(csv)?;
        }
    }
    let (after, last) = match scope.seqs {
        Some((first, last)) => (first - 1, last),
        None => (0, 0),
    };
    let export = Export {
        reader,
        chain: scope.chain,
        after,
        last,
        format,
        stage: Stage::Preamble(preamble),
        cells: Cells::default(),
        wrote_event: false,
        summary: Summary::default(),
        chunk_bytes: 64 * 1024,
    };
    Ok(Report {
        chain_head: scope.chain_head,
        body: futures::stream::unfold(export, Export::next).boxed(),
    })
}

/// Where the body stream is.
#[derive(Debug)]
enum Stage {
    /// The document's opening is still to be sent.
    Preamble(Vec<u8>),
    /// Rows are being read.
    Rows,
    /// Everything was sent, or an error ended the stream.
    Done,
}

/// The state of one report's body stream.
struct Export {
    reader: Arc<dyn AuditReader>,
    chain: ChainKey,
    /// The `seq` of the last row read.
    after: i64,
    /// The `seq` of the last row in the range: rows appended while the
    /// report streams are not in it, so the body matches `chain_head`.
    last: i64,
    format: Format,
    stage: Stage,
    cells: Cells,
    wrote_event: bool,
    summary: Summary,
    /// The size of the previous body chunk, to size the next one.
    chunk_bytes: usize,
}

impl Export {
    /// The next body chunk, reading as many rows as it takes to have one.
    async fn next(mut self) -> Option<(Result<Vec<u8>, StoreError>, Self)> {
        match std::mem::replace(&mut self.stage, Stage::Rows) {
            Stage::Done => {
                self.stage = Stage::Done;
                None
            }
            Stage::Preamble(bytes) => Some((Ok(bytes), self)),
            Stage::Rows => {
                let result = self.read_chunk().await;
                match result {
                    Ok((bytes, more)) => {
                        if !more {
                            self.stage = Stage::Done;
                            if bytes.is_empty() {
                                return None;
                            }
                        }
                        Some((Ok(bytes), self))
                    }
                    Err(e) => {
                        self.stage = Stage::Done;
                        Some((Err(e), self))
                    }
                }
            }
        }
    }

    /// Reads chunks of rows until one holds a matching event or the range
    /// ends; returns the bytes and whether more may follow.
    async fn read_chunk(&mut self) -> Result<(Vec<u8>, bool), StoreError> {
        loop {
            if self.after >= self.last {
                return Ok((self.finish()?, false));
            }
            let rows = self
                .reader
                .scan(self.chain, self.after, self.last, CHUNK)
                .await?;
            // Fewer rows than asked for means the range is read; no rows,
            // or rows that go backwards, end it too rather than ask again
            // for the same rows.
            match rows.last() {
                Some(tail) if tail.seq > self.after => {
                    self.after = if rows.len() < CHUNK as usize {
                        self.last
                    } else {
                        tail.seq
                    };
                }
                _ => self.after = self.last,
            }
            let mut out = self.encode(&rows)?;
            if self.after >= self.last {
                out.extend_from_slice(&self.finish()?);
                return Ok((out, false));
            }
            if !out.is_empty() {
                return Ok((out, true));
            }
        }
    }

    /// The matching events of `rows`, encoded; for JSON, tallies them for
    /// the summary as it goes.
    fn encode(&mut self, rows: &[StoredEvent]) -> Result<Vec<u8>, StoreError> {
        let matching = rows.iter().filter(|r| is_production_change(&r.event));
        match self.format {
            Format::Json => {
                let mut out = Vec::with_capacity(self.chunk_bytes);
                for row in matching {
                    self.summary.add(&row.event);
                    out.extend_from_slice(if self.wrote_event { b",\n" } else { b"\n" });
                    self.wrote_event = true;
                    json_into(&mut out, &self.cells.fill(row))?;
                }
                self.chunk_bytes = self.chunk_bytes.max(out.len());
                Ok(out)
            }
            Format::Csv => {
                let mut csv = report::csv_writer(self.chunk_bytes);
                // CSV has no summary: nothing to tally.
                for row in matching {
                    csv.write_record(self.cells.fill(row).csv_fields())
                        .map_err(report::encoding)?;
                }
                let out = report::csv_bytes(csv)?;
                self.chunk_bytes = self.chunk_bytes.max(out.len());
                Ok(out)
            }
        }
    }

    /// The document's end: for JSON, the summary; CSV has none.
    fn finish(&mut self) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::new();
        if self.format == Format::Json {
            out.extend_from_slice(b"\n],\"summary\":");
            json_into(&mut out, &std::mem::take(&mut self.summary).into_doc())?;
            out.extend_from_slice(b"}\n");
        }
        Ok(out)
    }
}

/// The tallies behind the JSON summary.
#[derive(Debug, Default)]
struct Summary {
    total: u64,
    succeeded: u64,
    failed: u64,
    pending: u64,
    unknown: u64,
    by_user: ByUser<u64>,
    by_device: HashMap<Uuid, u64>,
    by_tool: ByName,
}

impl Summary {
    fn add(&mut self, event: &AuditEvent) {
        self.total += 1;
        match event.result {
            RunResult::Success => self.succeeded += 1,
            RunResult::Failure => self.failed += 1,
            RunResult::Pending => self.pending += 1,
            RunResult::Unknown => self.unknown += 1,
        }
        *self
            .by_user
            .entry(event.user_id, event.user_email.as_deref()) += 1;
        if let Some(device) = event.device_id {
            *self.by_device.entry(device).or_default() += 1;
        }
        self.by_tool.add(event.tool_name.as_deref());
    }

    fn into_doc(self) -> SummaryDoc {
        let mut by_user: Vec<_> = self
            .by_user
            .into_rows()
            .map(|(user_id, user_email, count)| UserCount {
                user_id,
                user_email,
                count,
            })
            .collect();
        rank(
            &mut by_user,
            |r| r.count,
            |r| (r.user_id, r.user_email.clone()),
        );
        let mut by_device: Vec<_> = self
            .by_device
            .into_iter()
            .map(|(device_id, count)| DeviceCount { device_id, count })
            .collect();
        rank(&mut by_device, |r| r.count, |r| r.device_id);
        let mut by_tool: Vec<_> = self
            .by_tool
            .into_rows()
            .map(|(tool, count)| ToolCount { tool, count })
            .collect();
        rank(&mut by_tool, |r| r.count, |r| r.tool.clone());
        SummaryDoc {
            total: self.total,
            succeeded: self.succeeded,
            failed: self.failed,
            pending: self.pending,
            unknown: self.unknown,
            by_user,
            by_device,
            by_tool,
        }
    }
}

#[derive(Debug, Serialize)]
struct SummaryDoc {
    total: u64,
    succeeded: u64,
    failed: u64,
    /// Intents whose outcome had not been recorded yet.
    pending: u64,
    /// Intents whose outcome is unknown (rosgate stopped in between).
    unknown: u64,
    by_user: Vec<UserCount>,
    by_device: Vec<DeviceCount>,
    by_tool: Vec<ToolCount>,
}

#[derive(Debug, Serialize)]
struct UserCount {
    user_id: Option<UserId>,
    user_email: Option<String>,
    count: u64,
}

#[derive(Debug, Serialize)]
struct DeviceCount {
    device_id: Uuid,
    count: u64,
}

#[derive(Debug, Serialize)]
struct ToolCount {
    tool: Option<String>,
    count: u64,
}

#[cfg(test)]
mod tests;
