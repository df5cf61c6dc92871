//! Paging a chain's events for a reader: the checked query of an event
//! list ([`EventQuery`]), the opaque cursors pages continue from, and the
//! two ways of filling a page, for a reader who sees the whole chain
//! ([`full_page`]) and for one who sees part of it ([`scoped_page`]).
//!
//! Events are paged newest first by their place in the chain (`seq`), not
//! by id, so a cursor holds the `seq` to continue below; it stays valid
//! while new events are appended. A reader over part of a tenant (a team
//! admin) sees only the events about what it reaches
//! ([`query::in_reach`]); who answers what it reaches is the caller's
//! business (the composition root answers from the authorization index),
//! given here as a [`Reach`].

use crate::chain::ChainKey;
use crate::ports::{AuditReader, Reach};
use crate::query;
use crate::stored::{Filter, StoredEvent};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kernel::StoreError;
use time::{OffsetDateTime, UtcOffset};

/// Events per page when the query names no limit.
pub const DEFAULT_LIMIT: u32 = 50;
/// The most events one page holds.
pub const MAX_LIMIT: u32 = 500;
/// Rows read per round trip when the reader sees part of the chain.
const SCAN_BATCH: u32 = 500;
/// Rows read at most for one page when the reader sees part of the chain.
pub const MAX_SCAN: u32 = 10_000;
/// What a cursor's text starts with; a cursor is this and a `seq`, in
/// URL-safe base64, so that clients treat it as opaque.
const CURSOR_PREFIX: &str = "seq:";

/// Why a query is refused; each says which parameter to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The cursor is not one a page handed out.
    #[error("cursor: not a cursor this API handed out; pass a page's `next_cursor` unchanged")]
    InvalidCursor,
    /// An instant (`from` or `to`) has no RFC 3339 form in UTC.
    #[error("{field}: must fall within the years 0000 to 9999 in UTC")]
    OutOfRange { field: &'static str },
    /// `from` is after `to`.
    #[error("from: must not be after `to`")]
    Reversed,
}

impl QueryError {
    /// The stable problem code.
    pub fn code(self) -> &'static str {
        match self {
            QueryError::InvalidCursor => "invalid_cursor",
            QueryError::OutOfRange { .. } | QueryError::Reversed => "invalid_range",
        }
    }

    /// The query parameter at fault.
    pub fn field(self) -> &'static str {
        match self {
            QueryError::InvalidCursor => "cursor",
            QueryError::OutOfRange { field } => field,
            QueryError::Reversed => "from",
        }
    }
}

/// An instant as the trail compares it: in UTC, so that every backend
/// compares it with stored times alike, and to the microsecond, the
/// precision events are kept at and reports state their range in. An
/// instant UTC cannot represent is refused, naming `field`.
pub fn instant(
    at: Option<OffsetDateTime>,
    field: &'static str,
) -> Result<Option<OffsetDateTime>, QueryError> {
    at.map(|t| {
        t.checked_to_offset(UtcOffset::UTC)
            .filter(representable)
            .map(truncate_to_micros)
            .ok_or(QueryError::OutOfRange { field })
    })
    .transpose()
}

/// Whether `at` (in UTC) has an RFC 3339 form, years 0000 to 9999: what
/// stored times can be compared with.
pub fn representable(at: &OffsetDateTime) -> bool {
    (0..=9999).contains(&at.year())
}

/// `at` without its sub-microsecond part.
pub fn truncate_to_micros(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(at.nanosecond() / 1000 * 1000)
        .unwrap_or(at)
}

/// Refuses a range that ends before it starts; an open or empty one is
/// fine.
pub fn check_order(
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
) -> Result<(), QueryError> {
    match (from, to) {
        (Some(f), Some(t)) if f > t => Err(QueryError::Reversed),
        _ => Ok(()),
    }
}

/// The opaque cursor continuing below `seq`.
pub fn encode_cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{seq}"))
}

/// The `seq` a cursor continues below, or `None` if it is not one
/// [`encode_cursor`] made.
pub fn decode_cursor(cursor: &str) -> Option<i64> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let seq: i64 = text.strip_prefix(CURSOR_PREFIX)?.parse().ok()?;
    (seq >= 1 && encode_cursor(seq) == cursor).then_some(seq)
}

