//! A circuit breaker per device.
//!
//! A device that is down costs every caller the full timeout times the
//! attempts; after `threshold` consecutive failed calls (unreachable, timed
//! out, or HTTP 5xx) its circuit opens and calls fail at once with
//! [`DeviceError::CircuitOpen`] until the cooldown has passed. Then exactly
//! one trial call goes through (half-open): if it fails the circuit opens
//! for another cooldown, anything else closes it. A 4xx answer, a refused
//! certificate or an unreadable reply show the device is up, so they reset
//! the count instead of adding to it. Time comes from the [`Clock`] port so
//! tests move it by hand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kernel::{Clock, DeviceId};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tools::DeviceError;

/// Failure counts and open circuits, by device.
#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    cooldown: time::Duration,
    clock: Arc<dyn Clock>,
    /// Only devices with a failure on record; healthy ones have no entry.
    devices: Mutex<HashMap<DeviceId, DeviceState>>,
}

#[derive(Debug, Default)]
struct DeviceState {
    failures: u32,
    open_until: Option<OffsetDateTime>,
    trial_in_flight: bool,
}

/// Leave to make one call; say how it went with [`Permit::record`].
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    breaker: &'a Breaker,
    device: DeviceId,
    trial: bool,
    recorded: bool,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cooldown: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            threshold,
            cooldown: time::Duration::try_from(cooldown).unwrap_or(time::Duration::MAX),
            clock,
            devices: Mutex::new(HashMap::new()),
        }
    }

    fn devices(&self) -> std::sync::MutexGuard<'_, HashMap<DeviceId, DeviceState>> {
        self.devices.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets a call to `device` through, or refuses it while the circuit is
    /// open (or while its one half-open trial is under way).
    pub(crate) fn admit(&self, device: DeviceId) -> Result<Permit<'_>, DeviceError> {
        let mut trial = false;
        if self.threshold > 0 {
            let now = self.clock.now();
            let mut devices = self.devices();
            if let Some(state) = devices.get_mut(&device)
                && let Some(until) = state.open_until
            {
                if now < until || state.trial_in_flight {
                    return Err(DeviceError::CircuitOpen(rfc3339(until)));
                }
                state.trial_in_flight = true;
                trial = true;
            }
        }
        Ok(Permit {
            breaker: self,
            device,
            trial,
            recorded: false,
        })
    }
}

impl Permit<'_> {
    /// Records the call's outcome: `failed` for the kinds that count.
    pub(crate) fn record(mut self, failed: bool) {
        self.recorded = true;
        let breaker = self.breaker;
        if breaker.threshold == 0 {
            return;
        }
        let mut devices = breaker.devices();
        if !failed {
            if devices
                .remove(&self.device)
                .is_some_and(|s| s.open_until.is_some())
            {
                tracing::info!(device = %self.device, "device circuit closed");
            }
            return;
        }
        let state = devices.entry(self.device).or_default();
        state.failures = state.failures.saturating_add(1);
        state.trial_in_flight = false;
        if self.trial || state.failures >= breaker.threshold {
            let until = breaker.clock.now().saturating_add(breaker.cooldown);
            state.open_until = Some(until);
            tracing::warn!(
                device = %self.device,
                failures = state.failures,
                until = %rfc3339(until),
                "device circuit opened"
            );
        }
    }
}

impl Drop for Permit<'_> {
    /// A call abandoned before it finished (its future dropped) frees the
    /// half-open slot so the next call can be the trial.
    fn drop(&mut self) {
        if self.trial
            && !self.recorded
            && let Some(state) = self.breaker.devices().get_mut(&self.device)
        {
            state.trial_in_flight = false;
        }
    }
}

/// `at` in RFC 3339, as the open circuit's message carries it.
pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// Whether an outcome counts as a failure of the device.
pub(crate) fn counts_as_failure(result: &Result<serde_json::Value, DeviceError>) -> bool {
    matches!(
        result,
        Err(DeviceError::Unreachable(_) | DeviceError::Timeout | DeviceError::Server(..))
    )
}
