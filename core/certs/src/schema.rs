//! The EU DCC payload schema (version 1.3.x), checked in code.
//!
//! Written by hand rather than with a JSON Schema engine: the schema is small and fixed, a
//! typed walk gives a precise path in each error, and it carries the checks a schema cannot
//! express (a birth date after the time of the check). Rules, from `DCC.combined-schema.json`
//! 1.3.0 of the eHealth Network:
//! - `ver` (`N.N.N`), `nam`, `dob` required, and exactly one of `v`, `t`, `r`, each an array of
//!   exactly one entry;
//! - `nam`: `fnt` required; `fnt`, `gnt` match `^[A-Z<]*$`; all four at most 80 characters;
//!   and (Carnet's rule, which the schema cannot say) a given name `gn` comes with its ICAO
//!   transliteration `gnt`: staff compare the transliterated name with an identity document;
//! - `dob`: `^((19|20)\d\d(-\d\d){0,2}){0,1}$`, not after the time of the check;
//! - vaccination: `tg vp mp ma dn sd dt co is ci` required; `dn`, `sd` integers ≥ 1; `dt` a date;
//! - test: `tg tt sc tr co is ci` required (`tc` optional since 1.3.0); `sc` a date-time;
//! - recovery: `tg fr co is df du ci` required; `fr df du` dates;
//! - `co` contains 1–10 capital letters; `is`, `ci`, `nm`, `tc` at most 80 characters.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::CertsError;

/// Longest free-text field, in characters.
const MAX_TEXT_CHARS: usize = 80;

/// Checks a payload against the DCC schema; `at` (Unix seconds) bounds the birth date.
///
/// # Errors
/// [`CertsError::Schema`] naming the first offending path.
pub fn validate(payload: &Value, at: Option<i64>) -> Result<(), CertsError> {
    let root = object(payload, "")?;
    let ver = text(root, "", "ver")?;
    if !is_version(ver) {
        return Err(violation("/ver", "expected a version N.N.N"));
    }
    check_name(object(required(root, "", "nam")?, "/nam")?)?;
    let dob = text(root, "", "dob")?;
    if !is_birth_date(dob) {
        return Err(violation(
            "/dob",
            "expected YYYY, YYYY-MM or YYYY-MM-DD in 1900-2099",
        ));
    }
    if let Some(at) = at {
        let today = OffsetDateTime::from_unix_timestamp(at)
            .map(|now| {
                format!(
                    "{:04}-{:02}-{:02}",
                    now.year(),
                    u8::from(now.month()),
                    now.day()
                )
            })
            .map_err(|_| violation("/dob", "time of check out of range"))?;
        // Same digits, same layout: a (partial) date is later iff its text sorts after the
        // same-length prefix of today's.
        if dob > today.get(..dob.len()).unwrap_or(&today) {
            return Err(violation("/dob", "birth date after the time of the check"));
        }
    }
    let groups: Vec<&str> = ["v", "t", "r"]
        .into_iter()
        .filter(|key| root.contains_key(*key))
        .collect();
    let [group] = groups.as_slice() else {
        return Err(violation("", "exactly one of v, t, r is required"));
    };
    let entries = required(root, "", group)?
        .as_array()
        .ok_or_else(|| violation(&format!("/{group}"), "expected an array"))?;
    let [entry] = entries.as_slice() else {
        return Err(violation(
            &format!("/{group}"),
            "expected exactly one entry",
        ));
    };
    let path = format!("/{group}/0");
    let entry = object(entry, &path)?;
    match *group {
        "v" => check_vaccination(entry, &path),
        "t" => check_test(entry, &path),
        _ => check_recovery(entry, &path),
    }
}

fn check_name(nam: &Map<String, Value>) -> Result<(), CertsError> {
    required(nam, "/nam", "fnt")?;
    for key in ["fn", "fnt", "gn", "gnt"] {
        if let Some(value) = nam.get(key) {
            let path = format!("/nam/{key}");
            let value = value
                .as_str()
                .ok_or_else(|| violation(&path, "expected a string"))?;
            if value.chars().count() > MAX_TEXT_CHARS {
                return Err(violation(&path, "longer than 80 characters"));
            }
            if key.ends_with('t') && !value.chars().all(|c| c.is_ascii_uppercase() || c == '<') {
                return Err(violation(&path, "expected only A-Z and <"));
            }
        }
    }
    let given = nam.get("gn").and_then(Value::as_str).unwrap_or_default();
    let transliterated = nam.get("gnt").and_then(Value::as_str).unwrap_or_default();
    if !given.is_empty() && transliterated.is_empty() {
        return Err(violation(
            "/nam/gnt",
            "a given name needs its ICAO transliteration",
        ));
    }
    Ok(())
}

