//! Tamper evidence: a hash chain per tenant.
//!
//! Each stored event carries the hash of the tenant's previous event
//! (`prev_hash`) and its own `hash`; a tenant's first event follows
//! [`GENESIS`]. Changing a stored event breaks its own link
//! ([`BreakKind::Altered`]); deleting or reordering events breaks the next
//! one's ([`BreakKind::Missing`]). [`verify`] walks rows in chain order with
//! constant memory and reports the first break. Cutting events off the end
//! leaves every link intact: it shows only by comparing the head that
//! [`verify`] reports with a head kept elsewhere.
//!
//! This module is pure: storage adapters decide where rows live and feed
//! them to [`verify`] in order.
//!
//! # The canonical encoding, versions 1 and 2
//!
//! Each row records the version its link was written in. Version 2 (every
//! new row) is version 1 with version byte `0x02` and three fields more,
//! after the twenty-two below: 23 `intent_id` (UUID, or absent), 24
//! `client_request_id` (as stored, or absent) and 25 `count` (decimal, no
//! leading zeros). Rows written in version 1 keep verifying as version 1;
//! a chain never falls back: a version 1 row after a version 2 row is
//! altered. The version 1 encoding follows.
//!
//! The encoding is hashed into every stored link, so it never changes once
//! events exist: a new encoding gets a new [`VERSION`] byte and the old one
//! stays verifiable. `canonical(event)` is:
//!
//! 1. the version byte `0x01`;
//! 2. the twenty-two fields of [`AuditEvent`] in this order, each as a tag
//!    byte followed, for a present value, by its length in bytes as a
//!    big-endian `u32` and its UTF-8 text:
//!
//!    | # | field                 | text                                   |
//!    |---|-----------------------|----------------------------------------|
//!    | 1 | `id`                  | hyphenated lower-case UUID             |
//!    | 2 | `at`                  | RFC 3339 in UTC, six fractional digits |
//!    | 3 | `tenant_id`           | UUID, or absent                        |
//!    | 4 | `user_id`             | UUID, or absent                        |
//!    | 5 | `user_email`          | as stored, or absent                   |
//!    | 6 | `actor`               | `user`, `api_token` or `agent`         |
//!    | 7 | `operation`           | as stored                              |
//!    | 8 | `tool_name`           | as stored, or absent                   |
//!    | 9 | `action`              | as stored                              |
//!    |10 | `resource_type`       | as stored                              |
//!    |11 | `resource_id`         | UUID, or absent                        |
//!    |12 | `device_id`           | UUID, or absent                        |
//!    |13 | `environment`         | as stored, or absent                   |
//!    |14 | `effect`              | `read` or `write`                      |
//!    |15 | `decision`            | `allow` or `deny`                      |
//!    |16 | `reason`              | as stored                              |
//!    |17 | `result`              | `success` or `failure`                 |
//!    |18 | `error_class`         | as stored, or absent                   |
//!    |19 | `approval_request_id` | UUID, or absent                        |
//!    |20 | `request_id`          | as stored                              |
//!    |21 | `client_addr`         | as stored, or absent                   |
//!    |22 | `args_digest`         | as stored, or absent                   |
//!
//!    UUIDs are hyphenated lower case. Tag `0x00` means absent (`None`, and
//!    nothing follows); tag `0x01` means present, so `None` and `Some("")`
//!    differ.
//!
//! Times are written as `YYYY-MM-DDTHH:MM:SS.ffffffZ`: databases keep
//! microseconds, so nanoseconds beyond them are truncated, and the offset an
//! event was made in does not count, only the instant. (An instant whose UTC
//! date falls outside years -9999..=9999 cannot be written in UTC; it is
//! written in its own offset as `...ffffff+HH:MM:SS` instead of panicking.
//! No clock produces one.) Fields are capped by the request body limit, far
//! below the `u32` length.
//!
//! A link is `hash = SHA-256(0x01 || prev_hash || canonical(event))`, and
//! [`GENESIS`] is `SHA-256("rosgate audit chain v1")`, which is
//! `03019a55fc3e79cf47035676f130377a83083fe48b00c776fc35e61f5431713f`.

