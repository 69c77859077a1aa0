//! The carte Vitale on the phone (ApCV): the holder's flow (enrol, the card's people offline,
//! answer a challenge or show a counter QR) and the pharmacy's reader. The card's key is the
//! platform's P-256 keystore key through [`CardSigner`], or, when none is given, the core's
//! software key kept in the key vault.

use std::sync::{Arc, Mutex, PoisonError};

use carnet::identity::IdentityError;
use carnet::identity::mdoc::DeviceKey;
use carnet::{
    CardCheck, CardPerson, ChallengeInfo, DeviceSigner, DisclosedElement, NfcStep,
    PresentationRequest,
};

use crate::CarnetError;
use crate::facade::Carnet;
use crate::platform::PlatformError;
use crate::record::HealthRecord;
use crate::services::NationalServices;

/// One person on the card, as the phone shows it offline.
#[uniffi::remote(Record)]
pub struct CardPerson {
    pub rank: u32,
    pub family_name: String,
    pub given_names: String,
    pub birth_date: String,
    pub nir: String,
    pub ins_matricule: String,
    pub regime: String,
    pub caisse: String,
    pub amo_valid_from: String,
    pub amo_valid_until: String,
    pub valid_until: i64,
    pub refreshed_millis: i64,
}

/// What a challenge asks, to show the holder before consent.
#[uniffi::remote(Record)]
pub struct ChallengeInfo {
    pub reader: String,
    pub purpose: String,
    pub items: Vec<String>,
    pub endpoint: Option<String>,
}

/// What a phone is asked to show.
#[uniffi::remote(Enum)]
pub enum PresentationRequest {
    /// Answer a reader's `APCVR1:` challenge (after consent).
    Challenge(String),
    /// A counter QR with the default disclosure.
    Counter,
}

/// One element a phone disclosed, as text.
#[uniffi::remote(Record)]
pub struct DisclosedElement {
    pub name: String,
    pub value: String,
}

/// What a reader concluded.
#[uniffi::remote(Enum)]
pub enum CardCheck {
    /// Accepted, with the disclosed elements.
    Accepted { elements: Vec<DisclosedElement> },
    /// Refused, with the reason's stable code (`revoked`, `replayed`…).
    Refused { code: String },
}

/// What to do next in an NFC reading.
#[uniffi::remote(Enum)]
pub enum NfcStep {
    /// Transmit this command APDU, give the response to `NfcReading.next`.
    Send(Vec<u8>),
    /// The phone's whole answer (`APCV1:` text), for `CardReader.read`.
    Done(String),
}

/// The card's key in the platform keystore (Android Keystore, Secure Enclave): P-256.
#[uniffi::export(with_foreign)]
pub trait CardSigner: Send + Sync {
    /// The public key, as an uncompressed SEC1 point (65 bytes).
    fn public_key(&self) -> Vec<u8>;
    /// Signs `message` with ECDSA P-256 / SHA-256; the signature as r ‖ s (64 bytes).
    fn sign(&self, message: Vec<u8>) -> Result<Vec<u8>, PlatformError>;
}

/// Hands the core's device signer calls to the foreign signer.
struct ForeignCardSigner(Arc<dyn CardSigner>);

impl DeviceSigner for ForeignCardSigner {
    fn device_key(&self) -> DeviceKey {
        DeviceKey::P256(self.0.public_key())
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError> {
        self.0
            .sign(message.to_vec())
            .map_err(|e| IdentityError::Signer(e.into()))
    }
}

/// The signer to use: the platform's, else the software key from `software`.
fn signer(
    platform: Option<Arc<dyn CardSigner>>,
    software: impl FnOnce() -> Result<carnet::SoftwareDeviceKey, carnet::CarnetError>,
) -> Result<Box<dyn DeviceSigner + Send + Sync>, CarnetError> {
    Ok(match platform {
        Some(platform) => Box::new(ForeignCardSigner(platform)),
        None => Box::new(software()?),
    })
}

#[uniffi::export(async_runtime = "tokio")]
impl NationalServices {
    /// Enrols card `nir` on this phone with the caisse's activation `code` (also opens the
    /// health-space account); the credentials are kept in `record`.
    pub async fn enrol_card(
        &self,
        record: Arc<HealthRecord>,
        nir: String,
        code: String,
        signer: Option<Arc<dyn CardSigner>>,
    ) -> Result<Vec<CardPerson>, CarnetError> {
        let record = record.shared()?;
        let signer = self::signer(signer, || self.0.software_device_key())?;
        Ok(self
            .0
            .enrol_card(&record, &nir, &code, signer.as_ref())
            .await?)
    }

    /// Asks the caisse for the card again with the current rights.
    pub async fn refresh_card(
        &self,
        record: Arc<HealthRecord>,
        signer: Option<Arc<dyn CardSigner>>,
    ) -> Result<Vec<CardPerson>, CarnetError> {
        let record = record.shared()?;
        let signer = self::signer(signer, || self.0.software_device_key())?;
        Ok(self.0.refresh_card(&record, signer.as_ref()).await?)
    }

    /// The issuer's root certificate (DER), for a reader.
    pub async fn issuer_root(&self) -> Result<Vec<u8>, CarnetError> {
        Ok(self.0.issuer_root().await?)
    }

