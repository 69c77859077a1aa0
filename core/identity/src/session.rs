//! The encrypted session of ISO/IEC 18013-5 (§9.1.1): after the engagement, the reader sends
//! its ephemeral key and first request in a `SessionEstablishment`; every later message, both
//! ways, is a `SessionData`. Both sides agree on a secret by ECDH of the two ephemeral P-256
//! keys and derive one AES-256-GCM key per direction, `SKReader` and `SKDevice`, by
//! HKDF-SHA256 with the SHA-256 of `SessionTranscriptBytes` as salt. Each message's IV is the
//! sender's 8-byte identifier (0 for the reader, 1 for the mdoc) and its 4-byte message
//! counter, from 1: a counter is never used twice, so a message replayed, reordered or from
//! another session does not decrypt ([`IdentityError::Decryption`], status 10).
//!
//! The transcript `[DeviceEngagementBytes, EReaderKeyBytes, Handover]` binds everything signed
//! in the session (reader authentication, device authentication) to this engagement and these
//! keys.

use carnet_codec::cbor;
use ciborium::Value;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::agreement::{self, ECDH_P256, EphemeralPrivateKey, UnparsedPublicKey};
use ring::digest::{SHA256, digest};
use ring::hkdf::{HKDF_SHA256, KeyType, Salt};
use ring::rand::SystemRandom;

use crate::IdentityError;
use crate::engagement::{DeviceEngagement, ephemeral_key, p256_point};
use crate::error::{structure, too_large, undecodable};
use crate::mdoc::{Embedded, field, optional_field};

/// Largest session message read (a DeviceResponse with its certificates fits in 64 KiB).
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;
/// Bytes of a session key.
const KEY_BYTES: usize = 32;
/// Bytes of the AES-GCM tag.
const TAG_BYTES: usize = 16;

/// A status of `SessionData` (§9.1.1.4, table 20).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// 10: a message did not decrypt.
    DecryptionError,
    /// 11: a message decrypted but is not the CBOR it should be.
    CborError,
    /// 20: the session is over.
    Termination,
}

impl SessionStatus {
    /// The status code on the wire.
    #[must_use]
    pub fn code(self) -> u64 {
        match self {
            SessionStatus::DecryptionError => 10,
            SessionStatus::CborError => 11,
            SessionStatus::Termination => 20,
        }
    }

    fn of_code(code: u64) -> Option<Self> {
        match code {
            10 => Some(SessionStatus::DecryptionError),
            11 => Some(SessionStatus::CborError),
            20 => Some(SessionStatus::Termination),
            _ => None,
        }
    }

    /// The status that answers `error` when a message could not be taken.
    #[must_use]
    pub fn answering(error: &IdentityError) -> Self {
        match error {
            IdentityError::Decryption => SessionStatus::DecryptionError,
            error if error.is_unreadable() => SessionStatus::CborError,
            _ => SessionStatus::Termination,
        }
    }
}

/// How the engagement reached the reader: the third element of the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handover {
    /// A QR code: `null`.
    Qr,
    /// NFC: the Handover Select message read from the phone's tag and, for a negotiated
    /// handover, the reader's Handover Request (`null` for the static handover).
    Nfc {
        /// The Handover Select message, whole.
        select: Vec<u8>,
        /// The Handover Request message, if one was sent.
        request: Option<Vec<u8>>,
    },
    /// Carnet's remote presentation over HTTPS (`docs/protocols/apcv.md`): the phone posted
    /// its engagement to the reader's endpoint at `origin`, so both sign over the origin a
    /// relay would have to change — `["CarnetRemote", origin]`.
    Remote {
        /// `https://host[:port]`, lowercase, as [`crate::remote::Endpoint`] writes it.
        origin: String,
    },
}

/// The first element of a remote handover.
const REMOTE_HANDOVER: &str = "CarnetRemote";

