//! Where a tool call that did not produce a result meets the table of
//! codes (`crate::http::codes`). REST answers the code with its status,
//! MCP as a tool error, and the audit trail records the same code, so a
//! device timeout is `device_timeout` whichever way it came in and the
//! reports do not depend on the channel.

use crate::enforce::tool_call::CallError;
use crate::http::codes::Code;
use poem::http::StatusCode;

impl CallError {
    /// The stable code, as the problem `code`, the MCP refusal and the
    /// audit event's error class all say it.
    pub fn code(&self) -> Code {
        match self {
            CallError::UnknownTool(_) => Code::UnknownTool,
            CallError::UnknownDevice | CallError::UnknownPlan => Code::NotFound,
            CallError::Denied { code, .. } => *code,
            CallError::Capability(_) => Code::CapabilityDisabled,
            CallError::Invalid(_) => Code::InvalidField,
            CallError::NoCredentials(_) => Code::NoCredentials,
            CallError::Tool(t) => Code::of(t.code()),
            CallError::Unavailable(_) => Code::Unavailable,
            CallError::WrongEndpoint(_) => Code::WrongEndpoint,
            CallError::Token(_) => Code::InvalidConfirmationToken,
            CallError::RateLimited(_) => Code::RateLimited,
        }
    }

    /// The HTTP status REST answers with: the code's.
    pub fn status(&self) -> StatusCode {
        self.code().status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tools::{DeviceError, ToolError};

    #[test]
    fn device_failures_have_codes_of_their_own() {
        let timeout = CallError::Tool(ToolError::Device(DeviceError::Timeout));
        assert_eq!(timeout.code().as_str(), "device_timeout");
        assert_eq!(timeout.status(), StatusCode::GATEWAY_TIMEOUT);
        let auth = CallError::Tool(ToolError::Device(DeviceError::Unauthorized));
        assert_eq!(auth.code().as_str(), "device_auth_failed");
        assert_eq!(auth.status(), StatusCode::BAD_GATEWAY);
    }

    #[test]
    fn tool_failures_keep_the_statuses_rest_answered_with() {
        let cases = [
            (ToolError::Refused(String::new()), StatusCode::CONFLICT),
            (
                ToolError::NotConfirmed(String::new()),
                StatusCode::BAD_GATEWAY,
            ),
            (
                ToolError::Device(DeviceError::CircuitOpen(String::new())),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                ToolError::Device(DeviceError::NotInSchema(String::new())),
                StatusCode::BAD_REQUEST,
            ),
            (
                ToolError::Device(DeviceError::BadReply),
                StatusCode::BAD_GATEWAY,
            ),
        ];
        for (e, status) in cases {
            assert_eq!(CallError::Tool(e).status(), status);
        }
    }
}
