//! The RouterOS 7.24 command tree, used to refuse requests no real router
//! would accept.
//!
//! `inspect.json` (see `shared/routeros-schema/README.md` next to the
//! workspace) nests menus by name; each node has `_type` `dir` (a menu),
//! `path` (a top-level menu such as `ip` or `system`, which holds only
//! menus), `cmd` (a command) or `arg` (an argument of its command, with a
//! free-text `desc`). Only menus, commands and argument names are kept here.
//!
//! REST maps onto the tree as RouterOS documents it: `GET` prints, `PUT`
//! adds, `PATCH` sets, `DELETE` removes and `POST <menu>/<command>` runs any
//! command. A menu whose `print` takes no `where` is a single setting
//! (`system/identity`, `ip/dns`, `system/resource`): it is read and
//! `PATCH`ed without an item id.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use http::Method;
use serde_json::Value;

/// Where the schema lies, relative to the directory that holds the workspace.
const RELATIVE_PATH: &str = "shared/routeros-schema/7.24/inspect.json";

/// Request keys every command accepts: the REST API's own words and the
/// item selector.
const ALWAYS_ALLOWED: &[&str] = &[".proplist", ".query", ".id", "numbers"];

/// Commands of one menu, each with the names of its arguments.
type Commands = BTreeMap<String, BTreeSet<String>>;

/// Menus, commands and argument names of RouterOS 7.24.
#[derive(Clone)]
pub struct Schema {
    /// Menu path (`""` for the root, `ip/address`) to its commands.
    menus: HashMap<String, Commands>,
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schema")
            .field("menus", &self.menus.len())
            .field("commands", &self.command_count())
            .finish()
    }
}

