//! COSE_Sign1 (RFC 9052): parse, verify, sign.
//!
//! `coset` parses the structure and builds the signed bytes; it leaves header checks to the
//! caller. This module adds them: the algorithm is decided by the key, and a header `alg`
//! that disagrees with it is an error, never a hint to follow.

use ciborium::Value;
use coset::iana::{self, EnumI64};
use coset::{AsCborValue, CoseSign1, CoseSign1Builder, HeaderBuilder, RegisteredLabelWithPrivate};
use ring::rand::SecureRandom;
use ring::signature::{self, EcdsaKeyPair, UnparsedPublicKey};

use crate::{CodecError, cbor};

/// CBOR tag of a COSE_Sign1 structure.
const COSE_SIGN1_TAG: u64 = 18;
/// CBOR tag of a CWT.
const CWT_TAG: u64 = 61;
/// COSE header label of an X.509 certificate chain, leaf first (RFC 9360).
pub const X5CHAIN: i64 = 33;

/// A public key able to verify COSE signatures; its type decides the algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyingKey {
    /// ECDSA on P-256 with SHA-256 (COSE ES256): the uncompressed SEC1 point (65 bytes).
    EcdsaP256(Vec<u8>),
    /// RSASSA-PSS with SHA-256 (COSE PS256), 2048 to 8192 bits: the PKCS#1 `RSAPublicKey` DER.
    RsaPss(Vec<u8>),
}

impl VerifyingKey {
    /// The COSE algorithm this key verifies.
    pub fn algorithm(&self) -> iana::Algorithm {
        match self {
            VerifyingKey::EcdsaP256(_) => iana::Algorithm::ES256,
            VerifyingKey::RsaPss(_) => iana::Algorithm::PS256,
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            VerifyingKey::EcdsaP256(_) => "ECDSA P-256",
            VerifyingKey::RsaPss(_) => "RSA",
        }
    }

    /// Verifies a raw signature over `message` (ECDSA: r‖s, 64 bytes).
    ///
    /// # Errors
    /// [`CodecError::BadSignature`].
    pub fn verify_raw(&self, message: &[u8], signature_bytes: &[u8]) -> Result<(), CodecError> {
        let result = match self {
            VerifyingKey::EcdsaP256(point) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature_bytes)
            }
            VerifyingKey::RsaPss(der) => {
                UnparsedPublicKey::new(&signature::RSA_PSS_2048_8192_SHA256, der)
                    .verify(message, signature_bytes)
            }
        };
        result.map_err(|_| CodecError::BadSignature)
    }
}

/// A parsed COSE_Sign1 message.
#[derive(Debug, Clone)]
pub struct Sign1 {
    inner: CoseSign1,
}

impl Sign1 {
    /// Parses a COSE_Sign1: tagged 18, untagged, or wrapped in CWT tag 61 (with or without the
    /// inner tag 18). Nesting and size limits of [`cbor::from_slice`] apply.
    ///
    /// # Errors
    /// [`CodecError::Cbor`], [`CodecError::CborTooDeep`] or [`CodecError::CoseStructure`].
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CodecError> {
        Self::from_value(cbor::from_slice(bytes)?, None)
    }

    /// Reads a COSE_Sign1 already decoded (inside a larger structure), in the same forms as
    /// [`Sign1::from_slice`]. `detached_payload` is the payload of a message that does not
    /// carry it (RFC 9052 §2); a message carrying its own payload must not be given one.
    ///
    /// # Errors
    /// [`CodecError::CoseStructure`].
    pub fn from_value(
        mut value: Value,
        detached_payload: Option<Vec<u8>>,
    ) -> Result<Self, CodecError> {
        if let Value::Tag(CWT_TAG, inner) = value {
            value = *inner;
        }
        match value {
            Value::Tag(COSE_SIGN1_TAG, inner) => value = *inner,
            Value::Tag(other, _) => {
                return Err(CodecError::CoseStructure(format!(
                    "unexpected CBOR tag {other}"
                )));
            }
            _ => {}
        }
        let mut inner = CoseSign1::from_cbor_value(value)
            .map_err(|e| CodecError::CoseStructure(crate::cbor::describe_cose(&e)))?;
        match (&inner.payload, detached_payload) {
            (Some(_), None) => {}
            (None, Some(payload)) => inner.payload = Some(payload),
            (None, None) => return Err(CodecError::CoseStructure("detached payload".into())),
            (Some(_), Some(_)) => {
                return Err(CodecError::CoseStructure(
                    "a payload where a detached one was expected".into(),
                ));
            }
        }
        Ok(Sign1 { inner })
    }

