//! Showing an ApCV credential (`docs/protocols/apcv.md`): the holder builds a DeviceResponse
//! with only the requested items and signs the session transcript with the device key; the
//! reader checks the issuer's signature over the MSO, its validity, each disclosed item's
//! digest and the device signature over the transcript *it* expects.
//!
//! In progress (issue 6): the issuer's key is given to the reader directly; the certificate
//! chain to the issuer root, the counter mode's replay cache, the status list and the rights
//! check come next.

use carnet_codec::cbor;
use carnet_codec::cose::{self, Sign1, Sign1Form, Sign1Headers, VerifyingKey};
use ciborium::Value;
use coset::iana;

use crate::IdentityError;
use crate::apcv::{Credential, DOC_TYPE};
use crate::mdoc::{DeviceKey, Embedded, IssuerSignedItem, Mso};

/// Most bytes of a DeviceResponse a reader reads.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

fn malformed(what: impl Into<String>) -> IdentityError {
    IdentityError::CredentialMalformed(what.into())
}

/// What binds a presentation to one exchange: the session transcript's handover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handover {
    /// The reader showed a challenge: its nonce, its identifier (RPPS or FINESS), its time
    /// (Unix seconds).
    Challenge {
        /// The reader's random nonce.
        nonce: Vec<u8>,
        /// The reader's identifier.
        reader: String,
        /// The challenge's time.
        time: i64,
    },
    /// A counter QR shown without a challenge, bound to a 30-second time slot.
    Counter {
        /// Unix seconds / 30.
        slot: i64,
    },
}

impl Handover {
    /// `SessionTranscript = [null, null, ["APCV", mode, nonce, reader, time]]`.
    fn transcript(&self) -> Value {
        let handover = match self {
            Handover::Challenge {
                nonce,
                reader,
                time,
            } => vec![
                Value::from("APCV"),
                Value::from("challenge"),
                Value::Bytes(nonce.clone()),
                Value::from(reader.as_str()),
                Value::from(*time),
            ],
            Handover::Counter { slot } => vec![
                Value::from("APCV"),
                Value::from("counter"),
                Value::Bytes(Vec::new()),
                Value::from(""),
                Value::from(*slot),
            ],
        };
        Value::Array(vec![Value::Null, Value::Null, Value::Array(handover)])
    }
}

/// The holder's device key at work: a platform keystore (P-256) or a software key (Ed25519).
pub trait DeviceSigner {
    /// The public key, as the credential binds it.
    fn device_key(&self) -> DeviceKey;
    /// Signs `message` (P-256: r‖s, 64 bytes; Ed25519: 64 bytes).
    ///
    /// # Errors
    /// [`IdentityError`] when the platform refuses (user cancelled, keystore locked).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError>;
}

/// `DeviceAuthenticationBytes` for a transcript: what the device signs.
fn device_authentication(handover: &Handover) -> Result<Vec<u8>, IdentityError> {
    let device_namespaces = Embedded::encode(Value::Map(Vec::new()))?;
    let authentication = Value::Array(vec![
        Value::from("DeviceAuthentication"),
        handover.transcript(),
        Value::from(DOC_TYPE),
        device_namespaces.to_value(),
    ]);
    cbor::to_vec(&Embedded::encode(authentication)?.to_value())
        .map_err(|e| malformed(e.to_string()))
}

