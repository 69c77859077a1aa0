//! The health record: the `HealthRecord` object and its records, mapped 1:1 from
//! `carnet::record` (the core types are declared here as UniFFI remote types, so that no
//! conversion code stands between the two).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use carnet::record::{
    AccessAction, AccessEntry, Addressee, Agenda, Appointment, Attachment, BlockedProfessional,
    Coding, Confidentiality, Document, DocumentQuery, DocumentSource, Gender, MeasureKind, Message,
    NamedPatient, NewAppointment, NewDocument, NewMessage, Patient, Professional, ProfileKind,
    Reminder, ReminderKind, ReminderStatus, XdmImport,
};

pub use carnet::RecordUnlock;

use crate::{CarnetError, Purpose, WalletEntry};

/// Administrative sex.
#[uniffi::remote(Enum)]
pub enum Gender {
    Female,
    Male,
    Other,
    Unknown,
}

/// The record's owner.
#[uniffi::remote(Record)]
pub struct Patient {
    pub given: String,
    pub family: String,
    pub birth_date: String,
    pub gender: Gender,
    pub ins: Option<String>,
}

/// A health professional (name, RPPS).
#[uniffi::remote(Record)]
pub struct Professional {
    pub name: String,
    pub rpps: Option<String>,
}

/// A code from a terminology.
#[uniffi::remote(Record)]
pub struct Coding {
    pub system: String,
    pub code: String,
    pub display: Option<String>,
}

/// Confidentiality of a document.
#[uniffi::remote(Enum)]
pub enum Confidentiality {
    Normal,
    Restricted,
    VeryRestricted,
}

/// Where a document came from.
#[uniffi::remote(Enum)]
pub enum DocumentSource {
    User,
    Professional,
}

/// What the caller says of a new document.
#[uniffi::remote(Record)]
pub struct NewDocument {
    pub title: String,
    pub type_code: Option<Coding>,
    pub class_code: Option<Coding>,
    pub author: Option<Professional>,
    pub date_millis: Option<i64>,
    pub ins: Option<String>,
    pub confidentiality: Confidentiality,
    pub description: Option<String>,
    #[uniffi(default = None)]
    pub patient: Option<NamedPatient>,
    #[uniffi(default = None)]
    pub unique_id: Option<String>,
    #[uniffi(default = None)]
    pub set_id: Option<String>,
    #[uniffi(default = None)]
    pub version: Option<u32>,
    #[uniffi(default = None)]
    pub words: Option<String>,
}

/// The patient a document names, as it says it.
#[uniffi::remote(Record)]
pub struct NamedPatient {
    pub name: String,
    pub sex: Option<String>,
    pub birth_date: Option<String>,
}

/// Who a document is for, as the record judged it (identity vigilance).
#[uniffi::remote(Enum)]
pub enum Addressee {
    ThisPerson,
    Unchecked,
    NotForThisPerson { reason: String },
}

/// A document of the record.
#[uniffi::remote(Record)]
pub struct Document {
    pub id: String,
    pub title: String,
    pub media_type: String,
    pub type_code: Option<Coding>,
    pub class_code: Option<Coding>,
    pub author: Option<Professional>,
    pub date_millis: Option<i64>,
    pub added_millis: i64,
    pub ins: Option<String>,
    pub confidentiality: Confidentiality,
    pub description: Option<String>,
    pub source: DocumentSource,
    pub size: u64,
    pub sha256: String,
    pub hidden: bool,
    pub patient: Option<NamedPatient>,
    pub addressee: Addressee,
    pub unique_id: Option<String>,
    pub set_id: Option<String>,
    pub version: Option<u32>,
    pub replaced_by: Option<String>,
}

/// What an XDM import did.
#[uniffi::remote(Record)]
pub struct XdmImport {
    pub subsets: u32,
    pub imported: Vec<Document>,
    pub already_present: Vec<Document>,
}

