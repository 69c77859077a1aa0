//! What each reader may ask of an ApCV (`data/reader-policy.json`, with the sources it
//! follows): by the profession its verified certificate names, a set of elements; a reader
//! that does not authenticate may get the names, and only if the person chooses to give them.
//! The holder's phone applies it when it answers: what is asked beyond it is never shown,
//! whatever the person taps.

use std::sync::OnceLock;

use crate::reader_trust::VerifiedReader;

/// The policy file, embedded.
const POLICY_JSON: &str = include_str!("../data/reader-policy.json");

/// One profession's entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Profession {
    code: String,
    label: String,
    may_ask: Vec<String>,
}

/// The policy file's shape.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    about: String,
    sources: Vec<String>,
    billing: Vec<String>,
    admission: Vec<String>,
    professions: Vec<Profession>,
    unauthenticated_if_chosen: Vec<String>,
}

/// What readers may ask, by profession.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderPolicy {
    file: PolicyFile,
}

impl ReaderPolicy {
    /// The policy Carnet ships. A file that did not parse would give every reader nothing
    /// (`tests` check that it parses).
    #[must_use]
    pub fn standard() -> &'static ReaderPolicy {
        static POLICY: OnceLock<ReaderPolicy> = OnceLock::new();
        POLICY.get_or_init(|| ReaderPolicy {
            file: serde_json::from_str(POLICY_JSON).unwrap_or(PolicyFile {
                about: String::new(),
                sources: Vec::new(),
                billing: Vec::new(),
                admission: Vec::new(),
                professions: Vec::new(),
                unauthenticated_if_chosen: Vec::new(),
            }),
        })
    }

    fn group(&self, name: &str) -> &[String] {
        match name {
            "billing" => &self.file.billing,
            "admission" => &self.file.admission,
            _ => &[],
        }
    }

    /// The elements `reader` may be given: its profession's, or (`None`: it did not
    /// authenticate) those the person may choose to give.
    #[must_use]
    pub fn allowed(&self, reader: Option<&VerifiedReader>) -> Vec<&str> {
        let Some(reader) = reader else {
            return self
                .file
                .unauthenticated_if_chosen
                .iter()
                .map(String::as_str)
                .collect();
        };
        self.file
            .professions
            .iter()
            .filter(|profession| profession.code == reader.profession)
            .flat_map(|profession| profession.may_ask.iter())
            .flat_map(|group| self.group(group))
            .map(String::as_str)
            .collect()
    }

    /// The profession's name for a code (`21` → `Pharmacien`), if the policy knows it.
    #[must_use]
    pub fn profession_label(&self, code: &str) -> Option<&str> {
        self.file
            .professions
            .iter()
            .find(|profession| profession.code == code)
            .map(|profession| profession.label.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader_trust::ProfessionalId;

    fn reader(profession: &str) -> VerifiedReader {
        VerifiedReader {
            key: Vec::new(),
            name: "Pharmacie du Port".into(),
            organisation: "SELARL du Port".into(),
            identifier: ProfessionalId::Rpps("10003456789".into()),
            profession: profession.into(),
            hosts: Vec::new(),
            serial: vec![1],
            not_after: 0,
        }
    }

    #[test]
    fn the_shipped_policy_parses_and_says_who_gets_what() {
        let file: PolicyFile = serde_json::from_str(POLICY_JSON).unwrap();
        assert!(!file.sources.is_empty() && !file.about.is_empty());
        let policy = ReaderPolicy::standard();
        let pharmacist = policy.allowed(Some(&reader("21")));
        assert!(pharmacist.contains(&"nir") && pharmacist.contains(&"amo_valid_until"));
        assert!(!pharmacist.contains(&"ins_matricule") && !pharmacist.contains(&"birth_place"));
        let hospital = policy.allowed(Some(&reader("etablissement")));
        assert!(hospital.contains(&"ins_matricule") && hospital.contains(&"birth_place"));
        assert!(hospital.contains(&"nir"));
        assert!(policy.allowed(Some(&reader("99"))).is_empty());
        let anonymous = policy.allowed(None);
        assert_eq!(anonymous, vec!["family_name", "given_names"]);
        assert_eq!(policy.profession_label("21"), Some("Pharmacien"));
        // Every element a group names is one the credential defines.
        let known = [
            "nir",
            "ins_matricule",
            "ins_oid",
            "family_name",
            "given_names",
            "birth_date",
            "sex",
            "birth_place",
            "beneficiary_rank",
            "regime",
            "caisse",
            "centre",
            "amo_valid_from",
            "amo_valid_until",
            "amc",
            "portrait",
        ];
        for element in file.billing.iter().chain(&file.admission) {
            assert!(known.contains(&element.as_str()), "{element}");
        }
        for profession in &file.professions {
            for group in &profession.may_ask {
                assert!(!policy.group(group).is_empty(), "{group}");
            }
        }
    }
}