impl Schema {
    /// Reads and parses `inspect.json`.
    ///
    /// # Errors
    /// The file cannot be read or is not a command tree.
    pub fn load(path: impl AsRef<Path>) -> Result<Schema, String> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_json(&text)
    }

    /// Parses the text of `inspect.json`.
    ///
    /// # Errors
    /// The text is not JSON or its top level is not an object.
    pub fn from_json(text: &str) -> Result<Schema, String> {
        let root: Value =
            serde_json::from_str(text).map_err(|e| format!("the schema is not JSON: {e}"))?;
        if !root.is_object() {
            return Err("the schema's top level is not an object".to_owned());
        }
        let mut menus = HashMap::new();
        collect(&root, String::new(), &mut menus);
        Ok(Schema { menus })
    }

    /// The schema file shipped next to the workspace
    /// (`../shared/routeros-schema/7.24/inspect.json` from the workspace
    /// root), or `None` when it is absent.
    pub fn find() -> Option<PathBuf> {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest
            .ancestors()
            .find(|dir| is_workspace_root(dir))
            .unwrap_or(manifest);
        let candidate = root.parent()?.join(RELATIVE_PATH);
        candidate.is_file().then_some(candidate)
    }

    /// How many menus the tree has, the root included.
    pub fn menu_count(&self) -> usize {
        self.menus.len()
    }

    /// How many commands the tree has.
    pub fn command_count(&self) -> usize {
        self.menus.values().map(BTreeMap::len).sum()
    }

    /// Whether `menu` (`ip/address`) is a menu.
    pub fn has_menu(&self, menu: &str) -> bool {
        self.menus.contains_key(menu.trim_matches('/'))
    }

    /// The argument names of `command` in `menu`, if both exist.
    pub fn command(&self, menu: &str, command: &str) -> Option<&BTreeSet<String>> {
        self.menus.get(menu.trim_matches('/'))?.get(command)
    }

    /// Whether `menu` is a single setting rather than a list of items: it
    /// prints, but its `print` takes no `where`.
    pub fn is_singleton(&self, menu: &str) -> bool {
        self.command(menu, "print")
            .is_some_and(|print| !print.contains("where"))
    }

    /// Checks one REST request against the tree.
    ///
    /// `path` is relative to `/rest/` (`ip/address/*1`); `query_keys` are the
    /// names in its query string, `body_keys` those of its JSON body.
    /// `GET` filters may name properties: a key is accepted when it is an
    /// argument of the menu's `print`, `set` or `add`.
    ///
    /// # Errors
    /// A sentence naming the unknown menu, command or argument.
    pub fn check(
        &self,
        method: &Method,
        path: &str,
        query_keys: &[&str],
        body_keys: &[&str],
    ) -> Result<(), String> {
        let path = path.trim_matches('/');
        let segments: Vec<&str> = if path.is_empty() {
            Vec::new()
        } else {
            path.split('/').collect()
        };
        let mut depth = 0;
        while depth < segments.len() && self.menus.contains_key(&segments[..=depth].join("/")) {
            depth += 1;
        }
        let menu = segments[..depth].join("/");
        let rest = &segments[depth..];
        let unknown =
            |segment: &str| format!("no such command or directory ({segment}) in /{path}");
        if rest.len() > 1 {
            return Err(unknown(rest[0]));
        }
        let Some(commands) = self.menus.get(&menu) else {
            return Err("the request names no menu".to_owned());
        };
        let child = rest.first().copied();
        let child_command = child.filter(|c| commands.contains_key(*c));
        let singleton = self.is_singleton(&menu);
        let command_args = |command: &str| {
            commands
                .get(command)
                .ok_or_else(|| format!("no such command ({command}) in /{menu}"))
        };
        match *method {
            Method::GET => {
                if let Some(command) = child_command {
                    return Err(format!(
                        "{command} is a command of /{menu}: run it with POST"
                    ));
                }
                let Some(print) = commands.get("print") else {
                    return Err(unknown(child.unwrap_or(&menu)));
                };
                if let (Some(id), true) = (child, singleton) {
                    return Err(unknown(id));
                }
                let empty = BTreeSet::new();
                let set = commands.get("set").unwrap_or(&empty);
                let add = commands.get("add").unwrap_or(&empty);
                for key in query_keys {
                    let known = print.contains(*key) || set.contains(*key) || add.contains(*key);
                    if !known && !ALWAYS_ALLOWED.contains(key) {
                        return Err(format!("unknown parameter {key} (/{menu} print)"));
                    }
                }
                Ok(())
            }
            Method::PUT => {
                if child.is_some() {
                    return Err(format!(
                        "PUT creates an item: send it to /{menu}, without an id"
                    ));
                }
                let add = commands.get("add").ok_or_else(|| {
                    format!("/{menu} has no add command: PUT cannot create items here")
                })?;
                check_args(add, body_keys, &menu, "add")
            }
            Method::PATCH => {
                let set = command_args("set")?;
                match child {
                    Some(command) if child_command.is_some() => Err(format!(
                        "{command} is a command of /{menu}: run it with POST"
                    )),
                    Some(id) if singleton => Err(format!(
                        "/{menu} is a single setting: PATCH /{menu} without an id (got {id})"
                    )),
                    None if !singleton => Err(format!(
                        "/{menu} holds items: PATCH /{menu}/<id> with the item's .id"
                    )),
                    _ => check_args(set, body_keys, &menu, "set"),
                }
            }
            Method::DELETE => {
                command_args("remove")?;
                match child {
                    Some(command) if child_command.is_some() => Err(format!(
                        "{command} is a command of /{menu}: run it with POST"
                    )),
                    Some(_) => Ok(()),
                    None => Err(format!(
                        "DELETE removes one item: DELETE /{menu}/<id> with the item's .id"
                    )),
                }
            }
            Method::POST => {
                let Some(command) = child else {
                    return Err(format!("POST runs a command: POST /{menu}/<command>"));
                };
                let args = commands
                    .get(command)
                    .ok_or_else(|| format!("no such command ({command}) in /{menu}"))?;
                check_args(args, body_keys, &menu, command)
            }
            ref other => Err(format!("{other} is not a method of the RouterOS REST API")),
        }
    }
}

/// Every key is an argument of the command, or always allowed.
fn check_args(
    args: &BTreeSet<String>,
    keys: &[&str],
    menu: &str,
    command: &str,
) -> Result<(), String> {
    match keys
        .iter()
        .find(|key| !args.contains(**key) && !ALWAYS_ALLOWED.contains(key))
    {
        Some(key) => Err(format!("unknown parameter {key} (/{menu} {command})")),
        None => Ok(()),
    }
}

/// Adds `node`'s commands under `path`, then its sub-menus.
fn collect(node: &Value, path: String, menus: &mut HashMap<String, Commands>) {
    let Some(children) = node.as_object() else {
        return;
    };
    let mut commands = Commands::new();
    let mut submenus = Vec::new();
    for (name, child) in children {
        match child.get("_type").and_then(Value::as_str) {
            Some("cmd") => {
                let args = child
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(_, arg)| arg.get("_type").and_then(Value::as_str) == Some("arg"))
                    .map(|(arg, _)| arg.clone())
                    .collect();
                commands.insert(name.clone(), args);
            }
            Some("dir" | "path") => submenus.push((name, child)),
            _ => {}
        }
    }
    for (name, child) in submenus {
        let sub = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}/{name}")
        };
        collect(child, sub, menus);
    }
    menus.insert(path, commands);
}

