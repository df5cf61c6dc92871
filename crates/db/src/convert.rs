//! Rows to domain models and back. Everything stored was validated on the
//! way in, so a row that does not convert means the database was edited by
//! hand: it is reported as unavailable rather than guessed at.

use crate::entity::*;
use kernel::{Environment, StoreError};
use rbac::{DeviceScope, DeviceScopeTarget, Permission, PermissionSet, Role, RoleBinding};
use sea_orm::ActiveValue::Set;
use tenancy::{
    ApiToken, Capabilities, Device, DeviceGroup, Invitation, OrgUnit, Scope, Site, Tenant,
    UnitKind, User,
};

fn corrupt(what: &str) -> StoreError {
    StoreError::Unavailable(format!("stored {what} is not valid"))
}

pub fn tenant(m: tenant::Model) -> Tenant {
    Tenant {
        id: m.id.into(),
        name: m.name,
        created_at: m.created_at,
    }
}

pub fn unit(m: org_unit::Model) -> Result<OrgUnit, StoreError> {
    Ok(OrgUnit {
        id: m.id,
        tenant_id: m.tenant_id.into(),
        kind: UnitKind::parse(&m.kind).ok_or_else(|| corrupt("unit kind"))?,
        parent_id: m.parent_id,
        name: m.name,
        created_at: m.created_at,
    })
}

pub fn unit_row(u: &OrgUnit) -> org_unit::ActiveModel {
    org_unit::ActiveModel {
        id: Set(u.id),
        tenant_id: Set(u.tenant_id.uuid()),
        kind: Set(u.kind.as_str().into()),
        parent_id: Set(u.parent_id),
        name: Set(u.name.clone()),
        created_at: Set(u.created_at),
    }
}

pub fn user(m: user::Model) -> User {
    User {
        id: m.id.into(),
        tenant_id: m.tenant_id.into(),
        email: m.email,
        display_name: m.display_name,
        platform_admin: m.platform_admin,
        created_at: m.created_at,
    }
}

pub fn user_row(u: &User) -> user::ActiveModel {
    user::ActiveModel {
        id: Set(u.id.uuid()),
        tenant_id: Set(u.tenant_id.uuid()),
        email: Set(u.email.clone()),
        display_name: Set(u.display_name.clone()),
        platform_admin: Set(u.platform_admin),
        created_at: Set(u.created_at),
    }
}

pub fn site(m: site::Model) -> Site {
    Site {
        id: m.id.into(),
        tenant_id: m.tenant_id.into(),
        team_id: m.team_id.into(),
        name: m.name,
        published_at: m.published_at,
        created_at: m.created_at,
    }
}

pub fn site_row(s: &Site) -> site::ActiveModel {
    site::ActiveModel {
        id: Set(s.id.uuid()),
        tenant_id: Set(s.tenant_id.uuid()),
        team_id: Set(s.team_id.uuid()),
        name: Set(s.name.clone()),
        published_at: Set(s.published_at),
        created_at: Set(s.created_at),
    }
}

pub fn device(m: device::Model) -> Result<Device, StoreError> {
    Ok(Device {
        id: m.id.into(),
        tenant_id: m.tenant_id.into(),
        site_id: m.site_id.into(),
        name: m.name,
        host: m.host,
        port: u16::try_from(m.port).map_err(|_| corrupt("device port"))?,
        environment: m
            .environment
            .parse()
            .map_err(|_| corrupt("device environment"))?,
        tags: serde_json::from_str(&m.tags).map_err(|_| corrupt("device tags"))?,
        capabilities: Capabilities {
            allow_advanced_writes: m.allow_advanced_writes,
            allow_professional_workflows: m.allow_professional_workflows,
            allow_firewall_writes: m.allow_firewall_writes,
            allow_routing_writes: m.allow_routing_writes,
            allow_wireless_writes: m.allow_wireless_writes,
            allow_dhcp_writes: m.allow_dhcp_writes,
            allow_bridge_writes: m.allow_bridge_writes,
            allow_bandwidth_test: m.allow_bandwidth_test,
        },
        tls: serde_json::from_str(&m.tls).map_err(|_| corrupt("device tls"))?,
        has_credentials: m.credentials.is_some(),
        created_at: m.created_at,
    })
}

/// A device row; credentials are left untouched (`NotSet`).
pub fn device_row(d: &Device) -> device::ActiveModel {
    let c = d.capabilities;
    device::ActiveModel {
        id: Set(d.id.uuid()),
        tenant_id: Set(d.tenant_id.uuid()),
        site_id: Set(d.site_id.uuid()),
        name: Set(d.name.clone()),
        host: Set(d.host.clone()),
        port: Set(i32::from(d.port)),
        environment: Set(d.environment.as_str().into()),
        tags: Set(serde_json::to_string(&d.tags).unwrap_or_else(|_| "{}".into())),
        allow_advanced_writes: Set(c.allow_advanced_writes),
        allow_professional_workflows: Set(c.allow_professional_workflows),
        allow_firewall_writes: Set(c.allow_firewall_writes),
        allow_routing_writes: Set(c.allow_routing_writes),
        allow_wireless_writes: Set(c.allow_wireless_writes),
        allow_dhcp_writes: Set(c.allow_dhcp_writes),
        allow_bridge_writes: Set(c.allow_bridge_writes),
        allow_bandwidth_test: Set(c.allow_bandwidth_test),
        credentials: sea_orm::ActiveValue::NotSet,
        tls: Set(serde_json::to_string(&d.tls).unwrap_or_else(|_| "{\"mode\":\"verify\"}".into())),
        created_at: Set(d.created_at),
    }
}

