//! Reading CWT claims straight from CBOR into the certificate's JSON payload.
//!
//! The claims are deserialised in one pass (serde over ciborium), the `eu_dgc_v1` map landing
//! directly as JSON: no intermediate CBOR value tree to build and convert, which halved the
//! time of this step. The payload is read strictly: text map keys, no duplicate keys, no byte
//! strings, finite numbers, and tags only around text (issuers tag date strings: 0 for
//! date-time, 1004 for full-date); depth is bounded by the CBOR reader's recursion limit.

use std::fmt;

use serde::de::{
    self, Deserialize, Deserializer, EnumAccess, IgnoredAny, MapAccess, SeqAccess, VariantAccess,
    Visitor,
};
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

/// The claims as read, before their presence is checked.
#[derive(Default)]
pub(crate) struct RawClaims {
    pub(crate) issuer: Option<String>,
    pub(crate) issued_at: Option<i64>,
    pub(crate) expires_at: Option<i64>,
    pub(crate) hcert_present: bool,
    pub(crate) payload: Option<Json>,
}

/// A map key: an integer claim, or anything else (skipped).
enum Key {
    Int(i64),
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a claim key")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Key, E> {
                Ok(Key::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Key, E> {
                Ok(i64::try_from(v).map_or(Key::Other, Key::Int))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Key, E> {
                Ok(Key::Other)
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Key, E> {
                Ok(Key::Other)
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

/// A NumericDate: an integer, or a float with whole seconds kept.
struct NumericDate(i64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DateVisitor;
        impl<'de> Visitor<'de> for DateVisitor {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a time in seconds")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                Ok(NumericDate(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                i64::try_from(v)
                    .map(NumericDate)
                    .map_err(|_| E::custom("time out of range"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                if v.is_finite() && v.abs() < 1e15 {
                    // In range, so the truncation keeps the whole seconds exactly.
                    Ok(NumericDate(v.trunc() as i64))
                } else {
                    Err(E::custom("time out of range"))
                }
            }
        }
        deserializer.deserialize_any(DateVisitor)
    }
}

impl<'de> Deserialize<'de> for RawClaims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ClaimsVisitor;
        impl<'de> Visitor<'de> for ClaimsVisitor {
            type Value = RawClaims;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a CWT claims map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawClaims, A::Error> {
                let mut claims = RawClaims::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Int(CLAIM_ISSUER) => claims.issuer = Some(map.next_value::<String>()?),
                        Key::Int(CLAIM_EXPIRES) => {
                            claims.expires_at = Some(map.next_value::<NumericDate>()?.0)
                        }
                        Key::Int(CLAIM_ISSUED_AT) => {
                            claims.issued_at = Some(map.next_value::<NumericDate>()?.0)
                        }
                        Key::Int(CLAIM_HCERT) => {
                            claims.hcert_present = true;
                            claims.payload = map.next_value::<Hcert>()?.0;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(claims)
            }
        }
        deserializer.deserialize_map(ClaimsVisitor)
    }
}

/// The `hcert` claim: a map whose key 1 holds the EU DCC payload.
struct Hcert(Option<Json>);

impl<'de> Deserialize<'de> for Hcert {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HcertVisitor;
        impl<'de> Visitor<'de> for HcertVisitor {
            type Value = Hcert;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the hcert map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Hcert, A::Error> {
                let mut payload = None;
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Int(HCERT_EU_DGC_V1) => {
                            payload = Some(map.next_value::<StrictJson>()?.0)
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Hcert(payload))
            }
        }
        deserializer.deserialize_map(HcertVisitor)
    }
}

/// JSON read strictly from CBOR (see the module documentation).
struct StrictJson(Json);

fn payload_error<E: de::Error>(what: &str) -> E {
    E::custom(format!("{PAYLOAD_ERROR}{what}"))
}

impl<'de> Deserialize<'de> for StrictJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct JsonVisitor;
        impl<'de> Visitor<'de> for JsonVisitor {
            type Value = StrictJson;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-like CBOR value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<StrictJson, E> {
                Ok(StrictJson(Json::Bool(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StrictJson, E> {
                Ok(StrictJson(Json::from(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StrictJson, E> {
                Ok(StrictJson(Json::from(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<StrictJson, E> {
                Number::from_f64(v)
                    .map(|n| StrictJson(Json::Number(n)))
                    .ok_or_else(|| payload_error("non-finite number"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StrictJson, E> {
                Ok(StrictJson(Json::String(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<StrictJson, E> {
                Ok(StrictJson(Json::String(v)))
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<StrictJson, E> {
                Err(payload_error("byte string in payload"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<StrictJson, E> {
                Ok(StrictJson(Json::Null))
            }
            fn visit_none<E: de::Error>(self) -> Result<StrictJson, E> {
                Ok(StrictJson(Json::Null))
            }
            fn visit_some<D: Deserializer<'de>>(
                self,
                deserializer: D,
            ) -> Result<StrictJson, D::Error> {
                StrictJson::deserialize(deserializer)
            }
            /// ciborium hands a tagged item over as an enum: keep the text it wraps.
            fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<StrictJson, A::Error> {
                let (_, tagged): (IgnoredAny, _) = data.variant()?;
                match tagged.newtype_variant::<StrictJson>()? {
                    text @ StrictJson(Json::String(_)) => Ok(text),
                    _ => Err(payload_error("tagged value other than text in payload")),
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictJson, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<StrictJson>()? {
                    items.push(item.0);
                }
                Ok(StrictJson(Json::Array(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictJson, A::Error> {
                let mut object = Map::new();
                while let Some(key) = map.next_key::<TextKey>()? {
                    if object.contains_key(&key.0) {
                        return Err(payload_error(&format!("duplicate key {:?}", key.0)));
                    }
                    let value = map.next_value::<StrictJson>()?;
                    object.insert(key.0, value.0);
                }
                Ok(StrictJson(Json::Object(object)))
            }
        }
        deserializer.deserialize_any(JsonVisitor)
    }
}

/// A payload map key: text only.
struct TextKey(String);

impl<'de> Deserialize<'de> for TextKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextKeyVisitor;
        impl<'de> Visitor<'de> for TextKeyVisitor {
            type Value = TextKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a text map key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TextKey, E> {
                Ok(TextKey(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<TextKey, E> {
                Ok(TextKey(v))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<TextKey, E> {
                Err(payload_error("map key is not text"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<TextKey, E> {
                Err(payload_error("map key is not text"))
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<TextKey, E> {
                Err(payload_error("map key is not text"))
            }
        }
        deserializer.deserialize_any(TextKeyVisitor)
    }
}

/// Reads JSON strictly from a whole CBOR item (a bare `eu_dgc_v1` map).
pub(crate) fn strict_json_from_cbor(bytes: &[u8]) -> Result<Json, String> {
    let mut reader = bytes;
    let value: StrictJson =
        ciborium::de::from_reader_with_recursion_limit(&mut reader, carnet_codec::cbor::MAX_DEPTH)
            .map_err(|e| e.to_string())?;
    if !reader.is_empty() {
        return Err(format!("{} bytes after the item", reader.len()));
    }
    Ok(value.0)
}

/// Reads the claims from the signed payload bytes.
pub(crate) fn raw_claims_from_cbor(bytes: &[u8]) -> Result<RawClaims, String> {
    let mut reader = bytes;
    let claims: RawClaims =
        ciborium::de::from_reader_with_recursion_limit(&mut reader, carnet_codec::cbor::MAX_DEPTH)
            .map_err(|e| e.to_string())?;
    if !reader.is_empty() {
        return Err(format!("{} bytes after the item", reader.len()));
    }
    Ok(claims)
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
        let mut deep = vec![0xa1u8, 0x39, 0x01, 0x03, 0xa1, 0x01];
        deep.extend(std::iter::repeat_n(0x81u8, 5000));
        deep.push(0);
        assert!(parse_claims(&deep).is_err());
    }
}
