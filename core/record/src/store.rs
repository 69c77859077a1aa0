//! The encrypted store: one SQLite database in WAL mode, every value sealed, one writer.
//!
//! A store directory holds `record.sqlite` (with its `-wal` and `-shm` while open),
//! `keys.json` (the key slots, [`crate::keyslot`]) and `store.lock` (held while a process
//! has the store open). The database holds only ciphertext and random identifiers: items as
//! `(kind, id, sealed JSON)`, blobs as sealed headers and sealed 64 KiB chunks.
//!
//! **Rollback.** Every write transaction increments a sealed counter in the database and,
//! once committed, records it in the platform [`KeyVault`]. At open, a database whose counter
//! is below the vault's is refused ([`RecordError::RolledBack`]): an older copy put back, or
//! a write-ahead log cut short. A counter ahead of the vault is the trace of a crash between
//! commit and the vault update, and is accepted.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use carnet_platform::{Clock, KeyVault, PlatformError};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crypto::{self, SecretKey, row_aad};
use crate::error::{RecordError, Result};
use crate::keyslot::{self, KdfParams, KeyFile, Unlock};

/// File name of the database in a store directory.
pub const DATABASE_FILE: &str = "record.sqlite";
/// File name of the inter-process lock in a store directory.
const LOCK_FILE: &str = "store.lock";
/// Largest sealed item body read back, in bytes (a document's metadata, a message).
const MAX_ITEM_BYTES: usize = 1024 * 1024;

/// The schema, one migration per version (`PRAGMA user_version` counts those applied).
const MIGRATIONS: &[&str] = &["CREATE TABLE meta (
        name TEXT PRIMARY KEY,
        value BLOB NOT NULL
     );
     CREATE TABLE item (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (kind, id)
     );
     CREATE TABLE blob (
        id TEXT PRIMARY KEY,
        header BLOB NOT NULL
     );
     CREATE TABLE blob_chunk (
        blob_id TEXT NOT NULL REFERENCES blob(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (blob_id, idx)
     );"];

/// How a store is created or opened.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreOptions {
    /// Argon2id parameters for passphrase slots. A slot made with weaker ones is rewrapped
    /// with these when opened by passphrase.
    pub kdf: KdfParams,
}

/// A blob's size, chunking and digest (sealed in the database).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct BlobInfo {
    /// Plaintext length in bytes.
    pub size: u64,
    /// Number of chunks.
    pub chunks: u32,
    /// SHA-256 of the plaintext, lower-case hex.
    pub sha256: String,
}

struct Inner {
    connection: Connection,
    counter: u64,
}

/// An open encrypted store.
pub struct Store {
    dir: PathBuf,
    inner: Mutex<Inner>,
    key: SecretKey,
    keys: Mutex<KeyFile>,
    vault: Arc<dyn KeyVault>,
    clock: Arc<dyn Clock>,
    options: StoreOptions,
    _lock: fs::File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Creates a new store in `dir` (created if missing) with one key slot for `unlock`.
    pub fn create(
        dir: &Path,
        unlock: Unlock<'_>,
        vault: Arc<dyn KeyVault>,
        clock: Arc<dyn Clock>,
        options: StoreOptions,
    ) -> Result<Self> {
        if let Unlock::Passphrase(passphrase) = unlock {
            keyslot::check_passphrase_strength(passphrase)?;
        }
        create_private_dir(dir)?;
        let lock = lock_dir(dir)?;
        if dir.join(keyslot::KEY_FILE).exists() {
            return Err(RecordError::AlreadyExists(dir.display().to_string()));
        }
        // Left by a creation that crashed before its key file was written: unreadable, so
        // start over.
        remove_database_files(dir)?;
        let store_id = crypto::random_id()?;
        let key = SecretKey::generate()?;
        let keys = KeyFile::create(&store_id, &key, unlock, vault.as_ref(), options.kdf)?;
        let mut connection = open_connection(dir)?;
        migrate(&mut connection)?;
        let counter = 0;
        let transaction = connection.transaction()?;
        write_counter(&transaction, &key, counter)?;
        transaction.commit()?;
        keys.write(dir)?;
        record_counter(vault.as_ref(), &store_id, counter)?;
        tracing::info!("record store created");
        Ok(Store {
            dir: dir.to_path_buf(),
            inner: Mutex::new(Inner {
                connection,
                counter,
            }),
            key,
            keys: Mutex::new(keys),
            vault,
            clock,
            options,
            _lock: lock,
        })
    }

