//! zlib with a ceiling on the inflated size.

use std::cell::RefCell;

use zlib_rs::{Inflate, InflateFlush, ReturnCode, Status};

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
    thread_local! {
        /// One inflater per thread, reset between streams: its 32 KiB window is set up once
        /// instead of for every certificate scanned.
        static INFLATER: RefCell<Option<Inflate>> = const { RefCell::new(None) };
    }
    // One-shot inflate (zlib-rs) into a buffer one byte larger than the limit: filling it means
    // the stream is longer than allowed.
    let mut output = vec![0u8; limit.saturating_add(1)];
    let mut run = |inflater: &mut Inflate| {
        inflater.reset(true);
        let status = inflater.decompress(data, &mut output, InflateFlush::Finish);
        (
            status,
            usize::try_from(inflater.total_out()).unwrap_or(usize::MAX),
        )
    };
    let (status, written) = INFLATER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => run(slot.get_or_insert_with(|| Inflate::new(true, 15))),
        // Only reachable through re-entrancy, which inflating never causes; stay correct anyway.
        Err(_) => run(&mut Inflate::new(true, 15)),
    });
    match status {
        Ok(Status::StreamEnd) if written <= limit => {
            output.truncate(written);
            Ok(output)
        }
        Ok(_) if written >= output.len() => Err(CodecError::TooLarge {
            what: "inflated data",
            size: limit.saturating_add(1),
            limit,
        }),
        Ok(_) => Err(CodecError::Zlib("truncated stream".into())),
        Err(_) => Err(CodecError::Zlib("corrupt compressed data".into())),
    }
}

/// Deflates `data` at the best compression level (what issuers use for QR payloads).
pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut output = vec![0u8; zlib_rs::compress_bound(data.len())];
    let (compressed, status) =
        zlib_rs::compress_slice(&mut output, data, zlib_rs::DeflateConfig::new(9));
    let length = compressed.len();
    // The buffer is compress_bound() long, so compression cannot run out of room.
    debug_assert_eq!(status, ReturnCode::Ok);
    output.truncate(length);
    output
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
