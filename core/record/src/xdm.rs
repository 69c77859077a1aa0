//! IHE XDM archives (`IHE_XDM.ZIP`), as MSSanté carries documents between professionals and
//! to patients: imported into the record, and made from its documents for a professional.
//!
//! **Import** checks the zip as the record's own import does ([`crate::archive`]: names,
//! bombs, sizes), reads each subset's `IHE_XDM/SUBSETnn/METADATA.XML` ([`carnet_xdm`]),
//! finds each DocumentEntry's file by its `URI`, checks its size and SHA-1 against the entry,
//! describes it from the entry's metadata and from what it says itself (a CDA's header and
//! narrative, a text's words), then takes every
//! document in one transaction: each is judged for identity vigilance, one already kept
//! (same `uniqueId`) is skipped, and a file that changed between the check and the copy
//! fails the whole import. Nothing is written unless everything is.
//!
//! **Export** writes the chosen documents as one subset: `INDEX.HTM`, `README.TXT`,
//! `IHE_XDM/SUBSET01/METADATA.XML` and `DOCnnnn.ext`, each entry with its SHA-1, size, title,
//! type, class, author, date, confidentiality and the patient's INS.

use std::collections::{HashMap, HashSet};
use std::io::{BufReader, Read, Seek, Write};

use carnet_xdm::{Code, DocumentEntry, Limits, PatientId, Person, Submission, SubmissionSet};
use ring::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::archive::{ExactSize, check_entries, safe_name, zip_error};
use crate::blob::extension_of;
use crate::described::{Content, describe};
use crate::document::{
    Confidentiality, DOCUMENT, Document, DocumentSource, NewDocument, Placement, find_unique_id,
    take_document,
};
use crate::error::{RecordError, Result};
use crate::model::{Coding, oid_of_system, system_of_oid};
use crate::record::{MAX_LONG_TEXT, MAX_SHORT_TEXT, PATIENT, PATIENT_ID, Patient, Professional};
use crate::record::{Progress, Record};

/// The directory of an XDM archive's subsets.
const XDM_DIRECTORY: &str = "IHE_XDM";
/// Each subset's metadata.
const METADATA: &str = "METADATA.XML";
/// The OID of HL7's confidentiality codes.
const CONFIDENTIALITY_OID: &str = "2.16.840.1.113883.5.25";
/// The French DMP confidentiality code that hides a document from professionals.
const HIDDEN_FROM_PROFESSIONALS: &str = "MASQUE_PS";
/// The OID of the INS (NIR) under which the record writes its owner's INS.
const INS_NIR_OID: &str = "1.2.250.1.213.1.4.8";
/// The IHE format code saying the media type is enough to read the document.
const FORMAT_MIME_TYPE_SUFFICIENT: (&str, &str) = (
    "urn:ihe:iti:xds:2017:mimeTypeSufficient",
    "1.3.6.1.4.1.19376.1.2.3",
);
/// The `sourceId` of the archives Carnet makes: an OID under `2.25` (UUID arc) of its own.
pub const CARNET_SOURCE_OID: &str = "2.25.231894476916873463573693441262016925001";

/// What an XDM import did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XdmImport {
    /// How many subsets the archive held.
    pub subsets: u32,
    /// The documents taken into the record, in the order of the metadata (some may have
    /// been kept apart: see [`Document::addressee`]).
    pub imported: Vec<Document>,
    /// The documents left out because the record already kept them (same unique id).
    pub already_present: Vec<Document>,
}

/// A document of the archive, checked and described, waiting to be stored.
struct Planned {
    path: String,
    size: u64,
    sha1: Option<String>,
    new: NewDocument,
    hidden: bool,
}

