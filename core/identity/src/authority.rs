//! The issuer's certificates (`docs/protocols/apcv.md`, "Issuer"): a root (the IACA of
//! ISO/IEC 18013-5, which readers trust) and a document signer under it (which signs MSOs and
//! status lists), both P-256, made with `rcgen`. The reference server runs the issuer; tests
//! and benchmarks make throwaway ones.

use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

use crate::IdentityError;
use crate::issuance::DocumentSigner;
use crate::reader_trust::{
    IDENTIFIER_ATTRIBUTE, PROFESSION_ATTRIBUTE, ProfessionalId, READER_AUTH_USAGE,
    ReaderRevocations,
};
use crate::trust::DOCUMENT_SIGNER_USAGE;

fn failed(what: impl std::fmt::Display) -> IdentityError {
    IdentityError::Structure(format!("issuer certificates: {what}"))
}

/// The parameters of a certificate named `common_name` (in France), valid for `validity`.
fn params(
    common_name: &str,
    validity: CertificateValidity,
) -> Result<rcgen::CertificateParams, IdentityError> {
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
}

/// A new P-256 key and the parameters of a root CA certificate for it.
fn root_params(
    common_name: &str,
    validity: CertificateValidity,
) -> Result<(rcgen::KeyPair, rcgen::CertificateParams), IdentityError> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
    let mut root = params(common_name, validity)?;
    root.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    root.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    Ok((key, root))
}

/// The arcs of a dotted OID.
fn arcs(oid: &str) -> Result<Vec<u64>, IdentityError> {
    oid.split('.')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(failed)
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
        let (root_key, root) = root_params(&format!("{name} root"), validity)?;
        let root_certificate = root.self_signed(&root_key).map_err(failed)?;
        let root_issuer = rcgen::Issuer::new(root, &root_key);

        let signer_key =
            rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
        let mut signer = params(&format!("{name} document signer"), validity)?;
        signer.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        signer.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::Other(arcs(
            DOCUMENT_SIGNER_USAGE,
        )?)];
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

/// Who a reader certificate is issued to (`crate::reader_trust` says how each is written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderSubject {
    /// The professional's or establishment's name.
    pub name: String,
    /// The organisation: the pharmacy, the practice, the hospital.
    pub organisation: String,
    /// The RPPS or FINESS number.
    pub identifier: ProfessionalId,
    /// The profession code (`21`) or `etablissement`.
    pub profession: String,
    /// DNS names it may receive remote presentations on.
    pub hosts: Vec<String>,
}

/// The name the reader PKI gives itself (its certificates' issuer alternative name).
pub const READER_PKI_URI: &str = "urn:fr:carnet:reference-igc-sante";
/// Where its revocations are published (the certificates' CRL distribution point). The
/// reference server serves them at `/v1/readers/revocations`, as a signed CBOR list rather
/// than an X.509 CRL (`docs/protocols/apcv.md`).
pub const READER_REVOCATIONS_URI: &str = "urn:fr:carnet:reference-igc-sante:revocations";

/// A key identifier as RFC 5280 §4.2.1.2 method 1 makes it: the SHA-1 of the public key's
/// bits, as ISO/IEC 18013-5 readers check it.
fn key_id(public_key: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, public_key)
        .as_ref()
        .to_vec()
}

/// The [`key_id`] of `public_key` as rcgen takes it.
fn key_identifier(public_key: &[u8]) -> rcgen::KeyIdMethod {
    rcgen::KeyIdMethod::PreSpecified(key_id(public_key))
}

/// The subject key identifier extension (2.5.29.14) of `public_key`: an OCTET STRING of its
/// [`key_id`].
fn subject_key_identifier(public_key: &[u8]) -> Result<rcgen::CustomExtension, IdentityError> {
    let mut content = vec![0x04, 20];
    content.extend(key_id(public_key));
    Ok(rcgen::CustomExtension::from_oid_content(
        &arcs("2.5.29.14")?,
        content,
    ))
}

/// The issuer alternative name extension (2.5.29.18) naming `uri`: GeneralNames with one
/// uniformResourceIdentifier, DER written here (rcgen has no builder for it).
fn issuer_alternative_name(uri: &str) -> Result<rcgen::CustomExtension, IdentityError> {
    let name = u8::try_from(uri.len()).map_err(failed)?;
    let mut general_name = vec![0x86, name];
    general_name.extend_from_slice(uri.as_bytes());
    let names = u8::try_from(general_name.len())
        .ok()
        .filter(|length| *length < 0x80)
        .ok_or_else(|| failed("the PKI's name is too long"))?;
    let mut content = vec![0x30, names];
    content.extend(general_name);
    Ok(rcgen::CustomExtension::from_oid_content(
        &arcs("2.5.29.18")?,
        content,
    ))
}