impl Credential {
    /// A DeviceResponse disclosing only the `requested` elements, signed by the device over
    /// `handover`'s transcript.
    ///
    /// # Errors
    /// [`IdentityError::CredentialMalformed`] for an element the credential does not have, or
    /// what the signer returns.
    pub fn present(
        &self,
        requested: &[&str],
        handover: &Handover,
        signer: &dyn DeviceSigner,
    ) -> Result<Vec<u8>, IdentityError> {
        let items = self.items()?;
        let mut disclosed = Vec::with_capacity(requested.len());
        for name in requested {
            let index = items
                .iter()
                .position(|item| item.element_identifier == *name)
                .ok_or_else(|| malformed(format!("the credential has no {name}")))?;
            let embedded = self
                .embedded_items()
                .get(index)
                .ok_or_else(|| malformed("item out of range"))?;
            disclosed.push(embedded.clone());
        }
        let algorithm = match signer.device_key() {
            DeviceKey::P256(_) => iana::Algorithm::ES256,
            DeviceKey::Ed25519(_) => iana::Algorithm::EdDSA,
        };
        let form = Sign1Form {
            detached: true,
            tagged: false,
        };
        let signature = cose::sign1(
            &device_authentication(handover)?,
            &Sign1Headers::default(),
            form,
            algorithm,
            |message| {
                signer
                    .sign(message)
                    .map_err(|_| carnet_codec::CodecError::Key("the device signer refused"))
            },
        )
        .map_err(|e| malformed(e.to_string()))?;
        let document = Value::Map(vec![
            (Value::from("docType"), Value::from(DOC_TYPE)),
            (Value::from("issuerSigned"), self.issuer_signed(&disclosed)),
            (
                Value::from("deviceSigned"),
                Value::Map(vec![
                    (
                        Value::from("nameSpaces"),
                        Embedded::encode(Value::Map(Vec::new()))?.to_value(),
                    ),
                    (
                        Value::from("deviceAuth"),
                        Value::Map(vec![(Value::from("deviceSignature"), signature)]),
                    ),
                ]),
            ),
        ]);
        let response = Value::Map(vec![
            (Value::from("version"), Value::from("1.0")),
            (Value::from("documents"), Value::Array(vec![document])),
            (Value::from("status"), Value::from(0)),
        ]);
        cbor::to_vec(&response).map_err(|e| malformed(e.to_string()))
    }
}

/// Why a reader refused a presentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The issuer's signature over the MSO does not verify.
    IssuerSignature,
    /// The MSO is past its validity.
    Expired,
    /// The MSO is not valid yet.
    NotYetValid,
    /// A disclosed item is not the one the issuer signed.
    ItemDigest,
    /// The device signature does not verify over the expected transcript (another nonce,
    /// reader or time, or another device).
    DeviceSignature,
}

/// What a reader learns from an accepted presentation: the disclosed elements, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Disclosed {
    /// `(element identifier, value)`.
    pub elements: Vec<(String, Value)>,
}

/// Checks a DeviceResponse against the issuer's key, the handover the reader expects and the
/// time of the check (Unix seconds). `Ok(Err(refusal))` is a well-formed presentation
/// refused for a reason; `Err` a malformed one.
///
/// # Errors
/// [`IdentityError::CredentialMalformed`] for a response that does not parse (limits apply).
pub fn verify(
    response: &[u8],
    issuer_key: &VerifyingKey,
    expected: &Handover,
    at: i64,
) -> Result<Result<Disclosed, Refusal>, IdentityError> {
    if response.len() > MAX_RESPONSE_BYTES {
        return Err(malformed("presentation too large"));
    }
    let value = cbor::from_slice(response).map_err(|e| malformed(e.to_string()))?;
    let document = field(&value, "documents")?
        .as_array()
        .and_then(|documents| match documents.as_slice() {
            [one] => Some(one),
            _ => None,
        })
        .ok_or_else(|| malformed("a presentation carries one document"))?;
    if field(document, "docType")?.as_text() != Some(DOC_TYPE) {
        return Err(malformed("not an ApCV document"));
    }
    let issuer_signed =
        cbor::to_vec(field(document, "issuerSigned")?).map_err(|e| malformed(e.to_string()))?;
    let credential = Credential::from_cbor(&issuer_signed)?;
    let issuer_auth = credential.issuer_auth()?;
    if issuer_auth.verify(issuer_key).is_err() {
        return Ok(Err(Refusal::IssuerSignature));
    }
    let mso: Mso = credential.mso()?;
    if at < mso.validity.valid_from {
        return Ok(Err(Refusal::NotYetValid));
    }
    if at > mso.validity.valid_until {
        return Ok(Err(Refusal::Expired));
    }
    let digests = mso
        .value_digests
        .get(DOC_TYPE)
        .ok_or_else(|| malformed("the MSO lists no ApCV digest"))?;
    let mut elements = Vec::new();
    for embedded in credential.embedded_items() {
        let item = IssuerSignedItem::from_value(embedded.value())?;
        if digests.get(&item.digest_id).map(Vec::as_slice) != Some(&embedded.digest()[..]) {
            return Ok(Err(Refusal::ItemDigest));
        }
        elements.push((item.element_identifier, item.element_value));
    }
    let device_signed = field(document, "deviceSigned")?;
    let signature = field(field(device_signed, "deviceAuth")?, "deviceSignature")?;
    let sign1 = Sign1::from_value(signature.clone(), Some(device_authentication(expected)?))
        .map_err(|e| malformed(e.to_string()))?;
    let expected_algorithm = match mso.device_key {
        DeviceKey::P256(_) => iana::Algorithm::ES256,
        DeviceKey::Ed25519(_) => iana::Algorithm::EdDSA,
    };
    if sign1.header_algorithm()
        != Some(&coset::RegisteredLabelWithPrivate::Assigned(
            expected_algorithm,
        ))
    {
        return Ok(Err(Refusal::DeviceSignature));
    }
    if mso
        .device_key
        .verify(&sign1.to_be_signed(), sign1.signature())
        .is_err()
    {
        return Ok(Err(Refusal::DeviceSignature));
    }
    Ok(Ok(Disclosed { elements }))
}

