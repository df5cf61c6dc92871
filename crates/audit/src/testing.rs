//! Test doubles for the trail and for whatever reads it, behind the
//! `testing` feature: [`MemoryReader`], the one in-memory [`AuditReader`],
//! and [`EventBuilder`], which makes [`AuditEvent`] fixtures without
//! spelling out every field.
//!
//! Other crates' tests enable the feature as a dev-dependency:
//! `audit = { workspace = true, features = ["testing"] }`.

use crate::chain::ChainKey;
use crate::chain::{GENESIS, LinkKey, LinkKeys, chain};
use crate::ports::AuditReader;
use crate::stored::{Filter, Head, StoredEvent};
use crate::{Actor, AuditEvent, Effect, Outcome, RunResult};
use async_trait::async_trait;
use kernel::{AuditEventId, StoreError, TenantId, UserId};
use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

/// The keys a [`MemoryReader`]'s chains are linked with.
pub fn link_keys() -> LinkKeys {
    LinkKeys::new(LinkKey::new([0x11; 32]), Vec::new())
}

/// Stored chains, one per tenant, linked with [`link_keys`] as an adapter
/// would store them, and a log of the `limit` of each scan.
#[derive(Debug, Default)]
pub struct MemoryReader {
    chains: HashMap<ChainKey, Vec<StoredEvent>>,
    /// The `limit` of every `scan` so far, in order.
    pub scan_limits: Mutex<Vec<u32>>,
    /// When set, the scan with this index (from 0) fails.
    pub failing_scan: Option<usize>,
}

impl MemoryReader {
    /// A reader holding `events`, chained per tenant in the order given.
    pub fn with(events: Vec<AuditEvent>) -> Self {
        let mut reader = MemoryReader::default();
        for event in events {
            reader.push(event);
        }
        reader
    }

    /// Appends `event` to its tenant's chain.
    pub fn push(&mut self, event: AuditEvent) {
        let rows = self
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

    /// The stored rows of `tenant`'s chain.
    pub fn rows(&self, tenant: TenantId) -> &[StoredEvent] {
        self.chain(ChainKey::of(Some(tenant)))
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
        filter: &Filter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        Ok(self
            .chain(chain)
            .iter()
            .rev()
            .filter(|r| before.is_none_or(|b| r.seq < b) && filter.matches(&r.event))
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
            let mut limits = self
                .scan_limits
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
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

/// An [`AuditEvent`] fixture, one setter per field a test cares about.
///
/// It starts as an allowed, successful read (`site:read` by `getSite`) at
/// 2026-01-01 00:00 UTC, made by nobody in particular, with a fresh id;
/// `EventBuilder::new(tenant).tool("reboot").write().deny().at(t).build()`
/// is a refused tool call.
#[derive(Debug, Clone)]
pub struct EventBuilder {
    event: AuditEvent,
}

impl EventBuilder {
    /// An event of `tenant`'s chain (a [`TenantId`], or `None` for the
    /// chain of events without a tenant).
    pub fn new(tenant: impl Into<Option<TenantId>>) -> Self {
        EventBuilder {
            event: AuditEvent {
                id: AuditEventId::from_uuid(Uuid::now_v7()),
                at: datetime!(2026-01-01 00:00:00 UTC),
                tenant_id: tenant.into(),
                user_id: None,
                user_email: None,
                actor: Actor::User,
                operation: "getSite".into(),
                tool_name: None,
                action: "site:read".into(),
                resource_type: "site".into(),
                resource_id: None,
                device_id: None,
                environment: None,
                effect: Effect::Read,
                decision: Outcome::Allow,
                reason: String::new(),
                result: RunResult::Success,
                error_class: None,
                approval_request_id: None,
                request_id: "req".into(),
                client_addr: None,
                args_digest: None,
                intent_id: None,
                client_request_id: None,
                count: 1,
            },
        }
    }

    /// The event's id, as the UUID numbered `n`.
    pub fn id(mut self, n: u128) -> Self {
        self.event.id = AuditEventId::from_uuid(Uuid::from_u128(n));
        self
    }

    pub fn at(mut self, at: OffsetDateTime) -> Self {
        self.event.at = at;
        self
    }

    /// Made by `user`.
    pub fn user(mut self, user: UserId) -> Self {
        self.event.user_id = Some(user);
        self
    }

    /// The email of whoever made it.
    pub fn email(mut self, email: &str) -> Self {
        self.event.user_email = Some(email.into());
        self
    }

    pub fn actor(mut self, actor: Actor) -> Self {
        self.event.actor = actor;
        self
    }

    /// The REST operation id or `mcp:<tool>` / `rest:<tool>`.
    pub fn operation(mut self, operation: &str) -> Self {
        self.event.operation = operation.into();
        self
    }

    /// A call of the tool `name` over MCP: its name and its operation
    /// (`mcp:<name>`).
    pub fn tool(mut self, name: &str) -> Self {
        self.event.tool_name = Some(name.into());
        self.event.operation = format!("mcp:{name}");
        self
    }

    /// The permission asked for, such as `tool:advanced`.
    pub fn action(mut self, action: &str) -> Self {
        self.event.action = action.into();
        self
    }

    /// About the resource of kind `kind` (`device`, `site`, `plan`...) with
    /// id `id`.
    pub fn on(mut self, kind: &str, id: Option<Uuid>) -> Self {
        self.event.resource_type = kind.into();
        self.event.resource_id = id;
        self
    }

    /// Touching `device`.
    pub fn device(mut self, device: Uuid) -> Self {
        self.event.device_id = Some(device);
        self
    }

    /// On a device of `environment` (`prod`, `staging`, `lab`).
    pub fn environment(mut self, environment: &str) -> Self {
        self.event.environment = Some(environment.into());
        self
    }

    /// A change.
    pub fn write(mut self) -> Self {
        self.event.effect = Effect::Write;
        self
    }

    /// Refused: decision deny, result failure.
    pub fn deny(mut self) -> Self {
        self.event.decision = Outcome::Deny;
        self.event.result = RunResult::Failure;
        self
    }

    pub fn reason(mut self, reason: &str) -> Self {
        self.event.reason = reason.into();
        self
    }

    pub fn result(mut self, result: RunResult) -> Self {
        self.event.result = result;
        self
    }

    /// Failed with the stable problem code `class`.
    pub fn error(mut self, class: &str) -> Self {
        self.event.result = RunResult::Failure;
        self.event.error_class = Some(class.into());
        self
    }

    pub fn request_id(mut self, id: &str) -> Self {
        self.event.request_id = id.into();
        self
    }

    pub fn client_addr(mut self, addr: &str) -> Self {
        self.event.client_addr = Some(addr.into());
        self
    }

    pub fn args_digest(mut self, digest: &str) -> Self {
        self.event.args_digest = Some(digest.into());
        self
    }

    /// The outcome of the intent `intent`.
    pub fn concludes(mut self, intent: AuditEventId) -> Self {
        self.event.intent_id = Some(intent);
        self
    }

    pub fn build(self) -> AuditEvent {
        self.event
    }
}
