//! How the simulated menus behave: which lists take `add`, `set` and
//! `remove`, which properties are required, unique or must name another
//! item, the defaults RouterOS fills in, and printing with filters.
//!
//! Menus without an entry here behave as the schema says (or, without a
//! schema, as plain lists), with no checks on their values.

use std::net::Ipv4Addr;

use serde_json::Value;

use crate::schema::Schema;
use crate::state::{DeviceState, Item};

/// Which of `add`, `set` and `remove` a menu has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ops {
    pub add: bool,
    pub set: bool,
    pub remove: bool,
}

const CRUD: Ops = Ops {
    add: true,
    set: true,
    remove: true,
};
const SET_ONLY: Ops = Ops {
    add: false,
    set: true,
    remove: false,
};
const READ_ONLY: Ops = Ops {
    add: false,
    set: false,
    remove: false,
};

/// What the simulator knows of one menu beyond the schema.
struct Spec {
    path: &'static str,
    ops: Ops,
    /// Properties `add` cannot do without.
    required: &'static [&'static str],
    /// Properties whose values together must differ between items.
    unique: &'static [&'static str],
    /// The failure RouterOS gives for a duplicate.
    duplicate: &'static str,
    /// Properties that must name an item of another menu.
    refs: &'static [(&'static str, &'static str)],
    /// Values `add` fills in.
    defaults: &'static [(&'static str, &'static str)],
}

const NOT_DYNAMIC: &[(&str, &str)] = &[("disabled", "false"), ("dynamic", "false")];

const SPECS: &[Spec] = &[
    Spec {
        path: "ip/address",
        ops: CRUD,
        required: &["address", "interface"],
        unique: &["address", "interface"],
        duplicate: "failure: already have such address",
        refs: &[("interface", "interface")],
        defaults: &[
            ("disabled", "false"),
            ("dynamic", "false"),
            ("invalid", "false"),
        ],
    },
    Spec {
        path: "ip/route",
        ops: CRUD,
        required: &[],
        unique: &[],
        duplicate: "",
        refs: &[],
        defaults: &[
            ("dst-address", "0.0.0.0/0"),
            ("routing-table", "main"),
            ("distance", "1"),
            ("scope", "30"),
            ("target-scope", "10"),
            ("static", "true"),
            ("active", "true"),
            ("inactive", "false"),
            ("disabled", "false"),
            ("dynamic", "false"),
        ],
    },
    Spec {
        path: "ip/firewall/filter",
        ops: CRUD,
        required: &["chain"],
        unique: &[],
        duplicate: "",
        refs: &[],
        defaults: &[
            ("action", "accept"),
            ("bytes", "0"),
            ("packets", "0"),
            ("log", "false"),
            ("log-prefix", ""),
            ("invalid", "false"),
            ("disabled", "false"),
            ("dynamic", "false"),
        ],
    },
    Spec {
        path: "ip/firewall/nat",
        ops: CRUD,
        required: &["chain"],
        unique: &[],
        duplicate: "",
        refs: &[],
        defaults: &[
            ("action", "accept"),
            ("bytes", "0"),
            ("packets", "0"),
            ("log", "false"),
            ("invalid", "false"),
            ("disabled", "false"),
            ("dynamic", "false"),
        ],
    },
    Spec {
        path: "ip/firewall/address-list",
        ops: CRUD,
        required: &["list", "address"],
        unique: &["list", "address"],
        duplicate: "failure: already have such entry",
        refs: &[],
        defaults: &[
            ("creation-time", "2026-01-13 12:00:00"),
            ("disabled", "false"),
            ("dynamic", "false"),
        ],
    },
    Spec {
        path: "system/scheduler",
        ops: CRUD,
        required: &["name"],
        unique: &["name"],
        duplicate: "failure: item with such name already exists",
        refs: &[],
        defaults: &[
            ("start-date", "2026-01-13"),
            ("start-time", "startup"),
            ("interval", "0s"),
            ("on-event", ""),
            (
                "policy",
                "ftp,reboot,read,write,policy,test,password,sniff,sensitive,romon",
            ),
            ("run-count", "0"),
            ("next-run", ""),
            ("disabled", "false"),
        ],
    },
    Spec {
        path: "interface/bridge",
        ops: CRUD,
        required: &[],
        unique: &["name"],
        duplicate: "failure: item with such name already exists",
        refs: &[],
        defaults: &[
            ("mtu", "auto"),
            ("protocol-mode", "rstp"),
            ("vlan-filtering", "false"),
            ("running", "true"),
            ("disabled", "false"),
        ],
    },
    Spec {
        path: "interface/bridge/port",
        ops: CRUD,
        required: &["interface", "bridge"],
        unique: &["interface"],
        duplicate: "failure: device already added as bridge port",
        refs: &[("interface", "interface"), ("bridge", "interface/bridge")],
        defaults: &[
            ("pvid", "1"),
            ("hw", "true"),
            ("inactive", "false"),
            ("disabled", "false"),
            ("dynamic", "false"),
        ],
    },
    Spec {
        path: "ip/dhcp-server/lease",
        ops: CRUD,
        required: &["address", "mac-address"],
        unique: &["mac-address", "server"],
        duplicate: "failure: already have static lease for this client",
        refs: &[],
        defaults: &[
            ("server", "all"),
            ("status", "waiting"),
            ("disabled", "false"),
            ("dynamic", "false"),
        ],
    },
    Spec {
        path: "system/logging",
        ops: CRUD,
        required: &["topics"],
        unique: &[],
        duplicate: "",
        refs: &[],
        defaults: &[
            ("action", "memory"),
            ("prefix", ""),
            ("default", "false"),
            ("disabled", "false"),
        ],
    },
    Spec {
        path: "interface",
        ops: SET_ONLY,
        required: &[],
        unique: &["name"],
        duplicate: "failure: interface with such name exists",
        refs: &[],
        defaults: &[],
    },
    Spec {
        path: "interface/wifi",
        ops: CRUD,
        required: &[],
        unique: &["name"],
        duplicate: "failure: interface with such name exists",
        refs: &[],
        defaults: NOT_DYNAMIC,
    },
    Spec {
        path: "ip/arp",
        ops: CRUD,
        required: &["address", "interface"],
        unique: &["address", "interface"],
        duplicate: "failure: already have such entry",
        refs: &[("interface", "interface")],
        defaults: NOT_DYNAMIC,
    },
    Spec {
        path: "system/resource",
        ops: READ_ONLY,
        required: &[],
        unique: &[],
        duplicate: "",
        refs: &[],
        defaults: &[],
    },
    Spec {
        path: "system/package",
        ops: READ_ONLY,
        required: &[],
        unique: &[],
        duplicate: "",
        refs: &[],
        defaults: &[],
    },
    Spec {
        path: "ip/dns/cache",
        ops: READ_ONLY,
        required: &[],
        unique: &[],
        duplicate: "",
        refs: &[],
        defaults: &[],
    },
    Spec {
        path: "log",
        ops: READ_ONLY,
        required: &[],
        unique: &[],
        duplicate: "",
        refs: &[],
        defaults: &[],
    },
];

