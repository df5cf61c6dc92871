//! Tamper evidence: a hash chain per tenant.
//!
//! Each event's `hash` is SHA-256 over a version byte, the previous event's
//! hash and the event's canonical encoding; a tenant's first event links to
//! [`GENESIS`]. Changing a stored event breaks its own link (`Altered`);
//! deleting or reordering events breaks the next one's (`Missing`).
//! [`verify`] walks rows in order with constant memory.
//!
//! Canonical encoding, version 1 (it never changes once events exist; a new
//! encoding gets a new version byte): the byte `1`, then every field of
//! [`AuditEvent`] in declaration order, each as a tag byte and, for
//! present values, a big-endian `u32` length and the UTF-8 bytes:
//! tag `0` = absent (`None`), tag `1` = present. Times are RFC 3339 in UTC
//! with exactly six fractional digits (databases keep microseconds), ids are
//! lower-case hyphenated UUIDs, the decision is `allow` or `deny`.

use crate::AuditEvent;
use kernel::AuditEventId;
use sha2::{Digest, Sha256};
use time::UtcOffset;

/// The encoding version hashed into every link.
pub const VERSION: u8 = 1;

/// The `prev_hash` of a tenant's first event: SHA-256 of `rosgate audit chain v1`.
pub const GENESIS: [u8; 32] = [
    0x03, 0x01, 0x9a, 0x55, 0xfc, 0x3e, 0x79, 0xcf, 0x47, 0x03, 0x56, 0x76, 0xf1, 0x30, 0x37, 0x7a,
    0x83, 0x08, 0x3f, 0xe4, 0x8b, 0x00, 0xc7, 0x76, 0xfc, 0x35, 0xe6, 0x1f, 0x54, 0x31, 0x71, 0x3f,
];

fn put(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            let len = u32::try_from(v.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(v.as_bytes());
        }
    }
}

fn time_text(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// The canonical bytes of an event (see the module docs).
pub fn canonical(e: &AuditEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.push(VERSION);
    put(&mut out, Some(&e.id.uuid().hyphenated().to_string()));
    put(&mut out, Some(&time_text(e.at)));
    put(
        &mut out,
        e.tenant_id
            .map(|t| t.uuid().hyphenated().to_string())
            .as_deref(),
    );
    put(
        &mut out,
        e.user_id
            .map(|u| u.uuid().hyphenated().to_string())
            .as_deref(),
    );
    put(&mut out, e.user_email.as_deref());
    put(&mut out, Some(&e.operation));
    put(&mut out, Some(&e.action));
    put(&mut out, Some(&e.resource_type));
    put(
        &mut out,
        e.resource_id.map(|r| r.hyphenated().to_string()).as_deref(),
    );
    put(&mut out, Some(e.decision.as_str()));
    put(&mut out, Some(&e.reason));
    put(&mut out, Some(&e.request_id));
    out
}

/// The hash of `event` following `prev_hash`.
pub fn link(prev_hash: &[u8; 32], event: &AuditEvent) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([VERSION]);
    h.update(prev_hash);
    h.update(canonical(event));
    h.finalize().into()
}

/// An event with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chained {
    pub event: AuditEvent,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// Chains a batch of events after `prev` (the tenant's current head).
pub fn chain(prev: [u8; 32], events: &[AuditEvent]) -> Vec<Chained> {
    let mut head = prev;
    events
        .iter()
        .map(|e| {
            let hash = link(&head, e);
            let c = Chained {
                event: e.clone(),
                prev_hash: head,
                hash,
            };
            head = hash;
            c
        })
        .collect()
}

/// How a chain is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakKind {
    /// The event does not hash to its stored hash: it was changed.
    Altered,
    /// The event does not follow the one before it: an event was deleted,
    /// inserted or moved.
    Missing,
}

/// The first broken link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// Position in the rows checked, from 0.
    pub index: u64,
    pub event_id: AuditEventId,
    pub kind: BreakKind,
}

/// The result of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub checked: u64,
    /// The hash of the last row checked (the chain head of the range).
    pub head: [u8; 32],
    pub first_break: Option<Break>,
}

