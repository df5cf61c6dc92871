//! Cursor pagination. Ids are time-ordered UUIDv7s, so "everything after this
//! id" is a stable cursor that survives inserts and deletes.

use serde::Serialize;
use uuid::Uuid;

/// The largest page a caller may ask for.
pub const MAX_PAGE_SIZE: u32 = 500;
/// The page size when none is given.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// Which page to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Return items whose id sorts after this one.
    pub after: Option<Uuid>,
    /// At most this many items (clamped to 1..=[`MAX_PAGE_SIZE`]).
    pub limit: u32,
}

impl PageRequest {
    /// A page request with the limit clamped to the allowed range.
    pub fn new(after: Option<Uuid>, limit: Option<u32>) -> Self {
        Self {
            after,
            limit: limit.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE),
        }
    }

    /// Cuts one page out of `items`, which must be sorted by `id`.
    pub fn paginate<T>(
        self,
        items: impl IntoIterator<Item = T>,
        id: impl Fn(&T) -> Uuid,
    ) -> Page<T> {
        let limit = self.limit as usize;
        let mut out: Vec<T> = items
            .into_iter()
            .filter(|t| self.after.is_none_or(|a| id(t) > a))
            .take(limit + 1)
            .collect();
        let next_cursor = if out.len() > limit {
            out.truncate(limit);
            out.last().map(&id)
        } else {
            None
        };
        Page {
            items: out,
            next_cursor,
        }
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::new(None, None)
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; `None` on the last page.
    pub next_cursor: Option<Uuid>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_every_item_once() {
        let ids: Vec<Uuid> = (1..=7u128).map(Uuid::from_u128).collect();
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = PageRequest::new(after, Some(3)).paginate(ids.clone(), |u| *u);
            seen.extend(page.items);
            match page.next_cursor {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, ids);
    }

    #[test]
    fn limit_is_clamped() {
        assert_eq!(PageRequest::new(None, Some(0)).limit, 1);
        assert_eq!(PageRequest::new(None, Some(10_000)).limit, MAX_PAGE_SIZE);
    }
}
