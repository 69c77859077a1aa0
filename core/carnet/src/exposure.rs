//! Exposure notification through the facade (`docs/protocols/exposure.md`): the phone's radio
//! duty cycle kept in the encrypted record, publication of its keys after a positive test,
//! download of the signed day files (cached, `304` when unchanged), and the check — matching
//! on every core, the risk by CWA's configuration, the outcome kept to be shown offline.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use carnet_exposure::device::Device;
use carnet_exposure::keyfile::{KeyFile, VerificationKey};
use carnet_exposure::keys::TemporaryExposureKey;
use carnet_exposure::matching::{MatchConfiguration, MatchProgress, Matcher};
use carnet_exposure::radio::{BleTransport, Calibration, Reception, sightings_of_scan};
use carnet_exposure::risk::RiskConfiguration;
use carnet_net::NetError;
use carnet_record::{ExposureCheck, ExposureDeletion};
use carnet_wire::exposure::{self as wire, KeyIndex, KeyUpload, UploadReceipt, UploadedKey};
use ring::rand::SystemRandom;
use tracing::instrument::WithSubscriber;

use crate::{CarnetError, HealthRecord, NationalServices};

/// Folder of the data directory where day files are cached.
pub(crate) const KEY_FILES_DIR: &str = "exposure-keys";
/// Days of files kept.
const KEEP_DAYS: usize = 14;

/// This phone's exposure radio: its duty cycle's state between cycles.
#[derive(Debug)]
pub struct ExposureRadio {
    device: Mutex<Device>,
}

/// What one duty cycle did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExposureCycle {
    /// Identifiers heard (one sighting each).
    pub sightings: u32,
    /// Whether a new daily key started.
    pub new_key: bool,
}

/// The day files after a download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFilesUpdate {
    /// The files held (the last 14 days'), oldest first.
    pub files: Vec<PathBuf>,
    /// Files downloaded this time (new or changed).
    pub downloaded: u32,
    /// Whether the server was reached (offline: the files already held).
    pub reached: bool,
}

/// Progress of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExposureProgress {
    /// Day files downloaded so far, of `total`.
    Downloading {
        /// Day files downloaded so far.
        done: u32,
        /// Day files to download in all.
        total: u32,
    },
    /// Matching: files read and keys checked so far.
    Matching {
        /// Key files read.
        files: u64,
        /// Published keys checked.
        keys: u64,
    },
}

impl HealthRecord {
    /// The exposure radio, continuing today's key from the record (a new one is made, and
    /// kept, at the first cycle of a day). `calibration` is this phone model's row of the
    /// calibration table (the shell knows its model).
    ///
    /// # Errors
    /// [`CarnetError::Record`].
    pub fn exposure_radio(&self, calibration: Calibration) -> Result<ExposureRadio, CarnetError> {
        let now = self.now_secs();
        let today = self
            .with_content(carnet_record::Record::exposure_keys)?
            .into_iter()
            .rfind(|key| {
                carnet_exposure::keys::interval_number(now).is_some_and(|now| key.covers(now))
            });
        Ok(ExposureRadio {
            device: Mutex::new(Device::new(calibration, today)),
        })
    }

    /// One duty cycle at the record clock's time: broadcast the current identifier through
    /// `transport`, scan, keep what was heard (and a new daily key) in the record.
    ///
    /// # Errors
    /// [`CarnetError::Exposure`] when the radio fails (nothing is kept then),
    /// [`CarnetError::Record`].
    pub fn exposure_cycle(
        &self,
        radio: &ExposureRadio,
        transport: &dyn BleTransport,
    ) -> Result<ExposureCycle, CarnetError> {
        let now = self.now_secs();
        let mut device = radio
            .device
            .lock()
            .map_err(|_| CarnetError::Storage("the exposure radio's state is poisoned".into()))?;
        let random = SystemRandom::new();
        // A new day's key is kept before it is ever broadcast: a key that could not be kept
        // (and so never published after a positive test) is not used; the next cycle tries
        // again with a fresh one.
        let mut not_kept = None;
        let cycle = device.cycle(transport, now, &mut |interval| {
            let key = TemporaryExposureKey::generate(interval, &random)?;
            match self.with_content(|record| record.keep_exposure_key(&key)) {
                Ok(()) => Ok(key),
                Err(error) => {
                    not_kept = Some(error);
                    Err(carnet_exposure::ExposureError::Period(
                        "the new key was not kept",
                    ))
                }
            }
        });
        if let Some(error) = not_kept {
            return Err(error);
        }
        let cycle = cycle?;
        self.with_content(|record| record.keep_sightings(now, &cycle.sightings))?;
        Ok(ExposureCycle {
            sightings: u32::try_from(cycle.sightings.len()).unwrap_or(u32::MAX),
            new_key: cycle.new_key.is_some(),
        })
    }

