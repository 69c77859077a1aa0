//! The server's SQLite database: users, seen nonces, and each user's health space (items with
//! versions and a change feed, content-addressed blobs, the history of replaced versions).

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{ApiError, ServerError};

/// The schema, one migration per version.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE user (
        id TEXT PRIMARY KEY,
        public_key BLOB NOT NULL,
        created_millis INTEGER NOT NULL
     );
     CREATE TABLE seen_nonce (
        user_id TEXT NOT NULL,
        nonce TEXT NOT NULL,
        expires_millis INTEGER NOT NULL,
        PRIMARY KEY (user_id, nonce)
     );
     CREATE TABLE blob (
        user_id TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        content BLOB NOT NULL,
        PRIMARY KEY (user_id, sha256)
     );
     CREATE TABLE item (
        user_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        updated_millis INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (user_id, kind, id)
     );
     CREATE INDEX item_feed ON item (user_id, seq);
     CREATE TABLE item_history (
        user_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        updated_millis INTEGER NOT NULL,
        body TEXT NOT NULL
     );
     CREATE TABLE feed (
        user_id TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL
     );",
    // Expired nonces are purged on every signed request, and a version's history is read by
    // item: without these, both scanned whole tables (found by the load test).
    "CREATE INDEX seen_nonce_expiry ON seen_nonce (expires_millis);
     CREATE INDEX item_history_item ON item_history (user_id, kind, id);",
    // The ApCV issuer: cards (the people on them, the open activation code's hash, the
    // enrolled device key), the credentials issued with their status list index, and the
    // enrolment nonces.
    "CREATE TABLE card (
        nir TEXT PRIMARY KEY,
        user_id TEXT NOT NULL UNIQUE,
        people TEXT NOT NULL,
        code_hash BLOB,
        failed_codes INTEGER NOT NULL,
        device_key BLOB,
        created_millis INTEGER NOT NULL
     );
     CREATE TABLE issued (
        status_index INTEGER PRIMARY KEY,
        nir TEXT NOT NULL,
        rank INTEGER NOT NULL,
        issued_millis INTEGER NOT NULL,
        revoked INTEGER NOT NULL
     );
     CREATE INDEX issued_card ON issued (nir, revoked);
     CREATE TABLE enrolment_nonce (
        nonce BLOB PRIMARY KEY,
        expires_millis INTEGER NOT NULL
     );",
    // The exposure-notification key server: test results' one-time codes, and the published
    // keys with the day of the file they are in.
    "CREATE TABLE test_code (
        code_hash BLOB PRIMARY KEY,
        onset_day INTEGER,
        expires_millis INTEGER NOT NULL,
        used INTEGER NOT NULL
     );
     CREATE TABLE diagnosis_key (
        key_data BLOB PRIMARY KEY,
        rolling_start INTEGER NOT NULL,
        rolling_period INTEGER NOT NULL,
        report_type INTEGER NOT NULL,
        days_since_onset INTEGER,
        published_day INTEGER NOT NULL
     );
     CREATE INDEX diagnosis_key_day ON diagnosis_key (published_day);",
    // The professionals' PKI: reader certificates issued, and when one was revoked.
    "CREATE TABLE reader_certificate (
        serial BLOB PRIMARY KEY,
        identifier TEXT NOT NULL,
        name TEXT NOT NULL,
        not_after_millis INTEGER NOT NULL,
        issued_millis INTEGER NOT NULL,
        revoked_millis INTEGER
     );",
];

/// Item kinds of the health space, and one item as stored: the feed's shape.
pub(crate) use carnet_wire::health_space::{DOCUMENT, FeedItem as Item, MESSAGE, PROFILE};

/// What happened to a profile write.
pub(crate) enum ProfileOutcome {
    /// Stored as the new current version.
    Accepted(Item),
    /// A later version is already current; the incoming one went to the history.
    Superseded(Item),
}

/// The database, one connection behind a mutex (SQLite has one writer anyway); calls run on
/// the blocking thread pool.
#[derive(Clone)]
pub(crate) struct Database(Arc<Mutex<Connection>>);

