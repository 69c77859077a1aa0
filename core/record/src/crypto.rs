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
/// Bytes before the ciphertext in a sealed value: version and nonce.
const SEAL_HEADER: usize = 1 + NONCE_LEN;
/// Bytes a sealed value adds to its plaintext.
pub const SEAL_OVERHEAD: usize = SEAL_HEADER + 16;

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
        let mut buffer = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
        buffer.resize(SEAL_HEADER, 0);
        buffer.extend_from_slice(plaintext);
        self.seal_buffer(aad, &mut buffer)?;
        Ok(buffer)
    }

    /// Seals in place a buffer holding [`SEAL_HEADER`] bytes of room followed by the
    /// plaintext: no copy of the plaintext is made.
    fn seal_buffer(&self, aad: &[u8], buffer: &mut Vec<u8>) -> Result<()> {
        let mut nonce = [0u8; NONCE_LEN];
        random_fill(&mut nonce)?;
        let (header, body) = buffer.split_at_mut_checked(SEAL_HEADER).ok_or_else(|| {
            RecordError::Corrupt("sealing buffer without room for its header".into())
        })?;
        header.fill(SEALED_VERSION);
        if let Some(nonce_room) = header.get_mut(1..) {
            nonce_room.copy_from_slice(&nonce);
        }
        let tag = self
            .key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), body)
            .map_err(|_| RecordError::Corrupt("value too large to encrypt".into()))?;
        buffer.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Opens a value sealed by [`SecretKey::seal`] with the same `aad`. `what` names the value
    /// in the error.
    pub fn open(&self, aad: &[u8], sealed: &[u8], what: &str) -> Result<Vec<u8>> {
        let mut buffer = sealed.to_vec();
        let plain_len = self.open_in_place(aad, &mut buffer, what)?.len();
        buffer.truncate(SEAL_HEADER + plain_len);
        buffer.drain(..SEAL_HEADER);
        Ok(buffer)
    }

    /// Opens a sealed value where it lies (no copy); returns the plaintext within it.
    pub fn open_in_place<'a>(
        &self,
        aad: &[u8],
        sealed: &'a mut [u8],
        what: &str,
    ) -> Result<&'a [u8]> {
        let (header, ciphertext) = sealed
            .split_at_mut_checked(SEAL_HEADER)
            .filter(|(_, ciphertext)| ciphertext.len() >= 16)
            .ok_or_else(|| RecordError::Tampered(format!("{what}: not a sealed value")))?;
        let (version, nonce) = header
            .split_first()
            .ok_or_else(|| RecordError::Tampered(format!("{what}: empty")))?;
        if *version != SEALED_VERSION {
            return Err(RecordError::Tampered(format!("{what}: not a sealed value")));
        }
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| RecordError::Tampered(format!("{what}: bad nonce")))?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad), ciphertext)
            .map_err(|_| RecordError::Tampered(what.to_owned()))?;
        Ok(plain)
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
}

/// Seals everything `source` yields as the chunks of blob `blob_id`: `observe` sees each
/// chunk's plaintext (to digest it, for instance), then `sink` receives it sealed with its
/// index. Each chunk is read straight into the buffer it is sealed in, and the two buffers
/// are reused: memory holds two chunks whatever the size, and no plaintext is copied. Stops
/// with [`RecordError::InvalidInput`] past `max_bytes`.
pub fn seal_stream(
    key: &SecretKey,
    blob_id: &str,
    source: &mut dyn Read,
    max_bytes: u64,
    observe: &mut dyn FnMut(&[u8]),
    sink: &mut dyn FnMut(u32, &[u8]) -> Result<()>,
) -> Result<SealedStream> {
    let mut current = Vec::with_capacity(CHUNK_BYTES + SEAL_OVERHEAD);
    let mut next = Vec::with_capacity(CHUNK_BYTES + SEAL_OVERHEAD);
    read_chunk(source, &mut current)?;
    let mut size = 0u64;
    let mut index = 0u32;
    loop {
        let plain_len = current.len() - SEAL_HEADER;
        // A full chunk may be followed by more; an empty read after it makes it the last.
        let last = plain_len < CHUNK_BYTES || read_chunk(source, &mut next)? == 0;
        size += plain_len as u64;
        if size > max_bytes {
            return Err(RecordError::InvalidInput(format!(
                "content larger than the limit of {max_bytes} bytes"
            )));
        }
        observe(current.get(SEAL_HEADER..).unwrap_or_default());
        key.seal_buffer(&chunk_aad(blob_id, index, last), &mut current)?;
        sink(index, &current)?;
        if last {
            return Ok(SealedStream {
                size,
                chunks: index + 1,
            });
        }
        std::mem::swap(&mut current, &mut next);
        index = index
            .checked_add(1)
            .ok_or_else(|| RecordError::InvalidInput("content too large".into()))?;
    }
}

/// Reads up to [`CHUNK_BYTES`] from `source` into `buffer`, after [`SEAL_HEADER`] bytes of
/// room; returns the bytes read.
fn read_chunk(source: &mut dyn Read, buffer: &mut Vec<u8>) -> Result<usize> {
    buffer.clear();
    buffer.resize(SEAL_HEADER, 0);
    Read::take(source, CHUNK_BYTES as u64)
        .read_to_end(buffer)
        .map_err(|e| RecordError::io("read", std::path::Path::new("content"), e))
}

/// Opens chunk `index` of a blob of `chunks` chunks where it lies; returns its plaintext.
pub fn open_chunk<'a>(
    key: &SecretKey,
    blob_id: &str,
    index: u32,
    chunks: u32,
    sealed: &'a mut [u8],
) -> Result<&'a [u8]> {
    let last = index + 1 == chunks;
    key.open_in_place(&chunk_aad(blob_id, index, last), sealed, "blob chunk")
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
        let mut chunks: Vec<(u32, Vec<u8>)> = Vec::new();
        let sealed = seal_stream(
            &key,
            "b1",
            &mut content.as_slice(),
            1 << 20,
            &mut |_| {},
            &mut |i, c| {
                chunks.push((i, c.to_vec()));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(sealed.size, content.len() as u64);
        assert_eq!(sealed.chunks, 3);
        let mut back = Vec::new();
        for (i, c) in &chunks {
            back.extend_from_slice(open_chunk(&key, "b1", *i, 3, &mut c.clone()).unwrap());
        }
        assert_eq!(back, content);
        // Dropping the last chunk: the new last one was not sealed as last.
        assert!(open_chunk(&key, "b1", 1, 2, &mut chunks[1].1.clone()).is_err());
        // Reordered or moved chunks fail.
        assert!(open_chunk(&key, "b1", 0, 3, &mut chunks[1].1.clone()).is_err());
        assert!(open_chunk(&key, "b2", 0, 3, &mut chunks[0].1.clone()).is_err());
        // Exactly one chunk's worth, and nothing at all.
        for len in [CHUNK_BYTES, 0] {
            let mut count = 0;
            let s = seal_stream(
                &key,
                "b",
                &mut &content[..len],
                1 << 20,
                &mut |_| {},
                &mut |_, _| {
                    count += 1;
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!((s.chunks, count), (1, 1));
        }
        let too_big = seal_stream(
            &key,
            "b",
            &mut content.as_slice(),
            1000,
            &mut |_| {},
            &mut |_, _| Ok(()),
        );
        assert!(matches!(too_big, Err(RecordError::InvalidInput(_))));
    }
}
