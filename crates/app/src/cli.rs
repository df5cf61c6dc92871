//! The `rosgate` command line.

use crate::http::codes::Code;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Access control and governance gateway for MikroTik RouterOS fleets.
#[derive(Debug, Parser)]
#[command(name = "rosgate", version, about)]
pub struct Cli {
    /// A TOML configuration file (see docs/configuration.md).
    #[arg(long, global = true, env = "ROSGATE_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve {
        /// Seed demo tenants, users and devices, and print API tokens for the demo users.
        #[arg(long)]
        demo: bool,
    },
    /// Bring the database schema up to date and exit.
    Migrate,
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
}

/// User commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Link a user to an identity at the provider (its `sub`), so they log
    /// in as that user. The only way for platform administrators and users
    /// holding `admin:*`, who are never linked by email.
    LinkIdentity {
        /// The user's email.
        #[arg(long)]
        email: String,
        /// The provider's subject (`sub`) for the person.
        #[arg(long)]
        subject: String,
        /// The provider's issuer; `oidc.issuer` when omitted.
        #[arg(long)]
        issuer: Option<String>,
    },
}

/// API token commands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user and print it (shown once).
    Create {
        /// The user's email.
        #[arg(long)]
        email: String,
        /// Lifetime such as `30d`, `12h` or `90m`; no expiry when omitted.
        #[arg(long)]
        ttl: Option<String>,
        /// A name to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

/// Parses `30d`, `12h`, `90m` or `45s`.
pub fn parse_ttl(s: &str) -> Result<time::Duration, String> {
    let bad =
        || format!("`{s}` is not a lifetime: use a number followed by d, h, m or s, like 30d");
    let (num, unit) = s.split_at(s.len().checked_sub(1).ok_or_else(bad)?);
    let n: i64 = num.parse().map_err(|_| bad())?;
    if n <= 0 {
        return Err(bad());
    }
    Ok(match unit {
        "d" => time::Duration::days(n),
        "h" => time::Duration::hours(n),
        "m" => time::Duration::minutes(n),
        "s" => time::Duration::seconds(n),
        _ => return Err(bad()),
    })
}

/// `rosgate user link-identity`: links the user with `email` to `subject`
/// at `issuer`, and records it in the audit trail like an API request (an
/// `allow` or a `deny` on `admin:*` over the user, naming issuer and
/// subject; no user acted, the operator at the command line did). Nothing
/// is linked if the event cannot be written.
pub async fn link_identity(
    state: &crate::AppState,
    email: &str,
    subject: &str,
    issuer: &str,
) -> Result<tenancy::User, Box<dyn std::error::Error>> {
    use audit::Outcome;
    let user = state
        .tenancy
        .repo()
        .user_by_email(email)
        .await?
        .ok_or_else(|| format!("no user with email {email}"))?;
    let what = format!(
        "command line: identity link of subject {:?} at issuer {:?}",
        subject.chars().take(256).collect::<String>(),
        issuer.chars().take(256).collect::<String>()
    );
    let refused = match tenancy::TenancyService::identity_input(issuer, subject) {
        Err(e) => Some((Code::InvalidField, e)),
        Ok(subject) => match state
            .tenancy
            .repo()
            .user_by_identity(issuer, subject)
            .await?
        {
            Some(u) if u.id != user.id => Some((
                Code::IdentityTaken,
                tenancy::TenancyError::Conflict(
                    "this identity is already linked to another user".into(),
                ),
            )),
            _ => None,
        },
    };
    let (outcome, reason) = match &refused {
        Some((code, e)) => (Outcome::Deny, format!("{what} refused: {code}: {e}")),
        None => (Outcome::Allow, format!("{what} created")),
    };
    let now = state.clock.now();
    let event = audit::AuditEvent {
        id: kernel::AuditEventId::from_uuid(state.entropy.uuid_v7(now)),
        at: now,
        tenant_id: Some(user.tenant_id),
        user_id: None,
        user_email: None,
        actor: audit::Actor::User,
        operation: "cli:link-identity".into(),
        tool_name: None,
        action: "admin:*".into(),
        resource_type: "user".into(),
        resource_id: Some(user.id.uuid()),
        device_id: None,
        environment: None,
        effect: audit::Effect::Write,
        decision: outcome,
        result: outcome.result(),
        error_class: refused.as_ref().map(|(code, _)| (*code).into()),
        approval_request_id: None,
        client_addr: None,
        args_digest: None,
        intent_id: None,
        client_request_id: None,
        count: 1,
        reason: reason.chars().take(500).collect(),
        request_id: String::new(),
    };
    crate::enforce::commit(state, event)
        .await
        .map_err(|()| "the audit trail cannot be written; nothing was linked")?;
    if let Some((_, e)) = refused {
        return Err(e.into());
    }
    state.tenancy.link_identity(&user, issuer, subject).await?;
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_parses_units_and_refuses_nonsense() {
        assert_eq!(parse_ttl("30d").unwrap(), time::Duration::days(30));
        assert_eq!(parse_ttl("12h").unwrap(), time::Duration::hours(12));
        for bad in ["", "d", "0d", "-1d", "10y", "ten d"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
