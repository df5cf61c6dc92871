//! The RouterOS v7 REST adapter: implements [`tools::RouterOs`] by sending
//! each [`tools::RestRequest`] to `/rest/{path}` on the device.
//!
//! Why it is more than a thin HTTP call:
//!
//! - **TLS per device.** RouterOS devices mostly carry self-signed or
//!   private-CA certificates. A device is checked against the system roots,
//!   a CA given for that device, or a pinned SHA-256 of its leaf
//!   certificate ([`tools::TlsPolicy`]). Short of plain HTTP for the
//!   simulator and lab devices, there is no way to skip verification.
//! - **Retries that cannot duplicate a change.** Only failures where the
//!   device cannot have acted are retried for `PUT`/`POST`; reads and
//!   idempotent writes are also retried after a timeout.
//! - **A circuit breaker per device.** A device that keeps failing is left
//!   alone for a cooldown instead of tying up every caller for the full
//!   timeout and retry budget.
//! - **No secret leaks.** Credentials travel only in the `Authorization`
//!   header; errors and logs never carry them (and a device's echo of the
//!   password is scrubbed from its error messages).
//!
//! Architecture invariant: of rosgate's crates this one imports `kernel` and
//! `tools` only; it knows nothing of tenants, permissions, storage or the
//! app, and it never decides whether a call is allowed.

mod breaker;
mod client;
mod config;
mod errors;
mod resolve;
mod retry;
mod tls;
pub mod url;

pub use client::RestClient;
pub use config::ClientConfig;
pub use url::{rest_url, validate_path};
