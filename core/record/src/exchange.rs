//! Export and import: one zip holding `bundle.json`, a FHIR R4 Bundle (type `collection`)
//! of the whole record, and the files it points to (`documents/…`, `attachments/…/…`).
//!
//! | record content | FHIR R4 resource |
//! |---|---|
//! | owner | Patient (`id` `self`) |
//! | document | DocumentReference; the file in `content[0].attachment.url`, its unique id in `masterIdentifier`, a replaced version `superseded`, the patient it names, who it is for and its set and version in an extension (`document-identity`, JSON) |
//! | profile entry | its own resource; version and change time in `meta` |
//! | appointment | Appointment |
//! | message | Communication; attachments in `payload[].contentAttachment.url` |
//! | completed screening | Procedure |
//! | blocked professional | Basic (code `blocked-professional`) |
//! | health certificate | Basic (code `health-certificate`, the text in an extension) |
//! | access log line | AuditEvent |
//!
//! Files are named in the Bundle by URLs of the form `carnet-archive://export/<member>`
//! (FHIR's `url` type; validators want a scheme and a host); import also takes the bare
//! relative member name, which the FHIR specification allows too.
//!
//! Import goes into an empty store, in one transaction: a malformed Bundle, an unsafe entry
//! name, a lying or bomb-like entry, a missing file stop it with nothing written.

use std::collections::HashSet;
use std::io::{Read, Seek, Write};

use serde_json::{Map, Value, json};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::access::{ACCESS_LOG, AccessAction, AccessEntry, BLOCKED, BlockedProfessional};
use crate::agenda::{APPOINTMENT, Appointment, CompletedReminder, REMINDER_DONE};
use crate::archive::{ExactSize, check_entries, safe_name, zip_error};
use crate::blob::{MAX_DOCUMENT_BYTES, extension_of, put_file};
use crate::certificate::{CERTIFICATE, StoredCertificate};
use crate::document::{
    Confidentiality, DOCUMENT, Document, DocumentSource, NewDocument, Placement,
    check_new_document, put_document,
};
use crate::error::{RecordError, Result};
use crate::inbox::{Attachment, MESSAGE, Message, attachment_blob_id};
use crate::model::{Coding, check_fhir_id};
use crate::profile::{
    PATIENT_REFERENCE, PROFILE, ProfileItem, ProfileKind, check_resource, coding_json, set,
};
use crate::record::{
    Gender, MAX_LONG_TEXT, MAX_SHORT_TEXT, PATIENT, PATIENT_ID, Patient, Professional, Progress,
    Record, check_professional, check_text, format_instant, parse_instant,
};
use crate::store::Writer;
use crate::vigilance::{Addressee, NamedPatient};

/// Prefix of the URLs naming the archive's members in the Bundle.
const ARCHIVE_URL: &str = "carnet-archive://export/";
/// Name of the Bundle in the zip.
const BUNDLE: &str = "bundle.json";
/// Largest Bundle read, in bytes.
const MAX_BUNDLE_BYTES: u64 = 32 * 1024 * 1024;
/// Code system of Carnet's own tags and codes.
const CARNET_SYSTEM: &str = "https://carnet.invalid/fhir/CodeSystem/carnet";
/// Code system of prevention rule identifiers.
const RULE_SYSTEM: &str = "https://carnet.invalid/fhir/CodeSystem/prevention-rule";
/// OID system of RPPS numbers.
const RPPS_SYSTEM: &str = "urn:oid:1.2.250.1.71.4.2.1";
/// OID system of INS (NIR).
const INS_SYSTEM: &str = "urn:oid:1.2.250.1.213.1.4.8";
/// Extension carrying a health certificate's text.
const CERTIFICATE_EXTENSION: &str =
    "https://carnet.invalid/fhir/StructureDefinition/health-certificate-text";
/// Extension carrying what identity vigilance and versioning know of a document (JSON).
const DOCUMENT_IDENTITY_EXTENSION: &str =
    "https://carnet.invalid/fhir/StructureDefinition/document-identity";
const CONFIDENTIALITY_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";

