//! The intent settling loop: at start and then every minute it concludes
//! the intents older than the grace period that no outcome names, by
//! reading their devices back (`audit::intents::Settle` over
//! [`tools::settle::DeviceReadBack`]).

use kernel::{Clock, Entropy};
use std::sync::Arc;

/// What settling needs: the devices and the tool runner to read them
/// back, the database holding the intents and their intended changes,
/// the audit writer for the outcomes, and time and ids.
#[derive(Clone)]
pub struct IntentSettler {
    pub tenancy: tenancy::TenancyService,
    pub tools: tools::Runner,
    pub db: db::Database,
    pub audit: Arc<audit::writer::GroupCommit>,
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
}

impl std::fmt::Debug for IntentSettler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntentSettler").finish_non_exhaustive()
    }
}

impl IntentSettler {
    /// Concludes every intent older than `grace` that no outcome names, by
    /// reading its device back (`audit::intents`); returns how many.
    pub async fn settle_intents(&self, grace: time::Duration) -> usize {
        let read_back = tools::settle::DeviceReadBack {
            tenancy: &self.tenancy,
            tools: &self.tools,
        };
        let settle = audit::intents::Settle {
            reader: &self.db,
            sink: self.audit.as_ref(),
            changes: &self.db,
            read_back: &read_back,
            clock: self.clock.as_ref(),
            entropy: self.entropy.as_ref(),
        };
        match settle.run(grace).await {
            Ok(settled) => {
                if settled.total() > 0 {
                    tracing::warn!(
                        applied = settled.applied,
                        not_applied = settled.not_applied,
                        unknown = settled.unknown,
                        "changes whose outcome was never recorded are now settled by reading their devices"
                    );
                }
                settled.total()
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot settle open intents; retrying in a minute");
                0
            }
        }
    }

    /// Settles open intents at start and then every minute.
    pub fn spawn(self, grace: time::Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                self.settle_intents(grace).await;
            }
        })
    }
}
