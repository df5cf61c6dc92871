//! What the audit trail needs from outside, in one place: somewhere to
//! record events ([`AuditSink`], [`AuditLog`]), to read them back
//! ([`AuditReader`], with what a partial reader reaches, [`Reach`]), to
//! keep intended changes ([`IntendedChanges`]) and to read a device back
//! ([`ReadBack`]). The database adapters live in the `db` crate; the
//! group-commit writer (writer.rs) is a sink in front of a log.

use crate::AuditEvent;
use crate::chain::ChainKey;
use crate::intended::{Finding, IntendedChange};
use crate::stored::{Filter, Head, StoredEvent};
use async_trait::async_trait;
use kernel::{AuditEventId, StoreError, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

/// Where events are recorded.
#[async_trait]
pub trait AuditSink: Send + Sync {
    /// Records an event durably before returning. Implementations MUST NOT
    /// drop events: on failure they return an error and the caller refuses
    /// the request.
    async fn record(&self, event: AuditEvent) -> Result<(), StoreError>;
}

/// Durable storage of events: appends a batch to the tenants' chains in one
/// transaction (all or nothing), in the order given.
#[async_trait]
pub trait AuditLog: Send + Sync {
    async fn append(&self, batch: &[AuditEvent]) -> Result<(), StoreError>;
}

/// Any log is a sink that commits each event on its own (the baseline the
/// group-commit writer is measured against).
#[async_trait]
impl<T: AuditLog + ?Sized> AuditSink for T {
    async fn record(&self, event: AuditEvent) -> Result<(), StoreError> {
        self.append(std::slice::from_ref(&event.escaped())).await
    }
}

/// Reading stored events.
#[async_trait]
pub trait AuditReader: Send + Sync {
    /// Up to `limit` events of `chain` matching `filter`, newest first,
    /// with `seq` below `before` when given.
    async fn page(
        &self,
        chain: ChainKey,
        filter: &Filter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// Up to `limit` rows of `chain` with `after < seq <= until`, by `seq`.
    async fn scan(
        &self,
        chain: ChainKey,
        after: i64,
        until: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// The `hash` of the row numbered `seq`, if there is one.
    async fn hash_at(&self, chain: ChainKey, seq: i64) -> Result<Option<[u8; 32]>, StoreError>;

    /// The smallest `seq` of an event at or after `at`, and the largest of
    /// an event before `to` (the rows a time range spans), or `None` when
    /// the range holds no event.
    async fn seq_range(
        &self,
        chain: ChainKey,
        from: Option<OffsetDateTime>,
        to: Option<OffsetDateTime>,
    ) -> Result<Option<(i64, i64)>, StoreError>;

    /// The chain's head as recorded when events were appended.
    async fn head(&self, chain: ChainKey) -> Result<Option<Head>, StoreError>;

    /// Open intents: events made at or before `until` whose result is
    /// [`crate::RunResult::Pending`] and that no event of the same chain names as
    /// its `intent_id`, oldest first (by chain, then `seq`), at most
    /// `limit`. Of `chain` when given, of every chain otherwise.
    async fn open_intents(
        &self,
        chain: Option<ChainKey>,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// Whether an event of `chain` names `intent` as its `intent_id`.
    async fn is_concluded(&self, chain: ChainKey, intent: AuditEventId)
    -> Result<bool, StoreError>;
}

/// What a reader over part of a tenant reaches, asked by [`crate::query::in_reach`]. The
/// composition root answers from the authorization index; tests answer
/// from a table.
pub trait Reach {
    /// Whether the entity an event names by `kind` and id is in reach, or
    /// `None` when no entity is named that reach is decided over: a kind
    /// such as a plan, a tool or a session, or a kind without its id.
    fn entity(&self, kind: &str, id: Option<Uuid>) -> Option<bool>;

    /// Whether every place `user` is bound is in reach.
    fn whole_user(&self, user: UserId) -> bool;
}

/// Where intended changes are kept until their intent is concluded.
#[async_trait]
pub trait IntendedChanges: Send + Sync {
    /// Keeps `change` durably before returning. Callers keep it before they
    /// commit its intent, so no intent lacks its change.
    async fn keep(&self, change: &IntendedChange) -> Result<(), StoreError>;

    /// The change kept for `intent`, if any.
    async fn find(&self, intent: AuditEventId) -> Result<Option<IntendedChange>, StoreError>;

    /// Drops every change kept for an intent made at or before `until`
    /// that is no longer open (an outcome names it, or it was never
    /// committed); returns how many.
    async fn forget_concluded(&self, until: OffsetDateTime) -> Result<u64, StoreError>;
}

/// Reads a device to see whether an intended change is in place.
#[async_trait]
pub trait ReadBack: Send + Sync {
    /// Reads `change` back. Implementations MUST return
    /// [`Finding::Unreadable`] when `change` is not what `intent` records
    /// (another tool, another argument digest, another plan): the kept
    /// change lies outside the chain and is not trusted on its own.
    async fn read_back(&self, intent: &AuditEvent, change: &IntendedChange) -> Finding;
}
