//! Whom a reader trusts (`docs/protocols/apcv.md`, check 2): the issuer's root certificates,
//! shipped with the reader, and the document-signer certificates validated under them —
//! found in a credential's `x5chain` or learned from the issuer's signed status list, so that a
//! QR code can leave its certificate out and name its signer by key id.
//!
//! The chain is one level deep (root → document signer), as ISO/IEC 18013-5's IACA → DS. It is
//! checked here with `x509-parser` and `ring` rather than a WebPKI verifier: those are built
//! for TLS names and usages, while a document signer is defined by its mdoc usage
//! (`1.0.18013.5.1.2`) and needs no name.

use carnet_codec::cose::VerifyingKey;
use ring::digest::{SHA256, digest};
use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::IdentityError;
use crate::error::too_large;

/// Extended key usage of an mdoc document signer (ISO/IEC 18013-5 Annex B, `id-mdl-kp-mdlDS`).
pub const DOCUMENT_SIGNER_USAGE: &str = "1.0.18013.5.1.2";
/// ecdsa-with-SHA256, the only certificate signature accepted.
const ECDSA_WITH_SHA256: &str = "1.2.840.10045.4.3.2";
/// Bytes of a key id: the start of the SHA-256 of the document signer's certificate.
pub const KID_BYTES: usize = 8;
/// Largest certificate read.
const MAX_CERTIFICATE_BYTES: usize = 8 * 1024;
/// Most document signers a reader keeps.
const MAX_SIGNERS: usize = 256;

/// The key id naming a document signer: the first [`KID_BYTES`] of its certificate's SHA-256.
#[must_use]
pub fn signer_kid(certificate: &[u8]) -> Vec<u8> {
    digest(&SHA256, certificate)
        .as_ref()
        .get(..KID_BYTES)
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

/// A root: a self-signed CA certificate with a P-256 key (an issuer's, or the readers' PKI's).
#[derive(Debug, Clone)]
pub(crate) struct Root {
    pub(crate) subject: Vec<u8>,
    pub(crate) public_key: Vec<u8>,
}

impl Root {
    /// Reads a root, which must be a self-signed CA certificate with a P-256 key.
    ///
    /// # Errors
    /// [`IdentityError::Certificate`] (or [`IdentityError::TooLarge`]) for anything else.
    pub(crate) fn parse(der: &[u8]) -> Result<Self, IdentityError> {
        let certificate = parse(der)?;
        let public_key = p256_key(&certificate)?;
        if !certificate.is_ca() {
            return Err(IdentityError::Certificate(
                "a root must be a CA certificate",
            ));
        }
        if certificate.subject().as_raw() != certificate.issuer().as_raw()
            || !signed_by(&certificate, &public_key)
        {
            return Err(IdentityError::Certificate("a root must be self-signed"));
        }
        Ok(Root {
            subject: certificate.subject().as_raw().to_vec(),
            public_key,
        })
    }
}

/// A document-signer certificate validated under a trusted root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentSignerCertificate {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Its key id ([`signer_kid`]).
    pub kid: Vec<u8>,
    /// Its P-256 public key (uncompressed point).
    pub public_key: Vec<u8>,
    /// Not valid before, Unix seconds.
    pub not_before: i64,
    /// Not valid after, Unix seconds.
    pub not_after: i64,
}

impl DocumentSignerCertificate {
    /// The key that verifies what this signer signed.
    #[must_use]
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey::EcdsaP256(self.public_key.clone())
    }

    /// Whether the certificate is valid at `at` (Unix seconds).
    #[must_use]
    pub fn valid_at(&self, at: i64) -> bool {
        (self.not_before..=self.not_after).contains(&at)
    }
}

/// The roots a reader trusts and the document signers it validated under them.
#[derive(Debug, Clone, Default)]
pub struct IssuerTrust {
    roots: Vec<Root>,
    signers: Vec<DocumentSignerCertificate>,
}

/// Reads one DER certificate, within the size limit and with nothing after it.
pub(crate) fn parse(der: &[u8]) -> Result<X509Certificate<'_>, IdentityError> {
    if der.len() > MAX_CERTIFICATE_BYTES {
        return Err(too_large(
            "certificate",
            format!("{MAX_CERTIFICATE_BYTES} bytes"),
        ));
    }
    match X509Certificate::from_der(der) {
        Ok(([], certificate)) => Ok(certificate),
        Ok(_) => Err(IdentityError::Certificate("bytes after the certificate")),
        Err(_) => Err(IdentityError::Certificate("not an X.509 certificate")),
    }
}

