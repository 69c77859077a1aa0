//! The reader's side of an ISO/IEC 18013-5 session: from the phone's engagement (its QR text
//! or the Handover Select read over NFC) it makes its own ephemeral key, the transcript and
//! the session keys, and sends its request — signed by the reader's key when it has a
//! certificate — in a `SessionEstablishment`; it decrypts the phone's `SessionData` and
//! checks the DeviceResponse with [`Reader::check`] against *this* session's transcript.

use carnet_codec::cbor;

use crate::IdentityError;
use crate::apcv::DOC_TYPE;
use crate::engagement::DeviceEngagement;
use crate::error::undecodable;
use crate::presentation::Binding;
use crate::reader::{CheckTime, Disclosed, Reader};
use crate::refusal::Refusal;
use crate::request::{DeviceRequest, DocRequest, ItemsRequest, ReaderSigner, RequestedElement};
use crate::session::{
    Handover, KeyAgreement, Role, SessionCipher, SessionData, SessionEstablishment, SessionKeys,
    SessionStatus, SessionTranscript, established_from_value, established_to_value,
};

/// What a message from the phone brought.
#[derive(Debug, Clone, PartialEq)]
pub enum ReaderEvent {
    /// A DeviceResponse, checked: what it disclosed, or why it is refused.
    Checked(Result<Disclosed, Refusal>),
    /// The phone ended the session, with its status (10 decryption error, 11 CBOR error, 20
    /// termination).
    Ended(SessionStatus),
}

/// One reading session.
#[derive(Debug)]
pub struct ReaderSession {
    transcript: SessionTranscript,
    cipher: SessionCipher,
}

/// The request for `names` of the ApCV, none retained unless `retain`, at `time`.
///
/// # Errors
/// What [`ItemsRequest::new`] returns.
pub fn apcv_items(
    names: &[String],
    retain: bool,
    time: i64,
) -> Result<ItemsRequest, IdentityError> {
    ItemsRequest::new(
        DOC_TYPE,
        names
            .iter()
            .map(|name| RequestedElement {
                namespace: DOC_TYPE.to_owned(),
                name: name.clone(),
                intent_to_retain: retain,
            })
            .collect(),
        Some(time),
    )
}

impl ReaderSession {
    /// Opens a session on `engagement` (reached through `handover`) with the reader's fresh
    /// ephemeral `key`, and writes the `SessionEstablishment` carrying the request for
    /// `items`, authenticated by `signer` if given.
    ///
    /// # Errors
    /// [`IdentityError::Structure`] for an engagement key that is not on the curve; what
    /// `signer` returns.
    pub fn start(
        engagement: &DeviceEngagement,
        handover: &Handover,
        key: Box<dyn KeyAgreement>,
        items: ItemsRequest,
        signer: Option<&dyn ReaderSigner>,
    ) -> Result<(Self, Vec<u8>), IdentityError> {
        let e_reader_point = key.public_point();
        let e_reader_key = crate::engagement::ephemeral_key(&e_reader_point)?;
        let transcript = SessionTranscript::new(engagement, &e_reader_key, handover)?;
        let shared = key.agree(&engagement.e_device_point)?;
        let cipher = SessionCipher::new(Role::Reader, &SessionKeys::derive(&shared, &transcript))?;
        let mut session = ReaderSession { transcript, cipher };
        let request = session.seal_request(items, signer)?;
        let establishment = SessionEstablishment::new(&e_reader_point, request)?.to_bytes()?;
        Ok((session, establishment))
    }

    fn seal_request(
        &mut self,
        items: ItemsRequest,
        signer: Option<&dyn ReaderSigner>,
    ) -> Result<Vec<u8>, IdentityError> {
        let document = match signer {
            Some(signer) => DocRequest::signed(items, &self.transcript, signer)?,
            None => DocRequest {
                items,
                reader_auth: None,
            },
        };
        self.cipher
            .seal(&DeviceRequest::new(vec![document]).to_bytes()?)
    }

    /// Another request in the same session, as `SessionData`.
    ///
    /// # Errors
    /// As [`ReaderSession::start`]; [`IdentityError::SessionEnded`].
    pub fn request(
        &mut self,
        items: ItemsRequest,
        signer: Option<&dyn ReaderSigner>,
    ) -> Result<Vec<u8>, IdentityError> {
        let sealed = self.seal_request(items, signer)?;
        SessionData {
            data: Some(sealed),
            status: None,
        }
        .to_bytes()
    }

    /// Takes the phone's `SessionData`: decrypts and checks its DeviceResponse with `reader`
    /// at `time`, or reports the phone's status.
    ///
    /// # Errors
    /// [`IdentityError::Decryption`] for a message that does not decrypt (the session is then
    /// over); what [`Reader::check`] returns for a response that does not parse.
    pub fn receive(
        &mut self,
        reader: &mut Reader,
        message: &[u8],
        time: CheckTime,
    ) -> Result<ReaderEvent, IdentityError> {
        let data = SessionData::from_bytes(message)?;
        let Some(sealed) = data.data else {
            self.cipher.end();
            return Ok(ReaderEvent::Ended(
                data.status.unwrap_or(SessionStatus::Termination),
            ));
        };
        let response = self.cipher.open(&sealed)?;
        let verdict = reader.check(&response, &Binding::Session(self.transcript.clone()), time)?;
        if data.status == Some(SessionStatus::Termination) {
            self.cipher.end();
        }
        Ok(ReaderEvent::Checked(verdict))
    }

    /// Ends the session: the message that tells the phone (status 20).
    ///
    /// # Errors
    /// [`IdentityError::Encoding`].
    pub fn terminate(&mut self) -> Result<Vec<u8>, IdentityError> {
        self.cipher.end();
        SessionData {
            data: None,
            status: Some(SessionStatus::Termination),
        }
        .to_bytes()
    }

    /// The session's transcript.
    #[must_use]
    pub fn transcript(&self) -> &SessionTranscript {
        &self.transcript
    }

    /// The session as bytes, to take it up in another run of a tool (`carnet reader request`
    /// then `carnet reader read`). It holds the session keys: keep it private.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, IdentityError> {
        cbor::to_vec(&established_to_value(&self.transcript, &self.cipher))
            .map_err(undecodable("reader session"))
    }

    /// A session kept by [`ReaderSession::to_bytes`].
    ///
    /// # Errors
    /// [`IdentityError::Encoding`] or [`IdentityError::Structure`] for bytes that are not one.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdentityError> {
        let value = cbor::from_slice(bytes).map_err(undecodable("reader session"))?;
        let (transcript, cipher) = established_from_value(&value, Role::Reader)?;
        Ok(ReaderSession { transcript, cipher })
    }
}
