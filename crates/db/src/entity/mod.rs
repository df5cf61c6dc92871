//! sea-orm entities, one file per table. They stay inside this crate: the
//! domain never sees them.

pub mod api_token;
pub mod audit_event;
pub mod audit_head;
pub mod audit_intended_change;
pub mod device;
pub mod device_group;
pub mod device_group_member;
pub mod device_scope;
pub mod invitation;
pub mod org_unit;
pub mod plan;
pub mod role;
pub mod role_binding;
pub mod site;
pub mod tenant;
pub mod user;
pub mod user_identity;
