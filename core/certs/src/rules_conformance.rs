//! The business-rule test layout of the EU gateway (`dgc-business-rules-testdata`):
//! `COUNTRY/RULE-ID/rule.json` with `COUNTRY/RULE-ID/tests/*.json`, each test a `payload`,
//! `external` data and the `expected` outcome. [`run_test`] evaluates one test as the
//! gateway's verifiers did: a rule holds when it evaluates to `true`, and an evaluation error
//! counts as not holding. Reading the directories is the caller's (the CLI's).

use serde_json::Value as Json;

use crate::rules::{BusinessRule, check};

/// Largest rule or test file read, in bytes.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// What one test said and what Carnet found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTestResult {
    /// The test's `name`.
    pub name: String,
    /// Whether the test expects the rule to hold.
    pub expected: bool,
    /// Whether it held.
    pub held: bool,
    /// Why the rule could not be evaluated, when it could not.
    pub error: Option<String>,
}

impl RuleTestResult {
    /// True when Carnet agrees with the test.
    #[must_use]
    pub fn agrees(&self) -> bool {
        self.expected == self.held
    }
}

/// Evaluates one test file's text against `rule`. The test's `external.valueSets` are used
/// when present, else `value_sets` (the directory's `valuesets/valueSets.json`).
///
/// # Errors
/// A message when the test file is not JSON or has no boolean `expected`.
pub fn run_test(
    rule: &BusinessRule,
    test: &str,
    value_sets: Option<&Json>,
) -> Result<RuleTestResult, String> {
    if test.len() > MAX_FILE_BYTES {
        return Err(format!("test file of {} bytes is too large", test.len()));
    }
    let test: Json = serde_json::from_str(test).map_err(|e| format!("not JSON: {e}"))?;
    let expected = test
        .get("expected")
        .and_then(Json::as_bool)
        .ok_or("the test has no boolean `expected`")?;
    let mut external = test.get("external").cloned().unwrap_or(Json::Null);
    if external.get("valueSets").is_none()
        && let (Some(map), Some(sets)) = (external.as_object_mut(), value_sets)
    {
        map.insert("valueSets".into(), sets.clone());
    }
    let payload = test.get("payload").unwrap_or(&Json::Null);
    let result = check(&[rule], payload, &external)
        .pop()
        .map_or(Err("no outcome".to_owned()), |outcome| outcome.result);
    Ok(RuleTestResult {
        name: test
            .get("name")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned(),
        expected,
        held: result == Ok(true),
        error: result.err(),
    })
}