/// A field of a DeviceResponse's structures.
fn field<'a>(value: &'a Value, name: &str) -> Result<&'a Value, IdentityError> {
    crate::mdoc::field(value, name, "DeviceResponse")
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};

    use super::*;
    use crate::apcv::{ApcvClaims, DocumentSigner, issue};
    use crate::mdoc::Validity;

    const NOW: i64 = 1_800_000_000;

    fn p256() -> EcdsaKeyPair {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap()
    }

    /// A P-256 device key, as a platform keystore holds it.
    struct KeystoreSigner(EcdsaKeyPair);
    impl DeviceSigner for KeystoreSigner {
        fn device_key(&self) -> DeviceKey {
            DeviceKey::P256(self.0.public_key().as_ref().to_vec())
        }
        fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError> {
            Ok(self
                .0
                .sign(&SystemRandom::new(), message)
                .unwrap()
                .as_ref()
                .to_vec())
        }
    }

    /// An Ed25519 software key.
    struct SoftwareSigner(Ed25519KeyPair);
    impl DeviceSigner for SoftwareSigner {
        fn device_key(&self) -> DeviceKey {
            let mut public = [0u8; 32];
            public.copy_from_slice(self.0.public_key().as_ref());
            DeviceKey::Ed25519(public)
        }
        fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError> {
            Ok(self.0.sign(message).as_ref().to_vec())
        }
    }

    fn software() -> SoftwareSigner {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        SoftwareSigner(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
    }

    fn credential(issuer: &EcdsaKeyPair, device: &dyn DeviceSigner) -> Credential {
        let claims = ApcvClaims {
            nir: "253072B07300470".into(),
            family_name: "DUPONT".into(),
            given_names: "MARIE ANNE".into(),
            birth_date: "1953-07-14".into(),
            amo_valid_from: "2026-01-01".into(),
            amo_valid_until: "2027-12-31".into(),
            beneficiary_rank: 1,
            ..ApcvClaims::default()
        };
        let validity = Validity {
            signed: NOW - 86_400,
            valid_from: NOW - 86_400,
            valid_until: NOW + 365 * 86_400,
        };
        let signer = DocumentSigner {
            key: issuer,
            x5chain: vec![b"document signer".to_vec()],
        };
        issue(
            &claims,
            &device.device_key(),
            validity,
            &signer,
            &SystemRandom::new(),
        )
        .unwrap()
    }

    fn challenge(nonce: u8) -> Handover {
        Handover::Challenge {
            nonce: vec![nonce; 16],
            reader: "10003456789".into(),
            time: NOW,
        }
    }

    fn issuer_key(issuer: &EcdsaKeyPair) -> VerifyingKey {
        VerifyingKey::EcdsaP256(issuer.public_key().as_ref().to_vec())
    }

    #[test]
    fn only_the_requested_items_are_disclosed_with_either_device_key() {
        let issuer = p256();
        let signers: [Box<dyn DeviceSigner>; 2] =
            [Box::new(KeystoreSigner(p256())), Box::new(software())];
        for device in &signers {
            let credential = credential(&issuer, device.as_ref());
            let response = credential
                .present(
                    &["family_name", "birth_date"],
                    &challenge(1),
                    device.as_ref(),
                )
                .unwrap();
            let disclosed = verify(&response, &issuer_key(&issuer), &challenge(1), NOW)
                .unwrap()
                .unwrap();
            let names: Vec<&str> = disclosed.elements.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, ["family_name", "birth_date"]);
            assert_eq!(disclosed.elements[0].1, Value::from("DUPONT"));
            assert!(
                !response.windows(15).any(|w| w == b"253072B07300470"),
                "the NIR was not asked for and is not in the response"
            );
            let counter = Handover::Counter { slot: NOW / 30 };
            let shown = credential
                .present(&["family_name"], &counter, device.as_ref())
                .unwrap();
            assert!(
                verify(&shown, &issuer_key(&issuer), &counter, NOW)
                    .unwrap()
                    .is_ok()
            );
        }
    }

    #[test]
    fn each_forgery_is_refused_with_its_reason() {
        let issuer = p256();
        let device = KeystoreSigner(p256());
        let credential = credential(&issuer, &device);
        let response = credential
            .present(&["family_name"], &challenge(1), &device)
            .unwrap();
        let key = issuer_key(&issuer);
        let check = |bytes: &[u8], handover: &Handover, at: i64| {
            verify(bytes, &key, handover, at).unwrap().map(drop)
        };
        assert_eq!(
            check(&response, &challenge(2), NOW),
            Err(Refusal::DeviceSignature),
            "signed over another nonce"
        );
        let other_reader = Handover::Challenge {
            nonce: vec![1; 16],
            reader: "10009999999".into(),
            time: NOW,
        };
        assert_eq!(
            check(&response, &other_reader, NOW),
            Err(Refusal::DeviceSignature)
        );
        assert_eq!(
            check(&response, &challenge(1), NOW + 2 * 365 * 86_400),
            Err(Refusal::Expired)
        );
        assert_eq!(
            check(&response, &challenge(1), NOW - 2 * 86_400),
            Err(Refusal::NotYetValid)
        );
        assert_eq!(
            verify(&response, &issuer_key(&p256()), &challenge(1), NOW)
                .unwrap()
                .map(drop),
            Err(Refusal::IssuerSignature),
            "an MSO signed by another issuer"
        );
        // Another device presenting the same credential.
        let thief = KeystoreSigner(p256());
        let stolen = credential
            .present(&["family_name"], &challenge(1), &thief)
            .unwrap();
        assert_eq!(
            check(&stolen, &challenge(1), NOW),
            Err(Refusal::DeviceSignature)
        );
        // A disclosed value altered (same digest id, another name).
        let altered = {
            let text = response.clone();
            let at = text.windows(6).position(|w| w == b"DUPONT").unwrap();
            let mut altered = text;
            altered[at..at + 6].copy_from_slice(b"DURAND");
            altered
        };
        assert_eq!(
            check(&altered, &challenge(1), NOW),
            Err(Refusal::ItemDigest)
        );
        // An item from another credential of the same device.
        let other = super::tests::credential(&issuer, &device);
        let foreign = other
            .present(&["family_name"], &challenge(1), &device)
            .unwrap();
        let spliced = {
            let mut ours: Value = cbor::from_slice(&response).unwrap();
            let mut theirs: Value = cbor::from_slice(&foreign).unwrap();
            std::mem::swap(namespaces(&mut ours), namespaces(&mut theirs));
            cbor::to_vec(&ours).unwrap()
        };
        assert_eq!(
            check(&spliced, &challenge(1), NOW),
            Err(Refusal::ItemDigest)
        );
    }

    fn entry<'a>(value: &'a mut Value, name: &str) -> &'a mut Value {
        &mut value
            .as_map_mut()
            .unwrap()
            .iter_mut()
            .find(|(k, _)| k.as_text() == Some(name))
            .unwrap()
            .1
    }

    /// The `nameSpaces` of the one document's `issuerSigned` in a response.
    fn namespaces(response: &mut Value) -> &mut Value {
        let documents = entry(response, "documents");
        let document = documents.as_array_mut().unwrap().first_mut().unwrap();
        entry(entry(document, "issuerSigned"), "nameSpaces")
    }

    #[test]
    fn hostile_responses_are_typed_errors() {
        let key = VerifyingKey::EcdsaP256(vec![4; 65]);
        for bytes in [
            &b""[..],
            &[0xa0],
            &[0x82, 0x01],
            &vec![0u8; MAX_RESPONSE_BYTES + 1],
        ] {
            assert!(matches!(
                verify(bytes, &key, &challenge(1), NOW),
                Err(IdentityError::CredentialMalformed(_))
            ));
        }
    }
}
