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
//! by reading the device back through the [`ReadBack`] port (ports.rs):
//!
//! - the device shows the intended state: a `success` outcome;
//! - it does not: a `failure` outcome (`not_applied`);
//! - nothing can be concluded (the change leaves nothing to read, as a
//!   cache flush; the device is gone from rosgate; the kept change does not
//!   match its intent): an outcome of result [`RunResult::Unknown`]
//!   (`outcome_unknown`) that says why;
//! - the device cannot be asked right now (unreachable, timing out): the
//!   intent stays open and is tried again at the next round, for up to
//!   [`READ_BACK_PATIENCE`], then it is settled as unknown.
//!
//! So the record never shows a change as pending forever, and never
//! silently loses it. Every settled outcome says it was settled after the
//! fact: what a device shows later may also be someone else's doing.

use crate::AuditEvent;
use crate::RunResult;
use crate::chain::ChainKey;
pub use crate::intended::{Finding, IntendedChange};
use crate::ports::{AuditReader, AuditSink, IntendedChanges, ReadBack};
use kernel::{AuditEventId, Clock, Entropy, StoreError};
use time::{Duration, OffsetDateTime};

/// Intents read per round trip.
const BATCH: u32 = 500;

/// How long one read-back may take before it counts as unanswered.
pub const READ_BACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How long past its grace period an intent whose device cannot be asked
/// is tried again before it is settled as unknown.
pub const READ_BACK_PATIENCE: Duration = Duration::hours(24);

/// The longest `reason` a settled outcome carries.
const MAX_REASON: usize = 1000;

/// How many intents one [`Settle::run`] concluded, by what it found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settlement {
    pub applied: usize,
    pub not_applied: usize,
    pub unknown: usize,
    /// Left open to be tried again: their devices could not be asked.
    pub waiting: usize,
}

impl Settlement {
    /// All intents concluded (not counting those left waiting).
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
        Some(Finding::Unreadable(why) | Finding::Unavailable(why)) => (
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
        reason: reason.chars().take(MAX_REASON).collect(),
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
    /// back where its change was kept; leaves open those whose device
    /// cannot be asked now (until [`READ_BACK_PATIENCE`] runs out); then
    /// drops the kept changes of every intent no longer open.
    pub async fn run(&self, grace: Duration) -> Result<Settlement, StoreError> {
        let cutoff = self.clock.now() - grace;
        let mut settled = Settlement::default();
        loop {
            let open = self.reader.open_intents(None, cutoff, BATCH).await?;
            let mut concluded = 0;
            for stored in &open {
                let intent = &stored.event;
                let Next::Conclude(finding) = self.next(intent, cutoff).await? else {
                    settled.waiting += 1;
                    continue;
                };
                // Another instance may have concluded it while the device
                // was being read.
                if self
                    .reader
                    .is_concluded(ChainKey::of(intent.tenant_id), intent.id)
                    .await?
                {
                    continue;
                }
                match &finding {
                    Some(Finding::Applied(_)) => settled.applied += 1,
                    Some(Finding::NotApplied(_)) => settled.not_applied += 1,
                    _ => settled.unknown += 1,
                }
                let outcome = settled_outcome(intent, finding.as_ref(), self.clock, self.entropy);
                self.sink.record(outcome).await?;
                concluded += 1;
            }
            // Intents left waiting come first in the next batch: stop when a
            // full batch concluded nothing.
            if open.len() < BATCH as usize || concluded == 0 {
                break;
            }
        }
        self.changes.forget_concluded(cutoff).await?;
        Ok(settled)
    }

    /// Reads `intent`'s device back and says what to do with the intent.
    async fn next(&self, intent: &AuditEvent, cutoff: OffsetDateTime) -> Result<Next, StoreError> {
        let Some(change) = self.changes.find(intent.id).await? else {
            return Ok(Next::Conclude(None));
        };
        if Some(change.device_id) != intent.device_id || change.tenant_id != intent.tenant_id {
            return Ok(Next::Conclude(Some(Finding::Unreadable(
                "the change kept beside the intent names another device".into(),
            ))));
        }
        let finding =
            tokio::time::timeout(READ_BACK_TIMEOUT, self.read_back.read_back(intent, &change))
                .await
                .unwrap_or_else(|_| {
                    Finding::Unavailable(format!(
                        "no answer within {} s",
                        READ_BACK_TIMEOUT.as_secs()
                    ))
                });
        Ok(match finding {
            Finding::Unavailable(why) if intent.at > cutoff - READ_BACK_PATIENCE => {
                tracing::info!(intent = %intent.id, reason = %why, "an open intent's device cannot be read back yet; trying again later");
                Next::Wait
            }
            Finding::Unavailable(why) => Next::Conclude(Some(Finding::Unreadable(format!(
                "{why}, and so for {} hours",
                READ_BACK_PATIENCE.whole_hours()
            )))),
            other => Next::Conclude(Some(other)),
        })
    }
}

/// What to do with one open intent.
enum Next {
    /// Leave it open and try again at a later round.
    Wait,
    /// Conclude it with what was found (`None`: no change was kept).
    Conclude(Option<Finding>),
}
