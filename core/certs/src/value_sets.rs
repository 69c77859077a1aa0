//! The EU DCC value sets: the codes a certificate may use for disease, vaccine product,
//! manufacturer, test type, test result and country, with the names people read.
//!
//! Each value set is the eHealth Network's JSON (`valueSetId`, `valueSetDate`,
//! `valueSetValues`: code → `{display, lang, active, system, version}`). Carnet ships the last
//! published ones (`data/valuesets/`, [`ValueSets::shipped`]); the reference server distributes
//! newer ones as a signed list ([`ValueSets::open`], kind `carnet-dcc-valuesets`) that
//! `lists update` keeps. The business rules see them as the gateway's verifiers gave them:
//! `external.valueSets` maps each identifier to its list of codes ([`ValueSets::codes`]).

use std::collections::BTreeMap;

use carnet_codec::cose::VerifyingKey;
use ring::rand::SecureRandom;
use ring::signature::EcdsaKeyPair;
use serde_json::Value as Json;

use crate::CertsError;
use crate::signed_list::{self, ListHeader};

/// Most value sets in one list.
pub const MAX_VALUE_SETS: usize = 64;
/// Most codes in one value set.
pub const MAX_CODES: usize = 10_000;

/// The value sets Carnet ships, as published.
const SHIPPED: [&str; 8] = [
    include_str!("../data/valuesets/country-2-codes.json"),
    include_str!("../data/valuesets/disease-agent-targeted.json"),
    include_str!("../data/valuesets/test-manf-example.json"),
    include_str!("../data/valuesets/test-result.json"),
    include_str!("../data/valuesets/test-type.json"),
    include_str!("../data/valuesets/vaccine-mah-manf.json"),
    include_str!("../data/valuesets/vaccine-medicinal-product.json"),
    include_str!("../data/valuesets/vaccine-prophylaxis.json"),
];

/// The documents of the value sets Carnet ships, as published (the reference server serves
/// them when its operator gives none).
#[must_use]
pub fn shipped_documents() -> Vec<Json> {
    SHIPPED
        .iter()
        .filter_map(|text| serde_json::from_str(text).ok())
        .collect()
}

/// Which value set names the code of each payload field.
const FIELD_SETS: [(&str, &str); 8] = [
    ("tg", "disease-agent-targeted"),
    ("vp", "sct-vaccines-covid-19"),
    ("mp", "vaccines-covid-19-names"),
    ("ma", "vaccines-covid-19-auth-holders"),
    ("tt", "covid-19-lab-test-type"),
    ("tr", "covid-19-lab-result"),
    ("co", "country-2-codes"),
    // Test manufacturers share the `ma` field with vaccine makers; see `display_field`.
    ("ma.t", "covid-19-lab-test-manufacturer-and-name"),
];

/// One value set: its date and each code's display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSet {
    /// `valueSetDate`, as published (`2021-04-27`).
    pub date: String,
    /// Code → display name (`EU/1/20/1528` → `Comirnaty`).
    pub names: BTreeMap<String, String>,
}

/// The value sets a verifier holds, by identifier, and the list header when they came signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSets {
    header: Option<ListHeader>,
    sets: BTreeMap<String, ValueSet>,
    /// `external.valueSets`, built once.
    codes: Json,
}

impl ValueSets {
    /// The `kind` of a signed value-set list.
    pub const KIND: &'static str = "carnet-dcc-valuesets";

    /// The value sets shipped with Carnet (the last the eHealth Network published).
    #[must_use]
    pub fn shipped() -> Self {
        let documents = shipped_documents();
        // The shipped files are fixed and parse; a failure would leave the set empty, which
        // the rules then report as "cannot confirm" rather than valid.
        Self::from_documents(None, &documents).unwrap_or_else(|_| ValueSets {
            header: None,
            sets: BTreeMap::new(),
            codes: Json::Object(serde_json::Map::new()),
        })
    }

