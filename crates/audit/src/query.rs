//! Reading the trail back through the [`AuditReader`] port (ports.rs): what
//! a partial reader sees ([`in_reach`]), chunked scans, and [`verify_range`],
//! which recomputes a stored chain.
//!
//! Events live in one chain per tenant, numbered by `seq` from 1 without
//! gaps in commit order; events that belong to no tenant (a failed login
//! naming an unknown user) share the chain of [`ChainKey::NONE`]. Readers
//! hand out rows in bounded chunks so that verification and reports run in
//! constant memory however long the range.

use crate::AuditEvent;
pub use crate::chain::ChainKey;
use crate::chain::{self, BreakKind, GENESIS, LinkKeys};
use crate::checkpoint::Checkpoint;
use crate::ports::{AuditReader, Reach};
pub use crate::stored::{Filter, Head, StoredEvent};
use kernel::{AuditEventId, StoreError};
use time::OffsetDateTime;

/// Whether a reader over part of a tenant may see `event`: only events
/// about what it reaches. The device, when the event names one, must be in
/// reach; so must the resource. An event whose resource reach is not
/// decided over (a plan, a session, a refused budget) is judged by its
/// device when it has one, else by who made it, which the reader must
/// cover whole. Who made an event never opens it on its own: the org
/// admin's change on another team's device stays out of view although the
/// org admin is also bound in the reader's team.
pub fn in_reach(event: &AuditEvent, reach: &dyn Reach) -> bool {
    if let Some(device) = event.device_id
        && reach.entity("device", Some(device)) != Some(true)
    {
        return false;
    }
    match reach.entity(&event.resource_type, event.resource_id) {
        Some(seen) => seen,
        None => event.device_id.is_some() || event.user_id.is_some_and(|u| reach.whole_user(u)),
    }
}

/// Rows read per round trip by the scanning helpers.
pub const CHUNK: u32 = 1000;

/// Visits the rows of `chain` with `first <= seq <= last` in order, in
/// chunks of [`CHUNK`]; `visit` returns `false` to stop early.
pub async fn for_each(
    reader: &dyn AuditReader,
    chain: ChainKey,
    first: i64,
    last: i64,
    mut visit: impl FnMut(&StoredEvent) -> bool + Send,
) -> Result<(), StoreError> {
    let mut after = first - 1;
    loop {
        let rows = reader.scan(chain, after, last, CHUNK).await?;
        let Some(tail) = rows.last() else {
            return Ok(());
        };
        after = tail.seq;
        for row in &rows {
            if !visit(row) {
                return Ok(());
            }
        }
        if rows.len() < CHUNK as usize {
            return Ok(());
        }
    }
}

/// What went wrong at the first broken link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkBreak {
    /// The row's content or its `hash` was changed.
    Altered,
    /// The row does not follow the previous one: a row before it was
    /// deleted, or rows were moved or inserted.
    Missing,
    /// Rows after the last one were deleted: the recorded head, or the
    /// row a signed checkpoint names, is not there.
    Truncated,
    /// The row names a link key that is not configured.
    UnknownKey,
    /// The row a signed checkpoint names has another hash: the chain was
    /// rewritten after the checkpoint was taken.
    Rewritten,
}

impl LinkBreak {
    /// The word the API reports.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkBreak::Altered => "altered",
            LinkBreak::Missing => "missing",
            LinkBreak::Truncated => "truncated",
            LinkBreak::UnknownKey => "unknown_key",
            LinkBreak::Rewritten => "rewritten",
        }
    }
}

/// The first broken link found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The `seq` of the offending row (for truncation, the recorded head's).
    pub seq: i64,
    pub event_id: Option<AuditEventId>,
    pub problem: LinkBreak,
}

/// The result of verifying a chain over a time range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeReport {
    /// Rows whose links held.
    pub checked: u64,
    /// The first and last `seq` the range spans, if it holds any event.
    pub seqs: Option<(i64, i64)>,
    /// The hash of the last row checked: the chain head of the range when
    /// nothing is broken (an auditor compares it with a report's).
    pub head: [u8; 32],
    pub first_break: Option<BrokenLink>,
    /// The signed checkpoint the chain was held to, if one was given.
    pub checkpoint: Option<Checkpoint>,
}