    /// The X.509 chain (`x5chain`, leaf first) from the protected header, else the
    /// unprotected one: one certificate as a byte string, or several in an array.
    ///
    /// # Errors
    /// [`CodecError::CoseStructure`] for an `x5chain` that is neither.
    pub fn x5chain(&self) -> Result<Vec<&[u8]>, CodecError> {
        let label = coset::Label::Int(X5CHAIN);
        let found = [&self.inner.protected.header, &self.inner.unprotected]
            .into_iter()
            .find_map(|header| header.rest.iter().find(|(l, _)| *l == label))
            .map(|(_, value)| value);
        match found {
            None => Ok(Vec::new()),
            Some(Value::Bytes(certificate)) => Ok(vec![certificate.as_slice()]),
            Some(Value::Array(certificates)) => certificates
                .iter()
                .map(|c| {
                    c.as_bytes()
                        .map(Vec::as_slice)
                        .ok_or_else(|| CodecError::CoseStructure("x5chain entry not bytes".into()))
                })
                .collect(),
            Some(_) => Err(CodecError::CoseStructure("malformed x5chain".into())),
        }
    }

    /// The key identifier: from the protected header when it has one (even if the unprotected
    /// header has another), else from the unprotected header.
    pub fn kid(&self) -> Option<&[u8]> {
        let protected = &self.inner.protected.header.key_id;
        let unprotected = &self.inner.unprotected.key_id;
        [protected, unprotected]
            .into_iter()
            .find(|kid| !kid.is_empty())
            .map(Vec::as_slice)
    }

    /// The signed payload.
    pub fn payload(&self) -> &[u8] {
        self.inner.payload.as_deref().unwrap_or_default()
    }

    /// The raw signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.inner.signature
    }

    /// The algorithm named in the headers (protected first), if any.
    pub fn header_algorithm(&self) -> Option<&coset::Algorithm> {
        self.inner
            .protected
            .header
            .alg
            .as_ref()
            .or(self.inner.unprotected.alg.as_ref())
    }

    /// The bytes the signature covers (RFC 9052 `Sig_structure`), for a key this module does
    /// not verify with itself; the caller checks [`Sign1::header_algorithm`] against its key.
    pub fn to_be_signed(&self) -> Vec<u8> {
        self.signed_bytes()
    }

    /// Verifies the signature with `key`; the key's type decides the algorithm.
    ///
    /// # Errors
    /// [`CodecError::AlgorithmMismatch`] when a header names another algorithm,
    /// [`CodecError::BadSignature`] when the signature does not verify.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), CodecError> {
        if let Some(alg) = self.header_algorithm() {
            let expected = RegisteredLabelWithPrivate::Assigned(key.algorithm());
            if *alg != expected {
                let header = match alg {
                    RegisteredLabelWithPrivate::Assigned(a) => a.to_i64().to_string(),
                    RegisteredLabelWithPrivate::PrivateUse(n) => n.to_string(),
                    RegisteredLabelWithPrivate::Text(t) => t.clone(),
                };
                return Err(CodecError::AlgorithmMismatch {
                    header,
                    key: key.type_name(),
                });
            }
        }
        key.verify_raw(&self.signed_bytes(), &self.inner.signature)
    }
}

impl Sign1 {
    /// The bytes the signature covers: the CBOR `Sig_structure`
    /// `["Signature1", protected, h'', payload]` (RFC 9052 §4.4), with the protected header
    /// exactly as received. Encoded here in one buffer rather than through `coset`, which
    /// copies the payload into a value tree first: this is on the path of every verification.
    fn signed_bytes(&self) -> Vec<u8> {
        let protected = match &self.inner.protected.original_data {
            Some(original) => original.clone(),
            // Not parsed from bytes: its canonical encoding is what gets signed.
            None => match self.inner.protected.clone().cbor_bstr() {
                Ok(Value::Bytes(bytes)) => bytes,
                _ => Vec::new(),
            },
        };
        let payload = self.payload();
        let mut out = Vec::with_capacity(protected.len() + payload.len() + 32);
        out.push(0x84); // array of 4
        out.push(0x6a); // text of 10
        out.extend_from_slice(b"Signature1");
        cbor::push_bytes_header(&mut out, protected.len());
        out.extend_from_slice(&protected);
        out.push(0x40); // empty external_aad
        cbor::push_bytes_header(&mut out, payload.len());
        out.extend_from_slice(payload);
        out
    }
}

