//! The offline queues: what this device changed and the health space has not yet taken —
//! documents the citizen added (`upload`, keyed by document id) and profile changes
//! (`outbox`, keyed by entry id). Content code queues into them in the transaction that makes
//! the change; the push (`push.rs`) empties them. Kept in the encrypted store, so they survive
//! restarts.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::record::Record;
use crate::store::Writer;

/// Item kind of documents waiting to be uploaded (keyed by document id).
pub(crate) const UPLOAD: &str = "upload";

/// A document added on this device and not yet in the health space.
#[derive(Debug, Serialize, Deserialize)]
struct QueuedUpload {
    queued_millis: i64,
}

/// Queues document `id` for upload, inside the transaction that adds it.
pub(crate) fn queue_upload(writer: &mut Writer<'_>, id: &str, now_millis: i64) -> Result<()> {
    writer.put(
        UPLOAD,
        id,
        &QueuedUpload {
            queued_millis: now_millis,
        },
    )
}

/// A profile change made on this device and not yet accepted by the health space: the
/// offline queue, kept in the encrypted store until pushed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PendingWrite {
    /// The resource (for a deletion, the last one, which the tombstone carries).
    pub resource: Value,
    /// The health space's version the change was made from.
    pub base_version: Option<i64>,
    /// Whether the change deletes the entry.
    pub deleted: bool,
    /// When it was made, Unix milliseconds.
    pub updated_millis: i64,
}

/// Item kind of pending profile changes (keyed by profile entry id).
pub(crate) const OUTBOX: &str = "outbox";

impl Record {
    /// Ids of the documents added on this device that are not yet in the health space (to
    /// show them as waiting), oldest first.
    pub fn unsynced_documents(&self) -> Result<Vec<String>> {
        let mut uploads: Vec<(String, QueuedUpload)> = self.store.read(|r| r.list(UPLOAD))?;
        uploads.sort_by_key(|(_, queued)| queued.queued_millis);
        Ok(uploads.into_iter().map(|(id, _)| id).collect())
    }

    /// How many changes made on this device (documents added, profile changes) wait to go up
    /// to the health space.
    pub fn pending_sync_count(&self) -> Result<u64> {
        self.store.read(|r| Ok(r.count(UPLOAD)? + r.count(OUTBOX)?))
    }
}
