//! The test harness: a real rosgate served over HTTP on port 0, backed by a
//! fresh SQLite file or a fresh PostgreSQL database, plus fixtures that
//! build tenants, teams and users with tokens.
//!
//! The backend is chosen by `ROSGATE_TEST_DATABASE`: `sqlite` (default) or
//! `postgres`; PostgreSQL is reached at `ROSGATE_TEST_POSTGRES_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`) and each [`TestApp`]
//! gets a database of its own, named `rgtest_…`.

#![allow(clippy::expect_used)] // test support: failing loudly is the point

pub mod idp;
pub mod mcp;

use kernel::{Environment, OsEntropy, SystemClock, TenantId};
use rbac::BuiltinRole;
use reqwest::{Method, StatusCode};
use rosgate::{AppState, Config};
use sea_orm::ConnectionTrait;
use serde_json::Value;
use std::sync::Arc;
use tenancy::{OrgUnit, Scope, Tenant, UnitKind, User};

/// Which database a test app uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestDatabase {
    Sqlite,
    Postgres,
}

impl TestDatabase {
    /// The backend chosen for this test run.
    pub fn from_env() -> TestDatabase {
        match std::env::var("ROSGATE_TEST_DATABASE").as_deref() {
            Ok("postgres") => TestDatabase::Postgres,
            _ => TestDatabase::Sqlite,
        }
    }
}

/// The Redis server tests use (`ROSGATE_TEST_REDIS_URL`).
pub fn redis_url() -> String {
    std::env::var("ROSGATE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// The PostgreSQL server tests use.
pub fn postgres_admin_url() -> String {
    std::env::var("ROSGATE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh, empty database URL for `backend`. Keep the returned guard alive
/// as long as the database is used.
pub async fn fresh_database(backend: TestDatabase) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = match backend {
        TestDatabase::Sqlite => format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("rosgate.db").display()
        ),
        TestDatabase::Postgres => {
            let admin_url = postgres_admin_url();
            let admin = sea_orm::Database::connect(&admin_url).await.expect(
                "PostgreSQL must be running for ROSGATE_TEST_DATABASE=postgres (see DEVELOPERS.md)",
            );
            let name = format!("rgtest_{}", uuid::Uuid::new_v4().simple());
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            let base = admin_url
                .rsplit_once('/')
                .map_or(admin_url.as_str(), |(b, _)| b)
                .to_owned();
            format!("{base}/{name}")
        }
    };
    (url, dir)
}

/// A listener on a free loopback port and its base URL (`http://127.0.0.1:<port>`).
pub async fn reserve() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let base = format!("http://{}", listener.local_addr().expect("local addr"));
    (listener, base)
}

/// A running rosgate and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub state: AppState,
    pub client: reqwest::Client,
    pub backend: TestDatabase,
    /// The configuration it was started with.
    pub config: Config,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// A reply: status, headers and the body as JSON (`Null` when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The `detail` of a problem reply.
    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }

    /// The `code` of a problem reply.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    /// A string field of the body.
    pub fn str(&self, field: &str) -> String {
        self.body[field].as_str().unwrap_or_default().to_owned()
    }

    /// Whether the reply is an RFC 9457 problem document.
    pub fn is_problem(&self) -> bool {
        self.headers
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"))
            && self.body["status"].as_u64() == Some(u64::from(self.status.as_u16()))
            && self.body["code"].is_string()
    }
}

impl TestApp {
    /// Starts rosgate on the backend chosen by the environment.
    pub async fn spawn() -> TestApp {
        Self::spawn_on(TestDatabase::from_env()).await
    }

    /// Starts rosgate on `backend`.
    pub async fn spawn_on(backend: TestDatabase) -> TestApp {
        Self::spawn_with(backend, reserve().await, |_| {}).await
    }

    /// Starts rosgate on `backend`, serving on a listener reserved with
    /// [`reserve`] (so a peer such as an identity provider can be told the
    /// address first), with the configuration adjusted by `configure`.
    pub async fn spawn_with(
        backend: TestDatabase,
        listener: (tokio::net::TcpListener, String),
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        Self::spawn_clocked(backend, listener, configure, Arc::new(SystemClock)).await
    }

