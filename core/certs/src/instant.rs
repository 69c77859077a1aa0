//! Times as text: reading the forms found in test data and on the command line, writing RFC 3339.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Reads a time: RFC 3339, or without an offset (read as UTC), or with a `+hhmm` offset.
///
/// # Errors
/// A message naming the text.
pub fn parse(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let bytes = text.as_bytes();
    let has_zone = text.ends_with('Z') || text.ends_with('z') || {
        let tail = bytes
            .get(bytes.len().saturating_sub(6)..)
            .unwrap_or_default();
        matches!(tail, [b'+' | b'-', _, _, b':', _, _])
    };
    let compact_offset = bytes.len() > 5
        && matches!(bytes.get(bytes.len() - 5), Some(b'+' | b'-'))
        && bytes
            .get(bytes.len() - 4..)
            .is_some_and(|t| t.iter().all(u8::is_ascii_digit))
        && text.contains('T');
    let normalised = if compact_offset {
        let (head, minutes) = text.split_at(text.len() - 2);
        format!("{head}:{minutes}")
    } else if has_zone {
        text.to_owned()
    } else {
        format!("{text}Z")
    };
    OffsetDateTime::parse(&normalised, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|e| format!("time {text:?}: {e}"))
}

/// Writes Unix seconds as RFC 3339 UTC (`2021-05-30T13:48:50Z`); out-of-range times as the
/// number itself.
pub fn format(unix_seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix_seconds.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_in_every_form_of_the_test_data_parse() {
        let base = 1_622_382_530;
        for text in [
            "2021-05-30T13:48:50",
            "2021-05-30T13:48:50Z",
            "2021-05-30T13:48:50.494469",
            "2021-05-30T15:48:50+02:00",
            "2021-05-30T15:48:50+0200",
            "2021-05-30T13:48:50.123456789Z",
        ] {
            assert_eq!(parse(text), Ok(base), "{text}");
        }
        assert!(parse("yesterday").is_err());
        assert!(parse("").is_err());
        assert_eq!(format(base), "2021-05-30T13:48:50Z");
    }
}
