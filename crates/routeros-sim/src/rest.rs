//! One REST call against one device's state, answered as RouterOS 7 does:
//! `GET` lists (or returns one item, or a single setting as an object),
//! `PUT` returns the created item, `PATCH` the changed one, `DELETE` nothing
//! (204), `POST <menu>/<command>` the command's result. Errors carry
//! `{"error":<status>,"message":<reason>,"detail":...}`.

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::commands;
use crate::menus::{self, Failure};
use crate::schema::Schema;
use crate::seed::is_legacy_wireless;
use crate::state::{DeviceState, Item, Table};

/// A status and an optional JSON body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: Option<Value>,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body: Some(body),
        }
    }

    /// A RouterOS error body for `status`, with `detail` when given.
    pub fn error(status: StatusCode, detail: Option<&str>) -> Self {
        let mut body = json!({
            "error": status.as_u16(),
            "message": status.canonical_reason().unwrap_or("Error"),
        });
        if let Some(detail) = detail {
            body["detail"] = Value::String(detail.to_owned());
        }
        Self {
            status,
            body: Some(body),
        }
    }

    pub fn bad(detail: &str) -> Self {
        Self::error(StatusCode::BAD_REQUEST, Some(detail))
    }

    fn from_result(result: Result<Value, Failure>) -> Self {
        match result {
            Ok(body) => Self::ok(body),
            Err(failure) => Self::failure(failure),
        }
    }

    fn failure(failure: Failure) -> Self {
        match failure {
            Failure::NotFound => Self::error(StatusCode::NOT_FOUND, Some("no such item")),
            Failure::Bad(detail) => Self::bad(&detail),
        }
    }
}

/// One call, already authenticated and checked against the schema.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub method: &'a Method,
    /// Relative to `/rest/`, decoded, without surrounding slashes.
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub body: Option<&'a Map<String, Value>>,
    /// The user making the call, which RouterOS records as owner.
    pub user: &'a str,
}

/// The arguments of a JSON body as RouterOS reads them: every value a
/// string, lists joined by commas.
///
/// # Errors
/// A value is an object, which no RouterOS argument takes.
pub(crate) fn body_args(
    body: Option<&Map<String, Value>>,
) -> Result<Vec<(String, String)>, String> {
    body.into_iter()
        .flatten()
        .map(|(key, value)| Ok((key.clone(), string_value(key, value)?)))
        .collect()
}

fn string_value(key: &str, value: &Value) -> Result<String, String> {
    Ok(match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        Value::Array(items) => items
            .iter()
            .map(|item| string_value(key, item))
            .collect::<Result<Vec<_>, _>>()?
            .join(","),
        Value::Object(_) => return Err(format!("invalid value for argument {key}")),
    })
}

