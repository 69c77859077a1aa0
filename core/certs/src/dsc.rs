//! Document signer certificates (DSC): the X.509 certificates whose keys sign DCCs.

use carnet_codec::cose::VerifyingKey;
use ring::digest;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::CertsError;

/// The type of a health certificate, as its payload group says (`v`, `t` or `r`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertificateType {
    /// A test result (`t`).
    Test,
    /// A vaccination (`v`).
    Vaccination,
    /// A recovery (`r`).
    Recovery,
}

impl CertificateType {
    /// Lower-case English name.
    pub fn name(self) -> &'static str {
        match self {
            CertificateType::Test => "test",
            CertificateType::Vaccination => "vaccination",
            CertificateType::Recovery => "recovery",
        }
    }

    /// The type an extended key usage OID allows, for the DCC OIDs
    /// (`1.3.6.1.4.1.1847.2021.1.{1,2,3}` and the `1.3.6.1.4.1.0.1847.2021.1.*` variants).
    fn from_key_usage_oid(oid: &str) -> Option<Self> {
        let arc = oid
            .strip_prefix("1.3.6.1.4.1.1847.2021.1.")
            .or_else(|| oid.strip_prefix("1.3.6.1.4.1.0.1847.2021.1."))?;
        match arc {
            "1" => Some(CertificateType::Test),
            "2" => Some(CertificateType::Vaccination),
            "3" => Some(CertificateType::Recovery),
            _ => None,
        }
    }
}

/// The DCC key identifier of a certificate: the first 8 bytes of the SHA-256 of its DER.
pub fn kid_of(der: &[u8]) -> [u8; 8] {
    let hash = digest::digest(&digest::SHA256, der);
    let mut kid = [0u8; 8];
    kid.copy_from_slice(hash.as_ref().get(..8).unwrap_or(&[0; 8]));
    kid
}

/// A trusted document signer: key, identifier, validity and what it may sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsc {
    kid: [u8; 8],
    key: VerifyingKey,
    not_before: i64,
    not_after: i64,
    allowed_types: Option<Vec<CertificateType>>,
    country: Option<String>,
}

/// Largest certificate accepted, in bytes.
const MAX_DER_BYTES: usize = 16 * 1024;

impl Dsc {
    /// Reads a DER X.509 certificate with an ECDSA P-256 or RSA key.
    ///
    /// # Errors
    /// [`CertsError::Signer`] for anything unusable.
    pub fn from_der(der: &[u8]) -> Result<Self, CertsError> {
        if der.len() > MAX_DER_BYTES {
            return Err(CertsError::Signer(format!(
                "certificate of {} bytes is too large",
                der.len()
            )));
        }
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|_| CertsError::Signer("not an X.509 certificate (DER or PEM)".into()))?;
        let key = match cert.public_key().parsed() {
            Ok(PublicKey::EC(point)) if point.data().len() == 65 => {
                VerifyingKey::EcdsaP256(point.data().to_vec())
            }
            Ok(PublicKey::RSA(_)) => {
                VerifyingKey::RsaPss(cert.public_key().subject_public_key.data.to_vec())
            }
            Ok(_) => {
                return Err(CertsError::Signer(
                    "key is neither ECDSA P-256 nor RSA".into(),
                ));
            }
            Err(e) => return Err(CertsError::Signer(e.to_string())),
        };
        let allowed_types = match cert.extended_key_usage() {
            Ok(Some(extension)) => {
                let types: Vec<CertificateType> = extension
                    .value
                    .other
                    .iter()
                    .filter_map(|oid| CertificateType::from_key_usage_oid(&oid.to_id_string()))
                    .collect();
                // A DSC without any DCC usage OID may sign every type.
                (!types.is_empty()).then_some(types)
            }
            Ok(None) => None,
            Err(e) => return Err(CertsError::Signer(e.to_string())),
        };
        let country = cert
            .subject()
            .iter_country()
            .next()
            .and_then(|c| c.as_str().ok())
            .map(str::to_owned);
        Ok(Dsc {
            kid: kid_of(der),
            key,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            allowed_types,
            country,
        })
    }

    /// Reads a certificate given as PEM (`-----BEGIN CERTIFICATE-----`) or DER.
    ///
    /// # Errors
    /// [`CertsError::Signer`].
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<Self, CertsError> {
        Dsc::from_der(&der_of(bytes, "certificate")?)
    }

    /// A signer with a chosen key identifier, for tests of identifier collisions (which real
    /// certificates cannot produce on demand).
    #[cfg(test)]
    pub(crate) fn for_test(kid: [u8; 8], key: VerifyingKey) -> Self {
        Dsc {
            kid,
            key,
            not_before: 0,
            not_after: i64::MAX,
            allowed_types: None,
            country: None,
        }
    }

    /// The key identifier.
    pub fn kid(&self) -> &[u8; 8] {
        &self.kid
    }
    /// The public key.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }
    /// Start of validity, Unix seconds.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }
    /// End of validity, Unix seconds.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }
    /// The certificate types it may sign, or `None` for all.
    pub fn allowed_types(&self) -> Option<&[CertificateType]> {
        self.allowed_types.as_deref()
    }
    /// Country of the subject, when given.
    pub fn country(&self) -> Option<&str> {
        self.country.as_deref()
    }
}

/// The DER of a certificate given as PEM or DER.
///
/// # Errors
/// [`CertsError::Signer`] for malformed PEM or an oversized file.
pub fn certificate_der(bytes: &[u8]) -> Result<Vec<u8>, CertsError> {
    der_of(bytes, "certificate")
}

/// The DER inside PEM text, or the bytes themselves when they are not PEM.
fn der_of(bytes: &[u8], what: &str) -> Result<Vec<u8>, CertsError> {
    if bytes.len() > MAX_DER_BYTES * 2 {
        return Err(CertsError::Signer(format!(
            "{what} file of {} bytes is too large",
            bytes.len()
        )));
    }
    if bytes.starts_with(b"-----BEGIN") {
        let (_, pem) = x509_parser::pem::parse_x509_pem(bytes)
            .map_err(|_| CertsError::Signer(format!("{what}: not valid PEM")))?;
        Ok(pem.contents)
    } else {
        Ok(bytes.to_vec())
    }
}

/// Reads a list anchor: an ECDSA P-256 public key as PEM (`-----BEGIN PUBLIC KEY-----`) or DER
/// SubjectPublicKeyInfo, or a certificate holding one.
///
/// # Errors
/// [`CertsError::Signer`] when it is not a P-256 key.
pub fn parse_anchor(bytes: &[u8]) -> Result<VerifyingKey, CertsError> {
    let der = der_of(bytes, "anchor")?;
    if let Ok(dsc) = Dsc::from_der(&der) {
        return match dsc.key {
            key @ VerifyingKey::EcdsaP256(_) => Ok(key),
            VerifyingKey::RsaPss(_) => Err(CertsError::Signer(
                "list anchors are ECDSA P-256 keys".into(),
            )),
        };
    }
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&der).map_err(|_| {
        CertsError::Signer("anchor: not a public key or a certificate (DER or PEM)".into())
    })?;
    match spki.parsed() {
        Ok(PublicKey::EC(point)) if point.data().len() == 65 => {
            Ok(VerifyingKey::EcdsaP256(point.data().to_vec()))
        }
        _ => Err(CertsError::Signer(
            "list anchors are ECDSA P-256 keys".into(),
        )),
    }
}