    /// Keeps what a platform scan heard, for shells whose scanner reports by callback rather
    /// than through [`BleTransport::scan`]: the receptions of one scan that started at
    /// `scan_started` (Unix seconds), after one at `previous_scan`.
    ///
    /// # Errors
    /// [`CarnetError::Record`].
    pub fn keep_exposure_scan(
        &self,
        receptions: &[Reception],
        scan_started: i64,
        previous_scan: Option<i64>,
        calibration: Calibration,
    ) -> Result<u32, CarnetError> {
        let sightings = sightings_of_scan(receptions, scan_started, previous_scan, calibration);
        self.with_content(|record| record.keep_sightings(scan_started, &sightings))?;
        Ok(u32::try_from(sightings.len()).unwrap_or(u32::MAX))
    }

    /// Checks this phone's sightings against `key_files` (zips, verified with `trusted`),
    /// on `threads` workers, with progress; keeps and returns the outcome. Scored by
    /// `configuration` (CWA's by default).
    ///
    /// # Errors
    /// [`CarnetError::Exposure`] for a file that does not verify or is malformed (nothing is
    /// kept: a check that skipped a file could miss an exposure), [`CarnetError::Record`].
    pub fn check_exposure(
        &self,
        key_files: &[PathBuf],
        trusted: &[VerificationKey],
        configuration: &RiskConfiguration,
        threads: usize,
        progress: &mut dyn FnMut(ExposureProgress),
    ) -> Result<ExposureCheck, CarnetError> {
        let now = self.now_secs();
        self.with_content(carnet_record::Record::expire_exposure_data)?;
        let sightings = self.with_content(carnet_record::Record::sightings)?;
        let matcher = Matcher::new(sightings, MatchConfiguration::default(), now);
        let files = key_files.iter().map(|path| {
            let file = std::fs::File::open(path).map_err(|e| {
                carnet_exposure::ExposureError::KeyFile(format!("{}: {e}", path.display()))
            })?;
            KeyFile::open(std::io::BufReader::new(file), trusted)
        });
        let report = matcher.run(files, threads, &mut |MatchProgress { files, keys }| {
            progress(ExposureProgress::Matching { files, keys });
        })?;
        let check = ExposureCheck {
            checked_millis: now * 1000,
            summary: configuration.summarize(&report.windows),
            files: report.files,
            keys_checked: report.keys_checked,
            keys_matched: report.keys_matched,
            windows: report.windows.len() as u64,
        };
        self.with_content(|record| record.keep_exposure_check(&check))?;
        Ok(check)
    }

    /// The last check's outcome, if any (offline).
    ///
    /// # Errors
    /// [`CarnetError::Record`].
    pub fn exposure_status(&self) -> Result<Option<ExposureCheck>, CarnetError> {
        self.with_content(carnet_record::Record::exposure_check)
    }

    /// This phone's own keys of the last 14 days.
    ///
    /// # Errors
    /// [`CarnetError::Record`].
    pub fn exposure_keys(&self) -> Result<Vec<TemporaryExposureKey>, CarnetError> {
        self.with_content(carnet_record::Record::exposure_keys)
    }

    /// Deletes every exposure key, sighting and check outcome.
    ///
    /// # Errors
    /// [`CarnetError::Record`].
    pub fn forget_exposure_data(&self) -> Result<ExposureDeletion, CarnetError> {
        self.with_content(carnet_record::Record::forget_exposure_data)
    }
}

impl NationalServices {
    /// Publishes this phone's keys of the last 14 days after a positive test, authorised by
    /// the one-time `code` the laboratory gave; how many keys the server accepted. Today's
    /// key is sent too: the server holds it back until its day is over.
    ///
    /// # Errors
    /// [`CarnetError::Network`] (`Refused` with `keys.code` for a wrong, used or expired
    /// code; offline), [`CarnetError::Record`]; [`CarnetError::NotFound`] when this phone has
    /// no key (exposure notification was never on).
    pub async fn publish_exposure_keys(
        &self,
        record: &HealthRecord,
        code: &str,
    ) -> Result<u32, CarnetError> {
        let keys = record.exposure_keys()?;
        if keys.is_empty() {
            return Err(CarnetError::NotFound("exposure key"));
        }
        self.upload_exposure_keys(&keys, code).await
    }

    /// Uploads `keys` with a laboratory's one-time `code`; how many the server accepted.
    /// [`NationalServices::publish_exposure_keys`] sends this phone's; the simulation sends
    /// its virtual phones'.
    ///
    /// # Errors
    /// [`CarnetError::Network`] (`Refused` with `keys.code` for a wrong, used or expired
    /// code; a refused key; offline).
    pub async fn upload_exposure_keys(
        &self,
        keys: &[TemporaryExposureKey],
        code: &str,
    ) -> Result<u32, CarnetError> {
        let upload = KeyUpload {
            code: code.trim().to_owned(),
            keys: keys
                .iter()
                .map(|key| UploadedKey {
                    key: STANDARD.encode(key.bytes()),
                    rolling_start: key.rolling_start,
                    rolling_period: key.rolling_period,
                })
                .collect(),
        };
        let receipt: UploadReceipt = self
            .client
            .post_once("/v1/keys/upload", &upload)
            .with_subscriber(self.dispatch.clone())
            .await?
            .json("upload answer")?;
        Ok(receipt.accepted)
    }

