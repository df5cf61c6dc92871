//! OpenID Connect for rosgate: the [`tenancy::IdentityProvider`] port over a
//! real provider (Keycloak, Entra ID, Okta, …).
//!
//! - [`discovery`] reads the provider's metadata once, on first use, so
//!   rosgate starts (API tokens work) while the provider is down; failed
//!   attempts back off (1 s doubling to 60 s), so an outage costs no
//!   outbound call per request;
//! - [`client`] runs the authorization code flow with PKCE, refresh and
//!   revocation through the `oauth2` crate over `reqwest`; it asks for the
//!   person's claims in the ID token with the `claims` parameter where the
//!   provider supports it and reads UserInfo (same `sub` required) for
//!   claims a thin ID token leaves out, exchanging the code without
//!   `resource` and refreshing with it (RFC 8707) for a token for rosgate;
//! - [`jwks`] verifies ID tokens and bearer access tokens against the
//!   provider's key set: asymmetric algorithms only, the key's type and
//!   declared algorithm must match the token's, keys refreshed on an unknown
//!   `kid` at most once a minute (and not for 10 s after a failed fetch);
//!   `exp`/`nbf` are checked against the
//!   [`kernel::Clock`] port so expiry is tested without sleeping.

pub mod claims;
pub mod client;
pub mod discovery;
mod http;
pub mod jwks;

pub use client::{OidcProvider, OidcSettings};