/// Walks `rows` in chain order, starting after `start_prev`, and stops at
/// the first broken link. Holds one row at a time.
pub fn verify(start_prev: [u8; 32], rows: impl IntoIterator<Item = Chained>) -> Verification {
    let mut head = start_prev;
    let mut checked = 0;
    for row in rows {
        let kind = if row.prev_hash != head {
            Some(BreakKind::Missing)
        } else if link(&row.prev_hash, &row.event) != row.hash {
            Some(BreakKind::Altered)
        } else {
            None
        };
        if let Some(kind) = kind {
            return Verification {
                checked,
                head,
                first_break: Some(Break {
                    index: checked,
                    event_id: row.event.id,
                    kind,
                }),
            };
        }
        head = row.hash;
        checked += 1;
    }
    Verification {
        checked,
        head,
        first_break: None,
    }
}

/// Lower-case hex of a hash.
pub fn to_hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Outcome;
    use kernel::{TenantId, UserId};
    use time::{Duration, OffsetDateTime};
    use uuid::Uuid;

    fn event(n: u128) -> AuditEvent {
        AuditEvent {
            id: AuditEventId::from_uuid(Uuid::from_u128(n)),
            at: OffsetDateTime::UNIX_EPOCH + Duration::days(20_000) + Duration::seconds(n as i64),
            tenant_id: Some(TenantId::from_uuid(Uuid::from_u128(7))),
            user_id: Some(UserId::from_uuid(Uuid::from_u128(8))),
            user_email: Some("a@example.test".into()),
            operation: "updateDevice".into(),
            action: "device:update".into(),
            resource_type: "device".into(),
            resource_id: Some(Uuid::from_u128(9)),
            decision: Outcome::Allow,
            reason: "granted by ops_rw at team".into(),
            request_id: format!("req-{n}"),
        }
    }

    fn rows(n: u128) -> Vec<Chained> {
        chain(GENESIS, &(1..=n).map(event).collect::<Vec<_>>())
    }

    #[test]
    fn genesis_is_the_hash_of_its_name() {
        let h: [u8; 32] = Sha256::digest(b"rosgate audit chain v1").into();
        assert_eq!(to_hex(&GENESIS), to_hex(&h));
    }

    #[test]
    fn an_untouched_chain_verifies_and_reports_its_head() {
        let r = rows(5);
        let head = r[4].hash;
        let v = verify(GENESIS, r);
        assert_eq!((v.checked, v.head, v.first_break), (5, head, None));
    }

    #[test]
    fn changing_any_field_is_detected_at_that_event() {
        type Edit = Box<dyn Fn(&mut AuditEvent)>;
        let edits: Vec<Edit> = vec![
            Box::new(|e| e.reason.push('!')),
            Box::new(|e| e.decision = Outcome::Deny),
            Box::new(|e| e.user_id = None),
            Box::new(|e| e.user_email = Some(String::new())),
            Box::new(|e| e.at += Duration::microseconds(1)),
            Box::new(|e| e.request_id = "other".into()),
            Box::new(|e| e.resource_id = Some(Uuid::from_u128(10))),
            Box::new(|e| e.operation = "deleteDevice".into()),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut r = rows(5);
            edit(&mut r[2].event);
            let v = verify(GENESIS, r);
            let b = v
                .first_break
                .unwrap_or_else(|| panic!("edit {i} went unnoticed"));
            assert_eq!((b.index, b.kind), (2, BreakKind::Altered), "edit {i}");
            assert_eq!(v.checked, 2);
        }
    }

    #[test]
    fn deleting_or_reordering_events_is_detected() {
        let mut r = rows(5);
        r.remove(2);
        let b = verify(GENESIS, r).first_break.unwrap();
        assert_eq!(
            (b.index, b.kind),
            (2, BreakKind::Missing),
            "the event after the gap"
        );

        let mut r = rows(5);
        r.swap(1, 3);
        let b = verify(GENESIS, r).first_break.unwrap();
        assert_eq!((b.index, b.kind), (1, BreakKind::Missing));

        let mut r = rows(5);
        r.pop();
        assert_eq!(
            verify(GENESIS, r).first_break,
            None,
            "a cut tail is caught by comparing heads, not links"
        );
    }

    #[test]
    fn a_range_verifies_from_its_predecessor() {
        let r = rows(6);
        let start = r[2].hash;
        let v = verify(start, r.into_iter().skip(3));
        assert_eq!((v.checked, v.first_break), (3, None));
    }

    #[test]
    fn absent_and_empty_differ_and_nanoseconds_do_not_count() {
        let mut a = event(1);
        let mut b = event(1);
        a.user_email = None;
        b.user_email = Some(String::new());
        assert_ne!(canonical(&a), canonical(&b));
        let mut c = event(1);
        c.at += Duration::nanoseconds(999);
        assert_eq!(
            canonical(&c),
            canonical(&event(1)),
            "databases keep microseconds"
        );
    }
}
