//! Identity vigilance: a document that names another patient is kept apart.
//!
//! The record knows the INS of its owner ([`crate::Patient::ins`]) and of each person on the
//! card enrolled on this phone. A document whose patient INS is none of them, or whose
//! patient's sex or birth date contradicts what its INS encodes, is *not for this person*:
//! it is kept (nothing the health space or a professional sent is lost) but never listed as
//! theirs, never searched, never shown to a professional and never sent to the health space.
//! A record that knows no INS yet takes documents as they come, each showing the patient it
//! names; they are judged again once an INS becomes known.

use serde::{Deserialize, Serialize};

use crate::card::known_card_ins;
use crate::document::{DOCUMENT, Document};
use crate::error::Result;
use crate::record::{PATIENT, PATIENT_ID, Patient};
use crate::store::{Reader, Writer};

/// Who a document is for, as the record judged it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "judged", rename_all = "snake_case")]
pub enum Addressee {
    /// This person's: it names the record's owner or a person on the card, or no patient.
    #[default]
    ThisPerson,
    /// Taken as it came: the record knew no INS for its owner when it arrived, so the patient
    /// it names ([`Document::patient`]) could not be compared.
    Unchecked,
    /// Not for this person: kept apart, never listed as theirs nor sent to the health space.
    NotForThisPerson {
        /// Why, in words a person understands.
        reason: String,
    },
}

impl Addressee {
    /// Whether the document is kept apart.
    pub fn is_apart(&self) -> bool {
        matches!(self, Addressee::NotForThisPerson { .. })
    }
}

/// The patient a document names (a CDA's `recordTarget`), as it says it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NamedPatient {
    /// The name shown for them.
    pub name: String,
    /// Sex: `M`, `F` (anything else is not compared).
    pub sex: Option<String>,
    /// Birth date, `YYYY-MM-DD`.
    pub birth_date: Option<String>,
}

/// The INS matricules this record knows: its owner's, then the card's people's.
pub(crate) fn known_ins(reader: &Reader<'_>) -> Result<Vec<String>> {
    let owner: Option<Patient> = reader.get(PATIENT, PATIENT_ID)?;
    let mut known: Vec<String> = owner.and_then(|p| p.ins).into_iter().collect();
    known.extend(known_card_ins(reader)?);
    Ok(known)
}

/// Judges who a document naming `ins` and `patient` is for, against the `known` INS.
pub(crate) fn judge(
    known: &[String],
    ins: Option<&str>,
    patient: Option<&NamedPatient>,
) -> Addressee {
    let named = || {
        patient
            .map(|p| p.name.trim())
            .filter(|name| !name.is_empty())
            .unwrap_or("a patient without a name")
    };
    let Some(ins) = ins.map(str::trim).filter(|ins| !ins.is_empty()) else {
        // No INS to compare: the person's own file, or one naming only a name.
        return if known.is_empty() && patient.is_some() {
            Addressee::Unchecked
        } else {
            Addressee::ThisPerson
        };
    };
    if known.is_empty() {
        return Addressee::Unchecked;
    }
    if !known.iter().any(|mine| same_matricule(mine, ins)) {
        return Addressee::NotForThisPerson {
            reason: format!(
                "it is about another patient: {} (INS {})",
                named(),
                carnet_identity::redact(ins)
            ),
        };
    }
    match patient.and_then(|p| contradiction(ins, p)) {
        Some(trait_name) => Addressee::NotForThisPerson {
            reason: format!(
                "its patient's {trait_name} contradicts the INS it gives: the document may \
                 be about someone else"
            ),
        },
        None => Addressee::ThisPerson,
    }
}

