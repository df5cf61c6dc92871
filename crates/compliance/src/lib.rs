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
//! production, here the in-memory one of `audit`'s `testing` feature, which
//! links each tenant's events into a chain as a store does:
//!
//! ```
//! use audit::testing::{EventBuilder, MemoryReader};
//! use compliance::{Format, Range, StoreError};
//! use futures::TryStreamExt;
//! use kernel::TenantId;
//! use std::sync::Arc;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), StoreError> {
//! let tenant = TenantId::from_uuid(uuid::Uuid::from_u128(1));
//! let router = uuid::Uuid::from_u128(10);
//! let change = |env: &str| {
//!     let event = EventBuilder::new(tenant).tool("update_dns_servers").write();
//!     event.device(router).environment(env).build()
//! };
//! // Two changes in production and one in the lab.
//! let reader = MemoryReader::with(vec![change("prod"), change("lab"), change("prod")]);
//! let head = audit::chain::to_hex(&reader.rows(tenant)[2].hash);
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

pub use audit::AuditReader;
pub use kernel::StoreError;
