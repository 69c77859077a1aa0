//! Reading CWT claims straight from CBOR into the certificate's JSON payload.
//!
//! A small CBOR reader written for this one job, rather than serde over ciborium: it walks the
//! signed bytes once, borrowing text from them, and builds the `eu_dgc_v1` payload directly as
//! JSON. It is on the path of every certificate scanned, where ciborium's serde path took 5–6 µs
//! of the ~10 µs a whole decode may cost next to one ECDSA verification (see
//! `docs/BENCHMARKS.md`). It reads all of RFC 8949 that can appear (definite and indefinite
//! lengths, half/single/double floats, tags) and is strict about the payload: text map keys, no
//! duplicate keys, no byte strings, finite numbers, and tags only around text (issuers tag date
//! strings: 0 for date-time, 1004 for full-date). Nesting is bounded by
//! [`carnet_codec::cbor::MAX_DEPTH`], and every length is checked against the bytes left.

use serde_json::{Map, Number, Value as Json};

/// CWT claim keys.
const CLAIM_ISSUER: i64 = 1;
const CLAIM_EXPIRES: i64 = 4;
const CLAIM_ISSUED_AT: i64 = 6;
const CLAIM_HCERT: i64 = -260;
/// Key of the EU DCC inside the `hcert` claim.
const HCERT_EU_DGC_V1: i64 = 1;
/// Prefix of the error messages that concern the payload rather than the claims around it.
pub(crate) const PAYLOAD_ERROR: &str = "payload: ";
/// Deepest nesting read.
const MAX_DEPTH: usize = carnet_codec::cbor::MAX_DEPTH;

/// The claims as read, before their presence is checked.
#[derive(Default)]
pub(crate) struct RawClaims {
    pub(crate) issuer: Option<String>,
    pub(crate) issued_at: Option<i64>,
    pub(crate) expires_at: Option<i64>,
    pub(crate) hcert_present: bool,
    pub(crate) payload: Option<Json>,
}

/// One CBOR data item's head.
#[derive(Debug, Clone, Copy)]
enum Head {
    Unsigned(u64),
    /// The value is −1 − n.
    Negative(u64),
    /// `None`: indefinite length.
    Bytes(Option<u64>),
    Text(Option<u64>),
    Array(Option<u64>),
    Map(Option<u64>),
    /// A tag (its number is not needed: only tagged text is accepted).
    Tag,
    /// false (20), true (21), null (22), undefined (23), or another simple value.
    Simple(u8),
    Float(f64),
    Break,
}

fn payload_error(what: &str) -> String {
    format!("{PAYLOAD_ERROR}{what}")
}

