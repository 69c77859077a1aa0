//! `carnet pass …`: health certificates.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use carnet::certs::conformance::{self, FlagResult, KnownIssue, Verdict};
use carnet::codec::qr;
use clap::Subcommand;
use serde::Serialize;

use crate::session::SessionError;

/// `carnet pass …`
#[derive(Debug, Subcommand)]
pub enum PassCommand {
    /// Verify a health certificate as venue staff would: valid (exit 0), invalid (exit 1) or
    /// cannot confirm (exit 4), with the holder's name and birth date only. Nothing is stored.
    Verify(crate::verify::VerifyArgs),
    /// Run the EU DCC test data (dgc-testdata layout) found under DIR: each file's
    /// TESTCTX.CERTIFICATE is the only trusted signer and VALIDATIONCLOCK the time; every
    /// EXPECTED* flag present is checked. One line per file, then
    /// `N passed, N failed, N skipped` (skipped: disagreements listed as test-data defects in
    /// the known-issues file). Exit 1 when any file fails.
    Conformance {
        /// Directory to search, at any depth, for `2DCode/raw/*.json` files.
        dir: PathBuf,
        /// Known test-data defects, `file<TAB>flag<TAB>reason` per line
        /// (default: DIR/KNOWN_ISSUES.tsv when it exists).
        #[arg(long, value_name = "FILE")]
        known_issues: Option<PathBuf>,
        /// Print one JSON object per file instead of text lines.
        #[arg(long)]
        json: bool,
    },
    /// Run business-rule tests laid out as the EU gateway's test data:
    /// DIR/COUNTRY/RULE-ID/rule.json and DIR/COUNTRY/RULE-ID/tests/*.json (payload, external
    /// data, expected outcome). Value sets come from each test's external.valueSets, else
    /// DIR/valuesets/valueSets.json. One line per failing test, then `N passed, N failed`.
    /// Exit 1 when any test fails.
    RulesConformance {
        /// The directory of countries.
        dir: PathBuf,
    },
}

/// One file's outcome, for `--json`.
#[derive(Serialize)]
struct FileReport<'a> {
    file: String,
    verdict: &'static str,
    reason: Option<String>,
    flags: Vec<FlagReport<'a>>,
}

#[derive(Serialize)]
struct FlagReport<'a> {
    flag: &'a str,
    expected: bool,
    actual: bool,
    detail: Option<&'a str>,
}

/// Runs `carnet pass …`.
pub fn run(
    options: &crate::session::Options,
    command: PassCommand,
) -> Result<ExitCode, SessionError> {
    match command {
        PassCommand::Verify(args) => crate::verify::run(options, &args),
        PassCommand::Conformance {
            dir,
            known_issues,
            json,
        } => conformance(dir, known_issues, json),
        PassCommand::RulesConformance { dir } => rules_conformance(&dir),
    }
}

/// Most rule tests one run reads (the gateway's test data holds about a thousand).
const MAX_RULE_TESTS: usize = 100_000;

/// Runs `carnet pass rules-conformance`.
fn rules_conformance(dir: &Path) -> Result<ExitCode, SessionError> {
    use carnet::certs::rules::BusinessRule;
    use carnet::certs::rules_conformance::{self as rules_tests, MAX_FILE_BYTES};
    let read = |path: &Path, what: &'static str| {
        carnet::codec::bounded::read_text_file(path, MAX_FILE_BYTES, what)
            .map_err(|e| SessionError::Io(format!("{}: {e}", path.display())))
    };
    let value_sets_file = dir.join("valuesets").join("valueSets.json");
    let value_sets: Option<serde_json::Value> = if value_sets_file.is_file() {
        let text = read(&value_sets_file, "value sets")?;
        Some(serde_json::from_str(&text).map_err(|e| {
            SessionError::Io(format!("{}: not JSON: {e}", value_sets_file.display()))
        })?)
    } else {
        None
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    for rule_dir in subdirectories(dir)?
        .iter()
        .filter(|d| !d.ends_with("valuesets"))
        .map(|country| subdirectories(country))
        .collect::<Result<Vec<_>, _>>()?
        .concat()
    {
        let rule_file = rule_dir.join("rule.json");
        if !rule_file.is_file() {
            continue;
        }
        let name = relative_name(dir, &rule_dir);
        let rule = serde_json::from_str(&read(&rule_file, "rule")?)
            .map_err(|e| e.to_string())
            .and_then(|json| BusinessRule::from_json(&json).map_err(|e| e.to_string()));
        let tests = sorted_entries(&rule_dir.join("tests")).unwrap_or_default();
        let rule = match rule {
            Ok(rule) => rule,
            Err(error) => {
                failed += tests.len().max(1);
                outln!("FAIL  {name}/rule.json: {error}");
                continue;
            }
        };
        for test in tests
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
        {
            if passed + failed >= MAX_RULE_TESTS {
                return Err(SessionError::Usage(format!(
                    "more than {MAX_RULE_TESTS} tests under {}",
                    dir.display()
                )));
            }
            let outcome = read(test, "rule test")?;
            match rules_tests::run_test(&rule, &outcome, value_sets.as_ref()) {
                Ok(result) if result.agrees() => passed += 1,
                Ok(result) => {
                    failed += 1;
                    let why = result.error.map(|e| format!(" ({e})")).unwrap_or_default();
                    outln!(
                        "FAIL  {}: {}: expected {}, got {}{why}",
                        relative_name(dir, test),
                        result.name,
                        result.expected,
                        result.held
                    );
                }
                Err(error) => {
                    failed += 1;
                    outln!("FAIL  {}: {error}", relative_name(dir, test));
                }
            }
        }
    }
    if passed + failed == 0 {
        errln!(
            "no rules (COUNTRY/RULE-ID/rule.json) under {}",
            dir.display()
        );
        return Ok(ExitCode::from(crate::exit::Exit::Failed));
    }
    outln!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::Exit::Refused)
    })
}

