//! From a stored device to what the [`crate::RouterOs`] port needs to call
//! it: address, TLS policy and credentials.

use crate::device::{DeviceTarget, TlsPolicy};
use tenancy::{Device, DeviceCredentials, DeviceTls};

/// The target for calls to `device`.
pub fn device_target(device: &Device, credentials: DeviceCredentials) -> DeviceTarget {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_certificate_is_its_sha256_in_bytes_and_a_corrupt_pin_matches_nothing() {
        let hex = format!("ab{}", "0".repeat(62));
        let mut pin = [0u8; 32];
        pin[0] = 0xab;
        assert_eq!(
            policy(&DeviceTls::Pinned { sha256: hex }),
            TlsPolicy::Pinned(pin)
        );
        assert_eq!(
            policy(&DeviceTls::Pinned {
                sha256: "zz".repeat(32)
            }),
            TlsPolicy::Pinned([0u8; 32])
        );
        assert_eq!(policy(&DeviceTls::Verify), TlsPolicy::Verify);
    }
}
