//! The tool catalogue against simulated RouterOS devices, over REST and
//! over MCP with the real `mcp` client: every tool runs, every request the
//! adapter sends is part of RouterOS 7.24's command set (when the schema is
//! present), writes change the device and are read back, and every guard
//! refuses what it should, audited.

use kernel::Environment;
use rbac::BuiltinRole as R;
use reqwest::StatusCode;
use routeros_sim::Fault;
use serde_json::{Value, json};
use tenancy::{Capabilities, Device, Scope};
use testkit::Reply;

use super::lab::{Lab, lab, lab_with};

impl Lab {
    async fn run(&self, token: &str, d: &Device, tool: &str, input: Value) -> Reply {
        self.app
            .post(
                token,
                &format!("/api/v1/devices/{}/tools/{tool}", d.id),
                input,
            )
            .await
    }
}

fn writes() -> Capabilities {
    Capabilities {
        allow_advanced_writes: true,
        ..Capabilities::default()
    }
}

#[tokio::test]
async fn every_read_tool_runs_and_stays_within_the_routeros_schema() {
    let lab = lab().await;
    let d = lab
        .device("r-read", Environment::Lab, Capabilities::default())
        .await;
    let token = lab.user(R::ReadOnly).await;
    let overview = lab.run(&token, &d, "get_system_overview", json!({})).await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.body);
    assert_eq!(overview.body["data"]["identity"], "r-read");
    assert_eq!(overview.body["data"]["version"], "7.24 (stable)");

    let id_of = |r: &Reply, list: &str| {
        r.body["data"][list][0][".id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let ifaces = lab.run(&token, &d, "list_interfaces", json!({})).await;
    let addrs = lab.run(&token, &d, "list_ip_addresses", json!({})).await;
    let routes = lab.run(&token, &d, "get_routing_summary", json!({})).await;
    let inputs = [
        (
            "get_interface",
            json!({"interface_id": id_of(&ifaces, "interfaces")}),
        ),
        (
            "get_ip_address",
            json!({"address_id": id_of(&addrs, "addresses")}),
        ),
        ("get_route", json!({"route_id": id_of(&routes, "routes")})),
        ("ping", json!({"target": "10.0.0.1", "count": 2})),
        ("traceroute", json!({"target": "9.9.9.9", "max_hops": 5})),
        ("get_recent_logs", json!({"limit": 5, "message": "login"})),
        (
            "get_interface_stats",
            json!({"interface_names": ["ether1"]}),
        ),
    ];
    for tool in tools::CATALOGUE.iter().filter(|t| !t.writes) {
        let input = inputs
            .iter()
            .find(|(n, _)| *n == tool.name)
            .map_or_else(|| json!({}), |(_, i)| i.clone());
        let r = lab.run(&token, &d, tool.name, input).await;
        assert_eq!(r.status, StatusCode::OK, "{}: {}", tool.name, r.body);
        assert!(!r.str("summary").is_empty(), "{}", tool.name);
        assert!(
            !r.body.to_string().contains("s3cret-pw"),
            "{}: the device password leaked",
            tool.name
        );
    }
    let ping = lab
        .run(
            &token,
            &d,
            "ping",
            json!({"target": "10.0.0.1", "count": 3}),
        )
        .await;
    assert_eq!(ping.body["data"]["received"], "3");
    lab.assert_no_violations();
}

#[tokio::test]
async fn writes_change_the_device_by_id_and_are_read_back() {
    let lab = lab().await;
    let d = lab.device("r-write", Environment::Lab, writes()).await;
    let token = lab.user(R::OpsRw).await;

    // Dry run: nothing changes.
    let r = lab
        .run(
            &token,
            &d,
            "set_system_identity",
            json!({"identity": "edge-1", "dry_run": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["dry_run"], true);
    assert_eq!(
        lab.sim.state("r-write").setting("system/identity").unwrap()["name"],
        "r-write"
    );
    let r = lab
        .run(
            &token,
            &d,
            "set_system_identity",
            json!({"identity": "edge-1"}),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["data"]["changed"]),
        (StatusCode::OK, &json!(true)),
        "{}",
        r.body
    );
    assert_eq!(
        lab.sim.state("r-write").setting("system/identity").unwrap()["name"],
        "edge-1"
    );
    let again = lab
        .run(
            &token,
            &d,
            "set_system_identity",
            json!({"identity": "edge-1"}),
        )
        .await;
    assert_eq!(again.body["data"]["changed"], false, "no change, no write");

    // Addresses: added, overlap refused, removed by id; the management network is protected.
    let r = lab
        .run(
            &token,
            &d,
            "add_secondary_ip_address",
            json!({"address": "192.168.77.1/24", "interface": "ether2", "comment": "lab"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let id = r.body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        lab.sim.state("r-write").item("ip/address", &id).unwrap()["address"],
        "192.168.77.1/24"
    );
    let clash = lab
        .run(
            &token,
            &d,
            "add_secondary_ip_address",
            json!({"address": "192.168.77.9/32", "interface": "ether3"}),
        )
        .await;
    assert_eq!(
        (clash.status, clash.code()),
        (StatusCode::CONFLICT, "tool_refused")
    );
    lab.sim.clear_requests("r-write");
    let r = lab
        .run(
            &token,
            &d,
            "remove_secondary_ip_address",
            json!({"address_id": id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(lab.sim.state("r-write").item("ip/address", &id).is_none());
    let deletes: Vec<_> = lab
        .sim
        .requests("r-write")
        .into_iter()
        .filter(|q| q.method == "DELETE")
        .map(|q| q.path)
        .collect();
    assert_eq!(
        deletes,
        vec![format!("ip/address/{id}")],
        "removed by its .id"
    );
    lab.app
        .state
        .tenancy
        .update_device(
            d.id,
            tenancy::service::DevicePatch {
                host: Some("127.0.0.1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mgmt = lab
        .run(
            &token,
            &d,
            "add_secondary_ip_address",
            json!({"address": "127.0.0.2/8", "interface": "ether2"}),
        )
        .await;
    let mgmt_id = mgmt.body["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let r = lab
        .run(
            &token,
            &d,
            "remove_secondary_ip_address",
            json!({"address_id": mgmt_id}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "tool_refused"),
        "{}",
        r.body
    );
    assert!(r.detail().contains("cut the device off"));

    // DNS, NTP, cache.
    let r = lab
        .run(
            &token,
            &d,
            "update_dns_servers",
            json!({"dns_servers": ["192.0.2.53", "198.51.100.53"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        lab.sim.state("r-write").setting("ip/dns").unwrap()["servers"],
        "192.0.2.53,198.51.100.53"
    );
    let r = lab
        .run(
            &token,
            &d,
            "update_ntp_servers",
            json!({"ntp_servers": ["192.0.2.123"], "enabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        lab.sim
            .state("r-write")
            .setting("system/ntp/client")
            .unwrap()["servers"],
        "192.0.2.123"
    );
    let r = lab.run(&token, &d, "flush_dns_cache", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        lab.sim
            .state("r-write")
            .table("ip/dns/cache")
            .is_none_or(|t| t.is_empty())
    );

    // Address lists: only mcp-* lists.
    let r = lab
        .run(
            &token,
            &d,
            "update_firewall_address_list",
            json!({"list_name": "blocklist", "address": "203.0.113.7"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "tool_refused"));
    let r = lab
        .run(
            &token,
            &d,
            "update_firewall_address_list",
            json!({"list_name": "mcp-block", "address": "203.0.113.7", "comment": "abuse"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = lab
        .run(
            &token,
            &d,
            "update_firewall_address_list",
            json!({"list_name": "mcp-block", "address": "203.0.113.7", "action": "remove"}),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["data"]["changed"]),
        (StatusCode::OK, &json!(true)),
        "{}",
        r.body
    );
    lab.assert_no_violations();
}

#[tokio::test]
async fn guards_refuse_and_every_refusal_is_audited() {
    let lab = lab().await;
    let lab_dev = lab.device("r-guard", Environment::Lab, writes()).await;
    let locked = lab
        .device("r-locked", Environment::Lab, Capabilities::default())
        .await;
    let prod = lab.device("r-prod", Environment::Prod, writes()).await;
    let dns = json!({"dns_servers": ["192.0.2.53"]});

    let member = lab.user(R::Member).await;
    let r = lab
        .run(&member, &lab_dev, "update_dns_servers", dns.clone())
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "missing_permission"),
        "{}",
        r.body
    );

    let ops = lab.user(R::OpsRw).await;
    let r = lab
        .run(&ops, &locked, "update_dns_servers", dns.clone())
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "capability_disabled"),
        "{}",
        r.body
    );
    assert!(r.detail().contains("allow_advanced_writes"));

    // A binding limited to lab reaches the lab device, not the prod one.
    let (_, lab_only) = lab
        .app
        .user_with(
            lab.tenant,
            vec![(
                R::OpsRw,
                Scope::Team(lab.team.id.into()),
                Some(vec![Environment::Lab]),
            )],
            false,
        )
        .await;
    assert_eq!(
        lab.run(&lab_only, &lab_dev, "get_dns_status", json!({}))
            .await
            .status,
        StatusCode::OK
    );
    let r = lab.run(&lab_only, &prod, "get_dns_status", json!({})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "environment_not_allowed"),
        "{}",
        r.body
    );

    // Another tenant's device.
    let other = lab.app.tenant("other").await;
    let (_, stranger) = lab
        .app
        .user(other.id, &[(R::Admin, Scope::Tenant(other.id))])
        .await;
    let r = lab
        .run(&stranger, &lab_dev, "get_system_overview", json!({}))
        .await;
    assert_eq!(
        (r.status, r.detail()),
        (StatusCode::FORBIDDEN, "Cross-tenant access denied")
    );

    // Bad input never reaches the device.
    lab.sim.clear_requests("r-guard");
    for bad in [
        json!({"dns_servers": []}),
        json!({"dns_servers": ["a b"]}),
        json!({"dns_servers": ["192.0.2.1"], "x": 1}),
        json!([1]),
    ] {
        let r = lab
            .run(&ops, &lab_dev, "update_dns_servers", bad.clone())
            .await;
        assert!(
            r.status == StatusCode::UNPROCESSABLE_ENTITY || r.status == StatusCode::BAD_REQUEST,
            "{bad}: {}",
            r.body
        );
        assert!(r.is_problem());
    }
    let r = lab.run(&ops, &lab_dev, "no_such_tool", json!({})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "unknown_tool")
    );
    assert!(
        lab.sim.requests("r-guard").is_empty(),
        "refused calls send nothing"
    );

    let events = lab.app.state.db.audit_events(lab.tenant).await.unwrap();
    let denied: Vec<_> = events
        .iter()
        .filter(|e| e.operation == "rest:update_dns_servers" && e.decision.as_str() == "deny")
        .collect();
    assert!(
        denied.len() >= 2 + 4,
        "member, capability and bad inputs are audited: {}",
        denied.len()
    );
    assert!(
        denied
            .iter()
            .any(|e| e.reason.contains("allow_advanced_writes"))
    );
}

#[tokio::test]
async fn failing_devices_give_clear_errors_and_the_breaker_opens() {
    let lab = lab().await;
    let d = lab
        .device("r-fail", Environment::Lab, Capabilities::default())
        .await;
    let token = lab.user(R::ReadOnly).await;
    lab.sim.set_fault("r-fail", Fault::AuthFailure).await;
    let r = lab.run(&token, &d, "get_system_clock", json!({})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_GATEWAY, "device_auth_failed")
    );
    assert!(
        r.detail().contains("refused the credentials"),
        "{}",
        r.detail()
    );
    assert!(!r.body.to_string().contains("s3cret-pw"));
    lab.sim.set_fault("r-fail", Fault::ServerError).await;
    for _ in 0..5 {
        let r = lab.run(&token, &d, "get_system_clock", json!({})).await;
        assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.body);
    }
    let r = lab.run(&token, &d, "get_system_clock", json!({})).await;
    assert_eq!(
        r.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "the breaker is open: {}",
        r.body
    );
    assert!(r.detail().contains("paused"), "{}", r.detail());
}

#[tokio::test]
async fn a_real_mcp_client_sees_its_tools_and_is_refused_what_it_may_not_do() {
    let lab = lab().await;
    let d = lab.device("r-mcp", Environment::Lab, writes()).await;
    let url = format!("{}/mcp", lab.app.base);
    let read_only = lab.user(R::ReadOnly).await;
    let ops = lab.user(R::OpsRw).await;
    let admin = lab.user(R::Admin).await;

    let list = |token: String| {
        let url = url.clone();
        async move {
            testkit::mcp::run(&url, &token, &["list_tools"])
                .await
                .unwrap()
        }
    };
    let ro_tools = list(read_only.clone()).await;
    let ops_tools = list(ops.clone()).await;
    let admin_tools = list(admin.clone()).await;
    let has = |v: &Value, t: &str| v.as_array().unwrap().iter().any(|x| x == t);
    assert!(
        has(&ro_tools, "get_system_overview") && !has(&ro_tools, "update_dns_servers"),
        "{ro_tools}"
    );
    assert!(has(&ops_tools, "update_dns_servers"), "{ops_tools}");
    assert_ne!(ro_tools, ops_tools);
    assert!(admin_tools.as_array().unwrap().len() >= ops_tools.as_array().unwrap().len());

    let device_arg = json!({"device_id": d.id}).to_string();
    let r = testkit::mcp::run(
        &url,
        &read_only,
        &["call_tool", "get_system_overview", &device_arg],
    )
    .await
    .unwrap();
    assert_eq!(r["is_error"], false, "{r}");
    assert_eq!(r["structured"]["identity"], "r-mcp");

    let dns = json!({"device_id": d.id, "dns_servers": ["192.0.2.53"]}).to_string();
    let r = testkit::mcp::run(&url, &read_only, &["call_tool", "update_dns_servers", &dns])
        .await
        .unwrap();
    assert_eq!(r["is_error"], true, "{r}");
    assert!(
        r["text"].as_str().unwrap().contains("missing_permission"),
        "{r}"
    );
    let r = testkit::mcp::run(&url, &ops, &["call_tool", "update_dns_servers", &dns])
        .await
        .unwrap();
    assert_eq!(r["is_error"], false, "{r}");

    let other = lab.app.tenant("elsewhere").await;
    let (_, stranger) = lab
        .app
        .user(other.id, &[(R::Admin, Scope::Tenant(other.id))])
        .await;
    let r = testkit::mcp::run(
        &url,
        &stranger,
        &["call_tool", "get_system_overview", &device_arg],
    )
    .await
    .unwrap();
    assert_eq!(r["is_error"], true, "{r}");
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .contains("Cross-tenant access denied"),
        "{r}"
    );

    let r = testkit::mcp::run(
        &url,
        &read_only,
        &["read_resource", &format!("device://{}/overview", d.id)],
    )
    .await
    .unwrap();
    assert!(r["text"].as_str().unwrap().contains("7.24"), "{r}");

    // Without a token: 401 pointing to the /mcp resource metadata.
    let resp = reqwest::Client::new()
        .post(&url)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("/.well-known/oauth-protected-resource/mcp"),
        "{challenge}"
    );

    // Each tool call is one audit event, made by an agent; the change that
    // went through also committed its intent before touching the device.
    let events = lab.app.state.db.audit_events(lab.tenant).await.unwrap();
    let intents: Vec<_> = events
        .iter()
        .filter(|e| e.operation == "mcp:update_dns_servers" && e.result.as_str() == "pending")
        .collect();
    let dns: Vec<_> = events
        .iter()
        .filter(|e| e.operation == "mcp:update_dns_servers" && e.result.as_str() != "pending")
        .collect();
    assert_eq!(intents.len(), 1, "{intents:#?}");
    assert_eq!(dns.last().and_then(|e| e.intent_id), Some(intents[0].id));
    assert_eq!(dns.len(), 2, "{dns:#?}");
    assert!(dns.iter().all(|e| e.actor == audit::Actor::Agent
        && e.tool_name.as_deref() == Some("update_dns_servers")
        && e.device_id == Some(d.id.uuid())
        && e.args_digest.as_ref().is_some_and(|h| h.len() == 64)));
    let outcomes: Vec<_> = dns
        .iter()
        .map(|e| {
            (
                e.decision.as_str(),
                e.result.as_str(),
                e.error_class.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("deny", "failure", Some("missing_permission")),
            ("allow", "success", None)
        ]
    );
    assert_eq!(dns[1].environment.as_deref(), Some("lab"));
    assert_eq!(dns[1].effect, audit::Effect::Write);
    lab.assert_no_violations();
}

fn professional(routing: bool, firewall: bool) -> Capabilities {
    Capabilities {
        allow_advanced_writes: true,
        allow_professional_workflows: true,
        allow_routing_writes: routing,
        allow_firewall_writes: firewall,
        ..Capabilities::default()
    }
}

impl Lab {
    async fn fleet(&self, token: &str, tool: &str, input: Value) -> Reply {
        self.app
            .post(token, &format!("/api/v1/tools/{tool}"), input)
            .await
    }
}

#[tokio::test]
async fn a_route_plan_is_confirmed_once_by_its_creator_and_really_applied() {
    let lab = lab().await;
    let a = lab
        .device("r-plan-a", Environment::Lab, professional(true, false))
        .await;
    let b = lab
        .device("r-plan-b", Environment::Lab, professional(true, false))
        .await;
    let admin = lab.user(R::Admin).await;
    let other_admin = lab.user(R::Admin).await;

    let r = lab
        .fleet(
            &admin,
            "plan_add_static_route",
            json!({"device_ids": [a.id, b.id], "dst_address": "0.0.0.0/0", "gateway": "10.0.1.1"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "tool_refused"),
        "default routes are refused: {}",
        r.body
    );

    let r = lab
        .fleet(&admin, "plan_add_static_route", json!({"device_ids": [a.id, b.id], "dst_address": "172.16.50.0/24", "gateway": "10.0.1.1", "comment": "lab link"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let plan_id = r.body["data"]["plan_id"].as_str().unwrap().to_owned();
    let token = r.body["data"]["confirmation_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(r.body["data"]["status"], "pending");
    assert!(
        lab.sim
            .state("r-plan-a")
            .table("ip/route")
            .unwrap()
            .find("dst-address", "172.16.50.0/24")
            .is_none(),
        "a plan changes nothing"
    );

    let apply = |by: String, token: String| {
        let plan_id = plan_id.clone();
        let lab = &lab;
        async move {
            lab.fleet(
                &by,
                "apply_routing_plan",
                json!({"plan_id": plan_id, "confirmation_token": token}),
            )
            .await
        }
    };
    let r = apply(admin.clone(), format!("confirm_{}", "0".repeat(64))).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "invalid_confirmation_token"),
        "{}",
        r.body
    );
    let r = apply(other_admin.clone(), token.clone()).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "invalid_confirmation_token"),
        "{}",
        r.body
    );
    assert!(r.detail().contains("creator"));
    let r = lab
        .fleet(
            &admin,
            "apply_firewall_plan",
            json!({"plan_id": plan_id, "confirmation_token": token}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "tool_refused"),
        "the wrong apply tool: {}",
        r.body
    );

    lab.sim.clear_requests("r-plan-a");
    let r = apply(admin.clone(), token.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["status"], "completed", "{}", r.body);
    for name in ["r-plan-a", "r-plan-b"] {
        let state = lab.sim.state(name);
        let route = state
            .table("ip/route")
            .unwrap()
            .find("dst-address", "172.16.50.0/24")
            .cloned();
        let route = route.unwrap_or_else(|| panic!("{name} has the route"));
        assert!(
            route["comment"].contains(&plan_id.replace('-', "")),
            "tagged with the plan: {route:?}"
        );
        assert!(
            state.table("system/scheduler").is_none_or(|t| t.is_empty()),
            "{name}: the safety net is disarmed"
        );
    }
    // The router-side rollback was armed before the change and removed after.
    let steps: Vec<String> = lab
        .sim
        .requests("r-plan-a")
        .into_iter()
        .filter(|q| q.method != "GET")
        .map(|q| {
            format!(
                "{} {}",
                q.method,
                q.path.split('/').take(2).collect::<Vec<_>>().join("/")
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            "PUT system/scheduler",
            "PUT ip/route",
            "DELETE system/scheduler"
        ],
        "{steps:?}"
    );
    let armed = lab
        .sim
        .requests("r-plan-a")
        .into_iter()
        .find(|q| q.path == "system/scheduler")
        .unwrap();
    let script = armed.body.unwrap()["on-event"].as_str().unwrap().to_owned();
    assert!(
        script.starts_with("/ip route remove [find where comment~"),
        "{script}"
    );

    let r = apply(admin.clone(), token).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "invalid_confirmation_token"),
        "a token works once"
    );
    lab.assert_no_violations();
}

#[tokio::test]
async fn a_failed_health_check_rolls_back_every_device_already_changed() {
    let lab = lab().await;
    let a = lab
        .device("r-fw-a", Environment::Lab, professional(false, true))
        .await;
    let b = lab
        .device("r-fw-b", Environment::Lab, professional(false, true))
        .await;
    let admin = lab.user(R::Admin).await;
    let rules_before = |name: &str| {
        lab.sim
            .state(name)
            .table("ip/firewall/filter")
            .map_or(0, |t| t.len())
    };
    let (before_a, before_b) = (rules_before("r-fw-a"), rules_before("r-fw-b"));
    // The second router is overloaded: its health check fails after the change.
    lab.sim.with_state("r-fw-b", |s| {
        if let Some(r) = s.settings.get_mut("system/resource") {
            r.insert("cpu-load".into(), "97".into());
        }
    });
    let r = lab
        .fleet(&admin, "plan_add_firewall_rule", json!({"device_ids": [a.id, b.id], "chain": "forward", "action": "drop", "src_address": "203.0.113.0/24"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["risk"], "high");
    let input = json!({"plan_id": r.body["data"]["plan_id"], "confirmation_token": r.body["data"]["confirmation_token"]});
    let r = lab.fleet(&admin, "apply_firewall_plan", input).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["status"], "rolled_back", "{}", r.body);
    let outcomes = r.body["data"]["outcomes"].as_array().unwrap();
    assert_eq!(outcomes[0]["outcome"], "rolled_back", "{outcomes:?}");
    assert_eq!(outcomes[1]["outcome"], "failed");
    assert!(
        outcomes[1]["detail"].as_str().unwrap().contains("CPU 97"),
        "{outcomes:?}"
    );
    assert_eq!(
        rules_before("r-fw-a"),
        before_a,
        "the first router is back as it was"
    );
    assert_eq!(
        rules_before("r-fw-b"),
        before_b,
        "the second router is back as it was"
    );
    for name in ["r-fw-a", "r-fw-b"] {
        assert!(
            lab.sim
                .state(name)
                .table("system/scheduler")
                .is_none_or(|t| t.is_empty())
        );
    }
    lab.assert_no_violations();
}

#[tokio::test]
async fn a_dns_ntp_rollout_runs_in_batches_and_professional_guards_hold() {
    let lab = lab().await;
    let mut devices = Vec::new();
    for i in 0..3 {
        devices.push(
            lab.device(
                &format!("r-roll-{i}"),
                Environment::Lab,
                professional(false, false),
            )
            .await,
        );
    }
    let no_pro = lab.device("r-no-pro", Environment::Lab, writes()).await;
    let admin = lab.user(R::Admin).await;
    let ops = lab.user(R::OpsRw).await;
    let ids: Vec<_> = devices.iter().map(|d| d.id).collect();
    let input = json!({"device_ids": ids, "dns_servers": ["192.0.2.53"], "ntp_servers": ["192.0.2.123"], "batch_size": 2});

    let r = lab
        .fleet(&ops, "config_plan_dns_ntp_rollout", input.clone())
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "missing_permission"),
        "{}",
        r.body
    );
    let mut with_locked = input.clone();
    with_locked["device_ids"] = json!([devices[0].id, no_pro.id]);
    let r = lab
        .fleet(&admin, "config_plan_dns_ntp_rollout", with_locked)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "capability_disabled"),
        "{}",
        r.body
    );
    let r = lab
        .fleet(
            &admin,
            "config_plan_dns_ntp_rollout",
            json!({"device_ids": ids}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "tool_refused"),
        "nothing to change: {}",
        r.body
    );
    let r = lab.fleet(&admin, "get_system_clock", json!({})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "wrong_endpoint")
    );

    let r = lab
        .fleet(&admin, "config_plan_dns_ntp_rollout", input)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let apply = json!({"plan_id": r.body["data"]["plan_id"], "confirmation_token": r.body["data"]["confirmation_token"]});
    let r = lab
        .fleet(&admin, "config_apply_dns_ntp_rollout", apply)
        .await;
    assert_eq!(r.body["data"]["status"], "completed", "{}", r.body);
    for d in &devices {
        let s = lab.sim.state(&d.name);
        assert_eq!(s.setting("ip/dns").unwrap()["servers"], "192.0.2.53");
        assert_eq!(
            s.setting("system/ntp/client").unwrap()["servers"],
            "192.0.2.123"
        );
    }
    let events = lab.app.state.db.audit_events(lab.tenant).await.unwrap();
    // The apply request is one event: the plan, carried out and completed.
    assert!(events.iter().any(|e| e.resource_type == "plan"
        && e.reason.ends_with("plan completed")
        && e.result == audit::RunResult::Success
        && e.approval_request_id == e.resource_id));
    lab.assert_no_violations();
}

/// A pending plan: its id and confirmation token.
struct Pending {
    id: String,
    token: String,
}

impl Lab {
    async fn plan_route(&self, token: &str, devices: &[&Device], dst: &str) -> Pending {
        let ids: Vec<_> = devices.iter().map(|d| d.id).collect();
        let r = self
            .fleet(
                token,
                "plan_add_static_route",
                json!({"device_ids": ids, "dst_address": dst, "gateway": "10.0.1.1"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        Pending {
            id: r.body["data"]["plan_id"].as_str().unwrap().to_owned(),
            token: r.body["data"]["confirmation_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        }
    }

    async fn apply_route(&self, token: &str, plan: &Pending) -> Reply {
        self.fleet(
            token,
            "apply_routing_plan",
            json!({"plan_id": plan.id, "confirmation_token": plan.token}),
        )
        .await
    }

    async fn plan_status(&self, plan: &Pending) -> tools::plan::PlanStatus {
        self.app
            .state
            .plans
            .get(self.tenant, plan.id.parse().unwrap())
            .await
            .unwrap()
            .status
    }

    fn has_route(&self, device: &Device, dst: &str) -> bool {
        self.sim
            .state(&device.name)
            .table("ip/route")
            .is_some_and(|t| t.find("dst-address", dst).is_some())
    }
}

#[tokio::test]
async fn a_refused_apply_leaves_the_plan_pending_and_its_token_works_once_the_cause_is_fixed() {
    use tools::plan::PlanStatus;
    let lab = lab().await;
    let a = lab
        .device("r-keep-a", Environment::Lab, professional(true, false))
        .await;
    let b = lab
        .device_with(
            "r-keep-b",
            Environment::Lab,
            professional(true, false),
            false,
        )
        .await;
    let (user, admin) = lab
        .app
        .user(lab.tenant, &[(R::Admin, Scope::Team(lab.team.id.into()))])
        .await;

    // One device has no credentials.
    let plan = lab.plan_route(&admin, &[&a, &b], "172.16.60.0/24").await;
    let r = lab.apply_route(&admin, &plan).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "no_credentials"),
        "{}",
        r.body
    );
    assert_eq!(lab.plan_status(&plan).await, PlanStatus::Pending);
    assert!(!lab.has_route(&a, "172.16.60.0/24"), "nothing was changed");
    lab.app
        .state
        .tenancy
        .set_credentials(
            b.id,
            &tenancy::DeviceCredentials {
                username: "api".into(),
                password: "s3cret-pw".into(),
            },
        )
        .await
        .unwrap();
    let r = lab.apply_route(&admin, &plan).await;
    assert_eq!(r.body["data"]["status"], "completed", "{}", r.body);
    assert!(lab.has_route(&a, "172.16.60.0/24") && lab.has_route(&b, "172.16.60.0/24"));

    // The creator's permission on the devices was revoked meanwhile.
    let plan = lab.plan_route(&admin, &[&a], "172.16.61.0/24").await;
    let repo = lab.app.state.rbac.repo();
    let binding = repo
        .bindings(lab.tenant)
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.user_id == user.id)
        .unwrap();
    repo.delete_binding(binding.id).await.unwrap();
    let r = lab.apply_route(&admin, &plan).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "missing_permission"),
        "{}",
        r.body
    );
    assert_eq!(lab.plan_status(&plan).await, PlanStatus::Pending);
    repo.insert_binding(&binding).await.unwrap();
    let r = lab.apply_route(&admin, &plan).await;
    assert_eq!(r.body["data"]["status"], "completed", "{}", r.body);
    lab.assert_no_violations();
}

#[tokio::test]
async fn an_apply_over_the_tool_budget_leaves_the_plan_pending_until_the_budget_returns() {
    use tools::plan::PlanStatus;
    let start = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let clock = std::sync::Arc::new(kernel::ManualClock::new(start));
    let lab = super::lab::lab_clocked(
        |c| {
            c.rate_limits.tools.insert(
                "apply_routing_plan".into(),
                rosgate::config::Budget {
                    per_hour: Some(6),
                    per_day: None,
                },
            );
        },
        clock.clone(),
    )
    .await;
    let a = lab
        .device("r-budget-plan", Environment::Lab, professional(true, false))
        .await;
    let admin = lab.user(R::Admin).await;
    let plan = lab.plan_route(&admin, &[&a], "172.16.70.0/24").await;
    // Six other applies use up the hour's budget of six.
    for i in 0..6 {
        let other = lab
            .plan_route(&admin, &[&a], &format!("172.16.{}.0/24", 71 + i))
            .await;
        let r = lab.apply_route(&admin, &other).await;
        assert_eq!(r.body["data"]["status"], "completed", "{}", r.body);
    }
    let r = lab.apply_route(&admin, &plan).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        "{}",
        r.body
    );
    assert_eq!(lab.plan_status(&plan).await, PlanStatus::Pending);
    assert!(!lab.has_route(&a, "172.16.70.0/24"));
    // One apply comes back every ten minutes; the token is good for fifteen.
    clock.advance(time::Duration::minutes(11));
    let r = lab.apply_route(&admin, &plan).await;
    assert_eq!(r.body["data"]["status"], "completed", "{}", r.body);
    assert!(lab.has_route(&a, "172.16.70.0/24"));
    lab.assert_no_violations();
}

#[tokio::test]
async fn a_token_is_refused_for_a_plan_whose_change_or_devices_were_altered_in_the_store() {
    use tools::plan::PlanStatus;
    let lab = lab().await;
    let a = lab
        .device("r-alter-a", Environment::Lab, professional(true, false))
        .await;
    let b = lab
        .device("r-alter-b", Environment::Lab, professional(true, false))
        .await;
    let admin = lab.user(R::Admin).await;
    let id_is = |plan: &Pending| match lab.app.backend {
        testkit::TestDatabase::Sqlite => {
            format!("id = x'{}'", plan.id.replace('-', ""))
        }
        testkit::TestDatabase::Postgres => format!("id = '{}'", plan.id),
    };
    let db = &lab.app.state.db;
    let tamper = |sql: String| async move {
        let changed = db.execute_unprepared(&sql).await.unwrap();
        assert_eq!(changed, 1, "{sql}");
    };

    let plan = lab.plan_route(&admin, &[&a], "172.16.80.0/24").await;
    let devices = serde_json::to_string(&[a.id, b.id]).unwrap();
    tamper(format!(
        "UPDATE plans SET device_ids = '{devices}' WHERE {}",
        id_is(&plan)
    ))
    .await;
    let r = lab.apply_route(&admin, &plan).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "invalid_confirmation_token"),
        "another device list: {}",
        r.body
    );

    let plan = lab.plan_route(&admin, &[&a], "172.16.81.0/24").await;
    let change = json!({"kind": "add_static_route", "dst_address": "10.0.0.0/8",
        "gateway": "10.0.1.1", "distance": null, "comment": null});
    tamper(format!(
        "UPDATE plans SET change = '{change}' WHERE {}",
        id_is(&plan)
    ))
    .await;
    let r = lab.apply_route(&admin, &plan).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "invalid_confirmation_token"),
        "another change: {}",
        r.body
    );
    assert_eq!(lab.plan_status(&plan).await, PlanStatus::Pending);
    for d in [&a, &b] {
        assert!(!lab.has_route(d, "10.0.0.0/8") && !lab.has_route(d, "172.16.80.0/24"));
    }
    lab.assert_no_violations();
}

#[tokio::test]
async fn a_tool_with_a_budget_of_its_own_is_refused_over_it_on_rest_and_mcp() {
    let lab = lab_with(|c| {
        c.rate_limits.tools.insert(
            "get_system_overview".into(),
            rosgate::config::Budget {
                per_hour: Some(2),
                per_day: None,
            },
        );
    })
    .await;
    let d = lab
        .device("r-budget", Environment::Lab, Capabilities::default())
        .await;
    let token = lab.user(R::ReadOnly).await;
    let path = format!("/api/v1/devices/{}/tools/get_system_overview", d.id);
    for _ in 0..2 {
        let r = lab.app.post(&token, &path, json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let r = lab.app.post(&token, &path, json!({})).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.body);
    assert_eq!(r.code(), "rate_limited");
    assert_eq!(r.headers["retry-after"], "1800");
    // The same budget holds over MCP.
    let args = json!({"device_id": d.id}).to_string();
    let url = format!("{}/mcp", lab.app.base);
    let r = testkit::mcp::run(&url, &token, &["call_tool", "get_system_overview", &args])
        .await
        .unwrap();
    assert_eq!(r["is_error"], true, "{r}");
    assert!(r["text"].as_str().unwrap().contains("rate_limited"), "{r}");
    // Other tools are not held back.
    let r = lab
        .app
        .post(
            &token,
            &format!("/api/v1/devices/{}/tools/get_system_clock", d.id),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}