impl Handover {
    /// The handover as it enters the transcript.
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Handover::Qr => Value::Null,
            Handover::Nfc { select, request } => Value::Array(vec![
                Value::Bytes(select.clone()),
                request.clone().map_or(Value::Null, Value::Bytes),
            ]),
            Handover::Remote { origin } => Value::Array(vec![
                Value::from(REMOTE_HANDOVER),
                Value::from(origin.as_str()),
            ]),
        }
    }

    /// A handover read back from [`Handover::to_value`].
    ///
    /// # Errors
    /// [`IdentityError::Structure`] for a value that is none of the three.
    pub(crate) fn from_value(value: &Value) -> Result<Self, IdentityError> {
        match value {
            Value::Null => Ok(Handover::Qr),
            Value::Array(parts) => match parts.as_slice() {
                [
                    Value::Bytes(select),
                    request @ (Value::Null | Value::Bytes(_)),
                ] => Ok(Handover::Nfc {
                    select: select.clone(),
                    request: request.as_bytes().cloned(),
                }),
                [Value::Text(kind), Value::Text(origin)] if kind == REMOTE_HANDOVER => {
                    Ok(Handover::Remote {
                        origin: origin.clone(),
                    })
                }
                _ => Err(structure("a malformed handover")),
            },
            _ => Err(structure("a malformed handover")),
        }
    }
}

/// `SessionTranscript = [DeviceEngagementBytes, EReaderKeyBytes, Handover]`, with the bytes
/// its signatures and keys are computed over.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionTranscript {
    value: Value,
    tagged_bytes: Vec<u8>,
}

impl SessionTranscript {
    /// The transcript of a session opened on `engagement` by the reader key `e_reader_key`
    /// (the embedded COSE_Key the reader sent) through `handover`.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`] when it cannot be encoded.
    pub fn new(
        engagement: &DeviceEngagement,
        e_reader_key: &Embedded,
        handover: &Handover,
    ) -> Result<Self, IdentityError> {
        let value = Value::Array(vec![
            engagement.tagged(),
            e_reader_key.to_value(),
            handover.to_value(),
        ]);
        let bytes = cbor::to_vec(&value).map_err(undecodable("session transcript"))?;
        let tagged_bytes = cbor::to_vec(&Value::Tag(24, Box::new(Value::Bytes(bytes))))
            .map_err(undecodable("session transcript"))?;
        Ok(SessionTranscript {
            value,
            tagged_bytes,
        })
    }

    /// Reads `SessionTranscriptBytes` back (a session kept between two runs of a tool).
    ///
    /// # Errors
    /// [`IdentityError::Encoding`] or [`IdentityError::Structure`].
    pub fn from_bytes(tagged_bytes: &[u8]) -> Result<Self, IdentityError> {
        let embedded = Embedded::from_value(&read_message(tagged_bytes, "session transcript")?)?;
        if !matches!(embedded.value(), Value::Array(parts) if parts.len() == 3) {
            return Err(structure("a session transcript has three parts"));
        }
        Ok(SessionTranscript {
            value: embedded.value().clone(),
            tagged_bytes: tagged_bytes.to_vec(),
        })
    }

    /// The transcript as a value, as it enters the reader and device authentication structures.
    #[must_use]
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// `SessionTranscriptBytes`: the transcript's encoding under tag 24.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.tagged_bytes
    }
}

/// Which side of the session this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The reader (mdoc reader): sends with `SKReader`, identifier 0.
    Reader,
    /// The phone (mdoc): sends with `SKDevice`, identifier 1.
    Device,
}

/// One side's ephemeral P-256 key, used for one session's agreement. It is a trait so that
/// the agreement can happen where the key lives; [`EphemeralKey`] is the software one.
pub trait KeyAgreement {
    /// The public key, an uncompressed point (65 bytes).
    fn public_point(&self) -> Vec<u8>;
    /// The ECDH shared secret (the x coordinate, 32 bytes) with the peer's point; the key is
    /// spent.
    ///
    /// # Errors
    /// [`IdentityError::Structure`] for a peer point that is not on the curve.
    fn agree(self: Box<Self>, peer_point: &[u8]) -> Result<[u8; 32], IdentityError>;
}

/// A fresh software ephemeral key (`ring`), made for one session and spent by it.
pub struct EphemeralKey {
    private: EphemeralPrivateKey,
    public: Vec<u8>,
}

impl std::fmt::Debug for EphemeralKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EphemeralKey").finish_non_exhaustive()
    }
}

impl EphemeralKey {
    /// A new key from the system's random generator.
    ///
    /// # Errors
    /// [`IdentityError::Random`].
    pub fn generate() -> Result<Self, IdentityError> {
        let private = EphemeralPrivateKey::generate(&ECDH_P256, &SystemRandom::new())
            .map_err(|_| IdentityError::Random)?;
        let public = private
            .compute_public_key()
            .map_err(|_| IdentityError::Random)?
            .as_ref()
            .to_vec();
        Ok(EphemeralKey { private, public })
    }
}

