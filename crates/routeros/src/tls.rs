//! One reqwest client per TLS policy, and the verifier for pinned
//! certificates.
//!
//! RouterOS ships a self-signed certificate, so many devices are reached
//! either through a private CA ([`TlsPolicy::CaPem`]) or by pinning the
//! SHA-256 of the exact leaf certificate ([`TlsPolicy::Pinned`]). A pin is
//! the device's whole identity: host name, issuer and validity dates are not
//! checked, but the handshake signature still is, so only the holder of that
//! certificate's private key gets through. There is deliberately no policy
//! that accepts any certificate.

use std::sync::Arc;
use std::time::Duration;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tools::{DeviceError, TlsPolicy};

use crate::ClientConfig;

/// A [`TlsPolicy`] as a map key (the policy itself is not `Hash`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum TlsKey {
    Verify,
    CaPem(String),
    Pinned([u8; 32]),
    PlainHttp,
}

impl From<&TlsPolicy> for TlsKey {
    fn from(policy: &TlsPolicy) -> Self {
        match policy {
            TlsPolicy::Verify => Self::Verify,
            TlsPolicy::CaPem(pem) => Self::CaPem(pem.clone()),
            TlsPolicy::Pinned(pin) => Self::Pinned(*pin),
            TlsPolicy::PlainHttp => Self::PlainHttp,
        }
    }
}

/// Builds the HTTP client for one TLS policy: no redirects, no proxies,
/// bounded time, a small keep-alive pool.
pub(crate) fn build_client(
    policy: &TlsPolicy,
    config: &ClientConfig,
) -> Result<reqwest::Client, DeviceError> {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(config.timeout)
        .connect_timeout(config.connect_timeout.min(config.timeout))
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(3)
        .https_only(*policy != TlsPolicy::PlainHttp)
        .dns_resolver(std::sync::Arc::new(crate::resolve::CheckedResolver {
            allow_private_hosts: config.allow_private_hosts,
        }))
        .user_agent(concat!("rosgate/", env!("CARGO_PKG_VERSION")));
    let builder = match policy {
        TlsPolicy::Verify | TlsPolicy::PlainHttp => builder,
        TlsPolicy::CaPem(pem) => {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .ok()
                .filter(|certs| !certs.is_empty())
                .ok_or_else(|| {
                    DeviceError::Tls("the device's CA certificate is not valid PEM".to_owned())
                })?;
            builder.tls_certs_only(certs)
        }
        TlsPolicy::Pinned(pin) => builder.tls_backend_preconfigured(pinned_config(*pin)?),
    };
    builder.build().map_err(|err| {
        let cause = std::error::Error::source(&err)
            .map_or_else(|| "unknown cause".to_owned(), ToString::to_string);
        DeviceError::Tls(format!("cannot set up TLS for the device: {cause}"))
    })
}

/// A rustls configuration that accepts exactly the leaf certificate whose
/// SHA-256 is `pin`.
fn pinned_config(pin: [u8; 32]) -> Result<rustls::ClientConfig, DeviceError> {
    // The process-wide provider if the app installed one, else aws-lc-rs
    // (reqwest's own choice); naming it avoids rustls' panic when more than
    // one provider is compiled in.
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let verifier = PinnedVerifier {
        pin,
        algorithms: provider.signature_verification_algorithms,
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| DeviceError::Tls(format!("cannot set up TLS for the device: {err}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    // RouterOS' web server speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Accepts the one leaf certificate whose SHA-256 is `pin`.
#[derive(Debug)]
struct PinnedVerifier {
    pin: [u8; 32],
    algorithms: WebPkiSupportedAlgorithms,
}

/// A leaf certificate that is not the pinned one.
#[derive(Debug)]
struct PinMismatch {
    presented: String,
}

impl std::fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the certificate's SHA-256 fingerprint {} is not the pinned one",
            self.presented
        )
    }
}

impl std::error::Error for PinMismatch {}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if bool::from(presented.ct_eq(&self.pin)) {
            Ok(ServerCertVerified::assertion())
        } else {
            let mismatch = PinMismatch {
                presented: hex(&presented),
            };
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Other(rustls::OtherError(Arc::new(mismatch))),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
