//! IHE XDM media as MSSanté carries documents (`IHE_XDM.ZIP`, IHE ITI TF-1 §16 and TF-3
//! §4.2.4): the metadata of each subset, `IHE_XDM/SUBSETnn/METADATA.XML`, an ebRIM 3.0
//! `SubmitObjectsRequest` holding the SubmissionSet and a DocumentEntry for each file —
//! read ([`read_metadata`]) and written ([`write_metadata`]).
//!
//! The XML is read by the same checked stream of `quick-xml` events as CDA documents
//! ([`carnet_cda::xml`]): any DTD refused, only the predefined entities, UTF-8 only, each tag
//! or text, the nesting, the events and the file bounded ([`Limits`]), so that hostile
//! metadata is a typed [`XdmError`]. Elements are matched by local name (the `rim:` and
//! `lcm:` prefixes vary between producers), metadata attributes by the classification and
//! identification schemes the IHE technical framework fixes ([`scheme`]).
//!
//! The zip around the metadata (entry names, sizes, hashes, bombs) is the record's to check,
//! where the files go.

mod error;
mod read;
mod write;

pub use error::XdmError;
pub use read::read_metadata;
pub use write::write_metadata;

/// The identifiers IHE gives the metadata attributes (ITI TF-3 §4.2.5).
pub mod scheme {
    /// `objectType` of a stable DocumentEntry (a file on the media).
    pub const STABLE_DOCUMENT_ENTRY: &str = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1";
    /// `classificationNode` that makes a RegistryPackage the SubmissionSet.
    pub const SUBMISSION_SET: &str = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd";
    /// DocumentEntry.author.
    pub const DOCUMENT_AUTHOR: &str = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d";
    /// DocumentEntry.classCode.
    pub const CLASS_CODE: &str = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a";
    /// DocumentEntry.confidentialityCode.
    pub const CONFIDENTIALITY_CODE: &str = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f";
    /// DocumentEntry.formatCode.
    pub const FORMAT_CODE: &str = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d";
    /// DocumentEntry.healthcareFacilityTypeCode.
    pub const FACILITY_TYPE_CODE: &str = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1";
    /// DocumentEntry.practiceSettingCode.
    pub const PRACTICE_SETTING_CODE: &str = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead";
    /// DocumentEntry.typeCode.
    pub const TYPE_CODE: &str = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983";
    /// DocumentEntry.patientId.
    pub const DOCUMENT_PATIENT_ID: &str = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427";
    /// DocumentEntry.uniqueId.
    pub const DOCUMENT_UNIQUE_ID: &str = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab";
    /// SubmissionSet.author.
    pub const SUBMISSION_AUTHOR: &str = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d";
    /// SubmissionSet.contentTypeCode.
    pub const CONTENT_TYPE_CODE: &str = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500";
    /// SubmissionSet.patientId.
    pub const SUBMISSION_PATIENT_ID: &str = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446";
    /// SubmissionSet.sourceId.
    pub const SUBMISSION_SOURCE_ID: &str = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832";
    /// SubmissionSet.uniqueId.
    pub const SUBMISSION_UNIQUE_ID: &str = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8";
    /// The association from the SubmissionSet to each of its members.
    pub const HAS_MEMBER: &str = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember";
}

/// A coded value (a classification): its code, the scheme it comes from, its display name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Code {
    /// `nodeRepresentation`.
    pub code: String,
    /// The `codingScheme` slot (an OID).
    pub scheme: Option<String>,
    /// The classification's name.
    pub display: Option<String>,
}

/// A person as HL7 v2 writes one in an `XCN` (`id^family^given^…^^^^&authority&ISO`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Person {
    /// Component 1: the identifier.
    pub id: Option<String>,
    /// Component 2: the family name.
    pub family: Option<String>,
    /// Component 3: the given name.
    pub given: Option<String>,
    /// Component 9, second sub-component: the OID of the identifier's authority.
    pub authority: Option<String>,
}

impl Person {
    /// Reads an `XCN`; absent or empty components are `None`. Each component keeps its first
    /// sub-component only, the other separators turned to spaces ([`component`]).
    #[must_use]
    pub fn parse(xcn: &str) -> Person {
        let components: Vec<&str> = xcn.split('^').collect();
        let part = |index: usize| components.get(index).and_then(|c| component(c));
        Person {
            id: part(0),
            family: part(1),
            given: part(2),
            authority: components
                .get(8)
                .and_then(|c| c.split('&').nth(1))
                .and_then(component),
        }
    }

    /// The `XCN` of this person.
    #[must_use]
    pub fn to_xcn(&self) -> String {
        let text = |part: &Option<String>| part.as_deref().and_then(component).unwrap_or_default();
        let authority = match text(&self.authority).as_str() {
            "" => String::new(),
            oid => format!("&{oid}&ISO"),
        };
        format!(
            "{}^{}^{}^^^^^^{authority}",
            text(&self.id),
            text(&self.family),
            text(&self.given)
        )
    }

    /// Given name then family name.
    #[must_use]
    pub fn name(&self) -> String {
        [&self.given, &self.family]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The RPPS number, when the identifier is a French national professional identifier
    /// of type 8 ([`carnet_cda::rpps_of_national_id`]).
    #[must_use]
    pub fn rpps(&self) -> Option<&str> {
        if self.authority.as_deref() != Some(carnet_cda::RPPS_ROOT) {
            return None;
        }
        carnet_cda::rpps_of_national_id(self.id.as_deref()?)
    }
}

/// One component of an HL7 v2 value as Carnet keeps it: its first sub-component (before any
/// `&`), with the repetition, field and escape separators (`~ | \`) turned to spaces,
/// trimmed; `None` when nothing is left. Reading and writing both go through it, so that what
/// is written reads back the same.
fn component(text: &str) -> Option<String> {
    let first = text.split('&').next().unwrap_or_default();
    let cleaned = first.replace(['~', '|', '\\'], " ");
    let cleaned = cleaned.trim();
    (!cleaned.is_empty()).then(|| cleaned.to_owned())
}

/// An author: the person, and what the metadata says of them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Author {
    /// `authorPerson`.
    pub person: Option<Person>,
    /// `authorInstitution` (HL7 v2 `XON`, as written).
    pub institutions: Vec<String>,
    /// `authorRole`.
    pub roles: Vec<String>,
    /// `authorSpecialty`.
    pub specialties: Vec<String>,
}

