//! zlib with a ceiling on the inflated size.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::ZlibDecoder;
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
    let mut output = Vec::new();
    let ceiling = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    ZlibDecoder::new(data)
        .take(ceiling)
        .read_to_end(&mut output)
        .map_err(|e| CodecError::Zlib(e.to_string()))?;
    if output.len() > limit {
        return Err(CodecError::TooLarge {
            what: "inflated data",
            size: output.len(),
            limit,
        });
    }
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
