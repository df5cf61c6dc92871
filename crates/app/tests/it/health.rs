//! Device health checks against simulated RouterOS devices: the scheduler
//! finds devices with credentials and checks them, the result shows in the
//! device API, busy routers are degraded, unreachable ones back off, and
//! the per-device lock lets only one check of a device run at a time.

use super::lab::{Lab, lab};
use kernel::Environment;
use rbac::BuiltinRole as R;
use reqwest::StatusCode;
use routeros_sim::Fault;
use std::time::Duration;
use tenancy::{Capabilities, Device};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tools::health::Status;

impl Lab {
    /// A lab device; with `credentials` false rosgate stores none, so the
    /// scheduler does not check it.
    async fn health_device(&self, name: &str, credentials: bool) -> Device {
        self.device_with(name, Environment::Lab, Capabilities::default(), credentials)
            .await
    }

    async fn reader(&self) -> String {
        self.user(R::ReadOnly).await
    }

    /// How many times the device was asked for `system/resource`.
    fn probes(&self, device: &str) -> usize {
        self.sim
            .requests(device)
            .into_iter()
            .filter(|q| q.path == "system/resource")
            .count()
    }

    fn set_resource(&self, device: &str, property: &str, value: &str) {
        self.sim.with_state(device, |s| {
            s.settings
                .get_mut("system/resource")
                .expect("the simulator has system/resource")
                .insert(property.into(), value.into());
        });
    }
}

fn at(v: &serde_json::Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().expect("a timestamp"), &Rfc3339).unwrap()
}

/// Seconds from the check to the next one the scheduler planned.
fn wait_of(h: &tools::health::HealthRecord) -> i64 {
    (h.next_check_at.expect("the device is scheduled") - h.checked_at).whole_seconds()
}

#[tokio::test]
async fn a_healthy_device_shows_healthy_in_the_device_api() {
    let lab = lab().await;
    let d = lab.health_device("r-ok", true).await;
    let bare = lab.health_device("r-bare", false).await;
    let token = lab.reader().await;
    let health = lab.app.state.health.clone();

    let r = lab
        .app
        .get(&token, &format!("/api/v1/devices/{}", d.id))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.get("health").is_none(),
        "not checked yet: {}",
        r.body
    );

    // The scheduler finds the device with credentials and checks it.
    health.refresh_devices().await;
    health.run_due(4).await;
    let r = lab
        .app
        .get(&token, &format!("/api/v1/devices/{}", d.id))
        .await;
    let h = &r.body["health"];
    assert_eq!(h["status"], "healthy", "{}", r.body);
    assert!(h["cpu_load_percent"].is_number(), "{h}");
    assert!(h["memory_used_percent"].is_number(), "{h}");
    assert!(h.get("error").is_none() && h.get("level").is_none(), "{h}");
    let wait = (at(&h["next_check_at"]) - at(&h["checked_at"])).whole_seconds();
    assert!(
        (60..70).contains(&wait),
        "base 60 s plus up to 10 s jitter: {wait}"
    );
    assert_eq!(lab.probes("r-ok"), 1);

    // The list shows it too; the device without credentials is not checked.
    let listed = lab.app.get(&token, "/api/v1/devices").await;
    let items = listed.body["items"].as_array().unwrap();
    let of = |id: kernel::DeviceId| {
        items
            .iter()
            .find(|i| i["id"] == id.to_string())
            .unwrap_or_else(|| panic!("{id} listed: {}", listed.body))
    };
    assert_eq!(of(d.id)["health"]["status"], "healthy");
    assert!(of(bare.id).get("health").is_none(), "{}", listed.body);
    assert_eq!(lab.probes("r-bare"), 0);
    assert_eq!(health.next_check_at(bare.id), None, "not scheduled");

    // Asked for anyway, it is `unknown`, and nothing reaches the router.
    let h = health.check_now(bare.id).await.unwrap();
    assert_eq!(h.status, Status::Unknown);
    assert_eq!(h.error.as_deref(), Some("no stored credentials"));
    assert_eq!(lab.probes("r-bare"), 0);

    // Nothing is due again before the planned time.
    health.run_due(4).await;
    assert_eq!(lab.probes("r-ok"), 1);
    lab.assert_no_violations();
}

