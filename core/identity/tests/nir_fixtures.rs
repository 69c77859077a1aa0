//! Every case of `fixtures/identity/nir.json`, and property tests over the control key.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use carnet_identity::{IdentityError, Nir};
use proptest::prelude::*;

#[derive(serde::Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    nir: String,
    valid: bool,
    note: String,
}

#[test]
fn every_fixture_case_gives_the_expected_verdict() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/identity/nir.json"
    );
    let text = std::fs::read_to_string(path).expect("fixture readable");
    let fixture: Fixture = serde_json::from_str(&text).expect("fixture parses");
    assert!(
        fixture.cases.len() >= 26,
        "fixture truncated: {} cases",
        fixture.cases.len()
    );
    for case in &fixture.cases {
        let verdict = Nir::parse(&case.nir);
        assert_eq!(
            verdict.is_ok(),
            case.valid,
            "{} ({}): {verdict:?}",
            case.nir,
            case.note
        );
        if let Ok(nir) = verdict {
            assert_eq!(nir.as_str(), case.nir);
        }
        if case.note.contains("control key") {
            assert!(
                matches!(verdict, Err(IdentityError::NirControlKey { .. })),
                "{}",
                case.nir
            );
        }
    }
}

#[test]
fn fixture_reasons_are_typed() {
    assert_eq!(
        Nir::parse("219079710707565"),
        Err(IdentityError::NirControlKey {
            expected: 64,
            found: 65
        })
    );
    assert_eq!(
        Nir::parse("29510991261119"),
        Err(IdentityError::NirLength { found: 14 })
    );
    assert_eq!(Nir::parse(""), Err(IdentityError::NirLength { found: 0 }));
    assert_eq!(
        Nir::parse("253072C07300470"),
        Err(IdentityError::NirCharacter {
            position: 7,
            found: 'C'
        })
    );
}

/// Control key of a 13-digit prefix, computed independently of the crate.
fn reference_key(digits: &[u8]) -> u64 {
    let number = digits.iter().fold(0u64, |acc, d| acc * 10 + u64::from(*d));
    97 - number % 97
}

fn render(digits: &[u8]) -> String {
    digits.iter().map(|d| char::from(b'0' + d)).collect()
}

proptest! {
    #[test]
    fn any_13_digits_with_their_key_are_valid(prefix in proptest::collection::vec(0u8..10, 13)) {
        let text = format!("{}{:02}", render(&prefix), reference_key(&prefix));
        let nir = Nir::parse(&text);
        prop_assert!(nir.is_ok(), "{text}: {nir:?}");
        let computed = Nir::with_computed_key(&render(&prefix)).unwrap();
        prop_assert_eq!(computed.as_str(), text.as_str());
    }

    #[test]
    fn any_single_changed_digit_is_refused(
        prefix in proptest::collection::vec(0u8..10, 13),
        position in 0usize..15,
        shift in 1u8..10,
    ) {
        let valid = format!("{}{:02}", render(&prefix), reference_key(&prefix));
        let mut bytes = valid.into_bytes();
        bytes[position] = b'0' + (bytes[position] - b'0' + shift) % 10;
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert!(Nir::parse(&changed).is_err(), "{changed} was accepted");
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,40}") {
        let _ = Nir::parse(&text);
    }
}
