//! Address classes that decide where rosgate may connect: a device host
//! that is or resolves to one of these would let the gateway send device
//! credentials to itself or to a link-local metadata service. Shared by the
//! device target rules (`tenancy::target`) and the RouterOS adapter, which
//! re-checks every name it resolves.

use std::net::IpAddr;

/// Whether `ip` is a loopback, link-local or unspecified address (IPv4,
/// IPv6, or IPv4 mapped into IPv6). `0.0.0.0/8` counts as unspecified: on
/// Linux a connection there reaches the local machine.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_link_local() || v4.octets()[0] == 0,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private(IpAddr::V4(v4)),
            None => {
                v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xffc0) == 0xfe80
            }
        },
    }
}

/// Whether `ip` is a loopback address (IPv4, IPv6, or IPv4 mapped into IPv6).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| unreachable!("a test address"))
    }

    #[test]
    fn loopback_link_local_and_unspecified_addresses_are_private() {
        for a in [
            "127.0.0.1",
            "127.8.9.10",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "::1",
            "::",
            "fe80::1",
            "febf::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_private(ip(a)), "{a}");
        }
        for a in [
            "10.0.0.1",
            "192.0.2.1",
            "2001:db8::1",
            "fec0::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_private(ip(a)), "{a}");
        }
    }
}
