//! The audit trail over SQL: [`AuditChainLog`] (an [`AuditLog`]) appends
//! batches to the tenants' chains, linking them with the link key it was
//! given, and [`AuditReader`] reads them back. The key is never stored:
//! rows record only its id.
//!
//! Appending locks each chain's row in `audit_heads` (`SELECT … FOR
//! UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already serializes
//! writers), links the new events after the head, inserts them in
//! multi-row statements and moves the head, all in one transaction. Chains
//! are locked in key order so instances appending to the same chains never
//! deadlock. Several instances sharing one database therefore extend each
//! chain one batch at a time, with `seq` dense from 1.

use crate::entity::{audit_event, audit_head};
use crate::{Database, store_err};
use async_trait::async_trait;
use audit::AuditReader;
use audit::chain::{self, GENESIS, LinkKey};
use audit::query::{ChainKey, Filter, Head, StoredEvent};
use audit::{Actor, AuditEvent, AuditLog, Effect, Outcome, RunResult};
use kernel::{AuditEventId, StoreError, TenantId};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Rows per INSERT: 31 columns stay far below every backend's parameter limit.
const INSERT_CHUNK: usize = 400;

fn corrupt(what: &str) -> StoreError {
    StoreError::Unavailable(format!("a stored audit event has an unreadable {what}"))
}

fn hash_of(text: &str) -> Result<[u8; 32], StoreError> {
    chain::from_hex(text).ok_or_else(|| corrupt("hash"))
}

fn row(key: ChainKey, seq: i64, c: chain::ChainEntry) -> audit_event::ActiveModel {
    let e = c.event;
    audit_event::ActiveModel {
        id: Set(e.id.uuid()),
        chain: Set(key.0),
        seq: Set(seq),
        at: Set(e.at),
        tenant_id: Set(e.tenant_id.map(|t| t.uuid())),
        user_id: Set(e.user_id.map(|u| u.uuid())),
        user_email: Set(e.user_email),
        actor: Set(e.actor.as_str().into()),
        operation: Set(e.operation),
        tool_name: Set(e.tool_name),
        action: Set(e.action),
        resource_type: Set(e.resource_type),
        resource_id: Set(e.resource_id),
        device_id: Set(e.device_id),
        environment: Set(e.environment),
        effect: Set(e.effect.as_str().into()),
        decision: Set(e.decision.as_str().into()),
        reason: Set(e.reason),
        result: Set(e.result.as_str().into()),
        error_class: Set(e.error_class),
        approval_request_id: Set(e.approval_request_id),
        request_id: Set(e.request_id),
        client_addr: Set(e.client_addr),
        args_digest: Set(e.args_digest),
        intent_id: Set(e.intent_id.map(|i| i.uuid())),
        client_request_id: Set(e.client_request_id),
        count: Set(i32::try_from(e.count).unwrap_or(i32::MAX)),
        version: Set(i32::from(c.version)),
        key_id: Set(c.key_id),
        prev_hash: Set(chain::to_hex(&c.prev_hash)),
        hash: Set(chain::to_hex(&c.hash)),
    }
}

/// The hash given to a row that was edited outside rosgate into something
/// rosgate never writes (a word it does not know, a hash that is not hex):
/// no event links to it, so verification reports the row as altered
/// instead of failing to read it.
const UNREADABLE: [u8; 32] = [0xff; 32];

/// A stored word, or `fallback` (and the row marked unreadable).
fn word<T>(text: &str, parse: fn(&str) -> Option<T>, fallback: T, ok: &mut bool) -> T {
    parse(text).unwrap_or_else(|| {
        *ok = false;
        fallback
    })
}

/// A stored hash, or [`UNREADABLE`].
fn hash_or_unreadable(text: &str) -> [u8; 32] {
    chain::from_hex(text).unwrap_or(UNREADABLE)
}

fn stored(m: audit_event::Model) -> Result<StoredEvent, StoreError> {
    let mut ok = true;
    let count = u32::try_from(m.count).unwrap_or_else(|_| {
        ok = false;
        1
    });
    let mut s = StoredEvent {
        seq: m.seq,
        // A version this build never writes verifies as altered.
        version: u8::try_from(m.version).unwrap_or(0),
        key_id: m.key_id,
        prev_hash: hash_or_unreadable(&m.prev_hash),
        hash: hash_or_unreadable(&m.hash),
        event: AuditEvent {
            id: AuditEventId::from_uuid(m.id),
            at: m.at,
            tenant_id: m.tenant_id.map(TenantId::from_uuid),
            user_id: m.user_id.map(kernel::UserId::from_uuid),
            user_email: m.user_email,
            actor: word(&m.actor, Actor::parse, Actor::User, &mut ok),
            operation: m.operation,
            tool_name: m.tool_name,
            action: m.action,
            resource_type: m.resource_type,
            resource_id: m.resource_id,
            device_id: m.device_id,
            environment: m.environment,
            effect: word(&m.effect, Effect::parse, Effect::Write, &mut ok),
            decision: word(&m.decision, Outcome::parse, Outcome::Deny, &mut ok),
            reason: m.reason,
            result: word(&m.result, RunResult::parse, RunResult::Failure, &mut ok),
            error_class: m.error_class,
            approval_request_id: m.approval_request_id,
            request_id: m.request_id,
            client_addr: m.client_addr,
            args_digest: m.args_digest,
            intent_id: m.intent_id.map(AuditEventId::from_uuid),
            client_request_id: m.client_request_id,
            count,
        },
    };
    if !ok {
        s.hash = UNREADABLE;
    }
    Ok(s)
}

