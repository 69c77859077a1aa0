//! INS: the national health identifier, a matricule (NIR or NIA) qualified by an OID and
//! bound to the five reference identity traits.

use std::fmt;

use crate::{IdentityError, Nir};

/// Root of the INS identifier OIDs; the last arc says which kind of matricule it is.
const INS_OID_ROOT: &str = "1.2.250.1.213.1.4.";
/// Longest name or given-names trait accepted, in characters.
const MAX_NAME_CHARS: usize = 100;

/// Which kind of matricule an INS carries, from the last arc of its OID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InsKind {
    /// `1.2.250.1.213.1.4.8`: the person's NIR.
    Nir,
    /// `1.2.250.1.213.1.4.9`: a NIA (identification number awaiting a NIR).
    Nia,
    /// `1.2.250.1.213.1.4.10`: a test identity.
    Test,
    /// `1.2.250.1.213.1.4.11`: a demonstration identity.
    Demo,
}

impl InsKind {
    /// All kinds, in OID order.
    pub const ALL: [InsKind; 4] = [InsKind::Nir, InsKind::Nia, InsKind::Test, InsKind::Demo];

    /// The OID that qualifies a matricule of this kind.
    pub fn oid(self) -> &'static str {
        match self {
            InsKind::Nir => "1.2.250.1.213.1.4.8",
            InsKind::Nia => "1.2.250.1.213.1.4.9",
            InsKind::Test => "1.2.250.1.213.1.4.10",
            InsKind::Demo => "1.2.250.1.213.1.4.11",
        }
    }

    /// The kind named by an OID.
    ///
    /// # Errors
    /// [`IdentityError::InsOid`] for any OID other than the four INS ones.
    pub fn from_oid(oid: &str) -> Result<Self, IdentityError> {
        let oid = oid.trim();
        oid.strip_prefix(INS_OID_ROOT)
            .and_then(|arc| {
                InsKind::ALL
                    .into_iter()
                    .find(|kind| kind.oid().ends_with(&format!(".{arc}")))
            })
            .ok_or_else(|| IdentityError::InsOid(oid.chars().take(64).collect()))
    }

    /// True for identities that stand for real people (NIR and NIA), false for test and demo.
    pub fn is_real_person(self) -> bool {
        matches!(self, InsKind::Nir | InsKind::Nia)
    }
}

/// Sex as the INS reference traits record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Sex {
    /// `M`.
    #[serde(rename = "M")]
    Male,
    /// `F`.
    #[serde(rename = "F")]
    Female,
    /// `I`: indeterminate.
    #[serde(rename = "I")]
    Indeterminate,
}

impl Sex {
    /// Reads the one-letter code `M`, `F` or `I` (case-insensitive).
    ///
    /// # Errors
    /// [`IdentityError::InsTrait`] for anything else.
    pub fn from_code(code: &str) -> Result<Self, IdentityError> {
        match code.trim() {
            "M" | "m" => Ok(Sex::Male),
            "F" | "f" => Ok(Sex::Female),
            "I" | "i" => Ok(Sex::Indeterminate),
            _ => Err(IdentityError::InsTrait {
                name: "sex",
                reason: "expected M, F or I",
            }),
        }
    }
}

/// A calendar date of birth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BirthDate {
    year: u16,
    month: u8,
    day: u8,
}

impl BirthDate {
    /// A checked calendar date (years 1800–9999, leap years honoured).
    ///
    /// # Errors
    /// [`IdentityError::InsTrait`] naming `birth_date`.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, IdentityError> {
        let invalid = |reason| IdentityError::InsTrait {
            name: "birth_date",
            reason,
        };
        if !(1800..=9999).contains(&year) {
            return Err(invalid("year out of range"));
        }
        let leap =
            year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return Err(invalid("month out of range")),
        };
        if day == 0 || day > days_in_month {
            return Err(invalid("day out of range"));
        }
        Ok(BirthDate { year, month, day })
    }

    /// Reads `YYYY-MM-DD`.
    ///
    /// # Errors
    /// [`IdentityError::InsTrait`] naming `birth_date`.
    pub fn parse(text: &str) -> Result<Self, IdentityError> {
        let format = IdentityError::InsTrait {
            name: "birth_date",
            reason: "expected YYYY-MM-DD",
        };
        let bytes = text.trim().as_bytes();
        let well_formed = bytes.len() == 10
            && bytes.iter().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    *b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !well_formed {
            return Err(format);
        }
        let text = text.trim();
        let year = text.get(0..4).and_then(|s| s.parse().ok());
        let month = text.get(5..7).and_then(|s| s.parse().ok());
        let day = text.get(8..10).and_then(|s| s.parse().ok());
        match (year, month, day) {
            (Some(year), Some(month), Some(day)) => BirthDate::new(year, month, day),
            _ => Err(format),
        }
    }

    /// The year, four digits.
    pub fn year(&self) -> u16 {
        self.year
    }
    /// The month, 1–12.
    pub fn month(&self) -> u8 {
        self.month
    }
    /// The day of the month, 1–31.
    pub fn day(&self) -> u8 {
        self.day
    }
}

impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl serde::Serialize for BirthDate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The five reference identity traits of an INS, as unchecked input.
#[derive(Clone, PartialEq, Eq)]
pub struct InsTraits {
    /// Birth name (nom de naissance).
    pub birth_name: String,
    /// Birth given names, space-separated, in civil-status order.
    pub birth_given_names: String,
    /// Sex as the INS traits record it (`M`, `F`, `I`).
    pub sex: Sex,
    /// Date of birth.
    pub birth_date: BirthDate,
    /// INSEE code of the birth place: commune (`75056`, `2A004`) or `99` + country (`99100`).
    pub birth_place: String,
}

impl fmt::Debug for InsTraits {
    /// Identity traits are personal data: never printed, even in debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InsTraits { .. }")
    }
}

/// A checked INS: matricule, kind (from the OID) and reference traits.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ins {
    matricule: Nir,
    kind: InsKind,
    #[serde(flatten)]
    traits: CheckedTraits,
}

/// The traits once checked, kept private so that an [`Ins`] always holds valid ones.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
struct CheckedTraits {
    birth_name: String,
    birth_given_names: String,
    sex: Sex,
    birth_date: BirthDate,
    birth_place: String,
}

impl Ins {
    /// Checks an INS: the matricule as a NIR (a NIA has the same format and key), the OID, each
    /// trait's format, and that the traits agree with what the matricule encodes: the sex digit
    /// (1 = M, 2 = F; other digits are not compared), the birth year, and the birth month when
    /// the matricule gives one (01–12). The birth place is not compared, because commune codes
    /// change over time while a matricule keeps its original one.
    ///
    /// # Errors
    /// The first problem found, as an [`IdentityError`].
    pub fn new(matricule: &str, oid: &str, traits: InsTraits) -> Result<Self, IdentityError> {
        let matricule = Nir::parse(matricule)?;
        let kind = InsKind::from_oid(oid)?;
        let checked = CheckedTraits {
            birth_name: check_name("birth_name", &traits.birth_name)?,
            birth_given_names: check_name("birth_given_names", &traits.birth_given_names)?,
            sex: traits.sex,
            birth_date: traits.birth_date,
            birth_place: check_birth_place(&traits.birth_place)?,
        };
        if let Some(name) =
            contradicted_trait(&matricule, Some(checked.sex), Some(checked.birth_date))
        {
            return Err(IdentityError::InsMismatch { name });
        }
        Ok(Ins {
            matricule,
            kind,
            traits: checked,
        })
    }

    /// The matricule (NIR or NIA).
    pub fn matricule(&self) -> &Nir {
        &self.matricule
    }
    /// The kind, from the OID.
    pub fn kind(&self) -> InsKind {
        self.kind
    }
    /// The OID qualifying the matricule.
    pub fn oid(&self) -> &'static str {
        self.kind.oid()
    }
    /// Birth name, trimmed.
    pub fn birth_name(&self) -> &str {
        &self.traits.birth_name
    }
    /// Birth given names, trimmed, single-spaced.
    pub fn birth_given_names(&self) -> &str {
        &self.traits.birth_given_names
    }
    /// Sex as the INS traits record it.
    pub fn sex(&self) -> Sex {
        self.traits.sex
    }
    /// Date of birth.
    pub fn birth_date(&self) -> BirthDate {
        self.traits.birth_date
    }
    /// INSEE birth place code, upper case.
    pub fn birth_place(&self) -> &str {
        &self.traits.birth_place
    }
}

impl fmt::Debug for Ins {
    /// Shows the kind and the redacted matricule only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ins({:?}, {})", self.kind, self.matricule)
    }
}

/// The first trait among those given that contradicts what `matricule` encodes: `sex` (the
/// sex digit 1 = M, 2 = F; other digits and [`Sex::Indeterminate`] are not compared), then
/// `birth_date` (the birth year, and the month when the matricule gives one, 01–12). `None`
/// when what is given agrees, or nothing is.
pub fn contradicted_trait(
    matricule: &Nir,
    sex: Option<Sex>,
    birth_date: Option<BirthDate>,
) -> Option<&'static str> {
    let details = matricule.details();
    let sex_disagrees = match (details.sex_code, sex) {
        (1, Some(sex)) => sex != Sex::Male,
        (2, Some(sex)) => sex != Sex::Female,
        _ => false,
    };
    if sex_disagrees {
        return Some("sex");
    }
    let date_disagrees = birth_date.is_some_and(|date| {
        u16::from(details.birth_year_digits) != date.year() % 100
            || ((1..=12).contains(&details.birth_month_code)
                && details.birth_month_code != date.month())
    });
    date_disagrees.then_some("birth_date")
}

