//! The audit trail and compliance reports over HTTP: auditors list their
//! tenant's events with filters and cursors, verify the hash chain and see
//! tampering reported, and download reports whose chain head the verify
//! API confirms. Only `audit:read` opens the trail and `compliance:read` the
//! reports, and only on one's own tenant.
//!
//! Events are produced by real REST calls. The audit pipeline decides how
//! many events one request makes, so counts of REST-made events are lower
//! bounds and events are picked out by user, operation or tool.

use kernel::{Environment, TenantId};
use rbac::BuiltinRole as R;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tenancy::{OrgUnit, Scope, Tenant, User};
use testkit::{Reply, TestApp, TestDatabase};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const EVENTS: &str = "/api/v1/audit/events";
const VERIFY: &str = "/api/v1/audit/verify";
const PRODUCTION_CHANGES: &str = "/api/v1/compliance/reports/production-changes";
const DENIALS: &str = "/api/v1/compliance/reports/denials";
const TOP_USERS: &str = "/api/v1/compliance/reports/top-users";

/// A tenant with an auditor (an approver over the whole tenant: `audit:read`,
/// `compliance:read`) and a member (no `audit:read`) who does the work.
struct Audited {
    app: TestApp,
    tenant: Tenant,
    team: OrgUnit,
    auditor: String,
    member: User,
    member_token: String,
}

async fn audited() -> Audited {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("audited").await;
    let team = app.team(&tenant, "core").await;
    let (_, auditor) = app
        .user(tenant.id, &[(R::Approver, Scope::Tenant(tenant.id))])
        .await;
    let (member, member_token) = app
        .user(tenant.id, &[(R::Member, Scope::Team(team.id.into()))])
        .await;
    Audited {
        app,
        tenant,
        team,
        auditor,
        member,
        member_token,
    }
}

