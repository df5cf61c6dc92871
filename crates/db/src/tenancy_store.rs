//! [`TenancyRepository`] over SQL.

use crate::convert;
use crate::entity::*;
use crate::{Database, bump_generation, store_err};
use async_trait::async_trait;
use kernel::{
    ApiTokenId, BindingId, DeviceGroupId, DeviceId, InvitationId, SiteId, StoreError, TenantId,
    UserId,
};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use tenancy::{
    ApiToken, Device, DeviceGroup, IdentityLink, Invitation, OrgUnit, ProvisionedBinding, Site,
    TenancyRepository, Tenant, User,
};
use time::OffsetDateTime;
use uuid::Uuid;

type R<T> = Result<T, StoreError>;

fn identity_row(
    u: &User,
    issuer: &str,
    subject: &str,
    at: OffsetDateTime,
) -> user_identity::ActiveModel {
    user_identity::ActiveModel {
        issuer: Set(issuer.to_owned()),
        subject: Set(subject.to_owned()),
        user_id: Set(u.id.uuid()),
        tenant_id: Set(u.tenant_id.uuid()),
        created_at: Set(at),
    }
}

fn must_change(rows: u64) -> R<()> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

async fn members(c: &impl ConnectionTrait, group: Uuid) -> R<Vec<DeviceId>> {
    Ok(device_group_member::Entity::find()
        .filter(device_group_member::Column::GroupId.eq(group))
        .order_by_asc(device_group_member::Column::DeviceId)
        .all(c)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(|m| m.device_id.into())
        .collect())
}

async fn replace_members(c: &impl ConnectionTrait, group: &DeviceGroup) -> R<()> {
    device_group_member::Entity::delete_many()
        .filter(device_group_member::Column::GroupId.eq(group.id.uuid()))
        .exec(c)
        .await
        .map_err(store_err)?;
    if group.device_ids.is_empty() {
        return Ok(());
    }
    let rows = group
        .device_ids
        .iter()
        .map(|d| device_group_member::ActiveModel {
            group_id: Set(group.id.uuid()),
            device_id: Set(d.uuid()),
        });
    device_group_member::Entity::insert_many(rows)
        .exec(c)
        .await
        .map_err(store_err)?;
    Ok(())
}

/// Refuses, inside the deleting transaction, to delete the device scope
/// entries naming the device or group `target` when one of them is the last
/// entry of its user: that would lift the user's device scope. The service
/// refuses this before it gets here; this closes the window between that
/// check and the write (an entry revoked meanwhile).
async fn keeps_device_scopes(c: &impl ConnectionTrait, target: Uuid) -> R<()> {
    let users: Vec<Uuid> = device_scope::Entity::find()
        .filter(device_scope::Column::TargetId.eq(target))
        .all(c)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    for user in users {
        let others = device_scope::Entity::find()
            .filter(device_scope::Column::UserId.eq(user))
            .filter(device_scope::Column::TargetId.ne(target))
            .count(c)
            .await
            .map_err(store_err)?;
        if others == 0 {
            return Err(StoreError::Conflict(
                "a user is limited to this device or device group only; change their device scopes first".into(),
            ));
        }
    }
    Ok(())
}

#[async_trait]
impl TenancyRepository for Database {
    async fn insert_tenant(&self, t: &Tenant) -> R<()> {
        tenant::ActiveModel {
            id: Set(t.id.uuid()),
            name: Set(t.name.clone()),
            authz_generation: Set(0),
            created_at: Set(t.created_at),
        }
        .insert(self.conn())
        .await
        .map_err(store_err)?;
        Ok(())
    }

    async fn tenant(&self, id: TenantId) -> R<Option<Tenant>> {
        let m = tenant::Entity::find_by_id(id.uuid())
            .one(self.conn())
            .await
            .map_err(store_err)?;
        Ok(m.map(convert::tenant))
    }

