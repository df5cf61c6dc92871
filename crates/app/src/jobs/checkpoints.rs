//! The audit checkpoint loop: once a second it asks the clock whether a
//! checkpoint run is due ([`AuditTrust::due`]) and, if so, signs the head
//! of every chain that moved ([`AuditTrust::write_checkpoints`]).

use crate::checkpoint::AuditTrust;
use kernel::Clock;
use std::sync::Arc;

/// Starts the loop over the chains kept in `db`.
pub fn spawn(
    trust: Arc<AuditTrust>,
    db: db::Database,
    clock: Arc<dyn Clock>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = super::ticker(std::time::Duration::from_secs(1));
        loop {
            tick.tick().await;
            let now = clock.now();
            if trust.due(now)
                && let Err(e) = trust.write_checkpoints(&db, now).await
            {
                tracing::error!(error = %e, "cannot write audit checkpoints");
            }
        }
    })
}
