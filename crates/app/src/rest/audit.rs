//! The audit trail over REST: reading a tenant's events back and checking
//! that its hash chain still holds.
//!
//! Auditors need both halves. The event list answers "who did what, when,
//! and was it allowed"; verification answers "are these still the rows
//! that were written". Both read only the caller's own tenant chain, checked
//! (and recorded) by the gate before anything is read. Verification needs
//! `audit:read` over the whole tenant; the list needs it somewhere, and a
//! caller who holds it over part of the tenant (a team admin) sees only
//! the events about what it reaches ([`audit::query::in_reach`]): who made
//! an event never opens it on its own.
//!
//! Paging (cursors, the checked query, what a partial reader sees) is the
//! audit crate's ([`audit::paging`]); this file turns query parameters into
//! its query, answers its question of reach from the tenant's
//! authorization index, and shapes pages and problems for HTTP.

use super::failure;
use super::{ApiResult, Gate, Tag};
use crate::http::codes::Code;
use crate::http::problem::{ApiError, Problem};
use crate::state::AppState;
use audit::chain::to_hex;
use audit::paging::{self, EventPage, EventQuery, QueryError};
pub(super) use audit::paging::{representable, truncate_to_micros};
use audit::query::{self, ChainKey, Filter, StoredEvent, verify_range};
use audit::{Actor, Effect, Outcome, RunResult};
use audit::{AuditReader, Reach};
use kernel::UserId;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use rbac::Permission as P;
use rbac::{AuthzIndex, Resource};
use time::OffsetDateTime;
use uuid::Uuid;

pub struct AuditApi {
    pub state: AppState,
}

/// Whether the enforcement path let the request through.
#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum AuditDecision {
    Allow,
    Deny,
}

/// How the request ended.
#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum AuditResult {
    Success,
    Failure,
    /// An intent: a change about to run; its outcome names it in `intent_id`.
    Pending,
    /// The outcome of an intent is not known: rosgate stopped in between.
    Unknown,
}

/// Who acted: a person, an API token, or an agent over MCP.
#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum AuditActor {
    User,
    ApiToken,
    Agent,
}

/// Whether the operation reads or changes state.
#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum AuditEffect {
    Read,
    Write,
}

impl From<AuditDecision> for Outcome {
    fn from(d: AuditDecision) -> Self {
        match d {
            AuditDecision::Allow => Outcome::Allow,
            AuditDecision::Deny => Outcome::Deny,
        }
    }
}

impl From<Outcome> for AuditDecision {
    fn from(d: Outcome) -> Self {
        match d {
            Outcome::Allow => AuditDecision::Allow,
            Outcome::Deny => AuditDecision::Deny,
        }
    }
}

impl From<AuditResult> for RunResult {
    fn from(r: AuditResult) -> Self {
        match r {
            AuditResult::Success => RunResult::Success,
            AuditResult::Failure => RunResult::Failure,
            AuditResult::Pending => RunResult::Pending,
            AuditResult::Unknown => RunResult::Unknown,
        }
    }
}

impl From<RunResult> for AuditResult {
    fn from(r: RunResult) -> Self {
        match r {
            RunResult::Success => AuditResult::Success,
            RunResult::Failure => AuditResult::Failure,
            RunResult::Pending => AuditResult::Pending,
            RunResult::Unknown => AuditResult::Unknown,
        }
    }
}

impl From<Actor> for AuditActor {
    fn from(a: Actor) -> Self {
        match a {
            Actor::User => AuditActor::User,
            Actor::ApiToken => AuditActor::ApiToken,
            Actor::Agent => AuditActor::Agent,
        }
    }
}

impl From<Effect> for AuditEffect {
    fn from(e: Effect) -> Self {
        match e {
            Effect::Read => AuditEffect::Read,
            Effect::Write => AuditEffect::Write,
        }
    }
}

