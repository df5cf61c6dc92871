//! An in-memory [`AuditReader`] and event fixtures for the reports' tests.

use async_trait::async_trait;
use audit::chain::{GENESIS, chain};
use audit::query::{AuditReader, ChainKey, Filter, Head, StoredEvent};
use audit::{Actor, AuditEvent, Effect, Outcome, RunResult};
use kernel::{AuditEventId, StoreError, TenantId, UserId};
use std::collections::HashMap;
use std::sync::Mutex;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

pub const TENANT: TenantId = TenantId::from_uuid(Uuid::from_u128(0x7e));
pub const OTHER_TENANT: TenantId = TenantId::from_uuid(Uuid::from_u128(0x7f));

/// The keys the reader's chains are linked with.
pub fn link_keys() -> audit::chain::LinkKeys {
    audit::chain::LinkKeys::new(audit::chain::LinkKey::new([0x11; 32]), Vec::new())
}

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
    AuditEvent {
        id: AuditEventId::from_uuid(Uuid::from_u128(n as u128 + 1)),
        at: at(n),
        tenant_id: Some(TENANT),
        user_id: Some(user(1)),
        user_email: Some("u1@example.test".into()),
        actor: Actor::User,
        operation: "mcp:update_dns_servers".into(),
        tool_name: Some("update_dns_servers".into()),
        action: "tool:advanced".into(),
        resource_type: "device".into(),
        resource_id: Some(device(1)),
        device_id: Some(device(1)),
        environment: Some("prod".into()),
        effect: Effect::Write,
        decision: Outcome::Allow,
        reason: "granted by ops_rw at team".into(),
        result: RunResult::Success,
        error_class: None,
        approval_request_id: None,
        request_id: format!("req-{n}"),
        client_addr: Some("192.0.2.1".into()),
        args_digest: None,
        intent_id: None,
        client_request_id: None,
        count: 1,
    }
}

/// Stored chains, one per tenant, and a log of the `limit` of each scan.
#[derive(Debug, Default)]
pub struct MemoryReader {
    chains: HashMap<ChainKey, Vec<StoredEvent>>,
    pub scan_limits: Mutex<Vec<u32>>,
    /// When set, the scan with this index (from 0) fails.
    pub failing_scan: Option<usize>,
}

impl MemoryReader {
    /// A reader holding `events`, chained per tenant in the order given.
    pub fn with(events: Vec<AuditEvent>) -> Self {
        let mut reader = MemoryReader::default();
        for event in events {
            let rows = reader
                .chains
                .entry(ChainKey::of(event.tenant_id))
                .or_default();
            let prev = rows.last().map_or(GENESIS, |r| r.hash);
            let seq = rows.len() as i64 + 1;
            for c in chain(link_keys().current(), prev, std::slice::from_ref(&event)) {
                rows.push(StoredEvent {
                    seq,
                    version: c.version,
                    key_id: c.key_id,
                    event: c.event,
                    prev_hash: c.prev_hash,
                    hash: c.hash,
                });
            }
        }
        reader
    }

    /// The stored rows of `tenant`'s chain.
    pub fn rows(&self, tenant: TenantId) -> &[StoredEvent] {
        self.chains
            .get(&ChainKey::of(Some(tenant)))
            .map_or(&[], Vec::as_slice)
    }

    fn chain(&self, key: ChainKey) -> &[StoredEvent] {
        self.chains.get(&key).map_or(&[], Vec::as_slice)
    }
}

#[async_trait]
impl AuditReader for MemoryReader {
    async fn page(
        &self,
        chain: ChainKey,
        _filter: &Filter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        Ok(self
            .chain(chain)
            .iter()
            .rev()
            .filter(|r| before.is_none_or(|b| r.seq < b))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn scan(
        &self,
        chain: ChainKey,
        after: i64,
        until: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let index = {
            let mut limits = self.scan_limits.lock().unwrap();
            limits.push(limit);
            limits.len() - 1
        };
        if self.failing_scan == Some(index) {
            return Err(StoreError::Unavailable("disk on fire".into()));
        }
        Ok(self
            .chain(chain)
            .iter()
            .filter(|r| r.seq > after && r.seq <= until)
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn hash_at(&self, chain: ChainKey, seq: i64) -> Result<Option<[u8; 32]>, StoreError> {
        Ok(self
            .chain(chain)
            .iter()
            .find(|r| r.seq == seq)
            .map(|r| r.hash))
    }

    async fn seq_range(
        &self,
        chain: ChainKey,
        from: Option<OffsetDateTime>,
        to: Option<OffsetDateTime>,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let inside = |r: &&StoredEvent| {
            from.is_none_or(|f| r.event.at >= f) && to.is_none_or(|t| r.event.at < t)
        };
        let rows = self.chain(chain);
        let first = rows.iter().find(inside).map(|r| r.seq);
        let last = rows.iter().rev().find(inside).map(|r| r.seq);
        Ok(first.zip(last))
    }

    async fn is_concluded(
        &self,
        chain: ChainKey,
        intent: AuditEventId,
    ) -> Result<bool, StoreError> {
        Ok(self
            .chain(chain)
            .iter()
            .any(|r| r.event.intent_id == Some(intent)))
    }

    async fn open_intents(
        &self,
        chain: Option<ChainKey>,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut keys: Vec<_> = self.chains.keys().copied().collect();
        keys.sort();
        Ok(keys
            .into_iter()
            .filter(|k| chain.is_none_or(|c| c == *k))
            .flat_map(|k| {
                let rows = self.chain(k);
                rows.iter().filter(move |r| {
                    r.event.result == RunResult::Pending
                        && r.event.at <= until
                        && !rows.iter().any(|o| o.event.intent_id == Some(r.event.id))
                })
            })
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn head(&self, chain: ChainKey) -> Result<Option<Head>, StoreError> {
        Ok(self.chain(chain).last().map(|r| Head {
            seq: r.seq,
            hash: r.hash,
        }))
    }
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
