//! Name resolution for device connections, checked at every connection.
//!
//! A device's host name is checked when it is registered (by the tenancy
//! service's target rules), but its DNS answer can change afterwards (DNS
//! rebinding) and point at loopback or a cloud metadata service. This
//! resolver refuses such answers when rosgate connects, so stored
//! credentials never go there. Address literals are not resolved and were
//! checked when stored.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;

/// Resolves with tokio (off the runtime's worker threads) and refuses
/// private answers unless `allow_private_hosts`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CheckedResolver {
    pub allow_private_hosts: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow_private_hosts;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow && let Some(private) = addrs.iter().find(|a| kernel::net::is_private(a.ip()))
            {
                return Err(format!(
                    "{host} now resolves to {}, a loopback, link-local or unspecified address: \
                     the device's credentials are not sent there",
                    private.ip()
                )
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}