/// Whether `dir` holds a `Cargo.toml` with a `[workspace]` table.
fn is_workspace_root(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .is_ok_and(|text| text.lines().any(|line| line.trim() == "[workspace]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TREE: &str = r#"{
        "ip": {"_type": "path",
            "address": {"_type": "dir",
                "add": {"_type": "cmd", "address": {"_type": "arg"}, "interface": {"_type": "arg", "desc": "string value"}},
                "set": {"_type": "cmd", "numbers": {"_type": "arg"}, "address": {"_type": "arg"}, "comment": {"_type": "arg"}},
                "remove": {"_type": "cmd", "numbers": {"_type": "arg"}},
                "print": {"_type": "cmd", "proplist": {"_type": "arg"}, "where": {"_type": "arg"}, "without-paging": {"_type": "arg"}}
            },
            "dns": {"_type": "dir",
                "set": {"_type": "cmd", "servers": {"_type": "arg"}},
                "print": {"_type": "cmd", "as-value": {"_type": "arg"}},
                "cache": {"_type": "dir",
                    "flush": {"_type": "cmd"},
                    "print": {"_type": "cmd", "where": {"_type": "arg"}}
                }
            }
        },
        "tool": {"_type": "path", "ping": {"_type": "cmd", "address": {"_type": "arg"}, "count": {"_type": "arg"}}}
    }"#;

    fn schema() -> Schema {
        Schema::from_json(TREE).unwrap()
    }

    #[test]
    fn rest_methods_map_to_console_commands() {
        let s = schema();
        assert!(s.check(&Method::GET, "ip/address", &[], &[]).is_ok());
        assert!(
            s.check(&Method::GET, "ip/address/*1", &[".proplist"], &[])
                .is_ok()
        );
        assert!(
            s.check(
                &Method::GET,
                "ip/address",
                &["interface", "without-paging"],
                &[]
            )
            .is_ok()
        );
        assert!(
            s.check(&Method::PUT, "ip/address", &[], &["address", "interface"])
                .is_ok()
        );
        assert!(
            s.check(&Method::PATCH, "ip/address/*A", &[], &["comment", ".id"])
                .is_ok()
        );
        assert!(s.check(&Method::DELETE, "ip/address/*A", &[], &[]).is_ok());
        assert!(s.check(&Method::PATCH, "ip/dns", &[], &["servers"]).is_ok());
        assert!(
            s.check(&Method::POST, "ip/dns/cache/flush", &[], &[])
                .is_ok()
        );
        assert!(
            s.check(&Method::POST, "tool/ping", &[], &["address", "count"])
                .is_ok()
        );
    }

    #[test]
    fn unknown_names_are_named() {
        let s = schema();
        let err = s
            .check(&Method::PUT, "ip/address", &[], &["adress"])
            .unwrap_err();
        assert!(err.contains("unknown parameter adress"), "{err}");
        let err = s.check(&Method::GET, "ip/adress", &[], &[]).unwrap_err();
        assert!(err.contains("(adress)"), "{err}");
        let err = s.check(&Method::POST, "tool/pong", &[], &[]).unwrap_err();
        assert!(err.contains("(pong)"), "{err}");
        assert!(
            s.check(&Method::GET, "ip/address", &["bogus"], &[])
                .is_err()
        );
        assert!(
            s.check(&Method::GET, "ip/dns/cache/flush", &[], &[])
                .is_err()
        );
    }

    #[test]
    fn singletons_and_lists_are_patched_differently() {
        let s = schema();
        assert!(s.is_singleton("ip/dns"));
        assert!(!s.is_singleton("ip/address"));
        assert!(
            s.check(&Method::PATCH, "ip/address", &[], &["comment"])
                .is_err()
        );
        assert!(
            s.check(&Method::PATCH, "ip/dns/*1", &[], &["servers"])
                .is_err()
        );
        assert!(s.check(&Method::PUT, "ip/dns", &[], &["servers"]).is_err());
        assert!(s.check(&Method::DELETE, "ip/address", &[], &[]).is_err());
    }
}