/// A document search.
#[uniffi::remote(Record)]
pub struct DocumentQuery {
    pub text: Option<String>,
    pub from_millis: Option<i64>,
    pub until_millis: Option<i64>,
    pub code: Option<String>,
    pub author: Option<String>,
}

/// Kinds of profile entries.
#[uniffi::remote(Enum)]
pub enum ProfileKind {
    Allergy,
    Medication,
    Condition,
    Immunization,
    Observation,
}

/// A kind of measure the profile keeps as a FHIR Observation, with its LOINC code and UCUM unit.
#[uniffi::remote(Enum)]
pub enum MeasureKind {
    Weight,
    Height,
    BloodPressure,
    Glucose,
    HeartRate,
    Temperature,
}

/// A profile entry; `resource_json` is its FHIR R4 resource.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ProfileItem {
    /// Its id in the record.
    pub id: String,
    /// Which part of the profile it belongs to.
    pub kind: ProfileKind,
    /// The FHIR R4 resource, as JSON.
    pub resource_json: String,
    /// One-line summary.
    pub summary: String,
    /// Version, from 1.
    pub version: u32,
    /// Last change, Unix milliseconds.
    pub updated_millis: i64,
}

impl From<carnet::record::ProfileItem> for ProfileItem {
    fn from(item: carnet::record::ProfileItem) -> Self {
        ProfileItem {
            summary: item.summary(),
            resource_json: item.resource.to_string(),
            id: item.id,
            kind: item.kind,
            version: item.version,
            updated_millis: item.updated_millis,
        }
    }
}

/// A finding of a CDA's coded entries, as the profile would keep it; `resource_json` is the
/// FHIR R4 resource it would become.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct OfferedFinding {
    /// Its place among the document's findings (what `add_finding_to_profile` takes).
    pub index: u32,
    /// Which part of the profile it would go to.
    pub kind: ProfileKind,
    /// One line for a person.
    pub summary: String,
    /// The FHIR R4 resource, as JSON.
    pub resource_json: String,
    /// Whether it is in the profile already.
    pub in_profile: bool,
}

impl From<carnet::record::OfferedFinding> for OfferedFinding {
    fn from(finding: carnet::record::OfferedFinding) -> Self {
        OfferedFinding {
            index: finding.index,
            kind: finding.kind,
            summary: finding.summary,
            resource_json: finding.resource.to_string(),
            in_profile: finding.in_profile,
        }
    }
}

/// What a reminder asks for.
#[uniffi::remote(Enum)]
pub enum ReminderKind {
    Vaccination,
    Screening,
    Checkup,
}

/// Where a reminder stands.
#[uniffi::remote(Enum)]
pub enum ReminderStatus {
    Upcoming,
    Due,
    Overdue,
}

/// A prevention reminder.
#[uniffi::remote(Record)]
pub struct Reminder {
    pub rule_id: String,
    pub kind: ReminderKind,
    pub label: String,
    pub due_date: String,
    pub status: ReminderStatus,
}

/// What the caller says of a new appointment.
#[uniffi::remote(Record)]
pub struct NewAppointment {
    pub title: String,
    pub start_millis: i64,
    pub end_millis: Option<i64>,
    pub location: Option<String>,
    pub professional: Option<Professional>,
    pub notes: Option<String>,
}

/// An appointment in the agenda, as kept.
#[uniffi::remote(Record)]
pub struct Appointment {
    pub id: String,
    pub title: String,
    pub start_millis: i64,
    pub end_millis: Option<i64>,
    pub location: Option<String>,
    pub professional: Option<Professional>,
    pub notes: Option<String>,
}

/// Appointments to come and prevention reminders.
#[uniffi::remote(Record)]
pub struct Agenda {
    pub appointments: Vec<Appointment>,
    pub reminders: Vec<Reminder>,
}

/// A file attached to a message.
#[uniffi::remote(Record)]
pub struct Attachment {
    pub name: String,
    pub media_type: String,
    pub size: u64,
    pub sha256: String,
}