/// A reader's public key, to certify: an uncompressed P-256 point.
struct ReaderPublicKey<'a>(&'a [u8]);

impl rcgen::PublicKeyData for ReaderPublicKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.0
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

/// The health professionals' PKI as the reference server plays it: a root that issues reader
/// certificates and signs the list of those it revoked.
pub struct ReaderPki {
    root_certificate: Vec<u8>,
    root_key_pkcs8: Vec<u8>,
    root_key: EcdsaKeyPair,
}

impl std::fmt::Debug for ReaderPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderPki").finish_non_exhaustive()
    }
}

impl ReaderPki {
    /// A new root named `name`, valid for `validity`.
    ///
    /// # Errors
    /// [`IdentityError::Structure`] when the key or certificate cannot be made.
    pub fn create(name: &str, validity: CertificateValidity) -> Result<Self, IdentityError> {
        let (key, mut root) = root_params(name, validity)?;
        root.key_identifier_method = key_identifier(key.public_key_raw());
        let certificate = root.self_signed(&key).map_err(failed)?;
        Self::from_parts(certificate.der().to_vec(), key.serialize_der())
    }

    /// The PKI from its root certificate and key (PKCS#8), as kept on disk.
    ///
    /// # Errors
    /// [`IdentityError::Structure`] for a key that is not P-256 PKCS#8.
    pub fn from_parts(root_certificate: Vec<u8>, root_key: Vec<u8>) -> Result<Self, IdentityError> {
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &root_key,
            &SystemRandom::new(),
        )
        .map_err(failed)?;
        Ok(ReaderPki {
            root_certificate,
            root_key_pkcs8: root_key,
            root_key: key,
        })
    }

    /// The root certificate holders trust (DER).
    #[must_use]
    pub fn root_certificate(&self) -> &[u8] {
        &self.root_certificate
    }

    /// The root's key (PKCS#8), to keep.
    #[must_use]
    pub fn root_key(&self) -> &[u8] {
        &self.root_key_pkcs8
    }

    /// A reader certificate for `subject`'s key (an uncompressed P-256 point), with `serial`
    /// (1 to 20 bytes, positive), valid for `validity`.
    ///
    /// # Errors
    /// [`IdentityError::Structure`] when it cannot be made.
    pub fn issue(
        &self,
        subject: &ReaderSubject,
        public_key: &[u8],
        serial: &[u8],
        validity: CertificateValidity,
    ) -> Result<Vec<u8>, IdentityError> {
        let root_key = rcgen::KeyPair::try_from(self.root_key_pkcs8.as_slice()).map_err(failed)?;
        let issuer =
            rcgen::Issuer::from_ca_cert_der(&self.root_certificate.clone().into(), &root_key)
                .map_err(failed)?;
        let mut params = params(&subject.name, validity)?;
        params.distinguished_name.push(
            rcgen::DnType::OrganizationName,
            subject.organisation.as_str(),
        );
        params.distinguished_name.push(
            rcgen::DnType::CustomDnType(arcs(IDENTIFIER_ATTRIBUTE)?),
            subject.identifier.to_attribute(),
        );
        params.distinguished_name.push(
            rcgen::DnType::CustomDnType(arcs(PROFESSION_ATTRIBUTE)?),
            subject.profession.as_str(),
        );
        params.subject_alt_names = rcgen::CertificateParams::new(subject.hosts.clone())
            .map_err(failed)?
            .subject_alt_names;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(serial));
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        // The mdoc reader profile of ISO/IEC 18013-5 Annex B: the key identifiers, where
        // revocations are published, the issuer's name; no basic constraints (rcgen writes
        // the subject key identifier only with them, so it is written here).
        params.use_authority_key_identifier_extension = true;
        params.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
            uris: vec![READER_REVOCATIONS_URI.to_owned()],
        }];
        params.custom_extensions = vec![
            subject_key_identifier(public_key)?,
            issuer_alternative_name(READER_PKI_URI)?,
        ];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::Other(arcs(
            READER_AUTH_USAGE,
        )?)];
        let certificate = params
            .signed_by(&ReaderPublicKey(public_key), &issuer)
            .map_err(failed)?;
        Ok(certificate.der().to_vec())
    }

    /// The revocation list signed by the root (a tagged COSE_Sign1, ES256).
    ///
    /// # Errors
    /// [`IdentityError::Signature`] when signing fails.
    pub fn sign_revocations(&self, list: &ReaderRevocations) -> Result<Vec<u8>, IdentityError> {
        carnet_codec::cose::sign_es256(
            list.to_payload()?,
            &[],
            &self.root_key,
            &SystemRandom::new(),
        )
        .map_err(|_| IdentityError::Signature("the reader revocation list could not be signed"))
    }
}
