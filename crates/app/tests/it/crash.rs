//! A crash between a device change and its outcome leaves the change on
//! the record: the `rosgate` binary is killed (SIGKILL) while a write is
//! in flight, and after a restart the intent it committed before touching
//! the device is settled by reading the device back: `success` when the
//! device shows the change, `failure` (`not_applied`) when it does not,
//! `unknown` (`outcome_unknown`) when the device cannot be read.

use crate::lab::lab_with;
use audit::{AuditEvent, RunResult};
use kernel::Environment;
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

/// A DNS write on a fresh lab device, cut off by killing the server while
/// the device holds it under `during`; the device is then switched to
/// `after` and the server restarted. Returns the intent and its outcome.
async fn crash_during_dns_write(
    during: Fault,
    after: Fault,
) -> (crate::lab::Lab, AuditEvent, AuditEvent) {
    let lab = lab_with(|_| {}).await;
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

    let url = format!(
        "http://{listen}/api/v1/devices/{}/tools/update_dns_servers",
        d.id
    );
    let write = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"dns_servers": ["192.0.2.53"]}))
                .send()
                .await
        }
    });
    let events = wait_for(&lab.app, lab.tenant, |es| {
        es.iter().any(|e| e.result == RunResult::Pending)
    })
    .await;
    let intent = events
        .iter()
        .find(|e| e.result == RunResult::Pending)
        .unwrap()
        .clone();
    assert_eq!(intent.tool_name.as_deref(), Some("update_dns_servers"));
    assert_eq!(intent.device_id, Some(d.id.uuid()));
    assert!(intent.args_digest.is_some());
    if matches!(during, Fault::LateWriteReply(_)) {
        // Killed only once the change has landed.
        for _ in 0..300 {
            if lab.sim.state("r-crash").setting_value("ip/dns", "servers") == Some("192.0.2.53") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    server.kill().await.unwrap();
    assert!(write.await.unwrap().is_err(), "the reply never came");
    lab.sim.set_fault("r-crash", after).await;

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
    (lab, intent, outcome)
}

#[tokio::test]
async fn a_write_that_landed_before_a_crash_is_settled_as_applied_by_reading_the_device() {
    let (_lab, _intent, outcome) =
        crash_during_dns_write(Fault::LateWriteReply(Duration::from_secs(60)), Fault::None).await;
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
    let (lab, _intent, outcome) =
        crash_during_dns_write(Fault::Slow(Duration::from_secs(60)), Fault::None).await;
    assert_ne!(
        lab.sim.state("r-crash").setting_value("ip/dns", "servers"),
        Some("192.0.2.53")
    );
    assert_eq!(outcome.result, RunResult::Failure);
    assert_eq!(outcome.error_class.as_deref(), Some("not_applied"));
}

#[tokio::test]
async fn a_write_cut_off_by_a_crash_is_recorded_as_unknown_when_the_device_cannot_be_read() {
    let (_lab, _intent, outcome) =
        crash_during_dns_write(Fault::Slow(Duration::from_secs(60)), Fault::Unreachable).await;
    assert_eq!(outcome.result, RunResult::Unknown);
    assert_eq!(outcome.error_class.as_deref(), Some("outcome_unknown"));
    assert!(
        outcome.reason.contains("could not be read back"),
        "{}",
        outcome.reason
    );
}

#[tokio::test]
async fn a_plans_change_is_read_back_by_its_tag_and_never_while_its_rollback_is_armed() {
    use audit::intents::{Finding, IntendedChange, ReadBack};
    use tools::plan::Change;
    use tools::readback::Intended;
    let lab = lab_with(|_| {}).await;
    let d = lab
        .device("r-plan", Environment::Lab, Capabilities::default())
        .await;
    let plan_id = uuid::Uuid::now_v7();
    let tag = tools::apply::plan_tag(plan_id);
    let read_back = rosgate::devices::DeviceReadBack {
        tenancy: &lab.app.state.tenancy,
        tools: &lab.app.state.tools,
    };
    let kept = |change: Change| IntendedChange {
        intent_id: kernel::AuditEventId::from_uuid(uuid::Uuid::now_v7()),
        at: time::OffsetDateTime::UNIX_EPOCH,
        tenant_id: Some(lab.tenant),
        device_id: d.id.uuid(),
        change: Intended::Plan { plan_id, change }.to_json(),
    };
    let rule = kept(Change::AddFirewallRule {
        chain: "input".into(),
        action: "drop".into(),
        src_address: Some("198.51.100.7".into()),
        dst_address: None,
        protocol: None,
        dst_port: None,
        comment: None,
    });
    assert!(matches!(
        read_back.read_back(&rule).await,
        Finding::NotApplied(_)
    ));

    let added = |menu: &'static str, pairs: Vec<(&'static str, String)>| {
        lab.sim.with_state("r-plan", |s| {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.table_mut(menu)
                .unwrap()
                .insert(routeros_sim::item(&pairs))
        })
    };
    added(
        "ip/firewall/filter",
        vec![
            ("chain", "input".into()),
            ("action", "drop".into()),
            ("comment", format!("{tag} ")),
        ],
    );
    assert!(matches!(
        read_back.read_back(&rule).await,
        Finding::Applied(_)
    ));

    // While the router-side rollback is armed, the change may yet be undone.
    let armed = added(
        "system/scheduler",
        vec![("name", format!("{tag}-{}", d.id.uuid().simple()))],
    );
    match read_back.read_back(&rule).await {
        Finding::Unreadable(why) => assert!(why.contains("rollback"), "{why}"),
        other => panic!("read back {other:?} while a rollback is armed"),
    }
    lab.sim.with_state("r-plan", |s| {
        s.table_mut("system/scheduler").unwrap().remove(&armed)
    });

    // Servers are compared with the planned list; a device that cannot be
    // reached reads as nothing.
    let dns = kept(Change::DnsNtp {
        dns_servers: Some(vec!["192.0.2.1".into()]),
        ntp_servers: None,
    });
    assert!(matches!(
        read_back.read_back(&dns).await,
        Finding::NotApplied(_)
    ));
    lab.sim.set_fault("r-plan", Fault::Unreachable).await;
    assert!(matches!(
        read_back.read_back(&dns).await,
        Finding::Unreadable(_)
    ));
}
