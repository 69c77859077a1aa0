//! French health identity.
//!
//! * [`Nir`]: the social security number (numéro d'inscription au répertoire), validated with
//!   its control key, Corsican departments `2A`/`2B` included.
//! * [`Ins`]: the national health identifier (identifiant national de santé): a matricule (NIR
//!   or NIA) with its OID and the five reference identity traits.
//!
//! * [`mdoc`]: the ISO/IEC 18013-5 data model the ApCV credential is built on; [`apcv`]: the
//!   credential itself; [`presentation`]: the DeviceResponse; [`reader`]: checking it, with
//!   the issuer roots of [`trust`] and the revocation list of [`status`].
//! * The ISO/IEC 18013-5 exchange: [`engagement`] (the phone's QR or NFC engagement, with
//!   [`ndef`] for the NFC handover), [`session`] (transcript, keys, encryption, messages),
//!   [`request`] (DeviceRequest and reader authentication), [`holder`] and
//!   [`reader_session`] (the two sides), [`reader_trust`] (the professionals' PKI the phone
//!   checks readers with) and [`policy`] (what each profession may ask).
//! * The transports: [`apdu`] (NFC, ISO 7816-4 APDUs) and [`ble`] (BLE fragments); and
//!   [`qr_text`], Carnet's own counter QR.
//! * With the feature `issuer` (the reference server, tests): `authority`, the issuer's
//!   certificates; `issuance`, credentials issued and the status list signed.
//!
//! Every check returns a typed [`IdentityError`]; nothing here panics on any input.
//! Identifiers are sensitive: [`Nir`]'s `Display` and `Debug` show the redacted form only.

#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod apcv;
pub mod apdu;
#[cfg(feature = "issuer")]
pub mod authority;
pub mod ble;
pub mod engagement;
mod error;
pub mod holder;
mod ins;
#[cfg(feature = "issuer")]
pub mod issuance;
pub mod mdoc;
pub mod ndef;
mod nir;
pub mod policy;
pub mod presentation;
pub mod qr_text;
pub mod reader;
pub mod reader_session;
pub mod reader_trust;
mod refusal;
pub mod remote;
pub mod request;
pub mod session;
pub mod status;
pub mod trust;

pub use error::IdentityError;
pub use ins::{BirthDate, Ins, InsKind, InsTraits, Sex, contradicted_trait};
pub use nir::{Nir, NirDetails, redact};
