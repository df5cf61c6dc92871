//! From a stored device to the address, TLS policy and credentials the
//! RouterOS adapter needs.

use tenancy::{Device, DeviceCredentials, DeviceTls};
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
