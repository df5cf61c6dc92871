//! Configuration: defaults, then a TOML file, then `ROSGATE_*` environment
//! variables, each layer overriding the one before. Every key is listed in
//! `docs/configuration.md`.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The whole configuration.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// `sqlite://path?mode=rwc` (the default, a file under `./data`) or `postgres://…`.
    pub database_url: String,
    /// Base64 of 32 bytes: the AES-256-GCM key that seals device credentials.
    /// When unset, a key is generated once and kept in `key_file`.
    pub encryption_key: Option<String>,
    /// Where a generated encryption key is kept when `encryption_key` is unset.
    pub key_file: String,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Log format: `text` or `json`.
    pub log_format: String,
    /// How clients reach this rosgate (scheme, host, port, no path): the
    /// resource URI of RFC 9728 metadata and the default OIDC redirect.
    /// Unset: `http://<listen>` (see [`Config::effective_public_url`]).
    pub public_url: Option<String>,
    /// Mark session cookies `Secure`. Turn off only for plain-http localhost.
    pub cookie_secure: bool,
    /// `redis://…`: keep sessions in Redis, shared by every instance. When
    /// unset, they live in this process (one instance only).
    pub redis_url: Option<String>,
    /// Prefix of every Redis key rosgate writes.
    pub redis_key_prefix: String,
    /// OpenID Connect login and bearer tokens; unset for API tokens only.
    pub oidc: Option<OidcConfig>,
    /// Seconds between health checks of a device (it adapts: see docs).
    pub health_interval_seconds: u64,
    /// Up to this many seconds are added to each interval, so checks spread out.
    pub health_jitter_seconds: u64,
    /// Per-user request budgets (`[rate_limits]`).
    pub rate_limits: RateLimitsConfig,
    /// Where devices may be reached (`[devices]`).
    pub devices: DevicesConfig,
    /// Audit chain keys and signed checkpoints (`[audit]`).
    #[serde(default)]
    pub audit: AuditConfig,
    /// Browser session lifetimes and pending logins (`[sessions]`).
    #[serde(default)]
    pub sessions: SessionsConfig,
    /// API token lifetimes (`[api_tokens]`).
    #[serde(default)]
    pub api_tokens: ApiTokensConfig,
}

/// The `[sessions]` table. See `docs/configuration.md`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SessionsConfig {
    /// Hours after login a session ends however often it is used (it also
    /// ends after eight idle hours).
    pub max_lifetime_hours: u32,
    /// Logins kept pending at once in the in-process store; past it the
    /// oldest is dropped. (In Redis each expires after ten minutes.)
    pub max_pending_logins: usize,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        SessionsConfig {
            max_lifetime_hours: 24,
            max_pending_logins: tenancy::session::MAX_PENDING_LOGINS,
        }
    }
}

/// The `[api_tokens]` table. See `docs/configuration.md`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ApiTokensConfig {
    /// Longest lifetime of an API token, in days; also the lifetime of one
    /// created without `ttl_days`.
    pub max_ttl_days: u32,
}

impl Default for ApiTokensConfig {
    fn default() -> Self {
        ApiTokensConfig { max_ttl_days: 90 }
    }
}

/// The `[audit]` table: the key chain links are keyed with, the key
/// checkpoints are signed with, and where checkpoints go. Keys left unset
/// are generated once into files next to `key_file`. See `docs/audit.md`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Base64 of 32 bytes: the HMAC-SHA-256 key of new chain links.
    pub link_key: Option<String>,
    /// Base64 link keys used before a rotation; rows linked with them
    /// still verify.
    pub retired_link_keys: Vec<String>,
    /// Base64 of 32 bytes: the Ed25519 secret key checkpoints are signed with.
    pub checkpoint_key: Option<String>,
    /// Base64 Ed25519 public keys of checkpoints signed before a rotation.
    pub retired_checkpoint_public_keys: Vec<String>,
    /// The checkpoint file (JSON lines); by default `audit-checkpoints.jsonl`
    /// next to `key_file`. Keep it (or a copy) where database writers cannot.
    pub checkpoint_file: Option<String>,
    /// Seconds between checkpoints (one is also written on shutdown).
    pub checkpoint_interval_seconds: u64,
    /// Seconds after which an intent (a change about to be sent to a
    /// device) without an outcome is recorded as of unknown outcome: longer
    /// than any device call takes, so another instance's call in flight is
    /// never settled. Checked at start and every minute.
    pub intent_grace_seconds: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            link_key: None,
            retired_link_keys: Vec::new(),
            checkpoint_key: None,
            retired_checkpoint_public_keys: Vec::new(),
            checkpoint_file: None,
            checkpoint_interval_seconds: 60,
            intent_grace_seconds: 3600,
        }
    }
}

