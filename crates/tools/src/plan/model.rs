//! The plan model: a plan's change, devices, status and outcomes, the
//! state machine its status follows, and the single-use confirmation token
//! that lets its creator apply it.
//!
//! The token is the creator's confirmation, not an approval by someone
//! else: it proves that the person applying the plan is the one who made
//! it, within 15 minutes, and that the plan's change and device list are
//! still the ones it was made for (its MAC covers a digest of both).
//!
//! The state machine (checked on every move, atomically in the store):
//! `pending → confirmed → executing → completed | failed | rolling_back`,
//! `rolling_back → rolled_back`, and `pending | confirmed → cancelled`.
//! Applying a plan with its token moves it pending → confirmed → executing
//! once every check has passed; the store's compare-and-set on the first
//! move makes the token single use.

use hmac::{Hmac, Mac};
use kernel::{DeviceId, TenantId, UserId};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// How long a confirmation token is good for.
pub const TOKEN_TTL: Duration = Duration::minutes(15);

/// Where a plan is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    Pending,
    /// Its creator confirmed it with its token, which is now used up.
    Confirmed,
    Executing,
    Completed,
    Failed,
    RollingBack,
    RolledBack,
    Cancelled,
}

impl PlanStatus {
    /// Every status, in the order of a plan's life.
    pub const ALL: [PlanStatus; 8] = [
        PlanStatus::Pending,
        PlanStatus::Confirmed,
        PlanStatus::Executing,
        PlanStatus::Completed,
        PlanStatus::Failed,
        PlanStatus::RollingBack,
        PlanStatus::RolledBack,
        PlanStatus::Cancelled,
    ];

    /// Whether the state machine allows `self → next`.
    pub fn can_move_to(self, next: PlanStatus) -> bool {
        use PlanStatus::*;
        matches!(
            (self, next),
            (Pending, Confirmed | Cancelled)
                | (Confirmed, Executing | Cancelled)
                | (Executing, Completed | Failed | RollingBack | Cancelled)
                | (RollingBack, RolledBack | Failed)
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Pending => "pending",
            PlanStatus::Confirmed => "confirmed",
            PlanStatus::Executing => "executing",
            PlanStatus::Completed => "completed",
            PlanStatus::Failed => "failed",
            PlanStatus::RollingBack => "rolling_back",
            PlanStatus::RolledBack => "rolled_back",
            PlanStatus::Cancelled => "cancelled",
        }
    }

    /// The status stored as `s`. `approved`, the name an instance from
    /// before the rename may still write while a rolling upgrade runs,
    /// reads as [`PlanStatus::Confirmed`].
    pub fn parse(s: &str) -> Option<PlanStatus> {
        if s == "approved" {
            return Some(PlanStatus::Confirmed);
        }
        PlanStatus::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// The change a plan makes on each of its devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    AddFirewallRule {
        chain: String,
        action: String,
        src_address: Option<String>,
        dst_address: Option<String>,
        protocol: Option<String>,
        dst_port: Option<String>,
        comment: Option<String>,
    },
    RemoveFirewallRule {
        rule_id: String,
    },
    AddStaticRoute {
        dst_address: String,
        gateway: String,
        distance: Option<i64>,
        comment: Option<String>,
    },
    RemoveStaticRoute {
        route_id: String,
    },
    DnsNtp {
        dns_servers: Option<Vec<String>>,
        ntp_servers: Option<Vec<String>>,
    },
}

impl Change {
    /// How risky the change is, for the person confirming it.
    pub fn risk(&self, devices: usize) -> &'static str {
        match self {
            Change::AddFirewallRule { chain, action, .. }
                if chain == "input" || action == "drop" || action == "reject" =>
            {
                "high"
            }
            Change::RemoveFirewallRule { .. } | Change::RemoveStaticRoute { .. } => "high",
            Change::DnsNtp { .. } if devices > 10 => "high",
            _ => "medium",
        }
    }
}

/// What happened on one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceOutcome {
    pub device_id: DeviceId,
    /// `applied`, `rolled_back`, `failed` or `not_started`.
    pub outcome: String,
    pub detail: String,
}

/// A plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub created_by: UserId,
    /// The plan tool that created it.
    pub tool: String,
    pub change: Change,
    pub device_ids: Vec<DeviceId>,
    pub batch_size: usize,
    pub status: PlanStatus,
    pub risk: String,
    pub outcomes: Vec<DeviceOutcome>,
    pub created_at: OffsetDateTime,
    /// When the confirmation token stops working.
    pub expires_at: OffsetDateTime,
}

/// The prefix of every confirmation token.
pub const TOKEN_PREFIX: &str = "confirm_";

