//! The RouterOS tools rosgate serves to MCP agents and REST clients, the
//! plans professional tools make, and the ports they reach devices and
//! storage through.
//!
//! Module map, lower modules first (a module imports only modules listed
//! before it):
//!
//! - [`device`]: where a device is, one REST call, why a call failed;
//!   [`args`]: the checked arguments of a call; [`redact`]: secrets never
//!   leave in a result; [`plan::model`]: plans, their state machine and
//!   confirmation tokens;
//! - [`output`]: what a call ends in ([`ToolOutput`], [`ToolError`]);
//!   [`ports`]: every async trait the crate needs an adapter for
//!   ([`RouterOs`], [`PlanStore`]);
//! - [`call`]: what a tool's implementation works with ([`call::DeviceCall`],
//!   [`call::DeviceReader`]) and the function shapes a catalogue row holds;
//! - [`ops`]: the tools themselves, one file per topic;
//! - [`catalogue`]: every tool's name, tier, topic, parameters and
//!   implementation, the one table the MCP listing, the REST endpoint,
//!   `docs/tools.md` and running a tool come from;
//! - `input` ([`Args::parse`]): input checked against the parameters before
//!   any device call; [`guard`]: the device's capability flags, checked
//!   after RBAC; [`doc`]: `docs/tools.md`;
//! - [`plan::apply`]: applying a plan on its devices, with rollback;
//!   [`readback`]: whether a change whose outcome was never recorded is in
//!   place on the device;
//! - [`target`]: from a stored device to the port's [`DeviceTarget`];
//!   [`health`]: device health checks, their schedule, and the load
//!   thresholds plan applies share;
//! - [`run`]: the [`Runner`], which calls a row's implementation;
//!   [`settle`]: the read-back port that settles an intent nobody concluded;
//!   [`plan::service`]: [`plan::Plans`], creating, confirming and applying
//!   plans.
//!
//! The catalogue is a table of functions, so adding a tool is adding a
//! row, and the compiler refuses a row without an implementation:
//!
//! ```
//! use tools::catalogue::{CATALOGUE, Implementation};
//!
//! let ping = tools::find("ping").expect("ping is a tool");
//! assert!(matches!(ping.implementation, Implementation::Read(_)));
//! for tool in CATALOGUE {
//!     match tool.implementation {
//!         Implementation::Read(_) => assert!(!tool.writes),
//!         Implementation::Write { .. } => assert!(tool.writes && !tool.fleet),
//!         Implementation::Plan(_) | Implementation::ApplyPlan => assert!(tool.fleet),
//!     }
//! }
//! ```
//!
//! Architecture invariant: this crate knows nothing of HTTP clients, TLS or
//! MCP; the `routeros` crate implements the [`RouterOs`] port against the
//! RouterOS v7 REST API, `db` implements [`PlanStore`], and the app exposes
//! the tools.

pub mod args;
pub mod call;
pub mod catalogue;
pub mod device;
pub mod doc;
pub mod guard;
pub mod health;
mod input;
pub mod ops;
pub mod output;
pub mod plan;
pub mod ports;
pub mod readback;
pub mod redact;
pub mod run;
pub mod settle;
pub mod target;

pub use args::{Args, BadArg};
pub use catalogue::{CATALOGUE, Implementation, Tier, Tool, Topic, find};
pub use device::{DeviceError, DeviceTarget, RestMethod, RestRequest, TlsPolicy};
pub use output::{ToolError, ToolOutput};
pub use ports::{PlanStore, RouterOs};
pub use run::Runner;
pub use target::device_target;
