//! Identity against a real OpenID Connect provider (the npm package
//! `oidc-provider`, started per test): browser login with PKCE, sessions,
//! CSRF, refresh, logout with revocation, bearer JWTs, RFC 9728 metadata,
//! and every hostile case the issue lists, each refused with the right 4xx
//! and no session.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use kernel::{Clock, ManualClock, SystemClock};
use rbac::BuiltinRole;
use reqwest::{Method, StatusCode, header};
use rosgate::config::{OidcConfig, ProvisioningConfig};
use serde_json::{Value, json};
use std::sync::Arc;
use tenancy::service::NewInvitation;
use tenancy::{IdentityError, IdentityProvider, Scope};
use testkit::idp::{IdpAccount, IdpBrowser, IdpClaims, IdpOptions, TestIdp};
use testkit::{TestApp, TestDatabase, redis_url, reserve};
use time::Duration;
use uuid::Uuid;

/// The tenant and team provisioning rules point at (fixed ids, created by the test).
const JIT_TENANT: Uuid = Uuid::from_u128(0x0194_0000_0000_7000_8000_0000_0000_00a1);
const JIT_TEAM: Uuid = Uuid::from_u128(0x0194_0000_0000_7000_8000_0000_0000_00a2);

struct World {
    app: TestApp,
    idp: TestIdp,
    /// A client that does not follow redirects and keeps no cookies.
    http: reqwest::Client,
    /// The `rosgate_login` cookie of the last login started, sent with callbacks.
    login_cookie: std::sync::Mutex<Option<String>>,
}

fn accounts() -> Vec<IdpAccount> {
    let mut eve = IdpAccount::new("eve", "bob@acme.test", "Eve", &[]);
    eve.email_verified = false;
    vec![
        IdpAccount::new("bob", "bob@acme.test", "Bob Builder", &["staff"]),
        IdpAccount::new("alice", "alice@acme.test", "Alice", &[]),
        IdpAccount::new("carol", "carol@jit.test", "Carol", &["netops", "staff"]),
        IdpAccount::new("mallory", "mallory@nowhere.test", "Mallory", &["staff"]),
        IdpAccount::new("root", "root@acme.test", "Root", &["netops"]),
        IdpAccount::new("boss", "boss@acme.test", "Boss", &["netops"]),
        // A second account at the provider with bob's verified email.
        IdpAccount::new("bob-twin", "bob@acme.test", "Bob Twin", &["staff"]),
        // kate@acme.test with a Kelvin sign, which Unicode lowercases to k.
        IdpAccount::new("kelvin", "\u{212A}ate@acme.test", "Kelvin", &["netops"]),
        eve,
    ]
}

async fn world() -> World {
    world_with(|_| {}).await
}

async fn world_with(extra: impl FnOnce(&mut rosgate::Config)) -> World {
    world_where(IdpClaims::IdToken, extra).await
}

async fn world_where(claims: IdpClaims, extra: impl FnOnce(&mut rosgate::Config)) -> World {
    world_full(claims, Arc::new(SystemClock), extra).await
}

/// The usual world on `clock`.
async fn world_clocked(clock: Arc<ManualClock>) -> World {
    world_full(IdpClaims::IdToken, clock, |_| {}).await
}

async fn world_full(
    claims: IdpClaims,
    clock: Arc<dyn Clock>,
    extra: impl FnOnce(&mut rosgate::Config),
) -> World {
    let (listener, base) = reserve().await;
    let idp = TestIdp::start(IdpOptions {
        redirect_uri: format!("{base}/auth/callback"),
        post_logout_redirect_uri: format!("{base}/"),
        resource: base.clone(),
        accounts: accounts(),
        claims,
    })
    .await;
    let oidc = OidcConfig {
        issuer: idp.issuer.clone(),
        client_id: idp.client_id.clone(),
        client_secret: Some(idp.client_secret.clone()),
        redirect_uri: None,
        scopes: [
            "openid",
            "email",
            "profile",
            "offline_access",
            "rosgate:read",
            "rosgate:write",
        ]
        .map(String::from)
        .to_vec(),
        audience: None,
        resource_indicator: true,
        prompt: Some("consent".into()),
        post_logout_redirect_uri: Some(format!("{base}/")),
        provisioning: vec![ProvisioningConfig {
            claim: "groups".into(),
            value: "netops".into(),
            tenant: JIT_TENANT.to_string(),
            unit: Some(JIT_TEAM.to_string()),
            role: "member".into(),
            environments: None,
        }],
        read_scopes: rosgate::config::default_read_scopes(),
        write_scopes: rosgate::config::default_write_scopes(),
    };
    let app = TestApp::spawn_clocked(
        TestDatabase::from_env(),
        (listener, base),
        |c| {
            c.oidc = Some(oidc);
            extra(c);
        },
        clock,
    )
    .await;
    // bob exists; alice is invited.
    let acme = app.tenant("acme").await;
    app.state
        .tenancy
        .create_user(acme.id, "bob@acme.test", "Bob", false)
        .await
        .unwrap();
    let (admin, _) = app
        .user(acme.id, &[(BuiltinRole::OrgAdmin, Scope::Tenant(acme.id))])
        .await;
    app.state
        .tenancy
        .invite(
            acme.id,
            admin.id,
            NewInvitation {
                email: "alice@acme.test".into(),
                role_id: BuiltinRole::ReadOnly.id(),
                scope: Scope::Tenant(acme.id),
                environments: None,
                ttl: Duration::days(1),
            },
        )
        .await
        .unwrap();
    // The tenant and team the provisioning rule names.
    let repo = app.state.tenancy.repo();
    let now = SystemClock.now();
    repo.insert_tenant(&tenancy::Tenant {
        id: JIT_TENANT.into(),
        name: "jit".into(),
        created_at: now,
    })
    .await
    .unwrap();
    for (id, kind, parent) in [
        (
            Uuid::from_u128(JIT_TEAM.as_u128() - 2),
            tenancy::UnitKind::Division,
            JIT_TENANT,
        ),
        (
            Uuid::from_u128(JIT_TEAM.as_u128() - 1),
            tenancy::UnitKind::Group,
            Uuid::from_u128(JIT_TEAM.as_u128() - 2),
        ),
        (
            JIT_TEAM,
            tenancy::UnitKind::Team,
            Uuid::from_u128(JIT_TEAM.as_u128() - 1),
        ),
    ] {
        repo.insert_unit(&tenancy::OrgUnit {
            id,
            tenant_id: JIT_TENANT.into(),
            kind,
            parent_id: parent,
            name: format!("{kind:?}"),
            created_at: now,
        })
        .await
        .unwrap();
    }
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    World {
        app,
        idp,
        http,
        login_cookie: std::sync::Mutex::default(),
    }
}

/// A logged-in browser: its cookie values.
#[derive(Debug, Clone)]
struct Browser {
    session: String,
    csrf: String,
}

impl Browser {
    fn cookie(&self) -> String {
        format!(
            "rosgate_session={}; rosgate_csrf={}",
            self.session, self.csrf
        )
    }
}

