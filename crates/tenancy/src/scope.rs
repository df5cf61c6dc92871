//! A node of the tenant hierarchy that a role binding or an invitation can be
//! attached to.

use kernel::{DivisionId, GroupId, TeamId, TenantId};
use serde::{Deserialize, Serialize};

/// Where in the hierarchy a grant applies; it reaches everything below.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Scope {
    /// The whole tenant.
    Tenant(TenantId),
    /// A division and everything in it.
    Division(DivisionId),
    /// A group and everything in it.
    Group(GroupId),
    /// A team, its sites and their devices.
    Team(TeamId),
}

impl Scope {
    /// The kind as a word: `tenant`, `division`, `group` or `team`.
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::Tenant(_) => "tenant",
            Scope::Division(_) => "division",
            Scope::Group(_) => "group",
            Scope::Team(_) => "team",
        }
    }

    /// The id of the node.
    pub fn uuid(&self) -> uuid::Uuid {
        match self {
            Scope::Tenant(id) => id.uuid(),
            Scope::Division(id) => id.uuid(),
            Scope::Group(id) => id.uuid(),
            Scope::Team(id) => id.uuid(),
        }
    }

    /// Rebuilds a scope from its stored kind and id.
    pub fn from_parts(kind: &str, id: uuid::Uuid) -> Option<Scope> {
        Some(match kind {
            "tenant" => Scope::Tenant(id.into()),
            "division" => Scope::Division(id.into()),
            "group" => Scope::Group(id.into()),
            "team" => Scope::Team(id.into()),
            _ => return None,
        })
    }
}
