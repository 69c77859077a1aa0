//! Reading outside data with a ceiling: every file Carnet reads (a certificate's text, an
//! image, a trust list, a key, a JSON file of exposure windows...) comes through here.
//!
//! The size a file claims (`metadata().len()`, a header) is never trusted: reading stops at
//! the limit + 1 byte, so a FIFO, `/dev/zero` or a file that grows while read is refused with
//! the same [`CodecError::TooLarge`] as a large regular file, in bounded memory.

use std::io::Read;
use std::path::Path;

use crate::CodecError;

/// Reads `source` to its end, refusing it once more than `limit` bytes came.
///
/// # Errors
/// [`CodecError::TooLarge`] (what: `what`) past the limit, [`CodecError::Read`] when reading
/// fails.
pub fn read_to_limit(
    source: impl Read,
    limit: usize,
    what: &'static str,
) -> Result<Vec<u8>, CodecError> {
    let ceiling = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut bytes = Vec::new();
    source
        .take(ceiling)
        .read_to_end(&mut bytes)
        .map_err(|e| CodecError::Read {
            what,
            reason: describe_io_error(&e),
        })?;
    if bytes.len() > limit {
        return Err(CodecError::TooLarge {
            what,
            size: bytes.len(),
            limit,
        });
    }
    Ok(bytes)
}

/// Reads the file at `path`, of at most `limit` bytes, whatever kind of file it is.
///
/// # Errors
/// As [`read_to_limit`]; [`CodecError::Read`] when the file cannot be opened.
pub fn read_file(path: &Path, limit: usize, what: &'static str) -> Result<Vec<u8>, CodecError> {
    let file = std::fs::File::open(path).map_err(|e| CodecError::Read {
        what,
        reason: describe_io_error(&e),
    })?;
    read_to_limit(file, limit, what)
}

/// Like [`read_file`], for text: UTF-8 is required.
///
/// # Errors
/// As [`read_file`]; [`CodecError::NotText`] for bytes that are not UTF-8.
pub fn read_text_file(path: &Path, limit: usize, what: &'static str) -> Result<String, CodecError> {
    String::from_utf8(read_file(path, limit, what)?).map_err(|_| CodecError::NotText { what })
}

/// An I/O error in words: what the operating system said, without Rust's debug form.
pub fn describe_io_error(error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::NotFound => "no such file".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        ErrorKind::IsADirectory => "it is a directory, not a file".into(),
        ErrorKind::InvalidData => "the data is not valid".into(),
        _ => {
            // `Display` of an OS error is the system's sentence and its number.
            let text = error.to_string();
            match text.find(" (os error") {
                Some(end) => text.get(..end).unwrap_or(&text).to_owned(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn stops_at_the_limit_whatever_the_source() {
        // An endless source (as /dev/zero is) is read to the limit + 1 byte and refused.
        let endless = std::io::repeat(0);
        assert_eq!(
            read_to_limit(endless, 1024, "test input"),
            Err(CodecError::TooLarge {
                what: "test input",
                size: 1025,
                limit: 1024
            })
        );
        assert_eq!(read_to_limit(&b"abc"[..], 3, "x").unwrap(), b"abc");
        assert!(matches!(
            read_to_limit(&b"abcd"[..], 3, "x"),
            Err(CodecError::TooLarge { size: 4, .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn character_devices_and_missing_files_are_typed_errors() {
        let zero = read_file(Path::new("/dev/zero"), 4096, "trust list");
        assert!(matches!(
            zero,
            Err(CodecError::TooLarge { limit: 4096, .. })
        ));
        let missing = read_file(Path::new("/nonexistent/file"), 10, "key").unwrap_err();
        assert_eq!(missing.to_string(), "cannot read the key: no such file");
        let dir = read_file(Path::new("/"), 10, "key").unwrap_err();
        assert!(matches!(dir, CodecError::Read { .. }), "{dir}");
    }

    #[test]
    fn text_must_be_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latin1.txt");
        std::fs::write(&path, b"caf\xe9").unwrap();
        assert_eq!(
            read_text_file(&path, 100, "certificate text"),
            Err(CodecError::NotText {
                what: "certificate text"
            })
        );
    }
}
