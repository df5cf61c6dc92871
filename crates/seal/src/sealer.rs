//! Secrets at rest: AES-256-GCM with a random 96-bit nonce per value and the
//! owning row's id as associated data, so a sealed value copied to another
//! row does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use kernel::Entropy;
use std::sync::Arc;
use tenancy::ports::Sealer;

const VERSION: u8 = 1;
const NONCE: usize = 12;

/// Seals with AES-256-GCM. Layout: version byte, nonce, ciphertext+tag.
pub struct AesGcmSealer {
    cipher: Aes256Gcm,
    entropy: Arc<dyn Entropy>,
}

impl std::fmt::Debug for AesGcmSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesGcmSealer(<key redacted>)")
    }
}

/// The configured key is not usable: set `encryption_key` (or the key
/// file's content) to the base64 of 32 random bytes, as a new key file
/// holds.
#[derive(Debug, thiserror::Error)]
#[error("encryption_key must be the base64 encoding of exactly 32 bytes")]
pub struct BadKey;

impl AesGcmSealer {
    /// A sealer for a base64-encoded 32-byte key.
    pub fn from_base64(key: &str, entropy: Arc<dyn Entropy>) -> Result<Self, BadKey> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key.trim())
            .map_err(|_| BadKey)?;
        if bytes.len() != 32 {
            return Err(BadKey);
        }
        Ok(Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
            entropy,
        })
    }

    /// A fresh random key, base64-encoded.
    pub fn generate_key(entropy: &dyn Entropy) -> String {
        base64::engine::general_purpose::STANDARD.encode(entropy.bytes(32))
    }
}

impl Sealer for AesGcmSealer {
    fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE];
        self.entropy.fill(&mut nonce);
        // Encryption with a valid key and nonce cannot fail for inputs below
        // the 64 GiB GCM limit, which request size limits keep us far from.
        #[allow(clippy::expect_used)]
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .expect("AES-GCM encryption of a bounded input");
        let mut out = Vec::with_capacity(1 + NONCE + ct.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    fn open(&self, sealed: &[u8], context: &[u8]) -> Option<Vec<u8>> {
        let (&version, rest) = sealed.split_first()?;
        if version != VERSION || rest.len() < NONCE + 16 {
            return None;
        }
        let (nonce, ct) = rest.split_at(NONCE);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context,
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::SeededEntropy;

    fn sealer() -> AesGcmSealer {
        let e: Arc<dyn Entropy> = Arc::new(SeededEntropy::new(7));
        AesGcmSealer::from_base64(&AesGcmSealer::generate_key(e.as_ref()), e).unwrap()
    }

    #[test]
    fn round_trips_and_binds_context() {
        let s = sealer();
        let sealed = s.seal(b"admin\nsecret", b"device-1");
        assert!(
            !sealed.windows(6).any(|w| w == b"secret"),
            "plaintext must not show"
        );
        assert_eq!(s.open(&sealed, b"device-1").unwrap(), b"admin\nsecret");
        assert!(
            s.open(&sealed, b"device-2").is_none(),
            "moved to another row"
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(s.open(&tampered, b"device-1").is_none());
    }

    #[test]
    fn bad_keys_are_refused() {
        let e: Arc<dyn Entropy> = Arc::new(SeededEntropy::new(1));
        assert!(AesGcmSealer::from_base64("not base64!", e.clone()).is_err());
        assert!(AesGcmSealer::from_base64("AAAA", e).is_err());
    }
}
