//! Carnet's encrypted local health record (Mon espace santé, offline).
//!
//! - [`crypto`]: AES-256-GCM sealing of values and chunked blobs, bound to where they live;
//! - [`keyslot`]: envelope encryption — the data key wrapped by a device key from the
//!   platform key vault or by a passphrase through Argon2id;
//! - [`store`]: the SQLite store (WAL, migrations, one writer, rollback counter kept in the
//!   key vault);
//! - [`Record`]: the content — documents, the medical profile as FHIR R4 resources, agenda,
//!   inbox, access rules — with search, export and import; the ApCV credentials and exposure
//!   notification's keys and sightings (14 days), neither exported nor synced.

#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod access;
pub mod agenda;
mod archive;
mod blob;
mod card;
mod certificate;
pub mod crypto;
mod described;
mod document;
mod error;
mod exchange;
mod exposure;
mod findings;
mod inbox;
pub mod keyslot;
mod model;
mod outbox;
mod profile;
mod pull;
mod push;
mod record;
pub mod store;
mod vigilance;
pub mod words;
mod xdm;

pub use access::{AccessAction, AccessEntry, BlockedProfessional, DocumentQuery};
pub use agenda::{
    Agenda, Appointment, CompletedReminder, NewAppointment, PreventionCalendar, Reminder,
    ReminderKind, ReminderStatus,
};
pub use blob::{MAX_DOCUMENT_BYTES, sniff_media_type};
pub use card::{CardCredential, MAX_CARD_PEOPLE, NewCardCredential, ReaderTrustMaterial};
/// The network layer sync runs over.
pub use carnet_net::{self as net, NetError};
pub use certificate::{MAX_CERTIFICATES, StoredCertificate};
pub use described::{Content, describe, metadata_from_cda, read_header};
pub use document::{Confidentiality, Document, DocumentSource, NewDocument};
pub use error::{RecordError, Result};
pub use exposure::{
    EXPOSURE_RETENTION_DAYS, ExposureCheck, ExposureDeletion, MAX_SIGHTINGS_PER_SCAN,
};
pub use findings::{OfferedFinding, SOURCE_DOCUMENT_EXTENSION};
pub use inbox::{Attachment, IncomingAttachment, Message, NewMessage};
pub use keyslot::{KdfParams, Unlock};
pub use model::Coding;
pub use profile::{
    LOINC, MeasureKind, NewProfileItem, ProfileItem, ProfileKind, VACCINE_GROUP_SYSTEM,
};
pub use pull::PullReport;
pub use push::PushReport;
pub use record::{Gender, Patient, Professional, Progress, Record, parse_instant};
pub use store::{BlobInfo, Store, StoreOptions};
pub use vigilance::{Addressee, NamedPatient};
pub use xdm::{CARNET_SOURCE_OID, XdmImport};
