//! rosgate's HTTP-level tests, in one binary: each module starts real
//! servers on port 0 with the testkit harness and talks to them over HTTP.

mod api;
mod isolation;
mod matrix;