    /// The key that verifies the server's day files, as the server gives it. An app ships
    /// with its authority's key instead; this is for the reference server and tests.
    ///
    /// # Errors
    /// [`CarnetError::Network`], [`CarnetError::Exposure`] for a malformed key.
    pub async fn exposure_verification_key(&self) -> Result<VerificationKey, CarnetError> {
        let response = self
            .client
            .get_conditional("/v1/keys/verification-key", None)
            .with_subscriber(self.dispatch.clone())
            .await?;
        let answer: wire::VerificationKey = response.json("verification key")?;
        let spki = STANDARD
            .decode(&answer.public_key_spki)
            .map_err(|_| NetError::Protocol("verification key is not base64".into()))?;
        Ok(VerificationKey::from_spki_der(
            &answer.id,
            &answer.version,
            &spki,
        )?)
    }

    /// Downloads the day files of the last 14 days into the data directory: new and changed
    /// ones only (an unchanged one costs a `304`); files the server no longer offers are
    /// deleted. Offline, the files held are returned. Files are verified when checked.
    ///
    /// # Errors
    /// [`CarnetError::Network`] for a refusal or a malformed index, [`CarnetError::Storage`].
    pub async fn download_key_files(
        &self,
        progress: &mut (dyn FnMut(ExposureProgress) + Send),
    ) -> Result<KeyFilesUpdate, CarnetError> {
        let dir = self.data_dir.join(KEY_FILES_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| crate::files::storage(&dir, &e))?;
        let index = match self
            .client
            .get_conditional("/v1/keys/index", None)
            .with_subscriber(self.dispatch.clone())
            .await
        {
            Ok(response) => response,
            Err(NetError::Offline(reason)) => {
                tracing::info!(%reason, "offline: the day files held are used");
                return Ok(KeyFilesUpdate {
                    files: held_files(&dir)?,
                    downloaded: 0,
                    reached: false,
                });
            }
            Err(other) => return Err(other.into()),
        };
        let index: KeyIndex = index.json("key index")?;
        let mut days: Vec<String> = index.days.into_iter().filter(|day| is_day(day)).collect();
        days.sort();
        days.dedup();
        let skip = days.len().saturating_sub(KEEP_DAYS);
        let days: Vec<String> = days.into_iter().skip(skip).collect();
        let total = u32::try_from(days.len()).unwrap_or(u32::MAX);
        let mut downloaded = 0;
        for (done, day) in (0..).zip(&days) {
            progress(ExposureProgress::Downloading { done, total });
            let cache = key_file_cache(dir.join(format!("{day}.zip")));
            let held = cache.load()?;
            let response = self
                .client
                .get_conditional(
                    &format!("/v1/keys/days/{day}"),
                    held.as_ref().map(|(_, etag)| etag.as_str()),
                )
                .with_subscriber(self.dispatch.clone())
                .await?;
            if response.status != 304 {
                cache.store(&response.body, response.etag.as_deref().unwrap_or_default())?;
                downloaded += 1;
            }
        }
        progress(ExposureProgress::Downloading { done: total, total });
        for path in held_files(&dir)? {
            let offered = path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .is_some_and(|stem| days.iter().any(|day| day == stem));
            if !offered {
                key_file_cache(path).remove()?;
            }
        }
        Ok(KeyFilesUpdate {
            files: held_files(&dir)?,
            downloaded,
            reached: true,
        })
    }

    /// Downloads the day files and checks `record` against them (see
    /// [`HealthRecord::check_exposure`]), with progress of both.
    ///
    /// # Errors
    /// As the two steps.
    pub async fn check_exposure(
        &self,
        record: &HealthRecord,
        trusted: &[VerificationKey],
        threads: usize,
        progress: &mut (dyn FnMut(ExposureProgress) + Send),
    ) -> Result<(ExposureCheck, KeyFilesUpdate), CarnetError> {
        let update = self.download_key_files(progress).await?;
        let check = record.check_exposure(
            &update.files,
            trusted,
            &RiskConfiguration::default(),
            threads,
            progress,
        )?;
        Ok((check, update))
    }
}

/// A day file kept in the cache, with its ETag; never read past a key file's limit.
fn key_file_cache(path: PathBuf) -> crate::services::FileCache {
    crate::services::FileCache::new(
        path,
        usize::try_from(carnet_exposure::keyfile::MAX_ZIP_BYTES).unwrap_or(usize::MAX),
    )
}

/// `YYYY-MM-DD`, nothing else (the name becomes a file name).
fn is_day(text: &str) -> bool {
    text.len() == 10
        && text.bytes().enumerate().all(|(index, byte)| match index {
            4 | 7 => byte == b'-',
            _ => byte.is_ascii_digit(),
        })
}

/// The day files held, oldest first.
fn held_files(dir: &Path) -> Result<Vec<PathBuf>, CarnetError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(crate::files::storage(dir, &e)),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension().is_some_and(|extension| extension == "zip")
                && path
                    .file_stem()
                    .and_then(|stem| stem.to_str())
                    .is_some_and(is_day)
        })
        .collect();
    files.sort();
    Ok(files)
}
