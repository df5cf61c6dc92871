//! Configuration: defaults, then a TOML file, then `ROSGATE_*` environment
//! variables, each layer overriding the one before. Every key is listed in
//! `docs/configuration.md`.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
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
}

/// Every configuration key, as written in files and (upper-cased) in the environment.
pub const KEYS: &[&str] = &[
    "listen",
    "database_url",
    "encryption_key",
    "key_file",
    "max_body_bytes",
    "log_format",
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
        }
    }
}

impl Config {
    /// Loads the configuration: defaults < `file` (if given) < `ROSGATE_*`.
    pub fn load(file: Option<&Path>) -> Result<Config, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            fig = fig.merge(Toml::file_exact(f));
        }
        // Only the configuration keys: other ROSGATE_* variables (ROSGATE_LOG,
        // ROSGATE_CONFIG, the test harness's) are not configuration.
        fig.merge(Env::prefixed("ROSGATE_").only(KEYS))
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
    fn unknown_keys_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("rosgate.toml", "lissen = \"x\"")?;
            assert!(Config::load(Some(Path::new("rosgate.toml"))).is_err());
            Ok(())
        });
    }
}
