//! Envelope encryption: the store's data key, wrapped in one or more key slots.
//!
//! The data key encrypts everything in the store and never changes (rotation rewraps it). A
//! slot wraps it with either
//! - a **device key**: 32 random bytes kept in the platform [`KeyVault`] (Android Keystore,
//!   iOS Keychain: hardware rate limiting and erasure), or
//! - a **passphrase** through Argon2id with parameters kept in the slot and upgraded on
//!   open when the store asks for stronger ones. A PIN alone is refused: six digits fall to
//!   an offline search whatever the KDF.
//!
//! The slots live in `keys.json` beside the database, replaced atomically (write, sync,
//! rename, sync the directory). Deleting that file and the vault entries is the crypto-erase.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use carnet_platform::KeyVault;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::{KEY_BYTES, SecretKey, random_fill, row_aad};
use crate::error::{RecordError, Result};

/// Name of the key file in a store directory.
pub const KEY_FILE: &str = "keys.json";
/// Largest key file read, in bytes.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;
/// Format name written in the key file.
const FORMAT: &str = "carnet-record-keys";
/// Shortest passphrase accepted, in characters.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Argon2id lanes (parallelism).
    pub parallelism: u32,
}

impl KdfParams {
    /// The floor DESIGN.md §4 sets (OWASP's Argon2id minimum): 19 MiB, two passes, one lane.
    /// Also the default.
    pub const MINIMUM: KdfParams = KdfParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// Whether these parameters cost less than `other` in memory or passes.
    pub fn weaker_than(&self, other: &KdfParams) -> bool {
        self.memory_kib < other.memory_kib || self.iterations < other.iterations
    }

    fn check(&self) -> Result<()> {
        if self.weaker_than(&KdfParams::MINIMUM) || self.parallelism == 0 || self.parallelism > 16 {
            return Err(RecordError::InvalidInput(format!(
                "KDF parameters below the floor ({} KiB, {} passes)",
                KdfParams::MINIMUM.memory_kib,
                KdfParams::MINIMUM.iterations
            )));
        }
        if self.memory_kib > 4 * 1024 * 1024 || self.iterations > 64 {
            return Err(RecordError::Corrupt(
                "KDF parameters beyond any sane cost".into(),
            ));
        }
        Ok(())
    }

    fn derive(&self, passphrase: &str, salt: &[u8]) -> Result<SecretKey> {
        self.check()?;
        let params = Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(KEY_BYTES),
        )
        .map_err(|e| RecordError::Corrupt(format!("KDF parameters: {e}")))?;
        let mut out = Zeroizing::new([0u8; KEY_BYTES]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase.as_bytes(), salt, out.as_mut())
            .map_err(|e| RecordError::Corrupt(format!("KDF: {e}")))?;
        SecretKey::from_bytes(out)
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams::MINIMUM
    }
}

/// How a store is unlocked.
#[derive(Clone, Copy)]
pub enum Unlock<'a> {
    /// With a passphrase.
    Passphrase(&'a str),
    /// With the device key kept in the key vault.
    DeviceKey,
}

impl std::fmt::Debug for Unlock<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unlock::Passphrase(_) => "Unlock::Passphrase(…)",
            Unlock::DeviceKey => "Unlock::DeviceKey",
        })
    }
}

/// Refuses passphrases that cannot protect a store on their own.
pub fn check_passphrase_strength(passphrase: &str) -> Result<()> {
    let chars = passphrase.chars().count();
    if chars < MIN_PASSPHRASE_CHARS {
        return Err(RecordError::WeakPassphrase("use at least 12 characters"));
    }
    if passphrase.chars().all(|c| c.is_ascii_digit()) {
        return Err(RecordError::WeakPassphrase(
            "digits alone are a PIN, not a passphrase",
        ));
    }
    if passphrase.chars().all(|c| passphrase.starts_with(c)) {
        return Err(RecordError::WeakPassphrase("one character repeated"));
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum Slot {
    Passphrase {
        kdf: KdfParams,
        salt: String,
        wrapped: String,
    },
    DeviceKey {
        wrapped: String,
    },
}

impl Slot {
    fn kind(&self) -> &'static str {
        match self {
            Slot::Passphrase { .. } => "passphrase",
            Slot::DeviceKey { .. } => "device_key",
        }
    }
}

/// The key slots of one store, as kept in `keys.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    format: String,
    version: u32,
    store_id: String,
    slots: Vec<Slot>,
}