    /// Opens the store in `dir` with `unlock`, refusing it if it was rolled back.
    pub fn open(
        dir: &Path,
        unlock: Unlock<'_>,
        vault: Arc<dyn KeyVault>,
        clock: Arc<dyn Clock>,
        options: StoreOptions,
    ) -> Result<Self> {
        let mut keys = KeyFile::read(dir)?;
        let lock = lock_dir(dir)?;
        let key = keys.unwrap_key(unlock, vault.as_ref())?;
        if !dir.join(DATABASE_FILE).exists() {
            return Err(RecordError::Corrupt("the database file is missing".into()));
        }
        let mut connection = open_connection(dir)?;
        migrate(&mut connection)?;
        let found = read_counter(&connection, &key)?;
        let known = vault.load(&counter_entry(keys.store_id()))?;
        // No counter at all: a database file from before the first commit reached it (an
        // older copy without its WAL). Only a rollback explains that once the vault knows
        // the store.
        let counter = match (found, &known) {
            (Some(counter), _) => counter,
            (None, Some(_)) => 0,
            (None, None) => {
                return Err(RecordError::Corrupt("the write counter is missing".into()));
            }
        };
        match known {
            Some(bytes) => {
                let expected =
                    u64::from_be_bytes(bytes.as_slice().try_into().map_err(|_| {
                        RecordError::Corrupt("write counter in the key vault".into())
                    })?);
                if counter < expected {
                    tracing::warn!(expected, found = counter, "record store rolled back");
                    return Err(RecordError::RolledBack {
                        expected,
                        found: counter,
                    });
                }
                if counter > expected {
                    catch_up_counter(vault.as_ref(), keys.store_id(), counter);
                }
            }
            // First open on this device (a store brought from elsewhere): from now on.
            None => catch_up_counter(vault.as_ref(), keys.store_id(), counter),
        }
        if matches!(unlock, Unlock::Passphrase(_)) && keys.passphrase_weaker_than(&options.kdf) {
            // An improvement, never a condition of reading: on a full disk it waits.
            match keys
                .set_slot(&key, unlock, vault.as_ref(), options.kdf)
                .and_then(|()| keys.write(dir))
            {
                Ok(()) => tracing::info!("passphrase slot rewrapped with stronger KDF parameters"),
                Err(error) => tracing::warn!(%error, "passphrase slot not rewrapped yet"),
            }
        }
        Ok(Store {
            dir: dir.to_path_buf(),
            inner: Mutex::new(Inner {
                connection,
                counter,
            }),
            key,
            keys: Mutex::new(keys),
            vault,
            clock,
            options,
            _lock: lock,
        })
    }

