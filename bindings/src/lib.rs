//! `carnet-ffi`: the UniFFI facade over the Carnet core.
//!
//! Everything here maps a type or call of the `carnet` crate 1:1 for Kotlin, Swift and
//! Python; no business logic lives in this crate. Platform services (clock, key vault, log
//! sink) are foreign traits the shells implement. Errors cross as one [`CarnetError`] with a
//! stable code, a message key and a developer detail; UniFFI catches any panic at the
//! boundary (the release profile keeps `panic = "unwind"` for that) and raises it as an
//! internal exception rather than aborting the app.

mod card;
mod certs;
mod error;
mod exposure;
mod facade;
mod identity;
mod platform;
mod record;
mod services;

pub use card::{
    BleReading, BleResponder, CardPresentation, CardReader, CardSigner, MdocCentral,
    MdocPeripheral, NfcReading, NfcResponder,
};
pub use certs::{
    CertificateType, ExpiryState, Holder, PassVerdict, Purpose, VerifierLists, WalletEntry,
};
pub use error::CarnetError;
pub use exposure::{
    BleReception, BleTransport, ExposureIdentifier, ExposureListener, ExposureRadio,
    ExposureStatus, ExposureVerificationKey, exposure_identifiers,
};
pub use facade::{Carnet, ClockStatus, core_version};
pub use identity::{InsInfo, InsInput, InsKind, NirInfo, Sex};
pub use platform::{Clock, KeyVault, LogLevel, LogRecord, LogSink, PlatformError};
pub use record::{HealthRecord, NewAttachment, ProfileItem, ProgressListener, RecordUnlock};
pub use services::{ListsUpdate, NationalServices, SyncListener};

uniffi::setup_scaffolding!();
