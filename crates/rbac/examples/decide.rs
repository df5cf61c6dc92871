//! Embedding the decision engine: one tenant's hierarchy, users bound to
//! roles, an [`Authorizer`] over an in-memory [`AuthzSource`], questions
//! answered with their reasons, and a new binding picked up through the
//! tenant's generation, as a database adapter would report it.
//!
//! Run with `cargo run -p rbac --example decide`.

#![allow(clippy::print_stdout)] // an example: printing is its job

use async_trait::async_trait;
use kernel::{
    AuthMethod, BindingId, DeviceId, Environment, Principal, RoleId, SiteId, StoreError, TeamId,
    TenantId, UserId,
};
use rbac::engine::Ruling;
use rbac::index::UnitRow;
use rbac::{
    Authorizer, AuthzSource, BuiltinRole, Decision, Grant, Permission, Resource, RoleBinding,
    TenantSnapshot,
};
use std::sync::Arc;
use tenancy::{Scope, UnitKind};
use tokio::sync::RwLock;
use uuid::Uuid;

/// One tenant's rows in memory, standing in for the storage adapter.
struct MemorySource {
    tenant: TenantId,
    rows: RwLock<TenantSnapshot>,
}

impl MemorySource {
    /// Gives `user` `role` at `scope`, and bumps the generation as every
    /// write that can change a decision must.
    async fn bind(
        &self,
        id: u128,
        user: UserId,
        role: BuiltinRole,
        scope: Scope,
        envs: &[Environment],
    ) {
        let mut rows = self.rows.write().await;
        rows.bindings.push(RoleBinding {
            id: BindingId::from_uuid(Uuid::from_u128(id)),
            tenant_id: self.tenant,
            user_id: user,
            role_id: role.id(),
            scope,
            environments: (!envs.is_empty()).then(|| envs.to_vec()),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        });
        rows.generation += 1;
    }
}

#[async_trait]
impl AuthzSource for MemorySource {
    async fn generation(&self, tenant: TenantId) -> Result<u64, StoreError> {
        let rows = self.rows.read().await;
        Ok(if tenant == self.tenant {
            rows.generation
        } else {
            0
        })
    }

    async fn snapshot(&self, _tenant: TenantId) -> Result<TenantSnapshot, StoreError> {
        Ok(self.rows.read().await.clone())
    }

    async fn tenant_of(&self, id: Uuid) -> Result<Option<TenantId>, StoreError> {
        let rows = self.rows.read().await;
        let known = rows.devices.iter().any(|(d, _, _)| d.uuid() == id)
            || rows.sites.iter().any(|(s, _)| s.uuid() == id)
            || rows.units.iter().any(|u| u.id == id);
        Ok(known.then_some(self.tenant))
    }
}

/// The built-in role's name, or the id of a custom one.
fn role_name(id: RoleId) -> String {
    BuiltinRole::ALL
        .iter()
        .find(|r| r.id() == id)
        .map_or_else(|| id.to_string(), |r| r.name().to_string())
}

/// A decision in words.
fn explain(outcome: Ruling) -> String {
    match outcome {
        Ruling::Decided(Decision::Allow(Grant::Binding { role_id, .. })) => {
            format!(
                "allowed: granted by a binding of role {}",
                role_name(role_id)
            )
        }
        Ruling::Decided(decision @ Decision::Allow(_)) => {
            format!("allowed: {}", decision.reason_text())
        }
        Ruling::Decided(Decision::Deny(reason)) => {
            format!("denied ({}): {}", reason.code(), reason.message())
        }
        Ruling::NotFound => "no such resource".into(),
    }
}

fn person(tenant: TenantId, user: UserId, email: &str) -> Principal {
    Principal {
        user_id: user,
        tenant_id: tenant,
        email: email.into(),
        platform_admin: false,
        auth: AuthMethod::Session,
        credential_expires_at: None,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), StoreError> {
    let id = Uuid::from_u128;
    let tenant = TenantId::from_uuid(id(1));
    // tenant > division > group > two teams; each team has a site with devices.
    let unit = |n, kind, parent| UnitRow {
        id: id(n),
        kind,
        parent_id: id(parent),
    };
    let (team_a, team_b) = (TeamId::from_uuid(id(4)), TeamId::from_uuid(id(5)));
    let (site_a, site_b) = (SiteId::from_uuid(id(6)), SiteId::from_uuid(id(7)));
    let lab_a = DeviceId::from_uuid(id(10));
    let core_a = DeviceId::from_uuid(id(11));
    let edge_b = DeviceId::from_uuid(id(12));
    let (alice, bob) = (UserId::from_uuid(id(20)), UserId::from_uuid(id(21)));
    let source = Arc::new(MemorySource {
        tenant,
        rows: RwLock::new(TenantSnapshot {
            tenant_id: Some(tenant),
            generation: 1,
            units: vec![
                unit(2, UnitKind::Division, 1),
                unit(3, UnitKind::Group, 2),
                unit(4, UnitKind::Team, 3),
                unit(5, UnitKind::Team, 3),
            ],
            sites: vec![(site_a, team_a), (site_b, team_b)],
            devices: vec![
                (lab_a, site_a, Environment::Lab),
                (core_a, site_a, Environment::Prod),
                (edge_b, site_b, Environment::Prod),
            ],
            users: vec![alice, bob],
            ..TenantSnapshot::default()
        }),
    });
    // Alice runs operator tools in team A, but not in production; Bob
    // administers team B.
    let envs = [Environment::Lab, Environment::Staging];
    source
        .bind(30, alice, BuiltinRole::OpsRw, Scope::Team(team_a), &envs)
        .await;
    source
        .bind(31, bob, BuiltinRole::TeamAdmin, Scope::Team(team_b), &[])
        .await;

    let authorizer = Authorizer::new(source.clone());
    let alice_p = person(tenant, alice, "alice@example.test");
    let bob_p = person(tenant, bob, "bob@example.test");
    let questions = [
        (
            "alice",
            &alice_p,
            Permission::ToolAdvanced,
            "lab-a (team A, lab)",
            Resource::Device(lab_a),
        ),
        (
            "alice",
            &alice_p,
            Permission::ToolAdvanced,
            "core-a (team A, prod)",
            Resource::Device(core_a),
        ),
        (
            "alice",
            &alice_p,
            Permission::ToolFundamental,
            "edge-b (team B, prod)",
            Resource::Device(edge_b),
        ),
        (
            "bob",
            &bob_p,
            Permission::DeviceUpdate,
            "edge-b (team B, prod)",
            Resource::Device(edge_b),
        ),
        (
            "bob",
            &bob_p,
            Permission::SiteRead,
            "site A",
            Resource::Site(site_a),
        ),
        (
            "bob",
            &bob_p,
            Permission::DeviceRead,
            "a device nobody has",
            Resource::Device(DeviceId::from_uuid(id(99))),
        ),
    ];
    for (who, principal, permission, what, resource) in questions {
        let outcome = authorizer.decide(principal, permission, resource).await?;
        println!("{who} {permission} on {what}: {}", explain(outcome));
    }

    // A new binding moves the generation; the next question sees it.
    source
        .bind(32, alice, BuiltinRole::ReadOnly, Scope::Team(team_b), &[])
        .await;
    let outcome = authorizer
        .decide(
            &alice_p,
            Permission::ToolFundamental,
            Resource::Device(edge_b),
        )
        .await?;
    println!(
        "after binding alice read_only at team B (generation {}): alice {} on edge-b: {}",
        authorizer.index(tenant).await?.generation(),
        Permission::ToolFundamental,
        explain(outcome)
    );
    Ok(())
}
