//! Authenticated encryption of the record's values and blobs (AES-256-GCM, `ring`).
//!
//! Every value is sealed as `version (1) ‖ nonce (12) ‖ ciphertext ‖ tag (16)` with a random
//! nonce and associated data naming where the value lives (table and row id), so that a
//! ciphertext moved to another row fails to open. Blobs are cut into chunks of
//! [`CHUNK_BYTES`], each sealed the same way with the blob id, the chunk's index and whether
//! it is the last one in its associated data: chunks cannot be reordered, moved to another
//! blob, or dropped from the end unnoticed.

use std::io::Read;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::error::{RecordError, Result};

/// Length of a data key or wrapping key, in bytes.
pub const KEY_BYTES: usize = 32;
/// Plaintext bytes per blob chunk. 64 KiB keeps memory flat and SQLite rows in overflow
/// pages of a sensible count.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// Format version byte leading every sealed value.
const SEALED_VERSION: u8 = 1;
/// Bytes a sealed value adds to its plaintext.
pub const SEAL_OVERHEAD: usize = 1 + NONCE_LEN + 16;

/// A 256-bit AES-GCM key. The raw bytes are zeroized on drop; `ring`'s expanded key schedule
/// is not under our control (ring does not clear it), which `docs/THREATS.md` notes.
pub struct SecretKey {
    raw: Zeroizing<[u8; KEY_BYTES]>,
    key: LessSafeKey,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self> {
        let mut raw = Zeroizing::new([0u8; KEY_BYTES]);
        random_fill(raw.as_mut())?;
        Self::from_bytes(raw)
    }

    /// The key made of these bytes.
    pub fn from_bytes(raw: Zeroizing<[u8; KEY_BYTES]>) -> Result<Self> {
        let unbound = UnboundKey::new(&AES_256_GCM, raw.as_ref())
            .map_err(|_| RecordError::Corrupt("AES key of the wrong length".into()))?;
        Ok(SecretKey {
            raw,
            key: LessSafeKey::new(unbound),
        })
    }

    /// The key from a byte slice that must be [`KEY_BYTES`] long (what a key vault returns).
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let mut raw = Zeroizing::new([0u8; KEY_BYTES]);
        if bytes.len() != KEY_BYTES {
            return Err(RecordError::Corrupt(format!(
                "a key of {} bytes where {KEY_BYTES} are expected",
                bytes.len()
            )));
        }
        raw.copy_from_slice(bytes);
        Self::from_bytes(raw)
    }

    /// The raw key bytes (to wrap them, or hand them to the key vault).
    pub fn expose_bytes(&self) -> &[u8; KEY_BYTES] {
        &self.raw
    }

    /// Seals `plaintext` bound to `aad`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        random_fill(&mut nonce)?;
        let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
        out.push(SEALED_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let body = out.get_mut(1 + NONCE_LEN..).unwrap_or_default();
        let tag = self
            .key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), body)
            .map_err(|_| RecordError::Corrupt("value too large to encrypt".into()))?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens a value sealed by [`SecretKey::seal`] with the same `aad`. `what` names the value
    /// in the error.
    pub fn open(&self, aad: &[u8], sealed: &[u8], what: &str) -> Result<Vec<u8>> {
        let (version, rest) = sealed
            .split_first()
            .ok_or_else(|| RecordError::Tampered(format!("{what}: empty")))?;
        if *version != SEALED_VERSION || rest.len() < NONCE_LEN + 16 {
            return Err(RecordError::Tampered(format!("{what}: not a sealed value")));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| RecordError::Tampered(format!("{what}: bad nonce")))?;
        let mut buffer = ciphertext.to_vec();
        let plain_len = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut buffer)
            .map_err(|_| RecordError::Tampered(what.to_owned()))?
            .len();
        buffer.truncate(plain_len);
        Ok(buffer)
    }
}

/// Fills `bytes` from the operating system's random generator.
pub fn random_fill(bytes: &mut [u8]) -> Result<()> {
    SystemRandom::new()
        .fill(bytes)
        .map_err(|_| RecordError::Corrupt("the system random generator failed".into()))
}

/// A fresh random identifier: 16 random bytes in lower-case hex.
pub fn random_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    random_fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// Associated data of a value stored in `table` under `id`.
pub fn row_aad(table: &str, id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + table.len() + id.len());
    aad.extend_from_slice(b"carnet-record/v1\0");
    aad.extend_from_slice(table.as_bytes());
    aad.push(0);
    aad.extend_from_slice(id.as_bytes());
    aad
}

/// Associated data of chunk `index` of blob `blob_id`.
fn chunk_aad(blob_id: &str, index: u32, last: bool) -> Vec<u8> {
    let mut aad = row_aad("blob_chunk", blob_id);
    aad.push(0);
    aad.extend_from_slice(&index.to_be_bytes());
    aad.push(u8::from(last));
    aad
}