impl Record {
    /// Imports the documents of an IHE XDM archive (see the module documentation). All or
    /// nothing; `progress` hears of the bytes checked, then copied.
    ///
    /// # Errors
    /// [`RecordError::Import`] for an archive refused (not a zip, unsafe names, a bomb, no
    /// subset, a file missing, a size or hash that lies, a CDA that does not read),
    /// [`RecordError::XdmMetadata`] for metadata that does not read.
    pub fn import_xdm<R: Read + Seek>(
        &self,
        archive: R,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<XdmImport> {
        let mut zip = ZipArchive::new(archive)
            .map_err(|e| RecordError::Import(format!("not a zip archive: {e}")))?;
        let sizes = check_entries(&mut zip, &safe_path, &|dir| {
            safe_path(dir.strip_suffix('/').unwrap_or(dir))
        })?;
        let by_lower_name: HashMap<String, String> = sizes
            .keys()
            .map(|name| (name.to_ascii_lowercase(), name.clone()))
            .collect();
        let mut subsets: Vec<&String> = sizes
            .keys()
            .filter(|name| subset_of_metadata(name).is_some())
            .collect();
        subsets.sort();
        if subsets.is_empty() {
            return Err(RecordError::Import(
                "not an XDM archive: it has no IHE_XDM/SUBSETnn/METADATA.XML".into(),
            ));
        }
        let mut planned = Vec::new();
        let mut used = HashSet::new();
        for metadata_path in &subsets {
            let subset = subset_of_metadata(metadata_path).unwrap_or_default();
            let submission = read_submission(&mut zip, metadata_path, subset)?;
            for entry in &submission.documents {
                let path = resolve(subset, &entry.uri, &by_lower_name).ok_or_else(|| {
                    RecordError::Import(format!(
                        "{}: its file {:?} is missing from the archive",
                        describe_entry(entry),
                        entry.uri
                    ))
                })?;
                if !used.insert(path.clone()) {
                    return Err(RecordError::Import(format!("{path} is used twice")));
                }
                let size = sizes.get(&path).copied().unwrap_or_default();
                if entry.size.is_some_and(|declared| declared != size) {
                    return Err(RecordError::Import(format!(
                        "{path} is {size} bytes, its entry says {}",
                        entry.size.unwrap_or_default()
                    )));
                }
                let (new, hidden) = metadata_from_entry(entry, submission.set.as_ref());
                planned.push(Planned {
                    path,
                    size,
                    sha1: entry.hash.clone(),
                    new,
                    hidden,
                });
            }
        }
        let total = planned
            .iter()
            .map(|p| p.size)
            .sum::<u64>()
            .saturating_mul(2);
        let mut done = 0u64;
        progress(Progress { done, total });
        for document in &mut planned {
            verify(&mut zip, document)?;
            describe_file(&mut zip, document)?;
            done += document.size;
            progress(Progress { done, total });
        }
        let added_millis = self.store.now_millis();
        let mut report = XdmImport {
            subsets: u32::try_from(subsets.len()).unwrap_or(u32::MAX),
            ..XdmImport::default()
        };
        self.store.write(|w| {
            for document in &planned {
                crate::document::check_new_document(&document.new)?;
                if let Some(kept) = find_unique_id(&w.reader(), document.new.unique_id.as_deref())?
                {
                    report.already_present.push(kept);
                    continue;
                }
                let entry = zip
                    .by_name(&document.path)
                    .map_err(|e| RecordError::Import(format!("{}: {e}", document.path)))?;
                let mut content = Checked::new(entry, document);
                let placement = Placement {
                    id: crate::crypto::random_id()?,
                    source: DocumentSource::User,
                    added_millis,
                    hidden: document.hidden,
                    addressee: crate::Addressee::default(),
                };
                let stored = take_document(w, placement, &document.new, &mut content)
                    .map_err(|e| archive_fault(e, &document.path))?;
                report.imported.push(stored);
                done += document.size;
                progress(Progress { done, total });
            }
            Ok(())
        })?;
        Ok(report)
    }

    /// Writes documents `ids` to `out` as an IHE XDM archive of one subset, for a person to
    /// hand to a professional (see the module documentation). A document kept apart as not
    /// for this person is refused.
    ///
    /// # Errors
    /// [`RecordError::NotFound`] for an unknown id, [`RecordError::InvalidInput`] for none,
    /// a repeated one or one kept apart, what writing `out` meets.
    pub fn export_xdm<W: Write + Seek>(&self, ids: &[String], out: W) -> Result<W> {
        if ids.is_empty() {
            return Err(RecordError::InvalidInput(
                "name at least one document to export".into(),
            ));
        }
        let (owner, documents) = self.store.read(|r| {
            let owner: Option<Patient> = r.get(PATIENT, PATIENT_ID)?;
            let documents = ids
                .iter()
                .map(|id| {
                    r.get::<Document>(DOCUMENT, id)?
                        .ok_or(RecordError::NotFound("document"))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((owner, documents))
        })?;
        if let Some(apart) = documents.iter().find(|d| d.addressee.is_apart()) {
            return Err(RecordError::InvalidInput(format!(
                "« {} » is kept apart as not for this person: it is not handed on",
                apart.title
            )));
        }
        if documents
            .iter()
            .map(|d| &d.id)
            .collect::<HashSet<_>>()
            .len()
            != documents.len()
        {
            return Err(RecordError::InvalidInput(
                "a document is named twice".into(),
            ));
        }
        let mut zip = ZipWriter::new(out);
        let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        let mut entries = Vec::with_capacity(documents.len());
        for (index, document) in documents.iter().enumerate() {
            let file = format!(
                "DOC{:04}.{}",
                index + 1,
                extension_of(&document.media_type).to_ascii_uppercase()
            );
            zip.start_file(format!("{XDM_DIRECTORY}/SUBSET01/{file}"), deflated)
                .map_err(zip_error)?;
            let mut hashing = HashingWriter {
                inner: &mut zip,
                sha1: Context::new(&SHA1_FOR_LEGACY_USE_ONLY),
            };
            self.read_document(&document.id, &mut hashing)?;
            let sha1 = hex::encode(hashing.sha1.finish());
            entries.push(entry_of(document, index + 1, file, sha1, owner.as_ref())?);
        }
        let now = self.store.now_millis();
        let submission = Submission {
            set: Some(SubmissionSet {
                entry_id: "SubmissionSet01".into(),
                unique_id: Some(random_oid()?),
                source_id: Some(CARNET_SOURCE_OID.into()),
                patient_id: owner
                    .as_ref()
                    .and_then(|o| o.ins.clone())
                    .map(ins_patient_id),
                submission_time: Some(dtm(now)),
                title: Some("Documents transmis depuis Carnet".into()),
                authors: owner
                    .as_ref()
                    .map(|o| carnet_xdm::Author {
                        person: Some(Person {
                            family: Some(o.family.clone()),
                            given: Some(o.given.clone()),
                            ..Person::default()
                        }),
                        ..carnet_xdm::Author::default()
                    })
                    .into_iter()
                    .collect(),
                ..SubmissionSet::default()
            }),
            documents: entries,
        };
        zip.start_file(format!("{XDM_DIRECTORY}/SUBSET01/{METADATA}"), deflated)
            .map_err(zip_error)?;
        zip.write_all(&carnet_xdm::write_metadata(&submission))
            .map_err(|e| RecordError::io("write", std::path::Path::new("archive"), e))?;
        for (name, text) in [
            ("INDEX.HTM", index_page(&submission)),
            ("README.TXT", readme(&submission)),
        ] {
            zip.start_file(name, deflated).map_err(zip_error)?;
            zip.write_all(text.as_bytes())
                .map_err(|e| RecordError::io("write", std::path::Path::new("archive"), e))?;
        }
        zip.finish().map_err(zip_error)
    }
}

/// Entry names an XDM archive may use: `/`-separated plain names ([`safe_name`]), at most
/// four deep.
fn safe_path(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    parts.len() <= 4 && parts.iter().all(|part| safe_name(part))
}

/// `IHE_XDM/<subset>` when `name` is that subset's metadata (names compared as IHE writes
/// them, in any case).
fn subset_of_metadata(name: &str) -> Option<&str> {
    let (directory, file) = name.rsplit_once('/')?;
    let (root, subset) = directory.split_once('/')?;
    (root.eq_ignore_ascii_case(XDM_DIRECTORY)
        && file.eq_ignore_ascii_case(METADATA)
        && safe_name(subset))
    .then_some(directory)
}

/// The archive entry a DocumentEntry's `URI` names, relative to its subset: a relative path
/// of plain names only (no `..`, no scheme, no absolute path), found in any case.
fn resolve(subset: &str, uri: &str, by_lower_name: &HashMap<String, String>) -> Option<String> {
    let relative = uri.strip_prefix("./").unwrap_or(uri);
    if !relative.split('/').all(safe_name) {
        return None;
    }
    by_lower_name
        .get(&format!("{subset}/{relative}").to_ascii_lowercase())
        .cloned()
}

fn read_submission<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    path: &str,
    subset: &str,
) -> Result<Submission> {
    let entry = zip
        .by_name(path)
        .map_err(|e| RecordError::Import(format!("{path}: {e}")))?;
    carnet_xdm::read_metadata(BufReader::new(entry), &Limits::default()).map_err(|error| {
        RecordError::XdmMetadata {
            subset: subset.to_owned(),
            error,
        }
    })
}

/// How an entry is named in errors: its title, else its unique id.
fn describe_entry(entry: &DocumentEntry) -> String {
    match &entry.title {
        Some(title) => format!("« {} »", title.chars().take(80).collect::<String>()),
        None => format!(
            "document {}",
            entry.unique_id.chars().take(80).collect::<String>()
        ),
    }
}

/// Reads a planned file whole once, checking its size and SHA-1 against its entry.
fn verify<R: Read + Seek>(zip: &mut ZipArchive<R>, document: &Planned) -> Result<()> {
    let entry = zip
        .by_name(&document.path)
        .map_err(|e| RecordError::Import(format!("{}: {e}", document.path)))?;
    let mut checked = Checked::new(entry, document);
    std::io::copy(&mut checked, &mut std::io::sink())
        .map_err(|e| RecordError::Import(e.to_string()))?;
    Ok(())
}

/// Completes a planned document from what its file says of itself ([`describe`]: a CDA's
/// header and narrative, a text's words). A CDA that does not read refuses the archive, as
/// adding it alone would be refused.
fn describe_file<R: Read + Seek>(zip: &mut ZipArchive<R>, document: &mut Planned) -> Result<()> {
    let mut entry = ArchiveEntry {
        zip,
        path: &document.path,
    };
    document.new = describe(&document.new, &mut entry)
        .map_err(|e| RecordError::Import(format!("{}: {e}", document.path)))?;
    Ok(())
}

/// One file of the archive, as [`describe`] reads it (again from its start each time).
struct ArchiveEntry<'a, R> {
    zip: &'a mut ZipArchive<R>,
    path: &'a str,
}

impl<R: Read + Seek> Content for ArchiveEntry<'_, R> {
    type Error = carnet_cda::CdaError;