/// The query of an event list, checked: what to match, where to continue
/// and how many to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    /// What to match; its instants are in UTC, to the microsecond.
    pub filter: Filter,
    /// Continue below this `seq`.
    pub before: Option<i64>,
    /// Events per page, 1 to [`MAX_LIMIT`].
    pub limit: u32,
}

impl EventQuery {
    /// Checks a list's query: the cursor, then each end of the range
    /// ([`instant`]) and their order. A missing limit is
    /// [`DEFAULT_LIMIT`]; any limit is brought within 1 to [`MAX_LIMIT`].
    pub fn new(
        mut filter: Filter,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<EventQuery, QueryError> {
        let before = cursor
            .map(|c| decode_cursor(c).ok_or(QueryError::InvalidCursor))
            .transpose()?;
        filter.from = instant(filter.from, "from")?;
        filter.to = instant(filter.to, "to")?;
        check_order(filter.from, filter.to)?;
        Ok(EventQuery {
            filter,
            before,
            limit: limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
        })
    }
}

/// One page of events, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    pub items: Vec<StoredEvent>,
    /// Where the next (older) page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl EventPage {
    fn new(items: Vec<StoredEvent>, next: Option<i64>) -> Self {
        EventPage {
            items,
            next_cursor: next.map(encode_cursor),
        }
    }
}

/// A page of every event of `chain` matching `q`, for a reader who sees
/// the whole chain.
pub async fn full_page(
    reader: &dyn AuditReader,
    chain: ChainKey,
    q: &EventQuery,
) -> Result<EventPage, StoreError> {
    // One more than asked tells whether another page follows.
    let mut rows = reader.page(chain, &q.filter, q.before, q.limit + 1).await?;
    let next = if rows.len() > q.limit as usize {
        rows.truncate(q.limit as usize);
        rows.last().map(|r| r.seq)
    } else {
        None
    };
    Ok(EventPage::new(rows, next))
}

