//! A tenant with one team and site, and a RouterOS simulator behind it: the
//! setup of the tool and health tests. Devices made here are simulated
//! routers of the same name; the simulator refuses what RouterOS 7.24's
//! command tree does not name (when the schema is present).

use kernel::{Environment, TenantId};
use rbac::BuiltinRole as R;
use routeros_sim::{Schema, Simulator};
use tenancy::{Capabilities, Device, DeviceCredentials, DeviceTls, Scope};
use testkit::TestApp;

pub struct Lab {
    pub app: TestApp,
    pub sim: Simulator,
    pub tenant: TenantId,
    pub team: tenancy::OrgUnit,
    pub site: tenancy::Site,
}

pub async fn lab() -> Lab {
    lab_with(|_| {}).await
}

pub async fn lab_with(configure: impl FnOnce(&mut rosgate::Config)) -> Lab {
    lab_clocked(configure, std::sync::Arc::new(kernel::SystemClock)).await
}

/// A lab whose server runs on `clock`.
pub async fn lab_clocked(
    configure: impl FnOnce(&mut rosgate::Config),
    clock: std::sync::Arc<dyn kernel::Clock>,
) -> Lab {
    let app = TestApp::spawn_clocked(
        testkit::TestDatabase::from_env(),
        testkit::reserve().await,
        configure,
        clock,
    )
    .await;
    let schema = Schema::find().map(|p| Schema::load(p).expect("the RouterOS schema loads"));
    if schema.is_none() {
        eprintln!("note: ../shared/routeros-schema is absent; requests are not checked against it");
    }
    let sim = Simulator::start(schema);
    let t = app.tenant("lab").await;
    let team = app.team(&t, "net").await;
    let site = app.site(t.id, &team, "lab-site").await;
    Lab {
        app,
        sim,
        tenant: t.id,
        team,
        site,
    }
}

impl Lab {
    /// A rosgate device backed by a simulated router of the same name, with
    /// its credentials stored.
    pub async fn device(&self, name: &str, env: Environment, caps: Capabilities) -> Device {
        self.device_with(name, env, caps, true).await
    }

    /// Like [`Lab::device`]; with `credentials` false rosgate stores none.
    pub async fn device_with(
        &self,
        name: &str,
        env: Environment,
        caps: Capabilities,
        credentials: bool,
    ) -> Device {
        let sim = self.sim.add_device(name, "api", "s3cret-pw").await.unwrap();
        self.app
            .state
            .tenancy
            .create_device(
                self.tenant,
                tenancy::service::NewDevice {
                    site_id: self.site.id,
                    name: name.into(),
                    host: sim.host.clone(),
                    port: sim.port,
                    environment: env,
                    tags: Default::default(),
                    capabilities: caps,
                    tls: DeviceTls::PlainHttp,
                    credentials: credentials.then(|| DeviceCredentials {
                        username: "api".into(),
                        password: "s3cret-pw".into(),
                    }),
                },
            )
            .await
            .unwrap()
    }

    /// A token of a user bound to `role` on the lab's team.
    pub async fn user(&self, role: R) -> String {
        self.app
            .user(self.tenant, &[(role, Scope::Team(self.team.id.into()))])
            .await
            .1
    }

    pub fn assert_no_violations(&self) {
        let v = self.sim.violations();
        assert!(
            v.is_empty(),
            "requests outside RouterOS 7.24's command set: {v:#?}"
        );
    }
}