    fn open(&mut self) -> Result<Box<dyn std::io::BufRead + '_>, Self::Error> {
        let entry = self
            .zip
            .by_name(self.path)
            .map_err(|e| carnet_cda::CdaError::Io(e.to_string()))?;
        Ok(Box::new(BufReader::new(entry)))
    }
}

/// A file read out of the archive: no longer than its header says, and at its end of the
/// size and SHA-1 its DocumentEntry gives (else a read error naming it).
struct Checked<R> {
    inner: ExactSize<R>,
    size: u64,
    read: u64,
    expected: Option<String>,
    sha1: Context,
}

impl<R: Read> Checked<R> {
    fn new(inner: R, document: &Planned) -> Self {
        Checked {
            inner: ExactSize {
                inner,
                left: document.size,
                path: document.path.clone(),
            },
            size: document.size,
            read: 0,
            expected: document.sha1.clone(),
            sha1: Context::new(&SHA1_FOR_LEGACY_USE_ONLY),
        }
    }
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(read) = buf.get(..n) {
            self.sha1.update(read);
        }
        self.read += n as u64;
        if n == 0 && !buf.is_empty() {
            let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
            if self.read != self.size {
                return Err(invalid(format!(
                    "{} is shorter than its header says",
                    self.inner.path
                )));
            }
            let actual = hex::encode(self.sha1.clone().finish());
            if let Some(expected) = &self.expected
                && *expected != actual
            {
                return Err(invalid(format!(
                    "{}: its SHA-1 is not the one its entry gives (the file was altered or \
                     the metadata is wrong)",
                    self.inner.path
                )));
            }
        }
        Ok(n)
    }
}

