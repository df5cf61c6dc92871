//! Building the request URL: `https://{host}:{port}/rest/{path}?{query}`.
//!
//! The path comes from callers (tools, agents), so it is checked here rather
//! than trusted: a `..` or an encoded character could otherwise reach a
//! different menu than the one that was authorized. Only the characters
//! RouterOS menu names and item ids (`*1A`) use are allowed, so nothing in
//! a path ever needs encoding.

use std::net::{Ipv4Addr, Ipv6Addr};

use tools::{DeviceError, DeviceTarget, RestRequest, TlsPolicy};

/// Longest path accepted; the deepest RouterOS menus are far shorter.
const MAX_PATH: usize = 256;

/// Checks a path relative to `/rest/`: segments of `[A-Za-z0-9._*-]`
/// separated by single `/`, none empty, none `.` or `..`.
///
/// # Errors
///
/// [`DeviceError::BadRequest`] naming what is wrong.
pub fn validate_path(path: &str) -> Result<(), DeviceError> {
    let refuse = |why: &str| Err(DeviceError::BadRequest(format!("invalid REST path: {why}")));
    if path.is_empty() {
        return refuse("it is empty");
    }
    if path.len() > MAX_PATH {
        return refuse("it is too long");
    }
    for segment in path.split('/') {
        if segment.is_empty() {
            return refuse("it has an empty segment (leading, trailing or double `/`)");
        }
        if segment == "." || segment == ".." {
            return refuse("`.` and `..` segments are not allowed");
        }
        if !segment.bytes().all(is_path_byte) {
            return refuse("only letters, digits and `.`, `_`, `*`, `-` may appear between `/`");
        }
    }
    Ok(())
}

fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'*' | b'-')
}

/// The URL one request goes to: `http` only for [`TlsPolicy::PlainHttp`],
/// IPv6 hosts in brackets, query pairs percent-encoded in order.
///
/// # Errors
///
/// [`DeviceError::BadRequest`] for a path [`validate_path`] refuses;
/// [`DeviceError::Unreachable`] for a host that is neither a host name nor
/// an IP address.
pub fn rest_url(target: &DeviceTarget, request: &RestRequest) -> Result<reqwest::Url, DeviceError> {
    validate_path(&request.path)?;
    let host = url_host(&target.host)?;
    let scheme = match target.tls {
        TlsPolicy::PlainHttp => "http",
        _ => "https",
    };
    let mut url = format!("{scheme}://{host}:{}/rest/{}", target.port, request.path);
    for (i, (key, value)) in request.query.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        percent_encode(key, &mut url);
        url.push('=');
        percent_encode(value, &mut url);
    }
    reqwest::Url::parse(&url).map_err(|_| bad_host(&target.host))
}

/// The host as it goes in a URL, or an error if it is not a plain host.
fn url_host(host: &str) -> Result<String, DeviceError> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(v6) = bare.parse::<Ipv6Addr>() {
        return Ok(format!("[{v6}]"));
    }
    if let Ok(v4) = bare.parse::<Ipv4Addr>() {
        return Ok(v4.to_string());
    }
    let name_ok = !host.is_empty()
        && host.len() <= 253
        && !host.starts_with(['.', '-'])
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if name_ok {
        Ok(host.to_ascii_lowercase())
    } else {
        Err(bad_host(host))
    }
}

fn bad_host(host: &str) -> DeviceError {
    let shown: String = host.chars().take(64).collect();
    DeviceError::Unreachable(format!(
        "the device's host {shown:?} is not a host name or IP address"
    ))
}

/// Appends `s` with everything but RFC 3986 unreserved characters as `%XX`
/// (spaces too, as `%20`: RouterOS does not read `+` as a space).
fn percent_encode(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}
