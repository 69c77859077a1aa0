//! The carte Vitale on the phone (ApCV): the holder's flow (enrol, the card's people offline,
//! an ISO/IEC 18013-5 presentation with the consent screen's request, in front of the reader
//! or remote over HTTPS, Carnet's counter QR)
//! and the pharmacy's reader. The card's key is the platform's P-256 keystore key through
//! [`CardSigner`], or, when none is given, the core's software key kept in the key vault.

use std::sync::{Arc, Mutex, PoisonError};

use carnet::identity::IdentityError;
use carnet::identity::mdoc::DeviceKey;
use carnet::{
    CardCheck, CardEngagement, CardPerson, ConsentElement, ConsentRequest, DeviceSigner,
    DisclosedElement, NfcStep, PresentationStep, ReaderInfo, RemoteOutcome,
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

/// How the phone shows its engagement.
#[uniffi::remote(Enum)]
pub enum CardEngagement {
    /// A QR code (`mdoc:` text).
    Qr,
    /// An NFC tap (the Handover Select message).
    Nfc,
}

/// Who asks, from its verified certificate only.
#[uniffi::remote(Record)]
pub struct ReaderInfo {
    pub verified: bool,
    pub name: String,
    pub organisation: String,
    pub identifier: String,
    pub profession: String,
    pub refusal: Option<String>,
}

/// One element a reader asks.
#[uniffi::remote(Record)]
pub struct ConsentElement {
    pub name: String,
    pub intent_to_retain: bool,
    pub allowed: bool,
}

/// A reader's request, checked, for the consent screen.
#[uniffi::remote(Record)]
pub struct ConsentRequest {
    pub reader: ReaderInfo,
    pub elements: Vec<ConsentElement>,
}

/// What a message from the reader brought.
#[uniffi::remote(Enum)]
pub enum PresentationStep {
    /// A request to decide on.
    Asked(ConsentRequest),
    /// The reader ended the session.
    Ended,
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

/// What came of a remote presentation.
#[uniffi::remote(Enum)]
pub enum RemoteOutcome {
    /// The reader's verdict, signed by its verified certificate's key over this session.
    Confirmed {
        accepted: bool,
        code: String,
        elements: Vec<String>,
    },
    /// The answer was sent; what the reader said of it cannot be believed (show no verdict).
    Unconfirmed { reason: String },
    /// The person declined: the reader was told, nothing was shown.
    Declined,
}

/// What to do next in an NFC reading.
#[uniffi::remote(Enum)]
pub enum NfcStep {
    /// Transmit this command APDU, give the response to `NfcReading.next`.
    Send(Vec<u8>),
    /// Done: the Handover Select message, or the phone's session message.
    Done(Vec<u8>),
}

/// The phone's Bluetooth stack as the ISO/IEC 18013-5 mdoc peripheral server (Android's
/// `BluetoothGattServer`, iOS's `CBPeripheralManager`).
#[uniffi::export(with_foreign)]
pub trait MdocPeripheral: Send + Sync {
    /// Advertises the service `service_uuid` (16 bytes) with the State, Client2Server and
    /// Server2Client characteristics.
    fn start(&self, service_uuid: Vec<u8>) -> Result<(), PlatformError>;
    /// Sends one fragment as a Server2Client notification.
    fn notify(&self, fragment: Vec<u8>) -> Result<(), PlatformError>;
    /// Stops advertising.
    fn stop(&self);
}

/// The reader's Bluetooth stack as the GATT client of the phone's mdoc service.
#[uniffi::export(with_foreign)]
pub trait MdocCentral: Send + Sync {
    /// Connects to the phone advertising `service_uuid` (16 bytes).
    fn connect(&self, service_uuid: Vec<u8>) -> Result<(), PlatformError>;
    /// Writes the State characteristic.
    fn write_state(&self, value: Vec<u8>) -> Result<(), PlatformError>;
    /// Writes one Client2Server fragment.
    fn write(&self, fragment: Vec<u8>) -> Result<(), PlatformError>;
    /// Disconnects.
    fn disconnect(&self);
}

/// Hands the core's peripheral calls to the foreign one.
struct ForeignPeripheral(Arc<dyn MdocPeripheral>);

impl carnet::MdocPeripheral for ForeignPeripheral {
    fn start(&self, service_uuid: [u8; 16]) -> Result<(), carnet::PlatformError> {
        Ok(self.0.start(service_uuid.to_vec())?)
    }
    fn notify(&self, fragment: Vec<u8>) -> Result<(), carnet::PlatformError> {
        Ok(self.0.notify(fragment)?)
    }
    fn stop(&self) {
        self.0.stop();
    }
}

/// Hands the core's central calls to the foreign one.
struct ForeignCentral(Arc<dyn MdocCentral>);

impl carnet::MdocCentral for ForeignCentral {
    fn connect(&self, service_uuid: [u8; 16]) -> Result<(), carnet::PlatformError> {
        Ok(self.0.connect(service_uuid.to_vec())?)
    }
    fn write_state(&self, value: Vec<u8>) -> Result<(), carnet::PlatformError> {
        Ok(self.0.write_state(value)?)
    }
    fn write(&self, fragment: Vec<u8>) -> Result<(), carnet::PlatformError> {
        Ok(self.0.write(fragment)?)
    }
    fn disconnect(&self) {
        self.0.disconnect();
    }
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

#[uniffi::export]
impl HealthRecord {
    /// The people on the card enrolled on this phone (empty before enrolment).
    pub fn card(&self) -> Result<Vec<CardPerson>, CarnetError> {
        Ok(self.shared()?.card()?)
    }
}

#[uniffi::export]
impl Carnet {
    /// Carnet's counter QR (`APCV1:` text) for person `rank` of the card in `record`: the
    /// default disclosure, signed by the card's key (`signer`, else the software key).
    pub fn present_counter(
        &self,
        record: Arc<HealthRecord>,
        rank: u32,
        signer: Option<Arc<dyn CardSigner>>,
    ) -> Result<String, CarnetError> {
        let signer = self::signer(signer, || self.0.software_device_key())?;
        Ok(record.shared()?.present_counter(rank, signer.as_ref())?)
    }

    /// Starts showing the card of `record` the ISO/IEC 18013-5 way, shown as `engagement`,
    /// answering with the card's key (`signer`, else the software key).
    pub fn start_presentation(
        &self,
        record: Arc<HealthRecord>,
        engagement: CardEngagement,
        signer: Option<Arc<dyn CardSigner>>,
    ) -> Result<Arc<CardPresentation>, CarnetError> {
        let signer = self::signer(signer, || self.0.software_device_key())?;
        let presentation = record.shared()?.start_presentation(engagement)?;
        Ok(Arc::new(CardPresentation {
            presentation: Mutex::new(presentation),
            signer,
        }))
    }

    /// The phone's NFC card emulation for person `rank` of the card in `record`: an NFC
    /// engagement, each request answered with the `allowed` elements (within what the reader
    /// may be given), signed by the card's key (`signer`, else the software key).
    pub fn nfc_responder(
        &self,
        record: Arc<HealthRecord>,
        rank: u32,
        allowed: Vec<String>,
        signer: Option<Arc<dyn CardSigner>>,
    ) -> Result<Arc<NfcResponder>, CarnetError> {
        let signer = self::signer(signer, || self.0.software_device_key())?;
        Ok(Arc::new(NfcResponder(Mutex::new(
            record.shared()?.nfc_responder(rank, allowed, signer)?,
        ))))
    }

    /// A presentation of the card in `record` over BLE: a QR engagement (`BleResponder.qrText`)
    /// and `peripheral` advertising its service, fragments for an ATT MTU of `mtu`, answers
    /// signed by the card's key (`signer`, else the software key).
    pub fn ble_responder(
        &self,
        record: Arc<HealthRecord>,
        peripheral: Arc<dyn MdocPeripheral>,
        mtu: u32,
        signer: Option<Arc<dyn CardSigner>>,
    ) -> Result<Arc<BleResponder>, CarnetError> {
        let signer = self::signer(signer, || self.0.software_device_key())?;
        let responder = record
            .shared()?
            .ble_responder(Arc::new(ForeignPeripheral(peripheral)), mtu as usize)?;
        Ok(Arc::new(BleResponder {
            responder: Mutex::new(responder),
            signer,
        }))
    }

    /// The public key of this installation's reader key: what the professionals' PKI
    /// certifies.
    pub fn reader_public_key(&self) -> Result<Vec<u8>, CarnetError> {
        Ok(self.0.reader_public_key()?)
    }

    /// A reader (the pharmacy's side) trusting the issuer `root` (DER); with `certificate`
    /// (of `reader_public_key`) it authenticates to phones.
    pub fn card_reader(
        &self,
        root: Vec<u8>,
        certificate: Option<Vec<u8>>,
    ) -> Result<Arc<CardReader>, CarnetError> {
        Ok(Arc::new(CardReader(Mutex::new(
            self.0.card_reader(&root, certificate)?,
        ))))
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Carnet {
    /// Starts showing the card of `record` to the remote reader at `endpoint` (`https://…`;
    /// `http://` only to this machine): posts the engagement and checks the reader's request
    /// (its certificate must name the endpoint's host), for the consent screen; answers are
    /// signed by the card's key (`signer`, else the software key).
    pub async fn start_remote_presentation(
        &self,
        record: Arc<HealthRecord>,
        endpoint: String,
        signer: Option<Arc<dyn CardSigner>>,
    ) -> Result<Arc<RemotePresentation>, CarnetError> {
        let signer = self::signer(signer, || self.0.software_device_key())?;
        let presentation = record
            .shared()?
            .start_remote_presentation(&endpoint)
            .await?;
        Ok(Arc::new(RemotePresentation {
            presentation,
            signer,
        }))
    }
}

/// A presentation to a remote reader: its request checked, waiting for the person.
#[derive(uniffi::Object)]
pub struct RemotePresentation {
    presentation: carnet::RemotePresentation,
    signer: Box<dyn DeviceSigner + Send + Sync>,
}

#[uniffi::export(async_runtime = "tokio")]
impl RemotePresentation {
    /// The reader's request, checked, for the consent screen.
    pub fn request(&self) -> ConsentRequest {
        self.presentation.request().clone()
    }

    /// Answers for person `rank` with the `approved` elements (within what this reader may
    /// be given) and reads the reader's verdict; the session then ends.
    pub async fn respond(
        &self,
        rank: u32,
        approved: Vec<String>,
    ) -> Result<RemoteOutcome, CarnetError> {
        Ok(self
            .presentation
            .respond(rank, &approved, self.signer.as_ref())
            .await?)
    }

    /// Declines: the reader is told, nothing is shown.
    pub async fn decline(&self) -> Result<RemoteOutcome, CarnetError> {
        Ok(self.presentation.decline().await?)
    }
}

/// One presentation of the card: its engagement and the session it opens. The transport
/// (BLE, NFC) moves the bytes: `receive` takes each reader message, and what it or `respond`
/// returns goes back.
#[derive(uniffi::Object)]
pub struct CardPresentation {
    presentation: Mutex<carnet::CardPresentation>,
    signer: Box<dyn DeviceSigner + Send + Sync>,
}

impl CardPresentation {
    fn lock(&self) -> std::sync::MutexGuard<'_, carnet::CardPresentation> {
        self.presentation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[uniffi::export]
impl CardPresentation {
    /// The QR code's text (`mdoc:` …).
    pub fn qr_text(&self) -> String {
        self.lock().qr_text()
    }

    /// The NFC Handover Select message (an NFC engagement).
    pub fn handover_select(&self) -> Option<Vec<u8>> {
        self.lock().handover_select()
    }

    /// The BLE service UUID to advertise (16 bytes).
    pub fn ble_service_uuid(&self) -> Option<Vec<u8>> {
        self.lock().ble_service_uuid().map(|uuid| uuid.to_vec())
    }

    /// Takes a message from the reader; after an error, `closing_message` tells it why.
    pub fn receive(&self, message: Vec<u8>) -> Result<PresentationStep, CarnetError> {
        Ok(self.lock().receive(&message)?)
    }

    /// Answers the pending request for person `rank` with the `approved` elements (within
    /// what this reader may be given).
    pub fn respond(&self, rank: u32, approved: Vec<String>) -> Result<Vec<u8>, CarnetError> {
        Ok(self.lock().respond(rank, &approved, self.signer.as_ref())?)
    }

    /// Answers the pending request with nothing.
    pub fn decline(&self) -> Result<Vec<u8>, CarnetError> {
        Ok(self.lock().decline()?)
    }

    /// Ends the session: the message that tells the reader.
    pub fn end(&self) -> Result<Vec<u8>, CarnetError> {
        Ok(self.lock().end()?)
    }

    /// After `receive` failed: the message that tells the reader why.
    pub fn closing_message(&self) -> Option<Vec<u8>> {
        self.lock().closing_message()
    }
}

/// The pharmacy's reader: the issuer's root and status list, its key, the session open, the
/// counter QRs seen.
#[derive(uniffi::Object)]
pub struct CardReader(Mutex<carnet::CardReader>);

impl CardReader {
    fn lock(&self) -> std::sync::MutexGuard<'_, carnet::CardReader> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[uniffi::export]
impl CardReader {
    /// Takes the issuer's signed status list; false when another issuer signed it. (Not
    /// named `signed`: a C keyword, in the Swift header.)
    pub fn update_status(&self, status_list: Vec<u8>) -> Result<bool, CarnetError> {
        Ok(self.lock().update_status(&status_list)?)
    }

    /// Opens a session with the phone whose QR code shows `engagement` (`mdoc:` text),
    /// asking for `items`: the message to send it.
    pub fn request(&self, engagement: String, items: Vec<String>) -> Result<Vec<u8>, CarnetError> {
        Ok(self.lock().request(&engagement, &items)?)
    }

    /// As `request`, for a phone tapped first (its Handover Select message).
    pub fn request_nfc(
        &self,
        handover_select: Vec<u8>,
        items: Vec<String>,
    ) -> Result<Vec<u8>, CarnetError> {
        Ok(self.lock().request_nfc(&handover_select, &items)?)
    }

    /// Checks the phone's answer in the open session; with `date_of_care` (`YYYY-MM-DD`) the
    /// rights must cover it.
    pub fn read(
        &self,
        message: Vec<u8>,
        date_of_care: Option<String>,
    ) -> Result<CardCheck, CarnetError> {
        Ok(self.lock().read(&message, date_of_care.as_deref())?)
    }

    /// Ends the open session: the message that tells the phone.
    pub fn end(&self) -> Result<Vec<u8>, CarnetError> {
        Ok(self.lock().end()?)
    }

    /// Checks Carnet's counter QR (`APCV1:` text).
    pub fn read_counter(
        &self,
        text: String,
        date_of_care: Option<String>,
    ) -> Result<CardCheck, CarnetError> {
        Ok(self.lock().read_counter(&text, date_of_care.as_deref())?)
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

    /// The last request a reader made over this tap, checked, for the app to show.
    pub fn last_request(&self) -> Option<ConsentRequest> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_request()
    }
}

/// The reader's side of one NFC exchange: send what `next` gives, feed it the response.
#[derive(uniffi::Object)]
pub struct NfcReading(Mutex<carnet::NfcReading>);

#[uniffi::export]
impl NfcReading {
    /// Reads the phone's NFC engagement (its Handover Select message) from its tag.
    #[uniffi::constructor]
    pub fn engagement() -> Arc<Self> {
        Arc::new(NfcReading(Mutex::new(carnet::NfcReading::engagement())))
    }

    /// Carries a session `message` to the phone and brings back its answer.
    #[uniffi::constructor]
    pub fn message(message: Vec<u8>) -> Arc<Self> {
        Arc::new(NfcReading(Mutex::new(carnet::NfcReading::message(
            &message,
        ))))
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

/// A presentation over BLE: the shell hands it what the reader writes.
#[derive(uniffi::Object)]
pub struct BleResponder {
    responder: Mutex<carnet::BleResponder>,
    signer: Box<dyn DeviceSigner + Send + Sync>,
}

impl BleResponder {
    fn lock(&self) -> std::sync::MutexGuard<'_, carnet::BleResponder> {
        self.responder
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[uniffi::export]
impl BleResponder {
    /// The engagement's QR text, to show.
    pub fn qr_text(&self) -> String {
        self.lock().qr_text()
    }

    /// The reader wrote the State characteristic: `Ended` when it ends the session.
    pub fn on_state(&self, value: Vec<u8>) -> Option<PresentationStep> {
        self.lock().on_state(&value)
    }

    /// The reader wrote a Client2Server fragment: the checked request once whole.
    pub fn on_write(&self, fragment: Vec<u8>) -> Result<Option<PresentationStep>, CarnetError> {
        Ok(self.lock().on_write(&fragment)?)
    }

    /// Answers the pending request for person `rank` with the `approved` elements.
    pub fn respond(&self, rank: u32, approved: Vec<String>) -> Result<(), CarnetError> {
        Ok(self.lock().respond(rank, &approved, self.signer.as_ref())?)
    }

    /// Answers the pending request with nothing.
    pub fn decline(&self) -> Result<(), CarnetError> {
        Ok(self.lock().decline()?)
    }

    /// Ends the session and stops advertising.
    pub fn end(&self) -> Result<(), CarnetError> {
        Ok(self.lock().end()?)
    }
}

/// The reader's side over BLE.
#[derive(uniffi::Object)]
pub struct BleReading(Mutex<carnet::BleReading>);

#[uniffi::export]
impl BleReading {
    /// Connects to the phone whose QR code shows `engagement`, at an ATT MTU of `mtu`.
    #[uniffi::constructor]
    pub fn connect(
        central: Arc<dyn MdocCentral>,
        engagement: String,
        mtu: u32,
    ) -> Result<Arc<Self>, CarnetError> {
        Ok(Arc::new(BleReading(Mutex::new(
            carnet::BleReading::connect(
                Arc::new(ForeignCentral(central)),
                &engagement,
                mtu as usize,
            )?,
        ))))
    }

    /// Writes a session `message` in fragments.
    pub fn send(&self, message: Vec<u8>) -> Result<(), CarnetError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(&message)?)
    }

    /// A Server2Client notification: the phone's whole message once its last fragment came.
    pub fn on_notify(&self, fragment: Vec<u8>) -> Result<Option<Vec<u8>>, CarnetError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .on_notify(&fragment)?)
    }

    /// Ends the transfer and disconnects. (Not named `close`: every generated Kotlin object
    /// has one, which frees it.)
    pub fn end_transfer(&self) -> Result<(), CarnetError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .close()?)
    }
}
