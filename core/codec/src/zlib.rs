//! zlib with a ceiling on the inflated size.

use std::io::Write;

use flate2::Compression;
use flate2::write::ZlibEncoder;

use crate::CodecError;

/// Largest inflated payload accepted by default: the largest real health certificate inflates
/// to under 1 KiB.
pub const MAX_INFLATED_BYTES: usize = 16 * 1024;

/// True when `data` starts with a zlib header (CMF 0x78 and a valid check value).
pub fn looks_compressed(data: &[u8]) -> bool {
    match data {
        [cmf @ 0x78, flg, ..] => (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

/// Inflates a zlib stream, reading at most `limit` + 1 bytes of output: memory stays bounded
/// whatever the input claims.
///
/// # Errors
/// [`CodecError::TooLarge`] past `limit`, [`CodecError::Zlib`] for a corrupt or truncated stream.
pub fn inflate(data: &[u8], limit: usize) -> Result<Vec<u8>, CodecError> {
    use miniz_oxide::inflate::{TINFLStatus, decompress_slice_iter_to_slice};
    // One-shot inflate into a buffer one byte larger than the limit: filling it means the
    // stream is longer than allowed. No stream window to set up and no buffer regrowth, which
    // made the streaming reader cost 4.6 µs per certificate.
    let mut output = vec![0u8; limit.saturating_add(1)];
    let written = decompress_slice_iter_to_slice(&mut output, std::iter::once(data), true, false)
        .map_err(|status| match status {
        TINFLStatus::HasMoreOutput => CodecError::TooLarge {
            what: "inflated data",
            size: limit.saturating_add(1),
            limit,
        },
        status => CodecError::Zlib(format!("{status:?}")),
    })?;
    if written > limit {
        return Err(CodecError::TooLarge {
            what: "inflated data",
            size: written,
            limit,
        });
    }
    output.truncate(written);
    Ok(output)
}

/// Deflates `data` at the best compression level (what issuers use for QR payloads).
pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder =
        ZlibEncoder::new(Vec::with_capacity(data.len() / 2 + 16), Compression::best());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let data = b"Carnet ".repeat(100);
        let packed = deflate(&data);
        assert!(looks_compressed(&packed));
        assert!(packed.len() < data.len());
        assert_eq!(inflate(&packed, MAX_INFLATED_BYTES).unwrap(), data);
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let bomb = deflate(&vec![0u8; 3_000_000]);
        assert!(bomb.len() < 4_300, "{} bytes", bomb.len());
        assert_eq!(
            inflate(&bomb, MAX_INFLATED_BYTES),
            Err(CodecError::TooLarge {
                what: "inflated data",
                size: MAX_INFLATED_BYTES + 1,
                limit: MAX_INFLATED_BYTES
            })
        );
    }

    #[test]
    fn truncated_and_corrupt_streams_are_refused() {
        let packed = deflate(&b"abcdefgh".repeat(50));
        assert!(matches!(
            inflate(&packed[..packed.len() / 2], 1024),
            Err(CodecError::Zlib(_))
        ));
        let mut corrupt = packed.clone();
        corrupt[4] ^= 0xff;
        assert!(inflate(&corrupt, 1024).is_err());
        assert!(!looks_compressed(b"\xd2\x84"));
        assert!(!looks_compressed(b"\x78"));
    }
}