fn set_cookies(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

fn cookie_value(set: &[String], name: &str) -> Option<String> {
    set.iter().find_map(|c| {
        let first = c.split(';').next()?;
        let (k, v) = first.split_once('=')?;
        (k.trim() == name && !v.is_empty()).then(|| v.to_owned())
    })
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn query(url: &str, key: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

impl World {
    async fn start_login(&self) -> String {
        let resp = self
            .http
            .get(format!("{}/auth/login?return_to=/api/v1/me", self.app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let bound = cookie_value(&set_cookies(&resp), "rosgate_login");
        assert!(bound.is_some(), "the login is bound to the browser");
        *self.login_cookie.lock().unwrap() = bound;
        location(&resp)
    }

    /// Runs the callback URL against rosgate, from the browser that started
    /// the last login.
    async fn callback(&self, url: &str) -> reqwest::Response {
        let mut req = self.http.get(url);
        if let Some(c) = self.login_cookie.lock().unwrap().clone() {
            req = req.header(header::COOKIE, format!("rosgate_login={c}"));
        }
        req.send().await.unwrap()
    }

    /// Runs the callback URL from a browser that started no login.
    async fn callback_elsewhere(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.unwrap()
    }

    async fn login(&self, account: &str) -> Browser {
        let authorize = self.start_login().await;
        let back = IdpBrowser::new().login(&authorize, account).await;
        let resp = self.callback(&back).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{account} logs in");
        assert_eq!(
            location(&resp),
            "/api/v1/me",
            "back to where the login started"
        );
        let set = set_cookies(&resp);
        Browser {
            session: cookie_value(&set, "rosgate_session").expect("a session cookie"),
            csrf: cookie_value(&set, "rosgate_csrf").expect("a CSRF cookie"),
        }
    }

    async fn with_cookie(
        &self,
        b: &Browser,
        method: Method,
        path: &str,
        csrf: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.app.base))
            .header(header::COOKIE, b.cookie());
        if let Some(c) = csrf {
            req = req.header("x-csrf-token", c);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn with_bearer(&self, token: &str, method: Method, path: &str) -> reqwest::Response {
        self.http
            .request(method, format!("{}{path}", self.app.base))
            .bearer_auth(token)
            .json(&json!({"name": "t"}))
            .send()
            .await
            .unwrap()
    }

    /// The provider's tokens kept (sealed) in a browser's session.
    async fn session_tokens(&self, b: &Browser) -> tenancy::IdpTokens {
        let s = self
            .app
            .state
            .sessions
            .resume(&b.session)
            .await
            .unwrap()
            .expect("session alive");
        rosgate::web::login::open_tokens(&self.app.state, &s).expect("tokens open")
    }

    /// Mints a JWT with the provider's own signing key (or the stranger key).
    fn mint(&self, claims: Value, stranger: bool, kid: Option<&str>) -> String {
        let keys = &self.idp.keys;
        let pem = if stranger {
            &keys.stranger_pem
        } else {
            &keys.signing_pem
        };
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(kid.unwrap_or(&keys.kid).to_owned());
        jsonwebtoken::encode(
            &h,
            &claims,
            &EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    fn access_claims(&self, scope: &str) -> Value {
        let now = SystemClock.now().unix_timestamp();
        json!({
            "iss": self.idp.issuer, "sub": "bob", "aud": self.app.base,
            "iat": now, "exp": now + 300, "scope": scope, "email": "bob@acme.test",
            "email_verified": true,
        })
    }
}

#[tokio::test]
async fn a_browser_logs_in_with_pkce_and_uses_the_api_by_cookie() {
    let w = world().await;
    let authorize = w.start_login().await;
    // PKCE S256, state and nonce go to the provider's authorization endpoint.
    assert!(authorize.starts_with(&w.idp.issuer), "{authorize}");
    assert_eq!(
        query(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        query(&authorize, "code_challenge").map(|c| c.len()),
        Some(43)
    );
    assert_eq!(query(&authorize, "state").map(|s| s.len()), Some(64));
    assert_eq!(query(&authorize, "nonce").map(|s| s.len()), Some(64));
    assert_eq!(
        query(&authorize, "resource").as_deref(),
        Some(w.app.base.as_str())
    );

    let back = IdpBrowser::new().login(&authorize, "bob").await;
    let resp = w.callback(&back).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let set = set_cookies(&resp);
    let session_cookie = set
        .iter()
        .find(|c| c.starts_with("rosgate_session="))
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session_cookie.contains(attr), "{session_cookie} has {attr}");
    }
    let csrf_cookie = set.iter().find(|c| c.starts_with("rosgate_csrf=")).unwrap();
    assert!(
        !csrf_cookie.contains("HttpOnly"),
        "page scripts read the CSRF token"
    );
    let b = Browser {
        session: cookie_value(&set, "rosgate_session").unwrap(),
        csrf: cookie_value(&set, "rosgate_csrf").unwrap(),
    };

    let (status, me) = w
        .with_cookie(&b, Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(
        me["user"]["email"], "bob@acme.test",
        "matched to the existing user by email"
    );
    let session = w
        .app
        .state
        .sessions
        .resume(&b.session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.subject, "bob");
    assert_eq!(session.email, "bob@acme.test");
    assert_eq!(session.display_name, "Bob");

    // A state-changing request by cookie needs the CSRF token.
    let create = || Some(json!({"name": "laptop"}));
    let (status, p) = w
        .with_cookie(&b, Method::POST, "/api/v1/tokens", None, create())
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("csrf_failed"))
    );
    // The failure names the session's user, so it is audited.
    let bob = w
        .app
        .state
        .tenancy
        .repo()
        .user(session.user_id)
        .await
        .unwrap()
        .unwrap();
    let events = w.app.state.db.audit_events(bob.tenant_id).await.unwrap();
    let refused = events
        .iter()
        .find(|e| e.error_class.as_deref() == Some("csrf_failed"))
        .expect("the CSRF failure is audited");
    assert_eq!(
        (refused.decision.as_str(), refused.actor.as_str()),
        ("deny", "user")
    );
    assert_eq!(refused.user_email.as_deref(), Some("bob@acme.test"));
    let (status, _) = w
        .with_cookie(
            &b,
            Method::POST,
            "/api/v1/tokens",
            Some("not-the-token"),
            create(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, p) = w
        .with_cookie(&b, Method::POST, "/api/v1/tokens", Some(&b.csrf), create())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");

    // The session's access token is a bearer JWT for rosgate: same principal.
    let tokens = w.session_tokens(&b).await;
    let resp = w
        .with_bearer(&tokens.access_token, Method::GET, "/api/v1/me")
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["user"]["id"],
        me["user"]["id"]
    );
}

#[tokio::test]
async fn refresh_renews_tokens_and_logout_revokes_them_at_the_provider() {
    let w = world().await;
    let b = w.login("bob").await;
    let before = w.session_tokens(&b).await;
    let refresh = before.refresh_token.clone().expect("a refresh token");

    let refresh_call = |csrf: Option<String>| {
        let mut req = w
            .http
            .post(format!("{}/auth/refresh", w.app.base))
            .header(header::COOKIE, b.cookie());
        if let Some(c) = csrf {
            req = req.header("x-csrf-token", c);
        }
        req.send()
    };
    assert_eq!(
        refresh_call(None).await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "CSRF"
    );
    let resp = refresh_call(Some(b.csrf.clone())).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let after = w.session_tokens(&b).await;
    assert_ne!(
        after.access_token, before.access_token,
        "a new access token"
    );
    let (status, _) = w
        .with_cookie(&b, Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "the session goes on");

    let resp = w
        .http
        .post(format!("{}/auth/logout", w.app.base))
        .header(header::COOKIE, b.cookie())
        .header("x-csrf-token", &b.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let end_session = location(&resp);
    let meta = w.idp.discovery().await;
    assert!(
        end_session.starts_with(meta["end_session_endpoint"].as_str().unwrap()),
        "RP-initiated logout at the provider: {end_session}"
    );
    assert!(query(&end_session, "id_token_hint").is_some());
    let cleared = set_cookies(&resp);
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("rosgate_session=;") || c.starts_with("rosgate_session=\"\"")),
        "{cleared:?}"
    );

    // The session is gone ...
    let (status, _) = w
        .with_cookie(&b, Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // ... and the provider refuses the refresh tokens it had issued.
    let token_endpoint = meta["token_endpoint"].as_str().unwrap();
    for r in [refresh.as_str(), after.refresh_token.as_deref().unwrap()] {
        let resp = w
            .http
            .post(token_endpoint)
            .basic_auth(&w.idp.client_id, Some(&w.idp.client_secret))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", r)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            resp.json::<Value>().await.unwrap()["error"],
            "invalid_grant"
        );
    }
}

#[tokio::test]
async fn people_are_found_by_invitation_or_provisioning_rules_and_strangers_get_403() {
    let w = world().await;

    let alice = w.login("alice").await;
    let (_, me) = w
        .with_cookie(&alice, Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(
        me["user"]["email"], "alice@acme.test",
        "the invitation was accepted"
    );
    let user = w
        .app
        .state
        .tenancy
        .repo()
        .user_by_email("alice@acme.test")
        .await
        .unwrap()
        .unwrap();
    let bindings = w
        .app
        .state
        .rbac
        .repo()
        .bindings(user.tenant_id)
        .await
        .unwrap();
    assert!(
        bindings
            .iter()
            .any(|b| b.user_id == user.id && b.role_id == BuiltinRole::ReadOnly.id())
    );

    let carol = w.login("carol").await;
    let (_, me) = w
        .with_cookie(&carol, Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(
        me["user"]["tenant_id"],
        JIT_TENANT.to_string(),
        "provisioned by the groups rule"
    );
    let bindings = w
        .app
        .state
        .rbac
        .repo()
        .bindings(JIT_TENANT.into())
        .await
        .unwrap();
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].role_id, BuiltinRole::Member.id());
    assert_eq!(bindings[0].scope, Scope::Team(JIT_TEAM.into()));
    // Logging in again finds the same, linked user.
    let again = w.login("carol").await;
    let (_, me2) = w
        .with_cookie(&again, Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(me2["user"]["id"], me["user"]["id"]);

    // No invitation, no rule: a clear 403 page and no session.
    for (who, html) in [("mallory", true), ("eve", false)] {
        let authorize = w.start_login().await;
        let back = IdpBrowser::new().login(&authorize, who).await;
        let bound = w.login_cookie.lock().unwrap().clone().unwrap();
        let mut req = w
            .http
            .get(&back)
            .header(header::COOKIE, format!("rosgate_login={bound}"));
        if html {
            req = req.header(header::ACCEPT, "text/html");
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{who}");
        assert!(
            cookie_value(&set_cookies(&resp), "rosgate_session").is_none(),
            "{who}: no session"
        );
        let body = resp.text().await.unwrap();
        if html {
            assert!(body.contains("has no account here"), "{body}");
            assert!(body.contains("invitation"), "{body}");
        } else {
            // eve's provider says bob's address is unverified: it matches nobody.
            let p: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(p["code"], "not_provisioned");
        }
    }
}

#[tokio::test]
async fn people_sign_in_whether_the_provider_puts_claims_in_the_id_token_at_userinfo_or_by_the_claims_parameter()
 {
    for mode in [
        IdpClaims::IdToken,
        IdpClaims::UserInfo,
        IdpClaims::ClaimsParameter,
    ] {
        let w = world_where(mode, |_| {}).await;
        let authorize = w.start_login().await;
        assert_eq!(
            query(&authorize, "claims").is_some(),
            mode == IdpClaims::ClaimsParameter,
            "{mode:?}: the claims parameter only where the provider supports it"
        );
        // bob is found by his verified email, carol is provisioned by her
        // `groups`: both need claims a thin ID token does not carry.
        for (who, email) in [("bob", "bob@acme.test"), ("carol", "carol@jit.test")] {
            let b = w.login(who).await;
            let (status, me) = w
                .with_cookie(&b, Method::GET, "/api/v1/me", None, None)
                .await;
            assert_eq!(status, StatusCode::OK, "{mode:?} {who}: {me}");
            assert_eq!(me["user"]["email"], email, "{mode:?} {who}");
            // The session's access token is a JWT for rosgate's resource,
            // even where the login's own one was for UserInfo.
            let tokens = w.session_tokens(&b).await;
            let resp = w
                .with_bearer(&tokens.access_token, Method::GET, "/api/v1/me")
                .await;
            assert_eq!(resp.status(), StatusCode::OK, "{mode:?} {who}: bearer");
        }
    }
}

#[tokio::test]
async fn userinfo_about_another_subject_than_the_id_token_signs_nobody_in() {
    let w = world_where(IdpClaims::UserInfoOfSomeoneElse, |_| {}).await;
    let authorize = w.start_login().await;
    let back = IdpBrowser::new().login(&authorize, "mallory").await;
    let resp = w.callback(&back).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(cookie_value(&set_cookies(&resp), "rosgate_session").is_none());
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["code"], "login_failed");
    assert!(p["detail"].as_str().unwrap().contains("UserInfo"), "{p}");
}

#[tokio::test]
async fn an_email_match_links_only_verified_emails_and_never_an_administrator() {
    let w = world().await;
    let acme = w.app.tenant("acme-admins").await;
    let tenancy = &w.app.state.tenancy;
    let root = tenancy
        .create_user(acme.id, "root@acme.test", "Root", true)
        .await
        .unwrap();
    let boss = tenancy
        .create_user(acme.id, "boss@acme.test", "Boss", false)
        .await
        .unwrap();
    let now = w.app.state.clock.now();
    w.app
        .state
        .rbac
        .repo()
        .insert_binding(&rbac::RoleBinding {
            id: w.app.state.entropy.uuid_v7(now).into(),
            tenant_id: acme.id,
            user_id: boss.id,
            role_id: BuiltinRole::OrgAdmin.id(),
            scope: Scope::Tenant(acme.id),
            environments: None,
            created_at: now,
        })
        .await
        .unwrap();

    // eve's provider says her (bob's) address is unverified: not bob.
    let refused = |who: &'static str, code: &'static str| {
        let w = &w;
        async move {
            let authorize = w.start_login().await;
            let back = IdpBrowser::new().login(&authorize, who).await;
            let resp = w.callback(&back).await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{who}");
            assert!(
                cookie_value(&set_cookies(&resp), "rosgate_session").is_none(),
                "{who}"
            );
            assert_eq!(resp.json::<Value>().await.unwrap()["code"], code, "{who}");
        }
    };
    refused("eve", "not_provisioned").await;
    // A platform administrator and an org admin (admin:*) with verified
    // emails: not by email, and not through a provisioning rule either.
    refused("root", "identity_link_required").await;
    refused("boss", "identity_link_required").await;
    let users = w.app.state.db.audit_events(acme.id).await.unwrap();
    assert!(
        !users
            .iter()
            .any(|e| e.operation == "login" && e.decision.as_str() == "allow"),
        "nobody signed in: {users:#?}"
    );

    // An administrator links the identity explicitly; then it logs in as
    // root. An org admin (admin:*) may not link a platform administrator;
    // a platform administrator who is one may.
    let link = |token: String, user: kernel::UserId, subject: &'static str| {
        let w = &w;
        async move {
            let resp = w
                .http
                .post(format!("{}/api/v1/users/{user}/identities", w.app.base))
                .bearer_auth(token)
                .json(&json!({ "subject": subject }))
                .send()
                .await
                .unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        }
    };
    let (_, boss_token) = tenancy
        .create_api_token(&boss, "t", None)
        .await
        .map(|(t, s)| (t, s.token))
        .unwrap();
    let (status, p) = link(boss_token.clone(), root.id, "root").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("platform_admin_link")),
        "{p}"
    );
    let (_, operator) = w
        .app
        .user_with(
            acme.id,
            vec![(BuiltinRole::OrgAdmin, Scope::Tenant(acme.id), None)],
            true,
        )
        .await;
    let (status, p) = link(operator.clone(), root.id, "root").await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    assert_eq!(p["issuer"], w.idp.issuer.as_str(), "the configured issuer");
    assert_eq!(p["subject"], "root");
    let b = w.login("root").await;
    let (status, me) = w
        .with_cookie(&b, Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["user"]["id"], root.id.to_string());
    // The same identity cannot be linked to someone else.
    let (status, p) = link(operator.clone(), boss.id, "root").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (StatusCode::CONFLICT, Some("identity_taken")),
        "{p}"
    );
    // The org admin may not link themselves; a platform administrator
    // links them, then boss logs in as boss.
    let (status, p) = link(boss_token, boss.id, "boss").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("own_identity_link")),
        "{p}"
    );
    let (status, p) = link(operator, boss.id, "boss").await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let b = w.login("boss").await;
    let (_, me) = w
        .with_cookie(&b, Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(me["user"]["id"], boss.id.to_string());
}

