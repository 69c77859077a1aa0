//! The one error type crossing the FFI.

/// An error from the Carnet core, by class. Every variant carries the same three fields:
/// `code`, stable and machine-readable (`nir.control_key`); `message_key`, the key of the
/// user-facing message the shell translates (`error.nir.typo`); `detail`, an English
/// explanation for developers and logs (never shown as is to users).
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum CarnetError {
    /// The input was refused; asking the user again may help.
    #[error("{code}: {detail}")]
    InvalidInput {
        /// Stable code to act on (`nir.control_key`, `storage.full`...).
        code: String,
        /// User-facing message key.
        message_key: String,
        /// Detail for developers (English, not for display).
        detail: String,
    },
    /// A platform service is unavailable; retrying later may help.
    #[error("{code}: {detail}")]
    PlatformUnavailable {
        /// Stable code to act on (`nir.control_key`, `storage.full`...).
        code: String,
        /// User-facing message key.
        message_key: String,
        /// Detail for developers (English, not for display).
        detail: String,
    },
    /// A platform service refused (user cancelled, keystore locked).
    #[error("{code}: {detail}")]
    PlatformDenied {
        /// Stable code to act on (`nir.control_key`, `storage.full`...).
        code: String,
        /// User-facing message key.
        message_key: String,
        /// Detail for developers (English, not for display).
        detail: String,
    },
    /// Local storage failed; the operation changed nothing.
    #[error("{code}: {detail}")]
    Storage {
        /// Stable code to act on (`nir.control_key`, `storage.full`...).
        code: String,
        /// User-facing message key.
        message_key: String,
        /// Detail for developers (English, not for display).
        detail: String,
    },
    /// The national services could not be reached; what was done is kept, trying again later
    /// goes on from there.
    #[error("{code}: {detail}")]
    Offline {
        /// Stable code to act on (`nir.control_key`, `storage.full`...).
        code: String,
        /// User-facing message key.
        message_key: String,
        /// Detail for developers (English, not for display).
        detail: String,
    },
    /// The national services refused (device not enrolled, or no longer recognised).
    #[error("{code}: {detail}")]
    Refused {
        /// Stable code to act on (`nir.control_key`, `storage.full`...).
        code: String,
        /// User-facing message key.
        message_key: String,
        /// Detail for developers (English, not for display).
        detail: String,
    },
    /// Stored data is damaged; Carnet will not use it.
    #[error("{code}: {detail}")]
    CorruptData {
        /// Stable code to act on (`nir.control_key`, `storage.full`...).
        code: String,
        /// User-facing message key.
        message_key: String,
        /// Detail for developers (English, not for display).
        detail: String,
    },
}

impl From<carnet::CarnetError> for CarnetError {
    fn from(error: carnet::CarnetError) -> Self {
        let code = error.code().to_owned();
        let message_key = error.message_key().to_owned();
        let detail = error.to_string();
        match error.kind() {
            carnet::ErrorKind::InvalidInput => CarnetError::InvalidInput {
                code,
                message_key,
                detail,
            },
            carnet::ErrorKind::PlatformUnavailable => CarnetError::PlatformUnavailable {
                code,
                message_key,
                detail,
            },
            carnet::ErrorKind::PlatformDenied => CarnetError::PlatformDenied {
                code,
                message_key,
                detail,
            },
            carnet::ErrorKind::Storage => CarnetError::Storage {
                code,
                message_key,
                detail,
            },
            carnet::ErrorKind::CorruptData => CarnetError::CorruptData {
                code,
                message_key,
                detail,
            },
            carnet::ErrorKind::Offline => CarnetError::Offline {
                code,
                message_key,
                detail,
            },
            carnet::ErrorKind::Refused => CarnetError::Refused {
                code,
                message_key,
                detail,
            },
        }
    }
}
