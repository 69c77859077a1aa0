//! The pharmacy's or doctor's reader (`docs/protocols/apcv.md`, "Reader checks"): it trusts
//! the issuer's root, keeps the issuer's status list, authenticates itself with its own key
//! and the certificate the professionals' PKI gave it ([`SoftwareReaderKey`]), and reads a
//! phone the ISO/IEC 18013-5 way — from the phone's engagement (QR text or NFC Handover
//! Select, or its post to a remote endpoint) to the checked DeviceResponse — or reads
//! Carnet's own counter QR.

use std::sync::Arc;

use carnet_identity::IdentityError;
use carnet_identity::apdu::{Command, ReaderNfc, ReaderStep};
use carnet_identity::engagement::DeviceEngagement;
use carnet_identity::ndef::read_handover_select;
use carnet_identity::qr_text::counter_from_text;
use carnet_identity::reader::{CheckTime, Disclosed, Reader, Refusal};
use carnet_identity::reader_session::{ReaderEvent, ReaderSession, apcv_items};
use carnet_identity::remote::{Endpoint, RemoteVerdict};
use carnet_identity::request::ReaderSigner;
use carnet_identity::session::{EphemeralKey, Handover, SessionStatus};
use carnet_identity::trust::IssuerTrust;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

use crate::card::{CardCheck, DisclosedElement, display};
use crate::{CarnetError, Clock, KeyVault};

/// Vault entry of the reader's key (P-256, PKCS#8).
const READER_KEY_ENTRY: &str = "reader.key";

/// The reader's own key, kept in the [`KeyVault`], and the certificate chain the
/// professionals' PKI gave it (none yet: the reader does not authenticate).
pub(crate) struct SoftwareReaderKey {
    pair: EcdsaKeyPair,
    chain: Vec<Vec<u8>>,
}

impl std::fmt::Debug for SoftwareReaderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareReaderKey")
            .field("certified", &!self.chain.is_empty())
            .finish_non_exhaustive()
    }
}

impl SoftwareReaderKey {
    /// The key kept in `vault`, made and kept the first time.
    ///
    /// # Errors
    /// [`CarnetError::Platform`] when the vault fails; [`CarnetError::CorruptVaultEntry`] for a
    /// damaged key.
    pub fn load_or_create(vault: &dyn KeyVault) -> Result<Self, CarnetError> {
        let rng = SystemRandom::new();
        let pkcs8 = match vault.load(READER_KEY_ENTRY)? {
            Some(pkcs8) => pkcs8,
            None => {
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| IdentityError::Random)?
                    .as_ref()
                    .to_vec();
                vault.store(READER_KEY_ENTRY, pkcs8.clone())?;
                pkcs8
            }
        };
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
            .map_err(|_| CarnetError::CorruptVaultEntry {
                name: READER_KEY_ENTRY,
                reason: "not a P-256 PKCS#8 key",
            })?;
        Ok(SoftwareReaderKey {
            pair,
            chain: Vec::new(),
        })
    }

    /// The public key to certify (an uncompressed P-256 point).
    #[must_use]
    pub fn public_key(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    /// The key with its certificate (DER): it then authenticates to phones.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] for a certificate that is not for this key.
    pub fn with_certificate(mut self, certificate: Vec<u8>) -> Result<Self, CarnetError> {
        if carnet_identity::trust::certificate_key(&certificate)? != self.public_key() {
            return Err(IdentityError::Certificate("the certificate is for another key").into());
        }
        self.chain = vec![certificate];
        Ok(self)
    }
}

impl ReaderSigner for SoftwareReaderKey {
    fn certificate_chain(&self) -> Vec<Vec<u8>> {
        self.chain.clone()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError> {
        self.pair
            .sign(&SystemRandom::new(), message)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|_| IdentityError::Signature("the reader's key did not sign"))
    }
}

/// The pharmacy's or doctor's reader: the issuer's root it trusts, the status list it last
/// downloaded, its own key, the session it has open, the counter QRs it has seen.
pub struct CardReader {
    reader: Reader,
    clock: Arc<dyn Clock>,
    key: Option<Arc<dyn ReaderSigner + Send + Sync>>,
    session: Option<ReaderSession>,
}

impl std::fmt::Debug for CardReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardReader")
            .field("authenticates", &self.key.is_some())
            .field("in_session", &self.session.is_some())
            .finish_non_exhaustive()
    }
}

impl CardReader {
    pub(crate) fn new(root: &[u8], clock: Arc<dyn Clock>) -> Result<Self, CarnetError> {
        Ok(CardReader {
            reader: Reader::new(IssuerTrust::new(&[root.to_vec()])?),
            clock,
            key: None,
            session: None,
        })
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now_unix_millis().div_euclid(1000)
    }

