//! HTTP plumbing around every route, below the API: the request log and
//! the body limit. Nothing here knows about operations, callers or the
//! audit trail; the API's problem documents turn what these refuse into
//! replies.

pub mod body_limit;
pub mod problem;
pub mod request_id;
pub mod request_log;
