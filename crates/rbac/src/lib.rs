//! Who may do what, where.
//!
//! Permissions form a fixed catalogue ([`Permission`]); roles are sets of
//! them (built-in or per-tenant custom); a [`RoleBinding`] gives a user a
//! role at a [`tenancy::Scope`] and everything below it, optionally only in
//! some environments; [`DeviceScope`] grants narrow a user's tool use to
//! named devices. [`AuthzIndex`] compiles one tenant's bindings into integer
//! tables and answers [`AuthzIndex::decide`] with a [`Decision`] that always
//! carries its reason.
//!
//! Architecture invariant: this crate knows nothing of HTTP, SQL or OIDC,
//! and never reads the clock: its answers depend only on the snapshot.

pub mod acceptance;
pub mod decision;
pub mod delegation;
pub mod engine;
pub mod index;
pub mod model;
pub mod permission;
pub mod ports;
pub mod role;
pub mod service;

pub use decision::{Decision, DenyReason, Grant};
pub use delegation::DelegationError;
pub use engine::Authorizer;
pub use index::{AuthzIndex, Resource, TenantSnapshot};
pub use model::{DeviceScope, DeviceScopeTarget, RoleBinding};
pub use permission::{Permission, PermissionSet};
pub use ports::{AuthzSource, RbacRepository};
pub use role::{BuiltinRole, Role};
pub use service::{RbacError, RbacService};
