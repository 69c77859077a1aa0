//! The EU DCC payload schemas of every published version, checked with a JSON Schema engine,
//! and apart from them the checks Carnet adds.
//!
//! The nine `DCC.combined-schema.json` files of the eHealth Network (tags 1.0.0 … 1.3.3 of
//! `eu-dcc-schema`, in `data/dcc-schema/`) are compiled by the `jsonschema` crate as draft
//! 2020-12, the draft they declare. A payload is checked against the version it declares in
//! `ver`, or, for a patch level that was never published, the newest published version of the
//! same major version not above it (`1.3.4` → `1.3.3`, `1.2.5` → `1.2.1`); a conformance run
//! names the version itself. As draft 2020-12 says and as the reference test runner of the EU
//! test data did, `format` is an annotation, not an assertion: schema 1.0.0 lets a vaccination
//! date carry a time. Value sets are not part of the schemas (their `valueset-uri` is a
//! pointer, not a constraint); the business rules check codes against the value sets.
//!
//! [`content_checks`] are Carnet's own, reported apart from schema validity
//! ([`CertsError::Content`]): what a schema cannot say and a verifier still needs — a birth
//! date not after the time of the check, exactly one of `v`, `t`, `r` (schema 1.0.0 does not
//! say it), dates that the rules can read, and a given name with its ICAO transliteration
//! (staff compare the transliterated name with an identity document).

use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::CertsError;

/// The published schema versions, oldest first, with their combined schema.
const PUBLISHED: [((u32, u32, u32), &str); 9] = [
    ((1, 0, 0), include_str!("../data/dcc-schema/1.0.0.json")),
    ((1, 0, 1), include_str!("../data/dcc-schema/1.0.1.json")),
    ((1, 1, 0), include_str!("../data/dcc-schema/1.1.0.json")),
    ((1, 2, 0), include_str!("../data/dcc-schema/1.2.0.json")),
    ((1, 2, 1), include_str!("../data/dcc-schema/1.2.1.json")),
    ((1, 3, 0), include_str!("../data/dcc-schema/1.3.0.json")),
    ((1, 3, 1), include_str!("../data/dcc-schema/1.3.1.json")),
    ((1, 3, 2), include_str!("../data/dcc-schema/1.3.2.json")),
    ((1, 3, 3), include_str!("../data/dcc-schema/1.3.3.json")),
];

/// Each schema compiled on first use (or the reason it could not be).
static COMPILED: [OnceLock<Result<Validator, String>>; 9] = [const { OnceLock::new() }; 9];

/// Most schema violations named in one error.
const MAX_REPORTED: usize = 3;

/// The published versions, as `N.N.N`, oldest first.
pub fn published_versions() -> Vec<String> {
    PUBLISHED
        .iter()
        .map(|((major, minor, patch), _)| format!("{major}.{minor}.{patch}"))
        .collect()
}

/// The published version a declared one falls under: itself when published, else the newest
/// published version of the same major version below it.
///
/// # Errors
/// [`CertsError::Schema`] at `/ver` when the text is not `N.N.N` or no published version fits.
pub fn version_for(declared: &str) -> Result<String, CertsError> {
    let index = published_index(declared)?;
    let ((major, minor, patch), _) = PUBLISHED.get(index).ok_or_else(|| unknown(declared))?;
    Ok(format!("{major}.{minor}.{patch}"))
}

fn published_index(declared: &str) -> Result<usize, CertsError> {
    let wanted = parse_version(declared).ok_or_else(|| CertsError::Schema {
        path: "/ver".into(),
        reason: format!("“{declared}” is not a version N.N.N"),
    })?;
    PUBLISHED
        .iter()
        .rposition(|(published, _)| published.0 == wanted.0 && *published <= wanted)
        .ok_or_else(|| unknown(declared))
}

fn unknown(declared: &str) -> CertsError {
    CertsError::Schema {
        path: "/ver".into(),
        reason: format!("no published DCC schema covers version {declared}"),
    }
}

fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.split('.').map(|part| {
        (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse::<u32>().ok())
            .flatten()
    });
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