use crate::AuditEvent;
use hmac::{Hmac, Mac};
use kernel::{AuditEventId, TenantId};
use sha2::{Digest, Sha256};
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

/// Which chain: a tenant's, or the one for events without a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainKey(pub Uuid);

impl ChainKey {
    /// The chain of events that name no tenant.
    pub const NONE: ChainKey = ChainKey(Uuid::nil());

    /// The chain an event belongs to.
    pub fn of(tenant: Option<TenantId>) -> Self {
        tenant.map_or(Self::NONE, |t| ChainKey(t.uuid()))
    }
}

/// The encoding version new links are written with: the first byte of
/// [`canonical`] and of every link.
pub const VERSION: u8 = 2;

/// The first encoding, still verified for rows written with it.
pub const VERSION_1: u8 = 1;

/// The `prev_hash` of a tenant's first event: SHA-256 of `rosgate audit chain v1`.
pub const GENESIS: [u8; 32] = [
    0x03, 0x01, 0x9a, 0x55, 0xfc, 0x3e, 0x79, 0xcf, 0x47, 0x03, 0x56, 0x76, 0xf1, 0x30, 0x37, 0x7a,
    0x83, 0x08, 0x3f, 0xe4, 0x8b, 0x00, 0xc7, 0x76, 0xfc, 0x35, 0xe6, 0x1f, 0x54, 0x31, 0x71, 0x3f,
];

const ABSENT: u8 = 0;
const PRESENT: u8 = 1;

/// Appends one field: a tag byte, then for a present value its length and bytes.
fn put(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => out.push(ABSENT),
        Some(text) => {
            out.push(PRESENT);
            // Request bodies are capped far below 4 GiB; saturate rather than panic.
            let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
    }
}

fn uuid_text(id: uuid::Uuid) -> String {
    id.hyphenated().to_string()
}

