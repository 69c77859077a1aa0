//! Decoding `HC1:` text into a signed certificate, one step at a time.
//!
//! Each step is public so that conformance tools can check them one by one; [`decode`] runs
//! them all. Decoding does not verify: see [`crate::verify_signature`].

use carnet_codec::cose::Sign1;
use carnet_codec::{base45, zlib};

use crate::{CertificateType, CertsError, claims};

/// Context identifier of an EU DCC in a QR code.
pub const PREFIX: &str = "HC1:";

/// The CWT claims of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CwtClaims {
    /// Issuing country (claim 1), when present.
    pub issuer: Option<String>,
    /// Issued at (claim 6), Unix seconds.
    pub issued_at: Option<i64>,
    /// Expires at (claim 4), Unix seconds.
    pub expires_at: Option<i64>,
    /// The `eu_dgc_v1` payload (claim −260 / 1), as JSON.
    pub payload: serde_json::Value,
}

/// A decoded (not yet verified) certificate.
#[derive(Debug, Clone)]
pub struct Hcert {
    /// The signed message.
    pub sign1: Sign1,
    /// Its claims and payload.
    pub claims: CwtClaims,
}

impl Hcert {
    /// The certificate type, from the payload group present (`v`, `t`, `r`), when exactly one is.
    pub fn cert_type(&self) -> Option<CertificateType> {
        cert_type_of(&self.claims.payload)
    }
}

/// The certificate type of a payload, when exactly one of `v`, `t`, `r` is present.
pub fn cert_type_of(payload: &serde_json::Value) -> Option<CertificateType> {
    let present: Vec<CertificateType> = [
        ("v", CertificateType::Vaccination),
        ("t", CertificateType::Test),
        ("r", CertificateType::Recovery),
    ]
    .into_iter()
    .filter(|(key, _)| payload.get(key).is_some())
    .map(|(_, kind)| kind)
    .collect();
    match present.as_slice() {
        [only] => Some(*only),
        _ => None,
    }
}

/// Strips the `HC1:` prefix (surrounding white space is ignored).
///
/// # Errors
/// [`CertsError::Prefix`].
pub fn unprefix(text: &str) -> Result<&str, CertsError> {
    text.trim().strip_prefix(PREFIX).ok_or(CertsError::Prefix)
}

/// Decodes the base45 layer.
///
/// # Errors
/// [`CertsError::Base45`].
pub fn decode_base45(text: &str) -> Result<Vec<u8>, CertsError> {
    base45::decode(text).map_err(CertsError::Base45)
}

/// Inflates the zlib layer; a DCC is always compressed, so uncompressed data is refused.
///
/// # Errors
/// [`CertsError::Compression`].
pub fn decompress(data: &[u8]) -> Result<Vec<u8>, CertsError> {
    if !zlib::looks_compressed(data) {
        return Err(CertsError::Compression(carnet_codec::CodecError::Zlib(
            "no zlib header".into(),
        )));
    }
    zlib::inflate(data, zlib::MAX_INFLATED_BYTES).map_err(CertsError::Compression)
}

/// Parses the COSE_Sign1 layer.
///
/// # Errors
/// [`CertsError::Cose`].
pub fn parse_cose(data: &[u8]) -> Result<Sign1, CertsError> {
    Sign1::from_slice(data).map_err(CertsError::Cose)
}

/// Reads the CWT claims and the `eu_dgc_v1` payload from the signed payload bytes.
///
/// # Errors
/// [`CertsError::Claims`] or [`CertsError::Payload`].
pub fn parse_claims(signed_payload: &[u8]) -> Result<CwtClaims, CertsError> {
    let raw = claims::raw_claims_from_cbor(signed_payload).map_err(claims_error)?;
    if !raw.hcert_present {
        return Err(CertsError::Claims("no hcert claim (-260)"));
    }
    let payload = raw
        .payload
        .ok_or(CertsError::Claims("no eu_dgc_v1 in hcert"))?;
    if !payload.is_object() {
        return Err(CertsError::Payload("eu_dgc_v1 is not a map".into()));
    }
    Ok(CwtClaims {
        issuer: raw.issuer,
        issued_at: raw.issued_at,
        expires_at: raw.expires_at,
        payload,
    })
}

/// A payload problem keeps its detail; anything else is a malformed claims map.
fn claims_error(message: String) -> CertsError {
    match message.find(claims::PAYLOAD_ERROR) {
        Some(at) => CertsError::Payload(message[at + claims::PAYLOAD_ERROR.len()..].to_owned()),
        None => CertsError::Claims("malformed CWT claims"),
    }
}

/// Reads a bare `eu_dgc_v1` CBOR map (no CWT around it) as JSON.
///
/// # Errors
/// [`CertsError::Payload`].
pub fn payload_from_cbor(bytes: &[u8]) -> Result<serde_json::Value, CertsError> {
    let payload = claims::strict_json_from_cbor(bytes).map_err(CertsError::Payload)?;
    if payload.is_object() {
        Ok(payload)
    } else {
        Err(CertsError::Payload("not a map".into()))
    }
}

/// Runs every decoding step.
///
/// # Errors
/// The error of the first step that fails.
pub fn decode(text: &str) -> Result<Hcert, CertsError> {
    let compressed = decode_base45(unprefix(text)?)?;
    let sign1 = parse_cose(&decompress(&compressed)?)?;
    let claims = parse_claims(sign1.payload())?;
    Ok(Hcert { sign1, claims })
}
