//! Business rules as the EU DCC gateway distributed them (`fixtures/dcc-rules/business-rules`,
//! the gateway's `validation-rule-schema.json`): each country's acceptance rules (what a
//! certificate must satisfy to enter it) and invalidation rules (what the issuing country no
//! longer honours), each a CertLogic expression ([`crate::certlogic`]) with its identifier,
//! version, certificate type, validity window and descriptions.
//!
//! [`applicable`] picks the rules that judge a certificate — the arrival country's acceptance
//! rules and the issuing country's invalidation rules, of its type or `General`, in force at
//! the validation time, the highest version of each identifier — and [`check`] evaluates
//! them over `{"payload", "external"}` as the gateway's verifiers did. A rule holds when it
//! evaluates to `true`; one that cannot be evaluated is reported apart, so that the verdict
//! becomes "cannot confirm", never "valid".

use carnet_codec::cose::VerifyingKey;
use ring::rand::SecureRandom;
use ring::signature::EcdsaKeyPair;
use serde_json::Value as Json;

use crate::CertsError;
use crate::certlogic::{Data, evaluate_in, validate};
use crate::signed_list::{self, ListHeader};

/// Largest rule list read, in bytes.
pub const MAX_RULES_BYTES: usize = 4 * 1024 * 1024;
/// Most rules in one list.
pub const MAX_RULES: usize = 2000;

/// What a rule is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// The arrival country's condition of entry.
    Acceptance,
    /// The issuing country's withdrawal of certificates it issued.
    Invalidation,
}

/// The certificates a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleScope {
    /// Every certificate.
    General,
    /// Vaccination certificates (`v`).
    Vaccination,
    /// Test certificates (`t`).
    Test,
    /// Recovery certificates (`r`).
    Recovery,
}

impl RuleScope {
    /// The scope of a payload: the type of its one entry (`v`, `t` or `r`).
    #[must_use]
    pub fn of_payload(payload: &Json) -> Option<RuleScope> {
        let present = |key: &str| {
            payload
                .get(key)
                .and_then(Json::as_array)
                .is_some_and(|entries| !entries.is_empty())
        };
        match (present("v"), present("t"), present("r")) {
            (true, false, false) => Some(RuleScope::Vaccination),
            (false, true, false) => Some(RuleScope::Test),
            (false, false, true) => Some(RuleScope::Recovery),
            _ => None,
        }
    }
}

/// One business rule.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessRule {
    /// `VR-FR-0001`: the rule's name across its versions.
    pub identifier: String,
    /// Acceptance or invalidation.
    pub kind: RuleKind,
    /// The country (ISO 3166-1 alpha-2) whose rule it is.
    pub country: String,
    /// The region of that country it is limited to, when it is (not chosen by
    /// [`applicable`], which judges for a whole country).
    pub region: Option<String>,
    /// Its version, `major.minor.patch`.
    pub version: (u32, u32, u32),
    /// The certificates it is about.
    pub scope: RuleScope,
    /// What it says, by language (`en`, `fr`…).
    pub descriptions: Vec<(String, String)>,
    /// In force from, Unix seconds.
    pub valid_from: i64,
    /// In force until, Unix seconds.
    pub valid_to: i64,
    /// The payload fields it looks at.
    pub affected_fields: Vec<String>,
    /// The CertLogic expression.
    pub logic: Json,
}

fn text<'a>(rule: &'a Json, field: &str) -> Result<&'a str, CertsError> {
    rule.get(field)
        .and_then(Json::as_str)
        .ok_or_else(|| CertsError::Rule(format!("the rule has no {field}")))
}

/// `YYYY-MM-DDThh:mm:ss[.S](Z|±hh:mm)` as Unix seconds.
fn instant(text: &str) -> Result<i64, CertsError> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(time::OffsetDateTime::unix_timestamp)
        .map_err(|_| CertsError::Rule(format!("not a date-time: {text:?}")))
}

