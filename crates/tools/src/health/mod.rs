//! Device health: how loaded a device is, what that means, and the checks
//! that find out.
//!
//! A check reads `system/resource`: CPU or memory above 75 % is a warning,
//! above 90 % critical, either makes the device `degraded`; no answer makes
//! it `unreachable`. The same table ([`Level::THRESHOLDS`]) decides whether
//! a device passes the health check of a plan apply: it fails when its
//! load is critical.
//!
//! - [`schedule`]: when each device is checked next (adaptive interval,
//!   back-off, jitter), pure so it is tested with a clock in hand;
//! - [`service`]: the [`Health`] service over its ports (devices and
//!   credentials, the tool runner, cache, locks, clock, entropy).

pub mod load;
pub mod schedule;
pub mod service;

pub use load::{Level, Load};
pub use schedule::Schedule;
pub use service::{Health, HealthPorts};

use serde::{Deserialize, Serialize};
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
    let load = Load {
        cpu_percent: cpu,
        memory_percent: mem,
    };
    match load.level() {
        Some(level) => (Status::Degraded, Some(level.as_str())),
        None => (Status::Healthy, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn thresholds_are_75_and_90_percent() {
        assert_eq!(classify(20.0, 50.0), (Status::Healthy, None));
        assert_eq!(classify(80.0, 10.0), (Status::Degraded, Some("warning")));
        assert_eq!(classify(10.0, 95.0), (Status::Degraded, Some("critical")));
        assert_eq!(classify(90.0, 75.0), (Status::Degraded, Some("warning")));
        assert_eq!(Level::Critical.above(), 90.0);
        assert_eq!(Level::Warning.above(), 75.0);
    }

    #[test]
    fn load_is_read_from_a_system_resource_answer() {
        let r = json!({"cpu-load": "12", "total-memory": "1000000", "free-memory": "80000"});
        let load = Load::of_resource(&r);
        assert_eq!(load.cpu_percent, 12.0);
        assert!((load.memory_percent - 92.0).abs() < 1e-9, "{load:?}");
        assert_eq!(load.level(), Some(Level::Critical));
        assert_eq!(
            Load::of_resource(&json!({})),
            Load {
                cpu_percent: 0.0,
                memory_percent: 0.0
            },
            "what is missing counts as zero"
        );
    }

    #[test]
    fn records_survive_the_cache_as_json() {
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let r = HealthRecord {
            status: Status::Degraded,
            cpu_load_percent: Some(95.0),
            memory_used_percent: Some(40.5),
            level: Some("critical".into()),
            error: None,
            checked_at: t0,
            next_check_at: Some(t0 + Duration::seconds(60)),
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["status"], "degraded");
        assert_eq!(serde_json::from_value::<HealthRecord>(v).unwrap(), r);
    }
}
