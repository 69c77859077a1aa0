//! Sync with the health space, pull side: what professionals deposited (documents, messages)
//! and the profile as the server holds it come down into the record, page by page of the
//! server's change feed (`docs/protocols/health-space.md`).
//!
//! Every change is applied idempotently (a document or message already kept under its id is
//! left as it is), and the feed cursor is saved after each page: a pull cut by a crash, a lost
//! connection or a stopped server resumes where it stopped, with no duplicate and nothing
//! skipped. Push sends what this device queued while offline: the documents the citizen added
//! (file first, then metadata, both idempotent on the server) and the profile changes.

use carnet_net::{Client, Credential, NetError};
use carnet_wire::health_space::{
    self as wire, DocumentDescription, DocumentMetadata, FeedItem, FeedPage, MessageBody,
    ProfileWrite,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::document::{Coding, Confidentiality, Document, DocumentSource, NewDocument};
use crate::error::{RecordError, Result};
use crate::inbox::{IncomingAttachment, NewMessage};
use crate::profile::apply_synced_profile;
use crate::record::{Professional, Progress, Record, format_instant, parse_instant};
use crate::store::Writer;

/// Item kind of the sync state.
const SYNC: &str = "sync";
/// Id of the health space's cursor.
const CURSOR: &str = "health-space";
/// Changes asked for per page.
const PAGE: u32 = 200;
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

/// What a pull brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PullReport {
    /// Documents received.
    pub documents: u32,
    /// Messages received.
    pub messages: u32,
    /// Profile items updated or deleted.
    pub profile_items: u32,
    /// Changes already applied before (a resumed or repeated pull).
    pub already_there: u32,
    /// The feed position reached.
    pub cursor: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    last_seq: i64,
}

/// What a push sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PushReport {
    /// Documents uploaded (or found already there after an interrupted upload).
    pub documents: u32,
    /// Documents the health space refused (another one under the same id, too large for it,
    /// metadata it does not take); they stay queued and on this device.
    pub refused_documents: u32,
    /// Changes the health space took as current.
    pub accepted: u32,
    /// Changes a later one on another device had overtaken (last writer wins; the local
    /// entry now shows the winner, the loser is in the server's history).
    pub superseded: u32,
}

impl Record {
    /// The feed position the last pull reached (0 before any).
    pub fn sync_cursor(&self) -> Result<i64> {
        Ok(self
            .store
            .read(|r| r.get::<Cursor>(SYNC, CURSOR))?
            .map_or(0, |c| c.last_seq))
    }

