//! [`RbacRepository`] and [`AuthzSource`] over SQL.

use crate::convert;
use crate::entity::*;
use crate::{Database, bump_generation, store_err};
use async_trait::async_trait;
use kernel::{BindingId, DeviceScopeId, RoleId, StoreError, TenantId, UserId};
use rbac::index::UnitRow;
use rbac::{AuthzSource, DeviceScope, RbacRepository, Role, RoleBinding, TenantSnapshot};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use std::collections::HashMap;
use uuid::Uuid;

type R<T> = Result<T, StoreError>;

/// The tenant of any entity, looked up table by table.
pub(crate) async fn tenant_of(c: &impl ConnectionTrait, id: Uuid) -> R<Option<TenantId>> {
    macro_rules! probe {
        ($e:ident) => {
            if let Some(m) = $e::Entity::find_by_id(id).one(c).await.map_err(store_err)? {
                return Ok(Some(m.tenant_id.into()));
            }
        };
    }
    if tenant::Entity::find_by_id(id)
        .one(c)
        .await
        .map_err(store_err)?
        .is_some()
    {
        return Ok(Some(id.into()));
    }
    probe!(org_unit);
    probe!(site);
    probe!(device);
    probe!(user);
    probe!(device_group);
    probe!(role);
    probe!(role_binding);
    probe!(device_scope);
    probe!(invitation);
    probe!(api_token);
    Ok(None)
}

#[async_trait]
impl RbacRepository for Database {
    async fn insert_role(&self, r: &Role) -> R<()> {
        let tenant = r
            .tenant_id
            .ok_or_else(|| StoreError::Conflict("built-in roles are not stored".into()))?;
        role::ActiveModel {
            id: Set(r.id.uuid()),
            tenant_id: Set(tenant.uuid()),
            name: Set(r.name.clone()),
            permissions: Set(convert::permissions_text(r.permissions)),
            created_at: Set(r.created_at),
        }
        .insert(self.conn())
        .await
        .map_err(store_err)?;
        Ok(())
    }

    async fn role(&self, id: RoleId) -> R<Option<Role>> {
        role::Entity::find_by_id(id.uuid())
            .one(self.conn())
            .await
            .map_err(store_err)?
            .map(convert::role)
            .transpose()
    }

    async fn roles(&self, t: TenantId) -> R<Vec<Role>> {
        role::Entity::find()
            .filter(role::Column::TenantId.eq(t.uuid()))
            .order_by_asc(role::Column::Id)
            .all(self.conn())
            .await
            .map_err(store_err)?
            .into_iter()
            .map(convert::role)
            .collect()
    }

