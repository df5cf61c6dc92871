//! Compliance reports over one tenant's audit chain, for auditors who ask
//! "what changed in production, who was refused, who changes the most".
//!
//! - [`production_changes`]: every allowed write on a production device,
//!   streamed row by row, with a summary at the end (JSON) or none (CSV).
//! - [`denials`]: refused requests, counted by user and reason.
//! - [`top_users`]: the users who made the most changes.
//!
//! Every report reads the tenant's chain ([`audit::query::ChainKey::of`])
//! through the [`AuditReader`] port in bounded chunks, so memory stays flat
//! however long the range: only small tallies grow, with the number of
//! distinct users, devices, tools and reasons. Every report carries the
//! chain head of its range (the `hash` of its last row, or the hex of
//! [`audit::chain::GENESIS`] when the range holds no event), which an
//! auditor can later compare with what the verify API reports for the same
//! range: equal heads mean the rows the report was built from are the rows
//! still stored.
//!
//! Architecture invariant: this crate knows nothing of SQL or HTTP. It hands
//! out bytes and a content type; the caller decides how to send them.
//!
//! # Using this crate
//!
//! A report needs only an [`AuditReader`]: the database adapter in
//! production, here one tenant's chain held in memory. Reports read the
//! range's rows with `seq_range`, `hash_at` and `scan`; the other methods
//! answer for other readers of the trail.
//!
//! ```
//! use async_trait::async_trait;
//! use audit::chain::{self, GENESIS, LinkKey};
//! use audit::query::{AuditReader, ChainKey, Filter, Head, StoredEvent};
//! use audit::{Actor, AuditEvent, Effect, Outcome, RunResult};
//! use compliance::{Format, Range, StoreError};
//! use futures::TryStreamExt;
//! use kernel::{AuditEventId, TenantId};
//! use std::sync::Arc;
//! use time::OffsetDateTime;
//!
//! /// One tenant's chain, in memory.
//! struct MemoryReader(Vec<StoredEvent>);
//!
//! #[async_trait]
//! impl AuditReader for MemoryReader {
//!     async fn seq_range(&self, _: ChainKey, _: Option<OffsetDateTime>, _: Option<OffsetDateTime>)
//!         -> Result<Option<(i64, i64)>, StoreError> {
//!         Ok(self.0.first().zip(self.0.last()).map(|(first, last)| (first.seq, last.seq)))
//!     }
//!     async fn hash_at(&self, _: ChainKey, seq: i64) -> Result<Option<[u8; 32]>, StoreError> {
//!         Ok(self.0.iter().find(|row| row.seq == seq).map(|row| row.hash))
//!     }
//!     async fn scan(&self, _: ChainKey, after: i64, until: i64, limit: u32)
//!         -> Result<Vec<StoredEvent>, StoreError> {
//!         let rows = self.0.iter().filter(|row| row.seq > after && row.seq <= until);
//!         Ok(rows.take(limit as usize).cloned().collect())
//!     }
//!     async fn head(&self, _: ChainKey) -> Result<Option<Head>, StoreError> {
//!         Ok(self.0.last().map(|row| Head { seq: row.seq, hash: row.hash }))
//!     }
//!     async fn page(&self, _: ChainKey, _: &Filter, _: Option<i64>, _: u32)
//!         -> Result<Vec<StoredEvent>, StoreError> {
//!         Ok(Vec::new())
//!     }
//!     async fn open_intents(&self, _: Option<ChainKey>, _: OffsetDateTime, _: u32)
//!         -> Result<Vec<StoredEvent>, StoreError> {
//!         Ok(Vec::new())
//!     }
//!     async fn is_concluded(&self, _: ChainKey, _: AuditEventId) -> Result<bool, StoreError> {
//!         Ok(false)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), StoreError> {
//! let tenant = TenantId::from_uuid(uuid::Uuid::from_u128(1));
//! // Two changes in production and one in the lab, linked as a store links them.
//! let events = [change(tenant, 1, "prod"), change(tenant, 2, "lab"), change(tenant, 3, "prod")];
//! let rows = chain::chain(&LinkKey::new([7; 32]), GENESIS, &events).into_iter().zip(1..);
//! let reader = MemoryReader(
//!     rows.map(|(c, seq)| StoredEvent {
//!         seq, event: c.event, version: c.version, key_id: c.key_id,
//!         prev_hash: c.prev_hash, hash: c.hash,
//!     })
//!     .collect(),
//! );
//! let head = chain::to_hex(&reader.0[2].hash);
//!
//! let report =
//!     compliance::production_changes(Arc::new(reader), tenant, Range::default(), Format::Csv)
//!         .await?;
//! // The report names the chain head it was built up to, for the auditor to check later.
//! assert_eq!(report.chain_head, head);
//! let csv = String::from_utf8_lossy(&report.body.try_concat().await?).into_owned();
//! assert_eq!(csv.lines().count(), 1 + 2, "a header and the two production changes");
//! # Ok(())
//! # }
//! #
//! # /// An allowed write on a device in `environment`.
//! # fn change(tenant: TenantId, n: u128, environment: &str) -> AuditEvent {
//! #     let id = uuid::Uuid::from_u128;
//! #     AuditEvent {
//! #         id: AuditEventId::from_uuid(id(n)), at: OffsetDateTime::UNIX_EPOCH,
//! #         tenant_id: Some(tenant), user_id: Some(kernel::UserId::from_uuid(id(9))),
//! #         user_email: Some("ops@example.test".into()), actor: Actor::User,
//! #         operation: "mcp:update_dns_servers".into(), tool_name: Some("update_dns_servers".into()),
//! #         action: "tool:advanced".into(), resource_type: "device".into(),
//! #         resource_id: Some(id(10)), device_id: Some(id(10)), environment: Some(environment.into()),
//! #         effect: Effect::Write, decision: Outcome::Allow, reason: "granted".into(),
//! #         result: RunResult::Success, error_class: None, approval_request_id: None,
//! #         request_id: format!("req-{n}"), client_addr: None, args_digest: None,
//! #         intent_id: None, client_request_id: None, count: 1,
//! #     }
//! # }
//! ```

mod changes;
mod denials;
mod report;
mod tally;
mod text;
mod top_users;

#[cfg(test)]
mod testing;

pub use changes::production_changes;
pub use denials::denials;
pub use report::{Format, Range, Report};
pub use text::EVENT_COLUMNS;
pub use top_users::{MAX_TOP_USERS, top_users};

pub use audit::query::AuditReader;
pub use kernel::StoreError;
