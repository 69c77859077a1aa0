//! The phone's side of an ISO/IEC 18013-5 presentation: it shows its engagement (QR code or
//! NFC Handover Select), takes the reader's `SessionEstablishment`, decrypts the request,
//! checks the reader's authentication against the reader roots **before** anything is shown,
//! says what is asked and what the reader may be given ([`ReceivedRequest`], for the consent
//! screen), and answers with only what the person approved within the policy, encrypted and
//! signed by the device over the session transcript.
//!
//! A session answers one engagement: its ephemeral key is spent by the first establishment, an
//! engagement older than [`ENGAGEMENT_SECONDS`] is refused, and a message that does not
//! decrypt ends it (the answer then carries status 10, 11 or 20).

use carnet_codec::cbor;
use ciborium::Value;

use crate::IdentityError;
use crate::apcv::{Credential, DOC_TYPE};
use crate::engagement::{DeviceEngagement, RetrievalMethod};
use crate::error::{structure, undecodable};
use crate::mdoc::field;
use crate::ndef;
use crate::policy::ReaderPolicy;
use crate::presentation::{Binding, DeviceSigner, device_response};
use crate::reader_trust::{ReaderRefusal, ReaderTrust, VerifiedReader};
use crate::remote::{Endpoint, RemoteVerdict};
use crate::request::{DeviceRequest, ItemsRequest};
use crate::session::{
    Handover, KeyAgreement, Role, SessionCipher, SessionData, SessionEstablishment, SessionKeys,
    SessionStatus, SessionTranscript, established_from_value, established_to_value,
};

/// How long an engagement may wait for the reader's first message.
pub const ENGAGEMENT_SECONDS: i64 = 300;
/// How far a request's time may be from the phone's clock.
pub const REQUEST_TIME_TOLERANCE_SECONDS: i64 = 300;

/// How the engagement is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngagementKind {
    /// A QR code (`mdoc:` text); the transcript's handover is `null`.
    Qr,
    /// An NFC tap (static handover): the Handover Select message the tag holds.
    Nfc,
    /// Posted to a reader's endpoint over HTTPS ([`crate::remote`]): the reader must hold a
    /// certificate naming the endpoint's host.
    Remote(Endpoint),
}

/// What the holder knows of the reader asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderIdentity {
    /// Its certificate chain verified to a reader root: who it is, from the certificate.
    Verified(VerifiedReader),
    /// It did not authenticate.
    Anonymous,
    /// It authenticated, and the holder does not take it, for this reason.
    Refused(ReaderRefusal),
}

/// One element asked, as the consent screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskedElement {
    /// The element's identifier.
    pub name: String,
    /// Whether the reader says it keeps the value.
    pub intent_to_retain: bool,
    /// Whether this reader may be given it (the policy of its profession; for an anonymous
    /// reader, only if the person chooses so; for a refused one, never).
    pub allowed: bool,
}

/// A request the reader sent, checked, for the person to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRequest {
    /// Who asks.
    pub reader: ReaderIdentity,
    /// The ApCV elements asked, in the request's order.
    pub elements: Vec<AskedElement>,
    /// Doc types asked that the phone does not hold (answered as not returned).
    pub other_documents: Vec<String>,
}

/// What a message from the reader brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HolderEvent {
    /// A request to decide on.
    Request(Box<ReceivedRequest>),
    /// The reader ended the session.
    Ended,
}

enum State {
    Engaged(Box<dyn KeyAgreement + Send + Sync>),
    Established(Box<Established>),
    Ended,
}

/// A session whose keys are agreed.
struct Established {
    transcript: SessionTranscript,
    cipher: SessionCipher,
    /// The request awaiting the person's decision.
    pending: Option<ReceivedRequest>,
    /// The key of the reader's verified certificate, once a request verified.
    reader_key: Option<Vec<u8>>,
}

/// A DeviceResponse with `document` (or none shown), encrypted as `SessionData`.
fn seal_response(
    cipher: &mut SessionCipher,
    document: Option<Value>,
) -> Result<Vec<u8>, IdentityError> {
    let sealed = cipher.seal(&device_response(document)?)?;
    SessionData {
        data: Some(sealed),
        status: None,
    }
    .to_bytes()
}

/// The key of the reader a request came from, if its certificate verified.
fn verified_key(received: &ReceivedRequest) -> Option<Vec<u8>> {
    match &received.reader {
        ReaderIdentity::Verified(reader) => Some(reader.key.clone()),
        ReaderIdentity::Anonymous | ReaderIdentity::Refused(_) => None,
    }
}

/// One presentation session on the phone.
pub struct HolderSession {
    engagement: DeviceEngagement,
    handover: Handover,
    engaged_at: i64,
    expected_host: Option<String>,
    state: State,
}

