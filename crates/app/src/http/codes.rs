//! The one table of stable error codes. Every failure rosgate answers
//! with (a REST problem document, an MCP tool error, the browser login's
//! problem page) and every error class the audit trail records is a
//! [`Code`] from this table, so a code is spelled once and a device
//! timeout is `device_timeout` whichever way the request came in.
//!
//! Domain crates own the meaning of their refusals and say it as a string
//! (`rbac::DenyReason::code()`, `tools::ToolError::code()`, …): they know
//! nothing of this crate. [`Code::of`] turns such a string into its row,
//! and the tests below check that every string a domain error can say has
//! one.
//!
//! `docs/errors.md` lists the table for readers; a test keeps it whole.

use poem::http::StatusCode;

macro_rules! codes {
    ($($variant:ident = $code:literal, $status:ident, $doc:literal;)*) => {
        /// A stable, machine-readable error code, with the HTTP status it is
        /// answered with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $(#[doc = $doc] $variant,)*
        }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as clients, the audit trail and the reports read it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            /// The HTTP status the code is answered with.
            pub fn status(self) -> StatusCode {
                match self {
                    $(Code::$variant => StatusCode::$status,)*
                }
            }

            /// What the code means, in one line.
            pub fn doc(self) -> &'static str {
                match self {
                    $(Code::$variant => $doc,)*
                }
            }
        }
    };
}