    /// The issuer's signed status list, for a reader.
    pub async fn issuer_status(&self) -> Result<Vec<u8>, CarnetError> {
        Ok(self.0.issuer_status().await?)
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Carnet {
    /// Remote presentation: sends person `rank`'s answer to the endpoint the reader's remote
    /// `challenge` names, and returns the reader's verdict.
    pub async fn send_card(
        &self,
        record: Arc<HealthRecord>,
        rank: u32,
        challenge: String,
        signer: Option<Arc<dyn CardSigner>>,
    ) -> Result<CardCheck, CarnetError> {
        let record = record.shared()?;
        let signer = self::signer(signer, || self.0.software_device_key())?;
        Ok(record.send_card(rank, &challenge, signer.as_ref()).await?)
    }
}

#[uniffi::export]
impl HealthRecord {
    /// The people on the card enrolled on this phone (empty before enrolment).
    pub fn card(&self) -> Result<Vec<CardPerson>, CarnetError> {
        Ok(self.shared()?.card()?)
    }
}

#[uniffi::export]
impl Carnet {
    /// The `APCV1:` QR text showing person `rank` of the card in `record` for `request`,
    /// signed by the card's key (`signer`, else the software key).
    pub fn present_card(
        &self,
        record: Arc<HealthRecord>,
        rank: u32,
        request: PresentationRequest,
        signer: Option<Arc<dyn CardSigner>>,
    ) -> Result<String, CarnetError> {
        let signer = self::signer(signer, || self.0.software_device_key())?;
        Ok(record
            .shared()?
            .present_card(rank, &request, signer.as_ref())?)
    }

    /// The phone's side of an NFC presentation (host card emulation) for person `rank`,
    /// answering only challenges whose elements are all in `allowed`.
    pub fn nfc_responder(
        &self,
        record: Arc<HealthRecord>,
        rank: u32,
        allowed: Vec<String>,
        signer: Option<Arc<dyn CardSigner>>,
    ) -> Result<Arc<NfcResponder>, CarnetError> {
        let signer = self::signer(signer, || self.0.software_device_key())?;
        Ok(Arc::new(NfcResponder(Mutex::new(
            carnet::NfcResponder::new(record.shared()?, rank, allowed, signer),
        ))))
    }

    /// Who asks what in a reader's `APCVR1:` challenge.
    pub fn read_challenge(&self, text: String) -> Result<ChallengeInfo, CarnetError> {
        Ok(carnet::read_challenge(&text)?)
    }

    /// A reader (the pharmacy's side) trusting the issuer `root` (DER), `reader_id` in its
    /// challenges.
    pub fn card_reader(
        &self,
        root: Vec<u8>,
        reader_id: String,
    ) -> Result<Arc<CardReader>, CarnetError> {
        Ok(Arc::new(CardReader(Mutex::new(
            self.0.card_reader(&root, &reader_id)?,
        ))))
    }
}

/// The pharmacy's reader: the issuer's root and status list, the outstanding challenge, the
/// counter QRs seen.
#[derive(uniffi::Object)]
pub struct CardReader(Mutex<carnet::CardReader>);

#[uniffi::export]
impl CardReader {
    /// Takes the issuer's signed status list; false when another issuer signed it. (Not
    /// named `signed`: a C keyword, in the Swift header.)
    pub fn update_status(&self, status_list: Vec<u8>) -> Result<bool, CarnetError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .update_status(&status_list)?)
    }

    /// A new challenge (`APCVR1:` text) asking for `items` for `purpose`.
    pub fn challenge(&self, purpose: String, items: Vec<String>) -> Result<String, CarnetError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .challenge(&purpose, &items)?)
    }

    /// A remote challenge naming `endpoint` (HTTPS, or HTTP on loopback) for the answer.
    pub fn remote_challenge(
        &self,
        purpose: String,
        items: Vec<String>,
        endpoint: String,
    ) -> Result<String, CarnetError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remote_challenge(&purpose, &items, &endpoint)?)
    }

    /// Checks a phone's `APCV1:` text; with `date_of_care` (`YYYY-MM-DD`) the rights must
    /// cover it.
    pub fn read(
        &self,
        text: String,
        date_of_care: Option<String>,
    ) -> Result<CardCheck, CarnetError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .read(&text, date_of_care.as_deref())?)
    }
}

/// The phone's side of an NFC presentation: the platform's card emulation service hands it
/// each command APDU and transmits the response.
#[derive(uniffi::Object)]
pub struct NfcResponder(Mutex<carnet::NfcResponder>);

#[uniffi::export]
impl NfcResponder {
    /// The response APDU to one command APDU (every problem is a status word).
    pub fn process(&self, command: Vec<u8>) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .process(&command)
    }
}

/// The reader's side of an NFC presentation: send what `next` gives, feed it the response.
#[derive(uniffi::Object)]
pub struct NfcReading(Mutex<carnet::NfcReading>);

#[uniffi::export]
impl NfcReading {
    /// A reading carrying the reader's `challenge` (`APCVR1:` text) to the phone.
    #[uniffi::constructor]
    pub fn new(challenge: String) -> Result<Arc<Self>, CarnetError> {
        Ok(Arc::new(NfcReading(Mutex::new(carnet::NfcReading::new(
            &challenge,
        )?))))
    }

    /// The next step; `response` is the phone's answer to the last command (null at first).
    pub fn next(&self, response: Option<Vec<u8>>) -> Result<NfcStep, CarnetError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next(response.as_deref())?)
    }
}