/// A page for a reader who sees part of `chain` (a team admin): the events
/// matching `q` that are in its `reach` ([`query::in_reach`]). At most
/// [`MAX_SCAN`] rows are read per page; a page may then be short, and its
/// cursor goes on where reading stopped.
pub async fn scoped_page(
    reader: &dyn AuditReader,
    chain: ChainKey,
    q: &EventQuery,
    reach: &(dyn Reach + Sync),
) -> Result<EventPage, StoreError> {
    let mut before = q.before;
    let mut out = Vec::new();
    let mut scanned = 0u32;
    loop {
        let batch = reader.page(chain, &q.filter, before, SCAN_BATCH).await?;
        let exhausted = batch.len() < SCAN_BATCH as usize;
        for row in batch {
            scanned += 1;
            before = Some(row.seq);
            if query::in_reach(&row.event, reach) {
                if out.len() == q.limit as usize {
                    // A visible row beyond this page: another follows.
                    let last = out.last().map(|r: &StoredEvent| r.seq);
                    return Ok(EventPage::new(out, last));
                }
                out.push(row);
            }
        }
        if exhausted {
            return Ok(EventPage::new(out, None));
        }
        if scanned >= MAX_SCAN {
            return Ok(EventPage::new(out, before));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{EventBuilder, MemoryReader};
    use kernel::{TenantId, UserId};
    use uuid::Uuid;

    const TENANT: TenantId = TenantId::from_uuid(Uuid::from_u128(5));
    const OURS: Uuid = Uuid::from_u128(1);
    const THEIRS: Uuid = Uuid::from_u128(2);

    /// Reach over one device.
    struct OneDevice;

    impl Reach for OneDevice {
        fn entity(&self, kind: &str, id: Option<Uuid>) -> Option<bool> {
            (kind == "device").then_some(id == Some(OURS))
        }
        fn whole_user(&self, _: UserId) -> bool {
            false
        }
    }

    /// `n` events on alternating devices, ours on odd `seq`s.
    fn reader(n: u128) -> MemoryReader {
        MemoryReader::with(
            (1..=n)
                .map(|i| {
                    let device = if i % 2 == 1 { OURS } else { THEIRS };
                    EventBuilder::new(TENANT)
                        .id(i)
                        .on("device", Some(device))
                        .device(device)
                        .build()
                })
                .collect(),
        )
    }

    fn query(cursor: Option<&str>, limit: u32) -> EventQuery {
        EventQuery::new(Filter::default(), cursor, Some(limit)).unwrap()
    }

    fn seqs(page: &EventPage) -> Vec<i64> {
        page.items.iter().map(|r| r.seq).collect()
    }

    #[test]
    fn cursors_round_trip_and_strangers_are_refused() {
        for seq in [1, 42, i64::MAX] {
            assert_eq!(decode_cursor(&encode_cursor(seq)), Some(seq));
        }
        let padded = format!("{}=", encode_cursor(7));
        for bad in [
            "",
            "42",
            "not base64!",
            &URL_SAFE_NO_PAD.encode("seq:"),
            &URL_SAFE_NO_PAD.encode("seq:0"),
            &URL_SAFE_NO_PAD.encode("seq:-3"),
            &URL_SAFE_NO_PAD.encode("seq:+3"),
            &URL_SAFE_NO_PAD.encode("seq:99999999999999999999"),
            &URL_SAFE_NO_PAD.encode("id:3"),
            &padded,
        ] {
            assert_eq!(decode_cursor(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_range_may_be_open_or_empty_but_not_reversed() {
        let t = OffsetDateTime::UNIX_EPOCH;
        assert!(check_order(None, None).is_ok());
        assert!(check_order(Some(t), Some(t)).is_ok());
        assert_eq!(
            check_order(Some(t + time::Duration::SECOND), Some(t)),
            Err(QueryError::Reversed)
        );
    }

    #[test]
    fn a_query_names_the_parameter_to_fix() {
        let e = EventQuery::new(Filter::default(), Some("nope"), None).unwrap_err();
        assert_eq!((e.code(), e.field()), ("invalid_cursor", "cursor"));
        let far = time::macros::datetime!(9999-12-31 23:00 -05:00);
        let late = Filter {
            to: Some(far),
            ..Filter::default()
        };
        let e = EventQuery::new(late, None, None).unwrap_err();
        assert_eq!((e.code(), e.field()), ("invalid_range", "to"));
        let q = EventQuery::new(Filter::default(), None, Some(10_000)).unwrap();
        assert_eq!(q.limit, MAX_LIMIT);
        let q = EventQuery::new(Filter::default(), None, None).unwrap();
        assert_eq!(q.limit, DEFAULT_LIMIT);
    }

    #[tokio::test]
    async fn a_whole_reader_pages_every_event_newest_first() {
        let r = reader(5);
        let chain = ChainKey::of(Some(TENANT));
        let first = full_page(&r, chain, &query(None, 3)).await.unwrap();
        assert_eq!(seqs(&first), [5, 4, 3]);
        let next = first.next_cursor.as_deref();
        let second = full_page(&r, chain, &query(next, 3)).await.unwrap();
        assert_eq!(seqs(&second), [2, 1]);
        assert_eq!(second.next_cursor, None);
    }

    #[tokio::test]
    async fn a_partial_reader_pages_only_what_it_reaches() {
        let r = reader(9);
        let chain = ChainKey::of(Some(TENANT));
        let first = scoped_page(&r, chain, &query(None, 3), &OneDevice)
            .await
            .unwrap();
        assert_eq!(seqs(&first), [9, 7, 5]);
        let next = first.next_cursor.as_deref();
        let second = scoped_page(&r, chain, &query(next, 3), &OneDevice)
            .await
            .unwrap();
        assert_eq!(seqs(&second), [3, 1]);
        assert_eq!(second.next_cursor, None);
    }

    #[tokio::test]
    async fn a_partial_page_stops_reading_after_the_scan_limit() {
        // Only the oldest event is in reach, beyond what one page reads.
        let n = u128::from(MAX_SCAN) + 2;
        let r = MemoryReader::with(
            (1..=n)
                .map(|i| {
                    let device = if i == 1 { OURS } else { THEIRS };
                    EventBuilder::new(TENANT)
                        .id(i)
                        .on("device", Some(device))
                        .build()
                })
                .collect(),
        );
        let chain = ChainKey::of(Some(TENANT));
        let first = scoped_page(&r, chain, &query(None, 3), &OneDevice)
            .await
            .unwrap();
        assert!(first.items.is_empty());
        let stopped_at = n as i64 - i64::from(MAX_SCAN) + 1;
        assert_eq!(first.next_cursor, Some(encode_cursor(stopped_at)));
        let next = first.next_cursor.as_deref();
        let second = scoped_page(&r, chain, &query(next, 3), &OneDevice)
            .await
            .unwrap();
        assert_eq!(seqs(&second), [1]);
    }
}
