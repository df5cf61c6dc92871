//! rosgate's HTTP-level tests, in one binary: each module starts real
//! servers on port 0 with the testkit harness and talks to them over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admission;
mod api;
mod audit;
mod audit_integrity;
mod audit_reach;
mod crash;
mod devices;
mod escalation;
mod health;
mod hygiene;
mod identity;
mod isolation;
mod lab;
mod limits;
mod matrix;
mod mcp_matrix;
mod one_event;
mod plan_record;
mod tools;
mod trail;