/// RFC 3339 in UTC with microseconds; see the module docs for the fallback.
fn time_text(at: OffsetDateTime) -> String {
    let (at, zone) = match at.checked_to_offset(UtcOffset::UTC) {
        Some(utc) => (utc, "Z".to_owned()),
        None => {
            let (h, m, s) = at.offset().as_hms();
            let sign = if at.offset().is_negative() { '-' } else { '+' };
            let zone = format!(
                "{sign}{:02}:{:02}:{:02}",
                h.unsigned_abs(),
                m.unsigned_abs(),
                s.unsigned_abs()
            );
            (at, zone)
        }
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{zone}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

/// The canonical bytes of an event in the current [`VERSION`] (format in
/// the module docs).
pub fn canonical(event: &AuditEvent) -> Vec<u8> {
    canonical_as(VERSION, event)
}

/// The canonical bytes of an event in encoding `version`: version 1 has
/// the first twenty-two fields, version 2 three more.
pub fn canonical_as(version: u8, event: &AuditEvent) -> Vec<u8> {
    let uuid = |id: Option<uuid::Uuid>| id.map(uuid_text);
    let mut out = Vec::with_capacity(448);
    out.push(version);
    put(&mut out, Some(&uuid_text(event.id.uuid())));
    put(&mut out, Some(&time_text(event.at)));
    put(&mut out, uuid(event.tenant_id.map(|t| t.uuid())).as_deref());
    put(&mut out, uuid(event.user_id.map(|u| u.uuid())).as_deref());
    put(&mut out, event.user_email.as_deref());
    put(&mut out, Some(event.actor.as_str()));
    put(&mut out, Some(&event.operation));
    put(&mut out, event.tool_name.as_deref());
    put(&mut out, Some(&event.action));
    put(&mut out, Some(&event.resource_type));
    put(&mut out, uuid(event.resource_id).as_deref());
    put(&mut out, uuid(event.device_id).as_deref());
    put(&mut out, event.environment.as_deref());
    put(&mut out, Some(event.effect.as_str()));
    put(&mut out, Some(event.decision.as_str()));
    put(&mut out, Some(&event.reason));
    put(&mut out, Some(event.result.as_str()));
    put(&mut out, event.error_class.as_deref());
    put(&mut out, uuid(event.approval_request_id).as_deref());
    put(&mut out, Some(&event.request_id));
    put(&mut out, event.client_addr.as_deref());
    put(&mut out, event.args_digest.as_deref());
    if version >= 2 {
        put(&mut out, uuid(event.intent_id.map(|i| i.uuid())).as_deref());
        put(&mut out, event.client_request_id.as_deref());
        put(&mut out, Some(&event.count.to_string()));
    }
    out
}

/// A secret key version 2 links are keyed with. It comes from the
/// configuration and never enters the database; rows record only its
/// [`LinkKey::id`], so that after a rotation old rows verify with the key
/// they were written with.
#[derive(Clone)]
pub struct LinkKey {
    id: String,
    secret: [u8; 32],
}

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl LinkKey {
    /// The key of `secret`; its id is derived from it (the first eight
    /// bytes, in hex, of SHA-256 over a label and the secret), so that a
    /// configuration cannot pair a secret with the wrong id.
    pub fn new(secret: [u8; 32]) -> Self {
        let mut h = Sha256::new();
        h.update(b"rosgate audit link key id\0");
        h.update(secret);
        let id = hex::encode(&h.finalize()[..8]);
        LinkKey { id, secret }
    }

    /// The id rows record.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn mac(&self, version: u8, prev_hash: &[u8; 32], event: &AuditEvent) -> Hmac<Sha256> {
        // HMAC takes keys of any length; 32 bytes never fails.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(&[version]);
        mac.update(prev_hash);
        mac.update(&canonical_as(version, event));
        mac
    }
}

/// The keys a verification accepts: the current one, which new links are
/// written with, and retired ones that older rows name.
#[derive(Debug, Clone)]
pub struct LinkKeys {
    current: LinkKey,
    retired: Vec<LinkKey>,
}

impl LinkKeys {
    pub fn new(current: LinkKey, retired: Vec<LinkKey>) -> Self {
        LinkKeys { current, retired }
    }

    /// The key new links are written with.
    pub fn current(&self) -> &LinkKey {
        &self.current
    }

    /// The key with this id, current or retired.
    pub fn find(&self, id: &str) -> Option<&LinkKey> {
        std::iter::once(&self.current)
            .chain(&self.retired)
            .find(|k| k.id == id)
    }
}

/// The link of `event` following `prev_hash` in the current [`VERSION`]:
/// HMAC-SHA-256 under `key` of version || prev_hash || canonical(event).
pub fn link(key: &LinkKey, prev_hash: &[u8; 32], event: &AuditEvent) -> [u8; 32] {
    key.mac(VERSION, prev_hash, event)
        .finalize()
        .into_bytes()
        .into()
}

/// The plain link of version 1: SHA-256(0x01 || prev_hash ||
/// canonical_as(1, event)). Only rows written before links were keyed use
/// it.
pub fn link_v1(prev_hash: &[u8; 32], event: &AuditEvent) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([VERSION_1]);
    hasher.update(prev_hash);
    hasher.update(canonical_as(VERSION_1, event));
    hasher.finalize().into()
}

/// An event with its place in a tenant's chain, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEntry {
    pub event: AuditEvent,
    /// The encoding the link was written in ([`VERSION_1`] or [`VERSION`]).
    pub version: u8,
    /// The [`LinkKey::id`] of a keyed link; `None` for version 1.
    pub key_id: Option<String>,
    /// The hash of the tenant's previous event, or [`GENESIS`].
    pub prev_hash: [u8; 32],
    /// `link(prev_hash, event)`.
    pub hash: [u8; 32],
}

/// Chains a batch of events after `prev` (the tenant's current head, or
/// [`GENESIS`] for its first event). The last element's `hash` is the new head.
pub fn chain(key: &LinkKey, prev: [u8; 32], events: &[AuditEvent]) -> Vec<ChainEntry> {
    let mut head = prev;
    events
        .iter()
        .map(|event| {
            let hash = link(key, &head, event);
            let chained = ChainEntry {
                event: event.clone(),
                version: VERSION,
                key_id: Some(key.id.clone()),
                prev_hash: head,
                hash,
            };
            head = hash;
            chained
        })
        .collect()
}

