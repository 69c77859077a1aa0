//! Sync with the health space, push side: what this device queued while offline
//! (`outbox.rs`) goes up — the documents the citizen added (file first, then metadata, both
//! idempotent on the server), then the profile changes, each settled as soon as the server
//! answers (`docs/protocols/health-space.md`).

use carnet_net::{Client, Credential, NetError};
use carnet_wire::health_space::{
    self as wire, DocumentDescription, DocumentMetadata, FeedItem, ProfileWrite,
};
use reqwest::Method;

use crate::document::Document;
use crate::error::{RecordError, Result};
use crate::model::Coding;
use crate::outbox::UPLOAD;
use crate::record::{Progress, Record, format_instant};

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
}

fn wire_coding(coding: &Coding) -> wire::Coding {
    wire::Coding {
        system: coding.system.clone(),
        code: coding.code.clone(),
        display: coding.display.clone(),
    }
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
