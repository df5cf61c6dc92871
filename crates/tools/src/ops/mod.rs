//! The tools themselves, one file per topic. Each is an `async fn` over a
//! [`crate::call::DeviceCall`] (or, for plan tools, a function from the
//! input to the plan's change), named by its row in the catalogue.
//!
//! Reads return what the device holds, projected and redacted. Writes
//! follow three rules the best RouterOS automation keeps: items are
//! addressed by their real `.id`, never by list position; every write
//! reads the current state first, does nothing when nothing would change,
//! and reads the result back, so the result says whether the device now
//! holds what was asked; `dry_run` reads and reports without writing. A
//! write that can be settled after a crash also has a read-back function
//! beside it: whether the change it was asked for is in place.

pub mod bridge;
pub mod dhcp;
pub mod diagnostics;
pub mod dns_ntp;
pub mod firewall;
pub mod interfaces;
pub mod ip;
pub mod logs;
pub mod routing;
pub mod system;
pub mod wireless;
