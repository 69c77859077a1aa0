//! The health professionals' PKI as the reference server plays it (`docs/protocols/apcv.md`,
//! "Reader authentication"): a professional's reader key certified, a certificate revoked.
//! The root (`GET /v1/readers/root`, DER) and the signed revocation list
//! (`GET /v1/readers/revocations`, COSE_Sign1) are binary and need no type.

use serde::{Deserialize, Serialize};

/// `POST /v1/pro/readers` (professionals' key): certify a reader's key for a professional or an
/// establishment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderCertificateRequest {
    /// The professional's or establishment's name, as the holder's phone shows it.
    pub name: String,
    /// The organisation: the pharmacy, the practice, the hospital.
    pub organisation: String,
    /// `RPPS:<11 digits>` or `FINESS:<9 characters>`.
    pub identifier: String,
    /// The profession code of the ANS nomenclature (`21`), or `etablissement`.
    pub profession: String,
    /// DNS names the reader receives remote presentations on (may be empty).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// The reader's P-256 public key, an uncompressed point, base64.
    pub public_key: String,
}

/// The answer: the reader's certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderCertificate {
    /// The certificate, DER, base64.
    pub certificate: String,
    /// Its serial number, hex (what `POST /v1/pro/readers/{serial}/revoke` names).
    pub serial: String,
    /// Not valid after, Unix milliseconds.
    pub not_after_millis: i64,
}

/// The answer to `POST /v1/pro/readers/{serial}/revoke`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderRevoked {
    /// The serial number revoked, hex.
    pub serial: String,
    /// When it was revoked (the first time, if revoked twice), Unix milliseconds.
    pub revoked_millis: i64,
}