/// Answers `call` from `state`.
pub(crate) fn dispatch(state: &mut DeviceState, schema: Option<&Schema>, call: &Call<'_>) -> Reply {
    let path = call.path;
    if is_legacy_wireless(path) && !state.legacy_wireless {
        let package = path
            .split('/')
            .find(|s| *s == "wireless" || *s == "caps-man");
        let detail = format!("no such command or directory ({})", package.unwrap_or(path));
        return Reply::error(StatusCode::NOT_FOUND, Some(&detail));
    }
    let args = match body_args(call.body) {
        Ok(args) => args,
        Err(detail) => return Reply::bad(&detail),
    };
    if *call.method == Method::POST {
        match path {
            "tool/ping" => return Reply::from_result(commands::ping(state, &args)),
            "tool/traceroute" => return Reply::from_result(commands::traceroute(state, &args)),
            "interface/monitor-traffic" => {
                return Reply::from_result(commands::monitor_traffic(state, &args));
            }
            "ip/dns/cache/flush" => return Reply::ok(commands::flush_dns_cache(state)),
            _ => {}
        }
    }
    let Some((menu, child)) = resolve(state, schema, path) else {
        let last = path.rsplit('/').next().unwrap_or(path);
        return Reply::bad(&format!("no such command or directory ({last})"));
    };
    let child = child.as_deref();
    let is_table = state.tables.contains_key(&menu);
    let proplist = |value: Option<&str>| -> Option<Vec<String>> {
        value.map(|v| v.split(',').map(str::to_owned).collect())
    };
    let query_proplist = proplist(
        call.query
            .iter()
            .find(|(k, _)| k == ".proplist")
            .map(|(_, v)| v.as_str()),
    );
    match (call.method, is_table, child) {
        (&Method::GET, true, None) => {
            let items = state
                .tables
                .get(&menu)
                .map(Table::items)
                .unwrap_or_default();
            Reply::ok(Value::Array(menus::print(
                items,
                call.query,
                query_proplist.as_deref(),
            )))
        }
        (&Method::GET, true, Some(id)) => match state.item(&menu, id) {
            Some(item) => Reply::ok(menus::project(item, query_proplist.as_deref())),
            None => Reply::failure(Failure::NotFound),
        },
        (&Method::GET, false, None) => {
            let setting = state.setting(&menu).cloned().unwrap_or_default();
            Reply::ok(menus::project(&setting, query_proplist.as_deref()))
        }
        (&Method::PUT, true, None) => match menus::add(state, schema, &menu, &args, call.user) {
            Ok(item) => Reply {
                status: StatusCode::CREATED,
                body: Some(menus::project(&item, None)),
            },
            Err(failure) => Reply::failure(failure),
        },
        (&Method::PATCH, true, Some(id)) => item_reply(menus::set(state, schema, &menu, id, &args)),
        (&Method::PATCH, false, None) => {
            item_reply(menus::set_setting(state, schema, &menu, &args))
        }
        (&Method::DELETE, true, Some(id)) => match menus::remove(state, schema, &menu, id) {
            Ok(()) => Reply {
                status: StatusCode::NO_CONTENT,
                body: None,
            },
            Err(failure) => Reply::failure(failure),
        },
        (&Method::POST, _, Some(command)) => {
            post(state, schema, &menu, is_table, command, &args, call)
        }
        (&Method::PATCH, true, None) => Reply::bad("missing =.id="),
        (&Method::DELETE, true, None) => Reply::bad("missing =.id="),
        (_, false, Some(extra)) => Reply::bad(&format!("no such command or directory ({extra})")),
        (method, _, _) => Reply::bad(&format!("/{menu} does not take {method} here")),
    }
}

fn item_reply(result: Result<Item, Failure>) -> Reply {
    Reply::from_result(result.map(|item| menus::project(&item, None)))
}

/// `POST <menu>/<command>` for the generic commands of lists and settings.
fn post(
    state: &mut DeviceState,
    schema: Option<&Schema>,
    menu: &str,
    is_table: bool,
    command: &str,
    args: &[(String, String)],
    call: &Call<'_>,
) -> Reply {
    let arg = |key: &str| args.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let targets = || -> Result<Vec<String>, Failure> {
        arg(".id")
            .or_else(|| arg("numbers"))
            .filter(|ids| !ids.is_empty())
            .map(|ids| ids.split(',').map(str::to_owned).collect())
            .ok_or_else(|| Failure::Bad("missing =.id=".to_owned()))
    };
    let proplist = arg(".proplist").map(|p| p.split(',').map(str::to_owned).collect::<Vec<_>>());
    let done = || Ok(Value::Array(Vec::new()));
    let result = match (is_table, command) {
        (true, "print") => {
            let filters = query_filters(call.body.and_then(|b| b.get(".query")));
            let items = state.tables.get(menu).map(Table::items).unwrap_or_default();
            Ok(Value::Array(menus::print(
                items,
                &filters,
                proplist.as_deref(),
            )))
        }
        (false, "print") => {
            let setting = state.setting(menu).cloned().unwrap_or_default();
            Ok(menus::project(&setting, proplist.as_deref()))
        }
        (true, "add") => menus::add(state, schema, menu, args, call.user)
            .map(|item| json!({"ret": item.get(".id").cloned().unwrap_or_default()})),
        (true, "set") => targets().and_then(|ids| {
            ids.iter()
                .try_for_each(|id| menus::set(state, schema, menu, id, args).map(drop))
                .and_then(|()| done())
        }),
        (false, "set") => menus::set_setting(state, schema, menu, args).and_then(|_| done()),
        (true, "remove") => targets().and_then(|ids| {
            ids.iter()
                .try_for_each(|id| menus::remove(state, schema, menu, id))
                .and_then(|()| done())
        }),
        (true, "enable" | "disable") => targets().and_then(|ids| {
            let value = if command == "disable" {
                "true"
            } else {
                "false"
            };
            let change = [("disabled".to_owned(), value.to_owned())];
            ids.iter()
                .try_for_each(|id| menus::set(state, schema, menu, id, &change).map(drop))
                .and_then(|()| done())
        }),
        (true, "move") => targets().and_then(|ids| {
            let destination = arg("destination");
            let table = state.tables.entry(menu.to_owned()).or_default();
            if ids
                .iter()
                .all(|id| table.move_before(id, destination.as_deref()))
            {
                done()
            } else {
                Err(Failure::NotFound)
            }
        }),
        _ => Err(Failure::Bad(format!(
            "/{menu}/{command} is not simulated by routeros-sim"
        ))),
    };
    Reply::from_result(result)
}

