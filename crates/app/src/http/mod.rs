//! HTTP plumbing around every route, below the API: the request log and
//! the body limit. Nothing here knows about operations, callers or the
//! audit trail; the table of error codes and the problem documents built
//! from it turn what these and every layer above refuse into replies.

pub mod body_limit;
pub mod codes;
pub mod problem;
pub mod request_id;
pub mod request_log;
