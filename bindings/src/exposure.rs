//! Bluetooth exposure notification: the key schedule, the phone's radio through the shell's
//! [`BleTransport`] (Android's BluetoothLeAdvertiser/Scanner, iOS's Core Bluetooth), the
//! publication of keys after a positive test, and the check against the key server.

use std::sync::Arc;

use carnet::exposure_notification::ExposureError;
use carnet::exposure_notification::keyfile::VerificationKey;
use carnet::exposure_notification::keys::{Identifier, TemporaryExposureKey};
use carnet::exposure_notification::radio::{Advertisement, Calibration, Reception};
use carnet::exposure_notification::risk::RiskLevel;
use carnet::{ExposureCycle, ExposureProgress};

use crate::CarnetError;
use crate::platform::PlatformError;
use crate::record::HealthRecord;
use crate::services::NationalServices;

/// This phone model's calibration (its row of the Exposure Notification table).
#[uniffi::remote(Record)]
pub struct Calibration {
    /// Added to every RSSI this phone measures (dB).
    pub rssi_correction: i8,
    /// The TX power written in the metadata (dBm).
    pub tx_power: i8,
    /// How well the model is calibrated (0 to 3).
    pub confidence: u8,
}

/// What one duty cycle did.
#[uniffi::remote(Record)]
pub struct ExposureCycle {
    /// Identifiers heard and kept.
    pub sightings: u32,
    /// Whether a new daily key started.
    pub new_key: bool,
}

/// What a key broadcasts during one interval.
#[derive(uniffi::Record)]
pub struct ExposureIdentifier {
    /// The interval (ENIntervalNumber).
    pub interval: u32,
    /// The rolling proximity identifier (16 bytes).
    pub rpi: Vec<u8>,
    /// The encrypted metadata (4 bytes).
    pub aem: Vec<u8>,
}

impl From<Identifier> for ExposureIdentifier {
    fn from(identifier: Identifier) -> Self {
        ExposureIdentifier {
            interval: identifier.interval,
            rpi: identifier.rpi.to_vec(),
            aem: identifier.aem.to_vec(),
        }
    }
}

/// One Exposure Notification advertisement the platform heard.
#[derive(uniffi::Record)]
pub struct BleReception {
    /// The service data of UUID 0xFD6F (20 bytes: RPI and AEM).
    pub service_data: Vec<u8>,
    /// Received signal strength (dBm), as the radio reports it.
    pub rssi: i8,
    /// When (Unix seconds).
    pub time: i64,
}

/// The phone's Bluetooth radio for exposure notification, implemented by the shell.
#[uniffi::export(with_foreign)]
pub trait BleTransport: Send + Sync {
    /// Broadcasts this service data (UUID 0xFD6F) from now on, replacing the previous one.
    fn advertise(&self, service_data: Vec<u8>) -> Result<(), PlatformError>;
    /// Scans for `seconds` and returns the Exposure Notification advertisements heard.
    fn scan(&self, seconds: u32) -> Result<Vec<BleReception>, PlatformError>;
}

/// Hands the core's transport calls to the shell's.
struct ForeignTransport(Arc<dyn BleTransport>);

impl carnet::exposure_notification::radio::BleTransport for ForeignTransport {
    fn advertise(&self, advertisement: &Advertisement) -> Result<(), ExposureError> {
        self.0
            .advertise(advertisement.service_data().to_vec())
            .map_err(|e| ExposureError::Radio(e.to_string()))
    }

    fn scan(&self, seconds: u32) -> Result<Vec<Reception>, ExposureError> {
        let heard = self
            .0
            .scan(seconds)
            .map_err(|e| ExposureError::Radio(e.to_string()))?;
        Ok(heard
            .into_iter()
            .filter_map(|r| Reception::of_service_data(&r.service_data, r.rssi, r.time))
            .collect())
    }
}

/// A health authority's key that verifies key files.
#[derive(uniffi::Record)]
pub struct ExposureVerificationKey {
    /// The id the files name.
    pub id: String,
    /// The version the files name.
    pub version: String,
    /// The uncompressed P-256 point (65 bytes).
    pub public_key: Vec<u8>,
}

/// The outcome of an exposure check, kept to be shown offline.
#[derive(uniffi::Record)]
pub struct ExposureStatus {
    /// When it ran (Unix milliseconds).
    pub checked_millis: i64,
    /// Whether any day was at high risk.
    pub high_risk: bool,
    /// Days at high risk.
    pub days_with_high_risk: u32,
    /// Age (days) of the most recent high-risk day.
    pub most_recent_high_risk_age: Option<u32>,
    /// Days at low risk.
    pub days_with_low_risk: u32,
    /// Age (days) of the most recent low-risk day.
    pub most_recent_low_risk_age: Option<u32>,
    /// Lower bound on the people met at high risk.
    pub encounters_with_high_risk: u32,
    /// Key files read.
    pub files: u64,
    /// Published keys checked.
    pub keys_checked: u64,
    /// Keys that matched something this phone heard.
    pub keys_matched: u64,
}