impl std::fmt::Debug for AuditConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keys are secrets: only whether they are set.
        f.debug_struct("AuditConfig")
            .field("link_key", &self.link_key.as_ref().map(|_| "<set>"))
            .field(
                "checkpoint_key",
                &self.checkpoint_key.as_ref().map(|_| "<set>"),
            )
            .field("checkpoint_file", &self.checkpoint_file)
            .field(
                "checkpoint_interval_seconds",
                &self.checkpoint_interval_seconds,
            )
            .finish_non_exhaustive()
    }
}

/// The `[devices]` table: rules for the addresses rosgate sends device
/// credentials to. See `docs/configuration.md`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DevicesConfig {
    /// Accept device hosts that are or resolve to loopback, link-local or
    /// unspecified addresses, and plain HTTP to loopback outside `lab`.
    /// Off by default; `serve --demo` and the test harness turn it on for
    /// their simulated devices on 127.0.0.1.
    pub allow_private_hosts: bool,
}

/// The `[rate_limits]` table: how many requests a user may make, counted
/// on every authenticated REST and MCP request, fleet-wide when
/// `redis_url` is set. See `docs/configuration.md`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsConfig {
    pub enabled: bool,
    /// When the rate-limit store cannot answer: `false` (the default)
    /// refuses the request with 503, `true` lets it through. Either way it
    /// is logged.
    pub fail_open: bool,
    /// The budget of users whose roles are not listed in `roles`.
    pub default: Budget,
    /// Budgets by built-in role name (`read_only`, `ops_rw`, `admin`, …) or
    /// custom role id. A user with several roles gets the largest.
    pub roles: std::collections::BTreeMap<String, Budget>,
    /// Extra budgets per tool name, counted per user on top of the above.
    pub tools: std::collections::BTreeMap<String, Budget>,
    /// Requests per minute a client address may make without naming a
    /// user (no credentials, or credentials that do not check out);
    /// unset is no limit.
    pub per_address_per_minute: Option<u32>,
}

/// Requests allowed per hour and per day; an unset field is no limit.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    #[serde(default)]
    pub per_hour: Option<u32>,
    #[serde(default)]
    pub per_day: Option<u32>,
}

impl Budget {
    /// `per_hour` per hour and ten times that per day.
    pub const fn hourly(per_hour: u32) -> Budget {
        Budget {
            per_hour: Some(per_hour),
            per_day: Some(per_hour.saturating_mul(10)),
        }
    }
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        RateLimitsConfig {
            enabled: true,
            fail_open: false,
            default: Budget::hourly(1000),
            roles: [
                ("read_only", Budget::hourly(1000)),
                ("ops_rw", Budget::hourly(500)),
                ("admin", Budget::hourly(2000)),
                ("org_admin", Budget::hourly(2000)),
            ]
            .into_iter()
            .map(|(r, b)| (r.to_owned(), b))
            .collect(),
            tools: std::collections::BTreeMap::new(),
            per_address_per_minute: Some(120),
        }
    }
}

/// The `[oidc]` table: rosgate as a client and resource server of an
/// OpenID Connect provider. See `docs/authentication.md`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL, exactly as in its tokens.
    pub issuer: String,
    pub client_id: String,
    /// Unset for a public client.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Defaults to `<public_url>/auth/callback`.
    #[serde(default)]
    pub redirect_uri: Option<String>,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The audience bearer tokens must carry (RFC 8707 resource); defaults to `public_url`.
    #[serde(default)]
    pub audience: Option<String>,
    /// Send `resource=<audience>` at login (off for providers that refuse it).
    #[serde(default = "yes")]
    pub resource_indicator: bool,
    /// `prompt` sent at login, such as `consent`.
    #[serde(default)]
    pub prompt: Option<String>,
    /// Where the provider sends the browser after logout.
    #[serde(default)]
    pub post_logout_redirect_uri: Option<String>,
    /// Just-in-time provisioning: the first rule whose claim matches creates the user.
    #[serde(default)]
    pub provisioning: Vec<ProvisioningConfig>,
    /// Scopes of which a bearer JWT must hold one for safe methods (`GET`,
    /// `HEAD`, `OPTIONS`), as the provider writes them in `scope` or `scp`.
    /// The first is the one a 403 `insufficient_scope` challenge names.
    #[serde(default = "default_read_scopes")]
    pub read_scopes: Vec<String>,
    /// Scopes of which a bearer JWT must hold one for the other methods.
    #[serde(default = "default_write_scopes")]
    pub write_scopes: Vec<String>,
}

