//! Health certificates: the EU Digital COVID Certificate (DCC) pipeline.
//!
//! `HC1:` text → base45 → zlib (bounded) → COSE_Sign1 → CWT claims → `eu_dgc_v1` payload, each
//! step with its own typed error ([`CertsError`]); then verification against trusted document
//! signer certificates ([`Dsc`]), expiry, key usage and the payload schema ([`schema`]).
//! Nothing is acted on before the signature verifies.

pub mod conformance;
mod dsc;
mod error;
pub mod hcert;
pub mod schema;
mod verify;

pub use dsc::{CertType, Dsc, kid_of};
pub use error::CertsError;
pub use hcert::{CwtClaims, Hcert};
pub use verify::{TrustStore, check_expiry, check_key_usage, verify_signature};