impl From<carnet::record::ExposureCheck> for ExposureStatus {
    fn from(check: carnet::record::ExposureCheck) -> Self {
        let summary = check.summary;
        ExposureStatus {
            checked_millis: check.checked_millis,
            high_risk: summary.total_risk_level == RiskLevel::High,
            days_with_high_risk: summary.number_of_days_with_high_risk,
            most_recent_high_risk_age: summary.age_of_most_recent_date_with_high_risk,
            days_with_low_risk: summary.number_of_days_with_low_risk,
            most_recent_low_risk_age: summary.age_of_most_recent_date_with_low_risk,
            encounters_with_high_risk: summary.total_minimum_distinct_encounters_with_high_risk,
            files: check.files,
            keys_checked: check.keys_checked,
            keys_matched: check.keys_matched,
        }
    }
}

/// Told how far a check has gone.
#[uniffi::export(with_foreign)]
pub trait ExposureListener: Send + Sync {
    /// `done` of `total` day files downloaded.
    fn on_download(&self, done: u32, total: u32);
    /// `files` read and `keys` checked so far.
    fn on_matching(&self, files: u64, keys: u64);
}

/// This phone's exposure radio (its duty cycle's state).
#[derive(uniffi::Object)]
pub struct ExposureRadio(carnet::ExposureRadio);

/// What a key broadcasts in each of its intervals (the key schedule, for tests against other
/// implementations): `tek` (16 bytes) from `rolling_start` for `rolling_period` intervals,
/// with `metadata` (4 bytes) encrypted into the AEM.
#[uniffi::export]
pub fn exposure_identifiers(
    tek: Vec<u8>,
    rolling_start: u32,
    rolling_period: u32,
    metadata: Vec<u8>,
) -> Result<Vec<ExposureIdentifier>, CarnetError> {
    let key = TemporaryExposureKey::new(&tek, rolling_start, rolling_period)
        .map_err(carnet::CarnetError::from)?;
    let metadata: [u8; 4] = metadata.as_slice().try_into().map_err(|_| {
        carnet::CarnetError::from(ExposureError::Length {
            what: "metadata",
            expected: 4,
            found: metadata.len(),
        })
    })?;
    Ok(key
        .identifiers(metadata)
        .into_iter()
        .map(ExposureIdentifier::from)
        .collect())
}

#[uniffi::export]
impl HealthRecord {
    /// The exposure radio, continuing today's key from the record.
    pub fn exposure_radio(
        &self,
        calibration: Calibration,
    ) -> Result<Arc<ExposureRadio>, CarnetError> {
        Ok(Arc::new(ExposureRadio(
            self.shared()?.exposure_radio(calibration)?,
        )))
    }

    /// One duty cycle now: broadcast the current identifier through `transport`, scan, keep
    /// what was heard. The shell calls it every few minutes.
    pub fn exposure_cycle(
        &self,
        radio: Arc<ExposureRadio>,
        transport: Arc<dyn BleTransport>,
    ) -> Result<ExposureCycle, CarnetError> {
        Ok(self
            .shared()?
            .exposure_cycle(&radio.0, &ForeignTransport(transport))?)
    }

    /// The last check's outcome, if any (offline).
    pub fn exposure_status(&self) -> Result<Option<ExposureStatus>, CarnetError> {
        Ok(self.shared()?.exposure_status()?.map(ExposureStatus::from))
    }

    /// Number of this phone's own keys kept (one a day, at most 14 days).
    pub fn exposure_key_count(&self) -> Result<u32, CarnetError> {
        let keys = self.shared()?.exposure_keys()?;
        Ok(u32::try_from(keys.len()).unwrap_or(u32::MAX))
    }

    /// Deletes every exposure key, sighting and check outcome.
    pub fn forget_exposure_data(&self) -> Result<(), CarnetError> {
        self.shared()?.forget_exposure_data()?;
        Ok(())
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl NationalServices {
    /// Publishes this phone's keys after a positive test with the laboratory's `code`; how
    /// many the server accepted.
    pub async fn publish_exposure_keys(
        &self,
        record: Arc<HealthRecord>,
        code: String,
    ) -> Result<u32, CarnetError> {
        let record = record.shared()?;
        Ok(self.0.publish_exposure_keys(&record, &code).await?)
    }

    /// The key server's verification key, as it gives it (an app ships with its authority's).
    pub async fn exposure_verification_key(&self) -> Result<ExposureVerificationKey, CarnetError> {
        let key = self.0.exposure_verification_key().await?;
        Ok(ExposureVerificationKey {
            public_key: key.point().to_vec(),
            id: key.id,
            version: key.version,
        })
    }

    /// Downloads the day files and checks the record against them on `threads` workers.
    pub async fn check_exposure(
        &self,
        record: Arc<HealthRecord>,
        trusted: Vec<ExposureVerificationKey>,
        threads: u32,
        listener: Option<Arc<dyn ExposureListener>>,
    ) -> Result<ExposureStatus, CarnetError> {
        let record = record.shared()?;
        let trusted = trusted
            .iter()
            .map(|key| VerificationKey::from_point(&key.id, &key.version, &key.public_key))
            .collect::<Result<Vec<_>, _>>()
            .map_err(carnet::CarnetError::from)?;
        let mut progress = |step| {
            if let Some(listener) = &listener {
                match step {
                    ExposureProgress::Downloading { done, total } => {
                        listener.on_download(done, total);
                    }
                    ExposureProgress::Matching { files, keys } => {
                        listener.on_matching(files, keys);
                    }
                }
            }
        };
        let threads = usize::try_from(threads.max(1)).unwrap_or(1);
        let (check, _) = self
            .0
            .check_exposure(&record, &trusted, threads, &mut progress)
            .await?;
        Ok(check.into())
    }
}
