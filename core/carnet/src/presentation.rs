//! Showing the card the ISO/IEC 18013-5 way (`docs/protocols/apcv.md`): the phone shows an
//! engagement (a QR code, or an NFC tap), the reader opens an encrypted session, and before
//! anything is shown the phone checks the reader's certificate against the professionals'
//! PKI kept with the card. [`ConsentRequest`] is what the consent screen shows — who asks,
//! from its verified certificate, and what it asks with what it may be given — and
//! [`CardPresentation::respond`] answers with what the person approved within that.
//!
//! The transport (BLE, NFC, HTTPS) only moves the session's bytes: [`CardPresentation::receive`]
//! takes each message from the reader, and what it or `respond` returns goes back.

use std::sync::Arc;

use carnet_identity::IdentityError;
use carnet_identity::apcv::Credential;
use carnet_identity::apdu::{self, PhoneNfc};
use carnet_identity::engagement::RetrievalMethod;
use carnet_identity::holder::{EngagementKind, HolderEvent, HolderSession, ReaderIdentity};
use carnet_identity::policy::ReaderPolicy;
use carnet_identity::presentation::DeviceSigner;
use carnet_identity::reader_trust::{ProfessionalId, ReaderTrust};
use carnet_identity::session::{EphemeralKey, KeyAgreement};

use crate::CarnetError;
use crate::health_record::HealthRecord;

/// How the phone shows its engagement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardEngagement {
    /// A QR code: the `mdoc:` text.
    Qr,
    /// An NFC tap: the Handover Select message the phone's tag serves.
    Nfc,
}

/// Who asks, as the consent screen shows it: from the reader's verified certificate only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    /// Whether its certificate verified to the professionals' PKI.
    pub verified: bool,
    /// The professional's or establishment's name (empty when not verified).
    pub name: String,
    /// The organisation (empty when not verified).
    pub organisation: String,
    /// `RPPS 10003456789` or `FINESS 750000001` (empty when not verified).
    pub identifier: String,
    /// The profession, in words (`Pharmacien`), or its code when the policy does not name it.
    pub profession: String,
    /// When it authenticated and the phone does not take it: the reason's stable code
    /// (`reader_untrusted`, `reader_revoked`…). `None` for a verified or an anonymous reader.
    pub refusal: Option<String>,
}

/// One element asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentElement {
    /// Its identifier (`nir`, `family_name`…).
    pub name: String,
    /// Whether the reader says it keeps the value.
    pub intent_to_retain: bool,
    /// Whether this reader may be given it: the policy of its profession; for an anonymous
    /// reader only the names, if the person chooses; for a refused one nothing.
    pub allowed: bool,
}

/// A reader's request, checked, for the person to decide on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRequest {
    /// Who asks.
    pub reader: ReaderInfo,
    /// What it asks, in its order.
    pub elements: Vec<ConsentElement>,
}

/// What a message from the reader brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresentationStep {
    /// A request to decide on: answer with [`CardPresentation::respond`] or
    /// [`CardPresentation::decline`].
    Asked(ConsentRequest),
    /// The reader ended the session.
    Ended,
}

/// One presentation of the card: an engagement and the session it opens.
pub struct CardPresentation {
    pub(crate) session: HolderSession,
    record: Arc<HealthRecord>,
    trust: ReaderTrust,
    closing: Option<Vec<u8>>,
}

impl std::fmt::Debug for CardPresentation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardPresentation")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// The reader roots and revocation list kept with the card (none: every reader that
/// authenticates is untrusted).
pub(crate) fn kept_reader_trust(record: &HealthRecord) -> Result<ReaderTrust, CarnetError> {
    let Some(kept) = record.record.reader_trust()? else {
        return Ok(ReaderTrust::new(&[])?);
    };
    let mut trust = ReaderTrust::new(&kept.roots)?;
    trust.update_revocations(&kept.revocations)?;
    Ok(trust)
}

/// A random BLE service UUID (version 4) for one engagement.
fn service_uuid() -> Result<[u8; 16], CarnetError> {
    let mut uuid = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut uuid)
        .map_err(|_| IdentityError::Random)?;
    uuid[6] = (uuid[6] & 0x0f) | 0x40;
    uuid[8] = (uuid[8] & 0x3f) | 0x80;
    Ok(uuid)
}

