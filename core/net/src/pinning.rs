//! Certificate pinning: the client trusts a server only when it proves possession of one of
//! the pinned keys — the SHA-256 of the server certificate's SubjectPublicKeyInfo ("pin-sha256",
//! as HPKP and OkHttp spell it).
//!
//! Only the end-entity certificate's key counts, and the chain is not otherwise trusted: a
//! pinned key is trusted directly (as SSH trusts a host key), so an intermediate's key must not
//! be pinned — anyone can present an intermediate's public certificate in front of a leaf of
//! their own. The TLS handshake signature is verified with the pinned key as usual, so a
//! server without the private key fails. Rustls has the building blocks but no pinning policy
//! of its own, hence this small verifier.

use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use x509_parser::prelude::{FromDer, X509Certificate};

/// A pin: SHA-256 of a SubjectPublicKeyInfo (DER).
pub type KeyPin = [u8; 32];

/// The pin of a certificate (DER): SHA-256 of its SubjectPublicKeyInfo.
///
/// # Errors
/// A description when the certificate does not parse.
pub fn certificate_pin(certificate_der: &[u8]) -> Result<KeyPin, String> {
    let (_, certificate) = X509Certificate::from_der(certificate_der)
        .map_err(|_| "the server's certificate is not valid X.509".to_owned())?;
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        certificate.tbs_certificate.subject_pki.raw,
    );
    let mut pin = [0u8; 32];
    pin.copy_from_slice(digest.as_ref());
    Ok(pin)
}

/// Accepts a server whose certificate carries a pinned key.
#[derive(Debug)]
pub(crate) struct PinnedKeys {
    pins: Vec<KeyPin>,
    provider: Arc<CryptoProvider>,
}

impl PinnedKeys {
    pub(crate) fn new(pins: Vec<KeyPin>, provider: Arc<CryptoProvider>) -> Self {
        PinnedKeys { pins, provider }
    }
}

impl ServerCertVerifier for PinnedKeys {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let pin = certificate_pin(end_entity).map_err(rustls::Error::General)?;
        if self.pins.contains(&pin) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the server's key is not pinned (pin-sha256 {})",
                hex::encode(pin)
            )))
        }
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Whether `error` (a reqwest error) comes from a refused server certificate.
pub(crate) fn is_certificate_refusal(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        // An `io::Error` wrapping another error reports that one's source, not the wrapped
        // error itself: step into it.
        current = match error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => error.source(),
        };
    }
    false
}