impl KeyAgreement for EphemeralKey {
    fn public_point(&self) -> Vec<u8> {
        self.public.clone()
    }

    fn agree(self: Box<Self>, peer_point: &[u8]) -> Result<[u8; 32], IdentityError> {
        let peer = UnparsedPublicKey::new(&ECDH_P256, peer_point);
        agreement::agree_ephemeral(self.private, &peer, |secret| {
            let mut shared = [0u8; 32];
            shared.copy_from_slice(secret);
            shared
        })
        .map_err(|_| structure("the other side's session key is not a P-256 point"))
    }
}

/// The two session keys (§9.1.1.5).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKeys {
    /// `SKReader`: what the reader encrypts with.
    pub sk_reader: [u8; KEY_BYTES],
    /// `SKDevice`: what the phone encrypts with.
    pub sk_device: [u8; KEY_BYTES],
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys").finish_non_exhaustive()
    }
}

/// HKDF output length of one 32-byte key.
struct KeyLength;

impl KeyType for KeyLength {
    fn len(&self) -> usize {
        KEY_BYTES
    }
}

impl SessionKeys {
    /// Derives both keys from the ECDH secret and the transcript: HKDF-SHA256, salt
    /// SHA-256(`SessionTranscriptBytes`), info `SKReader` / `SKDevice`.
    #[must_use]
    pub fn derive(shared_secret: &[u8; 32], transcript: &SessionTranscript) -> Self {
        let salt_bytes = digest(&SHA256, transcript.bytes());
        let prk = Salt::new(HKDF_SHA256, salt_bytes.as_ref()).extract(shared_secret);
        let expand = |info: &[u8]| {
            let mut key = [0u8; KEY_BYTES];
            // Lengths are fixed and within HKDF's bound: expansion cannot fail.
            if let Ok(okm) = prk.expand(&[info], KeyLength) {
                let _ = okm.fill(&mut key);
            }
            key
        };
        SessionKeys {
            sk_reader: expand(b"SKReader"),
            sk_device: expand(b"SKDevice"),
        }
    }
}

/// One side's encryption of a session: its key and counter for what it sends, the peer's for
/// what it receives. A message that fails to decrypt ends the session.
pub struct SessionCipher {
    role: Role,
    keys: SessionKeys,
    seal_key: LessSafeKey,
    open_key: LessSafeKey,
    own_identifier: u64,
    peer_identifier: u64,
    sent: u32,
    received: u32,
    ended: bool,
}