impl std::fmt::Debug for HolderSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HolderSession")
            .field("engaged_at", &self.engaged_at)
            .finish_non_exhaustive()
    }
}

impl HolderSession {
    /// A session engaged at `now` with a fresh ephemeral `key`, offering `methods`, shown as
    /// `kind`.
    ///
    /// # Errors
    /// [`IdentityError::Structure`] for a key that is not P-256.
    pub fn new(
        key: Box<dyn KeyAgreement + Send + Sync>,
        methods: Vec<RetrievalMethod>,
        kind: EngagementKind,
        now: i64,
    ) -> Result<Self, IdentityError> {
        let mut expected_host = None;
        let (engagement, handover) = match kind {
            EngagementKind::Qr => (
                DeviceEngagement::new(&key.public_point(), methods)?,
                Handover::Qr,
            ),
            EngagementKind::Nfc => {
                // The methods travel as carrier records; the engagement's bytes list none, and
                // it keeps them as the reader reads them from the Handover Select message.
                let mut offered = DeviceEngagement::new(&key.public_point(), Vec::new())?;
                offered.methods = methods;
                let select = ndef::handover_select(&offered);
                (
                    offered,
                    Handover::Nfc {
                        select,
                        request: None,
                    },
                )
            }
            EngagementKind::Remote(endpoint) => {
                expected_host = Some(endpoint.host().to_owned());
                (
                    DeviceEngagement::new(&key.public_point(), Vec::new())?,
                    Handover::Remote {
                        origin: endpoint.origin().to_owned(),
                    },
                )
            }
        };
        Ok(HolderSession {
            engagement,
            handover,
            engaged_at: now,
            expected_host,
            state: State::Engaged(key),
        })
    }

    /// The engagement shown.
    #[must_use]
    pub fn engagement(&self) -> &DeviceEngagement {
        &self.engagement
    }

    /// How the engagement reached the reader (the transcript's third element).
    #[must_use]
    pub fn handover(&self) -> &Handover {
        &self.handover
    }

    /// The Handover Select message of an NFC engagement.
    #[must_use]
    pub fn handover_select(&self) -> Option<&[u8]> {
        match &self.handover {
            Handover::Nfc { select, .. } => Some(select),
            Handover::Qr | Handover::Remote { .. } => None,
        }
    }

    /// Takes a message from the reader at `now`: the session establishment first, then
    /// session data. On an error the session is over: answer with
    /// [`HolderSession::error_answer`].
    ///
    /// # Errors
    /// [`IdentityError::EngagementExpired`]; [`IdentityError::Decryption`] for a message
    /// altered, replayed or from another session; [`IdentityError::SessionEnded`];
    /// what the request's parsing returns.
    pub fn receive(
        &mut self,
        message: &[u8],
        trust: &ReaderTrust,
        now: i64,
    ) -> Result<HolderEvent, IdentityError> {
        let result = self.take(message, trust, now);
        if result.is_err() {
            self.end();
        }
        result
    }

    fn take(
        &mut self,
        message: &[u8],
        trust: &ReaderTrust,
        now: i64,
    ) -> Result<HolderEvent, IdentityError> {
        match std::mem::replace(&mut self.state, State::Ended) {
            State::Ended => Err(IdentityError::SessionEnded),
            State::Engaged(key) => {
                if now - self.engaged_at > ENGAGEMENT_SECONDS || now < self.engaged_at - 60 {
                    return Err(IdentityError::EngagementExpired);
                }
                let establishment = SessionEstablishment::from_bytes(message)?;
                let transcript = SessionTranscript::new(
                    &self.engagement,
                    &establishment.e_reader_key,
                    &self.handover,
                )?;
                let shared = key.agree(&establishment.e_reader_point()?)?;
                let mut cipher =
                    SessionCipher::new(Role::Device, &SessionKeys::derive(&shared, &transcript))?;
                let request = cipher.open(&establishment.data)?;
                let received = self.check(&request, &transcript, trust, now)?;
                self.state = State::Established(Box::new(Established {
                    transcript,
                    cipher,
                    reader_key: verified_key(&received),
                    pending: Some(received.clone()),
                }));
                Ok(HolderEvent::Request(Box::new(received)))
            }
            State::Established(mut established) => {
                let data = SessionData::from_bytes(message)?;
                let Some(sealed) = data.data else {
                    return Ok(HolderEvent::Ended);
                };
                let request = established.cipher.open(&sealed)?;
                let received = self.check(&request, &established.transcript, trust, now)?;
                established.reader_key = verified_key(&received);
                established.pending = Some(received.clone());
                self.state = State::Established(established);
                Ok(HolderEvent::Request(Box::new(received)))
            }
        }
    }