impl HealthRecord {
    /// Starts showing the card: a fresh engagement, shown as `engagement`, offering BLE (mdoc
    /// peripheral server) and, for an NFC tap, NFC itself (a QR engagement leaves NFC out:
    /// every byte makes the code denser).
    ///
    /// # Errors
    /// [`CarnetError::NotFound`] before a card is enrolled; [`CarnetError::Record`];
    /// [`CarnetError::Identity`] for damaged reader trust or no random generator.
    pub fn start_presentation(
        self: &Arc<Self>,
        engagement: CardEngagement,
    ) -> Result<CardPresentation, CarnetError> {
        self.start_presentation_with(engagement, Box::new(EphemeralKey::generate()?))
    }

    /// As [`HealthRecord::start_presentation`], with the session's ephemeral `key` made by
    /// the caller: a tool that keeps its key between two runs (the CLI), since `ring`'s keys
    /// never leave memory.
    ///
    /// # Errors
    /// As [`HealthRecord::start_presentation`].
    pub fn start_presentation_with(
        self: &Arc<Self>,
        engagement: CardEngagement,
        key: Box<dyn KeyAgreement + Send + Sync>,
    ) -> Result<CardPresentation, CarnetError> {
        let mut methods = vec![RetrievalMethod::Ble {
            peripheral_server: Some(service_uuid()?),
            central_client: None,
        }];
        let kind = match engagement {
            CardEngagement::Qr => EngagementKind::Qr,
            CardEngagement::Nfc => {
                methods.push(RetrievalMethod::Nfc {
                    max_command: apdu::MAX_COMMAND_DATA,
                    max_response: apdu::MAX_RESPONSE_DATA,
                });
                EngagementKind::Nfc
            }
        };
        self.present(kind, methods, key)
    }

    /// A presentation engaged as `kind`, offering `methods`, with the ephemeral `key`.
    pub(crate) fn present(
        self: &Arc<Self>,
        kind: EngagementKind,
        methods: Vec<RetrievalMethod>,
        key: Box<dyn KeyAgreement + Send + Sync>,
    ) -> Result<CardPresentation, CarnetError> {
        if self.record.card()?.is_empty() {
            return Err(CarnetError::NotFound("card"));
        }
        let session = HolderSession::new(key, methods, kind, self.now_secs())?;
        Ok(CardPresentation {
            session,
            trust: kept_reader_trust(self)?,
            record: self.clone(),
            closing: None,
        })
    }
}

impl CardPresentation {
    /// The QR code's text (`mdoc:` + base64url of the engagement).
    #[must_use]
    pub fn qr_text(&self) -> String {
        self.session.engagement().to_qr_text()
    }

    /// The NFC Handover Select message (for an NFC engagement).
    #[must_use]
    pub fn handover_select(&self) -> Option<Vec<u8>> {
        self.session.handover_select().map(<[u8]>::to_vec)
    }

    /// The BLE service UUID the phone advertises for this engagement.
    #[must_use]
    pub fn ble_service_uuid(&self) -> Option<[u8; 16]> {
        self.session.engagement().ble_peripheral_server()
    }

    /// Takes a message from the reader (its `SessionEstablishment`, then `SessionData`).
    /// After an error the session is over and [`CardPresentation::closing_message`] is what
    /// tells the reader.
    ///
    /// # Errors
    /// [`CarnetError::Identity`]: an expired engagement, a message that does not decrypt
    /// (altered, replayed, from another session), a request that does not parse.
    pub fn receive(&mut self, message: &[u8]) -> Result<PresentationStep, CarnetError> {
        match self
            .session
            .receive(message, &self.trust, self.record.now_secs())
        {
            Ok(HolderEvent::Request(request)) => {
                let policy = ReaderPolicy::standard();
                let reader = match &request.reader {
                    ReaderIdentity::Verified(reader) => ReaderInfo {
                        verified: true,
                        name: reader.name.clone(),
                        organisation: reader.organisation.clone(),
                        identifier: match &reader.identifier {
                            ProfessionalId::Rpps(number) => format!("RPPS {number}"),
                            ProfessionalId::Finess(number) => format!("FINESS {number}"),
                        },
                        profession: policy
                            .profession_label(&reader.profession)
                            .unwrap_or(&reader.profession)
                            .to_owned(),
                        refusal: None,
                    },
                    ReaderIdentity::Anonymous => unverified(None),
                    ReaderIdentity::Refused(refusal) => unverified(Some(refusal.code())),
                };
                let elements = request
                    .elements
                    .iter()
                    .map(|element| ConsentElement {
                        name: element.name.clone(),
                        intent_to_retain: element.intent_to_retain,
                        allowed: element.allowed,
                    })
                    .collect();
                self.record.log_card_event(&reader, request.elements.len());
                Ok(PresentationStep::Asked(ConsentRequest { reader, elements }))
            }
            Ok(HolderEvent::Ended) => Ok(PresentationStep::Ended),
            Err(error) => {
                self.closing = self.session.error_answer(&error).ok();
                Err(error.into())
            }
        }
    }

