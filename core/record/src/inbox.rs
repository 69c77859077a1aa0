//! The inbox: secure messages from the care team, with attachments; the citizen replies only
//! where the sender allows it.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::blob::{MAX_DOCUMENT_BYTES, put_file};
use crate::error::{RecordError, Result};
use crate::record::{
    MAX_LONG_TEXT, MAX_SHORT_TEXT, Professional, Record, check_professional, check_text,
};
use crate::store::Writer;

/// Item kind of messages.
pub(crate) const MESSAGE: &str = "message";
/// Most attachments on one message.
const MAX_ATTACHMENTS: usize = 20;

/// A file attached to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// File name as sent (no directory part).
    pub name: String,
    /// Media type recognised from the content.
    pub media_type: String,
    /// Size, bytes.
    pub size: u64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
}

/// Identifier of the blob of attachment `index` of message `message_id`.
pub(crate) fn attachment_blob_id(message_id: &str, index: usize) -> String {
    format!("{message_id}.{index}")
}

/// What a professional sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Sender (the RPPS is required: messaging is between identified professionals and
    /// their patients).
    pub sender: Professional,
    /// Subject line, as the sender wrote it.
    pub subject: String,
    /// Body, plain text.
    pub body: String,
    /// Whether the patient may reply.
    pub reply_allowed: bool,
}

/// A message in the inbox, received or sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The message's id (the server's id for received messages).
    pub id: String,
    /// The professional it is from (received) or to (sent).
    pub professional: Professional,
    /// Subject line, as the sender wrote it.
    pub subject: String,
    /// Body, plain text.
    pub body: String,
    /// When it arrived or was sent, Unix milliseconds.
    pub at_millis: i64,
    /// Attached files, in the order sent.
    pub attachments: Vec<Attachment>,
    /// Whether the patient may reply (received messages).
    pub reply_allowed: bool,
    /// Read by the patient.
    pub read: bool,
    /// Sent by the patient.
    pub outgoing: bool,
    /// The message this one answers.
    pub in_reply_to: Option<String>,
}

/// An attachment to deliver: its file name and content.
pub struct IncomingAttachment<'a> {
    /// File name (a directory part is refused).
    pub name: String,
    /// Content, streamed into the store.
    pub content: &'a mut dyn Read,
}

impl Record {
    /// Delivers a message from a professional into the inbox (what the health-space sync
    /// does), with its attachments, all in one transaction.
    pub fn deliver_message(
        &self,
        new: &NewMessage,
        attachments: Vec<IncomingAttachment<'_>>,
    ) -> Result<Message> {
        self.receive_message(&crate::crypto::random_id()?, new, attachments)
    }

    /// Stores a message received under `id` (from the health space). The same id again
    /// returns the message already kept, unchanged: a retried sync adds nothing.
    pub fn receive_message(
        &self,
        id: &str,
        new: &NewMessage,
        attachments: Vec<IncomingAttachment<'_>>,
    ) -> Result<Message> {
        crate::model::check_fhir_id(id)?;
        let at_millis = self.store.now_millis();
        self.store.write(|w| {
            if let Some(existing) = w.reader().get(MESSAGE, id)? {
                return Ok(existing);
            }
            put_message(w, id.to_owned(), new, at_millis, attachments)
        })
    }

    /// Every message, newest first.
    pub fn messages(&self) -> Result<Vec<Message>> {
        let mut messages: Vec<Message> = self
            .store
            .read(|r| r.list(MESSAGE))?
            .into_iter()
            .map(|(_, m)| m)
            .collect();
        messages.sort_by(|a, b| b.at_millis.cmp(&a.at_millis).then_with(|| a.id.cmp(&b.id)));
        Ok(messages)
    }

    /// Whether a message is kept under `id`.
    pub(crate) fn has_message(&self, id: &str) -> Result<bool> {
        Ok(self
            .store
            .read(|r| r.get::<Message>(MESSAGE, id))?
            .is_some())
    }

    /// Message `id`, marked read.
    pub fn open_message(&self, id: &str) -> Result<Message> {
        self.store.write(|w| {
            let mut message: Message = w
                .reader()
                .get(MESSAGE, id)?
                .ok_or(RecordError::NotFound("message"))?;
            if !message.read {
                message.read = true;
                w.put(MESSAGE, id, &message)?;
            }
            Ok(message)
        })
    }

