//! The carte Vitale on the phone (ApCV, `docs/protocols/apcv.md`), both sides:
//!
//! * the holder: the device key ([`SoftwareDeviceKey`] kept in the [`KeyVault`], or a platform
//!   keystore through [`DeviceSigner`]), enrolment and rights refresh against the issuer
//!   ([`NationalServices::enrol_card`], [`NationalServices::refresh_card`]), the card's people
//!   read offline from the record ([`HealthRecord::card`]), and a presentation as an `APCV1:`
//!   QR text ([`HealthRecord::present_card`]);
//! * the reader (the pharmacy's software): [`CardReader`] makes the challenge, keeps the
//!   issuer's root and status list, and checks what the phone shows.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use carnet_identity::IdentityError;
use carnet_identity::apcv::{Credential, DEFAULT_DISCLOSURE, ENROLMENT_PROOF_CONTEXT, STATUS_PATH};
use carnet_identity::apdu::{
    Command, HolderSession, ReaderExchange, ReaderStep, challenge_commands,
};
use carnet_identity::mdoc::DeviceKey;
use carnet_identity::presentation::{Binding, DeviceSigner};
use carnet_identity::qr_text::{Mode, ReaderChallenge, response_from_text, response_to_text};
use carnet_identity::reader::{CheckTime, Reader, SLOT_SECONDS};
use carnet_identity::trust::IssuerTrust;
use carnet_net::NetError;
use carnet_wire::apcv::{self as wire, RemotePresentation, RemoteVerdict};
use carnet_wire::health_space::AccountProof;
use carnet_wire::issuer::{
    CardEnrolled, CardEnrolment, EnrolmentNonce, IssuedCredential, IssuedCredentials,
};
use ciborium::Value;
use reqwest::Method;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use tracing::instrument::WithSubscriber;

use crate::health_record::HealthRecord;
use crate::services::NationalServices;
use crate::{CarnetError, Clock, KeyVault};

/// Vault entry of the software device key (Ed25519, PKCS#8).
const DEVICE_KEY_ENTRY: &str = "apcv.device-key";

fn malformed(what: impl Into<String>) -> CarnetError {
    CarnetError::Identity(IdentityError::Structure(what.into()))
}

/// A software device key: Ed25519, made once and kept in the [`KeyVault`] (for phones whose
/// keystore does not hold one, and for the desktop CLI).
pub struct SoftwareDeviceKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for SoftwareDeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareDeviceKey").finish_non_exhaustive()
    }
}

impl SoftwareDeviceKey {
    /// The key kept in `vault`, made and kept the first time.
    ///
    /// # Errors
    /// [`CarnetError::Platform`] when the vault fails; [`CarnetError::CorruptVaultEntry`] for a
    /// damaged key.
    pub fn load_or_create(vault: &dyn KeyVault) -> Result<Self, CarnetError> {
        let pkcs8 = match vault.load(DEVICE_KEY_ENTRY)? {
            Some(pkcs8) => pkcs8,
            None => {
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                    .map_err(|_| malformed("no random generator"))?
                    .as_ref()
                    .to_vec();
                vault.store(DEVICE_KEY_ENTRY, pkcs8.clone())?;
                pkcs8
            }
        };
        let pair =
            Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| CarnetError::CorruptVaultEntry {
                name: DEVICE_KEY_ENTRY,
                reason: "not an Ed25519 PKCS#8 key",
            })?;
        Ok(SoftwareDeviceKey { pair })
    }
}

impl DeviceSigner for SoftwareDeviceKey {
    fn device_key(&self) -> DeviceKey {
        let mut public = [0u8; 32];
        public.copy_from_slice(self.pair.public_key().as_ref());
        DeviceKey::Ed25519(public)
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError> {
        Ok(self.pair.sign(message).as_ref().to_vec())
    }
}

/// One person on the card, as the phone shows it offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardPerson {
    /// Rank on the card (1: the holder).
    pub rank: u32,
    /// Family name, as on the card.
    pub family_name: String,
    /// Given names, as on the card.
    pub given_names: String,
    /// Birth date, `YYYY-MM-DD`.
    pub birth_date: String,
    /// The card's NIR (the holder's).
    pub nir: String,
    /// This person's INS matricule.
    pub ins_matricule: String,
    /// Insurance scheme code.
    pub regime: String,
    /// Code of the caisse the person depends on.
    pub caisse: String,
    /// AMO rights open from, `YYYY-MM-DD`.
    pub amo_valid_from: String,
    /// AMO rights open until, `YYYY-MM-DD`.
    pub amo_valid_until: String,
    /// The credential may be shown until then (Unix seconds): a rights refresh renews it.
    pub valid_until: i64,
    /// When the issuer last gave it, Unix milliseconds.
    pub refreshed_millis: i64,
}

