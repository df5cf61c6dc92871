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
