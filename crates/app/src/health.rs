//! Device health: a scheduled check per device, one at a time per device
//! (lock port), results kept in the cache port and shown in the device API.
//!
//! A check reads `system/resource`: CPU or memory above 75 % is a warning,
//! above 90 % critical, either makes the device `degraded`; no answer makes
//! it `unreachable`. The schedule adapts: the interval grows ×1.5 (up to
//! 5 minutes) after 10 healthy checks in a row, and an unreachable device is
//! retried after 60 s, then 120, 240, 480 and at most 960 s. Each next check
//! gets a random jitter so checks of many devices spread out.
//!
//! The [`Schedule`] is pure (time is passed in), so its arithmetic is tested
//! without sleeping; [`Health::spawn`] only ticks once a second and starts
//! the checks that are due, at most [`PARALLEL`] at a time. A check calls the
//! device through the tool runner with the device's stored credentials, as
//! the gateway itself: no user, so nothing is audited. Devices without
//! credentials are not scheduled; checking one on demand gives `unknown`.

use crate::state::AppState;
use kernel::{CachePort, Clock, DeviceId, Entropy, LockPort};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

/// How long a health result is kept.
pub const HEALTH_TTL: Duration = Duration::minutes(5);
/// Longest interval between checks of a healthy device.
pub const MAX_INTERVAL: Duration = Duration::seconds(300);
/// Longest back-off for an unreachable device.
pub const MAX_BACKOFF: Duration = Duration::seconds(960);
/// Healthy checks in a row before the interval grows.
pub const STREAK: u32 = 10;
/// How long one check may take before the device counts as unreachable.
/// The REST client retries each of the check's two requests, so without
/// this bound a dead device could hold its lock for over half a minute.
pub const PROBE_TIMEOUT: Duration = Duration::seconds(20);
/// How long a check holds its device's lock; longer than [`PROBE_TIMEOUT`]
/// so the lock never expires under a running check, and bounded so a
/// crashed checker does not keep it.
pub const LOCK_TTL: Duration = Duration::seconds(60);
/// Checks the background loop runs at the same time.
pub const PARALLEL: usize = 8;

/// A device's health.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Healthy,
    Degraded,
    Unreachable,
    #[default]
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Unreachable => "unreachable",
            Status::Unknown => "unknown",
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthRecord {
    pub status: Status,
    pub cpu_load_percent: Option<f64>,
    pub memory_used_percent: Option<f64>,
    /// `warning` or `critical` when a threshold is crossed.
    pub level: Option<String>,
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
    /// When the scheduler checks the device next; `None` for a device it
    /// does not track (no credentials, or not seen yet).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_check_at: Option<OffsetDateTime>,
}

/// Classifies CPU and memory use.
pub fn classify(cpu: f64, mem: f64) -> (Status, Option<&'static str>) {
    let worst = cpu.max(mem);
    if worst > 90.0 {
        (Status::Degraded, Some("critical"))
    } else if worst > 75.0 {
        (Status::Degraded, Some("warning"))
    } else {
        (Status::Healthy, None)
    }
}

/// When each device is next due: pure, so it is tested with a clock in hand.
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

/// Health checks and their results.
#[derive(Clone)]
pub struct Health {
    cache: Arc<dyn CachePort>,
    locks: Arc<dyn LockPort>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    schedule: Arc<Mutex<Schedule>>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Health")
    }
}

/// The cache key of a device's last result.
pub fn key(device: DeviceId) -> String {
    format!("health:{device}")
}

fn lock_key(device: DeviceId) -> String {
    format!("health-check:{device}")
}

impl Health {
    pub fn new(
        cache: Arc<dyn CachePort>,
        locks: Arc<dyn LockPort>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
        interval: Duration,
        jitter: Duration,
    ) -> Self {
        Self {
            cache,
            locks,
            clock,
            entropy,
            schedule: Arc::new(Mutex::new(Schedule::new(interval, jitter))),
        }
    }

    fn schedule(&self) -> std::sync::MutexGuard<'_, Schedule> {
        self.schedule.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The last known health of `device`, if checked in the last five minutes.
    pub async fn get(&self, device: DeviceId) -> Option<HealthRecord> {
        let v = self.cache.get(&key(device)).await.ok()??;
        serde_json::from_value(v).ok()
    }

    /// When the scheduler checks `device` next; `None` if it does not track it.
    pub fn next_check_at(&self, device: DeviceId) -> Option<OffsetDateTime> {
        self.schedule().next_due(device)
    }

    /// Checks `device` now and plans its next check, unless a check of it is
    /// already running: then this one waits for nothing and returns the
    /// cached result (`None` if there is none yet).
    pub async fn check_now(&self, state: &AppState, device: DeviceId) -> Option<HealthRecord> {
        let lock = lock_key(device);
        let token = match self.locks.try_lock(&lock, LOCK_TTL).await {
            Ok(Some(t)) => t,
            Ok(None) => return self.get(device).await,
            Err(e) => {
                tracing::warn!(%device, error = %e, "health check lock unavailable");
                return self.get(device).await;
            }
        };
        let probe = tokio::time::timeout(
            std::time::Duration::try_from(PROBE_TIMEOUT).unwrap_or_default(),
            self.probe(state, device),
        )
        .await
        .unwrap_or_else(|_| Probe {
            status: Status::Unreachable,
            error: Some(format!(
                "no answer within {} seconds",
                PROBE_TIMEOUT.whole_seconds()
            )),
            ..Probe::default()
        });
        let now = self.clock.now();
        let mut fraction = [0u8; 2];
        self.entropy.fill(&mut fraction);
        let fraction = f64::from(u16::from_le_bytes(fraction)) / 65_536.0;
        let next_check_at = {
            let mut schedule = self.schedule();
            schedule.record(device, probe.status, now, fraction);
            schedule.next_due(device)
        };
        let record = HealthRecord {
            status: probe.status,
            cpu_load_percent: probe.cpu,
            memory_used_percent: probe.mem,
            level: probe.level.map(str::to_owned),
            error: probe.error,
            checked_at: now,
            next_check_at,
        };
        if let Err(e) = self
            .cache
            .put(
                &key(device),
                serde_json::to_value(&record).unwrap_or_default(),
                HEALTH_TTL,
            )
            .await
        {
            tracing::warn!(%device, error = %e, "health result not cached");
        }
        if record.status == Status::Unreachable {
            tracing::info!(%device, error = record.error.as_deref().unwrap_or(""), "device unreachable");
        }
        let _ = self.locks.unlock(&lock, token).await;
        Some(record)
    }