/// What a COSE_Sign1 carries besides its algorithm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sign1Headers {
    /// Key identifier, in the protected header (empty: none).
    pub kid: Vec<u8>,
    /// X.509 chain, leaf first, in the unprotected header (empty: none).
    pub x5chain: Vec<Vec<u8>>,
}

/// Signs `payload` with ES256 and returns the COSE_Sign1 as a value, in `form` (untagged as
/// mdoc structures embed it; detached when the receiver rebuilds the payload).
///
/// # Errors
/// [`CodecError::Key`] when signing fails, [`CodecError::CoseStructure`].
pub fn sign1_es256(
    payload: &[u8],
    headers: &Sign1Headers,
    form: Sign1Form,
    key: &EcdsaKeyPair,
    rng: &dyn SecureRandom,
) -> Result<Value, CodecError> {
    sign1(payload, headers, form, iana::Algorithm::ES256, |message| {
        key.sign(rng, message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| CodecError::Key("ECDSA signing failed"))
    })
}

/// How a COSE_Sign1 is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sign1Form {
    /// The payload is signed but not carried.
    pub detached: bool,
    /// Wrapped in tag 18.
    pub tagged: bool,
}

/// Signs `payload` as a COSE_Sign1 with `algorithm`, the signature made by `signer` over the
/// `Sig_structure` (a platform keystore, a software key): for keys this module does not hold.
///
/// # Errors
/// What `signer` returns, [`CodecError::CoseStructure`].
pub fn sign1(
    payload: &[u8],
    headers: &Sign1Headers,
    form: Sign1Form,
    algorithm: iana::Algorithm,
    signer: impl FnOnce(&[u8]) -> Result<Vec<u8>, CodecError>,
) -> Result<Value, CodecError> {
    let mut protected = HeaderBuilder::new().algorithm(algorithm);
    if !headers.kid.is_empty() {
        protected = protected.key_id(headers.kid.clone());
    }
    let mut unprotected = HeaderBuilder::new();
    match headers.x5chain.as_slice() {
        [] => {}
        [one] => unprotected = unprotected.value(X5CHAIN, Value::Bytes(one.clone())),
        several => {
            unprotected = unprotected.value(
                X5CHAIN,
                Value::Array(several.iter().cloned().map(Value::Bytes).collect()),
            );
        }
    }
    let builder = CoseSign1Builder::new()
        .protected(protected.build())
        .unprotected(unprotected.build());
    let signed = if form.detached {
        builder.try_create_detached_signature(payload, &[], signer)?
    } else {
        builder
            .payload(payload.to_vec())
            .try_create_signature(&[], signer)?
    }
    .build();
    let value = signed
        .to_cbor_value()
        .map_err(|e| CodecError::CoseStructure(crate::cbor::describe_cose(&e)))?;
    Ok(if form.tagged {
        Value::Tag(COSE_SIGN1_TAG, Box::new(value))
    } else {
        value
    })
}

