//! `METADATA.XML` written for export: the SubmissionSet, one DocumentEntry per file and the
//! HasMember association of each, as ebRIM 3.0 with the `lcm:` and `rim:` prefixes.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event};

use crate::{Author, Code, DocumentEntry, Submission, scheme};

const LCM: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0";
const RIM: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0";

/// Writes a subset's `METADATA.XML`. Every value is escaped by the XML writer; ids of the
/// objects inside are symbolic (`Document01`, `SubmissionSet01`…), as a submission may use.
#[must_use]
pub fn write_metadata(submission: &Submission) -> Vec<u8> {
    let mut out = Out {
        writer: Writer::new_with_indent(Vec::new(), b' ', 2),
        next_id: 0,
    };
    out.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    out.open(
        "lcm:SubmitObjectsRequest",
        &[("xmlns:lcm", LCM), ("xmlns:rim", RIM)],
    );
    out.open("rim:RegistryObjectList", &[]);
    let set_id = submission
        .set
        .as_ref()
        .map_or_else(|| "SubmissionSet01".to_owned(), |s| s.entry_id.clone());
    for document in &submission.documents {
        out.document(document);
    }
    if let Some(set) = &submission.set {
        out.open("rim:RegistryPackage", &[("id", &set.entry_id)]);
        if let Some(time) = &set.submission_time {
            out.slot("submissionTime", std::slice::from_ref(time));
        }
        out.localized("rim:Name", set.title.as_deref());
        out.localized("rim:Description", set.comments.as_deref());
        for author in &set.authors {
            out.author(scheme::SUBMISSION_AUTHOR, &set.entry_id, author);
        }
        if let Some(code) = &set.content_type {
            out.code(scheme::CONTENT_TYPE_CODE, &set.entry_id, code);
        }
        let identifiers = [
            (
                scheme::SUBMISSION_PATIENT_ID,
                set.patient_id.as_ref().map(crate::PatientId::to_cx),
                "XDSSubmissionSet.patientId",
            ),
            (
                scheme::SUBMISSION_SOURCE_ID,
                set.source_id.clone(),
                "XDSSubmissionSet.sourceId",
            ),
            (
                scheme::SUBMISSION_UNIQUE_ID,
                set.unique_id.clone(),
                "XDSSubmissionSet.uniqueId",
            ),
        ];
        for (scheme, value, name) in identifiers {
            if let Some(value) = value {
                out.identifier(scheme, &set.entry_id, &value, name);
            }
        }
        out.close("rim:RegistryPackage");
        let id = out.id("cl");
        out.empty(
            "rim:Classification",
            &[
                ("id", &id),
                ("classifiedObject", &set.entry_id),
                ("classificationNode", scheme::SUBMISSION_SET),
            ],
        );
    }
    for document in &submission.documents {
        let id = out.id("as");
        out.open(
            "rim:Association",
            &[
                ("id", &id),
                ("associationType", scheme::HAS_MEMBER),
                ("sourceObject", &set_id),
                ("targetObject", &document.entry_id),
            ],
        );
        out.slot("SubmissionSetStatus", &["Original".to_owned()]);
        out.close("rim:Association");
    }
    out.close("rim:RegistryObjectList");
    out.close("lcm:SubmitObjectsRequest");
    out.writer.into_inner()
}

/// The writer, with a counter for the symbolic ids of classifications and the like.
struct Out {
    writer: Writer<Vec<u8>>,
    next_id: u32,
}

impl Out {
    fn event(&mut self, event: Event<'_>) {
        // Writing to a Vec cannot fail.
        let _ = self.writer.write_event(event);
    }

    fn open(&mut self, name: &str, attributes: &[(&str, &str)]) {
        let mut start = BytesStart::new(name);
        start.extend_attributes(attributes.iter().copied());
        self.event(Event::Start(start));
    }

    fn empty(&mut self, name: &str, attributes: &[(&str, &str)]) {
        let mut start = BytesStart::new(name);
        start.extend_attributes(attributes.iter().copied());
        self.event(Event::Empty(start));
    }