impl KeyFile {
    /// A key file for a new store with one slot for `unlock`.
    pub fn create(
        store_id: &str,
        data_key: &SecretKey,
        unlock: Unlock<'_>,
        vault: &dyn KeyVault,
        kdf: KdfParams,
    ) -> Result<Self> {
        let mut file = KeyFile {
            format: FORMAT.into(),
            version: 1,
            store_id: store_id.into(),
            slots: Vec::new(),
        };
        file.set_slot(data_key, unlock, vault, kdf)?;
        Ok(file)
    }

    /// The store's identifier (random, 32 hex characters).
    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    /// Name of the key vault entry holding the device key of store `store_id`.
    pub fn device_key_entry(store_id: &str) -> String {
        format!("record.{store_id}.key")
    }

    /// Reads the key file of the store in `dir`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(KEY_FILE);
        let file = fs::File::open(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                RecordError::NoStore(dir.display().to_string())
            } else {
                RecordError::io("open", &path, e)
            }
        })?;
        let mut text = String::new();
        file.take(MAX_KEY_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| RecordError::io("read", &path, e))?;
        if text.len() as u64 > MAX_KEY_FILE_BYTES {
            return Err(RecordError::Corrupt("key file too large".into()));
        }
        let file: KeyFile = serde_json::from_str(&text)
            .map_err(|e| RecordError::Corrupt(format!("key file: {e}")))?;
        let id_ok =
            file.store_id.len() == 32 && file.store_id.bytes().all(|b| b.is_ascii_hexdigit());
        if file.format != FORMAT || file.version != 1 || !id_ok || file.slots.is_empty() {
            return Err(RecordError::Corrupt("key file of an unknown format".into()));
        }
        Ok(file)
    }

    /// Writes the key file into `dir` atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| RecordError::Corrupt(format!("key file: {e}")))?;
        write_atomically(dir, KEY_FILE, &text)
    }

    /// The data key, unwrapped with `unlock`.
    pub fn unwrap_key(&self, unlock: Unlock<'_>, vault: &dyn KeyVault) -> Result<SecretKey> {
        let slot = self.slot_for(unlock)?;
        let aad = row_aad("keyslot", &format!("{}/{}", self.store_id, slot.kind()));
        let (wrapping, wrapped, wrong) = match (slot, unlock) {
            (Slot::Passphrase { kdf, salt, wrapped }, Unlock::Passphrase(passphrase)) => {
                let salt = decode_b64(salt)?;
                (
                    kdf.derive(passphrase, &salt)?,
                    wrapped,
                    RecordError::WrongPassphrase,
                )
            }
            (Slot::DeviceKey { wrapped }, Unlock::DeviceKey) => {
                let entry = Self::device_key_entry(&self.store_id);
                let key = vault.load(&entry)?.ok_or(RecordError::WrongDeviceKey)?;
                let key = Zeroizing::new(key);
                let key = SecretKey::from_slice(&key).map_err(|_| RecordError::WrongDeviceKey)?;
                (key, wrapped, RecordError::WrongDeviceKey)
            }
            _ => return Err(RecordError::Corrupt("key slot of the wrong kind".into())),
        };
        let raw = Zeroizing::new(
            wrapping
                .open(&aad, &decode_b64(wrapped)?, "key slot")
                .map_err(|_| wrong)?,
        );
        SecretKey::from_slice(&raw)
    }

    /// Whether a passphrase slot costs less than `kdf` (and so should be rewrapped).
    pub fn passphrase_weaker_than(&self, kdf: &KdfParams) -> bool {
        self.slots
            .iter()
            .any(|s| matches!(s, Slot::Passphrase { kdf: k, .. } if k.weaker_than(kdf)))
    }

    /// Adds or replaces the slot of `unlock`'s kind, wrapping `data_key` afresh (new salt, new
    /// device key). This is rotation: the data key stays, only its wrapping changes.
    pub fn set_slot(
        &mut self,
        data_key: &SecretKey,
        unlock: Unlock<'_>,
        vault: &dyn KeyVault,
        kdf: KdfParams,
    ) -> Result<()> {
        let slot = match unlock {
            Unlock::Passphrase(passphrase) => {
                check_passphrase_strength(passphrase)?;
                let mut salt = [0u8; 16];
                random_fill(&mut salt)?;
                let wrapping = kdf.derive(passphrase, &salt)?;
                let aad = row_aad("keyslot", &format!("{}/passphrase", self.store_id));
                Slot::Passphrase {
                    kdf,
                    salt: B64.encode(salt),
                    wrapped: B64.encode(wrapping.seal(&aad, data_key.expose_bytes())?),
                }
            }
            Unlock::DeviceKey => {
                let wrapping = SecretKey::generate()?;
                let aad = row_aad("keyslot", &format!("{}/device_key", self.store_id));
                let wrapped = B64.encode(wrapping.seal(&aad, data_key.expose_bytes())?);
                vault.store(
                    &Self::device_key_entry(&self.store_id),
                    wrapping.expose_bytes().to_vec(),
                )?;
                Slot::DeviceKey { wrapped }
            }
        };
        let kind = slot.kind();
        self.slots.retain(|s| s.kind() != kind);
        self.slots.push(slot);
        Ok(())
    }

    /// Removes the slot of `unlock`'s kind; the last slot cannot go.
    pub fn remove_slot(&mut self, unlock: Unlock<'_>, vault: &dyn KeyVault) -> Result<()> {
        let kind = unlock_kind(unlock);
        if !self.slots.iter().any(|s| s.kind() == kind) {
            return Err(RecordError::NoSuchKeySlot(kind));
        }
        if self.slots.len() == 1 {
            return Err(RecordError::InvalidInput(
                "the last key slot cannot be removed".into(),
            ));
        }
        self.slots.retain(|s| s.kind() != kind);
        if matches!(unlock, Unlock::DeviceKey) {
            vault.delete(&Self::device_key_entry(&self.store_id))?;
        }
        Ok(())
    }

    fn slot_for(&self, unlock: Unlock<'_>) -> Result<&Slot> {
        let kind = unlock_kind(unlock);
        self.slots
            .iter()
            .find(|s| s.kind() == kind)
            .ok_or(RecordError::NoSuchKeySlot(kind))
    }
}