impl Plan {
    /// SHA-256 of what the plan does: its tool, change, devices (in order)
    /// and batch size. A token made for one plan's content does not
    /// confirm the plan once its content has changed.
    pub fn content_digest(&self) -> [u8; 32] {
        use sha2::Digest;
        let mut h = Sha256::new();
        let mut put = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(bytes);
        };
        put(self.tool.as_bytes());
        // Serialising a `Change` is deterministic: fields in declaration order.
        put(&serde_json::to_vec(&self.change).unwrap_or_default());
        for d in &self.device_ids {
            put(d.uuid().as_bytes());
        }
        put(&(self.batch_size as u64).to_be_bytes());
        h.finalize().into()
    }
}

/// Signs confirmation tokens:
/// `confirm_<hex HMAC-SHA256(plan id, creator, expiry, content digest)>`.
#[derive(Clone)]
pub struct ConfirmationKey([u8; 32]);

impl std::fmt::Debug for ConfirmationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfirmationKey(<redacted>)")
    }
}

impl ConfirmationKey {
    pub fn new(key: [u8; 32]) -> Self {
        Self(key)
    }

    fn mac(&self, plan: &Plan) -> Hmac<Sha256> {
        // A 32-byte key is always accepted by HMAC.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(plan.id.as_bytes());
        mac.update(plan.created_by.uuid().as_bytes());
        mac.update(&plan.expires_at.unix_timestamp().to_be_bytes());
        mac.update(&plan.content_digest());
        mac
    }

    /// The token for `plan`, shown once to its creator.
    pub fn token(&self, plan: &Plan) -> String {
        let bytes = self.mac(plan).finalize().into_bytes();
        format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
    }

    /// Whether `token` is `plan`'s, for its content as it is now, presented
    /// by its creator before expiry (constant-time comparison).
    pub fn verify(
        &self,
        plan: &Plan,
        token: &str,
        by: UserId,
        now: OffsetDateTime,
    ) -> Result<(), &'static str> {
        if by != plan.created_by {
            return Err("only the plan's creator can confirm it with its token");
        }
        if now >= plan.expires_at {
            return Err("the confirmation token has expired; create the plan again");
        }
        let Some(bytes) = token
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|h| hex::decode(h).ok())
        else {
            return Err("the confirmation token is malformed");
        };
        self.mac(plan).verify_slice(&bytes).map_err(|_| {
            "the confirmation token does not belong to this plan as it is stored; create the plan again"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let t = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        Plan {
            id: Uuid::from_u128(1),
            tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
            created_by: UserId::from_uuid(Uuid::from_u128(3)),
            tool: "plan_add_static_route".into(),
            change: Change::RemoveStaticRoute {
                route_id: "*1".into(),
            },
            device_ids: vec![],
            batch_size: 5,
            status: PlanStatus::Pending,
            risk: "high".into(),
            outcomes: vec![],
            created_at: t,
            expires_at: t + TOKEN_TTL,
        }
    }

    #[test]
    fn the_state_machine_allows_only_forward_moves() {
        use PlanStatus::*;
        assert!(Pending.can_move_to(Confirmed));
        assert!(Confirmed.can_move_to(Executing));
        assert!(Executing.can_move_to(RollingBack));
        assert!(RollingBack.can_move_to(RolledBack));
        assert!(
            !Pending.can_move_to(Executing),
            "the origin's broken shortcut"
        );
        assert!(!Completed.can_move_to(Executing));
        assert!(!RolledBack.can_move_to(Pending));
        for s in PlanStatus::ALL {
            assert_eq!(PlanStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(
            PlanStatus::parse("approved"),
            Some(Confirmed),
            "the name before the rename, written during a rolling upgrade"
        );
    }

    #[test]
    fn tokens_are_bound_to_plan_creator_time_and_content() {
        let key = ConfirmationKey::new([7; 32]);
        let p = plan();
        let token = key.token(&p);
        let now = p.created_at;
        assert_eq!(key.verify(&p, &token, p.created_by, now), Ok(()));
        assert!(
            key.verify(&p, &token, UserId::from_uuid(Uuid::from_u128(9)), now)
                .is_err(),
            "another user"
        );
        assert!(
            key.verify(&p, &token, p.created_by, p.expires_at).is_err(),
            "expired"
        );
        let mut other = p.clone();
        other.id = Uuid::from_u128(42);
        assert!(
            key.verify(&other, &token, p.created_by, now).is_err(),
            "another plan"
        );
        let mut changed = p.clone();
        changed.change = Change::RemoveStaticRoute {
            route_id: "*2".into(),
        };
        assert!(
            key.verify(&changed, &token, p.created_by, now).is_err(),
            "another change"
        );
        let mut moved = p.clone();
        moved.device_ids = vec![DeviceId::from_uuid(Uuid::from_u128(77))];
        assert!(
            key.verify(&moved, &token, p.created_by, now).is_err(),
            "other devices"
        );
        assert!(
            ConfirmationKey::new([8; 32])
                .verify(&p, &token, p.created_by, now)
                .is_err(),
            "another key"
        );
        assert!(key.verify(&p, "confirm_zz", p.created_by, now).is_err());
    }
}
