//! Whom the holder shows their card to (ISO/IEC 18013-5 §9.1.4, reader authentication): the
//! roots of the health professionals' PKI (the role IGC-Santé has in France; the reference
//! server plays it), kept with the card and refreshed with it, and the list of reader
//! certificates it revoked. A reader's certificate chain is checked **before** anything is
//! shown, and what the consent screen says comes from the verified certificate only: the
//! professional's or establishment's name, organisation, RPPS or FINESS number and profession,
//! never from text the request carries.
//!
//! A reader certificate is issued directly by a root (one level, as the document signer under
//! the issuer's root), has the mdoc reader-authentication usage (`1.0.18013.5.1.6`), a P-256
//! key, and in its subject: `CN` the name shown, `O` the organisation, `serialNumber`
//! (2.5.4.5) `RPPS:<11 digits>` or `FINESS:<9 characters>`, `title` (2.5.4.12) the profession
//! code of the ANS nomenclature (`10` médecin, `21` pharmacien …) or `etablissement`; its DNS
//! names (SAN) are the origins it may receive remote presentations on.

use carnet_codec::cbor;
use carnet_codec::cose::{Sign1, VerifyingKey};
use ciborium::Value;
use x509_parser::der_parser::oid::Oid;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::X509Certificate;

use crate::IdentityError;
use crate::error::{structure, too_large, undecodable};
use crate::mdoc::field;
use crate::trust::{Root, has_usage, p256_key, parse, signed_by, signs};

/// Extended key usage of an mdoc reader authentication certificate (ISO/IEC 18013-5 Annex B,
/// `id-mdl-kp-mdlReaderAuth`).
pub const READER_AUTH_USAGE: &str = "1.0.18013.5.1.6";
/// `serialNumber` attribute: the professional's RPPS or the establishment's FINESS.
pub const IDENTIFIER_ATTRIBUTE: &str = "2.5.4.5";
/// `title` attribute: the profession code.
pub const PROFESSION_ATTRIBUTE: &str = "2.5.4.12";
/// Largest signed revocation list read.
pub const MAX_REVOCATIONS_BYTES: usize = 256 * 1024;
/// Most serial numbers a revocation list may hold.
const MAX_REVOKED: usize = 10_000;
/// Longest serial number, in bytes (RFC 5280 allows 20).
const MAX_SERIAL_BYTES: usize = 20;
/// Most roots a holder keeps.
const MAX_ROOTS: usize = 8;
/// Longest name, organisation or identifier read from a certificate.
const MAX_FIELD_CHARS: usize = 128;

/// The professional identifier a reader certificate carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfessionalId {
    /// A health professional's RPPS number (11 digits).
    Rpps(String),
    /// An establishment's FINESS number (9 characters).
    Finess(String),
}

impl ProfessionalId {
    /// The attribute's text: `RPPS:…` or `FINESS:…`.
    #[must_use]
    pub fn to_attribute(&self) -> String {
        match self {
            ProfessionalId::Rpps(number) => format!("RPPS:{number}"),
            ProfessionalId::Finess(number) => format!("FINESS:{number}"),
        }
    }

    /// Reads the attribute's text.
    ///
    /// # Errors
    /// [`IdentityError::Certificate`] for another form.
    pub fn from_attribute(text: &str) -> Result<Self, IdentityError> {
        let digits = |n: &str, len: usize| n.len() == len && n.bytes().all(|b| b.is_ascii_digit());
        match text.split_once(':') {
            Some(("RPPS", number)) if digits(number, 11) => {
                Ok(ProfessionalId::Rpps(number.to_owned()))
            }
            Some(("FINESS", number))
                if number.len() == 9 && number.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                Ok(ProfessionalId::Finess(number.to_owned()))
            }
            _ => Err(IdentityError::Certificate(
                "a reader certificate names an RPPS (11 digits) or a FINESS (9 characters)",
            )),
        }
    }
}

/// A reader whose certificate chain verified: what the consent screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReader {
    /// The professional's or establishment's name (`CN`).
    pub name: String,
    /// The organisation (`O`): the pharmacy, the practice, the hospital.
    pub organisation: String,
    /// The RPPS or FINESS number.
    pub identifier: ProfessionalId,
    /// The profession code (`21`) or `etablissement`.
    pub profession: String,
    /// The DNS names (and IP addresses) it may receive remote presentations on.
    pub hosts: Vec<String>,
    /// The certificate's serial number.
    pub serial: Vec<u8>,
    /// Not valid after, Unix seconds.
    pub not_after: i64,
    /// The certificate's key (uncompressed P-256 point): what the reader's later signatures
    /// in the session (a remote verdict) are checked with.
    pub key: Vec<u8>,
}

