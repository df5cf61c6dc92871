//! One audit event per request.
//!
//! A [`Trail`] rides along with one REST request or one MCP tool call. The
//! gate and the tool path write into it what they decide (who, which
//! resource, allow or deny and why, which tool on which device); when the
//! request is over, the code that started it turns the trail and the
//! outcome (status, error code) into exactly one [`AuditEvent`] and commits
//! it through the group-commit writer before the reply leaves.
//!
//! A request may be decided more than once (a resource, then the ids in
//! its body; every device of a plan, then the plan): the latest decision
//! is kept, except that a denial is never replaced, since it is what ended
//! the request.

use crate::{Actor, AuditEvent, AuditSink, Effect, Outcome, RunResult};
use kernel::{AuditEventId, Clock, Entropy, Principal, TenantId, UserId};
use std::sync::{Arc, Mutex, MutexGuard};
use uuid::Uuid;

/// Longest reason kept in an event.
const MAX_REASON: usize = 1000;

/// What one request did, filled in as it goes.
pub struct Trail {
    draft: Mutex<Draft>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
}

impl std::fmt::Debug for Trail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trail")
            .field("draft", &self.draft)
            .finish_non_exhaustive()
    }
}

/// The error class of a device step of a plan that failed.
pub const PLAN_FAILED: &str = "plan_failed";

/// Who a request was made by: an authenticated principal, or a caller an
/// authentication failure could still name (a session without its CSRF
/// token, a bearer token without the scope, an unprovisioned identity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    pub tenant_id: Option<TenantId>,
    pub user_id: Option<UserId>,
    pub email: Option<String>,
    pub actor: Actor,
}

impl Requester {
    /// The principal, acting as itself or (over MCP) as an agent.
    pub fn principal(who: &Principal, agent: bool) -> Requester {
        Requester {
            tenant_id: Some(who.tenant_id),
            user_id: Some(who.user_id),
            email: Some(who.email.clone()),
            actor: if agent {
                Actor::Agent
            } else {
                Actor::of(&who.auth)
            },
        }
    }
}

impl Requester {
    /// Nobody in particular: a request to an operation open to anyone
    /// that did not say whom it was for.
    pub fn anonymous() -> Requester {
        Requester {
            tenant_id: None,
            user_id: None,
            email: None,
            actor: Actor::User,
        }
    }
}

/// One access decision.
#[derive(Debug, Clone)]
pub struct DecisionEntry {
    /// The permission asked for, or what was checked (`tenant`, `rate_limit`).
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub outcome: Outcome,
    pub reason: String,
}

#[derive(Debug, Default)]
struct Draft {
    who: Option<Requester>,
    operation: Option<String>,
    tool_name: Option<String>,
    decided: Option<DecisionEntry>,
    environment: Option<String>,
    effect: Option<Effect>,
    /// What happened after the decision (a tool's summary or failure).
    note: Option<String>,
    approval_request_id: Option<Uuid>,
    args_digest: Option<String>,
    /// The error class of a request that failed behind a successful reply.
    failure: Option<String>,
    /// The request's ids and client, set by the admission path.
    request: Option<RequestMeta>,
    /// The intent committed before the request touched a device.
    intent_id: Option<AuditEventId>,
}

/// One device of a change on several.
#[derive(Debug, Clone)]
pub struct DeviceStep {
    pub device_id: Uuid,
    pub environment: String,
    pub result: RunResult,
    pub reason: String,
    pub intent_id: Option<AuditEventId>,
}

/// What identifies a request and its client.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub request_id: String,
    pub client_request_id: Option<String>,
    pub client_addr: Option<String>,
}

/// How the request ended, known only once the reply is ready.
#[derive(Debug, Clone)]
pub struct Ending {
    /// The operation when the trail does not name one (the REST operationId).
    pub operation: String,
    /// Whether the request could only read (GET and the like).
    pub safe: bool,
    /// Whether the request succeeded.
    pub success: bool,
    /// The problem `code` of a failed request.
    pub error_class: Option<String>,
    pub request_id: String,
    /// The `X-Request-Id` the client sent.
    pub client_request_id: Option<String>,
    pub client_addr: Option<String>,
}