codes! {
    // The request itself.
    InvalidRequest = "invalid_request", BAD_REQUEST,
        "The request did not parse: bad JSON, wrong types, bad path or query parameters. Another 4xx the server answers with, having no code of its own, keeps its status.";
    InvalidField = "invalid_field", UNPROCESSABLE_ENTITY,
        "A field is invalid; `field` names it.";
    InvalidCursor = "invalid_cursor", BAD_REQUEST,
        "The `cursor` is not one a page handed out.";
    InvalidRange = "invalid_range", BAD_REQUEST,
        "`from` and `to` do not make a range the audit trail can be read over.";
    RouteNotFound = "route_not_found", NOT_FOUND,
        "No route has this path.";
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED,
        "The route does not take this method.";
    PayloadTooLarge = "payload_too_large", PAYLOAD_TOO_LARGE,
        "The request body is larger than `max_body_bytes`.";
    UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE,
        "The request body is not `application/json`.";
    NotFound = "not_found", NOT_FOUND,
        "The resource does not exist, or the caller may not know that it does.";
    Conflict = "conflict", CONFLICT,
        "The request conflicts with the current state.";
    RateLimited = "rate_limited", TOO_MANY_REQUESTS,
        "A request budget is used up; retry after `Retry-After` seconds.";
    Unavailable = "unavailable", SERVICE_UNAVAILABLE,
        "A store (database, sessions, rate limits, audit trail) cannot be reached; nothing was changed.";
    Internal = "internal", INTERNAL_SERVER_ERROR,
        "An unexpected error; it has been logged. Also sent with another 5xx status the server chose.";
    // Credentials.
    Unauthenticated = "unauthenticated", UNAUTHORIZED,
        "No valid credentials were presented.";
    InvalidToken = "invalid_token", UNAUTHORIZED,
        "The bearer token is unknown, expired or revoked; an invitation token that is none of ours is 400.";
    InsufficientScope = "insufficient_scope", FORBIDDEN,
        "The access token lacks a scope the operation needs.";
    CsrfFailed = "csrf_failed", FORBIDDEN,
        "A state-changing request authenticated by the session cookie did not send its CSRF token.";
    RefreshFailed = "refresh_failed", UNAUTHORIZED,
        "The identity provider no longer honours this login; the session has ended.";
    NotProvisioned = "not_provisioned", FORBIDDEN,
        "The identity names no account here and nothing provisions one.";
    InvitationLapsed = "invitation_lapsed", FORBIDDEN,
        "The inviter no longer holds what the invitation hands out.";
    IdentityLinkRequired = "identity_link_required", FORBIDDEN,
        "The account is linked to an identity only explicitly, by an administrator.";
    // Browser login.
    LoginFailed = "login_failed", BAD_REQUEST,
        "The identity provider's answer does not sign anybody in.";
    LoginRefused = "login_refused", BAD_REQUEST,
        "The identity provider refused the login.";
    LoginNotConfigured = "login_not_configured", NOT_FOUND,
        "Login through an identity provider is not configured here.";
    IdpUnavailable = "idp_unavailable", SERVICE_UNAVAILABLE,
        "The identity provider cannot be reached.";
    StateMismatch = "state_mismatch", BAD_REQUEST,
        "The login callback was not started in this browser.";
    InvalidState = "invalid_state", BAD_REQUEST,
        "The login callback's `state` is unknown, used or expired.";
    // Identity links.
    OwnIdentityLink = "own_identity_link", FORBIDDEN,
        "Nobody changes their own account's identity links.";
    PlatformAdminLink = "platform_admin_link", FORBIDDEN,
        "Only a platform administrator changes an administrator's identity links.";
    IssuerMismatch = "issuer_mismatch", UNPROCESSABLE_ENTITY,
        "The issuer is not the configured identity provider's.";
    IdentityAlreadyLinked = "identity_already_linked", CONFLICT,
        "The user is linked to an identity already; a user has one.";
    IdentityTaken = "identity_taken", CONFLICT,
        "The identity is linked to another user.";
    IdentityNotFound = "identity_not_found", NOT_FOUND,
        "The user is not linked to that identity.";
    // Authorization (`rbac::DenyReason`).
    CrossTenant = "cross_tenant", FORBIDDEN,
        "The resource belongs to another tenant.";
    OutOfReach = "out_of_reach", FORBIDDEN,
        "The resource is outside every scope the caller's roles are bound at.";
    MissingPermission = "missing_permission", FORBIDDEN,
        "No role of the caller grants the permission here.";
    EnvironmentNotAllowed = "environment_not_allowed", FORBIDDEN,
        "The caller's roles do not reach the resource's environment.";
    OutsideDeviceScope = "outside_device_scope", FORBIDDEN,
        "The device is outside the caller's device scope.";
    Outranked = "outranked", FORBIDDEN,
        "The user holds roles, scopes or environments beyond the caller's.";
    // Delegation (`rbac::DelegationError`).
    PrivilegeEscalation = "privilege_escalation", FORBIDDEN,
        "The change hands out permissions the caller does not hold there.";
    EnvironmentEscalation = "environment_escalation", FORBIDDEN,
        "The change hands out environments the caller does not reach.";
    DeviceScopeEscalation = "device_scope_escalation", FORBIDDEN,
        "The change widens a device scope beyond the caller's.";
    OwnDeviceScope = "own_device_scope", FORBIDDEN,
        "Nobody changes their own device scope.";
    DeviceScopeWouldLapse = "device_scope_would_lapse", CONFLICT,
        "Deleting this would lift the device scope of users it is the only entry of.";
    LastAdmin = "last_admin", CONFLICT,
        "The change would leave the tenant without an unrestricted administrator.";
    // Device targets (`tenancy::TargetRefusal`).
    UnresolvableDeviceHost = "unresolvable_device_host", UNPROCESSABLE_ENTITY,
        "The device host does not resolve.";
    PrivateDeviceHost = "private_device_host", UNPROCESSABLE_ENTITY,
        "The device host is or resolves to a loopback, link-local or unspecified address.";
    PlainHttpOutsideLab = "plain_http_outside_lab", UNPROCESSABLE_ENTITY,
        "Plain http to a device is allowed only in the `lab` environment.";
    // Tool calls.
    UnknownTool = "unknown_tool", NOT_FOUND,
        "No tool has this name.";
    WrongEndpoint = "wrong_endpoint", BAD_REQUEST,
        "The tool is called through another endpoint.";
    CapabilityDisabled = "capability_disabled", FORBIDDEN,
        "The device's capability flags do not allow this tool.";
    NoCredentials = "no_credentials", CONFLICT,
        "The device has no credentials stored.";
    InvalidConfirmationToken = "invalid_confirmation_token", FORBIDDEN,
        "The plan's confirmation token is wrong, used or expired.";
    ToolRefused = "tool_refused", CONFLICT,
        "The request is well-formed but unsafe or impossible; nothing changed.";
    NotConfirmed = "not_confirmed", BAD_GATEWAY,
        "A write went through but reading it back showed something else.";
    PlanFailed = "plan_failed", BAD_GATEWAY,
        "A step of a plan failed on its device (an audit error class; the apply itself answers).";
    // Devices (`tools::DeviceError`).
    DeviceUnreachable = "device_unreachable", BAD_GATEWAY,
        "The device cannot be reached.";
    DeviceTimeout = "device_timeout", GATEWAY_TIMEOUT,
        "The device did not answer in time.";
    DeviceTlsRefused = "device_tls_refused", BAD_GATEWAY,
        "The device's TLS certificate or handshake was refused.";
    DeviceAuthFailed = "device_auth_failed", BAD_GATEWAY,
        "The device refused the stored credentials.";
    DeviceForbidden = "device_forbidden", BAD_GATEWAY,
        "The device's user may not do this.";
    DeviceNotFound = "device_not_found", BAD_GATEWAY,
        "The device has no such item.";
    DeviceRefused = "device_refused", BAD_GATEWAY,
        "The device refused the request.";
    DeviceError = "device_error", BAD_GATEWAY,
        "The device answered with a server error.";
    DevicePaused = "device_paused", SERVICE_UNAVAILABLE,
        "Calls to the device are paused after repeated failures.";
    NotInSchema = "not_in_schema", BAD_REQUEST,
        "The request is not part of RouterOS 7's command set.";
    DeviceBadReply = "device_bad_reply", BAD_GATEWAY,
        "The device sent a reply that is not JSON.";
    // MCP's JSON-RPC errors, as the audit trail classes them (the reply is JSON-RPC's own).
    InvalidJson = "invalid_json", BAD_REQUEST,
        "MCP: the JSON-RPC message is not JSON.";
    UnknownMethod = "unknown_method", NOT_FOUND,
        "MCP: no JSON-RPC method has this name.";
    InvalidParams = "invalid_params", BAD_REQUEST,
        "MCP: the JSON-RPC parameters are invalid.";
    JsonrpcError = "jsonrpc_error", INTERNAL_SERVER_ERROR,
        "MCP: another JSON-RPC error.";
}

