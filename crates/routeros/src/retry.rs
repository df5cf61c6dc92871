//! When a failed attempt is tried again, and after how long.
//!
//! RouterOS applies a `PUT` (add) or `POST` (run a command) as soon as it
//! has read it, and a lost reply does not mean a lost change. So `PUT` and
//! `POST` are retried only when the connection was never established (it
//! was refused, or connecting timed out), which proves the device saw
//! nothing. `GET`, `PATCH` (set to given values) and
//! `DELETE` (of an id) give the same end state when repeated, so they are
//! also retried after a timeout. An HTTP status is the device's answer and
//! is never retried; neither is a refused certificate.

use std::time::Duration;

use tools::{DeviceError, RestMethod};

use crate::ClientConfig;

/// An attempt that got no HTTP answer.
#[derive(Debug)]
pub(crate) struct Failure {
    pub error: DeviceError,
    /// Whether a connection was established, so the request may have
    /// reached the device.
    pub connected: bool,
}

/// Whether `failure` may be followed by another attempt of `method`.
pub(crate) fn may_retry(method: RestMethod, failure: &Failure) -> bool {
    let transient = matches!(
        failure.error,
        DeviceError::Unreachable(_) | DeviceError::Timeout
    );
    if !transient {
        return false;
    }
    if !failure.connected {
        return true;
    }
    let idempotent = matches!(
        method,
        RestMethod::Get | RestMethod::Patch | RestMethod::Delete
    );
    idempotent && failure.error == DeviceError::Timeout
}

/// The pause after failed attempt number `attempt` (1-based): the base,
/// doubled for each later attempt, never more than the configured maximum.
pub(crate) fn backoff(config: &ClientConfig, attempt: u32) -> Duration {
    let factor = 1u32
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    config
        .backoff_base
        .checked_mul(factor)
        .unwrap_or(config.backoff_max)
        .min(config.backoff_max)
}
