//! Per-user request budgets over the [`RateLimiter`] port.
//!
//! Every authenticated REST request and MCP request counts once against
//! its user's hourly and daily budget; a tool with a budget of its own
//! counts again against that one. The budget is the largest among the
//! user's roles (`[rate_limits.roles]`), or the default. Counting lives in
//! the port: in this process for one instance, on Redis for a fleet, so
//! every instance spends from one budget.
//!
//! When the store cannot answer, `fail_open` decides: refuse (the default)
//! or let the request through; either way it is logged.

use crate::config::{Budget, RateLimitsConfig};
use kernel::{Allowance, Clock, Principal, Quota, RateLimiter, RoleId};
use poem::http::HeaderMap;
use poem::http::header::HeaderValue;
use std::sync::Arc;
use time::Duration;

/// The request budgets of every user.
#[derive(Clone)]
pub struct Limits {
    limiter: Arc<dyn RateLimiter>,
    config: Arc<RateLimitsConfig>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// One window of a budget, as checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// `hour` or `day`.
    pub name: &'static str,
    pub quota: Quota,
    pub decision: Allowance,
}

/// The windows checked for one request, for its rate-limit headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub windows: Vec<Window>,
}

/// Why a request was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Over budget: retry after the verdict's `retry_after`.
    Limited(Verdict),
    /// The store cannot answer and `fail_open` is off.
    Unavailable,
}

impl Verdict {
    /// The window closest to running out: the one the headers report.
    fn tightest(&self) -> Option<&Window> {
        self.windows
            .iter()
            .min_by_key(|w| (w.decision.allowed, w.decision.remaining))
    }

