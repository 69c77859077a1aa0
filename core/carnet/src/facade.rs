//! The [`Carnet`] object.

use std::sync::Arc;

use carnet_identity::{BirthDate, Ins, InsTraits, Nir, Sex};

use crate::clock_guard::{ClockStatus, check_clock};
use crate::logging::{LogLevel, LogSink, dispatch_for};
use crate::{CarnetError, Clock, KeyVault};

/// The platform services a [`Carnet`] is opened with.
pub struct Services {
    /// Wall-clock time.
    pub clock: Arc<dyn Clock>,
    /// Secret storage.
    pub vault: Arc<dyn KeyVault>,
    /// Where log records go; `None` discards them.
    pub log_sink: Option<Arc<dyn LogSink>>,
    /// Records below this level are not produced.
    pub min_log_level: LogLevel,
}

/// An INS as typed by a person or read from a form: every field as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsInput {
    /// Matricule: NIR or NIA, spaces allowed.
    pub matricule: String,
    /// OID of the matricule (`1.2.250.1.213.1.4.8` for a NIR, ...).
    pub oid: String,
    /// Birth name.
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

/// The app-level facade: what the shells and the CLI call.
pub struct Carnet {
    clock: Arc<dyn Clock>,
    vault: Arc<dyn KeyVault>,
    dispatch: tracing::Dispatch,
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

    /// Runs `work` with this instance's log sink receiving its events.
    fn observe<T>(&self, work: impl FnOnce() -> T) -> T {
        tracing::dispatcher::with_default(&self.dispatch, work)
    }
}