/// Equality filters from a `.query` list (`["name=ether1", "type=ether"]`);
/// stack operations (`#|`) and comparisons are not simulated and ignored.
fn query_filters(query: Option<&Value>) -> Vec<(String, String)> {
    let words: Vec<&str> = match query {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    };
    words
        .into_iter()
        .filter(|w| !w.starts_with('#'))
        .filter_map(|w| w.trim_start_matches('?').split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The menu `path` addresses and the item id or command after it. Menus
/// the schema knows but the state lacks start empty.
fn resolve(
    state: &mut DeviceState,
    schema: Option<&Schema>,
    path: &str,
) -> Option<(String, Option<String>)> {
    let known = |state: &DeviceState, menu: &str| {
        state.tables.contains_key(menu) || state.settings.contains_key(menu)
    };
    let from_schema = |state: &mut DeviceState, menu: &str| -> bool {
        let Some(schema) = schema.filter(|s| s.command(menu, "print").is_some()) else {
            return false;
        };
        if schema.is_singleton(menu) {
            state.settings.insert(menu.to_owned(), Item::new());
        } else {
            state.tables.insert(menu.to_owned(), Table::default());
        }
        true
    };
    if known(state, path) || from_schema(state, path) {
        return Some((path.to_owned(), None));
    }
    let (parent, last) = path.rsplit_once('/')?;
    if known(state, parent) || from_schema(state, parent) {
        return Some((parent.to_owned(), Some(last.to_owned())));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call<'a>(
        method: &'a Method,
        path: &'a str,
        body: Option<&'a Map<String, Value>>,
    ) -> Call<'a> {
        Call {
            method,
            path,
            query: &[],
            body,
            user: "admin",
        }
    }

    #[test]
    fn post_commands_run_on_lists() {
        let mut s = DeviceState::seeded("r1", 1);
        let body = json!({"chain": "input", "action": "drop", "src-address": "203.0.113.9"});
        let reply = dispatch(
            &mut s,
            None,
            &call(&Method::POST, "ip/firewall/filter/add", body.as_object()),
        );
        let id = reply.body.unwrap()["ret"].as_str().unwrap().to_owned();
        assert_eq!(id, "*8");
        let body = json!({"numbers": id, "destination": "*1"});
        let reply = dispatch(
            &mut s,
            None,
            &call(&Method::POST, "ip/firewall/filter/move", body.as_object()),
        );
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            s.table("ip/firewall/filter").unwrap().items()[0][".id"],
            "*8"
        );
        let body =
            json!({".query": ["chain=input", "action=drop"], ".proplist": ".id,src-address"});
        let reply = dispatch(
            &mut s,
            None,
            &call(&Method::POST, "ip/firewall/filter/print", body.as_object()),
        );
        let rows = reply.body.unwrap();
        assert_eq!(rows.as_array().unwrap().len(), 3);
        assert_eq!(rows[0], json!({".id": "*8", "src-address": "203.0.113.9"}));
    }

    #[test]
    fn legacy_wireless_menus_are_absent_by_default() {
        let mut s = DeviceState::seeded("r1", 1);
        let reply = dispatch(
            &mut s,
            None,
            &call(&Method::GET, "interface/wireless", None),
        );
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        s.legacy_wireless = true;
        let reply = dispatch(
            &mut s,
            None,
            &call(&Method::GET, "caps-man/remote-cap", None),
        );
        assert_eq!(reply.body, Some(json!([])));
    }

    #[test]
    fn unknown_paths_are_refused_without_a_schema() {
        let mut s = DeviceState::seeded("r1", 1);
        let reply = dispatch(
            &mut s,
            None,
            &call(&Method::GET, "system/ntp/client/monitor", None),
        );
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        let reply = dispatch(&mut s, None, &call(&Method::GET, "nothing/here", None));
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    }
}
