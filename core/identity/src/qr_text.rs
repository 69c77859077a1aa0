//! Carnet's own counter QR (`docs/protocols/apcv.md`, "Counter QR"): the holder's
//! DeviceResponse with the default disclosure, signed by the device for a 30-second time slot
//! with no request — nothing can be asked of it — as `APCV1:` + base45(zlib(CBOR)). It is not
//! ISO/IEC 18013-5 (which has no presentation without a session); it exists for counters whose
//! reader has a camera and no way to answer the phone. Every limit is checked before decoding
//! further: text length (base45's 8 KiB), inflated size, CBOR depth, field sizes.

use carnet_codec::{base45, cbor, zlib};
use ciborium::Value;

use crate::IdentityError;
use crate::error::{structure, too_large, undecodable};
use crate::mdoc::field;
use crate::presentation::MAX_RESPONSE_BYTES;

/// Prefix of a counter QR.
pub const RESPONSE_PREFIX: &str = "APCV1:";

/// Packs a DeviceResponse signed for time slot `slot` as the counter QR's text.
///
/// # Errors
/// [`IdentityError::Encoding`] or [`IdentityError::TooLarge`] when it does not fit in a QR
/// text.
pub fn counter_to_text(response: &[u8], slot: i64) -> Result<String, IdentityError> {
    let value = Value::Map(vec![
        (Value::from("response"), Value::Bytes(response.to_vec())),
        (Value::from("mode"), Value::from("counter")),
        (Value::from("slot"), Value::from(slot)),
    ]);
    let bytes = cbor::to_vec(&value).map_err(undecodable("QR text"))?;
    let text = format!(
        "{RESPONSE_PREFIX}{}",
        base45::encode(&zlib::deflate(&bytes))
    );
    if text.len() > base45::MAX_TEXT_BYTES {
        return Err(too_large(
            "presentation for a QR code",
            format!("{} characters", base45::MAX_TEXT_BYTES),
        ));
    }
    Ok(text)
}

/// Reads a counter QR's text: the slot it was signed for and the DeviceResponse (then given
/// to [`crate::reader::Reader::check`] with that slot).
///
/// # Errors
/// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`]:
/// another prefix, bad base45, a zlib bomb, malformed CBOR, another mode.
pub fn counter_from_text(text: &str) -> Result<(i64, Vec<u8>), IdentityError> {
    let encoded = text
        .trim()
        .strip_prefix(RESPONSE_PREFIX)
        .ok_or_else(|| structure("not a card counter QR"))?;
    let compressed = base45::decode(encoded).map_err(undecodable("QR text"))?;
    let bytes = zlib::inflate(&compressed, MAX_RESPONSE_BYTES).map_err(undecodable("QR text"))?;
    let value = cbor::from_slice(&bytes).map_err(undecodable("QR text"))?;
    let field = |name: &str| field(&value, name, "presentation");
    if field("mode")?.as_text() != Some("counter") {
        return Err(structure("presentation: not a counter QR"));
    }
    let slot = field("slot")?
        .as_integer()
        .and_then(|slot| i64::try_from(slot).ok())
        .ok_or_else(|| structure("presentation: slot is not an integer"))?;
    let response = field("response")?
        .as_bytes()
        .cloned()
        .ok_or_else(|| structure("presentation: response is not bytes"))?;
    Ok((slot, response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_qr_round_trips_through_its_text() {
        let response = vec![0xa1, 0x61, 0x61, 0x01];
        let text = counter_to_text(&response, 60_000_000).unwrap();
        assert!(text.starts_with("APCV1:"));
        assert_eq!(counter_from_text(&text).unwrap(), (60_000_000, response));
    }

    #[test]
    fn hostile_texts_are_typed_errors() {
        for hostile in ["", "APCV1:", "HC1:NCFOXN", "APCV1:!!!"] {
            assert!(counter_from_text(hostile).is_err(), "{hostile}");
        }
        assert!(counter_from_text(&format!("APCV1:{}", "A".repeat(20_000))).is_err());
        // A zlib bomb: 1 MiB of zeros squeezed into a QR-sized text.
        let bomb = format!(
            "{RESPONSE_PREFIX}{}",
            base45::encode(&zlib::deflate(&vec![0u8; 1 << 20]))
        );
        assert!(counter_from_text(&bomb).is_err());
        // The answers to the old challenge, whose mode is gone.
        let challenge = Value::Map(vec![
            (Value::from("mode"), Value::from("challenge")),
            (Value::from("response"), Value::Bytes(vec![0xa0])),
        ]);
        let text = format!(
            "{RESPONSE_PREFIX}{}",
            base45::encode(&zlib::deflate(&cbor::to_vec(&challenge).unwrap()))
        );
        assert!(counter_from_text(&text).is_err());
    }
}
