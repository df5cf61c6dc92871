//! The foundation schema: the tenant hierarchy, users, sites, devices,
//! RBAC, invitations, API tokens and the audit event table.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(
    table: &'static str,
    col: &'static str,
    to: &'static str,
    cascade: bool,
) -> ForeignKeyCreateStatement {
    let mut f = ForeignKey::create();
    f.name(format!("fk_{table}_{col}"))
        .from(table, col)
        .to(to, "id");
    if cascade {
        f.on_delete(ForeignKeyAction::Cascade);
    } else {
        f.on_delete(ForeignKeyAction::Restrict);
    }
    f
}

fn index(table: &'static str, cols: &[&'static str], unique: bool) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(format!("ix_{table}_{}", cols.join("_")))
        .table(table);
    for c in cols {
        i.col(*c);
    }
    if unique {
        i.unique();
    }
    i
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("tenants")
                .col(pk_uuid("id"))
                .col(string_uniq("name"))
                .col(big_integer("authz_generation").default(0))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("org_units")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(string("kind"))
                .col(uuid("parent_id"))
                .col(string("name"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("org_units", "tenant_id", "tenants", false))
                .to_owned(),
        )
        .await?;
        m.create_index(index("org_units", &["parent_id", "name"], true))
            .await?;
        m.create_index(index("org_units", &["tenant_id"], false))
            .await?;

        m.create_table(
            Table::create()
                .table("users")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(string_uniq("email"))
                .col(string("display_name"))
                .col(boolean("platform_admin").default(false))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("users", "tenant_id", "tenants", false))
                .to_owned(),
        )
        .await?;
        m.create_index(index("users", &["tenant_id"], false))
            .await?;

        m.create_table(
            Table::create()
                .table("sites")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(uuid("team_id"))
                .col(string("name"))
                .col(timestamp_with_time_zone_null("published_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("sites", "tenant_id", "tenants", false))
                .foreign_key(&mut fk("sites", "team_id", "org_units", false))
                .to_owned(),
        )
        .await?;
        m.create_index(index("sites", &["tenant_id"], false))
            .await?;
        m.create_index(index("sites", &["team_id"], false)).await?;

        m.create_table(
            Table::create()
                .table("devices")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(uuid("site_id"))
                .col(string("name"))
                .col(string("host"))
                .col(integer("port"))
                .col(string("environment"))
                .col(text("tags"))
                .col(boolean("allow_advanced_writes"))
                .col(boolean("allow_professional_workflows"))
                .col(boolean("allow_firewall_writes"))
                .col(boolean("allow_routing_writes"))
                .col(boolean("allow_wireless_writes"))
                .col(boolean("allow_dhcp_writes"))
                .col(boolean("allow_bridge_writes"))
                .col(boolean("allow_bandwidth_test"))
                .col(blob_null("credentials"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("devices", "tenant_id", "tenants", false))
                .foreign_key(&mut fk("devices", "site_id", "sites", false))
                .to_owned(),
        )
        .await?;
        m.create_index(index("devices", &["tenant_id", "name"], true))
            .await?;
        m.create_index(index("devices", &["site_id"], false))
            .await?;

        m.create_table(
            Table::create()
                .table("device_groups")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(string("name"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("device_groups", "tenant_id", "tenants", false))
                .to_owned(),
        )
        .await?;
        m.create_index(index("device_groups", &["tenant_id", "name"], true))
            .await?;

        m.create_table(
            Table::create()
                .table("device_group_members")
                .col(uuid("group_id"))
                .col(uuid("device_id"))
                .primary_key(Index::create().col("group_id").col("device_id"))
                .foreign_key(&mut fk(
                    "device_group_members",
                    "group_id",
                    "device_groups",
                    true,
                ))
                .foreign_key(&mut fk(
                    "device_group_members",
                    "device_id",
                    "devices",
                    true,
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("roles")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(string("name"))
                .col(text("permissions"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("roles", "tenant_id", "tenants", false))
                .to_owned(),
        )
        .await?;
        m.create_index(index("roles", &["tenant_id", "name"], true))
            .await?;

        m.create_table(
            Table::create()
                .table("role_bindings")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(uuid("user_id"))
                .col(uuid("role_id"))
                .col(string("scope_type"))
                .col(uuid("scope_id"))
                .col(string_null("environments"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("role_bindings", "tenant_id", "tenants", false))
                .foreign_key(&mut fk("role_bindings", "user_id", "users", true))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "role_bindings",
            &["user_id", "role_id", "scope_id"],
            true,
        ))
        .await?;
        m.create_index(index("role_bindings", &["tenant_id"], false))
            .await?;
        m.create_index(index("role_bindings", &["role_id"], false))
            .await?;

        m.create_table(
            Table::create()
                .table("device_scopes")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(uuid("user_id"))
                .col(string("target_type"))
                .col(uuid("target_id"))
                .col(uuid("granted_by"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("device_scopes", "tenant_id", "tenants", false))
                .foreign_key(&mut fk("device_scopes", "user_id", "users", true))
                .to_owned(),
        )
        .await?;
        m.create_index(index("device_scopes", &["user_id", "target_id"], true))
            .await?;
        m.create_index(index("device_scopes", &["tenant_id"], false))
            .await?;

        m.create_table(
            Table::create()
                .table("invitations")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(string("email"))
                .col(uuid("role_id"))
                .col(string("scope_type"))
                .col(uuid("scope_id"))
                .col(string_null("environments"))
                .col(uuid("invited_by"))
                .col(string("token_hash"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("accepted_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("invitations", "tenant_id", "tenants", false))
                .to_owned(),
        )
        .await?;
        m.create_index(index("invitations", &["tenant_id"], false))
            .await?;

        m.create_table(
            Table::create()
                .table("api_tokens")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(uuid("user_id"))
                .col(string("name"))
                .col(string("token_hash"))
                .col(timestamp_with_time_zone_null("expires_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("api_tokens", "user_id", "users", true))
                .to_owned(),
        )
        .await?;
        m.create_index(index("api_tokens", &["user_id"], false))
            .await?;

        m.create_table(
            Table::create()
                .table("audit_events")
                .col(pk_uuid("id"))
                .col(timestamp_with_time_zone("at"))
                .col(uuid_null("tenant_id"))
                .col(uuid_null("user_id"))
                .col(string_null("user_email"))
                .col(string("operation"))
                .col(string("action"))
                .col(string("resource_type"))
                .col(uuid_null("resource_id"))
                .col(string("decision"))
                .col(text("reason"))
                .col(string("request_id"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("audit_events", &["tenant_id", "at"], false))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "audit_events",
            "api_tokens",
            "invitations",
            "device_scopes",
            "role_bindings",
            "roles",
            "device_group_members",
            "device_groups",
            "devices",
            "sites",
            "users",
            "org_units",
            "tenants",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