impl CardPerson {
    fn read(
        rank: u32,
        credential: &Credential,
        refreshed_millis: i64,
    ) -> Result<Self, CarnetError> {
        let items = credential.items()?;
        let text = |name: &str| {
            items
                .iter()
                .find(|item| item.element_identifier == name)
                .map(|item| display(&item.element_value))
                .unwrap_or_default()
        };
        Ok(CardPerson {
            rank,
            family_name: text("family_name"),
            given_names: text("given_names"),
            birth_date: text("birth_date"),
            nir: text("nir"),
            ins_matricule: text("ins_matricule"),
            regime: text("regime"),
            caisse: text("caisse"),
            amo_valid_from: text("amo_valid_from"),
            amo_valid_until: text("amo_valid_until"),
            valid_until: credential.mso()?.validity.valid_until,
            refreshed_millis,
        })
    }
}

/// A disclosed value as text: full dates and texts as they are, numbers in decimal.
fn display(value: &Value) -> String {
    match value {
        Value::Tag(_, inner) => display(inner),
        Value::Text(text) => text.clone(),
        Value::Integer(number) => i128::from(*number).to_string(),
        Value::Bool(flag) => flag.to_string(),
        other => format!("{other:?}"),
    }
}

/// What a phone is asked to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresentationRequest {
    /// Answer a reader's challenge (its `APCVR1:` text), after the holder consented to what
    /// it asks.
    Challenge(String),
    /// A counter QR without a challenge: [`DEFAULT_DISCLOSURE`], bound to the current 30-second
    /// slot.
    Counter,
}

/// What a challenge asks, to show the holder before consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeInfo {
    /// The reader's identifier (RPPS or FINESS).
    pub reader: String,
    /// Why it asks.
    pub purpose: String,
    /// The elements asked for.
    pub items: Vec<String>,
    /// For a remote challenge: where the answer is sent.
    pub endpoint: Option<String>,
}

/// Reads a reader's `APCVR1:` challenge, so that the holder sees who asks what.
///
/// # Errors
/// [`CarnetError::Identity`] for a text that is not a challenge (limits apply).
pub fn read_challenge(text: &str) -> Result<ChallengeInfo, CarnetError> {
    let challenge = ReaderChallenge::from_text(text)?;
    Ok(ChallengeInfo {
        reader: challenge.reader,
        purpose: challenge.purpose,
        items: challenge.items,
        endpoint: challenge.endpoint,
    })
}

impl HealthRecord {
    /// The people on the card enrolled on this phone, by rank (empty before enrolment).
    ///
    /// # Errors
    /// [`CarnetError::Record`]; [`CarnetError::Identity`] for a damaged credential.
    pub fn card(&self) -> Result<Vec<CardPerson>, CarnetError> {
        self.record
            .card()?
            .iter()
            .map(|kept| {
                CardPerson::read(
                    kept.rank,
                    &Credential::from_cbor(&kept.credential)?,
                    kept.refreshed_millis,
                )
            })
            .collect()
    }

    /// The `APCV1:` QR text showing person `rank`'s credential for `request`, signed by
    /// `signer` (the key the card was enrolled with). The certificate is left out (the QR
    /// form); only the requested elements are disclosed.
    ///
    /// # Errors
    /// [`CarnetError::NotFound`] for a rank not on the card; [`CarnetError::Identity`] for a
    /// challenge that does not parse, an element the credential lacks, or the signer's
    /// refusal.
    pub fn present_card(
        &self,
        rank: u32,
        request: &PresentationRequest,
        signer: &dyn DeviceSigner,
    ) -> Result<String, CarnetError> {
        self.present(rank, request, signer, Carry::QrForm)
    }