    /// The shipped value sets, read once for the process (the names the wallet shows).
    #[must_use]
    pub fn shipped_ref() -> &'static Self {
        static SHIPPED_SETS: std::sync::LazyLock<ValueSets> =
            std::sync::LazyLock::new(ValueSets::shipped);
        &SHIPPED_SETS
    }

    /// Value sets from their published documents.
    ///
    /// # Errors
    /// [`CertsError::List`] for a document that is not a value set or past the limits.
    pub fn from_documents(
        header: Option<ListHeader>,
        documents: &[Json],
    ) -> Result<Self, CertsError> {
        if documents.len() > MAX_VALUE_SETS {
            return Err(CertsError::List(format!(
                "more than {MAX_VALUE_SETS} value sets"
            )));
        }
        let mut sets = BTreeMap::new();
        for document in documents {
            let id = document
                .get("valueSetId")
                .and_then(Json::as_str)
                .ok_or_else(|| CertsError::List("a value set has no valueSetId".into()))?;
            let values = document
                .get("valueSetValues")
                .and_then(Json::as_object)
                .ok_or_else(|| CertsError::List(format!("value set {id} has no values")))?;
            if values.len() > MAX_CODES {
                return Err(CertsError::List(format!(
                    "value set {id} has more than {MAX_CODES} codes"
                )));
            }
            let names = values
                .iter()
                .map(|(code, value)| {
                    let display = value.get("display").and_then(Json::as_str).unwrap_or(code);
                    (code.clone(), display.to_owned())
                })
                .collect();
            let date = document
                .get("valueSetDate")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_owned();
            sets.insert(id.to_owned(), ValueSet { date, names });
        }
        let codes = Json::Object(
            sets.iter()
                .map(|(id, set): (&String, &ValueSet)| {
                    let codes = set.names.keys().cloned().map(Json::String).collect();
                    (id.clone(), Json::Array(codes))
                })
                .collect(),
        );
        Ok(ValueSets {
            header,
            sets,
            codes,
        })
    }

    /// Verifies and reads a signed value-set list (a JSON array of value-set documents).
    ///
    /// # Errors
    /// [`CertsError::List`] or [`CertsError::Signature`].
    pub fn open(bytes: &[u8], anchor: &VerifyingKey) -> Result<Self, CertsError> {
        let (header, body) = signed_list::open_json(bytes, anchor, Self::KIND)?;
        let documents = body
            .as_array()
            .ok_or_else(|| CertsError::List("the value-set list is not a list".into()))?;
        Self::from_documents(Some(header), documents)
    }

    /// Signs value-set documents as a list (the reference server publishes them so).
    ///
    /// # Errors
    /// [`CertsError::List`] when encoding or signing fails.
    pub fn seal(
        header: &ListHeader,
        documents: &[Json],
        key: &EcdsaKeyPair,
        kid: &[u8],
        rng: &dyn SecureRandom,
    ) -> Result<Vec<u8>, CertsError> {
        signed_list::seal_json(
            Self::KIND,
            header,
            &Json::Array(documents.to_vec()),
            key,
            kid,
            rng,
        )
    }

    /// The signed list's header, `None` for the shipped sets.
    #[must_use]
    pub fn header(&self) -> Option<&ListHeader> {
        self.header.as_ref()
    }

    /// The value set `id`.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&ValueSet> {
        self.sets.get(id)
    }

    /// `external.valueSets` as the business rules read it: identifier → list of codes.
    #[must_use]
    pub fn codes(&self) -> &Json {
        &self.codes
    }

    /// The name people read for the code of payload field `field` (`mp`, `ma`, `tt`…) in a
    /// certificate of group `group` (`v`, `t`, `r`); `None` when no value set knows it.
    #[must_use]
    pub fn display_field(&self, group: &str, field: &str, code: &str) -> Option<&str> {
        let key = if field == "ma" && group == "t" {
            "ma.t"
        } else {
            field
        };
        let id = FIELD_SETS
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, id)| *id)?;
        self.get(id)?.names.get(code).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_sets_name_codes_people_see() {
        let sets = ValueSets::shipped();
        assert_eq!(
            sets.display_field("v", "mp", "EU/1/20/1528"),
            Some("Comirnaty")
        );
        assert_eq!(
            sets.display_field("v", "ma", "ORG-100001699"),
            Some("AstraZeneca AB")
        );
        assert_eq!(sets.display_field("v", "tg", "840539006"), Some("COVID-19"));
        assert_eq!(
            sets.display_field("t", "tr", "260415000"),
            Some("Not detected")
        );
        assert_eq!(
            sets.display_field("t", "ma", "1833"),
            Some("AAZ-LMB, COVID-VIRO")
        );
        assert_eq!(sets.display_field("v", "co", "FR"), Some("France"));
        assert_eq!(sets.display_field("v", "mp", "unknown"), None);
        let codes = sets.codes();
        assert!(
            codes["covid-19-lab-test-type"]
                .as_array()
                .unwrap()
                .contains(&Json::from("LP6464-4"))
        );
        assert!(sets.header().is_none());
    }

    #[test]
    fn malformed_or_oversized_sets_are_refused() {
        assert!(
            ValueSets::from_documents(None, &[serde_json::json!({"valueSetValues": {}})]).is_err()
        );
        assert!(
            ValueSets::from_documents(None, &[serde_json::json!({"valueSetId": "x"})]).is_err()
        );
        let many: serde_json::Map<String, Json> = (0..=MAX_CODES)
            .map(|i| (i.to_string(), serde_json::json!({"display": "x"})))
            .collect();
        let big = serde_json::json!({"valueSetId": "x", "valueSetValues": many});
        assert!(ValueSets::from_documents(None, &[big]).is_err());
    }
}
