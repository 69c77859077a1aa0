//! Platform services the core is opened with: time, secret storage.
//!
//! A crate of its own so that every component needing one of them (the facade's clock guard,
//! the encrypted record's key wrapping and rollback counter) takes the same trait.
//!
//! Each is a trait. The shells implement them with the platform's own facilities (Android
//! Keystore, iOS Keychain) through the FFI; this module has the desktop implementations the
//! CLI uses ([`SystemClock`], [`FileKeyVault`]) and an in-memory vault for ephemeral sessions
//! and tests ([`MemoryKeyVault`]).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// Largest secret a vault entry may hold, in bytes (wrapped keys and counters are far smaller).
pub const MAX_SECRET_BYTES: usize = 64 * 1024;
/// Longest vault entry name, in characters.
const MAX_NAME_CHARS: usize = 64;

/// A failure of a platform service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    /// The service cannot be reached or failed (I/O error, keystore not ready).
    #[error("platform service unavailable: {0}")]
    Unavailable(String),
    /// The service refused (user cancelled authentication, keystore locked).
    #[error("platform service refused: {0}")]
    Denied(String),
    /// The device's storage is full: nothing was written.
    #[error("storage full: {0}")]
    StorageFull(String),
    /// A vault entry name outside `[A-Za-z0-9._-]{1,64}` (not starting with a dot).
    #[error("invalid key vault entry name {0:?}")]
    InvalidName(String),
}

/// Source of wall-clock time. Injected so that tests control time and the core can notice a
/// clock moved backwards.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch, UTC.
    fn now_unix_millis(&self) -> i64;
}

/// A clock that tells the time it is set to: the demo's moved days, and the tests' clocks
/// set back or forward.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    /// A clock at `millis` (Unix milliseconds).
    #[must_use]
    pub fn at(millis: i64) -> Self {
        ManualClock(std::sync::atomic::AtomicI64::new(millis))
    }

    /// Sets it to `millis`.
    pub fn set(&self, millis: i64) {
        self.0.store(millis, std::sync::atomic::Ordering::SeqCst);
    }

    /// Moves it by `millis` (backwards when negative).
    pub fn advance(&self, millis: i64) {
        self.0
            .fetch_add(millis, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_unix_millis(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_millis(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
        }
    }
}

/// Storage for small secrets by name: wrapped keys, monotonic counters. On phones the
/// platform keeps them in hardware-backed storage; the core never sees the wrapping key.
pub trait KeyVault: Send + Sync {
    /// Stores `secret` under `name`, replacing any previous value, atomically.
    ///
    /// # Errors
    /// A [`PlatformError`] when the platform cannot store it.
    fn store(&self, name: &str, secret: Vec<u8>) -> Result<(), PlatformError>;
    /// The secret stored under `name`, or `None` when there is none.
    ///
    /// # Errors
    /// A [`PlatformError`] when the platform cannot read it.
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>, PlatformError>;
    /// Deletes the secret under `name`; deleting a missing one is not an error.
    ///
    /// # Errors
    /// A [`PlatformError`] when the platform cannot delete it.
    fn delete(&self, name: &str) -> Result<(), PlatformError>;
}

/// Checks a vault entry name: 1–64 characters of `[A-Za-z0-9._-]`, not starting with a dot,
/// so that every implementation can use it as a file or alias name as is.
///
/// # Errors
/// [`PlatformError::InvalidName`].
pub fn check_vault_name(name: &str) -> Result<(), PlatformError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let valid = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && !name.starts_with('.')
        && name.chars().all(allowed);
    if valid {
        Ok(())
    } else {
        Err(PlatformError::InvalidName(name.chars().take(80).collect()))
    }
}

fn check_secret_size(secret: &[u8]) -> Result<(), PlatformError> {
    if secret.len() > MAX_SECRET_BYTES {
        return Err(PlatformError::Unavailable(format!(
            "secret of {} bytes exceeds the {MAX_SECRET_BYTES}-byte limit",
            secret.len()
        )));
    }
    Ok(())
}

/// A vault in memory, gone when dropped: for ephemeral sessions (verifier mode) and tests.
#[derive(Debug, Default)]
pub struct MemoryKeyVault {
    entries: Mutex<HashMap<String, Vec<u8>>>,
}

impl MemoryKeyVault {
    /// An empty vault.
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        // A panic while holding the lock cannot leave the map half-updated: every operation
        // is a single insert, get or remove.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl KeyVault for MemoryKeyVault {
    fn store(&self, name: &str, secret: Vec<u8>) -> Result<(), PlatformError> {
        check_vault_name(name)?;
        check_secret_size(&secret)?;
        self.entries().insert(name.to_owned(), secret);
        Ok(())
    }

    fn load(&self, name: &str) -> Result<Option<Vec<u8>>, PlatformError> {
        check_vault_name(name)?;
        Ok(self.entries().get(name).cloned())
    }

    fn delete(&self, name: &str) -> Result<(), PlatformError> {
        check_vault_name(name)?;
        self.entries().remove(name);
        Ok(())
    }
}

/// The desktop vault: one file per entry in a directory readable by its owner only
/// (mode 0700, files 0600 on Unix), replaced atomically (write, fsync, rename, fsync).
///
/// It is protected by file permissions alone, with no hardware key: good for the desktop CLI
/// and the reference tools, not a substitute for a phone's keystore.
#[derive(Debug, Clone)]
pub struct FileKeyVault {
    dir: PathBuf,
}

