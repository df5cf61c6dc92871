//! Turning what went wrong into a [`DeviceError`] a person can act on.
//!
//! Messages are built from error kinds and the innermost cause only, never
//! from reqwest's top-level text (which repeats the URL), and every message
//! is scrubbed of the device password before it leaves the crate, in case a
//! device echoes it back in an error detail.

use std::error::Error as StdError;

use tools::DeviceError;

use crate::retry::Failure;

/// Longest message taken from a device's error reply, in characters.
pub(crate) const MAX_MESSAGE: usize = 300;

/// The error for an HTTP status of 400 or above, with the message from a
/// RouterOS error body (`{"error":400,"message":"Bad Request","detail":"..."}`).
pub(crate) fn from_status(status: u16, body: &[u8]) -> DeviceError {
    let message = || {
        routeros_message(body).unwrap_or_else(|| {
            reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .map_or_else(|| format!("HTTP {status}"), str::to_owned)
        })
    };
    match status {
        401 => DeviceError::Unauthorized,
        403 => DeviceError::Forbidden,
        404 => DeviceError::NotFound,
        500..=599 => DeviceError::Server(status, message()),
        _ => DeviceError::BadRequest(message()),
    }
}

/// `detail`, or else `message`, from a RouterOS error body, shortened.
fn routeros_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let field = |name: &str| {
        value
            .get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    field("detail")
        .or_else(|| field("message"))
        .map(|s| truncate(s, MAX_MESSAGE))
}

/// At most `max` characters of `s`, with `…` when shortened.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((end, _)) => format!("{}…", &s[..end]),
    }
}

/// Classifies an error from sending a request or reading its reply.
pub(crate) fn from_transport(err: &reqwest::Error) -> Failure {
    let connected = !err.is_connect();
    if let Some(tls) = causes(err).find_map(|e| e.downcast_ref::<rustls::Error>()) {
        return Failure {
            error: DeviceError::Tls(describe_tls(tls)),
            connected,
        };
    }
    let error = if err.is_timeout() {
        DeviceError::Timeout
    } else {
        let cause = causes(err)
            .last()
            .filter(|_| err.source().is_some())
            .map_or_else(|| "the connection failed".to_owned(), ToString::to_string);
        DeviceError::Unreachable(truncate(&cause, MAX_MESSAGE))
    };
    Failure { error, connected }
}

/// A refused certificate or handshake, said plainly where rustls is terse.
pub(crate) fn describe_tls(err: &rustls::Error) -> String {
    match err {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
            other.to_string()
        }
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
            "the certificate is not signed by a trusted authority (UnknownIssuer)".to_owned()
        }
        other => other.to_string(),
    }
}

/// `err` and its causes, looking inside `io::Error`s too (whose `source()`
/// skips the error they wrap, which is where rustls puts its own).
fn causes<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    let mut next = Some(err);
    std::iter::from_fn(move || {
        let current = next?;
        next = match current.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn StdError + 'static))
                .or_else(|| current.source()),
            None => current.source(),
        };
        Some(current)
    })
}

/// `error` with every occurrence of `secret` in its message replaced.
pub(crate) fn redact(error: DeviceError, secret: &str) -> DeviceError {
    if secret.is_empty() {
        return error;
    }
    let scrub = |s: String| {
        if s.contains(secret) {
            s.replace(secret, "<redacted>")
        } else {
            s
        }
    };
    match error {
        DeviceError::Unreachable(s) => DeviceError::Unreachable(scrub(s)),
        DeviceError::Tls(s) => DeviceError::Tls(scrub(s)),
        DeviceError::BadRequest(s) => DeviceError::BadRequest(scrub(s)),
        DeviceError::Server(code, s) => DeviceError::Server(code, scrub(s)),
        DeviceError::CircuitOpen(s) => DeviceError::CircuitOpen(scrub(s)),
        DeviceError::NotInSchema(s) => DeviceError::NotInSchema(scrub(s)),
        other @ (DeviceError::Timeout
        | DeviceError::Unauthorized
        | DeviceError::Forbidden
        | DeviceError::NotFound
        | DeviceError::BadReply) => other,
    }
}
