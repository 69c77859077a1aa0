//! Showing an ApCV credential (`docs/protocols/apcv.md`): the holder builds a DeviceResponse
//! with only the requested items and signs the session transcript with the device key. The
//! reader's side is [`crate::reader`].

use carnet_codec::cbor;
use carnet_codec::cose::{self, Sign1Form, Sign1Headers};
use ciborium::Value;

use crate::IdentityError;
use crate::apcv::{Credential, DOC_TYPE};
use crate::error::{structure, undecodable};
use crate::mdoc::{DeviceKey, Embedded};
use crate::session::SessionTranscript;

/// The error code of an element asked but not returned (ISO/IEC 18013-5 §8.3.2.1.2.3, "data
/// not returned"): the credential does not hold it, the person declined, or the reader may
/// not ask it.
pub const NOT_RETURNED: u64 = 0;

/// Most bytes of a DeviceResponse a reader reads.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// What binds a presentation to one exchange: the session transcript it is signed over.
#[derive(Debug, Clone, PartialEq)]
pub enum Binding {
    /// An ISO/IEC 18013-5 session: its transcript `[DeviceEngagementBytes, EReaderKeyBytes,
    /// Handover]`.
    Session(SessionTranscript),
    /// Carnet's counter QR, shown without a request, bound to a 30-second time slot.
    Counter {
        /// Unix seconds / 30.
        slot: i64,
    },
}

impl Binding {
    /// The session's transcript, or for Carnet's counter QR `[null, null, ["APCV",
    /// "counter", h'', "", slot]]`.
    fn transcript(&self) -> Value {
        let handover = match self {
            Binding::Session(transcript) => return transcript.value().clone(),
            Binding::Counter { slot } => vec![
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

/// Signs `payload` as a COSE_Sign1 with `sign` (the device's keystore, a reader's key) and,
/// when the signer refuses, returns the signer's own error: a keystore that refused is the
/// platform's answer, not a malformed structure. `what` names the structure in other errors.
pub(crate) fn sign1_by(
    payload: &[u8],
    headers: &Sign1Headers,
    form: Sign1Form,
    algorithm: coset::iana::Algorithm,
    what: &'static str,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, IdentityError>,
) -> Result<Value, IdentityError> {
    // The signer's error is kept aside while COSE signs, which only knows its own errors.
    let mut refusal = None;
    let signed = cose::sign1(payload, headers, form, algorithm, |message| {
        sign(message).map_err(|error| {
            refusal = Some(error);
            carnet_codec::CodecError::Key("the signer refused")
        })
    });
    match (signed, refusal) {
        (_, Some(error)) => Err(error),
        (signed, None) => signed.map_err(undecodable(what)),
    }
}

/// `DeviceAuthenticationBytes` for a transcript: what the device signs.
pub(crate) fn device_authentication(handover: &Binding) -> Result<Vec<u8>, IdentityError> {
    let device_namespaces = Embedded::encode(Value::Map(Vec::new()))?;
    let authentication = Value::Array(vec![
        Value::from("DeviceAuthentication"),
        handover.transcript(),
        Value::from(DOC_TYPE),
        device_namespaces.to_value(),
    ]);
    cbor::to_vec(&Embedded::encode(authentication)?.to_value()).map_err(undecodable("presentation"))
}

impl Credential {
    /// A DeviceResponse disclosing only the `requested` elements, signed by the device over
    /// `binding`'s transcript. An element the credential does not hold (a `portrait` the
    /// caisse never issued) is left out, as ISO/IEC 18013-5 answers: absent, not an error.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`] for a credential that does not parse,
    /// [`IdentityError::Signer`] when the device key's keeper does not sign.
    pub fn present(
        &self,
        requested: &[&str],
        binding: &Binding,
        signer: &dyn DeviceSigner,
    ) -> Result<Vec<u8>, IdentityError> {
        let document = self.document(requested, &[], binding, signer)?;
        device_response(Some(document))
    }

    /// One `Document` of a DeviceResponse: the `disclosed` elements the credential holds, in
    /// that order, and under `errors` each of `not_returned` (and each disclosed element the
    /// credential lacks) with [`NOT_RETURNED`]; signed by the device over `binding`'s
    /// transcript.
    ///
    /// # Errors
    /// As [`Credential::present`].
    pub fn document(
        &self,
        disclosed: &[&str],
        not_returned: &[&str],
        binding: &Binding,
        signer: &dyn DeviceSigner,
    ) -> Result<Value, IdentityError> {
        let items = self.items()?;
        let mut shown = Vec::with_capacity(disclosed.len());
        let mut missing: Vec<&str> = Vec::new();
        for (position, name) in disclosed.iter().enumerate() {
            if disclosed
                .iter()
                .take(position)
                .any(|earlier| earlier == name)
            {
                continue;
            }
            let Some(index) = items
                .iter()
                .position(|item| item.element_identifier == *name)
            else {
                missing.push(name);
                continue;
            };
            let embedded = self
                .embedded_items()
                .get(index)
                .ok_or_else(|| structure("item out of range"))?;
            shown.push(embedded.clone());
        }
        for name in not_returned {
            if !missing.contains(name) && !disclosed.contains(name) {
                missing.push(name);
            }
        }
        let algorithm = signer.device_key().algorithm();
        let form = Sign1Form {
            detached: true,
            tagged: false,
        };
        let signature = sign1_by(
            &device_authentication(binding)?,
            &Sign1Headers::default(),
            form,
            algorithm,
            "presentation",
            |message| signer.sign(message),
        )?;
        let mut document = vec![
            (Value::from("docType"), Value::from(DOC_TYPE)),
            (Value::from("issuerSigned"), self.issuer_signed(&shown)),
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
        ];
        if !missing.is_empty() {
            let errors = missing
                .iter()
                .map(|name| (Value::from(*name), Value::from(NOT_RETURNED)))
                .collect();
            document.push((
                Value::from("errors"),
                Value::Map(vec![(Value::from(DOC_TYPE), Value::Map(errors))]),
            ));
        }
        Ok(Value::Map(document))
    }
}

/// A DeviceResponse (version 1.0, status 0) with `document`, or, for `None`, with the ApCV
/// under `documentErrors` (nothing shown).
///
/// # Errors
/// [`IdentityError::Encoding`].
pub fn device_response(document: Option<Value>) -> Result<Vec<u8>, IdentityError> {
    let carried = match document {
        Some(document) => (Value::from("documents"), Value::Array(vec![document])),
        None => (
            Value::from("documentErrors"),
            Value::Array(vec![Value::Map(vec![(
                Value::from(DOC_TYPE),
                Value::from(NOT_RETURNED),
            )])]),
        ),
    };
    let response = Value::Map(vec![
        (Value::from("version"), Value::from("1.0")),
        carried,
        (Value::from("status"), Value::from(0)),
    ]);
    cbor::to_vec(&response).map_err(undecodable("presentation"))
}