impl Record {
    /// Writes the whole record to `out` as a zip (Bundle + files). The archive is in clear:
    /// it is for the citizen to take elsewhere. `progress` hears of every file's bytes.
    pub fn export<W: Write + Seek>(&self, out: W, progress: &mut dyn FnMut(Progress)) -> Result<W> {
        let now = self.store.now_millis();
        self.store.read(|r| {
            let documents: Vec<(String, Document)> = r.list(DOCUMENT)?;
            let messages: Vec<(String, Message)> = r.list(MESSAGE)?;
            let mut entries: Vec<Value> = Vec::new();
            if let Some(patient) = r.get::<Patient>(PATIENT, PATIENT_ID)? {
                entries.push(patient_resource(&patient));
            }
            entries.extend(documents.iter().map(|(_, d)| document_resource(d)));
            for (_, item) in r.list::<ProfileItem>(PROFILE)? {
                entries.push(profile_resource(&item));
            }
            for (_, appointment) in r.list::<Appointment>(APPOINTMENT)? {
                entries.push(appointment_resource(&appointment));
            }
            entries.extend(messages.iter().map(|(_, m)| message_resource(m)));
            for (_, done) in r.list::<CompletedReminder>(REMINDER_DONE)? {
                entries.push(procedure_resource(&done));
            }
            for (_, blocked) in r.list::<BlockedProfessional>(BLOCKED)? {
                entries.push(blocked_resource(&blocked));
            }
            for (_, entry) in r.list::<AccessEntry>(ACCESS_LOG)? {
                entries.push(audit_resource(&entry));
            }
            for (_, certificate) in r.list::<StoredCertificate>(CERTIFICATE)? {
                entries.push(certificate_resource(&certificate));
            }
            let bundle = json!({
                "resourceType": "Bundle",
                "type": "collection",
                "timestamp": format_instant(now),
                "entry": entries.into_iter().map(|resource| json!({ "resource": resource })).collect::<Vec<_>>(),
            });
            let mut files: Vec<(String, String, &str, u64)> = documents
                .iter()
                .map(|(_, d)| (document_path(d), d.id.clone(), d.media_type.as_str(), d.size))
                .collect();
            for (_, message) in &messages {
                for (index, attachment) in message.attachments.iter().enumerate() {
                    files.push((
                        attachment_path(message, index, attachment),
                        attachment_blob_id(&message.id, index),
                        attachment.media_type.as_str(),
                        attachment.size,
                    ));
                }
            }
            let total: u64 = files.iter().map(|(_, _, _, size)| size).sum();
            let mut zip = ZipWriter::new(QuietAfterFailure::new(out));
            let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
            zip.start_file(BUNDLE, deflated).map_err(zip_error)?;
            serde_json::to_writer_pretty(&mut zip, &bundle).map_err(|e| match e.io_error_kind() {
                Some(kind) => RecordError::io("write", std::path::Path::new("archive"), kind.into()),
                None => RecordError::Corrupt(format!("writing the Bundle: {e}")),
            })?;
            let mut done = 0u64;
            progress(Progress { done, total });
            for (path, blob, media_type, _) in files {
                // Compressed formats are stored as they are; XML is deflated.
                let method = if media_type == "text/xml" { CompressionMethod::Deflated } else { CompressionMethod::Stored };
                zip.start_file(path, SimpleFileOptions::default().compression_method(method).large_file(true))
                    .map_err(zip_error)?;
                done += r.read_blob(&blob, &mut zip)?.size;
                progress(Progress { done, total });
            }
            zip.finish().map_err(zip_error)?.into_inner()
        })
    }

    /// Imports an archive made by [`Record::export`] (or any tool writing the same layout)
    /// into this record, which must be empty. All or nothing.
    pub fn import<R: Read + Seek>(
        &self,
        archive: R,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        let mut zip = ZipArchive::new(archive)
            .map_err(|e| RecordError::Import(format!("not a zip archive: {e}")))?;
        let mut sizes = check_entries(
            &mut zip,
            &|name| name == BUNDLE || safe_file_path(name),
            &safe_directory,
        )?;
        sizes
            .remove(BUNDLE)
            .ok_or_else(|| import_error("no bundle.json in the archive"))?;
        let bundle = read_bundle(&mut zip)?;
        let total: u64 = sizes.values().sum();
        self.store.write(|w| {
            if !w.reader().is_empty()? {
                return Err(RecordError::ImportIntoNonEmpty);
            }
            let mut used = HashSet::new();
            let mut done = 0u64;
            progress(Progress { done, total });
            let mut copy_file =
                |w: &mut Writer<'_>,
                 path: &str,
                 sink: &mut dyn FnMut(&mut Writer<'_>, &mut dyn Read) -> Result<()>|
                 -> Result<()> {
                    let path = path.strip_prefix(ARCHIVE_URL).unwrap_or(path);
                    let size = *sizes.get(path).ok_or_else(|| {
                        RecordError::Import(format!("{path} is missing from the archive"))
                    })?;
                    if !used.insert(path.to_owned()) {
                        return Err(RecordError::Import(format!("{path} is used twice")));
                    }
                    let entry = zip
                        .by_name(path)
                        .map_err(|e| RecordError::Import(format!("{path}: {e}")))?;
                    let mut exact = ExactSize {
                        inner: entry,
                        left: size,
                        path: path.to_owned(),
                    };
                    sink(w, &mut exact).map_err(|e| match e {
                        // A read failing inside the archive is the archive's fault.
                        RecordError::Io { source, .. } => {
                            RecordError::Import(format!("{path}: {source}"))
                        }
                        other => other,
                    })?;
                    if exact.left != 0 {
                        return Err(RecordError::Import(format!(
                            "{path} is shorter than its header says"
                        )));
                    }
                    done += size;
                    progress(Progress { done, total });
                    Ok(())
                };
            for resource in bundle_resources(&bundle)? {
                import_resource(w, resource, &mut copy_file)?;
            }
            Ok(())
        })
    }
}

type CopyFile<'a> = dyn FnMut(
        &mut Writer<'_>,
        &str,
        &mut dyn FnMut(&mut Writer<'_>, &mut dyn Read) -> Result<()>,
    ) -> Result<()>
    + 'a;

/// The archive's output, which goes quiet once a write or seek has failed: later writes are
/// discarded and reported done, seeks move a position kept here. The first failure reaches
/// the export as its error; going quiet afterwards lets the zip writer, dropped on that error,
/// finish on nothing instead of failing again and printing its own debug text on standard
/// error. The output is taken to start at offset 0, as `ZipWriter::new` assumes too.
struct QuietAfterFailure<W> {
    inner: W,
    failure: Option<std::io::ErrorKind>,
    position: u64,
    end: u64,
}

impl<W> QuietAfterFailure<W> {
    fn new(inner: W) -> Self {
        QuietAfterFailure {
            inner,
            failure: None,
            position: 0,
            end: 0,
        }
    }