/// Properties that hold booleans, which RouterOS also accepts as yes/no.
const BOOLEANS: &[&str] = &[
    "disabled",
    "enabled",
    "dynamic",
    "allow-remote-requests",
    "verify-doh-cert",
    "time-zone-autodetect",
    "vlan-filtering",
    "fast-forward",
    "auto-mac",
    "log",
    "hw",
    "hw-offload",
    "running",
    "blocked",
];

/// `print` arguments that shape output rather than filter items.
const PRINT_WORDS: &[&str] = &[
    "append",
    "as-value",
    "brief",
    "comments",
    "count-only",
    "detail",
    "file",
    "follow",
    "follow-only",
    "from",
    "group-by",
    "interval",
    "oid",
    "on-event",
    "order-by",
    "proplist",
    "show-ids",
    "stats",
    "stats-detail",
    "terse",
    "timestamp",
    "value-list",
    "where",
    "with-extra-info",
    "without-paging",
];

/// Why an operation on a menu failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No item has that id: 404.
    NotFound,
    /// RouterOS refused the values: 400 with this detail.
    Bad(String),
}

fn spec(menu: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.path == menu)
}

/// The operations `menu` allows.
pub(crate) fn ops(menu: &str, schema: Option<&Schema>) -> Ops {
    if let Some(spec) = spec(menu) {
        return spec.ops;
    }
    match schema {
        Some(s) if s.has_menu(menu) => Ops {
            add: s.command(menu, "add").is_some(),
            set: s.command(menu, "set").is_some(),
            remove: s.command(menu, "remove").is_some(),
        },
        _ => CRUD,
    }
}

/// `value` as stored for `key`: yes/no become true/false for booleans.
pub(crate) fn normalize(key: &str, value: &str, current: Option<&str>) -> String {
    let boolean = BOOLEANS.contains(&key) || matches!(current, Some("true" | "false"));
    match value {
        "yes" if boolean => "true".to_owned(),
        "no" if boolean => "false".to_owned(),
        other => other.to_owned(),
    }
}

/// Whether an item's `key` matches a filter value, yes/no meaning true/false.
fn matches(item: &Item, key: &str, wanted: &str) -> bool {
    item.get(key)
        .is_some_and(|have| *have == normalize(key, wanted, Some(have)))
}