    /// Answers the pending request for person `rank` with the `approved` elements (those the
    /// reader may not be given are never shown, whatever is approved), signed by `signer`.
    ///
    /// # Errors
    /// [`CarnetError::NotFound`] for a rank not on the card; [`CarnetError::Identity`] with no
    /// request pending or when the signer refuses.
    pub fn respond(
        &mut self,
        rank: u32,
        approved: &[String],
        signer: &dyn DeviceSigner,
    ) -> Result<Vec<u8>, CarnetError> {
        let kept = self
            .record
            .record
            .card()?
            .into_iter()
            .find(|kept| kept.rank == rank)
            .ok_or(CarnetError::NotFound("card person"))?;
        let credential = Credential::from_cbor(&kept.credential)?;
        Ok(self.session.respond(&credential, approved, signer)?)
    }

    /// Answers the pending request with nothing (the person declined).
    ///
    /// # Errors
    /// [`CarnetError::Identity`] with no request pending.
    pub fn decline(&mut self) -> Result<Vec<u8>, CarnetError> {
        Ok(self.session.decline()?)
    }

    /// Ends the session: the message that tells the reader.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] when it cannot be encoded.
    pub fn end(&mut self) -> Result<Vec<u8>, CarnetError> {
        Ok(self.session.terminate()?)
    }

    /// After [`CardPresentation::receive`] failed: the message that tells the reader why
    /// (status 10, 11 or 20).
    #[must_use]
    pub fn closing_message(&self) -> Option<Vec<u8>> {
        self.closing.clone()
    }

    /// Whether the session is over.
    #[must_use]
    pub fn is_ended(&self) -> bool {
        self.session.is_ended()
    }

    /// The session as bytes, for a tool that does not stay running: secret (the session
    /// keys), keep it as such. A request pending is not kept: answer it in the same run.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] when it cannot be encoded.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CarnetError> {
        Ok(self.session.to_bytes()?)
    }
}

impl HealthRecord {
    /// Takes up a presentation [`CardPresentation::to_bytes`] kept; one still waiting for
    /// the reader needs its ephemeral `key` back.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] for bytes that are not a kept session, or an engaged one
    /// without its key.
    pub fn resume_presentation(
        self: &Arc<Self>,
        saved: &[u8],
        key: Option<Box<dyn KeyAgreement + Send + Sync>>,
    ) -> Result<CardPresentation, CarnetError> {
        Ok(CardPresentation {
            session: HolderSession::from_bytes(saved, key)?,
            trust: kept_reader_trust(self)?,
            record: self.clone(),
            closing: None,
        })
    }
}

fn unverified(refusal: Option<&str>) -> ReaderInfo {
    ReaderInfo {
        verified: false,
        name: String::new(),
        organisation: String::new(),
        identifier: String::new(),
        profession: String::new(),
        refusal: refusal.map(str::to_owned),
    }
}

impl HealthRecord {
    fn log_card_event(&self, reader: &ReaderInfo, asked: usize) {
        tracing::dispatcher::with_default(&self.dispatch, || {
            tracing::info!(
                verified = reader.verified,
                refusal = reader.refusal.as_deref().unwrap_or(""),
                asked,
                "card asked"
            );
        });
    }
}

