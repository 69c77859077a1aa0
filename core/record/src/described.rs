//! What a CDA's header says of a document, filling in what the caller leaves unsaid: the
//! title, the type, the author, the date, the patient (INS and traits, for identity
//! vigilance), the confidentiality, and the identifiers that tell versions apart.

use std::io::{BufRead, Read};

use carnet_cda::{Header, InstanceId, Limits};

use crate::document::{Confidentiality, NewDocument};
use crate::model::{Coding, LOINC, system_of_oid};
use crate::record::Professional;
use crate::vigilance::NamedPatient;

/// `new` with what the caller left unsaid taken from a CDA header: the title, the type, the
/// first author (name and RPPS), the creation time, the patient (INS, name, sex, birth
/// date), the document's id, set and version; the confidentiality is the stricter of the two.
#[must_use]
pub fn metadata_from_cda(new: &NewDocument, header: &Header) -> NewDocument {
    let title = match new.title.trim() {
        "" => header
            .title
            .clone()
            .or_else(|| header.type_code.as_ref().and_then(|c| c.display.clone()))
            .unwrap_or_default(),
        given => given.to_owned(),
    };
    let type_code = new.type_code.clone().or_else(|| {
        header.type_code.as_ref().map(|code| Coding {
            // A document type without its system is LOINC's (CDA requires it).
            system: code
                .system
                .as_deref()
                .map_or_else(|| LOINC.to_owned(), system_of_oid),
            code: code.code.clone(),
            display: code.display.clone(),
        })
    });
    let author = new.author.clone().or_else(|| {
        header.authors.iter().find_map(|author| {
            let name = author
                .name
                .as_ref()
                .map(carnet_cda::PersonName::full)
                .filter(|n| !n.is_empty())
                .or_else(|| author.organisation.clone())?;
            Some(Professional {
                name,
                rpps: author.rpps().map(str::to_owned),
            })
        })
    });
    let from_header = header
        .confidentiality
        .as_deref()
        .and_then(Confidentiality::from_code)
        .unwrap_or_default();
    let named = &header.patient;
    let patient = new.patient.clone().or_else(|| {
        let name = named.display_name();
        (!name.is_empty() || named.ins().is_some()).then(|| NamedPatient {
            name,
            sex: named.sex.clone(),
            birth_date: named.birth_date.as_deref().and_then(calendar_date),
        })
    });
    NewDocument {
        title,
        type_code,
        author,
        date_millis: new
            .date_millis
            .or_else(|| header.created.as_ref().and_then(|t| t.unix_millis)),
        ins: new
            .ins
            .clone()
            .or_else(|| named.ins().and_then(|id| id.extension.clone())),
        confidentiality: new.confidentiality.max(from_header),
        patient,
        unique_id: new
            .unique_id
            .clone()
            .or_else(|| header.id.as_ref().map(instance_id)),
        set_id: new
            .set_id
            .clone()
            .or_else(|| header.set_id.as_ref().map(instance_id)),
        version: new.version.or(header.version),
        ..new.clone()
    }
}

/// A document's content, which can be read again from its start (a file, bytes in memory, an
/// archive's entry): describing a CDA reads it more than once.
pub trait Content {
    /// What opening it again may meet.
    type Error: From<carnet_cda::CdaError>;

    /// The content, from its start.
    ///
    /// # Errors
    /// When it cannot be opened.
    fn open(&mut self) -> Result<Box<dyn BufRead + '_>, Self::Error>;
}

impl Content for &[u8] {
    type Error = carnet_cda::CdaError;

    fn open(&mut self) -> Result<Box<dyn BufRead + '_>, Self::Error> {
        Ok(Box::new(*self))
    }
}

/// How much of the start of a document tells what it is.
const HEAD_BYTES: u64 = 64 * 1024;

/// `new` completed from what `content` says of itself: for a CDA, its header
/// ([`metadata_from_cda`]) and, when its body is structured, the words of its narrative; for
/// a plain-text document, its words ([`crate::words`]); other files as they are.
///
/// # Errors
/// [`carnet_cda::CdaError`] (as `Content::Error`) for a CDA that does not read, or content
/// that cannot be read.
pub fn describe<C: Content + ?Sized>(
    new: &NewDocument,
    content: &mut C,
) -> Result<NewDocument, C::Error> {
    let unreadable =
        |e: std::io::Error| carnet_cda::CdaError::Io(format!("the document cannot be read: {e}"));
    let mut head = Vec::new();
    content
        .open()?
        .take(HEAD_BYTES)
        .read_to_end(&mut head)
        .map_err(unreadable)?;
    match crate::blob::sniff_media_type(&head) {
        Ok("text/xml") => {
            let cda = carnet_cda::read(content.open()?, &mut std::io::sink(), &Limits::default())?;
            let mut described = metadata_from_cda(new, &cda.header);
            if described.words.is_none() && matches!(cda.body, carnet_cda::Body::Structured { .. })
            {
                described.words = crate::words::narrative_words(content.open()?);
            }
            Ok(described)
        }
        Ok("text/plain") if new.words.is_none() => {
            let mut text = Vec::new();
            content
                .open()?
                .take(crate::words::MAX_TEXT_BYTES as u64)
                .read_to_end(&mut text)
                .map_err(unreadable)?;
            Ok(NewDocument {
                words: crate::words::text_words(&text),
                ..new.clone()
            })
        }
        _ => Ok(new.clone()),
    }
}

/// `new` completed from `content` as [`describe`] does; what the health space sends is kept
/// as it was described even when its CDA header does not read.
pub(crate) fn described_received(new: &NewDocument, mut content: &[u8]) -> NewDocument {
    describe(new, &mut content).unwrap_or_else(|error| {
        tracing::warn!(%error, "a received CDA's header does not read: kept as described");
        new.clone()
    })
}

/// Reads a CDA's header (its embedded file, if any, is decoded and dropped).
///
/// # Errors
/// [`carnet_cda::CdaError`] when it does not read.
pub fn read_header(input: impl BufRead) -> Result<Header, carnet_cda::CdaError> {
    Ok(carnet_cda::read(input, &mut std::io::sink(), &Limits::default())?.header)
}

/// An instance identifier as IHE writes one: `root^extension`, or the root alone.
fn instance_id(id: &InstanceId) -> String {
    match &id.extension {
        Some(extension) => format!("{}^{extension}", id.root),
        None => id.root.clone(),
    }
}

/// `YYYY-MM-DD` from an HL7 `TS` that gives at least the day (`YYYYMMDD…`).
fn calendar_date(ts: &str) -> Option<String> {
    let digits = ts
        .get(..8)
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))?;
    Some(format!(
        "{}-{}-{}",
        digits.get(..4)?,
        digits.get(4..6)?,
        digits.get(6..8)?
    ))
}