pub fn device_group(m: device_group::Model, members: Vec<kernel::DeviceId>) -> DeviceGroup {
    DeviceGroup {
        id: m.id.into(),
        tenant_id: m.tenant_id.into(),
        name: m.name,
        device_ids: members,
        created_at: m.created_at,
    }
}

pub fn environments_text(e: &Option<Vec<Environment>>) -> Option<String> {
    e.as_ref()
        .map(|v| v.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(","))
}

pub fn environments(s: Option<String>) -> Result<Option<Vec<Environment>>, StoreError> {
    s.map(|s| {
        s.split(',')
            .map(|e| {
                e.parse::<Environment>()
                    .map_err(|_| corrupt("environment list"))
            })
            .collect()
    })
    .transpose()
}

pub fn scope(kind: &str, id: uuid::Uuid) -> Result<Scope, StoreError> {
    Scope::from_parts(kind, id).ok_or_else(|| corrupt("scope"))
}

pub fn invitation(m: invitation::Model) -> Result<(Invitation, String), StoreError> {
    Ok((
        Invitation {
            id: m.id.into(),
            tenant_id: m.tenant_id.into(),
            email: m.email,
            role_id: m.role_id.into(),
            scope: scope(&m.scope_type, m.scope_id)?,
            environments: environments(m.environments)?,
            invited_by: m.invited_by.into(),
            expires_at: m.expires_at,
            accepted_at: m.accepted_at,
            created_at: m.created_at,
        },
        m.token_hash,
    ))
}

pub fn api_token(m: api_token::Model) -> (ApiToken, String) {
    (
        ApiToken {
            id: m.id.into(),
            tenant_id: m.tenant_id.into(),
            user_id: m.user_id.into(),
            name: m.name,
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
            created_at: m.created_at,
        },
        m.token_hash,
    )
}

/// Permissions are stored by name, so reordering the catalogue never
/// changes what a stored role grants.
pub fn permissions_text(p: PermissionSet) -> String {
    p.to_vec()
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn permissions(s: &str) -> Result<PermissionSet, StoreError> {
    s.split_whitespace()
        .map(|p| Permission::parse(p).ok_or_else(|| corrupt("permission")))
        .collect()
}

pub fn role(m: role::Model) -> Result<Role, StoreError> {
    Ok(Role {
        id: m.id.into(),
        tenant_id: Some(m.tenant_id.into()),
        name: m.name,
        permissions: permissions(&m.permissions)?,
        builtin: false,
        created_at: m.created_at,
    })
}

pub fn binding(m: role_binding::Model) -> Result<RoleBinding, StoreError> {
    Ok(RoleBinding {
        id: m.id.into(),
        tenant_id: m.tenant_id.into(),
        user_id: m.user_id.into(),
        role_id: m.role_id.into(),
        scope: scope(&m.scope_type, m.scope_id)?,
        environments: environments(m.environments)?,
        created_at: m.created_at,
    })
}

pub fn binding_row(b: &RoleBinding) -> role_binding::ActiveModel {
    role_binding::ActiveModel {
        id: Set(b.id.uuid()),
        tenant_id: Set(b.tenant_id.uuid()),
        user_id: Set(b.user_id.uuid()),
        role_id: Set(b.role_id.uuid()),
        scope_type: Set(b.scope.kind().into()),
        scope_id: Set(b.scope.uuid()),
        environments: Set(environments_text(&b.environments)),
        created_at: Set(b.created_at),
    }
}

pub fn scope_target(kind: &str, id: uuid::Uuid) -> Result<DeviceScopeTarget, StoreError> {
    match kind {
        "device" => Ok(DeviceScopeTarget::Device(id.into())),
        "device_group" => Ok(DeviceScopeTarget::DeviceGroup(id.into())),
        _ => Err(corrupt("device scope target")),
    }
}

pub fn device_scope(m: device_scope::Model) -> Result<DeviceScope, StoreError> {
    Ok(DeviceScope {
        id: m.id.into(),
        tenant_id: m.tenant_id.into(),
        user_id: m.user_id.into(),
        target: scope_target(&m.target_type, m.target_id)?,
        granted_by: m.granted_by.into(),
        created_at: m.created_at,
    })
}

pub fn target_parts(t: DeviceScopeTarget) -> (&'static str, uuid::Uuid) {
    match t {
        DeviceScopeTarget::Device(d) => ("device", d.uuid()),
        DeviceScopeTarget::DeviceGroup(g) => ("device_group", g.uuid()),
    }
}
