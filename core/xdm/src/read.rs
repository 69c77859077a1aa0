//! `METADATA.XML` read as a stream: each registry object (ExtrinsicObject, RegistryPackage)
//! gathered with its slots, classifications and external identifiers, then turned into the
//! typed entries once it closes.

use std::collections::HashSet;
use std::io::BufRead;

use carnet_cda::xml::{BytesStart, Events, Item, attribute, local_name};

use crate::{
    Author, Code, DocumentEntry, Limits, PatientId, Person, Submission, SubmissionSet, XdmError,
    scheme,
};

/// A `Slot`: its name and values.
#[derive(Default)]
struct Slot {
    name: String,
    values: Vec<String>,
}

/// A `Classification`, as written.
#[derive(Default)]
struct Classification {
    scheme: Option<String>,
    node: Option<String>,
    classified: Option<String>,
    representation: Option<String>,
    slots: Vec<Slot>,
    name: Option<String>,
}

/// An `ExtrinsicObject` or a `RegistryPackage`, as written.
#[derive(Default)]
struct RegistryObject {
    package: bool,
    id: Option<String>,
    mime_type: Option<String>,
    object_type: Option<String>,
    slots: Vec<Slot>,
    classifications: Vec<Classification>,
    identifiers: Vec<(String, String)>,
    name: Option<String>,
    description: Option<String>,
}

/// Where the reader is.
#[derive(Default)]
struct State {
    path: Vec<String>,
    object: Option<RegistryObject>,
    classification: Option<Classification>,
    slot: Option<Slot>,
    value: Option<String>,
    objects: Vec<RegistryObject>,
    /// Packages a top-level Classification makes the SubmissionSet.
    submission_sets: HashSet<String>,
}

/// Reads one subset's `METADATA.XML`: its SubmissionSet and DocumentEntries.
///
/// # Errors
/// [`XdmError::Xml`] for hostile or malformed XML, [`XdmError::NotSubmission`] when the root
/// is not a `SubmitObjectsRequest`, [`XdmError::Entry`] for an entry missing what it must
/// have, [`XdmError::TooMany`] past [`Limits`].
pub fn read_metadata(input: impl BufRead, limits: &Limits) -> Result<Submission, XdmError> {
    let mut events = Events::new(input, &limits.xml());
    let mut state = State::default();
    loop {
        match events.next_item()? {
            Item::Open(element) => {
                let name = local_name(&element);
                if state.path.is_empty() && name != "SubmitObjectsRequest" {
                    return Err(XdmError::NotSubmission(format!(
                        "its root element is {name}"
                    )));
                }
                state.open(&name, &element, limits)?;
                state.path.push(name);
            }
            Item::Text(text) => {
                if let Some(value) = &mut state.value {
                    if value.len() + text.len() > limits.max_field_bytes {
                        return Err(XdmError::TooMany("characters in one value"));
                    }
                    value.push_str(&text);
                }
            }
            Item::Close => {
                let name = state.path.pop().unwrap_or_default();
                state.close(&name, limits)?;
            }
            Item::End => break,
        }
    }
    state.into_submission()
}

