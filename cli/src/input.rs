//! Files named on the command line, read through the core's bounded reader
//! ([`carnet::codec::bounded`]): each kind of file has its ceiling, and reading stops at the
//! ceiling + 1 byte whatever the file is (a FIFO, `/dev/zero`, a file that grows).

use std::ffi::OsStr;
use std::path::Path;

use carnet::CarnetError;
use carnet::codec::CodecError;
use carnet::codec::qr;

use crate::session::SessionError;

/// Largest text file read as a certificate, a QR code's text or a session message.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Largest trust list, revocation list or key file.
pub const MAX_LIST_BYTES: usize = 16 * 1024 * 1024;
/// Largest JSON file of exposure windows or risk configuration.
pub const MAX_JSON_BYTES: usize = 16 * 1024 * 1024;

/// The bytes of `path`, at most `limit` of them; `what` names the file in errors.
pub fn read(path: &Path, limit: usize, what: &'static str) -> Result<Vec<u8>, SessionError> {
    carnet::codec::bounded::read_file(path, limit, what).map_err(|e| file_error(path, e))
}

/// The UTF-8 text of `path`, at most `limit` bytes.
pub fn read_text(path: &Path, limit: usize, what: &'static str) -> Result<String, SessionError> {
    carnet::codec::bounded::read_text_file(path, limit, what).map_err(|e| file_error(path, e))
}

/// The error of a file named on the command line, with its path.
pub fn file_error(path: &Path, error: CodecError) -> SessionError {
    SessionError::File {
        path: path.to_owned(),
        error: CarnetError::from(error),
    }
}

/// A `--country` value: two letters (ISO 3166-1 alpha-2), returned in capitals.
///
/// # Errors
/// [`SessionError::Usage`] for anything else.
pub fn country_code(given: Option<&str>) -> Result<Option<String>, SessionError> {
    match given.map(str::trim) {
        Some(code) if code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()) => {
            Ok(Some(code.to_ascii_uppercase()))
        }
        Some(other) => Err(SessionError::Usage(format!(
            "--country {other:?}: expected a two-letter country code such as FR"
        ))),
        None => Ok(None),
    }
}

/// What a QR code carries, given on the command line: the text itself when it starts with
/// `prefix` (`HC1:`, `APCV1:`), else a file holding it — a PNG or JPEG image of the code
/// (recognised by its first bytes, whatever its name) or a text file. Paths need not be UTF-8.
pub fn code_text(input: &OsStr, prefix: &str, what: &'static str) -> Result<String, SessionError> {
    if let Some(text) = input.to_str().map(str::trim)
        && text.starts_with(prefix)
    {
        return Ok(text.to_owned());
    }
    let path = Path::new(input);
    let bytes = read(path, qr::MAX_FILE_BYTES, what)?;
    if bytes.starts_with(b"\x89PNG") || bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return qr::scan_image_file(&bytes).map_err(|e| file_error(path, e));
    }
    if bytes.len() > MAX_TEXT_BYTES {
        return Err(file_error(
            path,
            CodecError::TooLarge {
                what,
                size: bytes.len(),
                limit: MAX_TEXT_BYTES,
            },
        ));
    }
    String::from_utf8(bytes)
        .map(|text| text.trim().to_owned())
        .map_err(|_| file_error(path, CodecError::NotText { what }))
}

/// The one identifier among `ids` starting with `prefix`.
pub(crate) fn resolve<'a>(
    prefix: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<String, SessionError> {
    let matching: Vec<&str> = ids
        .filter(|id| id.starts_with(prefix) && !prefix.is_empty())
        .collect();
    match matching.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => Err(SessionError::Core(
            carnet::record::RecordError::NotFound("item").into(),
        )),
        _ => Err(SessionError::Usage(format!(
            "{prefix} matches {} items: give more characters",
            matching.len()
        ))),
    }
}
