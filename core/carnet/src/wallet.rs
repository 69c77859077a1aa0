//! The wallet file of Carnet 0.1 (`wallet.sqlite`, in clear), moved into the encrypted
//! record the first time a record is opened, then removed.

use std::path::Path;

use carnet_record::Record;
use rusqlite::{Connection, OpenFlags};

use crate::CarnetError;

/// Name of the old wallet database in the data directory.
const LEGACY_WALLET_FILE: &str = "wallet.sqlite";

/// Moves the certificates of an old wallet file in `data_dir` into `record`, then deletes the
/// file. Returns how many certificates were moved (0 when there was no file).
pub(crate) fn migrate_legacy_wallet(
    data_dir: &Path,
    record: &Record,
) -> Result<usize, CarnetError> {
    let path = data_dir.join(LEGACY_WALLET_FILE);
    if !path.exists() {
        return Ok(0);
    }
    let storage = |e: rusqlite::Error| CarnetError::Storage(format!("old wallet file: {e}"));
    let texts: Vec<String> = {
        let connection = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(storage)?;
        let mut statement = connection
            .prepare("SELECT text FROM certificate ORDER BY id")
            .map_err(storage)?;
        let rows = statement.query_map([], |row| row.get(0)).map_err(storage)?;
        rows.collect::<Result<_, _>>().map_err(storage)?
    };
    for text in &texts {
        record.add_certificate(text)?;
    }
    // Everything is in the record (committed): only now does the old file go.
    for suffix in ["", "-wal", "-shm"] {
        let file = data_dir.join(format!("{LEGACY_WALLET_FILE}{suffix}"));
        if let Err(e) = std::fs::remove_file(&file)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(CarnetError::Storage(format!(
                "cannot remove {}: {e}",
                file.display()
            )));
        }
    }
    tracing::info!(
        certificates = texts.len(),
        "old wallet file moved into the record"
    );
    Ok(texts.len())
}