/// One recorded event, with its place in the tenant's chain. Optional
/// fields are left out when they have no value.
#[derive(Debug, Object)]
pub struct AuditEventDto {
    /// The event's position in its tenant's chain, from 1, without gaps.
    pub seq: i64,
    pub id: Uuid,
    pub at: OffsetDateTime,
    #[oai(skip_serializing_if_is_none)]
    pub tenant_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub user_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub user_email: Option<String>,
    pub actor: AuditActor,
    /// The REST operation id (`getSite`) or `mcp:<tool>` / `rest:<tool>`.
    pub operation: String,
    /// The tool, for tool calls.
    #[oai(skip_serializing_if_is_none)]
    pub tool_name: Option<String>,
    /// The permission asked for, such as `site:read`.
    pub action: String,
    pub resource_type: String,
    #[oai(skip_serializing_if_is_none)]
    pub resource_id: Option<Uuid>,
    /// The device touched, where there is one.
    #[oai(skip_serializing_if_is_none)]
    pub device_id: Option<Uuid>,
    /// The device's environment at the time (`prod`, `staging`, `lab`).
    #[oai(skip_serializing_if_is_none)]
    pub environment: Option<String>,
    pub effect: AuditEffect,
    pub decision: AuditDecision,
    pub reason: String,
    pub result: AuditResult,
    /// The stable problem code of a failure.
    #[oai(skip_serializing_if_is_none)]
    pub error_class: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub approval_request_id: Option<Uuid>,
    pub request_id: String,
    #[oai(skip_serializing_if_is_none)]
    pub client_addr: Option<String>,
    /// SHA-256 of the canonical JSON of the arguments (never the arguments).
    #[oai(skip_serializing_if_is_none)]
    pub args_digest: Option<String>,
    /// For an outcome: the intent event it concludes.
    #[oai(skip_serializing_if_is_none)]
    pub intent_id: Option<Uuid>,
    /// The `X-Request-Id` the client sent, as given (`request_id` is
    /// rosgate's own).
    #[oai(skip_serializing_if_is_none)]
    pub client_request_id: Option<String>,
    /// How many occurrences the event stands for: 1, or more for an
    /// aggregate of refusals within a minute.
    pub count: u32,
    /// The `hash` of the event before it in the chain (hex).
    pub prev_hash: String,
    /// SHA-256 over this event and `prev_hash` (hex): the chain link.
    pub hash: String,
}

impl From<StoredEvent> for AuditEventDto {
    fn from(s: StoredEvent) -> Self {
        let e = s.event;
        AuditEventDto {
            seq: s.seq,
            id: e.id.uuid(),
            at: e.at,
            tenant_id: e.tenant_id.map(|t| t.uuid()),
            user_id: e.user_id.map(|u| u.uuid()),
            user_email: e.user_email,
            actor: e.actor.into(),
            operation: e.operation,
            tool_name: e.tool_name,
            action: e.action,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            device_id: e.device_id,
            environment: e.environment,
            effect: e.effect.into(),
            decision: e.decision.into(),
            reason: e.reason,
            result: e.result.into(),
            error_class: e.error_class,
            approval_request_id: e.approval_request_id,
            request_id: e.request_id,
            client_addr: e.client_addr,
            args_digest: e.args_digest,
            intent_id: e.intent_id.map(|i| i.uuid()),
            client_request_id: e.client_request_id,
            count: e.count,
            prev_hash: to_hex(&s.prev_hash),
            hash: to_hex(&s.hash),
        }
    }
}