/// The phone's NFC card emulation for a presentation (Android's host card emulation hands it
/// each command APDU and sends back what it returns): the Type 4 Tag with the Handover Select
/// message for an NFC engagement, then the session's messages. A tap leaves no time to ask:
/// each request is answered for person `rank` with the elements the person allowed when they
/// opened the NFC screen, within what the reader may be given; anything else asked is not
/// returned.
pub struct NfcResponder {
    nfc: PhoneNfc,
    presentation: CardPresentation,
    rank: u32,
    allowed: Vec<String>,
    signer: Box<dyn DeviceSigner + Send + Sync>,
    last: Option<ConsentRequest>,
}

impl std::fmt::Debug for NfcResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NfcResponder")
            .field("rank", &self.rank)
            .finish_non_exhaustive()
    }
}

impl CardPresentation {
    /// This presentation answered over NFC by card emulation, for person `rank` with the
    /// elements in `allowed`, signed by `signer`.
    #[must_use]
    pub fn nfc_responder(
        self,
        rank: u32,
        allowed: Vec<String>,
        signer: Box<dyn DeviceSigner + Send + Sync>,
    ) -> NfcResponder {
        NfcResponder {
            nfc: PhoneNfc::new(self.handover_select().as_deref()),
            presentation: self,
            rank,
            allowed,
            signer,
            last: None,
        }
    }
}

impl HealthRecord {
    /// A new NFC presentation answered by card emulation (what the NFC screen opens): an NFC
    /// engagement, then [`CardPresentation::nfc_responder`].
    ///
    /// # Errors
    /// As [`HealthRecord::start_presentation`].
    pub fn nfc_responder(
        self: &Arc<Self>,
        rank: u32,
        allowed: Vec<String>,
        signer: Box<dyn DeviceSigner + Send + Sync>,
    ) -> Result<NfcResponder, CarnetError> {
        Ok(self
            .start_presentation(CardEngagement::Nfc)?
            .nfc_responder(rank, allowed, signer))
    }
}

impl NfcResponder {
    /// The response APDU to one command APDU (never fails: every problem is a status word,
    /// or the session's own status to the reader).
    pub fn process(&mut self, command: &[u8]) -> Vec<u8> {
        let NfcResponder {
            nfc,
            presentation,
            rank,
            allowed,
            signer,
            last,
        } = self;
        nfc.handle(command, |message| match presentation.receive(message) {
            Ok(PresentationStep::Asked(request)) => {
                let approved: Vec<String> = request
                    .elements
                    .iter()
                    .filter(|element| element.allowed && allowed.contains(&element.name))
                    .map(|element| element.name.clone())
                    .collect();
                *last = Some(request);
                presentation
                    .respond(*rank, &approved, signer.as_ref())
                    .or_else(|_| presentation.decline())
                    .ok()
            }
            Ok(PresentationStep::Ended) => None,
            Err(_) => presentation.closing_message(),
        })
    }

    /// The last request a reader made over this tap, checked: who asked what, for the app
    /// to show after the tap.
    #[must_use]
    pub fn last_request(&self) -> Option<ConsentRequest> {
        self.last.clone()
    }
}

/// The phone's Bluetooth stack as the mdoc peripheral server (ISO/IEC 18013-5 §8.3.3.1.1):
/// the shell implements it (Android's `BluetoothGattServer`, iOS's `CBPeripheralManager`);
/// the core cuts and joins the messages.
pub trait MdocPeripheral: Send + Sync {
    /// Advertises the service `service_uuid` with its State, Client2Server and Server2Client
    /// characteristics ([`carnet_identity::ble`]), and accepts a reader.
    ///
    /// # Errors
    /// [`crate::PlatformError`] when Bluetooth is off or refused.
    fn start(&self, service_uuid: [u8; 16]) -> Result<(), crate::PlatformError>;
    /// Sends one fragment as a Server2Client notification.
    ///
    /// # Errors
    /// [`crate::PlatformError`] when the reader is gone.
    fn notify(&self, fragment: Vec<u8>) -> Result<(), crate::PlatformError>;
    /// Stops advertising and lets the reader go.
    fn stop(&self);
}

/// A presentation over BLE: the shell hands it what the reader writes (State and
/// Client2Server), and it notifies the phone's messages through [`MdocPeripheral`].
pub struct BleResponder {
    presentation: CardPresentation,
    peripheral: Arc<dyn MdocPeripheral>,
    incoming: carnet_identity::ble::Reassembly,
    mtu: usize,
}

