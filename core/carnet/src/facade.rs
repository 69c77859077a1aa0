//! The [`Carnet`] object.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use carnet_certs::verifier::Verdict;
use carnet_identity::{BirthDate, Ins, InsTraits, Nir, Sex};
use carnet_record::{Record, StoreOptions};

use crate::card::SoftwareDeviceKey;
use crate::card_reader::{CardReader, SoftwareReaderKey};
use crate::clock_guard::{ClockStatus, check_clock};
use crate::health_record::{HealthRecord, RecordUnlock};
use crate::logging::{LogLevel, LogSink, dispatch_for};
use crate::services::NationalServices;
use crate::verifier_lists::VerifierLists;
use crate::wallet::migrate_legacy_wallet;
use crate::{CarnetError, Clock, KeyVault};

/// Name of the health record's directory in the data directory.
const RECORD_DIR: &str = "record";

/// The platform services a [`Carnet`] is opened with.
pub struct Services {
    /// Wall-clock time.
    pub clock: Arc<dyn Clock>,
    /// Secret storage: the platform keystore.
    pub vault: Arc<dyn KeyVault>,
    /// Where log records go; `None` discards them.
    pub log_sink: Option<Arc<dyn LogSink>>,
    /// Records below this level are not produced.
    pub min_log_level: LogLevel,
    /// Directory of Carnet's local files (created if missing; the app's private storage).
    pub data_dir: PathBuf,
}

/// An INS as typed by a person or read from a form: every field as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsInput {
    /// Matricule: NIR or NIA, spaces allowed.
    pub matricule: String,
    /// OID of the matricule (`1.2.250.1.213.1.4.8` for a NIR, ...).
    pub oid: String,
    /// Birth name (nom de naissance).
    pub birth_name: String,
    /// Birth given names, space-separated.
    pub birth_given_names: String,
    /// `M`, `F` or `I`.
    pub sex: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// INSEE code of the birth place.
    pub birth_place: String,
}

/// How a record comes to be in its directory: [`Record::create`] or [`Record::open`].
type RecordStart = fn(
    &Path,
    carnet_record::Unlock<'_>,
    Arc<dyn KeyVault>,
    Arc<dyn Clock>,
    StoreOptions,
) -> Result<Record, carnet_record::RecordError>;

/// The app-level facade: what the shells and the CLI call.
pub struct Carnet {
    clock: Arc<dyn Clock>,
    vault: Arc<dyn KeyVault>,
    dispatch: tracing::Dispatch,
    data_dir: PathBuf,
}

impl Carnet {
    /// Opens Carnet with its platform services and checks the clock against the latest time
    /// seen. A clock moved backwards does not prevent opening: it is logged, and
    /// [`Carnet::check_clock`] keeps reporting it until the clock is right again.
    ///
    /// # Errors
    /// A [`CarnetError`] when the key vault cannot be read or written.
    pub fn open(services: Services) -> Result<Self, CarnetError> {
        let carnet = Carnet {
            clock: services.clock,
            vault: services.vault,
            dispatch: dispatch_for(services.log_sink, services.min_log_level),
            data_dir: services.data_dir,
        };
        carnet.check_clock()?;
        carnet.observe(|| tracing::info!(version = crate::VERSION, "carnet opened"));
        Ok(carnet)
    }

    /// Compares the platform clock with the latest time Carnet has seen, kept in the key
    /// vault, and raises that mark when the clock is ahead (never lowers it, so a clock set
    /// back stays reported on every call). Call it when the app resumes.
    ///
    /// # Errors
    /// A [`CarnetError`] when the key vault fails or holds a damaged mark.
    pub fn check_clock(&self) -> Result<ClockStatus, CarnetError> {
        self.observe(|| check_clock(self.clock.as_ref(), self.vault.as_ref()))
    }

    /// Checks a NIR (format and control key) and returns it normalised.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] with the reason: length, character or control key.
    pub fn check_nir(&self, input: &str) -> Result<Nir, CarnetError> {
        self.observe(|| {
            let result = Nir::parse(input).map_err(CarnetError::from);
            match &result {
                Ok(nir) => tracing::debug!(nir = %nir, "NIR accepted"),
                Err(error) => tracing::debug!(code = error.code(), "NIR refused"),
            }
            result
        })
    }

