//! The `Carnet` object.

use std::sync::Arc;

use crate::platform::{
    Clock, ForeignClock, ForeignKeyVault, ForeignLogSink, KeyVault, LogLevel, LogSink,
};
use crate::record::{HealthRecord, RecordUnlock};
use crate::services::NationalServices;
pub use carnet::ClockStatus;

use crate::{CarnetError, InsInfo, InsInput, NirInfo, PassVerdict, VerifierLists};

/// What Carnet concluded about the platform clock.
#[uniffi::remote(Enum)]
pub enum ClockStatus {
    /// At or after the latest time seen.
    Consistent,
    /// Behind a time already seen: time-dependent results cannot be trusted.
    MovedBackwards {
        /// How far behind, in milliseconds.
        behind_by_millis: i64,
    },
    /// Ahead of the latest time seen, but the new mark could not be kept (storage full): the
    /// older mark still guards, everything else works.
    MarkNotKept,
}

/// The Carnet core, opened with the platform's services.
#[derive(uniffi::Object)]
pub struct Carnet(pub(crate) carnet::Carnet);

#[uniffi::export]
impl Carnet {
    /// Opens Carnet with the platform's clock, key vault and (optional) log sink; records
    /// below `min_log_level` are not produced. `data_dir` is the app's private directory for
    /// Carnet's files (created if missing).
    #[uniffi::constructor]
    pub fn open(
        clock: Arc<dyn Clock>,
        vault: Arc<dyn KeyVault>,
        log_sink: Option<Arc<dyn LogSink>>,
        min_log_level: LogLevel,
        data_dir: String,
    ) -> Result<Arc<Self>, CarnetError> {
        let services = carnet::Services {
            clock: Arc::new(ForeignClock(clock)),
            vault: Arc::new(ForeignKeyVault(vault)),
            log_sink: log_sink
                .map(|sink| Arc::new(ForeignLogSink(sink)) as Arc<dyn carnet::LogSink>),
            min_log_level,
            data_dir: data_dir.into(),
        };
        Ok(Arc::new(Carnet(carnet::Carnet::open(services)?)))
    }

    /// Compares the clock with the latest time seen; call it when the app resumes.
    pub fn check_clock(&self) -> Result<ClockStatus, CarnetError> {
        Ok(self.0.check_clock()?)
    }

    /// Checks a NIR (length, characters, control key) and returns it decoded.
    pub fn check_nir(&self, nir: String) -> Result<NirInfo, CarnetError> {
        Ok(self.0.check_nir(&nir)?.into())
    }

    /// Checks an INS: matricule, OID, traits, and their agreement with the matricule.
    pub fn check_ins(&self, input: InsInput) -> Result<InsInfo, CarnetError> {
        Ok(self.0.check_ins(&input)?.into())
    }

    /// Whether a health record exists in the app's data directory.
    pub fn record_exists(&self) -> bool {
        self.0.record_exists(&self.0.record_dir())
    }

    /// Creates the health record in the app's data directory.
    pub fn create_record(&self, unlock: RecordUnlock) -> Result<Arc<HealthRecord>, CarnetError> {
        Ok(HealthRecord::new(
            self.0.create_record(&self.0.record_dir(), &unlock)?,
        ))
    }

    /// Opens the health record of the app's data directory.
    pub fn open_record(&self, unlock: RecordUnlock) -> Result<Arc<HealthRecord>, CarnetError> {
        Ok(HealthRecord::new(
            self.0.open_record(&self.0.record_dir(), &unlock)?,
        ))
    }

    /// Reads the QR code in a camera frame's luma plane (one byte per pixel, row by row).
    pub fn scan_qr_frame(
        &self,
        luma: Vec<u8>,
        width: u32,
        height: u32,
    ) -> Result<String, CarnetError> {
        Ok(self.0.scan_qr_frame(luma, width, height)?)
    }

    /// Renders text (a certificate's `HC1:` text) as an SVG QR code.
    pub fn render_qr_svg(&self, text: String) -> Result<String, CarnetError> {
        Ok(self.0.render_qr_svg(&text)?)
    }

    /// The national services at `base_url` (`https://…`, or the reference server's
    /// `http://127.0.0.1:…`). Nothing is sent yet. With `pinned_keys` (each the 32-byte SHA-256
    /// of a server certificate's SubjectPublicKeyInfo), only servers holding one of those keys
    /// are trusted.
    pub fn national_services(
        &self,
        base_url: String,
        pinned_keys: Vec<Vec<u8>>,
    ) -> Result<Arc<NationalServices>, CarnetError> {
        let pins = pinned_keys
            .iter()
            .map(|pin| carnet::net::KeyPin::try_from(pin.as_slice()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| {
                carnet::CarnetError::from(carnet::net::NetError::Protocol(
                    "a pinned key is the 32-byte SHA-256 of a SubjectPublicKeyInfo".into(),
                ))
            })?;
        Ok(Arc::new(NationalServices(
            self.0.national_services(&base_url, &pins)?,
        )))
    }

    /// Verifier mode, at the platform clock's time; nothing is stored.
    pub fn verify_pass(
        &self,
        text: String,
        lists: Arc<VerifierLists>,
    ) -> Result<PassVerdict, CarnetError> {
        Ok(self.0.verify_pass(&text, &lists.0)?.into())
    }

    /// Verifier mode by the business rules of a country of arrival (ISO 3166-1 alpha-2,
    /// `FR`) held in `lists`: a genuine certificate that fails a rule is invalid, naming each
    /// failed rule; without rules for that country it cannot be confirmed.
    pub fn verify_pass_for_country(
        &self,
        text: String,
        lists: Arc<VerifierLists>,
        arrival_country: String,
    ) -> Result<PassVerdict, CarnetError> {
        Ok(self
            .0
            .verify_pass_in(&text, &lists.0, Some(&arrival_country))?
            .into())
    }
}

/// Version of the Carnet core inside this library.
#[uniffi::export]
pub fn core_version() -> String {
    carnet::VERSION.to_owned()
}
