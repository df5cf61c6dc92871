//! What a reader of the trail gets back, apart from where it is kept: an
//! event with its place in its chain, the filters of the events API and a
//! chain's head. The [`AuditReader`](crate::AuditReader) port (ports.rs)
//! speaks in these types; query.rs and paging.rs work with them.

use crate::chain;
use crate::{AuditEvent, Outcome, RunResult};
use kernel::UserId;
use time::OffsetDateTime;
use uuid::Uuid;

/// An event as stored, with its place in its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    pub event: AuditEvent,
    /// The encoding its link was written in (see [`chain::VERSION`]).
    pub version: u8,
    /// The link key's id, for keyed links.
    pub key_id: Option<String>,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

impl StoredEvent {
    pub(crate) fn chained(&self) -> chain::ChainEntry {
        chain::ChainEntry {
            event: self.event.clone(),
            version: self.version,
            key_id: self.key_id.clone(),
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}

/// Filters of `GET /audit/events`; every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub user_id: Option<UserId>,
    pub device_id: Option<Uuid>,
    pub tool_name: Option<String>,
    pub decision: Option<Outcome>,
    pub result: Option<RunResult>,
    /// Events at or after this instant.
    pub from: Option<OffsetDateTime>,
    /// Events before this instant.
    pub to: Option<OffsetDateTime>,
}

impl Filter {
    /// Whether `event` matches every field given; what adapters select
    /// with it.
    pub fn matches(&self, event: &AuditEvent) -> bool {
        self.user_id.is_none_or(|u| event.user_id == Some(u))
            && self.device_id.is_none_or(|d| event.device_id == Some(d))
            && self
                .tool_name
                .as_ref()
                .is_none_or(|t| event.tool_name.as_ref() == Some(t))
            && self.decision.is_none_or(|d| event.decision == d)
            && self.result.is_none_or(|r| event.result == r)
            && self.from.is_none_or(|f| event.at >= f)
            && self.to.is_none_or(|t| event.at < t)
    }
}

/// The newest chain position: its `seq` and `hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: [u8; 32],
}
