//! The deployment environment of a device, and sets of them (a role binding
//! limited to `lab` and `staging`, say).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a device sits in the change-risk ladder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// A lab: changes here hurt nobody.
    Lab,
    /// Pre-production.
    Staging,
    /// Production.
    Prod,
}

impl Environment {
    /// Every environment, in ladder order.
    pub const ALL: [Environment; 3] = [Environment::Lab, Environment::Staging, Environment::Prod];

    /// The wire name: `lab`, `staging` or `prod`.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Lab => "lab",
            Environment::Staging => "staging",
            Environment::Prod => "prod",
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Environment::Lab => 1,
            Environment::Staging => 2,
            Environment::Prod => 4,
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a string that names no environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown environment `{0}`: expected lab, staging or prod")]
pub struct UnknownEnvironment(pub String);

impl FromStr for Environment {
    type Err = UnknownEnvironment;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "lab" => Ok(Environment::Lab),
            "staging" => Ok(Environment::Staging),
            "prod" => Ok(Environment::Prod),
            other => Err(UnknownEnvironment(other.to_owned())),
        }
    }
}

/// A set of environments as a bitmask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct EnvironmentSet(u8);

impl EnvironmentSet {
    /// Every environment.
    pub const ALL: EnvironmentSet = EnvironmentSet(7);

    /// The set of the given environments.
    pub fn of(envs: &[Environment]) -> Self {
        Self(envs.iter().fold(0, |acc, e| acc | e.bit()))
    }

    /// Whether `env` is in the set.
    pub fn contains(self, env: Environment) -> bool {
        self.0 & env.bit() != 0
    }

    /// The environments in the set, in ladder order.
    pub fn to_vec(self) -> Vec<Environment> {
        Environment::ALL
            .into_iter()
            .filter(|e| self.contains(*e))
            .collect()
    }

    /// The raw bitmask (lab = 1, staging = 2, prod = 4).
    pub fn bits(self) -> u8 {
        self.0
    }
}
