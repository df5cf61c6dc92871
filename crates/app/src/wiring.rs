//! The composition root: reads the configuration, connects the adapters
//! (database, sealer, Redis stores, identity provider, RouterOS client)
//! and wires the domain services to them into an [`AppState`]; and hands
//! the background loops the parts of the state they use. Start-up checks
//! of the configuration live here too, so a bad setting stops the process
//! before it listens.

use crate::config::{Config, ProvisioningConfig};
use crate::jobs::refusals::RefusalWriter;
use crate::jobs::settle::IntentSettler;
use crate::state::{AppState, WebSettings};
use db::Database;
use kernel::{Clock, Entropy, Environment, RoleId, TenantId};
use rbac::{Authorizer, BuiltinRole, RbacService};
use std::sync::Arc;
use tenancy::{
    IdentityProvider, MemorySessionStore, ProvisioningRule, SessionStore, Sessions, TenancyService,
};
use uuid::Uuid;

/// Start-up failed; the message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] kernel::StoreError),
    #[error(transparent)]
    Key(#[from] seal::BadKey),
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    KeyFile(#[from] seal::KeyFileError),
}

/// Connects to the configured database, migrates it, and wires services.
pub async fn build(
    config: &Config,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
) -> Result<AppState, StartError> {
    crate::enforce::limits::check_config(&config.rate_limits).map_err(StartError::Config)?;
    let db = Database::connect(&config.database_url).await?;
    db.migrate().await?;
    let key = match &config.encryption_key {
        Some(k) => k.clone(),
        None => seal::load_or_create_key(&config.key_file, entropy.as_ref())?,
    };
    let sealer = Arc::new(seal::AesGcmSealer::from_base64(&key, entropy.clone())?);
    let audit_trust = Arc::new(audit_trust(config, entropy.as_ref())?);
    let store = Arc::new(db.clone());
    let device_api: Arc<dyn tools::RouterOs> = Arc::new(routeros::RestClient::new(
        routeros::ClientConfig {
            allow_private_hosts: config.devices.allow_private_hosts,
            ..routeros::ClientConfig::default()
        },
        clock.clone(),
    ));
    // Plan confirmation tokens are signed with a key derived from the
    // sealing key, so every instance sharing the database accepts each
    // other's tokens.
    let token_key = {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"rosgate/plan-confirmation/v2\0");
        h.update(key.as_bytes());
        tools::plan::ConfirmationKey::new(h.finalize().into())
    };
    let (session_store, limiter) = shared_stores(config).await?;
    let (idp, web) = identity(config, clock.clone())?;
    let authz = Arc::new(Authorizer::new(store.clone()));
    let tenancy_service = TenancyService::new(
        store.clone(),
        clock.clone(),
        entropy.clone(),
        sealer.clone(),
    )
    .with_invitation_check(Arc::new(rbac::acceptance::InviterStillHolds::new(
        authz.clone(),
    )))
    .with_email_link_check(Arc::new(rbac::acceptance::NoAdminByEmail::new(
        authz.clone(),
    )))
    .with_api_token_max_ttl(time::Duration::days(i64::from(
        config.api_tokens.max_ttl_days.clamp(1, 3650),
    )))
    .with_targets(
        tenancy::TargetRules {
            allow_private_hosts: config.devices.allow_private_hosts,
        },
        Arc::new(crate::resolver::DnsResolver),
    );
    let runner = tools::Runner::new(device_api.clone(), clock.clone());
    let health = tools::health::Health::new(
        tools::health::HealthPorts {
            tenancy: tenancy_service.clone(),
            runner: runner.clone(),
            cache: Arc::new(kernel::MemoryCache::new(clock.clone())),
            locks: Arc::new(kernel::MemoryLocks::new(clock.clone())),
            clock: clock.clone(),
            entropy: entropy.clone(),
        },
        tools::health::Schedule::new(
            time::Duration::seconds(
                i64::try_from(config.health_interval_seconds.clamp(5, 3600)).unwrap_or(60),
            ),
            time::Duration::seconds(
                i64::try_from(config.health_jitter_seconds.min(600)).unwrap_or(10),
            ),
        ),
    );
    Ok(AppState {
        limits: crate::enforce::limits::Limits::new(
            limiter,
            config.rate_limits.clone(),
            clock.clone(),
        ),
        refusals: Arc::new(crate::enforce::refusals::Refusals::new()),
        sessions: Sessions::new(session_store, clock.clone(), entropy.clone()).with_max_lifetime(
            time::Duration::hours(i64::from(
                config.sessions.max_lifetime_hours.clamp(1, 24 * 30),
            )),
        ),
        sealer: sealer.clone(),
        idp,
        web: Arc::new(web),
        tools: runner,
        health,
        plans: tools::plan::Plans::new(
            store.clone(),
            device_api,
            clock.clone(),
            entropy.clone(),
            token_key,
        ),
        tenancy: tenancy_service,
        rbac: RbacService::new(store.clone(), clock.clone(), entropy.clone()),
        authz,
        audit: Arc::new(audit::writer::GroupCommit::start(
            Arc::new(db.audit_log(audit_trust.links.current().clone())),
            audit::writer::WriterConfig::default(),
        )),
        audit_trust,
        clock,
        entropy,
        db,
    })
}