    fn present(
        &self,
        rank: u32,
        request: &PresentationRequest,
        signer: &dyn DeviceSigner,
        carry: Carry,
    ) -> Result<String, CarnetError> {
        let kept = self
            .record
            .card()?
            .into_iter()
            .find(|kept| kept.rank == rank)
            .ok_or(CarnetError::NotFound("card person"))?;
        let credential = Credential::from_cbor(&kept.credential)?;
        let credential = match carry {
            Carry::QrForm => credential.without_certificate(),
            Carry::Whole => credential,
        };
        let (items, handover): (Vec<String>, Binding) = match request {
            PresentationRequest::Challenge(text) => {
                let challenge = ReaderChallenge::from_text(text)?;
                (challenge.items.clone(), challenge.handover())
            }
            PresentationRequest::Counter => (
                DEFAULT_DISCLOSURE.iter().map(|i| (*i).to_owned()).collect(),
                Binding::Counter {
                    slot: (self.clock.now_unix_millis() / 1000).div_euclid(SLOT_SECONDS),
                },
            ),
        };
        let asked: Vec<&str> = items.iter().map(String::as_str).collect();
        let response = credential.present(&asked, &handover, signer)?;
        let text = response_to_text(&response, Mode::of(&handover))?;
        tracing::dispatcher::with_default(&self.dispatch, || {
            tracing::info!(rank, items = asked.len(), "card shown");
        });
        Ok(text)
    }
}

/// What a presentation carries of the credential.
#[derive(Clone, Copy)]
enum Carry {
    /// Without the document signer's certificate (a QR code's size is tight).
    QrForm,
    /// Everything (NFC: no size constraint; the reader validates the certificate itself).
    Whole,
}

/// The phone's side of an NFC presentation (host card emulation): the platform hands it each
/// command APDU the reader sends and transmits what it returns. A challenge is answered for
/// person `rank` only if every element it asks is among those the holder allowed when they
/// opened the NFC screen (a tap leaves no time to ask); otherwise it is refused (`69 85`).
pub struct NfcResponder {
    session: HolderSession,
    record: Arc<HealthRecord>,
    rank: u32,
    allowed: Vec<String>,
    signer: Box<dyn DeviceSigner + Send + Sync>,
}

impl std::fmt::Debug for NfcResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NfcResponder")
            .field("rank", &self.rank)
            .finish_non_exhaustive()
    }
}

impl NfcResponder {
    /// Answers readers for person `rank` of `record`'s card with the elements in `allowed`,
    /// signed by `signer`.
    #[must_use]
    pub fn new(
        record: Arc<HealthRecord>,
        rank: u32,
        allowed: Vec<String>,
        signer: Box<dyn DeviceSigner + Send + Sync>,
    ) -> Self {
        NfcResponder {
            session: HolderSession::default(),
            record,
            rank,
            allowed,
            signer,
        }
    }

    /// The response APDU to one command APDU (never fails: every problem is a status word).
    pub fn process(&mut self, command: &[u8]) -> Vec<u8> {
        let NfcResponder {
            session,
            record,
            rank,
            allowed,
            signer,
        } = self;
        session.handle(command, |challenge| {
            let text = std::str::from_utf8(challenge).ok()?;
            let asked = ReaderChallenge::from_text(text).ok()?;
            if !asked.items.iter().all(|item| allowed.contains(item)) {
                return None;
            }
            record
                .present(
                    *rank,
                    &PresentationRequest::Challenge(text.to_owned()),
                    signer.as_ref(),
                    Carry::Whole,
                )
                .ok()
                .map(String::into_bytes)
        })
    }
}

/// The reader's side of an NFC presentation: the platform sends what [`NfcReading::next`]
/// gives and feeds it the phone's response, until the answer is complete.
#[derive(Debug)]
pub struct NfcReading {
    exchange: ReaderExchange,
    commands: std::collections::VecDeque<Vec<u8>>,
}

/// What to do next in an NFC reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NfcStep {
    /// Transmit this command APDU and give the response to [`NfcReading::next`].
    Send(Vec<u8>),
    /// The phone's whole answer (`APCV1:` text), for [`CardReader::read`].
    Done(String),
}

impl NfcReading {
    /// A reading that carries `challenge` (the reader's `APCVR1:` text) to the phone.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] for a text that is not a challenge.
    pub fn new(challenge: &str) -> Result<Self, CarnetError> {
        ReaderChallenge::from_text(challenge)?;
        let commands = challenge_commands(challenge.trim().as_bytes())
            .iter()
            .map(Command::to_bytes)
            .collect::<Result<_, _>>()?;
        Ok(NfcReading {
            exchange: ReaderExchange::default(),
            commands,
        })
    }

