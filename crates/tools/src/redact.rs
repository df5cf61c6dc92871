//! Secrets never leave through a tool: passwords, keys and pre-shared keys
//! in anything a device returns are replaced before the result is shown or
//! logged.

use serde_json::Value;

/// What a redacted value reads as.
pub const REDACTED: &str = "<redacted>";

/// Whether a RouterOS property name (`pre-shared-key`) or a tool
/// parameter name (`pre_shared_key`) holds a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace('_', "-");
    [
        "password",
        "passphrase",
        "secret",
        "pre-shared-key",
        "private-key",
        "psk",
        "auth-key",
        "authentication-key",
        "key-passphrase",
        "wpa-pre-shared-key",
        "wpa2-pre-shared-key",
        "token",
    ]
    .iter()
    .any(|s| k == *s || k.ends_with(&format!("-{s}")) || k.contains(s) && s.len() > 6)
}

/// `value` with every secret property replaced, at any depth.
pub fn redact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    if is_secret_key(&k) && !v.is_null() {
                        (k, Value::from(REDACTED))
                    } else {
                        (k, redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_replaced_at_any_depth() {
        let v = redact(json!([
            {"name": "wlan1", "wpa2-pre-shared-key": "hunter22", "ssid": "x"},
            {"user": "admin", "password": "p", "nested": {"ipsec-secret": "s"}}
        ]));
        let text = v.to_string();
        for leaked in ["hunter22", "\"p\"", "\"s\""] {
            assert!(!text.contains(leaked), "{text}");
        }
        assert!(text.contains("wlan1") && text.contains("admin"));
    }

    #[test]
    fn tool_parameters_spelled_with_underscores_are_secrets_too() {
        for key in [
            "pre_shared_key",
            "private_key",
            "auth_key",
            "wpa2_pre_shared_key",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        assert!(!is_secret_key("dns_servers"));
    }
}
