//! The counted-refusals loop: every ten seconds it writes the refusals
//! counted during minutes that are over (`crate::enforce::refusals`), one
//! event per subject and minute; at shutdown `serve` flushes them all.
//! Only this loop and shutdown write them, never a request, so a request
//! that is cut off can never drop refusals it had taken out.

use crate::enforce::refusals::Refusals;
use crate::enforce::trail;
use kernel::{Clock, Entropy};
use std::sync::Arc;

/// What writing counted refusals needs: the counters, the audit writer,
/// and time and ids for the events.
#[derive(Clone)]
pub struct RefusalWriter {
    pub refusals: Arc<Refusals>,
    pub audit: Arc<audit::writer::GroupCommit>,
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
}

impl std::fmt::Debug for RefusalWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefusalWriter").finish_non_exhaustive()
    }
}

impl RefusalWriter {
    /// Writes the counted refusals of every minute that is over (or of
    /// all, at shutdown). A failure is logged with the events in full.
    pub async fn flush(&self, all: bool) {
        let events = self.refusals.take(
            self.clock.now(),
            all,
            self.clock.as_ref(),
            self.entropy.as_ref(),
        );
        for event in events {
            let _ = trail::commit_to(self.audit.as_ref(), event).await;
        }
    }

    /// Writes counted refusals as their minutes end, until the process
    /// stops.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
            loop {
                tick.tick().await;
                self.flush(false).await;
            }
        })
    }
}