/// A cursor over CBOR bytes.
struct Reader<'a> {
    data: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Reader { data, position: 0 }
    }

    fn finished(&self) -> bool {
        self.position >= self.data.len()
    }

    fn take(&mut self, length: u64) -> Result<&'a [u8], String> {
        let length = usize::try_from(length).map_err(|_| "length out of range".to_owned())?;
        let end = self
            .position
            .checked_add(length)
            .filter(|end| *end <= self.data.len());
        let end = end.ok_or_else(|| "truncated CBOR".to_owned())?;
        let bytes = self
            .data
            .get(self.position..end)
            .ok_or_else(|| "truncated CBOR".to_owned())?;
        self.position = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?.first().copied().unwrap_or_default())
    }

    fn uint(&mut self, size: u64) -> Result<u64, String> {
        Ok(self
            .take(size)?
            .iter()
            .fold(0u64, |acc, b| acc << 8 | u64::from(*b)))
    }

    /// The argument of a head: `None` for an indefinite length (additional info 31).
    fn argument(&mut self, info: u8) -> Result<Option<u64>, String> {
        match info {
            0..=23 => Ok(Some(u64::from(info))),
            24 => Ok(Some(self.uint(1)?)),
            25 => Ok(Some(self.uint(2)?)),
            26 => Ok(Some(self.uint(4)?)),
            27 => Ok(Some(self.uint(8)?)),
            31 => Ok(None),
            _ => Err("reserved additional information".into()),
        }
    }

    fn head(&mut self) -> Result<Head, String> {
        let initial = self.byte()?;
        let info = initial & 0x1f;
        let definite = |argument: Option<u64>| {
            argument.ok_or_else(|| "indefinite length not allowed here".to_owned())
        };
        Ok(match initial >> 5 {
            0 => Head::Unsigned(definite(self.argument(info)?)?),
            1 => Head::Negative(definite(self.argument(info)?)?),
            2 => Head::Bytes(self.argument(info)?),
            3 => Head::Text(self.argument(info)?),
            4 => Head::Array(self.argument(info)?),
            5 => Head::Map(self.argument(info)?),
            6 => {
                definite(self.argument(info)?)?;
                Head::Tag
            }
            _ => match info {
                0..=23 => Head::Simple(info),
                24 => Head::Simple(self.byte()?),
                25 => Head::Float(half_to_f64(
                    u16::try_from(self.uint(2)?).unwrap_or_default(),
                )),
                26 => Head::Float(f64::from(f32::from_bits(
                    u32::try_from(self.uint(4)?).unwrap_or_default(),
                ))),
                27 => Head::Float(f64::from_bits(self.uint(8)?)),
                31 => Head::Break,
                _ => return Err("reserved simple value encoding".into()),
            },
        })
    }

    /// Text of a definite or indefinite (chunked) text string.
    fn text(&mut self, length: Option<u64>) -> Result<&'a str, String> {
        match length {
            Some(length) => {
                std::str::from_utf8(self.take(length)?).map_err(|_| "invalid UTF-8 text".to_owned())
            }
            None => Err("chunked text is not supported in claims".into()),
        }
    }

    /// Skips one item whose head was read.
    fn skip(&mut self, head: Head, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("CBOR nested deeper than {MAX_DEPTH} levels"));
        }
        match head {
            Head::Unsigned(_) | Head::Negative(_) | Head::Simple(_) | Head::Float(_) => Ok(()),
            Head::Bytes(Some(length)) | Head::Text(Some(length)) => self.take(length).map(|_| ()),
            Head::Bytes(None) | Head::Text(None) => loop {
                match self.head()? {
                    Head::Break => return Ok(()),
                    chunk @ (Head::Bytes(Some(_)) | Head::Text(Some(_))) => {
                        self.skip(chunk, depth + 1)?
                    }
                    _ => return Err("invalid chunk in a chunked string".into()),
                }
            },
            Head::Array(length) => {
                self.each(length, depth, |reader, head| reader.skip(head, depth + 1))
            }
            Head::Map(length) => self.each(length, depth, |reader, key| {
                reader.skip(key, depth + 1)?;
                let value = reader.head()?;
                reader.skip(value, depth + 1)
            }),
            Head::Tag => {
                let inner = self.head()?;
                self.skip(inner, depth + 1)
            }
            Head::Break => Err("unexpected break".into()),
        }
    }

    /// Calls `visit` for each element (or map key) of a definite or indefinite container.
    fn each(
        &mut self,
        length: Option<u64>,
        depth: usize,
        mut visit: impl FnMut(&mut Self, Head) -> Result<(), String>,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("CBOR nested deeper than {MAX_DEPTH} levels"));
        }
        match length {
            Some(count) => {
                // Every element takes at least one byte: a count beyond the bytes left is a lie.
                let left = u64::try_from(self.data.len() - self.position.min(self.data.len()))
                    .unwrap_or(u64::MAX);
                if count > left {
                    return Err("truncated CBOR".into());
                }
                for _ in 0..count {
                    let head = self.head()?;
                    visit(self, head)?;
                }
                Ok(())
            }
            None => loop {
                match self.head()? {
                    Head::Break => return Ok(()),
                    head => visit(self, head)?,
                }
            },
        }
    }

    /// Reads one item whose head was read as payload JSON (strict rules above).
    fn json(&mut self, head: Head, depth: usize) -> Result<Json, String> {
        if depth > MAX_DEPTH {
            return Err(format!("CBOR nested deeper than {MAX_DEPTH} levels"));
        }
        Ok(match head {
            Head::Unsigned(n) => Json::from(n),
            Head::Negative(n) => {
                let n = i64::try_from(n).map_err(|_| payload_error("integer out of range"))?;
                Json::from(-1 - n)
            }
            Head::Float(f) => Number::from_f64(f)
                .map(Json::Number)
                .ok_or_else(|| payload_error("non-finite number"))?,
            Head::Text(length) => Json::String(self.text(length)?.to_owned()),
            Head::Bytes(_) => return Err(payload_error("byte string in payload")),
            Head::Simple(20) => Json::Bool(false),
            Head::Simple(21) => Json::Bool(true),
            Head::Simple(22 | 23) => Json::Null,
            Head::Simple(_) => return Err(payload_error("unsupported simple value")),
            Head::Tag => match self.head()? {
                text @ Head::Text(_) => self.json(text, depth + 1)?,
                _ => return Err(payload_error("tagged value other than text in payload")),
            },
            Head::Array(length) => {
                let mut items = Vec::new();
                self.each(length, depth, |reader, head| {
                    items.push(reader.json(head, depth + 1)?);
                    Ok(())
                })?;
                Json::Array(items)
            }
            Head::Map(length) => {
                let mut object = Map::new();
                self.each(length, depth, |reader, key| {
                    let Head::Text(key_length) = key else {
                        return Err(payload_error("map key is not text"));
                    };
                    let key = reader.text(key_length)?;
                    if object.contains_key(key) {
                        return Err(payload_error(&format!("duplicate key {key:?}")));
                    }
                    let value = reader.head()?;
                    let value = reader.json(value, depth + 1)?;
                    object.insert(key.to_owned(), value);
                    Ok(())
                })?;
                Json::Object(object)
            }
            Head::Break => return Err("unexpected break".into()),
        })
    }

    /// An integer map key, or `None` after skipping a key of another type.
    fn int_key(&mut self, head: Head, depth: usize) -> Result<Option<i64>, String> {
        match head {
            Head::Unsigned(n) => Ok(i64::try_from(n).ok()),
            Head::Negative(n) => Ok(i64::try_from(n).ok().map(|n| -1 - n)),
            other => self.skip(other, depth + 1).map(|()| None),
        }
    }
}