/// Judges again, against what the record now knows, the documents taken unchecked: those for
/// another patient go apart (and off the upload queue).
pub(crate) fn judge_unchecked_again(writer: &mut Writer<'_>) -> Result<()> {
    let known = known_ins(&writer.reader())?;
    if known.is_empty() {
        return Ok(());
    }
    let documents: Vec<(String, Document)> = writer.reader().list(DOCUMENT)?;
    for (id, mut document) in documents {
        if document.addressee != Addressee::Unchecked {
            continue;
        }
        document.addressee = judge(&known, document.ins.as_deref(), document.patient.as_ref());
        if document.addressee.is_apart() {
            tracing::warn!("a document taken unchecked is for another patient: kept apart");
            writer.delete(crate::outbox::UPLOAD, &id)?;
        }
        writer.put(DOCUMENT, &id, &document)?;
    }
    Ok(())
}

/// Whether two INS matricules are the same person's: the 13 digits, the key being derived
/// from them (one side may be given without it).
fn same_matricule(a: &str, b: &str) -> bool {
    let digits =
        |s: &str| -> String { s.chars().filter(|c| !c.is_whitespace()).take(13).collect() };
    let (a, b) = (digits(a), digits(b));
    a.len() == 13 && a.eq_ignore_ascii_case(&b)
}

/// The trait of `patient` that contradicts matricule `ins`, if any (one that does not read
/// is not compared).
fn contradiction(ins: &str, patient: &NamedPatient) -> Option<&'static str> {
    let matricule = carnet_identity::Nir::parse(ins).ok()?;
    let sex = patient
        .sex
        .as_deref()
        .and_then(|s| carnet_identity::Sex::from_code(s).ok());
    let birth_date = patient
        .birth_date
        .as_deref()
        .and_then(|d| carnet_identity::BirthDate::parse(d).ok());
    carnet_identity::contradicted_trait(&matricule, sex, birth_date).map(|name| match name {
        "sex" => "sex",
        _ => "birth date",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: &str = "279035121518989";

    fn named(sex: &str, birth: &str) -> NamedPatient {
        NamedPatient {
            name: "Marie Dupont".into(),
            sex: Some(sex.into()),
            birth_date: Some(birth.into()),
        }
    }

    #[test]
    fn documents_are_judged_against_the_known_ins() {
        let known = vec![OWNER.to_owned()];
        let agreeing = named("F", "1979-03-02");
        assert_eq!(
            judge(&known, Some(OWNER), Some(&agreeing)),
            Addressee::ThisPerson
        );
        // Given without its key.
        assert_eq!(
            judge(&known, Some("2790351215189"), None),
            Addressee::ThisPerson
        );
        assert_eq!(judge(&known, None, None), Addressee::ThisPerson);
        let other = judge(&known, Some("180012B07300470"), Some(&agreeing));
        let Addressee::NotForThisPerson { reason } = other else {
            panic!("{other:?}")
        };
        assert!(
            reason.contains("Marie Dupont") && reason.contains("1*****…70"),
            "{reason}"
        );
        assert!(!reason.contains("180012B073"), "{reason}");
    }

    #[test]
    fn traits_that_contradict_the_ins_put_a_document_apart() {
        let known = vec![OWNER.to_owned()];
        for (patient, trait_name) in [
            (named("M", "1979-03-02"), "sex"),
            (named("F", "1980-03-02"), "birth date"),
            (named("F", "1979-04-02"), "birth date"),
        ] {
            let judged = judge(&known, Some(OWNER), Some(&patient));
            let Addressee::NotForThisPerson { reason } = judged else {
                panic!("{judged:?}")
            };
            assert!(reason.contains(trait_name), "{reason}");
        }
        // What does not read is not compared.
        assert_eq!(
            judge(&known, Some(OWNER), Some(&named("U", "19790302"))),
            Addressee::ThisPerson
        );
    }

    #[test]
    fn a_record_without_ins_takes_what_names_a_patient_unchecked() {
        assert_eq!(judge(&[], Some(OWNER), None), Addressee::Unchecked);
        assert_eq!(
            judge(&[], None, Some(&named("F", "1979-03-02"))),
            Addressee::Unchecked
        );
        assert_eq!(judge(&[], None, None), Addressee::ThisPerson);
    }
}
