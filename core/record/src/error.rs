//! The record's one error enum.

use carnet_platform::PlatformError;

/// Everything that can go wrong with the encrypted record.
///
/// Whatever the error, the operation that returned it changed nothing on disk: every write
/// is one SQLite transaction, and key files are replaced atomically.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The passphrase does not open this store.
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// The passphrase is too weak to protect a store on its own (a PIN, a short word).
    #[error("passphrase too weak: {0}")]
    WeakPassphrase(&'static str),
    /// The platform wrapping key is missing from the key vault, or does not open this store.
    #[error("the device key for this store is missing or wrong")]
    WrongDeviceKey,
    /// The store was opened with a kind of key it has no slot for.
    #[error("this store has no {0} key slot")]
    NoSuchKeySlot(&'static str),
    /// A store already exists where one was to be created.
    #[error("a store already exists in {0}")]
    AlreadyExists(String),
    /// No store where one was to be opened.
    #[error("no store in {0}")]
    NoStore(String),
    /// Another process has the store open.
    #[error("the store is in use by another process")]
    Busy,
    /// The database is older than the last state this device saw: an older copy was put
    /// back, or its write-ahead log was cut.
    #[error(
        "the store was rolled back: it is at write {found}, this device last saw write {expected}"
    )]
    RolledBack {
        /// Write counter the key vault holds.
        expected: u64,
        /// Write counter the database holds.
        found: u64,
    },
    /// An encrypted value did not authenticate: altered bytes, a value moved from another
    /// row, or a blob cut short.
    #[error("encrypted data failed authentication ({0})")]
    Tampered(String),
    /// A stored file or row is not in a format this version writes.
    #[error("damaged store: {0}")]
    Corrupt(String),
    /// The store was written by a newer version of Carnet.
    #[error("the store has schema version {found}; this version reads up to {supported}")]
    NewerSchema {
        /// Version found in the database.
        found: u32,
        /// Highest version this build knows.
        supported: u32,
    },
    /// Nothing stored under that identifier.
    #[error("no {0} with that identifier")]
    NotFound(&'static str),
    /// The caller's input was refused (empty title, unknown kind, oversized text...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A document's bytes are not of a type the record keeps (PDF, CDA XML, PNG, JPEG).
    #[error("unsupported document type: {0}")]
    UnsupportedDocument(String),
    /// The operation is not allowed by the item it concerns (a reply the sender forbids...).
    #[error("not allowed: {0}")]
    NotAllowed(&'static str),
    /// An archive to import was refused (bomb, unsafe entry name, malformed Bundle...).
    #[error("import refused: {0}")]
    Import(String),
    /// An XDM subset whose `METADATA.XML` does not read.
    #[error("{subset}: {error}")]
    XdmMetadata {
        /// The subset (`IHE_XDM/SUBSET01`).
        subset: String,
        /// What is wrong with its metadata.
        error: carnet_xdm::XdmError,
    },
    /// Import is only into an empty store.
    #[error("the store is not empty; import goes into a new store")]
    ImportIntoNonEmpty,
    /// The health space could not be reached, or refused a request.
    #[error(transparent)]
    Network(#[from] carnet_net::NetError),
    /// The health space sent something this version cannot use.
    #[error("sync: {0}")]
    Sync(String),
    /// A platform service (the key vault) failed.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// The disk (or the app's storage quota) is full: the write was not made, and nothing
    /// changed. Reading still works.
    #[error("storage full: {0}")]
    StorageFull(String),
    /// SQLite failed (I/O error, a damaged file).
    #[error("database: {0}")]
    Database(rusqlite::Error),
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file concerned.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl RecordError {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        if carnet_platform::is_storage_full(&source) {
            return RecordError::StorageFull(format!("cannot {action} {}", path.display()));
        }
        RecordError::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }
}

impl From<rusqlite::Error> for RecordError {
    /// SQLite's "database or disk is full" becomes [`RecordError::StorageFull`]: the
    /// transaction was rolled back, and the person needs to free space, not to repair anything.
    fn from(error: rusqlite::Error) -> Self {
        if error.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
            return RecordError::StorageFull("the database cannot grow".into());
        }
        RecordError::Database(error)
    }
}

/// Result of record operations.
pub type Result<T, E = RecordError> = std::result::Result<T, E>;