/// IEEE 754 half precision to double.
fn half_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let mantissa = f64::from(bits & 0x3ff);
    sign * match exponent {
        0 => mantissa * 2f64.powi(-24),
        31 if mantissa == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1.0 + mantissa / 1024.0) * 2f64.powi(exponent - 15),
    }
}

/// A NumericDate: an integer, or a float with whole seconds kept.
fn numeric_date(head: Head) -> Result<i64, String> {
    match head {
        Head::Unsigned(n) => i64::try_from(n).map_err(|_| "time out of range".to_owned()),
        Head::Negative(n) => i64::try_from(n)
            .map(|n| -1 - n)
            .map_err(|_| "time out of range".to_owned()),
        // In range, so the truncation keeps the whole seconds exactly.
        Head::Float(f) if f.is_finite() && f.abs() < 1e15 => Ok(f.trunc() as i64),
        _ => Err("time is not a number".into()),
    }
}

/// Reads the claims from the signed payload bytes.
pub(crate) fn raw_claims_from_cbor(bytes: &[u8]) -> Result<RawClaims, String> {
    let mut reader = Reader::new(bytes);
    let Head::Map(length) = reader.head()? else {
        return Err("claims are not a map".into());
    };
    let mut claims = RawClaims::default();
    reader.each(length, 0, |reader, key| {
        let key = reader.int_key(key, 1)?;
        let value = reader.head()?;
        match key {
            Some(CLAIM_ISSUER) => match value {
                Head::Text(length) => claims.issuer = Some(reader.text(length)?.to_owned()),
                _ => return Err("issuer is not text".into()),
            },
            Some(CLAIM_EXPIRES) => claims.expires_at = Some(numeric_date(value)?),
            Some(CLAIM_ISSUED_AT) => claims.issued_at = Some(numeric_date(value)?),
            Some(CLAIM_HCERT) => {
                claims.hcert_present = true;
                let Head::Map(length) = value else {
                    return Err("hcert is not a map".into());
                };
                reader.each(length, 1, |reader, key| {
                    let key = reader.int_key(key, 2)?;
                    let value = reader.head()?;
                    if key == Some(HCERT_EU_DGC_V1) {
                        claims.payload = Some(reader.json(value, 2)?);
                        Ok(())
                    } else {
                        reader.skip(value, 2)
                    }
                })?;
            }
            _ => reader.skip(value, 1)?,
        }
        Ok(())
    })?;
    if !reader.finished() {
        return Err("bytes after the claims".into());
    }
    Ok(claims)
}

