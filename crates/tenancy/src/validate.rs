//! Field rules shared by every input that names, addresses or tags
//! something. Each failure names the field, so the API can say which one.

use std::collections::BTreeMap;

/// Longest accepted display name.
pub const MAX_NAME: usize = 200;
/// Longest accepted email address (RFC 5321 path limit).
pub const MAX_EMAIL: usize = 254;
/// Longest accepted host name (RFC 1035).
pub const MAX_HOST: usize = 253;
/// Most tags on a device.
pub const MAX_TAGS: usize = 50;
/// Longest tag key or value.
pub const MAX_TAG_LEN: usize = 128;

/// A field broke a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// The input field, as the API names it.
    pub field: &'static str,
    /// What is wrong and what is accepted.
    pub reason: String,
}

impl FieldError {
    /// A rule broken by `field`.
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// A trimmed, non-empty name of at most [`MAX_NAME`] characters without control characters.
pub fn name(field: &'static str, value: &str) -> Result<String, FieldError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if v.chars().count() > MAX_NAME {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_NAME} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(v.to_owned())
}

/// A plausible email address, lower-cased.
pub fn email(field: &'static str, value: &str) -> Result<String, FieldError> {
    // ASCII case only: full Unicode lowercasing folds distinct addresses
    // together (the Kelvin sign K becomes k).
    let v = value.trim().to_ascii_lowercase();
    let bad = || FieldError::new(field, "must be an email address like name@example.com");
    if v.len() > MAX_EMAIL {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_EMAIL} characters"),
        ));
    }
    let (local, domain) = v.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || domain.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || v.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad());
    }
    Ok(v)
}

/// A DNS host name or an IP address literal.
pub fn host(field: &'static str, value: &str) -> Result<String, FieldError> {
    let v = value.trim();
    if v.parse::<std::net::IpAddr>().is_ok() {
        return Ok(v.to_owned());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if v.is_empty() || v.len() > MAX_HOST || !v.split('.').all(label_ok) {
        return Err(FieldError::new(
            field,
            "must be a host name or an IP address",
        ));
    }
    Ok(v.to_ascii_lowercase())
}

/// A non-zero TCP port.
pub fn port(field: &'static str, value: u16) -> Result<u16, FieldError> {
    if value == 0 {
        return Err(FieldError::new(field, "must be between 1 and 65535"));
    }
    Ok(value)
}

/// Device tags: bounded in count and length.
pub fn tags(
    field: &'static str,
    value: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, FieldError> {
    if value.len() > MAX_TAGS {
        return Err(FieldError::new(field, format!("at most {MAX_TAGS} tags")));
    }
    for (k, v) in &value {
        if k.is_empty() || k.len() > MAX_TAG_LEN || v.len() > MAX_TAG_LEN {
            return Err(FieldError::new(
                field,
                format!("keys must be 1 to {MAX_TAG_LEN} bytes and values at most {MAX_TAG_LEN}"),
            ));
        }
    }
    Ok(value)
}

/// A device's TLS setting: a CA must be one PEM certificate (at most 16 KiB),
/// a pin 32 bytes of hex (colons allowed, stored lower-case without them).
pub fn tls(
    field: &'static str,
    value: crate::model::DeviceTls,
) -> Result<crate::model::DeviceTls, FieldError> {
    use crate::model::DeviceTls;
    match value {
        DeviceTls::Ca { ca_pem } => {
            let pem = ca_pem.trim();
            if pem.len() > 16 * 1024
                || !pem.starts_with("-----BEGIN CERTIFICATE-----")
                || !pem.ends_with("-----END CERTIFICATE-----")
            {
                return Err(FieldError::new(
                    field,
                    "ca_pem must be one PEM certificate (-----BEGIN CERTIFICATE----- …), at most 16 KiB",
                ));
            }
            Ok(DeviceTls::Ca {
                ca_pem: pem.to_owned(),
            })
        }
        DeviceTls::Pinned { sha256 } => {
            let hex: String = sha256
                .chars()
                .filter(|c| *c != ':')
                .collect::<String>()
                .to_ascii_lowercase();
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(FieldError::new(
                    field,
                    "sha256 must be the certificate's SHA-256 fingerprint: 64 hex digits",
                ));
            }
            Ok(DeviceTls::Pinned { sha256: hex })
        }
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("name", "  core ").unwrap(), "core");
        assert!(name("name", "   ").is_err());
        assert!(name("name", &"x".repeat(MAX_NAME + 1)).is_err());
        assert!(name("name", "a\u{0}b").is_err());
    }

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(
            email("email", "Owner@Acme.Test").unwrap(),
            "owner@acme.test"
        );
        for bad in [
            "",
            "owner",
            "@acme.test",
            "owner@",
            "a@b@c.d",
            "o wner@acme.test",
            "owner@acme",
        ] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts_accept_names_and_addresses() {
        assert!(host("host", "10.0.0.1").is_ok());
        assert!(host("host", "::1").is_ok());
        assert!(host("host", "r1.acme.test").is_ok());
        for bad in ["", "-r1", "r1..acme", "r1/acme", "ä.test"] {
            assert!(host("host", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tls_settings_are_normalised_or_refused() {
        use crate::model::DeviceTls;
        let pin = "AB:".repeat(31) + "AB";
        assert_eq!(
            tls("tls", DeviceTls::Pinned { sha256: pin }).unwrap(),
            DeviceTls::Pinned {
                sha256: "ab".repeat(32)
            }
        );
        assert!(
            tls(
                "tls",
                DeviceTls::Pinned {
                    sha256: "abc".into()
                }
            )
            .is_err()
        );
        assert!(
            tls(
                "tls",
                DeviceTls::Ca {
                    ca_pem: "not a certificate".into()
                }
            )
            .is_err()
        );
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        assert!(tls("tls", DeviceTls::Ca { ca_pem: pem.into() }).is_ok());
    }
}