/// A read failing inside the archive is the archive's fault, said as an import refusal.
fn archive_fault(error: RecordError, path: &str) -> RecordError {
    match error {
        RecordError::Io { source, .. } => RecordError::Import(source.to_string()),
        RecordError::Import(text) => RecordError::Import(text),
        other
            if matches!(
                other,
                RecordError::InvalidInput(_) | RecordError::UnsupportedDocument(_)
            ) =>
        {
            RecordError::Import(format!("{path}: {other}"))
        }
        other => other,
    }
}

/// What a DocumentEntry (and its SubmissionSet) says of a document, as the record takes it;
/// and whether it is hidden from professionals (`MASQUE_PS`).
fn metadata_from_entry(entry: &DocumentEntry, set: Option<&SubmissionSet>) -> (NewDocument, bool) {
    let coding = |code: &Code| Coding {
        system: code
            .scheme
            .as_deref()
            .map_or_else(|| "urn:ietf:rfc:3986".to_owned(), system_of_oid),
        code: code.code.clone(),
        display: code.display.clone(),
    };
    let author = entry
        .authors
        .iter()
        .chain(set.map(|s| s.authors.as_slice()).unwrap_or_default())
        .find_map(|author| {
            let person = author.person.as_ref()?;
            let name = person.name();
            let name = if name.is_empty() {
                author
                    .institutions
                    .first()?
                    .split('^')
                    .next()?
                    .trim()
                    .to_owned()
            } else {
                name
            };
            Some(Professional {
                name: truncated(&name, MAX_SHORT_TEXT),
                rpps: person.rpps().map(str::to_owned),
            })
        });
    let ins = entry
        .patient_id
        .as_ref()
        .filter(|id| {
            id.authority
                .as_deref()
                .is_some_and(|oid| carnet_cda::INS_ROOTS.contains(&oid))
        })
        .map(|id| id.id.clone());
    let confidentiality = entry
        .confidentiality
        .iter()
        .filter(|c| c.scheme.as_deref().is_none_or(|s| s == CONFIDENTIALITY_OID))
        .filter_map(|c| Confidentiality::from_code(&c.code))
        .max()
        .unwrap_or_default();
    let hidden = entry
        .confidentiality
        .iter()
        .any(|c| c.code == HIDDEN_FROM_PROFESSIONALS);
    let title = entry
        .title
        .as_deref()
        .map(|t| truncated(t, MAX_SHORT_TEXT))
        .unwrap_or_default();
    let new = NewDocument {
        title,
        type_code: entry.type_code.as_ref().map(coding),
        class_code: entry.class_code.as_ref().map(coding),
        author,
        date_millis: entry.creation_time.as_deref().and_then(parse_dtm),
        ins,
        confidentiality,
        description: entry
            .comments
            .as_deref()
            .map(|c| truncated(c, MAX_LONG_TEXT)),
        unique_id: Some(truncated(&entry.unique_id, MAX_SHORT_TEXT)),
        ..NewDocument::default()
    };
    (new, hidden)
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn truncated(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default().trim().to_owned()
}

/// An HL7 `DTM` (`YYYY[MM[DD[hh[mm[ss]]]]]`, UTC in XDS metadata) as Unix milliseconds: the
/// same format as CDA's `TS`, read by the same code.
fn parse_dtm(text: &str) -> Option<i64> {
    carnet_cda::Timestamp::parse(text).unix_millis
}

/// Unix milliseconds as an HL7 `DTM` to the second, UTC.
fn dtm(millis: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year][month][day][hour][minute][second]"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// A fresh OID under the `2.25` arc (a random UUID as an integer), as IHE allows for unique
/// ids.
fn random_oid() -> Result<String> {
    let mut bytes = [0u8; 16];
    crate::crypto::random_fill(&mut bytes)?;
    Ok(format!("2.25.{}", u128::from_be_bytes(bytes)))
}

fn ins_patient_id(ins: String) -> PatientId {
    PatientId {
        id: ins,
        authority: Some(INS_NIR_OID.into()),
    }
}

/// The scheme OID of a record coding (the reverse of the import's mapping).
fn code_of(coding: &Coding) -> Code {
    Code {
        code: coding.code.clone(),
        scheme: Some(oid_of_system(&coding.system)),
        display: coding.display.clone(),
    }
}

/// The DocumentEntry of document number `number`, written as `file` with SHA-1 `sha1`.
fn entry_of(
    document: &Document,
    number: usize,
    file: String,
    sha1: String,
    owner: Option<&Patient>,
) -> Result<DocumentEntry> {
    let confidentiality_name = match document.confidentiality {
        Confidentiality::Normal => "Normal",
        Confidentiality::Restricted => "Restricted",
        Confidentiality::VeryRestricted => "Very restricted",
    };
    let mut confidentiality = vec![Code {
        code: document.confidentiality.code().into(),
        scheme: Some(CONFIDENTIALITY_OID.into()),
        display: Some(confidentiality_name.into()),
    }];
    if document.hidden {
        confidentiality.push(Code {
            code: HIDDEN_FROM_PROFESSIONALS.into(),
            scheme: Some("1.2.250.1.213.1.1.4.13".into()),
            display: Some("Masqué aux professionnels de santé".into()),
        });
    }
    let author = document.author.as_ref().map(|author| carnet_xdm::Author {
        person: Some(Person {
            id: author.rpps.as_ref().map(|rpps| format!("8{rpps}")),
            family: Some(author.name.clone()),
            given: None,
            authority: author
                .rpps
                .as_ref()
                .map(|_| carnet_cda::RPPS_ROOT.to_owned()),
        }),
        ..carnet_xdm::Author::default()
    });
    let ins = document
        .ins
        .clone()
        .or_else(|| owner.and_then(|o| o.ins.clone()));
    Ok(DocumentEntry {
        entry_id: format!("Document{number:02}"),
        unique_id: match &document.unique_id {
            Some(id) => id.clone(),
            None => random_oid()?,
        },
        mime_type: document.media_type.clone(),
        uri: file,
        hash: Some(sha1),
        size: Some(document.size),
        title: Some(document.title.clone()),
        comments: document.description.clone(),
        creation_time: Some(dtm(document.date_millis.unwrap_or(document.added_millis))),
        language: Some("fr-FR".into()),
        type_code: document.type_code.as_ref().map(code_of),
        class_code: document.class_code.as_ref().map(code_of),
        format_code: Some(Code {
            code: FORMAT_MIME_TYPE_SUFFICIENT.0.into(),
            scheme: Some(FORMAT_MIME_TYPE_SUFFICIENT.1.into()),
            display: Some("Format from mimeType".into()),
        }),
        confidentiality,
        authors: author.into_iter().collect(),
        patient_id: ins.map(ins_patient_id),
        ..DocumentEntry::default()
    })
}

/// The archive's `INDEX.HTM`: what it holds, each document linked.
fn index_page(submission: &Submission) -> String {
    let escape = carnet_cda::escape_html;
    let mut rows = String::new();
    for entry in &submission.documents {
        rows.push_str(&format!(
            "<li><a href=\"IHE_XDM/SUBSET01/{}\">{}</a> ({})</li>\n",
            escape(&entry.uri),
            escape(entry.title.as_deref().unwrap_or_default()),
            escape(&entry.mime_type)
        ));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Documents \
         transmis</title></head>\n<body><h1>Documents transmis depuis Carnet</h1>\n<p>Support \
         IHE XDM : les métadonnées sont dans IHE_XDM/SUBSET01/METADATA.XML.</p>\n<ul>\n{rows}</ul>\
         \n<p><a href=\"README.TXT\">README.TXT</a></p></body></html>\n"
    )
}

/// The archive's `README.TXT`: who made it, with what, and what it holds.
fn readme(submission: &Submission) -> String {
    format!(
        "IHE XDM media made by Carnet {} (the citizen's health wallet), on behalf of the \
         person it concerns.\r\nSubmission set: {}\r\nDocuments: {}\r\nThe metadata of the \
         documents is in IHE_XDM/SUBSET01/METADATA.XML (ebRIM 3.0, IHE ITI TF-3).\r\n",
        env!("CARGO_PKG_VERSION"),
        submission
            .set
            .as_ref()
            .and_then(|s| s.unique_id.as_deref())
            .unwrap_or_default(),
        submission.documents.len()
    )
}

/// A writer that hashes what goes through it with SHA-1.
struct HashingWriter<'a, W> {
    inner: &'a mut W,
    sha1: Context,
}