impl Code {
    /// The row of a code a domain error says (`DenyReason::code()`,
    /// `ToolError::code()`, …). Every such string has one (the tests check
    /// each); one that did not would be answered as `internal`.
    pub fn of(code: &str) -> Code {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == code)
            .unwrap_or_else(|| {
                debug_assert!(false, "the error code `{code}` is not in the table");
                Code::Internal
            })
    }

    /// The markdown table `docs/errors.md` holds: code, status, meaning.
    pub fn markdown_table() -> String {
        let mut out = String::from("| code | status | meaning |\n|---|---|---|\n");
        for c in Code::ALL {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                c.as_str(),
                c.status().as_u16(),
                c.doc()
            ));
        }
        out
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Code> for String {
    fn from(code: Code) -> String {
        code.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_code_is_unique_snake_case_and_an_error_status() {
        let mut seen = HashSet::new();
        for c in Code::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "`{s}` is in the table twice");
            assert!(
                !s.is_empty()
                    && !s.starts_with('_')
                    && !s.ends_with('_')
                    && !s.contains("__")
                    && s.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'),
                "`{s}` is not snake_case"
            );
            let status = c.status();
            assert!(
                status.is_client_error() || status.is_server_error(),
                "`{s}` maps to {status}"
            );
            assert!(!c.doc().is_empty(), "`{s}` has no doc");
            assert_eq!(Code::of(s), *c);
        }
    }

    #[test]
    fn every_code_a_domain_error_says_is_in_the_table() {
        use rbac::{DelegationError, DenyReason};
        use tools::{BadArg, DeviceError, ToolError};
        let known = |code: &str| Code::ALL.iter().any(|c| c.as_str() == code);
        let env = kernel::Environment::Prod;
        let deny = [
            DenyReason::CrossTenant,
            DenyReason::OutOfReach,
            DenyReason::MissingPermission {
                permission: rbac::Permission::DeviceRead,
            },
            DenyReason::Environment { environment: env },
            DenyReason::OutsideDeviceScope,
            DenyReason::Outranked,
        ];
        for r in deny {
            assert!(known(r.code()), "{}", r.code());
            assert_eq!(Code::of(r.code()).status(), StatusCode::FORBIDDEN);
        }
        let delegation = [
            DelegationError::MissingPermissions(vec![]),
            DelegationError::Environments {
                permissions: vec![],
                environments: 0,
            },
            DelegationError::DeviceScope,
            DelegationError::DevicesOutsideScope,
            DelegationError::NarrowedRevoker,
            DelegationError::OwnDeviceScope,
            DelegationError::DeviceScopeWouldLapse {
                users: 1,
                what: "device",
            },
            DelegationError::LastAdmin,
            DelegationError::OwnIdentityLink,
            DelegationError::AdministratorLink,
        ];
        for e in delegation {
            assert!(known(e.code()), "{}", e.code());
            let status = if e.is_conflict() {
                StatusCode::CONFLICT
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(Code::of(e.code()).status(), status, "{}", e.code());
        }
        let device = [
            DeviceError::Unreachable(String::new()),
            DeviceError::Timeout,
            DeviceError::Tls(String::new()),
            DeviceError::Unauthorized,
            DeviceError::Forbidden,
            DeviceError::NotFound,
            DeviceError::BadRequest(String::new()),
            DeviceError::Server(500, String::new()),
            DeviceError::CircuitOpen(String::new()),
            DeviceError::NotInSchema(String::new()),
            DeviceError::BadReply,
        ];
        let tool = [
            ToolError::Invalid(BadArg {
                field: String::new(),
                reason: String::new(),
            }),
            ToolError::Refused(String::new()),
            ToolError::NotConfirmed(String::new()),
        ];
        for code in device
            .iter()
            .map(DeviceError::code)
            .chain(tool.iter().map(ToolError::code))
        {
            assert!(known(code), "{code}");
        }
        for code in [
            audit::paging::QueryError::InvalidCursor.code(),
            audit::paging::QueryError::Reversed.code(),
        ] {
            assert!(known(code), "{code}");
        }
        assert!(known(audit::trail::PLAN_FAILED));
        for code in tenancy::TargetRefusal::CODES {
            assert!(known(code), "{code}");
        }
        use kernel::StoreError;
        use tenancy::TenancyError;
        let tenancy = [
            TenancyError::NotFound("site"),
            TenancyError::Conflict(String::new()),
            TenancyError::BadToken(""),
            TenancyError::NotProvisioned(String::new()),
            TenancyError::LinkRequired(String::new()),
            TenancyError::IdentityTaken,
            TenancyError::IdentityAlreadyLinked,
            TenancyError::InvitationLapsed(String::new()),
            TenancyError::Store(StoreError::NotFound),
            TenancyError::Store(StoreError::Unavailable(String::new())),
        ];
        for e in tenancy {
            assert!(known(e.code()), "{}", e.code());
        }
    }

    /// Names every variant of every domain error the test above lists, so
    /// a new variant does not compile until it is listed there too (and
    /// its code is in the table, or `Code::of` would answer it as a 500).
    #[allow(dead_code)]
    fn every_variant_is_listed_above(
        deny: &rbac::DenyReason,
        delegation: &rbac::DelegationError,
        device: &tools::DeviceError,
        tool: &tools::ToolError,
        tenancy: &tenancy::TenancyError,
    ) {
        use rbac::DelegationError as G;
        use rbac::DenyReason as R;
        use tenancy::TenancyError as T;
        use tools::DeviceError as D;
        match deny {
            R::CrossTenant | R::OutOfReach | R::MissingPermission { .. } => {}
            R::Environment { .. } | R::OutsideDeviceScope | R::Outranked => {}
        }
        match delegation {
            G::MissingPermissions(_) | G::Environments { .. } | G::DeviceScope => {}
            G::DevicesOutsideScope | G::NarrowedRevoker | G::OwnDeviceScope => {}
            G::DeviceScopeWouldLapse { .. } | G::LastAdmin => {}
            G::OwnIdentityLink | G::AdministratorLink => {}
        }
        match device {
            D::Unreachable(_) | D::Timeout | D::Tls(_) | D::Unauthorized | D::Forbidden => {}
            D::NotFound | D::BadRequest(_) | D::Server(..) | D::CircuitOpen(_) => {}
            D::NotInSchema(_) | D::BadReply => {}
        }
        match tool {
            tools::ToolError::Invalid(_) | tools::ToolError::Refused(_) => {}
            tools::ToolError::Device(_) | tools::ToolError::NotConfirmed(_) => {}
        }
        match tenancy {
            T::Invalid(_) | T::NotFound(_) | T::Conflict(_) | T::BadToken(_) => {}
            T::NotProvisioned(_) | T::LinkRequired(_) | T::IdentityTaken => {}
            T::IdentityAlreadyLinked | T::InvitationLapsed(_) | T::Target(_) | T::Store(_) => {}
        }
    }

    #[test]
    fn the_errors_page_lists_every_code() {
        let page = include_str!("../../../../docs/errors.md");
        let table = Code::markdown_table();
        assert!(
            page.contains(&table),
            "docs/errors.md does not hold the table of codes; replace its table with:\n{table}"
        );
    }
}
