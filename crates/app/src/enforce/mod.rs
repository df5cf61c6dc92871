//! The one admission path every entry point goes through: REST operations
//! ([`rest::pipeline`]), each MCP request (`crate::mcp`) and the browser
//! login under `/auth` (`crate::web::login`).
//!
//! [`admit`] runs before the request does: it authenticates once, names
//! the caller in a fresh [`Trail`], and counts the request against a
//! budget (the user's, or, for a request that names nobody, its client
//! address's). [`Admission::close`] runs after: it turns the trail and the
//! outcome into the request's one audit event and commits it before the
//! reply leaves, or, for requests that name nobody and failed, and for a
//! user's over-budget refusals, counts them into one event per subject and
//! minute ([`refusals`]; `crate::jobs::refusals` writes them). Stable
//! error codes come from one table ([`codes`]).
//!
//! **Invariant:** an entry point that does not call [`admit`] and
//! [`Admission::close`] has no trail, and the gate and the tool path refuse
//! to run without one; so nothing runs off the record.

pub mod authn;
pub mod codes;
pub mod gate;
pub mod limits;
pub mod refusals;
pub mod rest;
pub mod tool_call;

pub use audit::trail;

use crate::enforce::authn::{AuthFailure, authenticate};
use crate::enforce::limits::{Refusal, Verdict};
use crate::http::codes::Code;
use crate::http::request_id::{ClientRequestId, RequestId};
use crate::state::AppState;
use audit::Outcome;
use kernel::{Principal, RoleId};
use poem::http::Method;
use poem::{Request, Response};
use rbac::AuthzIndex;
use refusals::{CountedRefusal, Subject};
use std::sync::Arc;
use trail::{DecisionEntry, Ending, RequestMeta, Requester, Trail};

/// Which entry point a request came in through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// `/api/v1`.
    Rest,
    /// `/mcp`: the caller acts as an agent.
    Mcp,
    /// `/auth`: the browser login.
    Web,
}

/// A request as the admission step saw it before it ran.
#[derive(Debug)]
pub struct Admission {
    /// Where the request's decisions go; its event is made from it.
    pub trail: Arc<Trail>,
    /// Who is calling, or why that is not known.
    pub auth: Result<Principal, AuthFailure>,
    /// The tenant's authorization index, when admission read it.
    pub index: Option<Arc<AuthzIndex>>,
    /// The reply to send without running the request (over budget).
    pub refused: Option<Response>,
    verdict: Option<Verdict>,
    /// Set when the refusal is counted instead of written on its own.
    counted: Option<(Subject, Code)>,
    request_id: String,
    client_request_id: Option<String>,
    client_addr: Option<String>,
    safe: bool,
}

/// How a request ended, as its channel tells it.
#[derive(Debug, Clone)]
pub struct Closing {
    /// The operation when the trail does not name one.
    pub operation: String,
    pub success: bool,
    /// The stable code of a failure.
    pub error_class: Option<String>,
}

/// The client's address as the server saw it.
pub fn client_addr(req: &Request) -> Option<String> {
    req.remote_addr()
        .as_socket_addr()
        .map(|a| a.ip().to_string())
}

/// Authenticates `req`, names its caller in a new trail and counts it
/// against its budget.
pub async fn admit(state: &AppState, req: &Request, channel: Channel) -> Admission {
    let trail = Trail::new(state.clock.clone(), state.entropy.clone());
    let auth = authenticate(state, req).await;
    let client_addr = client_addr(req);
    let mut index = None;
    let mut refused = None;
    let mut verdict = None;
    let mut counted = None;
    match &auth {
        Ok(who) => {
            let named = Requester::principal(who, channel == Channel::Mcp);
            let actor = named.actor;
            trail.identify(named);
            let (read, admitted) = admit_user(state, who).await;
            index = read;
            match admitted {
                Ok(v) => verdict = Some(v),
                Err(refusal) => {
                    let (reply, code) = refusal_reply(&refusal);
                    refused = Some(reply);
                    match refusal {
                        // Over budget: counted per user and minute.
                        Refusal::Limited(_) => {
                            counted = Some((
                                Subject::User {
                                    tenant_id: who.tenant_id,
                                    user_id: who.user_id,
                                    email: who.email.clone(),
                                    actor,
                                },
                                code,
                            ));
                        }
                        // The store cannot answer: rare, and written in full.
                        Refusal::Unavailable => decide_refusal(&trail, who, code),
                    }
                }
            }
        }
        // A credential good enough to name its holder, but refused: its
        // client address pays, as for requests that name nobody.
        Err(f) if f.named.is_some() => {
            if let Err((reply, counted_as)) = charge_address(state, client_addr.as_deref()).await {
                refused = Some(reply);
                counted = Some(counted_as);
            }
            let mut named = f.named.clone().unwrap_or_else(Requester::anonymous);
            if channel == Channel::Mcp {
                named.actor = audit::Actor::Agent;
            }
            trail.decide(DecisionEntry {
                action: "authenticate".into(),
                resource_type: "user".into(),
                resource_id: named.user_id.map(|u| u.uuid()),
                device_id: None,
                outcome: Outcome::Deny,
                reason: format!("refused: {}", f.code),
            });
            trail.identify(named);
        }
        // Nobody named: the client address pays.
        Err(_) => {
            if let Err((reply, counted_as)) = charge_address(state, client_addr.as_deref()).await {
                refused = Some(reply);
                counted = Some(counted_as);
            }
        }
    }
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let client_request_id = req
        .extensions()
        .get::<ClientRequestId>()
        .map(|r| r.0.clone());
    trail.request(RequestMeta {
        request_id: request_id.clone(),
        client_request_id: client_request_id.clone(),
        client_addr: client_addr.clone(),
    });
    Admission {
        trail,
        auth,
        index,
        refused,
        verdict,
        counted,
        request_id,
        client_request_id,
        client_addr,
        safe: matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS),
    }
}