/// The entries of `dir`, sorted.
fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    paths.sort();
    Ok(paths)
}

/// The directories directly under `dir`, sorted (symbolic links not followed).
fn subdirectories(dir: &Path) -> Result<Vec<PathBuf>, SessionError> {
    let entries = sorted_entries(dir)
        .map_err(|e| SessionError::Io(format!("cannot read {}: {e}", dir.display())))?;
    Ok(entries
        .into_iter()
        .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()))
        .collect())
}

/// Runs `carnet pass conformance`.
fn conformance(
    dir: PathBuf,
    known_issues: Option<PathBuf>,
    json: bool,
) -> Result<ExitCode, SessionError> {
    let known = load_known_issues(&dir, known_issues)?;
    let files = test_files(&dir)
        .map_err(|e| SessionError::Io(format!("cannot read {}: {e}", dir.display())))?;
    if files.is_empty() {
        errln!(
            "no dgc-testdata files (2DCode/raw/*.json) under {}",
            dir.display()
        );
        return Ok(ExitCode::from(crate::exit::Exit::Failed));
    }
    let decoder = |png: &[u8]| qr::scan_image_file(png).ok();
    let (mut passed, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    for file in &files {
        let name = relative_name(&dir, file);
        let outcome =
            carnet::codec::bounded::read_text_file(file, conformance::MAX_FILE_BYTES, "test file")
                .map_err(|e| e.to_string())
                .and_then(|text| {
                    conformance::run(&text, Some(&decoder)).map_err(|e| e.to_string())
                });
        let listed: Vec<&KnownIssue> = known.iter().filter(|k| k.covers(&name)).collect();
        let verdict = match &outcome {
            Ok(results) => conformance::judge(results, &listed),
            Err(error) => Verdict::Failed(error.clone()),
        };
        let (label, reason) = match &verdict {
            Verdict::Passed => {
                passed += 1;
                ("ok", None)
            }
            Verdict::Known(reasons) => {
                skipped += 1;
                ("known", Some(reasons.join("; ")))
            }
            Verdict::Failed(what) => {
                failed += 1;
                ("FAIL", Some(what.clone()))
            }
        };
        if json {
            let flags = outcome
                .as_ref()
                .map(|r| r.iter().map(flag_report).collect())
                .unwrap_or_default();
            let report = FileReport {
                file: name,
                verdict: label,
                reason,
                flags,
            };
            outln!("{}", serde_json::to_string(&report).unwrap_or_default());
        } else {
            match reason {
                None => outln!("{label:<5} {name}"),
                Some(reason) => outln!("{label:<5} {name}: {reason}"),
            }
        }
    }
    outln!("{passed} passed, {failed} failed, {skipped} skipped");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::Exit::Refused)
    })
}

/// The known issues: `--known-issues`, else `DIR/KNOWN_ISSUES.tsv` when present, else none.
fn load_known_issues(
    dir: &Path,
    explicit: Option<PathBuf>,
) -> Result<Vec<KnownIssue>, SessionError> {
    let path = match explicit {
        Some(path) => path,
        None => {
            let default = dir.join("KNOWN_ISSUES.tsv");
            if !default.is_file() {
                return Ok(Vec::new());
            }
            default
        }
    };
    let text = crate::input::read_text(&path, crate::input::MAX_LIST_BYTES, "known-issues list")?;
    conformance::parse_known_issues(&text)
        .map_err(|e| SessionError::Io(format!("{}: {e}", path.display())))
}

/// `file` relative to `dir`, with `/` separators.
fn relative_name(dir: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(dir).unwrap_or(file);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn flag_report(result: &FlagResult) -> FlagReport<'_> {
    FlagReport {
        flag: result.flag,
        expected: result.expected,
        actual: result.actual,
        detail: result.detail.as_deref(),
    }
}

/// Every `*.json` under a `2DCode/raw` directory (any case, `_2DCode` too) below `dir`,
/// sorted. Symbolic links are not followed.
fn test_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() && is_test_file(&path) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn is_test_file(path: &Path) -> bool {
    let lower = |p: Option<&Path>| {
        p.and_then(Path::file_name)
            .map(|n| n.to_string_lossy().to_lowercase())
    };
    let parent = path.parent();
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        && lower(parent).as_deref() == Some("raw")
        && matches!(
            lower(parent.and_then(Path::parent)).as_deref(),
            Some("2dcode" | "_2dcode")
        )
}
