//! The one error type of the certificates component.

use carnet_codec::CodecError;

use crate::country_rules::RuleFailure;

/// The failed rules in English, for logs and for the error's text.
fn describe_failures(failures: &[RuleFailure]) -> String {
    failures
        .iter()
        .map(|f| format!("{} ({})", f.identifier, f.description("en")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why a health certificate was refused, by pipeline step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertsError {
    /// The text does not start with the `HC1:` context identifier.
    #[error("not an EU health certificate: the text does not start with HC1:")]
    Prefix,
    /// The base45 layer is invalid.
    #[error("base45 layer: {0}")]
    Base45(CodecError),
    /// The zlib layer is missing, corrupt or too large.
    #[error("compression layer: {0}")]
    Compression(CodecError),
    /// The COSE_Sign1 layer is malformed.
    #[error("COSE layer: {0}")]
    Cose(CodecError),
    /// The CWT claims are malformed.
    #[error("CWT claims: {0}")]
    Claims(&'static str),
    /// The `eu_dgc_v1` payload is malformed (not a JSON-like CBOR map).
    #[error("payload: {0}")]
    Payload(String),
    /// The payload breaks the DCC schema.
    #[error("schema: {path}: {reason}")]
    Schema {
        /// JSON path of the offending value (`/v/0/dn`).
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The payload meets its schema but fails one of Carnet's own content checks.
    #[error("content: {path}: {reason}")]
    Content {
        /// JSON path of the offending value (`/dob`).
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The certificate names no key identifier.
    #[error("no key identifier in the certificate")]
    MissingKid,
    /// No trusted signer has the certificate's key identifier.
    #[error("no trusted signer has key identifier {kid}")]
    UnknownKid {
        /// The key identifier, hex.
        kid: String,
    },
    /// Signers share the key identifier but none verifies the signature.
    #[error("signature: {0}")]
    Signature(CodecError),
    /// Not valid at the time of the check.
    #[error("not valid at that time: {0}")]
    Expiry(&'static str),
    /// The signer is not allowed to sign this type of certificate.
    #[error("the signer may not sign {0} certificates")]
    KeyUsage(&'static str),
    /// A trust list or revocation list is malformed or of another kind.
    #[error("signed list: {0}")]
    List(String),
    /// The certificate is on the revocation list.
    #[error("revoked (matched by {0} hash)")]
    Revoked(&'static str),
    /// A document signer certificate could not be used.
    #[error("signer certificate: {0}")]
    Signer(String),
    /// A business rule is not valid CertLogic, or meets a value of the wrong type.
    #[error("business rule: {0}")]
    Rule(String),
    /// A genuine certificate does not meet the business rules of the country of arrival.
    #[error(
        "does not meet the rules of {country}: {}",
        describe_failures(failures)
    )]
    RulesNotMet {
        /// Country of arrival.
        country: String,
        /// Each rule that failed, with its descriptions.
        failures: Vec<RuleFailure>,
    },
    /// A business rule was stopped at a limit of the evaluator.
    #[error("business rule refused: {0}")]
    RuleLimit(&'static str),
}
