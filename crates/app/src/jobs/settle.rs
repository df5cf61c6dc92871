//! The intent settling loop: at start and then every minute it concludes
//! the intents older than the grace period that no outcome names, by
//! reading their devices back (`audit::intents::Settle` over
//! [`tools::settle::DeviceReadBack`]).

use crate::state::AppState;

/// Concludes every intent older than `grace` that no outcome names, by
/// reading its device back (`audit::intents`); returns how many.
pub async fn settle_intents(state: &AppState, grace: time::Duration) -> usize {
    let read_back = tools::settle::DeviceReadBack {
        tenancy: &state.tenancy,
        tools: &state.tools,
    };
    let settle = audit::intents::Settle {
        reader: &state.db,
        sink: state.audit.as_ref(),
        changes: &state.db,
        read_back: &read_back,
        clock: state.clock.as_ref(),
        entropy: state.entropy.as_ref(),
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
pub fn spawn(state: AppState, grace: time::Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            settle_intents(&state, grace).await;
        }
    })
}