impl std::fmt::Debug for BleResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BleResponder")
            .field("mtu", &self.mtu)
            .finish_non_exhaustive()
    }
}

impl CardPresentation {
    /// This presentation over BLE: starts `peripheral` on the engagement's service UUID;
    /// fragments fit an ATT MTU of `mtu` (what the reader negotiated; 23 to 517).
    ///
    /// # Errors
    /// [`CarnetError::Identity`] for an engagement without BLE; [`CarnetError::Platform`]
    /// when Bluetooth does not start.
    pub fn over_ble(
        self,
        peripheral: Arc<dyn MdocPeripheral>,
        mtu: usize,
    ) -> Result<BleResponder, CarnetError> {
        let service = self
            .ble_service_uuid()
            .ok_or(IdentityError::Unsupported("an engagement without BLE"))?;
        peripheral.start(service)?;
        Ok(BleResponder {
            presentation: self,
            peripheral,
            incoming: carnet_identity::ble::Reassembly::default(),
            mtu,
        })
    }
}

impl HealthRecord {
    /// A new presentation over BLE (what the QR screen opens when the phone offers BLE): a QR
    /// engagement, then [`CardPresentation::over_ble`].
    ///
    /// # Errors
    /// As [`HealthRecord::start_presentation`] and [`CardPresentation::over_ble`].
    pub fn ble_responder(
        self: &Arc<Self>,
        peripheral: Arc<dyn MdocPeripheral>,
        mtu: usize,
    ) -> Result<BleResponder, CarnetError> {
        self.start_presentation(CardEngagement::Qr)?
            .over_ble(peripheral, mtu)
    }
}

impl BleResponder {
    /// The QR code's text of the engagement (`mdoc:` …), to show.
    #[must_use]
    pub fn qr_text(&self) -> String {
        self.presentation.qr_text()
    }

    /// The reader wrote the State characteristic: `01` starts, `02` ends the session
    /// ([`PresentationStep::Ended`]).
    pub fn on_state(&mut self, value: &[u8]) -> Option<PresentationStep> {
        (value == [carnet_identity::ble::STATE_END]).then(|| {
            self.peripheral.stop();
            PresentationStep::Ended
        })
    }

    /// The reader wrote a Client2Server fragment: the checked request once its message is
    /// whole. On an error the session is over and the phone has told the reader.
    ///
    /// # Errors
    /// What [`CardPresentation::receive`] returns; [`CarnetError::Identity`] for fragments
    /// that do not join.
    pub fn on_write(&mut self, fragment: &[u8]) -> Result<Option<PresentationStep>, CarnetError> {
        let Some(message) = self.incoming.push(fragment)? else {
            return Ok(None);
        };
        match self.presentation.receive(&message) {
            Ok(step) => Ok(Some(step)),
            Err(error) => {
                if let Some(closing) = self.presentation.closing_message() {
                    self.send(&closing)?;
                }
                Err(error)
            }
        }
    }

    /// Answers the pending request (as [`CardPresentation::respond`]) and notifies it.
    ///
    /// # Errors
    /// As [`CardPresentation::respond`]; [`CarnetError::Platform`] when a notification fails.
    pub fn respond(
        &mut self,
        rank: u32,
        approved: &[String],
        signer: &dyn DeviceSigner,
    ) -> Result<(), CarnetError> {
        let answer = self.presentation.respond(rank, approved, signer)?;
        self.send(&answer)
    }

    /// Answers the pending request with nothing, and notifies it.
    ///
    /// # Errors
    /// As [`CardPresentation::decline`].
    pub fn decline(&mut self) -> Result<(), CarnetError> {
        let answer = self.presentation.decline()?;
        self.send(&answer)
    }

    /// Ends the session: notifies the reader and stops.
    ///
    /// # Errors
    /// As [`CardPresentation::end`].
    pub fn end(&mut self) -> Result<(), CarnetError> {
        let end = self.presentation.end()?;
        self.send(&end)?;
        self.peripheral.stop();
        Ok(())
    }

    fn send(&self, message: &[u8]) -> Result<(), CarnetError> {
        for fragment in carnet_identity::ble::fragments(message, self.mtu) {
            self.peripheral.notify(fragment)?;
        }
        Ok(())
    }
}
