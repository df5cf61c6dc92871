//! The audit trail's keys and its signed checkpoint file.
//!
//! Keyed chain links need a key the database never sees, and a cut tail
//! (the newest rows and the recorded head deleted together) shows only
//! against a head kept elsewhere. [`AuditTrust`] holds both keys and the
//! checkpoint file: [`AuditTrust::write_checkpoints`] appends a signed line
//! for every chain whose head moved since the last one, and
//! [`AuditTrust::findings`] reads the newest valid line of a chain back for
//! verification. A background loop (`jobs::checkpoints`) writes
//! checkpoints when [`AuditTrust::due`] says so; `serve` writes a last one
//! on shutdown.

use audit::chain::{LinkKey, LinkKeys};
use audit::checkpoint::{Checkpoint, CheckpointSigner, CheckpointVerifier, Findings};
use audit::query::ChainKey;
use kernel::StoreError;
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Mutex;

/// The link keys, the checkpoint keys and the checkpoint file.
pub struct AuditTrust {
    pub links: LinkKeys,
    signer: CheckpointSigner,
    verifier: CheckpointVerifier,
    file: PathBuf,
    interval: time::Duration,
    /// The `seq` last checkpointed per chain, and when the next run is due.
    written: Mutex<(HashMap<ChainKey, i64>, Option<time::OffsetDateTime>)>,
}

impl std::fmt::Debug for AuditTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditTrust")
            .field("links", &self.links)
            .field("signer", &self.signer)
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// A base64 text of exactly 32 bytes.
pub fn key_bytes(what: &str, text: &str) -> Result<[u8; 32], String> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| format!("{what} must be the base64 encoding of exactly 32 bytes"))
}

impl AuditTrust {
    /// The trust of the given keys (see [`key_bytes`]).
    pub fn new(
        link_key: [u8; 32],
        retired_link_keys: Vec<[u8; 32]>,
        checkpoint_seed: [u8; 32],
        retired_public_keys: Vec<[u8; 32]>,
        file: PathBuf,
        interval_seconds: u64,
    ) -> Self {
        let signer = CheckpointSigner::from_seed(checkpoint_seed);
        let mut public = vec![signer.public_key()];
        public.extend(retired_public_keys);
        AuditTrust {
            links: LinkKeys::new(
                LinkKey::new(link_key),
                retired_link_keys.into_iter().map(LinkKey::new).collect(),
            ),
            verifier: CheckpointVerifier::new(&public),
            signer,
            file,
            interval: time::Duration::seconds(
                i64::try_from(interval_seconds.clamp(1, 86_400)).unwrap_or(60),
            ),
            written: Mutex::new((HashMap::new(), None)),
        }
    }

    /// The checkpoint file.
    pub fn file(&self) -> &std::path::Path {
        &self.file
    }

    /// Appends a signed checkpoint for every chain whose head moved since
    /// the last one this process wrote, and returns how many it wrote.
    /// `now` is the time each new checkpoint records.
    pub async fn write_checkpoints(
        &self,
        db: &db::Database,
        now: time::OffsetDateTime,
    ) -> Result<usize, StoreError> {
        let heads = db.audit_heads().await?;
        let mut lines = String::new();
        let mut moved = Vec::new();
        {
            let written = self.written.lock().unwrap_or_else(|e| e.into_inner());
            for (chain, head) in heads {
                if written.0.get(&chain) == Some(&head.seq) {
                    continue;
                }
                lines.push_str(&self.signer.line(&Checkpoint {
                    chain,
                    seq: head.seq,
                    head: head.hash,
                    at: now,
                }));
                lines.push('\n');
                moved.push((chain, head.seq));
            }
        }
        if moved.is_empty() {
            return Ok(0);
        }
        let io = |e: std::io::Error| {
            StoreError::Unavailable(format!(
                "cannot write the audit checkpoint file {}: {e}",
                self.file.display()
            ))
        };
        if let Some(dir) = self.file.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)
            .map_err(io)?;
        f.write_all(lines.as_bytes()).map_err(io)?;
        f.sync_data().map_err(io)?;
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        let n = moved.len();
        written.0.extend(moved);
        Ok(n)
    }

    /// Whether a scheduled run is due at `now` (every
    /// `checkpoint_interval_seconds`, the first at once); marks the next one.
    pub fn due(&self, now: time::OffsetDateTime) -> bool {
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        match written.1 {
            Some(next) if now < next => false,
            _ => {
                written.1 = Some(now + self.interval);
                true
            }
        }
    }

    /// What the checkpoint file says of `chain`: its newest valid
    /// checkpoint and the lines that are forged. A missing file says
    /// nothing. Reads line by line, in constant memory.
    pub fn findings(&self, chain: ChainKey) -> Result<Findings, StoreError> {
        let f = match std::fs::File::open(&self.file) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Findings::default()),
            Err(e) => {
                return Err(StoreError::Unavailable(format!(
                    "cannot read the audit checkpoint file {}: {e}",
                    self.file.display()
                )));
            }
        };
        // An unreadable line (not UTF-8) counts as forged.
        let lines = std::io::BufReader::new(f)
            .lines()
            .map(|l| l.unwrap_or_else(|_| "\u{0}".to_owned()));
        Ok(self.verifier.scan(chain, lines))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn runs_are_due_at_the_interval_the_clock_tells() {
        let t = AuditTrust::new([1; 32], vec![], [2; 32], vec![], "x".into(), 60);
        let start = datetime!(2026-01-01 00:00:00 UTC);
        assert!(t.due(start), "the first run is at once");
        assert!(!t.due(start + time::Duration::seconds(59)));
        assert!(t.due(start + time::Duration::seconds(60)));
        assert!(!t.due(start + time::Duration::seconds(61)));
    }
}
