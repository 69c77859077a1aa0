//! NIR: the 15-character French social security number.
//!
//! Layout (1-based positions): 1 sex, 2–3 birth year, 4–5 birth month, 6–10 birth place
//! (department then commune, or 99 then country), 11–13 order number, 14–15 control key.
//! Positions 6–7 may read `2A` or `2B` (Corsica); for the arithmetic they count as 19 and 18.
//! Control key = 97 − (the first 13 characters as a number, mod 97).

use std::fmt;
use std::str::FromStr;

use crate::IdentityError;

/// Number of characters of a NIR.
const NIR_LEN: usize = 15;
/// Longest input examined at all, in bytes: room for a NIR written with spaces.
const MAX_INPUT_BYTES: usize = 128;

/// A NIR whose format and control key have been checked.
///
/// Stored normalised: no spaces, Corsican letters in upper case.
/// `Display` and `Debug` print the redacted form ([`Nir::redacted`]): a NIR reaches logs only
/// that way. Use [`Nir::as_str`] where the full number is really needed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nir([u8; NIR_LEN]);

/// What a NIR encodes, position by position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NirDetails {
    /// Position 1: 1 or 2 (man, woman); 3, 4, 7, 8 for temporary or provisional numbers.
    pub sex_code: u8,
    /// Positions 2–3: last two digits of the birth year.
    pub birth_year_digits: u8,
    /// Positions 4–5: birth month 01–12, or a code (20–42, 50+, 99) when unknown.
    pub birth_month_code: u8,
    /// Positions 6–10: INSEE code of the birth commune, or `99` + country code if born abroad.
    pub birth_place_code: String,
    /// Positions 11–13: order number among births in that place and month.
    pub order_number: u16,
    /// Positions 14–15: the control key.
    pub control_key: u8,
    /// True when positions 6–7 read `99` (born abroad).
    pub born_abroad: bool,
}

impl Nir {
    /// Checks a NIR: 15 characters once spaces are removed (`2 53 07 2B 073 004 70` is
    /// accepted), digits everywhere except `2A`/`2B` at positions 6–7, and a matching control
    /// key. Lower-case `a`/`b` are accepted and normalised.
    ///
    /// # Errors
    /// [`IdentityError::NirLength`], [`IdentityError::NirCharacter`] or
    /// [`IdentityError::NirControlKey`], in that order of precedence.
    pub fn parse(input: &str) -> Result<Self, IdentityError> {
        let significant = || input.chars().filter(|c| *c != ' ');
        if input.len() > MAX_INPUT_BYTES {
            // Far too long to be a NIR: say so without scanning a hostile megabyte twice.
            return Err(IdentityError::NirLength {
                found: input.chars().count(),
            });
        }
        let found = significant().count();
        if found != NIR_LEN {
            return Err(IdentityError::NirLength { found });
        }
        let mut normalised = [0u8; NIR_LEN];
        for (index, (slot, c)) in normalised.iter_mut().zip(significant()).enumerate() {
            let position = index + 1;
            let corsica_letter = position == 7 && matches!(c, 'A' | 'B' | 'a' | 'b');
            if !(c.is_ascii_digit() || corsica_letter) {
                return Err(IdentityError::NirCharacter { position, found: c });
            }
            // `c` is ASCII here, so the cast keeps it whole.
            *slot = c.to_ascii_uppercase() as u8;
        }
        if normalised[6].is_ascii_alphabetic() && normalised[5] != b'2' {
            return Err(IdentityError::NirCharacter {
                position: 7,
                found: normalised[6] as char,
            });
        }
        let nir = Nir(normalised);
        let expected = control_key(nir.arithmetic_prefix());
        let found = two_digits(normalised[13], normalised[14]);
        if expected != found {
            return Err(IdentityError::NirControlKey { expected, found });
        }
        Ok(nir)
    }

    /// Builds the full NIR from its first 13 characters by computing the control key.
    ///
    /// # Errors
    /// Same as [`Nir::parse`] on the 13 characters (a length error counts 13 + 2).
    pub fn with_computed_key(first_13: &str) -> Result<Self, IdentityError> {
        let probe = format!("{first_13}00");
        match Nir::parse(&probe) {
            Err(IdentityError::NirControlKey { expected, .. }) => {
                Nir::parse(&format!("{first_13}{expected:02}"))
            }
            // A prefix whose key happens to be 00 cannot exist (keys run 1..=97), so any other
            // outcome is a format error to report as is.
            other => other,
        }
    }

    /// The normalised 15 characters (full number: do not log it).
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and A/B are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The form safe for logs and screens that need no more: first character, stars, and
    /// the control key, for example `2*****…70`.
    pub fn redacted(&self) -> String {
        redact(self.as_str())
    }