/// How a chain is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakKind {
    /// The row's `hash` is not `link(prev_hash, event)`: the event or its
    /// stored hash was changed.
    Altered,
    /// The row names a link key that is not configured: it cannot be
    /// checked until the key is added to the retired keys.
    UnknownKey,
    /// The row's `prev_hash` is not the previous row's `hash`: a row was
    /// deleted, inserted or moved (or the previous row was changed and
    /// re-hashed).
    Missing,
}

/// The first broken link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// Position of the offending row among the rows given, from 0.
    pub index: u64,
    /// The offending row's event id, as stored.
    pub event_id: AuditEventId,
    pub kind: BreakKind,
}

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Rows whose links held (all rows when there is no break).
    pub checked: u64,
    /// The hash of the last row whose link held, or `start_prev` when none
    /// did: with no break, the head of the range.
    pub head: [u8; 32],
    pub first_break: Option<Break>,
}

impl Verification {
    /// Whether every row's links held.
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Walks `rows` in chain order, starting after `start_prev` ([`GENESIS`] for
/// a tenant's whole trail, or the `hash` of the row before a range), and
/// stops at the first broken link without reading further. Holds one row at
/// a time, so callers can stream rows from storage.
pub fn verify(
    keys: &LinkKeys,
    start_prev: [u8; 32],
    rows: impl IntoIterator<Item = ChainEntry>,
) -> Verification {
    let mut head = start_prev;
    let mut checked: u64 = 0;
    let mut floor = VERSION_1;
    for row in rows {
        let kind = if row.prev_hash != head {
            Some(BreakKind::Missing)
        } else {
            check_link(keys, &mut floor, &row)
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

/// Whether `row`'s link holds in the encoding it names, which may not be
/// older than the newest encoding seen before it in the chain (`floor`,
/// raised as rows go by): a chain is never downgraded, so a row rewritten
/// into an older, weaker encoding is altered.
///
/// A version 2 row is keyed: its hash must be the HMAC under the key it
/// names (compared in constant time). A version 1 row is plain SHA-256,
/// which anyone can recompute: only a signed checkpoint vouches for those.
pub fn check_link(keys: &LinkKeys, floor: &mut u8, row: &ChainEntry) -> Option<BreakKind> {
    if row.version < *floor {
        return Some(BreakKind::Altered);
    }
    *floor = row.version;
    match (row.version, row.key_id.as_deref()) {
        (VERSION_1, None) => {
            let expected = link_v1(&row.prev_hash, &row.event);
            (!bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &row.hash[..])))
                .then_some(BreakKind::Altered)
        }
        (VERSION, Some(id)) => match keys.find(id) {
            None => Some(BreakKind::UnknownKey),
            Some(key) => key
                .mac(VERSION, &row.prev_hash, &row.event)
                .verify_slice(&row.hash)
                .is_err()
                .then_some(BreakKind::Altered),
        },
        _ => Some(BreakKind::Altered),
    }
}

/// Lower-case hex of a hash, for display and text columns.
pub fn to_hex(hash: &[u8; 32]) -> String {
    hex::encode(hash)
}

/// Parses 64 hex digits (either case) back into a hash.
pub fn from_hex(text: &str) -> Option<[u8; 32]> {
    let mut hash = [0u8; 32];
    hex::decode_to_slice(text, &mut hash).ok()?;
    Some(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::EventBuilder;
    use crate::{Actor, Effect, Outcome, RunResult};
    use kernel::UserId;
    use time::macros::{datetime, offset};
    use time::{Date, Duration, Time};
    use uuid::Uuid;

    fn key() -> LinkKey {
        LinkKey::new([7; 32])
    }

    fn keys() -> LinkKeys {
        LinkKeys::new(key(), vec![LinkKey::new([1; 32])])
    }

    fn event(n: u128) -> AuditEvent {
        EventBuilder::new(TenantId::from_uuid(Uuid::from_u128(7)))
            .id(n)
            .at(datetime!(2024-10-05 12:00:00 UTC) + Duration::seconds(n as i64))
            .user(UserId::from_uuid(Uuid::from_u128(8)))
            .email("a@example.test")
            .tool("update_dns_servers")
            .operation("rest:update_dns_servers")
            .action("tool:advanced")
            .on("device", Some(Uuid::from_u128(9)))
            .device(Uuid::from_u128(9))
            .environment("prod")
            .write()
            .reason("granted by ops_rw at team")
            .request_id(&format!("req-{n}"))
            .client_addr("192.0.2.1")
            .args_digest("ab")
            .build()
    }

    const LEN: usize = 5;

    fn rows() -> Vec<ChainEntry> {
        chain(
            &key(),
            GENESIS,
            &(1..=LEN as u128).map(event).collect::<Vec<_>>(),
        )
    }

    /// A named change to one field.
    type Edit = (&'static str, fn(&mut AuditEvent));

    /// One edit per field of `AuditEvent`, each the smallest change there is.
    fn single_field_edits() -> Vec<Edit> {
        vec![
            ("id", |e| {
                e.id = AuditEventId::from_uuid(Uuid::from_u128(99));
            }),
            ("at", |e| e.at += Duration::microseconds(1)),
            ("tenant_id", |e| e.tenant_id = None),
            ("user_id", |e| {
                e.user_id = Some(UserId::from_uuid(Uuid::from_u128(80)));
            }),
            ("user_email", |e| e.user_email = Some(String::new())),
            ("actor", |e| e.actor = Actor::Agent),
            ("operation", |e| {
                e.operation = "mcp:update_dns_servers".into()
            }),
            ("tool_name", |e| e.tool_name = None),
            ("action", |e| e.action = "tool:fundamental".into()),
            ("resource_type", |e| e.resource_type = "site".into()),
            ("resource_id", |e| e.resource_id = None),
            ("device_id", |e| e.device_id = None),
            ("environment", |e| e.environment = Some("lab".into())),
            ("effect", |e| e.effect = Effect::Read),
            ("decision", |e| e.decision = Outcome::Deny),
            ("reason", |e| e.reason.push('.')),
            ("result", |e| e.result = RunResult::Failure),
            ("error_class", |e| e.error_class = Some(String::new())),
            ("approval_request_id", |e| {
                e.approval_request_id = Some(Uuid::from_u128(5));
            }),
            ("request_id", |e| e.request_id.push('x')),
            ("client_addr", |e| e.client_addr = None),
            ("args_digest", |e| e.args_digest = Some("ac".into())),
            ("intent_id", |e| {
                e.intent_id = Some(AuditEventId::from_uuid(Uuid::from_u128(3)));
            }),
            ("client_request_id", |e| {
                e.client_request_id = Some(String::new());
            }),
            ("count", |e| e.count = 2),
        ]
    }

    #[test]
    fn genesis_is_the_hash_of_its_name() {
        let expected: [u8; 32] = Sha256::digest(b"rosgate audit chain v1").into();
        assert_eq!(GENESIS, expected);
        assert_eq!(
            to_hex(&GENESIS),
            "03019a55fc3e79cf47035676f130377a83083fe48b00c776fc35e61f5431713f"
        );
    }

    #[test]
    fn the_version_1_encoding_still_verifies_as_pinned() {
        let e = AuditEvent {
            id: AuditEventId::from_uuid(Uuid::from_u128(1)),
            at: datetime!(2024-05-06 07:08:09.123456789 UTC),
            tenant_id: Some(TenantId::from_uuid(Uuid::from_u128(2))),
            user_id: None,
            user_email: Some(String::new()),
            actor: Actor::ApiToken,
            operation: "getSite".into(),
            tool_name: None,
            action: "site:read".into(),
            resource_type: "site".into(),
            resource_id: None,
            device_id: None,
            environment: None,
            effect: Effect::Read,
            decision: Outcome::Deny,
            reason: "no binding".into(),
            result: RunResult::Failure,
            error_class: Some("forbidden".into()),
            approval_request_id: None,
            request_id: "r1".into(),
            client_addr: Some("127.0.0.1".into()),
            args_digest: None,
            intent_id: None,
            client_request_id: None,
            count: 1,
        };
        let mut expected = vec![VERSION_1];
        for field in [
            Some("00000000-0000-0000-0000-000000000001"),
            Some("2024-05-06T07:08:09.123456Z"),
            Some("00000000-0000-0000-0000-000000000002"),
            None,
            Some(""),
            Some("api_token"),
            Some("getSite"),
            None,
            Some("site:read"),
            Some("site"),
            None,
            None,
            None,
            Some("read"),
            Some("deny"),
            Some("no binding"),
            Some("failure"),
            Some("forbidden"),
            None,
            Some("r1"),
            Some("127.0.0.1"),
            None,
        ] {
            match field {
                None => expected.push(0),
                Some(text) => {
                    expected.push(1);
                    expected.extend_from_slice(&(text.len() as u32).to_be_bytes());
                    expected.extend_from_slice(text.as_bytes());
                }
            }
        }
        assert_eq!(canonical_as(VERSION_1, &e), expected);
        // Computed independently of this crate; if this changes, stored
        // chains no longer verify.
        let hash = link_v1(&GENESIS, &e);
        let row = ChainEntry {
            event: e.clone(),
            version: VERSION_1,
            key_id: None,
            prev_hash: GENESIS,
            hash,
        };
        assert!(verify(&keys(), GENESIS, [row]).is_intact());
        assert_eq!(
            to_hex(&hash),
            "92db7cbfe5a2c054e46c31092c562380f28405f57bc7b137da2e9ca7d14ec03e"
        );
    }

    #[test]
    fn version_2_appends_intent_client_request_id_and_count() {
        let mut e = event(1);
        e.intent_id = Some(AuditEventId::from_uuid(Uuid::from_u128(3)));
        e.client_request_id = Some("abc".into());
        e.count = 12;
        let v1 = canonical_as(VERSION_1, &e);
        let v2 = canonical(&e);
        assert_eq!(v2[0], 2);
        assert_eq!(&v2[1..v1.len()], &v1[1..]);
        let mut tail = Vec::new();
        put(&mut tail, Some("00000000-0000-0000-0000-000000000003"));
        put(&mut tail, Some("abc"));
        put(&mut tail, Some("12"));
        assert_eq!(&v2[v1.len()..], &tail[..]);
    }

    #[test]
    fn a_row_rewritten_into_the_older_encoding_after_a_newer_one_is_altered() {
        let mut r = rows();
        let prev = r[2].prev_hash;
        r[2].version = VERSION_1;
        r[2].key_id = None;
        r[2].hash = link_v1(&prev, &r[2].event);
        for later in 3..LEN {
            let before = r[later - 1].hash;
            r[later].prev_hash = before;
            r[later].hash = link(&key(), &before, &r[later].event);
        }
        let b = verify(&keys(), GENESIS, r).first_break.unwrap();
        assert_eq!((b.index, b.kind), (2, BreakKind::Altered));
    }

    #[test]
    fn an_edit_relinked_with_plain_sha256_or_another_key_is_altered() {
        let plain = |prev: &[u8; 32], e: &AuditEvent| -> [u8; 32] {
            let mut h = Sha256::new();
            h.update([VERSION]);
            h.update(prev);
            h.update(canonical(e));
            h.finalize().into()
        };
        let stranger = LinkKey::new([9; 32]);
        type Relink = Box<dyn Fn(&mut ChainEntry)>;
        let relinks: [(&str, Relink); 3] = [
            (
                "plain SHA-256",
                Box::new(move |r| r.hash = plain(&r.prev_hash, &r.event)),
            ),
            (
                "HMAC under another key, same id",
                Box::new(move |r| {
                    r.hash = link(&stranger, &r.prev_hash, &r.event);
                }),
            ),
            (
                "the first encoding",
                Box::new(|r| {
                    (r.version, r.key_id) = (VERSION_1, None);
                    r.hash = link_v1(&r.prev_hash, &r.event);
                }),
            ),
        ];
        for (how, relink) in relinks {
            let mut r = rows();
            r[0].event.decision = Outcome::Deny;
            // Every row from the edit on is relinked, the way a database
            // writer without the key would.
            for i in 0..LEN {
                if i > 0 {
                    r[i].prev_hash = r[i - 1].hash;
                }
                relink(&mut r[i]);
            }
            let v = verify(&keys(), GENESIS, r);
            // A whole chain rewritten into version 1 holds link by link:
            // only a signed checkpoint of its head catches that one.
            if how == "the first encoding" {
                assert!(v.is_intact());
                continue;
            }
            let b = v.first_break.unwrap();
            assert_eq!((b.index, b.kind), (0, BreakKind::Altered), "{how}");
        }
    }

    #[test]
    fn a_retired_key_still_verifies_and_an_unconfigured_one_is_reported() {
        let old = LinkKey::new([1; 32]);
        let r = chain(&old, GENESIS, &[event(1), event(2)]);
        assert!(verify(&keys(), GENESIS, r.clone()).is_intact());
        let only_current = LinkKeys::new(key(), Vec::new());
        let b = verify(&only_current, GENESIS, r).first_break.unwrap();
        assert_eq!((b.index, b.kind), (0, BreakKind::UnknownKey));
        assert_ne!(old.id(), key().id());
        assert_eq!(
            format!("{old:?}"),
            format!("LinkKey {{ id: {:?}, .. }}", old.id())
        );
    }

    #[test]
    fn an_unknown_encoding_version_is_altered() {
        let mut r = rows();
        r[0].version = 9;
        let b = verify(&keys(), GENESIS, r).first_break.unwrap();
        assert_eq!((b.index, b.kind), (0, BreakKind::Altered));
    }

    #[test]
    fn an_untouched_chain_verifies_and_reports_its_head() {
        let r = rows();
        assert_eq!(r[0].prev_hash, GENESIS);
        assert!(r.windows(2).all(|w| w[1].prev_hash == w[0].hash));
        let head = r[LEN - 1].hash;
        let v = verify(&keys(), GENESIS, r);
        assert!(v.is_intact());
        assert_eq!((v.checked, v.head, v.first_break), (LEN as u64, head, None));
    }

    #[test]
    fn an_empty_chain_verifies_with_its_start_as_head() {
        let v = verify(&keys(), GENESIS, Vec::new());
        assert_eq!((v.checked, v.head, v.first_break), (0, GENESIS, None));
    }

    #[test]
    fn chaining_in_batches_equals_chaining_at_once() {
        let events: Vec<_> = (1..=LEN as u128).map(event).collect();
        let first = chain(&key(), GENESIS, &events[..2]);
        let second = chain(&key(), first[1].hash, &events[2..]);
        let batched: Vec<_> = first.into_iter().chain(second).collect();
        assert_eq!(batched, rows());
    }

    #[test]
    fn changing_any_single_field_of_any_event_is_altered_at_that_index() {
        for (field, edit) in single_field_edits() {
            for index in 0..LEN {
                let mut r = rows();
                let before = if index == 0 {
                    GENESIS
                } else {
                    r[index - 1].hash
                };
                edit(&mut r[index].event);
                let edited_id = r[index].event.id;
                let v = verify(&keys(), GENESIS, r);
                assert_eq!(
                    v.first_break,
                    Some(Break {
                        index: index as u64,
                        event_id: edited_id,
                        kind: BreakKind::Altered,
                    }),
                    "{field} changed at {index}"
                );
                assert_eq!((v.checked, v.head), (index as u64, before), "{field}");
            }
        }
    }

    #[test]
    fn changing_a_stored_hash_is_altered_at_that_index() {
        let mut r = rows();
        r[3].hash[0] ^= 1;
        let b = verify(&keys(), GENESIS, r).first_break.unwrap();
        assert_eq!((b.index, b.kind), (3, BreakKind::Altered));
    }

    #[test]
    fn an_altered_event_rehashed_breaks_the_next_link() {
        let mut r = rows();
        r[1].event.decision = Outcome::Deny;
        r[1].hash = link(&key(), &r[1].prev_hash, &r[1].event);
        let b = verify(&keys(), GENESIS, r).first_break.unwrap();
        assert_eq!((b.index, b.kind), (2, BreakKind::Missing));
    }

    #[test]
    fn deleting_a_row_is_missing_at_the_next_index() {
        // The last row has no next row: see the cut-tail test.
        for deleted in 0..LEN - 1 {
            let mut r = rows();
            r.remove(deleted);
            let next_id = r[deleted].event.id;
            let v = verify(&keys(), GENESIS, r);
            assert_eq!(
                v.first_break,
                Some(Break {
                    index: deleted as u64,
                    event_id: next_id,
                    kind: BreakKind::Missing,
                }),
                "deleted {deleted}"
            );
        }
    }

    #[test]
    fn a_cut_tail_shows_only_in_the_head() {
        let full_head = rows()[LEN - 1].hash;
        let mut r = rows();
        r.pop();
        let v = verify(&keys(), GENESIS, r);
        assert!(v.is_intact(), "every remaining link holds");
        assert_ne!(v.head, full_head, "but the head moved back");
    }

    #[test]
    fn swapping_two_rows_is_detected_at_the_first() {
        for i in 0..LEN {
            for j in i + 1..LEN {
                let mut r = rows();
                r.swap(i, j);
                let b = verify(&keys(), GENESIS, r).first_break;
                let b = b.unwrap_or_else(|| panic!("swap {i} {j} went unnoticed"));
                assert_eq!((b.index, b.kind), (i as u64, BreakKind::Missing));
            }
        }
    }

    #[test]
    fn a_range_verifies_from_its_predecessor() {
        let r = rows();
        let start = r[1].hash;
        let head = r[LEN - 1].hash;
        let v = verify(&keys(), start, r.into_iter().skip(2));
        assert_eq!((v.checked, v.head, v.first_break), (3, head, None));

        let v = verify(&keys(), GENESIS, rows().into_iter().skip(2));
        let b = v.first_break.unwrap();
        assert_eq!((b.index, b.kind), (0, BreakKind::Missing), "wrong start");
    }

    #[test]
    fn verification_stops_reading_at_the_first_break() {
        let mut r = rows();
        r[1].event.reason.clear();
        let never = std::iter::from_fn(|| -> Option<ChainEntry> { panic!("read past the break") });
        let v = verify(&keys(), GENESIS, r.into_iter().chain(never));
        assert_eq!(v.first_break.unwrap().index, 1);
    }

    #[test]
    fn none_and_an_empty_string_hash_differently() {
        let mut absent = event(1);
        let mut empty = event(1);
        absent.user_email = None;
        empty.user_email = Some(String::new());
        assert_ne!(canonical(&absent), canonical(&empty));
        assert_ne!(
            link(&key(), &GENESIS, &absent),
            link(&key(), &GENESIS, &empty)
        );
    }

    #[test]
    fn text_cannot_move_between_fields() {
        let mut a = event(1);
        let mut b = event(1);
        (a.operation, a.action) = ("ab".into(), "c".into());
        (b.operation, b.action) = ("a".into(), "bc".into());
        assert_ne!(link(&key(), &GENESIS, &a), link(&key(), &GENESIS, &b));
    }

    #[test]
    fn nanoseconds_beyond_microseconds_do_not_change_the_hash() {
        let stored = event(1);
        let mut precise = event(1);
        precise.at += Duration::nanoseconds(999);
        assert_eq!(
            link(&key(), &GENESIS, &precise),
            link(&key(), &GENESIS, &stored)
        );
        precise.at += Duration::nanoseconds(1);
        assert_ne!(
            link(&key(), &GENESIS, &precise),
            link(&key(), &GENESIS, &stored)
        );
    }

    #[test]
    fn only_the_instant_counts_not_its_offset() {
        let utc = event(1);
        let mut local = event(1);
        local.at = local.at.to_offset(offset!(+02:00));
        assert_eq!(canonical(&local), canonical(&utc));
    }

    #[test]
    fn an_instant_beyond_utc_years_encodes_without_panicking() {
        let mut e = event(1);
        e.at = Date::MAX
            .with_time(Time::from_hms(23, 0, 0).unwrap())
            .assume_offset(offset!(-05:00));
        let bytes = canonical(&e);
        let text = "9999-12-31T23:00:00.000000-05:00:00";
        assert!(bytes.windows(text.len()).any(|w| w == text.as_bytes()));
    }

    #[test]
    fn hashes_round_trip_through_hex() {
        let hash = rows()[0].hash;
        assert_eq!(from_hex(&to_hex(&hash)), Some(hash));
        assert_eq!(from_hex(&to_hex(&hash).to_uppercase()), Some(hash));
        assert_eq!(from_hex("00"), None);
        assert_eq!(from_hex(&"g".repeat(64)), None);
    }
}
