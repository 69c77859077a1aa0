//! What a reader asks (ISO/IEC 18013-5 §8.3.2.1.2.1): a `DeviceRequest` of one or more
//! `DocRequest`s, each an `ItemsRequest` (a doc type, and per namespace the elements asked
//! with whether the reader intends to retain them) and the reader's authentication
//! (§9.1.4): a COSE_Sign1 by the reader's key over `ReaderAuthenticationBytes`, which bind the
//! exact `ItemsRequestBytes` to this session's transcript, with the reader's certificate
//! chain in `x5chain`.
//!
//! The signature is checked here; whether the certificate is one the holder trusts, and what
//! its holder may ask, is [`crate::reader_trust`]'s.

use carnet_codec::cbor;
use carnet_codec::cose::{Sign1, Sign1Form, Sign1Headers, VerifyingKey};
use ciborium::Value;

use crate::IdentityError;
use crate::error::{structure, too_large, undecodable};
use crate::mdoc::{Embedded, entry, field, optional_field};
use crate::presentation::sign1_by;
use crate::session::SessionTranscript;

/// The DeviceRequest version Carnet writes.
pub const VERSION: &str = "1.0";
/// Most documents asked in one request.
const MAX_DOCUMENTS: usize = 4;
/// Most namespaces in one document's request.
const MAX_NAMESPACES: usize = 8;
/// Most elements asked of one document.
const MAX_ELEMENTS: usize = 64;
/// Longest doc type, namespace or element name.
const MAX_NAME_CHARS: usize = 128;
/// Most certificates in a reader's chain.
const MAX_CHAIN: usize = 4;
/// The `requestInfo` key of the reader's clock when it made the request (Unix seconds),
/// Carnet's own: the holder checks it is within 5 minutes of its clock.
pub const REQUEST_TIME_KEY: &str = "fr.cnam.apcv.time";

/// One element asked: its namespace, its name, and whether the reader will keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedElement {
    /// The namespace (`fr.cnam.apcv.1`).
    pub namespace: String,
    /// The element's identifier (`family_name`).
    pub name: String,
    /// `IntentToRetain`: whether the reader keeps the value after the exchange.
    pub intent_to_retain: bool,
}

/// An `ItemsRequest` with the exact bytes it was read from or written as.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemsRequest {
    /// The document type asked.
    pub doc_type: String,
    /// The elements asked, namespace by namespace in the request's order.
    pub elements: Vec<RequestedElement>,
    /// The reader's clock when it asked (Unix seconds), if it says.
    pub request_time: Option<i64>,
    embedded: Embedded,
}

impl ItemsRequest {
    /// A request for `elements` of a document of type `doc_type`, made at `request_time`
    /// (Unix seconds) if given.
    ///
    /// # Errors
    /// [`IdentityError::TooLarge`] beyond the limits; [`IdentityError::Structure`] for no
    /// element or one asked twice.
    pub fn new(
        doc_type: &str,
        elements: Vec<RequestedElement>,
        request_time: Option<i64>,
    ) -> Result<Self, IdentityError> {
        check_elements(doc_type, &elements)?;
        let mut namespaces: Vec<(Value, Value)> = Vec::new();
        for element in &elements {
            let entry = (
                Value::from(element.name.as_str()),
                Value::Bool(element.intent_to_retain),
            );
            match namespaces
                .iter_mut()
                .find(|(name, _)| name.as_text() == Some(element.namespace.as_str()))
            {
                Some((_, Value::Map(names))) => names.push(entry),
                _ => namespaces.push((
                    Value::from(element.namespace.as_str()),
                    Value::Map(vec![entry]),
                )),
            }
        }
        let mut fields = vec![
            (Value::from("docType"), Value::from(doc_type)),
            (Value::from("nameSpaces"), Value::Map(namespaces)),
        ];
        if let Some(time) = request_time {
            fields.push((
                Value::from("requestInfo"),
                Value::Map(vec![(Value::from(REQUEST_TIME_KEY), Value::from(time))]),
            ));
        }
        let embedded = Embedded::encode(Value::Map(fields))?;
        Ok(ItemsRequest {
            doc_type: doc_type.to_owned(),
            elements,
            request_time,
            embedded,
        })
    }

