//! Health certificates across the FFI: wallet entries, verifier lists and verdicts.

use std::sync::Arc;

pub use carnet::certs::CertificateType;
pub use carnet::certs::verifier::Holder;
use carnet::certs::verifier::Verdict;
pub use carnet::certs::wallet::{EventDetail, EventField, ExpiryState, Purpose};

use crate::CarnetError;

/// The holder as shown: names and birth date only.
#[uniffi::remote(Record)]
pub struct Holder {
    /// Family name as written.
    pub family_name: String,
    /// Given name as written.
    pub given_name: String,
    /// Family name transliterated (ICAO 9303).
    pub family_name_icao: String,
    /// Given name transliterated (ICAO 9303).
    pub given_name_icao: String,
    /// Birth date as issued (`YYYY-MM-DD`, `YYYY-MM`, `YYYY` or empty).
    pub birth_date: String,
}

/// Vaccination, test or recovery.
#[uniffi::remote(Enum)]
pub enum CertificateType {
    /// A vaccination.
    Vaccination,
    /// A test result.
    Test,
    /// A recovery.
    Recovery,
}

/// A coded fact of the event a certificate states.
#[uniffi::remote(Enum)]
pub enum EventField {
    /// The disease or agent targeted (`tg`).
    Disease,
    /// The type of vaccine (`vp`).
    VaccineType,
    /// The vaccine product (`mp`).
    Vaccine,
    /// The vaccine's marketing authorisation holder or the test's maker (`ma`).
    Manufacturer,
    /// The type of test (`tt`).
    TestType,
    /// The name of a test, free text (`nm`).
    TestName,
    /// The result of a test (`tr`).
    TestResult,
}

/// One fact of the event: its code as signed and the name people read (`None` for a code
/// the value sets do not know, and for free text).
#[uniffi::remote(Record)]
pub struct EventDetail {
    /// Which fact.
    pub field: EventField,
    /// The code (or text) in the certificate.
    pub code: String,
    /// The name people read.
    pub name: Option<String>,
}

/// How current a certificate is.
#[uniffi::remote(Enum)]
pub enum ExpiryState {
    /// Issued in the future (or the clock is wrong).
    NotYetValid,
    /// In force, not expiring within a week.
    Valid,
    /// In force, expiring within a week.
    ExpiringSoon,
    /// Past its expiry.
    Expired,
}

/// What a certificate is to be shown for.
#[uniffi::remote(Enum)]
pub enum Purpose {
    /// Any proof: vaccination (most doses), then recovery, then the latest test.
    AnyProof,
    /// A vaccination only.
    Vaccination,
    /// A test only.
    Test,
    /// A recovery only.
    Recovery,
}

/// A certificate in the wallet.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct WalletEntry {
    /// Identifier in the wallet.
    pub id: String,
    /// The `HC1:` text (render it as a QR code to show it).
    pub text: String,
    /// Groups one person's certificates.
    pub person_key: String,
    /// Who the certificate is for.
    pub holder: Holder,
    /// Vaccination, test or recovery.
    pub certificate_type: CertificateType,
    /// Dose number, for a vaccination.
    pub dose: Option<u64>,
    /// Doses in the series, for a vaccination.
    pub total_doses: Option<u64>,
    /// Date of the vaccination, sample or first positive test.
    pub event_date: String,
    /// What the event was (disease, vaccine, test type, result…), with names people read.
    pub details: Vec<EventDetail>,
    /// Issued at, Unix seconds.
    pub issued_at: i64,
    /// Expires at, Unix seconds.
    pub expires_at: i64,
    /// Its state at the time the wallet was listed.
    pub state: ExpiryState,
    /// Added to the wallet at, Unix seconds.
    pub added_at: i64,
}

impl WalletEntry {
    pub(crate) fn from_core(entry: carnet::WalletEntry, state: ExpiryState) -> Self {
        let summary = entry.summary;
        WalletEntry {
            id: entry.id,
            text: entry.text,
            person_key: summary.person_key(),
            certificate_type: summary.cert_type,
            dose: summary.doses.map(|d| d.0),
            total_doses: summary.doses.map(|d| d.1),
            event_date: summary.event_date,
            details: summary.details,
            issued_at: summary.issued_at,
            expires_at: summary.expires_at,
            holder: summary.holder,
            state,
            added_at: entry.added_at,
        }
    }
}