fn check_vaccination(entry: &Map<String, Value>, path: &str) -> Result<(), CertsError> {
    for key in ["tg", "vp", "mp", "ma"] {
        text(entry, path, key)?;
    }
    for key in ["dn", "sd"] {
        let dose = required(entry, path, key)?;
        if dose.as_u64().is_none_or(|n| n < 1) {
            return Err(violation(
                &format!("{path}/{key}"),
                "expected an integer ≥ 1",
            ));
        }
    }
    date(entry, path, "dt")?;
    check_common(entry, path)
}

fn check_test(entry: &Map<String, Value>, path: &str) -> Result<(), CertsError> {
    for key in ["tg", "tt", "tr"] {
        text(entry, path, key)?;
    }
    for key in ["nm", "ma"] {
        if entry.contains_key(key) {
            text(entry, path, key)?;
        }
    }
    let sc = text(entry, path, "sc")?;
    if OffsetDateTime::parse(sc, &Rfc3339).is_err() {
        return Err(violation(
            &format!("{path}/sc"),
            "expected an RFC 3339 date-time",
        ));
    }
    if entry.contains_key("tc") {
        bounded_text(entry, path, "tc")?;
    }
    check_common(entry, path)
}

fn check_recovery(entry: &Map<String, Value>, path: &str) -> Result<(), CertsError> {
    text(entry, path, "tg")?;
    for key in ["fr", "df", "du"] {
        date(entry, path, key)?;
    }
    check_common(entry, path)
}

/// `co`, `is`, `ci`: present in every group.
fn check_common(entry: &Map<String, Value>, path: &str) -> Result<(), CertsError> {
    let co = text(entry, path, "co")?;
    if !co.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(violation(&format!("{path}/co"), "expected a country code"));
    }
    bounded_text(entry, path, "is")?;
    bounded_text(entry, path, "ci")?;
    Ok(())
}

fn violation(path: &str, reason: &str) -> CertsError {
    CertsError::Schema {
        path: if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
        reason: reason.into(),
    }
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, CertsError> {
    value
        .as_object()
        .ok_or_else(|| violation(path, "expected an object"))
}

fn required<'a>(
    map: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<&'a Value, CertsError> {
    map.get(key)
        .ok_or_else(|| violation(&format!("{path}/{key}"), "required"))
}

fn text<'a>(map: &'a Map<String, Value>, path: &str, key: &str) -> Result<&'a str, CertsError> {
    required(map, path, key)?
        .as_str()
        .ok_or_else(|| violation(&format!("{path}/{key}"), "expected a string"))
}

fn bounded_text<'a>(
    map: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<&'a str, CertsError> {
    let value = text(map, path, key)?;
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(violation(
            &format!("{path}/{key}"),
            "longer than 80 characters",
        ));
    }
    Ok(value)
}

fn date<'a>(map: &'a Map<String, Value>, path: &str, key: &str) -> Result<&'a str, CertsError> {
    let value = text(map, path, key)?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    if time::Date::parse(value, &format).is_err() {
        return Err(violation(
            &format!("{path}/{key}"),
            "expected a date YYYY-MM-DD",
        ));
    }
    Ok(value)
}

/// `^\d+\.\d+\.\d+$`
fn is_version(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `^((19|20)\d\d(-\d\d){0,2}){0,1}$`
fn is_birth_date(text: &str) -> bool {
    if text.is_empty() {
        return true;
    }
    let mut parts = text.split('-');
    let year_ok = parts.next().is_some_and(|y| {
        y.len() == 4
            && y.bytes().all(|b| b.is_ascii_digit())
            && (y.starts_with("19") || y.starts_with("20"))
    });
    let rest: Vec<&str> = parts.collect();
    year_ok
        && rest.len() <= 2
        && rest
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
}