/// A message of the inbox.
#[uniffi::remote(Record)]
pub struct Message {
    pub id: String,
    pub professional: Professional,
    pub subject: String,
    pub body: String,
    pub at_millis: i64,
    pub attachments: Vec<Attachment>,
    pub reply_allowed: bool,
    pub read: bool,
    pub outgoing: bool,
    pub in_reply_to: Option<String>,
}

/// What a professional sends.
#[uniffi::remote(Record)]
pub struct NewMessage {
    pub sender: Professional,
    pub subject: String,
    pub body: String,
    pub reply_allowed: bool,
}

/// An attachment to deliver with a message.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewAttachment {
    /// File name, without a directory part.
    pub name: String,
    /// The file's bytes.
    pub content: Vec<u8>,
}

/// A blocked professional.
#[uniffi::remote(Record)]
pub struct BlockedProfessional {
    pub professional: Professional,
    pub since_millis: i64,
}

/// What a professional did or tried.
#[uniffi::remote(Enum)]
pub enum AccessAction {
    ListDocuments,
    ReadDocument,
}

/// One line of the access log.
#[uniffi::remote(Record)]
pub struct AccessEntry {
    pub id: String,
    pub at_millis: i64,
    pub professional: Professional,
    pub action: AccessAction,
    pub document_id: Option<String>,
    pub allowed: bool,
}

/// How a record is unlocked.
#[uniffi::remote(Enum)]
pub enum RecordUnlock {
    /// With a passphrase (12 characters or more; a PIN is refused).
    Passphrase {
        /// The passphrase as typed (12 characters or more).
        passphrase: String,
    },
    /// With the device key kept in the platform key vault.
    DeviceKey,
}

/// Told how far a long operation (export, import) has gone.
#[uniffi::export(with_foreign)]
pub trait ProgressListener: Send + Sync {
    /// `done` of `total` bytes.
    fn on_progress(&self, done: u64, total: u64);
}

/// An open health record. After [`HealthRecord::close_account`] every call fails.
#[derive(uniffi::Object)]
pub struct HealthRecord(Mutex<Option<Arc<carnet::HealthRecord>>>);

impl HealthRecord {
    pub(crate) fn new(record: carnet::HealthRecord) -> Arc<Self> {
        Arc::new(HealthRecord(Mutex::new(Some(Arc::new(record)))))
    }

    fn lock(&self) -> MutexGuard<'_, Option<Arc<carnet::HealthRecord>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The open facade record, shared with a call that outlives the lock (a sync).
    pub(crate) fn shared(&self) -> Result<Arc<carnet::HealthRecord>, CarnetError> {
        self.lock().clone().ok_or_else(closed)
    }

    /// Runs `work` on the open record's content.
    fn with_content<T>(
        &self,
        work: impl FnOnce(&carnet::record::Record) -> Result<T, carnet::record::RecordError>,
    ) -> Result<T, CarnetError> {
        self.facade(|record| record.with_content(work))
    }

    /// Runs `work` on the open facade record.
    fn facade<T>(
        &self,
        work: impl FnOnce(&carnet::HealthRecord) -> Result<T, carnet::CarnetError>,
    ) -> Result<T, CarnetError> {
        match self.lock().as_ref() {
            Some(record) => Ok(work(record)?),
            None => Err(closed()),
        }
    }

    fn entry(record: &carnet::HealthRecord, entry: carnet::WalletEntry) -> WalletEntry {
        let state = record.wallet_state(&entry);
        WalletEntry::from_core(entry, state)
    }
}

/// The error of a call on a record closed by `close_account`.
fn closed() -> CarnetError {
    carnet::CarnetError::from(carnet::record::RecordError::NotFound("record")).into()
}

fn listener(progress: Option<Arc<dyn ProgressListener>>) -> impl FnMut(carnet::record::Progress) {
    move |p| {
        if let Some(listener) = &progress {
            listener.on_progress(p.done, p.total);
        }
    }
}

/// The file a person opens for a document, and its media type.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ViewableDocument {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Its media type (`application/pdf`…).
    pub media_type: String,
}