    /// The next step: `response` is the phone's answer to the command sent last (`None` at
    /// the start).
    ///
    /// # Errors
    /// [`CarnetError::Identity`] when the phone refuses (no consent, no Carnet application),
    /// answers something malformed or too large, or the exchange is over.
    pub fn next(&mut self, response: Option<&[u8]>) -> Result<NfcStep, CarnetError> {
        let step = match response {
            None => ReaderStep::Continue,
            Some(response) => self.exchange.receive(response)?,
        };
        match step {
            ReaderStep::Continue => self
                .commands
                .pop_front()
                .map(NfcStep::Send)
                .ok_or_else(|| malformed("the phone answered nothing to the whole challenge")),
            ReaderStep::Send(command) => Ok(NfcStep::Send(command.to_bytes()?)),
            ReaderStep::Done(answer) => String::from_utf8(answer)
                .map(NfcStep::Done)
                .map_err(|_| malformed("the NFC answer is not text")),
        }
    }
}

impl HealthRecord {
    /// Remote presentation: answers a reader's remote challenge (one naming an endpoint) by
    /// sending person `rank`'s presentation to that endpoint over HTTPS, and returns the
    /// reader's verdict. The transcript binds the endpoint's origin: an answer relayed to
    /// another site does not verify there.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] for a challenge without an endpoint or that does not parse;
    /// [`CarnetError::Network`] when the endpoint cannot be reached or answers nonsense;
    /// what [`HealthRecord::present_card`] returns.
    pub async fn send_card(
        &self,
        rank: u32,
        challenge: &str,
        signer: &(dyn DeviceSigner + Sync),
    ) -> Result<CardCheck, CarnetError> {
        let parsed = ReaderChallenge::from_text(challenge)?;
        let endpoint = parsed
            .endpoint
            .ok_or_else(|| malformed("this challenge names no endpoint: show the QR instead"))?;
        let (origin, path) = carnet_identity::qr_text::endpoint_parts(&endpoint)?;
        let text = self.present_card(
            rank,
            &PresentationRequest::Challenge(challenge.to_owned()),
            signer,
        )?;
        let client = carnet_net::Client::new(carnet_net::NetConfig::new(origin))?;
        let answer = client
            .post_once(&path, &RemotePresentation { presentation: text })
            .with_subscriber(self.dispatch.clone())
            .await?;
        check_of_verdict(answer.json("the reader's answer")?)
    }
}

/// A reader's verdict as its endpoint answers it (`docs/protocols/apcv.md`).
#[must_use]
pub fn remote_verdict(check: &CardCheck) -> RemoteVerdict {
    match check {
        CardCheck::Accepted { elements } => RemoteVerdict {
            accepted: true,
            elements: elements
                .iter()
                .map(|e| wire::DisclosedElement {
                    name: e.name.clone(),
                    value: e.value.clone(),
                })
                .collect(),
            code: None,
        },
        CardCheck::Refused { code } => RemoteVerdict {
            accepted: false,
            elements: Vec::new(),
            code: Some(code.clone()),
        },
    }
}

fn check_of_verdict(verdict: RemoteVerdict) -> Result<CardCheck, CarnetError> {
    if verdict.accepted {
        let elements = verdict
            .elements
            .into_iter()
            .map(|e| DisclosedElement {
                name: e.name,
                value: e.value,
            })
            .collect();
        return Ok(CardCheck::Accepted { elements });
    }
    let code = verdict.code.ok_or_else(|| {
        NetError::Protocol("the reader's answer: a refusal without its code".into())
    })?;
    Ok(CardCheck::Refused { code })
}

