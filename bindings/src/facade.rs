//! The `Carnet` object.

use std::sync::Arc;

use crate::platform::{
    Clock, ForeignClock, ForeignKeyVault, ForeignLogSink, KeyVault, LogLevel, LogSink,
};
use crate::{CarnetError, InsInfo, InsInput, NirInfo};

/// What Carnet concluded about the platform clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ClockStatus {
    /// At or after the latest time seen.
    Consistent,
    /// Behind a time already seen: time-dependent results cannot be trusted.
    MovedBackwards {
        /// How far behind, in milliseconds.
        behind_by_millis: i64,
    },
}

impl From<carnet::ClockStatus> for ClockStatus {
    fn from(status: carnet::ClockStatus) -> Self {
        match status {
            carnet::ClockStatus::Consistent => ClockStatus::Consistent,
            carnet::ClockStatus::MovedBackwards { behind_by_millis } => {
                ClockStatus::MovedBackwards { behind_by_millis }
            }
        }
    }
}

/// The Carnet core, opened with the platform's services.
#[derive(uniffi::Object)]
pub struct Carnet(carnet::Carnet);

#[uniffi::export]
impl Carnet {
    /// Opens Carnet with the platform's clock, key vault and (optional) log sink; records
    /// below `min_log_level` are not produced.
    #[uniffi::constructor]
    pub fn open(
        clock: Arc<dyn Clock>,
        vault: Arc<dyn KeyVault>,
        log_sink: Option<Arc<dyn LogSink>>,
        min_log_level: LogLevel,
    ) -> Result<Arc<Self>, CarnetError> {
        let services = carnet::Services {
            clock: Arc::new(ForeignClock(clock)),
            vault: Arc::new(ForeignKeyVault(vault)),
            log_sink: log_sink
                .map(|sink| Arc::new(ForeignLogSink(sink)) as Arc<dyn carnet::LogSink>),
            min_log_level: min_log_level.into(),
        };
        Ok(Arc::new(Carnet(carnet::Carnet::open(services)?)))
    }

    /// Compares the clock with the latest time seen; call it when the app resumes.
    pub fn check_clock(&self) -> Result<ClockStatus, CarnetError> {
        Ok(self.0.check_clock()?.into())
    }

    /// Checks a NIR (length, characters, control key) and returns it decoded.
    pub fn check_nir(&self, nir: String) -> Result<NirInfo, CarnetError> {
        Ok(self.0.check_nir(&nir)?.into())
    }

    /// Checks an INS: matricule, OID, traits, and their agreement with the matricule.
    pub fn check_ins(&self, input: InsInput) -> Result<InsInfo, CarnetError> {
        Ok(self.0.check_ins(&input.into())?.into())
    }
}

/// Version of the Carnet core inside this library.
#[uniffi::export]
pub fn core_version() -> String {
    carnet::VERSION.to_owned()
}