    /// Whether a session is open (the phone has not ended it).
    pub(crate) fn in_session(&self) -> bool {
        self.session.is_some()
    }

    /// The same reader (roots, status list, key) with no session open: one per phone when
    /// serving several at once.
    pub(crate) fn without_session(&self) -> CardReader {
        CardReader {
            reader: self.reader.clone(),
            clock: self.clock.clone(),
            key: self.key.clone(),
            session: None,
        }
    }

    /// Takes the issuer's signed status list; returns whether it was accepted (`false`: not
    /// signed by this issuer; an older list than the one held is ignored).
    ///
    /// # Errors
    /// [`CarnetError::Identity`] for bytes that are not a status list.
    pub fn update_status(&mut self, signed: &[u8]) -> Result<bool, CarnetError> {
        let now = self.now();
        Ok(self.reader.update_status(signed, now)?.is_ok())
    }

    /// Authenticates to phones with `key` from now on (its certificate in its chain): a
    /// platform keystore's key, or [`SoftwareReaderKey`].
    pub(crate) fn authenticate_with(&mut self, key: Arc<dyn ReaderSigner + Send + Sync>) {
        self.key = Some(key);
    }

    /// Opens a session with the phone whose QR code shows `engagement` (`mdoc:` text),
    /// asking for `items`; returns the `SessionEstablishment` to send it. It replaces any
    /// session open.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] for a text that is not an engagement, an unsupported cipher
    /// suite, items beyond the limits.
    pub fn request(&mut self, engagement: &str, items: &[String]) -> Result<Vec<u8>, CarnetError> {
        let engagement = DeviceEngagement::from_qr_text(engagement)?;
        self.open(&engagement, &Handover::Qr, items)
    }

    /// As [`CardReader::request`], for a phone tapped first: `handover_select` is the NDEF
    /// message read from its tag.
    ///
    /// # Errors
    /// As [`CardReader::request`].
    pub fn request_nfc(
        &mut self,
        handover_select: &[u8],
        items: &[String],
    ) -> Result<Vec<u8>, CarnetError> {
        let engagement = read_handover_select(handover_select)?;
        let handover = Handover::Nfc {
            select: handover_select.to_vec(),
            request: None,
        };
        self.open(&engagement, &handover, items)
    }

    /// As [`CardReader::request`], for a phone that posted its `engagement` (the
    /// DeviceEngagement bytes) to this reader's `endpoint` over HTTPS: the transcript binds
    /// the endpoint's origin, and the phone takes the request only if this reader's
    /// certificate names the endpoint's host. A remote reader must authenticate: its verdict
    /// means something to the phone only when signed ([`CardReader::signed_verdict`]).
    ///
    /// # Errors
    /// As [`CardReader::request`]; [`CarnetError::Identity`] for a reader without a
    /// certified key or an endpoint that is not one.
    pub fn request_remote(
        &mut self,
        engagement: &[u8],
        endpoint: &str,
        items: &[String],
    ) -> Result<Vec<u8>, CarnetError> {
        self.certified_key()?;
        let endpoint = Endpoint::parse(endpoint)?;
        let engagement = DeviceEngagement::from_bytes(engagement)?;
        let handover = Handover::Remote {
            origin: endpoint.origin().to_owned(),
        };
        self.open(&engagement, &handover, items)
    }

    /// The verdict on `check` signed by this reader's key for the phone of the open session,
    /// which shows it as the reader's verdict only with that signature.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] with no session open, for a reader without a certified key,
    /// or when the key does not sign.
    pub fn signed_verdict(&self, check: &CardCheck) -> Result<Vec<u8>, CarnetError> {
        let key = self.certified_key()?;
        let session = self.session.as_ref().ok_or(IdentityError::SessionEnded)?;
        let verdict = match check {
            CardCheck::Accepted { elements } => RemoteVerdict {
                accepted: true,
                code: "accepted".into(),
                elements: elements
                    .iter()
                    .map(|element| element.name.clone())
                    .collect(),
            },
            CardCheck::Refused { code } => RemoteVerdict {
                accepted: false,
                code: code.clone(),
                elements: Vec::new(),
            },
        };
        Ok(verdict.sign(session.transcript(), key)?)
    }

    pub(crate) fn certified_key(&self) -> Result<&dyn ReaderSigner, CarnetError> {
        match self.key.as_deref() {
            Some(key) => Ok(key),
            None => Err(IdentityError::Unsupported(
                "a remote reader must authenticate: have its key certified first",
            )
            .into()),
        }
    }

    fn open(
        &mut self,
        engagement: &DeviceEngagement,
        handover: &Handover,
        items: &[String],
    ) -> Result<Vec<u8>, CarnetError> {
        let request = apcv_items(items, false, self.now())?;
        let signer = self.key.as_deref().map(|key| key as &dyn ReaderSigner);
        let (session, establishment) = ReaderSession::start(
            engagement,
            handover,
            Box::new(EphemeralKey::generate()?),
            request,
            signer,
        )?;
        self.session = Some(session);
        Ok(establishment)
    }

