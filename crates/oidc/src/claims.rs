//! From verified token claims to an [`ExternalIdentity`] and its scopes.

use serde_json::{Map, Value};
use tenancy::ExternalIdentity;

/// Claims that are not attributes of the person.
const PROTOCOL_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "nonce",
    "azp",
    "auth_time",
    "at_hash",
    "c_hash",
    "sid",
    "acr",
    "amr",
    "client_id",
    "scope",
    "scp",
    "email",
    "email_verified",
    "name",
];

/// The person a verified token describes.
pub fn identity(issuer: &str, claims: &Map<String, Value>) -> ExternalIdentity {
    let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut extra = std::collections::BTreeMap::new();
    for (k, v) in claims {
        if PROTOCOL_CLAIMS.contains(&k.as_str()) {
            continue;
        }
        let values: Vec<String> = match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => continue,
        };
        extra.insert(k.clone(), values);
    }
    ExternalIdentity {
        issuer: issuer.to_owned(),
        subject: text("sub").unwrap_or_default(),
        // Only `email` is an email: `preferred_username` is whatever the
        // provider lets people choose, and never vouches for an address.
        email: text("email"),
        email_verified: claims.get("email_verified").and_then(|v| match v {
            Value::Bool(b) => Some(*b),
            Value::String(s) => Some(s == "true"),
            _ => None,
        }),
        name: text("name"),
        claims: extra,
    }
}

/// The scopes of an access token: `scope` (space-separated, RFC 9068) or
/// `scp` (a string or a list, as Entra ID and Okta write it).
pub fn scopes(claims: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["scope", "scp"] {
        match claims.get(key) {
            Some(Value::String(s)) => out.extend(s.split_whitespace().map(str::to_owned)),
            Some(Value::Array(items)) => {
                out.extend(items.iter().filter_map(Value::as_str).map(str::to_owned))
            }
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Core §5.4: fills in `c` (the ID token's claims) from a UserInfo reply
/// about the same `sub`, skipping `protocol_only` claims; what the ID token
/// says wins. `email` and `email_verified` are one statement, never taken
/// from two sources: when the ID token has an email, UserInfo's
/// `email_verified` counts only for that same email (ASCII case aside);
/// when it has none, both come from UserInfo.
pub fn merge_userinfo(
    c: &mut Map<String, Value>,
    mut info: Map<String, Value>,
    protocol_only: &[&str],
) {
    match c.get("email").and_then(Value::as_str) {
        Some(email) => {
            let same = info
                .get("email")
                .and_then(Value::as_str)
                .is_some_and(|e| e.eq_ignore_ascii_case(email));
            if !same {
                info.remove("email_verified");
            }
        }
        None => {
            c.remove("email");
            c.remove("email_verified");
        }
    }
    for (k, v) in info {
        if protocol_only.contains(&k.as_str()) {
            continue;
        }
        c.entry(k).or_insert(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn identity_keeps_person_claims_and_drops_protocol_ones() {
        let c = map(json!({
            "iss": "https://idp", "sub": "u1", "aud": "x", "exp": 1,
            "email": "a@example.test", "email_verified": false, "name": "A",
            "groups": ["netops", "dev"], "department": "ops", "level": 3
        }));
        let id = identity("https://idp", &c);
        assert_eq!(id.subject, "u1");
        assert_eq!(id.email_verified, Some(false));
        assert_eq!(id.trusted_email(), None, "unverified email is not trusted");
        assert!(id.has_claim("groups", "netops"));
        assert!(id.has_claim("department", "ops"));
        assert!(
            !id.claims.contains_key("level"),
            "numbers are not attributes"
        );
        assert!(!id.claims.contains_key("aud"));
    }

    #[test]
    fn userinfo_vouches_only_for_the_email_it_names() {
        let merged = |id: Value, info: Value| {
            let mut c = map(id);
            merge_userinfo(&mut c, map(info), &["sub"]);
            identity("https://idp", &c)
        };
        // The ID token's unverified email is not verified by UserInfo
        // speaking of another address.
        let id = merged(
            json!({"sub": "u1", "email": "victim@corp.test"}),
            json!({"sub": "u1", "email": "other@corp.test", "email_verified": true}),
        );
        assert_eq!(id.email.as_deref(), Some("victim@corp.test"));
        assert_eq!(id.trusted_email(), None);
        // The same address (ASCII case aside): verified.
        let id = merged(
            json!({"sub": "u1", "email": "Victim@corp.test"}),
            json!({"sub": "u1", "email": "victim@CORP.test", "email_verified": true}),
        );
        assert!(id.trusted_email().is_some());
        // The ID token's own verdict wins.
        let id = merged(
            json!({"sub": "u1", "email": "victim@corp.test", "email_verified": false}),
            json!({"sub": "u1", "email": "victim@corp.test", "email_verified": true}),
        );
        assert_eq!(id.trusted_email(), None);
        // No email in the ID token: both from UserInfo, none from the token.
        let id = merged(
            json!({"sub": "u1", "email_verified": true}),
            json!({"sub": "u1", "email": "other@corp.test"}),
        );
        assert_eq!(id.email.as_deref(), Some("other@corp.test"));
        assert_eq!(id.trusted_email(), None);
        let id = merged(
            json!({"sub": "u1"}),
            json!({"sub": "u1", "email": "other@corp.test", "email_verified": true}),
        );
        assert_eq!(id.trusted_email(), Some("other@corp.test"));
    }

    #[test]
    fn a_preferred_username_that_looks_like_an_email_is_not_an_email() {
        let c = map(json!({"sub": "u1", "preferred_username": "admin@example.test"}));
        assert_eq!(identity("https://idp", &c).email, None);
    }

    #[test]
    fn scopes_come_from_scope_or_scp() {
        assert_eq!(
            scopes(&map(json!({"scope": "openid rosgate:read"}))),
            ["openid", "rosgate:read"]
        );
        assert_eq!(
            scopes(&map(json!({"scp": ["rosgate:write"]}))),
            ["rosgate:write"]
        );
        assert!(scopes(&map(json!({}))).is_empty());
    }
}
