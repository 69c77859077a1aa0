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
    /// A diagnosis key file (zip, header, protobuf) or a verification key is malformed.
    #[error("key file refused: {0}")]
    KeyFile(String),
    /// A file is over its size limit.
    #[error("{what} is over its {limit}-byte limit")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The largest size allowed, in bytes.
        limit: u64,
    },
    /// No trusted key verifies a key file's signature.
    #[error("signature refused: {0}")]
    Signature(String),
    /// A Bluetooth advertising payload is malformed.
    #[error("advertisement refused: {0}")]
    Advertisement(String),
    /// The radio (platform, desktop adapter) failed.
    #[error("Bluetooth radio: {0}")]
    Radio(String),
    /// The calibration table is malformed.
    #[error("calibration table refused: {0}")]
    Calibration(String),
    /// A simulation's configuration is out of range.
    #[error("simulation refused: {0}")]
    Simulation(String),
    /// Matching stopped before its end.
    #[error("matching stopped: {0}")]
    Matching(String),
    /// The system's random generator failed.
    #[error("no random generator")]
    Random,
}