fn unlock_kind(unlock: Unlock<'_>) -> &'static str {
    match unlock {
        Unlock::Passphrase(_) => "passphrase",
        Unlock::DeviceKey => "device_key",
    }
}

fn decode_b64(text: &str) -> Result<Vec<u8>> {
    B64.decode(text)
        .map_err(|_| RecordError::Corrupt("key file: bad base64".into()))
}

/// Replaces `dir/name` with `bytes` so that a crash leaves either the old or the new file.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path: PathBuf = dir.join(name);
    let temporary = dir.join(format!(".{name}.new"));
    let mut file =
        fs::File::create(&temporary).map_err(|e| RecordError::io("create", &temporary, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| RecordError::io("write", &temporary, e))?;
    fs::rename(&temporary, &path).map_err(|e| RecordError::io("rename", &path, e))?;
    sync_dir(dir)
}

/// Makes a rename or removal in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| RecordError::io("sync", dir, e))
}

#[cfg(test)]
mod tests {
    use carnet_platform::MemoryKeyVault;

    use super::*;

    #[test]
    fn pins_and_short_words_are_refused() {
        for weak in ["123456", "12345678901234", "motdepasse", "aaaaaaaaaaaaaa"] {
            assert!(matches!(
                check_passphrase_strength(weak),
                Err(RecordError::WeakPassphrase(_))
            ));
        }
        check_passphrase_strength("cheval agrafe pile").unwrap();
    }

    #[test]
    fn kdf_parameters_below_the_floor_are_refused() {
        let weak = KdfParams {
            memory_kib: 4096,
            ..KdfParams::MINIMUM
        };
        assert!(
            weak.derive("cheval agrafe pile", b"0123456789abcdef")
                .is_err()
        );
    }

    #[test]
    fn slots_unwrap_the_same_key_and_refuse_wrong_secrets() {
        let vault = MemoryKeyVault::new();
        let key = SecretKey::generate().unwrap();
        let id = "0123456789abcdef0123456789abcdef";
        let pass = Unlock::Passphrase("cheval agrafe pile");
        let mut file = KeyFile::create(id, &key, pass, &vault, KdfParams::MINIMUM).unwrap();
        assert!(matches!(
            file.unwrap_key(Unlock::DeviceKey, &vault),
            Err(RecordError::NoSuchKeySlot(_))
        ));
        file.set_slot(&key, Unlock::DeviceKey, &vault, KdfParams::MINIMUM)
            .unwrap();
        for unlock in [pass, Unlock::DeviceKey] {
            assert_eq!(
                file.unwrap_key(unlock, &vault).unwrap().expose_bytes(),
                key.expose_bytes()
            );
        }
        assert!(matches!(
            file.unwrap_key(Unlock::Passphrase("cheval agrafe pilE"), &vault),
            Err(RecordError::WrongPassphrase)
        ));
        vault
            .store(&KeyFile::device_key_entry(id), vec![7; 32])
            .unwrap();
        assert!(matches!(
            file.unwrap_key(Unlock::DeviceKey, &vault),
            Err(RecordError::WrongDeviceKey)
        ));
        file.remove_slot(Unlock::DeviceKey, &vault).unwrap();
        assert!(matches!(
            file.remove_slot(pass, &vault),
            Err(RecordError::InvalidInput(_))
        ));
    }
}