    /// Reads a decrypted DeviceRequest and checks the reader.
    fn check(
        &self,
        request: &[u8],
        transcript: &SessionTranscript,
        trust: &ReaderTrust,
        now: i64,
    ) -> Result<ReceivedRequest, IdentityError> {
        let request = DeviceRequest::from_bytes(request)?;
        let mut other_documents = Vec::new();
        let mut apcv = None;
        for document in request.documents {
            if document.items.doc_type == DOC_TYPE && apcv.is_none() {
                apcv = Some(document);
            } else {
                other_documents.push(document.items.doc_type);
            }
        }
        let Some(document) = apcv else {
            return Err(IdentityError::Unsupported(
                "the reader asks for no document this phone holds",
            ));
        };
        let reader = match document.verify_reader(transcript) {
            Ok(None) => ReaderIdentity::Anonymous,
            Ok(Some(chain)) => match trust.validate(&chain, now) {
                Ok(Ok(reader)) => self.checked_reader(reader, &document.items, now),
                Ok(Err(refusal)) => ReaderIdentity::Refused(refusal),
                Err(_) => ReaderIdentity::Refused(ReaderRefusal::Untrusted),
            },
            Err(IdentityError::Signature(_) | IdentityError::Unsupported(_)) => {
                ReaderIdentity::Refused(ReaderRefusal::Signature)
            }
            Err(_) => ReaderIdentity::Refused(ReaderRefusal::Untrusted),
        };
        let allowed = match &reader {
            ReaderIdentity::Verified(verified) => ReaderPolicy::standard().allowed(Some(verified)),
            ReaderIdentity::Anonymous => ReaderPolicy::standard().allowed(None),
            ReaderIdentity::Refused(_) => Vec::new(),
        };
        let elements = document
            .items
            .elements
            .iter()
            .filter(|element| element.namespace == DOC_TYPE)
            .map(|element| AskedElement {
                name: element.name.clone(),
                intent_to_retain: element.intent_to_retain,
                allowed: allowed.contains(&element.name.as_str()),
            })
            .collect();
        Ok(ReceivedRequest {
            reader,
            elements,
            other_documents,
        })
    }

    /// A verified reader, unless its origin or its clock says otherwise.
    fn checked_reader(
        &self,
        reader: VerifiedReader,
        items: &ItemsRequest,
        now: i64,
    ) -> ReaderIdentity {
        if let Some(host) = &self.expected_host
            && !reader.hosts.contains(host)
        {
            return ReaderIdentity::Refused(ReaderRefusal::OriginMismatch);
        }
        if let Some(time) = items.request_time
            && (time - now).abs() > REQUEST_TIME_TOLERANCE_SECONDS
        {
            return ReaderIdentity::Refused(ReaderRefusal::ClockSkew);
        }
        ReaderIdentity::Verified(reader)
    }

    /// Answers the pending request with `credential`: of what was asked, only the `approved`
    /// elements this reader may be given are shown; everything else asked is reported as not
    /// returned. Nothing approved and allowed: no document at all. The session stays open
    /// for another request.
    ///
    /// # Errors
    /// [`IdentityError::SessionEnded`] with no request pending; [`IdentityError::Signer`]
    /// when the device key does not sign; [`IdentityError::Structure`] for a credential that
    /// does not parse.
    pub fn respond(
        &mut self,
        credential: &Credential,
        approved: &[String],
        signer: &dyn DeviceSigner,
    ) -> Result<Vec<u8>, IdentityError> {
        let State::Established(established) = &mut self.state else {
            return Err(IdentityError::SessionEnded);
        };
        let Established {
            transcript,
            cipher,
            pending,
            ..
        } = established.as_mut();
        let received = pending.take().ok_or(IdentityError::SessionEnded)?;
        let shown: Vec<&str> = received
            .elements
            .iter()
            .filter(|element| element.allowed && approved.contains(&element.name))
            .map(|element| element.name.as_str())
            .collect();
        let not_returned: Vec<&str> = received
            .elements
            .iter()
            .map(|element| element.name.as_str())
            .filter(|name| !shown.contains(name))
            .collect();
        let document = if shown.is_empty() {
            None
        } else {
            Some(credential.document(
                &shown,
                &not_returned,
                &Binding::Session(transcript.clone()),
                signer,
            )?)
        };
        seal_response(cipher, document)
    }

    /// Reads the verdict a remote reader sent back after the answer: only a reader whose
    /// certificate verified in this session can give one, signed with that certificate's key
    /// over this session's transcript.
    ///
    /// # Errors
    /// [`IdentityError::Signature`] for a reader that did not authenticate (or was refused),
    /// or a verdict it did not sign over this session; [`IdentityError::SessionEnded`] when
    /// no session is established; what [`RemoteVerdict::verify`] returns.
    pub fn reader_verdict(&self, signed: &[u8]) -> Result<RemoteVerdict, IdentityError> {
        let State::Established(established) = &self.state else {
            return Err(IdentityError::SessionEnded);
        };
        let key = established
            .reader_key
            .as_deref()
            .ok_or(IdentityError::Signature(
                "the reader did not authenticate: its verdict cannot be confirmed",
            ))?;
        RemoteVerdict::verify(signed, &established.transcript, key)
    }