    /// Whole seconds until a refused request may be retried (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        let w = self.windows.iter().find(|w| !w.decision.allowed);
        let wait = w.map_or(Duration::ZERO, |w| {
            w.decision.retry_after.unwrap_or(w.quota.period)
        });
        ceil_secs(wait).max(1)
    }

    /// `X-RateLimit-Limit`, `-Remaining`, `-Reset` (seconds) for the
    /// tightest window, and the IETF `RateLimit` and `RateLimit-Policy`
    /// fields for all of them.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        let Some(t) = self.tightest() else {
            return;
        };
        let reset = ceil_secs(t.decision.reset_after);
        let mut put = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        };
        put("x-ratelimit-limit", t.quota.limit.to_string());
        put("x-ratelimit-remaining", t.decision.remaining.to_string());
        put("x-ratelimit-reset", reset.to_string());
        put(
            "ratelimit",
            format!("\"{}\";r={};t={reset}", t.name, t.decision.remaining),
        );
        put(
            "ratelimit-policy",
            self.windows
                .iter()
                .map(|w| {
                    format!(
                        "\"{}\";q={};w={}",
                        w.name,
                        w.quota.limit,
                        w.quota.period.whole_seconds()
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
}

fn ceil_secs(d: Duration) -> u64 {
    let us = d.whole_microseconds().max(0);
    u64::try_from((us + 999_999) / 1_000_000).unwrap_or(u64::MAX)
}

/// The key a client address is counted under: an IPv4 address as it is,
/// an IPv6 address by its /64 (one site's prefix: an attacker holding a
/// /64 must not get a budget per address in it).
pub fn address_key(addr: &str) -> String {
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        _ => addr.to_owned(),
    }
}

/// The larger of two limits; no limit is the largest.
fn larger(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    Some(a?.max(b?))
}

/// Refuses budgets for roles or tools that do not exist, so a typo in the
/// configuration is an error at startup instead of a budget never applied.
pub fn check_config(config: &RateLimitsConfig) -> Result<(), String> {
    for role in config.roles.keys() {
        if rbac::BuiltinRole::from_name(role).is_none() && uuid::Uuid::parse_str(role).is_err() {
            return Err(format!(
                "rate_limits.roles.{role}: not a built-in role name or a custom role id"
            ));
        }
    }
    for tool in config.tools.keys() {
        if tools::find(tool).is_none() {
            return Err(format!(
                "rate_limits.tools.{tool}: no such tool (see docs/tools.md)"
            ));
        }
    }
    Ok(())
}

impl Limits {
    pub fn new(
        limiter: Arc<dyn RateLimiter>,
        config: RateLimitsConfig,
        clock: Arc<dyn Clock>,
    ) -> Limits {
        Limits {
            limiter,
            config: Arc::new(config),
            clock,
        }
    }

    /// Whether requests are counted at all.
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// The budget of a user bound to `roles`: the largest of its roles'
    /// budgets, or the default when none of them has one.
    pub fn budget(&self, roles: impl IntoIterator<Item = RoleId>) -> Budget {
        let mut best: Option<Budget> = None;
        for role in roles {
            let key = rbac::BuiltinRole::from_id(role)
                .map_or_else(|| role.uuid().to_string(), |r| r.name().to_owned());
            if let Some(b) = self.config.roles.get(&key) {
                best = Some(match best {
                    None => *b,
                    Some(x) => Budget {
                        per_hour: larger(x.per_hour, b.per_hour),
                        per_day: larger(x.per_day, b.per_day),
                    },
                });
            }
        }
        best.unwrap_or(self.config.default)
    }

    /// Counts one request of `who`, whose roles are `roles`.
    pub async fn admit_user(
        &self,
        who: &Principal,
        roles: impl IntoIterator<Item = RoleId>,
    ) -> Result<Verdict, Refusal> {
        let budget = self.budget(roles);
        self.check(&format!("u:{}", who.user_id), budget).await
    }

    /// Counts one call of `tool` by `who` against the tool's own budget,
    /// if it has one.
    pub async fn admit_tool(&self, who: &Principal, tool: &str) -> Result<Verdict, Refusal> {
        match self.config.tools.get(tool) {
            Some(b) => self.check(&format!("t:{tool}:{}", who.user_id), *b).await,
            None => Ok(Verdict::default()),
        }
    }

    /// Counts one request that names nobody (no credentials, or
    /// credentials that do not check out) against its client address's
    /// budget per minute (`[rate_limits] per_address_per_minute`), keyed
    /// by [`address_key`].
    pub async fn admit_address(&self, addr: &str) -> Result<Verdict, Refusal> {
        let mut verdict = Verdict::default();
        let Some(limit) = self
            .config
            .per_address_per_minute
            .filter(|_| self.config.enabled)
        else {
            return Ok(verdict);
        };
        let quota = Quota {
            limit,
            period: Duration::minutes(1),
        };
        match self
            .limiter
            .check(
                &format!("a:{}:minute", address_key(addr)),
                quota,
                self.clock.now(),
            )
            .await
        {
            Ok(decision) => {
                verdict.windows.push(Window {
                    name: "minute",
                    quota,
                    decision,
                });
                if decision.allowed {
                    Ok(verdict)
                } else {
                    Err(Refusal::Limited(verdict))
                }
            }
            Err(e) if self.config.fail_open => {
                tracing::warn!(error = %e, "rate limits cannot be checked; letting the request through");
                Ok(verdict)
            }
            Err(e) => {
                tracing::warn!(error = %e, "rate limits cannot be checked; refusing the request");
                Err(Refusal::Unavailable)
            }
        }
    }

    async fn check(&self, key: &str, budget: Budget) -> Result<Verdict, Refusal> {
        let mut verdict = Verdict::default();
        if !self.config.enabled {
            return Ok(verdict);
        }
        let now = self.clock.now();
        let windows = [
            ("day", budget.per_day, Duration::days(1)),
            ("hour", budget.per_hour, Duration::hours(1)),
        ];
        for (name, limit, period) in windows {
            let Some(limit) = limit else { continue };
            let quota = Quota { limit, period };
            match self
                .limiter
                .check(&format!("{key}:{name}"), quota, now)
                .await
            {
                Ok(decision) => {
                    verdict.windows.push(Window {
                        name,
                        quota,
                        decision,
                    });
                    if !decision.allowed {
                        return Err(Refusal::Limited(verdict));
                    }
                }
                Err(e) if self.config.fail_open => {
                    tracing::warn!(error = %e, "rate limits cannot be checked; letting the request through (fail_open)");
                    return Ok(Verdict::default());
                }
                Err(e) => {
                    tracing::error!(error = %e, "rate limits cannot be checked; refusing the request (set rate_limits.fail_open to let requests through)");
                    return Err(Refusal::Unavailable);
                }
            }
        }
        Ok(verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use kernel::{AuthMethod, ManualClock, MemoryRateLimiter, StoreError, TenantId, UserId};
    use time::OffsetDateTime;

    #[test]
    fn ipv6_addresses_count_by_their_64_prefix() {
        assert_eq!(address_key("192.0.2.7"), "192.0.2.7");
        assert_eq!(address_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(address_key("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::/64");
        assert_eq!(address_key("::ffff:192.0.2.7"), "192.0.2.7");
    }

    struct Down;

    #[async_trait]
    impl RateLimiter for Down {
        async fn check(
            &self,
            _: &str,
            _: Quota,
            _: OffsetDateTime,
        ) -> Result<Allowance, StoreError> {
            Err(StoreError::Unavailable("connection refused".into()))
        }
    }

    fn who() -> Principal {
        Principal {
            user_id: UserId::from_uuid(uuid::Uuid::from_u128(7)),
            tenant_id: TenantId::from_uuid(uuid::Uuid::from_u128(1)),
            email: "a@example.test".into(),
            platform_admin: false,
            auth: AuthMethod::Bearer,
            credential_expires_at: None,
        }
    }

    fn limits(limiter: Arc<dyn RateLimiter>, edit: impl FnOnce(&mut RateLimitsConfig)) -> Limits {
        let mut config = RateLimitsConfig::default();
        edit(&mut config);
        let clock = Arc::new(ManualClock::new(OffsetDateTime::UNIX_EPOCH));
        Limits::new(limiter, config, clock)
    }

    #[test]
    fn a_user_gets_the_largest_budget_among_its_roles_or_the_default() {
        let l = limits(Arc::new(MemoryRateLimiter::new()), |_| {});
        let id = |r: rbac::BuiltinRole| r.id();
        use rbac::BuiltinRole as R;
        assert_eq!(l.budget([id(R::OpsRw)]), Budget::hourly(500));
        assert_eq!(
            l.budget([id(R::OpsRw), id(R::ReadOnly)]),
            Budget::hourly(1000)
        );
        assert_eq!(l.budget([id(R::Admin), id(R::OpsRw)]), Budget::hourly(2000));
        assert_eq!(l.budget([id(R::Member)]), Budget::hourly(1000));
        assert_eq!(l.budget([]), Budget::hourly(1000));
    }

    #[test]
    fn unknown_roles_and_tools_are_configuration_errors() {
        assert_eq!(check_config(&RateLimitsConfig::default()), Ok(()));
        let mut c = RateLimitsConfig::default();
        c.roles.insert("ops-rw".into(), Budget::hourly(1));
        assert!(
            check_config(&c)
                .unwrap_err()
                .contains("rate_limits.roles.ops-rw")
        );
        let mut c = RateLimitsConfig::default();
        c.roles
            .insert(uuid::Uuid::from_u128(9).to_string(), Budget::hourly(1));
        c.tools
            .insert("update_dns_servers".into(), Budget::hourly(1));
        assert_eq!(check_config(&c), Ok(()));
        c.tools
            .insert("reboot_everything".into(), Budget::hourly(1));
        assert!(check_config(&c).unwrap_err().contains("no such tool"));
    }

    #[test]
    fn no_limit_beats_any_limit() {
        assert_eq!(larger(Some(5), None), None);
        assert_eq!(larger(Some(5), Some(9)), Some(9));
    }

    #[tokio::test]
    async fn an_unreachable_store_refuses_unless_fail_open() {
        let closed = limits(Arc::new(Down), |_| {});
        assert_eq!(
            closed.admit_user(&who(), []).await,
            Err(Refusal::Unavailable)
        );
        let open = limits(Arc::new(Down), |c| c.fail_open = true);
        assert_eq!(open.admit_user(&who(), []).await, Ok(Verdict::default()));
    }

    #[tokio::test]
    async fn disabled_limits_count_nothing() {
        let l = limits(Arc::new(Down), |c| c.enabled = false);
        assert_eq!(l.admit_user(&who(), []).await, Ok(Verdict::default()));
    }

    #[tokio::test]
    async fn a_tool_budget_counts_apart_from_the_user_budget() {
        let l = limits(Arc::new(MemoryRateLimiter::new()), |c| {
            c.tools.insert(
                "reboot".into(),
                Budget {
                    per_hour: Some(1),
                    per_day: None,
                },
            );
        });
        assert!(l.admit_tool(&who(), "reboot").await.is_ok());
        let Err(Refusal::Limited(v)) = l.admit_tool(&who(), "reboot").await else {
            panic!("the second reboot within the hour is refused");
        };
        assert_eq!(v.retry_after_secs(), 3600);
        assert_eq!(l.admit_tool(&who(), "ping").await, Ok(Verdict::default()));
        assert!(l.admit_user(&who(), []).await.is_ok());
    }
}
