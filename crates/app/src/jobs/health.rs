//! The health check loop: every second it starts the checks that are due
//! without waiting for earlier ones (a dead device does not hold up the
//! others), at most [`PARALLEL`] running at once; every 30 seconds it looks
//! for new or removed devices. What a check is and when it is due is the
//! business of [`tools::health`].

use std::sync::Arc;
use tools::health::Health;

/// Checks the loop runs at the same time.
pub const PARALLEL: usize = 8;

/// How many one-second ticks pass between looks for new or removed devices.
const REFRESH_TICKS: u64 = 30;

/// Starts the loop.
pub fn spawn(health: Health) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let limit = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
        let mut tasks = tokio::task::JoinSet::new();
        let mut tick = super::ticker(std::time::Duration::from_secs(1));
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            while tasks.try_join_next().is_some() {}
            if n.is_multiple_of(REFRESH_TICKS) {
                health.refresh_devices().await;
            }
            n = n.wrapping_add(1);
            for check in health.claim_due_checks(&limit) {
                tasks.spawn(check);
            }
        }
    })
}
