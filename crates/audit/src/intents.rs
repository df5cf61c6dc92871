//! Changes whose outcome was never recorded.
//!
//! A call that can change a device commits an *intent* (result
//! [`RunResult::Pending`]: who, which tool, which device, the argument
//! digest) before the device is touched, and its outcome after, naming the
//! intent. If the process dies in between, the intent stays open. On start
//! and then periodically, [`settle`] records every open intent older than
//! a grace period (longer than any call runs) as an outcome of result
//! [`RunResult::Unknown`], so the record never shows a change as pending
//! forever, and never silently loses it.

use crate::query::AuditReader;
use crate::{AuditEvent, AuditSink, RunResult};
use kernel::{AuditEventId, Clock, Entropy, StoreError};
use time::Duration;

/// Intents read per round trip.
const BATCH: u32 = 500;

/// The outcome of an intent nobody concluded.
pub fn unknown_outcome(
    intent: &AuditEvent,
    clock: &dyn Clock,
    entropy: &dyn Entropy,
) -> AuditEvent {
    let now = clock.now();
    AuditEvent {
        id: AuditEventId::from_uuid(entropy.uuid_v7(now)),
        at: now,
        result: RunResult::Unknown,
        error_class: Some("outcome_unknown".into()),
        reason: "rosgate stopped after the change was sent and before its outcome was \
                 recorded; read the device to see what happened"
            .into(),
        intent_id: Some(intent.id),
        count: 1,
        ..intent.clone()
    }
}

/// Records every open intent older than `grace` as of unknown outcome;
/// returns how many it settled.
pub async fn settle(
    reader: &dyn AuditReader,
    sink: &dyn AuditSink,
    clock: &dyn Clock,
    entropy: &dyn Entropy,
    grace: Duration,
) -> Result<usize, StoreError> {
    let mut settled = 0;
    loop {
        let open = reader.open_intents(None, BATCH).await?;
        let cutoff = clock.now() - grace;
        let mut progressed = false;
        for stored in &open {
            if stored.event.at <= cutoff {
                sink.record(unknown_outcome(&stored.event, clock, entropy))
                    .await?;
                settled += 1;
                progressed = true;
            }
        }
        if !progressed || open.len() < BATCH as usize {
            return Ok(settled);
        }
    }
}
