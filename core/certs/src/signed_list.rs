//! The signed envelope of the lists a verifier keeps offline (trust list, revocation list).
//!
//! A COSE_Sign1 (ES256, `kid` = the anchor's key identifier) over a CBOR map with text keys:
//! `kind` (which list), `version` (increases with each publication), `issued_at` (Unix
//! seconds) and `body` (the list itself). The signature is checked against the anchor key the
//! verifier was configured with before anything in the list is read. Format:
//! `docs/protocols/dcc-lists.md`.

use carnet_codec::cose::{self, Sign1, VerifyingKey};
use carnet_codec::{CodecError, cbor};
use ciborium::Value;
use ring::rand::SecureRandom;
use ring::signature::EcdsaKeyPair;

use crate::CertsError;

/// Largest signed list accepted, in bytes (a full EU trust list is about 1 MiB).
pub const MAX_LIST_BYTES: usize = 8 * 1024 * 1024;

/// What an opened list says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListHeader {
    /// Publication number; a verifier refuses to go back to an older one.
    pub version: u64,
    /// When it was published, Unix seconds.
    pub issued_at: i64,
}

/// Verifies a signed list against the anchor key and returns its header and body.
///
/// # Errors
/// [`CertsError::List`] for a malformed list or one of another kind, [`CertsError::Signature`]
/// when the anchor's signature does not verify.
pub(crate) fn open(
    bytes: &[u8],
    anchor: &VerifyingKey,
    kind: &str,
) -> Result<(ListHeader, Value), CertsError> {
    if bytes.len() > MAX_LIST_BYTES {
        return Err(CertsError::List(format!(
            "{} bytes, the limit is {MAX_LIST_BYTES}",
            bytes.len()
        )));
    }
    let sign1 = Sign1::from_slice(bytes).map_err(|e| CertsError::List(e.to_string()))?;
    sign1.verify(anchor).map_err(CertsError::Signature)?;
    let payload = cbor::from_slice(sign1.payload()).map_err(|e| CertsError::List(e.to_string()))?;
    let map = payload
        .as_map()
        .ok_or_else(|| CertsError::List("payload is not a map".into()))?;
    let field = |name: &str| {
        map.iter()
            .find(|(k, _)| k.as_text() == Some(name))
            .map(|(_, v)| v)
    };
    if field("kind").and_then(Value::as_text) != Some(kind) {
        return Err(CertsError::List(format!("not a {kind}")));
    }
    let integer = |name: &str| field(name).and_then(Value::as_integer).map(i128::from);
    let version = integer("version").and_then(|v| u64::try_from(v).ok());
    let issued_at = integer("issued_at").and_then(|v| i64::try_from(v).ok());
    let (Some(version), Some(issued_at)) = (version, issued_at) else {
        return Err(CertsError::List("version or issued_at missing".into()));
    };
    let body = field("body")
        .cloned()
        .ok_or_else(|| CertsError::List("no body".into()))?;
    Ok((ListHeader { version, issued_at }, body))
}

/// Signs a list with the publisher's key (the reference server and tests use it).
///
/// # Errors
/// [`CertsError::List`] when encoding or signing fails.
pub(crate) fn seal(
    kind: &str,
    header: &ListHeader,
    body: Value,
    key: &EcdsaKeyPair,
    kid: &[u8],
    rng: &dyn SecureRandom,
) -> Result<Vec<u8>, CertsError> {
    let payload = Value::Map(vec![
        (Value::from("kind"), Value::from(kind)),
        (Value::from("version"), Value::from(header.version)),
        (Value::from("issued_at"), Value::from(header.issued_at)),
        (Value::from("body"), body),
    ]);
    let bytes = cbor::to_vec(&payload).map_err(list_error)?;
    cose::sign_es256(bytes, kid, key, rng).map_err(list_error)
}

/// Verifies a signed list whose body is a JSON document (carried as a CBOR byte string of
/// its UTF-8 text) and returns its header and the document.
///
/// # Errors
/// As [`open`], and [`CertsError::List`] for a body that is not JSON.
pub(crate) fn open_json(
    bytes: &[u8],
    anchor: &VerifyingKey,
    kind: &str,
) -> Result<(ListHeader, serde_json::Value), CertsError> {
    let (header, body) = open(bytes, anchor, kind)?;
    let text = body
        .as_bytes()
        .ok_or_else(|| CertsError::List("the body is not a byte string".into()))?;
    let json = serde_json::from_slice(text)
        .map_err(|e| CertsError::List(format!("the body is not JSON: {e}")))?;
    Ok((header, json))
}

/// Signs a JSON document as a list (the body of [`open_json`]).
///
/// # Errors
/// [`CertsError::List`] when encoding or signing fails.
pub(crate) fn seal_json(
    kind: &str,
    header: &ListHeader,
    body: &serde_json::Value,
    key: &EcdsaKeyPair,
    kid: &[u8],
    rng: &dyn SecureRandom,
) -> Result<Vec<u8>, CertsError> {
    let text = serde_json::to_vec(body).map_err(|e| CertsError::List(e.to_string()))?;
    seal(kind, header, Value::Bytes(text), key, kid, rng)
}

fn list_error(error: CodecError) -> CertsError {
    CertsError::List(error.to_string())
}