    /// The output, unless a failure was ever seen (even one the zip writer ignored).
    fn into_inner(self) -> Result<W> {
        match self.failure {
            None => Ok(self.inner),
            Some(kind) => Err(RecordError::io(
                "write",
                std::path::Path::new("archive"),
                kind.into(),
            )),
        }
    }

    fn moved_to(&mut self, position: u64) -> u64 {
        self.position = position;
        self.end = self.end.max(position);
        position
    }
}

impl<W: Write> Write for QuietAfterFailure<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = match self.failure {
            Some(_) => buf.len(),
            None => self
                .inner
                .write(buf)
                .inspect_err(|error| self.failure = Some(error.kind()))?,
        };
        self.moved_to(self.position.saturating_add(written as u64));
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.failure {
            Some(_) => Ok(()),
            None => self
                .inner
                .flush()
                .inspect_err(|error| self.failure = Some(error.kind())),
        }
    }
}

impl<W: Seek> Seek for QuietAfterFailure<W> {
    fn seek(&mut self, target: std::io::SeekFrom) -> std::io::Result<u64> {
        let position = match self.failure {
            None => self
                .inner
                .seek(target)
                .inspect_err(|error| self.failure = Some(error.kind()))?,
            Some(_) => {
                let (base, offset) = match target {
                    std::io::SeekFrom::Start(offset) => return Ok(self.moved_to(offset)),
                    std::io::SeekFrom::Current(offset) => (self.position, offset),
                    std::io::SeekFrom::End(offset) => (self.end, offset),
                };
                base.checked_add_signed(offset).ok_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
                })?
            }
        };
        Ok(self.moved_to(position))
    }
}

fn import_error(what: &str) -> RecordError {
    RecordError::Import(what.to_owned())
}

fn document_path(document: &Document) -> String {
    format!(
        "documents/{}.{}",
        document.id,
        extension_of(&document.media_type)
    )
}

fn attachment_path(message: &Message, index: usize, attachment: &Attachment) -> String {
    format!(
        "attachments/{}/{index}.{}",
        message.id,
        extension_of(&attachment.media_type)
    )
}

/// Checks every entry's name and size; the declared size of each file by name.
/// `documents/<name>` or `attachments/<name>/<name>` with plain names only.
fn safe_file_path(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["documents", name] => safe_name(name),
        ["attachments", message, name] => safe_name(message) && safe_name(name),
        _ => false,
    }
}

fn safe_directory(path: &str) -> bool {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    match trimmed.split('/').collect::<Vec<_>>().as_slice() {
        ["documents"] | ["attachments"] => true,
        ["attachments", message] => safe_name(message),
        _ => false,
    }
}

fn read_bundle<R: Read + Seek>(zip: &mut ZipArchive<R>) -> Result<Value> {
    let entry = zip
        .by_name(BUNDLE)
        .map_err(|e| RecordError::Import(format!("bundle.json: {e}")))?;
    if entry.size() > MAX_BUNDLE_BYTES {
        return Err(import_error("bundle.json is larger than 32 MiB"));
    }
    let mut text = Vec::new();
    entry
        .take(MAX_BUNDLE_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| RecordError::Import(format!("bundle.json: {e}")))?;
    if text.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(import_error("bundle.json is larger than 32 MiB"));
    }
    // serde_json refuses nesting deeper than 128 levels.
    serde_json::from_slice(&text)
        .map_err(|e| RecordError::Import(format!("bundle.json is not JSON: {e}")))
}

