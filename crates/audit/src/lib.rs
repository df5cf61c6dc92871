//! The audit trail's vocabulary: one [`AuditEvent`] per enforcement
//! decision, allowed or denied, written through the [`AuditSink`] port.
//!
//! Architecture invariant: an event never carries a secret (tokens,
//! passwords, credentials); adapters store what they are given and nothing
//! more.

pub mod chain;

use async_trait::async_trait;
use kernel::{AuditEventId, StoreError, TenantId, UserId};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// Whether the decision allowed the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The request was allowed.
    Allow,
    /// The request was refused.
    Deny,
}

impl Outcome {
    /// `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
        }
    }
}

/// One enforcement decision, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub at: OffsetDateTime,
    pub tenant_id: Option<TenantId>,
    pub user_id: Option<UserId>,
    pub user_email: Option<String>,
    /// The operation, such as `getSite` or a tool name.
    pub operation: String,
    /// The permission asked for, such as `site:read`.
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<Uuid>,
    pub decision: Outcome,
    pub reason: String,
    pub request_id: String,
}

/// Where decisions are recorded.
#[async_trait]
pub trait AuditSink: Send + Sync {
    /// Records an event durably before returning. Implementations MUST NOT
    /// drop events: on failure they return an error and the caller refuses
    /// the request.
    async fn record(&self, event: AuditEvent) -> Result<(), StoreError>;
}