/// Signs `payload` as a tagged COSE_Sign1 with ES256, `kid` in the protected header.
///
/// # Errors
/// [`CodecError::Key`] when signing fails.
pub fn sign_es256(
    payload: Vec<u8>,
    kid: &[u8],
    key: &EcdsaKeyPair,
    rng: &dyn SecureRandom,
) -> Result<Vec<u8>, CodecError> {
    let headers = Sign1Headers {
        kid: kid.to_vec(),
        ..Sign1Headers::default()
    };
    let form = Sign1Form {
        detached: false,
        tagged: true,
    };
    cbor::to_vec(&sign1_es256(&payload, &headers, form, key, rng)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::KeyPair;

    fn key_pair() -> EcdsaKeyPair {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap();
        EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_ref(),
            &rng,
        )
        .unwrap()
    }

    #[test]
    fn signed_messages_verify_and_tampering_does_not() {
        let pair = key_pair();
        let public = VerifyingKey::EcdsaP256(pair.public_key().as_ref().to_vec());
        let bytes = sign_es256(
            b"payload".to_vec(),
            b"kid12345",
            &pair,
            &SystemRandom::new(),
        )
        .unwrap();
        let message = Sign1::from_slice(&bytes).unwrap();
        assert_eq!(message.kid(), Some(&b"kid12345"[..]));
        assert_eq!(message.payload(), b"payload");
        message.verify(&public).unwrap();

        let other = VerifyingKey::EcdsaP256(key_pair().public_key().as_ref().to_vec());
        assert_eq!(message.verify(&other), Err(CodecError::BadSignature));
        for index in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[index] ^= 0x01;
            if let Ok(tampered) = Sign1::from_slice(&flipped) {
                assert!(
                    tampered.verify(&public).is_err(),
                    "flip at {index} still verifies"
                );
            }
        }
        for cut in 0..bytes.len() {
            assert!(
                Sign1::from_slice(&bytes[..cut]).is_err(),
                "truncated at {cut} parsed"
            );
        }
    }

    #[test]
    fn signed_bytes_match_coset_for_every_payload_size() {
        let pair = key_pair();
        for size in [0usize, 5, 23, 24, 255, 256, 70_000] {
            let bytes = sign_es256(vec![7; size], b"kid", &pair, &SystemRandom::new()).unwrap();
            let message = Sign1::from_slice(&bytes).unwrap();
            assert_eq!(
                message.signed_bytes(),
                message.inner.tbs_data(&[]),
                "payload of {size} bytes"
            );
        }
    }

    #[test]
    fn header_algorithm_must_match_the_key() {
        let pair = key_pair();
        let bytes = sign_es256(b"x".to_vec(), b"k", &pair, &SystemRandom::new()).unwrap();
        let message = Sign1::from_slice(&bytes).unwrap();
        let rsa = VerifyingKey::RsaPss(vec![0x30, 0x00]);
        assert!(matches!(
            message.verify(&rsa),
            Err(CodecError::AlgorithmMismatch { .. })
        ));
    }

    #[test]
    fn x5chain_travels_and_detached_payloads_verify_only_with_their_payload() {
        use ring::signature::KeyPair;
        let pair = key_pair();
        let key = VerifyingKey::EcdsaP256(pair.public_key().as_ref().to_vec());
        let rng = SystemRandom::new();
        for chain in [
            vec![],
            vec![b"leaf".to_vec()],
            vec![b"leaf".to_vec(), b"ca".to_vec()],
        ] {
            let headers = Sign1Headers {
                kid: Vec::new(),
                x5chain: chain.clone(),
            };
            let value = sign1_es256(b"mso", &headers, Sign1Form::default(), &pair, &rng).unwrap();
            let parsed = Sign1::from_value(value, None).unwrap();
            parsed.verify(&key).unwrap();
            let read: Vec<Vec<u8>> = parsed
                .x5chain()
                .unwrap()
                .iter()
                .map(|c| c.to_vec())
                .collect();
            assert_eq!(read, chain);
        }
        let detached_form = Sign1Form {
            detached: true,
            tagged: false,
        };
        let detached = sign1_es256(
            b"transcript",
            &Sign1Headers::default(),
            detached_form,
            &pair,
            &rng,
        )
        .unwrap();
        Sign1::from_value(detached.clone(), Some(b"transcript".to_vec()))
            .unwrap()
            .verify(&key)
            .unwrap();
        assert!(matches!(
            Sign1::from_value(detached.clone(), Some(b"another".to_vec()))
                .unwrap()
                .verify(&key),
            Err(CodecError::BadSignature)
        ));
        assert!(Sign1::from_value(detached, None).is_err());
        let attached = sign1_es256(
            b"x",
            &Sign1Headers::default(),
            Sign1Form {
                detached: false,
                tagged: true,
            },
            &pair,
            &rng,
        )
        .unwrap();
        assert!(Sign1::from_value(attached, Some(b"x".to_vec())).is_err());
    }

    #[test]
    fn cwt_wrapping_and_untagged_forms_parse() {
        let pair = key_pair();
        let bytes = sign_es256(b"x".to_vec(), b"k", &pair, &SystemRandom::new()).unwrap();
        let Value::Tag(18, inner) = cbor::from_slice(&bytes).unwrap() else {
            panic!("tag 18 expected")
        };
        let untagged = cbor::to_vec(&inner).unwrap();
        let cwt = cbor::to_vec(&Value::Tag(61, Box::new(Value::Tag(18, inner.clone())))).unwrap();
        let cwt_untagged = cbor::to_vec(&Value::Tag(61, inner)).unwrap();
        for form in [untagged, cwt, cwt_untagged] {
            assert_eq!(Sign1::from_slice(&form).unwrap().payload(), b"x");
        }
        let wrong_tag = cbor::to_vec(&Value::Tag(98, Box::new(Value::Null))).unwrap();
        assert!(matches!(
            Sign1::from_slice(&wrong_tag),
            Err(CodecError::CoseStructure(_))
        ));
    }
}
