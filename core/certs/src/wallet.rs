//! Wallet logic: what a stored certificate is, how current it is, and which one to show.
//!
//! Storage lives with the facade; this module only reads decoded certificates.

use crate::verifier::{Holder, holder_of};
use crate::{CertificateType, CertsError, Hcert, ValueSets};

/// How long before expiry a certificate is flagged as expiring soon, in seconds.
pub const EXPIRING_SOON_SECS: i64 = 7 * 24 * 3600;

/// What the wallet shows of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Who the certificate is for.
    pub holder: Holder,
    /// Vaccination, test or recovery.
    pub cert_type: CertificateType,
    /// For a vaccination: dose number and total doses of the series.
    pub doses: Option<(u64, u64)>,
    /// Date of the event: vaccination (`dt`), sample (`sc`) or first positive test (`fr`).
    pub event_date: String,
    /// What the event was (disease, vaccine, test…), each code with the name people read.
    pub details: Vec<EventDetail>,
    /// Issued at, Unix seconds.
    pub issued_at: i64,
    /// Expires at, Unix seconds.
    pub expires_at: i64,
}

impl Summary {
    /// Reads the summary of a decoded certificate.
    ///
    /// # Errors
    /// [`CertsError::Schema`] or [`CertsError::Claims`] when the fields it needs are missing.
    pub fn of(hcert: &Hcert) -> Result<Self, CertsError> {
        let cert_type = hcert.cert_type().ok_or_else(|| CertsError::Schema {
            path: "/".into(),
            reason: "exactly one of v, t, r is required".into(),
        })?;
        let (group, date_key) = match cert_type {
            CertificateType::Vaccination => ("v", "dt"),
            CertificateType::Test => ("t", "sc"),
            CertificateType::Recovery => ("r", "fr"),
        };
        let entry = hcert
            .claims
            .payload
            .get(group)
            .and_then(|g| g.get(0))
            .unwrap_or(&serde_json::Value::Null);
        let number = |key: &str| entry.get(key).and_then(serde_json::Value::as_u64);
        let doses = match (cert_type, number("dn"), number("sd")) {
            (CertificateType::Vaccination, Some(dose), Some(total)) => Some((dose, total)),
            _ => None,
        };
        let names = ValueSets::shipped_ref();
        let details = EventField::ALL
            .iter()
            .filter(|field| field.applies_to(cert_type))
            .filter_map(|&field| {
                let code = entry.get(field.payload_key())?.as_str()?.trim();
                (!code.is_empty()).then(|| EventDetail {
                    field,
                    code: code.to_owned(),
                    name: names
                        .display_field(group, field.payload_key(), code)
                        .map(str::to_owned),
                })
            })
            .collect();
        Ok(Summary {
            holder: holder_of(&hcert.claims.payload),
            cert_type,
            doses,
            event_date: entry
                .get(date_key)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            details,
            issued_at: hcert
                .claims
                .issued_at
                .ok_or(CertsError::Claims("no issued-at claim"))?,
            expires_at: hcert
                .claims
                .expires_at
                .ok_or(CertsError::Claims("no expiry claim"))?,
        })
    }

    /// The certificate's state at `at` (Unix seconds).
    pub fn state(&self, at: i64) -> ExpiryState {
        if at < self.issued_at {
            ExpiryState::NotYetValid
        } else if at > self.expires_at {
            ExpiryState::Expired
        } else if self.expires_at - at <= EXPIRING_SOON_SECS {
            ExpiryState::ExpiringSoon
        } else {
            ExpiryState::Valid
        }
    }

    /// A key grouping the certificates of one person: transliterated names and birth date.
    pub fn person_key(&self) -> String {
        format!(
            "{}|{}|{}",
            self.holder.family_name_icao, self.holder.given_name_icao, self.holder.birth_date
        )
    }
}

/// A coded fact of the event a certificate states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

impl EventField {
    /// Every field, in the order people read them.
    pub const ALL: [EventField; 7] = [
        EventField::Disease,
        EventField::Vaccine,
        EventField::VaccineType,
        EventField::TestType,
        EventField::TestName,
        EventField::TestResult,
        EventField::Manufacturer,
    ];

    /// The key of the field in the payload's event.
    #[must_use]
    pub fn payload_key(self) -> &'static str {
        match self {
            EventField::Disease => "tg",
            EventField::VaccineType => "vp",
            EventField::Vaccine => "mp",
            EventField::Manufacturer => "ma",
            EventField::TestType => "tt",
            EventField::TestName => "nm",
            EventField::TestResult => "tr",
        }
    }

    /// Lower-case English label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            EventField::Disease => "disease",
            EventField::VaccineType => "vaccine type",
            EventField::Vaccine => "vaccine",
            EventField::Manufacturer => "manufacturer",
            EventField::TestType => "test type",
            EventField::TestName => "test",
            EventField::TestResult => "result",
        }
    }

    fn applies_to(self, cert_type: CertificateType) -> bool {
        match self {
            EventField::Disease => true,
            EventField::VaccineType | EventField::Vaccine => {
                cert_type == CertificateType::Vaccination
            }
            EventField::Manufacturer => cert_type != CertificateType::Recovery,
            EventField::TestType | EventField::TestName | EventField::TestResult => {
                cert_type == CertificateType::Test
            }
        }
    }
}

