//! The certificate wallet's storage: one SQLite file in the data directory.
//!
//! Only the certificate text is stored; everything shown is decoded from it on read, so
//! nothing derived can drift from what was signed. (The encrypted record will take this over.)

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use carnet_certs::hcert;
use carnet_certs::wallet::Summary;
use rusqlite::{Connection, OptionalExtension, params};

use crate::CarnetError;

/// Schema version written to `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;
/// Most certificates a wallet holds.
pub const MAX_ENTRIES: usize = 1_000;

/// A certificate in the wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletEntry {
    /// Identifier in the wallet.
    pub id: i64,
    /// The `HC1:` text, as scanned or imported.
    pub text: String,
    /// What it says.
    pub summary: Summary,
    /// When it was added, Unix seconds.
    pub added_at: i64,
}

/// The wallet database.
pub(crate) struct WalletStore {
    connection: Mutex<Connection>,
}

fn storage(error: rusqlite::Error) -> CarnetError {
    CarnetError::Storage(error.to_string())
}

impl WalletStore {
    /// Opens (creating and migrating if needed) the wallet file.
    pub(crate) fn open(path: &Path) -> Result<Self, CarnetError> {
        let connection = Connection::open(path).map_err(storage)?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(storage)?;
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(storage)?;
        let version: i64 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(storage)?;
        if version > SCHEMA_VERSION {
            return Err(CarnetError::Storage(format!(
                "wallet schema {version} is newer than this version of Carnet ({SCHEMA_VERSION})"
            )));
        }
        if version < 1 {
            connection
                .execute_batch(
                    "BEGIN;
                     CREATE TABLE certificate (
                         id INTEGER PRIMARY KEY,
                         text TEXT NOT NULL UNIQUE,
                         added_at INTEGER NOT NULL
                     );
                     PRAGMA user_version = 1;
                     COMMIT;",
                )
                .map_err(storage)?;
        }
        Ok(WalletStore {
            connection: Mutex::new(connection),
        })
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        // Every statement is its own transaction: a panic elsewhere cannot leave one half done.
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a certificate (decoded first); adding the same text again returns the existing entry.
    pub(crate) fn add(&self, text: &str, added_at: i64) -> Result<WalletEntry, CarnetError> {
        let text = text.trim();
        let summary = Summary::of(&hcert::decode(text)?)?;
        let connection = self.connection();
        let existing: Option<(i64, i64)> = connection
            .query_row(
                "SELECT id, added_at FROM certificate WHERE text = ?1",
                params![text],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(storage)?;
        if let Some((id, added_at)) = existing {
            return Ok(WalletEntry {
                id,
                text: text.to_owned(),
                summary,
                added_at,
            });
        }
        let count: i64 = connection
            .query_row("SELECT count(*) FROM certificate", [], |row| row.get(0))
            .map_err(storage)?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= MAX_ENTRIES {
            return Err(CarnetError::Storage(format!(
                "the wallet is full ({MAX_ENTRIES} certificates)"
            )));
        }
        connection
            .execute(
                "INSERT INTO certificate (text, added_at) VALUES (?1, ?2)",
                params![text, added_at],
            )
            .map_err(storage)?;
        Ok(WalletEntry {
            id: connection.last_insert_rowid(),
            text: text.to_owned(),
            summary,
            added_at,
        })
    }

    /// Every certificate, oldest first.
    pub(crate) fn list(&self) -> Result<Vec<WalletEntry>, CarnetError> {
        self.select("SELECT id, text, added_at FROM certificate ORDER BY id", [])
    }

    /// One certificate, or `None` when there is none with that id.
    pub(crate) fn get(&self, id: i64) -> Result<Option<WalletEntry>, CarnetError> {
        Ok(self
            .select(
                "SELECT id, text, added_at FROM certificate WHERE id = ?1",
                [id],
            )?
            .pop())
    }

    /// Runs a query returning `(id, text, added_at)` rows and decodes each certificate.
    fn select(
        &self,
        sql: &str,
        parameters: impl rusqlite::Params,
    ) -> Result<Vec<WalletEntry>, CarnetError> {
        let connection = self.connection();
        let mut statement = connection.prepare(sql).map_err(storage)?;
        let rows = statement
            .query_map(parameters, |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })
            .map_err(storage)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        rows.into_iter()
            .map(|(id, text, added_at)| {
                // A row that no longer decodes was damaged on disk: say so, do not hide it.
                let summary = hcert::decode(&text)
                    .and_then(|h| Summary::of(&h))
                    .map_err(|e| {
                        CarnetError::Storage(format!("wallet entry {id} is damaged: {e}"))
                    })?;
                Ok(WalletEntry {
                    id,
                    text,
                    summary,
                    added_at,
                })
            })
            .collect()
    }

    /// Removes a certificate; false when there was none with that id.
    pub(crate) fn remove(&self, id: i64) -> Result<bool, CarnetError> {
        let removed = self
            .connection()
            .execute("DELETE FROM certificate WHERE id = ?1", params![id])
            .map_err(storage)?;
        Ok(removed == 1)
    }
}
