//! What a change was meant to do and what reading its device back found:
//! the types of the [`IntendedChanges`](crate::IntendedChanges) and
//! [`ReadBack`](crate::ReadBack) ports (ports.rs), apart from settling
//! (intents.rs), which uses them.

use kernel::{AuditEventId, TenantId};
use time::OffsetDateTime;
use uuid::Uuid;

/// What a change was meant to do, kept beside its intent.
#[derive(Debug, Clone, PartialEq)]
pub struct IntendedChange {
    /// The intent event this change belongs to.
    pub intent_id: AuditEventId,
    /// The intent's time (the same as its event's); once settling has
    /// passed it, the change is dropped.
    pub at: OffsetDateTime,
    pub tenant_id: Option<TenantId>,
    pub device_id: Uuid,
    /// The change with secrets redacted, in the form the [`ReadBack`](crate::ReadBack)
    /// adapter understands; opaque to this crate.
    pub change: serde_json::Value,
}

/// What reading a device back found about an intended change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The device shows the intended state; the text says what was read.
    Applied(String),
    /// The device does not show it; the text says what it shows instead.
    NotApplied(String),
    /// Nothing can be concluded, now or later (the change leaves nothing
    /// to read, the device is gone); the text says why.
    Unreadable(String),
    /// The device cannot be asked right now (unreachable, timing out, or
    /// rosgate's own store is unavailable); the text says why. The intent
    /// stays open and is tried again.
    Unavailable(String),
}