/// Counts a request that names no one who passed (nobody at all, or a
/// refused credential) against its client address's budget; over it, the
/// reply to send and the subject the refusal is counted under.
async fn charge_address(
    state: &AppState,
    addr: Option<&str>,
) -> Result<(), (Response, (Subject, Code))> {
    let addr = addr.unwrap_or_default();
    match state.limits.admit_address(addr).await {
        Ok(_) => Ok(()),
        Err(refusal) => {
            let (reply, code) = refusal_reply(&refusal);
            Err((reply, (Subject::address(addr), code)))
        }
    }
}

/// Records a refusal of `who` by the rate limiter in the trail.
fn decide_refusal(trail: &Trail, who: &Principal, code: Code) {
    trail.decide(DecisionEntry {
        action: "rate_limit".into(),
        resource_type: "user".into(),
        resource_id: Some(who.user_id.uuid()),
        device_id: None,
        outcome: Outcome::Deny,
        reason: format!("refused: {code}"),
    });
}

/// Counts one request of `who` against its budget. The tenant's index,
/// for the user's roles, is read only when limits are on, and handed back
/// for reuse by the gate.
async fn admit_user(
    state: &AppState,
    who: &Principal,
) -> (Option<Arc<AuthzIndex>>, Result<Verdict, Refusal>) {
    if !state.limits.enabled() {
        return (None, Ok(Verdict::default()));
    }
    let index = state.authz.index(who.tenant_id).await.ok();
    let roles: Vec<RoleId> = index.iter().flat_map(|i| i.roles_of(who.user_id)).collect();
    (index, state.limits.admit_user(who, roles).await)
}

/// The reply to a request the rate limiter refused, and its problem code.
pub fn refusal_reply(refusal: &Refusal) -> (Response, Code) {
    use crate::http::problem::ApiError;
    use poem::IntoResponse;
    match refusal {
        Refusal::Limited(v) => {
            let mut resp = ApiError::rate_limited(v.retry_after_secs()).into_response();
            v.write_headers(resp.headers_mut());
            (resp, Code::RateLimited)
        }
        Refusal::Unavailable => (
            ApiError::unavailable("rate limits cannot be checked right now; try again")
                .into_response(),
            Code::Unavailable,
        ),
    }
}

/// The audit trail could not be written.
#[derive(Debug, Clone, Copy)]
pub struct AuditUnavailable;

impl Admission {
    /// Commits the request's one event (or counts it, see the module
    /// docs) and puts the rate-limit headers on `resp`. On
    /// [`AuditUnavailable`] the caller must not send the reply it had: the event
    /// has gone to the log in full instead.
    pub async fn close(
        &self,
        state: &AppState,
        end: Closing,
        resp: Option<&mut Response>,
    ) -> Result<(), AuditUnavailable> {
        let result = self.record(state, end).await;
        if result.is_ok()
            && let (Some(v), Some(resp)) = (&self.verdict, resp)
        {
            v.write_headers(resp.headers_mut());
        }
        result
    }

    async fn record(&self, state: &AppState, end: Closing) -> Result<(), AuditUnavailable> {
        let now = state.clock.now();
        if let Some((subject, code)) = &self.counted {
            state.refusals.count(
                now,
                CountedRefusal {
                    subject: subject.clone(),
                    code: code.as_str(),
                    request_id: &self.request_id,
                    client_addr: self.client_addr.as_deref(),
                },
            );
            return Ok(());
        }
        if !self.trail.names_anyone() {
            if !end.success {
                // Nobody named, and it failed: counted per address.
                let code = end.error_class.as_deref().unwrap_or("refused");
                state.refusals.count(
                    now,
                    CountedRefusal {
                        subject: Subject::address(self.client_addr.as_deref().unwrap_or_default()),
                        code,
                        request_id: &self.request_id,
                        client_addr: self.client_addr.as_deref(),
                    },
                );
                return Ok(());
            }
            // An operation open to anyone that did not say who it was for.
            self.trail.identify(Requester::anonymous());
        }
        let ending = Ending {
            operation: end.operation,
            safe: self.safe,
            success: end.success,
            error_class: end.error_class,
            request_id: self.request_id.clone(),
            client_request_id: self.client_request_id.clone(),
            client_addr: self.client_addr.clone(),
        };
        match self.trail.event(ending) {
            Some(event) => commit(state, event).await.map_err(|()| AuditUnavailable),
            None => Ok(()),
        }
    }
}

/// Commits `event` through the state's audit writer before the reply
/// leaves ([`trail::commit_to`]).
pub async fn commit(state: &AppState, event: audit::AuditEvent) -> Result<(), ()> {
    trail::commit_to(state.audit.as_ref(), event).await
}