impl NationalServices {
    /// Enrols the card `nir` on this phone with the caisse's activation `code`: a nonce from
    /// the issuer, the device key's proof of possession over it, and the health-space account
    /// made in the same step. The credentials (one per person on the card) are checked to be
    /// bound to `signer`'s key and kept in `record`.
    ///
    /// # Errors
    /// [`CarnetError::Network`] (offline; refused: wrong or used code, locked card);
    /// [`CarnetError::Identity`] for credentials that do not read or are not bound to this
    /// device; [`CarnetError::Record`].
    pub async fn enrol_card(
        &self,
        record: &HealthRecord,
        nir: &str,
        code: &str,
        signer: &(dyn DeviceSigner + Sync),
    ) -> Result<Vec<CardPerson>, CarnetError> {
        let work = async {
            let start: EnrolmentNonce = self
                .client
                .post_once("/v1/issuer/enrolment/start", &serde_json::json!({}))
                .await?
                .json("enrolment nonce")?;
            let nonce = STANDARD
                .decode(&start.nonce)
                .map_err(|_| NetError::Protocol("the enrolment nonce is not base64".into()))?;
            let device_key = carnet_codec::cbor::to_vec(&signer.device_key().to_cose_key())?;
            let proof = signer.sign(&[ENROLMENT_PROOF_CONTEXT, &nonce].concat())?;
            let request = |account: AccountProof| CardEnrolment {
                nir: nir.to_owned(),
                code: code.trim().to_owned(),
                nonce: start.nonce.clone(),
                device_key: STANDARD.encode(device_key),
                proof: STANDARD.encode(proof),
                account_key: account.account_key,
                account_proof: account.account_proof,
            };
            let (_, answer) = self
                .client
                .enrol_with::<_, CardEnrolled>(self.vault.as_ref(), "/v1/issuer/enrolment", request)
                .await?;
            keep_credentials(record, &answer.credentials, &signer.device_key())
        };
        work.with_subscriber(self.dispatch.clone()).await
    }

    /// Asks the issuer for the card's credentials again with the rights the caisse holds now
    /// (the ones they replace are revoked) and keeps them in `record`. Offline, the card held
    /// stays as it is.
    ///
    /// # Errors
    /// [`CarnetError::Network`] (offline, not enrolled, refused); [`CarnetError::Identity`];
    /// [`CarnetError::Record`].
    pub async fn refresh_card(
        &self,
        record: &HealthRecord,
        signer: &(dyn DeviceSigner + Sync),
    ) -> Result<Vec<CardPerson>, CarnetError> {
        let credential = self.credential()?;
        let work = async {
            let response = self
                .client
                .signed(
                    &credential,
                    Method::POST,
                    "/v1/me/issuer/rights",
                    Vec::new(),
                )
                .await?;
            let answer: IssuedCredentials = response.json("rights answer")?;
            keep_credentials(record, &answer.credentials, &signer.device_key())
        };
        work.with_subscriber(self.dispatch.clone()).await
    }

    /// The issuer's root certificate (DER), for a reader to trust — fetched once and kept; in
    /// production it ships with the reader's software.
    ///
    /// # Errors
    /// [`CarnetError::Network`].
    pub async fn issuer_root(&self) -> Result<Vec<u8>, CarnetError> {
        Ok(self
            .client
            .get_conditional("/v1/issuer/root", None)
            .with_subscriber(self.dispatch.clone())
            .await?
            .body)
    }

    /// The issuer's signed status list, for a reader ([`CardReader::update_status`]).
    ///
    /// # Errors
    /// [`CarnetError::Network`].
    pub async fn issuer_status(&self) -> Result<Vec<u8>, CarnetError> {
        Ok(self
            .client
            .get_conditional(STATUS_PATH, None)
            .with_subscriber(self.dispatch.clone())
            .await?
            .body)
    }
}

/// Checks that each credential the issuer gave is bound to `device_key`, and keeps them as
/// the card.
fn keep_credentials(
    record: &HealthRecord,
    issued: &[IssuedCredential],
    device_key: &DeviceKey,
) -> Result<Vec<CardPerson>, CarnetError> {
    let mut credentials = Vec::with_capacity(issued.len());
    for entry in issued {
        let rank = entry.rank;
        let bytes = STANDARD
            .decode(&entry.credential)
            .map_err(|_| NetError::Protocol("a credential that is not base64".into()))?;
        if Credential::from_cbor(&bytes)?.mso()?.device_key != *device_key {
            return Err(malformed(
                "the issuer bound a credential to another device key",
            ));
        }
        credentials.push((rank, bytes));
    }
    record.record.replace_card(&credentials)?;
    record.card()
}

/// One element a phone disclosed, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosedElement {
    /// Its identifier (`family_name`, `amo_valid_until`…).
    pub name: String,
    /// Its value: texts and full dates as they are, numbers in decimal.
    pub value: String,
}

/// What a reader concluded of what a phone showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardCheck {
    /// Accepted: the disclosed elements, in the order shown.
    Accepted {
        /// The elements disclosed, in the order the reader asked them.
        elements: Vec<DisclosedElement>,
    },
    /// Refused, with the reason's stable code (`revoked`, `device_signature`, ...: the
    /// list is in `docs/protocols/apcv.md`).
    Refused {
        /// The refusal code.
        code: String,
    },
}