#[tokio::test]
async fn an_unreachable_device_says_so_and_backs_off() {
    let lab = lab().await;
    let d = lab.health_device("r-gone", true).await;
    let token = lab.reader().await;
    let health = lab.app.state.health.clone();
    health.refresh_devices().await;

    lab.sim.set_fault("r-gone", Fault::Unreachable).await;
    let mut waits = Vec::new();
    for _ in 0..3 {
        let h = health.check_now(d.id).await.unwrap();
        assert_eq!(h.status, Status::Unreachable);
        assert!(
            h.error
                .as_deref()
                .unwrap_or_default()
                .contains("cannot be reached"),
            "{h:?}"
        );
        assert_eq!((h.cpu_load_percent, h.memory_used_percent), (None, None));
        waits.push(wait_of(&h));
    }
    // 60, 120, 240 s, each plus up to 10 s of jitter.
    for (wait, base) in waits.iter().zip([60, 120, 240]) {
        assert!((base..base + 10).contains(wait), "{waits:?}");
    }

    let r = lab
        .app
        .get(&token, &format!("/api/v1/devices/{}", d.id))
        .await;
    assert_eq!(r.body["health"]["status"], "unreachable", "{}", r.body);
    assert!(r.body["health"]["error"].is_string(), "{}", r.body);
    let next = at(&r.body["health"]["next_check_at"]);
    assert_eq!(Some(next), health.next_check_at(d.id));

    // Back again: healthy, and the back-off is forgotten.
    lab.sim.set_fault("r-gone", Fault::None).await;
    let h = health.check_now(d.id).await.unwrap();
    assert_eq!(h.status, Status::Healthy);
    assert!((60..70).contains(&wait_of(&h)), "{h:?}");
    lab.assert_no_violations();
}

#[tokio::test]
async fn concurrent_checks_of_one_device_reach_it_once() {
    let lab = lab().await;
    let d = lab.health_device("r-busy", true).await;
    let health = lab.app.state.health.clone();
    let first = health.check_now(d.id).await.unwrap();
    assert_eq!(first.status, Status::Healthy);

    // Each request now takes a second, so all eight overlap the first.
    lab.sim.clear_requests("r-busy");
    lab.sim
        .set_fault("r-busy", Fault::Slow(Duration::from_secs(1)))
        .await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let h = health.clone();
        tasks.push(tokio::spawn(async move { h.check_now(d.id).await }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap().expect("a result, fresh or cached"));
    }
    assert_eq!(lab.probes("r-busy"), 1, "the lock lets one check through");
    let fresh = results.iter().filter(|r| r.checked_at > first.checked_at);
    assert_eq!(fresh.count(), 1, "the others got the cached result");

    // The lock is released afterwards.
    lab.sim.set_fault("r-busy", Fault::None).await;
    health.check_now(d.id).await.unwrap();
    assert_eq!(lab.probes("r-busy"), 2);
    lab.assert_no_violations();
}

#[tokio::test]
async fn a_busy_router_is_degraded() {
    let lab = lab().await;
    let d = lab.health_device("r-hot", true).await;
    let token = lab.reader().await;
    let health = lab.app.state.health.clone();

    lab.set_resource("r-hot", "cpu-load", "95");
    let h = health.check_now(d.id).await.unwrap();
    assert_eq!(h.status, Status::Degraded);
    assert_eq!(h.level.as_deref(), Some("critical"));
    assert_eq!(h.cpu_load_percent, Some(95.0));
    let r = lab
        .app
        .get(&token, &format!("/api/v1/devices/{}", d.id))
        .await;
    assert_eq!(r.body["health"]["status"], "degraded", "{}", r.body);
    assert_eq!(r.body["health"]["level"], "critical", "{}", r.body);

    lab.set_resource("r-hot", "cpu-load", "80");
    let h = health.check_now(d.id).await.unwrap();
    assert_eq!(
        (h.status, h.level.as_deref()),
        (Status::Degraded, Some("warning"))
    );

    // Memory counts the same way: 92 % used.
    lab.set_resource("r-hot", "cpu-load", "5");
    lab.set_resource("r-hot", "total-memory", "1000000");
    lab.set_resource("r-hot", "free-memory", "80000");
    let h = health.check_now(d.id).await.unwrap();
    assert_eq!(
        (h.status, h.level.as_deref()),
        (Status::Degraded, Some("critical"))
    );
    assert_eq!(h.memory_used_percent, Some(92.0));

    lab.set_resource("r-hot", "free-memory", "900000");
    let h = health.check_now(d.id).await.unwrap();
    assert_eq!((h.status, h.level), (Status::Healthy, None));
    lab.assert_no_violations();
}