/// Why the holder does not take a reader's authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderRefusal {
    /// The chain does not lead to a root the holder holds.
    Untrusted,
    /// The reader's certificate is past its validity.
    Expired,
    /// The reader's certificate is not valid yet.
    NotYetValid,
    /// The PKI revoked the reader's certificate.
    Revoked,
    /// The holder's revocation list is missing or out of date: revocation cannot be checked.
    StatusUnknown,
    /// The certificate is not for mdoc reader authentication (another usage, a CA).
    WrongUsage,
    /// The reader's signature does not verify over this session and these items.
    Signature,
    /// A remote reader's endpoint is not one of the certificate's names.
    OriginMismatch,
    /// The request's time is more than 5 minutes from the holder's clock.
    ClockSkew,
}

impl ReaderRefusal {
    /// A stable code for logs, the CLI and the bindings.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            ReaderRefusal::Untrusted => "reader_untrusted",
            ReaderRefusal::Expired => "reader_expired",
            ReaderRefusal::NotYetValid => "reader_not_yet_valid",
            ReaderRefusal::Revoked => "reader_revoked",
            ReaderRefusal::StatusUnknown => "reader_status_unknown",
            ReaderRefusal::WrongUsage => "reader_wrong_usage",
            ReaderRefusal::Signature => "reader_signature",
            ReaderRefusal::OriginMismatch => "reader_origin",
            ReaderRefusal::ClockSkew => "reader_clock_skew",
        }
    }
}

/// The PKI's signed list of revoked reader certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderRevocations {
    /// When it was issued, Unix seconds.
    pub issued: i64,
    /// After this (Unix seconds) it cannot be relied on.
    pub expires: i64,
    /// Serial numbers of the revoked reader certificates.
    pub revoked: Vec<Vec<u8>>,
}

impl ReaderRevocations {
    /// The list's CBOR payload, for the PKI to sign.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`].
    pub fn to_payload(&self) -> Result<Vec<u8>, IdentityError> {
        cbor::to_vec(&Value::Map(vec![
            (Value::from("iat"), Value::from(self.issued)),
            (Value::from("exp"), Value::from(self.expires)),
            (
                Value::from("revoked"),
                Value::Array(self.revoked.iter().cloned().map(Value::Bytes).collect()),
            ),
        ]))
        .map_err(undecodable("reader revocation list"))
    }