impl std::fmt::Debug for SessionCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCipher")
            .field("sent", &self.sent)
            .field("received", &self.received)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl SessionCipher {
    /// The cipher of `role` for `keys`.
    ///
    /// # Errors
    /// [`IdentityError::Unsupported`] if the platform's AES-256-GCM refuses the keys.
    pub fn new(role: Role, keys: &SessionKeys) -> Result<Self, IdentityError> {
        let key = |bytes: &[u8; KEY_BYTES]| {
            UnboundKey::new(&AES_256_GCM, bytes)
                .map(LessSafeKey::new)
                .map_err(|_| IdentityError::Unsupported("AES-256-GCM is not available"))
        };
        let (seal, open, own, peer) = match role {
            Role::Reader => (&keys.sk_reader, &keys.sk_device, 0, 1),
            Role::Device => (&keys.sk_device, &keys.sk_reader, 1, 0),
        };
        Ok(SessionCipher {
            role,
            keys: keys.clone(),
            seal_key: key(seal)?,
            open_key: key(open)?,
            own_identifier: own,
            peer_identifier: peer,
            sent: 0,
            received: 0,
            ended: false,
        })
    }

    fn nonce(identifier: u64, counter: u32) -> Nonce {
        let mut iv = [0u8; 12];
        iv[..8].copy_from_slice(&identifier.to_be_bytes());
        iv[8..].copy_from_slice(&counter.to_be_bytes());
        Nonce::assume_unique_for_key(iv)
    }

    /// Encrypts the next message this side sends.
    ///
    /// # Errors
    /// [`IdentityError::SessionEnded`] once the session is over or its counter is spent.
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, IdentityError> {
        if self.ended {
            return Err(IdentityError::SessionEnded);
        }
        let counter = self
            .sent
            .checked_add(1)
            .ok_or(IdentityError::SessionEnded)?;
        let mut sealed = plaintext.to_vec();
        self.seal_key
            .seal_in_place_append_tag(
                Self::nonce(self.own_identifier, counter),
                Aad::empty(),
                &mut sealed,
            )
            .map_err(|_| IdentityError::SessionEnded)?;
        self.sent = counter;
        Ok(sealed)
    }

    /// Decrypts the next message from the other side: it must be sealed with the peer's key
    /// and the next counter. Anything else ends the session.
    ///
    /// # Errors
    /// [`IdentityError::Decryption`]; [`IdentityError::SessionEnded`] once over.
    pub fn open(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, IdentityError> {
        if self.ended {
            return Err(IdentityError::SessionEnded);
        }
        let Some(counter) = self.received.checked_add(1) else {
            self.ended = true;
            return Err(IdentityError::SessionEnded);
        };
        if ciphertext.len() < TAG_BYTES {
            self.ended = true;
            return Err(IdentityError::Decryption);
        }
        let mut buffer = ciphertext.to_vec();
        let opened = self.open_key.open_in_place(
            Self::nonce(self.peer_identifier, counter),
            Aad::empty(),
            &mut buffer,
        );
        match opened {
            Ok(plaintext) => {
                let length = plaintext.len();
                buffer.truncate(length);
                self.received = counter;
                Ok(buffer)
            }
            Err(_) => {
                self.ended = true;
                Err(IdentityError::Decryption)
            }
        }
    }

    /// Its state, to keep between two runs of a tool (the keys are secret: keep it as such).
    #[must_use]
    pub fn export(&self) -> CipherState {
        CipherState {
            role: self.role,
            keys: self.keys.clone(),
            sent: self.sent,
            received: self.received,
        }
    }

    /// A cipher taken up where [`SessionCipher::export`] left it.
    ///
    /// # Errors
    /// As [`SessionCipher::new`].
    pub fn resume(state: &CipherState) -> Result<Self, IdentityError> {
        let mut cipher = SessionCipher::new(state.role, &state.keys)?;
        cipher.sent = state.sent;
        cipher.received = state.received;
        Ok(cipher)
    }

    /// Ends the session: nothing more is sealed or opened.
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// Whether the session is over.
    #[must_use]
    pub fn is_ended(&self) -> bool {
        self.ended
    }
}

/// A [`SessionCipher`]'s state: its side, its keys and both counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CipherState {
    /// Which side it is.
    pub role: Role,
    /// The session keys.
    pub keys: SessionKeys,
    /// Messages sent.
    pub sent: u32,
    /// Messages received.
    pub received: u32,
}

/// An established session as a value, to keep it between two runs of a tool: its transcript,
/// its keys and its counters (the keys are secret: keep it as such).
pub(crate) fn established_to_value(
    transcript: &SessionTranscript,
    cipher: &SessionCipher,
) -> Value {
    let state = cipher.export();
    Value::Map(vec![
        (
            Value::from("transcript"),
            Value::Bytes(transcript.bytes().to_vec()),
        ),
        (
            Value::from("sk_reader"),
            Value::Bytes(state.keys.sk_reader.to_vec()),
        ),
        (
            Value::from("sk_device"),
            Value::Bytes(state.keys.sk_device.to_vec()),
        ),
        (Value::from("sent"), Value::from(state.sent)),
        (Value::from("received"), Value::from(state.received)),
    ])
}

/// An established session of `role` back from [`established_to_value`].
///
/// # Errors
/// [`IdentityError::Structure`] or [`IdentityError::Encoding`] for anything else.
pub(crate) fn established_from_value(
    value: &Value,
    role: Role,
) -> Result<(SessionTranscript, SessionCipher), IdentityError> {
    let bytes_of = |name: &str| {
        field(value, name, "kept session")?
            .as_bytes()
            .cloned()
            .ok_or_else(|| structure(format!("kept session: {name} is not bytes")))
    };
    let key = |name: &str| {
        <[u8; KEY_BYTES]>::try_from(bytes_of(name)?.as_slice())
            .map_err(|_| structure("kept session: a key is not 32 bytes"))
    };
    let counter = |name: &str| {
        field(value, name, "kept session")?
            .as_integer()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| structure("kept session: a counter is not a number"))
    };
    let state = CipherState {
        role,
        keys: SessionKeys {
            sk_reader: key("sk_reader")?,
            sk_device: key("sk_device")?,
        },
        sent: counter("sent")?,
        received: counter("received")?,
    };
    Ok((
        SessionTranscript::from_bytes(&bytes_of("transcript")?)?,
        SessionCipher::resume(&state)?,
    ))
}