impl BusinessRule {
    /// Reads one rule as the gateway writes it, its logic validated.
    ///
    /// # Errors
    /// [`CertsError::Rule`] for a field missing or of the wrong kind, an engine other than
    /// CertLogic, or logic that does not validate (its first issue, in words).
    pub fn from_json(rule: &Json) -> Result<Self, CertsError> {
        let identifier = text(rule, "Identifier")?.to_owned();
        let within = |message: String| CertsError::Rule(format!("{identifier}: {message}"));
        if !text(rule, "Engine")?.eq_ignore_ascii_case("CERTLOGIC") {
            return Err(within("its engine is not CertLogic".into()));
        }
        let kind = match text(rule, "Type")? {
            "Acceptance" => RuleKind::Acceptance,
            "Invalidation" => RuleKind::Invalidation,
            other => return Err(within(format!("unknown rule type {other:?}"))),
        };
        let scope = match text(rule, "CertificateType")? {
            "General" => RuleScope::General,
            "Vaccination" => RuleScope::Vaccination,
            "Test" => RuleScope::Test,
            "Recovery" => RuleScope::Recovery,
            other => return Err(within(format!("unknown certificate type {other:?}"))),
        };
        let version = {
            let parts: Vec<u32> = text(rule, "Version")?
                .split('.')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(|_| within("its version is not major.minor.patch".into()))?;
            match parts.as_slice() {
                [major, minor, patch] => (*major, *minor, *patch),
                _ => return Err(within("its version is not major.minor.patch".into())),
            }
        };
        let logic = rule
            .get("Logic")
            .cloned()
            .ok_or_else(|| within("it has no Logic".into()))?;
        if let Some(issue) = validate(&logic).into_iter().next() {
            return Err(within(format!(
                "its logic is not valid CertLogic: {}",
                issue.message
            )));
        }
        let descriptions = rule
            .get("Description")
            .and_then(Json::as_array)
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|entry| {
                        Some((
                            entry.get("lang")?.as_str()?.to_owned(),
                            entry.get("desc")?.as_str()?.to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let affected_fields = rule
            .get("AffectedFields")
            .and_then(Json::as_array)
            .map(|fields| {
                fields
                    .iter()
                    .filter_map(Json::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(BusinessRule {
            kind,
            country: text(rule, "Country")?.to_ascii_uppercase(),
            region: rule
                .get("Region")
                .and_then(Json::as_str)
                .filter(|region| !region.trim().is_empty())
                .map(str::to_owned),
            version,
            scope,
            descriptions,
            valid_from: instant(text(rule, "ValidFrom")?)?,
            valid_to: instant(text(rule, "ValidTo")?)?,
            affected_fields,
            logic,
            identifier,
        })
    }

    /// Its description in `language`, else in English, else the first one.
    #[must_use]
    pub fn description(&self, language: &str) -> Option<&str> {
        self.descriptions
            .iter()
            .find(|(lang, _)| lang == language)
            .or_else(|| self.descriptions.iter().find(|(lang, _)| lang == "en"))
            .or_else(|| self.descriptions.first())
            .map(|(_, text)| text.as_str())
    }
}

/// Reads a list of rules (a JSON array of rule objects).
///
/// # Errors
/// [`CertsError::Rule`] past [`MAX_RULES_BYTES`] or [`MAX_RULES`], or for JSON that is not
/// a list of valid rules.
pub fn parse_rules(bytes: &[u8]) -> Result<Vec<BusinessRule>, CertsError> {
    if bytes.len() > MAX_RULES_BYTES {
        return Err(CertsError::Rule(format!(
            "the rule list is larger than {MAX_RULES_BYTES} bytes"
        )));
    }
    let json: Json = serde_json::from_slice(bytes)
        .map_err(|e| CertsError::Rule(format!("the rule list is not JSON: {e}")))?;
    let Json::Array(rules) = json else {
        return Err(CertsError::Rule("the rule list is not a list".into()));
    };
    read_all(&rules)
}

/// A verified, signed list of business rules (kind `carnet-dcc-rules`): the gateway's rules
/// of every country, as the reference server distributes them.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleList {
    header: ListHeader,
    rules: Vec<BusinessRule>,
}

impl RuleList {
    /// The `kind` of a signed rule list.
    pub const KIND: &'static str = "carnet-dcc-rules";

    /// Verifies and reads a signed rule list.
    ///
    /// # Errors
    /// [`CertsError::List`] or [`CertsError::Signature`] for the envelope,
    /// [`CertsError::Rule`] for a rule that does not read: a list with one bad rule is refused
    /// whole.
    pub fn open(bytes: &[u8], anchor: &VerifyingKey) -> Result<Self, CertsError> {
        let (header, body) = signed_list::open_json(bytes, anchor, Self::KIND)?;
        let rules = body
            .as_array()
            .ok_or_else(|| CertsError::List("the rule list is not a list".into()))?;
        Ok(RuleList {
            header,
            rules: read_all(rules)?,
        })
    }

    /// Signs rules (the gateway's JSON objects) as a list, after reading each.
    ///
    /// # Errors
    /// [`CertsError::Rule`] for a rule that does not read, [`CertsError::List`] when signing
    /// fails.
    pub fn seal(
        header: &ListHeader,
        rules: &[Json],
        key: &EcdsaKeyPair,
        kid: &[u8],
        rng: &dyn SecureRandom,
    ) -> Result<Vec<u8>, CertsError> {
        read_all(rules)?;
        signed_list::seal_json(
            Self::KIND,
            header,
            &Json::Array(rules.to_vec()),
            key,
            kid,
            rng,
        )
    }

    /// The list's header.
    #[must_use]
    pub fn header(&self) -> &ListHeader {
        &self.header
    }

    /// The rules, every country's.
    #[must_use]
    pub fn rules(&self) -> &[BusinessRule] {
        &self.rules
    }
}

fn read_all(rules: &[Json]) -> Result<Vec<BusinessRule>, CertsError> {
    if rules.len() > MAX_RULES {
        return Err(CertsError::Rule(format!(
            "the rule list has more than {MAX_RULES} rules"
        )));
    }
    rules.iter().map(BusinessRule::from_json).collect()
}

/// The rules that judge a certificate of `scope` issued by `issuer`, shown in `arrival`, at
/// `at` (Unix seconds): the arrival country's acceptance rules and the issuer's invalidation
/// rules, of that scope or general, in force, the highest version of each identifier.
#[must_use]
pub fn applicable<'a>(
    rules: &'a [BusinessRule],
    arrival: &str,
    issuer: &str,
    scope: RuleScope,
    at: i64,
) -> Vec<&'a BusinessRule> {
    let mut chosen: Vec<&BusinessRule> = Vec::new();
    for rule in rules.iter().filter(|rule| {
        let country = match rule.kind {
            RuleKind::Acceptance => arrival,
            RuleKind::Invalidation => issuer,
        };
        rule.country.eq_ignore_ascii_case(country)
            && rule.region.is_none()
            && (rule.scope == RuleScope::General || rule.scope == scope)
            && rule.valid_from <= at
            && at < rule.valid_to
    }) {
        match chosen
            .iter_mut()
            .find(|kept| kept.identifier == rule.identifier)
        {
            Some(kept) if kept.version < rule.version => *kept = rule,
            Some(_) => {}
            None => chosen.push(rule),
        }
    }
    chosen.sort_by(|a, b| a.identifier.cmp(&b.identifier));
    chosen
}

/// What one rule said of a certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleOutcome<'a> {
    /// The rule.
    pub rule: &'a BusinessRule,
    /// `Ok(true)` holds, `Ok(false)` does not, `Err` could not be evaluated (why, in words).
    pub result: Result<bool, String>,
}

/// Evaluates `rules` over the certificate's `payload` and the `external` data (`{"valueSets",
/// "validationClock", "countryCode", "exp", "iat"}`).
#[must_use]
pub fn check<'a>(
    rules: &[&'a BusinessRule],
    payload: &Json,
    external: &Json,
) -> Vec<RuleOutcome<'a>> {
    let value_sets = external.get("valueSets").unwrap_or(&Json::Null);
    check_with_value_sets(rules, payload, external, value_sets)
}

/// As [`check`], with `external.valueSets` given apart and read in place (the same large
/// sets for every certificate: never copied).
#[must_use]
pub fn check_with_value_sets<'a>(
    rules: &[&'a BusinessRule],
    payload: &Json,
    external: &Json,
    value_sets: &Json,
) -> Vec<RuleOutcome<'a>> {
    let data = Data::Gateway {
        payload,
        external,
        value_sets,
    };
    rules
        .iter()
        .map(|rule| RuleOutcome {
            rule,
            result: evaluate_in(&rule.logic, data)
                .map(|value| value.into_json() == Json::Bool(true))
                .map_err(|error| error.to_string()),
        })
        .collect()
}
