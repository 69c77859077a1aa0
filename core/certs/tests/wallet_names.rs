//! The wallet names what a certificate's codes say, from the value sets Carnet ships: the
//! vaccine and its maker, the test type, its result and the test maker (the test manufacturer
//! set, not the vaccine one, for the `ma` of a test), and leaves free text and unknown codes
//! as they were signed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use carnet_certs::hcert;
use carnet_certs::issuer::TestIssuer;
use carnet_certs::wallet::{EventField, Summary};
use serde_json::json;

fn summary_of(event: &str, entry: serde_json::Value) -> Summary {
    let issuer = TestIssuer::new("FR", 1_767_225_600, 1_798_761_600).unwrap();
    let mut payload = json!({"ver": "1.3.0", "dob": "1980-02-03",
        "nam": {"fn": "Dupond", "fnt": "DUPOND", "gn": "Marie", "gnt": "MARIE"}});
    payload[event] = json!([entry]);
    let text = issuer
        .issue(&payload, 1_767_225_600, 1_798_000_000)
        .unwrap();
    Summary::of(&hcert::decode(&text).unwrap()).unwrap()
}

fn named(summary: &Summary) -> Vec<(EventField, &str, Option<&str>)> {
    summary
        .details
        .iter()
        .map(|d| (d.field, d.code.as_str(), d.name.as_deref()))
        .collect()
}

#[test]
fn a_test_is_named_by_the_test_sets() {
    let summary = summary_of(
        "t",
        json!({"tg": "840539006", "tt": "LP217198-3", "nm": "Mon test maison", "ma": "1833",
               "sc": "2026-11-02T08:00:00Z", "tr": "260415000", "co": "FR", "is": "CNAM",
               "ci": "URN:UVCI:01:FR:X1"}),
    );
    assert_eq!(
        named(&summary),
        vec![
            (EventField::Disease, "840539006", Some("COVID-19")),
            (
                EventField::TestType,
                "LP217198-3",
                Some("Rapid immunoassay")
            ),
            (EventField::TestName, "Mon test maison", None),
            (EventField::TestResult, "260415000", Some("Not detected")),
            (
                EventField::Manufacturer,
                "1833",
                Some("AAZ-LMB, COVID-VIRO")
            ),
        ]
    );
    assert_eq!(summary.details[2].shown(), "Mon test maison");
}

#[test]
fn a_vaccination_with_an_unknown_product_keeps_its_code() {
    let summary = summary_of(
        "v",
        json!({"tg": "840539006", "vp": "J07BX03", "mp": "XX/9/99/9999", "ma": "ORG-100001699",
               "dn": 2, "sd": 2, "dt": "2026-11-02", "co": "FR", "is": "CNAM",
               "ci": "URN:UVCI:01:FR:X2"}),
    );
    let details = named(&summary);
    assert!(details.contains(&(EventField::Vaccine, "XX/9/99/9999", None)));
    assert!(details.contains(&(
        EventField::Manufacturer,
        "ORG-100001699",
        Some("AstraZeneca AB")
    )));
    assert_eq!(summary.details[1].shown(), "XX/9/99/9999");
}

#[test]
fn a_recovery_names_its_disease_only() {
    let summary = summary_of(
        "r",
        json!({"tg": "840539006", "fr": "2026-10-01", "co": "FR", "is": "CNAM",
               "df": "2026-10-12", "du": "2027-03-30", "ci": "URN:UVCI:01:FR:X3"}),
    );
    assert_eq!(
        named(&summary),
        vec![(EventField::Disease, "840539006", Some("COVID-19"))]
    );
}