    /// Checks the phone's answer (`SessionData`) in the open session. With `date_of_care`
    /// (`YYYY-MM-DD`), the AMO rights must cover it.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] with no session open, for a message that does not decrypt or
    /// parse, or a date that does not parse.
    pub fn read(
        &mut self,
        message: &[u8],
        date_of_care: Option<&str>,
    ) -> Result<CardCheck, CarnetError> {
        let time = self.check_time(date_of_care)?;
        let session = self.session.as_mut().ok_or(IdentityError::SessionEnded)?;
        Ok(match session.receive(&mut self.reader, message, time)? {
            ReaderEvent::Checked(verdict) => check_of(verdict),
            ReaderEvent::Ended(status) => {
                self.session = None;
                CardCheck::Refused {
                    code: match status {
                        SessionStatus::DecryptionError => "phone_decryption_error",
                        SessionStatus::CborError => "phone_cbor_error",
                        SessionStatus::Termination => "phone_ended",
                    }
                    .to_owned(),
                }
            }
        })
    }

    /// Ends the open session: the message that tells the phone.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] with no session open.
    pub fn end(&mut self) -> Result<Vec<u8>, CarnetError> {
        let mut session = self.session.take().ok_or(IdentityError::SessionEnded)?;
        Ok(session.terminate()?)
    }

    /// The open session as bytes, for a reader that does not stay running (the CLI): it holds
    /// the session's keys, keep it private.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] with no session open.
    pub fn save_session(&self) -> Result<Vec<u8>, CarnetError> {
        let session = self.session.as_ref().ok_or(IdentityError::SessionEnded)?;
        Ok(session.to_bytes()?)
    }

    /// Takes up a session [`CardReader::save_session`] kept.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] for bytes that are not one.
    pub fn resume_session(&mut self, saved: &[u8]) -> Result<(), CarnetError> {
        self.session = Some(ReaderSession::from_bytes(saved)?);
        Ok(())
    }

    /// Checks Carnet's own counter QR (`APCV1:`, no request: the default disclosure signed for
    /// a 30-second slot). With `date_of_care`, the rights must cover it.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] for a text or a date that does not parse.
    pub fn read_counter(
        &mut self,
        text: &str,
        date_of_care: Option<&str>,
    ) -> Result<CardCheck, CarnetError> {
        let time = self.check_time(date_of_care)?;
        let (slot, response) = counter_from_text(text)?;
        let expected = carnet_identity::presentation::Binding::Counter { slot };
        Ok(check_of(self.reader.check(&response, &expected, time)?))
    }

    pub(crate) fn check_time(&self, date_of_care: Option<&str>) -> Result<CheckTime, CarnetError> {
        let date_of_care = date_of_care
            .map(|date| {
                time::Date::parse(
                    date,
                    time::macros::format_description!("[year]-[month]-[day]"),
                )
                .map_err(|_| IdentityError::Structure("the date of care is not YYYY-MM-DD".into()))
            })
            .transpose()?;
        Ok(CheckTime {
            now: self.now(),
            date_of_care,
        })
    }
}

/// A reader's verdict as the facade gives it.
fn check_of(verdict: Result<Disclosed, Refusal>) -> CardCheck {
    match verdict {
        Ok(disclosed) => CardCheck::Accepted {
            elements: disclosed
                .elements
                .iter()
                .map(|(name, value)| DisclosedElement {
                    name: name.clone(),
                    value: display(value),
                })
                .collect(),
        },
        Err(refusal) => CardCheck::Refused {
            code: refusal.code().to_owned(),
        },
    }
}

/// The reader's side of one NFC exchange: the platform sends what [`NfcReading::next`] gives
/// and feeds it the phone's response until the exchange is done — reading the phone's
/// Handover Select message (then [`CardReader::request_nfc`]), or carrying one session
/// message and bringing back the phone's (then [`CardReader::read`]).
#[derive(Debug)]
pub struct NfcReading {
    exchange: ReaderNfc,
    first: Option<Command>,
}

/// What to do next in an NFC reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NfcStep {
    /// Transmit this command APDU and give the response to [`NfcReading::next`].
    Send(Vec<u8>),
    /// The exchange is done: the Handover Select message, or the phone's session message
    /// (empty when the phone sent none).
    Done(Vec<u8>),
}

impl NfcReading {
    /// Reads the phone's NFC engagement (its Handover Select message) from its tag.
    #[must_use]
    pub fn engagement() -> Self {
        let (exchange, first) = ReaderNfc::read_engagement();
        NfcReading {
            exchange,
            first: Some(first),
        }
    }