/// Recomputes the chain of `chain` over the events in `[from, to)`.
///
/// The range is widened to whole `seq`s: every row between the first event
/// at or after `from` and the last before `to` is checked, starting from
/// the hash of the row before (or [`GENESIS`] at `seq` 1; a missing row
/// before is reported as [`LinkBreak::Missing`]). When the range reaches the
/// end of the chain (no `to`), the last row must be the recorded head.
/// Links are checked with `keys` ([`chain::check_link`]).
///
/// Whatever the range, the chain's end is checked too: when the recorded
/// head or the `checkpoint` (the newest signed one, already checked by the
/// caller) names a `seq` beyond the last stored row, the newest events were
/// cut ([`LinkBreak::Truncated`]), and the row a checkpoint names must still
/// carry its hash ([`LinkBreak::Rewritten`]).
pub async fn verify_range(
    reader: &dyn AuditReader,
    keys: &LinkKeys,
    checkpoint: Option<&Checkpoint>,
    chain_key: ChainKey,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
) -> Result<RangeReport, StoreError> {
    let mut report = verify_rows(reader, keys, chain_key, from, to).await?;
    report.checkpoint = checkpoint.copied();
    if report.first_break.is_none() {
        report.first_break = check_end(reader, chain_key, checkpoint).await?;
    }
    Ok(report)
}

/// The end of the chain against the recorded head and the checkpoint.
async fn check_end(
    reader: &dyn AuditReader,
    chain_key: ChainKey,
    checkpoint: Option<&Checkpoint>,
) -> Result<Option<BrokenLink>, StoreError> {
    let stored_end = reader
        .seq_range(chain_key, None, None)
        .await?
        .map_or(0, |r| r.1);
    let cut = |seq| BrokenLink {
        seq,
        event_id: None,
        problem: LinkBreak::Truncated,
    };
    if let Some(h) = reader.head(chain_key).await?
        && h.seq > stored_end
    {
        return Ok(Some(cut(h.seq)));
    }
    let Some(c) = checkpoint else {
        return Ok(None);
    };
    if c.seq > stored_end {
        return Ok(Some(cut(c.seq)));
    }
    if c.seq >= 1 {
        let row = reader.scan(chain_key, c.seq - 1, c.seq, 1).await?;
        let holds = row
            .first()
            .is_some_and(|r| r.seq == c.seq && r.hash == c.head);
        if !holds {
            return Ok(Some(BrokenLink {
                seq: c.seq,
                event_id: row.first().map(|r| r.event.id),
                problem: if row.is_empty() {
                    LinkBreak::Missing
                } else {
                    LinkBreak::Rewritten
                },
            }));
        }
    }
    Ok(None)
}

