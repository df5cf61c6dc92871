//! What a tool call ends in: a [`ToolOutput`] (a sentence for people and
//! the data for programs) or a [`ToolError`] with a stable code, the same on
//! every channel and in the audit trail.

use crate::args::BadArg;
use crate::device::DeviceError;
use serde_json::Value;

/// What a tool returns: a sentence for people and the data for programs.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    pub summary: String,
    pub data: Value,
}

/// Why a tool did not run to the end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    #[error(transparent)]
    Invalid(#[from] BadArg),
    /// The request is well-formed but unsafe or impossible; nothing changed.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// A write went through but reading it back showed something else.
    #[error("the device did not confirm the change: {0}")]
    NotConfirmed(String),
}

impl ToolError {
    /// The stable code of this failure, the same on every channel and in
    /// the audit trail.
    pub fn code(&self) -> &'static str {
        match self {
            ToolError::Invalid(_) => "invalid_field",
            ToolError::Refused(_) => "tool_refused",
            ToolError::Device(d) => d.code(),
            ToolError::NotConfirmed(_) => "not_confirmed",
        }
    }
}
