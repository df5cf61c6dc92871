//! The audit trail's vocabulary: one [`AuditEvent`] per request or tool
//! call, allowed or denied, written through the [`AuditSink`] port.
//!
//! - [`trail`]: what one request decided and did, turned into its one
//!   event and committed (or written to the log in full if it cannot be).
//! - [`chain`]: the tamper-evident chain of keyed links each tenant's
//!   events form.
//! - [`checkpoint`]: signed checkpoints of chain heads, kept outside the
//!   database.
//! - [`writer`]: the group-commit writer that makes events durable in
//!   batches before their requests are answered.
//! - [`ports`]: every port of the crate: [`AuditSink`], [`AuditLog`],
//!   [`AuditReader`], [`Reach`], [`IntendedChanges`] and [`ReadBack`].
//! - [`stored`]: what a reader gets back (stored events, filters, heads).
//! - [`query`]: reading events back (filters, chain scans, what a partial
//!   reader reaches) and [`query::verify_range`], which recomputes a
//!   stored chain.
//! - [`paging`]: event lists page by page, with opaque cursors, for a
//!   reader of the whole chain or of part of it.
//! - [`intended`]: what a change was meant to do and what reading it back
//!   found; [`intents`]: settling intents nobody concluded.
//! - `testing` (feature `testing`): the in-memory reader and an event
//!   builder for tests.
//!
//! Architecture invariant: an event never carries a secret (tokens,
//! passwords, credentials); arguments are kept only as a digest. Adapters
//! store what they are given and nothing more.
//!
//! # Using this crate
//!
//! A storage adapter implements [`AuditLog`] by linking each batch onto
//! the tenant's chain ([`chain::chain`]); the [`writer::GroupCommit`]
//! writer in front of it answers each caller once its event is committed;
//! [`chain::verify`] walks the stored rows and names the first one that was
//! altered. Here the log is a vector in memory:
//!
//! ```
//! use async_trait::async_trait;
//! use audit::chain::{self, ChainEntry, GENESIS, LinkKey, LinkKeys};
//! use audit::writer::{GroupCommit, WriterConfig};
//! use audit::{Actor, AuditEvent, AuditLog, AuditSink, Effect, Outcome, RunResult};
//! use kernel::{AuditEventId, StoreError};
//! use std::sync::{Arc, Mutex};
//!
//! /// One chain, kept in memory.
//! struct MemoryLog {
//!     key: LinkKey,
//!     rows: Mutex<Vec<ChainEntry>>,
//! }
//!
//! #[async_trait]
//! impl AuditLog for MemoryLog {
//!     async fn append(&self, batch: &[AuditEvent]) -> Result<(), StoreError> {
//!         let mut rows = self.rows.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
//!         let head = rows.last().map_or(GENESIS, |row| row.hash);
//!         let linked = chain::chain(&self.key, head, batch);
//!         rows.extend(linked);
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), StoreError> {
//! let key = LinkKey::new([7; 32]);
//! let log = Arc::new(MemoryLog { key: key.clone(), rows: Mutex::new(Vec::new()) });
//! let writer = GroupCommit::start(log.clone(), WriterConfig::default());
//! for n in 1..=3 {
//!     writer.record(read_of_site(n)).await?;
//! }
//! writer.shutdown().await;
//!
//! let keys = LinkKeys::new(key, Vec::new());
//! let mut rows = log.rows.lock().map_err(|_| StoreError::NotFound)?.clone();
//! assert_eq!(chain::verify(&keys, GENESIS, rows.clone()).checked, 3);
//! // Rewriting a stored event breaks its link.
//! rows[1].event.reason = "nothing happened here".into();
//! let broken = chain::verify(&keys, GENESIS, rows).first_break;
//! assert_eq!(broken.map(|b| b.index), Some(1));
//! # Ok(())
//! # }
//! #
//! # /// An allowed read of a site, as the REST layer records it.
//! # fn read_of_site(n: u128) -> AuditEvent {
//! #     let id = uuid::Uuid::from_u128;
//! #     AuditEvent {
//! #         id: AuditEventId::from_uuid(id(n)),
//! #         at: time::OffsetDateTime::UNIX_EPOCH,
//! #         tenant_id: Some(kernel::TenantId::from_uuid(id(100))),
//! #         user_id: Some(kernel::UserId::from_uuid(id(101))),
//! #         user_email: None,
//! #         actor: Actor::User,
//! #         operation: "getSite".into(),
//! #         tool_name: None,
//! #         action: "site:read".into(),
//! #         resource_type: "site".into(),
//! #         resource_id: Some(id(102)),
//! #         device_id: None,
//! #         environment: None,
//! #         effect: Effect::Read,
//! #         decision: Outcome::Allow,
//! #         reason: "granted by binding".into(),
//! #         result: RunResult::Success,
//! #         error_class: None,
//! #         approval_request_id: None,
//! #         request_id: format!("req-{n}"),
//! #         client_addr: None,
//! #         args_digest: None,
//! #         intent_id: None,
//! #         client_request_id: None,
//! #         count: 1,
//! #     }
//! # }
//! ```

pub mod chain;
pub mod checkpoint;
pub mod intended;
pub mod intents;
pub mod paging;
pub mod ports;
pub mod query;
pub mod stored;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod trail;
pub mod writer;

pub use ports::{AuditLog, AuditReader, AuditSink, IntendedChanges, Reach, ReadBack};

use kernel::{AuditEventId, TenantId, UserId};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// Declares a closed set of words stored as text: `as_str` and `parse`.
macro_rules! words {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// The stored word.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The value a stored word names.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

words! {
    /// Whether the enforcement path let the request through.
    Outcome {
        /// The request was allowed.
        Allow = "allow",
        /// The request was refused.
        Deny = "deny",
    }
}

words! {
    /// How the request ended.
    RunResult {
        /// The operation completed.
        Success = "success",
        /// It was refused or failed; `error_class` says how.
        Failure = "failure",
        /// An intent: the change is about to run on a device. Its outcome
        /// follows as another event naming it in `intent_id`.
        Pending = "pending",
        /// The outcome of an intent is not known (rosgate stopped before it
        /// could record one): the device may or may not have changed.
        Unknown = "unknown",
    }
}

words! {
    /// Who acted.
    Actor {
        /// A person: a browser session or an identity provider's access token.
        User = "user",
        /// An API token.
        ApiToken = "api_token",
        /// An agent over MCP.
        Agent = "agent",
    }
}

words! {
    /// Whether the operation reads or changes state.
    Effect {
        /// Reads only.
        Read = "read",
        /// Changes rosgate's data or a device.
        Write = "write",
    }
}

/// One request or tool call, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub at: OffsetDateTime,
    pub tenant_id: Option<TenantId>,
    pub user_id: Option<UserId>,
    pub user_email: Option<String>,
    pub actor: Actor,
    /// The REST operation id (`getSite`) or `mcp:<tool>` / `rest:<tool>`.
    pub operation: String,
    /// The tool, for tool calls.
    pub tool_name: Option<String>,
    /// The permission asked for, such as `site:read` (`-` when none was).
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<Uuid>,
    /// The device touched, where there is one.
    pub device_id: Option<Uuid>,
    /// The device's environment at the time (`prod`, `staging`, `lab`).
    pub environment: Option<String>,
    pub effect: Effect,
    pub decision: Outcome,
    pub reason: String,
    pub result: RunResult,
    /// The stable problem code of a failure (`device_unreachable`, `forbidden`).
    pub error_class: Option<String>,
    /// The approval request the change went through, once approvals exist.
    pub approval_request_id: Option<Uuid>,
    pub request_id: String,
    /// The client's address as the server saw it.
    pub client_addr: Option<String>,
    /// SHA-256 of the canonical JSON of the arguments (never the arguments).
    pub args_digest: Option<String>,
    /// For an outcome: the intent event (result [`RunResult::Pending`]) it
    /// concludes.
    pub intent_id: Option<AuditEventId>,
    /// The `X-Request-Id` the client sent, kept as given; `request_id` is
    /// always rosgate's own.
    pub client_request_id: Option<String>,
    /// How many occurrences this event stands for: 1 for an ordinary event;
    /// an aggregate (refusals of one client address or one user within a
    /// minute) stands for `count` of them.
    pub count: u32,
}

impl AuditEvent {
    /// The event with every control character in its text fields escaped
    /// (see [`escape_controls`]). Sinks store events this way, so text a
    /// client chose (a tool name, an input key) can never carry a byte a
    /// database refuses (PostgreSQL refuses NUL) or that forges log lines.
    pub fn escaped(mut self) -> Self {
        let texts = [
            self.user_email.as_mut(),
            Some(&mut self.operation),
            self.tool_name.as_mut(),
            Some(&mut self.action),
            Some(&mut self.resource_type),
            self.environment.as_mut(),
            Some(&mut self.reason),
            self.error_class.as_mut(),
            Some(&mut self.request_id),
            self.client_addr.as_mut(),
            self.args_digest.as_mut(),
            self.client_request_id.as_mut(),
        ];
        for text in texts.into_iter().flatten() {
            if text.chars().any(char::is_control) {
                *text = escape_controls(text);
            }
        }
        self
    }

    /// Whether this event is a change that went through. An intent
    /// ([`RunResult::Pending`]) is not: its outcome event is the change.
    pub fn is_change(&self) -> bool {
        self.effect == Effect::Write
            && self.decision == Outcome::Allow
            && self.result != RunResult::Pending
    }
}

impl Actor {
    /// The actor behind a principal: API tokens are themselves, every other
    /// credential is a person.
    pub fn of(auth: &kernel::AuthMethod) -> Self {
        match auth {
            kernel::AuthMethod::ApiToken { .. } => Actor::ApiToken,
            _ => Actor::User,
        }
    }
}

impl Outcome {
    /// The result a bare decision implies: a denial is a failure.
    pub fn result(self) -> RunResult {
        match self {
            Outcome::Allow => RunResult::Success,
            Outcome::Deny => RunResult::Failure,
        }
    }
}

/// `text` with each control character (U+0000 to U+001F, U+007F to U+009F)
/// written as `\u` and four lower-case hex digits: NUL becomes the six
/// characters `\u0000`, a newline `\u000a`. Everything else is kept.
pub fn escape_controls(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// The digest of a request's arguments: SHA-256 over their JSON with object
/// keys sorted, in hex. Equal arguments give equal digests whatever the key
/// order; nothing of the arguments can be read back from it.
pub fn args_digest(args: &serde_json::Value) -> String {
    use sha2::{Digest, Sha256};
    fn sorted(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<_> = map.iter().collect();
                keys.sort_by(|a, b| a.0.cmp(b.0));
                serde_json::Value::Object(
                    keys.into_iter()
                        .map(|(k, v)| (k.clone(), sorted(v)))
                        .collect(),
                )
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(sorted).collect())
            }
            other => other.clone(),
        }
    }
    hex::encode(Sha256::digest(sorted(args).to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_is_kept() {
        assert_eq!(escape_controls("a\0b"), "a\\u0000b");
        assert_eq!(
            escape_controls("x\ny\u{7f}\u{9f}"),
            "x\\u000ay\\u007f\\u009f"
        );
        assert_eq!(escape_controls("ünï ✓ \\u0000"), "ünï ✓ \\u0000");
    }
}