    /// Carries `message` (what [`CardReader::request_nfc`] or [`CardReader::end`] gave) to
    /// the phone and brings back its answer.
    #[must_use]
    pub fn message(message: &[u8]) -> Self {
        let (exchange, first) = ReaderNfc::send(message);
        NfcReading {
            exchange,
            first: Some(first),
        }
    }

    /// The next step: `response` is the phone's answer to the command sent last (`None` at
    /// the start).
    ///
    /// # Errors
    /// [`CarnetError::Identity`] when the phone shows no card over NFC, answers with an
    /// error status or something malformed or too large, or the exchange is over.
    pub fn next(&mut self, response: Option<&[u8]>) -> Result<NfcStep, CarnetError> {
        let step = match (response, self.first.take()) {
            (None, Some(first)) => ReaderStep::Send(first),
            (None, None) => {
                return Err(IdentityError::Nfc("this NFC exchange has started".into()).into());
            }
            (Some(response), _) => self.exchange.receive(response)?,
        };
        Ok(match step {
            ReaderStep::Send(command) => NfcStep::Send(command.to_bytes()?),
            ReaderStep::Done(bytes) => NfcStep::Done(bytes),
        })
    }
}

/// The reader's Bluetooth stack as the GATT client of the phone's mdoc service: the shell
/// implements it; the core cuts and joins the messages.
pub trait MdocCentral: Send + Sync {
    /// Finds and connects to the phone advertising `service_uuid`.
    ///
    /// # Errors
    /// [`crate::PlatformError`] when it cannot.
    fn connect(&self, service_uuid: [u8; 16]) -> Result<(), crate::PlatformError>;
    /// Writes the State characteristic (`01` start, `02` end).
    ///
    /// # Errors
    /// [`crate::PlatformError`] when the phone is gone.
    fn write_state(&self, value: Vec<u8>) -> Result<(), crate::PlatformError>;
    /// Writes one Client2Server fragment.
    ///
    /// # Errors
    /// [`crate::PlatformError`] when the phone is gone.
    fn write(&self, fragment: Vec<u8>) -> Result<(), crate::PlatformError>;
    /// Disconnects.
    fn disconnect(&self);
}

/// The reader's side over BLE: connects to the phone whose engagement it read, writes each
/// session message in fragments, and joins the phone's notifications (the shell hands them to
/// [`BleReading::on_notify`]).
pub struct BleReading {
    central: Arc<dyn MdocCentral>,
    incoming: carnet_identity::ble::Reassembly,
    mtu: usize,
}

impl std::fmt::Debug for BleReading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BleReading")
            .field("mtu", &self.mtu)
            .finish_non_exhaustive()
    }
}

impl BleReading {
    /// Connects to the phone whose QR code shows `engagement` (`mdoc:` text), at an ATT MTU
    /// of `mtu`, and starts the transfer (State `01`).
    ///
    /// # Errors
    /// [`CarnetError::Identity`] for an engagement without BLE peripheral server mode;
    /// [`CarnetError::Platform`] when the connection fails.
    pub fn connect(
        central: Arc<dyn MdocCentral>,
        engagement: &str,
        mtu: usize,
    ) -> Result<Self, CarnetError> {
        let service = DeviceEngagement::from_qr_text(engagement)?
            .ble_peripheral_server()
            .ok_or(IdentityError::Unsupported(
                "a phone that does not offer BLE peripheral server mode",
            ))?;
        central.connect(service)?;
        central.write_state(vec![carnet_identity::ble::STATE_START])?;
        Ok(BleReading {
            central,
            incoming: carnet_identity::ble::Reassembly::default(),
            mtu,
        })
    }

    /// Writes `message` (what [`CardReader::request`] or [`CardReader::end`] gave).
    ///
    /// # Errors
    /// [`CarnetError::Platform`] when a write fails.
    pub fn send(&self, message: &[u8]) -> Result<(), CarnetError> {
        for fragment in carnet_identity::ble::fragments(message, self.mtu) {
            self.central.write(fragment)?;
        }
        Ok(())
    }

    /// A Server2Client notification: the phone's whole message once its last fragment came
    /// (then [`CardReader::read`]).
    ///
    /// # Errors
    /// [`CarnetError::Identity`] for fragments that do not join.
    pub fn on_notify(&mut self, fragment: &[u8]) -> Result<Option<Vec<u8>>, CarnetError> {
        Ok(self.incoming.push(fragment)?)
    }

    /// Ends the transfer (State `02`) and disconnects.
    ///
    /// # Errors
    /// [`CarnetError::Platform`] when the write fails (the connection is dropped anyway).
    pub fn close(&self) -> Result<(), CarnetError> {
        let written = self
            .central
            .write_state(vec![carnet_identity::ble::STATE_END]);
        self.central.disconnect();
        Ok(written?)
    }
}
