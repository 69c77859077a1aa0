//! Platform services as foreign traits, and their adapters to the core's traits.

use std::sync::Arc;

pub use carnet::{LogLevel, LogRecord};

/// A failure a platform service reports to the core.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum PlatformError {
    /// The service cannot be reached or failed (I/O error, keystore not ready).
    #[error("unavailable: {detail}")]
    Unavailable {
        /// What happened, for developers.
        detail: String,
    },
    /// The service refused (user cancelled authentication, keystore locked).
    #[error("denied: {detail}")]
    Denied {
        /// What happened, for developers.
        detail: String,
    },
    /// The device's storage is full: nothing was written.
    #[error("storage full: {detail}")]
    StorageFull {
        /// What could not be written.
        detail: String,
    },
    /// The entry name is not one the platform accepts.
    #[error("invalid entry name {name:?}")]
    InvalidName {
        /// The name refused.
        name: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for PlatformError {
    /// A foreign implementation threw something other than a `PlatformError`.
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        PlatformError::Unavailable {
            detail: format!("unexpected platform failure: {}", error.reason),
        }
    }
}

impl From<PlatformError> for carnet::PlatformError {
    fn from(error: PlatformError) -> Self {
        match error {
            PlatformError::Unavailable { detail } => carnet::PlatformError::Unavailable(detail),
            PlatformError::Denied { detail } => carnet::PlatformError::Denied(detail),
            PlatformError::InvalidName { name } => carnet::PlatformError::InvalidName(name),
            PlatformError::StorageFull { detail } => carnet::PlatformError::StorageFull(detail),
        }
    }
}

/// Wall-clock time, from the platform.
#[uniffi::export(with_foreign)]
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch, UTC.
    fn now_unix_millis(&self) -> i64;
}

/// Secret storage by name, backed by the platform keystore (Android Keystore, iOS Keychain).
/// Names are 1–64 characters of `[A-Za-z0-9._-]`.
#[uniffi::export(with_foreign)]
pub trait KeyVault: Send + Sync {
    /// Stores `secret` under `name`, replacing any previous value, atomically.
    fn store(&self, name: String, secret: Vec<u8>) -> Result<(), PlatformError>;
    /// The secret under `name`, or null when there is none.
    fn load(&self, name: String) -> Result<Option<Vec<u8>>, PlatformError>;
    /// Deletes the secret under `name`; a missing one is not an error.
    fn delete(&self, name: String) -> Result<(), PlatformError>;
}

/// Severity of a log record.
#[uniffi::remote(Enum)]
pub enum LogLevel {
    /// Fine-grained tracing.
    Trace,
    /// Diagnostics for developers.
    Debug,
    /// Normal operation worth noting.
    Info,
    /// Something unexpected that Carnet handled.
    Warn,
    /// An operation failed.
    Error,
}

/// One log line from the core (never holds health data or full identifiers).
#[uniffi::remote(Record)]
pub struct LogRecord {
    /// How serious it is.
    pub level: LogLevel,
    /// The Rust module that logged it.
    pub target: String,
    /// The message, then `key=value` fields.
    pub message: String,
}

/// Receives the core's log records (Logcat, os_log...). Called on the caller's thread.
#[uniffi::export(with_foreign)]
pub trait LogSink: Send + Sync {
    /// Takes one record.
    fn log(&self, record: LogRecord);
}

/// Hands the core's clock calls to the foreign clock.
pub(crate) struct ForeignClock(pub(crate) Arc<dyn Clock>);

impl carnet::Clock for ForeignClock {
    fn now_unix_millis(&self) -> i64 {
        self.0.now_unix_millis()
    }
}

/// Hands the core's vault calls to the foreign vault.
pub(crate) struct ForeignKeyVault(pub(crate) Arc<dyn KeyVault>);

impl carnet::KeyVault for ForeignKeyVault {
    fn store(&self, name: &str, secret: Vec<u8>) -> Result<(), carnet::PlatformError> {
        Ok(self.0.store(name.to_owned(), secret)?)
    }
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>, carnet::PlatformError> {
        Ok(self.0.load(name.to_owned())?)
    }
    fn delete(&self, name: &str) -> Result<(), carnet::PlatformError> {
        Ok(self.0.delete(name.to_owned())?)
    }
}

/// Hands the core's log records to the foreign sink.
pub(crate) struct ForeignLogSink(pub(crate) Arc<dyn LogSink>);

impl carnet::LogSink for ForeignLogSink {
    fn log(&self, record: LogRecord) {
        self.0.log(record);
    }
}
