//! Documents: the CI-SIS formats (PDF, CDA XML, JPEG, PNG and TIFF images, plain text, RTF)
//! with their metadata; the file itself is a blob.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::blob::{MAX_DOCUMENT_BYTES, put_file};
use crate::error::{RecordError, Result};
use crate::model::Coding;
use crate::record::{MAX_SHORT_TEXT, Professional, Record, check_professional, check_text};
use crate::store::{Reader, Writer};
use crate::vigilance::{Addressee, NamedPatient, judge, known_ins};
use crate::words::{DOCUMENT_WORDS, DocumentWords};

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
    /// The patient the document names (a CDA's `recordTarget`), compared with the record's
    /// people ([`Addressee`]).
    pub patient: Option<NamedPatient>,
    /// The identifier of this version of the document (a CDA's `id`, an XDM `uniqueId`): the
    /// same one again is the same document.
    pub unique_id: Option<String>,
    /// The identifier every version of the document shares (a CDA's `setId`).
    pub set_id: Option<String>,
    /// Its version in that set (a CDA's `versionNumber`; 1 when not given).
    pub version: Option<u32>,
    /// What the document says, for search ([`crate::words`]: a level-3 CDA's narrative, a
    /// plain-text document's text), folded; kept sealed beside the document.
    pub words: Option<String>,
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
    /// The patient the document names, as it says it.
    #[serde(default)]
    pub patient: Option<NamedPatient>,
    /// Who it is for, as the record judged it when it came (or once it knew an INS).
    #[serde(default)]
    pub addressee: Addressee,
    /// The identifier of this version (a CDA's `id`, an XDM `uniqueId`).
    #[serde(default)]
    pub unique_id: Option<String>,
    /// The identifier every version shares (a CDA's `setId`).
    #[serde(default)]
    pub set_id: Option<String>,
    /// Its version in that set.
    #[serde(default)]
    pub version: Option<u32>,
    /// The id of the newer version that replaces it in lists (it stays in the history).
    #[serde(default)]
    pub replaced_by: Option<String>,
}

impl Document {
    /// Whether lists show it as the person's: not kept apart, not replaced by a newer version.
    pub fn is_listed(&self) -> bool {
        !self.addressee.is_apart() && self.replaced_by.is_none()
    }
}