/// Checks a name trait: letters (any script, accents included), spaces, hyphens and
/// apostrophes; not empty; at most [`MAX_NAME_CHARS`]. Returns it trimmed and single-spaced.
fn check_name(name: &'static str, value: &str) -> Result<String, IdentityError> {
    let invalid = |reason| IdentityError::InsTrait { name, reason };
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid("empty"));
    }
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(invalid("too long"));
    }
    if !value
        .chars()
        .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\''))
    {
        return Err(invalid(
            "only letters, spaces, hyphens and apostrophes are allowed",
        ));
    }
    if !value.chars().any(char::is_alphabetic) {
        return Err(invalid("no letter"));
    }
    Ok(value.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Checks an INSEE birth place code: five characters, digits, or `2A`/`2B` then three digits.
fn check_birth_place(value: &str) -> Result<String, IdentityError> {
    let code = value.trim().to_ascii_uppercase();
    let bytes = code.as_bytes();
    let well_formed = bytes.len() == 5
        && match bytes {
            [b'2', b'A' | b'B', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
            _ => bytes.iter().all(u8::is_ascii_digit),
        };
    if well_formed {
        Ok(code)
    } else {
        Err(IdentityError::InsTrait {
            name: "birth_place",
            reason: "expected a 5-character INSEE code (digits, or 2A/2B and 3 digits)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traits() -> InsTraits {
        InsTraits {
            birth_name: " DUPONT ".into(),
            birth_given_names: "Marie  Anne".into(),
            sex: Sex::Female,
            birth_date: BirthDate::new(1953, 7, 14).unwrap(),
            birth_place: "2b073".into(),
        }
    }

    #[test]
    fn each_oid_names_its_kind() {
        for kind in InsKind::ALL {
            assert_eq!(InsKind::from_oid(kind.oid()), Ok(kind));
        }
        assert_eq!(InsKind::from_oid("1.2.250.1.213.1.4.8"), Ok(InsKind::Nir));
        assert_eq!(InsKind::from_oid("1.2.250.1.213.1.4.11"), Ok(InsKind::Demo));
        assert!(InsKind::Nia.is_real_person() && !InsKind::Test.is_real_person());
        for bad in [
            "1.2.250.1.213.1.4.1",
            "1.2.250.1.213.1.4.80",
            "1.2.250.1.213.1.4.",
            "",
            "8",
        ] {
            assert!(
                matches!(InsKind::from_oid(bad), Err(IdentityError::InsOid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_consistent_ins_is_accepted_and_normalised() {
        let ins = Ins::new("253072B07300470", InsKind::Nir.oid(), traits()).unwrap();
        assert_eq!(ins.kind(), InsKind::Nir);
        assert_eq!(ins.birth_name(), "DUPONT");
        assert_eq!(ins.birth_given_names(), "Marie Anne");
        assert_eq!(ins.birth_place(), "2B073");
        assert_eq!(ins.birth_date().to_string(), "1953-07-14");
        assert_eq!(format!("{ins:?}"), "Ins(Nir, 2*****…70)");
    }

    #[test]
    fn traits_contradicting_the_matricule_are_refused() {
        let male = InsTraits {
            sex: Sex::Male,
            ..traits()
        };
        assert_eq!(
            Ins::new("253072B07300470", InsKind::Nir.oid(), male),
            Err(IdentityError::InsMismatch { name: "sex" })
        );
        for date in [
            BirthDate::new(1954, 7, 14).unwrap(),
            BirthDate::new(1953, 8, 14).unwrap(),
        ] {
            let other = InsTraits {
                birth_date: date,
                ..traits()
            };
            assert_eq!(
                Ins::new("253072B07300470", InsKind::Nir.oid(), other),
                Err(IdentityError::InsMismatch { name: "birth_date" })
            );
        }
    }

    #[test]
    fn malformed_traits_are_refused_by_name() {
        let cases = [
            (
                InsTraits {
                    birth_name: "  ".into(),
                    ..traits()
                },
                "birth_name",
            ),
            (
                InsTraits {
                    birth_name: "DUP0NT".into(),
                    ..traits()
                },
                "birth_name",
            ),
            (
                InsTraits {
                    birth_name: "A".repeat(101),
                    ..traits()
                },
                "birth_name",
            ),
            (
                InsTraits {
                    birth_given_names: "--".into(),
                    ..traits()
                },
                "birth_given_names",
            ),
            (
                InsTraits {
                    birth_place: "2C073".into(),
                    ..traits()
                },
                "birth_place",
            ),
            (
                InsTraits {
                    birth_place: "7505".into(),
                    ..traits()
                },
                "birth_place",
            ),
        ];
        for (input, expected) in cases {
            match Ins::new("253072B07300470", InsKind::Nir.oid(), input) {
                Err(IdentityError::InsTrait { name, .. }) => assert_eq!(name, expected),
                other => panic!("{expected}: {other:?}"),
            }
        }
    }

    #[test]
    fn birth_dates_follow_the_calendar() {
        assert!(BirthDate::parse("2000-02-29").is_ok());
        assert!(BirthDate::parse("1900-02-29").is_err());
        assert!(BirthDate::parse("2023-04-31").is_err());
        assert!(BirthDate::parse("2023-4-3").is_err());
        assert!(BirthDate::parse("2023-٠٤-03").is_err());
        assert_eq!(
            BirthDate::parse(" 1953-07-14 ").unwrap(),
            BirthDate::new(1953, 7, 14).unwrap()
        );
        assert!(Sex::from_code("X").is_err());
        assert_eq!(Sex::from_code("f"), Ok(Sex::Female));
    }
}