impl FileKeyVault {
    /// Opens (creating if needed) the vault directory.
    ///
    /// # Errors
    /// [`PlatformError::Unavailable`] when the directory cannot be created.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, PlatformError> {
        let dir = dir.into();
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&dir)
            .map_err(|e| io_failure("create the vault directory", &dir, &e))?;
        Ok(FileKeyVault { dir })
    }

    /// The directory holding the entries.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, name: &str) -> Result<PathBuf, PlatformError> {
        check_vault_name(name)?;
        Ok(self.dir.join(format!("{name}.secret")))
    }
}

fn io_failure(action: &str, path: &Path, error: &io::Error) -> PlatformError {
    if is_storage_full(error) {
        return PlatformError::StorageFull(format!("cannot {action} {}", path.display()));
    }
    PlatformError::Unavailable(format!("cannot {action} {}: {error}", path.display()))
}

/// Whether an I/O error means the disk (or the user's quota) is full: `ENOSPC`, `EDQUOT`.
pub fn is_storage_full(error: &io::Error) -> bool {
    /// `EDQUOT` on Linux and Android; on Apple platforms it is 69.
    const QUOTA_EXCEEDED: i32 = if cfg!(target_vendor = "apple") {
        69
    } else {
        122
    };
    error.kind() == io::ErrorKind::StorageFull || error.raw_os_error() == Some(QUOTA_EXCEEDED)
}

impl KeyVault for FileKeyVault {
    fn store(&self, name: &str, secret: Vec<u8>) -> Result<(), PlatformError> {
        check_secret_size(&secret)?;
        let path = self.path_of(name)?;
        let temporary = self.dir.join(format!(".{name}.tmp"));
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let write = || -> io::Result<()> {
            let mut file = options.open(&temporary)?;
            file.write_all(&secret)?;
            file.sync_all()?;
            fs::rename(&temporary, &path)?;
            // Make the rename itself durable.
            fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&temporary);
            io_failure("write", &path, &e)
        })
    }

    fn load(&self, name: &str) -> Result<Option<Vec<u8>>, PlatformError> {
        let path = self.path_of(name)?;
        let file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_failure("read", &path, &e)),
        };
        // Read to the limit + 1 byte, whatever the file claims to be.
        let mut secret = Vec::new();
        io::Read::take(file, MAX_SECRET_BYTES as u64 + 1)
            .read_to_end(&mut secret)
            .map_err(|e| io_failure("read", &path, &e))?;
        if secret.len() > MAX_SECRET_BYTES {
            return Err(PlatformError::Unavailable(format!(
                "{} is larger than any secret Carnet writes",
                path.display()
            )));
        }
        Ok(Some(secret))
    }

    fn delete(&self, name: &str) -> Result<(), PlatformError> {
        let path = self.path_of(name)?;
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_failure("delete", &path, &e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(vault: &dyn KeyVault) {
        assert_eq!(vault.load("wrapped-key.v1").unwrap(), None);
        vault.store("wrapped-key.v1", vec![1, 2, 3]).unwrap();
        vault.store("wrapped-key.v1", vec![4, 5]).unwrap();
        assert_eq!(vault.load("wrapped-key.v1").unwrap(), Some(vec![4, 5]));
        vault.delete("wrapped-key.v1").unwrap();
        vault.delete("wrapped-key.v1").unwrap();
        assert_eq!(vault.load("wrapped-key.v1").unwrap(), None);
        for bad in ["", "../escape", ".hidden", "a/b", "é", &"x".repeat(65)] {
            assert!(
                matches!(vault.store(bad, vec![]), Err(PlatformError::InvalidName(_))),
                "{bad}"
            );
            assert!(
                matches!(vault.load(bad), Err(PlatformError::InvalidName(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            vault.store("big", vec![0; MAX_SECRET_BYTES + 1]),
            Err(PlatformError::Unavailable(_))
        ));
        assert_eq!(
            vault.load("big").unwrap(),
            None,
            "a refused store writes nothing"
        );
    }

    #[test]
    fn memory_vault_keeps_stores_replaces_and_deletes() {
        exercise(&MemoryKeyVault::new());
    }

    #[test]
    fn file_vault_keeps_stores_replaces_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let vault = FileKeyVault::open(dir.path().join("vault")).unwrap();
        exercise(&vault);
        vault.store("counter", vec![9]).unwrap();
        let reopened = FileKeyVault::open(vault.dir()).unwrap();
        assert_eq!(reopened.load("counter").unwrap(), Some(vec![9]));
        let leftovers: Vec<_> = fs::read_dir(vault.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("counter.secret")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(vault.dir().join("counter.secret"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn file_vault_refuses_an_oversized_file() {
        let dir = tempfile::tempdir().unwrap();
        let vault = FileKeyVault::open(dir.path()).unwrap();
        fs::write(
            dir.path().join("huge.secret"),
            vec![0; MAX_SECRET_BYTES + 1],
        )
        .unwrap();
        assert!(matches!(
            vault.load("huge"),
            Err(PlatformError::Unavailable(_))
        ));
    }

    #[test]
    fn system_clock_is_after_2025() {
        assert!(SystemClock.now_unix_millis() > 1_735_689_600_000);
    }
}
