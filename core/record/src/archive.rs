//! What every zip the record reads must pass, whatever its layout (the record's own export,
//! an IHE XDM archive): a bounded number of entries, names the layout accepts, no entry that
//! expands like a bomb, sizes within the limits, and no file longer than its header says;
//! and how a failed archive write is reported, for both writers.

use std::collections::HashMap;
use std::io::{Read, Seek};

use zip::ZipArchive;

use crate::blob::MAX_DOCUMENT_BYTES;
use crate::error::{RecordError, Result};

/// Most entries in an archive.
const MAX_ENTRIES: usize = 100_000;
/// Most bytes an archive may expand to.
const MAX_TOTAL_BYTES: u64 = 16 * 1024 * 1024 * 1024;
/// Past this size, an entry expanding more than [`MAX_RATIO`] times is refused as a bomb.
const RATIO_FLOOR: u64 = 1024 * 1024;
const MAX_RATIO: u64 = 200;

/// Checks every entry of `zip` before anything is read from it, and returns each file's
/// size as its header declares it, by name. `accept_file` and `accept_directory` say which
/// names the layout allows (anything else is refused, so no unsafe path is ever used).
pub(crate) fn check_entries<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    accept_file: &dyn Fn(&str) -> bool,
    accept_directory: &dyn Fn(&str) -> bool,
) -> Result<HashMap<String, u64>> {
    if zip.len() > MAX_ENTRIES {
        return Err(RecordError::Import("too many entries".into()));
    }
    let mut sizes = HashMap::new();
    let mut total = 0u64;
    for index in 0..zip.len() {
        let entry = zip
            .by_index_raw(index)
            .map_err(|e| RecordError::Import(format!("entry {index}: {e}")))?;
        let name = entry
            .name()
            .map_err(|_| RecordError::Import("an entry name is not UTF-8".into()))?
            .into_owned();
        if entry.is_dir() {
            if accept_directory(&name) {
                continue;
            }
            return Err(RecordError::Import(format!(
                "unexpected directory {name:?}"
            )));
        }
        if !accept_file(&name) {
            return Err(RecordError::Import(format!(
                "unsafe or unexpected entry name {name:?}"
            )));
        }
        let size = entry.size();
        if size > RATIO_FLOOR && size / entry.compressed_size().max(1) > MAX_RATIO {
            return Err(RecordError::Import(format!(
                "{name} expands {}× (a zip bomb?)",
                size / entry.compressed_size().max(1)
            )));
        }
        total = total.saturating_add(size);
        if total > MAX_TOTAL_BYTES || size > MAX_DOCUMENT_BYTES {
            return Err(RecordError::Import(
                "the archive expands beyond the size limits".into(),
            ));
        }
        if sizes.insert(name.clone(), size).is_some() {
            return Err(RecordError::Import(format!("{name} appears twice")));
        }
    }
    Ok(sizes)
}

/// A plain file or directory name: 1 to 128 ASCII letters, digits, `.`, `-`, `_`, and not
/// `.` or `..`.
pub(crate) fn safe_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

/// An error writing an archive as the record reports it: a full disk is `storage.full`, not a
/// damaged store.
pub(crate) fn zip_error(error: zip::result::ZipError) -> RecordError {
    match error {
        zip::result::ZipError::Io(e) => {
            RecordError::io("write", std::path::Path::new("archive"), e)
        }
        other => RecordError::Corrupt(format!("writing the archive: {other}")),
    }
}

/// Reads a file through a zip entry, refusing more bytes than its header declared.
pub(crate) struct ExactSize<R> {
    pub(crate) inner: R,
    pub(crate) left: u64,
    pub(crate) path: String,
}

impl<R: Read> Read for ExactSize<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is longer than its header says", self.path),
            )
        })?;
        Ok(n)
    }
}