impl Trail {
    /// A new, empty trail; its events are stamped with `clock` and get
    /// their ids from `entropy`.
    pub fn new(clock: Arc<dyn Clock>, entropy: Arc<dyn Entropy>) -> Arc<Trail> {
        Arc::new(Trail {
            draft: Mutex::default(),
            clock,
            entropy,
        })
    }

    fn draft(&self) -> MutexGuard<'_, Draft> {
        // A panic while holding the lock leaves a usable draft behind.
        self.draft.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets who made the request.
    pub fn identify(&self, who: Requester) {
        self.draft().who = Some(who);
    }

    /// The request's ids and client, for events made before it ends.
    pub fn request(&self, meta: RequestMeta) {
        self.draft().request = Some(meta);
    }

    /// The intent of a change the request is about to make, to be
    /// committed before any device is touched: who, which tool, which
    /// device, the argument digest, result `pending`. The request's own
    /// event, its outcome, will name it. `None` if nobody is named.
    pub fn intent(&self) -> Option<AuditEvent> {
        let mut event = self.interim()?;
        event.result = RunResult::Pending;
        event.intent_id = None;
        self.draft().intent_id = Some(event.id);
        Some(event)
    }

    /// An event about one device of a change this request makes on
    /// several (a plan apply): the trail's caller, operation, tool, digest
    /// and plan, with this device, its environment, `result` and, for an
    /// outcome, the intent it concludes. `None` if nobody is named.
    pub fn device_event(&self, step: DeviceStep) -> Option<AuditEvent> {
        let mut event = self.interim()?;
        event.resource_type = "device".into();
        event.resource_id = Some(step.device_id);
        event.device_id = Some(step.device_id);
        event.environment = Some(step.environment);
        event.decision = Outcome::Allow;
        event.effect = Effect::Write;
        event.error_class = (step.result == RunResult::Failure).then(|| PLAN_FAILED.into());
        event.result = step.result;
        event.reason = step.reason.chars().take(MAX_REASON).collect();
        event.intent_id = step.intent_id;
        Some(event)
    }

    /// An event of the request made before it ends, as if it succeeded.
    fn interim(&self) -> Option<AuditEvent> {
        let meta = self.draft().request.clone().unwrap_or_default();
        self.event(Ending {
            operation: String::new(),
            safe: false,
            success: true,
            error_class: None,
            request_id: meta.request_id,
            client_request_id: meta.client_request_id,
            client_addr: meta.client_addr,
        })
    }

    /// Forgets the environment: the request acts on several devices, whose
    /// environments their own events carry.
    pub fn no_environment(&self) {
        self.draft().environment = None;
    }

    /// Records a decision that replaces any before it, a denial too: the
    /// request was carried out on other grounds (an accepted invitation
    /// whose token was the credential, beside a refused session cookie).
    pub fn decide_over(&self, d: DecisionEntry) {
        self.draft().decided = Some(d);
    }

    /// Whether anyone has been named as the request's caller.
    pub fn names_anyone(&self) -> bool {
        self.draft().who.is_some()
    }

    /// Records an access decision: it replaces the one before unless that
    /// one denied.
    pub fn decide(&self, d: DecisionEntry) {
        let mut draft = self.draft();
        if !draft
            .decided
            .as_ref()
            .is_some_and(|before| before.outcome == Outcome::Deny)
        {
            draft.decided = Some(d);
        }
    }

    /// Names the tool the request runs and the operation it counts as.
    pub fn tool(&self, operation: String, tool: &str, effect: Effect, args_digest: Option<String>) {
        let mut draft = self.draft();
        draft.operation = Some(operation);
        draft.tool_name = Some(tool.to_owned());
        draft.effect = Some(effect);
        draft.args_digest = args_digest;
    }

    /// The environment of the device the request acts on.
    pub fn environment(&self, env: &str) {
        self.draft().environment = Some(env.to_owned());
    }