/// One fact of the event: its code as signed, and the name the value sets Carnet ships give
/// it (`None` for a code they do not know, and for free text such as a test's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDetail {
    /// Which fact.
    pub field: EventField,
    /// The code (or text) in the certificate.
    pub code: String,
    /// The name people read.
    pub name: Option<String>,
}

impl EventDetail {
    /// The name, else the code.
    #[must_use]
    pub fn shown(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.code)
    }
}

/// How current a certificate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpiryState {
    /// Issued in the future (or the clock is wrong).
    NotYetValid,
    /// In force, not expiring within a week.
    Valid,
    /// In force, expiring within [`EXPIRING_SOON_SECS`].
    ExpiringSoon,
    /// Past its expiry.
    Expired,
}

impl ExpiryState {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            ExpiryState::NotYetValid => "not_yet_valid",
            ExpiryState::Valid => "valid",
            ExpiryState::ExpiringSoon => "expiring_soon",
            ExpiryState::Expired => "expired",
        }
    }

    fn in_force(self) -> bool {
        matches!(self, ExpiryState::Valid | ExpiryState::ExpiringSoon)
    }
}

/// What a certificate is to be shown for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Any proof (a venue entrance): a vaccination first (most doses, then most recent), then a
    /// recovery (most recent), then a test (most recent sample).
    AnyProof,
    /// A vaccination only.
    Vaccination,
    /// A test only.
    Test,
    /// A recovery only.
    Recovery,
}

/// The best certificate in force at `at` for `purpose`, among one person's: its index in
/// `summaries`. Expired and not-yet-valid certificates are never chosen.
pub fn best(summaries: &[Summary], purpose: Purpose, at: i64) -> Option<usize> {
    let allowed = |t: CertificateType| match purpose {
        Purpose::AnyProof => true,
        Purpose::Vaccination => t == CertificateType::Vaccination,
        Purpose::Test => t == CertificateType::Test,
        Purpose::Recovery => t == CertificateType::Recovery,
    };
    let type_rank = |t: CertificateType| match t {
        CertificateType::Vaccination => 3,
        CertificateType::Recovery => 2,
        CertificateType::Test => 1,
    };
    summaries
        .iter()
        .enumerate()
        .filter(|(_, s)| allowed(s.cert_type) && s.state(at).in_force())
        // Dates are ISO 8601 strings of one layout per type, so they order as text.
        .max_by(|(_, a), (_, b)| {
            (
                type_rank(a.cert_type),
                a.doses.map(|d| d.0),
                &a.event_date,
                a.issued_at,
            )
                .cmp(&(
                    type_rank(b.cert_type),
                    b.doses.map(|d| d.0),
                    &b.event_date,
                    b.issued_at,
                ))
        })
        .map(|(index, _)| index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(
        cert_type: CertificateType,
        doses: Option<(u64, u64)>,
        event_date: &str,
        expires_at: i64,
    ) -> Summary {
        let holder = Holder {
            family_name: "Dupond".into(),
            given_name: "Marie".into(),
            family_name_icao: "DUPOND".into(),
            given_name_icao: "MARIE".into(),
            birth_date: "1962-07-01".into(),
        };
        Summary {
            holder,
            cert_type,
            doses,
            event_date: event_date.into(),
            details: Vec::new(),
            issued_at: 100,
            expires_at,
        }
    }

    #[test]
    fn best_prefers_most_doses_then_recovery_then_latest_test() {
        let wallet = vec![
            summary(
                CertificateType::Test,
                None,
                "2021-06-01T10:00:00Z",
                10_000_000,
            ),
            summary(
                CertificateType::Vaccination,
                Some((1, 2)),
                "2021-03-01",
                10_000_000,
            ),
            summary(
                CertificateType::Vaccination,
                Some((2, 2)),
                "2021-04-01",
                10_000_000,
            ),
            summary(
                CertificateType::Vaccination,
                Some((3, 3)),
                "2021-12-01",
                150,
            ),
            summary(CertificateType::Recovery, None, "2021-02-01", 10_000_000),
            summary(
                CertificateType::Test,
                None,
                "2021-06-02T10:00:00Z",
                10_000_000,
            ),
        ];
        assert_eq!(
            best(&wallet, Purpose::AnyProof, 200),
            Some(2),
            "the 3/3 dose expired at 150"
        );
        assert_eq!(best(&wallet, Purpose::AnyProof, 120), Some(3));
        assert_eq!(best(&wallet, Purpose::Test, 200), Some(5));
        assert_eq!(best(&wallet, Purpose::Recovery, 200), Some(4));
        assert_eq!(best(&wallet[..2], Purpose::Recovery, 200), None);
        assert_eq!(
            best(&wallet, Purpose::AnyProof, 50),
            None,
            "nothing is valid before issue"
        );
    }

    #[test]
    fn states_follow_the_clock() {
        let s = summary(CertificateType::Test, None, "", 100 + 30 * 24 * 3600);
        assert_eq!(s.state(99), ExpiryState::NotYetValid);
        assert_eq!(s.state(100), ExpiryState::Valid);
        assert_eq!(s.state(s.expires_at - 3600), ExpiryState::ExpiringSoon);
        assert_eq!(s.state(s.expires_at + 1), ExpiryState::Expired);
        assert_eq!(s.person_key(), "DUPOND|MARIE|1962-07-01");
    }
}