    /// Answers the pending request with nothing: the person declined.
    ///
    /// # Errors
    /// [`IdentityError::SessionEnded`] with no request pending.
    pub fn decline(&mut self) -> Result<Vec<u8>, IdentityError> {
        let State::Established(established) = &mut self.state else {
            return Err(IdentityError::SessionEnded);
        };
        established
            .pending
            .take()
            .ok_or(IdentityError::SessionEnded)?;
        seal_response(&mut established.cipher, None)
    }

    /// Ends the session: the message that tells the reader (status 20).
    ///
    /// # Errors
    /// [`IdentityError::Encoding`].
    pub fn terminate(&mut self) -> Result<Vec<u8>, IdentityError> {
        self.end();
        SessionData {
            data: None,
            status: Some(SessionStatus::Termination),
        }
        .to_bytes()
    }

    /// The message that tells the reader why its last message was not taken (status 10, 11
    /// or 20); the session is over.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`].
    pub fn error_answer(&mut self, error: &IdentityError) -> Result<Vec<u8>, IdentityError> {
        self.end();
        SessionData {
            data: None,
            status: Some(SessionStatus::answering(error)),
        }
        .to_bytes()
    }

    fn end(&mut self) {
        if let State::Established(established) = &mut self.state {
            established.cipher.end();
        }
        self.state = State::Ended;
    }

    /// Whether the session is over.
    #[must_use]
    pub fn is_ended(&self) -> bool {
        matches!(self.state, State::Ended)
    }

    /// The session as bytes, to take it up in another run of a tool (`carnet card engage`,
    /// then `carnet card respond`): the engagement, and once established its keys and
    /// counters — secret: keep it as such. An engaged session's ephemeral key is not in it
    /// (the tool keeps it); a request pending is not either (answer it in the same run).
    ///
    /// # Errors
    /// [`IdentityError::Encoding`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, IdentityError> {
        let state = match &self.state {
            State::Engaged(_) => Value::from("engaged"),
            State::Established(established) => {
                established_to_value(&established.transcript, &established.cipher)
            }
            State::Ended => Value::from("ended"),
        };
        let handover = self.handover.to_value();
        cbor::to_vec(&Value::Map(vec![
            (
                Value::from("engagement"),
                Value::Bytes(self.engagement.bytes().to_vec()),
            ),
            (Value::from("handover"), handover),
            (Value::from("engaged_at"), Value::from(self.engaged_at)),
            (
                Value::from("host"),
                self.expected_host.clone().map_or(Value::Null, Value::from),
            ),
            (Value::from("state"), state),
        ]))
        .map_err(undecodable("holder session"))
    }

    /// A session kept by [`HolderSession::to_bytes`]; an engaged one needs its ephemeral
    /// `key` back.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`] or [`IdentityError::Structure`] for bytes that are not one;
    /// [`IdentityError::SessionEnded`] for an engaged session without its key.
    pub fn from_bytes(
        bytes: &[u8],
        key: Option<Box<dyn KeyAgreement + Send + Sync>>,
    ) -> Result<Self, IdentityError> {
        let value = cbor::from_slice(bytes).map_err(undecodable("holder session"))?;
        let get = |name: &str| field(&value, name, "holder session");
        let engagement_bytes = get("engagement")?
            .as_bytes()
            .ok_or_else(|| structure("holder session: the engagement is not bytes"))?;
        let handover = Handover::from_value(get("handover")?)?;
        let engaged_at = get("engaged_at")?
            .as_integer()
            .and_then(|t| i64::try_from(t).ok())
            .ok_or_else(|| structure("holder session: the engagement time is not a number"))?;
        let state = match (get("state")?, key) {
            (Value::Text(text), Some(key)) if text == "engaged" => State::Engaged(key),
            (Value::Text(text), None) if text == "engaged" => {
                return Err(IdentityError::SessionEnded);
            }
            (Value::Text(text), _) if text == "ended" => State::Ended,
            (established, _) => {
                let (transcript, cipher) = established_from_value(established, Role::Device)?;
                State::Established(Box::new(Established {
                    transcript,
                    cipher,
                    pending: None,
                    reader_key: None,
                }))
            }
        };
        Ok(HolderSession {
            engagement: match &handover {
                Handover::Nfc { select, .. } => ndef::read_handover_select(select)?,
                Handover::Qr | Handover::Remote { .. } => {
                    DeviceEngagement::from_bytes(engagement_bytes)?
                }
            },
            handover,
            engaged_at,
            expected_host: get("host")?.as_text().map(str::to_owned),
            state,
        })
    }
}
