//! Documents: the CI-SIS formats (PDF, CDA XML, JPEG, PNG and TIFF images, plain text, RTF)
//! with their metadata; the file itself is a blob.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::blob::{MAX_DOCUMENT_BYTES, put_file};
use crate::error::{RecordError, Result};
use crate::model::Coding;
use crate::record::{MAX_SHORT_TEXT, Professional, Record, check_professional, check_text};
use crate::store::Writer;

/// Item kind of documents.
pub(crate) const DOCUMENT: &str = "document";

/// Who may see a document, as the HL7 confidentiality codes say it, from the least
/// restricted to the most (the order compares them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidentiality {
    /// Normal (`N`).
    #[default]
    Normal,
    /// Restricted (`R`).
    Restricted,
    /// Very restricted (`V`).
    VeryRestricted,
}

impl Confidentiality {
    /// The HL7 v3 Confidentiality code.
    pub fn code(self) -> &'static str {
        match self {
            Confidentiality::Normal => "N",
            Confidentiality::Restricted => "R",
            Confidentiality::VeryRestricted => "V",
        }
    }

    /// The level of an HL7 v3 Confidentiality code.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "N" => Some(Confidentiality::Normal),
            "R" => Some(Confidentiality::Restricted),
            "V" => Some(Confidentiality::VeryRestricted),
            _ => None,
        }
    }
}

/// Where a document came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum DocumentSource {
    /// Added by the citizen.
    User,
    /// Deposited by a professional (through the health space).
    Professional,
}

/// What the caller says of a new document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewDocument {
    /// Title shown in lists.
    pub title: String,
    /// Type (LOINC), e.g. `11502-2` laboratory report.
    pub type_code: Option<Coding>,
    /// Class (DMP class codes), e.g. `10` comptes rendus.
    pub class_code: Option<Coding>,
    /// The professional who wrote it, if known.
    pub author: Option<Professional>,
    /// Date of care, Unix milliseconds.
    pub date_millis: Option<i64>,
    /// INS of the patient the document is about.
    pub ins: Option<String>,
    /// Who may see it (normal, restricted, very restricted).
    pub confidentiality: Confidentiality,
    /// A description in the person's own words.
    pub description: Option<String>,
}

/// A document kept in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// Its id in the record (the server's id once synced).
    pub id: String,
    /// Title shown in lists.
    pub title: String,
    /// Media type recognised from the content (`application/pdf`, `text/xml` for CDA,
    /// `image/png`, `image/jpeg`, `image/tiff`, `text/plain`, `text/rtf`).
    pub media_type: String,
    /// Type (LOINC).
    pub type_code: Option<Coding>,
    /// Class (DMP).
    pub class_code: Option<Coding>,
    /// The professional who wrote it, if known.
    pub author: Option<Professional>,
    /// Date of care, Unix milliseconds.
    pub date_millis: Option<i64>,
    /// When it entered the record, Unix milliseconds.
    pub added_millis: i64,
    /// INS of the patient it is about.
    pub ins: Option<String>,
    /// Who may see it (normal, restricted, very restricted).
    pub confidentiality: Confidentiality,
    /// A description in the person's own words.
    pub description: Option<String>,
    /// Where it came from.
    pub source: DocumentSource,
    /// Size of the file, bytes.
    pub size: u64,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// Hidden from professionals by the citizen.
    pub hidden: bool,
}

impl Record {
    /// Adds a document whose file is read from `content` (streamed; at most
    /// [`MAX_DOCUMENT_BYTES`]). The type is recognised from the bytes.
    pub fn add_document(
        &self,
        new: &NewDocument,
        source: DocumentSource,
        content: &mut dyn Read,
    ) -> Result<Document> {
        self.receive_document(&crate::crypto::random_id()?, new, source, content)
    }