    /// Whether `dir` holds a store.
    pub fn exists(dir: &Path) -> bool {
        dir.join(keyslot::KEY_FILE).exists()
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The current time from the store's clock, in Unix milliseconds.
    pub fn now_millis(&self) -> i64 {
        self.clock.now_unix_millis()
    }

    /// Number of committed write transactions since creation.
    pub fn write_counter(&self) -> u64 {
        self.lock().counter
    }

    /// Runs `work` in one write transaction: everything it does is committed together, or
    /// nothing is if it fails.
    pub fn write<T>(&self, work: impl FnOnce(&mut Writer<'_>) -> Result<T>) -> Result<T> {
        let (value, counter) = {
            let mut guard = self.lock();
            let inner = &mut *guard;
            let counter = inner.counter + 1;
            let transaction = inner.connection.transaction()?;
            let mut writer = Writer {
                transaction,
                key: &self.key,
            };
            let value = work(&mut writer)?;
            write_counter(&writer.transaction, &self.key, counter)?;
            writer.transaction.commit()?;
            inner.counter = counter;
            (value, counter)
        };
        let store_id = self.keys_lock().store_id().to_owned();
        if let Err(error) = record_counter(self.vault.as_ref(), &store_id, counter) {
            // The write is committed; only the rollback guard lags until the next write.
            tracing::warn!(%error, "write counter not recorded in the key vault");
        }
        Ok(value)
    }

    /// Runs `work` with read access (a consistent snapshot).
    pub fn read<T>(&self, work: impl FnOnce(&Reader<'_>) -> Result<T>) -> Result<T> {
        let mut inner = self.lock();
        let transaction = inner.connection.transaction()?;
        work(&Reader {
            connection: &transaction,
            key: &self.key,
        })
    }

    /// Changes (or sets) the passphrase; the data key is rewrapped, nothing else changes.
    pub fn set_passphrase(&self, passphrase: &str) -> Result<()> {
        self.set_slot(Unlock::Passphrase(passphrase))
    }

    /// Adds or renews the device-key slot: a fresh wrapping key in the key vault.
    pub fn rotate_device_key(&self) -> Result<()> {
        self.set_slot(Unlock::DeviceKey)
    }

    /// Removes the slot of `unlock`'s kind (the last one cannot go).
    pub fn remove_slot(&self, unlock: Unlock<'_>) -> Result<()> {
        let mut keys = self.keys_lock();
        let mut updated = keys.clone();
        updated.remove_slot(unlock, self.vault.as_ref())?;
        updated.write(&self.dir)?;
        *keys = updated;
        Ok(())
    }

    fn set_slot(&self, unlock: Unlock<'_>) -> Result<()> {
        let mut keys = self.keys_lock();
        let mut updated = keys.clone();
        updated.set_slot(&self.key, unlock, self.vault.as_ref(), self.options.kdf)?;
        updated.write(&self.dir)?;
        *keys = updated;
        Ok(())
    }

    /// Closes the account: destroys the key material (vault entries and key file) and then
    /// removes the store's files. Without the wrapped key nothing left anywhere (backups,
    /// flash cells not yet erased) can be decrypted.
    pub fn close_account(self) -> Result<()> {
        let store_id = self.keys_lock().store_id().to_owned();
        let dir = self.dir.clone();
        // Key material first: once it is gone the rest is ciphertext without a key.
        let key_file = dir.join(keyslot::KEY_FILE);
        let mut noise = vec![0u8; fs::metadata(&key_file).map(|m| m.len()).unwrap_or(0) as usize];
        crypto::random_fill(&mut noise)?;
        keyslot::write_atomically(&dir, keyslot::KEY_FILE, &noise)?;
        fs::remove_file(&key_file).map_err(|e| RecordError::io("remove", &key_file, e))?;
        self.vault.delete(&KeyFile::device_key_entry(&store_id))?;
        self.vault.delete(&counter_entry(&store_id))?;
        keyslot::sync_dir(&dir)?;
        drop(self);
        remove_database_files(&dir)?;
        let lock = dir.join(LOCK_FILE);
        fs::remove_file(&lock).map_err(|e| RecordError::io("remove", &lock, e))?;
        // The directory goes too when nothing else was kept in it.
        let _ = fs::remove_dir(&dir);
        tracing::info!("record store erased");
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn keys_lock(&self) -> MutexGuard<'_, KeyFile> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Read access to the store inside [`Store::read`] or [`Store::write`].
pub struct Reader<'a> {
    connection: &'a Connection,
    key: &'a SecretKey,
}

impl Reader<'_> {
    /// The item `id` of `kind`, if any.
    pub fn get<T: DeserializeOwned>(&self, kind: &str, id: &str) -> Result<Option<T>> {
        let body: Option<Vec<u8>> = self
            .connection
            .prepare_cached("SELECT body FROM item WHERE kind = ?1 AND id = ?2")?
            .query_row(params![kind, id], |row| row.get(0))
            .optional()?;
        body.map(|body| open_item(self.key, kind, id, &body))
            .transpose()
    }

    /// Every item of `kind`, in identifier order.
    pub fn list<T: DeserializeOwned>(&self, kind: &str) -> Result<Vec<(String, T)>> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT id, body FROM item WHERE kind = ?1 ORDER BY id")?;
        let mut rows = statement.query(params![kind])?;
        let mut items = Vec::new();
        while let Some(row) = rows.next()? {
            let id: String = row.get(0)?;
            let body = row.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
            let item = open_item(self.key, kind, &id, body)?;
            items.push((id, item));
        }
        Ok(items)
    }

    /// Number of items of `kind`.
    pub fn count(&self, kind: &str) -> Result<u64> {
        let count: i64 = self
            .connection
            .prepare_cached("SELECT count(*) FROM item WHERE kind = ?1")?
            .query_row(params![kind], |row| row.get(0))?;
        Ok(count.unsigned_abs())
    }

    /// Whether the store holds no item and no blob.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.connection.query_row(
            "SELECT NOT EXISTS (SELECT 1 FROM item) AND NOT EXISTS (SELECT 1 FROM blob)",
            [],
            |row| row.get(0),
        )?)
    }

    /// The size, chunking and digest of blob `id`.
    pub fn blob_info(&self, id: &str) -> Result<BlobInfo> {
        let header: Vec<u8> = self
            .connection
            .prepare_cached("SELECT header FROM blob WHERE id = ?1")?
            .query_row(params![id], |row| row.get(0))
            .optional()?
            .ok_or(RecordError::NotFound("blob"))?;
        let plain = self
            .key
            .open(&row_aad("blob", id), &header, "blob header")?;
        serde_json::from_slice(&plain)
            .map_err(|e| RecordError::Corrupt(format!("blob header: {e}")))
    }

    /// Writes blob `id` to `out`, one chunk in memory at a time. Every chunk is authenticated
    /// with its index and whether it is the last, and the count is in the sealed header: a
    /// reordered, foreign or missing chunk fails, so the digest need not be checked again.
    pub fn read_blob(&self, id: &str, out: &mut dyn Write) -> Result<BlobInfo> {
        let info = self.blob_info(id)?;
        let mut statement = self
            .connection
            .prepare_cached("SELECT data FROM blob_chunk WHERE blob_id = ?1 AND idx = ?2")?;
        for index in 0..info.chunks {
            let mut sealed: Vec<u8> = statement
                .query_row(params![id, index], |row| row.get(0))
                .optional()?
                .ok_or_else(|| RecordError::Tampered("a blob chunk is missing".into()))?;
            let plain = crypto::open_chunk(self.key, id, index, info.chunks, &mut sealed)?;
            out.write_all(plain)
                .map_err(|e| RecordError::io("write", Path::new("output"), e))?;
        }
        Ok(info)
    }
}