impl Database {
    pub(crate) fn open(path: &Path) -> Result<Self, ServerError> {
        let mut connection = Connection::open(path)?;
        connection.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 5000;",
        )?;
        let version: u32 = connection.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let version = version as usize;
        if version > MIGRATIONS.len() {
            return Err(ServerError::Config(format!(
                "database schema {version} is newer than this server"
            )));
        }
        for (number, migration) in MIGRATIONS.iter().enumerate().skip(version) {
            let transaction = connection.transaction()?;
            transaction.execute_batch(migration)?;
            transaction.pragma_update(None, "user_version", number as u32 + 1)?;
            transaction.commit()?;
        }
        Ok(Database(Arc::new(Mutex::new(connection))))
    }

    /// Runs `work` in one transaction on the blocking pool.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let database = self.0.clone();
        tokio::task::spawn_blocking(move || {
            let mut connection = database.lock().unwrap_or_else(PoisonError::into_inner);
            let transaction = connection.transaction()?;
            let value = work(&transaction)?;
            transaction.commit()?;
            Ok(value)
        })
        .await
        .map_err(ApiError::internal)?
    }
}

/// Makes user `id` with `public_key`, or gives an existing one this key (a card enrolled on
/// a new phone; an empty key after the phone was reported lost).
pub(crate) fn set_user_key(
    tx: &Connection,
    id: &str,
    public_key: &[u8],
    now: i64,
) -> Result<(), ApiError> {
    tx.execute(
        "INSERT INTO user (id, public_key, created_millis) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET public_key = excluded.public_key",
        params![id, public_key, now],
    )?;
    Ok(())
}

pub(crate) fn user_key(tx: &Connection, id: &str) -> Result<Option<Vec<u8>>, ApiError> {
    Ok(tx
        .query_row("SELECT public_key FROM user WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?)
}

pub(crate) fn user_exists(tx: &Connection, id: &str) -> Result<bool, ApiError> {
    Ok(user_key(tx, id)?.is_some())
}

/// Records a nonce; false when it was already seen (a replay).
pub(crate) fn remember_nonce(
    tx: &Connection,
    user: &str,
    nonce: &str,
    expires: i64,
    now: i64,
) -> Result<bool, ApiError> {
    tx.execute("DELETE FROM seen_nonce WHERE expires_millis < ?1", [now])?;
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO seen_nonce (user_id, nonce, expires_millis) VALUES (?1, ?2, ?3)",
        params![user, nonce, expires],
    )?;
    Ok(inserted == 1)
}

pub(crate) fn put_blob(
    tx: &Connection,
    user: &str,
    sha256: &str,
    content: &[u8],
) -> Result<(), ApiError> {
    tx.execute(
        "INSERT OR IGNORE INTO blob (user_id, sha256, content) VALUES (?1, ?2, ?3)",
        params![user, sha256, content],
    )?;
    Ok(())
}

pub(crate) fn get_blob(
    tx: &Connection,
    user: &str,
    sha256: &str,
) -> Result<Option<Vec<u8>>, ApiError> {
    Ok(tx
        .query_row(
            "SELECT content FROM blob WHERE user_id = ?1 AND sha256 = ?2",
            params![user, sha256],
            |r| r.get(0),
        )
        .optional()?)
}

pub(crate) fn get_item(
    tx: &Connection,
    user: &str,
    kind: &str,
    id: &str,
) -> Result<Option<Item>, ApiError> {
    let row = tx
        .query_row(
            "SELECT kind, id, version, seq, deleted, updated_millis, body FROM item
             WHERE user_id = ?1 AND kind = ?2 AND id = ?3",
            params![user, kind, id],
            row_to_item,
        )
        .optional()?;
    row.transpose()
}

fn row_to_item(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Item, ApiError>> {
    let body: String = row.get(6)?;
    Ok(serde_json::from_str(&body)
        .map_err(ApiError::internal)
        .map(|body| Item {
            kind: row.get(0).unwrap_or_default(),
            id: row.get(1).unwrap_or_default(),
            version: row.get(2).unwrap_or_default(),
            seq: row.get(3).unwrap_or_default(),
            deleted: row.get(4).unwrap_or_default(),
            updated_millis: row.get(5).unwrap_or_default(),
            body,
        }))
}

fn next_seq(tx: &Connection, user: &str) -> Result<i64, ApiError> {
    tx.execute(
        "INSERT INTO feed (user_id, last_seq) VALUES (?1, 1)
         ON CONFLICT (user_id) DO UPDATE SET last_seq = last_seq + 1",
        [user],
    )?;
    Ok(tx.query_row(
        "SELECT last_seq FROM feed WHERE user_id = ?1",
        [user],
        |r| r.get(0),
    )?)
}

fn write_item(tx: &Connection, user: &str, item: &Item) -> Result<(), ApiError> {
    tx.execute(
        "INSERT OR REPLACE INTO item (user_id, kind, id, version, seq, deleted, updated_millis, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![user, item.kind, item.id, item.version, item.seq, item.deleted, item.updated_millis, item.body.to_string()],
    )?;
    Ok(())
}

fn keep_history(tx: &Connection, user: &str, item: &Item, outcome: &str) -> Result<(), ApiError> {
    tx.execute(
        "INSERT INTO item_history (user_id, kind, id, version, outcome, updated_millis, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            user,
            item.kind,
            item.id,
            item.version,
            outcome,
            item.updated_millis,
            item.body.to_string()
        ],
    )?;
    Ok(())
}

/// Stores an immutable item (a document, a message). The same body again is a no-op that
/// returns the stored item (a retried upload); a different body under the same id is a
/// conflict.
pub(crate) fn put_immutable(
    tx: &Connection,
    user: &str,
    kind: &str,
    id: &str,
    body: serde_json::Value,
    now: i64,
) -> Result<Item, ApiError> {
    if let Some(existing) = get_item(tx, user, kind, id)? {
        if existing.body == body {
            return Ok(existing);
        }
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "item.immutable",
            format!("a different {kind} already has this id; {kind}s never change"),
        ));
    }
    let item = Item {
        kind: kind.into(),
        id: id.into(),
        version: 1,
        seq: next_seq(tx, user)?,
        deleted: false,
        updated_millis: now,
        body,
    };
    write_item(tx, user, &item)?;
    Ok(item)
}