/// What sealing a stream produced, besides its chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedStream {
    /// Plaintext length in bytes.
    pub size: u64,
    /// Number of chunks (at least one: an empty blob is one empty last chunk).
    pub chunks: u32,
    /// SHA-256 of the plaintext, lower-case hex.
    pub sha256: String,
}

/// Seals everything `source` yields as the chunks of blob `blob_id`, handing each sealed
/// chunk to `sink` with its index, holding at most two chunks in memory. Stops with
/// [`RecordError::InvalidInput`] past `max_bytes`.
pub fn seal_stream(
    key: &SecretKey,
    blob_id: &str,
    source: &mut dyn Read,
    max_bytes: u64,
    sink: &mut dyn FnMut(u32, Vec<u8>) -> Result<()>,
) -> Result<SealedStream> {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let mut current = vec![0u8; CHUNK_BYTES];
    let mut next = vec![0u8; CHUNK_BYTES];
    let mut current_len = fill(source, &mut current)?;
    let mut size = 0u64;
    let mut index = 0u32;
    loop {
        let next_len = if current_len == CHUNK_BYTES {
            fill(source, &mut next)?
        } else {
            0
        };
        let last = next_len == 0;
        let plain = current.get(..current_len).unwrap_or_default();
        size += plain.len() as u64;
        if size > max_bytes {
            return Err(RecordError::InvalidInput(format!(
                "content larger than the limit of {max_bytes} bytes"
            )));
        }
        digest.update(plain);
        sink(index, key.seal(&chunk_aad(blob_id, index, last), plain)?)?;
        if last {
            return Ok(SealedStream {
                size,
                chunks: index + 1,
                sha256: hex::encode(digest.finish()),
            });
        }
        index = index
            .checked_add(1)
            .ok_or_else(|| RecordError::InvalidInput("content too large".into()))?;
        std::mem::swap(&mut current, &mut next);
        current_len = next_len;
    }
}

/// Opens chunk `index` of a blob of `chunks` chunks.
pub fn open_chunk(
    key: &SecretKey,
    blob_id: &str,
    index: u32,
    chunks: u32,
    sealed: &[u8],
) -> Result<Vec<u8>> {
    let last = index + 1 == chunks;
    key.open(&chunk_aad(blob_id, index, last), sealed, "blob chunk")
}

/// Reads until `buffer` is full or the source ends; returns the bytes read.
fn fill(source: &mut dyn Read, buffer: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buffer.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match source.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(RecordError::io("read", std::path::Path::new("content"), e)),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_aad_and_unaltered() {
        let key = SecretKey::generate().unwrap();
        let sealed = key.seal(&row_aad("t", "a"), b"allergie arachide").unwrap();
        assert_eq!(sealed.len(), 17 + SEAL_OVERHEAD);
        assert_eq!(
            key.open(&row_aad("t", "a"), &sealed, "v").unwrap(),
            b"allergie arachide"
        );
        assert!(matches!(
            key.open(&row_aad("t", "b"), &sealed, "v"),
            Err(RecordError::Tampered(_))
        ));
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(matches!(
                key.open(&row_aad("t", "a"), &bad, "v"),
                Err(RecordError::Tampered(_))
            ));
        }
        let other = SecretKey::generate().unwrap();
        assert!(other.open(&row_aad("t", "a"), &sealed, "v").is_err());
        assert!(key.open(&row_aad("t", "a"), &sealed[..10], "v").is_err());
    }

    #[test]
    fn streams_seal_into_chunks_that_open_in_place_only() {
        let key = SecretKey::generate().unwrap();
        let content: Vec<u8> = (0..(2 * CHUNK_BYTES + 100))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut chunks = Vec::new();
        let sealed = seal_stream(&key, "b1", &mut content.as_slice(), 1 << 20, &mut |i, c| {
            chunks.push((i, c));
            Ok(())
        })
        .unwrap();
        assert_eq!(sealed.size, content.len() as u64);
        assert_eq!(sealed.chunks, 3);
        let mut back = Vec::new();
        for (i, c) in &chunks {
            back.extend(open_chunk(&key, "b1", *i, 3, c).unwrap());
        }
        assert_eq!(back, content);
        // Dropping the last chunk: the new last one was not sealed as last.
        assert!(open_chunk(&key, "b1", 1, 2, &chunks[1].1).is_err());
        // Reordered or moved chunks fail.
        assert!(open_chunk(&key, "b1", 0, 3, &chunks[1].1).is_err());
        assert!(open_chunk(&key, "b2", 0, 3, &chunks[0].1).is_err());
        // Exactly one chunk's worth, and nothing at all.
        for len in [CHUNK_BYTES, 0] {
            let mut count = 0;
            let s = seal_stream(&key, "b", &mut &content[..len], 1 << 20, &mut |_, _| {
                count += 1;
                Ok(())
            })
            .unwrap();
            assert_eq!((s.chunks, count), (1, 1));
        }
        let too_big = seal_stream(&key, "b", &mut content.as_slice(), 1000, &mut |_, _| Ok(()));
        assert!(matches!(too_big, Err(RecordError::InvalidInput(_))));
    }
}