    /// Checks an INS: matricule, OID, the five traits, and their agreement with the matricule.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] naming the first problem found.
    pub fn check_ins(&self, input: &InsInput) -> Result<Ins, CarnetError> {
        self.observe(|| {
            let traits = InsTraits {
                birth_name: input.birth_name.clone(),
                birth_given_names: input.birth_given_names.clone(),
                sex: Sex::from_code(&input.sex)?,
                birth_date: BirthDate::parse(&input.birth_date)?,
                birth_place: input.birth_place.clone(),
            };
            let result = Ins::new(&input.matricule, &input.oid, traits).map_err(CarnetError::from);
            match &result {
                Ok(ins) => tracing::debug!(ins = ?ins, "INS accepted"),
                Err(error) => tracing::debug!(code = error.code(), "INS refused"),
            }
            result
        })
    }

    /// The default directory of the health record: `record` in the data directory.
    pub fn record_dir(&self) -> PathBuf {
        self.data_dir.join(RECORD_DIR)
    }

    /// Whether a health record exists in `dir` (see [`Carnet::record_dir`]).
    pub fn record_exists(&self, dir: &Path) -> bool {
        Record::exists(dir)
    }

    /// Creates a new, empty health record in `dir` (see [`Carnet::record_dir`]).
    ///
    /// # Errors
    /// [`CarnetError::Record`]: a store already there, a weak passphrase, a disk error.
    pub fn create_record(
        &self,
        dir: &Path,
        unlock: &RecordUnlock,
    ) -> Result<HealthRecord, CarnetError> {
        self.start_record(dir, unlock, Record::create)
    }

    /// Opens the health record in `dir`. A certificate wallet left by Carnet 0.1 in the data
    /// directory moves into it.
    ///
    /// # Errors
    /// [`CarnetError::Record`]: wrong passphrase or device key, rolled back or damaged store,
    /// store in use.
    pub fn open_record(
        &self,
        dir: &Path,
        unlock: &RecordUnlock,
    ) -> Result<HealthRecord, CarnetError> {
        self.start_record(dir, unlock, Record::open)
    }

    /// The record `begin` (create or open) gives in `dir`, with this Carnet's vault and clock,
    /// as a [`HealthRecord`].
    fn start_record(
        &self,
        dir: &Path,
        unlock: &RecordUnlock,
        begin: RecordStart,
    ) -> Result<HealthRecord, CarnetError> {
        self.observe(|| {
            let record = begin(
                dir,
                unlock.as_unlock(),
                self.vault.clone(),
                self.clock.clone(),
                StoreOptions::default(),
            )?;
            self.health_record(record)
        })
    }

    /// The national services at `base_url` (`https://…`; `http://127.0.0.1:…` for the
    /// reference server): enrolment, the record's sync, the DCC lists. Nothing is sent yet.
    /// With `pinned_keys` (SHA-256 of the servers' SubjectPublicKeyInfo), only servers holding
    /// one of those keys are trusted; empty, the platform's certificate authorities are.
    ///
    /// # Errors
    /// [`CarnetError::Network`] for an address that is not http(s).
    pub fn national_services(
        &self,
        base_url: &str,
        pinned_keys: &[carnet_net::KeyPin],
    ) -> Result<NationalServices, CarnetError> {
        NationalServices::new(
            base_url,
            pinned_keys,
            self.vault.clone(),
            self.dispatch.clone(),
            &self.data_dir,
        )
    }

    /// A card reader (the pharmacy's side) trusting the issuer `root` certificate (DER). With
    /// `certificate` (the professionals' PKI's certificate of [`Carnet::reader_public_key`]) it
    /// authenticates to phones with this installation's reader key; without, it reads as an
    /// anonymous reader, to whom phones show the names at most.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] for a root that is not a self-signed P-256 CA certificate, or
    /// a certificate for another key; [`CarnetError::Platform`] when the vault fails.
    pub fn card_reader(
        &self,
        root: &[u8],
        certificate: Option<Vec<u8>>,
    ) -> Result<CardReader, CarnetError> {
        let mut reader = CardReader::new(root, self.clock.clone())?;
        if let Some(certificate) = certificate {
            let key = SoftwareReaderKey::load_or_create(self.vault.as_ref())?
                .with_certificate(certificate)?;
            reader.authenticate_with(std::sync::Arc::new(key));
        }
        Ok(reader)
    }

