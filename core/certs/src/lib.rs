//! Health certificates: the EU Digital COVID Certificate (DCC) pipeline.
//!
//! `HC1:` text → base45 → zlib (bounded) → COSE_Sign1 → CWT claims → `eu_dgc_v1` payload, each
//! step with its own typed error ([`CertsError`]); then verification against trusted document
//! signer certificates ([`Dsc`]), expiry, key usage and the payload schema ([`schema`]); then
//! the business rules of a country ([`country_rules`]) with the value sets ([`value_sets`]).
//! Nothing is acted on before the signature verifies.

pub mod certlogic;
mod claims;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod country_rules;
mod dsc;
mod error;
pub mod hcert;
pub mod instant;
#[cfg(feature = "issuer")]
pub mod issuer;
pub mod revocation;
pub mod rules;
#[cfg(feature = "conformance")]
pub mod rules_conformance;
pub mod schema;
mod signed_list;
mod trust_list;
pub mod value_sets;
pub mod verifier;
mod verify;
pub mod wallet;

pub use dsc::{CertificateType, Dsc, certificate_der, kid_of, parse_anchor};
pub use error::CertsError;
pub use hcert::{CwtClaims, Hcert};
pub use revocation::{RevocationHashes, RevocationList};
pub use rules::RuleList;
pub use signed_list::{ListHeader, MAX_LIST_BYTES};
pub use trust_list::TrustList;
pub use value_sets::ValueSets;
pub use verify::{TrustStore, check_expiry, check_key_usage, verify_signature};