fn bundle_resources(bundle: &Value) -> Result<Vec<&Value>> {
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(import_error("bundle.json is not a FHIR Bundle"));
    }
    let entries = match bundle.get("entry") {
        None => return Ok(Vec::new()),
        Some(entries) => entries
            .as_array()
            .ok_or_else(|| import_error("Bundle.entry is not a list"))?,
    };
    entries
        .iter()
        .map(|e| {
            e.get("resource")
                .filter(|r| r.is_object())
                .ok_or_else(|| import_error("a Bundle entry without a resource"))
        })
        .collect()
}

// ---- export: record content → FHIR resources ----

fn professional_reference(professional: &Professional, kind: &str) -> Value {
    let mut reference = json!({ "type": kind, "display": professional.name });
    if let Some(rpps) = &professional.rpps {
        set(
            &mut reference,
            "identifier",
            json!({ "system": RPPS_SYSTEM, "value": rpps }),
        );
    }
    reference
}

/// What a document's FHIR resource carries in [`DOCUMENT_IDENTITY_EXTENSION`]: the patient it
/// names, who the record judged it for, and its place among versions.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentIdentity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    patient: Option<NamedPatient>,
    #[serde(default)]
    addressee: Addressee,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    set_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<u32>,
}

fn carnet_tag(code: &str) -> Value {
    json!({ "system": CARNET_SYSTEM, "code": code })
}

fn patient_resource(patient: &Patient) -> Value {
    let mut resource = json!({
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "name": [{ "family": patient.family, "given": [patient.given] }],
        "gender": patient.gender,
        "birthDate": patient.birth_date,
    });
    if let Some(ins) = &patient.ins {
        set(
            &mut resource,
            "identifier",
            json!([{ "system": INS_SYSTEM, "value": ins }]),
        );
    }
    resource
}

fn document_resource(document: &Document) -> Value {
    let mut tags = Vec::new();
    if document.hidden {
        tags.push(carnet_tag("hidden-from-professionals"));
    }
    if document.source == DocumentSource::Professional {
        tags.push(carnet_tag("from-professional"));
    }
    let mut attachment = json!({
        "contentType": document.media_type,
        "url": format!("{ARCHIVE_URL}{}", document_path(document)),
        "size": document.size,
        "title": document.title,
    });
    if let Some(date) = document.date_millis {
        set(&mut attachment, "creation", json!(format_instant(date)));
    }
    let mut resource = json!({
        "resourceType": "DocumentReference",
        "id": document.id,
        "status": "current",
        "date": format_instant(document.added_millis),
        "subject": { "reference": PATIENT_REFERENCE },
        "securityLabel": [{ "coding": [{ "system": CONFIDENTIALITY_SYSTEM, "code": document.confidentiality.code() }] }],
        "content": [{ "attachment": attachment }],
    });
    if !tags.is_empty() {
        set(&mut resource, "meta", json!({ "tag": tags }));
    }
    if let Some(code) = &document.type_code {
        set(
            &mut resource,
            "type",
            json!({ "coding": [coding_json(code)] }),
        );
    }
    if let Some(code) = &document.class_code {
        set(
            &mut resource,
            "category",
            json!([{ "coding": [coding_json(code)] }]),
        );
    }
    if let Some(author) = &document.author {
        set(
            &mut resource,
            "author",
            json!([professional_reference(author, "Practitioner")]),
        );
    }
    if let Some(description) = &document.description {
        set(&mut resource, "description", json!(description));
    }
    if let Some(unique_id) = &document.unique_id {
        set(
            &mut resource,
            "masterIdentifier",
            json!({ "value": unique_id }),
        );
    }
    if document.replaced_by.is_some() {
        set(&mut resource, "status", json!("superseded"));
    }
    let identity = DocumentIdentity {
        patient: document.patient.clone(),
        addressee: document.addressee.clone(),
        set_id: document.set_id.clone(),
        version: document.version,
    };
    if identity != DocumentIdentity::default() {
        let text = serde_json::to_string(&identity).unwrap_or_default();
        set(
            &mut resource,
            "extension",
            json!([{ "url": DOCUMENT_IDENTITY_EXTENSION, "valueString": text }]),
        );
    }
    if let Some(ins) = &document.ins
        && let Some(subject) = resource.get_mut("subject")
    {
        set(
            subject,
            "identifier",
            json!({ "system": INS_SYSTEM, "value": ins }),
        );
    }
    resource
}

fn profile_resource(item: &ProfileItem) -> Value {
    let mut resource = item.resource.clone();
    set(
        &mut resource,
        "meta",
        json!({ "versionId": item.version.to_string(), "lastUpdated": format_instant(item.updated_millis) }),
    );
    resource
}

