//! The authorizer: keeps one compiled [`AuthzIndex`] per tenant, rebuilds it
//! when the tenant's generation moves (on any instance), and turns "not in
//! my tenant" into either a cross-tenant denial or "no such thing".

use crate::decision::{Decision, DenyReason, Grant};
use crate::index::{AuthzIndex, Resource};
use crate::permission::Permission;
use crate::ports::AuthzSource;
use kernel::{Principal, StoreError, TenantId};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::RwLock;

/// The outcome of an authorization question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A decision about an existing resource.
    Decided(Decision),
    /// The resource does not exist anywhere.
    NotFound,
}

/// Decides requests against per-tenant compiled indexes.
pub struct Authorizer {
    source: Arc<dyn AuthzSource>,
    cache: RwLock<HashMap<TenantId, Arc<AuthzIndex>>>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer").finish_non_exhaustive()
    }
}

impl Authorizer {
    /// An authorizer reading from `source`.
    pub fn new(source: Arc<dyn AuthzSource>) -> Self {
        Self {
            source,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The tenant's current index, rebuilt if its generation moved.
    pub async fn index(&self, tenant: TenantId) -> Result<Arc<AuthzIndex>, StoreError> {
        let generation = self.source.generation(tenant).await?;
        if let Some(idx) = self.cache.read().await.get(&tenant) {
            if idx.generation() == generation {
                return Ok(idx.clone());
            }
        }
        let snapshot = self.source.snapshot(tenant).await?;
        let idx = Arc::new(AuthzIndex::compile(tenant, &snapshot));
        self.cache.write().await.insert(tenant, idx.clone());
        Ok(idx)
    }

    /// Decides whether `who` may use `perm` on `resource`.
    pub async fn decide(
        &self,
        who: &Principal,
        perm: Permission,
        resource: Resource,
    ) -> Result<Outcome, StoreError> {
        if resource == Resource::Platform {
            return Ok(Outcome::Decided(if who.platform_admin {
                Decision::Allow(Grant::PlatformAdmin)
            } else {
                Decision::Deny(DenyReason::MissingPermission { permission: perm })
            }));
        }
        let index = self.index(who.tenant_id).await?;
        if let Some(d) = index.decide(who.user_id, perm, resource) {
            return Ok(Outcome::Decided(d));
        }
        let Some(id) = resource.id() else {
            return Ok(Outcome::NotFound);
        };
        Ok(match self.source.tenant_of(id).await? {
            Some(t) if t != who.tenant_id => {
                Outcome::Decided(Decision::Deny(DenyReason::CrossTenant))
            }
            // Created after the index was read: rebuild once and ask again.
            Some(_) => match self
                .index(who.tenant_id)
                .await?
                .decide(who.user_id, perm, resource)
            {
                Some(d) => Outcome::Decided(d),
                None => Outcome::NotFound,
            },
            None => Outcome::NotFound,
        })
    }
}