    /// Overrides whether the request changes anything (a dry run does not).
    pub fn effect(&self, effect: Effect) {
        self.draft().effect = Some(effect);
    }

    /// What happened after the decision, such as a tool's summary.
    pub fn note(&self, note: impl Into<String>) {
        self.draft().note = Some(note.into());
    }

    /// The request was carried out and failed, although its reply is a
    /// success (a plan that rolled back): `class` is the error class.
    pub fn failed(&self, class: &str, note: impl Into<String>) {
        let mut draft = self.draft();
        draft.failure = Some(class.into());
        draft.note = Some(note.into());
    }

    /// The request failed with `class`, although its reply may look like
    /// a success (an MCP tool error is a 200 with `isError`).
    pub fn error_class(&self, class: &str) {
        self.draft().failure = Some(class.into());
    }

    /// Whether the request was recorded as failed.
    pub fn has_failed(&self) -> bool {
        self.draft().failure.is_some()
    }

    /// The approval request the change was carried out under.
    pub fn approval(&self, id: Uuid) {
        self.draft().approval_request_id = Some(id);
    }

    /// The one event of the request, or `None` if nobody can be named
    /// (anonymous and unreadable credentials are not audited).
    pub fn event(&self, end: Ending) -> Option<AuditEvent> {
        let draft = self.draft();
        let who = draft.who.clone()?;
        let decided = draft.decided.clone().unwrap_or_else(|| DecisionEntry {
            // Authenticated, and refused or answered before any permission
            // check (invalid input, an unknown route).
            action: "authenticated".into(),
            resource_type: "user".into(),
            resource_id: who.user_id.map(|u| u.uuid()),
            device_id: None,
            outcome: Outcome::Allow,
            reason: String::new(),
        });
        let mut reason = decided.reason.clone();
        if let Some(note) = &draft.note {
            if !reason.is_empty() {
                reason.push_str("; ");
            }
            reason.push_str(note);
        }
        if reason.is_empty()
            && let Some(code) = &end.error_class
        {
            reason = format!("refused: {code}");
        }
        let effect = draft.effect.unwrap_or(if end.safe {
            Effect::Read
        } else {
            Effect::Write
        });
        let success = end.success && draft.failure.is_none();
        let now = self.clock.now();
        Some(AuditEvent {
            id: AuditEventId::from_uuid(self.entropy.uuid_v7(now)),
            at: now,
            tenant_id: who.tenant_id,
            user_id: who.user_id,
            user_email: who.email.clone(),
            actor: who.actor,
            operation: draft.operation.clone().unwrap_or(end.operation),
            tool_name: draft.tool_name.clone(),
            action: decided.action,
            resource_type: decided.resource_type,
            resource_id: decided.resource_id,
            device_id: decided.device_id,
            environment: draft.environment.clone(),
            effect,
            decision: decided.outcome,
            reason: reason.chars().take(MAX_REASON).collect(),
            result: if success && decided.outcome == Outcome::Allow {
                RunResult::Success
            } else {
                RunResult::Failure
            },
            error_class: if success {
                None
            } else {
                draft.failure.clone().or(end.error_class)
            },
            approval_request_id: draft.approval_request_id,
            request_id: end.request_id,
            client_addr: end.client_addr,
            args_digest: draft.args_digest.clone(),
            intent_id: draft.intent_id,
            client_request_id: end.client_request_id,
            count: 1,
        })
    }
}

/// Commits `event` to `sink` before the reply leaves. If the trail cannot
/// be written the event goes to the log in full, so it is never lost, and
/// the caller is told the request may not be retried blindly.
pub async fn commit_to(sink: &dyn AuditSink, event: AuditEvent) -> Result<(), ()> {
    match sink.record(event.clone()).await {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::error!(
                error = %e,
                event = %serde_json::to_string(&event).unwrap_or_default(),
                "the audit trail cannot be written; the event is kept in this log line"
            );
            Err(())
        }
    }
}