/// The reader's first message: its ephemeral key and its first request, encrypted.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionEstablishment {
    /// `EReaderKeyBytes`: the reader's ephemeral COSE_Key, embedded.
    pub e_reader_key: Embedded,
    /// The encrypted DeviceRequest.
    pub data: Vec<u8>,
}

impl SessionEstablishment {
    /// A session establishment from the reader's ephemeral point and the encrypted request.
    ///
    /// # Errors
    /// [`IdentityError::Structure`] for a point that is not P-256.
    pub fn new(e_reader_point: &[u8], data: Vec<u8>) -> Result<Self, IdentityError> {
        Ok(SessionEstablishment {
            e_reader_key: ephemeral_key(e_reader_point)?,
            data,
        })
    }

    /// Its encoding.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, IdentityError> {
        cbor::to_vec(&Value::Map(vec![
            (Value::from("eReaderKey"), self.e_reader_key.to_value()),
            (Value::from("data"), Value::Bytes(self.data.clone())),
        ]))
        .map_err(undecodable("session establishment"))
    }

    /// Reads a session establishment.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or
    /// [`IdentityError::TooLarge`]; [`IdentityError::Unsupported`] for a key that is not P-256.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdentityError> {
        let value = read_message(bytes, "session establishment")?;
        let e_reader_key =
            Embedded::from_value(field(&value, "eReaderKey", "session establishment")?)?;
        p256_point(e_reader_key.value())?;
        let data = field(&value, "data", "session establishment")?
            .as_bytes()
            .ok_or_else(|| structure("session establishment: data is not bytes"))?
            .clone();
        Ok(SessionEstablishment { e_reader_key, data })
    }

    /// The reader's ephemeral point.
    ///
    /// # Errors
    /// As [`SessionEstablishment::from_bytes`].
    pub fn e_reader_point(&self) -> Result<Vec<u8>, IdentityError> {
        p256_point(self.e_reader_key.value())
    }
}

/// Every later message: encrypted data, a status, or both (§9.1.1.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionData {
    /// The encrypted message, if any.
    pub data: Option<Vec<u8>>,
    /// The status, if any.
    pub status: Option<SessionStatus>,
}

impl SessionData {
    /// Its encoding.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, IdentityError> {
        let mut fields = Vec::new();
        if let Some(data) = &self.data {
            fields.push((Value::from("data"), Value::Bytes(data.clone())));
        }
        if let Some(status) = self.status {
            fields.push((Value::from("status"), Value::from(status.code())));
        }
        cbor::to_vec(&Value::Map(fields)).map_err(undecodable("session data"))
    }

    /// Reads a session data message.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`]:
    /// neither data nor status, an unknown status.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdentityError> {
        let value = read_message(bytes, "session data")?;
        if value.as_map().is_none() {
            return Err(structure("session data is a map"));
        }
        let get = |name: &str| optional_field(&value, name);
        let data = get("data")
            .map(|data| {
                data.as_bytes()
                    .cloned()
                    .ok_or_else(|| structure("session data: data is not bytes"))
            })
            .transpose()?;
        let status = get("status")
            .map(|status| {
                status
                    .as_integer()
                    .and_then(|code| u64::try_from(code).ok())
                    .and_then(SessionStatus::of_code)
                    .ok_or_else(|| structure("session data: an unknown status"))
            })
            .transpose()?;
        if data.is_none() && status.is_none() {
            return Err(structure("session data with neither data nor status"));
        }
        Ok(SessionData { data, status })
    }
}

