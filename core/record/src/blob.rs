//! File storage of the content: a file is recognised from its first bytes (only the kinds a
//! health record keeps) and stored as a blob of the store, encrypted chunk by chunk.

use std::io::Read;

use crate::error::{RecordError, Result};
use crate::store::{BlobInfo, Writer};

/// Largest document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: u64 = 256 * 1024 * 1024;
/// Bytes looked at to recognise a document's type.
const SNIFF_BYTES: usize = 1024;

/// Stores a file as blob `blob_id` once its type is recognised from its first bytes; returns
/// the type and the blob's description. A document's blob has the document's identifier.
pub(crate) fn put_file(
    writer: &mut Writer<'_>,
    blob_id: &str,
    content: &mut dyn Read,
    max_bytes: u64,
) -> Result<(&'static str, BlobInfo)> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    Read::take(&mut *content, SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| RecordError::io("read", std::path::Path::new("document"), e))?;
    let media_type = sniff_media_type(&head)?;
    let info = writer.put_blob(blob_id, &mut head.as_slice().chain(content), max_bytes)?;
    Ok((media_type, info))
}

/// The media type of a document from its first bytes; only the kinds a health record keeps.
pub fn sniff_media_type(head: &[u8]) -> Result<&'static str> {
    if head.starts_with(b"%PDF-") {
        return Ok("application/pdf");
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok("image/png");
    }
    if head.starts_with(b"\xFF\xD8\xFF") {
        return Ok("image/jpeg");
    }
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let text = String::from_utf8_lossy(text);
    if text.trim_start().starts_with('<') && text.contains("ClinicalDocument") {
        return Ok("text/xml");
    }
    Err(RecordError::UnsupportedDocument(
        "not a PDF, a CDA XML document, a PNG or a JPEG image".into(),
    ))
}

/// The usual file extension of a media type the record keeps.
pub(crate) fn extension_of(media_type: &str) -> &'static str {
    match media_type {
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        _ => "xml",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_types_are_recognised_from_their_bytes() {
        assert_eq!(sniff_media_type(b"%PDF-1.7\n").unwrap(), "application/pdf");
        assert_eq!(
            sniff_media_type(b"\x89PNG\r\n\x1a\n....").unwrap(),
            "image/png"
        );
        assert_eq!(sniff_media_type(b"\xFF\xD8\xFF\xE0").unwrap(), "image/jpeg");
        let cda =
            b"\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\">";
        assert_eq!(sniff_media_type(cda).unwrap(), "text/xml");
        for other in [&b"MZ\x90\x00"[..], b"<html></html>", b""] {
            assert!(matches!(
                sniff_media_type(other),
                Err(RecordError::UnsupportedDocument(_))
            ));
        }
    }
}