/// A patient identifier as HL7 v2 writes one in a `CX` (`id^^^&authority&ISO`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PatientId {
    /// Component 1: the identifier (for an INS, the matricule).
    pub id: String,
    /// Component 4, second sub-component: the OID of the assigning authority.
    pub authority: Option<String>,
}

impl PatientId {
    /// Reads a `CX`; `None` without an identifier.
    #[must_use]
    pub fn parse(cx: &str) -> Option<PatientId> {
        let components: Vec<&str> = cx.split('^').collect();
        Some(PatientId {
            id: component(components.first()?)?,
            authority: components
                .get(3)
                .and_then(|c| c.split('&').nth(1))
                .and_then(component),
        })
    }

    /// The `CX` of this identifier.
    #[must_use]
    pub fn to_cx(&self) -> String {
        let id = component(&self.id).unwrap_or_default();
        match self.authority.as_deref().and_then(component) {
            Some(oid) => format!("{id}^^^&{oid}&ISO"),
            None => id,
        }
    }
}

/// One document of a subset, as its DocumentEntry describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DocumentEntry {
    /// The entry's id in the metadata (`ExtrinsicObject/@id`).
    pub entry_id: String,
    /// `uniqueId`: the document's identifier everywhere (a CDA's `id`).
    pub unique_id: String,
    /// `mimeType`.
    pub mime_type: String,
    /// The `URI` slot: the file, relative to the subset's directory.
    pub uri: String,
    /// The `hash` slot: SHA-1 of the file, lower-case hex.
    pub hash: Option<String>,
    /// The `size` slot, bytes.
    pub size: Option<u64>,
    /// The title (`Name`).
    pub title: Option<String>,
    /// `comments` (`Description`).
    pub comments: Option<String>,
    /// The `creationTime` slot (HL7 `DTM`, UTC).
    pub creation_time: Option<String>,
    /// The `languageCode` slot.
    pub language: Option<String>,
    /// `typeCode`.
    pub type_code: Option<Code>,
    /// `classCode`.
    pub class_code: Option<Code>,
    /// `formatCode`.
    pub format_code: Option<Code>,
    /// `healthcareFacilityTypeCode`.
    pub facility_type_code: Option<Code>,
    /// `practiceSettingCode`.
    pub practice_setting_code: Option<Code>,
    /// `confidentialityCode` (one or more).
    pub confidentiality: Vec<Code>,
    /// `author` (zero or more).
    pub authors: Vec<Author>,
    /// `patientId`.
    pub patient_id: Option<PatientId>,
    /// The `sourcePatientId` slot.
    pub source_patient_id: Option<PatientId>,
    /// The `serviceStartTime` slot.
    pub service_start_time: Option<String>,
    /// The `serviceStopTime` slot.
    pub service_stop_time: Option<String>,
}

/// The SubmissionSet of a subset: who sent what, when.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmissionSet {
    /// The package's id in the metadata (`RegistryPackage/@id`).
    pub entry_id: String,
    /// `uniqueId`.
    pub unique_id: Option<String>,
    /// `sourceId`: the sender's OID.
    pub source_id: Option<String>,
    /// `patientId`.
    pub patient_id: Option<PatientId>,
    /// The `submissionTime` slot (HL7 `DTM`, UTC).
    pub submission_time: Option<String>,
    /// The title (`Name`).
    pub title: Option<String>,
    /// `comments` (`Description`).
    pub comments: Option<String>,
    /// `author` (zero or more).
    pub authors: Vec<Author>,
    /// `contentTypeCode`.
    pub content_type: Option<Code>,
}

/// What one subset's `METADATA.XML` says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Submission {
    /// The SubmissionSet (an XDM subset has one; `None` if the producer left it out).
    pub set: Option<SubmissionSet>,
    /// The documents, in the order the metadata lists them.
    pub documents: Vec<DocumentEntry>,
}

/// How much metadata the reader accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest `METADATA.XML`, bytes.
    pub max_bytes: u64,
    /// Most documents (and packages) in one subset.
    pub max_documents: usize,
    /// Most slots, classifications or identifiers on one object, and values in one slot.
    pub max_values: usize,
    /// Longest value, bytes.
    pub max_field_bytes: usize,
}

impl Default for Limits {
    /// 16 MiB, 1,000 documents, 64 values, 4 KiB each: far above any MSSanté message.
    fn default() -> Self {
        Limits {
            max_bytes: 16 * 1024 * 1024,
            max_documents: 1000,
            max_values: 64,
            max_field_bytes: 4096,
        }
    }
}

impl Limits {
    /// The XML reader's limits for metadata of at most [`Limits::max_bytes`].
    fn xml(&self) -> carnet_cda::Limits {
        carnet_cda::Limits {
            max_event_bytes: 1024 * 1024,
            max_document_bytes: self.max_bytes,
            max_embedded_bytes: 0,
            max_depth: 32,
            max_events: 1_000_000,
            max_field_bytes: self.max_field_bytes,
            max_repeats: self.max_values,
        }
    }
}
