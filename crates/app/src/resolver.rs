//! Resolving device host names: the tokio adapter of the
//! `tenancy::HostResolver` port, so a device's name is checked against the
//! addresses it must not reach before it is stored.

/// Resolves device host names with tokio's resolver (on its blocking pool,
/// so the runtime is never held up), giving up after [`RESOLVE_TIMEOUT`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DnsResolver;

/// How long resolving a device host name may take.
pub const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

#[async_trait::async_trait]
impl tenancy::HostResolver for DnsResolver {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<std::net::IpAddr>, String> {
        match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(addrs)) => Ok(addrs.map(|a| a.ip()).collect()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} s", RESOLVE_TIMEOUT.as_secs())),
        }
    }
}
