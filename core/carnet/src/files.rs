//! Files Carnet keeps in its data directory (lists, key files, exports): read within a bound,
//! written by rename, and I/O errors reported as storage errors (a full disk as
//! `storage.full`). A leaf of the facade, used by the modules that keep files.

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