    /// Reads `ItemsRequestBytes` (tag 24); `requestInfo` is ignored.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`].
    pub fn from_value(value: &Value) -> Result<Self, IdentityError> {
        let embedded = Embedded::from_value(value)?;
        let doc_type = text(
            field(embedded.value(), "docType", "items request")?,
            "doc type",
        )?;
        let namespaces = field(embedded.value(), "nameSpaces", "items request")?
            .as_map()
            .ok_or_else(|| structure("items request: nameSpaces is not a map"))?;
        if namespaces.len() > MAX_NAMESPACES {
            return Err(too_large(
                "items request",
                format!("{MAX_NAMESPACES} namespaces"),
            ));
        }
        let mut elements = Vec::new();
        for (namespace, names) in namespaces {
            let namespace = text(namespace, "namespace")?;
            let names = names
                .as_map()
                .ok_or_else(|| structure("items request: a namespace's elements are not a map"))?;
            if elements.len() + names.len() > MAX_ELEMENTS {
                return Err(too_large(
                    "items request",
                    format!("{MAX_ELEMENTS} elements"),
                ));
            }
            for (name, retain) in names {
                elements.push(RequestedElement {
                    namespace: namespace.clone(),
                    name: text(name, "element")?,
                    intent_to_retain: retain.as_bool().ok_or_else(|| {
                        structure("items request: an intent to retain is not a boolean")
                    })?,
                });
            }
        }
        check_elements(&doc_type, &elements)?;
        let request_time = match optional_field(embedded.value(), "requestInfo") {
            None => None,
            Some(info) => entry(
                info.as_map()
                    .ok_or_else(|| structure("items request: requestInfo is not a map"))?,
                REQUEST_TIME_KEY,
            )
            .map(|time| {
                time.as_integer()
                    .and_then(|t| i64::try_from(t).ok())
                    .ok_or_else(|| structure("items request: the request time is not a number"))
            })
            .transpose()?,
        };
        Ok(ItemsRequest {
            doc_type,
            elements,
            request_time,
            embedded,
        })
    }

    /// `ItemsRequestBytes` as a value (tag 24 around the exact bytes).
    #[must_use]
    pub fn to_value(&self) -> Value {
        self.embedded.to_value()
    }

    /// The element names asked in `namespace`.
    #[must_use]
    pub fn names_in(&self, namespace: &str) -> Vec<&str> {
        self.elements
            .iter()
            .filter(|element| element.namespace == namespace)
            .map(|element| element.name.as_str())
            .collect()
    }
}

