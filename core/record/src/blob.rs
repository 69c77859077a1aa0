//! File storage of the content: a file is recognised from its first bytes (only the kinds a
//! health record keeps) and stored as a blob of the store, encrypted chunk by chunk.

use std::io::Read;

use crate::error::{RecordError, Result};
use crate::store::{BlobInfo, Writer};

/// Largest document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: u64 = 256 * 1024 * 1024;
/// Bytes looked at to recognise a document's type: room for the long comments and
/// processing instructions CDA documents open with (the ANS examples reach 2.5 KB).
const SNIFF_BYTES: usize = 64 * 1024;

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

/// The media type of a document from its first bytes: the formats of the CI-SIS (PDF, JPEG,
/// PNG, TIFF, plain text, RTF, CDA XML — `text/xml`, after any prolog of comments and
/// processing instructions).
pub fn sniff_media_type(head: &[u8]) -> Result<&'static str> {
    let signatures: [(&[u8], &'static str); 6] = [
        (b"%PDF-", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xFF\xD8\xFF", "image/jpeg"),
        (b"II*\0", "image/tiff"),
        (b"MM\0*", "image/tiff"),
        (b"{\\rtf", "text/rtf"),
    ];
    if let Some((_, media_type)) = signatures.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Ok(media_type);
    }
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    if text.trim_ascii_start().starts_with(b"<") {
        if carnet_cda::looks_like_cda(text) {
            return Ok("text/xml");
        }
    } else if is_plain_text(text) {
        return Ok("text/plain");
    }
    Err(RecordError::UnsupportedDocument(
        "not a PDF, a JPEG, PNG or TIFF image, plain text, RTF or a CDA XML document".into(),
    ))
}

/// UTF-8 text (its last character possibly cut by the end of `head`) without control
/// characters but tabs, line and page breaks.
fn is_plain_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(text) => text,
        // Cut inside a character at the end of what was looked at: the rest is valid.
        Err(error) if error.error_len().is_none() => {
            std::str::from_utf8(head.get(..error.valid_up_to()).unwrap_or_default())
                .unwrap_or_default()
        }
        Err(_) => return false,
    };
    !valid.trim().is_empty()
        && valid
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0C'))
}

/// The usual file extension of a media type the record keeps.
pub(crate) fn extension_of(media_type: &str) -> &'static str {
    match media_type {
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/tiff" => "tif",
        "text/plain" => "txt",
        "text/rtf" => "rtf",
        _ => "xml",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_types_are_recognised_from_their_bytes() {
        for (head, media_type) in [
            (&b"%PDF-1.7\n"[..], "application/pdf"),
            (b"\x89PNG\r\n\x1a\n....", "image/png"),
            (b"\xFF\xD8\xFF\xE0", "image/jpeg"),
            (b"II*\0\x08\0\0\0", "image/tiff"),
            (b"MM\0*\0\0\0\x08", "image/tiff"),
            (b"{\\rtf1\\ansi Bonjour}", "text/rtf"),
            (
                "Résultats : glycémie 0,95 g/L\r\n\tnormale\n".as_bytes(),
                "text/plain",
            ),
            (
                b"\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\">",
                "text/xml",
            ),
        ] {
            assert_eq!(sniff_media_type(head).unwrap(), media_type, "{head:?}");
        }
        // The ANS examples open with a long comment and processing instructions.
        let mut prolog = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<?xml-stylesheet type=\"text/xsl\" href=\"CDA.xsl\"?>\n<!--".to_vec();
        prolog.extend(std::iter::repeat_n(b'*', 3000));
        prolog.extend_from_slice(b"-->\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\">");
        assert_eq!(sniff_media_type(&prolog).unwrap(), "text/xml");
        // Text cut inside a character at the end of the head is still text.
        let cut = "été".as_bytes();
        assert_eq!(
            sniff_media_type(&cut[..cut.len() - 1]).unwrap(),
            "text/plain"
        );
        for other in [
            &b"MZ\x90\x00"[..],
            b"<html></html>",
            b"",
            b"   \n",
            b"\x00\x01binary",
            b"\xC3\x28 not UTF-8",
        ] {
            assert!(
                matches!(
                    sniff_media_type(other),
                    Err(RecordError::UnsupportedDocument(_))
                ),
                "{other:?}"
            );
        }
    }
}
