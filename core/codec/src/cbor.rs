//! CBOR decoding with a nesting limit and no trailing data.

use ciborium::Value;

use crate::CodecError;

/// Deepest nesting accepted. Health certificates and credentials nest 5 levels at most.
pub const MAX_DEPTH: usize = 16;

/// Decodes exactly one CBOR item filling `bytes`, nested at most [`MAX_DEPTH`] levels.
///
/// # Errors
/// [`CodecError::CborTooDeep`], or [`CodecError::Cbor`] for malformed, truncated or trailing data.
pub fn from_slice(bytes: &[u8]) -> Result<Value, CodecError> {
    let mut reader = bytes;
    let value = ciborium::de::from_reader_with_recursion_limit(&mut reader, MAX_DEPTH).map_err(
        |error| match error {
            ciborium::de::Error::RecursionLimitExceeded => {
                CodecError::CborTooDeep { limit: MAX_DEPTH }
            }
            other => CodecError::Cbor(describe_de(&other)),
        },
    )?;
    if !reader.is_empty() {
        return Err(CodecError::Cbor(format!(
            "{} bytes after the item",
            reader.len()
        )));
    }
    Ok(value)
}

/// A COSE structure's refusal in words (coset's message embeds ciborium's debug form).
pub(crate) fn describe_cose(error: &coset::CoseError) -> String {
    match error {
        coset::CoseError::DecodeFailed(inner) => describe_de(inner),
        other => other.to_string(),
    }
}

/// A decoding failure in words (ciborium's own `Display` is its debug form).
fn describe_de<T>(error: &ciborium::de::Error<T>) -> String {
    match error {
        ciborium::de::Error::Io(_) => "the data ends in the middle of an item".into(),
        ciborium::de::Error::Syntax(offset) => format!("malformed item at byte {offset}"),
        ciborium::de::Error::Semantic(Some(offset), reason) => {
            format!("unexpected content at byte {offset}: {reason}")
        }
        ciborium::de::Error::Semantic(None, reason) => format!("unexpected content: {reason}"),
        ciborium::de::Error::RecursionLimitExceeded => {
            format!("nested deeper than {MAX_DEPTH} levels")
        }
    }
}

/// Encodes a value as CBOR.
///
/// # Errors
/// [`CodecError::Cbor`] if the value cannot be serialised (it always can for a [`Value`]
/// built from data).
pub fn to_vec(value: &Value) -> Result<Vec<u8>, CodecError> {
    let mut bytes = Vec::new();
    ciborium::ser::into_writer(value, &mut bytes).map_err(|e| {
        CodecError::Cbor(match e {
            ciborium::ser::Error::Io(_) => "cannot write the encoding".into(),
            ciborium::ser::Error::Value(reason) => reason,
        })
    })?;
    Ok(bytes)
}

/// Writes the CBOR header of a byte string of `len` bytes (major type 2).
pub fn push_bytes_header(out: &mut Vec<u8>, len: usize) {
    let len = u64::try_from(len).unwrap_or(u64::MAX);
    // Each arm's range makes its cast exact.
    match len {
        0..=23 => out.push(0x40 | len as u8),
        24..=0xff => out.extend_from_slice(&[0x58, len as u8]),
        0x100..=0xffff => {
            out.push(0x59);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0x5a);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
        _ => {
            out.push(0x5b);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let value = Value::Map(vec![
            (Value::from(1), Value::from("FR")),
            (Value::from(-260), Value::from(7)),
        ]);
        let bytes = to_vec(&value).unwrap();
        let back = from_slice(&bytes).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut bytes = vec![0x81u8; 10_000];
        bytes.push(0x00);
        assert_eq!(
            from_slice(&bytes),
            Err(CodecError::CborTooDeep { limit: MAX_DEPTH })
        );
        let mut maps = [0xa1u8, 0x00].repeat(5_000);
        maps.push(0x00);
        assert_eq!(
            from_slice(&maps),
            Err(CodecError::CborTooDeep { limit: MAX_DEPTH })
        );
    }

    #[test]
    fn truncated_trailing_and_lying_lengths_are_refused() {
        assert!(matches!(
            from_slice(&[0x82, 0x01]),
            Err(CodecError::Cbor(_))
        ));
        assert!(matches!(
            from_slice(&[0x01, 0x02]),
            Err(CodecError::Cbor(_))
        ));
        // A byte string claiming 2^63 bytes, and an array claiming 2^32 items, with no data.
        assert!(from_slice(&[0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(from_slice(&[0x9a, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(from_slice(&[]).is_err());
    }
}
