//! Sync with the health space, pull side: what professionals deposited (documents, messages)
//! and the profile as the server holds it come down into the record, page by page of the
//! server's change feed (`docs/protocols/health-space.md`).
//!
//! Every change is applied idempotently (a document or message already kept under its id is
//! left as it is), and the feed cursor is saved after each page: a pull cut by a crash, a lost
//! connection or a stopped server resumes where it stopped, with no duplicate and nothing
//! skipped.

use carnet_net::{Client, Credential};
use carnet_wire::health_space::{
    self as wire, DocumentDescription, DocumentMetadata, FeedItem, FeedPage, MessageBody,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::document::{Confidentiality, DocumentSource, NewDocument};
use crate::error::{RecordError, Result};
use crate::inbox::{IncomingAttachment, NewMessage};
use crate::model::Coding;
use crate::profile::apply_synced_profile;
use crate::record::{Professional, Progress, Record, parse_instant};

/// Item kind of the sync state.
const SYNC: &str = "sync";
/// Id of the health space's cursor.
const CURSOR: &str = "health-space";
/// Changes asked for per page.
const PAGE: u32 = 200;

/// What a pull brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PullReport {
    /// Documents received and stored.
    pub documents: u32,
    /// Messages received and stored.
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
                let described = document_metadata(metadata.description)?;
                let content = fetch_blob(client, credential, &metadata.blob).await?;
                let new = crate::described::described_received(&described, &content);
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
        ..NewDocument::default()
    })
}
