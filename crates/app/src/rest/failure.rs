//! The error half of each operation's response, narrowed to the statuses
//! that operation can answer with, so its entry in the OpenAPI document
//! lists those and no others.
//!
//! An operation returns [`ApiResult<T, S>`](super::ApiResult), where `S`
//! names its set of statuses ([`Read`], [`Write`], …). Errors are built as
//! [`ApiError`]s everywhere and converted by `?`; the set only shapes the
//! document. A failure whose status is outside its set is still sent as
//! it is and logged as an error, so a wrong set shows in the logs and fails
//! the contract fuzzing that checks every status against the document. A
//! test harness makes it fail the request instead
//! ([`fail_on_undocumented_statuses`]), so the test that made it fails too;
//! a server never does.

use crate::http::problem::ApiError;
use poem_openapi::ApiResponse;
use poem_openapi::registry::{MetaResponses, Registry};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether an undocumented status fails the request (test harnesses only).
static STRICT: AtomicBool = AtomicBool::new(false);

/// From now on, in this process, an operation answering with a status its
/// OpenAPI entry does not list panics (its request ends in a 500), so the
/// test that made it fails. For test harnesses; a server only logs.
pub fn fail_on_undocumented_statuses() {
    STRICT.store(true, Ordering::Relaxed);
}

/// A set of HTTP statuses an operation can fail with.
pub trait Statuses: Send + Sync + 'static {
    /// The statuses, besides those every operation can answer with.
    const OWN: &'static [u16];
}

/// What any operation under `/api/v1` can answer with: a request that
/// does not parse (400), no or bad credentials (401), a refusal (403), an
/// exhausted budget (429), and an audit trail that cannot be written
/// (503).
pub const EVERY_OPERATION: &[u16] = &[400, 401, 403, 429, 503];

macro_rules! status_sets {
    ($($(#[$doc:meta])* $name:ident = [$($status:literal),*];)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug)]
            pub enum $name {}

            impl Statuses for $name {
                const OWN: &'static [u16] = &[$($status),*];
            }
        )*
    };
}

status_sets! {
    /// A list: no filter names something that may not exist.
    List = [];
    /// A read of what the path or a filter names: it may not exist.
    Read = [404];
    /// A body sent: too large, not JSON, or a field that is invalid.
    Create = [404, 409, 413, 415, 422];
    /// A change to the resource the path names.
    Update = [404, 409, 413, 415, 422];
    /// A removal of what the path names, or of what its query names: the
    /// query can be invalid.
    Delete = [404, 409, 422];
    /// A query of the audit trail or a report: its range can be invalid.
    Query = [404, 422];
    /// A call that reaches devices: they may fail or not answer in time.
    DeviceCall = [404, 409, 413, 415, 422, 502, 504];
}

/// An operation's failure, documented with the statuses of `S`.
pub struct Failure<S: Statuses>(ApiError, PhantomData<S>);

impl<S: Statuses> std::fmt::Debug for Failure<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<S: Statuses> Failure<S> {
    /// Whether `status` is one this operation documents.
    pub fn documents(status: u16) -> bool {
        EVERY_OPERATION.contains(&status) || S::OWN.contains(&status)
    }
}

impl<S: Statuses> ApiResponse for Failure<S> {
    fn meta() -> MetaResponses {
        let mut meta = ApiError::meta();
        meta.responses
            .retain(|r| r.status.is_none_or(Self::documents));
        meta
    }

    fn register(registry: &mut Registry) {
        ApiError::register(registry);
    }
}

impl<S: Statuses> From<Failure<S>> for poem::Error {
    fn from(failure: Failure<S>) -> Self {
        let status = failure.0.problem().status;
        if !Failure::<S>::documents(status) {
            let code = &failure.0.problem().code;
            tracing::error!(
                status,
                %code,
                "an operation answered with a status its OpenAPI entry does not list"
            );
            assert!(
                !STRICT.load(Ordering::Relaxed),
                "status {status} ({code}) is not in the operation's OpenAPI entry"
            );
        }
        failure.0.into()
    }
}

/// Errors that `?` turns into a [`Failure`], through [`ApiError`].
macro_rules! failures_from {
    ($($error:ty),* $(,)?) => {
        $(
            impl<S: Statuses> From<$error> for Failure<S> {
                fn from(e: $error) -> Self {
                    Failure(ApiError::from(e), PhantomData)
                }
            }
        )*
    };
}

failures_from!(
    ApiError,
    kernel::StoreError,
    tenancy::TenancyError,
    rbac::DelegationError,
    rbac::RbacError,
    crate::enforce::tool_call::CallError,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_documents_its_own_statuses_and_those_of_every_operation() {
        let statuses = |meta: MetaResponses| -> Vec<u16> {
            meta.responses.iter().filter_map(|r| r.status).collect()
        };
        assert_eq!(statuses(Failure::<List>::meta()), [400, 401, 403, 429, 503]);
        assert_eq!(
            statuses(Failure::<Read>::meta()),
            [400, 401, 403, 404, 429, 503]
        );
        let all = statuses(ApiError::meta());
        assert_eq!(
            statuses(Failure::<DeviceCall>::meta()),
            all,
            "a device call can fail every way"
        );
    }

    #[test]
    fn an_undocumented_status_is_sent_as_it_is_unless_a_harness_asks_to_fail() {
        let lenient = poem::Error::from(Failure::<List>::from(ApiError::not_found("device")));
        assert_eq!(lenient.status(), poem::http::StatusCode::NOT_FOUND);
        fail_on_undocumented_statuses();
        let strict = std::panic::catch_unwind(|| {
            poem::Error::from(Failure::<List>::from(ApiError::not_found("device")))
        });
        assert!(strict.is_err(), "a harness that asked for it gets a panic");
        assert_eq!(
            poem::Error::from(Failure::<Read>::from(ApiError::not_found("device"))).status(),
            poem::http::StatusCode::NOT_FOUND,
            "a documented status never panics"
        );
    }
}