impl<W: Write> Write for HashingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(written) = buf.get(..n) {
            self.sha1.update(written);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtm_reads_as_utc_and_writes_seconds() {
        assert_eq!(parse_dtm("20210104150527"), Some(1_609_772_727_000));
        assert_eq!(parse_dtm("2021010"), None);
        assert_eq!(dtm(1_609_772_727_000), "20210104150527");
    }

    #[test]
    fn uris_resolve_inside_their_subset_only() {
        let names: HashMap<String, String> = ["IHE_XDM/SUBSET01/DOC0001.XML"]
            .into_iter()
            .map(|n| (n.to_ascii_lowercase(), n.to_owned()))
            .collect();
        let subset = "IHE_XDM/SUBSET01";
        assert_eq!(
            resolve(subset, "doc0001.xml", &names).as_deref(),
            Some("IHE_XDM/SUBSET01/DOC0001.XML")
        );
        for hostile in [
            "../SUBSET01/DOC0001.XML",
            "/etc/passwd",
            "file:///etc/passwd",
            "..",
            "",
        ] {
            assert_eq!(resolve(subset, hostile, &names), None, "{hostile}");
        }
        assert_eq!(
            subset_of_metadata("IHE_XDM/SUBSET01/METADATA.XML"),
            Some(subset)
        );
        assert_eq!(subset_of_metadata("IHE_XDM/METADATA.XML"), None);
        assert_eq!(subset_of_metadata("OTHER/SUBSET01/METADATA.XML"), None);
    }
}