/// A session message decoded within its size limit.
fn read_message(bytes: &[u8], what: &'static str) -> Result<Value, IdentityError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(too_large(what, format!("{MAX_MESSAGE_BYTES} bytes")));
    }
    cbor::from_slice(bytes).map_err(undecodable(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(reader: &EphemeralKey, device: &EphemeralKey) -> SessionTranscript {
        let engagement = DeviceEngagement::new(&device.public_point(), Vec::new()).unwrap();
        SessionTranscript::new(
            &engagement,
            &ephemeral_key(&reader.public_point()).unwrap(),
            &Handover::Qr,
        )
        .unwrap()
    }

    fn ciphers() -> (SessionCipher, SessionCipher) {
        let reader = EphemeralKey::generate().unwrap();
        let device = EphemeralKey::generate().unwrap();
        let transcript = transcript(&reader, &device);
        let (reader_point, device_point) = (reader.public_point(), device.public_point());
        let at_reader = Box::new(reader).agree(&device_point).unwrap();
        let at_device = Box::new(device).agree(&reader_point).unwrap();
        assert_eq!(at_reader, at_device);
        let keys = SessionKeys::derive(&at_reader, &transcript);
        assert_ne!(keys.sk_reader, keys.sk_device);
        (
            SessionCipher::new(Role::Reader, &keys).unwrap(),
            SessionCipher::new(Role::Device, &keys).unwrap(),
        )
    }

    #[test]
    fn both_sides_agree_and_messages_go_both_ways_in_order() {
        let (mut reader, mut device) = ciphers();
        for round in 0..3u8 {
            let request = reader.seal(&[round; 40]).unwrap();
            assert_eq!(device.open(&request).unwrap(), vec![round; 40]);
            let response = device.seal(&[round + 100; 7]).unwrap();
            assert_eq!(reader.open(&response).unwrap(), vec![round + 100; 7]);
        }
    }

    #[test]
    fn a_replayed_altered_reflected_or_foreign_message_does_not_decrypt() {
        let (mut reader, mut device) = ciphers();
        let first = reader.seal(b"first").unwrap();
        device.open(&first).unwrap();
        // Replayed: the counter moved on.
        assert_eq!(device.open(&first), Err(IdentityError::Decryption));
        assert_eq!(device.open(&first), Err(IdentityError::SessionEnded));

        let (mut reader2, mut device2) = ciphers();
        let mut altered = reader2.seal(b"second").unwrap();
        altered[0] ^= 1;
        assert_eq!(device2.open(&altered), Err(IdentityError::Decryption));

        // The reader's own message sent back to it (reflection): another key.
        let (mut reader3, _) = ciphers();
        let sealed = reader3.seal(b"mine").unwrap();
        assert_eq!(reader3.open(&sealed), Err(IdentityError::Decryption));

        // Another session's message.
        let (mut reader4, _) = ciphers();
        let (_, mut device5) = ciphers();
        let foreign = reader4.seal(b"elsewhere").unwrap();
        assert_eq!(device5.open(&foreign), Err(IdentityError::Decryption));
        assert_eq!(device5.open(&[0; 3]), Err(IdentityError::SessionEnded));

        reader.end();
        assert_eq!(reader.seal(b"late"), Err(IdentityError::SessionEnded));
    }

    #[test]
    fn messages_round_trip_and_hostile_ones_are_typed_errors() {
        let key = EphemeralKey::generate().unwrap();
        let establishment = SessionEstablishment::new(&key.public_point(), vec![1, 2, 3]).unwrap();
        let bytes = establishment.to_bytes().unwrap();
        let back = SessionEstablishment::from_bytes(&bytes).unwrap();
        assert_eq!(back, establishment);
        assert_eq!(back.e_reader_point().unwrap(), key.public_point());
        for cut in 0..bytes.len() {
            assert!(SessionEstablishment::from_bytes(&bytes[..cut]).is_err());
        }
        let data = SessionData {
            data: Some(vec![9; 20]),
            status: None,
        };
        assert_eq!(
            SessionData::from_bytes(&data.to_bytes().unwrap()).unwrap(),
            data
        );
        let end = SessionData {
            data: None,
            status: Some(SessionStatus::Termination),
        };
        assert_eq!(
            end.to_bytes().unwrap(),
            vec![0xa1, 0x66, b's', b't', b'a', b't', b'u', b's', 0x14]
        );
        assert!(SessionData::from_bytes(&[0xa0]).is_err());
        let unknown =
            cbor::to_vec(&Value::Map(vec![(Value::from("status"), Value::from(99))])).unwrap();
        assert!(SessionData::from_bytes(&unknown).is_err());
        assert!(matches!(
            SessionData::from_bytes(&vec![0x40; MAX_MESSAGE_BYTES + 1]),
            Err(IdentityError::TooLarge { .. })
        ));
        assert_eq!(
            SessionStatus::answering(&IdentityError::Decryption),
            SessionStatus::DecryptionError
        );
        assert_eq!(
            SessionStatus::answering(&structure("x")),
            SessionStatus::CborError
        );
    }
}