/// `oidc.read_scopes` by default.
pub fn default_read_scopes() -> Vec<String> {
    vec!["rosgate:read".into()]
}

/// `oidc.write_scopes` by default.
pub fn default_write_scopes() -> Vec<String> {
    vec!["rosgate:write".into()]
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// One `[[oidc.provisioning]]` rule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProvisioningConfig {
    /// A claim of the ID token or access token, such as `groups`.
    pub claim: String,
    /// The value it must hold (or contain, for a list).
    pub value: String,
    /// The tenant's id.
    pub tenant: String,
    /// A division, group or team id; unset for the whole tenant.
    #[serde(default)]
    pub unit: Option<String>,
    /// A built-in role name (`member`, `read_only`, …) or a custom role's id.
    pub role: String,
    /// Environments the binding is limited to; unset for all.
    #[serde(default)]
    pub environments: Option<Vec<String>>,
}

fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile", "offline_access"]
        .map(String::from)
        .to_vec()
}

fn yes() -> bool {
    true
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets (the encryption key, passwords in URLs) stay out of logs.
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("oidc", &self.oidc)
            .finish_non_exhaustive()
    }
}

/// Every configuration key, as written in files and (upper-cased) in the environment.
pub const KEYS: &[&str] = &[
    "listen",
    "database_url",
    "encryption_key",
    "key_file",
    "max_body_bytes",
    "log_format",
    "public_url",
    "cookie_secure",
    "redis_url",
    "redis_key_prefix",
    "oidc",
    "health_interval_seconds",
    "health_jitter_seconds",
    "rate_limits",
    "devices",
    "audit",
    "sessions",
    "api_tokens",
];

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            database_url: "sqlite://./data/rosgate.db?mode=rwc".into(),
            encryption_key: None,
            key_file: "./data/rosgate.key".into(),
            max_body_bytes: 1024 * 1024,
            log_format: "text".into(),
            public_url: None,
            cookie_secure: true,
            redis_url: None,
            redis_key_prefix: "rosgate:".into(),
            oidc: None,
            health_interval_seconds: 60,
            health_jitter_seconds: 10,
            rate_limits: RateLimitsConfig::default(),
            devices: DevicesConfig::default(),
            audit: AuditConfig::default(),
            sessions: SessionsConfig::default(),
            api_tokens: ApiTokensConfig::default(),
        }
    }
}

impl Config {
    /// `public_url`, or when it is unset `http://<listen>`: the address
    /// rosgate listens on, with a wildcard address (`0.0.0.0`, `[::]`) read
    /// as loopback, since no client can reach a wildcard. Without a
    /// trailing slash.
    pub fn effective_public_url(&self) -> String {
        if let Some(url) = &self.public_url {
            return url.trim_end_matches('/').to_owned();
        }
        match self.listen.parse::<std::net::SocketAddr>() {
            Ok(std::net::SocketAddr::V4(a)) if a.ip().is_unspecified() => {
                format!("http://127.0.0.1:{}", a.port())
            }
            Ok(std::net::SocketAddr::V6(a)) if a.ip().is_unspecified() => {
                format!("http://[::1]:{}", a.port())
            }
            Ok(a) => format!("http://{a}"),
            // A host name: as written.
            Err(_) => format!("http://{}", self.listen),
        }
    }