    /// Writes attachment `index` of message `id` to `out`.
    pub fn read_attachment(
        &self,
        id: &str,
        index: usize,
        out: &mut dyn Write,
    ) -> Result<Attachment> {
        self.store.read(|r| {
            let message: Message = r
                .get(MESSAGE, id)?
                .ok_or(RecordError::NotFound("message"))?;
            let attachment = message
                .attachments
                .get(index)
                .cloned()
                .ok_or(RecordError::NotFound("attachment"))?;
            r.read_blob(&attachment_blob_id(id, index), out)?;
            Ok(attachment)
        })
    }

    /// Replies to message `id`, if its sender allows replies.
    pub fn reply(&self, id: &str, body: &str) -> Result<Message> {
        check_text("reply", body, MAX_LONG_TEXT)?;
        let reply_id = crate::crypto::random_id()?;
        let now = self.store.now_millis();
        self.store.write(|w| {
            let original: Message = w
                .reader()
                .get(MESSAGE, id)?
                .ok_or(RecordError::NotFound("message"))?;
            if original.outgoing || !original.reply_allowed {
                return Err(RecordError::NotAllowed(
                    "the sender does not accept replies",
                ));
            }
            let subject = if original.subject.starts_with("Re: ") {
                original.subject.clone()
            } else {
                format!("Re: {}", original.subject)
            };
            let reply = Message {
                id: reply_id,
                professional: original.professional.clone(),
                subject,
                body: body.trim().to_owned(),
                at_millis: now,
                attachments: Vec::new(),
                reply_allowed: false,
                read: true,
                outgoing: true,
                in_reply_to: Some(original.id),
            };
            w.put(MESSAGE, &reply.id, &reply)?;
            Ok(reply)
        })
    }

    /// Deletes message `id` and its attachments.
    pub fn delete_message(&self, id: &str) -> Result<()> {
        self.store.write(|w| {
            let message: Message = w
                .reader()
                .get(MESSAGE, id)?
                .ok_or(RecordError::NotFound("message"))?;
            for index in 0..message.attachments.len() {
                w.delete_blob(&attachment_blob_id(id, index))?;
            }
            w.delete(MESSAGE, id).map(|_| ())
        })
    }
}

/// Stores a received message and its attachments inside a write transaction.
pub(crate) fn put_message(
    writer: &mut Writer<'_>,
    id: String,
    new: &NewMessage,
    at_millis: i64,
    attachments: Vec<IncomingAttachment<'_>>,
) -> Result<Message> {
    check_professional(&new.sender)?;
    if new.sender.rpps.is_none() {
        return Err(RecordError::InvalidInput(
            "a message needs its sender's RPPS".into(),
        ));
    }
    check_text("subject", &new.subject, MAX_SHORT_TEXT)?;
    check_text("body", &new.body, MAX_LONG_TEXT)?;
    if attachments.len() > MAX_ATTACHMENTS {
        return Err(RecordError::InvalidInput(format!(
            "more than {MAX_ATTACHMENTS} attachments"
        )));
    }
    let mut stored = Vec::with_capacity(attachments.len());
    for (index, attachment) in attachments.into_iter().enumerate() {
        stored.push(put_attachment(
            writer,
            &attachment_blob_id(&id, index),
            attachment,
        )?);
    }
    let message = Message {
        id,
        professional: new.sender.clone(),
        subject: new.subject.trim().to_owned(),
        body: new.body.clone(),
        at_millis,
        attachments: stored,
        reply_allowed: new.reply_allowed,
        read: false,
        outgoing: false,
        in_reply_to: None,
    };
    writer.put(MESSAGE, &message.id, &message)?;
    Ok(message)
}

fn put_attachment(
    writer: &mut Writer<'_>,
    blob_id: &str,
    attachment: IncomingAttachment<'_>,
) -> Result<Attachment> {
    let name = attachment.name.trim();
    check_text("attachment name", name, 255)?;
    if name.contains(['/', '\\', '\0']) || name == "." || name == ".." {
        return Err(RecordError::InvalidInput(format!(
            "attachment name {name:?}"
        )));
    }
    let (media_type, info) = put_file(writer, blob_id, attachment.content, MAX_DOCUMENT_BYTES)?;
    Ok(Attachment {
        name: name.to_owned(),
        media_type: media_type.into(),
        size: info.size,
        sha256: info.sha256,
    })
}