    fn from_payload(payload: &[u8]) -> Result<Self, IdentityError> {
        let value = cbor::from_slice(payload).map_err(undecodable("reader revocation list"))?;
        let time = |name: &str| {
            field(&value, name, "reader revocation list")?
                .as_integer()
                .and_then(|t| i64::try_from(t).ok())
                .ok_or_else(|| structure(format!("reader revocation list: {name} is not a time")))
        };
        let listed = field(&value, "revoked", "reader revocation list")?
            .as_array()
            .ok_or_else(|| structure("reader revocation list: revoked is not an array"))?;
        if listed.len() > MAX_REVOKED {
            return Err(too_large(
                "reader revocation list",
                format!("{MAX_REVOKED} serial numbers"),
            ));
        }
        let revoked = listed
            .iter()
            .map(|serial| {
                serial
                    .as_bytes()
                    .filter(|s| s.len() <= MAX_SERIAL_BYTES)
                    .cloned()
                    .ok_or_else(|| {
                        structure("reader revocation list: a serial is not 1 to 20 bytes")
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(ReaderRevocations {
            issued: time("iat")?,
            expires: time("exp")?,
            revoked,
        })
    }
}

/// The reader roots a holder trusts and the revocation list it last took.
#[derive(Debug, Clone)]
pub struct ReaderTrust {
    roots: Vec<Root>,
    revocations: Option<ReaderRevocations>,
}

impl ReaderTrust {
    /// Trusts these reader roots (DER): self-signed CA certificates with P-256 keys.
    ///
    /// # Errors
    /// [`IdentityError::Certificate`] or [`IdentityError::TooLarge`].
    pub fn new(roots: &[Vec<u8>]) -> Result<Self, IdentityError> {
        if roots.len() > MAX_ROOTS {
            return Err(too_large("reader roots", format!("{MAX_ROOTS} roots")));
        }
        Ok(ReaderTrust {
            roots: roots
                .iter()
                .map(|der| Root::parse(der))
                .collect::<Result<_, _>>()?,
            revocations: None,
        })
    }

    /// Takes the PKI's signed revocation list (a tagged COSE_Sign1, ES256, by one of the
    /// roots) if it verifies and is not older than the one held; returns whether it did.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`]
    /// for a list that does not parse.
    pub fn update_revocations(&mut self, signed: &[u8]) -> Result<bool, IdentityError> {
        if signed.len() > MAX_REVOCATIONS_BYTES {
            return Err(too_large(
                "reader revocation list",
                format!("{MAX_REVOCATIONS_BYTES} bytes"),
            ));
        }
        let sign1 = Sign1::from_slice(signed).map_err(undecodable("reader revocation list"))?;
        let verified = self.roots.iter().any(|root| {
            sign1
                .verify(&VerifyingKey::EcdsaP256(root.public_key.clone()))
                .is_ok()
        });
        if !verified {
            return Ok(false);
        }
        let list = ReaderRevocations::from_payload(sign1.payload())?;
        if self
            .revocations
            .as_ref()
            .is_some_and(|held| held.issued > list.issued)
        {
            return Ok(false);
        }
        self.revocations = Some(list);
        Ok(true)
    }

    /// The revocation list held, if any.
    #[must_use]
    pub fn revocations(&self) -> Option<&ReaderRevocations> {
        self.revocations.as_ref()
    }

    /// Checks a reader's chain (leaf first, as its authentication carried it) at `now`.
    /// `Ok(Err(refusal))` is a readable certificate the holder does not trust, for a reason.
    ///
    /// # Errors
    /// [`IdentityError::Certificate`] or [`IdentityError::TooLarge`] for a leaf that is not a
    /// certificate.
    pub fn validate(
        &self,
        chain: &[Vec<u8>],
        now: i64,
    ) -> Result<Result<VerifiedReader, ReaderRefusal>, IdentityError> {
        let leaf = chain.first().ok_or(IdentityError::Certificate(
            "the reader's authentication names no certificate",
        ))?;
        let certificate = parse(leaf)?;
        let root = self
            .roots
            .iter()
            .find(|root| root.subject == certificate.issuer().as_raw());
        if !root.is_some_and(|root| signed_by(&certificate, &root.public_key)) {
            return Ok(Err(ReaderRefusal::Untrusted));
        }
        if certificate.is_ca()
            || !signs(&certificate)
            || !has_usage(&certificate, READER_AUTH_USAGE)
        {
            return Ok(Err(ReaderRefusal::WrongUsage));
        }
        let validity = certificate.validity();
        if now < validity.not_before.timestamp() {
            return Ok(Err(ReaderRefusal::NotYetValid));
        }
        if now > validity.not_after.timestamp() {
            return Ok(Err(ReaderRefusal::Expired));
        }
        let serial = certificate.raw_serial().to_vec();
        match self.revocations.as_ref().filter(|list| now <= list.expires) {
            None => return Ok(Err(ReaderRefusal::StatusUnknown)),
            Some(list) if list.revoked.contains(&serial) => {
                return Ok(Err(ReaderRefusal::Revoked));
            }
            Some(_) => {}
        }
        let key = p256_key(&certificate)?;
        Ok(Ok(VerifiedReader {
            key,
            name: attribute(
                &certificate,
                &x509_parser::oid_registry::OID_X509_COMMON_NAME,
            )?,
            organisation: attribute(
                &certificate,
                &x509_parser::oid_registry::OID_X509_ORGANIZATION_NAME,
            )?,
            identifier: ProfessionalId::from_attribute(&attribute(
                &certificate,
                &oid(IDENTIFIER_ATTRIBUTE)?,
            )?)?,
            profession: attribute(&certificate, &oid(PROFESSION_ATTRIBUTE)?)?,
            hosts: dns_names(&certificate),
            serial,
            not_after: validity.not_after.timestamp(),
        }))
    }
}

fn oid(text: &str) -> Result<Oid<'static>, IdentityError> {
    text.parse()
        .map_err(|_| IdentityError::Certificate("an attribute's OID does not parse"))
}

/// The one value of a subject attribute, as text within the length limit.
fn attribute(certificate: &X509Certificate<'_>, oid: &Oid<'_>) -> Result<String, IdentityError> {
    let mut values = certificate.subject().iter_by_oid(oid);
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(IdentityError::Certificate(
            "a reader certificate names its holder, organisation, RPPS or FINESS and profession once each",
        ));
    };
    let text = value
        .as_str()
        .map_err(|_| IdentityError::Certificate("a reader certificate's attribute is not text"))?;
    if text.trim().is_empty() || text.chars().count() > MAX_FIELD_CHARS {
        return Err(IdentityError::Certificate(
            "a reader certificate's attribute is empty or too long",
        ));
    }
    Ok(text.trim().to_owned())
}

/// The certificate's DNS names and IP addresses (SAN), as the hosts of URLs write them.
fn dns_names(certificate: &X509Certificate<'_>) -> Vec<String> {
    match certificate.subject_alternative_name() {
        Ok(Some(names)) => names
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(host) => Some(host.to_ascii_lowercase()),
                GeneralName::IPAddress(address) => <[u8; 4]>::try_from(*address)
                    .ok()
                    .map(|octets| std::net::Ipv4Addr::from(octets).to_string()),
                _ => None,
            })
            .take(16)
            .collect(),
        _ => Vec::new(),
    }
}
