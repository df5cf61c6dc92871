//! How loaded a device is: CPU and memory use read from `system/resource`,
//! and the one threshold table that health checks and plan applies share.
//! A leaf module, so plan applies can read it without reaching the health
//! service.

use serde_json::Value;

/// How far a device's load is above normal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Warning,
    Critical,
}

impl Level {
    /// The one threshold table, worst first: a load above the percentage
    /// is at that level. Health checks and plan applies both read it.
    pub const THRESHOLDS: [(Level, f64); 2] = [(Level::Critical, 90.0), (Level::Warning, 75.0)];

    /// The level of a load of `percent`; `None` below every threshold.
    pub fn of(percent: f64) -> Option<Level> {
        Self::THRESHOLDS
            .iter()
            .find(|(_, above)| percent > *above)
            .map(|(level, _)| *level)
    }

    /// The percentage a load must exceed to be at this level.
    pub fn above(self) -> f64 {
        Self::THRESHOLDS
            .iter()
            .find(|(level, _)| *level == self)
            .map_or(f64::INFINITY, |(_, above)| *above)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }
}

/// CPU and memory use of a device, in percent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    pub cpu_percent: f64,
    pub memory_percent: f64,
}

impl Load {
    /// The load a `system/resource` answer reports (RouterOS gives numbers
    /// as text); what is missing counts as zero.
    pub fn of_resource(resource: &Value) -> Load {
        let number = |key: &str| {
            resource
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .parse::<f64>()
                .unwrap_or(0.0)
        };
        let total = number("total-memory");
        let free = number("free-memory");
        Load {
            cpu_percent: number("cpu-load"),
            memory_percent: if total > 0.0 {
                (total - free) / total * 100.0
            } else {
                0.0
            },
        }
    }

    /// The level of the worse of CPU and memory.
    pub fn level(&self) -> Option<Level> {
        Level::of(self.cpu_percent.max(self.memory_percent))
    }
}
