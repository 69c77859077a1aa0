//! Files Carnet keeps in its data directory (lists, key files) and the files it writes where
//! the person asks (exports, documents, attachments): read within a bound, written by rename,
//! and I/O errors reported as storage errors (a full disk as `storage.full`). A leaf of the
//! facade, used by the modules that keep files.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use crate::CarnetError;

/// A file Carnet wrote in its data directory, read to at most `max_bytes` (a file grown past
/// what Carnet writes is damaged); `None` when it is not there.
pub(crate) fn read_kept_file(
    path: &Path,
    max_bytes: usize,
) -> Result<Option<Vec<u8>>, CarnetError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(storage(path, &e)),
    };
    carnet_codec::bounded::read_to_limit(file, max_bytes, "kept file")
        .map(Some)
        .map_err(|e| CarnetError::Storage(format!("{}: {e}", path.display())))
}

/// Writes `bytes` to `path` through a temporary file renamed over it.
pub(crate) fn write_by_rename(path: &Path, bytes: &[u8]) -> Result<(), CarnetError> {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, bytes).map_err(|e| storage(&temporary, &e))?;
    std::fs::rename(&temporary, path).map_err(|e| storage(path, &e))
}

/// The file at `path` the person gave, opened for reading; what cannot be opened (missing, a
/// directory, no permission) is a read error that says so in words, naming `what` it is.
pub(crate) fn open_given_file(
    path: &Path,
    what: &'static str,
) -> Result<std::fs::File, CarnetError> {
    std::fs::File::open(path).map_err(|e| {
        CarnetError::Codec(carnet_codec::CodecError::Read {
            what,
            reason: format!(
                "{}: {}",
                path.display(),
                carnet_codec::bounded::describe_io_error(&e)
            ),
        })
    })
}

/// An I/O error on `path` as the facade reports it.
pub(crate) fn storage(path: &Path, error: &std::io::Error) -> CarnetError {
    if carnet_platform::is_storage_full(error) {
        return CarnetError::Platform(carnet_platform::PlatformError::StorageFull(format!(
            "cannot write {}",
            path.display()
        )));
    }
    CarnetError::Storage(format!("{}: {error}", path.display()))
}

/// Writes the file at `path` through `fill`, by way of a temporary file in the same directory
/// that is synced and renamed over `path` at the end. A failure (of `fill`, or of a write: a
/// full disk is `storage.full`) leaves `path` as it was and removes the temporary file, so
/// nothing half-written, in clear, stays anywhere.
pub(crate) fn write_atomically<T>(
    path: &Path,
    fill: impl FnOnce(&mut PartialFile<'_>) -> Result<T, CarnetError>,
) -> Result<T, CarnetError> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let partial = tempfile::Builder::new()
        .prefix(".carnet-")
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(|e| storage(dir, &e))?;
    let mut file = PartialFile {
        file: partial.as_file(),
        first_error: None,
    };
    let filled = fill(&mut file);
    if let Some(error) = file.first_error {
        // The write failed first; what `fill` made of it says less.
        return Err(storage(path, &error));
    }
    let value = filled?;
    partial
        .as_file()
        .sync_all()
        .map_err(|e| storage(partial.path(), &e))?;
    // The temporary file is removed when `partial` is dropped, unless it was renamed.
    partial.persist(path).map_err(|e| storage(path, &e.error))?;
    if let Ok(dir) = std::fs::File::open(dir) {
        // Makes the rename itself durable; a directory that cannot be synced is not an error
        // (some file systems refuse).
        let _ = dir.sync_all();
    }
    Ok(value)
}

/// The temporary file [`write_atomically`] fills. It keeps the first write error, so that
/// the caller hears "disk full" rather than what the writing code made of it.
pub(crate) struct PartialFile<'a> {
    file: &'a std::fs::File,
    first_error: Option<std::io::Error>,
}

impl PartialFile<'_> {
    fn kept<V>(&mut self, result: std::io::Result<V>) -> std::io::Result<V> {
        result.map_err(|error| {
            let echo = std::io::Error::new(error.kind(), error.to_string());
            self.first_error.get_or_insert(error);
            echo
        })
    }
}

impl Write for PartialFile<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let result = self.file.write(buf);
        self.kept(result)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let result = self.file.flush();
        self.kept(result)
    }
}

impl Seek for PartialFile<'_> {
    fn seek(&mut self, position: SeekFrom) -> std::io::Result<u64> {
        let result = self.file.seek(position);
        self.kept(result)
    }
}