/// Write access inside [`Store::write`]; reads see the transaction's own writes.
pub struct Writer<'a> {
    transaction: Transaction<'a>,
    key: &'a SecretKey,
}

impl Writer<'_> {
    /// Read access within this transaction.
    pub fn reader(&self) -> Reader<'_> {
        Reader {
            connection: &self.transaction,
            key: self.key,
        }
    }

    /// Stores `value` as item `id` of `kind`, replacing any previous one.
    pub fn put<T: Serialize>(&mut self, kind: &str, id: &str, value: &T) -> Result<()> {
        let plain = serde_json::to_vec(value)
            .map_err(|e| RecordError::InvalidInput(format!("cannot serialise {kind}: {e}")))?;
        if plain.len() > MAX_ITEM_BYTES {
            return Err(RecordError::InvalidInput(format!(
                "{kind} larger than 1 MiB"
            )));
        }
        let sealed = self.key.seal(&row_aad(kind, id), &plain)?;
        self.transaction
            .prepare_cached("INSERT OR REPLACE INTO item (kind, id, body) VALUES (?1, ?2, ?3)")?
            .execute(params![kind, id, sealed])?;
        Ok(())
    }

    /// Deletes item `id` of `kind`; whether it existed.
    pub fn delete(&mut self, kind: &str, id: &str) -> Result<bool> {
        let deleted = self
            .transaction
            .prepare_cached("DELETE FROM item WHERE kind = ?1 AND id = ?2")?
            .execute(params![kind, id])?;
        Ok(deleted > 0)
    }

    /// Deletes the items of `kind` whose identifier sorts before `bound`; how many.
    pub fn delete_below(&mut self, kind: &str, bound: &str) -> Result<u64> {
        let deleted = self
            .transaction
            .prepare_cached("DELETE FROM item WHERE kind = ?1 AND id < ?2")?
            .execute(params![kind, bound])?;
        Ok(deleted as u64)
    }

    /// Stores everything `source` yields (at most `max_bytes`) as blob `id`, chunk by chunk
    /// (one already under that identifier is an error); returns its description.
    pub fn put_blob(
        &mut self,
        id: &str,
        source: &mut dyn std::io::Read,
        max_bytes: u64,
    ) -> Result<BlobInfo> {
        // The header row first (chunks reference it), sealed again once the size is known.
        self.transaction
            .prepare_cached("INSERT INTO blob (id, header) VALUES (?1, x'')")?
            .execute(params![id])?;
        let mut insert = self
            .transaction
            .prepare_cached("INSERT INTO blob_chunk (blob_id, idx, data) VALUES (?1, ?2, ?3)")?;
        // The digest identifies the content (documents are content-addressed when synced).
        let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
        let sealed = crypto::seal_stream(
            self.key,
            id,
            source,
            max_bytes,
            &mut |plain| digest.update(plain),
            &mut |index, chunk| {
                insert.execute(params![id, index, chunk])?;
                Ok(())
            },
        )?;
        drop(insert);
        let info = BlobInfo {
            size: sealed.size,
            chunks: sealed.chunks,
            sha256: hex::encode(digest.finish()),
        };
        let header = serde_json::to_vec(&info)
            .map_err(|e| RecordError::Corrupt(format!("blob header: {e}")))?;
        let header = self.key.seal(&row_aad("blob", id), &header)?;
        self.transaction
            .prepare_cached("UPDATE blob SET header = ?2 WHERE id = ?1")?
            .execute(params![id, header])?;
        Ok(info)
    }

    /// Deletes blob `id` and its chunks.
    pub fn delete_blob(&mut self, id: &str) -> Result<()> {
        self.transaction
            .prepare_cached("DELETE FROM blob WHERE id = ?1")?
            .execute(params![id])?;
        Ok(())
    }
}

