//! Changes whose outcome was never recorded, and how they are settled.
//!
//! A call that can change a device commits an *intent* (result
//! [`RunResult::Pending`]: who, which tool, which device, the argument
//! digest) before the device is touched, and its outcome after, naming the
//! intent. Beside the intent, outside the chain (events never hold
//! arguments), it keeps the [`IntendedChange`]: what the change was meant
//! to do, secrets redacted.
//!
//! If the process dies between the change and its outcome, the intent
//! stays open. On start and then periodically, [`Settle::run`] concludes
//! every open intent older than a grace period (longer than any call runs)
//! by reading the device back through the [`ReadBack`] port:
//!
//! - the device shows the intended state: a `success` outcome;
//! - it does not: a `failure` outcome (`not_applied`);
//! - it cannot be read, or the change cannot be read back (a cache flush
//!   leaves nothing to read): an outcome of result [`RunResult::Unknown`]
//!   (`outcome_unknown`) that says why.
//!
//! So the record never shows a change as pending forever, and never
//! silently loses it. Every settled outcome says it was settled after the
//! fact: what a device shows later may also be someone else's doing.

use crate::query::AuditReader;
use crate::{AuditEvent, AuditSink, RunResult};
use async_trait::async_trait;
use kernel::{AuditEventId, Clock, Entropy, StoreError, TenantId};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Intents read per round trip.
const BATCH: u32 = 500;

/// What a change was meant to do, kept beside its intent.
#[derive(Debug, Clone, PartialEq)]
pub struct IntendedChange {
    /// The intent event this change belongs to.
    pub intent_id: AuditEventId,
    /// The intent's time (the same as its event's); once settling has
    /// passed it, the change is dropped.
    pub at: OffsetDateTime,
    pub tenant_id: Option<TenantId>,
    pub device_id: Uuid,
    /// The change with secrets redacted, in the form the [`ReadBack`]
    /// adapter understands; opaque to this crate.
    pub change: serde_json::Value,
}

/// Where intended changes are kept until their intent is concluded.
#[async_trait]
pub trait IntendedChanges: Send + Sync {
    /// Keeps `change` durably before returning. Callers keep it before they
    /// commit its intent, so no intent lacks its change.
    async fn keep(&self, change: &IntendedChange) -> Result<(), StoreError>;

    /// The change kept for `intent`, if any.
    async fn find(&self, intent: AuditEventId) -> Result<Option<IntendedChange>, StoreError>;

    /// Drops every change kept for an intent made at or before `until`;
    /// returns how many. Called only once every such intent is concluded.
    async fn forget_until(&self, until: OffsetDateTime) -> Result<u64, StoreError>;
}

/// What reading a device back found about an intended change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The device shows the intended state; the text says what was read.
    Applied(String),
    /// The device does not show it; the text says what it shows instead.
    NotApplied(String),
    /// Nothing can be concluded (the device cannot be reached, or the
    /// change leaves nothing to read); the text says why.
    Unreadable(String),
}

/// Reads a device to see whether an intended change is in place.
#[async_trait]
pub trait ReadBack: Send + Sync {
    async fn read_back(&self, change: &IntendedChange) -> Finding;
}

/// How many intents one [`Settle::run`] concluded, by what it found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settled {
    pub applied: usize,
    pub not_applied: usize,
    pub unknown: usize,
}

impl Settled {
    /// All intents concluded.
    pub fn total(&self) -> usize {
        self.applied + self.not_applied + self.unknown
    }
}

/// The outcome of an intent nobody concluded, from what a read-back found
/// (`None`: no intended change was kept, so nothing could be read).
pub fn settled_outcome(
    intent: &AuditEvent,
    finding: Option<&Finding>,
    clock: &dyn Clock,
    entropy: &dyn Entropy,
) -> AuditEvent {
    const STOPPED: &str =
        "rosgate stopped after the change was sent and before its outcome was recorded";
    let now = clock.now();
    let (result, error_class, reason) = match finding {
        Some(Finding::Applied(what)) => (
            RunResult::Success,
            None,
            format!(
                "{STOPPED}; settled by reading the device afterwards, which shows the intended state: {what}"
            ),
        ),
        Some(Finding::NotApplied(what)) => (
            RunResult::Failure,
            Some("not_applied"),
            format!(
                "{STOPPED}; settled by reading the device afterwards, which does not show the intended state: {what}"
            ),
        ),
        Some(Finding::Unreadable(why)) => (
            RunResult::Unknown,
            Some("outcome_unknown"),
            format!("{STOPPED}; the device could not be read back ({why}): check it by hand"),
        ),
        None => (
            RunResult::Unknown,
            Some("outcome_unknown"),
            format!("{STOPPED}; read the device to see what happened"),
        ),
    };
    AuditEvent {
        id: AuditEventId::from_uuid(entropy.uuid_v7(now)),
        at: now,
        result,
        error_class: error_class.map(str::to_owned),
        reason,
        intent_id: Some(intent.id),
        count: 1,
        ..intent.clone()
    }
}

/// The ports settling needs.
pub struct Settle<'a> {
    pub reader: &'a dyn AuditReader,
    pub sink: &'a dyn AuditSink,
    pub changes: &'a dyn IntendedChanges,
    pub read_back: &'a dyn ReadBack,
    pub clock: &'a dyn Clock,
    pub entropy: &'a dyn Entropy,
}

impl std::fmt::Debug for Settle<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Settle")
    }
}

impl Settle<'_> {
    /// Concludes every open intent older than `grace`, reading each device
    /// back where its change was kept, then drops the changes of every
    /// intent now concluded.
    pub async fn run(&self, grace: Duration) -> Result<Settled, StoreError> {
        let cutoff = self.clock.now() - grace;
        let mut settled = Settled::default();
        loop {
            let open = self.reader.open_intents(None, cutoff, BATCH).await?;
            for stored in &open {
                let intent = &stored.event;
                let finding = match self.changes.find(intent.id).await? {
                    Some(change) => Some(self.read_back.read_back(&change).await),
                    None => None,
                };
                match &finding {
                    Some(Finding::Applied(_)) => settled.applied += 1,
                    Some(Finding::NotApplied(_)) => settled.not_applied += 1,
                    _ => settled.unknown += 1,
                }
                let outcome = settled_outcome(intent, finding.as_ref(), self.clock, self.entropy);
                self.sink.record(outcome).await?;
            }
            if open.len() < BATCH as usize {
                break;
            }
        }
        self.changes.forget_until(cutoff).await?;
        Ok(settled)
    }
}