    /// What the number encodes.
    pub fn details(&self) -> NirDetails {
        let [sex, .., order_hundreds, order_tens, order_units, _, _] = self.0;
        let digit = |c: u8| u16::from(c - b'0');
        NirDetails {
            sex_code: sex - b'0',
            birth_year_digits: two_digits(self.0[1], self.0[2]),
            birth_month_code: two_digits(self.0[3], self.0[4]),
            birth_place_code: self.as_str()[5..10].to_owned(),
            order_number: digit(order_hundreds) * 100 + digit(order_tens) * 10 + digit(order_units),
            control_key: two_digits(self.0[13], self.0[14]),
            born_abroad: &self.0[5..7] == b"99",
        }
    }

    /// The first 13 characters as the number the key is computed on (2A → 19, 2B → 18).
    fn arithmetic_prefix(&self) -> u64 {
        self.0[..13]
            .iter()
            .enumerate()
            .fold(0u64, |acc, (index, &c)| {
                let digit = match (index, c) {
                    (5, b'2') if self.0[6].is_ascii_alphabetic() => 1,
                    (6, b'A') => 9,
                    (6, b'B') => 8,
                    _ => c - b'0',
                };
                acc * 10 + u64::from(digit)
            })
    }
}

/// Control key of a 13-digit number: 97 − (n mod 97), in 1..=97.
fn control_key(prefix: u64) -> u8 {
    // The remainder is below 97, so the key fits in a u8.
    (97 - prefix % 97) as u8
}

fn two_digits(tens: u8, units: u8) -> u8 {
    (tens - b'0') * 10 + (units - b'0')
}

impl FromStr for Nir {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Nir::parse(s)
    }
}

impl serde::Serialize for Nir {
    /// Serialises the full number: only for outputs the holder asked for, never for logs.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// An identifier (a NIR or INS matricule as given, read or not) in the form safe for logs and
/// screens: its first character, stars, and its last two (`2*****…70`).
pub fn redact(identifier: &str) -> String {
    let chars: Vec<char> = identifier.chars().collect();
    let first = chars.first().copied().unwrap_or('?');
    let last: String = chars.iter().skip(chars.len().saturating_sub(2)).collect();
    format!("{first}*****…{last}")
}

impl fmt::Display for Nir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for Nir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nir({})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corsica_counts_as_19_and_18() {
        let a = Nir::parse("253072A07300443").unwrap();
        assert_eq!(a.arithmetic_prefix(), 2_530_719_073_004);
        let b = Nir::parse("253072B07300470").unwrap();
        assert_eq!(b.arithmetic_prefix(), 2_530_718_073_004);
    }

    #[test]
    fn spaces_and_lower_case_are_normalised() {
        let nir = Nir::parse("2 53 07 2b 073 004 70").unwrap();
        assert_eq!(nir.as_str(), "253072B07300470");
    }

    #[test]
    fn letter_outside_position_7_or_without_2_is_refused() {
        assert_eq!(
            Nir::parse("253073B07300470"),
            Err(IdentityError::NirCharacter {
                position: 7,
                found: 'B'
            })
        );
        assert_eq!(
            Nir::parse("2530720A7300470"),
            Err(IdentityError::NirCharacter {
                position: 8,
                found: 'A'
            })
        );
    }

    #[test]
    fn redaction_hides_all_but_sex_and_key() {
        let nir = Nir::parse("253072B07300470").unwrap();
        assert_eq!(nir.redacted(), "2*****…70");
        assert_eq!(format!("{nir}"), "2*****…70");
        assert!(!format!("{nir:?}").contains("07300"));
    }

    #[test]
    fn details_decode_each_field() {
        let d = Nir::parse("253072B07300470").unwrap().details();
        assert_eq!(
            d,
            NirDetails {
                sex_code: 2,
                birth_year_digits: 53,
                birth_month_code: 7,
                birth_place_code: "2B073".into(),
                order_number: 4,
                control_key: 70,
                born_abroad: false,
            }
        );
        assert!(Nir::parse("295109912611193").unwrap().details().born_abroad);
    }

    #[test]
    fn computed_key_matches_published_example() {
        assert_eq!(
            Nir::with_computed_key("2951099126111").unwrap().as_str(),
            "295109912611193"
        );
        assert_eq!(
            Nir::with_computed_key("29510991261"),
            Err(IdentityError::NirLength { found: 13 })
        );
    }

    #[test]
    fn hostile_sizes_and_characters_are_typed_errors() {
        let huge = "9".repeat(1 << 20);
        assert!(matches!(
            Nir::parse(&huge),
            Err(IdentityError::NirLength { .. })
        ));
        assert_eq!(
            Nir::parse("2530720730047\u{0}0"),
            Err(IdentityError::NirCharacter {
                position: 14,
                found: '\u{0}'
            })
        );
        assert!(matches!(
            Nir::parse("2530720730047é"),
            Err(IdentityError::NirLength { found: 14 })
        ));
        assert_eq!(
            Nir::parse("253072073004é70"),
            Err(IdentityError::NirCharacter {
                position: 13,
                found: 'é'
            })
        );
    }
}