/// The links of the rows in the range, and the recorded head when the
/// range is open-ended.
async fn verify_rows(
    reader: &dyn AuditReader,
    keys: &LinkKeys,
    chain_key: ChainKey,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
) -> Result<RangeReport, StoreError> {
    let head = reader.head(chain_key).await?;
    let range = reader.seq_range(chain_key, from, to).await?;
    // Events appended after the head was read are not this verification's:
    // an open-ended range stops at that head, so a busy chain is not taken
    // for a truncated one.
    let range = match (range, to, head) {
        (Some((first, last)), None, Some(h)) if last > h.seq => {
            (first <= h.seq).then_some((first, h.seq))
        }
        (range, _, _) => range,
    };
    let Some((first, last)) = range else {
        let first_break = match (to, head) {
            (None, Some(h)) if from.is_none() => Some(BrokenLink {
                seq: h.seq,
                event_id: None,
                problem: LinkBreak::Truncated,
            }),
            _ => None,
        };
        return Ok(RangeReport {
            checked: 0,
            seqs: None,
            head: GENESIS,
            first_break,
            checkpoint: None,
        });
    };
    // The row before the range gives the hash to start from and the
    // encoding the range may not fall back below.
    let (start, mut floor) = if first <= 1 {
        (Some(GENESIS), chain::VERSION_1)
    } else {
        let before = reader.scan(chain_key, first - 2, first - 1, 1).await?;
        match before.first() {
            Some(row) if row.seq == first - 1 => (Some(row.hash), row.version),
            _ => (None, chain::VERSION_1),
        }
    };
    let mut report = RangeReport {
        checked: 0,
        seqs: Some((first, last)),
        head: start.unwrap_or(GENESIS),
        first_break: None,
        checkpoint: None,
    };
    let mut expected_seq = first;
    let mut prev = start;
    for_each(reader, chain_key, first, last, |row| {
        let problem = match prev {
            _ if row.seq != expected_seq => Some(LinkBreak::Missing),
            None => Some(LinkBreak::Missing),
            Some(p) if row.prev_hash != p => Some(LinkBreak::Missing),
            Some(_) => chain::check_link(keys, &mut floor, &row.chained()).map(|kind| match kind {
                BreakKind::Altered => LinkBreak::Altered,
                BreakKind::UnknownKey => LinkBreak::UnknownKey,
                BreakKind::Missing => LinkBreak::Missing,
            }),
        };
        if let Some(problem) = problem {
            report.first_break = Some(BrokenLink {
                seq: row.seq,
                event_id: Some(row.event.id),
                problem,
            });
            return false;
        }
        report.checked += 1;
        report.head = row.hash;
        prev = Some(row.hash);
        expected_seq = row.seq + 1;
        true
    })
    .await?;
    if report.first_break.is_none() && report.checked < (last - first + 1) as u64 {
        // Rows were counted by the range but not read back in order.
        report.first_break = Some(BrokenLink {
            seq: expected_seq,
            event_id: None,
            problem: LinkBreak::Missing,
        });
    }
    if report.first_break.is_none()
        && to.is_none()
        && let Some(h) = head
        && (h.seq != last || h.hash != report.head)
    {
        report.first_break = Some(BrokenLink {
            seq: h.seq,
            event_id: None,
            problem: LinkBreak::Truncated,
        });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::EventBuilder;
    use kernel::{TenantId, UserId};
    use std::collections::HashSet;
    use uuid::Uuid;

    /// Reach as a table: the entities and the whole users in reach; kinds
    /// outside `decided` name nothing reach is decided over.
    struct Table {
        entities: HashSet<Uuid>,
        users: HashSet<Uuid>,
    }

    impl Reach for Table {
        fn entity(&self, kind: &str, id: Option<Uuid>) -> Option<bool> {
            let decided = ["platform", "tenant", "unit", "site", "device", "user"];
            if !decided.contains(&kind) || (kind != "platform" && id.is_none()) {
                return None;
            }
            Some(id.is_some_and(|id| self.entities.contains(&id) || self.users.contains(&id)))
        }
        fn whole_user(&self, user: UserId) -> bool {
            self.users.contains(&user.uuid())
        }
    }

    const OURS: Uuid = Uuid::from_u128(1);
    const THEIRS: Uuid = Uuid::from_u128(2);
    const MEMBER: Uuid = Uuid::from_u128(3);
    const OWNER: Uuid = Uuid::from_u128(4);
    const TENANT: Uuid = Uuid::from_u128(5);

    fn table() -> Table {
        Table {
            entities: HashSet::from([OURS]),
            users: HashSet::from([MEMBER]),
        }
    }

    fn event(by: Uuid, kind: &str, resource: Option<Uuid>, device: Option<Uuid>) -> AuditEvent {
        let made = EventBuilder::new(TenantId::from_uuid(TENANT))
            .user(UserId::from_uuid(by))
            .on(kind, resource);
        match device {
            Some(d) => made.device(d),
            None => made,
        }
        .build()
    }

    #[test]
    fn an_event_is_seen_for_what_it_is_about_not_for_who_made_it() {
        let t = table();
        let seen = |e: AuditEvent| in_reach(&e, &t);
        assert!(seen(event(OWNER, "device", Some(OURS), Some(OURS))));
        assert!(!seen(event(OWNER, "device", Some(THEIRS), Some(THEIRS))));
        assert!(!seen(event(MEMBER, "device", Some(THEIRS), Some(THEIRS))));
        assert!(!seen(event(MEMBER, "tenant", Some(TENANT), None)));
        assert!(!seen(event(OWNER, "tenant", Some(TENANT), None)));
        assert!(!seen(event(MEMBER, "platform", None, None)));
        assert!(seen(event(OWNER, "unit", Some(OURS), None)));
        assert!(seen(event(OWNER, "user", Some(MEMBER), None)));
        assert!(!seen(event(MEMBER, "user", Some(OWNER), None)));
    }

    #[test]
    fn an_event_about_nothing_decided_goes_by_its_device_then_its_maker() {
        let t = table();
        let seen = |e: AuditEvent| in_reach(&e, &t);
        assert!(seen(event(OWNER, "plan", Some(THEIRS), Some(OURS))));
        assert!(!seen(event(MEMBER, "plan", Some(OURS), Some(THEIRS))));
        assert!(seen(event(MEMBER, "plan", Some(THEIRS), None)));
        assert!(!seen(event(OWNER, "plan", Some(OURS), None)));
        assert!(seen(event(MEMBER, "session", None, None)));
        assert!(!seen(event(OWNER, "session", None, None)));
        assert!(seen(event(MEMBER, "user", None, None)));
        let mut nobody = event(MEMBER, "session", None, None);
        nobody.user_id = None;
        assert!(!seen(nobody));
    }
}