fn appointment_resource(appointment: &Appointment) -> Value {
    let mut participants =
        vec![json!({ "actor": { "reference": PATIENT_REFERENCE }, "status": "accepted" })];
    if let Some(professional) = &appointment.professional {
        participants.push(json!({ "actor": professional_reference(professional, "Practitioner"), "status": "accepted" }));
    }
    if let Some(location) = &appointment.location {
        participants.push(
            json!({ "actor": { "type": "Location", "display": location }, "status": "accepted" }),
        );
    }
    let mut resource = json!({
        "resourceType": "Appointment",
        "id": appointment.id,
        "status": "booked",
        "description": appointment.title,
        "start": format_instant(appointment.start_millis),
        "participant": participants,
    });
    if let Some(end) = appointment.end_millis {
        set(&mut resource, "end", json!(format_instant(end)));
    }
    if let Some(notes) = &appointment.notes {
        set(&mut resource, "comment", json!(notes));
    }
    resource
}

fn message_resource(message: &Message) -> Value {
    let professional = professional_reference(&message.professional, "Practitioner");
    let patient = json!({ "reference": PATIENT_REFERENCE });
    let (sender, recipient) = if message.outgoing {
        (patient, professional)
    } else {
        (professional, patient)
    };
    let mut payload = vec![json!({ "contentString": message.body })];
    for (index, attachment) in message.attachments.iter().enumerate() {
        payload.push(json!({ "contentAttachment": {
            "contentType": attachment.media_type,
            "url": format!("{ARCHIVE_URL}{}", attachment_path(message, index, attachment)),
            "size": attachment.size,
            "title": attachment.name,
        }}));
    }
    let mut tags = Vec::new();
    if message.reply_allowed {
        tags.push(carnet_tag("reply-allowed"));
    }
    if message.read {
        tags.push(carnet_tag("read"));
    }
    let mut resource = json!({
        "resourceType": "Communication",
        "id": message.id,
        "status": "completed",
        "subject": { "reference": PATIENT_REFERENCE },
        "topic": { "text": message.subject },
        "sent": format_instant(message.at_millis),
        "sender": sender,
        "recipient": [recipient],
        "payload": payload,
    });
    if !tags.is_empty() {
        set(&mut resource, "meta", json!({ "tag": tags }));
    }
    if let Some(original) = &message.in_reply_to {
        set(
            &mut resource,
            "inResponseTo",
            json!([{ "reference": format!("Communication/{original}") }]),
        );
    }
    resource
}

fn procedure_resource(done: &CompletedReminder) -> Value {
    json!({
        "resourceType": "Procedure",
        "id": done.id,
        "status": "completed",
        "code": { "coding": [{ "system": RULE_SYSTEM, "code": done.rule_id }], "text": done.label },
        "subject": { "reference": PATIENT_REFERENCE },
        "performedDateTime": format_instant(done.date_millis),
    })
}

fn blocked_resource(blocked: &BlockedProfessional) -> Value {
    json!({
        "resourceType": "Basic",
        "id": blocked.professional.rpps.clone().unwrap_or_default(),
        "meta": { "lastUpdated": format_instant(blocked.since_millis) },
        "code": { "coding": [carnet_tag("blocked-professional")] },
        "subject": { "reference": PATIENT_REFERENCE },
        "author": professional_reference(&blocked.professional, "Practitioner"),
    })
}

fn certificate_resource(certificate: &StoredCertificate) -> Value {
    json!({
        "resourceType": "Basic",
        "id": certificate.id,
        "meta": { "lastUpdated": format_instant(certificate.added_millis) },
        "code": { "coding": [carnet_tag("health-certificate")] },
        "subject": { "reference": PATIENT_REFERENCE },
        "extension": [{ "url": CERTIFICATE_EXTENSION, "valueString": certificate.text }],
    })
}

fn audit_resource(entry: &AccessEntry) -> Value {
    let subtype = match entry.action {
        AccessAction::ListDocuments => "list_documents",
        AccessAction::ReadDocument => "read_document",
    };
    let mut resource = json!({
        "resourceType": "AuditEvent",
        "id": entry.id,
        "type": { "system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest" },
        "subtype": [{ "system": CARNET_SYSTEM, "code": subtype }],
        "action": "R",
        "recorded": format_instant(entry.at_millis),
        "outcome": if entry.allowed { "0" } else { "4" },
        "agent": [{ "who": professional_reference(&entry.professional, "Practitioner"), "requestor": true }],
        "source": { "observer": { "display": "Carnet" } },
    });
    if let Some(document) = &entry.document_id {
        set(
            &mut resource,
            "entity",
            json!([{ "what": { "reference": format!("DocumentReference/{document}") } }]),
        );
    }
    resource
}

// ---- import: FHIR resources → record content ----

/// Typed access to a resource's elements, with errors naming the resource.
struct Element<'a> {
    value: &'a Value,
    what: &'static str,
}

