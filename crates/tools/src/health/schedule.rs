//! When each device is next checked.
//!
//! The schedule adapts: the interval grows ×1.5 (up to 5 minutes) after
//! 10 healthy checks in a row, and an unreachable device is retried after
//! the base interval, then twice as long each time up to 960 s. Each next
//! check gets a random jitter so checks of many devices spread out. Time
//! and the jitter's randomness are passed in, so the arithmetic is tested
//! without sleeping.

use super::{MAX_BACKOFF, MAX_INTERVAL, STREAK, Status};
use kernel::DeviceId;
use std::collections::HashMap;
use time::{Duration, OffsetDateTime};

/// When each device is due: pure, so it is tested with a clock in hand.
#[derive(Debug, Clone)]
pub struct Schedule {
    base: Duration,
    jitter: Duration,
    entries: HashMap<DeviceId, Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    next_due: OffsetDateTime,
    interval: Duration,
    healthy_streak: u32,
    backoff: Option<Duration>,
}

impl Schedule {
    /// A schedule checking every `base`, plus up to `jitter`.
    pub fn new(base: Duration, jitter: Duration) -> Self {
        Self {
            base,
            jitter,
            entries: HashMap::new(),
        }
    }

    /// Keeps exactly `devices` in the schedule; new ones are due at once.
    pub fn track(&mut self, devices: &[DeviceId], now: OffsetDateTime) {
        self.entries.retain(|d, _| devices.contains(d));
        for d in devices {
            self.entries.entry(*d).or_insert(Entry {
                next_due: now,
                interval: self.base,
                healthy_streak: 0,
                backoff: None,
            });
        }
    }

    /// The devices due at `now`.
    pub fn due(&self, now: OffsetDateTime) -> Vec<DeviceId> {
        let mut due: Vec<_> = self
            .entries
            .iter()
            .filter(|(_, e)| e.next_due <= now)
            .map(|(d, _)| *d)
            .collect();
        due.sort();
        due
    }

    /// The devices due at `now`, each marked as started: it is not due
    /// again until `hold` has passed (or its result is recorded, whichever
    /// comes first), so a slow check is not started twice.
    pub fn claim_due(&mut self, now: OffsetDateTime, hold: Duration) -> Vec<DeviceId> {
        let due = self.due(now);
        for d in &due {
            if let Some(e) = self.entries.get_mut(d) {
                e.next_due = now + hold;
            }
        }
        due
    }

    /// When `device` is next due.
    pub fn next_due(&self, device: DeviceId) -> Option<OffsetDateTime> {
        self.entries.get(&device).map(|e| e.next_due)
    }

    /// Records a check's status and plans the next one; `jitter_fraction`
    /// in [0, 1) picks the jitter.
    pub fn record(
        &mut self,
        device: DeviceId,
        status: Status,
        now: OffsetDateTime,
        jitter_fraction: f64,
    ) {
        let base = self.base;
        let jitter = self.jitter * jitter_fraction.clamp(0.0, 1.0);
        let Some(e) = self.entries.get_mut(&device) else {
            return;
        };
        let wait = match status {
            Status::Unreachable => {
                e.healthy_streak = 0;
                let next = e
                    .backoff
                    .map_or(base, |b: Duration| (b * 2i32).min(MAX_BACKOFF));
                e.backoff = Some(next);
                next
            }
            Status::Healthy => {
                e.backoff = None;
                e.healthy_streak += 1;
                if e.healthy_streak >= STREAK {
                    e.healthy_streak = 0;
                    e.interval = (e.interval * 1.5f64).min(MAX_INTERVAL);
                }
                e.interval
            }
            Status::Degraded | Status::Unknown => {
                e.backoff = None;
                e.healthy_streak = 0;
                e.interval = base;
                base
            }
        };
        e.next_due = now + wait + jitter;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::LOCK_TTL;
    use uuid::Uuid;

    fn t0() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(20_000)
    }

    fn dev(n: u128) -> DeviceId {
        DeviceId::from_uuid(Uuid::from_u128(n))
    }

    #[test]
    fn unreachable_devices_back_off_to_sixteen_minutes() {
        let mut s = Schedule::new(Duration::seconds(60), Duration::ZERO);
        s.track(&[dev(1)], t0());
        assert_eq!(s.due(t0()), vec![dev(1)], "new devices are due at once");
        let mut now = t0();
        let mut waits = Vec::new();
        for _ in 0..7 {
            s.record(dev(1), Status::Unreachable, now, 0.0);
            let next = s.next_due(dev(1)).unwrap();
            waits.push((next - now).whole_seconds());
            now = next;
        }
        assert_eq!(waits, vec![60, 120, 240, 480, 960, 960, 960]);
        s.record(dev(1), Status::Healthy, now, 0.0);
        assert_eq!(
            (s.next_due(dev(1)).unwrap() - now).whole_seconds(),
            60,
            "recovery resets the back-off"
        );
    }

    #[test]
    fn steady_devices_are_checked_less_often_up_to_five_minutes() {
        let mut s = Schedule::new(Duration::seconds(60), Duration::ZERO);
        s.track(&[dev(1)], t0());
        let mut now = t0();
        let mut intervals = Vec::new();
        for _ in 0..60 {
            s.record(dev(1), Status::Healthy, now, 0.0);
            let next = s.next_due(dev(1)).unwrap();
            intervals.push((next - now).whole_seconds());
            now = next;
        }
        assert_eq!(intervals[8], 60);
        assert_eq!(intervals[9], 90, "after 10 healthy checks ×1.5");
        assert_eq!(intervals[19], 135);
        assert_eq!(*intervals.last().unwrap(), 300, "capped at five minutes");
        s.record(dev(1), Status::Degraded, now, 0.0);
        assert_eq!(
            (s.next_due(dev(1)).unwrap() - now).whole_seconds(),
            60,
            "trouble brings it back to the base"
        );
    }

    #[test]
    fn jitter_stays_within_its_bound_and_removed_devices_leave() {
        let mut s = Schedule::new(Duration::seconds(60), Duration::seconds(10));
        s.track(&[dev(1), dev(2)], t0());
        s.record(dev(1), Status::Healthy, t0(), 0.999);
        let wait = (s.next_due(dev(1)).unwrap() - t0()).as_seconds_f64();
        assert!((60.0..70.0).contains(&wait), "{wait}");
        s.track(&[dev(2)], t0());
        assert_eq!(s.next_due(dev(1)), None);
        assert_eq!(s.due(t0()), vec![dev(2)]);
    }

    #[test]
    fn a_claimed_device_is_not_due_again_until_its_result_or_the_hold() {
        let mut s = Schedule::new(Duration::seconds(60), Duration::ZERO);
        s.track(&[dev(1), dev(2)], t0());
        assert_eq!(s.claim_due(t0(), LOCK_TTL), vec![dev(1), dev(2)]);
        let later = t0() + Duration::seconds(5);
        assert!(s.due(later).is_empty(), "both checks are still running");
        s.record(dev(1), Status::Healthy, later, 0.0);
        assert_eq!(s.next_due(dev(1)), Some(later + Duration::seconds(60)));
        assert_eq!(
            s.due(t0() + LOCK_TTL),
            vec![dev(2)],
            "a check that never reported is started again after the hold"
        );
        s.track(&[dev(1), dev(2), dev(3)], later);
        assert_eq!(
            s.next_due(dev(1)),
            Some(later + Duration::seconds(60)),
            "tracking again keeps what is known"
        );
        assert_eq!(s.due(later), vec![dev(3)]);
    }
}
