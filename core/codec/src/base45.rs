//! Base45 (RFC 9285), bounded.

use crate::CodecError;

/// Longest base45 text accepted, in bytes. A QR code holds at most 4,296 alphanumeric
/// characters; twice that leaves room for codes read from other media.
pub const MAX_TEXT_BYTES: usize = 8 * 1024;

/// Decodes base45 text of at most [`MAX_TEXT_BYTES`].
///
/// # Errors
/// [`CodecError::TooLarge`] or [`CodecError::Base45`].
pub fn decode(text: &str) -> Result<Vec<u8>, CodecError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(CodecError::TooLarge {
            what: "base45 text",
            size: text.len(),
            limit: MAX_TEXT_BYTES,
        });
    }
    ::base45::decode(text).map_err(|_| CodecError::Base45)
}

/// Encodes bytes as base45.
pub fn encode(bytes: &[u8]) -> String {
    ::base45::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_9285_examples() {
        assert_eq!(encode(b"AB"), "BB8");
        assert_eq!(encode(b"Hello!!"), "%69 VD92EX0");
        assert_eq!(decode("QED8WEX0").unwrap(), b"ietf!");
    }

    #[test]
    fn invalid_and_oversized_text_is_refused() {
        assert_eq!(decode("GGW"), Err(CodecError::Base45), "value above 65535");
        assert_eq!(decode("a"), Err(CodecError::Base45));
        assert!(matches!(
            decode(&"0".repeat(MAX_TEXT_BYTES + 1)),
            Err(CodecError::TooLarge { .. })
        ));
    }
}
