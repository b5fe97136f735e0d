//! TLS for the session: one rustls client configuration per run, shared by every user,
//! whose session cache lets a user's reconnection resume (an abbreviated handshake, as a
//! browser's or Python's would), with the ring provider, HTTP/1.1 offered by ALPN, and
//! the system's roots plus `--ca-cert`'s, or no verification at all with `--insecure`.
//! Also the words a failed handshake is reported in.

use std::io;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::plan::target::TlsOptions;

/// The ring provider with its default suites and key exchanges.
// rustls deprecates ring's provider for lacking post-quantum key exchange (only aws-lc-rs
// has it). loadgen keeps ring on purpose: aws-lc-rs needs cmake and a long C build, and a
// load test's connections gain nothing from post-quantum secrecy.
#[allow(deprecated)]
pub(crate) fn ring_provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The run's client configuration.
pub(super) fn client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>, rustls::Error> {
    let provider = Arc::new(ring_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let mut config = if options.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(roots(options))
            .with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The system's trusted roots and the extra ones.
fn roots(options: &TlsOptions) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let system = rustls_native_certs::load_native_certs();
    for e in &system.errors {
        tracing::warn!("reading the system's root certificates: {e}");
    }
    let (_, unusable) = roots.add_parsable_certificates(system.certs);
    if unusable > 0 {
        tracing::debug!("{unusable} of the system's root certificates were unusable");
    }
    // Checked when the file was read (TlsOptions::add_ca_file).
    roots.add_parsable_certificates(options.extra_roots.iter().cloned());
    if roots.is_empty() {
        tracing::warn!(
            "no trusted root certificates: HTTPS requests fail verification unless --ca-cert names the server's CA"
        );
    }
    roots
}

/// `--insecure`: any certificate is accepted, but the handshake's signatures are still
/// checked, so the connection is at least with the holder of the certificate's key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A failed handshake with `host`, in the words of Python's `ssl` errors (one text per
/// kind, so the failures table groups them), saying what to do about a certificate.
pub(super) fn describe_handshake(e: &io::Error, host: &str) -> String {
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                "SSLError: connection closed during the TLS handshake".to_owned()
            }
            io::ErrorKind::ConnectionReset => {
                "SSLError: connection reset during the TLS handshake".to_owned()
            }
            _ => format!("SSLError: {e}"),
        };
    };
    match tls {
        rustls::Error::InvalidCertificate(cert) => {
            let why = match cert {
                CertificateError::UnknownIssuer => {
                    "unable to get local issuer certificate (trust its CA with --ca-cert FILE, or skip verification with --insecure)".to_owned()
                }
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                    format!("the certificate is not valid for {host:?}")
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "the certificate has expired".to_owned()
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "the certificate is not valid yet".to_owned()
                }
                CertificateError::Revoked => "the certificate is revoked".to_owned(),
                CertificateError::BadSignature => "the certificate's signature is bad".to_owned(),
                other => format!("{other:?}"),
            };
            format!("SSLCertVerificationError: certificate verify failed: {why}")
        }
        rustls::Error::NoApplicationProtocol => {
            "SSLError: the server does not speak HTTP/1.1 (ALPN)".to_owned()
        }
        rustls::Error::AlertReceived(alert) => {
            format!("SSLError: the server refused the handshake ({alert:?} alert)")
        }
        other => format!("SSLError: {other}"),
    }
}
