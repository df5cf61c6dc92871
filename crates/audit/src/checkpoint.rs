//! Signed checkpoints: a chain's head, signed, kept outside the database.
//!
//! Keyed links stop a database writer from forging rows, but not from
//! cutting the newest rows and the recorded head together, and rows of the
//! first, unkeyed encoding can be rewritten wholesale. A checkpoint states
//! "chain C had `seq` N with hash H at time T", signed with an Ed25519 key
//! from the configuration; rosgate appends one per chain that moved to a
//! file (JSON lines) at an interval and on shutdown. Verification then
//! requires the stored chain to still hold row N with hash H.
//!
//! This module is pure: it signs, verifies, and writes and reads lines; the
//! application decides where the file lives and when to write.
//!
//! The signed message is `rosgate audit checkpoint v1` and a NUL, then the
//! chain's UUID (16 bytes), `seq` (big-endian `i64`), the head (32 bytes)
//! and the time in microseconds since the Unix epoch (big-endian `i64`).

use crate::chain::ChainKey;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

/// A chain's head at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    pub chain: ChainKey,
    pub seq: i64,
    pub head: [u8; 32],
    pub at: OffsetDateTime,
}

impl Checkpoint {
    fn message(&self) -> Vec<u8> {
        let micros = i64::try_from(self.at.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX);
        let mut m = Vec::with_capacity(96);
        m.extend_from_slice(b"rosgate audit checkpoint v1\0");
        m.extend_from_slice(self.chain.0.as_bytes());
        m.extend_from_slice(&self.seq.to_be_bytes());
        m.extend_from_slice(&self.head);
        m.extend_from_slice(&micros.to_be_bytes());
        m
    }
}

/// The id of a public key: the first eight bytes, in hex, of its SHA-256.
fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// Signs checkpoints with the configured Ed25519 key.
pub struct CheckpointSigner {
    key: SigningKey,
    id: String,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl CheckpointSigner {
    /// The signer of a 32-byte Ed25519 secret key (seed).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(&key.verifying_key());
        CheckpointSigner { key, id }
    }

    /// The public half, which verification needs.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The checkpoint as one JSON line (no line end).
    pub fn line(&self, c: &Checkpoint) -> String {
        let signature = self.key.sign(&c.message());
        let line = Line {
            chain: c.chain.0,
            seq: c.seq,
            head: hex::encode(c.head),
            at_us: i64::try_from(c.at.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX),
            key_id: self.id.clone(),
            signature: STANDARD.encode(signature.to_bytes()),
        };
        serde_json::to_string(&line).unwrap_or_default()
    }
}

/// A checkpoint file's line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    chain: Uuid,
    seq: i64,
    head: String,
    at_us: i64,
    key_id: String,
    signature: String,
}

/// What one chain's lines of a checkpoint file say.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Findings {
    /// The newest (highest `seq`) checkpoint whose signature holds.
    pub latest: Option<Checkpoint>,
    /// Lines of this chain whose signature does not hold (or that cannot be
    /// read at all, which could be any chain's), by line number from 1.
    pub forged: Vec<u64>,
}

/// Checks checkpoints against the public keys the configuration names.
#[derive(Debug, Clone)]
pub struct CheckpointVerifier {
    keys: Vec<(String, VerifyingKey)>,
}

impl CheckpointVerifier {
    /// A verifier accepting these 32-byte public keys; those that are not
    /// valid Ed25519 points are ignored.
    pub fn new(public_keys: &[[u8; 32]]) -> Self {
        let keys = public_keys
            .iter()
            .filter_map(|k| VerifyingKey::from_bytes(k).ok())
            .map(|k| (key_id(&k), k))
            .collect();
        CheckpointVerifier { keys }
    }

