//! Refusals that are counted instead of written one by one.
//!
//! A request that names nobody (no credentials, or credentials that do not
//! check out) and a request refused because its user is over budget are
//! cheap to send and would otherwise grow the audit trail without bound.
//! They are counted per subject (the client address, or the user) and per
//! minute, and each minute with refusals becomes **one** audit event whose
//! `count` says how many requests it stands for and whose reason says which
//! codes they were refused with. Nothing is lost: a minute is written when
//! it is over (the next request after it, a periodic tick, or shutdown).
//!
//! The number of subjects counted at once is bounded; past the bound, the
//! refusals of new addresses share one overflow subject, so a flood from
//! many addresses still costs a bounded amount of memory.

use audit::{Actor, AuditEvent, Effect, Outcome, RunResult};
use kernel::{AuditEventId, Clock, Entropy, TenantId, UserId};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;

/// Subjects counted at once before new ones share the overflow subject.
const MAX_SUBJECTS: usize = 10_000;
/// The address the overflow subject is recorded under.
const OVERFLOW: &str = "*";
/// Seconds in one counting window.
const WINDOW: i64 = 60;

/// Who the refused requests came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// Requests that named nobody, by client address.
    Address(String),
    /// Requests of a user refused because it is over budget.
    User {
        tenant_id: TenantId,
        user_id: UserId,
        email: String,
        actor: Actor,
    },
}

impl Subject {
    /// The subject of requests from `addr`, counted by its budget key
    /// (an IPv6 address by its /64, see [`crate::enforce::limits::address_key`]).
    pub fn address(addr: &str) -> Subject {
        Subject::Address(crate::enforce::limits::address_key(addr))
    }
}

#[derive(Debug)]
struct Bucket {
    count: u32,
    codes: BTreeMap<String, u32>,
    first_request_id: String,
    client_addr: Option<String>,
    first_at: OffsetDateTime,
}

/// The refusals being counted, by subject and minute.
#[derive(Debug, Default)]
pub struct Refusals {
    buckets: Mutex<HashMap<(Subject, i64), Bucket>>,
    /// The earliest minute with a bucket, so most calls skip the lock.
    oldest: AtomicI64,
}

/// One refused request, as counted.
#[derive(Debug, Clone)]
pub struct CountedRefusal<'a> {
    pub subject: Subject,
    /// The problem code it was refused with.
    pub code: &'a str,
    pub request_id: &'a str,
    pub client_addr: Option<&'a str>,
}

fn minute(at: OffsetDateTime) -> i64 {
    at.unix_timestamp().div_euclid(WINDOW)
}

