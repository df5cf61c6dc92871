//! A crash between a device change and its outcome leaves the change on
//! the record: the `rosgate` binary is killed (SIGKILL) while a write is
//! in flight, and after a restart the intent it committed before touching
//! the device is settled as of unknown outcome.

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

#[tokio::test]
async fn a_write_cut_off_by_a_crash_is_recorded_as_unknown_after_restart() {
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
    // The router hangs: the write is in flight when the process dies.
    lab.sim
        .set_fault("r-crash", Fault::Slow(Duration::from_secs(60)))
        .await;
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
        let token = token.clone();
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

    server.kill().await.unwrap();
    assert!(write.await.unwrap().is_err(), "the reply never came");

    let mut again = rosgate(&lab.app.config, &listen);
    up(&client, &listen).await;
    let events = wait_for(&lab.app, lab.tenant, |es| {
        es.iter().any(|e| e.intent_id == Some(intent.id))
    })
    .await;
    let outcome = events
        .iter()
        .find(|e| e.intent_id == Some(intent.id))
        .unwrap();
    assert_eq!(outcome.result, RunResult::Unknown);
    assert_eq!(outcome.error_class.as_deref(), Some("outcome_unknown"));
    assert_eq!(outcome.device_id, intent.device_id);
    assert_eq!(outcome.user_id, intent.user_id);
    again.kill().await.unwrap();
}
