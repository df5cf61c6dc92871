//! A plan apply on the record: every device it touches has an intent before
//! the change and an outcome after, each with the device's environment, so
//! an applied plan on a prod device is among the production changes.

use crate::lab::lab;
use kernel::Environment;
use rbac::BuiltinRole as R;
use reqwest::StatusCode;
use serde_json::json;
use tenancy::{Capabilities, Scope};

fn routing() -> Capabilities {
    Capabilities {
        allow_advanced_writes: true,
        allow_professional_workflows: true,
        allow_routing_writes: true,
        ..Capabilities::default()
    }
}

#[tokio::test]
async fn an_applied_plan_records_every_device_and_its_prod_devices_are_production_changes() {
    let lab = lab().await;
    let prod = lab.device("r-prod", Environment::Prod, routing()).await;
    let test = lab.device("r-lab", Environment::Lab, routing()).await;
    let admin = lab.user(R::Admin).await;
    let (_, auditor) = lab
        .app
        .user(lab.tenant, &[(R::Approver, Scope::Tenant(lab.tenant))])
        .await;

    let r = lab
        .app
        .post(
            &admin,
            "/api/v1/tools/plan_add_static_route",
            json!({"device_ids": [prod.id, test.id], "dst_address": "172.16.60.0/24",
                   "gateway": "10.0.1.1", "comment": "both"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let plan_id = r.body["data"]["plan_id"].as_str().unwrap().to_owned();
    let token = r.body["data"]["confirmation_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = lab
        .app
        .post(
            &admin,
            "/api/v1/tools/apply_routing_plan",
            json!({"plan_id": plan_id, "confirmation_token": token}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["status"], "completed", "{}", r.body);

    let events = lab.app.state.db.audit_events(lab.tenant).await.unwrap();
    let plan = uuid::Uuid::parse_str(&plan_id).unwrap();
    for (d, env) in [(prod.id, "prod"), (test.id, "lab")] {
        let of: Vec<_> = events
            .iter()
            .filter(|e| e.device_id == Some(d.uuid()) && e.approval_request_id == Some(plan))
            .filter(|e| e.operation == "rest:apply_routing_plan")
            .collect();
        let results: Vec<_> = of.iter().map(|e| e.result.as_str()).collect();
        assert_eq!(results, ["pending", "success"], "{env}: {of:#?}");
        assert_eq!(of[1].intent_id, Some(of[0].id));
        assert!(of.iter().all(|e| e.environment.as_deref() == Some(env)));
    }

    let report = lab
        .app
        .get(&auditor, "/api/v1/compliance/reports/production-changes")
        .await;
    assert_eq!(report.status, StatusCode::OK, "{:?}", report.body);
    let applied: Vec<_> = report.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["operation"] == "rest:apply_routing_plan")
        .collect();
    // The prod device's intent and outcome; nothing of the lab device.
    assert!(
        applied.iter().all(|e| e["device_id"] == json!(prod.id)),
        "{applied:#?}"
    );
    let results: Vec<_> = applied.iter().map(|e| e["result"].clone()).collect();
    assert_eq!(results, [json!("pending"), json!("success")]);
}
