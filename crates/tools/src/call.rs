//! What a tool's implementation works with, and the shapes of the
//! functions a catalogue row carries.
//!
//! A row of the catalogue names its implementation as a plain function
//! pointer: [`RunFn`] runs the tool on one device through a [`DeviceCall`];
//! [`ReadBackFn`] says, through a [`DeviceReader`], whether a write's change
//! is in place on the device; [`PlanFn`] turns a plan tool's input into the
//! plan's [`Change`]. The implementations are `async fn`s in `ops/`;
//! `run_fn!` and `read_back_fn!` box their futures so that they fit a
//! pointer, and a row without one does not compile.
//!
//! The helpers here (`items`, `field`, `project`, `servers_of`) read
//! RouterOS menus the same way in every tool.

use crate::args::Args;
use crate::device::{DeviceError, DeviceTarget, RestMethod, RestRequest};
use crate::output::{ToolError, ToolOutput};
use crate::plan::model::Change;
use crate::ports::RouterOs;
use crate::redact::redact;
use audit::intents::Finding;
use kernel::Clock;
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use tenancy::Device;

/// What a tool function returns.
pub type ToolResult = Result<ToolOutput, ToolError>;

/// The future a [`RunFn`] returns.
pub type ToolFuture<'a> = Pin<Box<dyn Future<Output = ToolResult> + Send + 'a>>;

/// Runs a tool on one device.
pub type RunFn = for<'a> fn(&'a DeviceCall<'a>) -> ToolFuture<'a>;

/// The future a [`ReadBackFn`] returns: what was found, or (as the error)
/// why the device could not tell.
pub type FindingFuture<'a> = Pin<Box<dyn Future<Output = Result<Finding, Finding>> + Send + 'a>>;

/// Reads a device back to see whether a write tool's change, made with
/// these arguments, is in place.
pub type ReadBackFn = for<'a> fn(&'a DeviceReader<'a>, &'a Args) -> FindingFuture<'a>;

/// The change a plan tool's checked input asks for; refused when the input
/// is well-formed but unsafe.
pub type PlanFn = fn(&Args) -> Result<Change, ToolError>;

/// A [`RunFn`] for `async fn(&DeviceCall<'_>) -> Result<ToolOutput, ToolError>`.
macro_rules! run_fn {
    ($op:path) => {{
        fn boxed<'a>(call: &'a $crate::call::DeviceCall<'a>) -> $crate::call::ToolFuture<'a> {
            Box::pin($op(call))
        }
        boxed as $crate::call::RunFn
    }};
}
pub(crate) use run_fn;

/// A [`ReadBackFn`] for
/// `async fn(&DeviceReader<'_>, &Args) -> Result<Finding, Finding>`.
macro_rules! read_back_fn {
    ($op:path) => {{
        fn boxed<'a>(
            reader: &'a $crate::call::DeviceReader<'a>,
            args: &'a $crate::args::Args,
        ) -> $crate::call::FindingFuture<'a> {
            Box::pin($op(reader, args))
        }
        boxed as $crate::call::ReadBackFn
    }};
}
pub(crate) use read_back_fn;

/// One tool call on one device: the port, the clock, the device, where it
/// is reached and the checked arguments.
pub struct DeviceCall<'a> {
    pub api: &'a dyn RouterOs,
    pub clock: &'a dyn Clock,
    pub device: &'a Device,
    pub target: &'a DeviceTarget,
    pub args: &'a Args,
}

impl std::fmt::Debug for DeviceCall<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceCall({})", self.target.device_id)
    }
}

