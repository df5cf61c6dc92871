//! The one table of stable codes for a tool call that did not produce a
//! result. REST turns the code into a problem document with the status
//! below, MCP into a tool error, and the audit trail records the same
//! code, so a device timeout is `device_timeout` whichever way it came in
//! and the reports do not depend on the channel.

use crate::enforce::tool_call::CallError;
use poem::http::StatusCode;
use tools::{DeviceError, ToolError};

impl CallError {
    /// The stable code, as the problem `code`, the MCP refusal and the
    /// audit event's error class all say it.
    pub fn code(&self) -> &'static str {
        match self {
            CallError::UnknownTool(_) => "unknown_tool",
            CallError::UnknownDevice | CallError::UnknownPlan => "not_found",
            CallError::Denied { code, .. } => code,
            CallError::Capability(_) => "capability_disabled",
            CallError::Invalid(_) => "invalid_field",
            CallError::NoCredentials(_) => "no_credentials",
            CallError::Tool(t) => t.code(),
            CallError::Unavailable(_) => "unavailable",
            CallError::WrongEndpoint(_) => "wrong_endpoint",
            CallError::Token(_) => "invalid_confirmation_token",
            CallError::RateLimited(_) => "rate_limited",
        }
    }

    /// The HTTP status REST answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            CallError::UnknownTool(_) | CallError::UnknownDevice | CallError::UnknownPlan => {
                StatusCode::NOT_FOUND
            }
            CallError::Denied { .. } | CallError::Capability(_) | CallError::Token(_) => {
                StatusCode::FORBIDDEN
            }
            CallError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            CallError::NoCredentials(_) => StatusCode::CONFLICT,
            CallError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            CallError::WrongEndpoint(_) => StatusCode::BAD_REQUEST,
            CallError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            CallError::Tool(t) => match t {
                ToolError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                ToolError::Refused(_) => StatusCode::CONFLICT,
                ToolError::NotConfirmed(_) => StatusCode::BAD_GATEWAY,
                ToolError::Device(d) => match d {
                    DeviceError::Timeout => StatusCode::GATEWAY_TIMEOUT,
                    DeviceError::CircuitOpen(_) => StatusCode::SERVICE_UNAVAILABLE,
                    DeviceError::NotInSchema(_) => StatusCode::BAD_REQUEST,
                    _ => StatusCode::BAD_GATEWAY,
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_failures_have_codes_of_their_own() {
        let timeout = CallError::Tool(ToolError::Device(DeviceError::Timeout));
        assert_eq!(timeout.code(), "device_timeout");
        assert_eq!(timeout.status(), StatusCode::GATEWAY_TIMEOUT);
        let auth = CallError::Tool(ToolError::Device(DeviceError::Unauthorized));
        assert_eq!(auth.code(), "device_auth_failed");
        assert_eq!(auth.status(), StatusCode::BAD_GATEWAY);
    }
}
