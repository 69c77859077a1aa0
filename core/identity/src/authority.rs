//! The issuer's certificates (`docs/protocols/apcv.md`, "Issuer"): a root (the IACA of
//! ISO/IEC 18013-5, which readers trust) and a document signer under it (which signs MSOs and
//! status lists), both P-256, made with `rcgen`. The reference server runs the issuer; tests
//! and benchmarks make throwaway ones.

use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

use crate::IdentityError;
use crate::issuance::DocumentSigner;
use crate::trust::DOCUMENT_SIGNER_USAGE;

fn failed(what: impl std::fmt::Display) -> IdentityError {
    IdentityError::Structure(format!("issuer certificates: {what}"))
}

/// The issuer's keys and certificates, as kept on its disk (DER and PKCS#8).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorityParts {
    /// The root certificate.
    pub root_certificate: Vec<u8>,
    /// The root's private key (PKCS#8).
    pub root_key: Vec<u8>,
    /// The document signer's certificate.
    pub signer_certificate: Vec<u8>,
    /// The document signer's private key (PKCS#8).
    pub signer_key: Vec<u8>,
}

impl std::fmt::Debug for AuthorityParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorityParts").finish_non_exhaustive()
    }
}

/// An issuer ready to sign: its root and its document signer.
pub struct IssuerAuthority {
    parts: AuthorityParts,
    signer_key: EcdsaKeyPair,
}

/// The validity of a certificate made here, Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertificateValidity {
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
}

impl IssuerAuthority {
    /// Makes a root named `name` and a document signer under it, each valid for `validity`.
    ///
    /// # Errors
    /// [`IdentityError::Structure`] when a key or certificate cannot be made (dates
    /// out of range).
    pub fn create(name: &str, validity: CertificateValidity) -> Result<Self, IdentityError> {
        let params = |common_name: String| -> Result<rcgen::CertificateParams, IdentityError> {
            let mut params = rcgen::CertificateParams::new(Vec::new()).map_err(failed)?;
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, common_name);
            params
                .distinguished_name
                .push(rcgen::DnType::CountryName, "FR");
            params.not_before =
                time::OffsetDateTime::from_unix_timestamp(validity.not_before).map_err(failed)?;
            params.not_after =
                time::OffsetDateTime::from_unix_timestamp(validity.not_after).map_err(failed)?;
            Ok(params)
        };
        let root_key =
            rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
        let mut root = params(format!("{name} root"))?;
        root.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        root.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let root_certificate = root.self_signed(&root_key).map_err(failed)?;
        let root_issuer = rcgen::Issuer::new(root, &root_key);

        let signer_key =
            rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
        let mut signer = params(format!("{name} document signer"))?;
        signer.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        signer.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::Other(
            DOCUMENT_SIGNER_USAGE
                .split('.')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(failed)?,
        )];
        let signer_certificate = signer
            .signed_by(&signer_key, &root_issuer)
            .map_err(failed)?;
        Self::from_parts(AuthorityParts {
            root_certificate: root_certificate.der().to_vec(),
            root_key: root_key.serialize_der(),
            signer_certificate: signer_certificate.der().to_vec(),
            signer_key: signer_key.serialize_der(),
        })
    }

    /// An issuer from what [`IssuerAuthority::parts`] gave.
    ///
    /// # Errors
    /// [`IdentityError::Structure`] for a document-signer key that is not P-256
    /// PKCS#8.
    pub fn from_parts(parts: AuthorityParts) -> Result<Self, IdentityError> {
        let signer_key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &parts.signer_key,
            &SystemRandom::new(),
        )
        .map_err(failed)?;
        Ok(IssuerAuthority { parts, signer_key })
    }

    /// The keys and certificates, to keep.
    #[must_use]
    pub fn parts(&self) -> &AuthorityParts {
        &self.parts
    }

    /// The root certificate readers trust (DER).
    #[must_use]
    pub fn root_certificate(&self) -> &[u8] {
        &self.parts.root_certificate
    }

    /// The document signer, to issue credentials and sign status lists.
    #[must_use]
    pub fn document_signer(&self) -> DocumentSigner<'_> {
        DocumentSigner {
            key: &self.signer_key,
            x5chain: vec![self.parts.signer_certificate.clone()],
        }
    }
}