/// The offline lists verifier mode checks against.
#[derive(uniffi::Object)]
pub struct VerifierLists(pub(crate) carnet::VerifierLists);

#[uniffi::export]
impl VerifierLists {
    /// Signed trust list and (optional) revocation list, verified against the anchor key
    /// (PEM or DER). Without a revocation list, verdicts are "cannot confirm".
    #[uniffi::constructor]
    pub fn open(
        trust_list: Vec<u8>,
        anchor: Vec<u8>,
        revocation_list: Option<Vec<u8>>,
    ) -> Result<Arc<Self>, CarnetError> {
        Ok(Arc::new(VerifierLists(carnet::VerifierLists::open(
            &trust_list,
            &anchor,
            revocation_list.as_deref(),
        )?)))
    }

    /// One document signer certificate (PEM or DER) trusted directly as of `at_unix_seconds`,
    /// without revocation checks: for developers and issuers testing certificates.
    #[uniffi::constructor]
    pub fn trusting_certificate(
        certificate: Vec<u8>,
        at_unix_seconds: i64,
    ) -> Result<Arc<Self>, CarnetError> {
        Ok(Arc::new(VerifierLists(
            carnet::VerifierLists::trusting_certificate(&certificate, at_unix_seconds)?,
        )))
    }
}

/// A business rule a certificate does not meet.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FailedRule {
    /// `TR-FR-0002`.
    pub identifier: String,
    /// Whose rule it is (the country of arrival, or the issuer for an invalidation rule).
    pub country: String,
    /// What it says, by language (`fr`, `en`…), as the rule carries it.
    pub descriptions: Vec<LocalizedText>,
}

/// A text in one language.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LocalizedText {
    /// Language code (`fr`, `en`).
    pub language: String,
    /// The text.
    pub text: String,
}

/// What verifier mode concludes.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum PassVerdict {
    /// Genuine, in force, not revoked, checked against fresh lists.
    Valid {
        /// Who it is for.
        holder: Holder,
        /// Vaccination, test or recovery.
        certificate_type: CertificateType,
        /// End of validity, Unix seconds.
        expires_at: i64,
    },
    /// Refused; the holder only when the signature verified.
    Invalid {
        /// Who it is for, when known for certain.
        holder: Option<Holder>,
        /// Stable code (`dcc.expiry`, `dcc.signature`...).
        code: String,
        /// Message key to translate.
        message_key: String,
        /// Detail for developers (English, not for display).
        detail: String,
        /// The business rules that failed (code `dcc.rules_not_met`), each with what it says
        /// in the languages it carries: show these to staff.
        failed_rules: Vec<FailedRule>,
    },
    /// Carnet cannot vouch for it with the data it has offline.
    CannotConfirm {
        /// Who it is for, when the signature verified.
        holder: Option<Holder>,
        /// Why, for developers (not for display).
        reason: String,
    },
}

impl From<Verdict> for PassVerdict {
    fn from(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Valid {
                holder,
                cert_type,
                expires_at,
            } => PassVerdict::Valid {
                holder,
                certificate_type: cert_type,
                expires_at,
            },
            Verdict::Invalid { holder, reason } => {
                let failed_rules = match &reason {
                    carnet::certs::CertsError::RulesNotMet { failures, .. } => failures
                        .iter()
                        .map(|failure| FailedRule {
                            identifier: failure.identifier.clone(),
                            country: failure.country.clone(),
                            descriptions: failure
                                .descriptions
                                .iter()
                                .map(|(language, text)| LocalizedText {
                                    language: language.clone(),
                                    text: text.clone(),
                                })
                                .collect(),
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                let error = carnet::CarnetError::from(reason);
                PassVerdict::Invalid {
                    holder,
                    code: error.code().to_owned(),
                    message_key: error.message_key().to_owned(),
                    detail: error.to_string(),
                    failed_rules,
                }
            }
            Verdict::CannotConfirm { holder, reason } => {
                PassVerdict::CannotConfirm { holder, reason }
            }
        }
    }
}
