//! The authorization matrix over MCP: `tools/list`, `tools/call`,
//! `resources/list` and `resources/read` × every built-in role × (own
//! scope, sibling team, other tenant), against simulated routers. Each
//! role's user is bound at team A (org_admin at the tenant); "own" is a
//! device of team A, "sibling" one of team B, "other" one of another
//! tenant. Every request leaves exactly one event in the caller's chain.

use audit::query::{ChainKey, for_each};
use kernel::{DeviceId, Environment, TenantId};
use rbac::BuiltinRole as R;
use routeros_sim::{Schema, Simulator};
use serde_json::{Value, json};
use tenancy::{Capabilities, DeviceCredentials, DeviceTls, Scope};
use testkit::TestApp;

const ROLES: [(char, R); 8] = [
    ('O', R::OrgAdmin),
    ('A', R::TeamAdmin),
    ('L', R::TeamLead),
    ('M', R::Member),
    ('R', R::ReadOnly),
    ('W', R::OpsRw),
    ('D', R::Admin),
    ('P', R::Approver),
];

const ALL: &str = "OALMRWDP";

/// What is checked, and who may (own, sibling, other).
const TABLE: &[(Check, &str, &str, &str)] = &[
    (Check::Call("get_system_clock"), "OALMRWD", "O", ""),
    (Check::Call("update_dns_servers"), "OWD", "O", ""),
    (Check::Read, ALL, "O", ""),
    (Check::Listed, ALL, "O", ""),
];

#[derive(Debug, Clone, Copy)]
enum Check {
    /// `tools/call` of this tool on the device.
    Call(&'static str),
    /// `resources/read` of the device's health.
    Read,
    /// `resources/list` names the device.
    Listed,
}

async fn device(
    app: &TestApp,
    sim: &Simulator,
    tenant: TenantId,
    site: &tenancy::Site,
    name: &str,
) -> DeviceId {
    let s = sim.add_device(name, "api", "pw").await.unwrap();
    app.state
        .tenancy
        .create_device(
            tenant,
            tenancy::service::NewDevice {
                site_id: site.id,
                name: name.into(),
                host: s.host.clone(),
                port: s.port,
                environment: Environment::Lab,
                tags: Default::default(),
                capabilities: Capabilities {
                    allow_advanced_writes: true,
                    ..Capabilities::default()
                },
                tls: DeviceTls::PlainHttp,
                credentials: Some(DeviceCredentials {
                    username: "api".into(),
                    password: "pw".into(),
                }),
            },
        )
        .await
        .unwrap()
        .id
}

async fn events(app: &TestApp, tenant: TenantId) -> usize {
    let mut n = 0;
    for_each(
        &app.state.db,
        ChainKey::of(Some(tenant)),
        1,
        i64::MAX,
        |_| {
            n += 1;
            true
        },
    )
    .await
    .unwrap();
    n
}

async fn rpc(app: &TestApp, token: &str, method: &str, params: Value) -> Value {
    app.client
        .post(format!("{}/mcp", app.base))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Whether `check` on `d` went through.
async fn allowed(app: &TestApp, token: &str, check: Check, d: DeviceId) -> bool {
    match check {
        Check::Call(tool) => {
            let mut args = json!({"device_id": d});
            if tool == "update_dns_servers" {
                args = json!({"device_id": d, "dns_servers": ["192.0.2.53"], "dry_run": true});
            }
            let r = rpc(
                app,
                token,
                "tools/call",
                json!({"name": tool, "arguments": args}),
            )
            .await;
            assert!(r["result"].is_object(), "{r}");
            r["result"]["isError"] != true
        }
        Check::Read => {
            let uri = format!("device://{d}/health");
            let r = rpc(app, token, "resources/read", json!({"uri": uri})).await;
            r["result"]["contents"].is_array()
        }
        Check::Listed => {
            let r = rpc(app, token, "resources/list", json!({})).await;
            let uri = format!("device://{d}/health");
            r["result"]["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["uri"] == uri)
        }
    }
}

#[tokio::test]
async fn every_role_gets_the_expected_outcome_over_mcp_everywhere() {
    let app = TestApp::spawn().await;
    let sim = Simulator::start(Schema::find().map(|p| Schema::load(p).unwrap()));
    let t = app.tenant("acme").await;
    let team_a = app.team(&t, "a").await;
    let team_b = app.team(&t, "b").await;
    let other = app.tenant("globex").await;
    let team_o = app.team(&other, "o").await;
    let site_a = app.site(t.id, &team_a, "sa").await;
    let site_b = app.site(t.id, &team_b, "sb").await;
    let site_o = app.site(other.id, &team_o, "so").await;
    let own = device(&app, &sim, t.id, &site_a, "r-own").await;
    let sibling = device(&app, &sim, t.id, &site_b, "r-sibling").await;
    let stranger = device(&app, &sim, other.id, &site_o, "r-other").await;

    let mut wrong = Vec::new();
    for (letter, role) in ROLES {
        let scope = if role == R::OrgAdmin {
            Scope::Tenant(t.id)
        } else {
            Scope::Team(team_a.id.into())
        };
        let (_, token) = app.user(t.id, &[(role, scope)]).await;
        // tools/list shows the fundamental tools to those who may run them.
        let before = events(&app, t.id).await;
        let list = rpc(&app, &token, "tools/list", json!({})).await;
        let names: Vec<&str> = list["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["name"].as_str())
            .collect();
        if names.contains(&"get_system_clock") != "OALMRWD".contains(letter) {
            wrong.push(format!("{letter} tools/list: {names:?}"));
        }
        if names.contains(&"update_dns_servers") != "OWD".contains(letter) {
            wrong.push(format!("{letter} tools/list advanced: {names:?}"));
        }
        for (check, at_own, at_sibling, at_other) in TABLE {
            for (place, d, who) in [
                ("own", own, at_own),
                ("sibling", sibling, at_sibling),
                ("other", stranger, at_other),
            ] {
                let got = allowed(&app, &token, *check, d).await;
                if got != who.contains(letter) {
                    wrong.push(format!("{letter} {check:?} at {place}: got {got}"));
                }
            }
        }
        let requests = 1 + TABLE.len() * 3;
        let after = events(&app, t.id).await;
        if after - before != requests {
            wrong.push(format!(
                "{letter}: {requests} MCP requests left {} events",
                after - before
            ));
        }
    }
    assert!(sim.violations().is_empty(), "{:#?}", sim.violations());
    assert!(wrong.is_empty(), "{wrong:#?}");
}