#[tokio::test]
async fn an_account_linked_already_is_not_linked_to_a_second_identity_by_email() {
    let w = world().await;
    // bob's first login links his account to the subject "bob".
    let b = w.login("bob").await;
    let (_, me) = w
        .with_cookie(&b, Method::GET, "/api/v1/me", None, None)
        .await;
    let bob = me["user"]["id"].as_str().unwrap().to_owned();
    // Another account at the provider with the same verified email is not bob.
    let authorize = w.start_login().await;
    let back = IdpBrowser::new().login(&authorize, "bob-twin").await;
    let resp = w.callback(&back).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(cookie_value(&set_cookies(&resp), "rosgate_session").is_none());
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["code"], "identity_link_required", "{p}");
    let user = w
        .app
        .state
        .tenancy
        .repo()
        .user_by_identity(&w.idp.issuer, "bob-twin")
        .await
        .unwrap();
    assert!(user.is_none(), "bob-twin is linked to nobody");
    let links = w
        .app
        .state
        .tenancy
        .identity_links(bob.parse::<Uuid>().unwrap().into())
        .await
        .unwrap();
    let links: Vec<_> = links.into_iter().map(|l| (l.issuer, l.subject)).collect();
    assert_eq!(links, vec![(w.idp.issuer.clone(), "bob".to_owned())]);
    // bob himself still logs in.
    let b = w.login("bob").await;
    let (_, me) = w
        .with_cookie(&b, Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(me["user"]["id"], bob.as_str());
}