/// One page of events, newest first; pass `next_cursor` as `cursor` for
/// the next (older) page.
#[derive(Debug, Object)]
pub struct AuditEventPage {
    pub items: Vec<AuditEventDto>,
    /// Absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

impl From<EventPage> for AuditEventPage {
    fn from(p: EventPage) -> Self {
        AuditEventPage {
            items: p.items.into_iter().map(AuditEventDto::from).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

/// What went wrong at a broken link.
#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum ChainProblem {
    /// The row's content or its hash was changed.
    Altered,
    /// The row does not follow the one before it: a row was deleted, moved
    /// or inserted.
    Missing,
    /// The newest rows were deleted: the recorded head, or the row a signed
    /// checkpoint names, is not there.
    Truncated,
    /// The row names a link key that is not configured.
    UnknownKey,
    /// The row a signed checkpoint names has another hash now.
    Rewritten,
}

impl From<query::LinkBreak> for ChainProblem {
    fn from(p: query::LinkBreak) -> Self {
        match p {
            query::LinkBreak::Altered => ChainProblem::Altered,
            query::LinkBreak::Missing => ChainProblem::Missing,
            query::LinkBreak::Truncated => ChainProblem::Truncated,
            query::LinkBreak::UnknownKey => ChainProblem::UnknownKey,
            query::LinkBreak::Rewritten => ChainProblem::Rewritten,
        }
    }
}

impl ChainProblem {
    /// A sentence for people.
    fn detail(self) -> &'static str {
        match self {
            ChainProblem::Altered => {
                "this row no longer matches its hash: it was changed after it was written"
            }
            ChainProblem::Missing => {
                "this row does not follow the row before it: a row was deleted, moved or inserted"
            }
            ChainProblem::Truncated => {
                "the chain ends before the head recorded at the last append or a signed checkpoint: the newest rows were deleted"
            }
            ChainProblem::UnknownKey => {
                "this row is linked with a key that is not configured: add it to audit.retired_link_keys to check it"
            }
            ChainProblem::Rewritten => {
                "this row no longer has the hash a signed checkpoint recorded: the chain was rewritten after the checkpoint"
            }
        }
    }
}

/// The first broken link found.
#[derive(Debug, Object)]
pub struct BrokenLinkDto {
    /// The offending row's `seq` (for truncation, the recorded head's).
    pub seq: i64,
    /// The offending row's event, when there is a row.
    #[oai(skip_serializing_if_is_none)]
    pub event_id: Option<Uuid>,
    pub problem: ChainProblem,
    /// What the problem means.
    pub detail: String,
}

/// The signed checkpoint the chain was held to.
#[derive(Debug, Object)]
pub struct CheckpointDto {
    /// The `seq` the checkpoint recorded as the chain's head.
    pub seq: i64,
    /// The head's hash (hex).
    pub head: String,
    /// When it was taken.
    pub at: OffsetDateTime,
}

/// The result of recomputing the tenant's chain over a time range.
#[derive(Debug, Object)]
pub struct ChainVerificationDto {
    /// Rows whose links held.
    pub checked: u64,
    /// The first `seq` the range spans; absent when it holds no event.
    #[oai(skip_serializing_if_is_none)]
    pub first_seq: Option<i64>,
    /// The last `seq` the range spans; absent when it holds no event.
    #[oai(skip_serializing_if_is_none)]
    pub last_seq: Option<i64>,
    /// The hash of the last row checked (hex): when `ok`, the chain head of
    /// the range, equal to the `X-Audit-Chain-Head` of a compliance report
    /// over the same range if its rows are still the ones it was built from.
    pub head: String,
    /// Whether every link held, the chain ends where the recorded head and
    /// the checkpoint say, and no checkpoint line is forged.
    pub ok: bool,
    /// The first broken link; absent when it held.
    #[oai(skip_serializing_if_is_none)]
    pub first_break: Option<BrokenLinkDto>,
    /// The newest validly signed checkpoint of the chain; absent before
    /// the first one.
    #[oai(skip_serializing_if_is_none)]
    pub checkpoint: Option<CheckpointDto>,
    /// Lines of the checkpoint file (from 1) for this chain whose signature
    /// does not hold, or that cannot be read: someone wrote them who does
    /// not hold the signing key. Any makes `ok` false.
    pub forged_checkpoint_lines: Vec<u64>,
}

impl From<query::RangeReport> for ChainVerificationDto {
    fn from(r: query::RangeReport) -> Self {
        ChainVerificationDto {
            checked: r.checked,
            first_seq: r.seqs.map(|s| s.0),
            last_seq: r.seqs.map(|s| s.1),
            head: to_hex(&r.head),
            ok: r.first_break.is_none(),
            checkpoint: r.checkpoint.map(|c| CheckpointDto {
                seq: c.seq,
                head: to_hex(&c.head),
                at: c.at,
            }),
            forged_checkpoint_lines: Vec::new(),
            first_break: r.first_break.map(|b| {
                let problem = ChainProblem::from(b.problem);
                BrokenLinkDto {
                    seq: b.seq,
                    event_id: b.event_id.map(|e| e.uuid()),
                    problem,
                    detail: problem.detail().to_owned(),
                }
            }),
        }
    }
}

/// A 400 problem naming the query parameter at fault.
pub(super) fn bad_query(code: Code, field: &str, detail: String) -> ApiError {
    ApiError::from_problem(Problem::new(code, detail, Some(field)))
}

/// The 400 problem for a refused query: its stable code, the parameter
/// at fault and what to fix.
fn query_problem(e: QueryError) -> ApiError {
    bad_query(Code::of(e.code()), e.field(), e.to_string())
}

/// A query instant as the trail compares it ([`paging::instant`]); an
/// instant UTC cannot represent is a 400 naming `field`.
pub(super) fn instant(
    at: Option<OffsetDateTime>,
    field: &'static str,
) -> Result<Option<OffsetDateTime>, ApiError> {
    paging::instant(at, field).map_err(query_problem)
}

/// Refuses a range that ends before it starts.
pub(super) fn check_order(
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
) -> Result<(), ApiError> {
    paging::check_order(from, to).map_err(query_problem)
}

/// The query parameters every event list takes, as the audit crate's
/// checked query.
#[allow(clippy::too_many_arguments)] // one per query parameter
pub(super) fn event_query(
    user_id: Option<Uuid>,
    device_id: Option<Uuid>,
    tool_name: Option<String>,
    decision: Option<AuditDecision>,
    result: Option<AuditResult>,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<EventQuery, ApiError> {
    let filter = Filter {
        user_id: user_id.map(Into::into),
        device_id,
        tool_name,
        decision: decision.map(Into::into),
        result: result.map(Into::into),
        from,
        to,
    };
    EventQuery::new(filter, cursor, limit).map_err(query_problem)
}

/// A page of every event of `chain` matching `q`, and the cursor of the
/// next one.
pub(super) async fn full_page(
    reader: &dyn AuditReader,
    chain: ChainKey,
    q: &EventQuery,
) -> Result<AuditEventPage, ApiError> {
    Ok(paging::full_page(reader, chain, q).await?.into())
}

/// What a reader of part of a tenant reaches with its `audit:read`, from
/// the tenant's index: a resource as decisions reach it, a user only whole.
struct IndexReach<'a> {
    index: &'a AuthzIndex,
    reader: UserId,
}

impl Reach for IndexReach<'_> {
    fn entity(&self, kind: &str, id: Option<Uuid>) -> Option<bool> {
        Resource::from_kind(kind, id).map(|r| self.index.reaches(self.reader, P::AuditRead, r))
    }

