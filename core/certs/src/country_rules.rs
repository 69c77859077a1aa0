//! Whether a certificate meets a country's business rules: now, and over what period.
//!
//! [`assess`] gives the rules what the gateway's verifiers gave them — the payload, and as
//! `external` the value sets, the validation clock, the country of arrival and the CWT's
//! `exp` and `iat` — and names each rule that does not hold. [`window`] answers "until when"
//! (and "from when", for a vaccination not yet old enough) by evaluating the same rules at
//! other validation times, never by reading numbers out of them: it probes forward at
//! doubling steps (one hour, two, four …) up to a horizon until the answer changes, then
//! bisects to the minute. Rules that change their answer twice between two probes could be
//! missed; the gateway's rules (age of a test, days after a dose, end of a recovery) change
//! once.

use serde_json::{Value as Json, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::hcert::CwtClaims;
use crate::rules::{BusinessRule, RuleKind, RuleScope, applicable, check_with_value_sets};
use crate::value_sets::ValueSets;

/// How far ahead [`window`] looks for a change, in seconds (two years).
pub const HORIZON_SECS: i64 = 2 * 366 * 24 * 3600;
/// The precision of the times [`window`] gives, in seconds.
const RESOLUTION_SECS: i64 = 1;
/// The first probe step of [`window`], in seconds.
const FIRST_STEP_SECS: i64 = 3600;

/// A rule that does not hold, with what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFailure {
    /// `VR-FR-0002`.
    pub identifier: String,
    /// Acceptance (of the arrival country) or invalidation (by the issuer).
    pub kind: RuleKind,
    /// Whose rule it is.
    pub country: String,
    /// What it says, by language.
    pub descriptions: Vec<(String, String)>,
}

impl RuleFailure {
    fn of(rule: &BusinessRule) -> Self {
        RuleFailure {
            identifier: rule.identifier.clone(),
            kind: rule.kind,
            country: rule.country.clone(),
            descriptions: rule.descriptions.clone(),
        }
    }

    /// What the rule says in `language`, else in English, else its identifier.
    #[must_use]
    pub fn description(&self, language: &str) -> &str {
        self.descriptions
            .iter()
            .find(|(lang, _)| lang.eq_ignore_ascii_case(language))
            .or_else(|| self.descriptions.iter().find(|(lang, _)| lang == "en"))
            .map_or(self.identifier.as_str(), |(_, text)| text.as_str())
    }
}

/// What a country's rules say of a certificate at one time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesVerdict {
    /// Every rule that applies holds (how many there were).
    Met {
        /// Rules evaluated.
        rules: usize,
    },
    /// These rules do not hold.
    NotMet(Vec<RuleFailure>),
    /// The rules cannot decide: why, in words (no rules for the country, a rule that could
    /// not be evaluated).
    Undecided(String),
}

/// The data the rules see as `external`, but its `valueSets` (given apart, read in place:
/// [`ValueSets::codes`]).
#[must_use]
pub fn external_data(arrival: &str, claims: &CwtClaims, at: i64) -> Json {
    let stamp = |secs: Option<i64>| {
        secs.and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
            .and_then(|t| t.format(&Rfc3339).ok())
            .map_or(Json::Null, Json::String)
    };
    json!({
        "validationClock": stamp(Some(at)),
        "countryCode": arrival.to_ascii_uppercase(),
        "exp": stamp(claims.expires_at),
        "iat": stamp(claims.issued_at),
    })
}

/// Judges a certificate by the rules of `arrival` (acceptance) and of its issuer
/// (invalidation) in force at `at` (Unix seconds).
#[must_use]
pub fn assess(
    rules: &[BusinessRule],
    value_sets: &ValueSets,
    arrival: &str,
    claims: &CwtClaims,
    at: i64,
) -> RulesVerdict {
    let arrival = arrival.trim().to_ascii_uppercase();
    if !rules
        .iter()
        .any(|r| r.kind == RuleKind::Acceptance && r.country == arrival)
    {
        return RulesVerdict::Undecided(format!("no business rules are held for {arrival}"));
    }
    let Some(scope) = RuleScope::of_payload(&claims.payload) else {
        return RulesVerdict::Undecided("the certificate states no single event".into());
    };
    let issuer = claims.issuer.as_deref().unwrap_or_default();
    let chosen = applicable(rules, &arrival, issuer, scope, at);
    let external = external_data(&arrival, claims, at);
    let outcomes = check_with_value_sets(&chosen, &claims.payload, &external, value_sets.codes());
    if let Some((rule, reason)) = outcomes
        .iter()
        .find_map(|o| o.result.as_ref().err().map(|e| (o.rule, e)))
    {
        return RulesVerdict::Undecided(format!(
            "rule {} could not be evaluated: {reason}",
            rule.identifier
        ));
    }
    let failures: Vec<RuleFailure> = outcomes
        .iter()
        .filter(|o| o.result == Ok(false))
        .map(|o| RuleFailure::of(o.rule))
        .collect();
    if failures.is_empty() {
        RulesVerdict::Met {
            rules: outcomes.len(),
        }
    } else {
        RulesVerdict::NotMet(failures)
    }
}

/// When a certificate meets a country's rules, seen from `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesWindow {
    /// The verdict at `at`.
    pub now: RulesVerdict,
    /// When it starts meeting them, if it does not yet and will within the horizon.
    pub from: Option<i64>,
    /// When it stops meeting them (within the horizon, and at the latest the certificate's
    /// own expiry); `None` when it does not meet them in the window or never stops.
    pub until: Option<i64>,
}

/// The period around `at` in which the certificate meets the rules of `arrival`.
#[must_use]
pub fn window(
    rules: &[BusinessRule],
    value_sets: &ValueSets,
    arrival: &str,
    claims: &CwtClaims,
    at: i64,
) -> RulesWindow {
    let met = |t: i64| {
        matches!(
            assess(rules, value_sets, arrival, claims, t),
            RulesVerdict::Met { .. }
        )
    };
    let now = assess(rules, value_sets, arrival, claims, at);
    let from = match now {
        RulesVerdict::Met { .. } => Some(at),
        RulesVerdict::NotMet(_) => next_change(at, true, &met),
        RulesVerdict::Undecided(_) => None,
    };
    let until = from.and_then(|start| {
        let end = next_change(start, false, &met);
        match (end, claims.expires_at) {
            (Some(end), Some(exp)) => Some(end.min(exp)),
            (end, exp) => end.or(exp),
        }
    });
    RulesWindow {
        from: from.filter(|start| *start > at),
        now,
        until,
    }
}

/// The first time after `start` (to the second) at which `met` becomes `wanted`,
/// within [`HORIZON_SECS`].
fn next_change(start: i64, wanted: bool, met: &dyn Fn(i64) -> bool) -> Option<i64> {
    let mut before = start;
    let mut step = FIRST_STEP_SECS;
    let after = loop {
        let probe = start.saturating_add(step);
        if met(probe) == wanted {
            break probe;
        }
        if step >= HORIZON_SECS {
            return None;
        }
        before = probe;
        step = step.saturating_mul(2).min(HORIZON_SECS);
    };
    let (mut low, mut high) = (before, after);
    while high - low > RESOLUTION_SECS {
        let middle = low + (high - low) / 2;
        if met(middle) == wanted {
            high = middle;
        } else {
            low = middle;
        }
    }
    Some(high)
}
