//! A crash between a device change and its outcome leaves the change on
//! the record: the `rosgate` binary is killed (SIGKILL) while a write is
//! in flight, and after a restart the intent it committed before touching
//! the device is settled by reading the device back: `success` when the
//! device shows the change, `failure` (`not_applied`) when it does not,
//! `unknown` (`outcome_unknown`) when the device cannot be read.

use crate::lab::lab_with;
use audit::{AuditEvent, RunResult};
use kernel::{Clock, Environment};
use rbac::BuiltinRole as R;
use routeros_sim::Fault;
use serde_json::json;
use std::process::Stdio;
use std::time::Duration;
use tenancy::Capabilities;
use tokio::process::{Child, Command};

/// Starts the real binary on `listen`, sharing the test app's database and
/// keys; intents settle at start without a grace period.
fn rosgate(config: &rosgate::Config, listen: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_rosgate"))
        .arg("serve")
        .env("ROSGATE_DATABASE_URL", &config.database_url)
        .env("ROSGATE_KEY_FILE", &config.key_file)
        .env("ROSGATE_LISTEN", listen)
        .env("ROSGATE_PUBLIC_URL", format!("http://{listen}"))
        .env("ROSGATE_DEVICES__ALLOW_PRIVATE_HOSTS", "true")
        .env("ROSGATE_AUDIT__INTENT_GRACE_SECONDS", "0")
        .env(
            "ROSGATE_AUDIT__CHECKPOINT_FILE",
            format!("{}.bin-checkpoints", config.key_file),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the rosgate binary starts")
}

/// Polls until `found` holds for the tenant's events (bounded: about 30 s).
async fn wait_for(
    app: &testkit::TestApp,
    tenant: kernel::TenantId,
    found: impl Fn(&[AuditEvent]) -> bool,
) -> Vec<AuditEvent> {
    for _ in 0..300 {
        let events = app.state.db.audit_events(tenant).await.unwrap();
        if found(&events) {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the expected events never appeared");
}

async fn up(client: &reqwest::Client, listen: &str) {
    for _ in 0..300 {
        if client
            .get(format!("http://{listen}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("rosgate did not come up on {listen}");
}

/// A write (`tool` with `input`) on a fresh lab device of a lab on
/// `clock`, cut off by killing the server while the device holds it under
/// `during`; `landed` says when the change has reached the device, for
/// faults that let it land. Returns the lab and the open intent.
async fn crash_during_write(
    tool: &str,
    input: serde_json::Value,
    during: Fault,
    clock: std::sync::Arc<dyn kernel::Clock>,
    landed: impl Fn(&routeros_sim::DeviceState) -> bool,
) -> (crate::lab::Lab, AuditEvent) {
    let lab = crate::lab::lab_clocked(|_| {}, clock).await;
    let d = lab
        .device(
            "r-crash",
            Environment::Lab,
            Capabilities {
                allow_advanced_writes: true,
                ..Capabilities::default()
            },
        )
        .await;
    let token = lab.user(R::OpsRw).await;
    lab.sim.set_fault("r-crash", during).await;
    let listen = {
        let (l, _) = testkit::reserve().await;
        l.local_addr().unwrap().to_string()
    };
    let mut server = rosgate(&lab.app.config, &listen);
    let client = reqwest::Client::new();
    up(&client, &listen).await;

    let write = tokio::spawn(
        client
            .post(format!(
                "http://{listen}/api/v1/devices/{}/tools/{tool}",
                d.id
            ))
            .bearer_auth(token)
            .json(&input)
            .send(),
    );
    let events = wait_for(&lab.app, lab.tenant, |es| {
        es.iter().any(|e| e.result == RunResult::Pending)
    })
    .await;
    let intent = events
        .into_iter()
        .find(|e| e.result == RunResult::Pending)
        .unwrap();
    assert_eq!(intent.tool_name.as_deref(), Some(tool));
    assert_eq!(intent.device_id, Some(d.id.uuid()));
    assert!(intent.args_digest.is_some());
    for _ in 0..300 {
        if landed(&lab.sim.state("r-crash")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    server.kill().await.unwrap();
    assert!(write.await.unwrap().is_err(), "the reply never came");
    (lab, intent)
}

/// [`crash_during_write`] of `update_dns_servers` to 192.0.2.53.
async fn crash_during_dns_write(
    during: Fault,
    clock: std::sync::Arc<dyn kernel::Clock>,
) -> (crate::lab::Lab, AuditEvent) {
    let lands = matches!(during, Fault::LateWriteReply(_));
    crash_during_write(
        "update_dns_servers",
        json!({"dns_servers": ["192.0.2.53"]}),
        during,
        clock,
        move |s| !lands || s.setting_value("ip/dns", "servers") == Some("192.0.2.53"),
    )
    .await
}

/// Switches the crashed device to `after`, restarts the server and returns
/// the outcome it settles the intent with.
async fn restart_and_settle(
    lab: &crate::lab::Lab,
    intent: &AuditEvent,
    after: Fault,
) -> AuditEvent {
    lab.sim.set_fault("r-crash", after).await;
    let listen = {
        let (l, _) = testkit::reserve().await;
        l.local_addr().unwrap().to_string()
    };
    let client = reqwest::Client::new();
    let mut again = rosgate(&lab.app.config, &listen);
    up(&client, &listen).await;
    let events = wait_for(&lab.app, lab.tenant, |es| {
        es.iter().any(|e| e.intent_id == Some(intent.id))
    })
    .await;
    let outcome = events
        .iter()
        .find(|e| e.intent_id == Some(intent.id))
        .unwrap()
        .clone();
    assert_eq!(outcome.device_id, intent.device_id);
    assert_eq!(outcome.user_id, intent.user_id);
    assert_eq!(
        events
            .iter()
            .filter(|e| e.intent_id == Some(intent.id))
            .count(),
        1,
        "one outcome per intent"
    );
    again.kill().await.unwrap();
    outcome
}

/// A crash during a DNS write, then a restart with the device under `after`.
async fn crash_and_restart(during: Fault, after: Fault) -> (crate::lab::Lab, AuditEvent) {
    let (lab, intent) =
        crash_during_dns_write(during, std::sync::Arc::new(kernel::SystemClock)).await;
    let outcome = restart_and_settle(&lab, &intent, after).await;
    (lab, outcome)
}

#[tokio::test]
async fn a_write_that_landed_before_a_crash_is_settled_as_applied_by_reading_the_device() {
    let (_lab, outcome) =
        crash_and_restart(Fault::LateWriteReply(Duration::from_secs(60)), Fault::None).await;
    assert_eq!(outcome.result, RunResult::Success);
    assert_eq!(outcome.error_class, None);
    assert!(
        outcome.reason.contains("settled by reading the device")
            && outcome.reason.contains("192.0.2.53"),
        "{}",
        outcome.reason
    );
}

#[tokio::test]
async fn a_write_cut_off_before_it_reached_the_device_is_settled_as_not_applied() {
    let (lab, outcome) = crash_and_restart(Fault::Slow(Duration::from_secs(60)), Fault::None).await;
    assert_ne!(
        lab.sim.state("r-crash").setting_value("ip/dns", "servers"),
        Some("192.0.2.53")
    );
    assert_eq!(outcome.result, RunResult::Failure);
    assert_eq!(outcome.error_class.as_deref(), Some("not_applied"));
}

#[tokio::test]
async fn a_device_that_stays_silent_after_a_crash_is_asked_again_and_after_a_day_settled_as_unknown()
 {
    let clock = std::sync::Arc::new(kernel::ManualClock::new(kernel::SystemClock.now()));
    let (lab, intent) =
        crash_during_dns_write(Fault::Slow(Duration::from_secs(60)), clock.clone()).await;
    lab.sim.set_fault("r-crash", Fault::Unreachable).await;
    let concluded = |events: &[AuditEvent]| events.iter().any(|e| e.intent_id == Some(intent.id));

    let settler = rosgate::wiring::intent_settler(&lab.app.state);
    clock.set(intent.at + time::Duration::minutes(5));
    assert_eq!(settler.settle_intents(time::Duration::ZERO).await, 0);
    let events = lab.app.state.db.audit_events(lab.tenant).await.unwrap();
    assert!(
        !concluded(&events),
        "the intent stays open while the device is silent"
    );

    clock.set(intent.at + audit::intents::READ_BACK_PATIENCE + time::Duration::minutes(5));
    assert_eq!(settler.settle_intents(time::Duration::ZERO).await, 1);
    let events = lab.app.state.db.audit_events(lab.tenant).await.unwrap();
    let outcome = events
        .iter()
        .find(|e| e.intent_id == Some(intent.id))
        .unwrap();
    assert_eq!(outcome.result, RunResult::Unknown);
    assert_eq!(outcome.error_class.as_deref(), Some("outcome_unknown"));
    assert!(
        outcome.reason.contains("could not be read back"),
        "{}",
        outcome.reason
    );
}

#[tokio::test]
async fn a_change_that_leaves_nothing_to_read_is_settled_as_unknown_after_a_crash() {
    let (lab, intent) = crash_during_write(
        "flush_dns_cache",
        json!({}),
        Fault::Slow(Duration::from_secs(60)),
        std::sync::Arc::new(kernel::SystemClock),
        |_| true,
    )
    .await;
    let outcome = restart_and_settle(&lab, &intent, Fault::None).await;
    assert_eq!(outcome.result, RunResult::Unknown);
    assert_eq!(outcome.error_class.as_deref(), Some("outcome_unknown"));
    assert!(
        outcome.reason.contains("nothing to read back"),
        "{}",
        outcome.reason
    );
}

/// A lab with one device that takes routing plans, and an admin's token.
async fn routing_lab(name: &str) -> (crate::lab::Lab, tenancy::Device, String) {
    let lab = lab_with(|_| {}).await;
    let d = lab
        .device(
            name,
            Environment::Lab,
            Capabilities {
                allow_advanced_writes: true,
                allow_professional_workflows: true,
                allow_routing_writes: true,
                ..Capabilities::default()
            },
        )
        .await;
    let admin = lab.user(R::Admin).await;
    (lab, d, admin)
}

/// The read-back the settler uses, over the lab's server.
fn read_back(lab: &crate::lab::Lab) -> tools::settle::DeviceReadBack<'_> {
    tools::settle::DeviceReadBack {
        tenancy: &lab.app.state.tenancy,
        tools: &lab.app.state.tools,
    }
}

/// Applies a routing plan on `device` and returns the plan id, the
/// device's intent and the change kept beside it.
async fn applied_plan(
    lab: &crate::lab::Lab,
    admin: &str,
    tool: &str,
    input: serde_json::Value,
    device: kernel::DeviceId,
) -> (uuid::Uuid, AuditEvent, audit::intents::IntendedChange) {
    use audit::IntendedChanges;
    let r = lab
        .app
        .post(admin, &format!("/api/v1/tools/{tool}"), input)
        .await;
    assert_eq!(r.status, reqwest::StatusCode::OK, "{}", r.body);
    let plan = r.body["data"]["plan_id"].as_str().unwrap().to_owned();
    let token = r.body["data"]["confirmation_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = lab
        .app
        .post(
            admin,
            "/api/v1/tools/apply_routing_plan",
            json!({"plan_id": plan, "confirmation_token": token}),
        )
        .await;
    assert_eq!(r.body["data"]["status"], "completed", "{}", r.body);
    let plan = uuid::Uuid::parse_str(&plan).unwrap();
    let intent = lab
        .app
        .state
        .db
        .audit_events(lab.tenant)
        .await
        .unwrap()
        .into_iter()
        .find(|e| {
            e.result == RunResult::Pending
                && e.approval_request_id == Some(plan)
                && e.device_id == Some(device.uuid())
        })
        .unwrap();
    let kept = lab
        .app
        .state
        .db
        .find(intent.id)
        .await
        .unwrap()
        .expect("the change is kept");
    (plan, intent, kept)
}

#[tokio::test]
async fn a_plans_change_is_read_back_by_its_tag_and_never_while_its_rollback_is_armed() {
    use audit::ReadBack;
    use audit::intents::Finding;
    let (lab, d, admin) = routing_lab("r-plan").await;
    let (plan, intent, kept) = applied_plan(
        &lab,
        &admin,
        "plan_add_static_route",
        json!({"device_ids": [d.id], "dst_address": "172.16.61.0/24", "gateway": "10.0.1.1"}),
        d.id,
    )
    .await;
    let read_back = read_back(&lab);
    assert!(matches!(
        read_back.read_back(&intent, &kept).await,
        Finding::Applied(_)
    ));

    // A kept change is trusted only as far as the chained intent vouches
    // for it: another plan's intent does not match it.
    let mut other = intent.clone();
    other.approval_request_id = Some(uuid::Uuid::now_v7());
    assert!(matches!(
        read_back.read_back(&other, &kept).await,
        Finding::Unreadable(_)
    ));

    // While the router-side rollback is armed, the change may yet be
    // undone: read again later.
    let tag = tools::plan::plan_tag(plan);
    let armed = lab.sim.with_state("r-plan", |s| {
        let name = format!("{tag}-{}", d.id.uuid().simple());
        s.table_mut("system/scheduler")
            .unwrap()
            .insert(routeros_sim::item(&[("name", name.as_str())]))
    });
    match read_back.read_back(&intent, &kept).await {
        Finding::Unavailable(why) => assert!(why.contains("rollback"), "{why}"),
        other => panic!("read back {other:?} while a rollback is armed"),
    }
    // Once it has fired, the route is gone and the change is not in place.
    lab.sim.with_state("r-plan", |s| {
        s.table_mut("system/scheduler").unwrap().remove(&armed);
        let routes = s.table_mut("ip/route").unwrap();
        let id = routes.find("dst-address", "172.16.61.0/24").unwrap()[".id"].clone();
        routes.remove(&id);
    });
    assert!(matches!(
        read_back.read_back(&intent, &kept).await,
        Finding::NotApplied(_)
    ));

    // A device that cannot be reached is asked again later.
    lab.sim.set_fault("r-plan", Fault::Unreachable).await;
    assert!(matches!(
        read_back.read_back(&intent, &kept).await,
        Finding::Unavailable(_)
    ));
}

#[tokio::test]
async fn a_removal_put_back_by_the_routers_rollback_reads_back_as_not_applied() {
    use audit::ReadBack;
    use audit::intents::Finding;
    let (lab, d, admin) = routing_lab("r-undo").await;
    let route = lab.sim.with_state("r-undo", |s| {
        s.table_mut("ip/route")
            .unwrap()
            .insert(routeros_sim::item(&[
                ("dst-address", "172.16.62.0/24"),
                ("gateway", "10.0.1.1"),
                ("comment", "core"),
            ]))
    });
    let (plan, intent, kept) = applied_plan(
        &lab,
        &admin,
        "plan_remove_static_route",
        json!({"device_ids": [d.id], "route_id": route}),
        d.id,
    )
    .await;
    let read_back = read_back(&lab);
    assert!(matches!(
        read_back.read_back(&intent, &kept).await,
        Finding::Applied(_)
    ));

    // The router-side rollback would put the route back under a new id,
    // tagged with the plan.
    let tag = tools::plan::plan_tag(plan);
    let script = lab
        .sim
        .requests("r-undo")
        .into_iter()
        .find(|q| q.path == "system/scheduler")
        .unwrap()
        .body
        .unwrap()["on-event"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        script.contains(&format!("comment=\"{tag} core\"")),
        "{script}"
    );
    lab.sim.with_state("r-undo", |s| {
        s.table_mut("ip/route")
            .unwrap()
            .insert(routeros_sim::item(&[
                ("dst-address", "172.16.62.0/24"),
                ("gateway", "10.0.1.1"),
                ("comment", &format!("{tag} core")),
            ]))
    });
    assert!(matches!(
        read_back.read_back(&intent, &kept).await,
        Finding::NotApplied(_)
    ));
}
