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
//!
//! # Using this crate
//!
//! The decision engine needs no storage: hand it one tenant's rows as a
//! [`TenantSnapshot`] and ask. [`Authorizer`] does the same over the
//! [`AuthzSource`] port, compiling again whenever the tenant's generation
//! moves; `examples/decide.rs` runs it over a small tenant. Here one user
//! may run operator tools tenant-wide, but only in the lab:
//!
//! ```
//! use kernel::{BindingId, DeviceId, Environment, SiteId, TeamId, TenantId, UserId};
//! use rbac::{AuthzIndex, BuiltinRole, Permission, Resource, RoleBinding, TenantSnapshot};
//! use tenancy::Scope;
//! use uuid::Uuid;
//!
//! let id = Uuid::from_u128;
//! let (tenant, user) = (TenantId::from_uuid(id(1)), UserId::from_uuid(id(2)));
//! let (site, team) = (SiteId::from_uuid(id(3)), TeamId::from_uuid(id(4)));
//! let (lab, prod) = (DeviceId::from_uuid(id(5)), DeviceId::from_uuid(id(6)));
//! let snapshot = TenantSnapshot {
//!     tenant_id: Some(tenant),
//!     sites: vec![(site, team)],
//!     devices: vec![(lab, site, Environment::Lab), (prod, site, Environment::Prod)],
//!     users: vec![user],
//!     bindings: vec![RoleBinding {
//!         id: BindingId::from_uuid(id(7)),
//!         tenant_id: tenant,
//!         user_id: user,
//!         role_id: BuiltinRole::OpsRw.id(),
//!         scope: Scope::Tenant(tenant),
//!         environments: Some(vec![Environment::Lab]),
//!         created_at: time::OffsetDateTime::UNIX_EPOCH,
//!     }],
//!     ..TenantSnapshot::default()
//! };
//! let index = AuthzIndex::compile(tenant, &snapshot);
//!
//! let in_lab = index.decide(user, Permission::ToolAdvanced, Resource::Device(lab));
//! assert!(in_lab.is_some_and(|d| d.is_allowed()));
//! // Every decision carries its reason, in words an operator can act on.
//! let in_prod = index.decide(user, Permission::ToolAdvanced, Resource::Device(prod));
//! assert_eq!(
//!     in_prod.map(|d| d.reason_text()).as_deref(),
//!     Some("No access to this resource in the prod environment"),
//! );
//! ```

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
