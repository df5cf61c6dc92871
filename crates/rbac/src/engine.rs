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
pub enum Ruling {
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
        if let Some(idx) = self.cache.read().await.get(&tenant)
            && idx.generation() == generation
        {
            return Ok(idx.clone());
        }
        let snapshot = self.source.snapshot(tenant).await?;
        let idx = Arc::new(AuthzIndex::compile(tenant, &snapshot));
        self.cache.write().await.insert(tenant, idx.clone());
        Ok(idx)
    }

    /// The tenant owning the entity with `id`, if it exists.
    pub async fn tenant_of(&self, id: uuid::Uuid) -> Result<Option<TenantId>, StoreError> {
        self.source.tenant_of(id).await
    }

    /// Decides whether `who` may use `perm` on `resource`.
    pub async fn decide(
        &self,
        who: &Principal,
        perm: Permission,
        resource: Resource,
    ) -> Result<Ruling, StoreError> {
        if resource == Resource::Platform {
            return Ok(Ruling::Decided(if who.platform_admin {
                Decision::Allow(Grant::PlatformAdmin)
            } else {
                Decision::Deny(DenyReason::MissingPermission { permission: perm })
            }));
        }
        let index = self.index(who.tenant_id).await?;
        if let Some(d) = index.decide(who.user_id, perm, resource) {
            return Ok(Ruling::Decided(d));
        }
        let Some(id) = resource.id() else {
            return Ok(Ruling::NotFound);
        };
        Ok(match self.source.tenant_of(id).await? {
            Some(t) if t != who.tenant_id => {
                Ruling::Decided(Decision::Deny(DenyReason::CrossTenant))
            }
            // Created after the index was read: rebuild once and ask again.
            Some(_) => match self
                .index(who.tenant_id)
                .await?
                .decide(who.user_id, perm, resource)
            {
                Some(d) => Ruling::Decided(d),
                None => Ruling::NotFound,
            },
            None => Ruling::NotFound,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::TenantSnapshot;
    use crate::role::BuiltinRole;
    use async_trait::async_trait;
    use kernel::{AuthMethod, SiteId, UserId};
    use mockall::predicate::eq;
    use tenancy::Scope;
    use uuid::Uuid;

    mockall::mock! {
        Source {}
        #[async_trait]
        impl AuthzSource for Source {
            async fn generation(&self, tenant: TenantId) -> Result<u64, StoreError>;
            async fn snapshot(&self, tenant: TenantId) -> Result<crate::TenantSnapshot, StoreError>;
            async fn tenant_of(&self, id: Uuid) -> Result<Option<TenantId>, StoreError>;
        }
    }

    fn principal(user: UserId, tenant: TenantId) -> Principal {
        Principal {
            user_id: user,
            tenant_id: tenant,
            email: "u@example.test".into(),
            platform_admin: false,
            auth: AuthMethod::Session,
            credential_expires_at: None,
        }
    }

    fn owner_snapshot(tenant: TenantId, user: UserId, generation: u64) -> TenantSnapshot {
        TenantSnapshot {
            tenant_id: Some(tenant),
            generation,
            users: vec![user],
            bindings: vec![crate::RoleBinding {
                id: Uuid::from_u128(50).into(),
                tenant_id: tenant,
                user_id: user,
                role_id: BuiltinRole::OrgAdmin.id(),
                scope: Scope::Tenant(tenant),
                environments: None,
                created_at: time::OffsetDateTime::UNIX_EPOCH,
            }],
            ..TenantSnapshot::default()
        }
    }

    #[tokio::test]
    async fn the_index_is_compiled_once_per_generation() {
        let tenant = TenantId::from_uuid(Uuid::from_u128(1));
        let user = UserId::from_uuid(Uuid::from_u128(2));
        let mut source = MockSource::new();
        let mut seq = mockall::Sequence::new();
        source
            .expect_generation()
            .times(2)
            .in_sequence(&mut seq)
            .returning(|_| Ok(7));
        source
            .expect_snapshot()
            .with(eq(tenant))
            .times(1)
            .returning(move |t| Ok(owner_snapshot(t, user, 7)));
        source
            .expect_generation()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(8));
        source
            .expect_snapshot()
            .times(1)
            .returning(move |t| Ok(owner_snapshot(t, user, 8)));
        let authz = Authorizer::new(Arc::new(source));
        for expected in [7, 7, 8] {
            assert_eq!(authz.index(tenant).await.unwrap().generation(), expected);
        }
    }

    #[tokio::test]
    async fn unknown_ids_are_told_apart_from_other_tenants() {
        let tenant = TenantId::from_uuid(Uuid::from_u128(1));
        let other = TenantId::from_uuid(Uuid::from_u128(3));
        let user = UserId::from_uuid(Uuid::from_u128(2));
        let foreign = Uuid::from_u128(77);
        let missing = Uuid::from_u128(78);
        let mut source = MockSource::new();
        source.expect_generation().returning(|_| Ok(1));
        source
            .expect_snapshot()
            .returning(move |t| Ok(owner_snapshot(t, user, 1)));
        source
            .expect_tenant_of()
            .with(eq(foreign))
            .returning(move |_| Ok(Some(other)));
        source
            .expect_tenant_of()
            .with(eq(missing))
            .returning(|_| Ok(None));
        let authz = Authorizer::new(Arc::new(source));
        let who = principal(user, tenant);
        let d = authz
            .decide(
                &who,
                Permission::SiteRead,
                Resource::Site(SiteId::from_uuid(foreign)),
            )
            .await
            .unwrap();
        assert_eq!(d, Ruling::Decided(Decision::Deny(DenyReason::CrossTenant)));
        let d = authz
            .decide(
                &who,
                Permission::SiteRead,
                Resource::Site(SiteId::from_uuid(missing)),
            )
            .await
            .unwrap();
        assert_eq!(d, Ruling::NotFound);
    }

    #[tokio::test]
    async fn only_platform_admins_act_on_the_platform() {
        let source = MockSource::new();
        let authz = Authorizer::new(Arc::new(source));
        let mut who = principal(
            UserId::from_uuid(Uuid::from_u128(2)),
            TenantId::from_uuid(Uuid::from_u128(1)),
        );
        let d = authz
            .decide(&who, Permission::TenantCreate, Resource::Platform)
            .await
            .unwrap();
        assert!(matches!(d, Ruling::Decided(Decision::Deny(_))));
        who.platform_admin = true;
        let d = authz
            .decide(&who, Permission::TenantCreate, Resource::Platform)
            .await
            .unwrap();
        assert_eq!(d, Ruling::Decided(Decision::Allow(Grant::PlatformAdmin)));
    }
}