    /// Loads the configuration: defaults < `file` (if given) < `ROSGATE_*`.
    pub fn load(file: Option<&Path>) -> Result<Config, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            fig = fig.merge(Toml::file_exact(f));
        }
        // Only the configuration keys: other ROSGATE_* variables (ROSGATE_LOG,
        // ROSGATE_CONFIG, the test harness's) are not configuration.
        // Nested keys use a double underscore: ROSGATE_OIDC__ISSUER.
        fig.merge(
            Env::prefixed("ROSGATE_")
                .filter(|k| {
                    let top = k.as_str().split("__").next().unwrap_or_default();
                    KEYS.iter().any(|key| key.eq_ignore_ascii_case(top))
                })
                .split("__"),
        )
        .extract()
        .map_err(Box::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_override_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "rosgate.toml",
                "listen = \"0.0.0.0:9000\"\nlog_format = \"json\"",
            )?;
            jail.set_env("ROSGATE_LISTEN", "127.0.0.1:9999");
            jail.set_env("ROSGATE_LOG", "debug");
            let c = Config::load(Some(Path::new("rosgate.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.listen, "127.0.0.1:9999", "env beats file");
            assert_eq!(c.log_format, "json", "file beats defaults");
            assert_eq!(c.database_url, Config::default().database_url);
            Ok(())
        });
    }

    #[test]
    fn public_url_defaults_to_the_listen_address() {
        let at = |listen: &str| Config {
            listen: listen.into(),
            ..Config::default()
        };
        assert_eq!(
            at("127.0.0.1:9123").effective_public_url(),
            "http://127.0.0.1:9123"
        );
        assert_eq!(
            at("0.0.0.0:9000").effective_public_url(),
            "http://127.0.0.1:9000"
        );
        assert_eq!(at("[::]:9000").effective_public_url(), "http://[::1]:9000");
        assert_eq!(at("[::1]:9000").effective_public_url(), "http://[::1]:9000");
        assert_eq!(
            at("gw.example:80").effective_public_url(),
            "http://gw.example:80"
        );
        let set = Config {
            public_url: Some("https://rosgate.example.net/".into()),
            ..at("0.0.0.0:9000")
        };
        assert_eq!(set.effective_public_url(), "https://rosgate.example.net");
    }

    #[test]
    fn oidc_settings_come_from_a_table_or_nested_variables() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "rosgate.toml",
                "[oidc]\nissuer = \"https://idp.example\"\nclient_id = \"rosgate\"\n\n[[oidc.provisioning]]\nclaim = \"groups\"\nvalue = \"netops\"\ntenant = \"t\"\nrole = \"member\"\n",
            )?;
            jail.set_env("ROSGATE_OIDC__CLIENT_SECRET", "s3cret");
            let c = Config::load(Some(Path::new("rosgate.toml"))).map_err(|e| e.to_string())?;
            let oidc = c.oidc.clone().expect("oidc table");
            assert_eq!(oidc.issuer, "https://idp.example");
            assert_eq!(oidc.client_secret.as_deref(), Some("s3cret"));
            assert_eq!(oidc.scopes, default_scopes());
            assert_eq!(oidc.provisioning[0].role, "member");
            assert!(
                !format!("{c:?}").contains("s3cret"),
                "secrets stay out of Debug"
            );
            Ok(())
        });
    }

    #[test]
    fn the_example_production_file_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/rosgate.toml");
        let c = Config::load(Some(&path)).expect("deploy/rosgate.toml is valid");
        assert!(c.redis_url.is_some());
        assert!(c.oidc.is_some());
        // Its rate limits keep the role defaults and add a tool's budget.
        assert_eq!(c.rate_limits.roles, RateLimitsConfig::default().roles);
        assert_eq!(c.rate_limits.tools["update_dns_servers"].per_hour, Some(20));
        crate::enforce::limits::check_config(&c.rate_limits)
            .expect("its budgets name real roles and tools");
    }

    #[test]
    fn a_role_budget_in_a_file_overrides_only_what_it_sets() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "rosgate.toml",
                "[rate_limits.roles]\nops_rw = { per_hour = 5 }\n",
            )?;
            jail.set_env("ROSGATE_RATE_LIMITS__FAIL_OPEN", "true");
            let c = Config::load(Some(Path::new("rosgate.toml"))).expect("loads");
            let r = &c.rate_limits;
            assert_eq!(r.roles["ops_rw"].per_hour, Some(5));
            // The daily default stays: files override field by field.
            assert_eq!(r.roles["ops_rw"].per_day, Some(5000));
            assert_eq!(r.roles["read_only"], Budget::hourly(1000));
            assert!(r.fail_open && r.enabled);
            Ok(())
        });
    }

    #[test]
    fn private_device_hosts_are_refused_unless_allowed() {
        assert!(!Config::default().devices.allow_private_hosts);
        figment::Jail::expect_with(|jail| {
            jail.create_file("rosgate.toml", "[devices]\nallow_private_hosts = true\n")?;
            let c = Config::load(Some(Path::new("rosgate.toml"))).expect("loads");
            assert!(c.devices.allow_private_hosts);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("rosgate.toml", "lissen = \"x\"")?;
            assert!(Config::load(Some(Path::new("rosgate.toml"))).is_err());
            Ok(())
        });
    }
}