/// Checks a payload against the official schema of `version`, or of the version its `ver`
/// declares when `version` is `None`.
///
/// # Errors
/// [`CertsError::Schema`] naming the path of the first violations and the schema version.
pub fn validate(payload: &Value, version: Option<&str>) -> Result<(), CertsError> {
    let declared = match version {
        Some(version) => version,
        None => payload
            .get("ver")
            .and_then(Value::as_str)
            .ok_or_else(|| CertsError::Schema {
                path: "/ver".into(),
                reason: "the certificate names no schema version".into(),
            })?,
    };
    let index = published_index(declared)?;
    let (((major, minor, patch), text), slot) = PUBLISHED
        .get(index)
        .zip(COMPILED.get(index))
        .ok_or_else(|| unknown(declared))?;
    let name = format!("{major}.{minor}.{patch}");
    let validator = slot
        .get_or_init(|| {
            serde_json::from_str::<Value>(text)
                .map_err(|e| e.to_string())
                .and_then(|schema| jsonschema::draft202012::new(&schema).map_err(|e| e.to_string()))
        })
        .as_ref()
        .map_err(|reason| CertsError::Schema {
            path: "/".into(),
            reason: format!("schema {name} could not be compiled: {reason}"),
        })?;
    let errors: Vec<(String, String)> = validator
        .iter_errors(payload)
        .take(MAX_REPORTED)
        .map(|error| (error.instance_path().to_string(), error.to_string()))
        .collect();
    match errors.split_first() {
        None => Ok(()),
        Some(((path, first), rest)) => {
            let more: String = rest
                .iter()
                .map(|(path, reason)| format!("; {}: {reason}", or_root(path)))
                .collect();
            Err(CertsError::Schema {
                path: or_root(path),
                reason: format!("{first}{more} (schema {name})"),
            })
        }
    }
}

fn or_root(path: &str) -> String {
    if path.is_empty() {
        "/".into()
    } else {
        path.into()
    }
}

/// Carnet's own checks of a payload that passed its schema; `at` (Unix seconds) bounds the
/// birth date.
///
/// # Errors
/// [`CertsError::Content`] naming the offending path.
pub fn content_checks(payload: &Value, at: Option<i64>) -> Result<(), CertsError> {
    let root = payload
        .as_object()
        .ok_or_else(|| content("/", "expected an object"))?;
    if let (Some(at), Some(dob)) = (at, root.get("dob").and_then(Value::as_str)) {
        check_birth_date(dob, at)?;
    }
    if let Some(nam) = root.get("nam").and_then(Value::as_object) {
        let given = text_of(nam, "gn");
        if !given.is_empty() && text_of(nam, "gnt").is_empty() {
            return Err(content(
                "/nam/gnt",
                "a given name needs its ICAO transliteration",
            ));
        }
    }
    let group = single_group(payload)?;
    let entries = root.get(group).and_then(Value::as_array);
    let Some([entry]) = entries.map(Vec::as_slice) else {
        return Err(content(
            &format!("/{group}"),
            "expected exactly one entry: a certificate states one event",
        ));
    };
    let entry = entry
        .as_object()
        .ok_or_else(|| content(&format!("/{group}/0"), "expected an object"))?;
    let dates: &[&str] = match group {
        "v" => &["dt"],
        "t" => &["sc"],
        _ => &["fr", "df", "du"],
    };
    for key in dates {
        let value = text_of(entry, key);
        if !is_date_or_date_time(value) {
            return Err(content(
                &format!("/{group}/0/{key}"),
                "expected a date YYYY-MM-DD or an RFC 3339 date-time",
            ));
        }
    }
    Ok(())
}

/// The one group (`v`, `t` or `r`) a payload holds: a certificate is of one type.
///
/// # Errors
/// [`CertsError::Content`] when it holds none or several.
pub fn single_group(payload: &Value) -> Result<&'static str, CertsError> {
    let groups: Vec<&'static str> = ["v", "t", "r"]
        .into_iter()
        .filter(|key| payload.get(*key).is_some())
        .collect();
    match groups.as_slice() {
        [group] => Ok(group),
        _ => Err(content("/", "exactly one of v, t, r is required")),
    }
}

fn check_birth_date(dob: &str, at: i64) -> Result<(), CertsError> {
    let now = OffsetDateTime::from_unix_timestamp(at)
        .map_err(|_| content("/dob", "time of check out of range"))?;
    let today = format!(
        "{:04}-{:02}-{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    );
    // The schema fixed the layout (YYYY, YYYY-MM or YYYY-MM-DD): a (partial) date is later
    // iff its text sorts after the same-length prefix of today's.
    if dob.is_ascii() && dob > today.get(..dob.len()).unwrap_or(&today) {
        return Err(content("/dob", "birth date after the time of the check"));
    }
    Ok(())
}

fn text_of<'a>(map: &'a Map<String, Value>, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn is_date_or_date_time(text: &str) -> bool {
    let date = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &date).is_ok() || OffsetDateTime::parse(text, &Rfc3339).is_ok()
}

fn content(path: &str, reason: &str) -> CertsError {
    CertsError::Content {
        path: path.into(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_versions_fall_under_published_ones() {
        assert_eq!(version_for("1.3.0").unwrap(), "1.3.0");
        assert_eq!(version_for("1.3.9").unwrap(), "1.3.3");
        assert_eq!(version_for("1.2.5").unwrap(), "1.2.1");
        assert_eq!(version_for("1.9.0").unwrap(), "1.3.3");
        assert!(version_for("0.9.0").is_err());
        assert!(version_for("2.0.0").is_err());
        assert!(version_for("1.3").is_err());
        assert!(version_for("1.3.x").is_err());
        assert!(version_for("1.3.0.1").is_err());
        assert_eq!(published_versions().len(), PUBLISHED.len());
    }
}