fn text(value: &Value, what: &str) -> Result<String, IdentityError> {
    let text = value
        .as_text()
        .ok_or_else(|| structure(format!("items request: a {what} is not text")))?;
    if text.is_empty() || text.chars().count() > MAX_NAME_CHARS {
        return Err(too_large(
            "items request name",
            format!("{MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(text.to_owned())
}

fn check_elements(doc_type: &str, elements: &[RequestedElement]) -> Result<(), IdentityError> {
    if elements.len() > MAX_ELEMENTS {
        return Err(too_large(
            "items request",
            format!("{MAX_ELEMENTS} elements"),
        ));
    }
    let long = |name: &str| name.is_empty() || name.chars().count() > MAX_NAME_CHARS;
    if long(doc_type)
        || elements
            .iter()
            .any(|element| long(&element.namespace) || long(&element.name))
    {
        return Err(too_large(
            "items request name",
            format!("1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    for (position, element) in elements.iter().enumerate() {
        if elements
            .iter()
            .take(position)
            .any(|earlier| earlier.namespace == element.namespace && earlier.name == element.name)
        {
            return Err(structure(format!(
                "items request: {} is asked twice",
                element.name
            )));
        }
    }
    Ok(())
}

/// The reader's key at work, with the certificate chain that names it (leaf first).
pub trait ReaderSigner {
    /// The reader's certificate chain, DER, leaf first.
    fn certificate_chain(&self) -> Vec<Vec<u8>>;
    /// Signs `message` with ECDSA P-256 SHA-256 (r‖s, 64 bytes).
    ///
    /// # Errors
    /// [`IdentityError::Signer`] or [`IdentityError::Signature`] when the key does not sign.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError>;
}

/// One document asked, with the reader's authentication if it gave one.
#[derive(Debug, Clone, PartialEq)]
pub struct DocRequest {
    /// What is asked.
    pub items: ItemsRequest,
    /// `readerAuth`, a COSE_Sign1 with a detached payload.
    pub reader_auth: Option<Value>,
}

/// `ReaderAuthenticationBytes`: what the reader signs.
fn reader_authentication(
    transcript: &SessionTranscript,
    items: &ItemsRequest,
) -> Result<Vec<u8>, IdentityError> {
    let authentication = Value::Array(vec![
        Value::from("ReaderAuthentication"),
        transcript.value().clone(),
        items.to_value(),
    ]);
    let bytes = cbor::to_vec(&authentication).map_err(undecodable("reader authentication"))?;
    let mut tagged = vec![0xd8, 0x18];
    cbor::push_bytes_header(&mut tagged, bytes.len());
    tagged.extend_from_slice(&bytes);
    Ok(tagged)
}

impl DocRequest {
    /// A request authenticated by `signer` for this session.
    ///
    /// # Errors
    /// What `signer` returns; [`IdentityError::Encoding`].
    pub fn signed(
        items: ItemsRequest,
        transcript: &SessionTranscript,
        signer: &dyn ReaderSigner,
    ) -> Result<Self, IdentityError> {
        let payload = reader_authentication(transcript, &items)?;
        let headers = Sign1Headers {
            kid: Vec::new(),
            x5chain: signer.certificate_chain(),
        };
        let form = Sign1Form {
            detached: true,
            tagged: false,
        };
        let reader_auth = sign1_by(
            &payload,
            &headers,
            form,
            coset::iana::Algorithm::ES256,
            "reader authentication",
            |message| signer.sign(message),
        )?;
        Ok(DocRequest {
            items,
            reader_auth: Some(reader_auth),
        })
    }

    /// Checks the reader's signature over this session's transcript and these items, and
    /// returns the certificate chain it was made with (leaf first): `Ok(None)` when the
    /// request carries no reader authentication.
    ///
    /// # Errors
    /// [`IdentityError::Signature`] for a signature that does not verify (another
    /// transcript, other items, another key); [`IdentityError::Certificate`] for a chain
    /// that does not read; [`IdentityError::Unsupported`] for an algorithm other than ES256.
    pub fn verify_reader(
        &self,
        transcript: &SessionTranscript,
    ) -> Result<Option<Vec<Vec<u8>>>, IdentityError> {
        let Some(reader_auth) = &self.reader_auth else {
            return Ok(None);
        };
        let payload = reader_authentication(transcript, &self.items)?;
        let sign1 = Sign1::from_value(reader_auth.clone(), Some(payload))
            .map_err(undecodable("reader authentication"))?;
        if sign1.header_algorithm()
            != Some(&coset::RegisteredLabelWithPrivate::Assigned(
                coset::iana::Algorithm::ES256,
            ))
        {
            return Err(IdentityError::Unsupported(
                "reader authentication other than ES256",
            ));
        }
        let chain = sign1
            .x5chain()
            .map_err(undecodable("reader authentication"))?;
        if chain.len() > MAX_CHAIN {
            return Err(too_large(
                "reader certificate chain",
                format!("{MAX_CHAIN} certificates"),
            ));
        }
        let leaf = chain.first().ok_or(IdentityError::Certificate(
            "the reader's authentication names no certificate",
        ))?;
        let point = crate::trust::certificate_key(leaf)?;
        sign1
            .verify(&VerifyingKey::EcdsaP256(point))
            .map_err(|_| IdentityError::Signature("the reader's signature does not verify"))?;
        Ok(Some(chain.iter().map(|c| c.to_vec()).collect()))
    }
}

/// A `DeviceRequest`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRequest {
    /// The version it declares.
    pub version: String,
    /// The documents asked.
    pub documents: Vec<DocRequest>,
}

impl DeviceRequest {
    /// A request for these documents.
    #[must_use]
    pub fn new(documents: Vec<DocRequest>) -> Self {
        DeviceRequest {
            version: VERSION.to_owned(),
            documents,
        }
    }

    /// Its encoding.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, IdentityError> {
        let documents = self
            .documents
            .iter()
            .map(|document| {
                let mut fields = vec![(Value::from("itemsRequest"), document.items.to_value())];
                if let Some(reader_auth) = &document.reader_auth {
                    fields.push((Value::from("readerAuth"), reader_auth.clone()));
                }
                Value::Map(fields)
            })
            .collect();
        cbor::to_vec(&Value::Map(vec![
            (Value::from("version"), Value::from(self.version.as_str())),
            (Value::from("docRequests"), Value::Array(documents)),
        ]))
        .map_err(undecodable("device request"))
    }

    /// Reads a DeviceRequest (version 1.x).
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdentityError> {
        if bytes.len() > crate::session::MAX_MESSAGE_BYTES {
            return Err(too_large(
                "device request",
                format!("{} bytes", crate::session::MAX_MESSAGE_BYTES),
            ));
        }
        let value = cbor::from_slice(bytes).map_err(undecodable("device request"))?;
        let version = field(&value, "version", "device request")?
            .as_text()
            .ok_or_else(|| structure("device request: the version is not text"))?;
        if version.split('.').next() != Some("1") {
            return Err(IdentityError::Unsupported(
                "a device request version other than 1.x",
            ));
        }
        let listed = field(&value, "docRequests", "device request")?
            .as_array()
            .ok_or_else(|| structure("device request: docRequests is not an array"))?;
        if listed.is_empty() {
            return Err(structure("device request: no document asked"));
        }
        if listed.len() > MAX_DOCUMENTS {
            return Err(too_large(
                "device request",
                format!("{MAX_DOCUMENTS} documents"),
            ));
        }
        let documents = listed
            .iter()
            .map(|document| {
                let items =
                    ItemsRequest::from_value(field(document, "itemsRequest", "document request")?)?;
                let reader_auth = optional_field(document, "readerAuth").cloned();
                Ok(DocRequest { items, reader_auth })
            })
            .collect::<Result<_, IdentityError>>()?;
        Ok(DeviceRequest {
            version: version.to_owned(),
            documents,
        })
    }
}
