//! Plans: professional changes that are proposed, confirmed by their
//! creator with a single-use token, then applied device by device with a
//! snapshot, a router-side safety net, a health check and automatic
//! rollback.
//!
//! - [`model`]: the plan, its change, its status and state machine, and
//!   the confirmation token;
//! - [`service`]: [`Plans`], which creates plans, checks tokens, uses them
//!   up and applies;
//! - [`apply`]: applying on the devices, batch by batch, with rollback.
//!
//! The store a plan lives in is the `PlanStore` port (`ports.rs`), which
//! sits above the model and below the service.

pub mod apply;
pub mod model;
pub mod service;

pub use apply::plan_tag;
pub use model::{
    Change, ConfirmationKey, DeviceOutcome, Plan, PlanStatus, TOKEN_PREFIX, TOKEN_TTL,
};
pub use service::{PlanError, Plans, apply_tool_for, change_for, device_ids};
