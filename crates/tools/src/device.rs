//! What a call to a device is made of: where the device is and how its
//! certificate is checked ([`DeviceTarget`], [`TlsPolicy`]), one REST call
//! ([`RestRequest`]), and why a call failed ([`DeviceError`]). The port
//! that sends the call, `RouterOs` in `ports.rs`, takes and returns these.

use kernel::DeviceId;
use serde_json::Value;
use tenancy::DeviceCredentials;

/// How the device's TLS certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsPolicy {
    /// Verified against the system's trust roots (the default).
    Verify,
    /// Verified against this CA certificate (PEM), for a private CA.
    CaPem(String),
    /// Accepted when the leaf certificate's SHA-256 (of its DER) is this.
    Pinned([u8; 32]),
    /// Plain HTTP: only for the simulator and lab devices on a trusted network.
    PlainHttp,
}

/// Where and how to reach a device.
#[derive(Debug, Clone)]
pub struct DeviceTarget {
    pub device_id: DeviceId,
    pub host: String,
    pub port: u16,
    pub tls: TlsPolicy,
    pub credentials: DeviceCredentials,
}

/// The HTTP method of a RouterOS REST call, which picks the console command:
/// GET prints, PUT adds, PATCH sets, DELETE removes, POST runs a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RestMethod {
    Get,
    Put,
    Patch,
    Delete,
    Post,
}

/// One call: `path` is relative to `/rest/` (`ip/address`, `ip/address/*1`,
/// `tool/ping`), `query` filters a GET, `body` carries arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct RestRequest {
    pub method: RestMethod,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl RestRequest {
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(RestMethod::Get, path, None)
    }

    pub fn new(method: RestMethod, path: impl Into<String>, body: Option<Value>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body,
        }
    }
}

/// Why a device call failed. Messages never contain credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("the device cannot be reached: {0}")]
    Unreachable(String),
    #[error("the device did not answer in time")]
    Timeout,
    #[error("the device's TLS certificate was refused: {0}")]
    Tls(String),
    #[error("the device refused the credentials (HTTP 401)")]
    Unauthorized,
    #[error("the device's user may not do this (HTTP 403)")]
    Forbidden,
    #[error("the device has no such item or menu (HTTP 404)")]
    NotFound,
    #[error("the device refused the request: {0}")]
    BadRequest(String),
    #[error("the device failed (HTTP {0}): {1}")]
    Server(u16, String),
    #[error("the device failed repeatedly; calls are paused until {0}")]
    CircuitOpen(String),
    #[error("the request is not part of RouterOS 7's command set: {0}")]
    NotInSchema(String),
    #[error("the device sent a reply that is not JSON")]
    BadReply,
}

impl DeviceError {
    /// The stable code of this failure, the same on every channel and in
    /// the audit trail.
    pub fn code(&self) -> &'static str {
        match self {
            DeviceError::Unreachable(_) => "device_unreachable",
            DeviceError::Timeout => "device_timeout",
            DeviceError::Tls(_) => "device_tls_refused",
            DeviceError::Unauthorized => "device_auth_failed",
            DeviceError::Forbidden => "device_forbidden",
            DeviceError::NotFound => "device_not_found",
            DeviceError::BadRequest(_) => "device_refused",
            DeviceError::Server(..) => "device_error",
            DeviceError::CircuitOpen(_) => "device_paused",
            DeviceError::NotInSchema(_) => "not_in_schema",
            DeviceError::BadReply => "device_bad_reply",
        }
    }
}
