//! Carnet's app-level facade.
//!
//! [`Carnet`] is the one object the shells (Android, iOS, the desktop CLI) talk to. It is
//! opened with the platform services of `carnet-platform`: a [`Clock`], a [`KeyVault`] and an
//! optional [`LogSink`]; components get what they need from it. The FFI crate
//! (`bindings/`) mirrors this API 1:1 and adds nothing.

#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod card;
mod card_reader;
mod clock_guard;
mod documents;
mod error;
mod exposure;
mod facade;
mod files;
mod health_record;
mod logging;
mod presentation;
mod remote_presentation;
mod remote_reader;
mod services;
mod verifier_lists;
mod wallet;

pub use card::{CardCheck, CardPerson, DisclosedElement, SoftwareDeviceKey};
pub use card_reader::{BleReading, CardReader, MdocCentral, NfcReading, NfcStep};
pub use carnet_cda as cda;
/// Health certificates (EU DCC) component.
pub use carnet_certs as certs;
/// Codecs for outside data (base45, zlib, CBOR, COSE, QR).
pub use carnet_codec as codec;
/// Bluetooth exposure notification (keys, key files, matching, risk, simulation).
pub use carnet_exposure as exposure_notification;
/// French health identity and the ApCV credential (issuance, presentation, reader).
pub use carnet_identity as identity;
pub use carnet_identity::apcv::DEFAULT_DISCLOSURE;
pub use carnet_identity::presentation::DeviceSigner;
pub use carnet_identity::{BirthDate, IdentityError, Ins, InsKind, Nir, NirDetails, Sex};
/// The network layer (errors, retry policy).
pub use carnet_net as net;
/// Platform services (clock, key vault) and their desktop implementations.
pub use carnet_platform as platform;
pub use carnet_platform::{
    Clock, FileKeyVault, KeyVault, ManualClock, MemoryKeyVault, PlatformError, SystemClock,
};
/// The encrypted health record component.
pub use carnet_record as record;
/// The messages between the device and the national services.
pub use carnet_wire as wire;
pub use clock_guard::{CLOCK_TOLERANCE_MILLIS, ClockStatus};
pub use documents::{Viewable, read_cda};
pub use error::{CarnetError, ErrorKind};
pub use exposure::{ExposureCycle, ExposureProgress, ExposureRadio, KeyFilesUpdate};
pub use facade::{Carnet, InsInput, Services};
pub use health_record::{HealthRecord, RecordUnlock, WalletEntry};
pub use logging::{LogLevel, LogRecord, LogSink};
pub use presentation::{
    BleResponder, CardEngagement, CardPresentation, ConsentElement, ConsentRequest, MdocPeripheral,
    NfcResponder, PresentationStep, ReaderInfo,
};
pub use remote_presentation::{RemoteOutcome, RemotePresentation};
#[cfg(feature = "reader-server")]
pub use remote_reader::router as remote_reader_router;
pub use remote_reader::{MAX_REMOTE_SESSIONS, REMOTE_SESSION_SECONDS, RemoteAnswer, RemoteReader};
pub use services::{ListsUpdate, NationalServices, SyncReport, SyncStage};
pub use verifier_lists::VerifierLists;

/// Version of the Carnet core, as built.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