impl<'a> Element<'a> {
    fn get(&self, pointer: &str) -> Option<&'a Value> {
        self.value.pointer(pointer)
    }

    fn text(&self, pointer: &str, max: usize) -> Result<Option<String>> {
        match self.get(pointer) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => {
                check_text(self.what, text, max)?;
                Ok(Some(text.clone()))
            }
            Some(_) => Err(RecordError::Import(format!(
                "{}{pointer} is not text",
                self.what
            ))),
        }
    }

    fn required_text(&self, pointer: &str, max: usize) -> Result<String> {
        self.text(pointer, max)?
            .ok_or_else(|| RecordError::Import(format!("{}{pointer} is missing", self.what)))
    }

    fn instant(&self, pointer: &str) -> Result<Option<i64>> {
        self.text(pointer, 64)?
            .map(|t| {
                parse_instant(&t)
                    .map_err(|e| RecordError::Import(format!("{}{pointer}: {e}", self.what)))
            })
            .transpose()
    }

    fn required_instant(&self, pointer: &str) -> Result<i64> {
        self.instant(pointer)?
            .ok_or_else(|| RecordError::Import(format!("{}{pointer} is missing", self.what)))
    }

    fn id(&self) -> Result<String> {
        let id = self.required_text("/id", 64)?;
        check_fhir_id(&id)?;
        Ok(id)
    }

    fn has_tag(&self, code: &str) -> bool {
        self.get("/meta/tag")
            .and_then(Value::as_array)
            .is_some_and(|tags| {
                tags.iter().any(|t| {
                    t.get("system").and_then(Value::as_str) == Some(CARNET_SYSTEM)
                        && t.get("code").and_then(Value::as_str) == Some(code)
                })
            })
    }

    fn professional(&self, pointer: &str) -> Result<Option<Professional>> {
        let Some(reference) = self.get(pointer) else {
            return Ok(None);
        };
        let inner = Element {
            value: reference,
            what: self.what,
        };
        let professional = Professional {
            name: inner.required_text("/display", MAX_SHORT_TEXT)?,
            rpps: inner.text("/identifier/value", 16)?,
        };
        check_professional(&professional)?;
        Ok(Some(professional))
    }

    fn coding(&self, pointer: &str) -> Result<Option<Coding>> {
        let Some(coding) = self.get(pointer) else {
            return Ok(None);
        };
        let inner = Element {
            value: coding,
            what: self.what,
        };
        Ok(Some(Coding {
            system: inner.required_text("/system", MAX_SHORT_TEXT)?,
            code: inner.required_text("/code", MAX_SHORT_TEXT)?,
            display: inner.text("/display", MAX_SHORT_TEXT)?,
        }))
    }
}

fn import_resource(
    writer: &mut Writer<'_>,
    resource: &Value,
    copy_file: &mut CopyFile<'_>,
) -> Result<()> {
    let resource_type = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let element = |what| Element {
        value: resource,
        what,
    };
    match resource_type {
        "Patient" => import_patient(writer, &element("Patient")),
        "DocumentReference" => import_document(writer, &element("DocumentReference"), copy_file),
        "Appointment" => import_appointment(writer, &element("Appointment")),
        "Communication" => import_message(writer, &element("Communication"), copy_file),
        "Procedure" => {
            let e = element("Procedure");
            let done = CompletedReminder {
                id: e.id()?,
                rule_id: e.required_text("/code/coding/0/code", MAX_SHORT_TEXT)?,
                label: e.required_text("/code/text", MAX_SHORT_TEXT)?,
                date_millis: e.required_instant("/performedDateTime")?,
            };
            writer.put(REMINDER_DONE, &done.id, &done)
        }
        "Basic" => import_basic(writer, &element("Basic")),
        "AuditEvent" => {
            let e = element("AuditEvent");
            let action = match e.required_text("/subtype/0/code", 64)?.as_str() {
                "list_documents" => AccessAction::ListDocuments,
                "read_document" => AccessAction::ReadDocument,
                other => return Err(RecordError::Import(format!("AuditEvent subtype {other:?}"))),
            };
            let document_id = e
                .text("/entity/0/what/reference", 128)?
                .map(|r| r.trim_start_matches("DocumentReference/").to_owned());
            let entry = AccessEntry {
                id: e.id()?,
                at_millis: e.required_instant("/recorded")?,
                professional: e
                    .professional("/agent/0/who")?
                    .ok_or_else(|| import_error("AuditEvent.agent is missing"))?,
                action,
                document_id,
                allowed: e.required_text("/outcome", 4)? == "0",
            };
            writer.put(ACCESS_LOG, &entry.id, &entry)
        }
        other => match ProfileKind::from_resource_type(other) {
            Some(kind) => import_profile_item(writer, kind, resource),
            None => Err(RecordError::Import(format!(
                "unsupported resource type {other:?}"
            ))),
        },
    }
}