fn open_item<T: DeserializeOwned>(key: &SecretKey, kind: &str, id: &str, body: &[u8]) -> Result<T> {
    if body.len() > MAX_ITEM_BYTES + crypto::SEAL_OVERHEAD {
        return Err(RecordError::Corrupt(format!("{kind} item too large")));
    }
    let plain = key.open(&row_aad(kind, id), body, kind)?;
    serde_json::from_slice(&plain).map_err(|e| RecordError::Corrupt(format!("{kind} item: {e}")))
}

/// Brings the vault's counter up to the database's at open. Failing (a full disk) is not
/// fatal: a database ahead of the vault is accepted, and the next open tries again.
fn catch_up_counter(vault: &dyn KeyVault, store_id: &str, counter: u64) {
    if let Err(error) = record_counter(vault, store_id, counter) {
        tracing::warn!(%error, "write counter not recorded in the key vault at open");
    }
}

fn counter_entry(store_id: &str) -> String {
    format!("record.{store_id}.counter")
}

/// Records `counter` as the store's latest write in the key vault.
fn record_counter(vault: &dyn KeyVault, store_id: &str, counter: u64) -> Result<(), PlatformError> {
    vault.store(&counter_entry(store_id), counter.to_be_bytes().to_vec())
}

fn write_counter(connection: &Connection, key: &SecretKey, counter: u64) -> Result<()> {
    let sealed = key.seal(&row_aad("meta", "counter"), &counter.to_be_bytes())?;
    connection
        .prepare_cached("INSERT OR REPLACE INTO meta (name, value) VALUES ('counter', ?1)")?
        .execute(params![sealed])?;
    Ok(())
}