    async fn update_role(&self, r: &Role) -> R<()> {
        let tenant = r.tenant_id.ok_or(StoreError::NotFound)?;
        let txn = self.write().await?;
        role::ActiveModel {
            id: Set(r.id.uuid()),
            tenant_id: Set(tenant.uuid()),
            name: Set(r.name.clone()),
            permissions: Set(convert::permissions_text(r.permissions)),
            created_at: Set(r.created_at),
        }
        .update(&txn)
        .await
        .map_err(store_err)?;
        bump_generation(&txn, tenant.uuid()).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn delete_role(&self, id: RoleId) -> R<()> {
        let txn = self.write().await?;
        let Some(r) = role::Entity::find_by_id(id.uuid())
            .one(&txn)
            .await
            .map_err(store_err)?
        else {
            return Err(StoreError::NotFound);
        };
        let used = role_binding::Entity::find()
            .filter(role_binding::Column::RoleId.eq(id.uuid()))
            .count(&txn)
            .await
            .map_err(store_err)?
            + invitation::Entity::find()
                .filter(invitation::Column::RoleId.eq(id.uuid()))
                .filter(invitation::Column::AcceptedAt.is_null())
                .count(&txn)
                .await
                .map_err(store_err)?;
        if used > 0 {
            return Err(StoreError::Conflict("role in use".into()));
        }
        role::Entity::delete_by_id(id.uuid())
            .exec(&txn)
            .await
            .map_err(store_err)?;
        bump_generation(&txn, r.tenant_id).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn insert_binding(&self, b: &RoleBinding) -> R<()> {
        let txn = self.write().await?;
        role_binding::Entity::insert(convert::binding_row(b))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        bump_generation(&txn, b.tenant_id.uuid()).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn binding(&self, id: BindingId) -> R<Option<RoleBinding>> {
        role_binding::Entity::find_by_id(id.uuid())
            .one(self.conn())
            .await
            .map_err(store_err)?
            .map(convert::binding)
            .transpose()
    }

    async fn bindings(&self, t: TenantId) -> R<Vec<RoleBinding>> {
        bindings(self.conn(), t).await
    }

    async fn delete_binding(&self, id: BindingId) -> R<()> {
        let txn = self.write().await?;
        let Some(b) = role_binding::Entity::find_by_id(id.uuid())
            .one(&txn)
            .await
            .map_err(store_err)?
        else {
            return Err(StoreError::NotFound);
        };
        role_binding::Entity::delete_by_id(id.uuid())
            .exec(&txn)
            .await
            .map_err(store_err)?;
        bump_generation(&txn, b.tenant_id).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn insert_device_scope(&self, s: &DeviceScope) -> R<()> {
        let (kind, target) = convert::target_parts(s.target);
        let txn = self.write().await?;
        device_scope::ActiveModel {
            id: Set(s.id.uuid()),
            tenant_id: Set(s.tenant_id.uuid()),
            user_id: Set(s.user_id.uuid()),
            target_type: Set(kind.into()),
            target_id: Set(target),
            granted_by: Set(s.granted_by.uuid()),
            created_at: Set(s.created_at),
        }
        .insert(&txn)
        .await
        .map_err(store_err)?;
        bump_generation(&txn, s.tenant_id.uuid()).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn device_scope(&self, id: DeviceScopeId) -> R<Option<DeviceScope>> {
        device_scope::Entity::find_by_id(id.uuid())
            .one(self.conn())
            .await
            .map_err(store_err)?
            .map(convert::device_scope)
            .transpose()
    }

    async fn device_scopes(&self, t: TenantId, u: Option<UserId>) -> R<Vec<DeviceScope>> {
        let mut q =
            device_scope::Entity::find().filter(device_scope::Column::TenantId.eq(t.uuid()));
        if let Some(u) = u {
            q = q.filter(device_scope::Column::UserId.eq(u.uuid()));
        }
        q.order_by_asc(device_scope::Column::Id)
            .all(self.conn())
            .await
            .map_err(store_err)?
            .into_iter()
            .map(convert::device_scope)
            .collect()
    }

    async fn delete_device_scope(&self, id: DeviceScopeId) -> R<()> {
        let txn = self.write().await?;
        let Some(s) = device_scope::Entity::find_by_id(id.uuid())
            .one(&txn)
            .await
            .map_err(store_err)?
        else {
            return Err(StoreError::NotFound);
        };
        device_scope::Entity::delete_by_id(id.uuid())
            .exec(&txn)
            .await
            .map_err(store_err)?;
        bump_generation(&txn, s.tenant_id).await?;
        txn.commit().await.map_err(store_err)
    }
}

async fn bindings(c: &impl ConnectionTrait, t: TenantId) -> R<Vec<RoleBinding>> {
    role_binding::Entity::find()
        .filter(role_binding::Column::TenantId.eq(t.uuid()))
        .order_by_asc(role_binding::Column::Id)
        .all(c)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(convert::binding)
        .collect()
}

#[async_trait]
impl AuthzSource for Database {
    async fn generation(&self, t: TenantId) -> R<u64> {
        let g: Option<i64> = tenant::Entity::find_by_id(t.uuid())
            .select_only()
            .column(tenant::Column::AuthzGeneration)
            .into_tuple()
            .one(self.conn())
            .await
            .map_err(store_err)?;
        Ok(g.map_or(0, |g| g as u64))
    }

    async fn snapshot(&self, t: TenantId) -> R<TenantSnapshot> {
        let txn = self.conn().begin().await.map_err(store_err)?;
        let generation: Option<i64> = tenant::Entity::find_by_id(t.uuid())
            .select_only()
            .column(tenant::Column::AuthzGeneration)
            .into_tuple()
            .one(&txn)
            .await
            .map_err(store_err)?;
        let tid = t.uuid();
        let units: Vec<(Uuid, String, Uuid)> = org_unit::Entity::find()
            .select_only()
            .columns([
                org_unit::Column::Id,
                org_unit::Column::Kind,
                org_unit::Column::ParentId,
            ])
            .filter(org_unit::Column::TenantId.eq(tid))
            .into_tuple()
            .all(&txn)
            .await
            .map_err(store_err)?;
        let sites: Vec<(Uuid, Uuid)> = site::Entity::find()
            .select_only()
            .columns([site::Column::Id, site::Column::TeamId])
            .filter(site::Column::TenantId.eq(tid))
            .into_tuple()
            .all(&txn)
            .await
            .map_err(store_err)?;
        let devices: Vec<(Uuid, Uuid, String)> = device::Entity::find()
            .select_only()
            .columns([
                device::Column::Id,
                device::Column::SiteId,
                device::Column::Environment,
            ])
            .filter(device::Column::TenantId.eq(tid))
            .into_tuple()
            .all(&txn)
            .await
            .map_err(store_err)?;
        let users: Vec<Uuid> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::TenantId.eq(tid))
            .into_tuple()
            .all(&txn)
            .await
            .map_err(store_err)?;
        let roles = role::Entity::find()
            .filter(role::Column::TenantId.eq(tid))
            .all(&txn)
            .await
            .map_err(store_err)?;
        let binding_rows = bindings(&txn, t).await?;
        let groups: Vec<Uuid> = device_group::Entity::find()
            .select_only()
            .column(device_group::Column::Id)
            .filter(device_group::Column::TenantId.eq(tid))
            .into_tuple()
            .all(&txn)
            .await
            .map_err(store_err)?;
        let mut members: HashMap<Uuid, Vec<kernel::DeviceId>> =
            groups.iter().map(|g| (*g, Vec::new())).collect();
        if !groups.is_empty() {
            let rows = device_group_member::Entity::find()
                .filter(device_group_member::Column::GroupId.is_in(groups.clone()))
                .all(&txn)
                .await
                .map_err(store_err)?;
            for m in rows {
                members
                    .entry(m.group_id)
                    .or_default()
                    .push(m.device_id.into());
            }
        }
        let scopes = device_scope::Entity::find()
            .filter(device_scope::Column::TenantId.eq(tid))
            .all(&txn)
            .await
            .map_err(store_err)?;
        txn.commit().await.map_err(store_err)?;

        let corrupt = || StoreError::Unavailable("stored authorization data is not valid".into());
        Ok(TenantSnapshot {
            tenant_id: Some(t),
            generation: generation.map_or(0, |g| g as u64),
            units: units
                .into_iter()
                .map(|(id, kind, parent_id)| {
                    Ok(UnitRow {
                        id,
                        kind: tenancy::UnitKind::parse(&kind).ok_or_else(corrupt)?,
                        parent_id,
                    })
                })
                .collect::<R<_>>()?,
            sites: sites
                .into_iter()
                .map(|(s, t)| (s.into(), t.into()))
                .collect(),
            devices: devices
                .into_iter()
                .map(|(d, s, e)| Ok((d.into(), s.into(), e.parse().map_err(|_| corrupt())?)))
                .collect::<R<_>>()?,
            users: users.into_iter().map(Into::into).collect(),
            custom_roles: roles
                .into_iter()
                .map(|r| Ok((r.id.into(), convert::permissions(&r.permissions)?)))
                .collect::<R<_>>()?,
            bindings: binding_rows,
            device_groups: members.into_iter().map(|(g, d)| (g.into(), d)).collect(),
            device_scopes: scopes
                .into_iter()
                .map(|s| {
                    Ok((
                        s.user_id.into(),
                        convert::scope_target(&s.target_type, s.target_id)?,
                    ))
                })
                .collect::<R<_>>()?,
        })
    }

    async fn tenant_of(&self, id: Uuid) -> R<Option<TenantId>> {
        tenant_of(self.conn(), id).await
    }
}