fn import_basic(writer: &mut Writer<'_>, e: &Element<'_>) -> Result<()> {
    match e.get("/code/coding/0/code").and_then(Value::as_str) {
        Some("blocked-professional") => {
            let professional = e
                .professional("/author")?
                .ok_or_else(|| import_error("Basic.author is missing"))?;
            let rpps = professional
                .rpps
                .clone()
                .ok_or_else(|| import_error("a blocked professional without RPPS"))?;
            let since_millis = e.required_instant("/meta/lastUpdated")?;
            writer.put(
                BLOCKED,
                &rpps,
                &BlockedProfessional {
                    professional,
                    since_millis,
                },
            )
        }
        Some("health-certificate") => {
            if e.get("/extension/0/url").and_then(Value::as_str) != Some(CERTIFICATE_EXTENSION) {
                return Err(import_error("a health certificate without its text"));
            }
            let certificate = StoredCertificate {
                id: e.id()?,
                text: e.required_text("/extension/0/valueString", 8 * 1024)?,
                added_millis: e.required_instant("/meta/lastUpdated")?,
            };
            writer.put(CERTIFICATE, &certificate.id, &certificate)
        }
        _ => Err(import_error("a Basic resource of an unknown kind")),
    }
}

fn import_patient(writer: &mut Writer<'_>, e: &Element<'_>) -> Result<()> {
    let gender: Gender =
        serde_json::from_value(e.get("/gender").cloned().unwrap_or(json!("unknown")))
            .map_err(|_| import_error("Patient.gender is not a FHIR gender"))?;
    let patient = Patient {
        given: e.required_text("/name/0/given/0", MAX_SHORT_TEXT)?,
        family: e.required_text("/name/0/family", MAX_SHORT_TEXT)?,
        birth_date: e.required_text("/birthDate", 10)?,
        gender,
        ins: e.text("/identifier/0/value", 16)?,
    };
    crate::record::parse_date(&patient.birth_date)?;
    writer.put(PATIENT, PATIENT_ID, &patient)
}

fn import_document(
    writer: &mut Writer<'_>,
    e: &Element<'_>,
    copy_file: &mut CopyFile<'_>,
) -> Result<()> {
    let id = e.id()?;
    let confidentiality = match e.text("/securityLabel/0/coding/0/code", 4)? {
        Some(code) => Confidentiality::from_code(&code)
            .ok_or_else(|| import_error("unknown confidentiality code"))?,
        None => Confidentiality::Normal,
    };
    let identity = match e.get("/extension/0/url").and_then(Value::as_str) {
        Some(DOCUMENT_IDENTITY_EXTENSION) => {
            let text = e.required_text("/extension/0/valueString", 8 * 1024)?;
            serde_json::from_str::<DocumentIdentity>(&text)
                .map_err(|_| import_error("the document's identity extension does not read"))?
        }
        _ => DocumentIdentity::default(),
    };
    let new = NewDocument {
        title: e.required_text("/content/0/attachment/title", MAX_SHORT_TEXT)?,
        type_code: e.coding("/type/coding/0")?,
        class_code: e.coding("/category/0/coding/0")?,
        author: e.professional("/author/0")?,
        date_millis: e.instant("/content/0/attachment/creation")?,
        ins: e.text("/subject/identifier/value", 16)?,
        confidentiality,
        description: e.text("/description", MAX_LONG_TEXT)?,
        patient: identity.patient,
        unique_id: e.text("/masterIdentifier/value", MAX_SHORT_TEXT)?,
        set_id: identity.set_id,
        version: identity.version,
        words: None,
    };
    check_new_document(&new)?;
    let source = if e.has_tag("from-professional") {
        DocumentSource::Professional
    } else {
        DocumentSource::User
    };
    let added_millis = e.required_instant("/date")?;
    let hidden = e.has_tag("hidden-from-professionals");
    let path = e.required_text("/content/0/attachment/url", 512)?;
    let mut stored = None;
    copy_file(writer, &path, &mut |w, content| {
        let placement = Placement {
            id: id.clone(),
            source: source.clone(),
            added_millis,
            hidden,
            addressee: identity.addressee.clone(),
        };
        stored = Some(put_document(
            w,
            placement,
            &new,
            content,
            MAX_DOCUMENT_BYTES,
        )?);
        Ok(())
    })?;
    let document = stored.ok_or_else(|| import_error("document not stored"))?;
    keep_words_of_stored(writer, &document)?;
    let declared = e
        .get("/content/0/attachment/contentType")
        .and_then(Value::as_str);
    if declared.is_some_and(|t| t != document.media_type) {
        return Err(RecordError::Import(format!(
            "{path} is not the {} its DocumentReference says",
            declared.unwrap_or_default()
        )));
    }
    Ok(())
}