    async fn probe(&self, state: &AppState, id: DeviceId) -> Probe {
        let unknown = |why: &str| Probe {
            status: Status::Unknown,
            error: Some(why.to_owned()),
            ..Probe::default()
        };
        let Ok(device) = state.tenancy.device(id).await else {
            return unknown("device not found");
        };
        let creds = match state.tenancy.credentials(id).await {
            Ok(Some(c)) => c,
            Ok(None) => return unknown("no stored credentials"),
            Err(_) => return unknown("credentials cannot be read"),
        };
        let target = crate::devices::target(&device, creds);
        let Some(tool) = tools::find("get_system_overview") else {
            return unknown("the system overview tool is missing");
        };
        match state
            .tools
            .run(tool, &device, &target, &tools::Args::default())
            .await
        {
            Ok(out) => {
                let cpu = out.data["cpu_load_percent"].as_f64().unwrap_or(0.0);
                let mem = out.data["memory_used_percent"].as_f64().unwrap_or(0.0);
                let (status, level) = classify(cpu, mem);
                Probe {
                    status,
                    cpu: Some(cpu),
                    mem: Some(mem),
                    level,
                    error: None,
                }
            }
            Err(e) => Probe {
                status: Status::Unreachable,
                error: Some(e.to_string()),
                ..Probe::default()
            },
        }
    }

    /// Brings the schedule up to date with the devices that exist and have
    /// credentials, in every tenant.
    pub async fn refresh_devices(&self, state: &AppState) {
        let mut all = Vec::new();
        let tenants = match state.tenancy.repo().tenants().await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "health: cannot list tenants");
                return;
            }
        };
        for t in tenants {
            match state.tenancy.repo().devices(t.id).await {
                Ok(devices) => all.extend(
                    devices
                        .into_iter()
                        .filter(|d| d.has_credentials)
                        .map(|d| d.id),
                ),
                // Leave the schedule as it is rather than drop this tenant's devices.
                Err(e) => {
                    tracing::warn!(tenant = %t.id, error = %e, "health: cannot list devices");
                    return;
                }
            }
        }
        self.schedule().track(&all, self.clock.now());
    }

    /// Runs the checks that are due, at most `parallel` at a time, and waits
    /// for them.
    pub async fn run_due(&self, state: &AppState, parallel: usize) {
        let due = self.schedule().claim_due(self.clock.now(), LOCK_TTL);
        let limit = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for d in due {
            tasks.spawn(self.clone().checked(state.clone(), d, limit.clone()));
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn checked(self, state: AppState, device: DeviceId, limit: Arc<tokio::sync::Semaphore>) {
        let Ok(_permit) = limit.acquire_owned().await else {
            return;
        };
        self.check_now(&state, device).await;
    }

    /// The background loop of `rosgate serve`: every second it starts the
    /// checks that are due without waiting for earlier ones (a dead device
    /// does not hold up the others), at most [`PARALLEL`] running at once;
    /// every 30 seconds it looks for new or removed devices.
    pub fn spawn(self, state: AppState) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let limit = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
            let mut tasks = tokio::task::JoinSet::new();
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n: u64 = 0;
            loop {
                tick.tick().await;
                while tasks.try_join_next().is_some() {}
                if n.is_multiple_of(30) {
                    self.refresh_devices(&state).await;
                }
                n = n.wrapping_add(1);
                let due = self.schedule().claim_due(self.clock.now(), LOCK_TTL);
                for d in due {
                    tasks.spawn(self.clone().checked(state.clone(), d, limit.clone()));
                }
            }
        })
    }
}

/// What one probe found.
#[derive(Debug, Default)]
struct Probe {
    status: Status,
    cpu: Option<f64>,
    mem: Option<f64>,
    level: Option<&'static str>,
    error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn t0() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(20_000)
    }

    fn dev(n: u128) -> DeviceId {
        DeviceId::from_uuid(Uuid::from_u128(n))
    }

    #[test]
    fn thresholds_are_75_and_90_percent() {
        assert_eq!(classify(20.0, 50.0), (Status::Healthy, None));
        assert_eq!(classify(80.0, 10.0), (Status::Degraded, Some("warning")));
        assert_eq!(classify(10.0, 95.0), (Status::Degraded, Some("critical")));
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

    #[test]
    fn records_survive_the_cache_as_json() {
        let r = HealthRecord {
            status: Status::Degraded,
            cpu_load_percent: Some(95.0),
            memory_used_percent: Some(40.5),
            level: Some("critical".into()),
            error: None,
            checked_at: t0(),
            next_check_at: Some(t0() + Duration::seconds(60)),
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["status"], "degraded");
        assert_eq!(serde_json::from_value::<HealthRecord>(v).unwrap(), r);
    }
}