    /// Pulls the health space's changes since the last pull. `progress` hears the feed
    /// position (`done`) against the last position seen on the server (`total`).
    pub async fn pull(
        &self,
        client: &Client,
        credential: &Credential,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<PullReport> {
        let mut report = PullReport {
            cursor: self.sync_cursor()?,
            ..PullReport::default()
        };
        loop {
            let path = format!("/v1/me/changes?since={}&limit={PAGE}", report.cursor);
            let response = client
                .signed(credential, Method::GET, &path, Vec::new())
                .await?;
            let page: FeedPage = response.json("change feed")?;
            // Documents and messages one by one (their files come first, over the network);
            // then the page's profile changes and the new cursor in one transaction.
            let mut profile_changes = Vec::new();
            for change in page.changes {
                if change.kind == wire::PROFILE {
                    profile_changes.push(change);
                } else {
                    self.apply(client, credential, &change, &mut report).await?;
                }
            }
            let now = self.store.now_millis();
            let profile_changes_len = profile_changes.len() as u32;
            let (applied, already_there) = self.store.write(|w| {
                let mut applied = 0;
                for change in profile_changes {
                    let resource = (!change.deleted).then_some(change.body);
                    if apply_synced_profile(w, &change.id, resource, change.version, now)? {
                        applied += 1;
                    }
                }
                w.put(
                    SYNC,
                    CURSOR,
                    &Cursor {
                        last_seq: page.last_seq,
                    },
                )?;
                Ok((applied, profile_changes_len - applied))
            })?;
            report.profile_items += applied;
            // Already here, or a local change of it is queued (the push settles it).
            report.already_there += already_there;
            report.cursor = page.last_seq;
            progress(Progress {
                done: report.cursor.unsigned_abs(),
                total: page.last_seq.unsigned_abs(),
            });
            if !page.more {
                tracing::info!(
                    documents = report.documents,
                    messages = report.messages,
                    "pull done"
                );
                return Ok(report);
            }
        }
    }

    /// Pushes what this device queued (the offline queue): the documents the citizen added,
    /// then the profile changes, oldest first. Each is settled as soon as the server answers,
    /// so an interrupted push resumes with what is left; a retried upload or write the server
    /// already took is accepted again, not doubled. `progress` counts queued entries.
    pub async fn push(
        &self,
        client: &Client,
        credential: &Credential,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<PushReport> {
        let uploads = self.unsynced_documents()?;
        let mut pending = self.pending_profile_writes()?;
        pending.sort_by_key(|(_, write)| write.updated_millis);
        let total = (uploads.len() + pending.len()) as u64;
        let mut done = 0;
        let mut report = PushReport::default();
        for id in uploads {
            if self.upload_document(client, credential, &id).await? {
                report.documents += 1;
            } else {
                report.refused_documents += 1;
            }
            done += 1;
            progress(Progress { done, total });
        }
        for (id, write) in pending {
            let body = serde_json::to_vec(&ProfileWrite {
                resource: write.resource.clone(),
                base_version: write.base_version,
                updated_millis: write.updated_millis,
                deleted: write.deleted,
            })
            .map_err(|e| RecordError::Sync(e.to_string()))?;
            let response = client
                .signed(
                    credential,
                    Method::PUT,
                    &format!("/v1/me/profile/{id}"),
                    body,
                )
                .await?;
            let current: FeedItem = response.json("profile answer")?;
            let won = response.status != 409;
            let resource = (!current.deleted).then_some(current.body);
            self.settle_profile_push(&id, &write, current.version, resource, won)?;
            if won {
                report.accepted += 1;
            } else {
                report.superseded += 1;
            }
            done += 1;
            progress(Progress { done, total });
        }
        Ok(report)
    }

    /// Uploads queued document `id`: its file (`PUT /blobs/{sha256}`), then its metadata
    /// (`PUT /documents/{id}`), then takes it off the queue. Returns false when the health
    /// space holds another document under that id (it stays queued). The file is read whole
    /// (at most [`crate::MAX_DOCUMENT_BYTES`]): the request is signed over its digest.
    async fn upload_document(
        &self,
        client: &Client,
        credential: &Credential,
        id: &str,
    ) -> Result<bool> {
        let mut content = Vec::new();
        let document = match self.read_document(id, &mut content) {
            Ok(document) => document,
            // Deleted since it was queued: nothing to send.
            Err(RecordError::NotFound(_)) => {
                self.store.write(|w| w.delete(UPLOAD, id))?;
                return Ok(true);
            }
            Err(e) => return Err(e),
        };
        let metadata = serde_json::to_vec(&document_body(&document))
            .map_err(|e| RecordError::Sync(e.to_string()))?;
        let sent = async {
            client
                .signed(
                    credential,
                    Method::PUT,
                    &format!("/v1/me/blobs/{}", document.sha256),
                    content,
                )
                .await?;
            client
                .signed(
                    credential,
                    Method::PUT,
                    &format!("/v1/me/documents/{id}"),
                    metadata,
                )
                .await
        };
        match sent.await {
            Ok(response) if response.status == 409 => {
                tracing::warn!("the health space holds another document under a queued id");
                Ok(false)
            }
            Ok(_) => {
                self.store.write(|w| w.delete(UPLOAD, id))?;
                Ok(true)
            }
            // This document is refused (too large for the server, metadata it will not
            // take): it stays queued and on the device, and the rest of the push goes on.
            Err(NetError::Refused {
                status: 400 | 409 | 413 | 422,
                code,
                ..
            }) => {
                tracing::warn!(code, "the health space refused a document");
                Ok(false)
            }
            Err(other) => Err(other.into()),
        }
    }

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
        self.store
            .read(|r| Ok(r.count(UPLOAD)? + r.count(crate::profile::OUTBOX)?))
    }

    async fn apply(
        &self,
        client: &Client,
        credential: &Credential,
        change: &FeedItem,
        report: &mut PullReport,
    ) -> Result<()> {
        match change.kind.as_str() {
            wire::DOCUMENT => {
                if self.document(&change.id).is_ok() {
                    report.already_there += 1;
                    return Ok(());
                }
                let metadata: DocumentMetadata = item_body(change)?;
                let new = document_metadata(metadata.description)?;
                let content = fetch_blob(client, credential, &metadata.blob).await?;
                self.receive_document(
                    &change.id,
                    &new,
                    DocumentSource::Professional,
                    &mut content.as_slice(),
                )?;
                report.documents += 1;
            }
            wire::MESSAGE => {
                if self.has_message(&change.id)? {
                    report.already_there += 1;
                    return Ok(());
                }
                let message: MessageBody = item_body(change)?;
                let mut files = Vec::with_capacity(message.attachments.len());
                for attachment in &message.attachments {
                    files.push(fetch_blob(client, credential, &attachment.blob).await?);
                }
                let mut contents: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
                let attachments = message
                    .attachments
                    .iter()
                    .zip(contents.iter_mut())
                    .map(|(attached, content)| IncomingAttachment {
                        name: attached.name.clone(),
                        content,
                    })
                    .collect();
                let new = NewMessage {
                    sender: professional(message.sender),
                    subject: message.subject,
                    body: message.body,
                    reply_allowed: message.reply_allowed,
                };
                self.receive_message(&change.id, &new, attachments)?;
                report.messages += 1;
            }
            // A kind this version does not know: skipped, so that newer servers do not
            // stop older apps.
            other => tracing::debug!(kind = other, "change of an unknown kind skipped"),
        }
        Ok(())
    }
}

/// The body of a feed item, read as the message its kind says.
fn item_body<T: serde::de::DeserializeOwned>(item: &FeedItem) -> Result<T> {
    T::deserialize(&item.body).map_err(|e| {
        RecordError::Sync(format!(
            "a {} the health space describes wrongly: {e}",
            item.kind
        ))
    })
}

/// Downloads the blob at `address` (a SHA-256) and checks it hashes to it.
async fn fetch_blob(client: &Client, credential: &Credential, address: &str) -> Result<Vec<u8>> {
    if !carnet_wire::is_blob_address(address) {
        return Err(RecordError::Sync(
            "an item without its file's address".into(),
        ));
    }
    let response = client
        .signed(
            credential,
            Method::GET,
            &format!("/v1/me/blobs/{address}"),
            Vec::new(),
        )
        .await?;
    let digest = hex::encode(ring::digest::digest(&ring::digest::SHA256, &response.body));
    if digest != address {
        return Err(RecordError::Sync(
            "a file does not hash to its address".into(),
        ));
    }
    Ok(response.body)
}

fn coding(coding: wire::Coding) -> Coding {
    Coding {
        system: coding.system,
        code: coding.code,
        display: coding.display,
    }
}

fn wire_coding(coding: &Coding) -> wire::Coding {
    wire::Coding {
        system: coding.system.clone(),
        code: coding.code.clone(),
        display: coding.display.clone(),
    }
}

fn professional(professional: wire::Professional) -> Professional {
    Professional {
        name: professional.name,
        rpps: professional.rpps,
    }
}

/// A deposited document's description as the record takes it.
fn document_metadata(description: DocumentDescription) -> Result<NewDocument> {
    Ok(NewDocument {
        title: description.title,
        type_code: description.type_code.map(coding),
        class_code: description.class_code.map(coding),
        author: description.author.map(professional),
        date_millis: description.date.map(|d| parse_instant(&d)).transpose()?,
        ins: description.ins,
        confidentiality: description
            .confidentiality
            .and_then(|c| Confidentiality::from_code(&c))
            .unwrap_or_default(),
        description: description.description,
    })
}

/// The health space's metadata of a document (the inverse of [`document_metadata`]).
fn document_body(document: &Document) -> DocumentMetadata {
    DocumentMetadata {
        description: DocumentDescription {
            title: document.title.clone(),
            type_code: document.type_code.as_ref().map(wire_coding),
            class_code: document.class_code.as_ref().map(wire_coding),
            author: document.author.as_ref().map(|a| wire::Professional {
                name: a.name.clone(),
                rpps: a.rpps.clone(),
            }),
            date: document.date_millis.map(format_instant),
            ins: document.ins.clone(),
            confidentiality: Some(document.confidentiality.code().to_owned()),
            description: document.description.clone(),
        },
        blob: document.sha256.clone(),
        size: document.size,
    }
}
