//! Verifier mode: what venue staff see when they scan a certificate, offline.
//!
//! The answer is valid, invalid (with the reason) or "cannot confirm" (Carnet's offline data
//! is too old, or missing, to vouch for the certificate), with the holder's name and birth
//! date only. Nothing is stored. Given a country ([`CountryRules`]), "valid" also means
//! "meets that country's business rules now": a genuine certificate that fails one is
//! invalid, naming each rule that failed ([`CertsError::RulesNotMet`]); without rules for
//! that country, or with rules too old, it cannot be confirmed.

use crate::country_rules::{self, RulesVerdict};
use crate::revocation::{RevocationHashes, RevocationList};
use crate::{
    CertificateType, CertsError, RuleList, TrustList, ValueSets, check_expiry, check_key_usage,
    hcert, schema, verify_signature,
};

/// The business rules to judge by: the country of arrival and what the verifier holds.
#[derive(Debug, Clone, Copy)]
pub struct CountryRules<'a> {
    /// Country of arrival (ISO 3166-1 alpha-2).
    pub arrival: &'a str,
    /// The rule list held, if any.
    pub rules: Option<&'a RuleList>,
    /// The value sets held (the shipped ones at least).
    pub value_sets: &'a ValueSets,
}

/// How old the offline lists may be before results degrade to "cannot confirm".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifierPolicy {
    /// Oldest acceptable trust list, in seconds.
    pub max_trust_list_age_secs: i64,
    /// Oldest acceptable revocation list, in seconds.
    pub max_revocation_list_age_secs: i64,
    /// Oldest acceptable rule list, in seconds.
    pub max_rules_age_secs: i64,
    /// Whether a missing revocation list makes results "cannot confirm" (true for verifiers;
    /// a developer tool checking a signature alone may turn it off and say so).
    pub require_revocation_list: bool,
}

impl Default for VerifierPolicy {
    /// Three days for every list: a venue offline over a weekend still gets answers.
    fn default() -> Self {
        VerifierPolicy {
            max_trust_list_age_secs: 72 * 3600,
            max_revocation_list_age_secs: 72 * 3600,
            max_rules_age_secs: 72 * 3600,
            require_revocation_list: true,
        }
    }
}

/// The holder as shown to staff: names and birth date, nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Family name as written (`fn`), else its transliteration.
    pub family_name: String,
    /// Given name as written (`gn`), else its transliteration.
    pub given_name: String,
    /// Family name transliterated to ICAO 9303 (`fnt`), to compare with an identity document.
    pub family_name_icao: String,
    /// Given name transliterated (`gnt`).
    pub given_name_icao: String,
    /// Birth date as issued (`YYYY-MM-DD`, `YYYY-MM`, `YYYY` or empty).
    pub birth_date: String,
}

/// What verifier mode concludes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Genuine, in force, not revoked, checked against fresh lists.
    Valid {
        /// Who it is for.
        holder: Holder,
        /// Vaccination, test or recovery.
        cert_type: CertificateType,
        /// End of validity, Unix seconds.
        expires_at: i64,
    },
    /// Refused. The holder is given only when the signature verified.
    Invalid {
        /// Who it is for, when known for certain.
        holder: Option<Holder>,
        /// The check that refused it.
        reason: CertsError,
    },
    /// Carnet cannot vouch for it with the data it has offline.
    CannotConfirm {
        /// Who it is for, when the signature verified.
        holder: Option<Holder>,
        /// Why (a list too old or missing).
        reason: String,
    },
}

/// Verifies `HC1:` text at `at` (Unix seconds) against the offline lists.
pub fn verify(
    text: &str,
    trust: &TrustList,
    revocation: Option<&RevocationList>,
    at: i64,
    policy: &VerifierPolicy,
) -> Verdict {
    verify_in(text, trust, revocation, None, at, policy)
}

