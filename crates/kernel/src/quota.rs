//! What a rate limit is and the arithmetic of it (GCRA), apart from any
//! store: the [`RateLimiter`](crate::RateLimiter) port speaks in these
//! types, and every adapter, in process or in a shared store, runs the
//! same step, so they decide alike.

use time::{Duration, OffsetDateTime};

/// Periods longer than this count as this long: the arithmetic then stays
/// far inside `i64` microseconds and the exact doubles of a Lua script.
pub(crate) const MAX_PERIOD_US: i64 = 10 * 366 * 24 * 60 * 60 * 1_000_000;

/// `limit` requests per `period`, e.g. 1000 per hour.
///
/// A quota with a `limit` of zero, or a `period` shorter than a
/// microsecond, refuses every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub period: Duration,
}

impl Quota {
    /// Time between requests at the steady rate (`period / limit`, whole
    /// microseconds, at least one); zero for a quota that refuses everything.
    pub fn emission_interval(self) -> Duration {
        self.gcra()
            .map_or(Duration::ZERO, |g| Duration::microseconds(g.interval_us))
    }

    /// The quota in the units adapters compute in; `None` if it refuses
    /// everything.
    pub fn gcra(self) -> Option<Gcra> {
        let period_us = i64::try_from(self.period.whole_microseconds())
            .unwrap_or(i64::MAX)
            .min(MAX_PERIOD_US);
        if self.limit == 0 || period_us < 1 {
            return None;
        }
        let interval_us = (period_us / i64::from(self.limit)).max(1);
        Some(Gcra {
            limit: self.limit,
            interval_us,
            window_us: interval_us * i64::from(self.limit),
            expiry_us: period_us.max(interval_us * i64::from(self.limit)),
        })
    }

    /// The answer for a quota that refuses everything ([`Quota::gcra`] is
    /// `None`): denied, and waiting does not help.
    pub fn refusal(self) -> Allowance {
        Allowance {
            allowed: false,
            limit: self.limit,
            remaining: 0,
            reset_after: Duration::ZERO,
            retry_after: None,
        }
    }
}

/// The answer to one check, with what the rate-limit headers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub allowed: bool,
    /// The quota's `limit`.
    pub limit: u32,
    /// Requests that would still be allowed right now, after this one.
    pub remaining: u32,
    /// How long until the key is back to its full budget.
    pub reset_after: Duration,
    /// For a refused check, how long until one request would be allowed;
    /// `None` when allowed, or when the quota refuses everything.
    pub retry_after: Option<Duration>,
}

/// A usable [`Quota`] in whole microseconds: the GCRA step every adapter
/// runs, here or (transcribed) in a store's script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    pub limit: u32,
    /// `T`: the emission interval.
    pub interval_us: i64,
    /// `limit × T`: how far ahead of `now` the TAT may go.
    pub window_us: i64,
    /// How long a stored TAT can matter: an adapter's store may forget a
    /// key this long after its last allowed check.
    pub expiry_us: i64,
}

impl Gcra {
    /// One step from the key's stored TAT (`None` if it has none): whether
    /// the request is allowed, and the TAT to keep (the new one if allowed,
    /// `max(TAT, now)` if not, which an adapter need not store).
    pub fn step(self, tat_us: Option<i64>, now_us: i64) -> (bool, i64) {
        let tat = tat_us.map_or(now_us, |t| t.max(now_us));
        let new_tat = tat.saturating_add(self.interval_us);
        if new_tat - now_us <= self.window_us {
            (true, new_tat)
        } else {
            (false, tat)
        }
    }

    /// The decision for a step that was `allowed` (or not) and left the
    /// key's TAT at `kept_us`, both as [`Gcra::step`] returns them.
    pub fn decision(self, allowed: bool, kept_us: i64, now_us: i64) -> Allowance {
        let ahead = kept_us.saturating_sub(now_us).max(0);
        let spare = (self.window_us - ahead).max(0);
        let remaining = u32::try_from(spare / self.interval_us)
            .unwrap_or(u32::MAX)
            .min(self.limit);
        Allowance {
            allowed,
            limit: self.limit,
            remaining,
            reset_after: Duration::microseconds(ahead),
            retry_after: (!allowed).then(|| {
                Duration::microseconds((ahead + self.interval_us - self.window_us).max(0))
            }),
        }
    }
}

/// `t` in whole microseconds since 1970, rounded down.
pub fn unix_micros(t: OffsetDateTime) -> i64 {
    let us = t.unix_timestamp_nanos().div_euclid(1_000);
    // Every `OffsetDateTime` is within ±10,000 years: far inside i64.
    i64::try_from(us).unwrap_or(if us < 0 { i64::MIN } else { i64::MAX })
}
