//! Identity records: NIR and INS.
//!
//! `InsKind`, `Sex` and `InsInput` are the core's own types, declared as UniFFI remote types;
//! `NirInfo` and `InsInfo` are projections of types whose fields are private (see
//! `docs/adr/0007-binding-types.md`).

pub use carnet::{InsInput, InsKind, Sex};

/// A checked NIR, normalised, with what it encodes.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NirInfo {
    /// The 15 characters, no spaces, `2A`/`2B` in upper case (full number: do not log it).
    pub normalized: String,
    /// The form safe for logs: `2*****…70`.
    pub redacted: String,
    /// Position 1: 1 or 2 (man, woman); 3, 4, 7, 8 for temporary numbers.
    pub sex_code: u8,
    /// Positions 2–3: last two digits of the birth year.
    pub birth_year_digits: u8,
    /// Positions 4–5: birth month 1–12, or a code when unknown.
    pub birth_month_code: u8,
    /// Positions 6–10: INSEE code of the birth place (`99` + country when born abroad).
    pub birth_place_code: String,
    /// Positions 11–13: order number.
    pub order_number: u16,
    /// Positions 14–15: control key.
    pub control_key: u8,
    /// Born abroad (positions 6–7 read `99`).
    pub born_abroad: bool,
}

impl From<carnet::Nir> for NirInfo {
    fn from(nir: carnet::Nir) -> Self {
        let details = nir.details();
        NirInfo {
            normalized: nir.as_str().to_owned(),
            redacted: nir.redacted(),
            sex_code: details.sex_code,
            birth_year_digits: details.birth_year_digits,
            birth_month_code: details.birth_month_code,
            birth_place_code: details.birth_place_code,
            order_number: details.order_number,
            control_key: details.control_key,
            born_abroad: details.born_abroad,
        }
    }
}

/// Which kind of matricule an INS carries.
#[uniffi::remote(Enum)]
pub enum InsKind {
    /// OID `1.2.250.1.213.1.4.8`: a NIR.
    Nir,
    /// OID `1.2.250.1.213.1.4.9`: a NIA.
    Nia,
    /// OID `1.2.250.1.213.1.4.10`: a test identity.
    Test,
    /// OID `1.2.250.1.213.1.4.11`: a demonstration identity.
    Demo,
}

/// Sex as the INS traits record it.
#[uniffi::remote(Enum)]
pub enum Sex {
    /// `M`.
    Male,
    /// `F`.
    Female,
    /// `I`.
    Indeterminate,
}

/// An INS as typed or read from a form: every field as text.
#[uniffi::remote(Record)]
pub struct InsInput {
    /// NIR or NIA, spaces allowed.
    pub matricule: String,
    /// OID of the matricule.
    pub oid: String,
    /// Birth name (nom de naissance).
    pub birth_name: String,
    /// Birth given names, space-separated.
    pub birth_given_names: String,
    /// `M`, `F` or `I`.
    pub sex: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// INSEE code of the birth place.
    pub birth_place: String,
}

/// A checked INS.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InsInfo {
    /// The matricule, checked and normalised.
    pub matricule: NirInfo,
    /// Which kind of matricule it carries (NIR, NIA, test, demo).
    pub kind: InsKind,
    /// Its OID.
    pub oid: String,
    /// Birth name, trimmed.
    pub birth_name: String,
    /// Birth given names, single-spaced.
    pub birth_given_names: String,
    /// Sex as the INS traits record it.
    pub sex: Sex,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// INSEE birth place code.
    pub birth_place: String,
}

impl From<carnet::Ins> for InsInfo {
    fn from(ins: carnet::Ins) -> Self {
        InsInfo {
            matricule: (*ins.matricule()).into(),
            kind: ins.kind(),
            oid: ins.oid().to_owned(),
            birth_name: ins.birth_name().to_owned(),
            birth_given_names: ins.birth_given_names().to_owned(),
            sex: ins.sex(),
            birth_date: ins.birth_date().to_string(),
            birth_place: ins.birth_place().to_owned(),
        }
    }
}
