//! The health service: checks a device now, keeps the result in the cache
//! port, one check at a time per device (lock port), and plans the next
//! check in the [`Schedule`].
//!
//! A check calls the device through the tool runner with the device's
//! stored credentials, as the gateway itself: no user, so nothing is
//! audited. Devices without credentials are not scheduled; checking one on
//! demand gives `unknown`. The service holds its ports and nothing else;
//! a background loop in the app ticks it ([`Health::claim_due_checks`],
//! [`Health::refresh_devices`]).

use super::{HEALTH_TTL, HealthRecord, LOCK_TTL, PROBE_TIMEOUT, Schedule, Status, classify};
use crate::{Args, Runner};
use kernel::{CachePort, Clock, DeviceId, Entropy, LockPort};
use std::future::Future;
use std::sync::{Arc, Mutex};
use tenancy::TenancyService;
use time::OffsetDateTime;
use tokio::sync::Semaphore;

/// What the health service works through.
pub struct HealthPorts {
    /// Lists devices and opens their stored credentials.
    pub tenancy: TenancyService,
    /// Asks devices for their system overview.
    pub runner: Runner,
    /// Keeps each device's last result for [`HEALTH_TTL`].
    pub cache: Arc<dyn CachePort>,
    /// Lets one check of a device run at a time.
    pub locks: Arc<dyn LockPort>,
    pub clock: Arc<dyn Clock>,
    /// Picks each next check's jitter.
    pub entropy: Arc<dyn Entropy>,
}

impl std::fmt::Debug for HealthPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthPorts")
            .field("tenancy", &self.tenancy)
            .field("runner", &self.runner)
            .finish_non_exhaustive()
    }
}

/// Health checks and their results.
#[derive(Clone)]
pub struct Health {
    ports: Arc<HealthPorts>,
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
    /// The service over `ports`, planning checks with `schedule`.
    pub fn new(ports: HealthPorts, schedule: Schedule) -> Self {
        Self {
            ports: Arc::new(ports),
            schedule: Arc::new(Mutex::new(schedule)),
        }
    }

    fn schedule(&self) -> std::sync::MutexGuard<'_, Schedule> {
        self.schedule.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The last known health of `device`, if checked in the last five minutes.
    pub async fn get(&self, device: DeviceId) -> Option<HealthRecord> {
        let v = self.ports.cache.get(&key(device)).await.ok()??;
        serde_json::from_value(v).ok()
    }

    /// When the scheduler checks `device` next; `None` if it does not track it.
    pub fn next_check_at(&self, device: DeviceId) -> Option<OffsetDateTime> {
        self.schedule().next_due(device)
    }

    /// Checks `device` now and plans its next check, unless a check of it is
    /// already running: then this one waits for nothing and returns the
    /// cached result (`None` if there is none yet).
    pub async fn check_now(&self, device: DeviceId) -> Option<HealthRecord> {
        let lock = lock_key(device);
        let token = match self.ports.locks.try_lock(&lock, LOCK_TTL).await {
            Ok(Some(t)) => t,
            Ok(None) => return self.get(device).await,
            Err(e) => {
                tracing::warn!(%device, error = %e, "health check lock unavailable");
                return self.get(device).await;
            }
        };
        let probe = tokio::time::timeout(
            std::time::Duration::try_from(PROBE_TIMEOUT).unwrap_or_default(),
            self.probe(device),
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
        let now = self.ports.clock.now();
        let mut fraction = [0u8; 2];
        self.ports.entropy.fill(&mut fraction);
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
            .ports
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
        let _ = self.ports.locks.unlock(&lock, token).await;
        Some(record)
    }

    async fn probe(&self, id: DeviceId) -> Probe {
        let unknown = |why: &str| Probe {
            status: Status::Unknown,
            error: Some(why.to_owned()),
            ..Probe::default()
        };
        let tenancy = &self.ports.tenancy;
        let Ok(device) = tenancy.device(id).await else {
            return unknown("device not found");
        };
        let creds = match tenancy.credentials(id).await {
            Ok(Some(c)) => c,
            Ok(None) => return unknown("no stored credentials"),
            Err(_) => return unknown("credentials cannot be read"),
        };
        let target = crate::target::device_target(&device, creds);
        let Some(tool) = crate::find("get_system_overview") else {
            return unknown("the system overview tool is missing");
        };
        match self
            .ports
            .runner
            .run(tool, &device, &target, &Args::default())
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
    pub async fn refresh_devices(&self) {
        let repo = self.ports.tenancy.repo();
        let mut all = Vec::new();
        let tenants = match repo.tenants().await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "health: cannot list tenants");
                return;
            }
        };
        for t in tenants {
            match repo.devices(t.id).await {
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
        self.schedule().track(&all, self.ports.clock.now());
    }

    /// The checks that are due now, each marked as started in the schedule
    /// and waiting for a permit of `limit` before it reaches its device.
    /// The caller runs them, so a dead device holds up no other.
    pub fn claim_due_checks(
        &self,
        limit: &Arc<Semaphore>,
    ) -> Vec<impl Future<Output = ()> + Send + 'static> {
        let due = self.schedule().claim_due(self.ports.clock.now(), LOCK_TTL);
        due.into_iter()
            .map(|d| self.clone().checked(d, limit.clone()))
            .collect()
    }

    /// Runs the checks that are due, at most `parallel` at a time, and waits
    /// for them.
    pub async fn run_due(&self, parallel: usize) {
        let limit = Arc::new(Semaphore::new(parallel.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for check in self.claim_due_checks(&limit) {
            tasks.spawn(check);
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn checked(self, device: DeviceId, limit: Arc<Semaphore>) {
        let Ok(_permit) = limit.acquire_owned().await else {
            return;
        };
        self.check_now(device).await;
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
