//! Lists page by page: the paging query, page bodies, and the one way a
//! list operation answers with the items its caller may see.

use super::Gate;
use crate::http::problem::ApiError;
use poem_openapi::payload::Json;
use rbac::{AuthzIndex, Permission, Resource};
use std::future::Future;
use uuid::Uuid;

/// An item of a list, ordered and resumed by its id.
pub trait ListItem {
    /// The id `after` is compared with.
    fn cursor(&self) -> Uuid;
}

/// The body of one page of a list.
pub trait PageBody: From<kernel::Page<Self::Item>> {
    /// What the list holds.
    type Item: ListItem;
}

/// Defines the page body of a list of `$item` (whose `id` is the cursor).
macro_rules! page {
    ($name:ident, $item:ty) => {
        /// One page of results; pass `next_cursor` as `after` for the next.
        #[derive(Debug, poem_openapi::Object)]
        pub struct $name {
            pub items: Vec<$item>,
            #[oai(skip_serializing_if_is_none)]
            pub next_cursor: Option<uuid::Uuid>,
        }

        impl From<kernel::Page<$item>> for $name {
            fn from(p: kernel::Page<$item>) -> Self {
                Self {
                    items: p.items,
                    next_cursor: p.next_cursor,
                }
            }
        }

        impl $crate::rest::page::PageBody for $name {
            type Item = $item;
        }

        impl $crate::rest::page::ListItem for $item {
            fn cursor(&self) -> uuid::Uuid {
                self.id
            }
        }
    };
}
pub(crate) use page;

/// Query parameters of list operations.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub after: Option<Uuid>,
    pub limit: Option<u32>,
}

impl Paging {
    /// The paging query `after` and `limit` name.
    pub fn new(after: Option<Uuid>, limit: Option<u32>) -> Self {
        Paging { after, limit }
    }

    /// One page of `items`, every one of which the caller may see.
    pub fn page<T, B>(self, items: impl IntoIterator<Item = T>) -> Json<B>
    where
        B: PageBody,
        B::Item: From<T>,
    {
        let request = kernel::PageRequest::new(self.after, self.limit);
        Json(
            request
                .paginate(items.into_iter().map(B::Item::from), ListItem::cursor)
                .into(),
        )
    }

    /// The list operation: requires `perm` somewhere in the caller's
    /// tenant (recorded by the gate), then loads the items (`load` runs
    /// only once that is settled) and answers one page of those the
    /// caller may see, each as `resource` names it.
    pub async fn visible<T, B, E>(
        self,
        gate: &Gate,
        perm: Permission,
        load: impl Future<Output = Result<Vec<T>, E>>,
        resource: impl Fn(&T) -> Resource,
    ) -> Result<Json<B>, ApiError>
    where
        B: PageBody,
        B::Item: From<T>,
        ApiError: From<E>,
    {
        let index = gate.authorize_list(perm).await?;
        self.visible_in(gate, &index, perm, load.await?, resource)
    }

    /// One page of the `items` the caller may see by `index`, for a list
    /// whose permission the operation has settled itself.
    pub fn visible_in<T, B>(
        self,
        gate: &Gate,
        index: &AuthzIndex,
        perm: Permission,
        items: Vec<T>,
        resource: impl Fn(&T) -> Resource,
    ) -> Result<Json<B>, ApiError>
    where
        B: PageBody,
        B::Item: From<T>,
    {
        let visible = items
            .into_iter()
            .filter(|item| gate.visible(index, perm, resource(item)));
        Ok(self.page(visible))
    }
}