    /// Stores a document under `id` (a received one keeps the health space's id). The same
    /// id again returns the document already kept, unchanged: a retried sync adds nothing.
    /// A document the citizen adds ([`DocumentSource::User`]) is queued for the next push.
    pub fn receive_document(
        &self,
        id: &str,
        new: &NewDocument,
        source: DocumentSource,
        content: &mut dyn Read,
    ) -> Result<Document> {
        check_new_document(new)?;
        crate::model::check_fhir_id(id)?;
        let added_millis = self.store.now_millis();
        self.store.write(|w| {
            if let Some(existing) = w.reader().get(DOCUMENT, id)? {
                return Ok(existing);
            }
            let upload = source == DocumentSource::User;
            let document = put_document(
                w,
                id.to_owned(),
                new,
                source,
                added_millis,
                false,
                content,
                MAX_DOCUMENT_BYTES,
            )?;
            if upload {
                crate::outbox::queue_upload(w, id, added_millis)?;
            }
            Ok(document)
        })
    }

    /// Every document, newest care date first.
    pub fn documents(&self) -> Result<Vec<Document>> {
        let mut documents: Vec<Document> = self
            .store
            .read(|r| r.list(DOCUMENT))?
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        sort_newest_first(&mut documents);
        Ok(documents)
    }

    /// Document `id`.
    pub fn document(&self, id: &str) -> Result<Document> {
        self.store
            .read(|r| r.get(DOCUMENT, id))?
            .ok_or(RecordError::NotFound("document"))
    }

    /// Writes document `id`'s file to `out`; returns its metadata.
    pub fn read_document(&self, id: &str, out: &mut dyn Write) -> Result<Document> {
        self.store.read(|r| {
            let document: Document = r
                .get(DOCUMENT, id)?
                .ok_or(RecordError::NotFound("document"))?;
            r.read_blob(&document.id, out)?;
            Ok(document)
        })
    }

    /// Deletes document `id` and its file from this device (a copy already in the health
    /// space stays there: documents are immutable on the server).
    pub fn delete_document(&self, id: &str) -> Result<()> {
        self.store.write(|w| {
            let document: Document = w
                .reader()
                .get(DOCUMENT, id)?
                .ok_or(RecordError::NotFound("document"))?;
            w.delete(DOCUMENT, id)?;
            // Not yet uploaded: it never will be.
            w.delete(crate::outbox::UPLOAD, id)?;
            w.delete_blob(&document.id)
        })
    }
}

/// Sorts documents by care date (or, lacking one, arrival), newest first.
pub(crate) fn sort_newest_first(documents: &mut [Document]) {
    documents.sort_by(|a, b| {
        let key = |d: &Document| (d.date_millis.unwrap_or(d.added_millis), d.added_millis);
        key(b).cmp(&key(a)).then_with(|| a.id.cmp(&b.id))
    });
}

/// Checks what a caller or an import says of a document.
pub(crate) fn check_new_document(new: &NewDocument) -> Result<()> {
    check_text("title", &new.title, MAX_SHORT_TEXT)?;
    if let Some(author) = &new.author {
        check_professional(author)?;
    }
    for coding in [&new.type_code, &new.class_code].into_iter().flatten() {
        check_text("code system", &coding.system, MAX_SHORT_TEXT)?;
        check_text("code", &coding.code, MAX_SHORT_TEXT)?;
    }
    if let Some(description) = &new.description {
        check_text("description", description, crate::record::MAX_LONG_TEXT)?;
    }
    Ok(())
}

/// Stores a document (metadata item and file blob) inside a write transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) fn put_document(
    writer: &mut Writer<'_>,
    id: String,
    new: &NewDocument,
    source: DocumentSource,
    added_millis: i64,
    hidden: bool,
    content: &mut dyn Read,
    max_bytes: u64,
) -> Result<Document> {
    let (media_type, info) = put_file(writer, &id, content, max_bytes)?;
    let document = Document {
        id,
        title: new.title.trim().to_owned(),
        media_type: media_type.into(),
        type_code: new.type_code.clone(),
        class_code: new.class_code.clone(),
        author: new.author.clone(),
        date_millis: new.date_millis,
        added_millis,
        ins: new.ins.clone(),
        confidentiality: new.confidentiality,
        description: new.description.clone(),
        source,
        size: info.size,
        sha256: info.sha256,
        hidden,
    };
    writer.put(DOCUMENT, &document.id, &document)?;
    Ok(document)
}