/// The sealed write counter, if the database has one.
fn read_counter(connection: &Connection, key: &SecretKey) -> Result<Option<u64>> {
    let sealed: Option<Vec<u8>> = connection
        .query_row("SELECT value FROM meta WHERE name = 'counter'", [], |row| {
            row.get(0)
        })
        .optional()?;
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    let plain = key.open(&row_aad("meta", "counter"), &sealed, "write counter")?;
    let bytes: [u8; 8] = plain
        .try_into()
        .map_err(|_| RecordError::Corrupt("write counter length".into()))?;
    Ok(Some(u64::from_be_bytes(bytes)))
}

fn open_connection(dir: &Path) -> Result<Connection> {
    let path = dir.join(DATABASE_FILE);
    let connection = match configure(Connection::open(&path)?, false) {
        Err(error) if cannot_write_wal_index(&error) => {
            // On a full disk SQLite cannot write its `-shm` WAL index, and reading would be
            // refused. This process is the store's only user (`store.lock`), so the index can
            // live in memory instead: exclusive locking, set before the WAL is first read.
            tracing::warn!("storage full: the record is opened with its WAL index in memory");
            configure(Connection::open(&path)?, true)?
        }
        other => other?,
    };
    let mode: String = connection.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(RecordError::Corrupt(format!(
            "journal mode {mode} instead of WAL"
        )));
    }
    Ok(connection)
}

/// WAL with full sync: a commit survives power loss, not just a killed process, so the vault's
/// counter is never ahead of what the disk keeps. Temp data stays in memory, and freed pages
/// are zeroed. The schema is read once here, so that setting up the WAL fails here if it does.
fn configure(connection: Connection, exclusive: bool) -> rusqlite::Result<Connection> {
    if exclusive {
        connection.execute_batch("PRAGMA locking_mode = EXCLUSIVE;")?;
    }
    connection.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA secure_delete = ON;
         PRAGMA busy_timeout = 5000;",
    )?;
    connection.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
    Ok(connection)
}

/// Whether SQLite failed to set up the `-shm` WAL index: an I/O error or "disk full" while
/// opening (what a full disk gives).
fn cannot_write_wal_index(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::SystemIoFailure | rusqlite::ErrorCode::DiskFull)
    )
}

fn migrate(connection: &mut Connection) -> Result<()> {
    let version: u32 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let supported = MIGRATIONS.len() as u32;
    if version > supported {
        return Err(RecordError::NewerSchema {
            found: version,
            supported,
        });
    }
    for (number, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let transaction = connection.transaction()?;
        transaction.execute_batch(migration)?;
        transaction.pragma_update(None, "user_version", number as u32 + 1)?;
        transaction.commit()?;
    }
    Ok(())
}

fn lock_dir(dir: &Path) -> Result<fs::File> {
    let path = dir.join(LOCK_FILE);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| RecordError::io("open", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(RecordError::Busy),
        Err(fs::TryLockError::Error(e)) => Err(RecordError::io("lock", &path, e)),
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| RecordError::io("create", dir, e))
}

fn remove_database_files(dir: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let path = dir.join(format!("{DATABASE_FILE}{suffix}"));
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(RecordError::io("remove", &path, e));
            }
            _ => {}
        }
    }
    Ok(())
}
