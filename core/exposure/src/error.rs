//! The one error type of the exposure component.

/// Why an exposure key, identifier or file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExposureError {
    /// A key, identifier or metadata block does not have its fixed length.
    #[error("{what} is {expected} bytes, not {found}")]
    Length {
        /// What was measured.
        what: &'static str,
        /// Its fixed length.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A key's validity (start interval, rolling period) is out of range.
    #[error("invalid key period: {0}")]
    Period(&'static str),
    /// A JSON document (windows, configuration) is malformed or oversized.
    #[error("JSON refused: {0}")]
    Json(String),
    /// The system's random generator failed.
    #[error("no random generator")]
    Random,
}
