//! What one simulated router holds: lists of items (`ip/address`) and single
//! settings (`ip/dns`), every value a string as RouterOS's REST API sends it.

use std::collections::{BTreeMap, BTreeSet};

/// One item or setting: property name to value, `.id` included for items.
pub type Item = BTreeMap<String, String>;

/// Builds an [`Item`] from pairs.
pub fn item(pairs: &[(&str, &str)]) -> Item {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A menu holding items, each with an `.id` such as `*1` or `*1A` (hex),
/// handed out in order and never reused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    items: Vec<Item>,
    next_id: u64,
}

impl Table {
    /// A table holding `items`, given ids `*1`, `*2`, … in order.
    pub fn with_items(items: impl IntoIterator<Item = Item>) -> Self {
        let mut table = Self::default();
        for item in items {
            table.insert(item);
        }
        table
    }

    /// The items, in order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Where the item addressed by `key` (its `.id`, or its `name` as
    /// RouterOS also accepts) sits.
    pub fn position(&self, key: &str) -> Option<usize> {
        self.items
            .iter()
            .position(|i| i.get(".id").is_some_and(|id| id == key))
            .or_else(|| {
                self.items
                    .iter()
                    .position(|i| i.get("name").is_some_and(|name| name == key))
            })
    }

    /// The item addressed by `key` (`.id` or `name`).
    pub fn get(&self, key: &str) -> Option<&Item> {
        self.position(key).map(|at| &self.items[at])
    }

    /// The item addressed by `key` (`.id` or `name`), to change.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Item> {
        self.position(key).map(move |at| &mut self.items[at])
    }

    /// The first item whose `property` is `value`.
    pub fn find(&self, property: &str, value: &str) -> Option<&Item> {
        self.items
            .iter()
            .find(|i| i.get(property).is_some_and(|v| v == value))
    }

    /// Appends `item` with a fresh `.id`, which is returned.
    pub fn insert(&mut self, mut item: Item) -> String {
        self.next_id += 1;
        let id = format!("*{:X}", self.next_id);
        item.insert(".id".to_owned(), id.clone());
        self.items.push(item);
        id
    }

    /// Removes the item addressed by `key` (`.id` or `name`).
    pub fn remove(&mut self, key: &str) -> Option<Item> {
        self.position(key).map(|at| self.items.remove(at))
    }

    /// Removes every item.
    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// Moves the item `key` before the item `before`, or to the end.
    /// Returns false when either is missing.
    pub fn move_before(&mut self, key: &str, before: Option<&str>) -> bool {
        let Some(from) = self.position(key) else {
            return false;
        };
        if before.is_some_and(|b| self.position(b).is_none()) {
            return false;
        }
        let moved = self.items.remove(from);
        let to = before
            .and_then(|b| self.position(b))
            .unwrap_or(self.items.len());
        self.items.insert(to, moved);
        true
    }
}

/// The configuration and live data of one simulated router.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceState {
    /// Menus holding items, by path (`ip/address`).
    pub tables: BTreeMap<String, Table>,
    /// Single-setting menus, by path (`ip/dns`, `system/identity`).
    pub settings: BTreeMap<String, Item>,
    /// Hosts that `tool/ping` and `tool/traceroute` never reach.
    pub unreachable_hosts: BTreeSet<String>,
    /// Whether the legacy `wireless` package is installed, which brings
    /// `interface/wireless` and `caps-man`. RouterOS 7 devices with the
    /// `wifi` package have neither: those menus then answer 404.
    pub legacy_wireless: bool,
}

impl DeviceState {
    /// The table at `menu`.
    pub fn table(&self, menu: &str) -> Option<&Table> {
        self.tables.get(menu)
    }

    /// The table at `menu`, to change.
    pub fn table_mut(&mut self, menu: &str) -> Option<&mut Table> {
        self.tables.get_mut(menu)
    }

    /// The item `key` (`.id` or `name`) of the table at `menu`.
    pub fn item(&self, menu: &str, key: &str) -> Option<&Item> {
        self.tables.get(menu)?.get(key)
    }

    /// The single setting at `menu`.
    pub fn setting(&self, menu: &str) -> Option<&Item> {
        self.settings.get(menu)
    }

    /// One property of the single setting at `menu`.
    pub fn setting_value(&self, menu: &str, property: &str) -> Option<&str> {
        self.settings.get(menu)?.get(property).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_and_never_reused() {
        let mut t = Table::with_items((0..10).map(|_| Item::new()));
        assert_eq!(t.items()[9][".id"], "*A");
        assert!(t.remove("*A").is_some());
        assert_eq!(t.insert(Item::new()), "*B");
    }

    #[test]
    fn items_are_found_by_id_or_name_and_moved() {
        let mut t = Table::with_items([item(&[("name", "a")]), item(&[("name", "b")])]);
        assert_eq!(t.get("b").unwrap()[".id"], "*2");
        assert!(t.move_before("*2", Some("*1")));
        assert_eq!(t.items()[0]["name"], "b");
        assert!(t.move_before("b", None));
        assert_eq!(t.items()[1]["name"], "b");
        assert!(!t.move_before("*9", None));
    }
}
