//! The CDA reader: one pass over the document's XML events, the header's fields picked by
//! their path from the root, the level-1 body's base64 decoded as it streams past.

use std::io::{BufRead, Write};

use base64::Engine as _;
use quick_xml::events::BytesStart;

use crate::events::{Events, Item, attribute, local_name};
use crate::header::{Author, Body, Cda, Code, InstanceId, PersonName, ServiceEvent, Timestamp};
use crate::{CdaError, Limits};

/// The element names from the root to the current element (the root first).
type Path = Vec<String>;

const ROOT: &str = "ClinicalDocument";
/// The root of a self-presenting (« auto-présentable ») document: an XSLT stylesheet that
/// carries the CDA in `data:Contenu` and renders it.
const WRAPPER: &str = "stylesheet";

/// Reads a CDA document from `input`, writing the embedded file of a level-1 body to
/// `embedded` as it is decoded (nothing is written for another body).
///
/// # Errors
/// [`CdaError`]: malformed or hostile XML, a root that is not `ClinicalDocument`, a DTD,
/// a limit passed, a body that does not decode, a read or write that fails.
pub fn read(
    input: impl BufRead,
    embedded: &mut dyn Write,
    limits: &Limits,
) -> Result<Cda, CdaError> {
    let mut events = Events::new(input, limits);
    let mut state = State {
        max_embedded: limits.max_embedded_bytes,
        ..State::default()
    };
    loop {
        if let Some(sink) = state.base64.as_mut() {
            events.raw_text(|chunk| sink.push(chunk, embedded))?;
        }
        match events.next_item()? {
            Item::Open(element) => state.open(&element, limits)?,
            Item::Close => state.close(embedded)?,
            Item::Text(text) => state.text(&text, limits)?,
            Item::End => break,
        }
    }
    if state.document.is_none() {
        return Err(CdaError::NotCda(format!("it has no <{ROOT}> element")));
    }
    Ok(state.cda)
}

/// Base64 text decoded as it arrives: line breaks and spaces skipped, whole quads decoded
/// in steps of [`BASE64_CHUNK`], the rest kept for the next chunk. Lines are found with
/// `memchr` and copied whole: the text is never looked at byte by byte on the way.
#[derive(Default)]
struct Base64Sink {
    pending: Vec<u8>,
    decoded: Vec<u8>,
    written: u64,
    max: u64,
}

/// Bytes of base64 decoded at once.
const BASE64_CHUNK: usize = 64 * 1024;