/// Verifies `HC1:` text at `at` against the offline lists and, when given, the business rules
/// of a country of arrival.
pub fn verify_in(
    text: &str,
    trust: &TrustList,
    revocation: Option<&RevocationList>,
    country: Option<&CountryRules<'_>>,
    at: i64,
    policy: &VerifierPolicy,
) -> Verdict {
    let invalid = |holder, reason| Verdict::Invalid { holder, reason };
    let hcert = match hcert::decode(text) {
        Ok(hcert) => hcert,
        Err(reason) => return invalid(None, reason),
    };
    let trust_age = trust.age_secs(at);
    let trust_stale = trust_age > policy.max_trust_list_age_secs;
    let signer = match verify_signature(&hcert, trust.store()) {
        Ok(signer) => signer,
        Err(CertsError::UnknownKid { kid }) if trust_stale => {
            return Verdict::CannotConfirm {
                holder: None,
                reason: format!(
                    "signer {kid} unknown to a trust list {} hours old",
                    trust_age / 3600
                ),
            };
        }
        Err(reason) => return invalid(None, reason),
    };
    let holder = holder_of(&hcert.claims.payload);
    let checks = schema::validate(&hcert.claims.payload, None)
        .and_then(|()| schema::content_checks(&hcert.claims.payload, Some(at)))
        .and_then(|()| check_key_usage(hcert.cert_type(), signer))
        .and_then(|()| check_expiry(&hcert.claims, signer, at))
        .and_then(|()| RevocationHashes::of(&hcert, signer.key()))
        .and_then(|hashes| revocation.map_or(Ok(()), |list| list.check(&hashes)));
    if let Err(reason) = checks {
        return invalid(Some(holder), reason);
    }
    let stale_reason = if trust_stale {
        Some(format!("trust list is {} hours old", trust_age / 3600))
    } else {
        match revocation {
            None => policy
                .require_revocation_list
                .then(|| "no revocation list".to_owned()),
            Some(list) => {
                let age = at.saturating_sub(list.header().issued_at).max(0);
                (age > policy.max_revocation_list_age_secs)
                    .then(|| format!("revocation list is {} hours old", age / 3600))
            }
        }
    };
    let verdict = match (stale_reason, hcert.cert_type(), hcert.claims.expires_at) {
        (Some(reason), _, _) => Verdict::CannotConfirm {
            holder: Some(holder),
            reason,
        },
        (None, Some(cert_type), Some(expires_at)) => Verdict::Valid {
            holder,
            cert_type,
            expires_at,
        },
        // Unreachable after the checks above (type and expiry were required); refuse rather than trust.
        (None, _, _) => invalid(Some(holder), CertsError::Claims("no type or expiry")),
    };
    match country {
        Some(country) => judge_by_rules(verdict, country, &hcert.claims, at, policy),
        None => verdict,
    }
}

/// A genuine certificate's verdict once the country's rules have spoken: failing a rule makes
/// it invalid (even with old lists: the rules alone refuse it); missing or old rules make a
/// valid one "cannot confirm".
fn judge_by_rules(
    verdict: Verdict,
    country: &CountryRules<'_>,
    claims: &hcert::CwtClaims,
    at: i64,
    policy: &VerifierPolicy,
) -> Verdict {
    let holder = match &verdict {
        Verdict::Valid { holder, .. }
        | Verdict::CannotConfirm {
            holder: Some(holder),
            ..
        } => holder.clone(),
        _ => return verdict,
    };
    let arrival = country.arrival.trim().to_ascii_uppercase();
    let Some(list) = country.rules else {
        return Verdict::CannotConfirm {
            holder: Some(holder),
            reason: format!("no business rules are held to judge for {arrival}"),
        };
    };
    match country_rules::assess(list.rules(), country.value_sets, &arrival, claims, at) {
        RulesVerdict::NotMet(failures) => Verdict::Invalid {
            holder: Some(holder),
            reason: CertsError::RulesNotMet {
                country: arrival,
                failures,
            },
        },
        RulesVerdict::Undecided(reason) => Verdict::CannotConfirm {
            holder: Some(holder),
            reason,
        },
        RulesVerdict::Met { .. } => {
            let age = at.saturating_sub(list.header().issued_at).max(0);
            if age > policy.max_rules_age_secs {
                Verdict::CannotConfirm {
                    holder: Some(holder),
                    reason: format!("business rules are {} hours old", age / 3600),
                }
            } else {
                verdict
            }
        }
    }
}

/// The holder's names and birth date from a payload (empty strings for missing fields).
pub(crate) fn holder_of(payload: &serde_json::Value) -> Holder {
    let text = |pointer: &str| {
        payload
            .pointer(pointer)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let family_name_icao = text("/nam/fnt");
    let given_name_icao = text("/nam/gnt");
    let or_icao = |written: String, icao: &str| {
        if written.is_empty() {
            icao.replace('<', " ")
        } else {
            written
        }
    };
    Holder {
        family_name: or_icao(text("/nam/fn"), &family_name_icao),
        given_name: or_icao(text("/nam/gn"), &given_name_icao),
        family_name_icao,
        given_name_icao,
        birth_date: text("/dob"),
    }
}