    /// Like [`TestApp::spawn_with`], on `clock` (a `ManualClock` moves
    /// expiry and rate windows without sleeping).
    pub async fn spawn_clocked(
        backend: TestDatabase,
        (listener, base): (tokio::net::TcpListener, String),
        configure: impl FnOnce(&mut Config),
        clock: Arc<dyn kernel::Clock>,
    ) -> TestApp {
        let (url, dir) = fresh_database(backend).await;
        let mut config = Config {
            database_url: url,
            key_file: dir.path().join("key").display().to_string(),
            max_body_bytes: 64 * 1024,
            public_url: Some(base.clone()),
            cookie_secure: false,
            // Simulated devices listen on 127.0.0.1.
            devices: rosgate::config::DevicesConfig {
                allow_private_hosts: true,
            },
            ..Config::default()
        };
        configure(&mut config);
        // A status an operation's OpenAPI entry does not list fails the test.
        rosgate::rest::failure::fail_on_undocumented_statuses();
        let state = rosgate::wiring::build(&config, clock, Arc::new(OsEntropy))
            .await
            .expect("app state");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = rosgate::server::app(state.clone(), config.max_body_bytes);
        tokio::spawn(async move {
            let _ = rosgate::server::serve(app, listener, async {
                let _ = rx.await;
            })
            .await;
        });
        TestApp {
            base,
            state,
            client: reqwest::Client::new(),
            backend,
            config,
            _dir: dir,
            _shutdown: tx,
        }
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        };
        let mut req = self.client.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body read");
        Reply {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    pub async fn get(&self, token: &str, path: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, token: &str, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn put(&self, token: &str, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, token: &str, path: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    // ---- fixtures -------------------------------------------------------

    /// A new tenant.
    pub async fn tenant(&self, name: &str) -> Tenant {
        self.state
            .tenancy
            .create_tenant(&format!("{name}-{}", short_id()))
            .await
            .expect("tenant")
    }

    /// A unit below `parent`.
    pub async fn unit(
        &self,
        tenant: &Tenant,
        kind: UnitKind,
        parent: uuid::Uuid,
        name: &str,
    ) -> OrgUnit {
        self.state
            .tenancy
            .create_unit(tenant.id, kind, parent, name)
            .await
            .expect("unit")
    }

    /// A team with its own division and group.
    pub async fn team(&self, tenant: &Tenant, name: &str) -> OrgUnit {
        let d = self
            .unit(
                tenant,
                UnitKind::Division,
                tenant.id.uuid(),
                &format!("{name}-division"),
            )
            .await;
        let g = self
            .unit(tenant, UnitKind::Group, d.id, &format!("{name}-group"))
            .await;
        self.unit(tenant, UnitKind::Team, g.id, name).await
    }

    /// A user with the given bindings and an API token for it.
    pub async fn user(
        &self,
        tenant: TenantId,
        bindings: &[(BuiltinRole, Scope)],
    ) -> (User, String) {
        self.user_with(
            tenant,
            bindings.iter().map(|(r, s)| (*r, *s, None)).collect(),
            false,
        )
        .await
    }

    /// A user with bindings limited to environments, optionally a platform admin.
    pub async fn user_with(
        &self,
        tenant: TenantId,
        bindings: Vec<(BuiltinRole, Scope, Option<Vec<Environment>>)>,
        platform_admin: bool,
    ) -> (User, String) {
        let email = format!("u{}@example.test", short_id());
        let user = self
            .state
            .tenancy
            .create_user(tenant, &email, "Test User", platform_admin)
            .await
            .expect("user");
        for (role, scope, envs) in bindings {
            let now = self.state.clock.now();
            let b = rbac::RoleBinding {
                id: self.state.entropy.uuid_v7(now).into(),
                tenant_id: tenant,
                user_id: user.id,
                role_id: role.id(),
                scope,
                environments: envs,
                created_at: now,
            };
            self.state
                .rbac
                .repo()
                .insert_binding(&b)
                .await
                .expect("binding");
        }
        let (_, secret) = self
            .state
            .tenancy
            .create_api_token(&user, "test", None)
            .await
            .expect("token");
        (user, secret.token)
    }

    /// A custom role, stored as it is: fixtures set up a world that the
    /// delegation rules then guard.
    pub async fn role(
        &self,
        tenant: TenantId,
        name: &str,
        permissions: rbac::PermissionSet,
    ) -> rbac::Role {
        let now = self.state.clock.now();
        let role = rbac::Role {
            id: kernel::RoleId::from_uuid(self.state.entropy.uuid_v7(now)),
            tenant_id: Some(tenant),
            name: name.to_owned(),
            permissions,
            builtin: false,
            created_at: now,
        };
        self.state
            .rbac
            .repo()
            .insert_role(&role)
            .await
            .expect("role");
        role
    }

    /// A device scope grant, stored as it is (see [`TestApp::role`]).
    pub async fn device_scope(
        &self,
        tenant: TenantId,
        user: kernel::UserId,
        target: rbac::DeviceScopeTarget,
    ) -> rbac::DeviceScope {
        let now = self.state.clock.now();
        let scope = rbac::DeviceScope {
            id: kernel::DeviceScopeId::from_uuid(self.state.entropy.uuid_v7(now)),
            tenant_id: tenant,
            user_id: user,
            target,
            granted_by: user,
            created_at: now,
        };
        self.state
            .rbac
            .repo()
            .insert_device_scope(&scope)
            .await
            .expect("device scope");
        scope
    }

    /// A site owned by `team`.
    pub async fn site(&self, tenant: TenantId, team: &OrgUnit, name: &str) -> tenancy::Site {
        self.state
            .tenancy
            .create_site(tenant, team.id.into(), name)
            .await
            .expect("site")
    }

    /// A device at `site`.
    pub async fn device(
        &self,
        tenant: TenantId,
        site: &tenancy::Site,
        env: Environment,
    ) -> tenancy::Device {
        self.state
            .tenancy
            .create_device(
                tenant,
                tenancy::service::NewDevice {
                    site_id: site.id,
                    name: format!("r-{}", short_id()),
                    host: "10.0.0.1".into(),
                    port: 443,
                    environment: env,
                    tags: Default::default(),
                    capabilities: Default::default(),
                    tls: Default::default(),
                    credentials: None,
                },
            )
            .await
            .expect("device")
    }
}

/// A short random suffix for unique names.
pub fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}