/// Locks a chain's head for this transaction, creating it at `seq` 0.
async fn lock_head(c: &impl ConnectionTrait, key: ChainKey) -> Result<Head, StoreError> {
    audit_head::Entity::insert(audit_head::ActiveModel {
        chain: Set(key.0),
        seq: Set(0),
        hash: Set(chain::to_hex(&GENESIS)),
    })
    .on_conflict(
        OnConflict::column(audit_head::Column::Chain)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(c)
    .await
    .map_err(store_err)?;
    let head = audit_head::Entity::find_by_id(key.0)
        .lock_exclusive()
        .one(c)
        .await
        .map_err(store_err)?
        .ok_or(StoreError::NotFound)?;
    Ok(Head {
        seq: head.seq,
        hash: hash_of(&head.hash)?,
    })
}

/// The [`AuditLog`] of a database: appends link events under `key`.
#[derive(Debug, Clone)]
pub struct AuditChainLog {
    db: Database,
    key: LinkKey,
}

impl Database {
    /// The audit log over this database, linking with `key`.
    pub fn audit_log(&self, key: LinkKey) -> AuditChainLog {
        AuditChainLog {
            db: self.clone(),
            key,
        }
    }
}

#[async_trait]
impl AuditLog for AuditChainLog {
    async fn append(&self, batch: &[AuditEvent]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut chains: BTreeMap<ChainKey, Vec<AuditEvent>> = BTreeMap::new();
        for e in batch {
            chains
                .entry(ChainKey::of(e.tenant_id))
                .or_default()
                .push(e.clone());
        }
        let txn = self.db.write().await?;
        for (key, events) in chains {
            let head = lock_head(&txn, key).await?;
            let linked = chain::chain(&self.key, head.hash, &events);
            let new_head = Head {
                seq: head.seq + linked.len() as i64,
                hash: linked.last().map_or(head.hash, |c| c.hash),
            };
            let mut rows = linked
                .into_iter()
                .enumerate()
                .map(|(i, c)| row(key, head.seq + 1 + i as i64, c))
                .peekable();
            while rows.peek().is_some() {
                let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
                audit_event::Entity::insert_many(chunk)
                    .exec_without_returning(&txn)
                    .await
                    .map_err(store_err)?;
            }
            audit_head::Entity::update(audit_head::ActiveModel {
                chain: Set(key.0),
                seq: Set(new_head.seq),
                hash: Set(chain::to_hex(&new_head.hash)),
            })
            .exec(&txn)
            .await
            .map_err(store_err)?;
        }
        txn.commit().await.map_err(store_err)
    }
}

#[async_trait]
impl AuditReader for Database {
    async fn page(
        &self,
        key: ChainKey,
        f: &Filter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        use audit_event::Column as C;
        let mut q = audit_event::Entity::find().filter(C::Chain.eq(key.0));
        if let Some(seq) = before {
            q = q.filter(C::Seq.lt(seq));
        }
        if let Some(u) = f.user_id {
            q = q.filter(C::UserId.eq(u.uuid()));
        }
        if let Some(d) = f.device_id {
            q = q.filter(C::DeviceId.eq(d));
        }
        if let Some(t) = &f.tool_name {
            q = q.filter(C::ToolName.eq(t.as_str()));
        }
        if let Some(d) = f.decision {
            q = q.filter(C::Decision.eq(d.as_str()));
        }
        if let Some(r) = f.result {
            q = q.filter(C::Result.eq(r.as_str()));
        }
        if let Some(from) = f.from {
            q = q.filter(C::At.gte(from));
        }
        if let Some(to) = f.to {
            q = q.filter(C::At.lt(to));
        }
        q.order_by_desc(C::Seq)
            .limit(u64::from(limit))
            .all(self.conn())
            .await
            .map_err(store_err)?
            .into_iter()
            .map(stored)
            .collect()
    }

    async fn scan(
        &self,
        key: ChainKey,
        after: i64,
        until: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        use audit_event::Column as C;
        audit_event::Entity::find()
            .filter(C::Chain.eq(key.0))
            .filter(C::Seq.gt(after))
            .filter(C::Seq.lte(until))
            .order_by_asc(C::Seq)
            .limit(u64::from(limit))
            .all(self.conn())
            .await
            .map_err(store_err)?
            .into_iter()
            .map(stored)
            .collect()
    }

    async fn hash_at(&self, key: ChainKey, seq: i64) -> Result<Option<[u8; 32]>, StoreError> {
        use audit_event::Column as C;
        let hash: Option<String> = audit_event::Entity::find()
            .select_only()
            .column(C::Hash)
            .filter(C::Chain.eq(key.0))
            .filter(C::Seq.eq(seq))
            .into_tuple()
            .one(self.conn())
            .await
            .map_err(store_err)?;
        Ok(hash.as_deref().map(hash_or_unreadable))
    }

    async fn seq_range(
        &self,
        key: ChainKey,
        from: Option<OffsetDateTime>,
        to: Option<OffsetDateTime>,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        use audit_event::Column as C;
        use sea_orm::sea_query::{Expr, Func};
        let mut q = audit_event::Entity::find()
            .select_only()
            .expr(Func::min(Expr::col(C::Seq)))
            .expr(Func::max(Expr::col(C::Seq)))
            .filter(C::Chain.eq(key.0));
        if let Some(from) = from {
            q = q.filter(C::At.gte(from));
        }
        if let Some(to) = to {
            q = q.filter(C::At.lt(to));
        }
        let bounds: Option<(Option<i64>, Option<i64>)> =
            q.into_tuple().one(self.conn()).await.map_err(store_err)?;
        Ok(match bounds {
            Some((Some(first), Some(last))) => Some((first, last)),
            _ => None,
        })
    }

    async fn open_intents(
        &self,
        key: Option<ChainKey>,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        use audit_event::Column as C;
        use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
        let outcome = Alias::new("outcome");
        let concluded = Query::select()
            .expr(Expr::val(1))
            .from_as(audit_event::Entity, outcome.clone())
            .and_where(
                Expr::col((outcome.clone(), C::Chain)).equals((audit_event::Entity, C::Chain)),
            )
            .and_where(Expr::col((outcome, C::IntentId)).equals((audit_event::Entity, C::Id)))
            .to_owned();
        let mut q = audit_event::Entity::find()
            .filter(C::Result.eq(RunResult::Pending.as_str()))
            .filter(C::At.lte(until))
            .filter(Expr::exists(concluded).not());
        if let Some(key) = key {
            q = q.filter(C::Chain.eq(key.0));
        }
        q.order_by_asc(C::Chain)
            .order_by_asc(C::Seq)
            .limit(u64::from(limit))
            .all(self.conn())
            .await
            .map_err(store_err)?
            .into_iter()
            .map(stored)
            .collect()
    }

    async fn is_concluded(&self, key: ChainKey, intent: AuditEventId) -> Result<bool, StoreError> {
        use audit_event::Column as C;
        Ok(audit_event::Entity::find()
            .select_only()
            .column(C::Id)
            .filter(C::Chain.eq(key.0))
            .filter(C::IntentId.eq(intent.uuid()))
            .into_tuple::<uuid::Uuid>()
            .one(self.conn())
            .await
            .map_err(store_err)?
            .is_some())
    }

    async fn head(&self, key: ChainKey) -> Result<Option<Head>, StoreError> {
        let Some(h) = audit_head::Entity::find_by_id(key.0)
            .one(self.conn())
            .await
            .map_err(store_err)?
        else {
            return Ok(None);
        };
        if h.seq == 0 {
            return Ok(None);
        }
        Ok(Some(Head {
            seq: h.seq,
            hash: hash_or_unreadable(&h.hash),
        }))
    }
}

impl Database {
    /// Every chain's recorded head (chains with events only), by chain.
    pub async fn audit_heads(&self) -> Result<Vec<(ChainKey, Head)>, StoreError> {
        Ok(audit_head::Entity::find()
            .filter(audit_head::Column::Seq.gt(0))
            .order_by_asc(audit_head::Column::Chain)
            .all(self.conn())
            .await
            .map_err(store_err)?
            .into_iter()
            .map(|h| {
                (
                    ChainKey(h.chain),
                    Head {
                        seq: h.seq,
                        hash: hash_or_unreadable(&h.hash),
                    },
                )
            })
            .collect())
    }

    /// A tenant's audit events, oldest first (for tests and tools).
    pub async fn audit_events(&self, tenant: TenantId) -> Result<Vec<AuditEvent>, StoreError> {
        let key = ChainKey::of(Some(tenant));
        let mut out = Vec::new();
        audit::query::for_each(self, key, 1, i64::MAX, |row| {
            out.push(row.event.clone());
            true
        })
        .await?;
        Ok(out)
    }

    /// Runs raw SQL: tests use it to tamper with stored rows.
    pub async fn execute_unprepared(&self, sql: &str) -> Result<u64, StoreError> {
        self.conn()
            .execute_unprepared(sql)
            .await
            .map(|r| r.rows_affected())
            .map_err(store_err)
    }
}
