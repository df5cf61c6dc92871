//! The rbac crate's tests over its public interface, in one binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod no_escalation;
