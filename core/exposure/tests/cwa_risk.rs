//! The Corona-Warn-App's 29 risk-calculation cases, each reproduced with the configuration
//! shipped beside them, which must also be the default one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use carnet_exposure::ExposureError;
use carnet_exposure::risk::{ExposureWindow, ExposureWindows, RiskConfiguration, RiskLevel};
use serde_json::Value;

const CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/exposure/cwa_exposure-windows-risk-calculation.json"
);

fn fixture() -> Value {
    serde_json::from_slice(&std::fs::read(CASES).unwrap()).unwrap()
}

#[test]
fn the_default_configuration_is_the_one_of_the_cases() {
    let fixture = fixture();
    let shipped: RiskConfiguration =
        serde_json::from_value(fixture["defaultRiskCalculationConfiguration"].clone()).unwrap();
    assert_eq!(shipped, RiskConfiguration::default());
}

#[test]
fn all_29_cases_are_reproduced() {
    let fixture = fixture();
    let configuration = RiskConfiguration::default();
    let cases = fixture["testCases"].as_array().unwrap();
    assert_eq!(cases.len(), 29);
    let mut failures = Vec::new();
    for case in cases {
        let windows: Vec<ExposureWindow> =
            serde_json::from_value(case["exposureWindows"].clone()).unwrap();
        let summary = serde_json::to_value(configuration.summarize(&windows)).unwrap();
        for (field, got) in summary.as_object().unwrap() {
            let mut name = String::from("exp");
            name.push_str(&field[..1].to_uppercase());
            name.push_str(&field[1..]);
            if case[&name] != *got {
                failures.push(format!(
                    "{}: {field} is {got}, expected {}",
                    case["description"], case[&name]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// One day of two windows (transmission risk value 1.0): `seconds` at weight 1.0 and
/// `faint_seconds` at weight 0.1.
fn one_day(seconds: u32, faint_seconds: u32) -> Vec<ExposureWindow> {
    let window = |attenuation: u8, seconds: u32| {
        format!(
            r#"{{"ageInDays": 1, "reportType": 2, "infectiousness": 1, "calibrationConfidence": 0,
                "scanInstances": [{{"minAttenuation": {attenuation}, "typicalAttenuation": {attenuation},
                "secondsSinceLastScan": {seconds}}}]}}"#
        )
    };
    let json = format!(
        r#"{{"exposureWindows": [{}, {}]}}"#,
        window(65, seconds),
        window(75, faint_seconds)
    );
    ExposureWindows::from_json(json.as_bytes())
        .unwrap()
        .exposure_windows
}

/// CWA rounds a day's normalised time to one decimal before mapping it: 8.96 is 9.0 (HIGH),
/// 8.94 is 8.9 (LOW).
#[test]
fn a_day_is_mapped_after_rounding_to_one_decimal() {
    let configuration = RiskConfiguration::default();
    // 537 s = 8.95 min, 6 s × 0.1 = 0.01 min: 8.96.
    let high = configuration.summarize(&one_day(537, 6));
    assert_eq!(high.total_risk_level, RiskLevel::High);
    assert_eq!(high.number_of_days_with_high_risk, 1);
    // 536 s = 8.933 min, 4 s × 0.1 = 0.0067 min: 8.94.
    let low = configuration.summarize(&one_day(536, 4));
    assert_eq!(low.total_risk_level, RiskLevel::Low);
    assert_eq!(low.number_of_days_with_low_risk, 1);
}

#[test]
fn a_window_below_every_weight_bucket_carries_no_risk() {
    let far = ExposureWindows::from_json(
        br#"{"exposureWindows": [{"ageInDays": 0, "reportType": 1, "infectiousness": 2,
            "calibrationConfidence": 0, "scanInstances": [
            {"minAttenuation": 85, "typicalAttenuation": 90, "secondsSinceLastScan": 3600}]}]}"#,
    )
    .unwrap();
    let summary = RiskConfiguration::default().summarize(&far.exposure_windows);
    assert_eq!(summary.total_risk_level, RiskLevel::Low);
    assert_eq!(summary.number_of_days_with_low_risk, 0);
}

#[test]
fn hostile_json_is_refused_with_a_typed_error() {
    let deep = "[".repeat(10_000);
    assert!(matches!(
        ExposureWindows::from_json(deep.as_bytes()),
        Err(ExposureError::Json(_))
    ));
    let oversized = vec![b' '; carnet_exposure::risk::MAX_JSON_BYTES + 1];
    assert!(matches!(
        RiskConfiguration::from_json(&oversized),
        Err(ExposureError::Json(_))
    ));
    assert!(matches!(
        ExposureWindows::from_json(br#"{"exposureWindows": [{"ageInDays": -1}]}"#),
        Err(ExposureError::Json(_))
    ));
    assert!(matches!(
        RiskConfiguration::from_json(
            br#"{"normalizedTimePerEWToRiskLevelMapping": [{"riskLevel": 7}]}"#
        ),
        Err(ExposureError::Json(_))
    ));
}