fn is_space(byte: &u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

impl Base64Sink {
    fn push(&mut self, text: &[u8], out: &mut dyn Write) -> Result<(), CdaError> {
        let mut rest = text;
        while !rest.is_empty() {
            let (line, next) = match memchr::memchr(b'\n', rest) {
                Some(at) => (
                    rest.get(..at).unwrap_or_default(),
                    rest.get(at + 1..).unwrap_or_default(),
                ),
                None => (rest, &[][..]),
            };
            let line = line.trim_ascii();
            self.pending.extend_from_slice(line);
            rest = next;
            if self.pending.len() >= BASE64_CHUNK {
                self.flush(false, out)?;
            }
        }
        Ok(())
    }

    /// Decodes what is pending: whole quads, or everything at the end.
    fn flush(&mut self, last: bool, out: &mut dyn Write) -> Result<(), CdaError> {
        if !self.decode_pending(last) {
            // Spaces inside a line (rare): taken out, then the quads counted again.
            self.pending.retain(|b| !is_space(b));
            if !last && self.pending.len() < BASE64_CHUNK {
                return Ok(());
            }
            if !self.decode_pending(last) {
                return Err(CdaError::Body(if self.pending.contains(&b'&') {
                    "an entity reference inside the base64 text".into()
                } else {
                    "its base64 text does not decode".into()
                }));
            }
        }
        self.write(out)
    }

    /// Decodes the pending whole quads (everything at the end) into `decoded` and drops them
    /// from `pending`; `false`, `pending` untouched, when they do not decode.
    fn decode_pending(&mut self, last: bool) -> bool {
        let take = if last {
            self.pending.len()
        } else {
            self.pending.len() - self.pending.len() % 4
        };
        self.decoded.clear();
        let quads = self.pending.get(..take).unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode_vec(quads, &mut self.decoded)
            .is_ok();
        if decoded {
            self.pending.drain(..take);
        }
        decoded
    }

    fn write(&mut self, out: &mut dyn Write) -> Result<(), CdaError> {
        self.written += self.decoded.len() as u64;
        if self.written > self.max {
            return Err(CdaError::TooLarge {
                what: "the embedded file",
                limit: format!("{} bytes", self.max),
            });
        }
        out.write_all(&self.decoded)
            .map_err(|e| CdaError::Io(format!("the embedded file cannot be written: {e}")))
    }
}

/// What a header field's text goes to once its element closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Title,
    PatientFamily(FamilyKind),
    PatientGiven(GivenKind),
    BirthPlace,
    AuthorName(NamePart),
    AuthorOrganisation,
    Custodian,
    SectionTitle,
    /// The text of a level-1 body in representation `TXT`.
    BodyText,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FamilyKind {
    Birth,
    Used,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GivenKind {
    All,
    First,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NamePart {
    Prefix,
    Given,
    Family,
}

/// Text being gathered for a field, and the depth of its element.
struct Capture {
    field: Field,
    depth: usize,
    text: String,
}

#[derive(Default)]
struct State {
    path: Path,
    seen_root: bool,
    /// Where `ClinicalDocument` is in the path (0, or 2 inside a self-presenting
    /// stylesheet), once met.
    document: Option<usize>,
    cda: Cda,
    capture: Option<Capture>,
    base64: Option<Base64Sink>,
    /// `documentationOf` elements met (only the first is read).
    service_events: usize,
    /// Bytes of a `TXT` body written so far.
    body_text_bytes: u64,
    max_embedded: u64,
}

/// A coded element's code, system and display name (`nullFlavor` and codeless ones: `None`).
pub(crate) fn code_of(element: &BytesStart<'_>) -> Result<Option<Code>, CdaError> {
    Ok(attribute(element, "code")?.map(|code| Code {
        code,
        system: attribute(element, "codeSystem").ok().flatten(),
        display: attribute(element, "displayName").ok().flatten(),
    }))
}

fn id_of(element: &BytesStart<'_>) -> Result<Option<InstanceId>, CdaError> {
    Ok(attribute(element, "root")?.map(|root| InstanceId {
        root,
        extension: attribute(element, "extension").ok().flatten(),
    }))
}

/// A timestamp element's `value`.
pub(crate) fn time_of(element: &BytesStart<'_>) -> Result<Option<Timestamp>, CdaError> {
    Ok(attribute(element, "value")?.map(|text| Timestamp::parse(&text)))
}

/// Whether the element's path (root first) is `expected`.
fn at(path: &[String], expected: &[&str]) -> bool {
    path.len() == expected.len() && path.iter().zip(expected).all(|(a, b)| a == b)
}

const PATIENT: [&str; 4] = [ROOT, "recordTarget", "patientRole", "patient"];
const ASSIGNED_AUTHOR: [&str; 3] = [ROOT, "author", "assignedAuthor"];

impl State {
    fn open(&mut self, element: &BytesStart<'_>, limits: &Limits) -> Result<(), CdaError> {
        let name = local_name(element);
        if self.path.is_empty() {
            if self.seen_root || (name != ROOT && name != WRAPPER) {
                return Err(CdaError::NotCda(format!(
                    "its root element is <{name}>, not <{ROOT}>"
                )));
            }
            self.seen_root = true;
            if name == ROOT {
                self.document = Some(0);
            }
        } else if self.document.is_none()
            && self.path.len() == 2
            && name == ROOT
            && at(&self.path, &[WRAPPER, "Contenu"])
        {
            // A self-presenting document: the CDA inside its own stylesheet.
            self.document = Some(2);
        }
        self.path.push(name);
        // Paths are matched from the ClinicalDocument element; nothing outside it is read.
        let Some(path) = self.document.and_then(|base| self.path.get(base..)) else {
            return Ok(());
        };
        let depth = self.path.len();
        let header = &mut self.cda.header;
        let mut capture = None;
        if at(path, &[ROOT, "id"]) {
            header.id = id_of(element)?;
        } else if at(path, &[ROOT, "setId"]) {
            header.set_id = id_of(element)?;
        } else if at(path, &[ROOT, "versionNumber"]) {
            header.version = attribute(element, "value")?.and_then(|v| v.parse().ok());
        } else if at(path, &[ROOT, "code"]) {
            header.type_code = code_of(element)?;
        } else if at(path, &[ROOT, "title"]) {
            capture = Some(Field::Title);
        } else if at(path, &[ROOT, "effectiveTime"]) {
            header.created = time_of(element)?;
        } else if at(path, &[ROOT, "confidentialityCode"]) {
            header.confidentiality = attribute(element, "code")?;
        } else if at(path, &[ROOT, "languageCode"]) {
            header.language = attribute(element, "code")?;
        } else if at(path, &[ROOT, "recordTarget", "patientRole", "id"]) {
            if let Some(id) = id_of(element)? {
                push_bounded(&mut header.patient.ids, id, limits)?;
            }
        } else if path.starts_with_names(&PATIENT, &["name", "family"]) {
            capture = Some(Field::PatientFamily(
                match attribute(element, "qualifier")?.as_deref() {
                    Some("SP" | "CL") => FamilyKind::Used,
                    _ => FamilyKind::Birth,
                },
            ));
        } else if path.starts_with_names(&PATIENT, &["name", "given"]) {
            capture = Some(Field::PatientGiven(
                match attribute(element, "qualifier")?.as_deref() {
                    None => GivenKind::All,
                    Some("BR") => GivenKind::First,
                    Some(_) => GivenKind::Other,
                },
            ));
        } else if path.starts_with_names(&PATIENT, &["administrativeGenderCode"]) {
            header.patient.sex = attribute(element, "code")?;
        } else if path.starts_with_names(&PATIENT, &["birthTime"]) {
            header.patient.birth_date = attribute(element, "value")?;
        } else if path.starts_with_names(&PATIENT, &["birthplace", "place", "addr", "county"]) {
            capture = Some(Field::BirthPlace);
        } else if at(path, &[ROOT, "author"]) {
            push_bounded(&mut header.authors, Author::default(), limits)?;
        } else if at(path, &[ROOT, "author", "time"]) {
            if let Some(author) = header.authors.last_mut() {
                author.time = time_of(element)?;
            }
        } else if path.starts_with_names(&ASSIGNED_AUTHOR, &["id"]) {
            if let (Some(author), Some(id)) = (header.authors.last_mut(), id_of(element)?) {
                push_bounded(&mut author.ids, id, limits)?;
            }
        } else if path.starts_with_names(&ASSIGNED_AUTHOR, &["code"]) {
            if let Some(author) = header.authors.last_mut() {
                author.role = code_of(element)?;
            }
        } else if path.starts_with_names(&ASSIGNED_AUTHOR, &["assignedPerson", "name"]) {
            if let Some(author) = header.authors.last_mut() {
                author.name.get_or_insert_with(PersonName::default);
            }
        } else if let Some(part) = author_name_part(path) {
            capture = Some(Field::AuthorName(part));
        } else if path.starts_with_names(&ASSIGNED_AUTHOR, &["representedOrganization", "name"]) {
            capture = Some(Field::AuthorOrganisation);
        } else if at(
            path,
            &[
                ROOT,
                "custodian",
                "assignedCustodian",
                "representedCustodianOrganization",
                "name",
            ],
        ) {
            capture = Some(Field::Custodian);
        } else if at(path, &[ROOT, "documentationOf"]) {
            self.service_events += 1;
        } else if self.service_events == 1 && at(path, &[ROOT, "documentationOf", "serviceEvent"]) {
            header.service_event = Some(ServiceEvent::default());
        } else if self.service_events == 1
            && at(path, &[ROOT, "documentationOf", "serviceEvent", "code"])
        {
            if let Some(event) = header.service_event.as_mut() {
                event.code = code_of(element)?;
            }
        } else if self.service_events == 1
            && (at(
                path,
                &[
                    ROOT,
                    "documentationOf",
                    "serviceEvent",
                    "effectiveTime",
                    "low",
                ],
            ) || at(
                path,
                &[
                    ROOT,
                    "documentationOf",
                    "serviceEvent",
                    "effectiveTime",
                    "high",
                ],
            ))
        {
            let time = time_of(element)?;
            if let Some(event) = header.service_event.as_mut() {
                if path.last().is_some_and(|n| n == "low") {
                    event.start = time;
                } else {
                    event.end = time;
                }
            }
        } else if at(path, &[ROOT, "component", "nonXMLBody"]) {
            self.cda.body = Body::Unstructured {
                media_type: String::new(),
                size: 0,
            };
        } else if at(path, &[ROOT, "component", "nonXMLBody", "text"]) {
            let media_type = attribute(element, "mediaType")?
                .unwrap_or_else(|| "text/plain".to_owned())
                .to_ascii_lowercase();
            if !EMBEDDED_TYPES.contains(&media_type.as_str()) {
                return Err(CdaError::Body(format!(
                    "its media type {media_type:?} is not one of {}",
                    EMBEDDED_TYPES.join(", ")
                )));
            }
            self.cda.body = Body::Unstructured {
                media_type,
                size: 0,
            };
            match attribute(element, "representation")?.as_deref() {
                Some("B64") => {
                    self.base64 = Some(Base64Sink {
                        max: limits.max_embedded_bytes,
                        ..Base64Sink::default()
                    });
                }
                None | Some("TXT") => capture = Some(Field::BodyText),
                Some(other) => {
                    return Err(CdaError::Body(format!(
                        "its representation {other:?} is neither B64 nor TXT"
                    )));
                }
            }
        } else if at(path, &[ROOT, "component", "structuredBody"]) {
            self.cda.body = Body::Structured {
                section_titles: Vec::new(),
            };
        } else if path.len() > 4
            && path
                .get(..3)
                .is_some_and(|p| at(p, &[ROOT, "component", "structuredBody"]))
            && path.ends_with_names(&["section", "title"])
        {
            capture = Some(Field::SectionTitle);
        }
        if let Some(field) = capture
            && self.capture.is_none()
        {
            self.capture = Some(Capture {
                field,
                depth,
                text: String::new(),
            });
        }
        Ok(())
    }

    fn text(&mut self, text: &str, limits: &Limits) -> Result<(), CdaError> {
        let Some(capture) = self.capture.as_mut() else {
            return Ok(());
        };
        if capture.field == Field::BodyText {
            self.body_text_bytes += text.len() as u64;
            if self.body_text_bytes > self.max_embedded {
                return Err(CdaError::TooLarge {
                    what: "the embedded file",
                    limit: format!("{} bytes", self.max_embedded),
                });
            }
        } else if capture.text.len() + text.len() > limits.max_field_bytes {
            return Err(CdaError::TooLarge {
                what: "a header field",
                limit: format!("{} bytes", limits.max_field_bytes),
            });
        }
        capture.text.push_str(text);
        Ok(())
    }

    fn close(&mut self, embedded: &mut dyn Write) -> Result<(), CdaError> {
        let depth = self.path.len();
        if let Some(mut sink) = self.base64.take() {
            sink.flush(true, embedded)?;
            if let Body::Unstructured { size, .. } = &mut self.cda.body {
                *size = sink.written;
            }
        }
        if self.capture.as_ref().is_some_and(|c| c.depth == depth)
            && let Some(capture) = self.capture.take()
        {
            self.finish(capture, embedded)?;
        }
        self.path.pop();
        Ok(())
    }

    fn finish(&mut self, capture: Capture, embedded: &mut dyn Write) -> Result<(), CdaError> {
        if capture.field == Field::BodyText {
            embedded
                .write_all(capture.text.as_bytes())
                .map_err(|e| CdaError::Io(format!("the embedded file cannot be written: {e}")))?;
            if let Body::Unstructured { size, .. } = &mut self.cda.body {
                *size = capture.text.len() as u64;
            }
            return Ok(());
        }
        let text = capture
            .text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if text.is_empty() {
            return Ok(());
        }
        let header = &mut self.cda.header;
        let patient = &mut header.patient;
        match capture.field {
            Field::Title => header.title = Some(text),
            Field::PatientFamily(FamilyKind::Birth) => {
                patient.birth_name.get_or_insert(text);
            }
            Field::PatientFamily(FamilyKind::Used) => {
                patient.used_name.get_or_insert(text);
            }
            Field::PatientGiven(GivenKind::All) => {
                patient.given_names.get_or_insert(text);
            }
            Field::PatientGiven(GivenKind::First) => {
                patient.first_given_name.get_or_insert(text);
            }
            Field::PatientGiven(GivenKind::Other) => {}
            Field::BirthPlace => patient.birth_place = Some(text),
            Field::AuthorName(part) => {
                if let Some(name) = header.authors.last_mut().and_then(|a| a.name.as_mut()) {
                    match part {
                        NamePart::Prefix => name.prefix = Some(text),
                        NamePart::Given => name.given.push(text),
                        NamePart::Family => name.family = Some(text),
                    }
                }
            }
            Field::AuthorOrganisation => {
                if let Some(author) = header.authors.last_mut() {
                    author.organisation = Some(text);
                }
            }
            Field::Custodian => header.custodian = Some(text),
            Field::SectionTitle => {
                if let Body::Structured { section_titles } = &mut self.cda.body
                    && section_titles.len() < MAX_SECTIONS
                {
                    section_titles.push(text);
                }
            }
            Field::BodyText => {}
        }
        Ok(())
    }
}

/// Most section titles kept.
const MAX_SECTIONS: usize = 10_000;

/// The media types a level-1 body may carry (CI-SIS).
pub const EMBEDDED_TYPES: [&str; 6] = [
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/tiff",
    "text/plain",
    "text/rtf",
];

fn author_name_part(path: &[String]) -> Option<NamePart> {
    let name: Vec<&str> = ASSIGNED_AUTHOR
        .iter()
        .copied()
        .chain(["assignedPerson", "name"])
        .collect();
    if path.len() != name.len() + 1 || !at(path.get(..name.len())?, &name) {
        return None;
    }
    match path.last()?.as_str() {
        "prefix" => Some(NamePart::Prefix),
        "given" => Some(NamePart::Given),
        "family" => Some(NamePart::Family),
        _ => None,
    }
}

fn push_bounded<T>(items: &mut Vec<T>, item: T, limits: &Limits) -> Result<(), CdaError> {
    if items.len() >= limits.max_repeats {
        return Err(CdaError::TooLarge {
            what: "a repeated header element",
            limit: format!("{} occurrences", limits.max_repeats),
        });
    }
    items.push(item);
    Ok(())
}

/// Path matching against a fixed start and end.
trait PathExt {
    /// The path is `start` followed by exactly `rest`.
    fn starts_with_names(&self, start: &[&str], rest: &[&str]) -> bool;
    /// The path ends with `end`.
    fn ends_with_names(&self, end: &[&str]) -> bool;
}

impl PathExt for [String] {
    fn starts_with_names(&self, start: &[&str], rest: &[&str]) -> bool {
        self.len() == start.len() + rest.len()
            && self
                .iter()
                .zip(start.iter().chain(rest))
                .all(|(a, b)| a == b)
    }

    fn ends_with_names(&self, end: &[&str]) -> bool {
        self.len() >= end.len() && self.iter().rev().zip(end.iter().rev()).all(|(a, b)| a == b)
    }
}
