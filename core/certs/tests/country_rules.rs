//! The French rules of the EU gateway judge certificates as a French verifier did: a test is
//! good for 48 hours, a vaccination once complete and 7 days old; each refusal names the
//! rule in French and English.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};

use carnet_certs::country_rules::{RulesVerdict, assess, window};
use carnet_certs::rules::{BusinessRule, RuleKind};
use carnet_certs::{CwtClaims, ValueSets};
use serde_json::json;

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/dcc-rules/business-rules")
}

fn french_rules() -> Vec<BusinessRule> {
    let mut rules = Vec::new();
    for entry in std::fs::read_dir(rules_dir().join("FR")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path().join("rule.json")).unwrap();
        rules.push(BusinessRule::from_json(&serde_json::from_str(&text).unwrap()).unwrap());
    }
    assert!(rules.len() > 10);
    rules
}

/// 2022-03-01T12:00:00Z, while the French rules of the fixtures were in force.
const NOW: i64 = 1_646_136_000;
const DAY: i64 = 86_400;

fn date(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn claims(group: &str, entry: serde_json::Value) -> CwtClaims {
    CwtClaims {
        issuer: Some("FR".into()),
        issued_at: Some(NOW - 30 * DAY),
        expires_at: Some(NOW + 300 * DAY),
        payload: json!({"ver": "1.3.0", "nam": {"fnt": "DUPOND"}, "dob": "1980-01-01", group: [entry]}),
    }
}

fn pcr_test(sampled: i64) -> CwtClaims {
    claims(
        "t",
        json!({"tg": "840539006", "tt": "LP6464-4", "sc": date(sampled), "tr": "260415000",
               "tc": "Labo", "co": "FR", "is": "CNAM", "ci": "URN:UVCI:01:FR:T"}),
    )
}

fn comirnaty(dose: u32, of: u32, injected: i64) -> CwtClaims {
    claims(
        "v",
        json!({"tg": "840539006", "vp": "J07BX03", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
               "dn": dose, "sd": of, "dt": date(injected)[..10], "co": "FR", "is": "CNAM",
               "ci": "URN:UVCI:01:FR:V"}),
    )
}

fn failed_ids(verdict: &RulesVerdict) -> Vec<String> {
    match verdict {
        RulesVerdict::NotMet(failures) => failures.iter().map(|f| f.identifier.clone()).collect(),
        other => panic!("expected rules not met, got {other:?}"),
    }
}

#[test]
fn a_three_week_old_test_and_a_first_dose_fail_the_french_rules_in_french() {
    let rules = french_rules();
    let sets = ValueSets::shipped();
    let old_test = assess(&rules, &sets, "FR", &pcr_test(NOW - 21 * DAY), NOW);
    assert_eq!(failed_ids(&old_test), ["TR-FR-0002"]);
    let RulesVerdict::NotMet(failures) = &old_test else {
        unreachable!()
    };
    assert!(
        failures[0].description("fr").contains("moins de 48 heures"),
        "{failures:?}"
    );
    assert!(failures[0].description("en").contains("48"), "{failures:?}");
    assert_eq!(failures[0].kind, RuleKind::Acceptance);

    let first_dose = assess(&rules, &sets, "FR", &comirnaty(1, 2, NOW - 30 * DAY), NOW);
    assert!(failed_ids(&first_dose).contains(&"VR-FR-0002".to_owned()));

    let fresh = assess(&rules, &sets, "FR", &pcr_test(NOW - 3600), NOW);
    assert!(
        matches!(fresh, RulesVerdict::Met { rules } if rules > 3),
        "{fresh:?}"
    );
    let complete = assess(&rules, &sets, "FR", &comirnaty(2, 2, NOW - 30 * DAY), NOW);
    assert!(matches!(complete, RulesVerdict::Met { .. }), "{complete:?}");
}

#[test]
fn how_long_a_certificate_meets_the_rules_comes_from_evaluating_them() {
    let rules = french_rules();
    let sets = ValueSets::shipped();
    let sampled = NOW - 3600;
    let test = window(&rules, &sets, "FR", &pcr_test(sampled), NOW);
    assert!(matches!(test.now, RulesVerdict::Met { .. }));
    assert_eq!(test.from, None);
    let until = test.until.unwrap();
    assert!(
        (until - (sampled + 48 * 3600)).abs() <= 1,
        "{}",
        until - sampled
    );

    // Two days after the second dose: complete from 7 days after it, then until the
    // certificate expires.
    let injected = NOW - 2 * DAY;
    let vaccination = window(&rules, &sets, "FR", &comirnaty(2, 2, injected), NOW);
    assert!(matches!(vaccination.now, RulesVerdict::NotMet(_)));
    let midnight = injected - injected.rem_euclid(DAY);
    let from = vaccination.from.unwrap();
    assert!(
        (from - (midnight + 7 * DAY)).abs() <= 1,
        "{}",
        from - midnight
    );
    assert_eq!(vaccination.until, Some(NOW + 300 * DAY));
}

#[test]
fn without_rules_for_the_country_the_verdict_is_undecided() {
    let rules = french_rules();
    let verdict = assess(
        &rules,
        &ValueSets::shipped(),
        "IT",
        &pcr_test(NOW - 3600),
        NOW,
    );
    assert!(
        matches!(verdict, RulesVerdict::Undecided(ref why) if why.contains("IT")),
        "{verdict:?}"
    );
    let mut two = comirnaty(2, 2, NOW - 30 * DAY);
    two.payload["t"] = json!([{}]);
    assert!(matches!(
        assess(&rules, &ValueSets::shipped(), "FR", &two, NOW),
        RulesVerdict::Undecided(_)
    ));
}
