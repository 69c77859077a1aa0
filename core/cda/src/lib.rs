//! HL7 CDA R2 documents as the French CI-SIS profiles them (the documents of Mon espace santé
//! and the DMP): the header — the document's identity and versions, type, date, authors with
//! their RPPS, custodian, care event, and the patient with the INS and its traits — and the
//! body: the embedded file of a level-1 document (`nonXMLBody`: PDF, images, text, RTF),
//! decoded from its base64 as it streams past, or the sections of a level-3 one, rendered to
//! a sanitised, self-contained HTML page or to plain text ([`render`]).
//!
//! Read with `quick-xml` as a stream of events rather than a tree: a level-1 document
//! carrying a 50 MB PDF is decoded in bounded memory, the base64 text going from the input
//! to the sink in 64 KiB steps without ever being held whole. quick-xml never reads a DTD
//! nor expands an entity; Carnet refuses any `<!DOCTYPE` outright (so no billion laughs,
//! no external entity, no external DTD), accepts only the five predefined entities and
//! character references, and bounds each tag or text, the nesting, the number of events,
//! the document and the embedded file ([`Limits`]): hostile XML is a typed [`CdaError`].
//! Elements are matched by their local names along their path from the root.

mod entries;
mod error;
mod events;
mod header;
mod limited;
mod reader;
mod render;
mod time;

pub use entries::{
    ALLERGY_TEMPLATE, Allergy, Finding, LAB_RESULT_TEMPLATE, LabResult, Quantity, ReferenceRange,
    ResultValue, TREATMENT_TEMPLATE, Treatment, VACCINATION_TEMPLATE, Vaccination, findings,
};
pub use error::CdaError;
pub use header::rpps_of_national_id;
pub use header::{
    Author, Body, Cda, Code, Header, INS_ROOTS, InstanceId, Patient, PersonName, RPPS_ROOT,
    ServiceEvent, Timestamp,
};
pub use reader::{EMBEDDED_TYPES, read};

/// The checked stream of XML events under every reader here, for other formats of the same
/// world (IHE XDM metadata): DTDs refused, only predefined entities, UTF-8 only, [`Limits`].
pub mod xml {
    pub use crate::events::{Events, Item, attribute, local_name};
    pub use quick_xml::events::BytesStart;
}
pub use render::{Kind, Node, Rendering, Section, escape as escape_html, render};

/// How much of a document the reader accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest single tag (with its attributes) or text, bytes.
    pub max_event_bytes: u64,
    /// Longest document, bytes.
    pub max_document_bytes: u64,
    /// Largest embedded file once decoded, bytes.
    pub max_embedded_bytes: u64,
    /// Deepest nesting of elements.
    pub max_depth: usize,
    /// Most XML events (tags, texts, comments…).
    pub max_events: u64,
    /// Longest header text field, bytes.
    pub max_field_bytes: usize,
    /// Most occurrences of a repeated header element (authors, identifiers).
    pub max_repeats: usize,
}

impl Default for Limits {
    /// Room for every CI-SIS document (the largest example is 15 MB, nested 30 deep), and
    /// no more: 16 MiB per tag or text, 256 MiB per document and per embedded file, 256
    /// levels, 4 million events, 4 KiB per header field, 64 repeats.
    fn default() -> Self {
        Limits {
            max_event_bytes: 16 * 1024 * 1024,
            max_document_bytes: 256 * 1024 * 1024,
            max_embedded_bytes: 256 * 1024 * 1024,
            max_depth: 256,
            max_events: 4_000_000,
            max_field_bytes: 4096,
            max_repeats: 64,
        }
    }
}

/// Whether `head` (the first bytes of a file) is the start of a CDA document: an XML prolog
/// (declaration, processing instructions, comments, whitespace, in any length that fits)
/// then a `ClinicalDocument` root — or, for a self-presenting document, its `xsl:stylesheet`
/// root and `data:Contenu` around the `ClinicalDocument`.
#[must_use]
pub fn looks_like_cda(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let mut reader = quick_xml::Reader::from_reader(head);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_event_into(&mut buf) {
            Ok(
                quick_xml::events::Event::Start(element) | quick_xml::events::Event::Empty(element),
            ) => {
                match element.local_name().as_ref() {
                    "ClinicalDocument" => return true,
                    // A self-presenting document: its stylesheet, then the CDA inside.
                    "stylesheet" | "Contenu" => {}
                    _ => return false,
                }
            }
            Ok(quick_xml::events::Event::Text(text)) if text.trim().is_empty() => {}
            Ok(
                quick_xml::events::Event::Decl(_)
                | quick_xml::events::Event::PI(_)
                | quick_xml::events::Event::Comment(_)
                | quick_xml::events::Event::DocType(_),
            ) => {}
            _ => return false,
        }
    }
}