/// The pharmacy's or doctor's reader: the issuer's root it trusts, the status list it last
/// downloaded, the challenge it has outstanding, the counter QRs it has seen.
pub struct CardReader {
    reader: Reader,
    clock: Arc<dyn Clock>,
    reader_id: String,
    outstanding: Option<ReaderChallenge>,
}

impl std::fmt::Debug for CardReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardReader")
            .field("reader_id", &self.reader_id)
            .finish_non_exhaustive()
    }
}

impl CardReader {
    pub(crate) fn new(
        root: &[u8],
        reader_id: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, CarnetError> {
        if reader_id.trim().is_empty() || reader_id.chars().count() > 64 {
            return Err(malformed(
                "a reader id (RPPS or FINESS) of 1 to 64 characters",
            ));
        }
        Ok(CardReader {
            reader: Reader::new(IssuerTrust::new(&[root.to_vec()])?),
            clock,
            reader_id: reader_id.trim().to_owned(),
            outstanding: None,
        })
    }

    fn now(&self) -> i64 {
        self.clock.now_unix_millis().div_euclid(1000)
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

    /// A new challenge asking for `items` for `purpose`, as the `APCVR1:` text to show; it
    /// replaces the one outstanding.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] for a challenge beyond the limits (1 to 32 items, fields of 1
    /// to 64 characters).
    pub fn challenge(&mut self, purpose: &str, items: &[String]) -> Result<String, CarnetError> {
        self.make_challenge(purpose, items, None)
    }

    /// A remote challenge: like [`CardReader::challenge`], naming the `endpoint` (HTTPS, or
    /// HTTP on loopback) the phone sends its answer to.
    ///
    /// # Errors
    /// As [`CardReader::challenge`], and for an endpoint that is not HTTPS.
    pub fn remote_challenge(
        &mut self,
        purpose: &str,
        items: &[String],
        endpoint: &str,
    ) -> Result<String, CarnetError> {
        self.make_challenge(purpose, items, Some(endpoint.to_owned()))
    }

    fn make_challenge(
        &mut self,
        purpose: &str,
        items: &[String],
        endpoint: Option<String>,
    ) -> Result<String, CarnetError> {
        let mut nonce = vec![0u8; carnet_identity::qr_text::NONCE_BYTES];
        ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut nonce)
            .map_err(|_| malformed("no random generator"))?;
        let challenge = ReaderChallenge {
            nonce,
            reader: self.reader_id.clone(),
            purpose: purpose.to_owned(),
            items: items.to_vec(),
            time: self.now(),
            endpoint,
        };
        let text = challenge.to_text()?;
        self.outstanding = Some(challenge);
        Ok(text)
    }

    /// Takes back a challenge this reader made earlier (its `APCVR1:` text, kept by a reader
    /// that does not stay running, like the CLI) as the outstanding one.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] for a text that is not a challenge or names another reader.
    pub fn resume_challenge(&mut self, text: &str) -> Result<(), CarnetError> {
        let challenge = ReaderChallenge::from_text(text)?;
        if challenge.reader != self.reader_id {
            return Err(malformed("a challenge made by another reader"));
        }
        self.outstanding = Some(challenge);
        Ok(())
    }

    /// Whether a challenge is outstanding (an answer to it consumes it).
    #[must_use]
    pub fn has_challenge(&self) -> bool {
        self.outstanding.is_some()
    }

    /// Checks a phone's `APCV1:` text: an answer to the outstanding challenge (which it then
    /// consumes) or a counter QR. With `date_of_care` (`YYYY-MM-DD`), the AMO rights must
    /// cover it.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] for a text or a date that does not parse, or an answer to a
    /// challenge this reader has not made.
    pub fn read(
        &mut self,
        text: &str,
        date_of_care: Option<&str>,
    ) -> Result<CardCheck, CarnetError> {
        let date_of_care = date_of_care
            .map(|date| {
                time::Date::parse(
                    date,
                    time::macros::format_description!("[year]-[month]-[day]"),
                )
                .map_err(|_| malformed("the date of care is not YYYY-MM-DD"))
            })
            .transpose()?;
        let (mode, response) = response_from_text(text)?;
        let expected = mode.expected(self.outstanding.as_ref())?;
        let time = CheckTime {
            now: self.now(),
            date_of_care,
        };
        let verdict = self.reader.check(&response, &expected, time)?;
        if matches!(mode, Mode::Challenge | Mode::Remote) {
            self.outstanding = None;
        }
        Ok(match verdict {
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
        })
    }
}
