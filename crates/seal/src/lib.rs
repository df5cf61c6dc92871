//! Secrets at rest: the AES-256-GCM [`AesGcmSealer`] that implements
//! [`tenancy::ports::Sealer`] (device credentials, provider tokens kept in
//! sessions), and the key files its key and the audit keys live in when the
//! configuration names none ([`load_or_create_key`],
//! [`load_or_create_secret`]).
//!
//! It is an adapter like `db` or `oidc`: the domain asks for sealing
//! through the port and never sees a cipher or a key; the composition root
//! reads the key and builds the sealer once at start.
//!
//! Architecture invariant: a key never leaves this crate in an error or in
//! `Debug` output; errors say which setting or file to fix, not what the
//! key was.

mod key_file;
mod sealer;

pub use key_file::{KeyFileError, load_or_create_key, load_or_create_secret};
pub use sealer::{AesGcmSealer, BadKey};