/// A profile write: accepted when based on the current version; otherwise the later
/// `updated_millis` wins (last writer wins) and the loser is kept in the history.
pub(crate) fn put_profile(
    tx: &Connection,
    user: &str,
    id: &str,
    body: serde_json::Value,
    base_version: Option<i64>,
    updated_millis: i64,
    deleted: bool,
) -> Result<ProfileOutcome, ApiError> {
    let current = get_item(tx, user, PROFILE, id)?;
    let incoming = |version: i64, seq: i64| Item {
        kind: PROFILE.into(),
        id: id.into(),
        version,
        seq,
        deleted,
        updated_millis,
        body: body.clone(),
    };
    let Some(current) = current else {
        let item = incoming(1, next_seq(tx, user)?);
        write_item(tx, user, &item)?;
        return Ok(ProfileOutcome::Accepted(item));
    };
    if current.body == body && current.deleted == deleted {
        // A retried write that already landed.
        return Ok(ProfileOutcome::Accepted(current));
    }
    let based_on_current = base_version == Some(current.version);
    let later =
        (updated_millis, body.to_string()) > (current.updated_millis, current.body.to_string());
    if based_on_current || later {
        keep_history(
            tx,
            user,
            &current,
            if based_on_current { "replaced" } else { "lost" },
        )?;
        let item = incoming(current.version + 1, next_seq(tx, user)?);
        write_item(tx, user, &item)?;
        Ok(ProfileOutcome::Accepted(item))
    } else {
        keep_history(tx, user, &incoming(current.version, current.seq), "lost")?;
        Ok(ProfileOutcome::Superseded(current))
    }
}

/// The items changed after `since`, oldest change first, at most `limit`.
pub(crate) fn changes(
    tx: &Connection,
    user: &str,
    since: i64,
    limit: i64,
) -> Result<Vec<Item>, ApiError> {
    let mut statement = tx.prepare_cached(
        "SELECT kind, id, version, seq, deleted, updated_millis, body FROM item
         WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = statement.query_map(params![user, since, limit], row_to_item)?;
    let mut items = Vec::new();
    for row in rows {
        items.push(row??);
    }
    Ok(items)
}

/// Versions of an item that were replaced or lost, oldest first.
pub(crate) fn history(
    tx: &Connection,
    user: &str,
    kind: &str,
    id: &str,
) -> Result<Vec<(i64, String, serde_json::Value)>, ApiError> {
    let mut statement = tx.prepare_cached(
        "SELECT version, outcome, body FROM item_history WHERE user_id = ?1 AND kind = ?2 AND id = ?3 ORDER BY rowid",
    )?;
    let rows = statement.query_map(params![user, kind, id], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?))
    })?;
    let mut versions = Vec::new();
    for row in rows {
        let (version, outcome, body) = row?;
        versions.push((
            version,
            outcome,
            serde_json::from_str(&body).map_err(ApiError::internal)?,
        ));
    }
    Ok(versions)
}
