//! Background loops of `rosgate serve`: each ticks a domain service or an
//! adapter on a timer and does nothing else. Each holds the services and
//! ports it uses, never the application state. `serve` starts them after
//! the listener is bound; they stop with the process.
//!
//! - [`health`]: device health checks as they fall due;
//! - [`checkpoints`]: signed checkpoints of the audit chains' heads;
//! - [`settle`]: intents nobody concluded, settled by reading devices back;
//! - [`refusals`]: counted refusals, written as their minutes end.

pub mod checkpoints;
pub mod health;
pub mod refusals;
pub mod settle;

/// A timer ticking every `period`, at once first; a tick missed while the
/// loop was busy is delayed, not made up in a burst.
fn ticker(period: std::time::Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}