#[tokio::test]
async fn an_email_that_folds_onto_another_under_unicode_case_rules_matches_nobody() {
    let w = world().await;
    let bob = w
        .app
        .state
        .tenancy
        .repo()
        .user_by_email("bob@acme.test")
        .await
        .unwrap()
        .unwrap();
    let kate = w
        .app
        .state
        .tenancy
        .create_user(bob.tenant_id, "kate@acme.test", "Kate", false)
        .await
        .unwrap();
    let authorize = w.start_login().await;
    let back = IdpBrowser::new().login(&authorize, "kelvin").await;
    let resp = w.callback(&back).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(cookie_value(&set_cookies(&resp), "rosgate_session").is_none());
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["code"], "not_provisioned", "{p}");
    let links = w.app.state.tenancy.identity_links(kate.id).await.unwrap();
    assert!(links.is_empty(), "kate is not linked: {links:?}");
}

#[tokio::test]
async fn an_org_admin_cannot_link_a_backdoor_identity_and_every_refusal_is_audited() {
    let w = world().await;
    let tenancy = &w.app.state.tenancy;
    let acme = tenancy
        .repo()
        .user_by_email("bob@acme.test")
        .await
        .unwrap()
        .unwrap()
        .tenant_id;
    let (_, admin) = w
        .app
        .user(acme, &[(BuiltinRole::OrgAdmin, Scope::Tenant(acme))])
        .await;
    let (other_admin, _) = w
        .app
        .user(acme, &[(BuiltinRole::OrgAdmin, Scope::Tenant(acme))])
        .await;
    let dave = tenancy
        .create_user(acme, "dave@acme.test", "Dave", false)
        .await
        .unwrap();
    // bob and carol (another tenant) have logged in: both are linked.
    w.login("bob").await;
    w.login("carol").await;
    let bob = tenancy
        .repo()
        .user_by_email("bob@acme.test")
        .await
        .unwrap()
        .unwrap();
    let link = |user: kernel::UserId, body: Value| {
        let w = &w;
        let admin = admin.clone();
        async move {
            let resp = w
                .http
                .post(format!("{}/api/v1/users/{user}/identities", w.app.base))
                .bearer_auth(admin)
                .json(&body)
                .send()
                .await
                .unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        }
    };
    for (user, body, status, code) in [
        // Another org admin: only a platform administrator links them.
        (
            other_admin.id,
            json!({"subject": "mallory"}),
            StatusCode::FORBIDDEN,
            "platform_admin_link",
        ),
        // bob has an identity: no second one beside it.
        (
            bob.id,
            json!({"subject": "mallory"}),
            StatusCode::CONFLICT,
            "identity_already_linked",
        ),
        // Only the configured provider's identities.
        (
            dave.id,
            json!({"subject": "mallory", "issuer": "https://evil.example"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "issuer_mismatch",
        ),
        // carol's identity, linked in another tenant: taken, tenant unnamed.
        (
            dave.id,
            json!({"subject": "carol"}),
            StatusCode::CONFLICT,
            "identity_taken",
        ),
    ] {
        let (got, p) = link(user, body.clone()).await;
        assert_eq!(
            (got, p["code"].as_str()),
            (status, Some(code)),
            "{body}: {p}"
        );
        let detail = p["detail"].as_str().unwrap();
        assert!(
            !detail.contains(&JIT_TENANT.to_string()) && !detail.contains("jit"),
            "{detail}"
        );
        let events = w.app.state.db.audit_events(acme).await.unwrap();
        let last = events
            .iter()
            .rfind(|e| e.resource_id == Some(user.uuid()) && e.action == "admin:*")
            .expect("an event");
        assert_eq!(last.decision.as_str(), "deny", "{code}: {last:#?}");
        let subject = body["subject"].as_str().unwrap();
        assert!(
            last.reason.contains(&format!("{subject:?}")) && last.reason.contains(code),
            "{last:#?}"
        );
    }
    // Nobody logs in as bob or the other admin through mallory's account.
    let authorize = w.start_login().await;
    let back = IdpBrowser::new().login(&authorize, "mallory").await;
    assert_eq!(w.callback(&back).await.status(), StatusCode::FORBIDDEN);
    // A plain user without a link, at the provider's issuer: linked, and
    // the event names what was linked.
    let (got, p) = link(dave.id, json!({"subject": "mallory"})).await;
    assert_eq!(got, StatusCode::CREATED, "{p}");
    let events = w.app.state.db.audit_events(acme).await.unwrap();
    let last = events
        .iter()
        .rfind(|e| e.resource_id == Some(dave.id.uuid()))
        .unwrap();
    assert_eq!(last.decision.as_str(), "allow");
    assert!(last.reason.contains("\"mallory\""), "{last:#?}");
}

#[tokio::test]
async fn links_are_listed_and_removed_only_by_who_may_link_them_and_every_refusal_is_audited() {
    let w = world().await;
    let tenancy = &w.app.state.tenancy;
    let iss = w.idp.issuer.clone();
    let acme = tenancy
        .repo()
        .user_by_email("bob@acme.test")
        .await
        .unwrap()
        .unwrap()
        .tenant_id;
    let (me, admin) = w
        .app
        .user(acme, &[(BuiltinRole::OrgAdmin, Scope::Tenant(acme))])
        .await;
    let (other_admin, _) = w
        .app
        .user(acme, &[(BuiltinRole::OrgAdmin, Scope::Tenant(acme))])
        .await;
    let (platform, platform_token) = w
        .app
        .user_with(
            acme,
            vec![(BuiltinRole::OrgAdmin, Scope::Tenant(acme), None)],
            true,
        )
        .await;
    let dave = tenancy
        .create_user(acme, "dave@acme.test", "Dave", false)
        .await
        .unwrap();
    for (user, subject) in [
        (&dave, "mallory"),
        (&other_admin, "root"),
        (&platform, "boss"),
        (&me, "kelvin"),
    ] {
        tenancy.link_identity(user, &iss, subject).await.unwrap();
    }
    let list = |user: kernel::UserId| {
        let w = &w;
        let admin = admin.clone();
        async move {
            let resp = w
                .http
                .get(format!("{}/api/v1/users/{user}/identities", w.app.base))
                .bearer_auth(admin)
                .send()
                .await
                .unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        }
    };
    let unlink = |token: String, user: kernel::UserId, query: Vec<(&'static str, String)>| {
        let w = &w;
        async move {
            let url = reqwest::Url::parse_with_params(
                &format!("{}/api/v1/users/{user}/identities", w.app.base),
                &query,
            )
            .unwrap();
            let resp = w.http.delete(url).bearer_auth(token).send().await.unwrap();
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let last_event = |user: kernel::UserId| {
        let w = &w;
        async move {
            let events = w.app.state.db.audit_events(acme).await.unwrap();
            events
                .into_iter()
                .rfind(|e| e.resource_id == Some(user.uuid()) && e.action == "admin:*")
                .expect("an event")
        }
    };

    // The list shows each link with when it was made.
    let (got, body) = list(dave.id).await;
    assert_eq!(got, StatusCode::OK, "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{body}");
    assert_eq!(
        (&items[0]["issuer"], &items[0]["subject"]),
        (&json!(iss), &json!("mallory"))
    );
    assert!(items[0]["linked_at"].is_string(), "{body}");
    let (got, body) = list(kernel::UserId::from_uuid(Uuid::now_v7())).await;
    assert_eq!(got, StatusCode::NOT_FOUND, "{body}");

    // An org admin removes no administrator's link, nor their own, and
    // every refusal is audited as a denial naming the identity.
    for (user, subject, status, code) in [
        (
            &other_admin,
            "root",
            StatusCode::FORBIDDEN,
            "platform_admin_link",
        ),
        (
            &platform,
            "boss",
            StatusCode::FORBIDDEN,
            "platform_admin_link",
        ),
        (&me, "kelvin", StatusCode::FORBIDDEN, "own_identity_link"),
        (&dave, "nobody", StatusCode::NOT_FOUND, "identity_not_found"),
    ] {
        let query = vec![("issuer", iss.clone()), ("subject", subject.to_owned())];
        let (got, p) = unlink(admin.clone(), user.id, query).await;
        assert_eq!((got, p["code"].as_str()), (status, Some(code)), "{p}");
        let last = last_event(user.id).await;
        assert_eq!(last.decision.as_str(), "deny", "{code}: {last:#?}");
        assert!(
            last.reason.contains(&format!("{subject:?}")) && last.reason.contains(code),
            "{last:#?}"
        );
    }
    for (user, subject) in [(&other_admin, "root"), (&platform, "boss"), (&me, "kelvin")] {
        let links: Vec<_> = tenancy
            .identity_links(user.id)
            .await
            .unwrap()
            .into_iter()
            .map(|l| (l.issuer, l.subject))
            .collect();
        assert_eq!(links, vec![(iss.clone(), subject.to_owned())]);
    }

    // Hostile values are refused as input, never a server error.
    let long = "x".repeat(10_000);
    for query in [
        vec![("subject", "mall\u{1}ory".to_owned())],
        vec![("subject", "mallory\0".to_owned())],
        vec![("subject", long.clone())],
        vec![
            ("subject", "mallory".to_owned()),
            ("issuer", format!("{iss}\n")),
        ],
        vec![("subject", "mallory".to_owned()), ("issuer", String::new())],
        vec![("subject", "mallory".to_owned()), ("issuer", long.clone())],
        vec![("issuer", iss.clone())],
    ] {
        let (got, p) = unlink(admin.clone(), dave.id, query.clone()).await;
        assert!(
            got == StatusCode::BAD_REQUEST || got == StatusCode::UNPROCESSABLE_ENTITY,
            "{query:?}: {got} {p}"
        );
        if query.iter().any(|(k, _)| *k == "subject") {
            // Refused after the permission check: a denial, its reason
            // bounded however long the values.
            let last = last_event(dave.id).await;
            assert_eq!(last.decision.as_str(), "deny", "{query:?}");
            assert!(last.reason.len() < 1_000, "{}", last.reason.len());
        }
    }
    assert_eq!(tenancy.identity_links(dave.id).await.unwrap().len(), 1);

    // A plain user's link is removed (the configured issuer when none is
    // named); the event names it, and that identity signs in as nobody.
    let (got, p) = unlink(
        admin.clone(),
        dave.id,
        vec![("subject", "mallory".to_owned())],
    )
    .await;
    assert_eq!(got, StatusCode::NO_CONTENT, "{p}");
    let last = last_event(dave.id).await;
    assert_eq!(last.decision.as_str(), "allow", "{last:#?}");
    assert!(
        last.reason.contains("\"mallory\"") && last.reason.contains("removed"),
        "{last:#?}"
    );
    let (_, body) = list(dave.id).await;
    assert_eq!(body["items"], json!([]), "{body}");
    let authorize = w.start_login().await;
    let back = IdpBrowser::new().login(&authorize, "mallory").await;
    let resp = w.callback(&back).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(cookie_value(&set_cookies(&resp), "rosgate_session").is_none());
    // Removed once: a second removal finds nothing.
    let (got, p) = unlink(
        admin.clone(),
        dave.id,
        vec![("subject", "mallory".to_owned())],
    )
    .await;
    assert_eq!(
        (got, p["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("identity_not_found"))
    );

    // A platform administrator removes an administrator's link.
    let query = vec![("issuer", iss.clone()), ("subject", "root".to_owned())];
    let (got, p) = unlink(platform_token, other_admin.id, query).await;
    assert_eq!(got, StatusCode::NO_CONTENT, "{p}");
    assert!(
        tenancy
            .identity_links(other_admin.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_login_cookie_planted_beside_the_browsers_own_binds_nothing() {
    // Over https the cookie is __Host-: only this host sets it, for "/".
    let w = world_with(|c| c.cookie_secure = true).await;
    let resp = w
        .http
        .get(format!("{}/auth/login", w.app.base))
        .send()
        .await
        .unwrap();
    let authorize = location(&resp);
    let set = set_cookies(&resp);
    let bound = set
        .iter()
        .find(|c| c.starts_with("__Host-rosgate_login="))
        .unwrap_or_else(|| panic!("a __Host- login cookie: {set:?}"));
    let attrs: Vec<&str> = bound.split(';').map(str::trim).collect();
    assert!(attrs.contains(&"Path=/"), "{bound}");
    assert!(attrs.contains(&"Secure"), "{bound}");
    assert!(!bound.to_lowercase().contains("domain="), "{bound}");
    let value = cookie_value(&set, "__Host-rosgate_login").unwrap();
    let back = IdpBrowser::new().login(&authorize, "bob").await;
    for cookies in [
        // The plain name is not the secure deployment's cookie.
        format!("rosgate_login={value}"),
        // Two login cookies, one of them planted: bound to nothing.
        format!("__Host-rosgate_login=0000; __Host-rosgate_login={value}"),
        format!("__Host-rosgate_login={value}; __Host-rosgate_login=0000"),
    ] {
        let resp = w
            .http
            .get(&back)
            .header(header::COOKIE, &cookies)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{cookies}");
        assert!(cookie_value(&set_cookies(&resp), "rosgate_session").is_none());
        let p: Value = resp.json().await.unwrap();
        assert_eq!(p["code"], "state_mismatch", "{cookies}");
    }
    let resp = w
        .http
        .get(&back)
        .header(header::COOKIE, format!("__Host-rosgate_login={value}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(cookie_value(&set_cookies(&resp), "rosgate_session").is_some());

    // On plain http (the demo) the name stays; two cookies still bind nothing.
    let w = world().await;
    let authorize = w.start_login().await;
    let value = w.login_cookie.lock().unwrap().clone().unwrap();
    let back = IdpBrowser::new().login(&authorize, "bob").await;
    for cookies in [
        format!("rosgate_login=0000; rosgate_login={value}"),
        format!("rosgate_login={value}; rosgate_login=0000"),
    ] {
        let resp = w
            .http
            .get(&back)
            .header(header::COOKIE, &cookies)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{cookies}");
        let p: Value = resp.json().await.unwrap();
        assert_eq!(p["code"], "state_mismatch", "{cookies}");
    }
    assert_eq!(w.callback(&back).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_victim_sent_an_attackers_callback_link_is_not_signed_in_as_the_attacker() {
    let w = world().await;
    // The attacker starts a login in their own browser and stops at the
    // callback, which they send to the victim.
    let resp = w
        .http
        .get(format!("{}/auth/login", w.app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let login_cookie = set_cookies(&resp)
        .into_iter()
        .find(|c| c.starts_with("rosgate_login="))
        .expect("the login sets a cookie binding its state");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/auth", "Max-Age=600"] {
        assert!(login_cookie.contains(attr), "{login_cookie} has {attr}");
    }
    let attacker_cookie = cookie_value(&[login_cookie], "rosgate_login").unwrap();
    let state = query(&location(&resp), "state").unwrap();
    assert_ne!(
        attacker_cookie, state,
        "the cookie holds a hash, not the state"
    );
    let attack = IdpBrowser::new().login(&location(&resp), "mallory").await;

    // The victim's browser never started that login: refused, no session.
    let resp = w.callback_elsewhere(&attack).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(cookie_value(&set_cookies(&resp), "rosgate_session").is_none());
    assert_eq!(
        resp.json::<Value>().await.unwrap()["code"],
        "state_mismatch"
    );
    // Nor when the victim has a login of their own under way.
    w.start_login().await;
    let resp = w.callback(&attack).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(cookie_value(&set_cookies(&resp), "rosgate_session").is_none());
    assert_eq!(
        resp.json::<Value>().await.unwrap()["code"],
        "state_mismatch"
    );

    // The browser that started the login finishes it (the refusals did not use it up).
    let resp = w
        .http
        .get(&attack)
        .header(header::COOKIE, format!("rosgate_login={attacker_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["code"],
        "not_provisioned",
        "past the state check: mallory has no account"
    );
}

#[tokio::test]
async fn the_scopes_a_bearer_jwt_needs_come_from_configuration_and_refusals_name_them() {
    let w = world_with(|c| {
        let o = c.oidc.as_mut().unwrap();
        o.read_scopes = vec!["api://rosgate/Ops.Read".into(), "Ops.Read".into()];
        o.write_scopes = vec!["api://rosgate/Ops.Write".into(), "Ops.Write".into()];
    })
    .await;
    let meta: Value = w
        .http
        .get(format!(
            "{}/.well-known/oauth-protected-resource",
            w.app.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["scopes_supported"],
        json!([
            "api://rosgate/Ops.Read",
            "Ops.Read",
            "api://rosgate/Ops.Write",
            "Ops.Write"
        ])
    );
    let mut claims = w.access_claims("");
    claims.as_object_mut().unwrap().remove("scope");
    claims["scp"] = json!("Ops.Read");
    let reader = w.mint(claims, false, None);
    assert_eq!(
        w.with_bearer(&reader, Method::GET, "/api/v1/me")
            .await
            .status(),
        StatusCode::OK,
        "Entra ID's short scope in `scp`"
    );
    let resp = w.with_bearer(&reader, Method::POST, "/api/v1/tokens").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let challenge = resp.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge
            .starts_with("Bearer error=\"insufficient_scope\", scope=\"api://rosgate/Ops.Write\""),
        "the challenge names the scope to step up to: {challenge}"
    );
    assert_eq!(
        resp.json::<Value>().await.unwrap()["code"],
        "insufficient_scope"
    );
    // The built-in names mean nothing here any more.
    let old = w.mint(w.access_claims("rosgate:read rosgate:write"), false, None);
    let resp = w.with_bearer(&old, Method::GET, "/api/v1/me").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let writer = w.mint(w.access_claims("api://rosgate/Ops.Write"), false, None);
    let resp = w.with_bearer(&writer, Method::POST, "/api/v1/tokens").await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn hostile_callbacks_get_4xx_and_no_session() {
    let w = world().await;
    let authorize = w.start_login().await;
    let back = IdpBrowser::new().login(&authorize, "bob").await;
    let code = query(&back, "code").unwrap();

    // A state rosgate never issued: not the one this browser's login cookie names.
    let forged = back.replace(&query(&back, "state").unwrap(), &"ab".repeat(32));
    let resp = w.callback(&forged).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(cookie_value(&set_cookies(&resp), "rosgate_session").is_none());
    assert_eq!(
        resp.json::<Value>().await.unwrap()["code"],
        "state_mismatch"
    );

    // The real callback works once ...
    let resp = w.callback(&back).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    // ... and replaying it is refused: the state is used.
    let resp = w.callback(&back).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(cookie_value(&set_cookies(&resp), "rosgate_session").is_none());
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "invalid_state");

    // The used code with a fresh, valid state: the provider refuses it.
    let fresh = w.start_login().await;
    let state = query(&fresh, "state").unwrap();
    let replay = format!("{}/auth/callback?code={code}&state={state}", w.app.base);
    let resp = w.callback(&replay).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(cookie_value(&set_cookies(&resp), "rosgate_session").is_none());
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "login_failed");

    // The provider reporting an error.
    let fresh = w.start_login().await;
    let state = query(&fresh, "state").unwrap();
    let denied = format!(
        "{}/auth/callback?error=access_denied&state={state}",
        w.app.base
    );
    let resp = w.callback(&denied).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "login_refused");

    // Only local paths are returned to.
    let resp = w
        .http
        .get(format!(
            "{}/auth/login?return_to=//evil.example/x",
            w.app.base
        ))
        .send()
        .await
        .unwrap();
    *w.login_cookie.lock().unwrap() = cookie_value(&set_cookies(&resp), "rosgate_login");
    let back = IdpBrowser::new().login(&location(&resp), "bob").await;
    assert_eq!(location(&w.callback(&back).await), "/");
}

#[tokio::test]
async fn bearer_jwts_are_checked_and_failures_point_to_the_resource_metadata() {
    let w = world().await;
    let metadata_url = format!("{}/.well-known/oauth-protected-resource", w.app.base);

    // RFC 9728 metadata, at the root and in the path-inserted form for /mcp.
    for url in [metadata_url.clone(), format!("{metadata_url}/mcp")] {
        let doc: Value = w.http.get(&url).send().await.unwrap().json().await.unwrap();
        assert_eq!(doc["resource"], w.app.base);
        assert_eq!(doc["authorization_servers"], json!([w.idp.issuer]));
        assert_eq!(
            doc["scopes_supported"],
            json!(["rosgate:read", "rosgate:write"])
        );
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    }

    // No credentials: 401 pointing to the metadata, no error code.
    let resp = w
        .http
        .get(format!("{}/api/v1/me", w.app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = resp.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        challenge,
        format!("Bearer resource_metadata=\"{metadata_url}\"")
    );

    // A good token works; without the write scope, writes get insufficient_scope.
    let good = w.mint(w.access_claims("rosgate:read rosgate:write"), false, None);
    assert_eq!(
        w.with_bearer(&good, Method::GET, "/api/v1/me")
            .await
            .status(),
        StatusCode::OK
    );
    let read_only = w.mint(w.access_claims("rosgate:read"), false, None);
    assert_eq!(
        w.with_bearer(&read_only, Method::GET, "/api/v1/me")
            .await
            .status(),
        StatusCode::OK
    );
    let resp = w
        .with_bearer(&read_only, Method::POST, "/api/v1/tokens")
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let challenge = resp.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"rosgate:write\""), "{challenge}");
    assert!(challenge.contains(&format!("resource_metadata=\"{metadata_url}\"")));
    // The token names its holder, so the refusal is audited under bob's name.
    let me: Value = w
        .with_bearer(&good, Method::GET, "/api/v1/me")
        .await
        .json()
        .await
        .unwrap();
    let tenant =
        kernel::TenantId::from_uuid(me["user"]["tenant_id"].as_str().unwrap().parse().unwrap());
    let events = w.app.state.db.audit_events(tenant).await.unwrap();
    let refused = events
        .iter()
        .find(|e| e.error_class.as_deref() == Some("insufficient_scope"))
        .expect("the missing scope is audited");
    assert_eq!(refused.user_email.as_deref(), Some("bob@acme.test"));
    assert_eq!(refused.decision.as_str(), "deny");
    let no_scope = w.mint(w.access_claims("openid"), false, None);
    assert_eq!(
        w.with_bearer(&no_scope, Method::GET, "/api/v1/me")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    // Every hostile token: 401 invalid_token, and no session.
    let now = SystemClock.now().unix_timestamp();
    let claims = |patch: Value| {
        let mut c = w.access_claims("rosgate:read rosgate:write");
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let tampered = {
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        parts[1] = b64(&claims(
            json!({"sub": "admin", "email": "root@rosgate.test"}),
        ));
        parts.join(".")
    };
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&w.access_claims("rosgate:read rosgate:write"))
    );
    let hs256 = {
        // Algorithm confusion: HMAC keyed with the provider's public key material.
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(w.idp.keys.kid.clone());
        jsonwebtoken::encode(
            &h,
            &w.access_claims("rosgate:read rosgate:write"),
            &EncodingKey::from_secret(w.idp.keys.kid.as_bytes()),
        )
        .unwrap()
    };
    let hostile = [
        (
            "expired",
            w.mint(
                claims(json!({"exp": now - 120, "iat": now - 600})),
                false,
                None,
            ),
        ),
        (
            "not yet valid",
            w.mint(claims(json!({"nbf": now + 600})), false, None),
        ),
        (
            "wrong audience",
            w.mint(
                claims(json!({"aud": "https://elsewhere.example"})),
                false,
                None,
            ),
        ),
        (
            "wrong issuer",
            w.mint(claims(json!({"iss": "https://evil.example"})), false, None),
        ),
        ("alg none", unsigned),
        ("alg HS256", hs256),
        (
            "another key under the real kid",
            w.mint(claims(json!({})), true, None),
        ),
        (
            "unknown kid",
            w.mint(claims(json!({})), true, Some(&w.idp.keys.stranger_kid)),
        ),
        ("tampered payload", tampered),
        ("not a JWT", "garbage".to_owned()),
        (
            "ID token as access token",
            w.mint(claims(json!({"aud": w.idp.client_id})), false, None),
        ),
    ];
    for (what, token) in hostile {
        let resp = w.with_bearer(&token, Method::GET, "/api/v1/me").await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert!(set_cookies(&resp).is_empty(), "{what}: no session");
        let challenge = resp.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\""),
            "{what}: {challenge}"
        );
        assert!(
            challenge.contains(&format!("resource_metadata=\"{metadata_url}\"")),
            "{what}"
        );
        let p: Value = resp.json().await.unwrap();
        assert_eq!(p["code"], "invalid_token", "{what}: {p}");
    }
}

#[tokio::test]
async fn id_tokens_need_the_login_nonce_and_keys_are_refetched_at_most_once_a_minute() {
    let w = world().await;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let provider = oidc::OidcProvider::new(
        oidc::OidcSettings {
            issuer: w.idp.issuer.clone(),
            client_id: w.idp.client_id.clone(),
            client_secret: Some(w.idp.client_secret.clone()),
            redirect_uri: format!("{}/auth/callback", w.app.base),
            scopes: vec!["openid".into()],
            audience: w.app.base.clone(),
            resource_indicator: true,
            prompt: None,
            claims: vec!["groups".into()],
        },
        clock.clone(),
    )
    .unwrap();
    let now = clock.now().unix_timestamp();
    let id_token = |nonce: &str| {
        w.mint(
            json!({"iss": w.idp.issuer, "sub": "bob", "aud": w.idp.client_id, "iat": now,
                   "exp": now + 300, "nonce": nonce, "email": "bob@acme.test"}),
            false,
            None,
        )
    };
    let ok = provider
        .verify_id_token(&id_token("n-1"), "n-1")
        .await
        .unwrap();
    assert_eq!(ok.subject, "bob");
    assert!(matches!(
        provider.verify_id_token(&id_token("n-2"), "n-1").await,
        Err(IdentityError::Rejected(m)) if m.contains("nonce")
    ));
    assert_eq!(provider.jwks().unwrap().fetches(), 1);

    // An unknown kid refetches the keys only when the last fetch is a minute old.
    let unknown = w.mint(w.access_claims("rosgate:read"), true, Some("rotated-key"));
    for _ in 0..3 {
        assert!(provider.verify_access_token(&unknown).await.is_err());
    }
    assert_eq!(
        provider.jwks().unwrap().fetches(),
        1,
        "no refetch within a minute"
    );
    clock.advance(Duration::seconds(61));
    assert!(provider.verify_access_token(&unknown).await.is_err());
    assert!(provider.verify_access_token(&unknown).await.is_err());
    assert_eq!(
        provider.jwks().unwrap().fetches(),
        2,
        "one refetch after a minute"
    );

    // Expiry follows the clock port: a real token expires when the clock says so.
    let good = w.mint(w.access_claims("rosgate:read"), false, None);
    assert!(provider.verify_access_token(&good).await.is_ok());
    clock.advance(Duration::minutes(10));
    assert!(matches!(
        provider.verify_access_token(&good).await,
        Err(IdentityError::Rejected(m)) if m.contains("expired")
    ));
}

#[tokio::test]
async fn without_an_identity_provider_only_api_tokens_work() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = http
        .get(format!("{}/auth/login", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["code"],
        "login_not_configured"
    );
    let doc: Value = http
        .get(format!("{}/.well-known/oauth-protected-resource", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["resource"], app.base);
    assert!(doc.get("authorization_servers").is_none());
    let r = app.get("eyJhbGciOiJFUzI1NiJ9.e30.sig", "/api/v1/me").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    let tenant = app.tenant("t").await;
    let (_, token) = app.user(tenant.id, &[]).await;
    assert_eq!(app.get(&token, "/api/v1/me").await.status, StatusCode::OK);
}

#[tokio::test]
async fn sessions_in_redis_are_shared_by_every_instance() {
    let prefix = format!("rgtest:{}:", Uuid::new_v4().simple());
    let key = seal::AesGcmSealer::generate_key(&kernel::OsEntropy);
    let shared = |c: &mut rosgate::Config| {
        c.redis_url = Some(redis_url());
        c.redis_key_prefix = prefix.clone();
        c.encryption_key = Some(key.clone());
    };
    let w = world_with(shared).await;
    // A second instance on the same database and Redis.
    let mut second_config = None;
    let other = TestApp::spawn_with(TestDatabase::from_env(), reserve().await, |c| {
        *c = rosgate::Config {
            listen: c.listen.clone(),
            public_url: c.public_url.clone(),
            ..w.app.config.clone()
        };
        second_config = Some(c.clone());
    })
    .await;
    assert_eq!(
        second_config.unwrap().database_url,
        w.app.config.database_url
    );

    let b = w.login("bob").await;
    let on = |app: &TestApp| {
        w.http
            .get(format!("{}/api/v1/me", app.base))
            .header(header::COOKIE, b.cookie())
            .send()
    };
    assert_eq!(on(&w.app).await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        on(&other).await.unwrap().status(),
        StatusCode::OK,
        "the other instance knows the session"
    );

    // Logging out on the second instance ends the session on the first.
    let resp = w
        .http
        .post(format!("{}/auth/logout", other.base))
        .header(header::COOKIE, b.cookie())
        .header("x-csrf-token", &b.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(on(&w.app).await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_login_whose_event_cannot_be_written_leaves_no_session() {
    let w = world().await;
    let authorize = w.start_login().await;
    let back = IdpBrowser::new().login(&authorize, "bob").await;
    // The audit table is gone (a full disk, a failed migration: the trail
    // cannot be written).
    w.app
        .state
        .db
        .execute_unprepared("ALTER TABLE audit_events RENAME TO audit_events_away")
        .await
        .unwrap();
    let resp = w.callback(&back).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let set = set_cookies(&resp);
    assert_eq!(cookie_value(&set, "rosgate_session"), None, "{set:?}");
    w.app
        .state
        .db
        .execute_unprepared("ALTER TABLE audit_events_away RENAME TO audit_events")
        .await
        .unwrap();
    // Once the trail can be written, the same person logs in.
    let b = w.login("bob").await;
    let (status, _) = w
        .with_cookie(&b, Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// A provider that is down: every connection gets 503; counts them.
async fn dead_provider() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let _ = conn
                    .write_all(
                        b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .await;
            });
        }
    });
    (url, hits)
}

#[tokio::test]
async fn a_provider_that_is_down_is_asked_once_per_backoff_not_once_per_request() {
    let (issuer, hits) = dead_provider().await;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let app = TestApp::spawn_clocked(
        TestDatabase::from_env(),
        reserve().await,
        |c| {
            c.oidc = Some(OidcConfig {
                issuer: issuer.clone(),
                client_id: "rosgate".into(),
                client_secret: None,
                redirect_uri: None,
                scopes: vec!["openid".into()],
                audience: None,
                resource_indicator: true,
                prompt: None,
                post_logout_redirect_uri: None,
                provisioning: vec![],
                read_scopes: rosgate::config::default_read_scopes(),
                write_scopes: rosgate::config::default_write_scopes(),
            });
        },
        clock.clone(),
    )
    .await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let logins = |n: usize| {
        let http = http.clone();
        let url = format!("{}/auth/login", app.base);
        async move {
            for _ in 0..n {
                let resp = http.get(&url).send().await.unwrap();
                assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
                assert_eq!(
                    resp.json::<Value>().await.unwrap()["code"],
                    "idp_unavailable"
                );
            }
        }
    };
    let hits = || hits.load(std::sync::atomic::Ordering::SeqCst);
    logins(5).await;
    assert_eq!(hits(), 1, "five logins, one discovery attempt");
    clock.advance(Duration::seconds(1));
    logins(5).await;
    assert_eq!(hits(), 2, "asked again after the first backoff");
    clock.advance(Duration::seconds(1));
    logins(3).await;
    assert_eq!(hits(), 2, "the backoff doubled");
    clock.advance(Duration::seconds(1));
    logins(1).await;
    assert_eq!(hits(), 3);
}

#[tokio::test]
async fn a_key_set_that_cannot_be_fetched_is_not_asked_for_on_every_token() {
    let idp = TestIdp::start(IdpOptions {
        redirect_uri: "http://127.0.0.1:9/auth/callback".into(),
        post_logout_redirect_uri: "http://127.0.0.1:9/".into(),
        resource: "http://127.0.0.1:9".into(),
        accounts: accounts(),
        claims: IdpClaims::IdToken,
    })
    .await;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let provider = oidc::OidcProvider::new(
        oidc::OidcSettings {
            issuer: idp.issuer.clone(),
            client_id: idp.client_id.clone(),
            client_secret: Some(idp.client_secret.clone()),
            redirect_uri: "http://127.0.0.1:9/auth/callback".into(),
            scopes: vec!["openid".into()],
            audience: "http://127.0.0.1:9".into(),
            resource_indicator: true,
            prompt: None,
            claims: vec![],
        },
        clock.clone(),
    )
    .unwrap();
    // Discovered while the provider is up; then it goes down.
    provider
        .authorization_url("s", "n", &"v".repeat(64))
        .await
        .unwrap();
    let now = SystemClock.now().unix_timestamp();
    let token = {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(idp.keys.kid.clone());
        let claims = json!({
            "iss": idp.issuer, "sub": "bob", "aud": "http://127.0.0.1:9",
            "iat": now, "exp": now + 300, "scope": "rosgate:read",
        });
        jsonwebtoken::encode(
            &h,
            &claims,
            &EncodingKey::from_ec_pem(idp.keys.signing_pem.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    idp.stop().await;
    for _ in 0..5 {
        assert!(matches!(
            provider.verify_access_token(&token).await,
            Err(IdentityError::Unavailable(_))
        ));
    }
    assert_eq!(provider.jwks().unwrap().fetches(), 1, "one attempt");
    clock.advance(oidc::jwks::FAILURE_BACKOFF);
    assert!(provider.verify_access_token(&token).await.is_err());
    assert_eq!(
        provider.jwks().unwrap().fetches(),
        2,
        "again after the backoff"
    );
}

#[tokio::test]
async fn auth_requests_are_rate_limited_per_client_address() {
    let app = TestApp::spawn_with(TestDatabase::from_env(), reserve().await, |c| {
        c.rate_limits.per_address_per_minute = Some(3);
    })
    .await;
    let mut codes = Vec::new();
    for path in [
        "/auth/login",
        "/auth/callback?state=x",
        "/auth/login",
        "/auth/login",
    ] {
        let resp = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        codes.push(resp.status().as_u16());
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(resp.headers().contains_key(header::RETRY_AFTER));
            assert_eq!(resp.json::<Value>().await.unwrap()["code"], "rate_limited");
        }
    }
    assert_eq!(
        codes,
        [404, 404, 404, 429],
        "without [oidc] every /auth route is 404; the fourth in a minute is refused"
    );
}

#[tokio::test]
async fn pending_logins_are_capped_and_the_oldest_is_dropped() {
    let w = world_with(|c| c.sessions.max_pending_logins = 2).await;
    let first = w.start_login().await;
    let first_cookie = w.login_cookie.lock().unwrap().clone();
    let _second = w.start_login().await;
    let third = w.start_login().await;
    // The first login was dropped to make room for the third.
    let back = IdpBrowser::new().login(&first, "bob").await;
    *w.login_cookie.lock().unwrap() = first_cookie;
    let resp = w.callback(&back).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "invalid_state");
    // The newest still works.
    w.start_login().await; // sets a new cookie; put the third's back
    let back = IdpBrowser::new().login(&third, "bob").await;
    let state = query(&third, "state").unwrap();
    let resp = w
        .http
        .get(&back)
        .header(
            header::COOKIE,
            format!("rosgate_login={}", state_hash(&state)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "the newest login finishes"
    );
}

fn state_hash(state: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(state.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn without_public_url_rosgate_advertises_the_address_it_listens_on() {
    let (listener, base) = reserve().await;
    let listen = base.trim_start_matches("http://").to_owned();
    assert_ne!(listen, "127.0.0.1:8080");
    let app = TestApp::spawn_with(TestDatabase::from_env(), (listener, base.clone()), |c| {
        c.public_url = None;
        c.listen = listen.clone();
    })
    .await;
    let meta: Value = app
        .client
        .get(format!("{base}/.well-known/oauth-protected-resource"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["resource"], base.as_str());
    let resp = app
        .client
        .get(format!("{base}/api/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.headers()[header::WWW_AUTHENTICATE].to_str().unwrap(),
        format!("Bearer resource_metadata=\"{base}/.well-known/oauth-protected-resource\""),
        "the challenge points MCP clients at a live link"
    );
}

#[tokio::test]
async fn a_session_ends_24_hours_after_login_and_when_the_provider_refuses_its_refresh() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let w = world_clocked(clock.clone()).await;

    // A login whose grant the provider has revoked: the refresh fails and
    // the session ends with it.
    let b = w.login("bob").await;
    let tokens = w.session_tokens(&b).await;
    let revocation = w.idp.discovery().await["revocation_endpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = w
        .http
        .post(&revocation)
        .basic_auth(&w.idp.client_id, Some(&w.idp.client_secret))
        .form(&[
            ("token", tokens.refresh_token.as_deref().unwrap()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (status, p) = w
        .with_cookie(&b, Method::POST, "/auth/refresh", Some(&b.csrf), None)
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("refresh_failed"))
    );
    let (status, _) = w
        .with_cookie(&b, Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the session is over");

    // Without anyone calling /auth/refresh: once the provider's access
    // token has expired, the next request renews it, and a refusal ends
    // the session.
    let b = w.login("bob").await;
    let tokens = w.session_tokens(&b).await;
    let resp = w
        .http
        .post(&revocation)
        .basic_auth(&w.idp.client_id, Some(&w.idp.client_secret))
        .form(&[
            ("token", tokens.refresh_token.as_deref().unwrap()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (status, _) = w
        .with_cookie(&b, Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the access token has not expired yet"
    );
    clock.advance(Duration::minutes(6));
    let (status, p) = w
        .with_cookie(&b, Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("refresh_failed")),
        "{p}"
    );
    assert!(
        w.app
            .state
            .sessions
            .resume(&b.session)
            .await
            .unwrap()
            .is_none(),
        "the session is gone"
    );

    // However often it is used, a session ends 24 hours after login; its
    // provider tokens are renewed on the way.
    let b = w.login("bob").await;
    let first = w.session_tokens(&b).await;
    for _ in 0..3 {
        clock.advance(Duration::hours(7));
        let (status, p) = w
            .with_cookie(&b, Method::GET, "/api/v1/me", None, None)
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "used within eight hours: alive: {p}"
        );
    }
    assert_ne!(
        w.session_tokens(&b).await.access_token,
        first.access_token,
        "renewed when it had expired"
    );
    clock.advance(Duration::hours(3));
    let (status, p) = w
        .with_cookie(&b, Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "24 hours after login: {p}"
    );
}

#[tokio::test]
async fn api_tokens_have_a_maximum_lifetime_and_never_outlive_the_credential_minting_them() {
    let w = world_with(|c| c.api_tokens.max_ttl_days = 30).await;
    let acme = w.app.tenant("ttl").await;
    let (_, parent) = w
        .app
        .user(acme.id, &[(BuiltinRole::ReadOnly, Scope::Tenant(acme.id))])
        .await;
    let create = |token: String, body: Value| {
        let w = &w;
        async move {
            let resp = w
                .http
                .post(format!("{}/api/v1/tokens", w.app.base))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap())
        }
    };
    let expires = |v: &Value| {
        time::OffsetDateTime::parse(
            v["token"]["expires_at"].as_str().expect("an expiry"),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    let now = SystemClock.now();
    // Over the configured maximum: refused. Without a TTL: the maximum.
    let (status, p) = create(parent.clone(), json!({"name": "long", "ttl_days": 31})).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field")),
        "{p}"
    );
    let (status, child) = create(parent.clone(), json!({"name": "default"})).await;
    assert_eq!(status, StatusCode::CREATED, "{child}");
    let child_expiry = expires(&child);
    assert!(child_expiry <= now + Duration::days(30) + Duration::minutes(1));
    assert!(child_expiry >= now + Duration::days(30) - Duration::minutes(1));
    // A token with a week left cannot mint one for two weeks; without a
    // TTL, its child ends when it does.
    let (_, week) = create(parent.clone(), json!({"name": "week", "ttl_days": 7})).await;
    let week_expiry = expires(&week);
    let week_secret = week["secret"].as_str().unwrap().to_owned();
    let (status, p) = create(week_secret.clone(), json!({"name": "x", "ttl_days": 14})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("outlive"), "{p}");
    let (status, grandchild) = create(week_secret, json!({"name": "y"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(expires(&grandchild) <= week_expiry);
    // A five-minute provider JWT mints nothing longer than five minutes.
    let jwt = w.mint(w.access_claims("rosgate:read rosgate:write"), false, None);
    let (status, p) = create(jwt.clone(), json!({"name": "agent", "ttl_days": 1})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let (status, from_jwt) = create(jwt, json!({"name": "agent"})).await;
    assert_eq!(status, StatusCode::CREATED, "{from_jwt}");
    assert!(expires(&from_jwt) <= now + Duration::minutes(6));
}

#[tokio::test]
async fn a_token_from_before_lifetimes_were_capped_lives_no_longer_than_the_maximum() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let app = TestApp::spawn_clocked(
        TestDatabase::from_env(),
        reserve().await,
        |_| {},
        clock.clone(),
    )
    .await;
    let acme = app.tenant("legacy").await;
    let (user, _) = app
        .user(acme.id, &[(BuiltinRole::ReadOnly, Scope::Tenant(acme.id))])
        .await;
    // A token stored without an expiry, as tokens were before.
    let now = clock.now();
    let id = app.state.entropy.uuid_v7(now);
    let minted = tenancy::secret::mint(
        tenancy::secret::SecretKind::ApiToken,
        id,
        &kernel::OsEntropy,
    );
    app.state
        .tenancy
        .repo()
        .insert_api_token(
            &tenancy::ApiToken {
                id: id.into(),
                tenant_id: acme.id,
                user_id: user.id,
                name: "legacy".into(),
                expires_at: None,
                revoked_at: None,
                created_at: now,
            },
            &minted.hash,
        )
        .await
        .unwrap();
    let me = |token: String| {
        let app = &app;
        async move {
            app.client
                .get(format!("{}/api/v1/me", app.base))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    clock.advance(Duration::days(89));
    assert_eq!(me(minted.token.clone()).await, StatusCode::OK);
    clock.advance(Duration::days(1));
    assert_eq!(
        me(minted.token.clone()).await,
        StatusCode::UNAUTHORIZED,
        "90 days after it was made"
    );
}
