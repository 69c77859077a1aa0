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
            assert!(
                validate(&rule["Logic"]).is_empty(),
                "{}: {:?}",
                rule_dir.display(),
                validate(&rule["Logic"])
            );
            let Ok(tests) = std::fs::read_dir(rule_dir.join("tests")) else {
                continue;
            };
            for test in tests {
                let path = test.unwrap().path();
                let test: Json =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                let data =
                    serde_json::json!({ "payload": test["payload"], "external": test["external"] });
                let outcome = evaluate(&rule["Logic"], &data);
                let holds =
                    matches!(&outcome, Ok(value) if value.clone().into_json() == Json::Bool(true));
                if Some(holds) == test["expected"].as_bool() {
                    agreed += 1;
                } else {
                    failures.push(format!(
                        "{}: {}: expected {}, got {outcome:?}",
                        path.strip_prefix(&root).unwrap().display(),
                        test["name"],
                        test["expected"]
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
