//! The RouterOS tools rosgate serves to MCP agents and REST clients, and
//! the [`RouterOs`] port they reach devices through.
//!
//! - [`catalogue`]: every tool's name, tier, topic and parameters, the one
//!   table the MCP listing, the REST endpoint and `docs/tools.md` come from;
//! - [`args`]: input checked against the parameters before any device call;
//! - [`guard`]: the device's capability flags, checked after RBAC;
//! - [`run`] and `write`: the tools themselves, over the port;
//! - [`readback`]: whether a change whose outcome was never recorded is
//!   in place on the device;
//! - [`redact`]: secrets never leave in a result;
//! - [`target`]: from a stored device to the port's [`DeviceTarget`];
//! - [`settle`]: the read-back port that settles an intent nobody concluded;
//! - [`health`]: device health checks, their schedule, and the load
//!   thresholds plan applies share.
//!
//! Architecture invariant: this crate knows nothing of HTTP clients, TLS or
//! MCP; the `routeros` crate implements the port against the RouterOS v7
//! REST API, and the app exposes the tools.

pub mod apply;
pub mod args;
pub mod catalogue;
pub mod doc;
pub mod guard;
pub mod health;
pub mod plan;
pub mod plans;
pub mod port;
pub mod readback;
pub mod redact;
pub mod run;
pub mod settle;
pub mod target;
mod write;

pub use args::{Args, BadArg};
pub use catalogue::{CATALOGUE, Tier, Tool, Topic, find};
pub use port::{DeviceError, DeviceTarget, RestMethod, RestRequest, RouterOs, TlsPolicy};
pub use run::{Runner, ToolError, ToolOutput};
pub use target::device_target;