impl Refusals {
    /// No refusals counted yet.
    pub fn new() -> Refusals {
        Refusals {
            buckets: Mutex::new(HashMap::new()),
            oldest: AtomicI64::new(i64::MAX),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Subject, i64), Bucket>> {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one refused request at `now`.
    pub fn count(&self, now: OffsetDateTime, r: CountedRefusal<'_>) {
        let m = minute(now);
        let mut buckets = self.lock();
        let mut subject = r.subject;
        // Users are accounts, bounded by the tenant: only addresses overflow.
        if matches!(subject, Subject::Address(_))
            && !buckets.contains_key(&(subject.clone(), m))
            && buckets.len() >= MAX_SUBJECTS
        {
            subject = Subject::Address(OVERFLOW.into());
        }
        let b = buckets.entry((subject, m)).or_insert_with(|| Bucket {
            count: 0,
            codes: BTreeMap::new(),
            first_request_id: r.request_id.to_owned(),
            client_addr: r.client_addr.map(str::to_owned),
            first_at: now,
        });
        b.count = b.count.saturating_add(1);
        *b.codes.entry(r.code.to_owned()).or_default() += 1;
        self.oldest.fetch_min(m, Ordering::Relaxed);
    }

    /// The events of every minute that is over at `now` (every minute when
    /// `all`), taken out of the counters.
    pub fn take(
        &self,
        now: OffsetDateTime,
        all: bool,
        clock: &dyn Clock,
        entropy: &dyn Entropy,
    ) -> Vec<AuditEvent> {
        let current = minute(now);
        if !all && self.oldest.load(Ordering::Relaxed) >= current {
            return Vec::new();
        }
        let mut buckets = self.lock();
        let due: Vec<(Subject, i64)> = buckets
            .keys()
            .filter(|(_, m)| all || *m < current)
            .cloned()
            .collect();
        let mut out = Vec::with_capacity(due.len());
        for key in due {
            if let Some(b) = buckets.remove(&key) {
                out.push(event(&key.0, key.1, &b, clock, entropy));
            }
        }
        let oldest = buckets.keys().map(|(_, m)| *m).min().unwrap_or(i64::MAX);
        self.oldest.store(oldest, Ordering::Relaxed);
        out
    }
}

/// The one event of a subject's minute.
fn event(
    subject: &Subject,
    minute: i64,
    b: &Bucket,
    clock: &dyn Clock,
    entropy: &dyn Entropy,
) -> AuditEvent {
    let now = clock.now();
    let codes = b
        .codes
        .iter()
        .map(|(c, n)| format!("{c} x{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let from = OffsetDateTime::from_unix_timestamp(minute * WINDOW).unwrap_or(b.first_at);
    let from = from
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let top = b
        .codes
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(c, _)| c.clone());
    let (tenant_id, user_id, user_email, actor, action, resource_type, addr) = match subject {
        Subject::Address(a) => (
            None,
            None,
            None,
            Actor::User,
            "authenticate",
            "client",
            Some(a.clone()),
        ),
        Subject::User {
            tenant_id,
            user_id,
            email,
            actor,
        } => (
            Some(*tenant_id),
            Some(*user_id),
            Some(email.clone()),
            *actor,
            "rate_limit",
            "user",
            b.client_addr.clone(),
        ),
    };
    AuditEvent {
        id: AuditEventId::from_uuid(entropy.uuid_v7(now)),
        at: now,
        tenant_id,
        user_id,
        user_email,
        actor,
        operation: "refused".into(),
        tool_name: None,
        action: action.into(),
        resource_type: resource_type.into(),
        resource_id: user_id.map(|u| u.uuid()),
        device_id: None,
        environment: None,
        effect: Effect::Read,
        decision: Outcome::Deny,
        reason: format!(
            "{} {} refused in the minute from {from}: {codes}",
            b.count,
            if b.count == 1 { "request" } else { "requests" }
        ),
        result: RunResult::Failure,
        error_class: top,
        approval_request_id: None,
        request_id: b.first_request_id.clone(),
        client_addr: addr,
        args_digest: None,
        intent_id: None,
        client_request_id: None,
        count: b.count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::{ManualClock, OsEntropy};

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
    }

    fn from(addr: &str) -> CountedRefusal<'_> {
        CountedRefusal {
            subject: Subject::Address(addr.into()),
            code: "invalid_token",
            request_id: "r",
            client_addr: Some(addr),
        }
    }

    #[test]
    fn a_minute_of_refusals_becomes_one_counted_event_once_it_is_over() {
        let clock = ManualClock::new(at(0));
        let r = Refusals::new();
        let start = at(0) - time::Duration::seconds(at(0).unix_timestamp() % 60);
        for i in 0..7 {
            r.count(start + time::Duration::seconds(i), from("192.0.2.1"));
        }
        r.count(start, from("192.0.2.2"));
        assert!(
            r.take(
                start + time::Duration::seconds(59),
                false,
                &clock,
                &OsEntropy
            )
            .is_empty()
        );
        let events = r.take(
            start + time::Duration::seconds(60),
            false,
            &clock,
            &OsEntropy,
        );
        assert_eq!(events.len(), 2);
        let one = events
            .iter()
            .find(|e| e.client_addr.as_deref() == Some("192.0.2.1"))
            .unwrap();
        assert!(
            one.reason.starts_with("7 requests refused"),
            "{}",
            one.reason
        );
        assert_eq!(one.decision, Outcome::Deny);
        assert!(
            r.take(
                start + time::Duration::seconds(600),
                true,
                &clock,
                &OsEntropy
            )
            .is_empty()
        );
    }

    #[test]
    fn past_the_bound_new_addresses_share_one_overflow_subject() {
        let clock = ManualClock::new(at(0));
        let r = Refusals::new();
        for i in 0..(MAX_SUBJECTS + 50) {
            let a = format!("a{i}");
            r.count(at(0), from(&a));
        }
        let events = r.take(at(0), true, &clock, &OsEntropy);
        assert_eq!(events.len(), MAX_SUBJECTS + 1);
        let overflow = events
            .iter()
            .find(|e| e.client_addr.as_deref() == Some(OVERFLOW))
            .unwrap();
        assert!(
            overflow.reason.starts_with("50 requests"),
            "{}",
            overflow.reason
        );
    }
}