/// Where sessions and rate-limit counters live.
async fn shared_stores(
    config: &Config,
) -> Result<(Arc<dyn SessionStore>, Arc<dyn kernel::RateLimiter>), StartError> {
    // Sessions and rate-limit counters live in Redis when it is
    // configured, shared by every instance; in this process otherwise.
    Ok(match &config.redis_url {
        Some(url) => {
            let store =
                redis_store::RedisSessionStore::connect(url, &config.redis_key_prefix).await?;
            let limiter = redis_store::RedisRateLimiter::from_store(&store).await?;
            (Arc::new(store), Arc::new(limiter))
        }
        None => (
            Arc::new(MemorySessionStore::with_max_pending_logins(
                config.sessions.max_pending_logins,
            )),
            Arc::new(kernel::MemoryRateLimiter::new()),
        ),
    })
}

/// The identity provider, when `[oidc]` is configured, and what the
/// browser-facing endpoints need from the configuration.
fn identity(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<(Option<Arc<dyn IdentityProvider>>, WebSettings), StartError> {
    let public_url = config.effective_public_url();
    tracing::info!(%public_url, "public_url (RFC 9728 resource, login redirects)");
    Ok(match &config.oidc {
        None => (
            None,
            WebSettings {
                public_url: public_url.clone(),
                cookie_secure: config.cookie_secure,
                provisioning: Vec::new(),
                post_logout_redirect_uri: None,
                resource: public_url.clone(),
                read_scopes: crate::config::default_read_scopes(),
                write_scopes: crate::config::default_write_scopes(),
            },
        ),
        Some(o) => {
            let resource = o.audience.clone().unwrap_or_else(|| public_url.clone());
            let settings = oidc::OidcSettings {
                issuer: o.issuer.clone(),
                client_id: o.client_id.clone(),
                client_secret: o.client_secret.clone(),
                redirect_uri: o
                    .redirect_uri
                    .clone()
                    .unwrap_or_else(|| format!("{public_url}/auth/callback")),
                scopes: o.scopes.clone(),
                audience: resource.clone(),
                resource_indicator: o.resource_indicator,
                prompt: o.prompt.clone(),
                claims: {
                    let mut c: Vec<String> = o
                        .provisioning
                        .iter()
                        .map(|r| r.claim.clone())
                        .filter(|c| c != "email" && c != "sub")
                        .collect();
                    c.sort();
                    c.dedup();
                    c
                },
            };
            let provider =
                oidc::OidcProvider::new(settings, clock.clone()).map_err(StartError::Config)?;
            let provisioning = o
                .provisioning
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    provisioning_rule(r)
                        .map_err(|e| StartError::Config(format!("oidc.provisioning[{i}]: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            (
                Some(Arc::new(provider) as Arc<dyn IdentityProvider>),
                WebSettings {
                    public_url: public_url.clone(),
                    cookie_secure: config.cookie_secure,
                    provisioning,
                    post_logout_redirect_uri: o.post_logout_redirect_uri.clone(),
                    resource,
                    read_scopes: scope_list("oidc.read_scopes", &o.read_scopes)?,
                    write_scopes: scope_list("oidc.write_scopes", &o.write_scopes)?,
                },
            )
        }
    })
}

/// The counted-refusals writer over `state`'s counters and audit writer.
pub fn refusal_writer(state: &AppState) -> RefusalWriter {
    RefusalWriter {
        refusals: state.refusals.clone(),
        audit: state.audit.clone(),
        clock: state.clock.clone(),
        entropy: state.entropy.clone(),
    }
}

/// The intent settler over `state`'s devices, tool runner, database and
/// audit writer.
pub fn intent_settler(state: &AppState) -> IntentSettler {
    IntentSettler {
        tenancy: state.tenancy.clone(),
        tools: state.tools.clone(),
        db: state.db.clone(),
        audit: state.audit.clone(),
        clock: state.clock.clone(),
        entropy: state.entropy.clone(),
    }
}

/// A configured scope list: not empty, each a scope token (RFC 6749 §3.3:
/// printable ASCII without space, `"` or `\`).
fn scope_list(key: &str, scopes: &[String]) -> Result<Vec<String>, StartError> {
    if scopes.is_empty() {
        return Err(StartError::Config(format!(
            "{key} must name at least one scope"
        )));
    }
    for s in scopes {
        if s.is_empty()
            || !s
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
        {
            return Err(StartError::Config(format!(
                "{key}: {s:?} is not a scope (printable ASCII, no spaces, quotes or backslashes)"
            )));
        }
    }
    Ok(scopes.to_vec())
}

/// A provisioning rule from the configuration, with names resolved.
fn provisioning_rule(r: &ProvisioningConfig) -> Result<ProvisioningRule, String> {
    let uuid = |what: &str, v: &str| {
        Uuid::parse_str(v).map_err(|_| format!("{what} must be an id (a UUID), not {v:?}"))
    };
    let role_id = match BuiltinRole::from_name(&r.role) {
        Some(b) => b.id(),
        None => RoleId::from_uuid(uuid("role", &r.role).map_err(|_| {
            format!(
                "role must be a built-in role name ({}) or a custom role's id, not {:?}",
                BuiltinRole::ALL.map(BuiltinRole::name).join(", "),
                r.role
            )
        })?),
    };
    let environments = r
        .environments
        .as_ref()
        .map(|es| {
            es.iter()
                .map(|e| {
                    e.parse::<Environment>()
                        .map_err(|_| format!("unknown environment {e:?}"))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    if r.claim.is_empty() || r.value.is_empty() {
        return Err("claim and value must not be empty".into());
    }
    Ok(ProvisioningRule {
        claim: r.claim.clone(),
        value: r.value.clone(),
        tenant_id: TenantId::from_uuid(uuid("tenant", &r.tenant)?),
        unit: r.unit.as_deref().map(|u| uuid("unit", u)).transpose()?,
        role_id,
        environments,
    })
}

/// The audit keys and checkpoint file: keys from the configuration, or
/// generated once into files next to `key_file`.
fn audit_trust(
    config: &Config,
    entropy: &dyn Entropy,
) -> Result<crate::checkpoint::AuditTrust, StartError> {
    use crate::checkpoint::key_bytes;
    let a = &config.audit;
    let beside = |name: &str| {
        std::path::Path::new(&config.key_file)
            .with_file_name(name)
            .display()
            .to_string()
    };
    let bad = |e: String| StartError::Config(format!("audit.{e}"));
    let link_key = match &a.link_key {
        Some(k) => k.clone(),
        None => seal::load_or_create_secret(&beside("audit-link.key"), entropy, "audit link key")?,
    };
    let checkpoint_key = match &a.checkpoint_key {
        Some(k) => k.clone(),
        None => seal::load_or_create_secret(
            &beside("audit-checkpoint.key"),
            entropy,
            "audit checkpoint signing key",
        )?,
    };
    let many = |what: &str, keys: &[String]| {
        keys.iter()
            .enumerate()
            .map(|(i, k)| key_bytes(&format!("{what}[{i}]"), k).map_err(bad))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(crate::checkpoint::AuditTrust::new(
        key_bytes("link_key", &link_key).map_err(bad)?,
        many("retired_link_keys", &a.retired_link_keys)?,
        key_bytes("checkpoint_key", &checkpoint_key).map_err(bad)?,
        many(
            "retired_checkpoint_public_keys",
            &a.retired_checkpoint_public_keys,
        )?,
        a.checkpoint_file
            .clone()
            .unwrap_or_else(|| beside("audit-checkpoints.jsonl"))
            .into(),
        a.checkpoint_interval_seconds,
    ))
}