impl DeviceCall<'_> {
    /// Any call on the device.
    pub async fn call(&self, r: RestRequest) -> Result<Value, ToolError> {
        Ok(self.api.call(self.target, r).await?)
    }

    /// A command (`tool/ping`, `ip/dns/set`) with its arguments.
    pub async fn post(&self, path: &str, body: Value) -> Result<Value, ToolError> {
        self.call(RestRequest::new(RestMethod::Post, path, Some(body)))
            .await
    }

    /// GET on the device.
    pub async fn get(&self, path: &str) -> Result<Value, ToolError> {
        self.call(RestRequest::get(path)).await
    }

    /// A menu's items.
    pub async fn list(&self, path: &str) -> Result<Vec<Value>, ToolError> {
        Ok(items(self.get(path).await?))
    }

    /// One item of `menu` by its id; a missing one is refused, naming how
    /// many the menu holds.
    pub async fn one(&self, menu: &str, id: Option<&str>, what: &str) -> ToolResult {
        let id = id.unwrap_or_default();
        match self
            .api
            .call(self.target, RestRequest::get(format!("{menu}/{id}")))
            .await
        {
            Ok(v) => output(format!("{what} {id}"), v),
            Err(DeviceError::NotFound) => {
                let n = self.list(menu).await?.len();
                Err(ToolError::Refused(format!(
                    "no {what} with id {id}; the device has {n}"
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Every item of `menu`, as they are.
    pub async fn table(&self, menu: &str, what: &str) -> ToolResult {
        let l = self.list(menu).await?;
        output(format!("{} {what}", l.len()), json!({"items": l}))
    }

    /// Every item of a menu that a device without the package answers
    /// with 404: then none.
    pub async fn optional(&self, menu: &str, what: &str) -> ToolResult {
        match self.api.call(self.target, RestRequest::get(menu)).await {
            Ok(v) => {
                let l = items(v);
                output(format!("{} {what}", l.len()), json!({"items": l}))
            }
            Err(DeviceError::NotFound) | Err(DeviceError::NotInSchema(_)) => output(
                format!("the device has no {what} (package or menu absent)"),
                json!({"items": []}),
            ),
            Err(e) => Err(e.into()),
        }
    }
}

/// A tool's result, with secrets redacted.
pub fn output(summary: impl Into<String>, data: Value) -> ToolResult {
    Ok(ToolOutput {
        summary: summary.into(),
        data: redact(data),
    })
}

/// Refuses unless the change read back as asked (`ok`); `what` says what
/// was read instead.
pub fn confirm(ok: bool, what: impl FnOnce() -> String) -> Result<(), ToolError> {
    if ok {
        Ok(())
    } else {
        Err(ToolError::NotConfirmed(what()))
    }
}

/// Reads one device back for a change whose outcome was never recorded.
pub struct DeviceReader<'a> {
    pub api: &'a dyn RouterOs,
    pub target: &'a DeviceTarget,
}

impl std::fmt::Debug for DeviceReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceReader({})", self.target.device_id)
    }
}

impl DeviceReader<'_> {
    /// GET on the device; a failure is the finding.
    pub async fn get(&self, path: &str) -> Result<Value, Finding> {
        self.api
            .call(self.target, RestRequest::get(path))
            .await
            .map_err(unanswered)
    }

    /// Whether the item at `path` is gone.
    pub async fn gone(&self, path: &str) -> Result<bool, Finding> {
        match self.api.call(self.target, RestRequest::get(path)).await {
            Ok(_) => Ok(false),
            Err(DeviceError::NotFound) => Ok(true),
            Err(e) => Err(unanswered(e)),
        }
    }
}

/// A failed read: worth trying again later unless the request itself is
/// wrong for the device (then it will never read).
fn unanswered(e: DeviceError) -> Finding {
    match e {
        DeviceError::NotInSchema(_) | DeviceError::BadRequest(_) | DeviceError::BadReply => {
            Finding::Unreadable(e.to_string())
        }
        _ => Finding::Unavailable(e.to_string()),
    }
}

/// Applied when `holds`, not applied otherwise; `what` says what was read.
pub fn finding(holds: bool, what: String) -> Finding {
    if holds {
        Finding::Applied(what)
    } else {
        Finding::NotApplied(what)
    }
}

/// A text argument, trimmed (empty when absent).
pub fn trimmed(args: &Args, name: &str) -> String {
    args.str(name).unwrap_or_default().trim().to_owned()
}

/// A text argument that was given and is not empty.
pub fn given(args: &Args, name: &str) -> Option<String> {
    args.str(name).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// A menu's items: a list, or a single item, or nothing.
pub fn items(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// A property as text (empty when absent).
pub fn field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Keeps only `keys` of each item (plus `.id`), in that order.
pub fn project(list: Vec<Value>, keys: &[&str]) -> Vec<Value> {
    list.into_iter()
        .map(|item| {
            let mut m = serde_json::Map::new();
            for k in std::iter::once(&".id").chain(keys) {
                if let Some(v) = item.get(*k) {
                    m.insert((*k).to_owned(), v.clone());
                }
            }
            Value::Object(m)
        })
        .collect()
}

/// The comma-separated `servers` property (DNS, NTP) as a list.
pub fn servers_of(v: &Value) -> Vec<String> {
    field(v, "servers")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
