//! A RouterOS v7 REST API simulator, for tests and `rosgate serve --demo`.
//!
//! rosgate stands in front of MikroTik routers; its tools read and change
//! them over the RouterOS REST API. Tests need routers that answer like real
//! ones, fail on demand and tell afterwards what was asked of them, and the
//! demo needs routers to show. This crate runs them in-process:
//!
//! - each device listens on its own port of 127.0.0.1 (plain HTTP) under
//!   `/rest/`, with HTTP Basic auth and a seeded configuration (interfaces,
//!   addresses, routes, firewall, DNS, NTP, DHCP, logs, …);
//! - values are strings and items carry `.id`s (`*1`, `*A`), as RouterOS
//!   sends them; errors look like RouterOS's
//!   (`{"error":400,"message":"Bad Request","detail":"…"}`);
//! - with the RouterOS 7.24 command [`Schema`] loaded, every request is
//!   checked against it: an unknown menu, command or argument gets 400, and
//!   the simulator records it ([`Simulator::violations`]) so a test can
//!   assert that rosgate only sends what a real router accepts;
//! - every request is recorded ([`Simulator::requests`]);
//! - [`Fault`]s make a device slow, failing, refusing credentials or
//!   unreachable.
//!
//! **Architecture Invariant:** the simulator imports nothing of rosgate's:
//! it speaks only RouterOS's side of the wire, so it cannot drift into
//! agreeing with the adapter it tests.
//!
//! **Architecture Invariant:** no randomness and no wall clock in answers:
//! the same requests give the same replies.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use routeros_sim::{Schema, Simulator};
//!
//! let schema = Schema::find().and_then(|path| Schema::load(path).ok());
//! let sim = Simulator::start(schema);
//! let router = sim.add_device("core-1", "admin", "secret").await?;
//! println!("{}", router.base_url()); // http://127.0.0.1:<port>/rest
//! # Ok(()) }
//! ```

mod commands;
mod faults;
mod menus;
mod rest;
mod schema;
mod seed;
mod server;
mod state;

pub use faults::Fault;
pub use schema::Schema;
pub use server::{RecordedRequest, SimDevice, Simulator, Violation};
pub use state::{DeviceState, Item, Table, item};
