//! The checked arguments of one call, as the tools read them, and the
//! field that broke a rule when they are not. [`Args::parse`] (in
//! `input.rs`, above the catalogue) does the checking; the syntax of
//! addresses and item ids it checks against lives here, where the tools
//! use it too.

use serde_json::{Map, Value};

/// An input field that broke its parameter's rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct BadArg {
    pub field: String,
    pub reason: String,
}

pub(crate) fn bad(field: &str, reason: impl Into<String>) -> BadArg {
    BadArg {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// Checked arguments of one call.
#[derive(Debug, Clone, Default)]
pub struct Args(Map<String, Value>);

impl Args {
    /// Arguments already checked against their tool's parameters.
    pub(crate) fn checked(values: Map<String, Value>) -> Args {
        Args(values)
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        self.0.get(name).and_then(Value::as_bool)
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        self.0.get(name).and_then(Value::as_i64)
    }

    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        self.0.get(name).and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
    }

    /// `dry_run`, false unless given.
    pub fn dry_run(&self) -> bool {
        self.bool("dry_run").unwrap_or(false)
    }
}

/// `a.b.c.d/len` as (address, prefix length).
pub fn cidr(s: &str) -> Option<(std::net::Ipv4Addr, u8)> {
    let (addr, len) = s.split_once('/')?;
    let len: u8 = len.parse().ok()?;
    (len <= 32).then_some(())?;
    Some((addr.parse().ok()?, len))
}

/// Whether `s` is a RouterOS item id: `*` and 1 to 8 hex digits.
pub fn is_item_id(s: &str) -> bool {
    s.strip_prefix('*')
        .is_some_and(|h| !h.is_empty() && h.len() <= 8 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}
