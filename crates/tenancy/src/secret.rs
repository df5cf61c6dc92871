//! Bearer secrets handed to people: API tokens and invitation tokens.
//!
//! A secret is shown once as `<prefix>_<id>_<secret>`; only the SHA-256 of the
//! secret part is stored, and it is compared in constant time. The id part
//! lets the store find the row without scanning hashes.

use kernel::Entropy;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// What kind of secret a token string is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// `rgt_…`: an API token.
    ApiToken,
    /// `rgi_…`: an invitation.
    Invitation,
}

impl SecretKind {
    fn prefix(self) -> &'static str {
        match self {
            SecretKind::ApiToken => "rgt",
            SecretKind::Invitation => "rgi",
        }
    }
}

/// A freshly minted secret: the string to show once and the hash to store.
#[derive(Clone, PartialEq, Eq)]
pub struct MintedSecret {
    /// The full token string, shown to its owner exactly once.
    pub token: String,
    /// The SHA-256 of the secret part, hex; this is what is stored.
    pub hash: String,
}

impl std::fmt::Debug for MintedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedSecret")
            .field("token", &"<redacted>")
            .field("hash", &self.hash)
            .finish()
    }
}

/// Mints a secret for the row `id`.
pub fn mint(kind: SecretKind, id: Uuid, entropy: &dyn Entropy) -> MintedSecret {
    let secret = hex::encode(entropy.bytes(32));
    let hash = hash_secret(&secret);
    MintedSecret {
        token: format!("{}_{}_{}", kind.prefix(), id.simple(), secret),
        hash,
    }
}

/// Splits a presented token into its row id and secret part, or `None` when
/// it is not a well-formed token of `kind`.
pub fn parse(kind: SecretKind, token: &str) -> Option<(Uuid, &str)> {
    let rest = token.strip_prefix(kind.prefix())?.strip_prefix('_')?;
    let (id, secret) = rest.split_once('_')?;
    if id.len() != 32 || secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((Uuid::try_parse(id).ok()?, secret))
}

/// Whether `secret` hashes to `stored_hash`, compared in constant time.
pub fn verify(secret: &str, stored_hash: &str) -> bool {
    hash_secret(secret)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::SeededEntropy;

    #[test]
    fn minted_token_parses_and_verifies() {
        let id = Uuid::from_u128(42);
        let m = mint(SecretKind::ApiToken, id, &SeededEntropy::new(1));
        let (got, secret) = parse(SecretKind::ApiToken, &m.token).unwrap();
        assert_eq!(got, id);
        assert!(verify(secret, &m.hash));
        assert!(!verify(&"0".repeat(64), &m.hash));
    }

    #[test]
    fn hostile_strings_do_not_parse() {
        for t in [
            "",
            "rgt_",
            "rgt_x_y",
            "rgi_00000000000000000000000000000000_",
            "Bearer x",
            "rgt_ü_ü",
        ] {
            assert!(parse(SecretKind::ApiToken, t).is_none(), "{t}");
        }
        let m = mint(
            SecretKind::Invitation,
            Uuid::from_u128(1),
            &SeededEntropy::new(2),
        );
        assert!(
            parse(SecretKind::ApiToken, &m.token).is_none(),
            "kinds are not interchangeable"
        );
    }
}