    /// The public key of this installation's reader key (made the first time): what the
    /// professionals' PKI certifies for a pharmacy's or a doctor's reader.
    ///
    /// # Errors
    /// [`CarnetError::Platform`], [`CarnetError::CorruptVaultEntry`].
    pub fn reader_public_key(&self) -> Result<Vec<u8>, CarnetError> {
        Ok(SoftwareReaderKey::load_or_create(self.vault.as_ref())?.public_key())
    }

    /// The software device key of this installation (made the first time), for phones whose
    /// keystore cannot hold the card's key and for the desktop.
    ///
    /// # Errors
    /// [`CarnetError::Platform`], [`CarnetError::CorruptVaultEntry`].
    pub fn software_device_key(&self) -> Result<SoftwareDeviceKey, CarnetError> {
        SoftwareDeviceKey::load_or_create(self.vault.as_ref())
    }

    fn health_record(&self, record: Record) -> Result<HealthRecord, CarnetError> {
        migrate_legacy_wallet(&self.data_dir, &record)?;
        Ok(HealthRecord {
            record,
            clock: self.clock.clone(),
            dispatch: self.dispatch.clone(),
        })
    }

    /// Verifier mode at the platform clock's time: a clock set back makes the answer "cannot
    /// confirm", whatever the certificate.
    ///
    /// # Errors
    /// [`CarnetError`] when the key vault (which keeps the clock's mark) fails.
    pub fn verify_pass(&self, text: &str, lists: &VerifierLists) -> Result<Verdict, CarnetError> {
        self.verify_pass_in(text, lists, None)
    }

    /// As [`Carnet::verify_pass`], and when `arrival` is given (ISO 3166-1 alpha-2), by that
    /// country's business rules as held in `lists`.
    ///
    /// # Errors
    /// [`CarnetError`] when the key vault (which keeps the clock's mark) fails.
    pub fn verify_pass_in(
        &self,
        text: &str,
        lists: &VerifierLists,
        arrival: Option<&str>,
    ) -> Result<Verdict, CarnetError> {
        if let ClockStatus::MovedBackwards { behind_by_millis } = self.check_clock()? {
            return Ok(Verdict::CannotConfirm {
                holder: None,
                reason: format!(
                    "the device clock was set back by {} s",
                    behind_by_millis / 1000
                ),
            });
        }
        let at = self.now_secs();
        Ok(self.observe(|| lists.verify_in(text, arrival, at)))
    }

    /// The trust and revocation lists kept for offline use by the last
    /// [`NationalServices::update_lists`], checked again against the anchor they were
    /// verified with; `None` when none were ever downloaded (verifier mode then cannot
    /// confirm anything).
    ///
    /// # Errors
    /// [`CarnetError::Storage`] for kept files that cannot be read, [`CarnetError::Certs`]
    /// for lists that no longer verify.
    pub fn held_verifier_lists(&self) -> Result<Option<VerifierLists>, CarnetError> {
        self.observe(|| VerifierLists::held_in(&self.data_dir.join(crate::services::LISTS_DIR)))
    }

    /// Reads the QR code in a camera frame's luma plane (one byte per pixel, row by row), for
    /// the wallet's import and for verifier mode.
    ///
    /// # Errors
    /// [`CarnetError::Codec`]: no code found, or a frame that does not match its size.
    #[cfg(feature = "qr")]
    pub fn scan_qr_frame(
        &self,
        luma: Vec<u8>,
        width: u32,
        height: u32,
    ) -> Result<String, CarnetError> {
        self.observe(|| Ok(carnet_codec::qr::scan_luma(luma, width, height)?))
    }

    /// Renders text (a certificate's `HC1:` text) as an SVG QR code to show at a counter.
    ///
    /// # Errors
    /// [`CarnetError::Codec`] for text beyond one QR code.
    #[cfg(feature = "qr")]
    pub fn render_qr_svg(&self, text: &str) -> Result<String, CarnetError> {
        Ok(carnet_codec::qr::render_svg(text)?)
    }

    /// The platform clock, in Unix seconds.
    fn now_secs(&self) -> i64 {
        self.clock.now_unix_millis().div_euclid(1000)
    }

    /// Runs `work` with this instance's log sink receiving its events.
    fn observe<T>(&self, work: impl FnOnce() -> T) -> T {
        tracing::dispatcher::with_default(&self.dispatch, work)
    }
}
