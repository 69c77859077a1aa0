//! Decoding `HC1:` text into a signed certificate, one step at a time.
//!
//! Each step is public so that conformance tools can check them one by one; [`decode`] runs
//! them all. Decoding does not verify: see [`crate::verify_signature`].

use carnet_codec::cose::Sign1;
use carnet_codec::{base45, cbor, zlib};
use ciborium::Value;

use crate::{CertType, CertsError};

/// Context identifier of an EU DCC in a QR code.
pub const PREFIX: &str = "HC1:";
/// CWT claim keys.
const CLAIM_ISSUER: i64 = 1;
const CLAIM_EXPIRES: i64 = 4;
const CLAIM_ISSUED_AT: i64 = 6;
const CLAIM_HCERT: i64 = -260;
/// Key of the EU DCC inside the `hcert` claim.
const HCERT_EU_DGC_V1: i64 = 1;

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
    pub fn cert_type(&self) -> Option<CertType> {
        cert_type_of(&self.claims.payload)
    }
}

/// The certificate type of a payload, when exactly one of `v`, `t`, `r` is present.
pub fn cert_type_of(payload: &serde_json::Value) -> Option<CertType> {
    let present: Vec<CertType> = [
        ("v", CertType::Vaccination),
        ("t", CertType::Test),
        ("r", CertType::Recovery),
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
    let value =
        cbor::from_slice(signed_payload).map_err(|_| CertsError::Claims("not valid CBOR"))?;
    let map = value.as_map().ok_or(CertsError::Claims("not a CBOR map"))?;
    let issuer = match cbor::map_get_int(map, CLAIM_ISSUER) {
        None => None,
        Some(Value::Text(text)) => Some(text.clone()),
        Some(_) => return Err(CertsError::Claims("issuer is not text")),
    };
    let issued_at = cbor::map_get_int(map, CLAIM_ISSUED_AT)
        .map(time_claim)
        .transpose()?;
    let expires_at = cbor::map_get_int(map, CLAIM_EXPIRES)
        .map(time_claim)
        .transpose()?;
    let hcert = cbor::map_get_int(map, CLAIM_HCERT)
        .and_then(Value::as_map)
        .ok_or(CertsError::Claims("no hcert claim (-260)"))?;
    let dgc = cbor::map_get_int(hcert, HCERT_EU_DGC_V1)
        .ok_or(CertsError::Claims("no eu_dgc_v1 in hcert"))?;
    let payload = to_json(dgc)?;
    if !payload.is_object() {
        return Err(CertsError::Payload("eu_dgc_v1 is not a map".into()));
    }
    Ok(CwtClaims {
        issuer,
        issued_at,
        expires_at,
        payload,
    })
}

/// Reads a bare `eu_dgc_v1` CBOR map (no CWT around it) as JSON.
///
/// # Errors
/// [`CertsError::Payload`].
pub fn payload_from_cbor(bytes: &[u8]) -> Result<serde_json::Value, CertsError> {
    let value = cbor::from_slice(bytes).map_err(|e| CertsError::Payload(e.to_string()))?;
    let payload = to_json(&value)?;
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

/// A NumericDate claim: an integer, or a float with whole seconds kept.
fn time_claim(value: &Value) -> Result<i64, CertsError> {
    match value {
        Value::Integer(i) => {
            i64::try_from(i128::from(*i)).map_err(|_| CertsError::Claims("time out of range"))
        }
        Value::Float(f) if f.is_finite() && f.abs() < 1e15 => Ok(f.trunc() as i64),
        _ => Err(CertsError::Claims("time is not a number")),
    }
}

/// Converts the payload's CBOR into JSON: text-keyed maps, arrays, text, numbers, booleans,
/// null. Byte strings, tags and non-text keys are not part of a DCC payload. Depth is already
/// bounded by the CBOR decoder.
fn to_json(value: &Value) -> Result<serde_json::Value, CertsError> {
    use serde_json::Value as Json;
    Ok(match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Text(t) => Json::String(t.clone()),
        Value::Integer(i) => {
            let i = i128::from(*i);
            match (i64::try_from(i), u64::try_from(i)) {
                (Ok(signed), _) => Json::from(signed),
                (_, Ok(unsigned)) => Json::from(unsigned),
                _ => return Err(CertsError::Payload("integer out of range".into())),
            }
        }
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .ok_or_else(|| CertsError::Payload("non-finite number".into()))?,
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Value::Map(entries) => {
            let mut object = serde_json::Map::new();
            for (key, item) in entries {
                let Value::Text(key) = key else {
                    return Err(CertsError::Payload("map key is not text".into()));
                };
                if object.insert(key.clone(), to_json(item)?).is_some() {
                    return Err(CertsError::Payload(format!("duplicate key {key:?}")));
                }
            }
            Json::Object(object)
        }
        // Date strings some issuers tag: 0 (date-time) and 1004 (full-date, RFC 8943).
        Value::Tag(0 | 1004, inner) if inner.is_text() => to_json(inner)?,
        Value::Bytes(_) => return Err(CertsError::Payload("byte string in payload".into())),
        Value::Tag(tag, _) => {
            return Err(CertsError::Payload(format!("CBOR tag {tag} in payload")));
        }
        _ => return Err(CertsError::Payload("unsupported CBOR value".into())),
    })
}