#[uniffi::export]
impl HealthRecord {
    /// Sets the record's owner.
    pub fn set_patient(&self, patient: Patient) -> Result<(), CarnetError> {
        self.with_content(|r| r.set_patient(&patient))
    }

    /// The record's owner, if set.
    pub fn patient(&self) -> Result<Option<Patient>, CarnetError> {
        self.with_content(|r| r.patient())
    }

    /// Adds a document added by the citizen (PDF, CDA XML, JPEG, PNG, TIFF, plain text, RTF).
    /// A CDA's header gives what `new` leaves unsaid (an empty title, no type, author, date
    /// or INS); a CDA that does not read is refused, nothing stored.
    pub fn add_document(
        &self,
        new: NewDocument,
        content: Vec<u8>,
    ) -> Result<Document, CarnetError> {
        self.facade(|record| record.add_document(&new, &content))
    }

    /// A level-3 CDA as a readable, self-contained, sanitised HTML page: show it in a web view
    /// with scripts and network off (it needs neither).
    pub fn document_page(&self, id: String) -> Result<String, CarnetError> {
        self.facade(|record| record.document_html(&id))
    }

    /// A level-3 CDA as plain text.
    pub fn document_text(&self, id: String) -> Result<String, CarnetError> {
        self.facade(|record| record.document_text(&id))
    }

    /// What a person opens for a document: the file inside a level-1 CDA (its PDF…),
    /// else the document's own file, with its media type.
    pub fn viewable_document(&self, id: String) -> Result<ViewableDocument, CarnetError> {
        self.facade(|record| {
            let (bytes, viewable) = record.viewable_bytes(&id)?;
            Ok(ViewableDocument {
                bytes,
                media_type: viewable.media_type,
            })
        })
    }

    /// Every document, newest first.
    pub fn documents(&self) -> Result<Vec<Document>, CarnetError> {
        self.with_content(|r| r.documents())
    }

    /// The documents kept apart as not for this person (identity vigilance).
    pub fn documents_apart(&self) -> Result<Vec<Document>, CarnetError> {
        self.with_content(|r| r.documents_apart())
    }

    /// Every version of a document's set, newest first.
    pub fn document_versions(&self, id: String) -> Result<Vec<Document>, CarnetError> {
        self.with_content(|r| r.document_versions(&id))
    }

