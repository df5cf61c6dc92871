//! The application state: domain services wired to their adapters.

use crate::config::Config;
use crate::crypto::AesGcmSealer;
use audit::AuditSink;
use db::Database;
use kernel::{Clock, Entropy};
use rbac::{Authorizer, RbacService};
use std::sync::Arc;
use tenancy::TenancyService;

/// Everything a request handler needs, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub tenancy: TenancyService,
    pub rbac: RbacService,
    pub authz: Arc<Authorizer>,
    pub audit: Arc<dyn AuditSink>,
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
    pub db: Database,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// Start-up failed; the message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] kernel::StoreError),
    #[error(transparent)]
    Key(#[from] crate::crypto::BadKey),
    #[error("cannot read or write the key file {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
}

impl AppState {
    /// Connects to the configured database, migrates it, and wires services.
    pub async fn build(
        config: &Config,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
    ) -> Result<AppState, StartError> {
        let db = Database::connect(&config.database_url).await?;
        db.migrate().await?;
        let key = match &config.encryption_key {
            Some(k) => k.clone(),
            None => load_or_create_key(&config.key_file, entropy.as_ref())?,
        };
        let sealer = Arc::new(AesGcmSealer::from_base64(&key, entropy.clone())?);
        let store = Arc::new(db.clone());
        Ok(AppState {
            tenancy: TenancyService::new(store.clone(), clock.clone(), entropy.clone(), sealer),
            rbac: RbacService::new(store.clone(), clock.clone(), entropy.clone()),
            authz: Arc::new(Authorizer::new(store.clone())),
            audit: store,
            clock,
            entropy,
            db,
        })
    }
}

fn load_or_create_key(path: &str, entropy: &dyn Entropy) -> Result<String, StartError> {
    let err = |source| StartError::KeyFile {
        path: path.to_owned(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(k) => Ok(k.trim().to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = std::path::Path::new(path).parent() {
                std::fs::create_dir_all(dir).map_err(err)?;
            }
            let key = AesGcmSealer::generate_key(entropy);
            write_private(path, &key).map_err(err)?;
            tracing::info!(path, "generated a new credential encryption key");
            Ok(key)
        }
        Err(e) => Err(err(e)),
    }
}

#[cfg(unix)]
fn write_private(path: &str, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &str, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}