    /// The checkpoint a line states, if it is well formed and signed by one
    /// of the keys; `Err(chain)` when it is not (with its chain, if that can
    /// be read).
    fn check(&self, text: &str) -> Result<Checkpoint, Option<ChainKey>> {
        let line: Line = serde_json::from_str(text).map_err(|_| None)?;
        let chain = ChainKey(line.chain);
        let bad = || Some(chain);
        let head = crate::chain::from_hex(&line.head).ok_or_else(bad)?;
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(line.at_us) * 1000)
            .map_err(|_| bad())?;
        let signature: [u8; 64] = STANDARD
            .decode(&line.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(bad)?;
        let c = Checkpoint {
            chain,
            seq: line.seq,
            head,
            at,
        };
        let (_, key) = self
            .keys
            .iter()
            .find(|(id, _)| *id == line.key_id)
            .ok_or_else(bad)?;
        key.verify(&c.message(), &Signature::from_bytes(&signature))
            .map_err(|_| bad())?;
        Ok(c)
    }

    /// Reads a checkpoint file's lines for `chain`: the newest checkpoint
    /// that holds, and every line that does not. Empty lines are skipped.
    pub fn scan<S: AsRef<str>>(
        &self,
        chain: ChainKey,
        lines: impl IntoIterator<Item = S>,
    ) -> Findings {
        let mut found = Findings::default();
        for (n, text) in lines.into_iter().enumerate() {
            let text = text.as_ref().trim();
            if text.is_empty() {
                continue;
            }
            match self.check(text) {
                Ok(c) if c.chain == chain => {
                    if found.latest.is_none_or(|l| c.seq >= l.seq) {
                        found.latest = Some(c);
                    }
                }
                Ok(_) => {}
                Err(of) if of.is_none_or(|k| k == chain) => found.forged.push(n as u64 + 1),
                Err(_) => {}
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn checkpoint(seq: i64) -> Checkpoint {
        Checkpoint {
            chain: ChainKey(Uuid::from_u128(5)),
            seq,
            head: [seq as u8; 32],
            at: datetime!(2026-01-01 00:00:00.123456 UTC),
        }
    }

    #[test]
    fn a_signed_line_reads_back_and_the_newest_wins() {
        let signer = CheckpointSigner::from_seed([3; 32]);
        let verifier = CheckpointVerifier::new(&[signer.public_key()]);
        let other = CheckpointSigner::from_seed([4; 32]).line(&Checkpoint {
            chain: ChainKey(Uuid::from_u128(6)),
            ..checkpoint(9)
        });
        let lines = [
            signer.line(&checkpoint(2)),
            other,
            signer.line(&checkpoint(4)),
        ];
        let found = verifier.scan(checkpoint(0).chain, &lines);
        assert_eq!(found.latest, Some(checkpoint(4)));
        assert_eq!(
            found.forged,
            Vec::<u64>::new(),
            "another chain's line is not ours"
        );
    }

    #[test]
    fn a_line_with_a_wrong_signature_or_an_unknown_key_is_forged() {
        let signer = CheckpointSigner::from_seed([3; 32]);
        let verifier = CheckpointVerifier::new(&[signer.public_key()]);
        let good = signer.line(&checkpoint(2));
        let mut edited: serde_json::Value = serde_json::from_str(&good).unwrap();
        edited["seq"] = 7.into();
        let stranger = CheckpointSigner::from_seed([8; 32]).line(&checkpoint(9));
        let lines = [good, edited.to_string(), stranger, "not json".to_owned()];
        let found = verifier.scan(checkpoint(0).chain, &lines);
        assert_eq!(found.latest, Some(checkpoint(2)));
        assert_eq!(found.forged, vec![2, 3, 4]);
    }

    #[test]
    fn a_retired_public_key_still_verifies() {
        let old = CheckpointSigner::from_seed([1; 32]);
        let new = CheckpointSigner::from_seed([2; 32]);
        let verifier = CheckpointVerifier::new(&[new.public_key(), old.public_key()]);
        let lines = [old.line(&checkpoint(1)), new.line(&checkpoint(2))];
        let found = verifier.scan(checkpoint(0).chain, &lines);
        assert_eq!((found.latest, found.forged.len()), (Some(checkpoint(2)), 0));
    }
}
