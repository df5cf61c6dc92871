//! Where rosgate may send a device's stored credentials.
//!
//! A device's host, port and TLS setting decide where every tool call and
//! health check logs in with the device's credentials. These rules keep the
//! gateway from becoming a proxy that carries those credentials to itself,
//! to a cloud metadata service or across the network in the clear:
//!
//! - a host that is, or resolves to, a loopback, link-local (169.254.0.0/16,
//!   fe80::/10) or unspecified address is refused unless the server allows
//!   private hosts (`[devices] allow_private_hosts`, for simulated devices);
//! - plain HTTP is refused outside `lab`; where private hosts are allowed it
//!   is also accepted towards a loopback host, which never leaves the machine
//!   (the simulator of `serve --demo` and of the tests).
//!
//! Names are resolved through the [`HostResolver`] port (ports.rs), so the rules can be
//! tested without DNS and resolving never blocks the runtime.

use crate::error::TargetRefusal;
use crate::model::DeviceTls;
use crate::ports::HostResolver;
use async_trait::async_trait;
use kernel::Environment;
use kernel::net::{is_loopback, is_private};
use std::net::IpAddr;

/// The rules the server's configuration sets (`[devices]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetRules {
    /// Accept hosts that resolve to loopback, link-local or unspecified addresses.
    pub allow_private_hosts: bool,
}

/// A resolver that knows no names: address literals only. The default of a
/// [`crate::TenancyService`] until the application plugs in a real one.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNames;

#[async_trait]
impl HostResolver for NoNames {
    async fn resolve(&self, _host: &str, _port: u16) -> Result<Vec<IpAddr>, String> {
        Err("names are not resolved here".into())
    }
}

/// Checks a device's target: `host` (already validated as a name or an
/// address), `port`, `tls` and `environment` against `rules`.
pub async fn check(
    rules: TargetRules,
    resolver: &dyn HostResolver,
    host: &str,
    port: u16,
    tls: &DeviceTls,
    environment: Environment,
) -> Result<(), TargetRefusal> {
    let addrs = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => resolver
            .resolve(host, port)
            .await
            .map_err(|why| TargetRefusal {
                field: "host",
                code: TargetRefusal::UNRESOLVABLE_HOST,
                reason: format!(
                    "{host} cannot be resolved ({why}); give an IP address or a name that resolves"
                ),
            })?,
    };
    if addrs.is_empty() {
        return Err(TargetRefusal {
            field: "host",
            code: TargetRefusal::UNRESOLVABLE_HOST,
            reason: format!(
                "{host} resolves to no address; give an IP address or a name that resolves"
            ),
        });
    }
    if !rules.allow_private_hosts
        && let Some(ip) = addrs.iter().copied().find(|ip| is_private(*ip))
    {
        return Err(TargetRefusal {
            field: "host",
            code: TargetRefusal::PRIVATE_HOST,
            reason: format!(
                "{host} is or resolves to {ip}, a loopback, link-local or unspecified address; \
                 devices must be reached at a routable address"
            ),
        });
    }
    let loopback_only = addrs.iter().copied().all(is_loopback);
    if *tls == DeviceTls::PlainHttp
        && environment != Environment::Lab
        && !(rules.allow_private_hosts && loopback_only)
    {
        return Err(TargetRefusal {
            field: "tls",
            code: TargetRefusal::PLAIN_HTTP_OUTSIDE_LAB,
            reason: format!(
                "plain_http sends the device's credentials in the clear and is accepted for lab devices only; \
                 use verify, ca or pinned for a {} device",
                environment.as_str()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Vec<IpAddr>);

    #[async_trait]
    impl HostResolver for Fixed {
        async fn resolve(&self, _host: &str, _port: u16) -> Result<Vec<IpAddr>, String> {
            Ok(self.0.clone())
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| unreachable!("a test address"))
    }

    #[tokio::test]
    async fn names_are_checked_by_what_they_resolve_to() {
        let strict = TargetRules::default();
        let to_metadata = Fixed(vec![ip("10.0.0.1"), ip("169.254.169.254")]);
        let r = check(
            strict,
            &to_metadata,
            "r1.acme.test",
            443,
            &DeviceTls::Verify,
            Environment::Prod,
        )
        .await
        .unwrap_err();
        assert_eq!((r.field, r.code), ("host", "private_device_host"));
        let routable = Fixed(vec![ip("10.0.0.1")]);
        assert!(
            check(
                strict,
                &routable,
                "r1.acme.test",
                443,
                &DeviceTls::Verify,
                Environment::Prod
            )
            .await
            .is_ok()
        );
        let r = check(
            strict,
            &NoNames,
            "r1.acme.test",
            443,
            &DeviceTls::Verify,
            Environment::Lab,
        )
        .await
        .unwrap_err();
        assert_eq!(r.code, "unresolvable_device_host");
        let r = check(
            strict,
            &Fixed(vec![]),
            "r1.acme.test",
            443,
            &DeviceTls::Verify,
            Environment::Lab,
        )
        .await
        .unwrap_err();
        assert_eq!(r.code, "unresolvable_device_host");
    }

    #[tokio::test]
    async fn plain_http_is_for_lab_devices_and_local_simulators_only() {
        let strict = TargetRules::default();
        let lenient = TargetRules {
            allow_private_hosts: true,
        };
        let plain = DeviceTls::PlainHttp;
        for env in [Environment::Staging, Environment::Prod] {
            let r = check(strict, &NoNames, "10.0.0.1", 80, &plain, env)
                .await
                .unwrap_err();
            assert_eq!((r.field, r.code), ("tls", "plain_http_outside_lab"));
            let r = check(lenient, &NoNames, "10.0.0.1", 80, &plain, env)
                .await
                .unwrap_err();
            assert_eq!(
                r.code, "plain_http_outside_lab",
                "only loopback is excepted"
            );
            assert!(
                check(lenient, &NoNames, "127.0.0.1", 80, &plain, env)
                    .await
                    .is_ok()
            );
        }
        assert!(
            check(strict, &NoNames, "10.0.0.1", 80, &plain, Environment::Lab)
                .await
                .is_ok()
        );
        let r = check(strict, &NoNames, "127.0.0.1", 80, &plain, Environment::Lab)
            .await
            .unwrap_err();
        assert_eq!(r.code, "private_device_host");
    }
}
