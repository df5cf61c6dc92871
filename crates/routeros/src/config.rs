//! Tunables of the REST client, with defaults fit for devices on a
//! management network.

use std::time::Duration;

/// How the [`RestClient`](crate::RestClient) times out, retries and pauses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Bound on one attempt: connecting, sending and reading the reply.
    pub timeout: Duration,
    /// Bound on connecting (TCP and the TLS handshake). Keep it below
    /// `timeout`: a connection that times out here is known never to have
    /// carried the request, so even `PUT` and `POST` are retried, whereas an
    /// attempt cut off by `timeout` first may have reached the device.
    pub connect_timeout: Duration,
    /// Attempts in total for one call, the first included (0 counts as 1).
    pub attempts: u32,
    /// Pause before the second attempt; it doubles for each later one.
    pub backoff_base: Duration,
    /// Longest pause between two attempts.
    pub backoff_max: Duration,
    /// Consecutive failed calls (unreachable, timed out, HTTP 5xx) after
    /// which a device's circuit opens; 0 turns the breaker off.
    pub breaker_threshold: u32,
    /// How long an open circuit refuses calls before one trial call.
    pub breaker_cooldown: Duration,
    /// Connect to device names that resolve to loopback, link-local or
    /// unspecified addresses (simulated devices only). Off by default.
    pub allow_private_hosts: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            attempts: 3,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
            allow_private_hosts: false,
        }
    }
}