/// The uncompressed P-256 point of a certificate's key.
pub(crate) fn p256_key(certificate: &X509Certificate<'_>) -> Result<Vec<u8>, IdentityError> {
    match certificate.public_key().parsed() {
        Ok(PublicKey::EC(point)) if point.data().len() == 65 => Ok(point.data().to_vec()),
        _ => Err(IdentityError::Certificate(
            "the certificate's key is not P-256",
        )),
    }
}

/// The P-256 key (uncompressed point) of a certificate given as DER.
///
/// # Errors
/// [`IdentityError::Certificate`] (or [`IdentityError::TooLarge`]) for bytes that are not a
/// certificate with a P-256 key.
pub fn certificate_key(der: &[u8]) -> Result<Vec<u8>, IdentityError> {
    p256_key(&parse(der)?)
}

/// Verifies `certificate`'s signature (ecdsa-with-SHA256) with `issuer_key`.
pub(crate) fn signed_by(certificate: &X509Certificate<'_>, issuer_key: &[u8]) -> bool {
    certificate.signature_algorithm.algorithm.to_id_string() == ECDSA_WITH_SHA256
        && UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, issuer_key)
            .verify(
                certificate.tbs_certificate.as_ref(),
                &certificate.signature_value.data,
            )
            .is_ok()
}

/// Whether a certificate's extended key usage lists `oid`.
pub(crate) fn has_usage(certificate: &X509Certificate<'_>, oid: &str) -> bool {
    matches!(
        certificate.extended_key_usage(),
        Ok(Some(usage)) if usage.value.other.iter().any(|listed| listed.to_id_string() == oid)
    )
}

/// Whether a certificate's key may sign (key usage digitalSignature, or no key usage).
pub(crate) fn signs(certificate: &X509Certificate<'_>) -> bool {
    match certificate.key_usage() {
        Ok(Some(usage)) => usage.value.digital_signature(),
        Ok(None) => true,
        Err(_) => false,
    }
}

impl IssuerTrust {
    /// Trusts these issuer roots (DER): each must be a self-signed CA certificate with a P-256
    /// key.
    ///
    /// # Errors
    /// [`IdentityError::Certificate`] (or [`IdentityError::TooLarge`]) for a certificate that is none of that.
    pub fn new(roots: &[Vec<u8>]) -> Result<Self, IdentityError> {
        let roots = roots
            .iter()
            .map(|der| Root::parse(der))
            .collect::<Result<_, _>>()?;
        Ok(IssuerTrust {
            roots,
            signers: Vec::new(),
        })
    }

    /// Checks that `der` is a document signer issued by a trusted root and valid at `at`:
    /// `Ok(None)` when it is not (unknown issuer, bad signature, expired, wrong usage). A
    /// signer learned before is not verified again.
    ///
    /// # Errors
    /// [`IdentityError::Certificate`] (or [`IdentityError::TooLarge`]) for bytes that are not a certificate.
    pub fn validate(
        &self,
        der: &[u8],
        at: i64,
    ) -> Result<Option<DocumentSignerCertificate>, IdentityError> {
        if let Some(known) = self.signers.iter().find(|known| known.der == der) {
            return Ok(known.valid_at(at).then(|| known.clone()));
        }
        let certificate = parse(der)?;
        let Some(root) = self
            .roots
            .iter()
            .find(|root| root.subject == certificate.issuer().as_raw())
        else {
            return Ok(None);
        };
        let for_documents = has_usage(&certificate, DOCUMENT_SIGNER_USAGE);
        let signs = signs(&certificate);
        let validity = certificate.validity();
        let signer = DocumentSignerCertificate {
            der: der.to_vec(),
            kid: signer_kid(der),
            public_key: p256_key(&certificate)?,
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
        };
        let accepted = for_documents
            && signs
            && !certificate.is_ca()
            && signer.valid_at(at)
            && signed_by(&certificate, &root.public_key);
        Ok(accepted.then_some(signer))
    }

    /// Validates `der` as [`IssuerTrust::validate`] does and, if it passes, remembers it so
    /// that credentials naming it by key id verify; returns whether it was accepted.
    ///
    /// # Errors
    /// [`IdentityError::Certificate`] (or [`IdentityError::TooLarge`]) for bytes that are not a certificate.
    pub fn learn(&mut self, der: &[u8], at: i64) -> Result<bool, IdentityError> {
        let Some(signer) = self.validate(der, at)? else {
            return Ok(false);
        };
        if !self.signers.iter().any(|known| known.der == signer.der) {
            if self.signers.len() >= MAX_SIGNERS {
                self.signers.remove(0);
            }
            self.signers.push(signer);
        }
        Ok(true)
    }

    /// A document signer learned before, by key id.
    #[must_use]
    pub fn signer(&self, kid: &[u8]) -> Option<&DocumentSignerCertificate> {
        self.signers.iter().find(|signer| signer.kid == kid)
    }
}
