//! Key files: a base64 secret of 32 bytes kept in a file, generated on
//! first use with mode 0600, so that a fresh installation starts without a
//! key in its configuration and keeps the same key across restarts.

use crate::AesGcmSealer;
use kernel::Entropy;
use std::path::Path;

/// A key file could not be read or created. Fix the file's permissions or
/// its directory, point the setting at a writable path, or give the key in
/// the configuration instead.
#[derive(Debug, thiserror::Error)]
#[error("cannot read or write the key file {path}: {source}")]
pub struct KeyFileError {
    /// The file at fault.
    pub path: String,
    /// What the operating system said.
    #[source]
    pub source: std::io::Error,
}

/// The credential encryption key kept in `path` (see
/// [`load_or_create_secret`]).
pub fn load_or_create_key(path: &str, entropy: &dyn Entropy) -> Result<String, KeyFileError> {
    load_or_create_secret(path, entropy, "credential encryption key")
}

/// The base64 secret of 32 bytes kept in `path`, generated (mode 0600) on
/// first use; `what` names it in the log line announcing a new one.
/// Surrounding whitespace in the file is ignored. A file that exists is
/// never overwritten.
pub fn load_or_create_secret(
    path: &str,
    entropy: &dyn Entropy,
    what: &str,
) -> Result<String, KeyFileError> {
    let err = |source| KeyFileError {
        path: path.to_owned(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(k) => Ok(k.trim().to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = Path::new(path).parent() {
                std::fs::create_dir_all(dir).map_err(err)?;
            }
            let key = AesGcmSealer::generate_key(entropy);
            write_private(path, &key).map_err(err)?;
            tracing::info!(path, "generated a new {what}");
            Ok(key)
        }
        Err(e) => Err(err(e)),
    }
}

/// Creates `path` readable by its owner only and writes `contents`; fails
/// if the file already exists.
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

/// Writes `contents` to `path`; file permissions are left to the system.
#[cfg(not(unix))]
fn write_private(path: &str, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::SeededEntropy;
    use std::sync::Arc;

    #[test]
    fn a_missing_key_file_is_created_once_and_read_back_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("key").display().to_string();
        let first = load_or_create_key(&path, &SeededEntropy::new(3)).unwrap();
        let again = load_or_create_key(&path, &SeededEntropy::new(4)).unwrap();
        assert_eq!(first, again, "an existing key is kept");
        let e: Arc<dyn Entropy> = Arc::new(SeededEntropy::new(5));
        assert!(AesGcmSealer::from_base64(&first, e).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_generated_key_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key").display().to_string();
        load_or_create_secret(&path, &SeededEntropy::new(3), "test key").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn whitespace_around_a_stored_key_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key").display().to_string();
        std::fs::write(&path, "  c2VjcmV0\n").unwrap();
        assert_eq!(
            load_or_create_secret(&path, &SeededEntropy::new(3), "test key").unwrap(),
            "c2VjcmV0"
        );
    }

    #[test]
    fn an_unreadable_key_file_names_its_path() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be cannot be read as a key.
        let path = dir.path().display().to_string();
        let e = load_or_create_key(&path, &SeededEntropy::new(3)).unwrap_err();
        assert_eq!(e.path, path);
        assert!(e.to_string().contains(&path), "{e}");
    }
}
