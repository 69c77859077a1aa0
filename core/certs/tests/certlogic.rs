//! CertLogic's own test suites (`fixtures/dcc-rules/`): every assertion of the evaluator's
//! suite — those it marks `skip` for certlogic-js included — and every case of the
//! validator's, with its messages.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use carnet_certs::certlogic::{evaluate, validate};
use carnet_certs::rules::{BusinessRule, RuleKind, RuleScope, applicable, check, parse_rules};
use carnet_certs::rules_conformance::run_test;
use serde_json::Value as Json;

fn suite(name: &str) -> Vec<(String, Json)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/dcc-rules")
        .join(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_assertion_of_the_evaluator_suite_holds() {
    let (mut passed, mut failures) = (0, Vec::new());
    for (file, suite) in suite("certlogic-testSuite") {
        for case in suite["cases"].as_array().unwrap() {
            for assertion in case["assertions"].as_array().unwrap() {
                let expression = assertion
                    .get("certLogicExpression")
                    .or_else(|| case.get("certLogicExpression"))
                    .unwrap();
                let data = assertion.get("data").unwrap_or(&Json::Null);
                let got = evaluate(expression, data).map(|value| value.into_json());
                match got {
                    Ok(value) if value == assertion["expected"] => passed += 1,
                    other => failures.push(format!(
                        "{file} / {}: {expression} on {data}: expected {}, got {other:?}",
                        case["name"], assertion["expected"]
                    )),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(passed, 232);
}

#[test]
fn every_case_of_the_validator_suite_gets_its_issues() {
    let mut cases = 0;
    for (file, suite) in suite("certlogic-validation-testSuite") {
        for case in suite["cases"].as_array().unwrap() {
            let expression = &case["certLogicExpression"];
            let issues: Vec<(Json, String)> = validate(expression)
                .into_iter()
                .map(|issue| (issue.expr, issue.message))
                .collect();
            let expected: Vec<(Json, String)> = case["issues"]
                .as_array()
                .unwrap()
                .iter()
                .map(|issue| {
                    (
                        issue["expr"].clone(),
                        issue["message"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            assert_eq!(issues, expected, "{file}: {expression}");
            cases += 1;
        }
    }
    assert_eq!(cases, 23);
}

/// The countries' own business rules with their tests (`fixtures/dcc-rules/business-rules`):
/// each rule evaluated over `{payload, external}` as the gateway's verifiers did; a rule holds
/// when it evaluates to `true`, and an evaluation error counts as not holding.
#[test]
fn the_countries_business_rules_give_their_tests_results() {
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/dcc-rules/business-rules");
    let (mut agreed, mut failures) = (0, Vec::new());
    let mut countries: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    countries.sort();
    for country in countries
        .iter()
        .filter(|p| p.is_dir() && !p.ends_with("valuesets"))
    {
        let mut rules: Vec<_> = std::fs::read_dir(country)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        rules.sort();
        for rule_dir in rules {
            let rule: Json =
                serde_json::from_str(&std::fs::read_to_string(rule_dir.join("rule.json")).unwrap())
                    .unwrap();
            let rule = BusinessRule::from_json(&rule)
                .unwrap_or_else(|e| panic!("{}: {e}", rule_dir.display()));
            let Ok(tests) = std::fs::read_dir(rule_dir.join("tests")) else {
                continue;
            };
            for test in tests {
                let path = test.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap();
                let result = run_test(&rule, &text, None).unwrap();
                if result.agrees() {
                    agreed += 1;
                } else {
                    failures.push(format!(
                        "{}: {}: expected {}, got {result:?}",
                        path.strip_prefix(&root).unwrap().display(),
                        result.name,
                        result.expected
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} disagree:\n{}",
        failures.len(),
        agreed + failures.len(),
        failures.join("\n")
    );
    assert_eq!(agreed, 969);
}

/// A rule as the gateway writes it, for the selection tests.
fn rule(identifier: &str, kind: &str, country: &str, version: &str, scope: &str, to: &str) -> Json {
    serde_json::json!({
        "Identifier": identifier, "Type": kind, "Country": country, "Version": version,
        "SchemaVersion": "1.0.0", "Engine": "CERTLOGIC", "EngineVersion": "0.7.5",
        "CertificateType": scope,
        "Description": [{ "lang": "en", "desc": "A rule" }, { "lang": "fr", "desc": "Une règle" }],
        "ValidFrom": "2021-07-01T00:00:00Z", "ValidTo": to, "AffectedFields": ["v.0.dn"],
        "Logic": { "!": [{ "!": [{ "var": "payload.v.0" }] }] }
    })
}

const LATER: &str = "2030-01-01T00:00:00Z";

#[test]
fn the_rules_that_judge_a_certificate_are_chosen_by_country_type_time_and_version() {
    let list = serde_json::to_vec(&serde_json::json!([
        rule(
            "VR-FR-0001",
            "Acceptance",
            "FR",
            "1.0.0",
            "Vaccination",
            LATER
        ),
        rule(
            "VR-FR-0001",
            "Acceptance",
            "FR",
            "1.2.0",
            "Vaccination",
            LATER
        ),
        rule(
            "VR-FR-0001",
            "Acceptance",
            "FR",
            "1.10.0",
            "Vaccination",
            "2022-01-01T00:00:00Z"
        ),
        rule("GR-FR-0000", "Acceptance", "FR", "1.0.0", "General", LATER),
        rule("TR-FR-0000", "Acceptance", "FR", "1.0.0", "Test", LATER),
        rule(
            "VR-DE-0001",
            "Acceptance",
            "DE",
            "1.0.0",
            "Vaccination",
            LATER
        ),
        rule(
            "IR-DE-0001",
            "Invalidation",
            "DE",
            "1.0.0",
            "General",
            LATER
        ),
        rule(
            "IR-FR-0001",
            "Invalidation",
            "FR",
            "1.0.0",
            "General",
            LATER
        ),
    ]))
    .unwrap();
    let rules = parse_rules(&list).unwrap();
    assert_eq!(rules[0].description("fr"), Some("Une règle"));
    assert_eq!(rules[0].description("de"), Some("A rule"));
    let payload = serde_json::json!({ "v": [{ "dn": 2 }] });
    assert_eq!(
        RuleScope::of_payload(&payload),
        Some(RuleScope::Vaccination)
    );
    // In France, a German vaccination in 2023: France's acceptance rules of its type and the
    // general ones (1.10.0 is no longer in force, 1.2.0 beats 1.0.0), Germany's invalidation.
    let at = 1_672_531_200; // 2023-01-01
    let chosen = applicable(&rules, "FR", "DE", RuleScope::Vaccination, at);
    let named: Vec<_> = chosen
        .iter()
        .map(|r| (r.identifier.as_str(), r.version))
        .collect();
    assert_eq!(
        named,
        [
            ("GR-FR-0000", (1, 0, 0)),
            ("IR-DE-0001", (1, 0, 0)),
            ("VR-FR-0001", (1, 2, 0))
        ]
    );
    assert_eq!(chosen[1].kind, RuleKind::Invalidation);
    // In force in 2021-12: the 1.10.0 version wins.
    let earlier = applicable(&rules, "FR", "DE", RuleScope::Vaccination, 1_638_316_800);
    assert!(
        earlier
            .iter()
            .any(|r| r.identifier == "VR-FR-0001" && r.version == (1, 10, 0))
    );
    // Before any rule is in force: none.
    assert!(applicable(&rules, "FR", "DE", RuleScope::Vaccination, 1_600_000_000).is_empty());
    let outcomes = check(&chosen, &payload, &serde_json::json!({}));
    assert!(outcomes.iter().all(|outcome| outcome.result == Ok(true)));
    assert_eq!(
        check(&chosen, &serde_json::json!({}), &Json::Null)[0].result,
        Ok(false)
    );
}

#[test]
fn hostile_rule_lists_are_typed_errors() {
    let with = |field: &str, value: Json| {
        let mut r = rule(
            "VR-FR-0001",
            "Acceptance",
            "FR",
            "1.0.0",
            "Vaccination",
            LATER,
        );
        r[field] = value;
        serde_json::to_vec(&serde_json::json!([r])).unwrap()
    };
    for list in [
        with("Logic", serde_json::json!({ "eval": ["rm -rf /"] })),
        with("Engine", Json::from("JAVASCRIPT")),
        with("Version", Json::from("1.x")),
        with("ValidTo", Json::from("tomorrow")),
        with("Type", Json::from("Whatever")),
        b"{}".to_vec(),
        b"[".to_vec(),
        vec![b'['; 100_000],
        vec![b' '; carnet_certs::rules::MAX_RULES_BYTES + 1],
    ] {
        let error = parse_rules(&list).unwrap_err();
        assert!(
            matches!(error, carnet_certs::CertsError::Rule(_)),
            "{error:?}"
        );
        assert!(!error.to_string().contains("Error("), "{error}");
    }
    // A rule that is well formed but runs long is stopped, and reported, not a verdict.
    let mut slow = rule("VR-FR-0002", "Acceptance", "FR", "1.0.0", "General", LATER);
    slow["Logic"] = serde_json::json!({
        "reduce": [{ "var": "payload.v" }, { "+": [{ "var": "accumulator" }, 1] }, 0]
    });
    let slow = BusinessRule::from_json(&slow).unwrap();
    let many: Vec<Json> = (0..200_000).map(|_| serde_json::json!({})).collect();
    let outcome = check(&[&slow], &serde_json::json!({ "v": many }), &Json::Null);
    assert!(
        outcome[0]
            .result
            .as_ref()
            .is_err_and(|e| e.contains("too many steps")),
        "{:?}",
        outcome[0].result
    );
}
