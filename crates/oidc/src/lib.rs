//! OpenID Connect for rosgate: the [`tenancy::IdentityProvider`] port over a
//! real provider (Keycloak, Entra ID, Okta, …).
//!
//! - [`discovery`] reads the provider's metadata once, on first use, so
//!   rosgate starts (API tokens work) while the provider is down;
//! - [`client`] runs the authorization code flow with PKCE, refresh and
//!   revocation through the `oauth2` crate over `reqwest`;
//! - [`jwks`] verifies ID tokens and bearer access tokens against the
//!   provider's key set: asymmetric algorithms only, the key's type and
//!   declared algorithm must match the token's, keys refreshed on an unknown
//!   `kid` at most once a minute; `exp`/`nbf` are checked against the
//!   [`kernel::Clock`] port so expiry is tested without sleeping.

pub mod claims;
pub mod client;
pub mod discovery;
mod http;
pub mod jwks;

pub use client::{OidcProvider, OidcSettings};