/// The items matching every `filters` pair (print words are skipped), with
/// only the `proplist` properties when one is given.
pub(crate) fn print<'a>(
    items: impl IntoIterator<Item = &'a Item>,
    filters: &[(String, String)],
    proplist: Option<&[String]>,
) -> Vec<Value> {
    let filters: Vec<&(String, String)> = filters
        .iter()
        .filter(|(k, _)| !k.starts_with('.') && !PRINT_WORDS.contains(&k.as_str()))
        .collect();
    items
        .into_iter()
        .filter(|item| filters.iter().all(|(k, v)| matches(item, k, v)))
        .map(|item| project(item, proplist))
        .collect()
}

/// `item` as JSON, restricted to `proplist` when given.
pub(crate) fn project(item: &Item, proplist: Option<&[String]>) -> Value {
    Value::Object(
        item.iter()
            .filter(|(k, _)| proplist.is_none_or(|p| p.iter().any(|name| name == *k)))
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// `add`: a new item in `menu` from `args`; returns it.
pub(crate) fn add(
    state: &mut DeviceState,
    schema: Option<&Schema>,
    menu: &str,
    args: &[(String, String)],
    owner: &str,
) -> Result<Item, Failure> {
    if !ops(menu, schema).add {
        return Err(Failure::Bad(format!("no such command (add) in /{menu}")));
    }
    let mut new = Item::new();
    for (key, value) in args.iter().filter(|(k, _)| !k.starts_with('.')) {
        new.insert(key.clone(), normalize(key, value, None));
    }
    if let Some(spec) = spec(menu) {
        if let Some(missing) = spec
            .required
            .iter()
            .find(|k| new.get(**k).is_none_or(String::is_empty))
        {
            return Err(Failure::Bad(format!(
                "missing value(s) of argument(s) {missing}"
            )));
        }
        for (key, value) in spec.defaults {
            new.entry((*key).to_owned())
                .or_insert_with(|| (*value).to_owned());
        }
    } else {
        new.entry("disabled".to_owned())
            .or_insert_with(|| "false".to_owned());
    }
    if menu == "system/scheduler" {
        new.insert("owner".to_owned(), owner.to_owned());
    }
    validate(state, menu, &mut new, None)?;
    let table = state.tables.entry(menu.to_owned()).or_default();
    let id = table.insert(new);
    table
        .get(&id)
        .cloned()
        .ok_or_else(|| Failure::Bad("the new item vanished".to_owned()))
}

/// `set` on item `key` of `menu`; returns the item as it now is.
pub(crate) fn set(
    state: &mut DeviceState,
    schema: Option<&Schema>,
    menu: &str,
    key: &str,
    args: &[(String, String)],
) -> Result<Item, Failure> {
    if !ops(menu, schema).set {
        return Err(Failure::Bad(format!("no such command (set) in /{menu}")));
    }
    let current = state.item(menu, key).ok_or(Failure::NotFound)?.clone();
    if current.get("dynamic").is_some_and(|d| d == "true") {
        return Err(Failure::Bad(
            "failure: can not change dynamic item".to_owned(),
        ));
    }
    let mut updated = current.clone();
    apply(&mut updated, args);
    let id = current.get(".id").cloned().unwrap_or_default();
    validate(state, menu, &mut updated, Some(&id))?;
    let slot = state
        .tables
        .get_mut(menu)
        .and_then(|t| t.get_mut(&id))
        .ok_or(Failure::NotFound)?;
    *slot = updated.clone();
    Ok(updated)
}

/// `set` on the single setting `menu`; returns it as it now is.
pub(crate) fn set_setting(
    state: &mut DeviceState,
    schema: Option<&Schema>,
    menu: &str,
    args: &[(String, String)],
) -> Result<Item, Failure> {
    let settable = match schema {
        Some(s) if s.has_menu(menu) => s.command(menu, "set").is_some(),
        _ => spec(menu).is_none_or(|spec| spec.ops.set),
    };
    if !settable {
        return Err(Failure::Bad(format!("no such command (set) in /{menu}")));
    }
    if menu == "system/identity" && args.iter().any(|(k, v)| k == "name" && v.is_empty()) {
        return Err(Failure::Bad("value of name is empty".to_owned()));
    }
    let setting = state.settings.entry(menu.to_owned()).or_default();
    apply(setting, args);
    Ok(setting.clone())
}

/// `remove` of item `key` from `menu`.
pub(crate) fn remove(
    state: &mut DeviceState,
    schema: Option<&Schema>,
    menu: &str,
    key: &str,
) -> Result<(), Failure> {
    if !ops(menu, schema).remove {
        return Err(Failure::Bad(format!("no such command (remove) in /{menu}")));
    }
    let table = state.tables.get_mut(menu).ok_or(Failure::NotFound)?;
    let item = table.get(key).ok_or(Failure::NotFound)?;
    if item.get("dynamic").is_some_and(|d| d == "true") {
        return Err(Failure::Bad(
            "failure: can not remove dynamic item".to_owned(),
        ));
    }
    table.remove(key);
    Ok(())
}

/// Writes `args` into `item`, leaving the id and REST words alone.
fn apply(item: &mut Item, args: &[(String, String)]) {
    for (key, value) in args {
        if key.starts_with('.') || key == "numbers" {
            continue;
        }
        let stored = normalize(key, value, item.get(key).map(String::as_str));
        item.insert(key.clone(), stored);
    }
}

/// Checks references and uniqueness and fills in derived values, for an
/// item being added (`id` None) or changed.
fn validate(
    state: &DeviceState,
    menu: &str,
    item: &mut Item,
    id: Option<&str>,
) -> Result<(), Failure> {
    if menu == "ip/address" {
        let given = item.get("address").cloned().unwrap_or_default();
        let (address, network) = parse_cidr(&given)
            .ok_or_else(|| Failure::Bad(format!("invalid value of address: {given}")))?;
        item.insert("address".to_owned(), address);
        item.insert("network".to_owned(), network);
        if let Some(interface) = item.get("interface").cloned() {
            item.insert("actual-interface".to_owned(), interface);
        }
    }
    if menu == "ip/route"
        && !item.contains_key("immediate-gw")
        && let Some(gateway) = item.get("gateway").cloned()
    {
        item.insert("immediate-gw".to_owned(), gateway);
    }
    let Some(spec) = spec(menu) else {
        return Ok(());
    };
    for (property, target) in spec.refs {
        if let Some(value) = item.get(*property)
            && state.item(target, value).is_none()
        {
            return Err(Failure::Bad(format!(
                "input does not match any value of {property}"
            )));
        }
    }
    if !spec.unique.is_empty() {
        let clash = state
            .table(menu)
            .into_iter()
            .flat_map(|t| t.items())
            .any(|other| {
                other.get(".id").map(String::as_str) != id
                    && spec.unique.iter().all(|k| other.get(*k) == item.get(*k))
            });
        if clash {
            return Err(Failure::Bad(spec.duplicate.to_owned()));
        }
    }
    Ok(())
}

/// `a.b.c.d/len` (or a bare address, taken as /32) and its network.
fn parse_cidr(text: &str) -> Option<(String, String)> {
    let (address, len) = match text.split_once('/') {
        Some((a, l)) => (a, l.parse::<u32>().ok()?),
        None => (text, 32),
    };
    let address: Ipv4Addr = address.parse().ok()?;
    if len > 32 {
        return None;
    }
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    let network = Ipv4Addr::from(u32::from(address) & mask);
    Some((format!("{address}/{len}"), network.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_derived() {
        assert_eq!(
            parse_cidr("10.1.2.3/24"),
            Some(("10.1.2.3/24".into(), "10.1.2.0".into()))
        );
        assert_eq!(
            parse_cidr("10.1.2.3"),
            Some(("10.1.2.3/32".into(), "10.1.2.3".into()))
        );
        assert_eq!(parse_cidr("0.0.0.0/0").map(|p| p.1), Some("0.0.0.0".into()));
        assert!(parse_cidr("10.1.2/24").is_none());
        assert!(parse_cidr("10.1.2.3/33").is_none());
    }

    #[test]
    fn adds_check_references_and_duplicates() {
        let mut s = DeviceState::seeded("r1", 1);
        let args = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect()
        };
        let err = add(
            &mut s,
            None,
            "ip/address",
            &args(&[("address", "10.9.9.1/24"), ("interface", "ether9")]),
            "admin",
        );
        assert!(matches!(err, Err(Failure::Bad(m)) if m.contains("interface")));
        let ok = add(
            &mut s,
            None,
            "ip/address",
            &args(&[("address", "10.9.9.1/24"), ("interface", "ether3")]),
            "admin",
        )
        .unwrap();
        assert_eq!(ok["network"], "10.9.9.0");
        let dup = add(
            &mut s,
            None,
            "ip/address",
            &args(&[("address", "10.9.9.1/24"), ("interface", "ether3")]),
            "admin",
        );
        assert!(matches!(dup, Err(Failure::Bad(m)) if m.contains("already")));
        let dynamic = s.table("ip/route").unwrap().items()[1][".id"].clone();
        assert!(remove(&mut s, None, "ip/route", &dynamic).is_err());
    }
}