    fn whole_user(&self, user: UserId) -> bool {
        self.index.covers_user(self.reader, P::AuditRead, user)
    }
}

#[OpenApi(tag = "Tag::Audit")]
impl AuditApi {
    /// List the events of the caller's tenant, newest first. Needs
    /// `audit:read`: over the whole tenant it lists every event; over part
    /// of it (a team), only the events about what it reaches: the event's
    /// resource and device must be in reach, and an event about no resource
    /// shows only when its user is bound nowhere else. Every filter given must match: `from` is inclusive,
    /// `to` exclusive (RFC 3339). `limit` is 1 to 500, 50 by default. Pass
    /// the `next_cursor` of a page as `cursor` for the next one; a cursor
    /// this API did not hand out is refused with 400 `invalid_cursor`.
    #[oai(
        path = "/audit/events",
        method = "get",
        operation_id = "listAuditEvents"
    )]
    #[allow(clippy::too_many_arguments)] // one per query parameter
    async fn list_events(
        &self,
        gate: Gate,
        /// Events of this user.
        user_id: Query<Option<Uuid>>,
        /// Events touching this device.
        device_id: Query<Option<Uuid>>,
        /// Calls of this tool.
        #[oai(validator(min_length = 1, max_length = 100))]
        tool_name: Query<Option<String>>,
        decision: Query<Option<AuditDecision>>,
        result: Query<Option<AuditResult>>,
        /// Events at or after this instant.
        from: Query<Option<OffsetDateTime>>,
        /// Events before this instant.
        to: Query<Option<OffsetDateTime>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<AuditEventPage>, failure::Query> {
        let index = gate.authorize_list(P::AuditRead).await?;
        let q = event_query(
            user_id.0,
            device_id.0,
            tool_name.0,
            decision.0,
            result.0,
            from.0,
            to.0,
            limit.0,
            cursor.0.as_deref(),
        )?;
        let chain = ChainKey::of(Some(gate.tenant()));
        let page = if gate.visible(&index, P::AuditRead, Resource::Tenant(gate.tenant())) {
            full_page(&self.state.db, chain, &q).await?
        } else {
            let reach = IndexReach {
                index: &index,
                reader: gate.who.user_id,
            };
            paging::scoped_page(&self.state.db, chain, &q, &reach)
                .await?
                .into()
        };
        Ok(Json(page))
    }

    /// Recompute the caller's tenant chain over the events in `[from, to)`
    /// (RFC 3339; either end may be left open) and report the first broken
    /// link. Needs `audit:read` over the whole tenant. The range is widened to whole rows: every
    /// row from the first event at or after `from` to the last before `to`
    /// is checked against the row before it. Without `to`, the last row
    /// must also be the head recorded at the last append. Whatever the
    /// range, the chain must still reach the head and the newest signed
    /// checkpoint and hold the checkpoint's hash there, so deleting the
    /// newest rows shows as `truncated` (or `rewritten`), and forged
    /// checkpoint lines are listed. `from` after `to` is a 400.
    #[oai(
        path = "/audit/verify",
        method = "get",
        operation_id = "verifyAuditChain"
    )]
    async fn verify_chain(
        &self,
        gate: Gate,
        /// Check from the first event at or after this instant.
        from: Query<Option<OffsetDateTime>>,
        /// Check up to the last event before this instant.
        to: Query<Option<OffsetDateTime>>,
    ) -> ApiResult<Json<ChainVerificationDto>, failure::Query> {
        gate.authorize(P::AuditRead, Resource::Tenant(gate.tenant()))
            .await?;
        let from = instant(from.0, "from")?;
        let to = instant(to.0, "to")?;
        check_order(from, to)?;
        let chain = ChainKey::of(Some(gate.tenant()));
        Ok(Json(verified(&self.state, chain, from, to).await?))
    }
}

/// Verifies `chain` over a range: its keyed links, and its rows against
/// the latest signed checkpoint (a cut tail is reported for any range).
pub(super) async fn verified(
    state: &AppState,
    chain: ChainKey,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
) -> Result<ChainVerificationDto, ApiError> {
    let trust = &state.audit_trust;
    // The checkpoint file is read before the chain, so the chain is
    // never older than the checkpoint it is held to.
    let findings = trust.findings(chain)?;
    let report = verify_range(
        &state.db,
        &trust.links,
        findings.latest.as_ref(),
        chain,
        from,
        to,
    )
    .await?;
    let mut dto = ChainVerificationDto::from(report);
    if !findings.forged.is_empty() {
        dto.ok = false;
        dto.forged_checkpoint_lines = findings.forged;
    }
    Ok(dto)
}
