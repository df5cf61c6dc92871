//! From a stored device to the address, TLS policy and credentials the
//! RouterOS adapter needs; resolving device names; reading a device back
//! to settle a change whose outcome was never recorded.

use audit::intents::Finding;
use tenancy::{Device, DeviceCredentials, DeviceTls};
use tools::readback::Intended;
use tools::{DeviceTarget, TlsPolicy};

/// The target for calls to `device`.
pub fn target(device: &Device, credentials: DeviceCredentials) -> DeviceTarget {
    DeviceTarget {
        device_id: device.id,
        host: device.host.clone(),
        port: device.port,
        tls: policy(&device.tls),
        credentials,
    }
}

fn policy(tls: &DeviceTls) -> TlsPolicy {
    match tls {
        DeviceTls::Verify => TlsPolicy::Verify,
        DeviceTls::Ca { ca_pem } => TlsPolicy::CaPem(ca_pem.clone()),
        DeviceTls::Pinned { sha256 } => {
            let mut pin = [0u8; 32];
            // Validated as 64 hex digits when stored; a corrupt pin matches nothing.
            if hex_decode(sha256, &mut pin).is_none() {
                pin = [0u8; 32];
            }
            TlsPolicy::Pinned(pin)
        }
        DeviceTls::PlainHttp => TlsPolicy::PlainHttp,
    }
}

fn hex_decode(s: &str, out: &mut [u8; 32]) -> Option<()> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    for (i, pair) in bytes.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(())
}

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

/// Reads devices back for intents nobody concluded (the
/// `audit::intents::ReadBack` port): finds the device and its stored
/// credentials, then asks the tools whether the kept change is in place.
#[derive(Debug)]
pub struct DeviceReadBack<'a> {
    pub tenancy: &'a tenancy::TenancyService,
    pub tools: &'a tools::Runner,
}

#[async_trait::async_trait]
impl audit::intents::ReadBack for DeviceReadBack<'_> {
    async fn read_back(
        &self,
        intent: &audit::AuditEvent,
        change: &audit::intents::IntendedChange,
    ) -> Finding {
        let Some(intended) = Intended::from_json(&change.change) else {
            return Finding::Unreadable("the kept change no longer reads".into());
        };
        if !vouches_for(intent, &intended) {
            return Finding::Unreadable("the kept change is not the one its intent records".into());
        }
        let id = kernel::DeviceId::from_uuid(change.device_id);
        let device = match self.tenancy.device(id).await {
            Ok(d) if Some(d.tenant_id) == change.tenant_id => d,
            Ok(_) | Err(tenancy::TenancyError::NotFound(_)) => {
                return Finding::Unreadable("the device is no longer in rosgate".into());
            }
            Err(e) => return Finding::Unavailable(format!("the device cannot be looked up: {e}")),
        };
        let credentials = match self.tenancy.credentials(id).await {
            Ok(Some(c)) => c,
            Ok(None) => return Finding::Unavailable("the device has no stored credentials".into()),
            Err(_) => {
                return Finding::Unavailable("the device's credentials cannot be read".into());
            }
        };
        self.tools
            .read_back(&target(&device, credentials), &intended)
            .await
    }
}

/// Whether the chained `intent` vouches for `intended`, which was kept
/// outside the chain: the same tool and argument digest, or the same plan.
fn vouches_for(intent: &audit::AuditEvent, intended: &Intended) -> bool {
    match intended {
        Intended::Tool { tool, input } => {
            intent.tool_name.as_deref() == Some(tool.as_str())
                && intent.args_digest.as_deref() == Some(audit::args_digest(input).as_str())
        }
        Intended::Plan { plan_id, .. } => intent.approval_request_id == Some(*plan_id),
    }
}