    /// Imports the documents of an IHE XDM archive (`IHE_XDM.ZIP`). All or nothing.
    pub fn import_xdm(
        &self,
        path: String,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<XdmImport, CarnetError> {
        let mut report = listener(progress);
        self.facade(|record| record.import_xdm_from_path(std::path::Path::new(&path), &mut report))
    }

    /// Writes documents as an IHE XDM archive, to hand them to a professional.
    pub fn export_xdm(&self, ids: Vec<String>, path: String) -> Result<(), CarnetError> {
        self.facade(|record| record.export_xdm_to_path(&ids, std::path::Path::new(&path)))
    }

    /// A document's file.
    pub fn read_document(&self, id: String) -> Result<Vec<u8>, CarnetError> {
        let mut bytes = Vec::new();
        self.with_content(|r| r.read_document(&id, &mut bytes))?;
        Ok(bytes)
    }

    /// Deletes a document.
    pub fn delete_document(&self, id: String) -> Result<(), CarnetError> {
        self.with_content(|r| r.delete_document(&id))
    }

    /// Hides a document from professionals, or shares it again.
    pub fn set_document_hidden(&self, id: String, hidden: bool) -> Result<Document, CarnetError> {
        self.with_content(|r| r.set_document_hidden(&id, hidden))
    }

    /// Documents matching a search.
    pub fn search_documents(&self, query: DocumentQuery) -> Result<Vec<Document>, CarnetError> {
        self.with_content(|r| r.search_documents(&query))
    }

    /// What a CDA's coded entries say (results, vaccinations, allergies, treatments),
    /// offered to the profile; nothing is added.
    pub fn document_findings(&self, id: String) -> Result<Vec<OfferedFinding>, CarnetError> {
        let findings = self.facade(|record| record.document_findings(&id))?;
        Ok(findings.into_iter().map(OfferedFinding::from).collect())
    }

    /// Adds one finding of a CDA to the profile, as the person asked.
    pub fn add_finding_to_profile(
        &self,
        id: String,
        index: u32,
    ) -> Result<ProfileItem, CarnetError> {
        self.facade(|record| record.add_finding_to_profile(&id, index))
            .map(ProfileItem::from)
    }

    /// Adds a profile entry from text (and a code, such as a vaccine group).
    pub fn add_profile_item(
        &self,
        kind: ProfileKind,
        text: String,
        code: Option<Coding>,
        date_millis: Option<i64>,
    ) -> Result<ProfileItem, CarnetError> {
        let new = carnet::record::NewProfileItem {
            text,
            code,
            date_millis,
        };
        self.with_content(|r| r.add_profile_item(kind, &new))
            .map(ProfileItem::from)
    }

    /// Records a measure (blood pressure: systolic then diastolic).
    pub fn add_measure(
        &self,
        kind: MeasureKind,
        values: Vec<f64>,
        date_millis: Option<i64>,
    ) -> Result<ProfileItem, CarnetError> {
        self.with_content(|r| r.add_measure(kind, &values, date_millis))
            .map(ProfileItem::from)
    }

    /// Profile entries, of one kind or all.
    pub fn profile(&self, kind: Option<ProfileKind>) -> Result<Vec<ProfileItem>, CarnetError> {
        Ok(self
            .with_content(|r| r.profile(kind))?
            .into_iter()
            .map(ProfileItem::from)
            .collect())
    }

    /// Deletes a profile entry.
    pub fn delete_profile_item(&self, id: String) -> Result<(), CarnetError> {
        self.with_content(|r| r.delete_profile_item(&id))
    }

    /// Appointments to come and prevention reminders, as of now.
    pub fn agenda(&self) -> Result<Agenda, CarnetError> {
        self.with_content(|r| r.agenda())
    }

    /// Adds an appointment.
    pub fn add_appointment(&self, new: NewAppointment) -> Result<Appointment, CarnetError> {
        self.with_content(|r| r.add_appointment(&new))
    }

    /// Cancels an appointment.
    pub fn cancel_appointment(&self, id: String) -> Result<(), CarnetError> {
        self.with_content(|r| r.cancel_appointment(&id))
    }

    /// Marks a prevention reminder done.
    pub fn complete_reminder(&self, rule_id: String, date_millis: i64) -> Result<(), CarnetError> {
        self.with_content(|r| r.complete_reminder(&rule_id, date_millis))
    }

    /// Every message, newest first.
    pub fn messages(&self) -> Result<Vec<Message>, CarnetError> {
        self.with_content(|r| r.messages())
    }

    /// A message, marked read.
    pub fn open_message(&self, id: String) -> Result<Message, CarnetError> {
        self.with_content(|r| r.open_message(&id))
    }

    /// An attachment's file.
    pub fn read_attachment(&self, message_id: String, index: u32) -> Result<Vec<u8>, CarnetError> {
        let mut bytes = Vec::new();
        self.with_content(|r| r.read_attachment(&message_id, index as usize, &mut bytes))?;
        Ok(bytes)
    }

    /// Replies to a message, where its sender allows it.
    pub fn reply(&self, message_id: String, body: String) -> Result<Message, CarnetError> {
        self.with_content(|r| r.reply(&message_id, &body))
    }

    /// Delivers a message from a professional (what the health-space sync does).
    pub fn deliver_message(
        &self,
        new: NewMessage,
        attachments: Vec<NewAttachment>,
    ) -> Result<Message, CarnetError> {
        let mut contents: Vec<(String, &[u8])> = attachments
            .iter()
            .map(|a| (a.name.clone(), a.content.as_slice()))
            .collect();
        let incoming = contents
            .iter_mut()
            .map(|(name, content)| carnet::record::IncomingAttachment {
                name: name.clone(),
                content,
            })
            .collect();
        self.with_content(|r| r.deliver_message(&new, incoming))
    }

    /// Blocks a professional (by RPPS) from the record.
    pub fn block_professional(&self, professional: Professional) -> Result<(), CarnetError> {
        self.with_content(|r| r.block_professional(&professional))
    }

    /// Lifts a block.
    pub fn unblock_professional(&self, rpps: String) -> Result<(), CarnetError> {
        self.with_content(|r| r.unblock_professional(&rpps))
    }

    /// Blocked professionals.
    pub fn blocked_professionals(&self) -> Result<Vec<BlockedProfessional>, CarnetError> {
        self.with_content(|r| r.blocked_professionals())
    }

    /// What a professional sees (refused, and logged, when blocked).
    pub fn documents_for_professional(
        &self,
        professional: Professional,
    ) -> Result<Vec<Document>, CarnetError> {
        self.with_content(|r| r.documents_for_professional(&professional))
    }

    /// The access log, newest first.
    pub fn access_log(&self) -> Result<Vec<AccessEntry>, CarnetError> {
        self.with_content(|r| r.access_log())
    }

    /// Exports the whole record into a zip at `path` (not encrypted: for the citizen to take
    /// elsewhere); nothing is left at `path`, or beside it, when it fails.
    pub fn export_to(
        &self,
        path: String,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<(), CarnetError> {
        let mut report = listener(progress);
        self.facade(|record| record.export_to_path(std::path::Path::new(&path), &mut report))
    }

    /// Imports a zip made by an export into this record, which must be empty.
    pub fn import_from(
        &self,
        path: String,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<(), CarnetError> {
        let mut report = listener(progress);
        self.facade(|record| record.import_from_path(std::path::Path::new(&path), &mut report))
    }

    /// Sets or changes the passphrase (the data key is rewrapped, nothing else changes).
    pub fn set_passphrase(&self, passphrase: String) -> Result<(), CarnetError> {
        self.facade(|record| record.set_passphrase(&passphrase))
    }

    /// Adds or renews the device-key slot (a fresh key in the platform key vault).
    pub fn rotate_device_key(&self) -> Result<(), CarnetError> {
        self.facade(|record| record.rotate_device_key())
    }

    /// Closes the account: the record is crypto-erased. Every later call fails.
    pub fn close_account(&self) -> Result<(), CarnetError> {
        // Taken out under the lock, so that no other call can use it while it is erased; a
        // sync still running holds it too, and the account is not erased under it.
        let mut slot = self.lock();
        let shared = slot.take().ok_or_else(closed)?;
        match Arc::try_unwrap(shared) {
            Ok(record) => Ok(record.close_account()?),
            Err(shared) => {
                *slot = Some(shared);
                Err(carnet::CarnetError::from(carnet::record::RecordError::Busy).into())
            }
        }
    }

    /// Adds a health certificate (`HC1:` text) to the wallet; the same one twice is kept once.
    pub fn wallet_add(&self, text: String) -> Result<WalletEntry, CarnetError> {
        self.facade(|record| Ok(Self::entry(record, record.wallet_add(&text)?)))
    }

    /// Every certificate in the wallet, in the order added.
    pub fn wallet_list(&self) -> Result<Vec<WalletEntry>, CarnetError> {
        self.facade(|record| {
            Ok(record
                .wallet_list()?
                .into_iter()
                .map(|e| Self::entry(record, e))
                .collect())
        })
    }

    /// Removes a certificate from the wallet.
    pub fn wallet_remove(&self, id: String) -> Result<(), CarnetError> {
        self.facade(|record| record.wallet_remove(&id))
    }

    /// The certificate in force to show for `purpose`, among one person's; null when none is.
    pub fn wallet_best(
        &self,
        person_key: String,
        purpose: Purpose,
    ) -> Result<Option<WalletEntry>, CarnetError> {
        self.facade(|record| {
            Ok(record
                .wallet_best(&person_key, purpose)?
                .map(|e| Self::entry(record, e)))
        })
    }
}