/// Reads JSON strictly from a whole CBOR item (a bare `eu_dgc_v1` map).
pub(crate) fn strict_json_from_cbor(bytes: &[u8]) -> Result<Json, String> {
    let mut reader = Reader::new(bytes);
    let head = reader.head()?;
    let json = reader.json(head, 0)?;
    if !reader.finished() {
        return Err("bytes after the item".into());
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use ciborium::Value;

    use crate::CertsError;
    use crate::hcert::parse_claims;

    fn claims_with(payload: Value) -> Vec<u8> {
        let claims = Value::Map(vec![
            (Value::from("note"), Value::from("ignored text key")),
            (Value::from(1), Value::from("FR")),
            (Value::from(6), Value::Float(1_600_000_000.7)),
            (Value::from(4), Value::from(1_700_000_000)),
            (
                Value::from(-260),
                Value::Map(vec![(Value::from(1), payload)]),
            ),
        ]);
        carnet_codec::cbor::to_vec(&claims).unwrap()
    }

    fn map(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        )
    }

    #[test]
    fn claims_and_payload_are_read_in_one_pass() {
        let payload = map(vec![
            ("ver", Value::from("1.3.0")),
            (
                "sc",
                Value::Tag(0, Box::new(Value::from("2021-06-15T09:24:02Z"))),
            ),
            ("dt", Value::Tag(1004, Box::new(Value::from("2021-06-15")))),
            (
                "list",
                Value::Array(vec![Value::from(1), Value::Bool(true), Value::Null]),
            ),
        ]);
        let claims = parse_claims(&claims_with(payload)).unwrap();
        assert_eq!(claims.issuer.as_deref(), Some("FR"));
        assert_eq!(claims.issued_at, Some(1_600_000_000));
        assert_eq!(claims.expires_at, Some(1_700_000_000));
        assert_eq!(claims.payload["sc"], "2021-06-15T09:24:02Z");
        assert_eq!(claims.payload["list"], serde_json::json!([1, true, null]));
    }

    #[test]
    fn indefinite_lengths_and_half_floats_are_read() {
        // {1: "FR", -260: {1: {_ "a": [_ 1.5(half), null], "b": true}}} with indefinite map and array.
        let bytes = [
            0xa2, 0x01, 0x62, b'F', b'R', 0x39, 0x01, 0x03, 0xa1, 0x01, 0xbf, 0x61, b'a', 0x9f,
            0xf9, 0x3e, 0x00, 0xf6, 0xff, 0x61, b'b', 0xf5, 0xff,
        ];
        let claims = parse_claims(&bytes).unwrap();
        assert_eq!(
            claims.payload,
            serde_json::json!({"a": [1.5, null], "b": true})
        );
        assert_eq!(super::half_to_f64(0x3c00), 1.0);
        assert_eq!(super::half_to_f64(0xc000), -2.0);
        assert_eq!(super::half_to_f64(0x0001), 2f64.powi(-24));
        assert!(super::half_to_f64(0x7c00).is_infinite());
    }

    #[test]
    fn hostile_payloads_are_typed_errors() {
        let duplicate = Value::Map(vec![
            (Value::from("a"), Value::from(1)),
            (Value::from("a"), Value::from(2)),
        ]);
        let cases = [
            duplicate,
            map(vec![("b", Value::Bytes(vec![1, 2]))]),
            Value::Map(vec![(Value::from(7), Value::from(1))]),
            map(vec![("t", Value::Tag(0, Box::new(Value::from(5))))]),
            map(vec![("f", Value::Float(f64::NAN))]),
        ];
        for payload in cases {
            assert!(
                matches!(
                    parse_claims(&claims_with(payload.clone())),
                    Err(CertsError::Payload(_))
                ),
                "{payload:?}"
            );
        }
        assert!(matches!(
            parse_claims(&claims_with(Value::from(3))),
            Err(CertsError::Payload(_))
        ));
        let no_hcert =
            carnet_codec::cbor::to_vec(&Value::Map(vec![(Value::from(1), Value::from("FR"))]))
                .unwrap();
        assert_eq!(
            parse_claims(&no_hcert).unwrap_err(),
            CertsError::Claims("no hcert claim (-260)")
        );
        let bad_time = Value::Map(vec![(Value::from(4), Value::from("tomorrow"))]);
        assert!(matches!(
            parse_claims(&carnet_codec::cbor::to_vec(&bad_time).unwrap()),
            Err(CertsError::Claims(_))
        ));
        let mut trailing = claims_with(map(vec![]));
        trailing.push(0);
        assert!(parse_claims(&trailing).is_err());
        // An array claiming 2^32 elements with four bytes left, and a truncated text.
        assert!(parse_claims(&[0xa1, 0x07, 0x9a, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02]).is_err());
        assert!(parse_claims(&[0xa1, 0x01, 0x65, b'F', b'R']).is_err());
        let mut deep = vec![0xa1u8, 0x39, 0x01, 0x03, 0xa1, 0x01];
        deep.extend(std::iter::repeat_n(0x81u8, 5000));
        deep.push(0);
        assert!(parse_claims(&deep).is_err());
    }
}