/// Keeps the words of an imported document for search (the archive does not carry them):
/// read back from the store for a CDA or a plain-text document of at most 4 MiB.
fn keep_words_of_stored(writer: &mut Writer<'_>, document: &Document) -> Result<()> {
    const MAX_READ_BACK: u64 = 4 * 1024 * 1024;
    if !matches!(document.media_type.as_str(), "text/xml" | "text/plain")
        || document.size > MAX_READ_BACK
    {
        return Ok(());
    }
    let mut content = Vec::new();
    writer.reader().read_blob(&document.id, &mut content)?;
    if let Ok(NewDocument {
        words: Some(words), ..
    }) = crate::described::describe(&NewDocument::default(), &mut content.as_slice())
    {
        writer.put(
            crate::words::DOCUMENT_WORDS,
            &document.id,
            &crate::words::DocumentWords { words },
        )?;
    }
    Ok(())
}

fn import_profile_item(writer: &mut Writer<'_>, kind: ProfileKind, resource: &Value) -> Result<()> {
    let e = Element {
        value: resource,
        what: kind.resource_type(),
    };
    let id = e.id()?;
    let version = e.text("/meta/versionId", 16)?.map_or(Ok(1), |v| {
        v.parse::<u32>()
            .map_err(|_| import_error("meta.versionId is not a number"))
    })?;
    let updated_millis = e.required_instant("/meta/lastUpdated")?;
    let mut clean: Map<String, Value> = resource.as_object().cloned().unwrap_or_default();
    clean.remove("meta");
    let resource = check_resource(kind, &id, Value::Object(clean))
        .map_err(|e| RecordError::Import(e.to_string()))?;
    writer.put(
        PROFILE,
        &id,
        &ProfileItem {
            id: id.clone(),
            kind,
            resource,
            version,
            updated_millis,
            synced_version: None,
        },
    )
}

fn import_appointment(writer: &mut Writer<'_>, e: &Element<'_>) -> Result<()> {
    let participants = e
        .get("/participant")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut professional = None;
    let mut location = None;
    for participant in &participants {
        let p = Element {
            value: participant,
            what: "Appointment.participant",
        };
        match p.text("/actor/type", 32)?.as_deref() {
            Some("Practitioner") => professional = p.professional("/actor")?,
            Some("Location") => location = p.text("/actor/display", MAX_SHORT_TEXT)?,
            _ => {}
        }
    }
    let appointment = Appointment {
        id: e.id()?,
        title: e.required_text("/description", MAX_SHORT_TEXT)?,
        start_millis: e.required_instant("/start")?,
        end_millis: e.instant("/end")?,
        location,
        professional,
        notes: e.text("/comment", MAX_LONG_TEXT)?,
    };
    writer.put(APPOINTMENT, &appointment.id, &appointment)
}

fn import_message(
    writer: &mut Writer<'_>,
    e: &Element<'_>,
    copy_file: &mut CopyFile<'_>,
) -> Result<()> {
    let outgoing = e.get("/sender/reference").and_then(Value::as_str) == Some(PATIENT_REFERENCE);
    let professional_at = if outgoing { "/recipient/0" } else { "/sender" };
    let professional = e
        .professional(professional_at)?
        .ok_or_else(|| import_error("Communication without its professional"))?;
    let id = e.id()?;
    let payload = e
        .get("/payload")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut body = None;
    let mut attachments = Vec::new();
    for part in &payload {
        let p = Element {
            value: part,
            what: "Communication.payload",
        };
        if let Some(text) = p.text("/contentString", MAX_LONG_TEXT)? {
            body = Some(text);
            continue;
        }
        let name = p.required_text("/contentAttachment/title", 255)?;
        let path = p.required_text("/contentAttachment/url", 512)?;
        let mut stored = None;
        copy_file(writer, &path, &mut |w, content| {
            stored = Some(put_file(
                w,
                &attachment_blob_id(&id, attachments.len()),
                content,
                MAX_DOCUMENT_BYTES,
            )?);
            Ok(())
        })?;
        let (media_type, info) = stored.ok_or_else(|| import_error("attachment not stored"))?;
        attachments.push(Attachment {
            name,
            media_type: media_type.into(),
            size: info.size,
            sha256: info.sha256,
        });
    }
    let message = Message {
        id,
        professional,
        subject: e.required_text("/topic/text", MAX_SHORT_TEXT)?,
        body: body.ok_or_else(|| import_error("Communication without a text payload"))?,
        at_millis: e.required_instant("/sent")?,
        attachments,
        reply_allowed: e.has_tag("reply-allowed"),
        read: e.has_tag("read"),
        outgoing,
        in_reply_to: e
            .text("/inResponseTo/0/reference", 128)?
            .map(|r| r.trim_start_matches("Communication/").to_owned()),
    };
    writer.put(MESSAGE, &message.id, &message)
}
