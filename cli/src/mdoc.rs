//! ISO/IEC 18013-5 sessions across runs of the CLI, for people testing other implementations
//! (`carnet card engage` / `card respond`, `carnet reader request` / `reader read`): the
//! session messages read from a file or standard input and written to a file or standard
//! output, in hex or base64; the session kept in the data directory between two runs.
//!
//! The phone's side must keep its ephemeral key from `card engage` until the reader's first
//! message arrives in `card respond`, another process. `ring` (the core's crypto) never lets a
//! key out of memory, so this tool alone makes that key with `p256` (RustCrypto) and keeps its
//! 32-byte scalar in the session directory, readable by its owner only, for the 5 minutes an
//! engagement lives (`docs/adr/0008-cli-session-key.md`). The phone library never links it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use carnet::identity::IdentityError;
use carnet::identity::session::KeyAgreement;
use clap::ValueEnum;
use p256::elliptic_curve::sec1::ToEncodedPoint;

use crate::session::SessionError;

/// Largest session message read (the core's own limit is 128 KiB; hex doubles it).
pub const MAX_MESSAGE_TEXT_BYTES: usize = 512 * 1024;

/// How a session message is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    /// Lower-case hex.
    Hex,
    /// Standard base64.
    Base64,
}

/// An ephemeral P-256 key a later run can take back.
pub struct StoredKey(p256::SecretKey);

impl StoredKey {
    /// A fresh key from the system's random generator.
    pub fn generate() -> Result<Self, SessionError> {
        // A random 32-byte string is a valid scalar but with probability ~2^-128: try again.
        for _ in 0..8 {
            let mut scalar = [0u8; 32];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut scalar)
                .map_err(|_| carnet::CarnetError::from(IdentityError::Random))?;
            if let Ok(secret) = p256::SecretKey::from_slice(&scalar) {
                return Ok(StoredKey(secret));
            }
        }
        Err(carnet::CarnetError::from(IdentityError::Random).into())
    }

    /// The key from the scalar [`StoredKey::to_bytes`] gave.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SessionError> {
        p256::SecretKey::from_slice(bytes)
            .map(StoredKey)
            .map_err(|_| {
                SessionError::Io(
                    "the card session's key is damaged: run carnet card engage again".into(),
                )
            })
    }

    /// The scalar, to keep.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes().to_vec()
    }
}

impl KeyAgreement for StoredKey {
    fn public_point(&self) -> Vec<u8> {
        self.0
            .public_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec()
    }

    fn agree(self: Box<Self>, peer_point: &[u8]) -> Result<[u8; 32], IdentityError> {
        let peer = p256::PublicKey::from_sec1_bytes(peer_point).map_err(|_| {
            IdentityError::Structure("the other side's session key is not a P-256 point".into())
        })?;
        let shared = p256::ecdh::diffie_hellman(self.0.to_nonzero_scalar(), peer.as_affine());
        let mut secret = [0u8; 32];
        secret.copy_from_slice(shared.raw_secret_bytes());
        Ok(secret)
    }
}

/// Reads a session message from `input` (a file), or standard input: hex, base64 (standard or
/// URL-safe), or the raw CBOR bytes.
pub fn read_message(input: Option<&Path>) -> Result<Vec<u8>, SessionError> {
    let bytes = match input {
        Some(path) => crate::input::read(path, MAX_MESSAGE_TEXT_BYTES, "session message")?,
        None => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .take(MAX_MESSAGE_TEXT_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| SessionError::Io(format!("cannot read standard input: {e}")))?;
            if bytes.len() > MAX_MESSAGE_TEXT_BYTES {
                return Err(SessionError::Usage(format!(
                    "the session message on standard input is larger than {MAX_MESSAGE_TEXT_BYTES} bytes"
                )));
            }
            bytes
        }
    };
    Ok(decode_message(&bytes))
}

/// A message's bytes from its text (hex, base64), or the bytes themselves when they are no
/// such text (CBOR).
fn decode_message(bytes: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let Ok(text) = std::str::from_utf8(bytes) else {
        return bytes.to_vec();
    };
    let compact: String = text.split_whitespace().collect();
    if compact.is_empty() {
        return Vec::new();
    }
    if compact.len().is_multiple_of(2)
        && let Ok(decoded) = hex::decode(&compact)
    {
        return decoded;
    }
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE,
    ];
    engines
        .iter()
        .find_map(|engine| engine.decode(&compact).ok())
        .or_else(|| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(compact.trim_end_matches('='))
                .ok()
        })
        .unwrap_or_else(|| bytes.to_vec())
}

/// Writes a session message to `output` (a file) or standard output, as `format`.
pub fn write_message(
    bytes: &[u8],
    output: Option<&Path>,
    format: MessageFormat,
) -> Result<(), SessionError> {
    use base64::Engine;
    let text = match format {
        MessageFormat::Hex => hex::encode(bytes),
        MessageFormat::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
    };
    match output {
        Some(path) => std::fs::write(path, format!("{text}\n"))
            .map_err(|e| SessionError::Io(format!("{}: {e}", path.display()))),
        None => {
            outln!("{text}");
            Ok(())
        }
    }
}

/// A directory of state in the data directory (the phone's open presentation, the reader's
/// lists, certificate and session), its files written whole and readable by their owner only,
/// read within `limit` bytes each; `what` names them in errors.
pub struct StateFiles {
    dir: PathBuf,
    limit: usize,
    what: &'static str,
}

impl StateFiles {
    /// The directory `name` in the data directory `data_dir`, its files (`what`) read within
    /// `limit` bytes.
    pub fn new(data_dir: &Path, name: &str, limit: usize, what: &'static str) -> Self {
        StateFiles {
            dir: data_dir.join(name),
            limit,
            what,
        }
    }

    /// Where the file `name` is.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The file `name`, if kept.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, SessionError> {
        let path = self.path(name);
        if !path.exists() {
            return Ok(None);
        }
        crate::input::read(&path, self.limit, self.what).map(Some)
    }

    /// Keeps `bytes` as `name` (written whole, then renamed), readable by its owner only.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), SessionError> {
        let io =
            |path: &Path, e: std::io::Error| SessionError::Io(format!("{}: {e}", path.display()));
        std::fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        let temporary = self.path(&format!("{name}.tmp"));
        let _ = std::fs::remove_file(&temporary);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary).map_err(|e| io(&temporary, e))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| io(&temporary, e))?;
        std::fs::rename(&temporary, self.path(name)).map_err(|e| io(&self.path(name), e))
    }

    /// Forgets `name`.
    pub fn remove(&self, name: &str) {
        let _ = std::fs::remove_file(self.path(name));
    }
}