    fn close(&mut self, name: &str) {
        self.event(Event::End(BytesEnd::new(name)));
    }

    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{:02}", self.next_id)
    }

    fn slot(&mut self, name: &str, values: &[String]) {
        self.open("rim:Slot", &[("name", name)]);
        self.open("rim:ValueList", &[]);
        for value in values {
            self.event(Event::Start(BytesStart::new("rim:Value")));
            self.event(Event::Text(quick_xml::events::BytesText::new(value)));
            self.close("rim:Value");
        }
        self.close("rim:ValueList");
        self.close("rim:Slot");
    }

    fn localized(&mut self, element: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.open(element, &[]);
            self.empty("rim:LocalizedString", &[("value", text)]);
            self.close(element);
        }
    }

    /// Opens a Classification of `object` under `scheme` (closed by the caller).
    fn open_classification(&mut self, scheme: &str, object: &str, node: &str) {
        let id = self.id("cl");
        self.open(
            "rim:Classification",
            &[
                ("id", &id),
                ("classificationScheme", scheme),
                ("classifiedObject", object),
                ("nodeRepresentation", node),
            ],
        );
    }

    fn code(&mut self, scheme: &str, object: &str, code: &Code) {
        self.open_classification(scheme, object, &code.code);
        if let Some(coding_scheme) = &code.scheme {
            self.slot("codingScheme", std::slice::from_ref(coding_scheme));
        }
        self.localized("rim:Name", code.display.as_deref());
        self.close("rim:Classification");
    }

    fn author(&mut self, scheme: &str, object: &str, author: &Author) {
        self.open_classification(scheme, object, "");
        if let Some(person) = &author.person {
            self.slot("authorPerson", &[person.to_xcn()]);
        }
        for (name, values) in [
            ("authorInstitution", &author.institutions),
            ("authorRole", &author.roles),
            ("authorSpecialty", &author.specialties),
        ] {
            if !values.is_empty() {
                self.slot(name, values);
            }
        }
        self.close("rim:Classification");
    }

    fn identifier(&mut self, scheme: &str, object: &str, value: &str, name: &str) {
        let id = self.id("ei");
        self.open(
            "rim:ExternalIdentifier",
            &[
                ("id", &id),
                ("identificationScheme", scheme),
                ("registryObject", object),
                ("value", value),
            ],
        );
        self.localized("rim:Name", Some(name));
        self.close("rim:ExternalIdentifier");
    }

    fn document(&mut self, document: &DocumentEntry) {
        let id = document.entry_id.as_str();
        self.open(
            "rim:ExtrinsicObject",
            &[
                ("id", id),
                ("mimeType", &document.mime_type),
                ("objectType", scheme::STABLE_DOCUMENT_ENTRY),
            ],
        );
        let slots = [
            ("creationTime", document.creation_time.clone()),
            ("hash", document.hash.clone()),
            ("languageCode", document.language.clone()),
            ("serviceStartTime", document.service_start_time.clone()),
            ("serviceStopTime", document.service_stop_time.clone()),
            ("size", document.size.map(|s| s.to_string())),
            (
                "sourcePatientId",
                document
                    .source_patient_id
                    .as_ref()
                    .map(crate::PatientId::to_cx),
            ),
            ("URI", Some(document.uri.clone())),
        ];
        for (name, value) in slots {
            if let Some(value) = value {
                self.slot(name, &[value]);
            }
        }
        self.localized("rim:Name", document.title.as_deref());
        self.localized("rim:Description", document.comments.as_deref());
        for author in &document.authors {
            self.author(scheme::DOCUMENT_AUTHOR, id, author);
        }
        let codes = [
            (scheme::CLASS_CODE, document.class_code.as_ref()),
            (scheme::FORMAT_CODE, document.format_code.as_ref()),
            (
                scheme::FACILITY_TYPE_CODE,
                document.facility_type_code.as_ref(),
            ),
            (
                scheme::PRACTICE_SETTING_CODE,
                document.practice_setting_code.as_ref(),
            ),
            (scheme::TYPE_CODE, document.type_code.as_ref()),
        ];
        for confidentiality in &document.confidentiality {
            self.code(scheme::CONFIDENTIALITY_CODE, id, confidentiality);
        }
        for (scheme, code) in codes {
            if let Some(code) = code {
                self.code(scheme, id, code);
            }
        }
        if let Some(patient) = &document.patient_id {
            self.identifier(
                scheme::DOCUMENT_PATIENT_ID,
                id,
                &patient.to_cx(),
                "XDSDocumentEntry.patientId",
            );
        }
        self.identifier(
            scheme::DOCUMENT_UNIQUE_ID,
            id,
            &document.unique_id,
            "XDSDocumentEntry.uniqueId",
        );
        self.close("rim:ExtrinsicObject");
    }
}