/// Where and how a document is stored: what the record decides, not what the caller says.
pub(crate) struct Placement {
    /// Its id in the record.
    pub id: String,
    /// Where it came from.
    pub source: DocumentSource,
    /// When it entered the record, Unix milliseconds.
    pub added_millis: i64,
    /// Hidden from professionals.
    pub hidden: bool,
    /// Who it is for.
    pub addressee: Addressee,
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
    /// id, or the same [`NewDocument::unique_id`], again returns the document already kept,
    /// unchanged: a retried sync adds nothing. The document is judged for identity vigilance
    /// ([`Addressee`]); a newer version of a set replaces the older in lists. A document the
    /// citizen adds ([`DocumentSource::User`]) is queued for the next push unless kept apart.
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
            if let Some(existing) = find_unique_id(&w.reader(), new.unique_id.as_deref())? {
                return Ok(existing);
            }
            let placement = Placement {
                id: id.to_owned(),
                source,
                added_millis,
                hidden: false,
                addressee: Addressee::default(),
            };
            take_document(w, placement, new, content)
        })
    }

    /// The person's documents, newest care date first: neither kept apart nor replaced by a
    /// newer version.
    pub fn documents(&self) -> Result<Vec<Document>> {
        self.documents_where(Document::is_listed)
    }

    /// Every document kept: the person's, the older versions, those kept apart.
    pub fn every_document(&self) -> Result<Vec<Document>> {
        self.documents_where(|_| true)
    }

    /// The documents kept apart as not for this person ([`Addressee::NotForThisPerson`]).
    pub fn documents_apart(&self) -> Result<Vec<Document>> {
        self.documents_where(|d| d.addressee.is_apart())
    }

    /// Every version of document `id`'s set, newest version first (just the document when it
    /// belongs to no set).
    pub fn document_versions(&self, id: &str) -> Result<Vec<Document>> {
        let document = self.document(id)?;
        let Some(set_id) = document.set_id.clone() else {
            return Ok(vec![document]);
        };
        let mut versions = self.documents_where(|d| d.set_id.as_deref() == Some(&*set_id))?;
        versions.sort_by_key(|d| std::cmp::Reverse((version_of(d), d.added_millis)));
        Ok(versions)
    }

    /// The document whose [`Document::unique_id`] is `unique_id`, if one is kept.
    pub fn document_by_unique_id(&self, unique_id: &str) -> Result<Option<Document>> {
        self.store.read(|r| find_unique_id(r, Some(unique_id)))
    }

    fn documents_where(&self, keep: impl Fn(&Document) -> bool) -> Result<Vec<Document>> {
        let mut documents: Vec<Document> = self
            .store
            .read(|r| r.list(DOCUMENT))?
            .into_iter()
            .map(|(_, d)| d)
            .filter(|d| keep(d))
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
    /// space stays there: documents are immutable on the server). The versions it replaced
    /// are replaced by what replaced it (the previous one is listed again when it was the
    /// newest).
    pub fn delete_document(&self, id: &str) -> Result<()> {
        self.store.write(|w| {
            let document: Document = w
                .reader()
                .get(DOCUMENT, id)?
                .ok_or(RecordError::NotFound("document"))?;
            let all: Vec<(String, Document)> = w.reader().list(DOCUMENT)?;
            for (other_id, mut other) in all {
                if other.replaced_by.as_deref() == Some(id) {
                    other.replaced_by.clone_from(&document.replaced_by);
                    w.put(DOCUMENT, &other_id, &other)?;
                }
            }
            w.delete(DOCUMENT, id)?;
            w.delete(DOCUMENT_WORDS, id)?;
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
    for (what, id) in [
        ("unique id", &new.unique_id),
        ("set id", &new.set_id),
        ("INS", &new.ins),
    ] {
        if let Some(id) = id {
            check_text(what, id, MAX_SHORT_TEXT)?;
        }
    }
    if let Some(patient) = &new.patient {
        let traits = [patient.sex.as_deref(), patient.birth_date.as_deref()];
        if patient.name.len() > MAX_SHORT_TEXT || traits.into_iter().flatten().any(|t| t.len() > 64)
        {
            return Err(RecordError::InvalidInput(
                "the patient the document names is described at too great a length".into(),
            ));
        }
    }
    Ok(())
}

/// Stores a document (metadata item and file blob) inside a write transaction, in its place
/// among the versions of its set ([`place_in_set`]).
pub(crate) fn put_document(
    writer: &mut Writer<'_>,
    placement: Placement,
    new: &NewDocument,
    content: &mut dyn Read,
    max_bytes: u64,
) -> Result<Document> {
    let Placement {
        id,
        source,
        added_millis,
        hidden,
        addressee,
    } = placement;
    let (media_type, info) = put_file(writer, &id, content, max_bytes)?;
    let mut document = Document {
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
        patient: new.patient.clone(),
        addressee,
        unique_id: new.unique_id.clone(),
        set_id: new.set_id.clone(),
        version: new.version,
        replaced_by: None,
    };
    place_in_set(writer, &mut document)?;
    writer.put(DOCUMENT, &document.id, &document)?;
    if let Some(words) = &new.words {
        let words = crate::words::folded_words(words);
        writer.put(DOCUMENT_WORDS, &document.id, &DocumentWords { words })?;
    }
    Ok(document)
}

/// Takes a new document into the record inside a write transaction: judged for identity
/// vigilance (the placement's addressee is replaced by the judgement), stored in its place
/// among versions, and queued for upload when the citizen added it and it is theirs.
pub(crate) fn take_document(
    writer: &mut Writer<'_>,
    mut placement: Placement,
    new: &NewDocument,
    content: &mut dyn Read,
) -> Result<Document> {
    placement.addressee = judge(
        &known_ins(&writer.reader())?,
        new.ins.as_deref(),
        new.patient.as_ref(),
    );
    let upload = placement.source == DocumentSource::User && !placement.addressee.is_apart();
    let (id, added_millis) = (placement.id.clone(), placement.added_millis);
    let document = put_document(writer, placement, new, content, MAX_DOCUMENT_BYTES)?;
    if upload {
        crate::outbox::queue_upload(writer, &id, added_millis)?;
    }
    Ok(document)
}

/// A document's version in its set (1 when not given, as CDA's `versionNumber` defaults).
fn version_of(document: &Document) -> u32 {
    document.version.unwrap_or(1)
}

/// Puts a new document among the other versions of its set (those not kept apart): the newest
/// version is listed and replaces the others; one older than the newest kept arrives already
/// replaced. A document kept apart is in no set.
fn place_in_set(writer: &mut Writer<'_>, document: &mut Document) -> Result<()> {
    let Some(set_id) = document.set_id.clone() else {
        return Ok(());
    };
    if document.addressee.is_apart() {
        return Ok(());
    }
    let versions: Vec<Document> = writer
        .reader()
        .list::<Document>(DOCUMENT)?
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| {
            d.id != document.id && d.set_id.as_deref() == Some(&*set_id) && !d.addressee.is_apart()
        })
        .collect();
    let newest = versions
        .iter()
        .filter(|d| d.replaced_by.is_none())
        .max_by_key(|d| version_of(d));
    if let Some(newest) = newest.filter(|newest| version_of(newest) > version_of(document)) {
        document.replaced_by = Some(newest.id.clone());
        return Ok(());
    }
    for mut older in versions.into_iter().filter(|d| d.replaced_by.is_none()) {
        older.replaced_by = Some(document.id.clone());
        writer.put(DOCUMENT, &older.id, &older)?;
    }
    Ok(())
}

/// The document kept with this unique id, if any.
pub(crate) fn find_unique_id(
    reader: &Reader<'_>,
    unique_id: Option<&str>,
) -> Result<Option<Document>> {
    let Some(unique_id) = unique_id else {
        return Ok(None);
    };
    Ok(reader
        .list::<Document>(DOCUMENT)?
        .into_iter()
        .map(|(_, d)| d)
        .find(|d| d.unique_id.as_deref() == Some(unique_id)))
}