impl State {
    fn open(
        &mut self,
        name: &str,
        element: &BytesStart<'_>,
        limits: &Limits,
    ) -> Result<(), XdmError> {
        let attr = |name: &str| attribute(element, name);
        match name {
            "ExtrinsicObject" | "RegistryPackage" if self.object.is_none() => {
                if self.objects.len() >= limits.max_documents {
                    return Err(XdmError::TooMany("documents"));
                }
                self.object = Some(RegistryObject {
                    package: name == "RegistryPackage",
                    id: attr("id")?,
                    mime_type: attr("mimeType")?,
                    object_type: attr("objectType")?,
                    ..RegistryObject::default()
                });
            }
            "Classification" if self.classification.is_none() => {
                self.classification = Some(Classification {
                    scheme: attr("classificationScheme")?,
                    node: attr("classificationNode")?,
                    classified: attr("classifiedObject")?,
                    representation: attr("nodeRepresentation")?,
                    ..Classification::default()
                });
            }
            "Slot" if self.slot.is_none() => {
                self.slot = Some(Slot {
                    name: attr("name")?.unwrap_or_default(),
                    values: Vec::new(),
                });
            }
            "Value" if self.slot.is_some() => self.value = Some(String::new()),
            "LocalizedString" => {
                // The name of what holds the Name or Description: the object itself, one of
                // its classifications, or something else (an ExternalIdentifier's own name).
                let text = attr("value")?;
                let (holder, parent) = match self.path.as_slice() {
                    [.., holder, parent] => (holder.as_str(), parent.as_str()),
                    _ => ("", ""),
                };
                match (holder, parent, &mut self.classification, &mut self.object) {
                    ("Classification", "Name", Some(classification), _) => {
                        classification.name = text;
                    }
                    ("ExtrinsicObject" | "RegistryPackage", "Name", None, Some(object)) => {
                        object.name = text;
                    }
                    ("ExtrinsicObject" | "RegistryPackage", "Description", None, Some(object)) => {
                        object.description = text;
                    }
                    _ => {}
                }
            }
            "ExternalIdentifier" => {
                if let (Some(object), Some(scheme), Some(value)) = (
                    &mut self.object,
                    attr("identificationScheme")?,
                    attr("value")?,
                ) {
                    if object.identifiers.len() >= limits.max_values {
                        return Err(XdmError::TooMany("identifiers on one object"));
                    }
                    object.identifiers.push((scheme, value));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn close(&mut self, name: &str, limits: &Limits) -> Result<(), XdmError> {
        match name {
            "Value" => {
                if let (Some(value), Some(slot)) = (self.value.take(), &mut self.slot) {
                    if slot.values.len() >= limits.max_values {
                        return Err(XdmError::TooMany("values in one slot"));
                    }
                    slot.values.push(value.trim().to_owned());
                }
            }
            "Slot" => {
                if let Some(slot) = self.slot.take() {
                    let slots = match (&mut self.classification, &mut self.object) {
                        (Some(classification), _) => &mut classification.slots,
                        (None, Some(object)) => &mut object.slots,
                        (None, None) => return Ok(()),
                    };
                    if slots.len() >= limits.max_values {
                        return Err(XdmError::TooMany("slots on one object"));
                    }
                    slots.push(slot);
                }
            }
            "Classification" => {
                if let Some(classification) = self.classification.take() {
                    match &mut self.object {
                        Some(object) => {
                            if object.classifications.len() >= limits.max_values {
                                return Err(XdmError::TooMany("classifications on one object"));
                            }
                            object.classifications.push(classification);
                        }
                        None => {
                            if classification.node.as_deref() == Some(scheme::SUBMISSION_SET)
                                && let Some(package) = classification.classified
                            {
                                self.submission_sets.insert(package);
                            }
                        }
                    }
                }
            }
            "ExtrinsicObject" | "RegistryPackage" => {
                if let Some(object) = self.object.take() {
                    self.objects.push(object);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn into_submission(self) -> Result<Submission, XdmError> {
        let mut submission = Submission::default();
        for object in self.objects {
            if object.package {
                if submission.set.is_none() && object.is_submission_set(&self.submission_sets) {
                    submission.set = Some(object.submission_set());
                }
                // Folders are not read: a person's record has no use for them.
            } else {
                submission.documents.push(object.document_entry()?);
            }
        }
        let mut ids = HashSet::new();
        for document in &submission.documents {
            if !ids.insert(document.unique_id.as_str()) {
                return Err(XdmError::Entry(format!(
                    "two entries have the unique id {}",
                    document.unique_id
                )));
            }
        }
        Ok(submission)
    }
}

impl RegistryObject {
    fn slot(&self, name: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| s.name == name)
    }

    fn first(&self, name: &str) -> Option<String> {
        self.slot(name)?
            .values
            .first()
            .filter(|v| !v.is_empty())
            .cloned()
    }

    fn identifier(&self, scheme: &str) -> Option<String> {
        self.identifiers
            .iter()
            .find(|(s, _)| s == scheme)
            .map(|(_, v)| v.clone())
    }

    fn classified(&self, scheme: &str) -> impl Iterator<Item = &Classification> {
        self.classifications
            .iter()
            .filter(move |c| c.scheme.as_deref() == Some(scheme))
    }

    fn code(&self, scheme: &str) -> Option<Code> {
        self.classified(scheme).find_map(Classification::code)
    }

    fn authors(&self, scheme: &str) -> Vec<Author> {
        self.classified(scheme)
            .map(Classification::author)
            .collect()
    }

    fn is_submission_set(&self, classified: &HashSet<String>) -> bool {
        self.id.as_ref().is_some_and(|id| classified.contains(id))
            || self.identifier(scheme::SUBMISSION_UNIQUE_ID).is_some()
            || self
                .classifications
                .iter()
                .any(|c| c.node.as_deref() == Some(scheme::SUBMISSION_SET))
    }

    fn submission_set(&self) -> SubmissionSet {
        SubmissionSet {
            entry_id: self.id.clone().unwrap_or_default(),
            unique_id: self.identifier(scheme::SUBMISSION_UNIQUE_ID),
            source_id: self.identifier(scheme::SUBMISSION_SOURCE_ID),
            patient_id: self
                .identifier(scheme::SUBMISSION_PATIENT_ID)
                .and_then(|cx| PatientId::parse(&cx)),
            submission_time: self.first("submissionTime"),
            title: self.name.clone(),
            comments: self.description.clone(),
            authors: self.authors(scheme::SUBMISSION_AUTHOR),
            content_type: self.code(scheme::CONTENT_TYPE_CODE),
        }
    }

    fn document_entry(&self) -> Result<DocumentEntry, XdmError> {
        let id = self.id.clone().unwrap_or_default();
        let missing = |what: &str| {
            XdmError::Entry(format!(
                "the document entry {:?} has no {what}",
                id.chars().take(64).collect::<String>()
            ))
        };
        if self
            .object_type
            .as_deref()
            .is_some_and(|t| t != scheme::STABLE_DOCUMENT_ENTRY)
        {
            return Err(XdmError::Entry(format!(
                "the entry {id:?} is not a document on the media (objectType {})",
                self.object_type.as_deref().unwrap_or_default()
            )));
        }
        if id.is_empty() {
            return Err(XdmError::Entry("a document entry has no id".into()));
        }
        let size = self
            .first("size")
            .map(|s| {
                s.parse::<u64>()
                    .map_err(|_| XdmError::Entry(format!("the size of {id:?} is not a number")))
            })
            .transpose()?;
        let hash = self
            .first("hash")
            .map(|h| {
                let h = h.to_ascii_lowercase();
                if h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok(h)
                } else {
                    Err(XdmError::Entry(format!(
                        "the hash of {id:?} is not a SHA-1 in hex"
                    )))
                }
            })
            .transpose()?;
        Ok(DocumentEntry {
            unique_id: self
                .identifier(scheme::DOCUMENT_UNIQUE_ID)
                .ok_or_else(|| missing("uniqueId"))?,
            mime_type: self.mime_type.clone().ok_or_else(|| missing("mimeType"))?,
            uri: self.uri().ok_or_else(|| missing("URI"))?,
            hash,
            size,
            title: self.name.clone(),
            comments: self.description.clone(),
            creation_time: self.first("creationTime"),
            language: self.first("languageCode"),
            type_code: self.code(scheme::TYPE_CODE),
            class_code: self.code(scheme::CLASS_CODE),
            format_code: self.code(scheme::FORMAT_CODE),
            facility_type_code: self.code(scheme::FACILITY_TYPE_CODE),
            practice_setting_code: self.code(scheme::PRACTICE_SETTING_CODE),
            confidentiality: self
                .classified(scheme::CONFIDENTIALITY_CODE)
                .filter_map(Classification::code)
                .collect(),
            authors: self.authors(scheme::DOCUMENT_AUTHOR),
            patient_id: self
                .identifier(scheme::DOCUMENT_PATIENT_ID)
                .and_then(|cx| PatientId::parse(&cx)),
            source_patient_id: self
                .first("sourcePatientId")
                .and_then(|cx| PatientId::parse(&cx)),
            service_start_time: self.first("serviceStartTime"),
            service_stop_time: self.first("serviceStopTime"),
            entry_id: id,
        })
    }

    /// The `URI` slot: one value, or a long URI split into `n|part` values (ITI TF-3
    /// §4.2.3.2.24), put back together in order.
    fn uri(&self) -> Option<String> {
        let values = &self.slot("URI")?.values;
        if let [single] = values.as_slice()
            && !single.contains('|')
        {
            return (!single.is_empty()).then(|| single.clone());
        }
        let mut parts: Vec<(u32, &str)> = values
            .iter()
            .filter_map(|v| {
                let (index, part) = v.split_once('|')?;
                Some((index.trim().parse().ok()?, part))
            })
            .collect();
        if parts.len() != values.len() {
            return None;
        }
        parts.sort_by_key(|(index, _)| *index);
        let uri: String = parts.into_iter().map(|(_, part)| part).collect();
        (!uri.is_empty()).then_some(uri)
    }
}

impl Classification {
    fn code(&self) -> Option<Code> {
        let code = self.representation.clone().filter(|c| !c.is_empty())?;
        Some(Code {
            code,
            scheme: self
                .slots
                .iter()
                .find(|s| s.name == "codingScheme")
                .and_then(|s| s.values.first().cloned()),
            display: self.name.clone(),
        })
    }

    fn author(&self) -> Author {
        let values = |name: &str| -> Vec<String> {
            self.slots
                .iter()
                .filter(|s| s.name == name)
                .flat_map(|s| s.values.iter().filter(|v| !v.is_empty()).cloned())
                .collect()
        };
        Author {
            person: values("authorPerson").first().map(|xcn| Person::parse(xcn)),
            institutions: values("authorInstitution"),
            roles: values("authorRole"),
            specialties: values("authorSpecialty"),
        }
    }
}