impl Audited {
    /// The member creates `n` sites, one request each; returns their ids.
    async fn member_creates_sites(&self, n: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for i in 0..n {
            let r = self
                .app
                .post(
                    &self.member_token,
                    "/api/v1/sites",
                    json!({"name": format!("site-{i}-{}", testkit::short_id()), "team_id": self.team.id}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
            ids.push(r.str("id"));
        }
        ids
    }

    /// A page of events as the auditor sees it.
    async fn events(&self, query: &[(&str, &str)]) -> Reply {
        get(&self.app, &self.auditor, EVENTS, query).await
    }

    /// Every event matching `query`, following the cursor to the end.
    async fn all_events(&self, query: &[(&str, &str)]) -> Vec<Value> {
        all_events(&self.app, &self.auditor, query).await
    }

    async fn verify(&self, query: &[(&str, &str)]) -> Value {
        let r = get(&self.app, &self.auditor, VERIFY, query).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body
    }
}

/// `path` with `query`, encoded.
fn url(path: &str, query: &[(&str, &str)]) -> String {
    if query.is_empty() {
        return path.to_owned();
    }
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    format!("{path}?{q}")
}

async fn get(app: &TestApp, token: &str, path: &str, query: &[(&str, &str)]) -> Reply {
    app.get(token, &url(path, query)).await
}

async fn all_events(app: &TestApp, token: &str, query: &[(&str, &str)]) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = query.to_vec();
        if let Some(c) = &cursor {
            q.push(("cursor", c));
        }
        let r = get(app, token, EVENTS, &q).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        items.extend(r.body["items"].as_array().unwrap().iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap()
}

/// `at` to the microsecond, the precision the trail keeps and reports
/// state their ranges in.
fn micros(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(at.nanosecond() / 1000 * 1000)
        .unwrap()
}

fn at_of(event: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(event["at"].as_str().unwrap(), &Rfc3339).unwrap()
}

fn seqs(items: &[Value]) -> Vec<i64> {
    items.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

fn with_operation<'a>(items: &'a [Value], op: &str) -> Vec<&'a Value> {
    items.iter().filter(|e| e["operation"] == op).collect()
}

fn is_hash(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Runs `sql` against the app's database, as someone with database access
/// would to cover their tracks.
async fn tamper(app: &TestApp, sql: &str) {
    let changed = app.state.db.execute_unprepared(sql).await.unwrap();
    assert!(changed > 0, "{sql} changed nothing");
}

/// An SQL predicate naming the tenant's chain: SQLite keeps uuids as
/// 16-byte blobs, PostgreSQL as `uuid`.
fn chain_is(app: &TestApp, t: TenantId) -> String {
    match app.backend {
        TestDatabase::Sqlite => format!("chain = x'{}'", t.uuid().simple()),
        TestDatabase::Postgres => format!("chain = '{}'", t.uuid()),
    }
}

// ---- the event list ------------------------------------------------------

#[tokio::test]
async fn events_are_listed_newest_first_with_their_place_in_the_chain() {
    let w = audited().await;
    w.member_creates_sites(3).await;

    let page = w.events(&[]).await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    let items = page.body["items"].as_array().unwrap();
    let s = seqs(items);
    assert!(s.windows(2).all(|p| p[0] > p[1]), "newest first: {s:?}");
    assert_eq!(*s.last().unwrap(), 1, "the tenant's chain starts at 1");
    for e in items {
        assert_eq!(e["tenant_id"], json!(w.tenant.id.uuid()));
        assert!(is_hash(&e["hash"]) && is_hash(&e["prev_hash"]), "{e}");
    }
    for pair in items.windows(2) {
        assert_eq!(
            pair[0]["prev_hash"], pair[1]["hash"],
            "each event links to the one before it"
        );
    }

    let mine = w.all_events(&[("user_id", &w.member.id.to_string())]).await;
    let created = with_operation(&mine, "createSite");
    assert!(created.len() >= 3, "{mine:?}");
    let e = created[0];
    assert_eq!(e["user_email"], json!(w.member.email));
    assert_eq!(e["decision"], "allow");
    assert_eq!(e["result"], "success");
    assert_eq!(e["effect"], "write");
    assert_eq!(e["actor"], "api_token");
    assert_eq!(e["action"], "site:create");
}

#[tokio::test]
async fn filters_narrow_the_list_and_every_filter_must_match() {
    let w = audited().await;
    let member = w.member.id.to_string();
    let site = w.app.site(w.tenant.id, &w.team, "hq").await;
    let device = w.app.device(w.tenant.id, &site, Environment::Lab).await;
    let device_id = device.id.to_string();

    w.member_creates_sites(2).await;
    let before_the_rest = micros(w.app.state.clock.now());
    // Refused: a member may not publish.
    let r = w
        .app
        .post(
            &w.member_token,
            &format!("/api/v1/sites/{}/publish", site.id),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = w
        .app
        .get(&w.member_token, &format!("/api/v1/devices/{device_id}"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // A tool call that passes RBAC and fails on its input.
    let r = w
        .app
        .post(
            &w.member_token,
            &format!("/api/v1/devices/{device_id}/tools/get_route"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);

    let denied = w
        .all_events(&[("user_id", &member), ("decision", "deny")])
        .await;
    assert!(
        !with_operation(&denied, "publishSite").is_empty(),
        "{denied:?}"
    );
    assert!(
        denied
            .iter()
            .all(|e| e["decision"] == "deny" && e["user_id"] == json!(member))
    );

    let succeeded = w
        .all_events(&[("user_id", &member), ("result", "success")])
        .await;
    assert!(with_operation(&succeeded, "createSite").len() >= 2);
    assert!(succeeded.iter().all(|e| e["result"] == "success"));
    assert!(with_operation(&succeeded, "publishSite").is_empty());

    let on_device = w.all_events(&[("device_id", &device_id)]).await;
    assert!(
        !with_operation(&on_device, "getDevice").is_empty(),
        "{on_device:?}"
    );
    assert!(on_device.iter().all(|e| e["device_id"] == json!(device_id)));

    let tool = w.all_events(&[("tool_name", "get_route")]).await;
    assert!(!tool.is_empty());
    assert!(tool.iter().all(|e| e["tool_name"] == "get_route"));
    assert!(
        w.all_events(&[("tool_name", "no_such_tool")])
            .await
            .is_empty()
    );

    let since = rfc3339(before_the_rest);
    let later = w
        .all_events(&[("user_id", &member), ("from", &since)])
        .await;
    assert!(later.iter().all(|e| at_of(e) >= before_the_rest));
    assert!(with_operation(&later, "createSite").is_empty(), "{later:?}");
    assert!(!with_operation(&later, "publishSite").is_empty());
    let earlier = w.all_events(&[("user_id", &member), ("to", &since)]).await;
    assert!(earlier.iter().all(|e| at_of(e) < before_the_rest));
    assert!(with_operation(&earlier, "createSite").len() >= 2);
    assert!(with_operation(&earlier, "publishSite").is_empty());
}

#[tokio::test]
async fn pages_follow_the_cursor_without_gaps_or_repeats() {
    let w = audited().await;
    let member = w.member.id.to_string();
    w.member_creates_sites(7).await;

    let everything = w.events(&[("user_id", &member), ("limit", "500")]).await;
    assert!(
        everything.body["next_cursor"].is_null(),
        "one page holds all"
    );
    let expected = seqs(everything.body["items"].as_array().unwrap());
    assert!(expected.len() >= 7);

    let first = w.events(&[("user_id", &member), ("limit", "3")]).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 3);
    assert!(first.body["next_cursor"].is_string());

    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = vec![("user_id", member.as_str()), ("limit", "3")];
        if let Some(c) = &cursor {
            q.push(("cursor", c));
        }
        let page = w.events(&q).await;
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        walked.extend(seqs(items));
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    // Later requests (the auditor's own) are newer than the first page's
    // cursor, so they never slip in.
    assert_eq!(walked, expected);
}

// ---- who may read the trail ------------------------------------------------

#[tokio::test]
async fn a_member_without_audit_read_is_refused_everywhere_and_that_is_recorded() {
    let w = audited().await;
    for path in [EVENTS, VERIFY, PRODUCTION_CHANGES, DENIALS, TOP_USERS] {
        let r = w.app.get(&w.member_token, path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {:?}", r.body);
        assert!(r.is_problem(), "{path}");
        assert_eq!(r.code(), "missing_permission", "{path}");
    }
    let csv = get(
        &w.app,
        &w.member_token,
        PRODUCTION_CHANGES,
        &[("format", "csv")],
    )
    .await;
    assert_eq!(csv.status, StatusCode::FORBIDDEN);
    assert!(csv.is_problem());

    let refused = w
        .all_events(&[("user_id", &w.member.id.to_string()), ("decision", "deny")])
        .await;
    for (op, permission) in [
        ("listAuditEvents", "audit:read"),
        ("verifyAuditChain", "audit:read"),
        ("productionChangesReport", "compliance:read"),
        ("denialsReport", "compliance:read"),
        ("topUsersReport", "compliance:read"),
    ] {
        let e = with_operation(&refused, op);
        assert!(!e.is_empty(), "{op} refusal is in the trail: {refused:?}");
        assert_eq!(e[0]["action"], permission);
    }
}

#[tokio::test]
async fn another_tenants_events_never_appear() {
    let w = audited().await;
    let other = w.app.tenant("other").await;
    let other_team = w.app.team(&other, "x").await;
    let (stranger, stranger_token) = w
        .app
        .user(
            other.id,
            &[(R::TeamAdmin, Scope::Team(other_team.id.into()))],
        )
        .await;
    let r = w
        .app
        .post(
            &stranger_token,
            "/api/v1/sites",
            json!({"name": "theirs", "team_id": other_team.id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    w.member_creates_sites(1).await;

    let ours = w.all_events(&[]).await;
    assert!(!ours.is_empty());
    assert!(
        ours.iter()
            .all(|e| e["tenant_id"] == json!(w.tenant.id.uuid())),
        "{ours:?}"
    );
    let theirs = w.all_events(&[("user_id", &stranger.id.to_string())]).await;
    assert!(theirs.is_empty(), "{theirs:?}");

    // The stranger, an auditor of its own tenant, sees only its own.
    let seen = all_events(&w.app, &stranger_token, &[]).await;
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|e| e["tenant_id"] == json!(other.id.uuid()))
    );
    assert!(
        all_events(
            &w.app,
            &stranger_token,
            &[("user_id", &w.member.id.to_string())]
        )
        .await
        .is_empty()
    );
}

#[tokio::test]
async fn malformed_cursors_and_filters_are_problems_not_errors() {
    let w = audited().await;
    let forged = base64_url("seq:0");
    /// A path, its query, and the problem code it must answer with.
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (EVENTS, vec![("cursor", "not-a-cursor")], "invalid_cursor"),
        (EVENTS, vec![("cursor", "")], "invalid_cursor"),
        (EVENTS, vec![("cursor", &forged)], "invalid_cursor"),
        (EVENTS, vec![("decision", "maybe")], "invalid_request"),
        (EVENTS, vec![("result", "ok")], "invalid_request"),
        (EVENTS, vec![("user_id", "bob")], "invalid_request"),
        (EVENTS, vec![("device_id", "1")], "invalid_request"),
        (EVENTS, vec![("from", "yesterday")], "invalid_request"),
        (EVENTS, vec![("limit", "0")], "invalid_request"),
        (EVENTS, vec![("limit", "501")], "invalid_request"),
        (EVENTS, vec![("limit", "-1")], "invalid_request"),
        (EVENTS, vec![("tool_name", "")], "invalid_request"),
        (
            EVENTS,
            vec![
                ("from", "2026-02-01T00:00:00Z"),
                ("to", "2026-01-01T00:00:00Z"),
            ],
            "invalid_range",
        ),
        (
            VERIFY,
            vec![
                ("from", "2026-02-01T00:00:00Z"),
                ("to", "2026-01-01T00:00:00Z"),
            ],
            "invalid_range",
        ),
        (
            VERIFY,
            vec![("to", "2026-13-01T00:00:00Z")],
            "invalid_request",
        ),
        (
            PRODUCTION_CHANGES,
            vec![("format", "xml")],
            "invalid_request",
        ),
        (
            PRODUCTION_CHANGES,
            vec![
                ("from", "2026-02-01T00:00:00Z"),
                ("to", "2026-01-01T00:00:00Z"),
            ],
            "invalid_range",
        ),
        (
            DENIALS,
            vec![
                ("from", "9999-12-31T23:59:59Z"),
                ("to", "2026-01-01T00:00:00Z"),
            ],
            "invalid_range",
        ),
        (
            TOP_USERS,
            vec![("to", "0000-01-01T00:00:00+01:00")],
            "invalid_range",
        ),
        (
            TOP_USERS,
            vec![("to", "0000-01-10T00:00:00Z")],
            "invalid_range",
        ),
        (TOP_USERS, vec![("limit", "0")], "invalid_request"),
        (TOP_USERS, vec![("limit", "1001")], "invalid_request"),
    ];
    for (path, query, code) in cases {
        let r = get(&w.app, &w.auditor, path, &query).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{path} {query:?}: {:?}",
            r.body
        );
        assert!(r.is_problem(), "{path} {query:?}");
        assert_eq!(r.code(), code, "{path} {query:?}: {:?}", r.body);
    }
}

#[tokio::test]
async fn the_extremes_of_time_are_valid_ranges() {
    let w = audited().await;
    let all_time = [
        ("from", "0000-01-01T00:00:00Z"),
        ("to", "9999-12-31T23:59:59.999999999Z"),
    ];
    for path in [EVENTS, VERIFY, PRODUCTION_CHANGES, DENIALS, TOP_USERS] {
        let r = get(&w.app, &w.auditor, path, &all_time).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
    }
    let r = get(
        &w.app,
        &w.auditor,
        TOP_USERS,
        &[("to", "0000-02-01T00:00:00Z")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

fn base64_url(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

// ---- verification -----------------------------------------------------------

#[tokio::test]
async fn a_clean_chain_verifies() {
    let w = audited().await;
    w.member_creates_sites(3).await;
    let v = w.verify(&[]).await;
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["first_break"].is_null());
    assert_eq!(v["first_seq"], 1);
    assert!(v["checked"].as_u64().unwrap() >= 3);
    assert_eq!(v["checked"].as_i64(), v["last_seq"].as_i64());
    assert!(is_hash(&v["head"]));

    let newest = &w.events(&[("limit", "1")]).await.body["items"][0];
    let v = w
        .verify(&[(
            "to",
            &rfc3339(at_of(newest) + time::Duration::microseconds(1)),
        )])
        .await;
    assert_eq!(v["ok"], true);
    assert_eq!(v["last_seq"], newest["seq"]);
    assert_eq!(
        v["head"], newest["hash"],
        "the head is the range's last hash"
    );

    let empty = w
        .verify(&[
            ("from", "2000-01-01T00:00:00Z"),
            ("to", "2000-01-02T00:00:00Z"),
        ])
        .await;
    assert_eq!(empty["ok"], true);
    assert_eq!(empty["checked"], 0);
    assert!(empty["first_seq"].is_null());
}

#[tokio::test]
async fn an_edited_event_is_reported_as_altered() {
    let w = audited().await;
    w.member_creates_sites(3).await;
    let created = w.all_events(&[("user_id", &w.member.id.to_string())]).await;
    let created = with_operation(&created, "createSite");
    // The oldest of the three, and the newest, after it.
    let edited = created[created.len() - 1];
    let after = created[0];
    let seq = edited["seq"].as_i64().unwrap();

    tamper(
        &w.app,
        &format!(
            "UPDATE audit_events SET reason = 'nothing happened' WHERE {} AND seq = {seq}",
            chain_is(&w.app, w.tenant.id)
        ),
    )
    .await;

    let v = w.verify(&[]).await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["first_break"]["seq"], seq);
    assert_eq!(v["first_break"]["problem"], "altered");
    assert_eq!(v["first_break"]["event_id"], edited["id"]);
    assert!(!v["first_break"]["detail"].as_str().unwrap().is_empty());
    assert_eq!(v["checked"].as_i64(), Some(seq - 1), "rows before it held");

    // A range that starts after the edit still holds.
    let v = w.verify(&[("from", &rfc3339(at_of(after)))]).await;
    assert_eq!(v["ok"], true, "{v}");
}

#[tokio::test]
async fn a_deleted_event_is_reported_as_missing() {
    let w = audited().await;
    w.member_creates_sites(3).await;
    let created = w.all_events(&[("user_id", &w.member.id.to_string())]).await;
    let created = with_operation(&created, "createSite");
    let seq = created[created.len() - 1]["seq"].as_i64().unwrap();

    tamper(
        &w.app,
        &format!(
            "DELETE FROM audit_events WHERE {} AND seq = {seq}",
            chain_is(&w.app, w.tenant.id)
        ),
    )
    .await;

    let v = w.verify(&[]).await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(
        v["first_break"]["problem"], "missing",
        "the row after the gap no longer follows: {v}"
    );
    assert_eq!(v["first_break"]["seq"], seq + 1);
}

// ---- reports ------------------------------------------------------------------

impl Audited {
    /// A team lead of the team, who may change its devices.
    async fn lead(&self) -> (User, String) {
        self.app
            .user(
                self.tenant.id,
                &[(R::TeamLead, Scope::Team(self.team.id.into()))],
            )
            .await
    }

    /// Tags `device` as `token`; returns the status.
    async fn tag(&self, token: &str, device: &tenancy::Device, rack: &str) -> StatusCode {
        self.app
            .patch(
                token,
                &format!("/api/v1/devices/{}", device.id),
                json!({"tags": {"rack": rack}}),
            )
            .await
            .status
    }
}

async fn download(
    w: &Audited,
    token: &str,
    path: &str,
    query: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let resp = w
        .app
        .client
        .get(format!("{}{}", w.app.base, url(path, query)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

#[tokio::test]
async fn production_changes_come_as_json_and_csv_with_a_head_that_verifies() {
    let w = audited().await;
    let site = w.app.site(w.tenant.id, &w.team, "hq").await;
    let prod = w.app.device(w.tenant.id, &site, Environment::Prod).await;
    let lab = w.app.device(w.tenant.id, &site, Environment::Lab).await;
    let (lead, lead_token) = w.lead().await;

    let from = micros(w.app.state.clock.now());
    assert_eq!(w.tag(&lead_token, &prod, "a1").await, StatusCode::OK);
    assert_eq!(w.tag(&lead_token, &lab, "a1").await, StatusCode::OK);
    // Refused, so not a change: members may not change devices.
    assert_eq!(
        w.tag(&w.member_token, &prod, "b1").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(w.tag(&lead_token, &prod, "a2").await, StatusCode::OK);
    let to = micros(w.app.state.clock.now() + time::Duration::milliseconds(1));
    let (from, to) = (rfc3339(from), rfc3339(to));
    let range = [("from", from.as_str()), ("to", to.as_str())];

    let (status, headers, text) = download(&w, &w.auditor, PRODUCTION_CHANGES, &range).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers.get("content-disposition").is_none());
    let head = headers["x-audit-chain-head"].to_str().unwrap().to_owned();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["report"], "production_changes");
    assert_eq!(doc["chain_head"], json!(head));
    assert_eq!(doc["tenant_id"], json!(w.tenant.id.uuid()));
    let stated = |key: &str| OffsetDateTime::parse(doc[key].as_str().unwrap(), &Rfc3339).unwrap();
    assert_eq!(
        (rfc3339(stated("from")), rfc3339(stated("to"))),
        (from.clone(), to.clone()),
        "the body states the range used"
    );
    let events = doc["events"].as_array().unwrap();
    assert!(events.len() >= 2, "{text}");
    for e in events {
        assert_eq!(
            e["device_id"],
            json!(prod.id),
            "only the production device: {e}"
        );
        assert_eq!(e["environment"], "prod");
        assert_eq!(e["operation"], "updateDevice");
        assert_eq!(e["decision"], "allow");
        assert_eq!(e["user_id"], json!(lead.id));
    }
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|p| p[0] < p[1]),
        "oldest first: {seqs:?}"
    );
    assert_eq!(doc["summary"]["total"], json!(events.len()));
    assert_eq!(doc["summary"]["by_user"][0]["user_id"], json!(lead.id));

    // What an auditor does later: verify the same range, compare heads.
    let v = w.verify(&range).await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["head"], json!(head));
    assert!(
        v["checked"].as_u64().unwrap() >= 4,
        "every request of the range: {v}"
    );

    let csv_range = [range[0], range[1], ("format", "csv")];
    let (status, headers, text) = download(&w, &w.auditor, PRODUCTION_CHANGES, &csv_range).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(headers["x-audit-chain-head"], head.as_str());
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"production-changes_")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], compliance::EVENT_COLUMNS.join(","));
    assert_eq!(lines.len(), 1 + events.len(), "one row per event: {text}");
    for (line, e) in lines[1..].iter().zip(events) {
        assert!(line.contains(e["id"].as_str().unwrap()), "{line}");
        assert!(line.contains(&prod.id.to_string()), "{line}");
    }
}

#[tokio::test]
async fn a_report_without_a_range_covers_the_last_30_days_up_to_now() {
    let w = audited().await;
    let r = w.app.get(&w.auditor, PRODUCTION_CHANGES).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let from = OffsetDateTime::parse(r.body["from"].as_str().unwrap(), &Rfc3339).unwrap();
    let to = OffsetDateTime::parse(r.body["to"].as_str().unwrap(), &Rfc3339).unwrap();
    assert_eq!(to - from, time::Duration::days(30));
    assert!((w.app.state.clock.now() - to).abs() < time::Duration::minutes(1));
    assert_eq!(r.body["events"], json!([]));
    assert_eq!(
        r.headers["x-audit-chain-head"].to_str().unwrap(),
        r.body["chain_head"].as_str().unwrap()
    );
}

#[tokio::test]
async fn denials_and_top_users_count_the_members_requests() {
    let w = audited().await;
    let member = json!(w.member.id);
    w.member_creates_sites(2).await;
    let site = w.app.site(w.tenant.id, &w.team, "hq").await;
    let r = w
        .app
        .post(
            &w.member_token,
            &format!("/api/v1/sites/{}/publish", site.id),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let denials = w.app.get(&w.auditor, DENIALS).await;
    assert_eq!(denials.status, StatusCode::OK, "{:?}", denials.body);
    assert_eq!(denials.body["report"], "denials");
    let rows = denials.body["rows"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["user_id"] == member && r["count"].as_u64() >= Some(1)),
        "{rows:?}"
    );

    let top = get(&w.app, &w.auditor, TOP_USERS, &[("limit", "1")]).await;
    assert_eq!(top.status, StatusCode::OK, "{:?}", top.body);
    let rows = top.body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["user_id"], member, "the member made every change");
    assert!(rows[0]["changes"].as_u64() >= Some(2));

    let (status, headers, text) = download(&w, &w.auditor, DENIALS, &[("format", "csv")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.contains_key("x-audit-chain-head"));
    assert_eq!(text.lines().next(), Some("user_id,user_email,reason,count"));
    assert!(text.contains(&w.member.email));
}

#[tokio::test]
async fn reports_cover_only_the_callers_tenant() {
    let w = audited().await;
    let site = w.app.site(w.tenant.id, &w.team, "hq").await;
    let prod = w.app.device(w.tenant.id, &site, Environment::Prod).await;
    let (_, lead_token) = w.lead().await;
    assert_eq!(w.tag(&lead_token, &prod, "a1").await, StatusCode::OK);
    let other = w.app.tenant("other").await;
    let (_, outsider) = w
        .app
        .user(other.id, &[(R::OrgAdmin, Scope::Tenant(other.id))])
        .await;

    let r = w.app.get(&outsider, PRODUCTION_CHANGES).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["tenant_id"], json!(other.id.uuid()));
    assert_eq!(r.body["events"], json!([]));
    let r = w.app.get(&w.auditor, PRODUCTION_CHANGES).await;
    assert!(!r.body["events"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_team_admin_sees_what_its_team_did_and_nothing_tenant_wide() {
    let w = audited().await;
    let other_team = w.app.team(&w.tenant, "elsewhere").await;
    let (_, lead) = w
        .app
        .user(
            w.tenant.id,
            &[(R::TeamAdmin, Scope::Team(w.team.id.into()))],
        )
        .await;
    let (outsider, outsider_token) = w
        .app
        .user(
            w.tenant.id,
            &[(R::Member, Scope::Team(other_team.id.into()))],
        )
        .await;
    w.member_creates_sites(2).await;
    let r = w
        .app
        .post(
            &outsider_token,
            "/api/v1/sites",
            json!({"name": "not-ours", "team_id": other_team.id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);

    let r = get(&w.app, &lead, EVENTS, &[("limit", "500")]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let seen = r.body["items"].as_array().unwrap().clone();
    let by = |id: String| seen.iter().filter(|e| e["user_id"] == json!(id)).count();
    assert!(by(w.member.id.to_string()) >= 2, "{seen:?}");
    assert_eq!(by(outsider.id.to_string()), 0, "{seen:?}");
    // The auditor over the whole tenant sees the outsider too.
    let all = w.all_events(&[("user_id", &outsider.id.to_string())]).await;
    assert!(!all.is_empty());

    // Verification and reports span the tenant: a team is not enough.
    for path in [VERIFY, PRODUCTION_CHANGES] {
        let r = w.app.get(&lead, path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {:?}", r.body);
    }
}
