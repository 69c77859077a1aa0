//! HL7 timestamps (`TS`): `YYYY[MM[DD[HH[MM[SS[.f…]]]]]][±ZZZZ]`.

use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

/// Splits the offset (`+0100`) from the date and time.
fn split(text: &str) -> (&str, Option<&str>) {
    match text.find(['+', '-']) {
        Some(at) => (text.get(..at).unwrap_or_default(), text.get(at..)),
        None => (text, None),
    }
}

/// The offset written, in minutes.
pub(crate) fn offset_minutes(text: &str) -> Option<i32> {
    let offset = split(text).1?;
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let digits = offset.get(1..)?;
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits.get(..2)?.parse().ok()?;
    let minutes: i32 = digits.get(2..)?.parse().ok()?;
    (hours <= 14 && minutes < 60).then_some(sign * (hours * 60 + minutes))
}

/// The instant, Unix milliseconds: the first moment of the precision written (`2021` is
/// 2021-01-01T00:00), at the offset written, else UTC.
pub(crate) fn unix_millis(text: &str) -> Option<i64> {
    let (moment, _) = split(text);
    let (digits, fraction) = match moment.split_once('.') {
        Some((digits, fraction)) => (digits, Some(fraction)),
        None => (moment, None),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || ![4, 6, 8, 10, 12, 14].contains(&digits.len())
    {
        return None;
    }
    let field = |range: std::ops::Range<usize>, default: u32| -> Option<u32> {
        match digits.get(range) {
            Some(part) => part.parse().ok(),
            None => Some(default),
        }
    };
    let year: i32 = digits.get(..4)?.parse().ok()?;
    let month = Month::try_from(u8::try_from(field(4..6, 1)?).ok()?).ok()?;
    let day = u8::try_from(field(6..8, 1)?).ok()?;
    let hour = u8::try_from(field(8..10, 0)?).ok()?;
    let minute = u8::try_from(field(10..12, 0)?).ok()?;
    let second = u8::try_from(field(12..14, 0)?).ok()?;
    let millis = match fraction {
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            let padded = format!("{:0<3}", f.get(..3.min(f.len()))?);
            padded.parse::<u16>().ok()?
        }
        Some(_) => return None,
        None => 0,
    };
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms_milli(hour, minute, second, millis).ok()?;
    let offset = match offset_minutes(text) {
        Some(minutes) => UtcOffset::from_whole_seconds(minutes * 60).ok()?,
        None if split(text).1.is_some() => return None,
        None => UtcOffset::UTC,
    };
    let at = PrimitiveDateTime::new(date, time).assume_offset(offset);
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_read_at_their_offset_and_precision() {
        assert_eq!(unix_millis("20210104160527+0100"), Some(1_609_772_727_000));
        assert_eq!(offset_minutes("20210104160527+0100"), Some(60));
        assert_eq!(offset_minutes("202101041605-0530"), Some(-330));
        assert_eq!(unix_millis("20210104"), Some(1_609_718_400_000));
        assert_eq!(unix_millis("2021"), Some(1_609_459_200_000));
        assert_eq!(unix_millis("20210104160527.5Z"), None);
        assert_eq!(unix_millis("20210104160527.5"), Some(1_609_776_327_500));
        for bad in [
            "",
            "2021013",
            "20211304",
            "20210230",
            "2021010425",
            "abcd",
            "20210104+01",
        ] {
            assert_eq!(unix_millis(bad), None, "{bad}");
        }
    }
}
