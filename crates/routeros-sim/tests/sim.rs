#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The simulator over real HTTP, as rosgate's RouterOS adapter meets it.

use std::sync::OnceLock;
use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use routeros_sim::{Fault, Schema, SimDevice, Simulator};
use serde_json::{Value, json};

/// The 7.24 schema when the shared data is next to the workspace.
fn schema() -> Option<Schema> {
    static SCHEMA: OnceLock<Option<Schema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| Schema::find().map(|path| Schema::load(path).expect("the schema parses")))
        .clone()
}

struct Rig {
    sim: Simulator,
    device: SimDevice,
    http: Client,
}

impl Rig {
    async fn new() -> Rig {
        let sim = Simulator::start(schema());
        let device = sim.add_device("r1", "admin", "s3cret").await.unwrap();
        Rig {
            sim,
            device,
            http: Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.device.base_url())
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .basic_auth(&self.device.username, Some(&self.device.password));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, value)
    }

    /// Every request so far was one RouterOS 7.24 accepts.
    fn assert_no_violations(&self) {
        let violations = self.sim.violations();
        assert!(violations.is_empty(), "{violations:#?}");
    }
}

#[tokio::test]
async fn requests_need_the_devices_credentials() {
    let rig = Rig::new().await;
    let url = rig.url("system/resource");
    let anonymous = rig.http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"], 401);
    let wrong = rig
        .http
        .get(&url)
        .basic_auth("admin", Some("guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let (status, resource) = rig.call(Method::GET, "system/resource", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(resource["version"], "7.24 (stable)");
    assert_eq!(resource["cpu-count"], "4", "numbers are strings");
    let (_, identity) = rig.call(Method::GET, "system/identity", None).await;
    assert_eq!(identity, json!({"name": "r1"}));
    assert_eq!(
        rig.sim.requests("r1").len(),
        4,
        "failed logins are recorded too"
    );
    rig.assert_no_violations();
}

#[tokio::test]
async fn ip_addresses_are_created_changed_and_removed_by_id() {
    let rig = Rig::new().await;
    let (status, created) = rig
        .call(
            Method::PUT,
            "ip/address",
            Some(json!({"address": "10.77.0.1/24", "interface": "ether3", "comment": "lab"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created[".id"].as_str().unwrap().to_owned();
    assert_eq!(id, "*3");
    assert_eq!(created["network"], "10.77.0.0");
    assert_eq!(created["disabled"], "false");

    let (_, listed) = rig
        .call(Method::GET, "ip/address?interface=ether3", None)
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0][".id"], id.as_str());

    let path = format!("ip/address/{id}");
    let (status, changed) = rig
        .call(
            Method::PATCH,
            &path,
            Some(json!({"comment": "lab uplink", "disabled": "yes"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(changed["comment"], "lab uplink");
    assert_eq!(
        changed["disabled"], "true",
        "yes/no reads back as true/false"
    );
    let (_, read_back) = rig.call(Method::GET, &path, None).await;
    assert_eq!(read_back, changed);

    let (status, duplicate) = rig
        .call(
            Method::PUT,
            "ip/address",
            Some(json!({"address": "10.77.0.1/24", "interface": "ether3"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(duplicate["detail"], "failure: already have such address");

    let (status, body) = rig.call(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    let (status, missing) = rig.call(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["error"], 404);
    assert_eq!(missing["message"], "Not Found");

    let writes: Vec<String> = rig
        .sim
        .requests("r1")
        .into_iter()
        .filter(|r| r.method == Method::PATCH || r.method == Method::DELETE)
        .map(|r| r.path)
        .collect();
    assert_eq!(writes, [path.clone(), path]);
    assert!(rig.sim.state("r1").item("ip/address", &id).is_none());
    rig.assert_no_violations();
}

#[tokio::test]
async fn single_settings_are_patched_without_an_id() {
    let rig = Rig::new().await;
    let (status, identity) = rig
        .call(
            Method::PATCH,
            "system/identity",
            Some(json!({"name": "core-1"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(identity["name"], "core-1");

    let (_, dns) = rig
        .call(
            Method::PATCH,
            "ip/dns",
            Some(json!({"servers": "9.9.9.9,1.0.0.1"})),
        )
        .await;
    assert_eq!(dns["servers"], "9.9.9.9,1.0.0.1");
    assert_eq!(dns["allow-remote-requests"], "true");

    let (_, ntp) = rig
        .call(
            Method::PATCH,
            "system/ntp/client",
            Some(json!({"servers": "time.example", "enabled": "no"})),
        )
        .await;
    assert_eq!(ntp["enabled"], "false");
    let state = rig.sim.state("r1");
    assert_eq!(
        state.setting_value("system/identity", "name"),
        Some("core-1")
    );
    assert_eq!(
        state.setting_value("system/ntp/client", "servers"),
        Some("time.example")
    );

    let (status, _) = rig
        .call(Method::PATCH, "ip/address", Some(json!({"comment": "x"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a list needs an item id");
}

#[tokio::test]
async fn commands_run_with_post() {
    let rig = Rig::new().await;
    let (status, replies) = rig
        .call(
            Method::POST,
            "tool/ping",
            Some(json!({"address": "1.1.1.1", "count": "3", "interval": "1s", "size": "64"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let replies = replies.as_array().unwrap();
    assert_eq!(replies.len(), 3);
    for key in [
        "seq",
        "host",
        "size",
        "ttl",
        "time",
        "sent",
        "received",
        "packet-loss",
    ] {
        assert!(
            replies[2][key].is_string(),
            "{key} missing from {:?}",
            replies[2]
        );
    }
    assert_eq!(replies[2]["packet-loss"], "0");
    let (_, lost) = rig
        .call(
            Method::POST,
            "tool/ping",
            Some(json!({"address": "192.0.2.1", "count": 2})),
        )
        .await;
    assert_eq!(lost[1]["packet-loss"], "100");

    let (_, hops) = rig
        .call(
            Method::POST,
            "tool/traceroute",
            Some(json!({"address": "8.8.8.8", "count": "1", "max-hops": "10"})),
        )
        .await;
    assert_eq!(
        hops.as_array().unwrap().last().unwrap()["address"],
        "8.8.8.8"
    );

    let (_, traffic) = rig
        .call(
            Method::POST,
            "interface/monitor-traffic",
            Some(json!({"interface": "ether1", "once": "true"})),
        )
        .await;
    assert_eq!(traffic[0]["name"], "ether1");
    assert!(traffic[0]["rx-bits-per-second"].is_string());

    let (_, cache) = rig.call(Method::GET, "ip/dns/cache", None).await;
    assert!(!cache.as_array().unwrap().is_empty());
    let (status, _) = rig
        .call(Method::POST, "ip/dns/cache/flush", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, cache) = rig.call(Method::GET, "ip/dns/cache", None).await;
    assert_eq!(cache, json!([]));
    rig.assert_no_violations();
}

#[tokio::test]
async fn reads_filter_and_project_like_routeros() {
    let rig = Rig::new().await;
    let (_, ether1) = rig
        .call(
            Method::GET,
            "interface?name=ether1&.proplist=.id,name,running",
            None,
        )
        .await;
    assert_eq!(
        ether1,
        json!([{".id": "*1", "name": "ether1", "running": "true"}])
    );
    let (_, by_name) = rig.call(Method::GET, "interface/ether2", None).await;
    assert_eq!(by_name[".id"], "*2");
    let (status, wireless) = rig.call(Method::GET, "interface/wireless", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{wireless}");
    for path in [
        "system/package",
        "system/clock",
        "ip/arp",
        "ip/dhcp-server",
        "ip/dhcp-server/lease",
        "ip/route",
        "ip/firewall/filter",
        "ip/firewall/nat",
        "ip/firewall/address-list",
        "log",
        "system/logging",
        "interface/bridge",
        "interface/bridge/port",
        "system/scheduler",
    ] {
        let (status, body) = rig.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    rig.assert_no_violations();
}

#[tokio::test]
async fn requests_outside_the_schema_are_refused_and_recorded() {
    let rig = Rig::new().await;
    let (status, body) = rig
        .call(
            Method::PUT,
            "ip/address",
            Some(json!({"address": "10.9.0.1/24", "interface": "ether3", "colour": "blue"})),
        )
        .await;
    if rig.sim.schema().is_none() {
        eprintln!("note: the RouterOS schema file is absent; schema refusals were not checked");
        assert_eq!(status, StatusCode::CREATED);
        return;
    }
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], 400);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("unknown parameter colour"),
        "{body}"
    );
    let (status, _) = rig
        .call(Method::GET, "system/ntp/client/monitor", None)
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "monitor is not a menu in 7.24"
    );
    let (status, _) = rig
        .call(
            Method::GET,
            "interface/monitor-traffic?interface=ether1&once=",
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "monitor-traffic is a command: POST it"
    );

    let violations = rig.sim.violations();
    assert_eq!(violations.len(), 3, "{violations:#?}");
    assert_eq!(violations[0].device, "r1");
    assert_eq!(violations[0].path, "ip/address");
    assert!(
        rig.sim.state("r1").table("ip/address").unwrap().len() == 2,
        "nothing was added"
    );
}

#[tokio::test]
async fn faults_switch_on_and_off() {
    let rig = Rig::new().await;
    rig.sim.set_fault("r1", Fault::ServerError).await;
    let (status, body) = rig.call(Method::GET, "system/resource", None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error"], 500);

    rig.sim.set_fault("r1", Fault::AuthFailure).await;
    let (status, _) = rig.call(Method::GET, "system/resource", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    rig.sim.set_fault("r1", Fault::Unreachable).await;
    let err = rig
        .http
        .get(rig.url("system/resource"))
        .basic_auth("admin", Some("s3cret"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");

    rig.sim.set_fault("r1", Fault::None).await;
    let (status, _) = rig.call(Method::GET, "system/resource", None).await;
    assert_eq!(status, StatusCode::OK, "the same port answers again");
    assert_eq!(rig.sim.fault("r1"), Fault::None);
}

#[tokio::test(start_paused = true)]
async fn slow_devices_wait_in_tokio_time() {
    let rig = Rig::new().await;
    rig.sim
        .set_fault("r1", Fault::Slow(Duration::from_secs(30)))
        .await;
    let started = tokio::time::Instant::now();
    let err = rig
        .http
        .get(rig.url("system/resource"))
        .basic_auth("admin", Some("s3cret"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() >= Duration::from_secs(5));

    rig.sim
        .set_fault("r1", Fault::Slow(Duration::from_secs(2)))
        .await;
    let started = tokio::time::Instant::now();
    let (status, _) = rig.call(Method::GET, "system/identity", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[tokio::test]
async fn devices_are_separate() {
    let sim = Simulator::start(None);
    let a = sim.add_device("a", "admin", "").await.unwrap();
    let b = sim.add_device("b", "ops", "pw").await.unwrap();
    assert_ne!(a.port, b.port);
    assert!(sim.add_device("a", "x", "y").await.is_err());
    sim.set_fault("a", Fault::Unreachable).await;
    let http = Client::new();
    let response = http
        .get(format!("{}/ip/address", b.base_url()))
        .basic_auth("ops", Some("pw"))
        .send()
        .await
        .unwrap();
    let addresses: Value = response.json().await.unwrap();
    assert_eq!(addresses[1]["address"], "10.0.2.2/24");
    sim.with_state("b", |state| state.legacy_wireless = true);
    let response = http
        .get(format!("{}/caps-man/remote-cap", b.base_url()))
        .basic_auth("ops", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(sim.requests("a").is_empty());
}
