//! The re-check of an invitation when it is accepted.
//!
//! An invitation is a binding handed out now and created later; between the
//! two its inviter may lose the role, the scope or the environments it
//! handed out. [`InviterStillHolds`] is the tenancy service's
//! [`InvitationCheck`]: it asks the tenant's current index whether the
//! inviter could make the same invitation now, with the rules of
//! [`crate::delegation`].

use crate::delegation;
use crate::engine::Authorizer;
use async_trait::async_trait;
use std::sync::Arc;
use tenancy::TenancyError;
use tenancy::model::Invitation;
use tenancy::ports::{EmailLinkCheck, InvitationCheck};

/// Refuses the acceptance of an invitation its inviter could not make now.
#[derive(Debug, Clone)]
pub struct InviterStillHolds {
    authz: Arc<Authorizer>,
}

impl InviterStillHolds {
    /// A check over the tenants' current indexes.
    pub fn new(authz: Arc<Authorizer>) -> Self {
        Self { authz }
    }
}

#[async_trait]
impl InvitationCheck for InviterStillHolds {
    async fn inviter_still_holds(&self, inv: &Invitation) -> Result<(), TenancyError> {
        let index = self
            .authz
            .index(inv.tenant_id)
            .await
            .map_err(TenancyError::Store)?;
        let Some(perms) = index.role_permissions(inv.role_id) else {
            return Err(TenancyError::InvitationLapsed(
                "its role no longer exists".into(),
            ));
        };
        delegation::invitation(
            &index,
            inv.invited_by,
            perms,
            inv.scope,
            inv.environments.as_deref(),
        )
        .map_err(|e| {
            TenancyError::InvitationLapsed(format!(
                "the person who invited you no longer holds what it grants ({e})"
            ))
        })
    }
}

/// Refuses to link an account by email when it holds `admin:*` anywhere in
/// its tenant: an email match at an identity provider must never hand over
/// an administrator's account. The tenancy service's [`EmailLinkCheck`].
#[derive(Debug, Clone)]
pub struct NoAdminByEmail {
    authz: Arc<Authorizer>,
}

impl NoAdminByEmail {
    /// A check over the tenants' current indexes.
    pub fn new(authz: Arc<Authorizer>) -> Self {
        Self { authz }
    }
}

#[async_trait]
impl EmailLinkCheck for NoAdminByEmail {
    async fn may_link_by_email(&self, user: &tenancy::User) -> Result<bool, TenancyError> {
        if user.platform_admin {
            return Ok(false);
        }
        let index = self
            .authz
            .index(user.tenant_id)
            .await
            .map_err(TenancyError::Store)?;
        Ok(!index.holds_anywhere(user.id, crate::permission::Permission::AdminAll))
    }
}