    async fn tenants(&self) -> R<Vec<Tenant>> {
        let rows = tenant::Entity::find()
            .order_by_asc(tenant::Column::Id)
            .all(self.conn())
            .await
            .map_err(store_err)?;
        Ok(rows.into_iter().map(convert::tenant).collect())
    }

    async fn update_tenant(&self, t: &Tenant) -> R<()> {
        let r = tenant::Entity::update_many()
            .col_expr(
                tenant::Column::Name,
                sea_orm::sea_query::Expr::value(t.name.clone()),
            )
            .filter(tenant::Column::Id.eq(t.id.uuid()))
            .exec(self.conn())
            .await
            .map_err(store_err)?;
        must_change(r.rows_affected)
    }

    async fn insert_unit(&self, u: &OrgUnit) -> R<()> {
        let txn = self.write().await?;
        org_unit::Entity::insert(convert::unit_row(u))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        bump_generation(&txn, u.tenant_id.uuid()).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn unit(&self, id: Uuid) -> R<Option<OrgUnit>> {
        org_unit::Entity::find_by_id(id)
            .one(self.conn())
            .await
            .map_err(store_err)?
            .map(convert::unit)
            .transpose()
    }

    async fn units(&self, t: TenantId) -> R<Vec<OrgUnit>> {
        org_unit::Entity::find()
            .filter(org_unit::Column::TenantId.eq(t.uuid()))
            .order_by_asc(org_unit::Column::Id)
            .all(self.conn())
            .await
            .map_err(store_err)?
            .into_iter()
            .map(convert::unit)
            .collect()
    }

    async fn update_unit(&self, u: &OrgUnit) -> R<()> {
        org_unit::Entity::update(convert::unit_row(u))
            .exec(self.conn())
            .await
            .map_err(store_err)?;
        Ok(())
    }

    async fn delete_unit(&self, id: Uuid) -> R<()> {
        let txn = self.write().await?;
        let Some(unit) = org_unit::Entity::find_by_id(id)
            .one(&txn)
            .await
            .map_err(store_err)?
        else {
            return Err(StoreError::NotFound);
        };
        let children = org_unit::Entity::find()
            .filter(org_unit::Column::ParentId.eq(id))
            .count(&txn)
            .await
            .map_err(store_err)?;
        let sites = site::Entity::find()
            .filter(site::Column::TeamId.eq(id))
            .count(&txn)
            .await
            .map_err(store_err)?;
        if children + sites > 0 {
            return Err(StoreError::Conflict("still has children".into()));
        }
        role_binding::Entity::delete_many()
            .filter(role_binding::Column::ScopeId.eq(id))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        invitation::Entity::delete_many()
            .filter(invitation::Column::ScopeId.eq(id))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        org_unit::Entity::delete_by_id(id)
            .exec(&txn)
            .await
            .map_err(store_err)?;
        bump_generation(&txn, unit.tenant_id).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn insert_user(&self, u: &User) -> R<()> {
        let txn = self.write().await?;
        user::Entity::insert(convert::user_row(u))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        bump_generation(&txn, u.tenant_id.uuid()).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn user(&self, id: UserId) -> R<Option<User>> {
        let m = user::Entity::find_by_id(id.uuid())
            .one(self.conn())
            .await
            .map_err(store_err)?;
        Ok(m.map(convert::user))
    }

    async fn user_by_email(&self, email: &str) -> R<Option<User>> {
        let m = user::Entity::find()
            .filter(user::Column::Email.eq(email.to_ascii_lowercase()))
            .one(self.conn())
            .await
            .map_err(store_err)?;
        Ok(m.map(convert::user))
    }

    async fn users(&self, t: TenantId) -> R<Vec<User>> {
        let rows = user::Entity::find()
            .filter(user::Column::TenantId.eq(t.uuid()))
            .order_by_asc(user::Column::Id)
            .all(self.conn())
            .await
            .map_err(store_err)?;
        Ok(rows.into_iter().map(convert::user).collect())
    }

    async fn update_user(&self, u: &User) -> R<()> {
        user::Entity::update(convert::user_row(u))
            .exec(self.conn())
            .await
            .map_err(store_err)?;
        Ok(())
    }

    async fn delete_user(&self, id: UserId) -> R<()> {
        let txn = self.write().await?;
        let Some(u) = user::Entity::find_by_id(id.uuid())
            .one(&txn)
            .await
            .map_err(store_err)?
        else {
            return Err(StoreError::NotFound);
        };
        // Bindings, scopes and tokens go by cascade; delete explicitly too so
        // the result does not depend on the engine's foreign-key setting.
        role_binding::Entity::delete_many()
            .filter(role_binding::Column::UserId.eq(id.uuid()))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        device_scope::Entity::delete_many()
            .filter(device_scope::Column::UserId.eq(id.uuid()))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        api_token::Entity::delete_many()
            .filter(api_token::Column::UserId.eq(id.uuid()))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        user::Entity::delete_by_id(id.uuid())
            .exec(&txn)
            .await
            .map_err(store_err)?;
        bump_generation(&txn, u.tenant_id).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn insert_site(&self, s: &Site) -> R<()> {
        let txn = self.write().await?;
        site::Entity::insert(convert::site_row(s))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        bump_generation(&txn, s.tenant_id.uuid()).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn site(&self, id: SiteId) -> R<Option<Site>> {
        let m = site::Entity::find_by_id(id.uuid())
            .one(self.conn())
            .await
            .map_err(store_err)?;
        Ok(m.map(convert::site))
    }

    async fn sites(&self, t: TenantId) -> R<Vec<Site>> {
        let rows = site::Entity::find()
            .filter(site::Column::TenantId.eq(t.uuid()))
            .order_by_asc(site::Column::Id)
            .all(self.conn())
            .await
            .map_err(store_err)?;
        Ok(rows.into_iter().map(convert::site).collect())
    }

    async fn update_site(&self, s: &Site) -> R<()> {
        let txn = self.write().await?;
        site::Entity::update(convert::site_row(s))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        bump_generation(&txn, s.tenant_id.uuid()).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn delete_site(&self, id: SiteId) -> R<()> {
        let txn = self.write().await?;
        let Some(s) = site::Entity::find_by_id(id.uuid())
            .one(&txn)
            .await
            .map_err(store_err)?
        else {
            return Err(StoreError::NotFound);
        };
        let devices = device::Entity::find()
            .filter(device::Column::SiteId.eq(id.uuid()))
            .count(&txn)
            .await
            .map_err(store_err)?;
        if devices > 0 {
            return Err(StoreError::Conflict("site has devices".into()));
        }
        site::Entity::delete_by_id(id.uuid())
            .exec(&txn)
            .await
            .map_err(store_err)?;
        bump_generation(&txn, s.tenant_id).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn insert_device(&self, d: &Device) -> R<()> {
        let txn = self.write().await?;
        device::Entity::insert(convert::device_row(d))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        bump_generation(&txn, d.tenant_id.uuid()).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn device(&self, id: DeviceId) -> R<Option<Device>> {
        device::Entity::find_by_id(id.uuid())
            .one(self.conn())
            .await
            .map_err(store_err)?
            .map(convert::device)
            .transpose()
    }

    async fn devices(&self, t: TenantId) -> R<Vec<Device>> {
        device::Entity::find()
            .filter(device::Column::TenantId.eq(t.uuid()))
            .order_by_asc(device::Column::Id)
            .all(self.conn())
            .await
            .map_err(store_err)?
            .into_iter()
            .map(convert::device)
            .collect()
    }

    async fn update_device(&self, d: &Device) -> R<()> {
        let txn = self.write().await?;
        device::Entity::update(convert::device_row(d))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        bump_generation(&txn, d.tenant_id.uuid()).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn delete_device(&self, id: DeviceId) -> R<()> {
        let txn = self.write().await?;
        let Some(d) = device::Entity::find_by_id(id.uuid())
            .one(&txn)
            .await
            .map_err(store_err)?
        else {
            return Err(StoreError::NotFound);
        };
        device_group_member::Entity::delete_many()
            .filter(device_group_member::Column::DeviceId.eq(id.uuid()))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        keeps_device_scopes(&txn, id.uuid()).await?;
        device_scope::Entity::delete_many()
            .filter(device_scope::Column::TargetId.eq(id.uuid()))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        device::Entity::delete_by_id(id.uuid())
            .exec(&txn)
            .await
            .map_err(store_err)?;
        bump_generation(&txn, d.tenant_id).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn set_device_credentials(&self, id: DeviceId, sealed: &[u8]) -> R<()> {
        let r = device::Entity::update_many()
            .col_expr(
                device::Column::Credentials,
                sea_orm::sea_query::Expr::value(sealed.to_vec()),
            )
            .filter(device::Column::Id.eq(id.uuid()))
            .exec(self.conn())
            .await
            .map_err(store_err)?;
        must_change(r.rows_affected)
    }

    async fn device_credentials(&self, id: DeviceId) -> R<Option<Vec<u8>>> {
        let m = device::Entity::find_by_id(id.uuid())
            .one(self.conn())
            .await
            .map_err(store_err)?;
        Ok(m.and_then(|m| m.credentials))
    }

    async fn insert_device_group(&self, g: &DeviceGroup) -> R<()> {
        let txn = self.write().await?;
        device_group::ActiveModel {
            id: Set(g.id.uuid()),
            tenant_id: Set(g.tenant_id.uuid()),
            name: Set(g.name.clone()),
            created_at: Set(g.created_at),
        }
        .insert(&txn)
        .await
        .map_err(store_err)?;
        replace_members(&txn, g).await?;
        bump_generation(&txn, g.tenant_id.uuid()).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn device_group(&self, id: DeviceGroupId) -> R<Option<DeviceGroup>> {
        let Some(m) = device_group::Entity::find_by_id(id.uuid())
            .one(self.conn())
            .await
            .map_err(store_err)?
        else {
            return Ok(None);
        };
        let devices = members(self.conn(), m.id).await?;
        Ok(Some(convert::device_group(m, devices)))
    }

    async fn device_groups(&self, t: TenantId) -> R<Vec<DeviceGroup>> {
        let rows = device_group::Entity::find()
            .filter(device_group::Column::TenantId.eq(t.uuid()))
            .order_by_asc(device_group::Column::Id)
            .all(self.conn())
            .await
            .map_err(store_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for m in rows {
            let devices = members(self.conn(), m.id).await?;
            out.push(convert::device_group(m, devices));
        }
        Ok(out)
    }

    async fn update_device_group(&self, g: &DeviceGroup) -> R<()> {
        let txn = self.write().await?;
        let r = device_group::Entity::update_many()
            .col_expr(
                device_group::Column::Name,
                sea_orm::sea_query::Expr::value(g.name.clone()),
            )
            .filter(device_group::Column::Id.eq(g.id.uuid()))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        must_change(r.rows_affected)?;
        replace_members(&txn, g).await?;
        bump_generation(&txn, g.tenant_id.uuid()).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn delete_device_group(&self, id: DeviceGroupId) -> R<()> {
        let txn = self.write().await?;
        let Some(g) = device_group::Entity::find_by_id(id.uuid())
            .one(&txn)
            .await
            .map_err(store_err)?
        else {
            return Err(StoreError::NotFound);
        };
        device_group_member::Entity::delete_many()
            .filter(device_group_member::Column::GroupId.eq(id.uuid()))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        keeps_device_scopes(&txn, id.uuid()).await?;
        device_scope::Entity::delete_many()
            .filter(device_scope::Column::TargetId.eq(id.uuid()))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        device_group::Entity::delete_by_id(id.uuid())
            .exec(&txn)
            .await
            .map_err(store_err)?;
        bump_generation(&txn, g.tenant_id).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn insert_invitation(&self, i: &Invitation, token_hash: &str) -> R<()> {
        invitation::ActiveModel {
            id: Set(i.id.uuid()),
            tenant_id: Set(i.tenant_id.uuid()),
            email: Set(i.email.clone()),
            role_id: Set(i.role_id.uuid()),
            scope_type: Set(i.scope.kind().into()),
            scope_id: Set(i.scope.uuid()),
            environments: Set(convert::environments_text(&i.environments)),
            invited_by: Set(i.invited_by.uuid()),
            token_hash: Set(token_hash.into()),
            expires_at: Set(i.expires_at),
            accepted_at: Set(None),
            created_at: Set(i.created_at),
        }
        .insert(self.conn())
        .await
        .map_err(store_err)?;
        Ok(())
    }

    async fn invitation(&self, id: InvitationId) -> R<Option<(Invitation, String)>> {
        invitation::Entity::find_by_id(id.uuid())
            .one(self.conn())
            .await
            .map_err(store_err)?
            .map(convert::invitation)
            .transpose()
    }

    async fn accept_invitation(
        &self,
        id: InvitationId,
        accepted_at: OffsetDateTime,
        u: &User,
        binding_id: BindingId,
    ) -> R<()> {
        let txn = self.write().await?;
        // Claim the invitation first: only one acceptance can flip it.
        let claimed = invitation::Entity::update_many()
            .col_expr(
                invitation::Column::AcceptedAt,
                sea_orm::sea_query::Expr::value(accepted_at),
            )
            .filter(invitation::Column::Id.eq(id.uuid()))
            .filter(invitation::Column::AcceptedAt.is_null())
            .exec(&txn)
            .await
            .map_err(store_err)?;
        if claimed.rows_affected != 1 {
            return Err(StoreError::Conflict("invitation already accepted".into()));
        }
        let Some(inv) = invitation::Entity::find_by_id(id.uuid())
            .one(&txn)
            .await
            .map_err(store_err)?
        else {
            return Err(StoreError::NotFound);
        };
        user::Entity::insert(convert::user_row(u))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        role_binding::ActiveModel {
            id: Set(binding_id.uuid()),
            tenant_id: Set(inv.tenant_id),
            user_id: Set(u.id.uuid()),
            role_id: Set(inv.role_id),
            scope_type: Set(inv.scope_type),
            scope_id: Set(inv.scope_id),
            environments: Set(inv.environments),
            created_at: Set(accepted_at),
        }
        .insert(&txn)
        .await
        .map_err(store_err)?;
        bump_generation(&txn, inv.tenant_id).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn user_by_identity(&self, issuer: &str, subject: &str) -> R<Option<User>> {
        let Some(link) = user_identity::Entity::find_by_id((issuer.to_owned(), subject.to_owned()))
            .one(self.conn())
            .await
            .map_err(store_err)?
        else {
            return Ok(None);
        };
        self.user(link.user_id.into()).await
    }

    async fn link_identity(
        &self,
        u: &User,
        issuer: &str,
        subject: &str,
        at: OffsetDateTime,
    ) -> R<()> {
        user_identity::Entity::insert(identity_row(u, issuer, subject, at))
            .exec(self.conn())
            .await
            .map_err(store_err)?;
        Ok(())
    }

    async fn identity_links(&self, user: UserId) -> R<Vec<IdentityLink>> {
        Ok(user_identity::Entity::find()
            .filter(user_identity::Column::UserId.eq(user.uuid()))
            .order_by_asc(user_identity::Column::CreatedAt)
            .order_by_asc(user_identity::Column::Issuer)
            .order_by_asc(user_identity::Column::Subject)
            .all(self.conn())
            .await
            .map_err(store_err)?
            .into_iter()
            .map(|l| IdentityLink {
                issuer: l.issuer,
                subject: l.subject,
                linked_at: l.created_at,
            })
            .collect())
    }

    async fn unlink_identity(&self, user: UserId, issuer: &str, subject: &str) -> R<()> {
        let gone = user_identity::Entity::delete_many()
            .filter(user_identity::Column::Issuer.eq(issuer))
            .filter(user_identity::Column::Subject.eq(subject))
            .filter(user_identity::Column::UserId.eq(user.uuid()))
            .exec(self.conn())
            .await
            .map_err(store_err)?;
        must_change(gone.rows_affected)
    }

    async fn pending_invitation_for(
        &self,
        email: &str,
        now: OffsetDateTime,
    ) -> R<Option<Invitation>> {
        invitation::Entity::find()
            .filter(invitation::Column::Email.eq(email.to_ascii_lowercase()))
            .filter(invitation::Column::AcceptedAt.is_null())
            .filter(invitation::Column::ExpiresAt.gt(now))
            .order_by_desc(invitation::Column::CreatedAt)
            .one(self.conn())
            .await
            .map_err(store_err)?
            .map(|m| convert::invitation(m).map(|(inv, _)| inv))
            .transpose()
    }

    async fn provision_user(
        &self,
        u: &User,
        grant: &ProvisionedBinding,
        issuer: &str,
        subject: &str,
    ) -> R<()> {
        let txn = self.write().await?;
        user::Entity::insert(convert::user_row(u))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        role_binding::ActiveModel {
            id: Set(grant.binding_id.uuid()),
            tenant_id: Set(u.tenant_id.uuid()),
            user_id: Set(u.id.uuid()),
            role_id: Set(grant.role_id.uuid()),
            scope_type: Set(grant.scope.kind().into()),
            scope_id: Set(grant.scope.uuid()),
            environments: Set(convert::environments_text(&grant.environments)),
            created_at: Set(u.created_at),
        }
        .insert(&txn)
        .await
        .map_err(store_err)?;
        user_identity::Entity::insert(identity_row(u, issuer, subject, u.created_at))
            .exec(&txn)
            .await
            .map_err(store_err)?;
        bump_generation(&txn, u.tenant_id.uuid()).await?;
        txn.commit().await.map_err(store_err)
    }

    async fn insert_api_token(&self, t: &ApiToken, hash: &str) -> R<()> {
        api_token::ActiveModel {
            id: Set(t.id.uuid()),
            tenant_id: Set(t.tenant_id.uuid()),
            user_id: Set(t.user_id.uuid()),
            name: Set(t.name.clone()),
            token_hash: Set(hash.into()),
            expires_at: Set(t.expires_at),
            revoked_at: Set(t.revoked_at),
            created_at: Set(t.created_at),
        }
        .insert(self.conn())
        .await
        .map_err(store_err)?;
        Ok(())
    }

    async fn api_token(&self, id: ApiTokenId) -> R<Option<(ApiToken, String)>> {
        let m = api_token::Entity::find_by_id(id.uuid())
            .one(self.conn())
            .await
            .map_err(store_err)?;
        Ok(m.map(convert::api_token))
    }

    async fn api_tokens(&self, u: UserId) -> R<Vec<ApiToken>> {
        let rows = api_token::Entity::find()
            .filter(api_token::Column::UserId.eq(u.uuid()))
            .order_by_asc(api_token::Column::Id)
            .all(self.conn())
            .await
            .map_err(store_err)?;
        Ok(rows.into_iter().map(|m| convert::api_token(m).0).collect())
    }

    async fn revoke_api_token(&self, id: ApiTokenId, at: OffsetDateTime) -> R<()> {
        let r = api_token::Entity::update_many()
            .col_expr(
                api_token::Column::RevokedAt,
                sea_orm::sea_query::Expr::value(at),
            )
            .filter(api_token::Column::Id.eq(id.uuid()))
            .filter(api_token::Column::RevokedAt.is_null())
            .exec(self.conn())
            .await
            .map_err(store_err)?;
        must_change(r.rows_affected)
    }

    async fn tenant_of(&self, id: Uuid) -> R<Option<TenantId>> {
        crate::rbac_store::tenant_of(self.conn(), id).await
    }
}
