//! Event fixtures for the reports' tests, over the audit crate's
//! in-memory reader.

use audit::AuditEvent;
use audit::testing::EventBuilder;
pub use audit::testing::{MemoryReader, link_keys};
use kernel::{TenantId, UserId};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

pub const TENANT: TenantId = TenantId::from_uuid(Uuid::from_u128(0x7e));
pub const OTHER_TENANT: TenantId = TenantId::from_uuid(Uuid::from_u128(0x7f));

/// The instant of the event numbered `n` (one a minute from a fixed start).
pub fn at(n: i64) -> OffsetDateTime {
    datetime!(2026-01-01 00:00:00 UTC) + Duration::minutes(n)
}

pub fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(0x1000 + n))
}

pub fn device(n: u128) -> Uuid {
    Uuid::from_u128(0x2000 + n)
}

/// An allowed, successful write on production device 1 by user 1; tests
/// change what they need.
pub fn prod_change(n: i64) -> AuditEvent {
    EventBuilder::new(TENANT)
        .id(n as u128 + 1)
        .at(at(n))
        .user(user(1))
        .email("u1@example.test")
        .tool("update_dns_servers")
        .action("tool:advanced")
        .on("device", Some(device(1)))
        .device(device(1))
        .environment("prod")
        .write()
        .reason("granted by ops_rw at team")
        .request_id(&format!("req-{n}"))
        .client_addr("192.0.2.1")
        .build()
}

/// Drains a report's body into its chunks.
pub async fn chunks(report: crate::Report) -> Vec<Vec<u8>> {
    use futures::TryStreamExt;
    report.body.try_collect().await.unwrap()
}

/// Drains a report's body into one text.
pub async fn body(report: crate::Report) -> String {
    String::from_utf8(chunks(report).await.concat()).unwrap()
}
